//! Test harness: real Radicale and WsgiDAV servers on free loopback ports with temporary
//! storage, installed by `scripts/setup-test-servers.sh`, plus helpers to seed them.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";
pub const OTHER_USER: &str = "bob";

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Installs the server venv once per test process.
pub fn venv_bin(tool: &str) -> PathBuf {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let status = Command::new("bash")
            .arg(project_root().join("scripts/setup-test-servers.sh"))
            .status()
            .expect("running scripts/setup-test-servers.sh");
        assert!(status.success(), "installing the test servers failed");
    });
    project_root().join("target/test-venv/bin").join(tool)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "server exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server did not start on port {port}");
}

/// A running server process, killed on drop; its storage lives in a temp dir.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Radicale 3 with htpasswd users alice and bob, owner-only rights.
    pub fn radicale() -> Self {
        Self::radicale_with("")
    }

    /// [`Server::radicale`] serving HTTPS with this certificate and key (PEM files).
    pub fn radicale_tls(certificate: &Path, key: &Path) -> Self {
        Self::radicale_with(&format!(
            "ssl = True\ncertificate = {}\nkey = {}\n",
            certificate.display(),
            key.display()
        ))
    }

    /// Radicale with extra lines for its `[server]` section.
    fn radicale_with(server_extra: &str) -> Self {
        let binary = venv_bin("radicale");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(
            dir.path().join("users"),
            format!("{USER}:{PASSWORD}\n{OTHER_USER}:{PASSWORD}\n"),
        )
        .unwrap();
        let config = format!(
            "[server]\nhosts = 127.0.0.1:{port}\nmax_content_length = 1000000000\n{server_extra}\
             [auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n\
             [rights]\ntype = owner_only\n\
             [storage]\nfilesystem_folder = {storage}\n\
             [web]\ntype = none\n\
             [logging]\nlevel = warning\n",
            users = dir.path().join("users").display(),
            storage = dir.path().join("collections").display(),
        );
        Self::spawn(&binary, dir, port, "config", &config)
    }

    /// WsgiDAV serving `root` with Basic auth for alice.
    pub fn webdav(root: &Path) -> Self {
        let binary = venv_bin("wsgidav");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = serde_json::json!({
            "host": "127.0.0.1",
            "port": port,
            "server": "cheroot",
            "verbose": 0,
            "provider_mapping": { "/": root.display().to_string() },
            "http_authenticator": {
                "domain_controller": null,
                "accept_basic": true,
                "accept_digest": false,
                "default_to_digest": false
            },
            "simple_dc": { "user_mapping": { "*": {
                USER: { "password": PASSWORD },
                OTHER_USER: { "password": PASSWORD },
            } } },
        });
        Self::spawn(&binary, dir, port, "wsgidav.json", &config.to_string())
    }

    /// Writes `config` into the server's temp dir, starts `binary --config` on it and waits
    /// until `port` accepts connections; stderr goes to a log shown if the server dies.
    fn spawn(
        binary: &Path,
        dir: tempfile::TempDir,
        port: u16,
        config_name: &str,
        config: &str,
    ) -> Self {
        let config_path = dir.path().join(config_name);
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("log");
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        wait_for_port(port, &mut child, &log);
        Self { child, port, dir }
    }
}

/// A plain reqwest client for seeding and reading back, outside the code under test.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// One seeding request. A server that has just started may drop the first connections, so
/// transport errors (never HTTP statuses) are retried a few times.
pub async fn request(method: &str, url: &str, body: Vec<u8>, content_type: &str) -> (u16, Vec<u8>) {
    request_as(USER, method, url, body, content_type).await
}

/// [`request`] as another user.
pub async fn request_as(
    user: &str,
    method: &str,
    url: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (u16, Vec<u8>) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client()
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .basic_auth(user, Some(PASSWORD))
            .header("Content-Type", content_type)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                return (status, response.bytes().await.unwrap().to_vec());
            }
            Err(error) if attempt < 5 => {
                eprintln!("retrying {method} {url}: {error}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(error) => panic!("{method} {url}: {error:?}"),
        }
    }
}

