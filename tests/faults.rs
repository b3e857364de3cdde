//! Reliability under faults, against real Radicale and WsgiDAV behind a fault-injecting proxy:
//! the fault matrix (fault × export/restore/scheduled run → outcome, items lost, items
//! duplicated), `kill -9` at random points of an export and of a restore, and a full disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

#[path = "faults/folders.rs"]
mod folders;
#[path = "faults/hostile.rs"]
mod hostile;
#[path = "faults/provider.rs"]
mod provider;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::faults::{Fault, FaultProxy, Rule};
use support::*;

/// How long Lifeboat waits for a silent server in these tests (`LIFEBOAT_TIMEOUT`).
const TIMEOUT_SECS: u64 = 3;
const READS: &[&str] = &["PROPFIND", "REPORT", "GET"];
const WRITES: &[&str] = &["PUT", "MKCOL", "MKCALENDAR"];

/// Runs `lifeboat` with its own config folder, the test password and a short timeout.
fn lifeboat_in(config: &Path, args: &[&str]) -> Output {
    command(config, args).output().expect("running lifeboat")
}

fn command(config: &Path, args: &[&str]) -> Command {
    lifeboat_command(
        config,
        args,
        &[("LIFEBOAT_TIMEOUT", &TIMEOUT_SECS.to_string())],
    )
}

