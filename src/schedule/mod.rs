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

use crate::config::Account;
use crate::dav::http::Credentials;
use crate::error::{Error, ErrorKind, Result};
use crate::progress::{CancelToken, Progress};
use crate::secrets::SecretStore;
use crate::source::Connected;
use profile::Profile;
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
async fn connect(
    profile: &Profile,
    accounts: &[Account],
    secrets: &dyn SecretStore,
) -> Result<Connected> {
    if profile.accounts.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "this profile has no accounts to back up",
        ));
    }
    let (found, missing) = crate::config::Config::accounts_of(profile, accounts);
    let mut connected = Connected::default();
    for id in missing {
        let gone = Account {
            id: id.to_owned(),
            name: id.to_owned(),
            ..Account::default()
        };
        connected.add(
            &gone,
            &[],
            Err(Error::new(
                ErrorKind::InvalidInput,
                "this account was removed from the settings; add it again or change the schedule",
            )),
        )?;
    }
    for (account, collections) in found {
        let credentials = credentials_for(account, secrets);
        crate::connect::add_account(&mut connected, account, collections, credentials).await?;
    }
    connected.finish()
}

/// Runs `profile` once: a snapshot, the status file and log updated, and a desktop
/// notification when the run failed or flagged a drop. The record is returned either way;
/// `Err` only when even the status could not be written.
pub async fn run_profile(
    profile: &Profile,
    accounts: &[Account],
    config_dir: &Path,
    secrets: &dyn SecretStore,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<RunRecord> {
    let started = Utc::now();
    let result = async {
        let Connected {
            sources, failed, ..
        } = connect(profile, accounts, secrets).await?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::profile::{Profile, ProfileAccount};
    use super::run_profile;
    use super::status::Outcome;
    use crate::config::{Account, Preset};

    /// A profile names its accounts by id: the settings' account is the one used, and an id
    /// no longer there (removed in the window) makes the run flagged, never a success.
    #[tokio::test]
    async fn a_profile_uses_the_settings_account_and_reports_one_removed() {
        let work = tempfile::tempdir().unwrap();
        let phone = work.path().join("phone");
        std::fs::create_dir_all(&phone).unwrap();
        std::fs::write(
            phone.join("a.vcf"),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ann\r\nEND:VCARD\r\n",
        )
        .unwrap();
        let accounts = vec![Account {
            id: "phone".to_owned(),
            name: "Phone".to_owned(),
            preset: Preset::Folder,
            address: phone.to_string_lossy().into_owned(),
            ..Account::default()
        }];
        let chosen = |id: &str| ProfileAccount {
            account: id.to_owned(),
            collections: Vec::new(),
        };
        let mut profile = Profile {
            name: "nightly".to_owned(),
            accounts: vec![chosen("phone")],
            destination: work.path().join("snapshots"),
            every: super::policy::Every::Hourly,
            retention: super::retention::Retention::default(),
            drop_percent: super::profile::DEFAULT_DROP_PERCENT,
            enabled: true,
        };
        let secrets = crate::secrets::MemorySecrets::default();
        let config = work.path().join("config");
        let cancel = crate::progress::CancelToken::default();
        let run = |profile: Profile| {
            let (accounts, config, secrets, cancel) = (&accounts, &config, &secrets, &cancel);
            async move {
                let progress = Arc::new(crate::progress::NoProgress);
                run_profile(&profile, accounts, config, secrets, progress, cancel)
                    .await
                    .unwrap()
            }
        };
        let record = run(profile.clone()).await;
        assert_eq!(record.outcome, Outcome::Success, "{}", record.message);
        assert_eq!(record.fetched_items, 1);

        profile.accounts.push(chosen("removed-in-the-window"));
        let record = run(profile.clone()).await;
        assert_eq!(record.outcome, Outcome::Flagged, "{}", record.message);
        let said = format!("{} {:?}", record.message, record.flags);
        assert!(said.contains("removed-in-the-window"), "{said}");

        profile.accounts = vec![chosen("removed-in-the-window")];
        let record = run(profile).await;
        assert_eq!(record.outcome, Outcome::Failed, "{}", record.message);
        assert!(
            record.message.contains("removed from the settings"),
            "{}",
            record.message
        );
    }
}
