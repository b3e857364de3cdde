//! Carrying out a restore plan: collections created, items written with conditional requests
//! (one request per collection where the server takes it), the report kept current.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use futures_util::StreamExt;

use crate::archive::manifest::ManifestItem;
use crate::destination::{PutMode, PutOutcome, StoredItem, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Etag, Href, Sha256, Uid};
use crate::job::restore_report::{ItemRecord, ItemState, RestoreReport};
use crate::model::{CollectionInfo, CollectionKind, Warning};
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::vobject;

use super::{
    CollectionOutcome, CollectionRestore, ItemAction, ItemPlan, Match, Resolution, RestoreInput,
    RestorePlan, RestoreSummary, UPLOAD_BUDGET_MIB, UPLOAD_CONCURRENCY, read_back,
};

/// One write to make and what came of it.
pub(super) struct Written {
    pub(super) path: String,
    pub(super) href: Href,
    pub(super) uid: Option<Uid>,
    /// The bytes sent (for photos only their checksum is kept).
    pub(super) sent: Vec<u8>,
    pub(super) sent_sha256: Sha256,
    pub(super) size: u64,
    pub(super) etag: Option<Etag>,
    pub(super) verified: bool,
    /// What the read-back found the target changed, property by property.
    pub(super) changes: Vec<String>,
}

/// Collects warnings and forwards them to the front end.
pub(super) struct Warnings<'a> {
    pub(super) progress: &'a dyn Progress,
    pub(super) list: Mutex<Vec<Warning>>,
}

impl Warnings<'_> {
    pub(super) fn warn(&self, warning: Warning) {
        self.progress.event(JobEvent::Warning(warning.clone()));
        self.list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(warning);
    }
}

