//! The CalDAV/CardDAV engines real providers run, started on loopback with throwaway storage
//! and two users each (alice, bob): Radicale and Xandikos from the test venv, Cyrus IMAP from
//! Debian's packages (`scripts/setup-dav-engines.sh`); DAViCal and SOGo, which need a database
//! and a web server of their own, in `engines/web.rs`. Each is stopped on drop.

#![allow(clippy::print_stdout)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{OTHER_USER, PASSWORD, Server, USER, free_port, venv_bin, wait_for_port};

/// One user's account on an engine.
#[derive(Debug, Clone)]
pub struct EngineAccount {
    pub user: &'static str,
    /// `http://127.0.0.1:PORT/`: the bare root a person might type.
    pub root: String,
    /// The DAV address a provider's help page gives.
    pub dav: String,
    pub addressbook: String,
    pub calendar: String,
    /// Where to-dos go: a task list where the engine has one, else the calendar.
    pub tasks: String,
}

impl EngineAccount {
    /// `127.0.0.1:PORT`, without a scheme, as people type it.
    pub fn host_port(&self) -> String {
        self.root
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }
}

/// A running engine: its accounts and what must be stopped afterwards.
pub struct Engine {
    pub name: &'static str,
    pub accounts: [EngineAccount; 2],
    children: Vec<Child>,
    _servers: Vec<Server>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for child in &mut self.children {
            // Each engine runs in its own process group: its workers go with it. Never
            // through `kill -KILL -PID`: procps-ng 4.0.2 (Debian 12) reads `-12345` as `-1`
            // and kills every process on the machine.
            if let Some(group) = i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An engine that is not installed: a note, or under `CI=true` a failure (never skipped).
fn not_installed(name: &str) -> Option<Engine> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{name} is not installed; scripts/setup-dav-engines.sh installs it"
    );
    println!("note: {name} is not installed (scripts/setup-dav-engines.sh, as root); skipped");
    None
}

fn spawn_in_group(command: &mut Command, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"))
}

/// Radicale, as the other tests run it, with each user's collections made.
pub async fn radicale() -> Engine {
    let server = Server::radicale();
    let root = server.base_url();
    let mut accounts = Vec::new();
    for user in [USER, OTHER_USER] {
        let base = format!("{root}{user}/");
        if user == USER {
            for (name, body) in [
                ("contacts", super::mkcol_addressbook("Contacts")),
                ("calendar", super::mkcalendar("Calendar", &["VEVENT"])),
                ("tasks", super::mkcalendar("Tasks", &["VTODO"])),
            ] {
                let method = if name == "contacts" {
                    "MKCOL"
                } else {
                    "MKCALENDAR"
                };
                let url = format!("{base}{name}/");
                let (status, _) =
                    super::request_as(user, method, &url, body.into_bytes(), "application/xml")
                        .await;
                assert_eq!(status, 201, "{method} {url}");
            }
        }
        accounts.push(EngineAccount {
            user,
            root: root.clone(),
            dav: base.clone(),
            addressbook: format!("{base}contacts/"),
            calendar: format!("{base}calendar/"),
            tasks: format!("{base}tasks/"),
        });
    }
    Engine {
        name: "Radicale 3.9",
        accounts: accounts.try_into().unwrap(),
        children: Vec::new(),
        _servers: vec![server],
        _dirs: Vec::new(),
    }
}

