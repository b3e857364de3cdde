//! Hostile input, as property tests over the same entry points the fuzz targets drive
//! (`lifeboat::fuzzing`): manifests, zips, multistatus XML and vCard/iCalendar files built to
//! be nasty, plus fixed cases: entity expansion, and a zip whose entries try to escape, restored
//! into a folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write as _;
use std::path::Path;

use proptest::prelude::*;
use sha2::Digest as _;
use support::*;

/// Entry names mixing ordinary parts with every way out of a folder we know of.
fn hostile_name() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("contacts".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just(String::new()),
        Just("C:".to_owned()),
        Just("CON".to_owned()),
        Just("nul.vcf".to_owned()),
        Just("a:stream".to_owned()),
        Just("..\\..\\evil".to_owned()),
        Just("/etc".to_owned()),
        Just("\\\\server\\share".to_owned()),
        Just("x\0y".to_owned()),
        "[a-zA-Z0-9 ._Ää-]{1,12}",
    ];
    prop::collection::vec(part, 1..5).prop_map(|parts| parts.join("/"))
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        if zip.start_file(name.as_str(), options).is_ok() {
            zip.write_all(bytes).unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A manifest listing `entries` as contacts and photos, with their true checksums.
fn manifest_for(entries: &[(String, Vec<u8>)], photo_hrefs: &[String]) -> Vec<u8> {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .enumerate()
        .map(|(index, (path, bytes))| {
            let photo = index % 2 == 1;
            serde_json::json!({
                "path": path,
                "collection": if photo { "photos/Photos" } else { "contacts/friends" },
                "kind": if photo { "photo" } else { "contact" },
                "uid": if photo { None } else { Some(format!("uid-{index}")) },
                "href": photo_hrefs.get(index).cloned().unwrap_or_else(|| format!("/alice/friends/{index}.vcf")),
                "sha256": sha256(bytes),
                "size": bytes.len(),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "format": "lifeboat-archive",
        "format_version": 1,
        "tool": "lifeboat test",
        "created": "2026-11-28T00:00:00Z",
        "sources": [{"kind": "test", "label": "hostile", "location": "nowhere"}],
        "collections": [
            {"path": "contacts/friends", "source": 0, "kind": "contacts", "href": "/alice/friends/", "name": "../../friends"},
            {"path": "photos/Photos", "source": 0, "kind": "photos", "href": "/Photos/", "name": "C:\\Photos"},
        ],
        "items": items,
    }))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_as_a_manifest(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        lifeboat::fuzzing::manifest(&data);
    }

    #[test]
    fn manifests_with_hostile_paths(names in prop::collection::vec(hostile_name(), 0..6)) {
        let entries: Vec<(String, Vec<u8>)> =
            names.into_iter().map(|n| (n, b"BEGIN:VCARD\r\nEND:VCARD\r\n".to_vec())).collect();
        lifeboat::fuzzing::manifest(&manifest_for(&entries, &[]));
    }

    #[test]
    fn zips_with_hostile_entries(
        names in prop::collection::vec(hostile_name(), 0..6),
        with_manifest in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut entries: Vec<(String, Vec<u8>)> =
            names.iter().map(|n| (n.clone(), n.as_bytes().to_vec())).collect();
        if with_manifest {
            let manifest = manifest_for(&entries, &[]);
            entries.push(("manifest.json".to_owned(), manifest));
        }
        let zip = zip_of(&entries);
        lifeboat::fuzzing::zip_archive(&zip);
        // A zip cut short anywhere (a download that broke off) must fail cleanly too.
        lifeboat::fuzzing::zip_archive(&zip[..cut.index(zip.len() + 1)]);
    }

    #[test]
    fn any_bytes_as_a_zip(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&data);
        lifeboat::fuzzing::zip_archive(&zip);
    }

    #[test]
    fn multistatus_pieces(pieces in prop::collection::vec(prop_oneof![
        Just("<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:carddav\" xmlns:cal=\"urn:ietf:params:xml:ns:caldav\">"),
        Just("</d:multistatus>"),
        Just("<d:response>"), Just("</d:response>"),
        Just("<d:href>/home/c/a.vcf</d:href>"), Just("<d:href>../../../etc</d:href>"),
        Just("<d:href></d:href>"), Just("<d:href>%zz%2</d:href>"),
        Just("<d:propstat><d:prop>"), Just("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>"),
        Just("<d:status>HTTP/1.1 404 Not Found</d:status>"), Just("<d:status>garbage</d:status>"),
        Just("<d:resourcetype><d:collection/><c:addressbook/></d:resourcetype>"),
        Just("<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>"),
        Just("<d:displayname>..</d:displayname>"), Just("<d:getetag>\"1\"</d:getetag>"),
        Just("<c:address-data>BEGIN:VCARD\r\nEND:VCARD</c:address-data>"),
        Just("<cal:calendar-data>BEGIN:VCALENDAR</cal:calendar-data>"),
        Just("<d:sync-token>x</d:sync-token>"), Just("<![CDATA[<]]>"), Just("&amp;&lt;&#0;&#xD800;"),
    ], 0..40)) {
        let body: String = format!("<?xml version=\"1.0\"?>{}", pieces.concat());
        lifeboat::fuzzing::multistatus(body.as_bytes());
    }

    #[test]
    fn any_bytes_as_multistatus(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        lifeboat::fuzzing::multistatus(&data);
    }

    #[test]
    fn vobject_lines(lines in prop::collection::vec(prop_oneof![
        Just("BEGIN:VCARD"), Just("END:VCARD"), Just("VERSION:2.1"), Just("VERSION:4.0"),
        Just("BEGIN:VCALENDAR"), Just("END:VCALENDAR"), Just("BEGIN:VEVENT"), Just("END:VEVENT"),
        Just("BEGIN:VTODO"), Just("END:VTODO"), Just("BEGIN:VTIMEZONE"), Just("END:VTIMEZONE"),
        Just("TZID:Europe/Berlin"), Just("DTSTART;TZID=Europe/Berlin:20240101T100000"),
        Just("UID:a"), Just("UID:b"), Just("UID:"), Just("RECURRENCE-ID:20240101T100000Z"),
        Just(" continued"), Just("\tfolded"), Just("N;CHARSET=ISO-8859-1:M\u{fc}ller"),
        Just("PHOTO;ENCODING=BASE64:"), Just("=0D=0A"), Just(""), Just("garbage without colon"),
    ], 0..40), ending in prop_oneof![Just("\r\n"), Just("\n"), Just("\r")]) {
        let data = lines.join(ending);
        lifeboat::fuzzing::vobject(data.as_bytes());
    }

    #[test]
    fn any_bytes_as_vobject(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        lifeboat::fuzzing::vobject(&data);
    }
}

#[test]
fn entity_expansion_is_refused_not_performed() {
    let mut laughs = String::from("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY l0 \"lol\">");
    for level in 1..10 {
        let previous = format!("&l{};", level - 1).repeat(10);
        laughs.push_str(&format!("<!ENTITY l{level} \"{previous}\">"));
    }
    laughs.push_str("]><d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>&l9;</d:href></d:response></d:multistatus>");
    use libdav::requests::DavRequest as _;
    let parts = http::Response::builder()
        .status(207)
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let listing = libdav::dav::ListResources::new("/c/").parse_response(&parts, laughs.as_bytes());
    assert!(listing.is_err(), "a DTD with entities was accepted");
    let propfind = libdav::dav::Propfind::new("/")
        .parse_response(&parts, laughs.as_bytes())
        .unwrap();
    assert!(lifeboat::source::dav::collections_in(&propfind).is_err());
    let external = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>&x;</d:href></d:response></d:multistatus>";
    assert!(
        libdav::dav::ListResources::new("/c/")
            .parse_response(&parts, external.as_bytes())
            .is_err()
    );
}

#[test]
fn unsafe_names_are_refused_on_every_system() {
    use lifeboat::archive::reader::unsafe_name;
    for name in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "\\windows\\x",
        "C:\\x",
        "c:x",
        "contacts/CON",
        "contacts/nul.vcf",
        "photos/com1.jpg",
        "a/b:stream",
        "a\0b",
        "..\\..\\x",
    ] {
        assert!(unsafe_name(name).is_some(), "{name:?} was accepted");
    }
    for name in [
        "contacts/friends/a.vcf",
        "photos/Photos/Sommer Ä/sun set.jpg",
        "console.vcf",
    ] {
        assert_eq!(unsafe_name(name), None, "{name:?} was refused");
    }
}

