//! The desktop window driven by its labels (egui_kittest) against a real Radicale: add an
//! account and test it, back up, drop the archive onto the window, see the plan, restore into
//! a second, empty account, and browse the archive's contacts with a search.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
#[path = "support/window.rs"]
mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::kittest::Queryable;
use lifeboat::secrets::{KeyringSecrets, MemorySecrets, SecretStore};
use support::*;
use window::*;

/// Adds a Radicale account through the form and waits for "Test connection" to answer.
fn add_account(harness: &mut App<'_>, name: &str, url: &str, user: &str) {
    add_account_with(harness, name, url, user, PASSWORD);
}

/// [`add_account`] with the password typed into the form.
fn add_account_with(harness: &mut App<'_>, name: &str, url: &str, user: &str, password: &str) {
    click(harness, "Radicale, Baïkal or another CalDAV/CardDAV server");
    harness.get_by_label_contains("The server's address");
    fill(harness, "Name", name);
    fill(harness, "Server address", url);
    fill(harness, "User name", user);
    fill(harness, "Password", password);
    click(harness, "Save and test");
    let id = harness
        .state()
        .state
        .config
        .accounts
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.id.clone())
        .expect("the account was saved");
    wait_until(harness, "the connection test", |h| {
        !matches!(
            h.state().state.tests.get(&id),
            Some(lifeboat::gui::state::TestState::Running) | None
        )
    });
}

/// Drops `path` onto the window as a file manager would, and waits until it is read.
fn drop_onto_window(harness: &mut App<'_>, path: &Path) {
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(path.to_path_buf())));
    harness.step();
    wait_until(harness, "the dropped archive to be read", |h| {
        h.state().state.archive.contents.is_some()
    });
}

/// A file dropped onto the window, as the platform hands it over.
#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn archive_of(harness: &App<'_>) -> PathBuf {
    match &harness.state().state.backup.result {
        Some(Ok(summary)) => summary.archive.clone(),
        other => panic!("no finished backup: {other:?}"),
    }
}

