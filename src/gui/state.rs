//! The GUI's plain data and how worker events change it (`apply`). No drawing here.

use crate::source::provider::{ExportFound, Provider};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::browse::ArchiveContents;
use crate::config::{Account, Config, Preset};
use crate::job::export::ExportSummary;
use crate::job::restore::{ConflictPolicy, RestorePlan, RestoreSummary};
use crate::model::Warning;
use crate::progress::JobEvent;
use crate::schedule::status::RunRecord;
use crate::worker::{Event, Failure, FoundCollection, ScheduleInfo};

use super::command::Screen;

#[derive(Debug, Clone, Default)]
pub struct AccountForm {
    /// The account being edited; `None` for a new one.
    pub editing: Option<String>,
    pub preset: Option<Preset>,
    pub name: String,
    pub address: String,
    pub user: String,
    pub password: String,
    /// A CA file to trust for a server with its own certificate; empty for none.
    pub ca_file: String,
    pub error: Option<String>,
}

/// The live list of phones on the "Phone (Android, over USB)" form: asked for again every
/// few seconds, so that a phone plugged in or allowed shows up by itself.
#[derive(Debug, Default)]
pub struct PhoneSearch {
    pub found: Option<Result<Vec<crate::source::android::Phone>, Failure>>,
    pub pending: bool,
    pub asked: Option<std::time::Instant>,
}

impl PhoneSearch {
    /// How often the list is asked for while the form is open.
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(2);

    /// Whether to ask again now (never twice at once).
    pub fn due(&self) -> bool {
        !self.pending && self.asked.is_none_or(|at| at.elapsed() >= Self::EVERY)
    }
}

#[derive(Debug, Clone)]
pub enum TestState {
    Running,
    Found(Vec<FoundCollection>),
    Failed(Failure),
}

/// A running job's progress, as the progress bar shows it.
#[derive(Debug, Clone)]
pub struct JobProgress {
    pub title: String,
    pub phase: String,
    pub collection: String,
    pub collections_total: usize,
    pub collections_started: usize,
    pub items_total: u64,
    pub items_done: u64,
    pub bytes: u64,
    /// The planned bytes, when every item's size is known: progress then follows bytes,
    /// which a few large photos among many small ones would otherwise hide.
    pub bytes_total: Option<u64>,
    /// Bytes of downloads still under way ([`JobEvent::Receiving`]).
    pub bytes_receiving: i64,
    pub started: Instant,
    pub cancelling: bool,
}

impl JobProgress {
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            phase: "starting".to_owned(),
            collection: String::new(),
            collections_total: 0,
            collections_started: 0,
            items_total: 0,
            items_done: 0,
            bytes: 0,
            bytes_total: None,
            bytes_receiving: 0,
            started: Instant::now(),
            cancelling: false,
        }
    }

    pub fn fraction(&self) -> f32 {
        if let Some(total) = self.bytes_total.filter(|t| *t > 0) {
            let done = self.bytes.saturating_add_signed(self.bytes_receiving);
            (done as f64 / total as f64).min(1.0) as f32
        } else if self.items_total == 0 {
            0.0
        } else {
            (self.items_done as f32 / self.items_total as f32).min(1.0)
        }
    }

    /// Estimated time left, once enough is done to say.
    pub fn time_left(&self) -> Option<Duration> {
        // Only once enough is done for the rate to mean something: 20 items, or 2 % of the
        // bytes when progress follows bytes.
        let enough = match self.bytes_total.filter(|t| *t > 0) {
            Some(_) => self.fraction() >= 0.02,
            None => self.items_done >= 20,
        };
        let done = f64::from(self.fraction());
        if !enough || done >= 1.0 || done <= 0.0 {
            return None;
        }
        Some(Duration::from_secs_f64(
            self.started.elapsed().as_secs_f64() * (1.0 - done) / done,
        ))
    }

    fn apply(&mut self, event: &JobEvent) {
        match event {
            JobEvent::Phase(phase) => self.phase.clone_from(phase),
            JobEvent::Planned {
                collections,
                items,
                bytes,
            } => {
                self.collections_total = *collections;
                self.items_total = *items;
                self.bytes_total = *bytes;
            }
            JobEvent::CollectionStarted { name, .. } => {
                self.collection.clone_from(name);
                self.collections_started += 1;
            }
            JobEvent::Progress { items, bytes } => {
                self.items_done += items;
                self.bytes += bytes;
            }
            JobEvent::Receiving { bytes } => self.bytes_receiving += bytes,
            JobEvent::Warning(_) => {}
        }
    }
}

