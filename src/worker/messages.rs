//! What the window and the worker say to each other: commands in, events out, and a failure in
//! words for people.

use std::path::PathBuf;

use crate::browse::{ArchiveContents, Pixels, count_noun};
use crate::config::Account;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::job::export::ExportSummary;
use crate::job::restore::{ConflictPolicy, RestorePlan, RestoreSummary};
use crate::model::CollectionKind;
use crate::progress::JobEvent;
use crate::schedule::profile::Profile;
use crate::schedule::status::{RunRecord, Status};
use crate::source::provider::{ExportFound, Provider};

/// Something the front end asks the worker to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Ask the adb server which Android phones are connected (cheap: no phone is read).
    FindPhones,
    /// Connect and list what the account holds. A given password is saved on success.
    TestAccount {
        account: Account,
        password: Option<String>,
    },
    /// Export the chosen collections of the chosen accounts into `destination`.
    Backup {
        accounts: Vec<BackupAccount>,
        destination: PathBuf,
    },
    /// Read an archive for the restore and browse screens.
    OpenArchive { path: PathBuf },
    /// Compare an archive with an account; nothing is written.
    PlanRestore {
        archive: PathBuf,
        /// Where things go, with the passwords typed this session: the first that takes a
        /// kind gets it (the photo place first, then the account for the rest).
        targets: Vec<(Account, Option<String>)>,
        on_conflict: ConflictPolicy,
    },
    /// Execute the last plan.
    RunRestore,
    /// Decode photos of an archive into thumbnails (`max_px` on the longer side).
    Thumbnails {
        archive: PathBuf,
        paths: Vec<String>,
        max_px: u32,
    },
    /// Run one backup profile now (a snapshot into its destination).
    RunProfile {
        profile: Box<Profile>,
        /// The settings' accounts, which the profile names by id.
        accounts: Vec<Account>,
        config_dir: PathBuf,
    },
    /// Run those of `profiles` that the schedule policy says are due, one after the other.
    RunDueProfiles {
        profiles: Vec<Profile>,
        accounts: Vec<Account>,
        config_dir: PathBuf,
    },
    /// Read every profile's status file and whether the OS scheduler has it.
    LoadSchedules {
        profiles: Vec<String>,
        config_dir: PathBuf,
    },
    /// Register a profile with the OS scheduler (`install: true`) or remove it.
    SetOsSchedule {
        profile: Box<Profile>,
        config_dir: PathBuf,
        install: bool,
    },
    /// Open a provider's export (Google Takeout, Apple data copy) and say what it holds.
    InspectExport {
        provider: Provider,
        paths: Vec<PathBuf>,
    },
    /// Turn a provider's export into a Lifeboat archive at `destination`; ends like a backup.
    ImportExport {
        provider: Provider,
        paths: Vec<PathBuf>,
        destination: PathBuf,
    },
    /// List the newest archives in the backup folder (for the Restore screen).
    ListBackups { folder: PathBuf },
    /// Stop the running job at its next step.
    Cancel,
}

/// What the schedules screen shows for one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleInfo {
    pub status: Status,
    pub os_installed: bool,
}

#[derive(Debug, Clone)]
pub struct BackupAccount {
    pub account: Account,
    pub password: Option<String>,
    /// Collection hrefs to back up; empty means all.
    pub collections: Vec<Href>,
}

/// A collection found by "Test connection".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCollection {
    pub kind: CollectionKind,
    /// A calendar that only takes to-dos (its supported components are VTODO alone).
    pub task_list: bool,
    pub label: String,
    pub href: Href,
    pub items: usize,
    /// A device folder lists files (one may hold many contacts); a server lists items.
    pub counts_files: bool,
}

impl FoundCollection {
    /// "1 item", "12 items", "3 files".
    pub fn count_text(&self) -> String {
        count_noun(self.items, if self.counts_files { "file" } else { "item" })
    }
}

/// A failure as the UI shows it: a sentence to act on, details on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    pub details: String,
}

impl From<&Error> for Failure {
    fn from(error: &Error) -> Self {
        let mut details = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            details.push_str(&format!("\ncaused by: {cause}"));
            source = cause.source();
        }
        let hint = match error.kind() {
            ErrorKind::Tls => Some(
                "the server's certificate is not trusted. If the server has a certificate of its own, choose the file of the authority that issued it under \u{201c}A server with its own certificate\u{201d} in the account's settings",
            ),
            _ => error.hint(),
        };
        let message = match hint {
            Some(hint) => format!("{}. {}.", capitalise(&error.to_string()), capitalise(hint)),
            None => format!("{}.", capitalise(&error.to_string())),
        };
        Self {
            kind: error.kind(),
            message,
            details,
        }
    }
}

pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What became of a profile's entry in the OS scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OsSchedule {
    /// Installed; what the scheduler was told (the timer or task it runs).
    Installed(String),
    Removed,
}

/// What the worker tells the front end.
#[derive(Debug, Clone)]
pub enum Event {
    /// The phones the adb server knows, or why it could not be asked.
    PhonesFound(Result<Vec<crate::source::android::Phone>, Failure>),
    AccountTested {
        account_id: String,
        result: Result<Vec<FoundCollection>, Failure>,
        /// A password that worked could not be stored in the keyring.
        keyring_failed: bool,
    },
    /// Progress of the running job.
    Job(JobEvent),
    BackupFinished(Result<ExportSummary, Failure>),
    ExportInspected {
        paths: Vec<PathBuf>,
        result: Result<ExportFound, Failure>,
    },
    ArchiveOpened {
        path: PathBuf,
        result: Result<Box<ArchiveContents>, Failure>,
    },
    RestorePlanned(Result<RestorePlan, Failure>),
    RestoreFinished(Result<RestoreSummary, Failure>),
    /// A profile run started (scheduled or by hand).
    ProfileStarted(String),
    /// A profile run ended; the record is also in its status file.
    ProfileFinished {
        profile: String,
        result: Result<RunRecord, Failure>,
    },
    Schedules(Vec<(String, ScheduleInfo)>),
    /// The newest archives in the backup folder, newest first.
    RecentBackups(Vec<PathBuf>),
    OsScheduleChanged {
        profile: String,
        result: Result<OsSchedule, Failure>,
    },
    Thumbnail {
        archive: PathBuf,
        path: String,
        max_px: u32,
        pixels: Option<Pixels>,
    },
}