#[test]
fn back_up_drop_plan_restore_and_browse_through_the_window() {
    let radicale = Server::radicale();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seeded = runtime.block_on(seed_radicale(&radicale));
    let config_dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    let mut harness = open_window(config_dir.path(), secrets.clone());

    // First run: the welcome, and every control has a name a screen reader can announce.
    harness.get_by_label("Add where your data lives");
    harness.check_accessibility();

    // Add the account and test it: every collection is listed with its item count.
    add_account(&mut harness, "Alice", &radicale.base_url(), USER);
    wait_for_text(
        &mut harness,
        "Connected. Found 1 address book, 1 calendar, 1 task list:",
    );
    harness.get_by_label_contains("My Contacts — 5 items");
    harness.get_by_label_contains("Family — 4 items");
    harness.get_by_label_contains("Chores — 3 items");
    harness.check_accessibility();
    // The password went to the keyring, not into the settings file.
    let alice_id = harness.state().state.config.accounts[0].id.clone();
    assert_eq!(secrets.get(&alice_id).unwrap().as_deref(), Some(PASSWORD));
    let settings = std::fs::read_to_string(config_dir.path().join("config.json")).unwrap();
    assert!(!settings.contains(PASSWORD), "{settings}");

    // Back up into a temporary folder.
    click(&mut harness, "Back up");
    harness.get_by_label("My Contacts (5 items)");
    // A folder that does not exist yet: the backup creates it.
    let backup_folder = backups.path().join("Lifeboat backups");
    fill(
        &mut harness,
        "Save backups in",
        backup_folder.to_str().unwrap(),
    );
    harness.check_accessibility();
    click(&mut harness, "Back up now");
    wait_for_text(&mut harness, "Backup complete");
    harness.get_by_label_contains("5 contacts");
    harness.get_by_label("Open folder");
    let archive = archive_of(&harness);
    assert!(archive.starts_with(&backup_folder), "{}", archive.display());
    let archived = archived_items(&archive);
    for (name, items) in &seeded {
        assert_eq!(archived[*name].len(), items.len(), "{name}");
    }

    // A second, empty account to restore into (another user on the same server).
    click(&mut harness, "Accounts");
    add_account(&mut harness, "Bob", &radicale.base_url(), OTHER_USER);

    // Drop the archive onto the window: the restore screen opens and checks it.
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(archive.clone())));
    harness.step();
    wait_for_text(&mut harness, "all checksums match");
    harness.get_by_label_contains("My Contacts — 5 items");

    // Choose the target, then the plan: everything is to be uploaded, nothing written yet.
    click(&mut harness, "Restore into");
    click(&mut harness, "Bob");
    harness.check_accessibility();
    click(&mut harness, "Show what will happen");
    wait_for_text(&mut harness, "What will happen");
    harness.get_by_label_contains("12 item(s) will be written");
    assert_eq!(
        runtime.block_on(home_children(&radicale, OTHER_USER)),
        0,
        "the plan wrote nothing"
    );

    // Restore, then the read-back report; the server now holds every item.
    click(&mut harness, "Restore now");
    wait_for_text(&mut harness, "Restore complete");
    harness.get_by_label_contains("Report saved as");
    let restored = runtime.block_on(async {
        let mut counts = Vec::new();
        for collection in ["contacts", "calendar", "tasks"] {
            counts.push(count_items(&radicale, OTHER_USER, collection).await);
        }
        counts
    });
    assert_eq!(restored, [5, 4, 3]);

    // Browse the archive's contacts and find one by name.
    click(&mut harness, "Browse this archive");
    harness.get_by_label("Contacts (5)");
    harness.get_by_label_contains("5 of 5 contacts");
    fill(&mut harness, "Search contacts", "person 3");
    harness.get_by_label_contains("1 of 5 contacts");
    click(&mut harness, "Person 3 Ünïcode");
    harness.get_by_label("uid-c3@example.org");
    harness.check_accessibility();
    click(&mut harness, "Verification (12)");
    harness.get_by_label("12 items, all checksums match");
}

#[test]
fn dropped_takeout_parts_are_offered_for_import_and_become_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let year = "Takeout/Google Photos/Photos from 2024";
    let parts = [
        dir.path().join("takeout-20261128T101010Z-001.zip"),
        dir.path().join("takeout-20261128T101010Z-002.zip"),
    ];
    zip_part(
        &parts[0],
        &[
            (
                "Takeout/Contacts/My Contacts/My Contacts.vcf".into(),
                [vcard("g1", "Ada"), vcard("g2", "Grace")].concat(),
            ),
            (format!("{year}/IMG_1.jpg"), photo(1, 20_000)),
            ("Takeout/Mail/All mail.mbox".into(), b"From x\n".to_vec()),
        ],
    );
    zip_part(
        &parts[1],
        &[(
            format!("{year}/IMG_1.jpg.supplemental-metadata.json"),
            br#"{"title": "IMG_1.jpg", "photoTakenTime": {"timestamp": "1700000000"}}"#.to_vec(),
        )],
    );
    let config = tempfile::tempdir().unwrap();
    let mut harness = open_window(config.path(), Arc::new(MemorySecrets::default()));
    harness.state_mut().state.backup.folder = dir.path().join("backups").display().to_string();
    for part in &parts {
        harness
            .input_mut()
            .dropped_files
            .push(Arc::new(DroppedPath(part.clone())));
    }
    harness.step();
    // What it holds, and what is left out, before anything is written.
    wait_for_text(&mut harness, "It holds:");
    harness.get_by_label_contains("My Contacts: 1 file(s) of contacts");
    harness.get_by_label_contains("Google Photos: 1 photos and videos");
    harness.get_by_label_contains("Takeout/Mail: 1 file");
    harness.check_accessibility();
    click(&mut harness, "Import this Google export");
    wait_until(&mut harness, "the import", |h| {
        h.state().state.backup.result.is_some()
    });
    let archive = archive_of(&harness);
    assert!(
        archive
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("google-takeout-")
    );
    let manifest = manifest_of(&archive);
    assert_eq!(manifest.items.len(), 3, "{:#?}", manifest.items);
    let photo_item = manifest
        .items
        .iter()
        .find(|i| i.href.ends_with("IMG_1.jpg"))
        .unwrap();
    assert_eq!(
        photo_item.about.taken.as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    assert!(
        lifeboat(&["verify", archive.to_str().unwrap()])
            .status
            .success()
    );
}

