//! The background runtime the GUI hands its jobs to: commands in, typed events out, one
//! cancel token for the running job. Knows nothing of egui: it wakes the UI through a
//! callback the GUI gives it (which calls `request_repaint`).

// messages.rs holds what goes in and out, jobs.rs what runs; this file the runtime itself.
mod jobs;
mod messages;

use self::jobs::{
    backup, import_export, plan_restore, run_one_profile, run_restore, save_secret, test_account,
};
pub use messages::{
    BackupAccount, Command, Event, Failure, FoundCollection, OsSchedule, ScheduleInfo,
};

use crate::source::provider::ProviderExport;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use crate::browse::{self};
use crate::destination::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::job::restore::{RestoreInput, RestorePlan};
use crate::job::restore_report::RestoreReport;
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::schedule::profile::Profile;
use crate::schedule::status::StatusFiles;
use crate::secrets::SecretStore;

/// Wakes the front end after an event was sent.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

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
            Command::FindPhones => {
                self.runtime.spawn(async move {
                    let server = crate::source::android::AdbServer::default();
                    let found = server
                        .devices()
                        .await
                        .map(|listing| crate::source::android::parse_devices(&listing));
                    shared.send(Event::PhonesFound(found.map_err(|e| Failure::from(&e))));
                });
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
                accounts,
                config_dir,
            } => {
                self.spawn_job(move || async move {
                    run_one_profile(&shared, &profile, &accounts, &config_dir).await;
                });
            }
            Command::RunDueProfiles {
                profiles,
                accounts,
                config_dir,
            } => {
                self.spawn_job(move || async move {
                    // Read the status files off the UI thread; run the due ones in turn.
                    let due: Vec<Profile> = crate::schedule::due_profiles(&profiles, &config_dir)
                        .into_iter()
                        .cloned()
                        .collect();
                    for profile in &due {
                        run_one_profile(&shared, profile, &accounts, &config_dir).await;
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
                            .map(OsSchedule::Installed)
                    } else {
                        crate::schedule::install::remove(&profile.name)
                            .map(|()| OsSchedule::Removed)
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
