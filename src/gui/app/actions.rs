//! What the window does for the commands that start work: saving and testing an account,
//! backups and imports, schedules, and restore plans — each handed to the worker.

use std::path::PathBuf;

use eframe::egui;

use crate::config::{Account, AccountKind};
use crate::worker::{BackupAccount, Command};

use super::{DUE_CHECK_EVERY, LifeboatApp};
use crate::gui::state::{JobProgress, TestState};

impl LifeboatApp {
    pub(super) fn save_account(&mut self) {
        let state = &mut self.state;
        let Some(form) = &mut state.account_form else {
            return;
        };
        let Some(preset) = form.preset else { return };
        if preset.kind() == AccountKind::Android && form.address.trim().is_empty() {
            // The one phone there is, kept by its serial so that schedules read the same one.
            let found: Vec<_> = match &state.phones.found {
                Some(Ok(phones)) => phones.iter().collect(),
                _ => Vec::new(),
            };
            match found.as_slice() {
                [only] => {
                    form.address.clone_from(&only.serial);
                    if form.name.trim().is_empty() || form.name == preset.label() {
                        form.name = only.name();
                    }
                }
                [] => {
                    form.error = Some(
                        "No phone is connected yet: plug it in and follow the steps above."
                            .to_owned(),
                    );
                    return;
                }
                _ => {
                    form.error = Some("Choose which phone to back up.".to_owned());
                    return;
                }
            }
        }
        if form.address.trim().is_empty() {
            form.error = Some(if preset.kind() == AccountKind::Folder {
                "Choose the folder first.".to_owned()
            } else {
                "Enter the server address first.".to_owned()
            });
            return;
        }
        // A user name inside the address moves to its field; a password there is refused
        // before the address is kept anywhere.
        let address = if matches!(preset.kind(), AccountKind::Folder | AccountKind::Android) {
            form.address.trim().to_owned()
        } else {
            match crate::source::dav::split_user_info(&form.address) {
                Ok((address, user)) => {
                    if let Some(user) = user {
                        form.user = user;
                    }
                    address
                }
                Err(_) => {
                    form.address.clear();
                    form.error = Some(
                        "The address held a password. Enter the address without it, and the password in its own field.".to_owned(),
                    );
                    return;
                }
            }
        };
        let id = form
            .editing
            .clone()
            .unwrap_or_else(|| state.config.new_account_id(&form.name));
        let account = Account {
            id: id.clone(),
            name: if form.name.trim().is_empty() {
                preset.label().to_owned()
            } else {
                form.name.trim().to_owned()
            },
            preset,
            address,
            user: form.user.trim().to_owned(),
            ca_file: Some(form.ca_file.trim())
                .filter(|f| {
                    !f.is_empty() && matches!(preset.kind(), AccountKind::Dav | AccountKind::Photos)
                })
                .map(std::path::PathBuf::from),
        };
        let password = std::mem::take(&mut form.password);
        state.account_form = None;
        match state.config.accounts.iter_mut().find(|a| a.id == id) {
            Some(existing) => *existing = account.clone(),
            None => state.config.accounts.push(account.clone()),
        }
        state.save_config();
        if !password.is_empty() {
            state.session_passwords.insert(id.clone(), password.clone());
        }
        // Left empty while editing: the one typed earlier this session, if the keyring
        // never got it (the first test failed, or there is no keyring).
        let password = Some(password)
            .filter(|p| !p.is_empty())
            .or_else(|| state.session_passwords.get(&id).cloned());
        state.tests.insert(id, TestState::Running);
        self.worker.send(Command::TestAccount { account, password });
    }

    /// The accounts and collections chosen on the backup screen.
    pub(super) fn chosen_accounts(&self) -> Vec<BackupAccount> {
        let state = &self.state;
        state
            .config
            .accounts
            .iter()
            .filter(|a| !state.backup.skip_accounts.contains(&a.id))
            .map(|account| {
                let collections = match state.found(&account.id) {
                    Some(found)
                        if found.iter().any(|c| {
                            state
                                .backup
                                .skip_collections
                                .contains(&(account.id.clone(), c.href.clone()))
                        }) =>
                    {
                        found
                            .iter()
                            .filter(|c| {
                                !state
                                    .backup
                                    .skip_collections
                                    .contains(&(account.id.clone(), c.href.clone()))
                            })
                            .map(|c| c.href.clone())
                            .collect()
                    }
                    _ => Vec::new(),
                };
                BackupAccount {
                    account: account.clone(),
                    password: state.session_passwords.get(&account.id).cloned(),
                    collections,
                }
            })
            .collect()
    }

    /// A new archive's path in the backup folder: `prefix-<date>_<time>`, `.zip` if chosen.
    pub(super) fn new_archive_path(&self, prefix: &str) -> PathBuf {
        let stamp = chrono::Local::now().format("%Y-%m-%d_%H%M%S");
        let extension = if self.state.backup.as_zip { ".zip" } else { "" };
        PathBuf::from(self.state.backup.folder.trim()).join(format!("{prefix}-{stamp}{extension}"))
    }