#[test]
fn a_wrong_password_is_a_sentence_to_act_on_and_settings_survive_a_restart() {
    let radicale = Server::radicale();
    let config_dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    let mut harness = open_window(config_dir.path(), secrets.clone());
    click(
        &mut harness,
        "Radicale, Baïkal or another CalDAV/CardDAV server",
    );
    fill(&mut harness, "Name", "Home server");
    fill(&mut harness, "Server address", &radicale.base_url());
    fill(&mut harness, "User name", USER);
    fill(&mut harness, "Password", "not the password");
    click(&mut harness, "Save and test");
    wait_for_text(&mut harness, "The server refused the password for alice");
    harness.get_by_label_contains("Check the user name and password");
    harness.get_by_label("Details");
    let id = harness.state().state.config.accounts[0].id.clone();
    assert_eq!(
        secrets.get(&id).unwrap(),
        None,
        "a refused password is not kept"
    );
    drop(harness);

    // The account is still there after a restart; the password is asked again.
    let mut harness = open_window(config_dir.path(), secrets.clone());
    harness.get_by_label("Your accounts");
    harness.get_by_label("Home server");
    click(&mut harness, "Test connection");
    wait_for_text(&mut harness, "No password is saved for Home server");
    // The password is asked for right there, and the account connects with it.
    fill(&mut harness, "Password for Home server", PASSWORD);
    click(&mut harness, "Try this password");
    wait_for_text(&mut harness, "Connected.");
    assert_eq!(secrets.get(&id).unwrap().as_deref(), Some(PASSWORD));
}

