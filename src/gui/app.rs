//! The eframe app: drains worker events into the state each frame, draws the screens, and
//! carries out the commands the widgets sent. Nothing here blocks a frame.

mod actions;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use eframe::egui;

use crate::config::Config;
use crate::secrets::SecretStore;
use crate::worker::{Command, Event, Worker};

use super::command::{Removal, Screen, UiCommand};
use super::screens;
use super::state::{AccountForm, JobProgress, State, TestState};

/// What a file dialog was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    AccountFolder,
    BackupFolder,
    /// A `.zip` archive.
    Archive,
    /// An archive folder, or any folder of .vcf/.ics files.
    ArchiveFolder,
}

/// How often the open app asks whether a profile is due.
const DUE_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A path the user chose in a file dialog, and what for.
type Picked = (Pick, PathBuf);

/// Decoded images on the GPU, keyed by (archive path, photo path, size).
#[derive(Default)]
pub struct Textures {
    pub images: HashMap<(String, u32), egui::TextureHandle>,
    pub requested: HashSet<(String, u32)>,
    pub contact_photos: HashMap<usize, egui::TextureHandle>,
    /// Images the screens want this frame; requested from the worker after drawing.
    pub wanted: Vec<(String, u32)>,
}

impl std::fmt::Debug for Textures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Textures")
            .field("images", &self.images.len())
            .finish()
    }
}

pub struct LifeboatApp {
    pub state: State,
    worker: Worker,
    events: Receiver<Event>,
    picks: (Sender<Picked>, Receiver<Picked>),
    pub(super) commands: Vec<UiCommand>,
    pub textures: Textures,
    ctx: egui::Context,
    frames_drawn: u64,
}