    pub(super) fn start_import(&mut self, provider: crate::source::provider::Provider) {
        let Some(offer) = &self.state.import else {
            return;
        };
        let paths = offer.paths.clone();
        let prefix = match provider {
            crate::source::provider::Provider::GoogleTakeout => "google-takeout",
            crate::source::provider::Provider::AppleDataCopy => "apple-data-copy",
        };
        let destination = self.new_archive_path(prefix);
        let state = &mut self.state;
        state.backup.result = None;
        state.warnings.clear();
        state.job = Some(JobProgress::new("Importing"));
        self.worker.send(Command::ImportExport {
            provider,
            paths,
            destination,
        });
    }

    pub(super) fn start_backup(&mut self) {
        let accounts = self.chosen_accounts();
        let destination = self.new_archive_path("lifeboat");
        let state = &mut self.state;
        let folder = PathBuf::from(state.backup.folder.trim());
        state.config.backup_folder = Some(folder.clone());
        state.config.backup_as_zip = state.backup.as_zip;
        state.save_config();
        state.backup.result = None;
        state.warnings.clear();
        state.job = Some(JobProgress::new("Backing up"));
        self.worker.send(Command::Backup {
            accounts,
            destination,
        });
    }

    /// Registers a profile with the OS scheduler, or removes it, on the worker.
    pub(super) fn set_os_schedule(&self, name: &str, install: bool) {
        if let (Ok(profile), Some(config_dir)) =
            (self.state.config.profile(name), self.state.config_dir())
        {
            self.worker.send(Command::SetOsSchedule {
                profile: Box::new(profile.clone()),
                config_dir,
                install,
            });
        }
    }

    pub(super) fn load_schedules(&mut self) {
        if let Some(config_dir) = self.state.config_dir() {
            self.worker.send(Command::LoadSchedules {
                profiles: self
                    .state
                    .config
                    .profiles
                    .iter()
                    .map(|p| p.name.clone())
                    .collect(),
                config_dir,
            });
        }
    }

    /// A profile from the backup screen's choices: its folder holds one snapshot per run.
    pub(super) fn create_schedule(&mut self) {
        use crate::schedule::policy::{Every, parse_time};
        use crate::schedule::profile::{Profile, ProfileAccount, check_name};
        let accounts: Vec<ProfileAccount> = self
            .chosen_accounts()
            .into_iter()
            .map(|chosen| ProfileAccount {
                account: chosen.account.id,
                collections: chosen.collections,
            })
            .collect();
        let state = &mut self.state;
        let form = &mut state.schedules.form;
        let name = form.name.trim().to_owned();
        let checked = check_name(&name)
            .map_err(|e| e.to_string())
            .and_then(|()| parse_time(&form.at))
            .and_then(|at| {
                if state.config.profiles.iter().any(|p| p.name == name) {
                    Err(format!("There is already a schedule named {name:?}."))
                } else if accounts.is_empty() {
                    Err("Choose at least one account on the Back up screen.".to_owned())
                } else {
                    Ok(at)
                }
            });
        let at = match checked {
            Ok(at) => at,
            Err(error) => {
                form.error = Some(error);
                return;
            }
        };
        let every = match form.every {
            0 => Every::Hourly,
            1 => Every::Daily { at },
            _ => Every::Weekly {
                on: form.weekday,
                at,
            },
        };
        let retention = crate::schedule::retention::Retention {
            keep_last: form.keep_last,
            ..crate::schedule::retention::Retention::default()
        };
        form.error = None;
        let destination = PathBuf::from(state.backup.folder.trim()).join(&name);
        state.config.profiles.push(Profile {
            name,
            accounts,
            destination,
            every,
            retention,
            drop_percent: crate::schedule::profile::DEFAULT_DROP_PERCENT,
            enabled: true,
        });
        state.save_config();
        self.load_schedules();
    }

    /// While the window is open, asks the worker once a minute to run due profiles.
    pub(super) fn check_due_profiles(&mut self, ctx: &egui::Context) {
        let state = &mut self.state;
        if !state.config.profiles.iter().any(|p| p.enabled) {
            return;
        }
        ctx.request_repaint_after(DUE_CHECK_EVERY);
        let checked_recently = state
            .schedules
            .last_due_check
            .is_some_and(|at| at.elapsed() < DUE_CHECK_EVERY);
        if checked_recently || state.busy() {
            return;
        }
        let Some(config_dir) = state.config_dir() else {
            return;
        };
        state.schedules.last_due_check = Some(std::time::Instant::now());
        self.worker.send(Command::RunDueProfiles {
            profiles: state.config.profiles.clone(),
            accounts: state.config.accounts.clone(),
            config_dir,
        });
    }

    pub(super) fn plan_restore(&mut self) {
        let state = &mut self.state;
        let (Some(archive), Some(target)) =
            (state.archive.path.clone(), state.restore.target.clone())
        else {
            return;
        };
        // The photo place first: the first target that takes a kind gets it.
        let ids = state
            .restore
            .photo_target
            .iter()
            .filter(|id| **id != target)
            .chain(std::iter::once(&target));
        let targets: Vec<(Account, Option<String>)> = ids
            .filter_map(|id| {
                let account = state.account(id)?.clone();
                Some((account, state.session_passwords.get(id).cloned()))
            })
            .collect();
        if targets.is_empty() {
            return;
        }
        state.restore.plan = None;
        state.restore.summary = None;
        state.job = Some(JobProgress::new("Comparing the archive with the account"));
        self.worker.send(Command::PlanRestore {
            archive,
            targets,
            on_conflict: state.restore.on_conflict,
        });
    }
}