#[test]
fn a_password_in_the_system_keyring_is_used_after_a_restart_and_removed_with_the_account() {
    // scripts/test.sh runs the tests in a private session bus with a throwaway Secret Service
    // (gnome-keyring) and sets this; a developer's own keyring is never touched.
    if std::env::var("LIFEBOAT_TEST_KEYRING").as_deref() != Ok("1") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no throwaway Secret Service: install dbus and gnome-keyring"
        );
        eprintln!("note: no throwaway Secret Service (dbus, gnome-keyring); keyring test skipped");
        return;
    }
    let radicale = Server::radicale();
    runtime_seed(&radicale);
    let config_dir = tempfile::tempdir().unwrap();
    let keyring = Arc::new(KeyringSecrets::with_service("org.lifeboat.Lifeboat.test"));
    assert!(keyring.is_persistent());
    let mut harness = open_window(
        config_dir.path(),
        Arc::clone(&keyring) as Arc<dyn SecretStore>,
    );
    harness.get_by_label("Add where your data lives");
    assert!(
        harness
            .query_by_label_contains("No system keyring")
            .is_none(),
        "a keyring is there, so the window must not say otherwise"
    );
    add_account(&mut harness, "Alice", &radicale.base_url(), USER);
    wait_for_text(&mut harness, "Connected. Found 1 address book");
    let id = harness.state().state.config.accounts[0].id.clone();
    assert_eq!(keyring.get(&id).unwrap().as_deref(), Some(PASSWORD));
    drop(harness);

    // After a restart the account is checked at once with the password from the keyring.
    let mut harness = open_window(
        config_dir.path(),
        Arc::clone(&keyring) as Arc<dyn SecretStore>,
    );
    wait_for_text(&mut harness, "Connected. Found 1 address book");

    // Removing asks first; "Keep it" changes nothing.
    click(&mut harness, "Remove");
    harness.get_by_label_contains("Remove Alice? Lifeboat forgets this account");
    click(&mut harness, "Keep it");
    assert_eq!(harness.state().state.config.accounts.len(), 1);
    assert_eq!(keyring.get(&id).unwrap().as_deref(), Some(PASSWORD));
    // Removing the account forgets its password. The delete runs in the background: a
    // lookup racing it may find the entry and then lose it, which is not an answer yet.
    click(&mut harness, "Remove");
    click(&mut harness, "Yes, remove");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(keyring.get(&id), Ok(None)) {
        assert!(
            Instant::now() < deadline,
            "the password stayed in the keyring"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    harness.get_by_label("Add where your data lives");
}

fn runtime_seed(server: &Server) {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(seed_radicale(server));
}

#[test]
fn a_schedule_made_in_the_window_runs_and_shows_its_snapshot() {
    let radicale = Server::radicale();
    runtime_seed(&radicale);
    let config_dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    let mut harness = open_window(config_dir.path(), secrets);
    add_account(&mut harness, "Home server", &radicale.base_url(), USER);
    click(&mut harness, "Back up");
    fill(
        &mut harness,
        "Save backups in",
        backups.path().to_str().unwrap(),
    );
    click(&mut harness, "Schedules");
    harness.get_by_label("No schedules yet.");
    fill(&mut harness, "Name", "nightly");
    fill(&mut harness, "At (HH:MM)", "02:30");
    click(&mut harness, "Create schedule");
    wait_for_text(&mut harness, "daily at 02:30 into");
    let profile = harness.state().state.config.profiles[0].clone();
    assert_eq!(profile.destination, backups.path().join("nightly"));
    // Saved at once: the CLI and the OS scheduler see the same profile.
    let saved = lifeboat::config::Config::load(&config_dir.path().join("config.json")).unwrap();
    assert_eq!(saved.profiles, vec![profile.clone()]);

    // The open app runs a new profile at once (it never ran), or "Run now" does.
    wait_for_text(&mut harness, "Last run");
    wait_until(&mut harness, "the run to finish", |h| {
        !h.state().state.busy()
    });
    harness.get_by_label_contains("12 items (12 downloaded, 0 unchanged and linked)");
    let snapshots: Vec<_> = std::fs::read_dir(&profile.destination)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(manifest_of(&snapshots[0].path()).items.len(), 12);

    click(&mut harness, "Run now");
    wait_for_text(
        &mut harness,
        "12 items (0 downloaded, 12 unchanged and linked)",
    );
    harness.get_by_label_contains("Next run:");
    harness.step();
    harness.check_accessibility();
}

#[test]
fn a_backup_missing_an_item_never_says_every_item_was_kept() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("takeout-20261128T101010Z-001.zip");
    let year = "Takeout/Google Photos/Photos from 2024";
    let damaged = photo(21, 50_000);
    zip_part(
        &part,
        &[
            (format!("{year}/broken.jpg"), damaged.clone()),
            (format!("{year}/fine.jpg"), photo(22, 30_000)),
        ],
    );
    damage_inside(&part, &damaged[1000..1064]);
    let config = tempfile::tempdir().unwrap();
    let mut harness = open_window(config.path(), Arc::new(MemorySecrets::default()));
    harness.state_mut().state.backup.folder = dir.path().join("backups").display().to_string();
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(part.clone())));
    harness.step();
    wait_for_text(&mut harness, "It holds:");
    click(&mut harness, "Import this Google export");
    wait_until(&mut harness, "the import", |h| {
        h.state().state.backup.result.is_some()
    });
    wait_for_text(&mut harness, "1 item(s) could not be read from the source");
    harness.get_by_label("Show warnings").click();
    harness.step();
    harness.step();
    assert_peoples_words(&harness);
    assert!(
        harness
            .query_by_label_contains("Every item was kept")
            .is_none()
    );
}

