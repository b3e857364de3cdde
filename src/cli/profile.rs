//! `lifeboat run`, `lifeboat profile` and `lifeboat schedule`: backup profiles, run once or by
//! the OS scheduler.

use std::process::ExitCode;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};

use super::{
    EveryArg, ProfileAddArgs, ProfileCommand, ScheduleCommand, TerminalProgress,
    cancel_on_interrupt, credentials, human_bytes, load_config, to_json,
};

pub(super) async fn run_profile(name: &str) -> Result<ExitCode> {
    use crate::schedule::status::Outcome;
    let cancel = cancel_on_interrupt();
    let (dir, config) = load_config()?;
    let profile = config.profile(name)?.clone();
    let secrets = crate::secrets::open_default();
    let progress = Arc::new(TerminalProgress::new("fetching"));
    let record = crate::schedule::run_profile(
        &profile,
        &config.accounts,
        &dir,
        secrets.as_ref(),
        progress.clone(),
        &cancel,
    )
    .await;
    progress.bar.finish_and_clear();
    let record = record?;
    match record.outcome {
        Outcome::Failed => {
            eprintln!("error: {}", record.message);
            Ok(ExitCode::FAILURE)
        }
        outcome => {
            println!(
                "Snapshot {} in {}",
                record.snapshot.as_deref().unwrap_or("?"),
                profile.destination.display()
            );
            println!("{}", record.message);
            println!(
                "{} downloaded in {:.1} s, {} requests",
                human_bytes(record.fetched_bytes),
                (record.finished - record.started).as_seconds_f64(),
                record.requests
            );
            for flag in &record.flags {
                println!("FLAGGED: {flag}");
            }
            if !record.pruned.is_empty() {
                println!("Removed old snapshots: {}", record.pruned.join(", "));
            }
            // A drop is not a failure of the run, but scripts should notice it.
            Ok(if outcome == Outcome::Flagged {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// The accounts `profile add` was given, new in the settings' account list (ids
/// `profile-NAME-N`), so that the window and the scheduler see the same ones.
pub(super) fn profile_accounts(
    args: &ProfileAddArgs,
    config: &crate::config::Config,
) -> Result<Vec<crate::config::Account>> {
    use crate::config::{Account, Preset};
    if args.sources.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "nothing to back up: give --url, --photos-url, --device or --android",
        ));
    }
    let mut accounts = Vec::new();
    let user = args.sources.user.clone().unwrap_or_default();
    let mut add = |preset: Preset, address: String, user: String| {
        // `profile remove` knows its own accounts by this prefix.
        let id = (accounts.len() + 1..)
            .map(|n| format!("profile-{}-{n}", args.name))
            .find(|id| !config.accounts.iter().any(|a| &a.id == id))
            .unwrap_or_default();
        accounts.push(Account {
            name: format!("{} {}", args.name, accounts.len() + 1),
            id,
            preset,
            address,
            user,
            ca_file: args.ca_file.clone(),
        });
    };
    for url in &args.sources.urls {
        add(Preset::OtherDav, url.clone(), user.clone());
    }
    for url in &args.sources.photos_urls {
        add(Preset::WebdavPhotos, url.clone(), user.clone());
    }
    for device in &args.sources.devices {
        let absolute =
            std::path::absolute(device).map_err(|e| Error::io("resolving", device, e))?;
        add(
            Preset::Folder,
            absolute.to_string_lossy().into_owned(),
            String::new(),
        );
    }
    if let Some(serial) = &args.sources.android {
        add(Preset::Android, serial.clone(), String::new());
    }
    Ok(accounts)
}

pub(super) fn profile_every(args: &ProfileAddArgs) -> Result<crate::schedule::policy::Every> {
    use crate::schedule::policy::{Every, parse_time};
    let at = parse_time(&args.at).map_err(|m| Error::new(ErrorKind::InvalidInput, m))?;
    Ok(match args.every {
        EveryArg::Hourly => Every::Hourly,
        EveryArg::Daily => Every::Daily { at },
        EveryArg::Weekly => Every::Weekly {
            on: args.on.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("not a day of the week: {:?} (mon, tue, ...)", args.on),
                )
            })?,
            at,
        },
    })
}

