//! Provider exports as sources: realistic Google Takeout and Apple data-copy zips built here
//! (several parts, a photo and its sidecar in different parts, cut sidecar names, an edited
//! copy, a motion photo, nested tasks, non-ASCII names) exported into archives, checked byte
//! for byte, and the to-dos restored into a real Radicale task list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};

use lifeboat::archive::Manifest;
use lifeboat::model::ItemKind;
use support::*;

fn sidecar(title: &str, taken: i64) -> Vec<u8> {
    format!(
        r#"{{
  "title": "{title}",
  "description": "",
  "imageViews": "3",
  "creationTime": {{"timestamp": "{}", "formatted": "…"}},
  "photoTakenTime": {{"timestamp": "{taken}", "formatted": "…"}},
  "geoData": {{"latitude": 50.94, "longitude": 6.96, "altitude": 0.0}},
  "url": "https://photos.google.com/photo/AF1Qip"
}}"#,
        taken + 60
    )
    .into_bytes()
}

const CONTACTS: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Müller\r\nN:Müller;Zoë;;;\r\n\
EMAIL;TYPE=INTERNET;TYPE=HOME:zoe@example.org\r\nTEL;TYPE=CELL:+49 170 1234567\r\n\
CATEGORIES:myContacts\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Example\r\n\
N:Example;Bob;;;\r\nitem1.EMAIL;TYPE=INTERNET:bob@example.org\r\nitem1.X-ABLabel:Work\r\n\
NOTE:Met at the 2019 conference\\, Köln\r\nCATEGORIES:myContacts,Starred\r\nEND:VCARD\r\n";

fn calendar(uid: &str, summary: &str) -> Vec<u8> {
    format!(
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n\
CALSCALE:GREGORIAN\r\nX-WR-CALNAME:alice@gmail.com\r\nX-WR-TIMEZONE:Europe/Berlin\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\n\
DTEND;TZID=Europe/Berlin:20261201T100000\r\nDTSTAMP:20261128T000000Z\r\n\
UID:{uid}@google.com\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n\
DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\nDTSTAMP:20261128T000000Z\r\n\
UID:{uid}-2@google.com\r\nSUMMARY:Heiligabend\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    .into_bytes()
}

const TASKS: &str = r#"{
  "kind": "tasks#taskLists",
  "items": [
    {
      "kind": "tasks#tasksList", "id": "MDk2", "title": "Umzug nach Köln",
      "updated": "2026-11-20T09:30:00.000Z",
      "items": [
        {"kind": "tasks#task", "id": "t-root", "title": "Wohnung übergeben",
         "status": "needsAction", "due": "2026-12-31T00:00:00.000Z",
         "notes": "Schlüssel, Zähler; Protokoll", "updated": "2026-11-01T10:00:00.000Z",
         "position": "00000000000000000000"},
        {"kind": "tasks#task", "id": "t-child", "title": "Zählerstände notieren",
         "parent": "t-root", "status": "completed", "completed": "2026-11-20T09:30:00.000Z",
         "updated": "2026-11-20T09:30:00.000Z", "position": "00000000000000000001"},
        {"kind": "tasks#task", "id": "t-grandchild", "title": "Foto vom Gaszähler",
         "parent": "t-child", "status": "needsAction", "updated": "2026-11-02T08:00:00.000Z",
         "position": "00000000000000000000"}
      ]
    },
    {
      "kind": "tasks#tasksList", "id": "MTIz", "title": "My Tasks",
      "updated": "2026-11-03T00:00:00.000Z",
      "items": [
        {"kind": "tasks#task", "id": "t-alone", "title": "Call mum", "status": "needsAction",
         "updated": "2026-11-03T00:00:00.000Z",
         "links": [{"type": "email", "description": "Re: Sunday", "link": "https://mail.google.com/mail/#all/1"}]}
      ]
    }
  ]
}"#;

/// A two-part Takeout as Google cuts it, with every quirk the issue names. Returns the
/// parts and, per photo path, its bytes.
struct Takeout {
    parts: Vec<PathBuf>,
    files: Vec<File>,
}