#[test]
fn a_backup_with_one_failing_account_saves_the_others_and_names_the_one_missing() {
    let radicale = Server::radicale();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(seed_radicale(&radicale));
    let config_dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    let mut harness = open_window(config_dir.path(), secrets.clone());
    add_account(&mut harness, "Alice", &radicale.base_url(), USER);
    wait_for_text(&mut harness, "Connected. Found 1 address book");
    // A second account whose password the server refuses (none is kept for it).
    add_account_with(
        &mut harness,
        "Bob's old phone account",
        &radicale.base_url(),
        OTHER_USER,
        "not the password",
    );
    wait_for_text(&mut harness, "The server refused the password");

    click(&mut harness, "Back up");
    fill(
        &mut harness,
        "Save backups in",
        backups.path().to_str().unwrap(),
    );
    click(&mut harness, "Back up now");
    wait_for_text(&mut harness, "Backup saved, but not every account is in it");
    wait_for_text(
        &mut harness,
        "Bob's old phone account could not be backed up",
    );
    assert!(harness.query_by_label("Backup complete").is_none());
    assert!(
        harness
            .query_by_label_contains("Every item was kept")
            .is_none()
    );
    // Alice's data is all there, and the archive itself records the missing account.
    harness.get_by_label_contains("5 contacts");
    let archive = archive_of(&harness);
    let manifest = manifest_of(&archive);
    assert_eq!(manifest.items.len(), 5 + 4 + 3);
    assert!(
        manifest
            .warnings
            .iter()
            .any(|w| w.code == "account-failed" && w.message.contains("Bob's old phone account")),
        "{:?}",
        manifest.warnings
    );
    assert!(
        lifeboat(&["verify", archive.to_str().unwrap()])
            .status
            .success()
    );
    // Straight from the summary to what the backup holds.
    click(&mut harness, "Browse this backup");
    wait_for_text(&mut harness, "Contacts (5)");
    assert_eq!(
        harness.state().state.archive.path.as_deref(),
        Some(archive.as_path())
    );
    // The Restore screen offers the backups in the backup folder, newest first.
    click(&mut harness, "Restore");
    click(&mut harness, "Choose another archive");
    wait_for_text(&mut harness, "Recent backups");
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    click(&mut harness, &name);
    wait_until(&mut harness, "the recent backup to open", |h| {
        h.state().state.archive.contents.is_some()
    });
    assert_eq!(
        harness.state().state.archive.path.as_deref(),
        Some(archive.as_path())
    );
}

