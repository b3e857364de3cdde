//! What the app remembers between runs — accounts and backup settings — in the platform's
//! config directory. Versioned and tolerant: fields added later default, older files load.
//! Never holds a password; those live in [`crate::secrets`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::schedule::profile::Profile;

/// 2: profiles refer to accounts by id (version 1 kept a copy of each account in the profile).
pub const CONFIG_VERSION: u32 = 2;
pub const CONFIG_FILE: &str = "config.json";
/// Overrides the config directory (tests, portable installs).
pub const CONFIG_DIR_ENV: &str = "LIFEBOAT_CONFIG_DIR";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub version: u32,
    pub accounts: Vec<Account>,
    /// Where backups go unless the user picks another place.
    pub backup_folder: Option<PathBuf>,
    /// Write backups as one `.zip` instead of a folder.
    pub backup_as_zip: bool,
    /// Scheduled backups.
    pub profiles: Vec<Profile>,
}

impl Config {
    /// The backup profile called `name`.
    pub fn profile(&self, name: &str) -> Result<&Profile> {
        self.profiles.iter().find(|p| p.name == name).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("there is no backup profile named {name:?}; `lifeboat profile list` shows them"),
            )
        })
    }

    /// Each of `profile`'s accounts as the settings hold it now, with its chosen
    /// collections; ids no longer in the account list (an account removed in the window) are
    /// returned apart, so that a run can report them instead of quietly backing up less.
    pub fn accounts_of<'a>(
        profile: &'a Profile,
        accounts: &'a [Account],
    ) -> (Vec<(&'a Account, &'a [Href])>, Vec<&'a str>) {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for chosen in &profile.accounts {
            match accounts.iter().find(|a| a.id == chosen.account) {
                Some(account) => found.push((account, chosen.collections.as_slice())),
                None => missing.push(chosen.account.as_str()),
            }
        }
        (found, missing)
    }
}

/// Versions 0 and 1 kept a whole account inside each profile: each moves into the account
/// list (unless an account with its id is there) and the profile keeps its id.
fn move_profile_accounts(config: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(object) = config.as_object_mut() else {
        return;
    };
    let mut moved: Vec<Value> = Vec::new();
    if let Some(profiles) = object.get_mut("profiles").and_then(Value::as_array_mut) {
        for chosen in profiles
            .iter_mut()
            .filter_map(|p| p.get_mut("accounts")?.as_array_mut())
            .flatten()
        {
            let Some(fields) = chosen.as_object_mut() else {
                continue;
            };
            if fields.contains_key("account") || !fields.contains_key("id") {
                continue;
            }
            let collections = fields
                .remove("collections")
                .unwrap_or(Value::Array(Vec::new()));
            let account = Value::Object(std::mem::take(fields));
            let id = account.get("id").cloned().unwrap_or_default();
            fields.insert("account".to_owned(), id);
            fields.insert("collections".to_owned(), collections);
            moved.push(account);
        }
    }
    if moved.is_empty() {
        return;
    }
    let accounts = object
        .entry("accounts")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(accounts) = accounts.as_array_mut() {
        for account in moved {
            if !accounts.iter().any(|a| a.get("id") == account.get("id")) {
                accounts.push(account);
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            accounts: Vec::new(),
            backup_folder: None,
            backup_as_zip: false,
            profiles: Vec::new(),
        }
    }
}

/// What kind of place an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// CalDAV/CardDAV: contacts, calendars, to-dos.
    Dav,
    /// A WebDAV folder of photos.
    Photos,
    /// A folder on this computer (a mounted phone, an SD card, an old export).
    Folder,
    /// An Android phone over USB, read through the adb server; the address is its serial
    /// number, or empty for "the one phone connected".
    Android,
}

/// How to make an Android phone readable, step by step, as the phone's screens name them.
pub const ANDROID_STEPS: &str = "Contacts, calendars and photos come straight from the phone over its USB cable; nothing is installed on it.\n\
1. On the phone, open Settings → About phone, and tap \"Build number\" seven times, until it says you are a developer.\n\
2. Go back to Settings → System → Developer options, and switch on \"USB debugging\".\n\
3. Plug the phone into this computer and unlock it.\n\
4. The phone asks \"Allow USB debugging?\": tap Allow (tick \"Always allow from this computer\" for scheduled backups).";

/// The choices offered by "Add account", each with what the user needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    Nextcloud,
    Icloud,
    Fastmail,
    MailboxOrg,
    OtherDav,
    WebdavPhotos,
    Folder,
    Android,
}

