//! More provider-failure rows of the fault matrix: device folders with odd names, links and
//! unreadable subfolders, long names, absolute hrefs and two restores into one new
//! collection.

use super::provider::{both, code, row, verify_ok};
use super::*;

#[cfg(unix)]
#[test]
fn device_folders_keep_every_file_whatever_its_name() {
    use std::os::unix::ffi::OsStrExt as _;
    let work = tempfile::tempdir().unwrap();
    let phone = work.path().join("phone");
    std::fs::create_dir_all(&phone).unwrap();
    let latin1 = phone.join(std::ffi::OsStr::from_bytes(b"M\xfcller.vcf"));
    std::fs::write(&latin1, vcard("mueller", "M\u{fc}ller")).unwrap();
    std::fs::write(work.path().join("outside.vcf"), vcard("outside", "Out")).unwrap();
    std::os::unix::fs::symlink(work.path().join("outside.vcf"), phone.join("link.vcf")).unwrap();
    // Two multi-card files whose cut is not exact (text between the cards), so each is kept
    // whole under originals/, with names that become the same when made safe.
    let damaged = |who: &str| {
        format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{who}-1\r\nFN:{who} 1\r\nEND:VCARD\r\nstray text\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nUID:{who}-2\r\nFN:{who} 2\r\nEND:VCARD\r\n"
        )
    };
    std::fs::write(phone.join("Kontakte-\u{e4}.vcf"), damaged("ae")).unwrap();
    std::fs::write(phone.join("Kontakte-\u{f6}.vcf"), damaged("oe")).unwrap();
    let out = work.path().join("archive");
    let output = lifeboat_in(
        work.path(),
        &[
            "export",
            "--device",
            phone.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let said = both(&output);
    assert!(output.status.success(), "{said}");
    assert!(verify_ok(&out), "{said}");
    let manifest = manifest_of(&out);
    let mueller = manifest
        .items
        .iter()
        .find(|i| i.href == "M%FCller.vcf")
        .expect("the Latin-1 name is archived, its byte as %FC");
    assert_eq!(
        std::fs::read(out.join(&mueller.path)).unwrap(),
        std::fs::read(&latin1).unwrap()
    );
    let codes: Vec<&str> = manifest.warnings.iter().map(|w| w.code.as_str()).collect();
    assert!(
        codes.contains(&"name-not-utf8") && codes.contains(&"skipped-link"),
        "{codes:?}"
    );
    assert!(
        !manifest
            .items
            .iter()
            .any(|i| i.uid.as_deref() == Some("outside"))
    );
    let originals: Vec<_> = manifest
        .files
        .iter()
        .filter(|f| f.role == "original")
        .collect();
    assert_eq!(originals.len(), 2, "{originals:?}");
    assert_ne!(originals[0].path, originals[1].path);
    let kept: Vec<Vec<u8>> = originals
        .iter()
        .map(|f| std::fs::read(out.join(&f.path)).unwrap())
        .collect();
    assert!(
        kept.contains(&damaged("ae").into_bytes()) && kept.contains(&damaged("oe").into_bytes())
    );
    row(
        "Latin-1 name, a link out, two originals made alike",
        "all kept, link reported, originals apart, verify ok",
    );
}

#[tokio::test]
async fn long_names_absolute_hrefs_and_two_restores_into_one_new_collection() {
    // A photo name cut for the archive keeps its extension.
    let work = tempfile::tempdir().unwrap();
    let phone = work.path().join("phone");
    std::fs::create_dir_all(phone.join("long")).unwrap();
    std::fs::write(
        phone.join("long").join(format!("{}.jpg", "b".repeat(200))),
        photo(6, 20_000),
    )
    .unwrap();
    let out = work.path().join("archive");
    let exported = lifeboat_in(
        work.path(),
        &[
            "export",
            "--device",
            phone.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(exported.status.success(), "{}", both(&exported));
    let items = manifest_of(&out).items;
    assert_eq!(items.len(), 1);
    assert!(items[0].path.ends_with(".jpg"), "{}", items[0].path);

    // Absolute-URL hrefs in a photo listing, and a 244-byte photo name.
    let account = Account::seeded().await;
    let near_limit = format!("{}.jpg", "a".repeat(240));
    std::fs::write(
        account
            .photo_root
            .path()
            .join("Photos/album")
            .join(&near_limit),
        photo(7, 20_000),
    )
    .unwrap();
    let proxy = FaultProxy::start(account.webdav.port);
    proxy.add(rule(&["PROPFIND"], 0, usize::MAX, Fault::AbsoluteHrefs));
    let photos_out = work.path().join("photos");
    let output = run(
        work.path(),
        &export_args(
            &account.radicale.base_url(),
            Some(&format!("{}Photos/", proxy.base_url())),
            &photos_out,
        ),
    );
    assert!(output.status.success(), "{}", both(&output));
    assert_eq!(lost_and_duplicated(&photos_out, &account.expected), (0, 0));
    // The 244-byte name goes back to a folder under its own name, on every run.
    let restored = work.path().join("restored");
    for run_number in 1..=2 {
        let output = lifeboat_in(
            work.path(),
            &[
                "restore",
                photos_out.to_str().unwrap(),
                "--to-folder",
                restored.to_str().unwrap(),
            ],
        );
        assert!(
            output.status.success(),
            "run {run_number}: {}",
            both(&output)
        );
    }
    assert!(
        files_under(&restored)
            .iter()
            .any(|p| p.ends_with(&near_limit))
    );

    // Two restores into the same new collections at once.
    let archive = work.path().join("alice");
    let exported = run(
        work.path(),
        &export_args(&account.radicale.base_url(), None, &archive),
    );
    assert!(exported.status.success());
    let target = Target::empty();
    let restore = [
        "restore",
        archive.to_str().unwrap(),
        "--url",
        &target.radicale.base_url(),
        "--user",
        USER,
    ];
    let spawn = || command(work.path(), &restore).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    for output in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(!both(&output).contains("405"), "{}", both(&output));
    }
    let settle = lifeboat_in(work.path(), &restore);
    assert!(settle.status.success(), "{}", both(&settle));
    let mut expected = account.expected.clone();
    expected.retain(|(collection, _), _| collection != "Photos");
    let found = work.path().join("found");
    let output = run(
        work.path(),
        &export_args(&target.radicale.base_url(), None, &found),
    );
    assert!(output.status.success());
    let copies = archived_copies(&found);
    assert!(expected.keys().all(|k| copies.contains_key(k)));
    assert!(
        copies.values().all(|c| c.len() == 1),
        "duplicates after two restores"
    );
    row(
        "244-byte and long names; absolute hrefs; two restores at once",
        "restored twice, .jpg kept, photos whole, no 405, no duplicates",
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_subfolder_is_one_warning_not_the_end_of_the_export() {
    use std::os::unix::fs::PermissionsExt as _;
    let work = tempfile::tempdir().unwrap();
    // Root reads every folder, so as root the export runs as `nobody` (setpriv).
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let phone = work.path().join("phone");
    std::fs::create_dir_all(phone.join("locked")).unwrap();
    std::fs::write(phone.join("a.vcf"), vcard("a", "Anna")).unwrap();
    std::fs::write(phone.join("locked/b.vcf"), vcard("b", "Bert")).unwrap();
    std::fs::set_permissions(phone.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = work.path().join("archive");
    let lifeboat_args = [
        "export",
        "--device",
        phone.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0");
    let mut command = if as_root {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_lifeboat"));
        command
    } else {
        Command::new(env!("CARGO_BIN_EXE_lifeboat"))
    };
    let output = command
        .args(lifeboat_args)
        .env("LIFEBOAT_CONFIG_DIR", work.path().join("config"))
        .output()
        .unwrap();
    let said = both(&output);
    assert_eq!(code(&output), 2, "{said}");
    assert!(said.contains("locked/"), "{said}");
    let manifest = manifest_of(&out);
    assert_eq!(manifest.items.len(), 1);
    assert!(
        manifest
            .warnings
            .iter()
            .any(|w| w.code == "unavailable" && w.href.as_deref() == Some("locked/"))
    );
    std::fs::set_permissions(phone.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    row(
        "a subfolder that cannot be read",
        "one warning naming it, the rest archived, exit 2",
    );
}