#[test]
fn a_zip_with_one_damaged_photo_still_opens_browses_and_restores_the_rest() {
    let radicale = Server::radicale();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let phone = dir.path().join("phone");
    std::fs::create_dir_all(phone.join("Contacts")).unwrap();
    std::fs::create_dir_all(phone.join("DCIM")).unwrap();
    let cards: Vec<u8> = (0..5)
        .flat_map(|i| vcard(&format!("phone-{i}"), &format!("Phone friend {i}")))
        .collect();
    std::fs::write(phone.join("Contacts/all.vcf"), cards).unwrap();
    let damaged = photo(31, 60_000);
    std::fs::write(phone.join("DCIM/broken.jpg"), &damaged).unwrap();
    std::fs::write(phone.join("DCIM/fine.jpg"), photo(32, 40_000)).unwrap();
    let zip = dir.path().join("phone.zip");
    let exported = lifeboat(&[
        "export",
        "--device",
        phone.to_str().unwrap(),
        "--out",
        zip.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    damage_inside(&zip, &damaged[1000..1064]);
    // The command line names the damaged file instead of failing on the zip as a whole.
    let verified = lifeboat(&["verify", zip.to_str().unwrap()]);
    assert!(!verified.status.success());
    assert!(
        text(&verified.stdout).contains("DCIM/broken.jpg"),
        "{}",
        text(&verified.stdout)
    );

    let config = tempfile::tempdir().unwrap();
    let mut harness = open_window(config.path(), Arc::new(MemorySecrets::default()));
    add_account(&mut harness, "Bob", &radicale.base_url(), OTHER_USER);
    drop_onto_window(&mut harness, &zip);
    harness.get_by_label_contains("contacts from phone — 5 items");
    harness.get_by_label_contains("1 problem found");
    click(&mut harness, "Restore into");
    click(&mut harness, "Bob");
    click(&mut harness, "Show what will happen");
    wait_for_text(
        &mut harness,
        "This backup is damaged: 1 file(s) cannot be restored",
    );
    harness.get_by_label_contains("DCIM/broken.jpg: damaged: its contents changed");
    harness.get_by_label_contains("5 item(s) will be written");
    assert_peoples_words(&harness);
    click(&mut harness, "Restore now");
    wait_until(&mut harness, "the restore", |h| {
        h.state().state.restore.summary.is_some()
    });
    assert_eq!(runtime.block_on(home_children(&radicale, OTHER_USER)), 1);

    click(&mut harness, "Browse this archive");
    harness.get_by_label("Contacts (5)");
    harness.get_by_label_contains("Verification").click();
    harness.step();
    harness.step();
    harness.get_by_label_contains("DCIM/broken.jpg");
}

#[test]
fn contacts_calendars_to_dos_and_photos_are_restored_from_the_window() {
    let radicale = Server::radicale();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(seed_radicale(&radicale));
    let shared = tempfile::tempdir().unwrap();
    let photos = seed_photos(shared.path());
    std::fs::create_dir(shared.path().join("Restored")).unwrap();
    let webdav = Server::webdav(shared.path());
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("alice");
    let photos_url = format!("{}Photos/", webdav.base_url());
    let exported = export_account_with(
        &radicale.base_url(),
        &archive,
        &["--photos-url", &photos_url],
        PASSWORD,
    );
    assert!(exported.status.success(), "{}", text(&exported.stderr));

    let config = tempfile::tempdir().unwrap();
    let mut harness = open_window(config.path(), Arc::new(MemorySecrets::default()));
    add_account(&mut harness, "Bob", &radicale.base_url(), OTHER_USER);
    click(&mut harness, "A WebDAV photo folder");
    fill(&mut harness, "Name", "Bob's photos");
    fill(
        &mut harness,
        "Server address",
        &format!("{}Restored/", webdav.base_url()),
    );
    fill(&mut harness, "User name", OTHER_USER);
    fill(&mut harness, "Password", PASSWORD);
    click(&mut harness, "Save and test");
    wait_for_text(&mut harness, "Connected. Nothing is stored here yet.");

    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(archive.clone())));
    harness.step();
    wait_for_text(&mut harness, "all checksums match");
    click(&mut harness, "Restore into");
    click(&mut harness, "Bob");
    // The photo folder account is offered for the photos, chosen already.
    harness.get_by_label("Photos into");
    harness.get_by_value("Bob's photos");
    click(&mut harness, "Show what will happen");
    wait_for_text(&mut harness, "What will happen");
    harness.get_by_label_contains("15 item(s) will be written");
    assert!(harness.query_by_label_contains("Not restored").is_none());
    assert_peoples_words(&harness);
    click(&mut harness, "Restore now");
    wait_for_text(&mut harness, "Restore complete");
    assert_peoples_words(&harness);
    let counts = runtime.block_on(async {
        let mut counts = Vec::new();
        for collection in ["contacts", "calendar", "tasks"] {
            counts.push(count_items(&radicale, OTHER_USER, collection).await);
        }
        counts
    });
    assert_eq!(counts, [5, 4, 3]);
    let into = shared.path().join("Restored");
    let mut restored: Vec<Vec<u8>> = files_under(&into)
        .iter()
        .map(|f| std::fs::read(into.join(f)).unwrap())
        .collect();
    let mut expected: Vec<Vec<u8>> = photos.into_iter().map(|(_, bytes)| bytes).collect();
    restored.sort();
    expected.sort();
    assert_eq!(restored, expected, "every photo, byte for byte");
}

