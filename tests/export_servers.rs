//! Export against real servers: the source contract on Radicale and WsgiDAV, the CLI export
//! into folders and zips, verify, ls, and the errors a user sees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use lifeboat::dav::http::{Credentials, HttpClient, HttpSettings};
use lifeboat::model::CollectionKind;
use lifeboat::source::contract::{ExpectedCollection, check_source};
use lifeboat::source::dav::DavSource;
use lifeboat::source::photos::PhotoSource;
use support::*;

fn http() -> HttpClient {
    HttpClient::new(
        Credentials::Basic {
            user: USER.into(),
            password: PASSWORD.into(),
        },
        &HttpSettings::default(),
    )
    .unwrap()
}

#[tokio::test]
async fn radicale_and_webdav_sources_pass_the_contract() {
    let radicale = Server::radicale();
    let seeded = seed_radicale(&radicale).await;
    let source = DavSource::connect(&radicale.base_url(), http())
        .await
        .unwrap();
    let expected: Vec<ExpectedCollection> = seeded
        .iter()
        .map(|(name, items)| ExpectedCollection {
            kind: if *name == "contacts" {
                CollectionKind::Contacts
            } else {
                CollectionKind::Calendar
            },
            name_contains: name.to_string(),
            items: items.iter().map(|(_, b)| b.clone()).collect(),
        })
        .collect();
    check_source(&source, &expected).await.unwrap();
    let collections = lifeboat::source::Source::collections(&source)
        .await
        .unwrap();
    let tasks = collections.iter().find(|c| c.name == "tasks").unwrap();
    assert_eq!(tasks.display_name.as_deref(), Some("Chores"));
    assert_eq!(tasks.components, vec!["VTODO".to_owned()]);
    let token = lifeboat::source::Source::sync_token(&source, tasks)
        .await
        .unwrap();
    assert!(token.is_some(), "Radicale offers sync tokens");

    let root = tempfile::tempdir().unwrap();
    let photos = seed_photos(root.path());
    let webdav = Server::webdav(root.path());
    let source = PhotoSource::new(&format!("{}Photos/", webdav.base_url()), http()).unwrap();
    let expected = [ExpectedCollection {
        kind: CollectionKind::Photos,
        name_contains: "Photos".into(),
        items: photos.into_iter().map(|(_, b)| b).collect(),
    }];
    check_source(&source, &expected).await.unwrap();
}