/// Xandikos: one server per user (it has no users of its own; `--defaults` makes a
/// calendar and an address book under `/user/`).
pub fn xandikos() -> Option<Engine> {
    let binary = venv_bin("xandikos");
    if !binary.exists() {
        return not_installed("Xandikos");
    }
    let mut children = Vec::new();
    let mut dirs = Vec::new();
    let mut accounts = Vec::new();
    for user in [USER, OTHER_USER] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("xandikos.log");
        let mut child = spawn_in_group(
            Command::new(&binary)
                .args(["serve", "--defaults", "-l", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .arg("-d")
                .arg(dir.path().join("data")),
            &log,
        );
        wait_for_port(port, &mut child, &log);
        let root = format!("http://127.0.0.1:{port}/");
        accounts.push(EngineAccount {
            user,
            dav: format!("{root}user/"),
            addressbook: format!("{root}user/contacts/addressbook/"),
            calendar: format!("{root}user/calendars/calendar/"),
            tasks: format!("{root}user/calendars/calendar/"),
            root,
        });
        children.push(child);
        dirs.push(dir);
    }
    Some(Engine {
        name: "Xandikos 0.4",
        accounts: accounts.try_into().unwrap(),
        children,
        _servers: Vec::new(),
        _dirs: dirs,
    })
}

const CYRUS_MASTER: &str = "/usr/lib/cyrus/bin/master";

/// Cyrus IMAP 3.6 with its CalDAV/CardDAV modules (Fastmail's engine), in a folder of its
/// own: its own configuration, mail spool, SASL database and ports.
pub fn cyrus() -> Option<Engine> {
    if !Path::new(CYRUS_MASTER).exists() {
        return not_installed("Cyrus IMAP");
    }
    let dir = tempfile::tempdir().unwrap();
    let root_dir = dir.path();
    let (http, imap) = (free_port(), free_port());
    for sub in [
        "conf",
        "spool",
        "sieve",
        "run/socket",
        "run/lock",
        "run/proc",
    ] {
        std::fs::create_dir_all(root_dir.join(sub)).unwrap();
    }
    let at = |p: &str| root_dir.join(p).display().to_string();
    let config = format!(
        "configdirectory: {conf}\ndefaultpartition: default\npartition-default: {spool}\n\
         proc_path: {proc}\nmboxname_lockpath: {lock}\nlmtpsocket: {sock}/lmtp\n\
         idlesocket: {sock}/idle\nnotifysocket: {sock}/notify\nsievedir: {sieve}\n\
         httpmodules: caldav carddav\nallowplaintext: yes\nsasl_pwcheck_method: auxprop\n\
         sasl_auxprop_plugin: sasldb\nsasl_sasldb_path: {sasldb}\nsasl_mech_list: PLAIN LOGIN\n\
         admins: cyrus\nservername: localhost\nautocreate_post: yes\nautocreate_quota: 0\n\
         caldav_create_default: yes\ncarddav_create_default: yes\nhashimapspool: true\n\
         unixhierarchysep: no\naltnamespace: no\n",
        conf = at("conf"),
        spool = at("spool"),
        proc = at("run/proc"),
        lock = at("run/lock"),
        sock = at("run/socket"),
        sieve = at("sieve"),
        sasldb = at("sasldb2"),
    );
    let imapd_conf = at("imapd.conf");
    std::fs::write(&imapd_conf, config).unwrap();
    std::fs::write(
        root_dir.join("cyrus.conf"),
        format!(
            "START {{\n  recover cmd=\"ctl_cyrusdb -C {imapd_conf} -r\"\n}}\nSERVICES {{\n  \
             imap cmd=\"imapd -C {imapd_conf} -U 30\" listen=\"127.0.0.1:{imap}\" prefork=0 maxchild=10\n  \
             http cmd=\"httpd -C {imapd_conf} -U 30\" listen=\"127.0.0.1:{http}\" prefork=0 maxchild=10\n}}\n\
             EVENTS {{\n}}\nDAEMON {{\n}}\n"
        ),
    )
    .unwrap();
    for user in ["cyrus", USER, OTHER_USER] {
        let mut add = Command::new("saslpasswd2")
            .args(["-f", &at("sasldb2"), "-p", "-c", "-u", "localhost", user])
            .stdin(Stdio::piped())
            .spawn()
            .expect("saslpasswd2 (sasl2-bin)");
        add.stdin
            .take()
            .unwrap()
            .write_all(PASSWORD.as_bytes())
            .unwrap();
        assert!(add.wait().unwrap().success(), "saslpasswd2 {user}");
    }
    let owned = Command::new("chown")
        .args(["-R", "cyrus:mail"])
        .arg(root_dir)
        .status()
        .unwrap();
    assert!(owned.success(), "chown cyrus:mail");
    let log = root_dir.join("master.log");
    let mut child = spawn_in_group(
        Command::new(CYRUS_MASTER)
            .args(["-D", "-C", &imapd_conf, "-M", &at("cyrus.conf"), "-p"])
            .arg(at("run/master.pid")),
        &log,
    );
    wait_for_port(imap, &mut child, &log);
    wait_for_port(http, &mut child, &log);
    imap_create_users(imap, &[USER, OTHER_USER]);
    let root = format!("http://127.0.0.1:{http}/");
    let accounts = [USER, OTHER_USER].map(|user| EngineAccount {
        user,
        dav: format!("{root}dav/"),
        addressbook: format!("{root}dav/addressbooks/user/{user}/Default/"),
        calendar: format!("{root}dav/calendars/user/{user}/Default/"),
        tasks: format!("{root}dav/calendars/user/{user}/Default/"),
        root: root.clone(),
    });
    Some(Engine {
        name: "Cyrus IMAP 3.6",
        accounts,
        children: vec![child],
        _servers: Vec::new(),
        _dirs: vec![dir],
    })
}

/// Creates each user's mailbox as the admin (`CREATE user.NAME`); their DAV homes and
/// default collections appear on first access.
fn imap_create_users(port: u16, users: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for Cyrus IMAP: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("Cyrus IMAP: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let quoted = PASSWORD.replace('"', "\\\"");
    let mut commands = vec![format!("a0 LOGIN cyrus \"{quoted}\"")];
    commands.extend(
        users
            .iter()
            .enumerate()
            .map(|(i, user)| format!("a{} CREATE user.{user}", i + 1)),
    );
    for (index, command) in commands.iter().enumerate() {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        let tag = format!("a{index} ");
        loop {
            line.clear();
            assert!(reader.read_line(&mut line).unwrap() > 0, "IMAP closed");
            if line.starts_with(&tag) {
                assert!(line[tag.len()..].starts_with("OK"), "{command}: {line}");
                break;
            }
        }
    }
}

mod web;
#[allow(unused_imports)] // Only tests/engines.rs starts them.
pub use web::{davical, sogo};
