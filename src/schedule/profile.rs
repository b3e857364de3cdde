//! Backup profiles: which accounts and collections, where to, how often, and how many
//! snapshots to keep. Stored in the app's config; the CLI and the window edit the same list.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::schedule::policy::Every;
use crate::schedule::retention::Retention;

/// A share of a collection's items that, gone since the last run, is called a sudden drop.
pub const DEFAULT_DROP_PERCENT: u32 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Letters, digits, `-` and `_`: it names files, keyring entries and OS scheduler jobs.
    pub name: String,
    pub accounts: Vec<ProfileAccount>,
    /// The folder that holds one dated snapshot folder per run.
    pub destination: PathBuf,
    #[serde(flatten)]
    pub every: Every,
    #[serde(default)]
    pub retention: Retention,
    /// A collection losing more than this share of its items since the last run is flagged.
    #[serde(default = "default_drop_percent")]
    pub drop_percent: u32,
    /// Whether the open app runs it when due (the OS scheduler is installed separately).
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn default_drop_percent() -> u32 {
    DEFAULT_DROP_PERCENT
}

fn enabled() -> bool {
    true
}

/// One account of a profile, with the collections to back up (hrefs; empty means all).
/// The account itself is the one in the settings' list, so editing it there (a new address,
/// a CA file) is what the next scheduled run uses; its password is in the keyring under its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileAccount {
    /// The id of an account in the settings' account list ([`crate::config::Config::accounts`]).
    pub account: String,
    #[serde(default)]
    pub collections: Vec<Href>,
}

/// Checks that a profile name is usable in file names and scheduler job names.
pub fn check_name(name: &str) -> Result<()> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!("a profile name uses only letters, digits, - and _ (at most 64): {name:?}"),
        ))
    }
}