#[tokio::test]
async fn cli_export_keeps_server_bytes_and_verify_catches_damage() {
    let radicale = Server::radicale();
    let seeded = seed_radicale(&radicale).await;
    let root = tempfile::tempdir().unwrap();
    let photos = seed_photos(root.path());
    let webdav = Server::webdav(root.path());
    let device = tempfile::tempdir().unwrap();
    std::fs::write(
        device.path().join("phone.vcf"),
        [vcard("d1", "Device One"), vcard("d2", "Device Two")].concat(),
    )
    .unwrap();

    let out_dir = tempfile::tempdir().unwrap();
    let archive = out_dir.path().join("backup");
    let photos_url = format!("{}Photos/", webdav.base_url());
    let output = lifeboat(&[
        "export",
        "--url",
        &radicale.base_url(),
        "--user",
        USER,
        "--photos-url",
        &photos_url,
        "--device",
        device.path().to_str().unwrap(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("7 contacts")
            && stdout.contains("4 events")
            && stdout.contains("3 to-dos")
            && stdout.contains("3 photos"),
        "{stdout}"
    );
    // Nothing but the archive is left in the destination folder.
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("backup")]);

    let manifest = manifest_of(&archive);
    assert!(
        manifest
            .sources
            .iter()
            .all(|s| !s.location.contains(PASSWORD))
    );
    for (name, items) in &seeded {
        for (file, served) in items {
            let item = manifest
                .items
                .iter()
                .find(|i| i.href.ends_with(&format!("/{name}/{file}")))
                .unwrap_or_else(|| panic!("{name}/{file} missing"));
            assert_eq!(
                &std::fs::read(archive.join(&item.path)).unwrap(),
                served,
                "{}",
                item.path
            );
            assert!(item.etag.is_some());
        }
    }
    for (relative, bytes) in &photos {
        let file_name = relative.rsplit('/').next().unwrap();
        let item = manifest
            .items
            .iter()
            .find(|i| lifeboat::source::last_segment(&i.href) == file_name)
            .unwrap();
        assert_eq!(&std::fs::read(archive.join(&item.path)).unwrap(), bytes);
        assert!(item.path.starts_with("photos/Photos/"), "{}", item.path);
    }
    assert!(
        archive.join("photos/Photos/2024/beach.jpg").exists(),
        "albums keep their folders"
    );
    // Merged files are importable: one VCALENDAR / all cards, parseable.
    let calendar = collection_named(&manifest, "calendar");
    let merged = std::fs::read_to_string(archive.join(calendar.merged.as_ref().unwrap())).unwrap();
    assert_eq!(merged.matches("BEGIN:VEVENT").count(), 4);
    assert!(calcard::icalendar::ICalendar::parse(&merged).is_ok());
    let book = collection_named(&manifest, "contacts");
    let merged = std::fs::read_to_string(archive.join(book.merged.as_ref().unwrap())).unwrap();
    assert_eq!(merged.matches("BEGIN:VCARD").count(), 5);
    assert_eq!(
        std::fs::read_to_string(archive.join(&book.path).join("displayname")).unwrap(),
        "My Contacts"
    );
    assert!(archive.join("README.txt").exists());

    let ok = lifeboat(&["verify", archive.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("all checksums match"));

    let ls = lifeboat(&["ls", "--json", archive.to_str().unwrap()]);
    let listing: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(listing["items"], 5 + 4 + 3 + 3 + 2);

    // A flipped byte, a missing file and an extra file are each caught.
    let victim = archive.join(&manifest.items[0].path);
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[3] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    std::fs::remove_file(archive.join(&manifest.items[1].path)).unwrap();
    std::fs::write(archive.join("contacts/stray.vcf"), b"x").unwrap();
    let bad = lifeboat(&["verify", "--json", archive.to_str().unwrap()]);
    assert!(!bad.status.success());
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(report["corrupt"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(
        report["missing"],
        serde_json::json!([manifest.items[1].path])
    );
    assert_eq!(report["extra"], serde_json::json!(["contacts/stray.vcf"]));

    // The same export as a zip verifies, and refuses to overwrite.
    let zip = out_dir.path().join("backup.zip");
    let output = export_account(&radicale.base_url(), &zip);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let ok = lifeboat(&["verify", zip.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    let before = std::fs::read(&zip).unwrap();
    let again = export_account(&radicale.base_url(), &zip);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("never overwrites"));
    assert_eq!(std::fs::read(&zip).unwrap(), before);
}

#[tokio::test]
async fn dry_run_lists_and_writes_nothing() {
    let radicale = Server::radicale();
    seed_radicale(&radicale).await;
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("plan-only");
    let output = export_account_with(&radicale.base_url(), &archive, &["--dry-run"], PASSWORD);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("12 items in 3 collections"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

fn assert_failed_cleanly(output: &std::process::Output, out: &Path, expected: &str) {
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(out).unwrap().count(),
        0,
        "nothing may be left behind"
    );
}

#[tokio::test]
async fn wrong_password_names_the_account_and_writes_nothing() {
    let radicale = Server::radicale();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("backup");
    let output = export_account_with(&radicale.base_url(), &archive, &[], "wrong");
    assert_failed_cleanly(&output, out.path(), "refused the password for alice");
    assert!(text(&output.stderr).contains("app-specific password"));
}

#[tokio::test]
async fn unreachable_host_and_non_dav_server_give_clear_errors() {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("backup");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = export_account(&format!("http://127.0.0.1:{closed}/"), &archive);
    assert_failed_cleanly(&output, out.path(), "could not connect");

    let root = tempfile::tempdir().unwrap();
    let webdav = Server::webdav(root.path());
    let output = export_account(&webdav.base_url(), &archive);
    assert_failed_cleanly(&output, out.path(), "no CalDAV or CardDAV service");

    // A plain web server (`python3 -m http.server`) answers PROPFIND with 501.
    let port = broken_server("501 Not Implemented", "");
    let photos = format!("http://127.0.0.1:{port}/photos/");
    let output = lifeboat(&[
        "export",
        "--photos-url",
        &photos,
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert_failed_cleanly(&output, out.path(), "does not understand WebDAV");
}

/// A server that answers every request with `status` and `body`: a broken provider.

#[tokio::test]
async fn server_failures_give_clear_errors_and_no_archive() {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("backup");
    let port = broken_server("500 Internal Server Error", "oops");
    let output = export_account(&format!("http://127.0.0.1:{port}/"), &archive);
    assert_failed_cleanly(&output, out.path(), "500");

    let port = broken_server(
        "207 Multi-Status",
        "<multistatus xmlns='DAV:'><response><href>/x</href>",
    );
    let output = export_account(&format!("http://127.0.0.1:{port}/"), &archive);
    assert_failed_cleanly(&output, out.path(), "malformed XML");
}
