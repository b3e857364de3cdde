//! The provider-failure rows of the fault matrix: a provider failing the way Danger's did
//! (listing what it can no longer deliver), damage in an earlier snapshot, a re-run restore
//! after the user edited an item, a clock that ran ahead, deletions accepted, two exports
//! into one zip, one bad photo. Each test prints its row; `folders.rs` has the rest.

use std::path::Path;
use std::process::Output;

use super::*;

/// One row of the printed matrix.
pub(super) fn row(case: &str, outcome: &str) {
    println!("fault matrix | provider | {case:<58} | {outcome}");
}

pub(super) fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub(super) fn both(output: &Output) -> String {
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

/// `profile add NAME --device DIR --dest DEST --every daily --keep-last N`.
fn add_device_profile(config: &Path, name: &str, device: &Path, dest: &Path, keep: u32) {
    let keep = keep.to_string();
    let added = lifeboat_in(
        config,
        &[
            "profile",
            "add",
            name,
            "--device",
            device.to_str().unwrap(),
            "--dest",
            dest.to_str().unwrap(),
            "--every",
            "daily",
            "--keep-last",
            &keep,
        ],
    );
    assert!(added.status.success(), "{}", both(&added));
}

pub(super) fn verify_ok(archive: &Path) -> bool {
    lifeboat(&["verify", archive.to_str().unwrap()])
        .status
        .success()
}

#[tokio::test]
async fn a_provider_that_lists_what_it_cannot_deliver_never_costs_the_good_snapshot() {
    let account = Account::seeded().await;
    let proxy = FaultProxy::start(account.radicale.port);
    let work = tempfile::tempdir().unwrap();
    let (config, dest) = (work.path().join("config"), work.path().join("nightly"));
    let photos = format!("{}Photos/", account.webdav.base_url());
    let mut args = nightly_profile_args(&proxy.base_url(), &photos, &dest);
    args.extend(["--keep-last".to_owned(), "1".to_owned()]);
    assert!(run(&config, &args).status.success());
    let first = lifeboat_in(&config, &["run", "nightly"]);
    assert!(first.status.success(), "{}", both(&first));
    assert_eq!(snapshot_names(&dest).len(), 1);
    // Every contact changed, so it must be fetched.
    let change_all = |round: &'static str| {
        let base = account.radicale.base_url();
        async move {
            for i in 0..25 {
                let uid = format!("contacts-{i}");
                let url = format!("{base}{USER}/contacts/{uid}.ics");
                let status = put(&url, vcard(&uid, &format!("{round} {i}")), "text/vcard").await;
                assert!([201, 204].contains(&status), "{status}");
            }
        }
    };

    // A multiget that answers 404 for items the server still serves alone: each is fetched
    // by GET, and nothing is missing.
    change_all("changed").await;
    proxy.add(rule(&["REPORT"], 0, usize::MAX, Fault::MultigetNotFound));
    let fetched = lifeboat_in(&config, &["run", "nightly"]);
    assert!(fetched.status.success(), "{}", both(&fetched));
    let good = snapshot_names(&dest);
    assert_eq!(good.len(), 1);
    let newest = dest.join(&good[0]);
    assert_eq!(manifest_of(&newest).items.len(), 25 + 15 + 8 + 4);
    assert!(!newest.join("FLAGGED.txt").exists());

    // The provider breaks: the server still lists each contact but answers 404 for it,
    // inside the multiget and alone.
    change_all("changed again").await;
    proxy.add(rule(&["GET"], 0, usize::MAX, Fault::Status(404)));
    for attempt in 2..=3 {
        let flagged = lifeboat_in(&config, &["run", "nightly"]);
        let said = both(&flagged);
        assert_eq!(code(&flagged), 3, "run {attempt}: {said}");
        assert!(
            said.contains("FLAGGED") && said.contains("could not be read"),
            "{said}"
        );
        assert!(!said.contains("Removed old snapshots"), "{said}");
        let names = snapshot_names(&dest);
        assert_eq!(names[0], good[0], "run {attempt} pruned the good snapshot");
        let newest = dest.join(names.last().unwrap());
        assert!(newest.join("FLAGGED.txt").is_file());
        assert!(verify_ok(&newest));
    }
    let status = lifeboat_in(&config, &["schedule", "status"]);
    assert!(
        text(&status.stdout).contains("Flagged"),
        "{}",
        both(&status)
    );

    // The provider is back: the run compares against the good snapshot, succeeds, and
    // retention deletes only good snapshots (the flagged ones are kept).
    proxy.clear();
    let healthy = lifeboat_in(&config, &["run", "nightly"]);
    assert!(healthy.status.success(), "{}", both(&healthy));
    let names = snapshot_names(&dest);
    assert!(
        !names.contains(&good[0]),
        "the older good snapshot was pruned: {names:?}"
    );
    assert_eq!(
        names.len(),
        3,
        "two flagged and the new good one: {names:?}"
    );
    let newest = dest.join(names.last().unwrap());
    assert_eq!(manifest_of(&newest).items.len(), 25 + 15 + 8 + 4);
    row(
        "lists 25 contacts, 404 for each in the multiget, keep-last 1",
        "fetched one by one, exit 0; also 404 alone: exit 3 twice, FLAGGED, good snapshot kept; healthy run exit 0",
    );
}