pub(super) fn run_profile_command(command: ProfileCommand) -> Result<ExitCode> {
    use crate::schedule::profile::{Profile, check_name};
    let (dir, mut config) = load_config()?;
    let path = dir.join(crate::config::CONFIG_FILE);
    match command {
        ProfileCommand::Add(mut args) => {
            args.sources.take_user_names()?;
            check_name(&args.name)?;
            if config.profiles.iter().any(|p| p.name == args.name) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "a profile named {:?} exists; remove it first or pick another name",
                        args.name
                    ),
                ));
            }
            let accounts = profile_accounts(&args, &config)?;
            let mut retention = crate::schedule::retention::Retention::default();
            for (value, field) in [
                (args.keep_last, &mut retention.keep_last),
                (args.keep_daily, &mut retention.keep_daily),
                (args.keep_weekly, &mut retention.keep_weekly),
                (args.keep_monthly, &mut retention.keep_monthly),
            ] {
                if let Some(value) = value {
                    *field = value;
                }
            }
            // Only --keep-last given: keep exactly that many, as the user said.
            if args.keep_last.is_some()
                && args.keep_daily.is_none()
                && args.keep_weekly.is_none()
                && args.keep_monthly.is_none()
            {
                retention.keep_daily = 0;
                retention.keep_weekly = 0;
                retention.keep_monthly = 0;
            }
            let destination = std::path::absolute(&args.dest)
                .map_err(|e| Error::io("resolving", &args.dest, e))?;
            let profile = Profile {
                name: args.name.clone(),
                every: profile_every(&args)?,
                accounts: accounts
                    .iter()
                    .map(|a| crate::schedule::profile::ProfileAccount {
                        account: a.id.clone(),
                        collections: Vec::new(),
                    })
                    .collect(),
                destination,
                retention,
                drop_percent: args.drop_percent,
                enabled: true,
            };
            let needs_password: Vec<_> = accounts.iter().filter(|a| a.needs_password()).collect();
            if !needs_password.is_empty() && std::env::var(crate::schedule::TOKEN_ENV).is_err() {
                let credentials = credentials(args.sources.user.as_deref())?;
                if let crate::dav::http::Credentials::Basic { password, .. } = credentials {
                    let secrets = crate::secrets::open_default();
                    for account in &needs_password {
                        secrets.set(&account.id, &password)?;
                    }
                    if !secrets.is_persistent() {
                        eprintln!(
                            "warning: no system keyring here; scheduled runs need {} in their environment",
                            crate::schedule::PASSWORD_ENV
                        );
                    }
                }
            }
            println!(
                "Added profile {}: {} into {}, {}",
                profile.name,
                profile.every.describe(),
                profile.destination.display(),
                profile.retention.describe()
            );
            println!(
                "Run it now with `lifeboat run {0}`; schedule it with `lifeboat schedule install {0}`",
                profile.name
            );
            config.accounts.extend(accounts);
            config.profiles.push(profile);
            config.save(&path)?;
        }
        ProfileCommand::List => {
            if config.profiles.is_empty() {
                println!("No profiles yet: `lifeboat profile add --help` shows how to add one.");
            }
            for profile in &config.profiles {
                let status =
                    crate::schedule::status::StatusFiles::for_profile(&dir, &profile.name).load();
                println!(
                    "{}: {} into {} ({} account(s); {}); last run: {}",
                    profile.name,
                    profile.every.describe(),
                    profile.destination.display(),
                    profile.accounts.len(),
                    profile.retention.describe(),
                    status.last().map_or_else(
                        || "never".to_owned(),
                        |r| format!("{:?} at {}", r.outcome, r.started.to_rfc3339())
                    )
                );
            }
        }
        ProfileCommand::Remove { name } => {
            let profile = config.profile(&name)?.clone();
            crate::schedule::install::remove(&name)?;
            let secrets = crate::secrets::open_default();
            config.profiles.retain(|p| p.name != name);
            // The accounts `profile add` made for it go with it, with their passwords, unless
            // another profile uses them; accounts of the window's stay.
            let made_here = format!("profile-{name}-");
            let still_used = |id: &str| {
                config
                    .profiles
                    .iter()
                    .any(|p| p.accounts.iter().any(|c| c.account == id))
            };
            let gone: Vec<String> = profile
                .accounts
                .iter()
                .map(|c| c.account.clone())
                .filter(|id| id.starts_with(&made_here) && !still_used(id))
                .collect();
            for id in &gone {
                let _ = secrets.delete(id);
            }
            config.accounts.retain(|a| !gone.contains(&a.id));
            config.save(&path)?;
            println!(
                "Removed profile {name}; its snapshots in {} stay.",
                profile.destination.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
pub(super) struct ScheduleLine<'a> {
    pub(super) profile: &'a str,
    pub(super) every: String,
    pub(super) installed: bool,
    pub(super) enabled_in_app: bool,
    pub(super) last_run: Option<&'a crate::schedule::status::RunRecord>,
    pub(super) next_run: String,
}

pub(super) fn run_schedule_command(command: ScheduleCommand) -> Result<ExitCode> {
    use crate::schedule::{install, policy, status::StatusFiles};
    let (dir, config) = load_config()?;
    match command {
        ScheduleCommand::Install { profile } => {
            let profile = config.profile(&profile)?;
            let log = StatusFiles::for_profile(&dir, &profile.name).log;
            let what = install::install(&profile.name, &profile.every, &log)?;
            println!("Installed {what}: {}", profile.every.describe());
        }
        ScheduleCommand::Remove { profile } => {
            config.profile(&profile)?;
            install::remove(&profile)?;
            println!("The OS will no longer run {profile}.");
        }
        ScheduleCommand::Accept { profile } => {
            let profile = config.profile(&profile)?;
            let accepted = crate::schedule::snapshot::accept_flagged(&profile.destination)?;
            if accepted.is_empty() {
                println!("No flagged snapshots in {}.", profile.destination.display());
            } else {
                println!(
                    "Accepted as good: {}. The next run compares against the newest of them.",
                    accepted.join(", ")
                );
            }
        }
        ScheduleCommand::Status { json } => {
            let now = chrono::Local::now().naive_local();
            let statuses: Vec<_> = config
                .profiles
                .iter()
                .map(|p| (p, StatusFiles::for_profile(&dir, &p.name).load()))
                .collect();
            let lines: Vec<ScheduleLine<'_>> = statuses
                .iter()
                .map(|(profile, status)| ScheduleLine {
                    profile: &profile.name,
                    every: profile.every.describe(),
                    installed: install::is_installed(&profile.name),
                    enabled_in_app: profile.enabled,
                    last_run: status.last(),
                    next_run: policy::decide(&profile.every, &status.history(), now).describe(),
                })
                .collect();
            if json {
                println!("{}", to_json(&lines));
            } else if lines.is_empty() {
                println!("No profiles yet: `lifeboat profile add --help` shows how to add one.");
            } else {
                for line in &lines {
                    println!(
                        "{}: {}, {}; last run: {}; next run: {}",
                        line.profile,
                        line.every,
                        if line.installed {
                            "scheduled with the OS"
                        } else {
                            "not scheduled with the OS"
                        },
                        line.last_run.map_or_else(
                            || "never".to_owned(),
                            |r| format!(
                                "{:?} at {} ({})",
                                r.outcome,
                                r.started
                                    .with_timezone(&chrono::Local)
                                    .format("%Y-%m-%d %H:%M"),
                                r.message
                            )
                        ),
                        line.next_run
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