#[test]
fn a_zip_whose_entries_try_to_escape_restores_nothing_outside_the_folder() {
    let work = tempfile::tempdir().unwrap();
    let vcard = |uid: &str| {
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Evil\r\nEND:VCARD\r\n").into_bytes()
    };
    let jpeg = photo(1, 2000);
    let entries = vec![
        ("contacts/friends/ok.vcf".to_owned(), vcard("uid-0")),
        ("photos/Photos/ok.jpg".to_owned(), jpeg.clone()),
        ("../evil-0.vcf".to_owned(), vcard("uid-2")),
        ("photos/Photos/evil-1.jpg".to_owned(), jpeg.clone()),
        ("/tmp/evil-2.vcf".to_owned(), vcard("uid-4")),
        ("photos/Photos/evil-3.jpg".to_owned(), jpeg.clone()),
        ("contacts/friends/CON.vcf".to_owned(), vcard("uid-6")),
        ("photos/Photos/evil-5.jpg".to_owned(), jpeg.clone()),
    ];
    // Photos whose source hrefs climb out, percent-encoded or not, or name a drive.
    let photo_hrefs: Vec<String> = [
        "",
        "/Photos/ok.jpg",
        "",
        "/Photos/../../evil-1.jpg",
        "",
        "/Photos/%2e%2e/%2e%2e/evil-3.jpg",
        "",
        "/Photos/C:/evil-5.jpg",
    ]
    .iter()
    .map(|h| (*h).to_owned())
    .collect();
    let mut with_manifest = entries.clone();
    with_manifest.push((
        "manifest.json".to_owned(),
        manifest_for(&entries, &photo_hrefs),
    ));
    let archive = work.path().join("hostile.zip");
    std::fs::write(&archive, zip_of(&with_manifest)).unwrap();
    let into = work.path().join("restored");
    let output = lifeboat(&[
        "restore",
        archive.to_str().unwrap(),
        "--to-folder",
        into.to_str().unwrap(),
        "--accept-damaged",
    ]);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Beside the archive there may be the restore report, nothing else; inside the folder,
    // no name that escaped the checks.
    for path in files_under(work.path()) {
        let path = path.display().to_string();
        assert!(
            path == "hostile.zip"
                || path == "hostile.zip.restore.json"
                || path.starts_with("restored/"),
            "written outside the restore folder: {path}"
        );
        assert!(
            !path.contains(':') && !path.split('/').any(|part| part == ".."),
            "unsafe name restored: {path}"
        );
    }
    assert!(!Path::new("/tmp/evil-2.vcf").exists());
    // What is safe was restored: the good contact, and every photo under a safe name.
    let restored: Vec<String> = files_under(&into)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let photos = restored.iter().filter(|p| p.ends_with(".jpg")).count();
    let contacts = restored.iter().filter(|p| p.ends_with(".vcf")).count();
    assert_eq!((contacts, photos), (1, 4), "{restored:?}\n{stderr}");
}

