//! Every user intent as one enum variant, with its button label and tooltip in one place.
//! Widgets only send these; the app carries them out.

use std::path::PathBuf;

use crate::config::Preset;
use crate::source::provider::Provider;

/// The screens of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Accounts,
    Backup,
    Restore,
    Browse,
    Schedules,
}

impl Screen {
    /// Schedules comes last so the older tabs keep their places (scripts/screenshots.sh).
    pub const ALL: [Self; 5] = [
        Self::Accounts,
        Self::Backup,
        Self::Restore,
        Self::Browse,
        Self::Schedules,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Accounts => "Accounts",
            Self::Backup => "Back up",
            Self::Restore => "Restore",
            Self::Browse => "Browse",
            Self::Schedules => "Schedules",
        }
    }
}

/// Something the user asked to remove, shown with its question until confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Account(String),
    Profile(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiCommand {
    Show(Screen),
    NewAccount(Preset),
    EditAccount(String),
    SaveAccount,
    CancelAccountForm,
    PickAccountFolder,
    /// Ask again which phones are connected.
    FindPhones,
    TestAccount(String),
    /// Test the account with the password typed into its row (none was saved, or it was
    /// refused).
    UsePassword(String),
    /// Asks first ([`Removal`]); [`UiCommand::ConfirmRemoval`] removes.
    RemoveAccount(String),
    ConfirmRemoval(Removal),
    CancelRemoval,
    PickBackupFolder,
    StartBackup,
    CancelJob,
    OpenFolder(PathBuf),
    OpenArchive(PathBuf),
    PickArchiveFile,
    PickArchiveFolder,
    ShowRestorePlan,
    RunRestore,
    CloseArchive,
    BrowseArchive,
    /// Open a backup just made and show what it holds.
    BrowseBackup(PathBuf),
    /// Make a profile from the backup screen's choices and the schedule form.
    CreateSchedule,
    RunProfileNow(String),
    /// Register the profile with the OS scheduler.
    InstallOsSchedule(String),
    RemoveOsSchedule(String),
    RemoveProfile(String),
    /// The open app's own scheduler is switched in the profile list; saved at once.
    SetProfileEnabled(String, bool),
    /// Dropped files look like a provider's export: show what it holds and offer to import.
    OfferImport(Provider, Vec<PathBuf>),
    /// Turn the offered export into an archive in the backup folder.
    StartImport(Provider),
    DismissImport,
}

impl UiCommand {
    /// The text of the button that sends this command.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Show(screen) => screen.label(),
            Self::NewAccount(preset) => preset.label(),
            Self::EditAccount(_) => "Edit",
            Self::SaveAccount => "Save and test",
            Self::CancelAccountForm => "Cancel",
            Self::PickAccountFolder | Self::PickBackupFolder => "Choose…",
            Self::FindPhones => "Look again",
            Self::TestAccount(_) => "Test connection",
            Self::UsePassword(_) => "Try this password",
            Self::RemoveAccount(_) => "Remove",
            Self::ConfirmRemoval(_) => "Yes, remove",
            Self::CancelRemoval => "Keep it",
            Self::StartBackup => "Back up now",
            Self::CancelJob => "Cancel",
            Self::OpenFolder(_) => "Open folder",
            Self::OpenArchive(_) => "Open archive",
            Self::PickArchiveFile => "Choose a .zip archive…",
            Self::PickArchiveFolder => "Choose an archive folder…",
            Self::ShowRestorePlan => "Show what will happen",
            Self::RunRestore => "Restore now",
            Self::CloseArchive => "Choose another archive",
            Self::BrowseArchive => "Browse this archive",
            Self::BrowseBackup(_) => "Browse this backup",
            Self::CreateSchedule => "Create schedule",
            Self::RunProfileNow(_) => "Run now",
            Self::InstallOsSchedule(_) => "Also run while Lifeboat is closed",
            Self::RemoveOsSchedule(_) => "Stop running while Lifeboat is closed",
            Self::RemoveProfile(_) => "Remove schedule",
            Self::SetProfileEnabled(_, _) => "Run while Lifeboat is open",
            Self::OfferImport(_, _) => "Import",
            Self::StartImport(provider) => provider.offer(),
            Self::DismissImport => "Not now",
        }
    }

    pub fn tooltip(&self) -> &'static str {
        match self {
            Self::Show(_) => "",
            Self::NewAccount(_) => "Add this kind of account",
            Self::EditAccount(_) => "Change the address, user name or password",
            Self::SaveAccount => "Save the account and check that it answers",
            Self::CancelAccountForm => "Close without saving",
            Self::PickAccountFolder => "Pick the folder on this computer",
            Self::PickBackupFolder => "Pick where backups are saved",
            Self::FindPhones => "Look for phones connected to this computer now",
            Self::TestAccount(_) => "Connect and list what the account holds",
            Self::UsePassword(_) => "Connect with this password; it is saved once it works",
            Self::RemoveAccount(_) => "Forget this account and its saved password (backups stay)",
            Self::ConfirmRemoval(_) => "Remove it now",
            Self::CancelRemoval => "Change nothing",
            Self::StartBackup => "Copy everything chosen into a new archive",
            Self::CancelJob => "Stop; a cancelled backup leaves no archive behind",
            Self::OpenFolder(_) => "Show the backup in your file manager",
            Self::OpenArchive(_) => "Read this archive",
            Self::PickArchiveFile => "Pick a Lifeboat .zip archive",
            Self::PickArchiveFolder => {
                "Pick a Lifeboat archive folder, or any folder of .vcf/.ics files"
            }
            Self::ShowRestorePlan => "Compare the archive with the account; nothing is written yet",
            Self::RunRestore => {
                "Upload what is missing; nothing on the account is overwritten unless you chose so"
            }
            Self::CloseArchive => "Restore from a different archive",
            Self::BrowseArchive | Self::BrowseBackup(_) => {
                "Look at the contacts, calendars, to-dos and photos in this archive"
            }
            Self::CreateSchedule => {
                "Back up the accounts and collections chosen on the Back up screen on this schedule"
            }
            Self::RunProfileNow(_) => "Take a snapshot now; only what changed is downloaded",
            Self::InstallOsSchedule(_) => {
                "Register with the system scheduler (systemd, launchd, Task Scheduler); runs missed while the computer was off happen at the next start"
            }
            Self::RemoveOsSchedule(_) => "Unregister from the system scheduler",
            Self::RemoveProfile(_) => "Forget this schedule; its snapshots stay on disk",
            Self::SetProfileEnabled(_, _) => {
                "While the window is open, run this schedule when it is due"
            }
            Self::OfferImport(_, _) => "Read what this export holds",
            Self::StartImport(_) => {
                "Copy its contacts, calendars, to-dos and photos into a new Lifeboat archive, which you can then restore into any account"
            }
            Self::DismissImport => "Close this without importing",
        }
    }
}