/// Executes `plan`, keeping `report` (saved at `report_path`) up to date as it goes.
pub async fn execute(
    input: &RestoreInput,
    targets: &[Box<dyn Target>],
    plan: &RestorePlan,
    report: &mut RestoreReport,
    report_path: &Path,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<RestoreSummary> {
    let started = Instant::now();
    let warnings = Warnings {
        progress,
        list: Mutex::default(),
    };
    let mut report_saved = true;
    let mut save = |report: &RestoreReport, warnings: &Warnings<'_>| {
        if let Err(error) = report.save(report_path) {
            if report_saved {
                warnings.warn(Warning::new(
                    "report-not-saved",
                    format!("the restore report could not be saved; a re-run will compare contents instead: {error}"),
                ));
            }
            report_saved = false;
        }
    };
    let items_by_path: HashMap<&str, &ManifestItem> = input
        .manifest
        .items
        .iter()
        .map(|i| (i.path.as_str(), i))
        .collect();
    let mut outcomes = Vec::new();
    for collection in &plan.collections {
        cancel.check()?;
        let target = targets[collection.target].as_ref();
        let location = target.info().account_key();
        let counts = collection.counts();
        let mut outcome = CollectionOutcome {
            archive_path: collection.archive_path.clone(),
            label: collection.label.clone(),
            href: collection.href.clone(),
            created: collection.create,
            already_there: counts.already_there,
            verify_failed: counts.changed_by_server,
            ..CollectionOutcome::default()
        };
        let writes: Vec<&ItemPlan> = collection.writes().collect();
        for item in &collection.items {
            match &item.action {
                ItemAction::AlreadyThere {
                    href,
                    matched: Match::ChangedByServer { changes },
                } => {
                    warnings.warn(changed_warning(changes, href, &item.path));
                }
                ItemAction::Refused { reason } => {
                    outcome.refused += 1;
                    warnings.warn(Warning::new("not-restored", reason.clone()).at_path(&item.path));
                }
                ItemAction::Conflict {
                    href,
                    resolution: Resolution::Skip,
                    ..
                } => {
                    outcome.conflicts_skipped += 1;
                    warnings.warn(
                        Warning::new(
                            "conflict-skipped",
                            format!("the target has a different version at {href}; left as it is"),
                        )
                        .at_path(&item.path),
                    );
                }
                _ => {}
            }
        }
        progress.event(JobEvent::CollectionStarted {
            name: collection.label.clone(),
            kind: collection.kind,
            items: writes.len() as u64,
        });
        // Write-ahead: if we die mid-way, a re-run knows these hrefs are ours.
        {
            let record = report.target(&location);
            record.updated = chrono::Utc::now().to_rfc3339();
            for item in &writes {
                let (href, uid) = write_destination(item);
                record.items.insert(
                    item.path.clone(),
                    ItemRecord {
                        href,
                        uid,
                        state: ItemState::Pending,
                        etag: None,
                        served_sha256: None,
                        changes: Vec::new(),
                    },
                );
            }
        }
        save(report, &warnings);

        let mut written: Vec<Written> = Vec::new();
        let mut pending: Vec<&ItemPlan> = writes.clone();
        if collection.create {
            let mut stored_at_once = false;
            if collection.one_request {
                let eligible: Vec<(&ItemPlan, Vec<u8>)> = writes
                    .iter()
                    // Stored items are found again by UID; the target may leave out items it
                    // cannot take at once, and those go up one by one after.
                    .filter(|i| matches!(i.action, ItemAction::Upload { .. }) && i.uid.is_some())
                    .filter_map(|i| {
                        let bytes = input
                            .bytes_to_send(items_by_path.get(i.path.as_str())?, i)
                            .ok()?;
                        Some((*i, bytes))
                    })
                    .collect();
                if eligible.len() > 1 {
                    let slices: Vec<&[u8]> = eligible.iter().map(|(_, b)| b.as_slice()).collect();
                    stored_at_once = target
                        .create_collection_with(&collection.href, &collection.info, &slices)
                        .await?;
                }
                if stored_at_once {
                    progress.event(JobEvent::Phase(format!(
                        "checking {} as the server stored it",
                        collection.label
                    )));
                    let done: HashSet<&str> =
                        eligible.iter().map(|(i, _)| i.path.as_str()).collect();
                    pending.retain(|i| !done.contains(i.path.as_str()));
                    let settled = settle_one_request(target, collection, eligible).await?;
                    outcome.one_request_items = settled.written.len();
                    outcome.uploaded += settled.written.len();
                    progress.event(JobEvent::Progress {
                        items: settled.written.len() as u64,
                        bytes: settled.written.iter().map(|w| w.size).sum(),
                    });
                    written.extend(settled.written);
                    // Whatever the server left out goes up one by one.
                    pending.extend(settled.missing);
                }
            }
            if !stored_at_once {
                target
                    .create_collection(&collection.href, &collection.info)
                    .await?;
            }
        }

        let budget = tokio::sync::Semaphore::new(UPLOAD_BUDGET_MIB as usize);
        let uploads = futures_util::stream::iter(pending.into_iter().map(|item| {
            let manifest_item = items_by_path.get(item.path.as_str()).copied();
            let budget = &budget;
            async move {
                let mib = manifest_item.map_or(0, |m| m.size.div_ceil(1 << 20));
                let _held = budget
                    .acquire_many(
                        u32::try_from(mib)
                            .unwrap_or(u32::MAX)
                            .clamp(1, UPLOAD_BUDGET_MIB),
                    )
                    .await;
                upload_one(input, target, collection.kind, item, manifest_item, cancel).await
            }
        }))
        .buffer_unordered(UPLOAD_CONCURRENCY);
        futures_util::pin_mut!(uploads);
        let mut failure = None;
        while let Some(result) = uploads.next().await {
            match result {
                Ok((item, Ok(done))) => {
                    progress.event(JobEvent::Progress {
                        items: 1,
                        bytes: done.size,
                    });
                    match &item.action {
                        ItemAction::Conflict {
                            resolution: Resolution::Overwrite,
                            ..
                        } => outcome.overwritten += 1,
                        ItemAction::Conflict { .. } => outcome.kept_both += 1,
                        _ => outcome.uploaded += 1,
                    }
                    if let Some(record) = report.target(&location).items.get_mut(&done.path) {
                        record.state = ItemState::Stored;
                        record.etag.clone_from(&done.etag);
                    }
                    written.push(done);
                }
                Ok((item, Err(warning))) => {
                    outcome.refused += 1;
                    report.target(&location).items.remove(&item.path);
                    warnings.warn(warning);
                }
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        if let Some(error) = failure {
            save(report, &warnings);
            return Err(error);
        }
        save(report, &warnings);

        cancel.check()?;
        progress.event(JobEvent::Phase(format!(
            "reading back {}",
            collection.label
        )));
        read_back(target, collection, &mut written, &mut outcome, &warnings).await?;
        let record = report.target(&location);
        for done in &written {
            let entry = record.items.entry(done.path.clone()).or_insert(ItemRecord {
                href: done.href.clone(),
                uid: done.uid.clone(),
                state: ItemState::Stored,
                etag: None,
                served_sha256: None,
                changes: Vec::new(),
            });
            entry.href.clone_from(&done.href);
            if done.verified {
                entry.state = ItemState::Verified;
                entry.served_sha256 = Some(done.sent_sha256.clone());
            } else if !done.changes.is_empty() {
                // Kept so that a re-run recognises the item and reports its changes again.
                entry.served_sha256 = Some(done.sent_sha256.clone());
                entry.changes.clone_from(&done.changes);
            }
        }
        save(report, &warnings);
        outcomes.push(outcome);
    }
    Ok(RestoreSummary {
        collections: outcomes,
        warnings: warnings
            .list
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        report: report_saved.then(|| report_path.to_path_buf()),
        elapsed: started.elapsed(),
        requests: targets.iter().map(|t| t.requests_made()).sum(),
    })
}

/// The items of a one-request upload, as the server stored them.
pub(super) struct Settled<'p> {
    pub(super) written: Vec<Written>,
    /// Items the server did not store (found by UID): to upload one by one.
    pub(super) missing: Vec<&'p ItemPlan>,
}

/// After a one-request upload: finds each item by UID and re-sends (`If-Match`) the archived
/// bytes of every item the server stored differently, so the result is what one-by-one
/// uploads give. Replacing is cheap where creating is not (Radicale: ~5 ms against ~90 ms
/// per item at 3,000 items).
pub(super) async fn settle_one_request<'p>(
    target: &dyn Target,
    collection: &CollectionRestore,
    uploaded: Vec<(&'p ItemPlan, Vec<u8>)>,
) -> Result<Settled<'p>> {
    let info = CollectionInfo {
        href: collection.href.clone(),
        ..collection.info.clone()
    };
    let hrefs: Vec<Href> = target
        .list(&info)
        .await?
        .into_iter()
        .map(|r| r.href)
        .collect();
    let mut by_uid: HashMap<Uid, StoredItem> = HashMap::new();
    for stored in target.fetch(&info, &hrefs).await? {
        if let Some(uid) = vobject::uid_of(&stored.bytes) {
            by_uid.insert(uid, stored);
        }
    }
    let mut missing = Vec::new();
    let mut found = Vec::new();
    for (item, bytes) in uploaded {
        match item.uid.as_ref().and_then(|uid| by_uid.remove(uid)) {
            Some(stored) => found.push((item, bytes, stored)),
            None => missing.push(item),
        }
    }
    let kind = collection.kind;
    let written =
        futures_util::stream::iter(found.into_iter().map(|(item, bytes, stored)| async move {
            let mut etag = stored.etag.clone();
            let stored_exactly = stored.bytes == bytes;
            if !stored_exactly {
                let mode = PutMode::Replace {
                    etag: stored.etag.clone(),
                };
                // Any refusal leaves the server's version, which the read-back then judges.
                if let PutOutcome::Stored { etag: new } =
                    target.put(&stored.href, kind, bytes.clone(), mode).await?
                {
                    etag = new;
                }
            }
            Ok::<Written, Error>(Written {
                path: item.path.clone(),
                href: stored.href,
                uid: item.uid.clone(),
                sent_sha256: Sha256::of(&bytes),
                size: bytes.len() as u64,
                sent: bytes,
                etag,
                verified: stored_exactly,
                changes: Vec::new(),
            })
        }))
        .buffer_unordered(UPLOAD_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    Ok(Settled { written, missing })
}

/// The warning for an item the target does not hold as sent, naming each changed property.
pub(super) fn changed_warning(changes: &[String], href: &str, path: &str) -> Warning {
    Warning::new(
        "verify-failed",
        format!(
            "the target does not hold what was sent ({}): {href}",
            changes.join("; ")
        ),
    )
    .at_path(path)
}

/// Where a write goes and with which UID.
pub(super) fn write_destination(item: &ItemPlan) -> (Href, Option<Uid>) {
    match &item.action {
        ItemAction::Upload { href } => (href.clone(), item.uid.clone()),
        ItemAction::Conflict {
            resolution: Resolution::KeepBoth { href, new_uid },
            ..
        } => (href.clone(), new_uid.clone()),
        ItemAction::Conflict { href, .. } | ItemAction::AlreadyThere { href, .. } => {
            (href.clone(), item.uid.clone())
        }
        ItemAction::Refused { .. } => (Href::default(), None),
    }
}

/// Uploads one item. The outer `Err` stops the job (authentication, network, full account,
/// cancel); the inner one is a warning about this item only.
pub(super) async fn upload_one<'p>(
    input: &RestoreInput,
    target: &dyn Target,
    kind: CollectionKind,
    item: &'p ItemPlan,
    manifest_item: Option<&ManifestItem>,
    cancel: &CancelToken,
) -> Result<(&'p ItemPlan, std::result::Result<Written, Warning>)> {
    cancel.check()?;
    let refuse = |message: String| Warning::new("not-restored", message).at_path(&item.path);
    let Some(manifest_item) = manifest_item else {
        return Ok((item, Err(refuse("not in the manifest".to_owned()))));
    };
    let mut bytes = match input.bytes_to_send(manifest_item, item) {
        Ok(bytes) => bytes,
        Err(reason) => return Ok((item, Err(refuse(reason)))),
    };
    let (href, uid) = write_destination(item);
    let mode = match &item.action {
        ItemAction::Conflict {
            resolution: Resolution::Overwrite,
            etag,
            ..
        } => PutMode::Replace { etag: etag.clone() },
        ItemAction::Conflict {
            resolution:
                Resolution::KeepBoth {
                    new_uid: Some(new_uid),
                    ..
                },
            ..
        } => {
            bytes = vobject::replace_uid(&bytes, new_uid);
            PutMode::Create
        }
        _ => PutMode::Create,
    };
    let sent_sha256 = Sha256::of(&bytes);
    let size = bytes.len() as u64;
    let keep = if kind == CollectionKind::Photos {
        Vec::new()
    } else {
        bytes.clone()
    };
    let outcome = match target.put(&href, kind, bytes, mode).await {
        Ok(outcome) => outcome,
        // A server failure on one item is that item's problem; the rest go on.
        Err(error) if error.kind() == ErrorKind::Server => {
            return Ok((
                item,
                Err(refuse(format!("the server failed on it: {error}"))),
            ));
        }
        Err(error) => return Err(error),
    };
    let written = match outcome {
        PutOutcome::Stored { etag } => Written {
            path: item.path.clone(),
            href,
            uid,
            sent: keep,
            sent_sha256,
            size,
            etag,
            verified: false,
            changes: Vec::new(),
        },
        PutOutcome::AlreadyExists => {
            return Ok((
                item,
                Err(refuse(format!(
                    "something appeared at {href} while restoring (or changed since the plan); left as it is"
                ))),
            ));
        }
        PutOutcome::Refused { status, reason } => {
            return Ok((
                item,
                Err(refuse(format!(
                    "the server refused it ({status} {reason}): {href}"
                ))),
            ));
        }
    };
    Ok((item, Ok(written)))
}