#[test]
fn a_zip_with_two_entries_of_one_name_is_damage_that_verify_names() {
    let work = tempfile::tempdir().unwrap();
    let vcard = |uid: &str, name: &str| {
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nEND:VCARD\r\n")
            .into_bytes()
    };
    // The tampered copy first, under a name of the same length that is renamed below.
    let entries = vec![
        (
            "contacts/friends/two.vcf".to_owned(),
            vcard("uid-0", "Tampered"),
        ),
        (
            "contacts/friends/one.vcf".to_owned(),
            vcard("uid-0", "Original"),
        ),
    ];
    let listed = vec![entries[1].clone()];
    let mut with_manifest = entries.clone();
    with_manifest.push(("manifest.json".to_owned(), manifest_for(&listed, &[])));
    let mut bytes = zip_of(&with_manifest);
    // Local header and central directory both name the entry; the CRC stays its own.
    let (from, to) = (b"friends/two.vcf", b"friends/one.vcf");
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(from.len()).position(|w| w == from) {
        bytes[at + found..at + found + to.len()].copy_from_slice(to);
        at += found + to.len();
    }
    let archive = work.path().join("twice.zip");
    std::fs::write(&archive, bytes).unwrap();
    let output = lifeboat(&["verify", archive.to_str().unwrap()]);
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("contacts/friends/one.vcf") && said.contains("2 entries"),
        "{said}"
    );
    // Damage is never restored, --accept-damaged included.
    assert_restores_no_contact(&archive, &work.path().join("restored"));
}