#[tokio::test]
async fn damage_in_the_previous_snapshot_is_never_carried_into_a_new_one() {
    let work = tempfile::tempdir().unwrap();
    let phone = work.path().join("phone");
    std::fs::create_dir_all(phone.join("DCIM")).unwrap();
    std::fs::write(phone.join("p1.vcf"), vcard("p1", "Paula")).unwrap();
    std::fs::write(phone.join("p2.vcf"), vcard("p2", "Peter")).unwrap();
    std::fs::write(phone.join("DCIM/a.jpg"), photo(1, 40_000)).unwrap();
    std::fs::write(phone.join("DCIM/b.jpg"), photo(2, 40_000)).unwrap();
    let (config, dest) = (work.path().join("config"), work.path().join("snaps"));
    add_device_profile(&config, "phone", &phone, &dest, 10);
    let first = lifeboat_in(&config, &["run", "phone"]);
    assert!(first.status.success(), "{}", both(&first));
    let one = dest.join(&snapshot_names(&dest)[0]);

    // Damage in place, same size (a flipped byte), and one changing the size.
    let manifest = manifest_of(&one);
    let path_of = |end: &str| {
        one.join(
            &manifest
                .items
                .iter()
                .find(|i| i.href.ends_with(end))
                .unwrap()
                .path,
        )
    };
    let (vcf, jpg, vcf2) = (path_of("p1.vcf"), path_of("a.jpg"), path_of("p2.vcf"));
    let mut bytes = std::fs::read(&vcf).unwrap();
    bytes[20] ^= 0x20;
    std::fs::write(&vcf, &bytes).unwrap();
    let mut bytes = std::fs::read(&jpg).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&jpg, &bytes).unwrap();
    std::fs::write(&vcf2, b"BEGIN:VCARD\r\nEND:VCARD\r\n").unwrap();

    for run_number in 2..=3 {
        let again = lifeboat_in(&config, &["run", "phone"]);
        let said = both(&again);
        assert!(again.status.success(), "run {run_number}: {said}");
        let newest = dest.join(snapshot_names(&dest).last().unwrap());
        assert!(
            verify_ok(&newest),
            "run {run_number} carried the damage: {said}"
        );
        let archived = manifest_of(&newest);
        assert_eq!(archived.items.len(), 4);
        for item in &archived.items {
            let source = phone.join(item.href.as_str());
            assert_eq!(
                std::fs::read(newest.join(&item.path)).unwrap(),
                std::fs::read(&source).unwrap(),
                "{}",
                item.href
            );
        }
        // Run 3 links from run 2's good snapshot: nothing damaged to name any more.
        let damaged = archived
            .warnings
            .iter()
            .filter(|w| w.code == "damaged-previous")
            .count();
        let expected = if run_number == 2 { 3 } else { 0 };
        assert_eq!(
            damaged, expected,
            "run {run_number}: {:?}",
            archived.warnings
        );
    }
    row(
        "earlier snapshot damaged in place (same size and not)",
        "new snapshots verify, damaged files named, no run fails",
    );
}

#[tokio::test]
async fn damage_in_the_previous_snapshot_of_an_account_is_fetched_again() {
    let account = Account::seeded().await;
    let work = tempfile::tempdir().unwrap();
    let (config, dest) = (work.path().join("config"), work.path().join("nightly"));
    let photos = format!("{}Photos/", account.webdav.base_url());
    add_nightly_and_run(&config, &account.radicale.base_url(), &photos, &dest);
    let one = dest.join(&snapshot_names(&dest)[0]);
    let manifest = manifest_of(&one);
    let item = manifest
        .items
        .iter()
        .find(|i| i.uid.as_deref() == Some("contacts-3"))
        .unwrap();
    let mut bytes = std::fs::read(one.join(&item.path)).unwrap();
    bytes[30] ^= 0x20;
    std::fs::write(one.join(&item.path), &bytes).unwrap();
    // Nothing changed at the source: every item is a link candidate, and the damaged one
    // must be downloaded again instead.
    let second = lifeboat_in(&config, &["run", "nightly"]);
    assert!(second.status.success(), "{}", both(&second));
    let newest = dest.join(snapshot_names(&dest).last().unwrap());
    assert!(verify_ok(&newest));
    assert_eq!(lost_and_duplicated(&newest, &account.expected), (0, 0));
    row(
        "unchanged contact damaged in the previous snapshot",
        "re-downloaded, not linked; new snapshot verifies",
    );
}

