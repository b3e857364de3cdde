//! The engines that need a database and a web server of their own: DAViCal (Apache with PHP,
//! PostgreSQL) and SOGo (sogod with PostgreSQL and memcached, behind Apache).

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::{Engine, EngineAccount, not_installed, spawn_in_group};
use crate::support::{OTHER_USER, PASSWORD, USER, free_port, wait_for_port};

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
        crate::support::text(&output.stdout),
        crate::support::text(&output.stderr)
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
    let database = format!(
        "dbname=davical user=davical_app host={} port={pg_port}",
        sock.display()
    );
    let httpd = start_apache(
        &apache,
        http,
        &davical_apache_conf(&apache, http, &database),
    );
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
            crate::support::mkcol_addressbook("Contacts"),
        ),
        (
            "MKCALENDAR",
            &alice.calendar,
            crate::support::mkcalendar("Calendar", &["VEVENT"]),
        ),
        (
            "MKCALENDAR",
            &alice.tasks,
            crate::support::mkcalendar("Tasks", &["VTODO"]),
        ),
    ] {
        let (status, answer) =
            crate::support::request_as(USER, method, url, body.into_bytes(), "application/xml")
                .await;
        assert_eq!(
            status,
            201,
            "{method} {url}: {}",
            crate::support::text(&answer)
        );
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
    apache_conf(
        dir,
        port,
        &[
            ("alias_module", "mod_alias.so"),
            ("dir_module", "mod_dir.so"),
            ("mime_module", "mod_mime.so"),
            ("rewrite_module", "mod_rewrite.so"),
            ("headers_module", "mod_headers.so"),
            ("env_module", "mod_env.so"),
            ("php_module", "libphp8.2.so"),
        ],
        &format!(
            "TypesConfig /etc/mime.types\n\
             <FilesMatch \".+\\.php$\">\n  SetHandler application/x-httpd-php\n</FilesMatch>\n\
             SetEnv LIFEBOAT_PG \"{database}\"\n\
             Include /etc/apache2/sites-available/davical.conf\n"
        ),
    )
}

/// Writes `conf` into `dir` and runs Apache with it until the engine is dropped.
fn start_apache(dir: &Path, port: u16, conf: &str) -> Child {
    std::fs::write(dir.join("httpd.conf"), conf).unwrap();
    let mut httpd = spawn_in_group(
        Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(dir.join("httpd.conf"))
            .arg("-DFOREGROUND"),
        &dir.join("stdout.log"),
    );
    wait_for_port(port, &mut httpd, &dir.join("error.log"));
    httpd
}

/// The part every Apache of ours shares: prefork on `port` at 127.0.0.1, its files in `dir`,
/// these modules, then `body`.
fn apache_conf(dir: &Path, port: u16, modules: &[(&str, &str)], body: &str) -> String {
    let modules: String = [
        ("mpm_prefork_module", "mod_mpm_prefork.so"),
        ("authz_core_module", "mod_authz_core.so"),
    ]
    .iter()
    .chain(modules)
    .map(|(name, file)| format!("LoadModule {name} /usr/lib/apache2/modules/{file}\n"))
    .collect();
    format!(
        "ServerRoot /etc/apache2\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n\
         PidFile {dir}/httpd.pid\nErrorLog {dir}/error.log\nLogLevel warn\n\
         User www-data\nGroup www-data\n{modules}\
         StartServers 2\nMinSpareServers 1\nMaxSpareServers 4\n{body}",
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
    let httpd = start_apache(&apache, http, &sogo_apache_conf(&apache, http, sogo_port));
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
    apache_conf(
        dir,
        port,
        &[
            ("alias_module", "mod_alias.so"),
            ("headers_module", "mod_headers.so"),
            ("proxy_module", "mod_proxy.so"),
            ("proxy_http_module", "mod_proxy_http.so"),
        ],
        &format!(
            "ProxyRequests Off\nProxyPreserveHost On\n\
             ProxyPass /SOGo http://127.0.0.1:{sogo_port}/SOGo retry=0\n\
             <Location /SOGo>\n\
               RequestHeader set \"x-webobjects-server-port\" \"{port}\"\n\
               RequestHeader set \"x-webobjects-server-name\" \"127.0.0.1\"\n\
               RequestHeader set \"x-webobjects-server-url\" \"http://127.0.0.1:{port}\"\n\
               RequestHeader set \"x-webobjects-server-protocol\" \"HTTP/1.0\"\n\
               RequestHeader set \"x-webobjects-remote-host\" \"127.0.0.1\"\n\
             </Location>\n\
             Redirect 301 /.well-known/caldav /SOGo/dav\n\
             Redirect 301 /.well-known/carddav /SOGo/dav\n"
        ),
    )
}