/// The body of an extended MKCOL making an address book (RFC 5689).
pub fn mkcol_addressbook(display: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>{display}</D:displayname></D:prop></D:set></D:mkcol>"#
    )
}

/// The body of a MKCALENDAR for these components.
pub fn mkcalendar(display: &str, components: &[&str]) -> String {
    let comps: String = components
        .iter()
        .map(|c| format!(r#"<C:comp name="{c}"/>"#))
        .collect();
    format!(
        r#"<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop><D:displayname>{display}</D:displayname><A:calendar-color>#ff0000ff</A:calendar-color><C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#
    )
}

pub async fn make_addressbook(server: &Server, name: &str, display: &str) -> String {
    let url = format!("{}{USER}/{name}/", server.base_url());
    let body = mkcol_addressbook(display);
    let (status, _) = request("MKCOL", &url, body.into_bytes(), "application/xml").await;
    assert_eq!(status, 201, "MKCOL {url}");
    url
}

pub async fn make_calendar(
    server: &Server,
    name: &str,
    display: &str,
    components: &[&str],
) -> String {
    let url = format!("{}{USER}/{name}/", server.base_url());
    let body = mkcalendar(display, components);
    let (status, _) = request("MKCALENDAR", &url, body.into_bytes(), "application/xml").await;
    assert_eq!(status, 201, "MKCALENDAR {url}");
    url
}

/// PUTs an item; returns the status (Radicale refuses what it cannot parse).
pub async fn put(url: &str, bytes: Vec<u8>, content_type: &str) -> u16 {
    request("PUT", url, bytes, content_type).await.0
}

/// What the server serves for an item: the reference the archive must match.
pub async fn get(url: &str) -> Vec<u8> {
    let (status, body) = request("GET", url, Vec::new(), "text/plain").await;
    assert_eq!(status, 200, "GET {url}");
    body
}

pub fn vcard(uid: &str, name: &str) -> Vec<u8> {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL:{uid}@example.org\r\nEND:VCARD\r\n").into_bytes()
}

pub fn event(uid: &str, summary: &str) -> Vec<u8> {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lifeboat tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\nDTEND:20240102T110000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").into_bytes()
}

pub fn todo(uid: &str, summary: &str) -> Vec<u8> {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Lifeboat tests//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nSUMMARY:{summary}\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n").into_bytes()
}

/// A small but real JPEG-like file: SOI, an EXIF APP1 marker, pseudo-random bytes, EOI.
pub fn photo(seed: u64, size: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10];
    bytes.extend_from_slice(b"Exif\0\0MM\0*\0\0\0\x08\0\0");
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while bytes.len() < size.saturating_sub(2) {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        bytes.push((state >> 33) as u8);
    }
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

/// Runs the built `lifeboat` binary with the test password in its environment.
pub fn lifeboat(args: &[&str]) -> std::process::Output {
    lifeboat_with_password(args, PASSWORD)
}

/// Runs the built `lifeboat` binary with `password` in LIFEBOAT_PASSWORD and no stdin.
pub fn lifeboat_with_password(args: &[&str], password: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(args)
        .env("LIFEBOAT_PASSWORD", password)
        .env_remove("LIFEBOAT_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("running lifeboat")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The corpus of real-world files, when present. Under CI=true it must be present.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = project_root().join("../shared/corpus");
    if dir.join("PROVENANCE.tsv").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but ../shared/corpus is missing"
    );
    eprintln!("note: ../shared/corpus not found; corpus tests skipped");
    None
}

/// `lifeboat export --url URL --user alice --out OUT`.
pub fn export_account(url: &str, out: &Path) -> std::process::Output {
    export_account_with(url, out, &[], PASSWORD)
}

/// The same with more arguments and another password.
pub fn export_account_with(
    url: &str,
    out: &Path,
    extra: &[&str],
    password: &str,
) -> std::process::Output {
    let mut args = vec![
        "export",
        "--url",
        url,
        "--user",
        USER,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    lifeboat_with_password(&args, password)
}

/// The manifest of an archive folder or zip.
pub fn manifest_of(archive: &Path) -> lifeboat::archive::Manifest {
    lifeboat::archive::ArchiveReader::open(archive)
        .unwrap()
        .manifest()
        .unwrap()
}

/// The manifest's collection whose source name is `name`.
pub fn collection_named<'a>(
    manifest: &'a lifeboat::archive::Manifest,
    name: &str,
) -> &'a lifeboat::archive::manifest::ManifestCollection {
    manifest
        .collections
        .iter()
        .find(|c| c.info.name == name)
        .unwrap_or_else(|| panic!("no collection named {name}"))
}

/// Seeds Radicale with an address book, a calendar and a task list; returns the server's
/// bytes for each, per collection name.
pub async fn seed_radicale(server: &Server) -> BTreeMap<&'static str, Vec<(String, Vec<u8>)>> {
    let mut seeded = BTreeMap::new();
    let book = make_addressbook(server, "contacts", "My Contacts").await;
    let calendar = make_calendar(server, "calendar", "Family", &["VEVENT"]).await;
    let tasks = make_calendar(server, "tasks", "Chores", &["VTODO"]).await;
    for (name, url, items, content_type) in [
        (
            "contacts",
            &book,
            (0..5)
                .map(|i| {
                    (
                        format!("c{i}.vcf"),
                        vcard(&format!("uid-c{i}"), &format!("Person {i} Ünïcode")),
                    )
                })
                .collect::<Vec<_>>(),
            "text/vcard",
        ),
        (
            "calendar",
            &calendar,
            (0..4)
                .map(|i| {
                    (
                        format!("e{i}.ics"),
                        event(&format!("uid-e{i}"), &format!("Event {i}")),
                    )
                })
                .collect(),
            "text/calendar",
        ),
        (
            "tasks",
            &tasks,
            (0..3)
                .map(|i| {
                    (
                        format!("t{i}.ics"),
                        todo(&format!("uid-t{i}"), &format!("Task {i}")),
                    )
                })
                .collect(),
            "text/calendar",
        ),
    ] {
        let mut served = Vec::new();
        for (file, bytes) in items {
            let item_url = format!("{url}{file}");
            assert_eq!(put(&item_url, bytes, content_type).await, 201);
            served.push((file, get(&item_url).await));
        }
        seeded.insert(name, served);
    }
    seeded
}

