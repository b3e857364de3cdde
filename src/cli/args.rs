//! The command line's arguments (clap) and the checks that turn them into settings before
//! anything connects.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Back up contacts, calendars, to-dos and photos into open formats you own"
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Copy accounts and device folders into a new archive (a folder, or a .zip).
    Export(ExportArgs),
    /// Put an archive (or a folder of .vcf/.ics/photos) back into an account or a folder:
    /// plans first, never overwrites unless asked, safe to run again.
    Restore(RestoreArgs),
    /// Re-check every file of an archive against its manifest.
    Verify {
        archive: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open the window (what running `lifeboat` with no arguments does), optionally with an
    /// archive to restore or browse, e.g. from a file manager's "Open with".
    Gui {
        /// An archive (folder or .zip) to open, or the parts of a Google Takeout or Apple
        /// export to offer for import.
        paths: Vec<PathBuf>,
        /// The screen to show first.
        #[arg(long, value_enum)]
        screen: Option<FirstScreen>,
    },
    /// Run a backup profile once: a new dated snapshot beside the earlier ones, downloading only
    /// what changed (what the OS scheduler calls).
    Run { profile: String },
    /// Manage backup profiles (what to back up, where, how often, how many snapshots to keep).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Let the OS run profiles while the app is closed (systemd timer, launchd, Task Scheduler).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// List an archive's collections and item counts.
    Ls {
        archive: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Where the data comes from: shared by `export` and `profile add`.
#[derive(Debug, Args)]
pub(super) struct SourceArgs {
    /// CalDAV/CardDAV server URL, host or email address (repeatable).
    #[arg(long = "url", value_name = "URL")]
    pub(super) urls: Vec<String>,
    /// User name for the accounts. The password comes from LIFEBOAT_PASSWORD or a prompt;
    /// a bearer token from LIFEBOAT_TOKEN.
    #[arg(long)]
    pub(super) user: Option<String>,
    /// WebDAV folder holding photos (repeatable).
    #[arg(long = "photos-url", value_name = "URL")]
    pub(super) photos_urls: Vec<String>,
    /// A phone or folder on this computer (repeatable).
    #[arg(long = "device", value_name = "DIR")]
    pub(super) devices: Vec<PathBuf>,
    /// An Android phone over USB (USB debugging on): the one connected, or the one with
    /// this serial number (`adb devices` lists them).
    #[arg(long, value_name = "SERIAL", num_args = 0..=1, default_missing_value = "")]
    pub(super) android: Option<String>,
}

impl SourceArgs {
    pub(super) fn is_empty(&self) -> bool {
        self.urls.is_empty()
            && self.photos_urls.is_empty()
            && self.devices.is_empty()
            && self.android.is_none()
    }
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    #[command(flatten)]
    pub(super) sources: SourceArgs,
    /// A Google Takeout download: its takeout-*.zip parts (all of them, any order) or the
    /// folder they were extracted to. Read in place, nothing is unpacked to disk.
    #[arg(long = "takeout", value_name = "PATH", num_args = 1..)]
    pub(super) takeout: Vec<PathBuf>,
    /// Apple's "copy of your data" (privacy.apple.com): its .zip files or their folder.
    #[arg(long = "apple", value_name = "PATH", num_args = 1..)]
    pub(super) apple: Vec<PathBuf>,
    /// Where to write the archive: a new folder, or a file ending in .zip.
    #[arg(long)]
    pub(super) out: PathBuf,
    /// A PEM file with a CA certificate to trust (self-hosted servers).
    #[arg(long, value_name = "FILE")]
    pub(super) ca_file: Option<PathBuf>,
    /// Show what would be exported, write nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub(super) enum ProfileCommand {
    /// Add a profile. The password comes from LIFEBOAT_PASSWORD or a prompt and is saved in
    /// the system keyring for the runs.
    Add(Box<ProfileAddArgs>),
    /// List the profiles with their schedule and last run.
    List,
    /// Remove a profile (and its OS schedule and saved password). Its snapshots stay.
    Remove { name: String },
}

#[derive(Debug, Args)]
pub(super) struct ProfileAddArgs {
    /// Letters, digits, - and _.
    pub(super) name: String,
    #[command(flatten)]
    pub(super) sources: SourceArgs,
    /// The folder that will hold one dated snapshot per run.
    #[arg(long)]
    pub(super) dest: PathBuf,
    /// A PEM file with a CA certificate to trust (self-hosted servers).
    #[arg(long, value_name = "FILE")]
    pub(super) ca_file: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub(super) every: EveryArg,
    /// Time of day for daily and weekly runs (HH:MM, 24-hour).
    #[arg(long, default_value = "03:00")]
    pub(super) at: String,
    /// Day of the week for weekly runs (mon, tue, ...).
    #[arg(long, default_value = "mon")]
    pub(super) on: String,
    /// Keep the n newest snapshots.
    #[arg(long)]
    pub(super) keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the n newest days.
    #[arg(long)]
    pub(super) keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the n newest weeks.
    #[arg(long)]
    pub(super) keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the n newest months.
    #[arg(long)]
    pub(super) keep_monthly: Option<u32>,
    /// Flag a collection that lost more than this percentage of its items since the last run.
    #[arg(long, default_value_t = crate::schedule::profile::DEFAULT_DROP_PERCENT)]
    pub(super) drop_percent: u32,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum EveryArg {
    Hourly,
    Daily,
    Weekly,
}

#[derive(Debug, Subcommand)]
pub(super) enum ScheduleCommand {
    /// Register a profile with the OS scheduler (runs missed while off happen at next boot).
    Install { profile: String },
    /// Unregister a profile from the OS scheduler.
    Remove { profile: String },
    /// Accept a profile's flagged snapshots: what vanished at the source was deleted on
    /// purpose. Later runs compare against them, and retention counts them again.
    Accept { profile: String },
    /// For each profile: installed or not, the last run and its result, the next run.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(super) struct RestoreArgs {
    /// The archive (folder or .zip), or a folder or .vcf/.ics file from another tool.
    pub(super) archive: PathBuf,
    /// CalDAV/CardDAV server URL, host or email address to restore contacts and calendars to.
    #[arg(long, value_name = "URL")]
    pub(super) url: Option<String>,
    /// User name. The password comes from LIFEBOAT_PASSWORD or a prompt; a bearer token from
    /// LIFEBOAT_TOKEN.
    #[arg(long)]
    pub(super) user: Option<String>,
    /// WebDAV folder to restore photos into (each archived photo collection becomes a folder).
    #[arg(long = "photos-url", value_name = "URL")]
    pub(super) photos_url: Option<String>,
    /// Restore into a folder on this computer instead (vdirs and photo folders).
    #[arg(long = "to-folder", value_name = "DIR")]
    pub(super) to_folder: Option<PathBuf>,
    /// A PEM file with a CA certificate to trust (self-hosted servers).
    #[arg(long, value_name = "FILE")]
    pub(super) ca_file: Option<PathBuf>,
    /// What to do when the target holds a different version of an item (same UID).
    #[arg(long, value_enum, default_value = "skip")]
    pub(super) on_conflict: OnConflict,
    /// Restore an archived collection into an existing one: ARCHIVED=TARGET, or just TARGET
    /// when the archive holds one collection per kind (repeatable).
    #[arg(long, value_name = "[ARCHIVED=]TARGET")]
    pub(super) into: Vec<String>,
    /// Restore the verified items of a damaged archive and report the rest.
    #[arg(long)]
    pub(super) accept_damaged: bool,
    /// Upload item by item even where the server takes a whole new collection at once.
    #[arg(long)]
    pub(super) one_by_one: bool,
    /// Show the plan, write nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Print the plan and the result as JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum OnConflict {
    /// Leave the target's version and report it.
    Skip,
    /// Replace the target's version with the archived one.
    Overwrite,
    /// Keep the target's version and add the archived one with a new UID.
    KeepBoth,
}

/// The screen the window opens at (`lifeboat gui --screen`); the binary maps it onto the
/// window's own, so the command line never depends on the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FirstScreen {
    Accounts,
    Backup,
    Restore,
    Browse,
    Schedules,
}

/// Takes user names out of `urls` (`https://alice@host/`) into `user`, before anything else
/// sees the URLs; an address holding a password is refused.
pub(super) fn take_user_names<'a>(
    urls: impl IntoIterator<Item = &'a mut String>,
    user: &mut Option<String>,
) -> Result<()> {
    for url in urls {
        let (address, name) = crate::source::dav::split_user_info(url)?;
        *url = address;
        match (name, user.as_deref()) {
            (Some(name), Some(given)) if name != given => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("the address names the user {name:?}, but --user says {given:?}"),
                ));
            }
            (Some(name), _) => *user = Some(name),
            (None, _) => {}
        }
    }
    Ok(())
}

impl SourceArgs {
    pub(super) fn take_user_names(&mut self) -> Result<()> {
        take_user_names(
            self.urls.iter_mut().chain(self.photos_urls.iter_mut()),
            &mut self.user,
        )
    }
}
