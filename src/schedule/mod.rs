//! Scheduled backups: profiles, the pure "is it due" policy and retention, dated snapshots
//! that hard-link what did not change, per-profile status and log, OS scheduler integration
//! and notifications. [`run_profile`] is what `lifeboat run PROFILE`, the OS scheduler and the
//! open app all call.

pub mod install;
pub mod notify;
pub mod policy;
pub mod profile;
pub mod retention;
pub mod snapshot;
pub mod status;

use std::path::Path;
use std::sync::Arc;

use chrono::{Local, Utc};

use crate::dav::http::Credentials;
use crate::error::{Error, ErrorKind, Result};
use crate::progress::{CancelToken, Progress};
use crate::secrets::SecretStore;
use crate::source::Connected;
use profile::{Profile, ProfileAccount};
use status::{Outcome, RunRecord, StatusFiles};

pub use crate::connect::{PASSWORD_ENV, TOKEN_ENV};

/// The credentials for one account of a profile: the keyring first, then the environment.
pub fn credentials_for(
    account: &crate::config::Account,
    secrets: &dyn SecretStore,
) -> Result<Credentials> {
    use crate::connect::Step;
    if !account.needs_password() {
        return Ok(Credentials::None);
    }
    let steps = [
        Step::Keyring(secrets, &account.id),
        Step::PasswordEnv,
        Step::TokenEnv,
    ];
    crate::connect::credentials(Some(&account.user), &steps)?.ok_or_else(|| {
        Error::new(
            ErrorKind::Auth,
            format!(
                "no password saved for {} at {}: save it again (lifeboat profile add, or the app), or set {PASSWORD_ENV}",
                account.user, account.address
            ),
        )
    })
}

/// The profile's accounts; one that cannot be connected is a warning ([`Connected`]).
async fn connect(accounts: &[ProfileAccount], secrets: &dyn SecretStore) -> Result<Connected> {
    if accounts.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "this profile has no accounts to back up",
        ));
    }
    let mut connected = Connected::default();
    for chosen in accounts {
        let credentials = credentials_for(&chosen.account, secrets);
        crate::connect::add_account(
            &mut connected,
            &chosen.account,
            &chosen.collections,
            credentials,
        )
        .await?;
    }
    connected.finish()
}

/// Runs `profile` once: a snapshot, the status file and log updated, and a desktop
/// notification when the run failed or flagged a drop. The record is returned either way;
/// `Err` only when even the status could not be written.
pub async fn run_profile(
    profile: &Profile,
    config_dir: &Path,
    secrets: &dyn SecretStore,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<RunRecord> {
    let started = Utc::now();
    let result = async {
        let Connected {
            sources, failed, ..
        } = connect(&profile.accounts, secrets).await?;
        let settings = snapshot::RunSettings {
            owner: &profile.name,
            destination: &profile.destination,
            retention: &profile.retention,
            drop_percent: profile.drop_percent,
            failed: &failed,
        };
        snapshot::run(&sources, settings, progress, cancel).await
    }
    .await;
    let record = match result {
        Ok(run) => RunRecord {
            started,
            finished: Utc::now(),
            outcome: if run.flags.is_empty() {
                Outcome::Success
            } else {
                Outcome::Flagged
            },
            snapshot: run
                .snapshot
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
            message: format!(
                "{} items ({} downloaded, {} unchanged and linked), {} warnings",
                run.summary.manifest.items.len(),
                run.fetched_items,
                run.summary.linked_items,
                run.summary.manifest.warnings.len()
            ),
            flags: run.flags,
            fetched_items: run.fetched_items,
            linked_items: run.summary.linked_items,
            fetched_bytes: run.summary.item_bytes - run.summary.linked_bytes,
            requests: run.summary.requests,
            pruned: run.pruned,
        },
        Err(error) => RunRecord {
            started,
            finished: Utc::now(),
            outcome: Outcome::Failed,
            snapshot: None,
            message: match error.hint() {
                Some(hint) => format!("{error} ({hint})"),
                None => error.to_string(),
            },
            flags: Vec::new(),
            fetched_items: 0,
            linked_items: 0,
            fetched_bytes: 0,
            requests: 0,
            pruned: Vec::new(),
        },
    };
    StatusFiles::for_profile(config_dir, &profile.name).record(record.clone())?;
    match record.outcome {
        Outcome::Failed => notify::notify(
            &format!("Backup \"{}\" failed", profile.name),
            &record.message,
        ),
        Outcome::Flagged => notify::notify(
            &format!("Backup \"{}\": something is missing", profile.name),
            &format!(
                "{}. The last good snapshot still holds it; nothing was pruned.",
                record.flags.join("; ")
            ),
        ),
        Outcome::Success => {}
    }
    Ok(record)
}

/// The enabled profiles due now, by the policy and their status files.
pub fn due_profiles<'a>(profiles: &'a [Profile], config_dir: &Path) -> Vec<&'a Profile> {
    let now = Local::now().naive_local();
    profiles
        .iter()
        .filter(|p| p.enabled)
        .filter(|p| {
            let history = StatusFiles::for_profile(config_dir, &p.name)
                .load()
                .history();
            policy::decide(&p.every, &history, now) == policy::Decision::Due
        })
        .collect()
}