impl std::fmt::Debug for LifeboatApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifeboatApp")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl LifeboatApp {
    /// An app over `config_path` (its file is created on the first change) and `secrets`.
    pub fn new(
        ctx: &egui::Context,
        config_path: Option<PathBuf>,
        secrets: Arc<dyn SecretStore>,
    ) -> crate::Result<Self> {
        let config = match &config_path {
            Some(path) => Config::load(path),
            None => Ok(Config::default()),
        };
        let (config, load_problem) = match config {
            Ok(config) => (config, None),
            Err(error) => (Config::default(), Some(error.to_string())),
        };
        super::fonts::install_fallbacks(ctx);
        let repaint = ctx.clone();
        let persistent = secrets.is_persistent();
        let (worker, events) = Worker::new(Arc::new(move || repaint.request_repaint()), secrets)?;
        let mut state = State::new(config, config_path, persistent);
        if let Some(problem) = load_problem {
            state.notice = Some(format!(
                "Your settings could not be read, starting fresh: {problem}"
            ));
            // Never overwrite a file we could not read.
            state.config_path = None;
        }
        let mut app = Self {
            state,
            worker,
            events,
            picks: std::sync::mpsc::channel(),
            commands: Vec::new(),
            textures: Textures::default(),
            ctx: ctx.clone(),
            frames_drawn: 0,
        };
        // Accounts whose password is at hand are checked right away, so the window says what
        // each holds (and the backup screen can offer its collections) without a click.
        let ready: Vec<String> = app
            .state
            .config
            .accounts
            .iter()
            .filter(|a| persistent || !a.needs_password())
            .map(|a| a.id.clone())
            .collect();
        for id in ready {
            app.run(UiCommand::TestAccount(id));
        }
        Ok(app)
    }

    /// Applies the command line's start options: an archive opens as if dropped.
    pub fn start(&mut self, start: super::Start) {
        if let Some(command) = Self::command_for_dropped(start.paths) {
            self.run(command);
        }
        if let Some(screen) = start.screen {
            self.run(UiCommand::Show(screen));
        }
    }

    /// What dropping `paths` asks for: a provider's export is offered for import (judged by
    /// the names, nothing is read here), anything else opens as an archive.
    fn command_for_dropped(paths: Vec<PathBuf>) -> Option<UiCommand> {
        match crate::source::provider::Provider::recognise(&paths) {
            Some(provider) => Some(UiCommand::OfferImport(provider, paths)),
            None => paths.into_iter().next().map(UiCommand::OpenArchive),
        }
    }

    /// Queues a command; it runs after this frame's drawing.
    pub fn send(&mut self, command: UiCommand) {
        self.commands.push(command);
    }

    /// Applies everything the worker and the dialogs reported since the last frame.
    fn drain(&mut self, ctx: &egui::Context) {
        while let Ok(event) = self.events.try_recv() {
            if let Event::Thumbnail {
                archive,
                path,
                max_px,
                pixels,
            } = &event
            {
                self.store_thumbnail(ctx, archive, path, *max_px, pixels.as_ref());
            }
            self.state.apply(event);
        }
        while let Ok((pick, path)) = self.picks.1.try_recv() {
            match pick {
                Pick::AccountFolder => {
                    if let Some(form) = &mut self.state.account_form {
                        form.address = path.display().to_string();
                    }
                }
                Pick::BackupFolder => self.state.backup.folder = path.display().to_string(),
                Pick::Archive | Pick::ArchiveFolder => {
                    self.commands.push(UiCommand::OpenArchive(path));
                }
            }
        }
    }

    fn store_thumbnail(
        &mut self,
        ctx: &egui::Context,
        archive: &std::path::Path,
        path: &str,
        max_px: u32,
        pixels: Option<&crate::browse::Pixels>,
    ) {
        let Some(pixels) = pixels else { return };
        if self.state.archive.path.as_deref() != Some(archive) {
            return;
        }
        let image = egui::ColorImage::from_rgba_unmultiplied(
            [pixels.width as usize, pixels.height as usize],
            &pixels.rgba,
        );
        let texture = ctx.load_texture(path, image, egui::TextureOptions::LINEAR);
        let key = (path.to_owned(), max_px);
        self.textures.images.insert(key, texture);
    }

    /// Asks the worker for images not yet requested.
    pub fn request_images(&mut self, paths: Vec<String>, max_px: u32) {
        let Some(archive) = self.state.archive.path.clone() else {
            return;
        };
        let wanted: Vec<String> = paths
            .into_iter()
            .filter(|p| self.textures.requested.insert((p.clone(), max_px)))
            .collect();
        if !wanted.is_empty() {
            self.worker.send(Command::Thumbnails {
                archive,
                paths: wanted,
                max_px,
            });
        }
    }

    fn pick(&self, pick: Pick) {
        let tx = self.picks.0.clone();
        let ctx = self.ctx.clone();
        // rfd's async dialog works from any thread (it hands the dialog to the main thread
        // where the OS needs that), so the frame never waits for the user.
        let spawned = std::thread::Builder::new()
            .name("lifeboat-file-dialog".to_owned())
            .spawn(move || {
                let dialog = rfd::AsyncFileDialog::new();
                let chosen = match pick {
                    Pick::Archive => pollster::block_on(
                        dialog.add_filter("Lifeboat archive", &["zip"]).pick_file(),
                    ),
                    Pick::AccountFolder | Pick::BackupFolder | Pick::ArchiveFolder => {
                        pollster::block_on(dialog.pick_folder())
                    }
                };
                if let Some(handle) = chosen {
                    let _ = tx.send((pick, handle.path().to_path_buf()));
                    ctx.request_repaint();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("could not open the file dialog: {error}");
        }
    }

    fn password_for(&self, id: &str) -> Option<String> {
        self.state.session_passwords.get(id).cloned()
    }

    fn run(&mut self, command: UiCommand) {
        let state = &mut self.state;
        match command {
            UiCommand::Show(screen) => {
                state.screen = screen;
                if screen == Screen::Restore {
                    let folder = PathBuf::from(&state.backup.folder);
                    self.worker.send(Command::ListBackups { folder });
                }
                if screen == Screen::Schedules {
                    self.load_schedules();
                }
            }
            UiCommand::CreateSchedule => self.create_schedule(),
            UiCommand::RunProfileNow(name) => {
                if let (Ok(profile), Some(config_dir)) =
                    (state.config.profile(&name).cloned(), state.config_dir())
                {
                    state.job = Some(JobProgress::new(format!("Scheduled backup \"{name}\"")));
                    self.worker.send(Command::RunProfile {
                        profile: Box::new(profile),
                        accounts: state.config.accounts.clone(),
                        config_dir,
                    });
                }
            }
            UiCommand::InstallOsSchedule(name) => self.set_os_schedule(&name, true),
            UiCommand::RemoveOsSchedule(name) => self.set_os_schedule(&name, false),
            UiCommand::RemoveProfile(name) => state.confirm = Some(Removal::Profile(name)),
            UiCommand::RemoveAccount(id) => state.confirm = Some(Removal::Account(id)),
            UiCommand::CancelRemoval => state.confirm = None,
            UiCommand::ConfirmRemoval(Removal::Profile(name)) => {
                state.confirm = None;
                self.set_os_schedule(&name, false);
                let state = &mut self.state;
                state.config.profiles.retain(|p| p.name != name);
                state.schedules.infos.remove(&name);
                state.save_config();
            }
            UiCommand::SetProfileEnabled(name, enabled) => {
                if let Some(profile) = state.config.profiles.iter_mut().find(|p| p.name == name) {
                    profile.enabled = enabled;
                }
                state.save_config();
            }
            UiCommand::NewAccount(preset) => {
                state.account_form = Some(AccountForm {
                    preset: Some(preset),
                    name: preset.label().to_owned(),
                    address: preset.default_address().to_owned(),
                    ..AccountForm::default()
                });
            }
            UiCommand::EditAccount(id) => {
                if let Some(account) = state.account(&id) {
                    state.account_form = Some(AccountForm {
                        editing: Some(id.clone()),
                        preset: Some(account.preset),
                        name: account.name.clone(),
                        address: account.address.clone(),
                        user: account.user.clone(),
                        ca_file: account
                            .ca_file
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        ..AccountForm::default()
                    });
                }
            }
            UiCommand::CancelAccountForm => state.account_form = None,
            UiCommand::PickAccountFolder => self.pick(Pick::AccountFolder),
            UiCommand::FindPhones => {
                state.phones.pending = true;
                state.phones.asked = Some(std::time::Instant::now());
                self.worker.send(Command::FindPhones);
            }
            UiCommand::SaveAccount => self.save_account(),
            UiCommand::UsePassword(id) => {
                if let Some(password) = state.typed_passwords.remove(&id)
                    && !password.is_empty()
                {
                    state.session_passwords.insert(id.clone(), password);
                    self.run(UiCommand::TestAccount(id));
                }
            }
            UiCommand::TestAccount(id) => {
                if let Some(account) = state.account(&id).cloned() {
                    let password = self.password_for(&id);
                    self.state.tests.insert(id, TestState::Running);
                    self.worker.send(Command::TestAccount { account, password });
                }
            }
            UiCommand::ConfirmRemoval(Removal::Account(id)) => {
                state.confirm = None;
                state.config.accounts.retain(|a| a.id != id);
                state.tests.remove(&id);
                state.session_passwords.remove(&id);
                state.save_config();
                let secrets = Arc::clone(self.worker.secrets());
                // The keyring may take a moment; never on the UI thread.
                let _ = std::thread::Builder::new()
                    .name("lifeboat-keyring".to_owned())
                    .spawn(move || secrets.delete(&id));
            }
            UiCommand::PickBackupFolder => self.pick(Pick::BackupFolder),
            UiCommand::StartBackup => self.start_backup(),
            UiCommand::OfferImport(provider, paths) => {
                state.import = Some(super::state::ImportOffer {
                    provider,
                    paths: paths.clone(),
                    found: None,
                });
                state.screen = Screen::Backup;
                self.worker.send(Command::InspectExport { provider, paths });
            }
            UiCommand::StartImport(provider) => self.start_import(provider),
            UiCommand::DismissImport => state.import = None,
            UiCommand::CancelJob => {
                if let Some(job) = &mut state.job {
                    job.cancelling = true;
                }
                self.worker.send(Command::Cancel);
            }
            UiCommand::OpenFolder(path) => {
                let folder = if path.is_dir() {
                    path
                } else {
                    path.parent().map(PathBuf::from).unwrap_or(path)
                };
                if open_in_file_manager(&folder).is_err() {
                    // The error is about the missing file manager, not the folder, which
                    // exists: say where it is instead. The notice has its Dismiss button.
                    state.notice = Some(format!(
                        "No file manager could be started here. The backup is in {}",
                        folder.display()
                    ));
                }
            }
            UiCommand::OpenArchive(path) => {
                state.archive = super::state::ArchiveState {
                    path: Some(path.clone()),
                    contents: None,
                };
                state.restore.plan = None;
                state.restore.summary = None;
                self.textures = Textures::default();
                if state.screen != Screen::Browse {
                    state.screen = Screen::Restore;
                }
                self.worker.send(Command::OpenArchive { path });
            }
            UiCommand::PickArchiveFile => self.pick(Pick::Archive),
            UiCommand::PickArchiveFolder => self.pick(Pick::ArchiveFolder),
            UiCommand::CloseArchive => {
                state.archive = super::state::ArchiveState::default();
                state.restore.plan = None;
                state.restore.summary = None;
            }
            UiCommand::BrowseArchive => state.screen = Screen::Browse,
            UiCommand::BrowseBackup(path) => {
                state.screen = Screen::Browse;
                self.commands.push(UiCommand::OpenArchive(path));
            }
            UiCommand::ShowRestorePlan => self.plan_restore(),
            UiCommand::RunRestore => {
                state.restore.running = true;
                state.restore.summary = None;
                state.warnings.clear();
                state.job = Some(JobProgress::new("Restoring"));
                self.worker.send(Command::RunRestore);
            }
        }
    }

    /// Draws one frame into `ui`, then runs the commands it produced.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.drain(&ctx);
        let (hovering, dropped) =
            ctx.input(|i| (!i.raw.hovered_files.is_empty(), i.raw.dropped_files.clone()));
        let dropped: Vec<PathBuf> = dropped
            .iter()
            .map(|f| f.path().to_path_buf())
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if let Some(command) = Self::command_for_dropped(dropped) {
            self.commands.push(command);
        }
        screens::frame_ui(self, ui);
        let mut wanted: HashMap<u32, Vec<String>> = HashMap::new();
        for (path, max_px) in std::mem::take(&mut self.textures.wanted) {
            wanted.entry(max_px).or_default().push(path);
        }
        for (max_px, paths) in wanted {
            self.request_images(paths, max_px);
        }
        if hovering {
            screens::drop_overlay_ui(&ctx);
        }
        for command in std::mem::take(&mut self.commands) {
            self.run(command);
        }
        self.check_due_profiles(&ctx);
    }
}

/// Set by the start-up benchmark: the app reports when its first frame was shown, then quits.
pub const FIRST_FRAME_ENV: &str = "LIFEBOAT_BENCH_FIRST_FRAME";

impl eframe::App for LifeboatApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
        self.frames_drawn += 1;
        if self.frames_drawn > 2 || std::env::var_os(FIRST_FRAME_ENV).is_none() {
            return;
        }
        // The second frame starts once the first is on screen.
        if self.frames_drawn == 1 {
            ui.ctx().request_repaint();
        } else {
            let since_epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            #[allow(clippy::print_stderr)] // read by scripts/bench_gui.py
            {
                eprintln!("first-frame-shown-at-unix-ms={}", since_epoch.as_millis());
            }
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

fn open_in_file_manager(path: &std::path::Path) -> std::io::Result<()> {
    let program = if cfg!(target_os = "windows") {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(path)
        .spawn()
        .map(|_| ())
}