/// `export --url DAV --user alice [--photos-url PHOTOS] --out OUT`.
fn export_args(dav: &str, photos: Option<&str>, out: &Path) -> Vec<String> {
    let mut args = vec![
        "export",
        "--url",
        dav,
        "--user",
        USER,
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(photos) = photos {
        args.extend(["--photos-url", photos]);
    }
    args.into_iter().map(str::to_owned).collect()
}

fn run(config: &Path, args: &[String]) -> Output {
    lifeboat_in(config, &strs(args))
}

/// Adds the profile `nightly` and makes its first snapshot, without faults.
fn add_nightly_and_run(config: &Path, dav: &str, photos: &str, dest: &Path) {
    let added = run(config, &nightly_profile_args(dav, photos, dest));
    assert!(added.status.success(), "{}", text(&added.stderr));
    let first = lifeboat_in(config, &["run", "nightly"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
}

/// What the source account holds: (collection, UID or photo path) → bytes the server serves.
type Expected = BTreeMap<(String, String), Vec<u8>>;

struct Account {
    radicale: Server,
    webdav: Server,
    photo_root: tempfile::TempDir,
    expected: Expected,
    added: usize,
}

impl Account {
    async fn seeded() -> Self {
        let radicale = Server::radicale();
        let mut expected = Expected::new();
        let book = make_addressbook(&radicale, "contacts", "Friends").await;
        let calendar = make_calendar(&radicale, "calendar", "Family", &["VEVENT"]).await;
        let tasks = make_calendar(&radicale, "tasks", "Chores", &["VTODO"]).await;
        for (name, url, count, make, content_type) in [
            (
                "contacts",
                &book,
                25,
                vcard as fn(&str, &str) -> Vec<u8>,
                "text/vcard",
            ),
            ("calendar", &calendar, 15, event, "text/calendar"),
            ("tasks", &tasks, 8, todo, "text/calendar"),
        ] {
            for i in 0..count {
                let uid = format!("{name}-{i}");
                let item_url = format!("{url}{uid}.ics");
                assert_eq!(
                    put(&item_url, make(&uid, &format!("{name} {i}")), content_type).await,
                    201
                );
                expected.insert((name.to_owned(), uid), get(&item_url).await);
            }
        }
        let photo_root = tempfile::tempdir().unwrap();
        for i in 0..4 {
            let relative = format!("Photos/album/photo-{i}.jpg");
            let bytes = photo(i, 300_000);
            let path = photo_root.path().join(&relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            expected.insert(("Photos".to_owned(), format!("album/photo-{i}.jpg")), bytes);
        }
        let webdav = Server::webdav(photo_root.path());
        Self {
            radicale,
            webdav,
            photo_root,
            expected,
            added: 0,
        }
    }

    /// New items since the last run, so that a scheduled run has something to fetch.
    async fn change(&mut self) {
        self.added += 1;
        let uid = format!("added-{}", self.added);
        let url = format!("{}{USER}/contacts/{uid}.vcf", self.radicale.base_url());
        assert_eq!(put(&url, vcard(&uid, "Added"), "text/vcard").await, 201);
        self.expected
            .insert(("contacts".to_owned(), uid), get(&url).await);
        let relative = format!("album/new-{}.jpg", self.added);
        let bytes = photo(100 + self.added as u64, 250_000);
        std::fs::write(
            self.photo_root.path().join("Photos").join(&relative),
            &bytes,
        )
        .unwrap();
        self.expected.insert(("Photos".to_owned(), relative), bytes);
    }
}

/// An archive's items by (collection name, UID or photo path), with every copy's bytes.
fn archived_copies(archive: &Path) -> BTreeMap<(String, String), Vec<Vec<u8>>> {
    let manifest = manifest_of(archive);
    let mut found: BTreeMap<(String, String), Vec<Vec<u8>>> = BTreeMap::new();
    for item in &manifest.items {
        let collection = manifest
            .collections
            .iter()
            .find(|c| c.path == item.collection)
            .unwrap();
        let key = item
            .uid
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| item.href.split("/Photos/").last().unwrap().to_owned());
        found
            .entry((collection.info.name.clone(), key))
            .or_default()
            .push(std::fs::read(archive.join(&item.path)).unwrap());
    }
    found
}

/// Items of `expected` missing from (or different in) the archive, and items found twice.
fn lost_and_duplicated(archive: &Path, expected: &Expected) -> (usize, usize) {
    let found = archived_copies(archive);
    let lost = expected
        .iter()
        .filter(|(key, bytes)| !found.get(key).is_some_and(|copies| copies.contains(bytes)))
        .count();
    let duplicated = found.values().map(|copies| copies.len() - 1).sum();
    (lost, duplicated)
}

/// UIDs (or photo paths) a target holds more than once, and expected ones it lacks: read by
/// exporting the target directly, without the proxy. (The server may store items re-serialized,
/// so only identities are compared.)
fn target_lost_and_duplicated(target: &Target, expected: &Expected, work: &Path) -> (usize, usize) {
    let out = work.join(format!("target-{}", rand_suffix()));
    let output = run(
        work,
        &export_args(
            &target.radicale.base_url(),
            Some(&format!("{}Photos/", target.webdav.base_url())),
            &out,
        ),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let found = archived_copies(&out);
    let lost = expected.keys().filter(|k| !found.contains_key(*k)).count();
    let duplicated = found.values().map(|copies| copies.len() - 1).sum();
    (lost, duplicated)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A fresh, empty account to restore into.
struct Target {
    radicale: Server,
    webdav: Server,
    _root: tempfile::TempDir,
}

impl Target {
    fn empty() -> Self {
        let root = tempfile::tempdir().unwrap();
        Self {
            radicale: Server::radicale(),
            webdav: Server::webdav(root.path()),
            _root: root,
        }
    }
}

/// One fault scenario: the rules for the proxies in front of both servers.
struct Scenario {
    name: &'static str,
    rules: fn(&[&'static str]) -> Vec<Rule>,
    random: Option<(u64, u64)>,
    expect_error: bool,
}

fn rule(methods: &[&'static str], skip: usize, times: usize, fault: Fault) -> Rule {
    Rule {
        methods: methods.to_vec(),
        skip,
        times,
        fault,
        path: None,
    }
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "reset mid-body ×3",
            rules: |m| vec![rule(m, 1, 3, Fault::ResetMidBody)],
            random: None,
            expect_error: false,
        },
        Scenario {
            name: "stall past the timeout ×2",
            rules: |m| {
                vec![rule(
                    m,
                    1,
                    2,
                    Fault::Stall(Duration::from_secs(TIMEOUT_SECS + 3)),
                )]
            },
            random: None,
            expect_error: false,
        },
        Scenario {
            name: "500, 502, 503 burst",
            rules: |m| {
                vec![
                    rule(m, 1, 1, Fault::Status(500)),
                    rule(m, 1, 1, Fault::Status(502)),
                    rule(m, 1, 1, Fault::Status(503)),
                ]
            },
            random: None,
            expect_error: false,
        },
        Scenario {
            name: "429 Retry-After 1 ×2",
            rules: |m| {
                vec![rule(
                    m,
                    1,
                    2,
                    Fault::TooManyRequests {
                        retry_after_secs: 1,
                    },
                )]
            },
            random: None,
            expect_error: false,
        },
        Scenario {
            name: "truncated multistatus",
            rules: |_| vec![rule(&["PROPFIND", "REPORT"], 1, 1, Fault::Truncate)],
            random: None,
            expect_error: false,
        },
        Scenario {
            name: "random mix (seed 7, 30%)",
            rules: |_| Vec::new(),
            random: Some((7, 300)),
            expect_error: false,
        },
        Scenario {
            name: "random mix (seed 11, 30%)",
            rules: |_| Vec::new(),
            random: Some((11, 300)),
            expect_error: false,
        },
        // Every multiget answer unreadable: the items are fetched one by one by GET instead
        // (issue 17: one bad answer never costs the items).
        Scenario {
            name: "malformed multiget XML, always",
            rules: |_| vec![rule(&["REPORT"], 0, usize::MAX, Fault::MalformedXml)],
            random: None,
            expect_error: false,
        },
        Scenario {
            name: "malformed listing XML, always",
            rules: |_| vec![rule(&["PROPFIND"], 0, usize::MAX, Fault::MalformedXml)],
            random: None,
            expect_error: true,
        },
        Scenario {
            name: "503 until we give up",
            rules: |m| vec![rule(m, 2, usize::MAX, Fault::Status(503))],
            random: None,
            expect_error: true,
        },
    ]
}

fn arm(proxies: &[&FaultProxy], scenario: &Scenario, methods: &[&'static str]) {
    for proxy in proxies {
        proxy.clear();
        for rule in (scenario.rules)(methods) {
            proxy.add(rule);
        }
        if let Some((seed, per_mille)) = scenario.random {
            proxy.random(
                seed,
                per_mille,
                vec![
                    Fault::ResetMidBody,
                    Fault::Status(502),
                    Fault::TooManyRequests {
                        retry_after_secs: 1,
                    },
                    Fault::Truncate,
                ],
            );
        }
    }
}

fn no_partials(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().all(|e| {
        !e.file_name()
            .to_string_lossy()
            .contains(".lifeboat-partial-")
    })
}

/// A failed run's stderr: one `error:` line naming a URL, and no panic.
fn clear_error(output: &Output) -> bool {
    let stderr = text(&output.stderr);
    !output.status.success()
        && stderr
            .lines()
            .any(|l| l.starts_with("error:") && l.contains("http://127.0.0.1:"))
        && !stderr.contains("panicked")
}

#[derive(Debug)]
struct Cell {
    fault: &'static str,
    operation: &'static str,
    outcome: String,
    lost: usize,
    duplicated: usize,
    ok: bool,
}

#[tokio::test]
async fn fault_matrix_loses_and_duplicates_nothing() {
    let mut account = Account::seeded().await;
    let dav_proxy = FaultProxy::start(account.radicale.port);
    let photo_proxy = FaultProxy::start(account.webdav.port);
    let dav_url = dav_proxy.base_url();
    let photos_url = format!("{}Photos/", photo_proxy.base_url());
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();

    // A clean archive to restore from, made without faults.
    let clean = work.path().join("clean");
    let output = run(&config, &export_args(&dav_url, Some(&photos_url), &clean));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(lost_and_duplicated(&clean, &account.expected), (0, 0));
    let restore_expected = account.expected.clone();

    // The scheduled profile, with a first snapshot made without faults.
    let dest = work.path().join("snapshots");
    add_nightly_and_run(&config, &dav_url, &photos_url, &dest);

    let mut cells = Vec::new();
    for (index, scenario) in scenarios().iter().enumerate() {
        // Export.
        arm(&[&dav_proxy, &photo_proxy], scenario, READS);
        let out = work.path().join(format!("export-{index}"));
        let output = run(&config, &export_args(&dav_url, Some(&photos_url), &out));
        let injected = dav_proxy.injected().len() + photo_proxy.injected().len();
        cells.push(if output.status.success() {
            let (lost, duplicated) = lost_and_duplicated(&out, &account.expected);
            Cell {
                fault: scenario.name,
                operation: "export",
                outcome: format!("success after {injected} faults"),
                lost,
                duplicated,
                ok: !scenario.expect_error && lost == 0 && duplicated == 0 && injected > 0,
            }
        } else {
            Cell {
                fault: scenario.name,
                operation: "export",
                outcome: format!("clear error, no archive ({injected} faults)"),
                lost: 0,
                duplicated: 0,
                ok: scenario.expect_error
                    && clear_error(&output)
                    && !out.exists()
                    && no_partials(work.path()),
            }
        });
        if !cells.last().unwrap().ok {
            println!("export stderr: {}", text(&output.stderr));
        }

        // Restore into a fresh account; after an error, a run without faults must complete it.
        let target = Target::empty();
        let target_dav = FaultProxy::start(target.radicale.port);
        let target_photos = FaultProxy::start(target.webdav.port);
        arm(&[&target_dav, &target_photos], scenario, WRITES);
        if scenario.name.starts_with("malformed") {
            arm(&[&target_dav, &target_photos], scenario, READS);
        }
        let restore_args = |dav: &FaultProxy, photos: &FaultProxy| {
            vec![
                "restore".to_owned(),
                clean.to_str().unwrap().to_owned(),
                "--url".to_owned(),
                dav.base_url(),
                "--user".to_owned(),
                USER.to_owned(),
                "--photos-url".to_owned(),
                photos.base_url(),
            ]
        };
        let args = restore_args(&target_dav, &target_photos);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = lifeboat_in(&config, &args);
        let injected = target_dav.injected().len() + target_photos.injected().len();
        let (outcome, ok) = if output.status.success() {
            (
                format!("success after {injected} faults"),
                !scenario.expect_error && injected > 0,
            )
        } else {
            let first_error = clear_error(&output);
            target_dav.clear();
            target_photos.clear();
            let again = lifeboat_in(&config, &args);
            (
                format!("clear error ({injected} faults); re-run completed"),
                scenario.expect_error && first_error && again.status.success(),
            )
        };
        if !ok {
            println!("restore stderr: {}", text(&output.stderr));
        }
        let (lost, duplicated) =
            target_lost_and_duplicated(&target, &restore_expected, work.path());
        cells.push(Cell {
            fault: scenario.name,
            operation: "restore",
            outcome,
            lost,
            duplicated,
            ok: ok && lost == 0 && duplicated == 0,
        });

        // Scheduled run after a change at the source.
        account.change().await;
        let before: Vec<_> = snapshot_names(&dest);
        arm(&[&dav_proxy, &photo_proxy], scenario, READS);
        let output = lifeboat_in(&config, &["run", "nightly"]);
        let injected = dav_proxy.injected().len() + photo_proxy.injected().len();
        let after = snapshot_names(&dest);
        let earlier_intact = before.iter().all(|name| {
            lifeboat_in(&config, &["verify", dest.join(name).to_str().unwrap()])
                .status
                .success()
        });
        cells.push(if output.status.success() {
            let newest = dest.join(after.last().unwrap());
            let (lost, duplicated) = lost_and_duplicated(&newest, &account.expected);
            Cell {
                fault: scenario.name,
                operation: "scheduled run",
                outcome: format!("success after {injected} faults"),
                lost,
                duplicated,
                ok: !scenario.expect_error
                    && lost == 0
                    && duplicated == 0
                    && injected > 0
                    && after.len() == before.len() + 1
                    && earlier_intact,
            }
        } else {
            Cell {
                fault: scenario.name,
                operation: "scheduled run",
                outcome: format!("clear error, no snapshot ({injected} faults)"),
                lost: 0,
                duplicated: 0,
                ok: scenario.expect_error
                    && clear_error(&output)
                    && after == before
                    && earlier_intact
                    && no_partials(&dest),
            }
        });
        if !cells.last().unwrap().ok {
            println!("run stderr: {}", text(&output.stderr));
        }
        dav_proxy.clear();
        photo_proxy.clear();
    }

    let mut table = String::from(
        "| fault | operation | outcome | items lost | items duplicated |\n|---|---|---|---|---|\n",
    );
    for cell in &cells {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |{}\n",
            cell.fault,
            cell.operation,
            cell.outcome,
            cell.lost,
            cell.duplicated,
            if cell.ok { "" } else { " **FAILED**" }
        ));
    }
    println!("{table}");
    let _ = std::fs::write(project_root().join("target/fault-matrix.md"), &table);
    assert!(cells.iter().all(|c| c.ok), "{table}");
}

/// Starts `lifeboat` and kills it with SIGKILL after `delay` (unless it finished first).
fn run_and_kill(config: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = command(config, args).spawn().unwrap();
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    !finished
}

/// Kill points spread over a run, from a seed: the same points every time.
fn kill_points(seed: u64, count: usize, longest: Duration) -> Vec<Duration> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            longest.mul_f64(((state >> 11) as f64) / ((1u64 << 53) as f64))
        })
        .collect()
}

#[tokio::test]
async fn export_killed_at_random_points_leaves_no_complete_looking_archive() {
    let account = Account::seeded().await;
    // Every answer is held back a little, so that there is a "during" to kill in.
    let dav_proxy = FaultProxy::start(account.radicale.port);
    let photo_proxy = FaultProxy::start(account.webdav.port);
    for proxy in [&dav_proxy, &photo_proxy] {
        proxy.add(rule(
            &[],
            0,
            usize::MAX,
            Fault::Stall(Duration::from_millis(150)),
        ));
    }
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let archives = work.path().join("archives");
    let (dav_url, photos_url) = (
        dav_proxy.base_url(),
        format!("{}Photos/", photo_proxy.base_url()),
    );
    let export = |out: &Path| export_args(&dav_url, Some(&photos_url), out);
    let earlier = archives.join("earlier.zip");
    let output = run(&config, &export(&earlier));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let earlier_bytes = std::fs::read(&earlier).unwrap();

    let mut killed = 0;
    for (index, delay) in kill_points(42, 8, Duration::from_millis(2500))
        .into_iter()
        .enumerate()
    {
        let out: PathBuf = archives.join(if index % 2 == 0 {
            format!("killed-{index}")
        } else {
            format!("killed-{index}.zip")
        });
        let args = export(&out);
        if run_and_kill(&config, &strs(&args), delay) {
            killed += 1;
        }
        // Either nothing under the final name, or a finished archive that verifies.
        if out.exists() {
            let verified = lifeboat_in(&config, &["verify", out.to_str().unwrap()]);
            assert!(
                verified.status.success(),
                "killed after {delay:?}: {}",
                text(&verified.stdout)
            );
        }
        assert_eq!(
            std::fs::read(&earlier).unwrap(),
            earlier_bytes,
            "the earlier archive changed"
        );
    }
    assert!(
        killed >= 4,
        "only {killed} of 8 runs were still going when killed"
    );

    // The next export into the same folder clears what the killed ones left.
    dav_proxy.clear();
    photo_proxy.clear();
    let after = archives.join("after");
    let output = run(&config, &export(&after));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(no_partials(&archives), "stray temporary files remain");
    assert_eq!(lost_and_duplicated(&after, &account.expected), (0, 0));
}

#[tokio::test]
async fn scheduled_run_killed_at_random_points_leaves_earlier_snapshots_intact() {
    let mut account = Account::seeded().await;
    let dav_proxy = FaultProxy::start(account.radicale.port);
    let photo_proxy = FaultProxy::start(account.webdav.port);
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let dest = work.path().join("snapshots");
    let photos_url = format!("{}Photos/", photo_proxy.base_url());
    add_nightly_and_run(&config, &dav_proxy.base_url(), &photos_url, &dest);
    let earlier = snapshot_names(&dest);
    assert_eq!(earlier.len(), 1);
    for proxy in [&dav_proxy, &photo_proxy] {
        proxy.add(rule(
            &[],
            0,
            usize::MAX,
            Fault::Stall(Duration::from_millis(150)),
        ));
    }
    let mut killed = 0;
    for delay in kill_points(5, 6, Duration::from_millis(2500)) {
        account.change().await;
        if run_and_kill(&config, &["run", "nightly"], delay) {
            killed += 1;
        }
        // Every snapshot there is verifies: the earlier ones, and any the killed run finished.
        for name in snapshot_names(&dest) {
            let verified = lifeboat_in(&config, &["verify", dest.join(&name).to_str().unwrap()]);
            assert!(
                verified.status.success(),
                "{name} after a kill at {delay:?}"
            );
        }
    }
    assert!(
        killed >= 3,
        "only {killed} of 6 runs were still going when killed"
    );
    // The lock died with the killed runs: the next run works and clears their leftovers.
    dav_proxy.clear();
    photo_proxy.clear();
    let after = lifeboat_in(&config, &["run", "nightly"]);
    assert!(after.status.success(), "{}", text(&after.stderr));
    assert!(no_partials(&dest), "stray temporary files remain");
    let newest = dest.join(snapshot_names(&dest).last().unwrap());
    assert_eq!(lost_and_duplicated(&newest, &account.expected), (0, 0));
    assert!(
        dest.join(&earlier[0]).exists(),
        "the first snapshot is gone"
    );
}

#[tokio::test]
async fn restore_killed_at_random_points_then_run_again_is_complete_without_duplicates() {
    let account = Account::seeded().await;
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let archive = work.path().join("alice.zip");
    let output = run(
        &config,
        &export_args(
            &account.radicale.base_url(),
            Some(&format!("{}Photos/", account.webdav.base_url())),
            &archive,
        ),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));

    let target = Target::empty();
    let dav_proxy = FaultProxy::start(target.radicale.port);
    let photo_proxy = FaultProxy::start(target.webdav.port);
    for proxy in [&dav_proxy, &photo_proxy] {
        proxy.add(rule(
            &[],
            0,
            usize::MAX,
            Fault::Stall(Duration::from_millis(60)),
        ));
    }
    let args = [
        "restore".to_owned(),
        archive.to_str().unwrap().to_owned(),
        "--url".to_owned(),
        dav_proxy.base_url(),
        "--user".to_owned(),
        USER.to_owned(),
        "--photos-url".to_owned(),
        photo_proxy.base_url(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut killed = 0;
    for delay in kill_points(9, 5, Duration::from_millis(3000)) {
        if run_and_kill(&config, &args, delay) {
            killed += 1;
        }
    }
    assert!(
        killed >= 3,
        "only {killed} of 5 restores were still going when killed"
    );
    dav_proxy.clear();
    photo_proxy.clear();
    let output = lifeboat_in(&config, &args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        target_lost_and_duplicated(&target, &account.expected, work.path()),
        (0, 0)
    );
}

/// A small tmpfs mounted for the test, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: usize) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            return Some(Self { dir });
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but a tmpfs cannot be mounted (the disk-full test needs root)"
        );
        println!("note: cannot mount a tmpfs here; disk-full test skipped");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A photo still being written on another task when the job fails (the full-disk case
/// under load) must not bring the removed temporary folder back.
#[tokio::test]
async fn a_write_still_running_after_the_job_failed_leaves_no_temporary_folder() {
    use lifeboat::archive::ArchiveWriter;
    use lifeboat::model::{CollectionInfo, CollectionKind};
    use lifeboat::source::{ItemSink as _, SourceInfo};
    let dir = tempfile::tempdir().unwrap();
    for name in ["late", "late.zip"] {
        let writer = ArchiveWriter::create(
            &dir.path().join(name),
            std::sync::Arc::new(lifeboat::progress::NoProgress),
        )
        .unwrap();
        let source = writer.add_source(SourceInfo {
            kind: "memory".to_owned(),
            label: "test".to_owned(),
            location: "memory:".to_owned(),
        });
        let photos = writer
            .add_collection(
                source,
                &CollectionInfo {
                    kind: CollectionKind::Photos,
                    href: "/photos/".into(),
                    name: "photos".to_owned(),
                    display_name: None,
                    description: None,
                    color: None,
                    components: Vec::new(),
                    sync_token: None,
                },
            )
            .unwrap();
        writer.abort();
        assert!(no_partials(dir.path()), "{name}: abort left its folder");
        let body = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"late photo"))]);
        let late = photos
            .stream("/photos/sub/late.jpg".into(), None, Box::pin(body))
            .await;
        assert!(late.is_err(), "{name}: a write after the abort was taken");
        drop(photos);
        drop(writer);
        assert!(
            no_partials(dir.path()),
            "{name}: a late write brought the temporary folder back"
        );
    }
}

