//! Secrets stay secret: after a full export, restore and scheduled run with a known password
//! (and trace logging on), nothing Lifeboat wrote or printed holds it; and TLS to a server
//! whose certificate is not trusted is refused unless the user trusts its CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use support::tls::make_certificates;
use support::*;

/// Runs `lifeboat` with trace logging, so that a leak into the log would be seen.
fn lifeboat_traced(config: &Path, args: &[&str]) -> Output {
    lifeboat_command(config, args, &[("LIFEBOAT_LOG", "trace")])
        .output()
        .expect("running lifeboat")
}

/// The forms a password can leak in: as is, in a Basic header, percent-encoded in a URL.
fn leaked_forms() -> Vec<Vec<u8>> {
    let mut forms = vec![PASSWORD.as_bytes().to_vec()];
    for user in [USER, OTHER_USER] {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{PASSWORD}"));
        forms.push(basic.into_bytes());
    }
    forms.push(PASSWORD.replace(' ', "%20").into_bytes());
    forms
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn nothing_lifeboat_writes_or_prints_holds_the_password() {
    let radicale = Server::radicale();
    seed_radicale(&radicale).await;
    let photo_root = tempfile::tempdir().unwrap();
    seed_photos(photo_root.path());
    let webdav = Server::webdav(photo_root.path());
    let photos_to = tempfile::tempdir().unwrap();
    let webdav_to = Server::webdav(photos_to.path());
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let photos_url = format!("{}Photos/", webdav.base_url());
    let folder = work.path().join("archive");
    let zip = work.path().join("archive.zip");
    let dest = work.path().join("snapshots");

    let profile_args = nightly_profile_args(&radicale.base_url(), &photos_url, &dest);
    let mut outputs = Vec::new();
    for args in [
        vec![
            "export",
            "--url",
            &radicale.base_url(),
            "--user",
            USER,
            "--photos-url",
            &photos_url,
            "--out",
            folder.to_str().unwrap(),
        ],
        vec![
            "export",
            "--url",
            &radicale.base_url(),
            "--user",
            USER,
            "--photos-url",
            &photos_url,
            "--out",
            zip.to_str().unwrap(),
        ],
        vec![
            "restore",
            zip.to_str().unwrap(),
            "--url",
            &radicale.base_url(),
            "--user",
            OTHER_USER,
            "--photos-url",
            &webdav_to.base_url(),
            "--json",
        ],
        vec!["verify", folder.to_str().unwrap(), "--json"],
        vec!["ls", zip.to_str().unwrap(), "--json"],
        strs(&profile_args),
        vec!["run", "nightly"],
        vec!["profile", "list"],
        vec!["schedule", "status", "--json"],
    ] {
        let output = lifeboat_traced(&config, &args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        outputs.push((args.join(" "), output));
    }
    // The command lines the OS scheduler would run.
    let every = lifeboat::schedule::policy::Every::Hourly;
    let exe = Path::new(env!("CARGO_BIN_EXE_lifeboat"));
    let mut scheduled: Vec<(String, String)> =
        lifeboat::schedule::install::systemd_units("nightly", exe, &every).to_vec();
    scheduled.push((
        "launchd".to_owned(),
        lifeboat::schedule::install::launchd_plist("nightly", exe, &every, &config.join("log")),
    ));
    scheduled.push((
        "task scheduler".to_owned(),
        lifeboat::schedule::install::task_scheduler_xml("nightly", exe, &every),
    ));

    let mut looked_at = 0;
    let mut leaks = Vec::new();
    let mut check = |what: String, bytes: &[u8]| {
        looked_at += 1;
        for form in leaked_forms() {
            if holds(bytes, &form) {
                leaks.push(what.clone());
            }
        }
    };
    for path in files_under(work.path()) {
        check(
            path.display().to_string(),
            &std::fs::read(work.path().join(&path)).unwrap(),
        );
    }
    for (command, output) in &outputs {
        check(format!("stdout of {command}"), &output.stdout);
        check(format!("stderr of {command}"), &output.stderr);
    }
    for (name, text) in &scheduled {
        check(name.clone(), text.as_bytes());
    }
    // The trace log did record the requests, so a leak would have been seen.
    assert!(
        outputs.iter().any(|(_, o)| text(&o.stderr)
            .to_ascii_lowercase()
            .contains("authorization")
            || text(&o.stderr).contains("PROPFIND")),
        "the trace log shows no requests; the check would prove nothing"
    );
    assert!(
        looked_at > 40,
        "only {looked_at} files and outputs were checked"
    );
    assert!(leaks.is_empty(), "the password leaked into: {leaks:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_unless_its_ca_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = make_certificates(dir.path(), "ours");
    let (other_ca, _, _) = make_certificates(dir.path(), "other");
    let radicale = Server::radicale_tls(&certificate, &key);
    let url = format!("https://127.0.0.1:{}/", radicale.port);
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    let export = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "export",
            "--url",
            &url,
            "--user",
            USER,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        (lifeboat_traced(&config, &args), out)
    };

    for (name, extra) in [
        ("untrusted", vec![]),
        ("other-ca", vec!["--ca-file", other_ca.to_str().unwrap()]),
    ] {
        let (output, out) = export(name, &extra);
        let stderr = text(&output.stderr);
        assert!(
            !output.status.success(),
            "{name}: an untrusted certificate was accepted"
        );
        assert!(
            stderr.contains("the secure connection failed"),
            "{name}: {stderr}"
        );
        assert!(!out.exists());
    }
    let (output, out) = export("trusted", &["--ca-file", ca.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        lifeboat_traced(&config, &["verify", out.to_str().unwrap()])
            .status
            .success()
    );
}

/// A plain-http listener on loopback that answers 401 to everything and records whether any
/// request carried credentials.
fn recording_listener() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 16384];
            let read = stream.read(&mut buffer).unwrap_or(0);
            record
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buffer[..read]).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, seen)
}