impl Preset {
    pub const ALL: [Self; 8] = [
        Self::Nextcloud,
        Self::Icloud,
        Self::Fastmail,
        Self::MailboxOrg,
        Self::OtherDav,
        Self::WebdavPhotos,
        Self::Folder,
        Self::Android,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Nextcloud => "Nextcloud",
            Self::Icloud => "iCloud",
            Self::Fastmail => "Fastmail",
            Self::MailboxOrg => "mailbox.org",
            Self::OtherDav => "Radicale, Baïkal or another CalDAV/CardDAV server",
            Self::WebdavPhotos => "A WebDAV photo folder",
            Self::Folder => "A phone or folder on this computer",
            Self::Android => "Phone (Android, over USB)",
        }
    }

    /// What the user needs before filling in the form.
    pub fn help(self) -> &'static str {
        match self {
            Self::Nextcloud => {
                "Your Nextcloud address, user name and an app password (Settings → Security → Devices & sessions)."
            }
            Self::Icloud => {
                "Your Apple ID e-mail and an app-specific password: make one at https://account.apple.com under Sign-In and Security → App-Specific Passwords. Your normal Apple ID password will not work."
            }
            Self::Fastmail => {
                "Your Fastmail address and an app password with CalDAV and CardDAV access (Settings → Privacy & Security → App passwords)."
            }
            Self::MailboxOrg => "Your mailbox.org address and password (or an app password).",
            Self::OtherDav => {
                "The server's address (e.g. https://dav.example.org/), your user name and password."
            }
            Self::WebdavPhotos => {
                "The address of the folder that holds your photos (e.g. Nextcloud's …/remote.php/dav/files/USER/Photos/), your user name and password."
            }
            Self::Folder => {
                "A folder with .vcf, .ics or photo files: a phone mounted over USB, an SD card, or an old export."
            }
            Self::Android => ANDROID_STEPS,
        }
    }

    /// The address to start from; empty when only the user knows it.
    pub fn default_address(self) -> &'static str {
        match self {
            Self::Icloud => "https://contacts.icloud.com",
            Self::Fastmail => "https://carddav.fastmail.com",
            Self::MailboxOrg => "https://dav.mailbox.org",
            Self::Nextcloud
            | Self::OtherDav
            | Self::WebdavPhotos
            | Self::Folder
            | Self::Android => "",
        }
    }

    pub fn kind(self) -> AccountKind {
        match self {
            Self::WebdavPhotos => AccountKind::Photos,
            Self::Folder => AccountKind::Folder,
            Self::Android => AccountKind::Android,
            _ => AccountKind::Dav,
        }
    }
}

/// One place the user's data lives. The password is in the keyring under [`Account::id`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    /// Stable key for the keyring and for references from other settings.
    pub id: String,
    pub name: String,
    pub preset: Preset,
    /// A URL, or a folder path for [`Preset::Folder`].
    pub address: String,
    pub user: String,
    /// A PEM file with a CA to trust besides the system's, for a server with a certificate
    /// of its own (a self-hosted Nextcloud, a home Radicale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for Account {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            preset: Preset::OtherDav,
            address: String::new(),
            user: String::new(),
            ca_file: None,
        }
    }
}

impl Account {
    pub fn kind(&self) -> AccountKind {
        self.preset.kind()
    }

    /// Whether a password is needed to reach this account.
    pub fn needs_password(&self) -> bool {
        matches!(self.kind(), AccountKind::Dav | AccountKind::Photos) && !self.user.is_empty()
    }
}

