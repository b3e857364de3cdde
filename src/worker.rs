//! The background runtime the GUI hands its jobs to: commands in, typed events out, one
//! cancel token for the running job. Knows nothing of egui: it wakes the UI through a
//! callback the GUI gives it (which calls `request_repaint`).

use crate::source::provider::{ExportFound, Provider, ProviderExport};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use crate::browse::{self, ArchiveContents, Pixels, count_noun};
use crate::config::{Account, AccountKind};
use crate::dav::http::Credentials;
use crate::destination::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::job::export::{self, ExportSummary};
use crate::job::restore::{
    self, ConflictPolicy, RestoreInput, RestoreOptions, RestorePlan, RestoreSummary,
};
use crate::job::restore_report::{self, RestoreReport};
use crate::model::CollectionKind;
use crate::progress::{CancelToken, JobEvent, NoProgress, Progress};
use crate::schedule::profile::Profile;
use crate::schedule::status::{RunRecord, Status, StatusFiles};
use crate::secrets::SecretStore;
use crate::source::Source;

/// Wakes the front end after an event was sent.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Something the front end asks the worker to do.
#[derive(Debug, Clone)]
pub enum Command {
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
        config_dir: PathBuf,
    },
    /// Run those of `profiles` that the schedule policy says are due, one after the other.
    RunDueProfiles {
        profiles: Vec<Profile>,
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
    pub collections: Vec<String>,
}

/// A collection found by "Test connection".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCollection {
    pub kind: CollectionKind,
    /// A calendar that only takes to-dos (its supported components are VTODO alone).
    pub task_list: bool,
    pub label: String,
    pub href: String,
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

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the worker tells the front end.
#[derive(Debug, Clone)]
pub enum Event {
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
        result: Result<String, Failure>,
    },
    Thumbnail {
        archive: PathBuf,
        path: String,
        max_px: u32,
        pixels: Option<Pixels>,
    },
}

/// A plain folder opened for browsing: the archive read from it, which thumbnails are
/// read from too (its paths are the archive's, not the folder's).
struct Browsed {
    folder: PathBuf,
    archive: PathBuf,
    _temp: tempfile::TempDir,
}

/// A plan and everything needed to execute it, kept between "show plan" and "restore".
struct PreparedRestore {
    input: RestoreInput,
    targets: Vec<Box<dyn Target>>,
    plan: RestorePlan,
    report: RestoreReport,
    report_path: PathBuf,
}

pub struct Worker {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

struct Shared {
    events: Mutex<Sender<Event>>,
    wake: Wake,
    secrets: Arc<dyn SecretStore>,
    cancel: Mutex<CancelToken>,
    prepared: tokio::sync::Mutex<Option<PreparedRestore>>,
    /// The temporary archive made from the plain folder being browsed, kept while it is open.
    browsed: Mutex<Option<Browsed>>,
}

impl Shared {
    fn send(&self, event: Event) {
        let sent = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(event);
        // A closed channel means the window is gone; nobody is left to tell.
        if sent.is_ok() {
            (self.wake)();
        }
    }