#[tokio::test]
async fn a_rerun_restore_never_overwrites_an_edit_made_since() {
    let account = Account::seeded().await;
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let archive = work.path().join("alice");
    let exported = run(
        &config,
        &export_args(&account.radicale.base_url(), None, &archive),
    );
    assert!(exported.status.success(), "{}", both(&exported));

    // Every PUT reaches the server, but its answer is lost: the restore stops with its
    // records pending.
    let target = Target::empty();
    let proxy = FaultProxy::start(target.radicale.port);
    proxy.add(rule(&["PUT"], 0, 1, Fault::ResetThenDown));
    let restore = [
        "restore",
        archive.to_str().unwrap(),
        "--url",
        &proxy.base_url(),
        "--user",
        USER,
        "--json",
    ];
    let broken = lifeboat_in(&config, &restore);
    assert_eq!(code(&broken), 1, "{}", both(&broken));
    proxy.clear();

    // The user edits a contact on the phone meanwhile.
    let seen = work.path().join("seen");
    let out = run(
        &config,
        &export_args(&target.radicale.base_url(), None, &seen),
    );
    assert!(out.status.success(), "{}", both(&out));
    let stored = manifest_of(&seen)
        .items
        .into_iter()
        .find(|i| i.uid.as_deref() == Some("contacts-0"))
        .expect("the one-request upload stored contacts-0");
    let url = format!(
        "{}{}",
        target.radicale.base_url().trim_end_matches('/'),
        stored.href
    );
    let edited = vcard("contacts-0", "Anna EDITED ON PHONE");
    assert!([201, 204].contains(&put(&url, edited, "text/vcard").await));

    let again = lifeboat_in(&config, &restore);
    let said = text(&again.stdout);
    let summary: serde_json::Value = serde_json::from_str(&said).unwrap_or_else(|_| {
        panic!("{}", both(&again));
    });
    assert_eq!(restore_total(&summary, "overwritten"), 0, "{said}");
    assert!(restore_total(&summary, "conflicts_skipped") >= 1, "{said}");
    assert!(
        text(&get(&url).await).contains("Anna EDITED ON PHONE"),
        "the edit was overwritten"
    );
    row(
        "restore cut after the upload, contact edited, re-run (skip)",
        "conflict skipped, edit kept, 0 overwritten",
    );
}

#[test]
fn a_snapshot_named_in_the_future_never_costs_the_newest() {
    let work = tempfile::tempdir().unwrap();
    let phone = work.path().join("phone");
    std::fs::create_dir_all(&phone).unwrap();
    std::fs::write(phone.join("a.vcf"), vcard("a", "Anna")).unwrap();
    let (config, dest) = (work.path().join("config"), work.path().join("snaps"));
    add_device_profile(&config, "phone", &phone, &dest, 1);
    assert!(lifeboat_in(&config, &["run", "phone"]).status.success());
    let made = dest.join(&snapshot_names(&dest)[0]);
    std::fs::rename(&made, dest.join("2031-01-01T030000Z")).unwrap();
    for run_number in 2..=3 {
        let again = lifeboat_in(&config, &["run", "phone"]);
        let said = both(&again);
        assert!(again.status.success(), "run {run_number}: {said}");
        let names = snapshot_names(&dest);
        assert_eq!(names.len(), 2, "run {run_number}: {names:?}");
        assert!(names.contains(&"2031-01-01T030000Z".to_owned()));
        let newest = names.iter().find(|n| !n.starts_with("2031")).unwrap();
        let manifest = manifest_of(&dest.join(newest));
        assert!(
            manifest
                .warnings
                .iter()
                .any(|w| w.code == "future-snapshot" && w.message.contains("2031")),
            "{:?}",
            manifest.warnings
        );
    }
    row(
        "a snapshot named 2031-01-01, keep-last 1",
        "kept and warned about; each new snapshot survives",
    );
}