impl Config {
    /// The directory the config lives in: `$LIFEBOAT_CONFIG_DIR`, else the platform's.
    pub fn dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV) {
            return Some(PathBuf::from(dir));
        }
        directories::ProjectDirs::from("org", "Lifeboat", "Lifeboat")
            .map(|dirs| dirs.config_dir().to_path_buf())
    }

    /// Loads `path`; a missing file is a fresh config. Unknown fields are ignored and missing
    /// ones take their defaults, so files from older and newer versions load.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::io("reading the settings", path, e)),
        };
        let invalid = |e| {
            Error::with_source(
                ErrorKind::InvalidData,
                format!("the settings file is not valid JSON: {}", path.display()),
                e,
            )
        };
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(invalid)?;
        move_profile_accounts(&mut value);
        let mut config: Self = serde_json::from_value(value).map_err(invalid)?;
        config.version = config.version.max(CONFIG_VERSION);
        Ok(config)
    }

    /// Writes atomically (temporary file, then rename), so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("creating the settings folder", dir, e))?;
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::with_source(ErrorKind::Io, "could not encode the settings", e))?;
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::io("writing the settings", dir, e))?;
        std::io::Write::write_all(&mut file, &json)
            .map_err(|e| Error::io("writing the settings", path, e))?;
        file.persist(path)
            .map_err(|e| Error::io("writing the settings", path, e.error))?;
        Ok(())
    }

    /// A new account id not used by any account yet.
    pub fn new_account_id(&self, name: &str) -> String {
        let stem: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(24)
            .collect::<String>()
            .to_ascii_lowercase();
        let stem = if stem.is_empty() {
            "account".to_owned()
        } else {
            stem
        };
        (1..)
            .map(|n| {
                if n == 1 {
                    stem.clone()
                } else {
                    format!("{stem}-{n}")
                }
            })
            .find(|id| !self.accounts.iter().any(|a| &a.id == id))
            .unwrap_or(stem)
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

/// Where backups go by default: `Documents/Lifeboat backups`, else the home folder.
pub fn default_backup_folder() -> PathBuf {
    let base = directories::UserDirs::new().map(|dirs| {
        dirs.document_dir()
            .map_or_else(|| dirs.home_dir().to_path_buf(), Path::to_path_buf)
    });
    base.unwrap_or_else(|| PathBuf::from("."))
        .join("Lifeboat backups")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_missing_file_is_a_fresh_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&dir.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn older_and_newer_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        // A file without a version and with fewer fields (as version 0 wrote them).
        std::fs::write(
            &path,
            r#"{"accounts":[{"id":"home","name":"Home","preset":"other-dav","address":"http://127.0.0.1:5232/"}]}"#,
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.version, CONFIG_VERSION);
        assert_eq!(config.accounts[0].user, "");
        assert_eq!(config.accounts[0].preset, Preset::OtherDav);
        // A newer file with fields this version does not know.
        std::fs::write(
            &path,
            r#"{"version":7,"accounts":[],"backup_as_zip":true,"future":[{"x":1}]}"#,
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert!(config.backup_as_zip);
    }

    #[test]
    fn a_version_1_profile_gives_its_accounts_to_the_account_list_and_keeps_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        // As version 1 wrote it: a copy of each account inside the profile, one of them also
        // in the account list (made in the window), one only in the profile (the CLI's).
        std::fs::write(
            &path,
            r#"{"version":1,
                "accounts":[{"id":"home","name":"Home","preset":"other-dav","address":"http://127.0.0.1:5232/","user":"ann"}],
                "profiles":[{"name":"nightly","destination":"/backups/nightly","every":"daily","at":"02:30",
                  "accounts":[
                    {"id":"home","name":"Home","preset":"other-dav","address":"http://127.0.0.1:5232/","user":"ann","collections":["/ann/contacts/"]},
                    {"id":"profile-nightly-2","name":"nightly 2","preset":"folder","address":"/media/phone","user":""}]}]}"#,
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.version, CONFIG_VERSION);
        let ids: Vec<&str> = config.accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["home", "profile-nightly-2"]);
        assert_eq!(config.accounts[1].address, "/media/phone");
        assert_eq!(config.accounts[1].preset, Preset::Folder);
        let profile = config.profile("nightly").unwrap();
        let chosen: Vec<(&str, Vec<&str>)> = profile
            .accounts
            .iter()
            .map(|c| {
                (
                    c.account.as_str(),
                    c.collections.iter().map(|h| h.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            chosen,
            [
                ("home", vec!["/ann/contacts/"]),
                ("profile-nightly-2", vec![])
            ]
        );
        // Saved and loaded again, it stays the same.
        config.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), config);
    }

    #[test]
    fn save_then_load_round_trips_and_holds_no_password_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(CONFIG_FILE);
        let mut config = Config::default();
        let id = config.new_account_id("My Nextcloud!");
        config.accounts.push(Account {
            id: id.clone(),
            name: "My Nextcloud!".into(),
            preset: Preset::Nextcloud,
            address: "https://cloud.example.org".into(),
            user: "ann".into(),
            ca_file: Some("/etc/ssl/home-ca.pem".into()),
        });
        assert_eq!(config.new_account_id("My Nextcloud!"), format!("{id}-2"));
        config.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), config);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("password"), "{text}");
    }

    #[test]
    fn a_broken_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "{not json").unwrap();
        let error = Config::load(&path).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidData);
    }
}