fn build_takeout(dir: &Path) -> Takeout {
    let year = "Takeout/Google Photos/Photos from 2019";
    let year23 = "Takeout/Google Photos/Photos from 2023";
    let album = "Takeout/Google Photos/Urlaub in Köln";
    let motion = "PXL_20230615_184512345.MP";
    let one: Vec<File> = vec![
        (
            "Takeout/archive_browser.html".into(),
            b"<html>Takeout</html>".to_vec(),
        ),
        (
            "Takeout/Contacts/My Contacts/My Contacts.vcf".into(),
            CONTACTS.as_bytes().to_vec(),
        ),
        (
            "Takeout/Calendar/alice@gmail.com.ics".into(),
            calendar("a1", "Zahnarzt"),
        ),
        (
            "Takeout/Calendar/Familie.ics".into(),
            calendar("f1", "Oma 80 ☺"),
        ),
        ("Takeout/Tasks/Tasks.json".into(), TASKS.as_bytes().to_vec()),
        // The photo is in this part, its sidecar in the next.
        (format!("{year}/IMG_0001.jpg"), photo(1, 30_000)),
        (format!("{year}/IMG_0002.jpg"), photo(2, 40_000)),
        (
            format!("{year}/IMG_0002.jpg.supplemental-metadata.json"),
            sidecar("IMG_0002.jpg", 1_562_000_000),
        ),
        // An edited copy never has a sidecar of its own.
        (format!("{year}/IMG_0002-edited.jpg"), photo(3, 38_000)),
        (format!("{year}/scan.png"), photo(4, 5_000)),
        (format!("{year23}/{motion}.jpg"), photo(5, 50_000)),
        (format!("{year23}/{motion}"), photo(6, 90_000)),
        // Cut to Takeout's 51 characters.
        (
            format!("{year23}/{motion}.jpg.supplemental-me.json"),
            sidecar(&format!("{motion}.jpg"), 1_686_854_712),
        ),
        (
            "Takeout/Mail/All mail Including Spam and Trash.mbox".into(),
            b"From x\n".to_vec(),
        ),
    ];
    let two: Vec<File> = vec![
        (
            format!("{year}/IMG_0001.jpg.supplemental-metadata.json"),
            sidecar("IMG_0001.jpg", 1_561_000_000),
        ),
        // A sidecar whose photo Google left out.
        (
            format!("{year}/IMG_9999.jpg.supplemental-metadata.json"),
            sidecar("IMG_9999.jpg", 1_560_000_000),
        ),
        (
            format!("{album}/metadata.json"),
            r#"{"title": "Urlaub in Köln ☀", "description": "", "access": "protected"}"#
                .as_bytes()
                .to_vec(),
        ),
        // The same photo as in the year folder: archived once, listed in the album.
        (format!("{album}/IMG_0002.jpg"), photo(2, 40_000)),
        (
            format!("{album}/IMG_0002.jpg.supplemental-metadata.json"),
            sidecar("IMG_0002.jpg", 1_562_000_000),
        ),
        (format!("{album}/Straße am Dom.jpg"), photo(7, 20_000)),
        (
            format!("{album}/Straße am Dom.jpg.supplemental-metadata.json"),
            sidecar("Straße am Dom.jpg", 1_562_100_000),
        ),
        ("Takeout/Drive/Steuer 2025.pdf".into(), b"%PDF-1.7".to_vec()),
    ];
    let parts = vec![
        dir.join("takeout-20261128T101010Z-001.zip"),
        dir.join("takeout-20261128T101010Z-002.zip"),
    ];
    zip_part(&parts[0], &one);
    zip_part(&parts[1], &two);
    Takeout {
        parts,
        files: one.into_iter().chain(two).collect(),
    }
}

fn bytes_of(takeout: &Takeout, path: &str) -> Vec<u8> {
    takeout
        .files
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .1
        .clone()
}

fn export(args: &[&str]) -> Manifest {
    let output = lifeboat(args);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let out = args.iter().position(|a| *a == "--out").unwrap() + 1;
    manifest_of(Path::new(args[out]))
}

fn warnings_with(manifest: &Manifest, code: &str) -> Vec<String> {
    let mut hrefs: Vec<String> = manifest
        .warnings
        .iter()
        .filter(|w| w.code == code)
        .map(|w| w.href.clone().unwrap_or_default())
        .collect();
    hrefs.sort();
    hrefs
}

