//! The hostile-server rows of the fault matrix: servers that never go silent but never
//! finish either. Each test prints its row.

use std::time::{Duration, Instant};

use super::*;

fn row(case: &str, outcome: &str) {
    println!("fault matrix | hostile  | {case:<58} | {outcome}");
}

/// Runs `command` for at most `limit`, killing it after; `None` when it had to be killed.
fn bounded(mut command: Command, limit: Duration) -> Option<Output> {
    let child = command.spawn().unwrap();
    let id = child.id();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    match receive.recv_timeout(limit) {
        Ok(output) => Some(output.unwrap()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            None
        }
    }
}

#[tokio::test]
async fn a_multiget_answer_trickling_a_byte_at_a_time_is_given_up_and_asked_again() {
    let account = Account::seeded().await;
    let proxy = FaultProxy::start(account.radicale.port);
    proxy.add(Rule {
        path: Some("/contacts/"),
        ..rule(
            &["REPORT"],
            0,
            1,
            Fault::Trickle(Duration::from_millis(200)),
        )
    });
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("alice");
    let started = Instant::now();
    let output = bounded(
        command(
            work.path(),
            &strs(&export_args(&proxy.base_url(), None, &out)),
        ),
        Duration::from_secs(120),
    )
    .expect("the export was still running after 120 s");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut expected = account.expected.clone();
    expected.retain(|(collection, _), _| collection != "Photos");
    assert_eq!(lost_and_duplicated(&out, &expected), (0, 0));
    row(
        "multiget answer at 5 bytes/s (LIFEBOAT_TIMEOUT=3)",
        &format!(
            "given up, asked again; all archived in {:.0} s",
            started.elapsed().as_secs_f64()
        ),
    );
}

/// A WebDAV folder of one photo, `slow.jpg`, sent at one byte a second; returns its port.
fn trickling_photo_server() -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let listing = r#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/photos/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response><D:href>/photos/slow.jpg</D:href><D:propstat><D:prop><D:resourcetype/><D:getcontentlength>2000</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 16384];
                let read = stream.read(&mut buffer).unwrap_or(0);
                if buffer[..read].starts_with(b"PROPFIND") {
                    let _ = stream.write_all(
                        format!(
                            "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{listing}",
                            listing.len()
                        )
                        .as_bytes(),
                    );
                    return;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n",
                );
                for _ in 0..2000 {
                    if stream.write_all(b"x").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    port
}

#[test]
fn a_photo_trickling_a_byte_a_second_costs_that_photo_not_the_run() {
    let port = trickling_photo_server();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("archive");
    let photos = format!("http://127.0.0.1:{port}/photos/");
    let args = [
        "export",
        "--photos-url",
        &photos,
        "--out",
        out.to_str().unwrap(),
    ];
    let output = bounded(command(work.path(), &args), Duration::from_secs(150))
        .expect("the export was still running after 150 s");
    let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("slow.jpg"), "{said}");
    row(
        "a photo at 1 byte/s (LIFEBOAT_TIMEOUT=3)",
        "given up after 5 tries: that photo missing, exit 2",
    );
}

#[tokio::test]
async fn a_multiget_answer_with_items_not_asked_for_archives_only_what_was_listed() {
    let account = Account::seeded().await;
    let proxy = FaultProxy::start(account.radicale.port);
    proxy.add(rule(&["REPORT"], 0, usize::MAX, Fault::InjectItems));
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("alice");
    let output = run(work.path(), &export_args(&proxy.base_url(), None, &out));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let manifest = manifest_of(&out);
    assert_eq!(manifest.items.len(), 25 + 15 + 8);
    assert!(!manifest.items.iter().any(|i| i.href.contains("injected")));
    let mut expected = account.expected.clone();
    expected.retain(|(collection, _), _| collection != "Photos");
    assert_eq!(lost_and_duplicated(&out, &expected), (0, 0));
    let refused = manifest
        .warnings
        .iter()
        .filter(|w| w.code == "not-asked")
        .count();
    assert!(refused >= 6, "{:?}", manifest.warnings);
    row(
        "multiget answers with a duplicate and an item never listed",
        "only what was asked archived, once; the rest reported",
    );
}

/// Cancel in the window while a photo arrives a byte a second: the job ends at once (not
/// when the download would), as cancelled, with nothing left behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_during_a_slow_photo_download_ends_the_job_at_once() {
    use lifeboat::progress::{CancelToken, NoProgress};
    use lifeboat::source::Source;
    let port = trickling_photo_server();
    let http = lifeboat::dav::http::HttpClient::new(
        lifeboat::dav::http::Credentials::None,
        &lifeboat::dav::http::HttpSettings::default(),
    )
    .unwrap();
    let source = lifeboat::source::photos::PhotoSource::new(
        &format!("http://127.0.0.1:{port}/photos/"),
        http,
    )
    .unwrap();
    let sources: Vec<Box<dyn Source>> = vec![Box::new(source)];
    let cancel = CancelToken::default();
    let plan = lifeboat::job::export::plan(&sources, &NoProgress, &cancel)
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("archive");
    let pressed = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        pressed.cancel();
    });
    let started = Instant::now();
    let result = lifeboat::job::export::execute(
        &sources,
        &plan,
        &out,
        std::sync::Arc::new(NoProgress),
        &cancel,
    )
    .await;
    let took = started.elapsed();
    let error = result.expect_err("a cancelled export must not finish");
    assert_eq!(
        error.kind(),
        lifeboat::error::ErrorKind::Cancelled,
        "{error}"
    );
    // The download alone would take 2,000 s; the bound is loose on a shared machine
    // (scripts/bench_cancel.py measures the latency itself).
    assert!(took < Duration::from_secs(15), "cancel took {took:?}");
    assert!(!out.exists(), "a cancelled export left {}", out.display());
    row(
        "cancel while a photo arrives at 1 byte/s",
        "cancelled at once, nothing left",
    );
}
