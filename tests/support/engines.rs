//! The CalDAV/CardDAV engines real providers run, started on loopback with throwaway storage
//! and two users each (alice, bob): Radicale and Xandikos from the test venv, Cyrus IMAP from
//! Debian's packages (`scripts/setup-dav-engines.sh`). Each is stopped on drop.

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

const DAVICAL_DBA: &str = "/usr/share/davical/dba/create-database.sh";
const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A command run as the `postgres` user (PostgreSQL refuses to run as root).
fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--clear-groups",
        "--",
        program,
    ]);
    command
}

fn run_ok(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what}: {}{}",
        super::text(&output.stdout),
        super::text(&output.stderr)
    );
}

/// A PostgreSQL cluster of its own in `base/pg`, its socket in `base/sock` (and on
/// 127.0.0.1 too when `tcp`): the child, the socket folder and the port.
fn start_postgres(base: &Path, tcp: bool) -> (Child, std::path::PathBuf, u16) {
    let port = free_port();
    for sub in ["pg", "sock"] {
        std::fs::create_dir_all(base.join(sub)).unwrap();
    }
    // Other users' workers (Apache's, SOGo's) reach the socket through this folder.
    run_ok(
        Command::new("chmod").args(["755"]).arg(base),
        "chmod the engine folder",
    );
    run_ok(
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(base.join("pg"))
            .arg(base.join("sock")),
        "chown the database folders",
    );
    run_ok(
        as_postgres(&format!("{POSTGRES_BIN}/initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(base.join("pg")),
        "initdb",
    );
    let log = base.join("postgres.log");
    let sock = base.join("sock");
    let listen = if tcp {
        "listen_addresses=127.0.0.1"
    } else {
        "listen_addresses="
    };
    let mut postgres = spawn_in_group(
        as_postgres(&format!("{POSTGRES_BIN}/postgres"))
            .arg("-D")
            .arg(base.join("pg"))
            .arg("-k")
            .arg(&sock)
            .args(["-p", &port.to_string(), "-c", listen]),
        &log,
    );
    let socket = sock.join(format!(".s.PGSQL.{port}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "PostgreSQL did not start");
        if let Ok(Some(status)) = postgres.try_wait() {
            panic!(
                "PostgreSQL exited with {status}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The socket appears a little before connections are taken.
    std::thread::sleep(Duration::from_millis(500));
    (postgres, sock, port)
}

/// `psql` as `user` on the cluster at `sock`/`port`.
fn psql(sock: &Path, port: u16, user: &str, database: &str, sql: &str) {
    run_ok(
        as_postgres(&format!("{POSTGRES_BIN}/psql"))
            .args(["-qXAt", "-U", user, database, "-c", sql])
            .env("PGHOST", sock)
            .env("PGPORT", port.to_string()),
        &format!("psql {sql}"),
    );
}

/// DAViCal 1.1 (Apache with PHP, PostgreSQL): its own database cluster and Apache in a
/// folder of their own; the two users are made by SQL (a `**` password is a plain one), and
/// alice's address book, calendar and task list by MKCOL/MKCALENDAR (DAViCal makes none).
pub async fn davical() -> Option<Engine> {
    if !Path::new(DAVICAL_DBA).exists() || !Path::new(DAVICAL_CONF).exists() {
        return not_installed("DAViCal");
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let http = free_port();
    let (postgres, sock, pg_port) = start_postgres(base, false);
    std::fs::create_dir_all(base.join("apache")).unwrap();
    let pg_env = [
        ("PGHOST", sock.display().to_string()),
        ("PGPORT", pg_port.to_string()),
    ];
    run_ok(
        as_postgres(DAVICAL_DBA)
            .args(["davical", "admin-password"])
            .envs(pg_env.clone())
            .current_dir("/tmp"),
        "DAViCal's create-database.sh",
    );
    let quoted = PASSWORD.replace('\'', "''");
    let sql: String = [USER, OTHER_USER]
        .iter()
        .map(|user| {
            format!(
                "INSERT INTO usr (active,email_ok,updated,username,password,fullname,email) VALUES \
                 (TRUE,current_date,current_date,'{user}','**{quoted}','{user}','{user}@example.org');\
                 INSERT INTO principal (type_id,user_no,displayname,default_privileges) \
                 SELECT 1,user_no,fullname,0::BIT(24) FROM usr WHERE username='{user}';"
            )
        })
        .collect();
    psql(&sock, pg_port, "postgres", "davical", &sql);
    let apache = base.join("apache");
    std::fs::write(
        apache.join("httpd.conf"),
        davical_apache_conf(
            &apache,
            http,
            &format!(
                "dbname=davical user=davical_app host={} port={pg_port}",
                sock.display()
            ),
        ),
    )
    .unwrap();
    let log = apache.join("error.log");
    let mut httpd = spawn_in_group(
        Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(apache.join("httpd.conf"))
            .arg("-DFOREGROUND"),
        &apache.join("stdout.log"),
    );
    wait_for_port(http, &mut httpd, &log);
    let root = format!("http://127.0.0.1:{http}/");
    let accounts = [USER, OTHER_USER].map(|user| {
        let dav = format!("{root}davical/caldav.php/{user}/");
        EngineAccount {
            user,
            addressbook: format!("{dav}addresses/"),
            calendar: format!("{dav}calendar/"),
            tasks: format!("{dav}tasks/"),
            dav,
            root: root.clone(),
        }
    });
    let alice = &accounts[0];
    for (method, url, body) in [
        (
            "MKCOL",
            &alice.addressbook,
            super::mkcol_addressbook("Contacts"),
        ),
        (
            "MKCALENDAR",
            &alice.calendar,
            super::mkcalendar("Calendar", &["VEVENT"]),
        ),
        (
            "MKCALENDAR",
            &alice.tasks,
            super::mkcalendar("Tasks", &["VTODO"]),
        ),
    ] {
        let (status, answer) =
            super::request_as(USER, method, url, body.into_bytes(), "application/xml").await;
        assert_eq!(status, 201, "{method} {url}: {}", super::text(&answer));
    }
    Some(Engine {
        name: "DAViCal 1.1",
        accounts,
        children: vec![httpd, postgres],
        _servers: Vec::new(),
        _dirs: vec![dir],
    })
}

/// Written by `scripts/setup-dav-engines.sh`: DAViCal's configuration for requests to
/// 127.0.0.1, taking the database from the `LIFEBOAT_PG` variable Apache sets.
const DAVICAL_CONF: &str = "/etc/davical/127.0.0.1-conf.php";

/// An Apache of our own: prefork with PHP, DAViCal's site (its `/.well-known` rewrites too).
fn davical_apache_conf(dir: &Path, port: u16, database: &str) -> String {
    let modules = [
        ("mpm_prefork_module", "mod_mpm_prefork.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("alias_module", "mod_alias.so"),
        ("dir_module", "mod_dir.so"),
        ("mime_module", "mod_mime.so"),
        ("rewrite_module", "mod_rewrite.so"),
        ("headers_module", "mod_headers.so"),
        ("env_module", "mod_env.so"),
        ("php_module", "libphp8.2.so"),
    ]
    .map(|(name, file)| format!("LoadModule {name} /usr/lib/apache2/modules/{file}\n"))
    .concat();
    format!(
        "ServerRoot /etc/apache2\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n\
         PidFile {dir}/httpd.pid\nErrorLog {dir}/error.log\nLogLevel warn\n\
         User www-data\nGroup www-data\n{modules}TypesConfig /etc/mime.types\n\
         <FilesMatch \".+\\.php$\">\n  SetHandler application/x-httpd-php\n</FilesMatch>\n\
         StartServers 2\nMinSpareServers 1\nMaxSpareServers 4\n\
         SetEnv LIFEBOAT_PG \"{database}\"\n\
         Include /etc/apache2/sites-available/davical.conf\n",
        dir = dir.display()
    )
}

const SOGOD: &str = "/usr/sbin/sogod";

/// SOGo 5.8 as providers deploy it: sogod (its settings given as arguments, so the
/// system's `/etc/sogo/sogo.conf` is not touched) with its own PostgreSQL and memcached,
/// behind an Apache of its own that proxies `/SOGo` and redirects `/.well-known` to the DAV
/// root (SOGo's installation guide). SOGo makes each user's personal calendar and address
/// book on first access; its to-dos go into the personal calendar.
pub fn sogo() -> Option<Engine> {
    if !Path::new(SOGOD).exists() || !Path::new("/usr/bin/memcached").exists() {
        return not_installed("SOGo");
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let (postgres, sock, pg_port) = start_postgres(base, true);
    psql(
        &sock,
        pg_port,
        "postgres",
        "template1",
        "CREATE ROLE sogo LOGIN PASSWORD 'sogo'",
    );
    psql(
        &sock,
        pg_port,
        "postgres",
        "template1",
        "CREATE DATABASE sogo OWNER sogo",
    );
    let quoted = PASSWORD.replace('\'', "''");
    psql(
        &sock,
        pg_port,
        "sogo",
        "sogo",
        &format!(
            "CREATE TABLE sogo_users (c_uid varchar(128) PRIMARY KEY, c_name varchar(128), \
             c_password varchar(256), c_cn varchar(128), mail varchar(128)); \
             INSERT INTO sogo_users VALUES ('{USER}','{USER}','{quoted}','{USER}','{USER}@example.org'), \
             ('{OTHER_USER}','{OTHER_USER}','{quoted}','{OTHER_USER}','{OTHER_USER}@example.org');"
        ),
    );
    let memcached_port = free_port();
    let mut memcached = spawn_in_group(
        Command::new("/usr/bin/memcached").args([
            "-u",
            "memcache",
            "-l",
            "127.0.0.1",
            "-p",
            &memcached_port.to_string(),
        ]),
        &base.join("memcached.log"),
    );
    wait_for_port(memcached_port, &mut memcached, &base.join("memcached.log"));
    let home = base.join("sogo-home");
    std::fs::create_dir_all(&home).unwrap();
    run_ok(
        Command::new("chown").args(["sogo:sogo"]).arg(&home),
        "chown SOGo's home",
    );
    let database = format!("postgresql://sogo:sogo@127.0.0.1:{pg_port}/sogo");
    let sogo_port = free_port();
    let log = base.join("sogo.log");
    let mut sogod = spawn_in_group(
        Command::new("setpriv")
            .args([
                "--reuid=sogo",
                "--regid=sogo",
                "--clear-groups",
                "--",
                SOGOD,
            ])
            .env("HOME", &home)
            .env("GNUSTEP_USER_ROOT", home.join("GNUstep"))
            .args([
                "-WONoDetach",
                "YES",
                "-WOWorkersCount",
                "2",
                "-WOLogFile",
                "-",
            ])
            .arg("-WOPidFile")
            .arg(home.join("sogo.pid"))
            .args(["-WOPort", &format!("127.0.0.1:{sogo_port}")])
            .args(["-SOGoProfileURL", &format!("{database}/sogo_user_profile")])
            .args(["-OCSFolderInfoURL", &format!("{database}/sogo_folder_info")])
            .args([
                "-OCSSessionsFolderURL",
                &format!("{database}/sogo_sessions_folder"),
            ])
            .args([
                "-OCSEMailAlarmsFolderURL",
                &format!("{database}/sogo_alarms_folder"),
            ])
            .args(["-SOGoMemcachedHost", &format!("127.0.0.1:{memcached_port}")])
            .args(["-SOGoTimeZone", "UTC"])
            .arg("-SOGoUserSources")
            .arg(format!(
                "({{type = sql; id = users; viewURL = \"{database}/sogo_users\"; \
                 canAuthenticate = YES; isAddressBook = NO; userPasswordAlgorithm = plain;}})"
            )),
        &log,
    );
    wait_for_port(sogo_port, &mut sogod, &log);
    let http = free_port();
    let apache = base.join("apache");
    std::fs::create_dir_all(&apache).unwrap();
    std::fs::write(
        apache.join("httpd.conf"),
        sogo_apache_conf(&apache, http, sogo_port),
    )
    .unwrap();
    let mut httpd = spawn_in_group(
        Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(apache.join("httpd.conf"))
            .arg("-DFOREGROUND"),
        &apache.join("stdout.log"),
    );
    wait_for_port(http, &mut httpd, &apache.join("error.log"));
    let root = format!("http://127.0.0.1:{http}/");
    let accounts = [USER, OTHER_USER].map(|user| {
        let dav = format!("{root}SOGo/dav/{user}/");
        EngineAccount {
            user,
            addressbook: format!("{dav}Contacts/personal/"),
            calendar: format!("{dav}Calendar/personal/"),
            tasks: format!("{dav}Calendar/personal/"),
            dav,
            root: root.clone(),
        }
    });
    Some(Engine {
        name: "SOGo 5.8",
        accounts,
        children: vec![httpd, sogod, memcached, postgres],
        _servers: Vec::new(),
        _dirs: vec![dir],
    })
}

/// Apache in front of sogod, as SOGo's installation guide sets it up.
fn sogo_apache_conf(dir: &Path, port: u16, sogo_port: u16) -> String {
    let modules = [
        ("mpm_prefork_module", "mod_mpm_prefork.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("alias_module", "mod_alias.so"),
        ("headers_module", "mod_headers.so"),
        ("proxy_module", "mod_proxy.so"),
        ("proxy_http_module", "mod_proxy_http.so"),
    ]
    .map(|(name, file)| format!("LoadModule {name} /usr/lib/apache2/modules/{file}\n"))
    .concat();
    format!(
        "ServerRoot /etc/apache2\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n\
         PidFile {dir}/httpd.pid\nErrorLog {dir}/error.log\nLogLevel warn\n\
         User www-data\nGroup www-data\n{modules}\
         StartServers 2\nMinSpareServers 1\nMaxSpareServers 4\n\
         ProxyRequests Off\nProxyPreserveHost On\n\
         ProxyPass /SOGo http://127.0.0.1:{sogo_port}/SOGo retry=0\n\
         <Location /SOGo>\n\
           RequestHeader set \"x-webobjects-server-port\" \"{port}\"\n\
           RequestHeader set \"x-webobjects-server-name\" \"127.0.0.1\"\n\
           RequestHeader set \"x-webobjects-server-url\" \"http://127.0.0.1:{port}\"\n\
           RequestHeader set \"x-webobjects-server-protocol\" \"HTTP/1.0\"\n\
           RequestHeader set \"x-webobjects-remote-host\" \"127.0.0.1\"\n\
         </Location>\n\
         Redirect 301 /.well-known/caldav /SOGo/dav\n\
         Redirect 301 /.well-known/carddav /SOGo/dav\n",
        dir = dir.display()
    )
}