#[tokio::test]
async fn two_exports_into_one_zip_at_once_never_replace_each_other() {
    let account = Account::seeded().await;
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    let out = work.path().join("same.zip");
    let photos = format!("{}Photos/", account.webdav.base_url());
    let args = export_args(&account.radicale.base_url(), Some(&photos), &out);
    let spawn = || command(&config, &strs(&args)).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    let outputs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let won: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
    let lost: Vec<&Output> = outputs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!(won.len(), 1, "{}\n{}", both(&outputs[0]), both(&outputs[1]));
    let refusal = text(&lost[0].stderr);
    assert!(
        refusal.contains("same.zip")
            && (refusal.contains("another backup was saved") || refusal.contains("already exists")),
        "{refusal}"
    );
    assert!(verify_ok(&out));
    row(
        "two exports into the same .zip at once",
        "one archive, the other run exits 1 naming it",
    );
}

#[tokio::test]
async fn one_photo_the_server_refuses_costs_that_photo_not_the_archive() {
    let account = Account::seeded().await;
    let proxy = FaultProxy::start(account.webdav.port);
    proxy.add(Rule {
        path: Some("photo-2.jpg"),
        ..rule(&["GET"], 0, usize::MAX, Fault::Status(403))
    });
    proxy.add(Rule {
        path: Some("photo-3.jpg"),
        ..rule(&["GET"], 0, usize::MAX, Fault::Truncate)
    });
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("alice");
    let photos = format!("{}Photos/", proxy.base_url());
    let output = run(
        work.path(),
        &export_args(&account.radicale.base_url(), Some(&photos), &out),
    );
    let said = both(&output);
    assert_eq!(code(&output), 2, "{said}");
    assert!(!said.contains("password"), "{said}");
    assert!(
        said.contains("could NOT be read") && said.contains("photo-2.jpg"),
        "{said}"
    );
    assert!(verify_ok(&out));
    let manifest = manifest_of(&out);
    let missing: Vec<&str> = manifest
        .warnings
        .iter()
        .filter(|w| w.code == "unavailable")
        .filter_map(|w| w.href.as_deref())
        .collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert_eq!(manifest.items.len(), 25 + 15 + 8 + 2);
    row(
        "one photo 403, one shorter than listed",
        "archive of the rest, both named, exit 2, no password blame",
    );
}

#[test]
fn deletions_made_on_purpose_are_accepted_and_retention_resumes() {
    let work = tempfile::tempdir().unwrap();
    let phone = work.path().join("phone");
    std::fs::create_dir_all(&phone).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(phone.join(format!("{name}.vcf")), vcard(name, name)).unwrap();
    }
    let (config, dest) = (work.path().join("config"), work.path().join("snaps"));
    add_device_profile(&config, "phone", &phone, &dest, 1);
    assert!(lifeboat_in(&config, &["run", "phone"]).status.success());
    // Two of three contacts deleted: flagged, nothing pruned, again on the next run.
    std::fs::remove_file(phone.join("a.vcf")).unwrap();
    std::fs::remove_file(phone.join("b.vcf")).unwrap();
    for _ in 0..2 {
        let flagged = lifeboat_in(&config, &["run", "phone"]);
        assert_eq!(code(&flagged), 3, "{}", both(&flagged));
    }
    assert_eq!(snapshot_names(&dest).len(), 3);
    let accepted = lifeboat_in(&config, &["schedule", "accept", "phone"]);
    assert!(accepted.status.success(), "{}", both(&accepted));
    assert!(text(&accepted.stdout).contains("Accepted as good"));
    let after = lifeboat_in(&config, &["run", "phone"]);
    assert!(after.status.success(), "{}", both(&after));
    assert_eq!(snapshot_names(&dest).len(), 1, "keep-last 1 applies again");
    row(
        "2 of 3 contacts deleted on purpose, then `schedule accept`",
        "flagged (exit 3) until accepted; then retention resumes",
    );
}

#[tokio::test]
async fn a_first_scheduled_run_missing_a_photo_is_flagged_not_a_success() {
    let account = Account::seeded().await;
    let proxy = FaultProxy::start(account.webdav.port);
    proxy.add(Rule {
        path: Some("photo-2.jpg"),
        ..rule(&["GET"], 0, usize::MAX, Fault::Status(403))
    });
    let work = tempfile::tempdir().unwrap();
    let (config, dest) = (work.path().join("config"), work.path().join("nightly"));
    let photos = format!("{}Photos/", proxy.base_url());
    let args = nightly_profile_args(&account.radicale.base_url(), &photos, &dest);
    assert!(run(&config, &args).status.success());
    // No earlier snapshot to compare with: the missing photo alone must flag the run.
    let first = lifeboat_in(&config, &["run", "nightly"]);
    assert_eq!(code(&first), 3, "{}", both(&first));
    assert!(
        both(&first).contains("could not be read"),
        "{}",
        both(&first)
    );
    row(
        "first scheduled run, one photo 403",
        "flagged (exit 3), never reported as a success",
    );
}