#[tokio::test]
async fn a_full_disk_gives_a_clear_error_and_removes_the_partial_archive() {
    let account = Account::seeded().await;
    let Some(disk) = SmallDisk::mount(600_000) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let dav_url = account.radicale.base_url();
    let photos_url = format!("{}Photos/", account.webdav.base_url());
    // An earlier, small archive (contacts and calendars only) that fits.
    let earlier = disk.path().join("earlier");
    let output = run(&config, &export_args(&dav_url, None, &earlier));
    assert!(output.status.success(), "{}", text(&output.stderr));

    for name in ["full", "full.zip"] {
        let out = disk.path().join(name);
        let output = run(&config, &export_args(&dav_url, Some(&photos_url), &out));
        let stderr = text(&output.stderr);
        assert!(
            !output.status.success(),
            "{name}: the export claims success on a full disk"
        );
        assert!(stderr.contains("the disk is full"), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !out.exists(),
            "{name}: a partial archive is left under the final name"
        );
        assert!(
            no_partials(disk.path()),
            "{name}: temporary files are left: {:?}",
            std::fs::read_dir(disk.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect::<Vec<_>>()
        );
        let verified = lifeboat_in(&config, &["verify", earlier.to_str().unwrap()]);
        assert!(verified.status.success(), "the earlier archive was damaged");
    }
}