    /// A fresh token for a new job (the previous job's token stays cancelled if it was).
    fn new_job(&self) -> CancelToken {
        let token = CancelToken::default();
        *self
            .cancel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token.clone();
        token
    }
}

/// Job progress forwarded to the front end.
struct ChannelProgress(Arc<Shared>);

impl Progress for ChannelProgress {
    fn event(&self, event: JobEvent) {
        self.0.send(Event::Job(event));
    }
}

impl Worker {
    pub fn new(wake: Wake, secrets: Arc<dyn SecretStore>) -> Result<(Self, Receiver<Event>)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lifeboat-worker")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::with_source(ErrorKind::Io, "could not start the background worker", e)
            })?;
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(tx),
            wake,
            secrets,
            cancel: Mutex::default(),
            prepared: tokio::sync::Mutex::default(),
            browsed: Mutex::default(),
        });
        Ok((Self { runtime, shared }, rx))
    }

    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.shared.secrets
    }

    /// Runs a job on its own thread, driven by the worker's runtime. The export and restore
    /// futures are not `Send` (rustc cannot prove their higher-ranked stream closures are),
    /// so they are blocked on there instead of spawned; their inner tasks still use the
    /// runtime's threads.
    fn spawn_job<Job, Fut>(&self, job: Job)
    where
        Job: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let runtime = self.runtime.handle().clone();
        let spawned = std::thread::Builder::new()
            .name("lifeboat-job".to_owned())
            .spawn(move || runtime.block_on(job()));
        if let Err(error) = spawned {
            tracing::error!("could not start a job thread: {error}");
        }
    }

    /// Starts `command` in the background; its results arrive as [`Event`]s.
    pub fn send(&self, command: Command) {
        let shared = Arc::clone(&self.shared);
        match command {
            Command::Cancel => {
                shared
                    .cancel
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .cancel();
            }
            Command::TestAccount { account, password } => {
                self.runtime.spawn(async move {
                    // A test runs beside a backup or restore: it gets its own token and
                    // reports no progress, so it never touches the running job's.
                    let cancel = CancelToken::default();
                    let result = test_account(&shared, &account, password.clone(), &cancel).await;
                    let mut keyring_failed = false;
                    if result.is_ok()
                        && let Some(password) = password
                    {
                        keyring_failed = !save_secret(&shared, &account.id, password).await;
                    }
                    shared.send(Event::AccountTested {
                        account_id: account.id,
                        result: result.map_err(|e| Failure::from(&e)),
                        keyring_failed,
                    });
                });
            }
            Command::RunProfile {
                profile,
                config_dir,
            } => {
                self.spawn_job(move || async move {
                    run_one_profile(&shared, &profile, &config_dir).await;
                });
            }
            Command::RunDueProfiles {
                profiles,
                config_dir,
            } => {
                self.spawn_job(move || async move {
                    // Read the status files off the UI thread; run the due ones in turn.
                    let due: Vec<Profile> = crate::schedule::due_profiles(&profiles, &config_dir)
                        .into_iter()
                        .cloned()
                        .collect();
                    for profile in &due {
                        run_one_profile(&shared, profile, &config_dir).await;
                    }
                });
            }
            Command::LoadSchedules {
                profiles,
                config_dir,
            } => {
                self.runtime.spawn_blocking(move || {
                    let infos = profiles
                        .into_iter()
                        .map(|name| {
                            let info = ScheduleInfo {
                                status: StatusFiles::for_profile(&config_dir, &name).load(),
                                os_installed: crate::schedule::install::is_installed(&name),
                            };
                            (name, info)
                        })
                        .collect();
                    shared.send(Event::Schedules(infos));
                });
            }
            Command::ListBackups { folder } => {
                self.runtime.spawn_blocking(move || {
                    shared.send(Event::RecentBackups(browse::recent_archives(&folder, 5)));
                });
            }
            Command::SetOsSchedule {
                profile,
                config_dir,
                install,
            } => {
                self.runtime.spawn_blocking(move || {
                    let result = if install {
                        let log = StatusFiles::for_profile(&config_dir, &profile.name).log;
                        crate::schedule::install::install(&profile.name, &profile.every, &log)
                    } else {
                        crate::schedule::install::remove(&profile.name)
                            .map(|()| "removed".to_owned())
                    };
                    shared.send(Event::OsScheduleChanged {
                        profile: profile.name.clone(),
                        result: result.map_err(|e| Failure::from(&e)),
                    });
                });
            }
            Command::Backup {
                accounts,
                destination,
            } => {
                self.spawn_job(move || async move {
                    let cancel = shared.new_job();
                    let result = backup(&shared, accounts, &destination, &cancel).await;
                    shared.send(Event::BackupFinished(result.map_err(|e| Failure::from(&e))));
                });
            }
            Command::InspectExport { provider, paths } => {
                self.runtime.spawn(async move {
                    let result = ProviderExport::open_async(provider, paths.clone())
                        .await
                        .map(|export| export.found())
                        .map_err(|e| Failure::from(&e));
                    shared.send(Event::ExportInspected { paths, result });
                });
            }
            Command::ImportExport {
                provider,
                paths,
                destination,
            } => {
                self.spawn_job(move || async move {
                    let cancel = shared.new_job();
                    let result =
                        import_export(&shared, provider, paths, &destination, &cancel).await;
                    shared.send(Event::BackupFinished(result.map_err(|e| Failure::from(&e))));
                });
            }
            Command::OpenArchive { path } => {
                self.runtime.spawn(async move {
                    let cancel = CancelToken::default();
                    // A plain folder of .vcf/.ics files opens as the restore reads it.
                    let result = match crate::job::restore::as_archive(&path, &cancel).await {
                        Ok((load_path, temp)) => {
                            *shared
                                .browsed
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                                temp.map(|temp| Browsed {
                                    folder: path.clone(),
                                    archive: load_path.clone(),
                                    _temp: temp,
                                });
                            tokio::task::spawn_blocking(move || browse::load(&load_path, &cancel))
                                .await
                                .unwrap_or_else(|e| {
                                    Err(Error::with_source(
                                        ErrorKind::Io,
                                        "reading the archive failed",
                                        e,
                                    ))
                                })
                        }
                        Err(error) => Err(error),
                    };
                    shared.send(Event::ArchiveOpened {
                        path,
                        result: result.map(Box::new).map_err(|e| Failure::from(&e)),
                    });
                });
            }
            Command::PlanRestore {
                archive,
                targets,
                on_conflict,
            } => {
                self.spawn_job(move || async move {
                    let cancel = shared.new_job();
                    let result =
                        plan_restore(&shared, archive, targets, on_conflict, &cancel).await;
                    shared.send(Event::RestorePlanned(result.map_err(|e| Failure::from(&e))));
                });
            }
            Command::RunRestore => {
                self.spawn_job(move || async move {
                    let cancel = shared.new_job();
                    let result = run_restore(&shared, &cancel).await;
                    shared.send(Event::RestoreFinished(
                        result.map_err(|e| Failure::from(&e)),
                    ));
                });
            }
            Command::Thumbnails {
                archive,
                paths,
                max_px,
            } => {
                let read_from = shared
                    .browsed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .as_ref()
                    .filter(|b| b.folder == archive)
                    .map_or_else(|| archive.clone(), |b| b.archive.clone());
                self.runtime.spawn_blocking(move || {
                    let Ok(mut reader) = crate::archive::reader::ArchiveReader::open(&read_from)
                    else {
                        return;
                    };
                    for path in paths {
                        let pixels = reader
                            .read(&path, 256 * 1024 * 1024)
                            .ok()
                            .flatten()
                            .and_then(|bytes| browse::thumbnail(&bytes, max_px));
                        shared.send(Event::Thumbnail {
                            archive: archive.clone(),
                            path,
                            max_px,
                            pixels,
                        });
                    }
                });
            }
        }
    }
}