#[derive(Debug, Default)]
pub struct BackupState {
    /// Accounts chosen for the backup (all by default).
    pub skip_accounts: std::collections::HashSet<String>,
    /// Collections (account id, href) left out.
    pub skip_collections: std::collections::HashSet<(String, crate::ids::Href)>,
    pub folder: String,
    pub as_zip: bool,
    pub result: Option<Result<ExportSummary, Failure>>,
}

#[derive(Debug, Default)]
pub struct RestoreState {
    pub target: Option<String>,
    /// Where photos go (a photo folder or folder account); `None` with `photos_declined`
    /// when the user chose not to restore them.
    pub photo_target: Option<String>,
    pub photos_declined: bool,
    /// The newest archives in the backup folder, offered before anything is dropped.
    pub recent: Vec<PathBuf>,
    pub on_conflict: ConflictPolicy,
    pub plan: Option<Result<RestorePlan, Failure>>,
    pub running: bool,
    pub summary: Option<Result<RestoreSummary, Failure>>,
}

#[derive(Debug, Default)]
pub struct ArchiveState {
    pub path: Option<PathBuf>,
    pub contents: Option<Result<Box<ArchiveContents>, Failure>>,
}

impl ArchiveState {
    /// An archive is chosen and still being read.
    pub fn loading(&self) -> bool {
        self.path.is_some() && self.contents.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrowseTab {
    #[default]
    Contacts,
    Calendar,
    Todos,
    Photos,
    Verification,
}

impl BrowseTab {
    pub const ALL: [Self; 5] = [
        Self::Contacts,
        Self::Calendar,
        Self::Todos,
        Self::Photos,
        Self::Verification,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Contacts => "Contacts",
            Self::Calendar => "Calendar",
            Self::Todos => "To-dos",
            Self::Photos => "Photos",
            Self::Verification => "Verification",
        }
    }
}

#[derive(Debug, Default)]
pub struct BrowseState {
    pub tab: BrowseTab,
    pub search: String,
    /// Indices of contacts matching `search`, recomputed when it changes.
    pub matches: Vec<usize>,
    pub matches_for: Option<String>,
    pub selected_contact: Option<usize>,
    pub full_photo: Option<String>,
    /// The month the agenda shows first (its first day); `None` until it opens at today.
    pub agenda_month: Option<chrono::NaiveDate>,
    /// Scroll the agenda to `agenda_month` on the next frame.
    pub agenda_jump: bool,
    /// The agenda entry opened to show its details.
    pub opened_event: Option<usize>,
}

/// The new-schedule form on the schedules screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleForm {
    pub name: String,
    /// 0 hourly, 1 daily, 2 weekly.
    pub every: usize,
    pub at: String,
    pub weekday: chrono::Weekday,
    pub keep_last: u32,
    pub error: Option<String>,
}