#[test]
fn editing_an_account_keeps_its_saved_password() {
    let radicale = Server::radicale();
    runtime_seed(&radicale);
    let config = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    let mut harness = open_window(config.path(), secrets.clone());
    add_account(&mut harness, "Alice", &radicale.base_url(), USER);
    wait_for_text(&mut harness, "Connected. Found 1 address book");
    click(&mut harness, "Edit");
    harness.get_by_label("Edit Alice");
    // A new address for the same server, the password field left empty as the form says.
    fill(
        &mut harness,
        "Server address",
        &format!("{}{USER}/", radicale.base_url()),
    );
    click(&mut harness, "Save and test");
    wait_until(&mut harness, "the connection test", |h| {
        !matches!(
            h.state().state.tests.values().next(),
            Some(lifeboat::gui::state::TestState::Running) | None
        )
    });
    wait_for_text(&mut harness, "Connected. Found 1 address book");
    let id = harness.state().state.config.accounts[0].id.clone();
    assert_eq!(secrets.get(&id).unwrap().as_deref(), Some(PASSWORD));
}

#[test]
fn a_dropped_folder_of_plain_vcards_opens_browses_and_plans_a_restore() {
    let radicale = Server::radicale();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("Exported contacts");
    std::fs::create_dir(&plain).unwrap();
    for i in 0..3 {
        std::fs::write(
            plain.join(format!("{i}.vcf")),
            vcard(&format!("plain-{i}"), &format!("Plain friend {i}")),
        )
        .unwrap();
    }
    std::fs::create_dir(plain.join("DCIM")).unwrap();
    image::RgbImage::from_pixel(32, 24, image::Rgb([200, 40, 40]))
        .save(plain.join("DCIM/red.png"))
        .unwrap();
    let config = tempfile::tempdir().unwrap();
    let mut harness = open_window(config.path(), Arc::new(MemorySecrets::default()));
    add_account(&mut harness, "Bob", &radicale.base_url(), OTHER_USER);
    drop_onto_window(&mut harness, &plain);
    assert!(
        matches!(harness.state().state.archive.contents, Some(Ok(_))),
        "{:?}",
        harness
            .state()
            .state
            .archive
            .contents
            .as_ref()
            .map(|c| c.as_ref().err())
    );
    harness.get_by_label_contains("contacts from Exported contacts — 3 items");
    click(&mut harness, "Restore into");
    click(&mut harness, "Bob");
    click(&mut harness, "Show what will happen");
    wait_for_text(&mut harness, "3 item(s) will be written");
    click(&mut harness, "Browse this archive");
    harness.get_by_label("Contacts (3)");
    harness.get_by_label("Plain friend 1");
    // The folder's photo gets a thumbnail, read from what the folder became.
    harness.get_by_label_contains("Photos (1)").click();
    wait_until(&mut harness, "the thumbnail", |h| {
        !h.state().textures.images.is_empty()
    });
}