fn check_takeout_archive(archive: &Path, manifest: &Manifest, takeout: &Takeout) {
    // Every photo's bytes exactly once: six distinct photos and videos in eight places.
    let photos: Vec<_> = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Photo)
        .collect();
    let photo_sources: Vec<&File> = takeout
        .files
        .iter()
        .filter(|(p, _)| p.contains("Google Photos") && !p.ends_with(".json"))
        .collect();
    assert_eq!(photo_sources.len(), 8);
    let mut distinct: Vec<&Vec<u8>> = photo_sources.iter().map(|(_, b)| b).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(photos.len(), distinct.len(), "{photos:#?}");
    for (path, bytes) in &photo_sources {
        let holders: Vec<_> = photos
            .iter()
            .filter(|i| i.href == *path || i.about.copies.contains(path))
            .collect();
        assert_eq!(holders.len(), 1, "{path} should be archived exactly once");
        assert_eq!(
            &std::fs::read(archive.join(&holders[0].path)).unwrap(),
            bytes
        );
    }
    let by_href = |href: &str| {
        photos
            .iter()
            .find(|i| i.href.ends_with(href))
            .unwrap_or_else(|| panic!("no photo {href}"))
    };
    // The year folder's copy is the one archived; the album is a list.
    let shared = by_href("Photos from 2019/IMG_0002.jpg");
    assert_eq!(shared.about.albums, ["Urlaub in Köln ☀"]);
    assert_eq!(
        shared.about.copies,
        ["Takeout/Google Photos/Urlaub in Köln/IMG_0002.jpg"]
    );
    assert_eq!(shared.about.taken.as_deref(), Some("2019-07-01T16:53:20Z"));
    // Split across parts from its sidecar, and still matched.
    let split = by_href("Photos from 2019/IMG_0001.jpg");
    assert_eq!(
        split.about.described_by.as_deref(),
        Some("Takeout/Google Photos/Photos from 2019/IMG_0001.jpg.supplemental-metadata.json")
    );
    assert_eq!(split.about.taken.as_deref(), Some("2019-06-20T03:06:40Z"));
    assert_eq!(
        by_href("IMG_0002-edited.jpg").about.described_by,
        shared.about.described_by
    );
    let motion_photo = by_href("PXL_20230615_184512345.MP.jpg");
    assert!(
        motion_photo
            .about
            .described_by
            .as_deref()
            .unwrap()
            .ends_with(".MP.jpg.supplemental-me.json")
    );
    assert_eq!(
        by_href("PXL_20230615_184512345.MP").about.described_by,
        motion_photo.about.described_by
    );
    assert_eq!(
        by_href("Straße am Dom.jpg").about.albums,
        ["Urlaub in Köln ☀"]
    );
    // Reported: the photo without a sidecar, the sidecar without a photo, what is not handled.
    assert_eq!(
        warnings_with(manifest, "no-sidecar"),
        ["Takeout/Google Photos/Photos from 2019/scan.png"]
    );
    assert_eq!(
        warnings_with(manifest, "sidecar-unmatched"),
        ["Takeout/Google Photos/Photos from 2019/IMG_9999.jpg.supplemental-metadata.json"]
    );
    assert_eq!(
        warnings_with(manifest, "not-handled"),
        [
            "Takeout/Drive",
            "Takeout/Mail",
            "Takeout/archive_browser.html"
        ]
    );
    // Every sidecar, the album file and Tasks.json are kept byte for byte.
    let kept: Vec<Vec<u8>> = manifest
        .files
        .iter()
        .filter(|f| f.role == "metadata")
        .map(|f| std::fs::read(archive.join(&f.path)).unwrap())
        .collect();
    let json: Vec<&File> = takeout
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(".json"))
        .collect();
    assert_eq!(kept.len(), json.len());
    for (path, bytes) in json {
        assert!(kept.contains(bytes), "{path} not kept");
    }
    // Contacts and calendars: their items put together give back each file byte for byte.
    for source in [
        "Takeout/Contacts/My Contacts/My Contacts.vcf",
        "Takeout/Calendar/alice@gmail.com.ics",
        "Takeout/Calendar/Familie.ics",
    ] {
        let mut items: Vec<_> = manifest
            .items
            .iter()
            .filter(|i| i.href.split('#').next() == Some(source))
            .collect();
        items.sort_by_key(|i| i.href.clone());
        assert!(!items.is_empty(), "nothing from {source}");
        if source.ends_with(".vcf") {
            let joined: Vec<u8> = items
                .iter()
                .flat_map(|i| std::fs::read(archive.join(&i.path)).unwrap())
                .collect();
            assert_eq!(joined, bytes_of(takeout, source));
        } else {
            for item in items {
                let archived = text(&std::fs::read(archive.join(&item.path)).unwrap());
                assert!(
                    text(&bytes_of(takeout, source)).contains(
                        archived
                            .split("BEGIN:VEVENT")
                            .nth(1)
                            .unwrap()
                            .split("END:VEVENT")
                            .next()
                            .unwrap()
                    )
                );
            }
        }
    }
    let todos = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Todo)
        .count();
    assert_eq!(todos, 4);
}

