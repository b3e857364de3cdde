//! Backing up an Android phone through the real adb server and the simulated phone: 5,000
//! contacts, 5,000 events and 2 GB of photos (`LIFEBOAT_BENCH_PHOTO_MB` changes the size).
//! Prints the whole export's time and peak memory, and Lifeboat's photo rate against a plain
//! `adb pull` of the same folder from the same phone in the same run (target: at least 0.9×).
//!
//! `cargo bench --bench android_phone` (`LIFEBOAT_BENCH_ROUNDS` sets how many turns each takes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/support/phone.rs"]
#[allow(dead_code)]
mod phone;
#[path = "../tests/support/phone_data.rs"]
#[allow(dead_code)]
mod phone_data;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use lifeboat::source::android::calendar::{
    ATTENDEE_COLUMNS, CALENDAR_COLUMNS, EVENT_COLUMNS, REMINDER_COLUMNS,
};
use lifeboat::source::android::contacts::{DATA_COLUMNS, GROUP_COLUMNS, RAW_CONTACT_COLUMNS};
use phone::{AdbServerProcess, PhoneFile, PhoneSpec, SimulatedPhone};
use phone_data::{PhoneContent, Table};

const CONTACTS: usize = 5_000;
const EVENTS: usize = 5_000;

fn contacts(phone: &mut PhoneContent) {
    let mut raw = Table::new(RAW_CONTACT_COLUMNS);
    let mut data = Table::new(DATA_COLUMNS);
    let mut id = 0;
    for n in 1..=CONTACTS {
        let n_text = n.to_string();
        raw.add(&[("_id", &n_text), ("deleted", "0"), ("version", "1")]);
        let name = format!("Person Nummer {n}");
        let phone_number = format!("+49 170 {n:07}");
        let email = format!("person{n}@example.org");
        let note = format!("Met at the {n}th meeting, Köln");
        for (mimetype, values) in [
            (
                "name",
                vec![
                    ("data1", name.as_str()),
                    ("data2", "Person"),
                    ("data3", &n_text),
                ],
            ),
            (
                "phone_v2",
                vec![("data1", phone_number.as_str()), ("data2", "2")],
            ),
            ("email_v2", vec![("data1", email.as_str()), ("data2", "1")]),
            ("note", vec![("data1", note.as_str())]),
        ] {
            id += 1;
            let id_text = id.to_string();
            let mimetype = format!("vnd.android.cursor.item/{mimetype}");
            let mut row = vec![
                ("_id", id_text.as_str()),
                ("raw_contact_id", n_text.as_str()),
                ("mimetype", mimetype.as_str()),
            ];
            row.extend(values);
            data.add(&row);
        }
    }
    phone
        .tables
        .insert("content://com.android.contacts/raw_contacts".into(), raw);
    phone
        .tables
        .insert("content://com.android.contacts/data".into(), data);
    phone.tables.insert(
        "content://com.android.contacts/groups".into(),
        Table::new(GROUP_COLUMNS),
    );
}

fn events(phone: &mut PhoneContent) {
    let mut calendars = Table::new(CALENDAR_COLUMNS);
    calendars.add(&[
        ("_id", "1"),
        ("calendar_displayName", "Kalender"),
        ("deleted", "0"),
    ]);
    let mut events = Table::new(EVENT_COLUMNS);
    let mut reminders = Table::new(REMINDER_COLUMNS);
    for n in 1..=EVENTS {
        let id = n.to_string();
        let start = (1_796_630_400_000_i64 + n as i64 * 3_600_000).to_string();
        let end = (1_796_630_400_000_i64 + n as i64 * 3_600_000 + 1_800_000).to_string();
        let title = format!("Termin {n}");
        let mut row = vec![
            ("_id", id.as_str()),
            ("calendar_id", "1"),
            ("title", title.as_str()),
            ("dtstart", start.as_str()),
            ("eventTimezone", "Europe/Berlin"),
            ("allDay", "0"),
            ("deleted", "0"),
        ];
        if n % 10 == 0 {
            row.extend([("duration", "P1800S"), ("rrule", "FREQ=WEEKLY;COUNT=20")]);
        } else {
            row.push(("dtend", end.as_str()));
        }
        events.add(&row);
        reminders.add(&[
            ("_id", &id),
            ("event_id", &id),
            ("minutes", "10"),
            ("method", "1"),
        ]);
    }
    for (uri, table) in [
        ("calendars", calendars),
        ("events", events),
        ("reminders", reminders),
        ("attendees", Table::new(ATTENDEE_COLUMNS)),
    ] {
        phone
            .tables
            .insert(format!("content://com.android.calendar/{uri}"), table);
    }
}