#[test]
fn the_agenda_opens_at_this_month_and_moves_by_months() {
    use chrono::Datelike as _;
    let dir = tempfile::tempdir().unwrap();
    let phone = dir.path().join("phone");
    std::fs::create_dir_all(phone.join("Calendar")).unwrap();
    let today = chrono::Local::now().date_naive();
    let events: String = (-400..400)
        .map(|days| {
            let day = today + chrono::Duration::days(days);
            format!(
                "BEGIN:VEVENT\r\nUID:e{days}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:{}\r\nSUMMARY:Day {days}\r\nEND:VEVENT\r\n",
                day.format("%Y%m%d")
            )
        })
        .collect();
    // One event today with everything the details show.
    let meeting = format!(
        "BEGIN:VEVENT\r\nUID:meeting\r\nDTSTAMP:20240101T000000Z\r\n\
         DTSTART;TZID=Europe/Paris:{day}T100000\r\nDTEND;TZID=Europe/Paris:{day}T103000\r\n\
         RRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Planning meeting\r\n\
         ORGANIZER;CN=Ana López:mailto:ana@example.org\r\n\
         ATTENDEE;CN=Bo;PARTSTAT=DECLINED:mailto:bo@example.org\r\n\
         DESCRIPTION:Bring the budget\r\n\
         BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
        day = today.format("%Y%m%d")
    );
    std::fs::write(
        phone.join("Calendar/all.ics"),
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{events}{meeting}END:VCALENDAR\r\n"),
    )
    .unwrap();
    let archive = dir.path().join("archive");
    let exported = lifeboat(&[
        "export",
        "--device",
        phone.to_str().unwrap(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let config = tempfile::tempdir().unwrap();
    let mut harness = open_window(config.path(), Arc::new(MemorySecrets::default()));
    drop_onto_window(&mut harness, &archive);
    click(&mut harness, "Browse this archive");
    harness.get_by_label_contains("Calendar (").click();
    harness.step();
    harness.step();
    let month = |day: chrono::NaiveDate| day.format("%B %Y").to_string();
    harness.get_by_label(&month(today));
    // Opened at this month: today's event is on screen, one from a year ago is not.
    harness.get_by_label_contains("   Day 0   ");
    assert!(harness.query_by_label_contains("   Day -400   ").is_none());
    click(&mut harness, "Previous month");
    let previous = today.with_day(1).unwrap() - chrono::Duration::days(1);
    harness.get_by_label(&month(previous));
    click(&mut harness, "Today");
    harness.get_by_label(&month(today));
    // Opening an event shows its details; Close puts them away.
    assert!(harness.query_by_label("Bring the budget").is_none());
    harness
        .get_all_by_label_contains("Planning meeting (repeats)")
        .next()
        .unwrap()
        .click();
    harness.step();
    harness.step();
    harness.get_by_label("Europe/Paris");
    harness.get_by_label("Every week, 3 times");
    harness.get_by_label("Ana López");
    harness.get_by_label("Bo (declined)");
    harness.get_by_label("15 minutes before");
    harness.get_by_label("Bring the budget");
    assert_peoples_words(&harness);
    click(&mut harness, "Close");
    assert!(harness.query_by_label("Bring the budget").is_none());
}

#[test]
fn a_server_with_its_own_certificate_is_trusted_once_its_file_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = support::tls::make_certificates(dir.path(), "home");
    let radicale = Server::radicale_tls(&certificate, &key);
    let url = format!("https://127.0.0.1:{}/", radicale.port);
    let plain = dir.path().join("Old contacts");
    std::fs::create_dir(&plain).unwrap();
    for i in 0..3 {
        std::fs::write(
            plain.join(format!("{i}.vcf")),
            vcard(&format!("tls-{i}"), &format!("Home friend {i}")),
        )
        .unwrap();
    }
    let config = tempfile::tempdir().unwrap();
    let mut harness = open_window(config.path(), Arc::new(MemorySecrets::default()));

    // Without the file the connection is refused, and the window says where to give it.
    add_account(&mut harness, "Home server", &url, USER);
    wait_for_text(
        &mut harness,
        "under \u{201c}A server with its own certificate\u{201d}",
    );
    assert_peoples_words(&harness);
    click(&mut harness, "Edit");
    click(&mut harness, "A server with its own certificate");
    fill(&mut harness, "Certificate file", ca.to_str().unwrap());
    click(&mut harness, "Save and test");
    wait_for_text(&mut harness, "Connected.");
    assert_eq!(
        harness.state().state.config.accounts[0].ca_file.as_deref(),
        Some(ca.as_path())
    );

    // Restore into it, then back it up: both go through the trusted connection.
    drop_onto_window(&mut harness, &plain);
    click(&mut harness, "Restore into");
    click(&mut harness, "Home server");
    click(&mut harness, "Show what will happen");
    wait_for_text(&mut harness, "3 item(s) will be written");
    click(&mut harness, "Restore now");
    wait_for_text(&mut harness, "Restore complete");

    click(&mut harness, "Back up");
    let backups = dir.path().join("Backups");
    fill(&mut harness, "Save backups in", backups.to_str().unwrap());
    click(&mut harness, "Back up now");
    wait_for_text(&mut harness, "Backup complete");
    harness.get_by_label_contains("3 contacts");
    let archived = archived_items(&archive_of(&harness));
    assert_eq!(archived.values().map(|items| items.len()).sum::<usize>(), 3);
}