impl Default for ScheduleForm {
    fn default() -> Self {
        Self {
            name: "daily".to_owned(),
            every: 1,
            at: "03:00".to_owned(),
            weekday: chrono::Weekday::Mon,
            keep_last: crate::schedule::retention::Retention::default().keep_last,
            error: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct SchedulesState {
    pub infos: HashMap<String, ScheduleInfo>,
    pub form: ScheduleForm,
    /// The last run finished in this session, per profile.
    pub results: HashMap<String, Result<RunRecord, Failure>>,
    /// What the OS scheduler said last, per profile.
    pub os_messages: HashMap<String, Result<crate::worker::OsSchedule, Failure>>,
    /// When the open app last asked the worker to run due profiles.
    pub last_due_check: Option<Instant>,
}

#[derive(Debug)]
pub struct State {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub screen: Screen,
    /// A sentence shown at the top until dismissed (keyring missing, settings not saved).
    pub notice: Option<String>,
    pub secrets_persistent: bool,
    pub account_form: Option<AccountForm>,
    /// The phones found while an Android phone is being added.
    pub phones: PhoneSearch,
    pub tests: HashMap<String, TestState>,
    /// Passwords typed this session, for when no keyring keeps them.
    pub session_passwords: HashMap<String, String>,
    /// The password fields of account rows whose password is missing or was refused.
    pub typed_passwords: HashMap<String, String>,
    pub backup: BackupState,
    pub restore: RestoreState,
    pub archive: ArchiveState,
    pub browse: BrowseState,
    pub job: Option<JobProgress>,
    pub warnings: Vec<Warning>,
    pub schedules: SchedulesState,
    /// A dropped Google or Apple export, offered for import.
    pub import: Option<ImportOffer>,
    /// A removal asked for and waiting for "yes": nothing is forgotten on one click.
    pub confirm: Option<crate::gui::command::Removal>,
}

/// A provider's export the user dropped: what it holds once the worker has read it.
#[derive(Debug)]
pub struct ImportOffer {
    pub provider: Provider,
    pub paths: Vec<PathBuf>,
    pub found: Option<Result<ExportFound, Failure>>,
}

impl State {
    pub fn new(config: Config, config_path: Option<PathBuf>, secrets_persistent: bool) -> Self {
        let folder = config
            .backup_folder
            .clone()
            .unwrap_or_else(crate::config::default_backup_folder);
        let notice = (!secrets_persistent).then(|| {
            "No system keyring was found: passwords are kept only until Lifeboat closes, and you will be asked again next time.".to_owned()
        });
        Self {
            backup: BackupState {
                folder: folder.display().to_string(),
                as_zip: config.backup_as_zip,
                ..BackupState::default()
            },
            config,
            config_path,
            screen: Screen::Accounts,
            notice,
            secrets_persistent,
            account_form: None,
            phones: PhoneSearch::default(),
            tests: HashMap::new(),
            session_passwords: HashMap::new(),
            typed_passwords: HashMap::new(),
            restore: RestoreState::default(),
            archive: ArchiveState::default(),
            browse: BrowseState::default(),
            job: None,
            warnings: Vec::new(),
            schedules: SchedulesState::default(),
            import: None,
            confirm: None,
        }
    }

    /// The folder of the config file, where profile status files live.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.config_path
            .as_ref()
            .and_then(|p| p.parent())
            .map(std::path::Path::to_path_buf)
    }

    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.config.account(id)
    }

    /// Collections found by the last successful test, per account.
    pub fn found(&self, id: &str) -> Option<&[FoundCollection]> {
        match self.tests.get(id) {
            Some(TestState::Found(found)) => Some(found),
            _ => None,
        }
    }

    /// Saves the config; a failure becomes the notice (the app keeps working).
    pub fn save_config(&mut self) {
        if let Some(path) = &self.config_path
            && let Err(error) = self.config.save(path)
        {
            self.notice = Some(format!("Your settings could not be saved: {error}"));
        }
    }

    /// Warning counts by code, for the summaries.
    pub fn warning_counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for warning in &self.warnings {
            *counts.entry(warning.code.as_str()).or_insert(0) += 1;
        }
        counts
    }