/// An https server (Python's, with our certificate) that redirects every request to `to`.
struct RedirectingServer {
    child: std::process::Child,
    port: u16,
}

impl RedirectingServer {
    fn start(certificate: &Path, key: &Path, to: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = r#"
import http.server, ssl, sys
class Redirect(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.send_response(301)
        self.send_header("Location", sys.argv[2])
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_GET = do_OPTIONS = do_PROPFIND = do_REPORT = answer
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Redirect)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[3], sys.argv[4])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script, &port.to_string(), to])
            .arg(certificate)
            .arg(key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting python3");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the redirecting server did not start");
    }
}

impl Drop for RedirectingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_https_server_redirecting_to_plain_http_never_gets_the_password_sent_there() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, certificate, key) = make_certificates(dir.path(), "redirect");
    let (plain, seen) = recording_listener();
    let server =
        RedirectingServer::start(&certificate, &key, &format!("http://127.0.0.1:{plain}/"));
    let config = dir.path().join("config");
    let out = dir.path().join("out");
    let output = lifeboat_traced(
        &config,
        &[
            "export",
            "--url",
            &format!("https://127.0.0.1:{}/", server.port),
            "--user",
            USER,
            "--ca-file",
            ca.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("from https to plain http"), "{stderr}");
    assert!(!out.exists());
    let requests = seen.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .all(|r| !r.to_ascii_lowercase().contains("authorization")),
        "credentials went over plain http: {requests:?}"
    );
}

#[tokio::test]
async fn a_user_name_in_the_address_is_used_and_a_password_there_is_refused_unrepeated() {
    let radicale = Server::radicale();
    seed_radicale(&radicale).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let secret = "S3cretPW-in-the-URL";
    let with_password = format!("http://{USER}:{secret}@127.0.0.1:{}/", radicale.port);
    let out = dir.path().join("refused");
    for args in [
        vec![
            "export",
            "--url",
            &with_password,
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "export",
            "--url",
            &with_password,
            "--out",
            out.to_str().unwrap(),
            "--dry-run",
        ],
        vec![
            "profile",
            "add",
            "leaky",
            "--url",
            &with_password,
            "--dest",
            out.to_str().unwrap(),
            "--every",
            "daily",
        ],
    ] {
        let output = lifeboat_traced(&config, &args);
        let said = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!output.status.success(), "{args:?}: {said}");
        assert!(
            !said.contains(secret),
            "{args:?} repeated the password: {said}"
        );
        assert!(said.contains("holds a password"), "{said}");
    }
    assert!(!out.exists());
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(dir.path().join(&file)).unwrap();
        assert!(!holds(&bytes, secret.as_bytes()), "in {}", file.display());
    }
    // A user name alone is taken as the user; no address kept holds it.
    let with_user = format!("http://{USER}@127.0.0.1:{}/", radicale.port);
    let out = dir.path().join("archive");
    let output = lifeboat_traced(
        &config,
        &[
            "export",
            "--url",
            &with_user,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(!manifest.contains(&format!("{USER}@")), "{manifest}");
    assert!(manifest_of(&out).items.len() > 5);
}