async fn save_secret(shared: &Arc<Shared>, account_id: &str, password: String) -> bool {
    let secrets = Arc::clone(&shared.secrets);
    let id = account_id.to_owned();
    tokio::task::spawn_blocking(move || secrets.set(&id, &password))
        .await
        .is_ok_and(|saved| saved.is_ok())
}

/// The password typed now, else the one in the keyring.
async fn password_for(
    shared: &Arc<Shared>,
    account: &Account,
    typed: Option<String>,
) -> Result<Credentials> {
    if !account.needs_password() {
        return Ok(Credentials::None);
    }
    let secrets = Arc::clone(&shared.secrets);
    let (id, user) = (account.id.clone(), account.user.clone());
    // The keyring may block (a locked Secret Service asks the desktop to unlock it).
    let found = tokio::task::spawn_blocking(move || {
        let steps = [
            crate::connect::Step::Typed(typed.as_deref()),
            crate::connect::Step::Keyring(secrets.as_ref(), &id),
        ];
        crate::connect::credentials(Some(&user), &steps)
    })
    .await
    .map_err(|e| Error::with_source(ErrorKind::Io, "the keyring lookup failed", e))??;
    found.ok_or_else(|| {
        Error::new(
            ErrorKind::Auth,
            format!(
                "no password is saved for {}; enter it and try again",
                account.name
            ),
        )
    })
}

/// Where one account's restore goes (its only destination).
async fn targets_for(account: &Account, credentials: Credentials) -> Result<Vec<Box<dyn Target>>> {
    Ok(vec![
        crate::connect::Endpoint::of(account)
            .destination(&credentials)
            .await?,
    ])
}

async fn test_account(
    shared: &Arc<Shared>,
    account: &Account,
    password: Option<String>,
    cancel: &CancelToken,
) -> Result<Vec<FoundCollection>> {
    let credentials = password_for(shared, account, password).await?;
    let sources = vec![
        crate::connect::Endpoint::of(account)
            .source(&credentials)
            .await?,
    ];
    let plan = export::plan(&sources, &NoProgress, cancel).await?;
    Ok(plan
        .sources
        .iter()
        .flat_map(|s| &s.collections)
        .map(|c| FoundCollection {
            kind: c.info.kind,
            label: c
                .info
                .display_name
                .clone()
                .unwrap_or_else(|| c.info.name.clone()),
            href: c.info.href.clone(),
            items: c.item_count(),
            task_list: c.info.components == ["VTODO"],
            counts_files: account.kind() == AccountKind::Folder,
        })
        .collect())
}