    pub fn apply(&mut self, event: Event) {
        match event {
            Event::PhonesFound(found) => {
                self.phones.found = Some(found);
                self.phones.pending = false;
            }
            Event::AccountTested {
                account_id,
                result,
                keyring_failed,
            } => {
                if keyring_failed {
                    self.notice = Some(
                        "The password works but the system keyring did not take it: it is kept until Lifeboat closes.".to_owned(),
                    );
                }
                let state = match result {
                    Ok(found) => TestState::Found(found),
                    Err(failure) => TestState::Failed(failure),
                };
                self.tests.insert(account_id, state);
            }
            Event::Job(event) => {
                if let JobEvent::Warning(warning) = &event {
                    self.warnings.push(warning.clone());
                }
                if let Some(job) = &mut self.job {
                    job.apply(&event);
                }
            }
            Event::ExportInspected { paths, result } => {
                if let Some(offer) = self.import.as_mut().filter(|o| o.paths == paths) {
                    offer.found = Some(result);
                }
            }
            Event::BackupFinished(result) => {
                self.backup.result = Some(result);
                self.job = None;
            }
            Event::ArchiveOpened { path, result } => {
                if self.archive.path.as_ref() == Some(&path) {
                    self.archive.contents = Some(result);
                    self.browse = BrowseState::default();
                }
            }
            Event::RestorePlanned(result) => {
                self.restore.plan = Some(result);
                self.job = None;
            }
            Event::RestoreFinished(result) => {
                self.restore.running = false;
                self.restore.summary = Some(result);
                self.job = None;
            }
            Event::ProfileStarted(name) => {
                self.warnings.clear();
                self.job = Some(JobProgress::new(format!("Scheduled backup \"{name}\"")));
            }
            Event::ProfileFinished { profile, result } => {
                if let Ok(record) = &result
                    && let Some(info) = self.schedules.infos.get_mut(&profile)
                {
                    info.status.runs.push(record.clone());
                }
                self.schedules.results.insert(profile, result);
                self.job = None;
            }
            Event::Schedules(infos) => self.schedules.infos = infos.into_iter().collect(),
            Event::RecentBackups(recent) => self.restore.recent = recent,
            Event::OsScheduleChanged { profile, result } => {
                if let Some(info) = self.schedules.infos.get_mut(&profile)
                    && let Ok(message) = &result
                {
                    info.os_installed = *message != crate::worker::OsSchedule::Removed;
                }
                self.schedules.os_messages.insert(profile, result);
            }
            Event::Thumbnail { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn progress_follows_bytes_when_every_size_is_known() {
        let mut job = JobProgress::new("Backing up");
        job.apply(&JobEvent::Planned {
            collections: 1,
            items: 100,
            bytes: Some(1000 + 99),
        });
        // The one large photo of a hundred arrived: nearly all of the work, one item.
        job.apply(&JobEvent::Progress {
            items: 1,
            bytes: 1000,
        });
        assert!(
            (job.fraction() - 1000.0 / 1099.0).abs() < 1e-4,
            "{}",
            job.fraction()
        );
        assert!(job.time_left().is_some());
        // Half of a second large photo is under way: the bar moves before it is done,
        // and a download that breaks off takes its bytes back.
        job.apply(&JobEvent::Receiving { bytes: 40 });
        job.apply(&JobEvent::Receiving { bytes: 10 });
        assert!((job.fraction() - 1050.0 / 1099.0).abs() < 1e-4);
        job.apply(&JobEvent::Receiving { bytes: -50 });
        assert!((job.fraction() - 1000.0 / 1099.0).abs() < 1e-4);

        let mut job = JobProgress::new("Backing up");
        job.apply(&JobEvent::Planned {
            collections: 1,
            items: 100,
            bytes: None,
        });
        job.apply(&JobEvent::Progress {
            items: 1,
            bytes: 1000,
        });
        assert!((job.fraction() - 0.01).abs() < 1e-6);
        // One item of a hundred says nothing yet about the time left.
        assert_eq!(job.time_left(), None);
    }
}
