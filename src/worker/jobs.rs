//! The jobs the worker runs: testing an account, backups and imports, restore plans and runs,
//! profiles — each over the engine's connection layer and jobs.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Account, AccountKind};
use crate::dav::http::Credentials;
use crate::destination::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::job::export::ExportSummary;
use crate::job::restore::{
    ConflictPolicy, RestoreInput, RestoreOptions, RestorePlan, RestoreSummary,
};
use crate::job::restore_report::RestoreReport;
use crate::job::{export, restore, restore_report};
use crate::progress::{CancelToken, NoProgress, Progress};
use crate::schedule::profile::Profile;
use crate::source::Source;
use crate::source::provider::{Provider, ProviderExport};

use super::{
    BackupAccount, ChannelProgress, Event, Failure, FoundCollection, PreparedRestore, Shared,
};

pub(super) async fn save_secret(shared: &Arc<Shared>, account_id: &str, password: String) -> bool {
    let secrets = Arc::clone(&shared.secrets);
    let id = account_id.to_owned();
    tokio::task::spawn_blocking(move || secrets.set(&id, &password))
        .await
        .is_ok_and(|saved| saved.is_ok())
}

/// The password typed now, else the one in the keyring.
pub(super) async fn password_for(
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
pub(super) async fn targets_for(
    account: &Account,
    credentials: Credentials,
) -> Result<Vec<Box<dyn Target>>> {
    Ok(vec![
        crate::connect::Endpoint::of(account)
            .destination(&credentials)
            .await?,
    ])
}

pub(super) async fn test_account(
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
pub(super) async fn run_one_profile(
    shared: &Arc<Shared>,
    profile: &Profile,
    accounts: &[Account],
    config_dir: &std::path::Path,
) {
    let cancel = shared.new_job();
    shared.send(Event::ProfileStarted(profile.name.clone()));
    let progress: Arc<dyn Progress> = Arc::new(ChannelProgress(Arc::clone(shared)));
    let result = crate::schedule::run_profile(
        profile,
        accounts,
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

pub(super) async fn backup(
    shared: &Arc<Shared>,
    accounts: Vec<BackupAccount>,
    destination: &std::path::Path,
    cancel: &CancelToken,
) -> Result<ExportSummary> {
    // One account that fails (a wrong password, a server down) is a warning naming it; the
    // others are still saved.
    let mut connected = crate::source::Connected::default();
    for chosen in accounts {
        let credentials = password_for(shared, &chosen.account, chosen.password).await;
        crate::connect::add_account(
            &mut connected,
            &chosen.account,
            &chosen.collections,
            credentials,
        )
        .await?;
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

pub(super) async fn import_export(
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
pub(super) async fn export_into(
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

pub(super) async fn plan_restore(
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

pub(super) async fn run_restore(
    shared: &Arc<Shared>,
    cancel: &CancelToken,
) -> Result<RestoreSummary> {
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
