//! Scheduled backups against real Radicale and WsgiDAV through the `lifeboat` binary: profiles,
//! incremental snapshots (only changes downloaded, the rest hard-linked), append-only history,
//! the drop guard, retention, a failed run pruning nothing; and the OS scheduler files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lifeboat::schedule::status::{Outcome, RunRecord, Status};
use support::*;

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "lifeboat failed: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn last_run(config: &Path, profile: &str) -> RunRecord {
    let path = config
        .join("profiles")
        .join(format!("{profile}.status.json"));
    let status: Status = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    status.runs.last().cloned().unwrap()
}

fn snapshot(dest: &Path, record: &RunRecord) -> PathBuf {
    dest.join(record.snapshot.as_deref().unwrap())
}

/// The archived file of the item whose href ends with `file`.
fn archived_file(snapshot: &Path, file: &str) -> Option<PathBuf> {
    manifest_of(snapshot)
        .items
        .iter()
        .find(|i| i.href.ends_with(file))
        .map(|i| snapshot.join(&i.path))
}

fn count_kind(snapshot: &Path, kind: lifeboat::model::ItemKind) -> usize {
    manifest_of(snapshot)
        .items
        .iter()
        .filter(|i| i.kind == kind)
        .count()
}

#[tokio::test]
async fn scheduled_runs_download_only_changes_and_keep_history() {
    use lifeboat::model::ItemKind;
    let radicale = Server::radicale();
    let book = make_addressbook(&radicale, "contacts", "Friends").await;
    let calendar = make_calendar(&radicale, "calendar", "Family", &["VEVENT"]).await;
    for i in 0..20 {
        let url = format!("{book}c{i}.vcf");
        assert_eq!(
            put(
                &url,
                vcard(&format!("uid-c{i}"), &format!("Person {i}")),
                "text/vcard"
            )
            .await,
            201
        );
    }
    for i in 0..5 {
        let url = format!("{calendar}e{i}.ics");
        assert_eq!(
            put(
                &url,
                event(&format!("uid-e{i}"), &format!("Event {i}")),
                "text/calendar"
            )
            .await,
            201
        );
    }
    let photo_root = tempfile::tempdir().unwrap();
    seed_photos(photo_root.path());
    let webdav = Server::webdav(photo_root.path());
    let config = tempfile::tempdir().unwrap();
    let dest_dir = tempfile::tempdir().unwrap();
    let dest = dest_dir.path().join("snapshots");
    let photos_url = format!("{}Photos/", webdav.base_url());

    let mut profile_args = nightly_profile_args(&radicale.base_url(), &photos_url, &dest);
    profile_args.extend(["--at", "03:00", "--keep-last", "2"].map(str::to_owned));
    ok(lifeboat_in(config.path(), &strs(&profile_args)));
    let listed = ok(lifeboat_in(config.path(), &["profile", "list"]));
    assert!(listed.contains("nightly: daily at 03:00"), "{listed}");

    // First run: everything is downloaded.
    ok(lifeboat_in(config.path(), &["run", "nightly"]));
    let first = last_run(config.path(), "nightly");
    assert_eq!(first.outcome, Outcome::Success);
    assert_eq!((first.fetched_items, first.linked_items), (28, 0));
    let first_snapshot = snapshot(&dest, &first);

    // Nothing changed: no item bodies and no photo bytes, everything linked.
    ok(lifeboat_in(config.path(), &["run", "nightly"]));
    let unchanged = last_run(config.path(), "nightly");
    assert_eq!(unchanged.outcome, Outcome::Success);
    assert_eq!((unchanged.fetched_items, unchanged.fetched_bytes), (0, 0));
    assert_eq!(unchanged.linked_items, 28);
    let second_snapshot = snapshot(&dest, &unchanged);
    // The merged .vcf/.ics of unchanged collections are linked, not rebuilt, and still verify.
    let verified = ok(lifeboat_in(
        config.path(),
        &["verify", second_snapshot.to_str().unwrap()],
    ));
    assert!(verified.contains("all checksums match"), "{verified}");
    let merged = |snapshot: &Path| {
        let manifest = manifest_of(snapshot);
        let path = manifest
            .collections
            .iter()
            .find_map(|c| c.merged.clone())
            .unwrap();
        std::fs::metadata(snapshot.join(path)).unwrap().ino()
    };
    assert_eq!(merged(&first_snapshot), merged(&second_snapshot));
    // Discovery, then one sync-collection REPORT per collection and a PROPFIND per photo folder.
    assert!(
        unchanged.requests < first.requests && unchanged.requests <= 16,
        "no-change run made {} requests (first run {})",
        unchanged.requests,
        first.requests
    );

    // Change 10 contacts, add 2 photos, delete 1 event.
    for i in 0..10 {
        let url = format!("{book}c{i}.vcf");
        let status = put(
            &url,
            vcard(&format!("uid-c{i}"), &format!("Person {i} renamed")),
            "text/vcard",
        )
        .await;
        assert!(status == 201 || status == 204, "{status}");
    }
    let new_photos = [
        ("Photos/2025/new one.jpg", photo(40, 30_000)),
        ("Photos/new two.jpg", photo(41, 31_000)),
    ];
    for (relative, bytes) in &new_photos {
        let path = photo_root.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let (status, _) = request(
        "DELETE",
        &format!("{calendar}e4.ics"),
        Vec::new(),
        "text/plain",
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");

    ok(lifeboat_in(config.path(), &["run", "nightly"]));
    let changed = last_run(config.path(), "nightly");
    assert_eq!(changed.outcome, Outcome::Success, "{}", changed.message);
    assert_eq!(changed.fetched_items, 12, "10 contacts and 2 photos");
    assert_eq!(changed.linked_items, 10 + 4 + 3);
    let photo_bytes: u64 = new_photos.iter().map(|(_, b)| b.len() as u64).sum();
    assert!(
        changed.fetched_bytes > photo_bytes && changed.fetched_bytes < photo_bytes + 10 * 1024,
        "only the changed items' bytes: {}",
        changed.fetched_bytes
    );
    let third_snapshot = snapshot(&dest, &changed);
    let verified = ok(lifeboat_in(
        config.path(),
        &["verify", third_snapshot.to_str().unwrap()],
    ));
    assert!(verified.contains("all checksums match"), "{verified}");
    assert_eq!(count_kind(&third_snapshot, ItemKind::Contact), 20);
    assert_eq!(count_kind(&third_snapshot, ItemKind::Event), 4);
    assert_eq!(count_kind(&third_snapshot, ItemKind::Photo), 5);
    let renamed = std::fs::read(archived_file(&third_snapshot, "c3.vcf").unwrap()).unwrap();
    assert!(text(&renamed).contains("Person 3 renamed"));
    // Unchanged photos and contacts are the same file (hard links), changed ones are not.
    let inode = |snapshot: &Path, file: &str| {
        std::fs::metadata(archived_file(snapshot, file).unwrap())
            .unwrap()
            .ino()
    };
    assert_eq!(
        inode(&second_snapshot, "beach.jpg"),
        inode(&third_snapshot, "beach.jpg")
    );
    assert_eq!(
        inode(&second_snapshot, "c15.vcf"),
        inode(&third_snapshot, "c15.vcf")
    );
    assert_ne!(
        inode(&second_snapshot, "c3.vcf"),
        inode(&third_snapshot, "c3.vcf")
    );
    // Append-only: the deleted event is still in the older snapshot.
    assert!(archived_file(&third_snapshot, "e4.ics").is_none());
    assert!(archived_file(&second_snapshot, "e4.ics").is_some());
    // Retention (--keep-last 2) removed the first snapshot after this verified run.
    assert_eq!(
        changed.pruned,
        vec![
            first_snapshot
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        ]
    );
    assert!(!first_snapshot.exists());

    // 30% of the contacts vanish: the run still snapshots, but flags it and prunes nothing.
    for i in 10..16 {
        let (status, _) = request(
            "DELETE",
            &format!("{book}c{i}.vcf"),
            Vec::new(),
            "text/plain",
        )
        .await;
        assert!(status == 200 || status == 204, "{status}");
    }
    let output = lifeboat_in(config.path(), &["run", "nightly"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("FLAGGED: Friends: 6 of 20 items are gone"),
        "{}",
        text(&output.stdout)
    );
    let flagged = last_run(config.path(), "nightly");
    assert_eq!(flagged.outcome, Outcome::Flagged);
    assert!(flagged.pruned.is_empty());
    assert!(second_snapshot.exists() && third_snapshot.exists());
    assert_eq!(
        count_kind(&snapshot(&dest, &flagged), ItemKind::Contact),
        14
    );

    // A run that fails (the server is unreachable) prunes nothing, even with keep-last 1.
    let before = snapshot_names(&dest);
    ok(lifeboat_in(
        config.path(),
        &[
            "profile",
            "add",
            "broken",
            "--url",
            "http://127.0.0.1:9/",
            "--user",
            USER,
            "--dest",
            dest.to_str().unwrap(),
            "--every",
            "hourly",
            "--keep-last",
            "1",
        ],
    ));
    let output = lifeboat_in(config.path(), &["run", "broken"]);
    assert!(!output.status.success());
    assert_eq!(last_run(config.path(), "broken").outcome, Outcome::Failed);
    assert_eq!(snapshot_names(&dest), before);

    let status = ok(lifeboat_in(
        config.path(),
        &["schedule", "status", "--json"],
    ));
    let lines: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(lines[0]["profile"], "nightly");
    assert_eq!(lines[0]["last_run"]["outcome"], "flagged");
    assert_eq!(lines[1]["last_run"]["outcome"], "failed");
    let log = std::fs::read_to_string(config.path().join("profiles/nightly.log")).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    // The config never holds the password.
    let settings = std::fs::read_to_string(config.path().join("config.json")).unwrap();
    assert!(!settings.contains(PASSWORD));

    // Profiles name accounts in the one account list; removing a profile takes the accounts
    // `profile add` made for it, and leaves the other profile's.
    let account_ids = || {
        let config = lifeboat::config::Config::load(&config.path().join("config.json")).unwrap();
        let mut ids: Vec<String> = config.accounts.into_iter().map(|a| a.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        account_ids(),
        ["profile-broken-1", "profile-nightly-1", "profile-nightly-2"]
    );
    ok(lifeboat_in(config.path(), &["profile", "remove", "broken"]));
    assert_eq!(account_ids(), ["profile-nightly-1", "profile-nightly-2"]);
}

#[test]
fn generated_systemd_units_pass_systemd_analyze() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs systemd for this test"
        );
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    use lifeboat::schedule::install::systemd_units;
    use lifeboat::schedule::policy::{Every, parse_time};
    let exe = Path::new(env!("CARGO_BIN_EXE_lifeboat"));
    for every in [
        Every::Hourly,
        Every::Daily {
            at: parse_time("03:00").unwrap(),
        },
        Every::Weekly {
            on: chrono::Weekday::Sat,
            at: parse_time("23:59").unwrap(),
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (name, text) in systemd_units("home_1", exe, &every) {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            paths.push(path);
        }
        let output = Command::new(analyze)
            .arg("verify")
            .args(&paths)
            .output()
            .unwrap();
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "{every:?}: {}",
            text(&output.stderr)
        );
    }
}

/// Two accounts of one server in one profile (a family on one Nextcloud), and a second server
/// whose collections have the same names and hrefs: each run must compare each account's
/// collections with that account's own, never call another's gone.
#[tokio::test]
async fn two_accounts_on_one_server_never_stand_for_each_other() {
    use lifeboat::config::{Account, Preset};
    use lifeboat::schedule::profile::{Profile, ProfileAccount};
    use lifeboat::secrets::SecretStore as _;
    let radicale = Server::radicale();
    let other_server = Server::radicale();
    seed_radicale(&radicale).await;
    seed_radicale(&other_server).await;
    for (name, kind) in [("contacts", "MKCOL"), ("calendar", "MKCALENDAR")] {
        let url = format!("{}{OTHER_USER}/{name}/", radicale.base_url());
        let body = if kind == "MKCOL" {
            mkcol_addressbook("Bob's contacts")
        } else {
            mkcalendar("Bob's calendar", &["VEVENT"])
        };
        let (status, _) =
            request_as(OTHER_USER, kind, &url, body.into_bytes(), "application/xml").await;
        assert_eq!(status, 201, "{kind} {url}");
        for i in 0..6 {
            let (item, bytes, content_type) = if kind == "MKCOL" {
                (
                    format!("b{i}.vcf"),
                    vcard(&format!("bob-c{i}"), &format!("Bob's friend {i}")),
                    "text/vcard",
                )
            } else {
                (
                    format!("b{i}.ics"),
                    event(&format!("bob-e{i}"), &format!("Bob's event {i}")),
                    "text/calendar",
                )
            };
            let (status, _) = request_as(
                OTHER_USER,
                "PUT",
                &format!("{url}{item}"),
                bytes,
                content_type,
            )
            .await;
            assert_eq!(status, 201);
        }
    }
    let work = tempfile::tempdir().unwrap();
    let secrets = lifeboat::secrets::MemorySecrets::default();
    let account = |id: &str, user: &str, server: &Server| {
        secrets.set(id, PASSWORD).unwrap();
        Account {
            id: id.to_owned(),
            name: format!("{user}'s account"),
            preset: Preset::OtherDav,
            address: server.base_url(),
            user: user.to_owned(),
            ca_file: None,
        }
    };
    let accounts = vec![
        account("a1", USER, &radicale),
        account("a2", OTHER_USER, &radicale),
        account("a3", USER, &other_server),
    ];
    let profile = Profile {
        name: "family".to_owned(),
        accounts: accounts
            .iter()
            .map(|a| ProfileAccount {
                account: a.id.clone(),
                collections: Vec::new(),
            })
            .collect(),
        destination: work.path().join("snapshots"),
        every: lifeboat::schedule::policy::Every::Hourly,
        retention: lifeboat::schedule::retention::Retention::default(),
        drop_percent: lifeboat::schedule::profile::DEFAULT_DROP_PERCENT,
        enabled: true,
    };
    let (config, cancel) = (
        work.path().join("config"),
        lifeboat::progress::CancelToken::default(),
    );
    let run = || {
        let progress = std::sync::Arc::new(lifeboat::progress::NoProgress);
        lifeboat::schedule::run_profile(&profile, &accounts, &config, &secrets, progress, &cancel)
    };
    for round in 1..=3 {
        if round == 3 {
            // A change in one account only: the other is linked from the last snapshot.
            let url = format!("{}{OTHER_USER}/contacts/b0.vcf", radicale.base_url());
            let (status, _) = request_as(
                OTHER_USER,
                "PUT",
                &url,
                vcard("bob-c0", "Changed"),
                "text/vcard",
            )
            .await;
            assert_eq!(status, 204);
        }
        let record = run().await.unwrap();
        assert_eq!(
            record.outcome,
            Outcome::Success,
            "run {round}: {:?} {}",
            record.flags,
            record.message
        );
        assert!(record.flags.is_empty(), "run {round}: {:?}", record.flags);
        let items = manifest_of(
            &profile
                .destination
                .join(record.snapshot.as_deref().unwrap()),
        )
        .items;
        assert_eq!(items.len(), 2 * (5 + 4 + 3) + 6 + 6, "run {round}");
    }

    // Bob's password stops working: the others are still saved, and the run says who is
    // missing instead of failing everyone or calling itself a success.
    secrets.set("a2", "changed on the server").unwrap();
    let record = run().await.unwrap();
    assert_eq!(record.outcome, Outcome::Flagged, "{}", record.message);
    assert_eq!(record.flags.len(), 1, "{:?}", record.flags);
    assert!(
        record.flags[0].starts_with("bob's account could not be backed up")
            && record.flags[0].contains("refused the password"),
        "{:?}",
        record.flags
    );
    let flagged = profile
        .destination
        .join(record.snapshot.as_deref().unwrap());
    assert_eq!(manifest_of(&flagged).items.len(), 2 * (5 + 4 + 3));
    // Fixed: the next run compares with the last complete snapshot and is a success again.
    secrets.set("a2", PASSWORD).unwrap();
    let record = run().await.unwrap();
    assert_eq!(record.outcome, Outcome::Success, "{:?}", record.flags);
    assert_eq!(record.fetched_items, 0, "{}", record.message);
}

/// A system scheduler that refuses (no user session bus: "Failed to connect to bus") leaves
/// nothing behind that looks installed, so the window's switch stays off.
#[test]
fn a_scheduler_that_refuses_leaves_no_timer_that_looks_installed() {
    use std::os::unix::fs::PermissionsExt as _;
    let radicale = Server::radicale();
    let config = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let dest = home.path().join("snapshots");
    let args = nightly_profile_args(
        &radicale.base_url(),
        &format!("{}x/", radicale.base_url()),
        &dest,
    );
    ok(lifeboat_in(config.path(), &strs(&args)));
    // A systemctl that answers as it does without a user session.
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("systemctl");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let xdg = home.path().join("xdg");
    let env = [
        ("PATH", path.as_str()),
        ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
    ];
    let installed = lifeboat_command(config.path(), &["schedule", "install", "nightly"], &env)
        .output()
        .unwrap();
    assert!(!installed.status.success());
    assert!(
        text(&installed.stderr).contains("Failed to connect to bus"),
        "{}",
        text(&installed.stderr)
    );
    let units = xdg.join("systemd").join("user");
    let left: Vec<_> = std::fs::read_dir(&units)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "units left behind: {left:?}");
}