/// `restore ARCHIVE --to-folder INTO --accept-damaged` puts no contact into `into`.
fn assert_restores_no_contact(archive: &Path, into: &Path) {
    let output = lifeboat(&[
        "restore",
        archive.to_str().unwrap(),
        "--to-folder",
        into.to_str().unwrap(),
        "--accept-damaged",
    ]);
    assert!(!text(&output.stderr).contains("panicked"));
    assert!(
        !files_under(into)
            .iter()
            .any(|p| p.display().to_string().ends_with(".vcf")),
        "a contact was restored: {}",
        text(&output.stdout)
    );
}

#[cfg(unix)]
#[test]
fn a_linked_collection_folder_is_never_read_by_a_restore() {
    let work = tempfile::tempdir().unwrap();
    let vcard =
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:uid-0\r\nFN:From outside\r\nEND:VCARD\r\n".to_vec();
    let entries = vec![("contacts/friends/0.vcf".to_owned(), vcard.clone())];
    let archive = work.path().join("archive");
    std::fs::create_dir_all(archive.join("contacts")).unwrap();
    std::fs::write(archive.join("manifest.json"), manifest_for(&entries, &[])).unwrap();
    // The collection folder is a link to a folder outside the archive holding the file.
    let outside = work.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("0.vcf"), &vcard).unwrap();
    std::os::unix::fs::symlink(&outside, archive.join("contacts/friends")).unwrap();
    assert_restores_no_contact(&archive, &work.path().join("restored"));
    let verify = lifeboat(&["verify", archive.to_str().unwrap()]);
    assert!(!verify.status.success());
}

/// What the hostile photo server answers to every request: a folder listing itself, a child
/// folder (which, asked in turn, lists the parent again: a loop), one photo twice, and hrefs
/// that lead out of the folder or to another port.
const LOOPING_LISTING: &str = r#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">
<D:response><D:href>/photos/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/photos/a/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/photos/x.jpg</D:href><D:propstat><D:prop><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/photos/x.jpg</D:href><D:propstat><D:prop><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/photos/%2e%2e/%2e%2e/escape2.jpg</D:href><D:propstat><D:prop><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/photos/a%5C..%5C..%5Cwin.jpg</D:href><D:propstat><D:prop><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>@127.0.0.1:9/x.jpg</D:href><D:propstat><D:prop><D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
</D:multistatus>"#;

#[test]
fn a_photo_server_whose_folders_loop_and_lead_outside_is_walked_once_and_stays_inside() {
    let port = broken_server("207 Multi-Status", LOOPING_LISTING);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("archive");
    let started = std::time::Instant::now();
    let output = lifeboat(&[
        "export",
        "--photos-url",
        &format!("http://127.0.0.1:{port}/photos/"),
        "--out",
        out.to_str().unwrap(),
    ]);
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{said}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let manifest = manifest_of(&out);
    let hrefs: Vec<&str> = manifest.items.iter().map(|i| i.href.as_str()).collect();
    assert_eq!(hrefs, ["/photos/x.jpg"], "{said}");
    let outside = manifest
        .warnings
        .iter()
        .filter(|w| w.code == "outside-folder")
        .count();
    // Three hrefs out of the folder, and the parent listed again by its child.
    assert_eq!(outside, 4, "{:?}", manifest.warnings);
}

/// A checksum is sliced to name a restored copy or a UID: one that is not 64 hex digits (31
/// letters, then `é`, panicked a restore into a server) is damage named up front.
#[test]
fn a_manifest_checksum_that_is_not_hex_is_a_clear_error_not_a_panic() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nEND:VCARD\r\n".to_vec();
    let entries = vec![("contacts/friends/a.vcf".to_owned(), card)];
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&manifest_for(&entries, &[])).unwrap();
    let hostile = format!("{}é{}", "a".repeat(31), "b".repeat(31));
    manifest["items"][0]["sha256"] = serde_json::Value::String(hostile);
    std::fs::create_dir_all(archive.join("contacts/friends")).unwrap();
    std::fs::write(archive.join(&entries[0].0), &entries[0].1).unwrap();
    std::fs::write(
        archive.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    for command in [
        vec!["verify", archive.to_str().unwrap()],
        vec![
            "restore",
            archive.to_str().unwrap(),
            "--to-folder",
            work.path().join("restored").to_str().unwrap(),
            "--accept-damaged",
            "--on-conflict",
            "keep-both",
        ],
    ] {
        let output = lifeboat(&command);
        let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!output.status.success(), "{said}");
        assert!(!said.contains("panicked"), "{said}");
        assert!(
            said.contains("contacts/friends/a.vcf") && said.contains("64 hexadecimal digits"),
            "{command:?}: {said}"
        );
    }
}
