//! Adding an Android phone in the window and backing it up, against the real adb server and
//! the simulated phone: the steps to switch on USB debugging, the live list of phones (one
//! still waiting for "Allow", one ready), choosing one, and the same backup as any account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
#[path = "support/window.rs"]
mod window;

use std::sync::Arc;

use egui_kittest::kittest::Queryable;
use lifeboat::secrets::MemorySecrets;
use lifeboat::source::android::AdbServer;
use support::phone::{AdbServerProcess, PhoneSpec, SimulatedPhone};
use support::phone_fixture::{CONTACTS, full_phone, start};
use support::*;
use window::*;

#[test]
fn a_phone_is_found_chosen_and_backed_up_from_the_window() {
    let Some(adb) = AdbServerProcess::start() else {
        return;
    };
    // The window's worker asks this test's adb server, not one on the usual port.
    AdbServer::use_port(adb.port);
    let config_dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let mut harness = open_window(config_dir.path(), Arc::new(MemorySecrets::default()));

    click(&mut harness, "Phone (Android, over USB)");
    // The steps, in the words of the phone's own screens.
    harness.get_by_label_contains("tap \"Build number\" seven times");
    harness.get_by_label_contains("Developer options");
    wait_for_text(&mut harness, "No phone yet");

    // A phone that has not allowed this computer yet says what to tap; then one that has.
    let locked = SimulatedPhone::start(PhoneSpec {
        allowed: false,
        ..PhoneSpec::new("moto g", Arc::new(|_: &str| Vec::new().into()))
    });
    adb.connect(&locked, "unauthorized");
    wait_for_text(&mut harness, "tap Allow on");
    let (pixel, _content) = start(full_phone(), None);
    adb.connect(&pixel, "device");
    wait_for_text(&mut harness, "ready to back up");
    harness.check_accessibility();
    assert_peoples_words(&harness);

    click(&mut harness, "Pixel 7");
    click(&mut harness, "Save and test");
    wait_for_text(&mut harness, "Connected. Found");
    let contacts = format!("Pixel 7 contacts (phone) — {} items", CONTACTS / 2);
    harness.get_by_label_contains(&contacts);
    harness.get_by_label_contains("photos and videos on Pixel 7 — 5 items");
    let account = &harness.state().state.config.accounts[0];
    assert_eq!(account.address, pixel.serial());
    assert_eq!(account.name, "Pixel 7");

    click(&mut harness, "Back up");
    let folder = backups.path().join("Lifeboat backups");
    fill(&mut harness, "Save backups in", folder.to_str().unwrap());
    click(&mut harness, "Back up now");
    wait_for_text(&mut harness, "Backup complete");
    assert_peoples_words(&harness);
    let archive = match &harness.state().state.backup.result {
        Some(Ok(summary)) => summary.archive.clone(),
        other => panic!("no finished backup: {other:?}"),
    };
    let items = archived_items(&archive);
    let contacts: usize = items
        .iter()
        .filter(|(name, _)| name.starts_with("contacts-"))
        .map(|(_, i)| i.len())
        .sum();
    assert_eq!(contacts, CONTACTS);
    assert_eq!(items["photos"].len(), 5);
}