#[test]
fn a_multi_part_takeout_becomes_a_complete_archive_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let takeout = build_takeout(dir.path());
    let archive = dir.path().join("archive");
    // The parts in reverse order: the merged tree does not depend on it.
    let manifest = export(&[
        "export",
        "--takeout",
        takeout.parts[1].to_str().unwrap(),
        takeout.parts[0].to_str().unwrap(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    check_takeout_archive(&archive, &manifest, &takeout);
    // The browser sorts photos by when they were taken and knows their albums.
    let contents = lifeboat::browse::load(&archive, &Default::default()).unwrap();
    let taken: Vec<Option<&str>> = contents.photos.iter().map(|p| p.taken.as_deref()).collect();
    let mut sorted = taken.clone();
    sorted.sort_by_key(|t| (t.is_none(), *t));
    assert_eq!(taken, sorted);
    assert_eq!(
        taken.first().copied().flatten(),
        Some("2019-06-20T03:06:40Z")
    );
    assert!(
        contents
            .photos
            .iter()
            .any(|p| p.albums == ["Urlaub in Köln ☀"])
    );
    let verified = lifeboat(&["verify", archive.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));

    // The same Takeout extracted into one folder per part gives the same items.
    let extracted = dir.path().join("extracted");
    for (index, part) in takeout.parts.iter().enumerate() {
        let into = extracted.join(format!("takeout-00{}", index + 1));
        let mut zip = zip::ZipArchive::new(std::fs::File::open(part).unwrap()).unwrap();
        zip.extract(&into).unwrap();
    }
    let from_folders = dir.path().join("from-folders.zip");
    let again = export(&[
        "export",
        "--takeout",
        extracted.join("takeout-001").to_str().unwrap(),
        extracted.join("takeout-002").to_str().unwrap(),
        "--out",
        from_folders.to_str().unwrap(),
    ]);
    let checksums = |m: &Manifest| {
        let mut all: Vec<(String, String)> = m
            .items
            .iter()
            .map(|i| (i.href.to_string(), i.sha256.to_string()))
            .collect();
        all.sort();
        all
    };
    assert_eq!(checksums(&again), checksums(&manifest));
}

#[test]
fn a_takeout_with_nothing_to_rescue_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("takeout-001.zip");
    zip_part(
        &part,
        &[("Takeout/Mail/all.mbox".into(), b"From x\n".to_vec())],
    );
    let out = dir.path().join("archive");
    let output = lifeboat(&[
        "export",
        "--takeout",
        part.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("no contacts, calendars, to-dos or photos"),
        "{stderr}"
    );
    assert!(stderr.contains("Takeout/Mail: 1 file"), "{stderr}");
    assert!(!out.exists());

    let not_zip = dir.path().join("takeout-002.zip");
    std::fs::write(&not_zip, b"<html>download interrupted</html>").unwrap();
    let output = lifeboat(&[
        "export",
        "--takeout",
        not_zip.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("not a folder and not a readable zip"));
    assert!(!out.exists());
}

#[tokio::test]
async fn takeout_tasks_restore_into_radicale_as_vtodos_with_their_hierarchy() {
    let dir = tempfile::tempdir().unwrap();
    let takeout = build_takeout(dir.path());
    let archive = dir.path().join("archive.zip");
    export(&[
        "export",
        "--takeout",
        takeout.parts[0].to_str().unwrap(),
        takeout.parts[1].to_str().unwrap(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    let radicale = Server::radicale();
    let photos_to = tempfile::tempdir().unwrap();
    let webdav = Server::webdav(photos_to.path());
    let restored = restore_as(
        USER,
        &archive,
        &radicale.base_url(),
        &["--photos-url", &webdav.base_url(), "--json"],
    );
    assert!(
        restored.status.success(),
        "{}\n{}",
        text(&restored.stdout),
        text(&restored.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&restored.stdout).unwrap();
    assert_eq!(restore_total(&summary, "refused"), 0, "{summary:#}");
    assert_eq!(restore_total(&summary, "verify_failed"), 0, "{summary:#}");
    // Google's vCards have no UID, which servers require: the restore gives each one made
    // from its checksum, so a second run finds them again and uploads nothing.
    let again = restore_as(
        USER,
        &archive,
        &radicale.base_url(),
        &["--photos-url", &webdav.base_url(), "--json"],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(restore_total(&again, "uploaded"), 0, "{again:#}");
    // What the server now holds, read back through an export of the account.
    let back = dir.path().join("back");
    let output = export_as(USER, &radicale.base_url(), &back);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let items = archived_items(&back);
    let list = items
        .get("Umzug nach Köln")
        .or_else(|| {
            items
                .iter()
                .find(|(_, v)| v.contains_key("t-root@tasks.google.com"))
                .map(|(_, v)| v)
        })
        .unwrap_or_else(|| panic!("no task list came back: {:?}", items.keys()));
    assert_eq!(list.len(), 3);
    let contacts = items
        .values()
        .find(|v| v.values().any(|card| text(card).starts_with("BEGIN:VCARD")))
        .unwrap_or_else(|| panic!("no address book came back: {:?}", items.keys()));
    assert_eq!(contacts.len(), 2);
    assert!(contacts.keys().all(|uid| uid.starts_with("lifeboat-")));
    assert!(
        contacts
            .values()
            .any(|card| text(card).contains("FN:Zoë Müller"))
    );
    let todo = |uid: &str| text(&list[&format!("{uid}@tasks.google.com")]);
    assert!(todo("t-root").contains("SUMMARY:Wohnung übergeben"));
    assert!(todo("t-root").contains("DESCRIPTION:Schlüssel\\, Zähler\\; Protokoll"));
    assert!(todo("t-root").contains("DUE;VALUE=DATE:20261231"));
    assert!(todo("t-child").contains("RELATED-TO;RELTYPE=PARENT:t-root@tasks.google.com"));
    assert!(todo("t-child").contains("STATUS:COMPLETED"));
    assert!(todo("t-grandchild").contains("RELATED-TO;RELTYPE=PARENT:t-child@tasks.google.com"));
    assert!(!todo("t-root").contains("RELATED-TO"));
    // The collection was made as a task list.
    let manifest = manifest_of(&back);
    let made = manifest
        .collections
        .iter()
        .find(|c| c.info.display_name.as_deref() == Some("Umzug nach Köln"))
        .unwrap();
    assert!(
        made.info.components.contains(&"VTODO".to_owned()),
        "{made:?}"
    );
    // Photos went to the WebDAV folder once each, in their folders.
    assert!(
        photos_to
            .path()
            .join("Photos from 2019/IMG_0001.jpg")
            .exists()
            || {
                files_under(photos_to.path())
                    .iter()
                    .any(|p| p.ends_with("Photos from 2019/IMG_0001.jpg"))
            }
    );
}

/// Apple's data copy: iCloud Contacts, Calendars and Reminders, and iCloud Photos in two
/// parts with their CSVs; Notes is not handled.
#[test]
fn an_apple_data_copy_becomes_an_archive_with_photo_dates_and_albums() {
    let dir = tempfile::tempdir().unwrap();
    let contacts = vcard("apple-1", "Jürgen Apfel");
    let reminders = todo("rem-1", "Milch kaufen");
    let photos_1 = "iCloud Photos Part 1 of 2";
    let photos_2 = "iCloud Photos Part 2 of 2";
    let details = "imgName,fileChecksum,favorite,hidden,deleted,originalCreationDate,viewCount,importDate\n\
IMG_0001.HEIC,c2hh,yes,no,no,Saturday May 7,2022 1:43 PM GMT,3,Saturday May 7,2022 1:50 PM GMT\n\
IMG_0002.JPG,c2hi,no,no,no,Monday December 25,2023 11:05 AM GMT,0,\n";
    let parts: Vec<(&str, Vec<File>)> = vec![
        (
            "iCloud Contacts.zip",
            vec![("iCloud Contacts/Jürgen Apfel.vcf".into(), contacts.clone())],
        ),
        (
            "iCloud Calendars and Reminders.zip",
            vec![
                (
                    "iCloud Calendars and Reminders/Home.ics".into(),
                    event("apple-ev", "Dinner"),
                ),
                (
                    "iCloud Calendars and Reminders/Reminders.ics".into(),
                    reminders.clone(),
                ),
            ],
        ),
        (
            "iCloud Photos Part 1 of 2.zip",
            vec![
                (
                    format!("{photos_1}/Photos/IMG_0001.HEIC"),
                    photo(11, 25_000),
                ),
                (
                    format!("{photos_1}/Photos/Photo Details.csv"),
                    details.as_bytes().to_vec(),
                ),
                (
                    format!("{photos_1}/Albums/Familie.csv"),
                    b"Images\nIMG_0001.HEIC\nIMG_0002.JPG\n".to_vec(),
                ),
            ],
        ),
        (
            "iCloud Photos Part 2 of 2.zip",
            vec![
                (format!("{photos_2}/Photos/IMG_0002.JPG"), photo(12, 26_000)),
                (format!("{photos_2}/Photos/IMG_0003.MOV"), photo(13, 60_000)),
                (
                    format!("{photos_2}/Albums/Favourites.csv"),
                    b"Images\nIMG_0001.HEIC\n".to_vec(),
                ),
            ],
        ),
        (
            "iCloud Notes.zip",
            vec![("iCloud Notes/Notes/Einkauf.txt".into(), b"Milch".to_vec())],
        ),
    ];
    let mut paths = Vec::new();
    for (name, files) in &parts {
        let path = dir.path().join(name);
        zip_part(&path, files);
        paths.push(path.to_str().unwrap().to_owned());
    }
    let archive = dir.path().join("apple");
    let mut args = vec!["export", "--apple"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(["--out", archive.to_str().unwrap()]);
    let manifest = export(&args);
    let item = |href: &str| {
        manifest
            .items
            .iter()
            .find(|i| i.href == href)
            .unwrap_or_else(|| panic!("no {href} in {:#?}", manifest.items))
    };
    let first = item("iCloud Photos/Photos/IMG_0001.HEIC");
    assert_eq!(first.about.taken.as_deref(), Some("2022-05-07T13:43:00Z"));
    assert_eq!(first.about.albums, ["Familie", "Favourites"]);
    assert_eq!(
        std::fs::read(archive.join(&first.path)).unwrap(),
        photo(11, 25_000)
    );
    assert_eq!(
        item("iCloud Photos/Photos/IMG_0002.JPG")
            .about
            .taken
            .as_deref(),
        Some("2023-12-25T11:05:00Z")
    );
    assert_eq!(
        warnings_with(&manifest, "no-sidecar"),
        ["iCloud Photos/Photos/IMG_0003.MOV"]
    );
    assert_eq!(warnings_with(&manifest, "not-handled"), ["iCloud Notes"]);
    let photo_items = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Photo)
        .count();
    assert_eq!(photo_items, 3);
    assert_eq!(
        std::fs::read(archive.join(&item("iCloud Contacts/Jürgen Apfel.vcf").path)).unwrap(),
        contacts
    );
    assert_eq!(
        std::fs::read(archive.join(&item("iCloud Calendars and Reminders/Reminders.ics").path))
            .unwrap(),
        reminders
    );
    let csvs = manifest
        .files
        .iter()
        .filter(|f| f.role == "metadata" && f.path.ends_with(".csv"))
        .count();
    assert_eq!(csvs, 3);
}

/// A part damaged in the download: the photo whose bytes fail the zip's CRC is reported, not
/// archived half; everything else arrives and the archive verifies.
#[test]
fn a_damaged_photo_in_a_part_is_reported_and_the_rest_is_archived() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("takeout-001.zip");
    let year = "Takeout/Google Photos/Photos from 2020";
    let damaged = photo(21, 50_000);
    zip_part(
        &part,
        &[
            (format!("{year}/broken.jpg"), damaged.clone()),
            (format!("{year}/fine.jpg"), photo(22, 30_000)),
            (
                "Takeout/Contacts/My Contacts/My Contacts.vcf".into(),
                vcard("c1", "Ada"),
            ),
        ],
    );
    damage_inside(&part, &damaged[1000..1064]);
    let archive = dir.path().join("archive");
    // The archive holds the rest, and the run says that one photo is missing (exit 2).
    let output = lifeboat(&[
        "export",
        "--takeout",
        part.to_str().unwrap(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("broken.jpg"),
        "{}",
        text(&output.stdout)
    );
    let manifest = manifest_of(&archive);
    let photos: Vec<&str> = manifest
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Photo)
        .map(|i| i.href.as_str())
        .collect();
    assert_eq!(photos, [format!("{year}/fine.jpg")]);
    let unavailable: Vec<_> = manifest
        .warnings
        .iter()
        .filter(|w| w.code == "unavailable")
        .collect();
    assert_eq!(unavailable.len(), 1, "{:#?}", manifest.warnings);
    assert_eq!(
        unavailable[0].href.as_deref(),
        Some(format!("{year}/broken.jpg").as_str())
    );
    assert!(
        unavailable[0].message.contains("damaged"),
        "{unavailable:?}"
    );
    let verified = lifeboat(&["verify", archive.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
}