pub fn seed_photos(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut photos = Vec::new();
    for (index, relative) in [
        "Photos/2024/beach.jpg",
        "Photos/2024/Sommer Ä/sun set.jpg",
        "Photos/cat.JPG",
    ]
    .iter()
    .enumerate()
    {
        let bytes = photo(index as u64, 20_000 + index * 1000);
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        photos.push((relative.to_string(), bytes));
    }
    photos
}

/// `lifeboat restore ARCHIVE --url SERVER --user USER_NAME EXTRA...`.
pub fn restore_as(user: &str, archive: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "restore",
        archive.to_str().unwrap(),
        "--url",
        url,
        "--user",
        user,
    ];
    args.extend_from_slice(extra);
    lifeboat(&args)
}

/// `lifeboat export --url SERVER --user USER_NAME --out OUT`.
pub fn export_as(user: &str, url: &str, out: &Path) -> std::process::Output {
    lifeboat(&[
        "export",
        "--url",
        url,
        "--user",
        user,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// An archive folder's items: collection name → (UID, or path inside the collection for
/// photos) → bytes.
pub fn archived_items(archive: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let manifest = manifest_of(archive);
    let mut items: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for collection in &manifest.collections {
        items.entry(collection.info.name.clone()).or_default();
    }
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
            .unwrap_or_else(|| {
                item.path
                    .strip_prefix(&format!("{}/", collection.path))
                    .unwrap()
                    .to_owned()
            });
        let previous = items
            .entry(collection.info.name.clone())
            .or_default()
            .insert(
                key.clone(),
                std::fs::read(archive.join(&item.path)).unwrap(),
            );
        assert!(
            previous.is_none(),
            "two items with key {key} in {}",
            collection.info.name
        );
    }
    items
}

/// Number of items in a user's Radicale collection (PROPFIND Depth 1), 0 if it does not exist.
pub async fn count_items(server: &Server, user: &str, collection: &str) -> usize {
    let url = format!("{}{user}/{collection}/", server.base_url());
    let response = client()
        .request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), &url)
        .basic_auth(user, Some(PASSWORD))
        .header("Depth", "1")
        .body(r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#)
        .send()
        .await
        .unwrap();
    if response.status().as_u16() == 404 {
        return 0;
    }
    let body = response.text().await.unwrap();
    body.matches("<response>").count().saturating_sub(1)
}

/// Collections (Depth 1 children) of a user's Radicale home; empty if it was never used.
pub async fn home_children(server: &Server, user: &str) -> usize {
    count_items(server, user, "").await
}

/// A fake server on a free port answering every request with `status` and `body`.
pub fn broken_server(status: &'static str, body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(200) {
            let mut stream = stream;
            let mut buffer = [0u8; 65536];
            let _ = stream.read(&mut buffer);
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nDAV: 1, 2, 3, addressbook, calendar-access\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    port
}

/// `lifeboat` with its own config folder, the test password and extra environment, ready to
/// run or spawn (stdout and stderr piped).
pub fn lifeboat_command(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    command
        .args(args)
        .env("LIFEBOAT_CONFIG_DIR", config)
        .env("LIFEBOAT_PASSWORD", PASSWORD)
        .env_remove("LIFEBOAT_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `lifeboat` with its own config folder and the test password.
pub fn lifeboat_in(config: &Path, args: &[&str]) -> std::process::Output {
    lifeboat_command(config, args, &[])
        .output()
        .expect("running lifeboat")
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                found.push(entry.path().strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// The snapshot folders in a profile's destination, oldest first.
pub fn snapshot_names(dest: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dest)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// `profile add nightly --url DAV --user alice --photos-url PHOTOS --dest DEST --every daily`.
pub fn nightly_profile_args(dav: &str, photos: &str, dest: &Path) -> Vec<String> {
    [
        "profile",
        "add",
        "nightly",
        "--url",
        dav,
        "--user",
        USER,
        "--photos-url",
        photos,
        "--dest",
        dest.to_str().unwrap(),
        "--every",
        "daily",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

/// `&str`s of owned arguments, as the runners take them.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The JSON a `--json` run printed.
pub fn json_of(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

/// Sum of one counter over every collection of a `restore --json` summary.
pub fn restore_total(summary: &serde_json::Value, field: &str) -> u64 {
    summary["summary"]["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[field].as_u64().unwrap())
        .sum()
}

pub mod engines;
pub mod faults;
pub mod phone;
pub mod phone_data;
pub mod phone_fixture;
pub mod tls;

/// One file of a generated zip: its path inside the zip and its bytes.
pub type File = (String, Vec<u8>);

/// Writes a zip the way Google Takeout does: photos and videos stored, the rest deflated.
pub fn zip_part(path: &Path, files: &[File]) {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        let method = if name.ends_with(".json") || name.ends_with(".vcf") {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();
}

/// Flips one byte of a zip part inside the stored bytes `inside` (a photo stored, not
/// deflated): that entry then fails its CRC, as a download damaged in transit does.
pub fn damage_inside(part: &Path, inside: &[u8]) {
    let mut bytes = std::fs::read(part).unwrap();
    let at = bytes
        .windows(inside.len())
        .position(|w| w == inside)
        .expect("the stored bytes are in the zip");
    bytes[at] ^= 0x55;
    std::fs::write(part, bytes).unwrap();
}