/// Runs one profile as the current job, reporting its start and end.
async fn run_one_profile(shared: &Arc<Shared>, profile: &Profile, config_dir: &std::path::Path) {
    let cancel = shared.new_job();
    shared.send(Event::ProfileStarted(profile.name.clone()));
    let progress: Arc<dyn Progress> = Arc::new(ChannelProgress(Arc::clone(shared)));
    let result = crate::schedule::run_profile(
        profile,
        config_dir,
        shared.secrets.as_ref(),
        progress,
        &cancel,
    )
    .await;
    shared.send(Event::ProfileFinished {
        profile: profile.name.clone(),
        result: result.map_err(|e| Failure::from(&e)),
    });
}

async fn backup(
    shared: &Arc<Shared>,
    accounts: Vec<BackupAccount>,
    destination: &std::path::Path,
    cancel: &CancelToken,
) -> Result<ExportSummary> {
    // One account that fails (a wrong password, a server down) is a warning naming it; the
    // others are still saved.
    let mut connected = crate::source::Connected::default();
    for chosen in accounts {
        let sources = match password_for(shared, &chosen.account, chosen.password).await {
            Ok(credentials) => crate::connect::Endpoint::of(&chosen.account)
                .source(&credentials)
                .await
                .map(|source| vec![source]),
            Err(error) => Err(error),
        };
        connected.add(&chosen.account, &chosen.collections, sources)?;
    }
    let connected = connected.finish()?;
    export_into(
        shared,
        &connected.sources,
        connected.failed,
        destination,
        cancel,
    )
    .await
}

async fn import_export(
    shared: &Arc<Shared>,
    provider: Provider,
    paths: Vec<PathBuf>,
    destination: &std::path::Path,
    cancel: &CancelToken,
) -> Result<ExportSummary> {
    let sources: Vec<Box<dyn Source>> =
        vec![Box::new(ProviderExport::open_async(provider, paths).await?)];
    export_into(shared, &sources, Vec::new(), destination, cancel).await
}

/// Plans and runs an export of `sources` into a new archive at `destination`, reporting
/// progress to the window.
async fn export_into(
    shared: &Arc<Shared>,
    sources: &[Box<dyn Source>],
    failed: Vec<crate::model::Warning>,
    destination: &std::path::Path,
    cancel: &CancelToken,
) -> Result<ExportSummary> {
    let progress: Arc<dyn Progress> = Arc::new(ChannelProgress(Arc::clone(shared)));
    // The chosen folder may not exist yet (the default under Documents, at first).
    if let Some(folder) = destination.parent() {
        tokio::fs::create_dir_all(folder)
            .await
            .map_err(|e| Error::io("creating the backup folder", folder, e))?;
    }
    let mut plan = export::plan(sources, progress.as_ref(), cancel).await?;
    plan.warnings.extend(failed);
    export::execute(sources, &plan, destination, progress, cancel).await
}

async fn plan_restore(
    shared: &Arc<Shared>,
    archive: PathBuf,
    chosen: Vec<(Account, Option<String>)>,
    on_conflict: ConflictPolicy,
    cancel: &CancelToken,
) -> Result<RestorePlan> {
    let progress = ChannelProgress(Arc::clone(shared));
    let mut prepared = shared.prepared.lock().await;
    *prepared = None;
    // A damaged archive still restores everything intact: the plan names what is damaged
    // (the command line asks for --accept-damaged; a person sees the list before starting).
    let input = RestoreInput::open(&archive, cancel).await?;
    let mut targets = Vec::new();
    for (account, password) in chosen {
        let credentials = password_for(shared, &account, password).await?;
        targets.extend(targets_for(&account, credentials).await?);
    }
    let options = RestoreOptions {
        on_conflict,
        ..RestoreOptions::default()
    };
    let report_path = restore_report::report_path(&archive);
    let report = RestoreReport::load(&report_path)?;
    let plan = restore::plan(&input, &targets, &report, &options, &progress, cancel).await?;
    *prepared = Some(PreparedRestore {
        input,
        targets,
        plan: plan.clone(),
        report,
        report_path,
    });
    Ok(plan)
}

async fn run_restore(shared: &Arc<Shared>, cancel: &CancelToken) -> Result<RestoreSummary> {
    let progress = ChannelProgress(Arc::clone(shared));
    let mut prepared = shared.prepared.lock().await;
    let Some(prepared) = prepared.as_mut() else {
        return Err(Error::new(ErrorKind::InvalidInput, "show the plan first"));
    };
    restore::execute(
        &prepared.input,
        &prepared.targets,
        &prepared.plan,
        &mut prepared.report,
        &prepared.report_path,
        &progress,
        cancel,
    )
    .await
}