/// `megabytes` of photos of about 4 MB each, every one different, cut from one buffer.
fn photos(phone: &mut PhoneContent, megabytes: usize) {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let pool: Vec<u8> = (0..megabytes * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let pool = bytes::Bytes::from(pool);
    let size = 4 * 1024 * 1024;
    for (n, start) in (0..pool.len()).step_by(size).enumerate() {
        let end = (start + size).min(pool.len());
        phone.files.insert(
            format!("/sdcard/DCIM/Camera/IMG_{n:05}.jpg"),
            PhoneFile::new(pool.slice(start..end), 1_796_000_000 + n as u32),
        );
    }
}

fn started(content: PhoneContent, adb: &AdbServerProcess) -> SimulatedPhone {
    let content = Arc::new(content);
    let phone = SimulatedPhone::start(PhoneSpec {
        files: Arc::new(content.files.clone()),
        ..PhoneSpec::new("Pixel 7", content.shell())
    });
    adb.connect(&phone, "device");
    phone
}

/// Runs `command`, returning its seconds and its peak resident memory in MiB.
fn measure(mut command: Command) -> (f64, f64) {
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak_kb = peak_kb.max(kb);
        }
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "{command:?} failed");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (started.elapsed().as_secs_f64(), peak_kb as f64 / 1024.0)
}

fn lifeboat_export(adb: &AdbServerProcess, serial: &str, out: &Path, config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    command
        .args([
            "export",
            "--android",
            serial,
            "--out",
            out.to_str().unwrap(),
        ])
        .env("ANDROID_ADB_SERVER_PORT", adb.port.to_string())
        .env("LIFEBOAT_CONFIG_DIR", config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

fn main() {
    // `cargo test --all-targets` runs benches too, without `--bench`: only build-check there.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("android_phone: a benchmark; run it with `cargo bench --bench android_phone`");
        return;
    }
    let Some(adb) = AdbServerProcess::start() else {
        println!("adb is not installed: nothing measured");
        return;
    };
    let megabytes: usize = std::env::var("LIFEBOAT_BENCH_PHOTO_MB")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(2048);
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::create_dir_all(&config).unwrap();

    // Photos alone, once through Lifeboat and once through `adb pull`, from the same phone.
    let mut only_photos = PhoneContent::default();
    contacts_and_events_empty(&mut only_photos);
    photos(&mut only_photos, megabytes);
    let bytes: usize = only_photos.files.values().map(|f| f.bytes.len()).sum();
    let photo_phone = started(only_photos, &adb);
    let pulled = work.path().join("pulled");
    let out = work.path().join("photos");
    // The machine is shared and noisy: `adb pull` and Lifeboat take turns, and each one's
    // best round is compared.
    let rounds: usize = std::env::var("LIFEBOAT_BENCH_ROUNDS")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(3);
    let (mut pull_best, mut pull_sync_best, mut ours_best, mut read_best) =
        (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    let mut ours_memory: f64 = 0.0;
    for _ in 0..rounds {
        let mut pull = Command::new("adb");
        pull.args([
            "-P",
            &adb.port.to_string(),
            "-s",
            &photo_phone.serial(),
            "pull",
            "-a",
            "/sdcard/DCIM/",
            pulled.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        sync();
        let (pull_seconds, _) = measure(pull);
        // Lifeboat flushes an archive to disk before it calls it done; `adb pull` does not.
        let synced = Instant::now();
        sync();
        pull_best = pull_best.min(pull_seconds);
        pull_sync_best = pull_sync_best.min(pull_seconds + synced.elapsed().as_secs_f64());
        std::fs::remove_dir_all(&pulled).unwrap();
        sync();
        // Lifeboat's reading alone, the bytes dropped: what the archive adds is the rest.
        read_best = read_best.min(read_only(
            &adb,
            &photo_phone.serial(),
            photo_phone_files(megabytes),
        ));
        let (seconds, memory) =
            measure(lifeboat_export(&adb, &photo_phone.serial(), &out, &config));
        ours_best = ours_best.min(seconds);
        ours_memory = ours_memory.max(memory);
        std::fs::remove_dir_all(&out).unwrap();
        sync();
    }
    let rate = |seconds: f64| bytes as f64 / 1024.0 / 1024.0 / seconds;
    println!(
        "photos read through Lifeboat's file-service client alone: {read_best:.1} s ({:.0} MiB/s)",
        rate(read_best)
    );
    println!(
        "photos: {:.0} MiB in {} files, best of {rounds} rounds each: adb pull {:.1} s ({:.0} MiB/s; {:.1} s with a sync after it), Lifeboat {:.1} s ({:.0} MiB/s, peak {:.0} MiB): {:.2}x adb pull, {:.2}x adb pull and sync",
        bytes as f64 / 1024.0 / 1024.0,
        photo_phone_files(megabytes),
        pull_best,
        rate(pull_best),
        pull_sync_best,
        ours_best,
        rate(ours_best),
        ours_memory,
        pull_best / ours_best,
        pull_sync_best / ours_best,
    );

    // The whole phone: contacts, events and the photos.
    let mut whole = PhoneContent::default();
    contacts(&mut whole);
    events(&mut whole);
    photos(&mut whole, megabytes);
    let whole_phone = started(whole, &adb);
    let out = work.path().join("whole");
    let (seconds, memory) = measure(lifeboat_export(&adb, &whole_phone.serial(), &out, &config));
    println!(
        "whole phone: {CONTACTS} contacts, {EVENTS} events and {megabytes} MiB of photos in {seconds:.1} s, peak memory {memory:.0} MiB"
    );
}

/// Seconds to read every photo through `sync::recv`, dropping the bytes.
fn read_only(adb: &AdbServerProcess, serial: &str, files: usize) -> f64 {
    use futures_util::StreamExt as _;
    use lifeboat::source::android::{AdbServer, sync};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = AdbServer { port: adb.port };
        let sessions = sync::Sessions::default();
        let started = Instant::now();
        for n in 0..files {
            let path = format!("/sdcard/DCIM/Camera/IMG_{n:05}.jpg");
            let file = sync::RemoteFile {
                path,
                size: 0,
                modified: 0,
            };
            let resume = sync::Resume {
                wait: std::time::Duration::ZERO,
                cancel: lifeboat::progress::CancelToken::default(),
                notify: tokio::sync::mpsc::unbounded_channel().0,
            };
            let mut body = sync::recv(&server, serial, &file, &sessions, resume)
                .await
                .unwrap();
            while let Some(piece) = body.next().await {
                piece.unwrap();
            }
        }
        started.elapsed().as_secs_f64()
    })
}

/// Flushes what earlier steps wrote, so that one step's writes are not charged to the next.
fn sync() {
    let _ = Command::new("sync").status();
}

fn photo_phone_files(megabytes: usize) -> usize {
    megabytes.div_ceil(4)
}

/// A phone with no contacts and no events (its providers answer "No result found.").
fn contacts_and_events_empty(phone: &mut PhoneContent) {
    for (uri, columns) in [
        (
            "content://com.android.contacts/raw_contacts",
            RAW_CONTACT_COLUMNS,
        ),
        ("content://com.android.contacts/data", DATA_COLUMNS),
        ("content://com.android.contacts/groups", GROUP_COLUMNS),
        ("content://com.android.calendar/calendars", CALENDAR_COLUMNS),
        ("content://com.android.calendar/events", EVENT_COLUMNS),
        ("content://com.android.calendar/reminders", REMINDER_COLUMNS),
        ("content://com.android.calendar/attendees", ATTENDEE_COLUMNS),
    ] {
        phone.tables.insert(uri.to_owned(), Table::new(columns));
    }
}
