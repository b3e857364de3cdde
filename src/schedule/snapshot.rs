//! One scheduled run: lock the destination, take a dated snapshot that links everything
//! unchanged from the previous one, flag sudden drops at the source, then apply retention.
//!
//! Snapshots are append-only: an item deleted at the source is simply absent from the new
//! snapshot and stays in the older ones. Nothing is pruned after a run that failed or flagged
//! a drop; the newest snapshot is never pruned.

use std::fs::TryLockError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Local, NaiveDateTime, Utc};

use crate::archive::manifest::MANIFEST_FILE;
use crate::archive::writer::remove_stale_partials;
use crate::error::{Error, ErrorKind, Result};
use crate::job::export::{self, ExportPlan, ExportSummary};
use crate::job::incremental::PreviousArchive;
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::schedule::retention::{self, Retention, Snapshot};
use crate::source::Source;

/// The lock file inside a destination; held (an OS file lock) for the whole run.
pub const LOCK_FILE: &str = ".lifeboat.lock";
/// Names the profile whose snapshots a destination holds: retention deletes snapshots, so two
/// profiles must never share one.
pub const OWNER_FILE: &str = ".lifeboat-profile";
/// Snapshot folder names: UTC, without `:` (which Windows forbids).
const SNAPSHOT_FORMAT: &str = "%Y-%m-%dT%H%M%SZ";

/// What a snapshot run did.
#[derive(Debug, Clone)]
pub struct SnapshotRun {
    pub snapshot: PathBuf,
    pub summary: ExportSummary,
    /// Items downloaded this time (the rest were linked from the previous snapshot).
    pub fetched_items: u64,
    /// Collections gone, or that lost more than the allowed share of items since last time.
    pub flags: Vec<String>,
    /// Snapshot folders deleted by retention.
    pub pruned: Vec<String>,
}

/// Settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings<'a> {
    /// The profile's name, recorded in the destination on its first run.
    pub owner: &'a str,
    pub destination: &'a Path,
    pub retention: &'a Retention,
    /// A collection that lost more than this share (percent) of its items is flagged.
    pub drop_percent: u32,
}

/// Holds the destination's lock until dropped. The OS releases it if the process dies, so a
/// killed run never blocks the next one.
#[derive(Debug)]
pub struct DestinationLock {
    _file: std::fs::File,
}

/// Takes the destination's lock, or says that another run holds it.
pub fn lock_destination(destination: &Path) -> Result<DestinationLock> {
    std::fs::create_dir_all(destination)
        .map_err(|e| Error::io("creating the backup folder", destination, e))?;
    let path = destination.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("opening the lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(DestinationLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "another Lifeboat run is writing to this folder right now: {}",
                destination.display()
            ),
        )),
        Err(TryLockError::Error(e)) => Err(Error::io("locking", &path, e)),
    }
}

/// Records `owner` in a destination that has no owner yet; refuses one that belongs to another
/// profile, whose snapshots this profile's retention would otherwise delete.
fn claim_destination(destination: &Path, owner: &str) -> Result<()> {
    let path = destination.join(OWNER_FILE);
    match std::fs::read_to_string(&path) {
        Ok(found) if found.trim() == owner => Ok(()),
        Ok(found) => Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "this folder holds the snapshots of the profile {:?}; give each profile its own folder: {}",
                found.trim(),
                destination.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&path, format!("{owner}\n")).map_err(|e| Error::io("writing", &path, e))
        }
        Err(e) => Err(Error::io("reading", &path, e)),
    }
}

/// The complete snapshots in `destination`, oldest first. A folder counts when its name is a
/// snapshot time and it holds a manifest (one is written last, just before the folder is
/// renamed into place after its check).
pub fn list_snapshots(destination: &Path) -> Vec<Snapshot> {
    let Ok(entries) = std::fs::read_dir(destination) else {
        return Vec::new();
    };
    let mut found: Vec<Snapshot> = entries
        .flatten()
        .filter_map(|entry| {
            let id = entry.file_name().to_string_lossy().into_owned();
            let time = snapshot_time(&id)?;
            Some(Snapshot {
                verified: entry.path().join(MANIFEST_FILE).is_file(),
                id,
                time: time.with_timezone(&Local).naive_local(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    found
}

/// The time a snapshot folder name stands for (`2026-11-28T053000Z`, maybe with `-2`).
pub fn snapshot_time(id: &str) -> Option<DateTime<Utc>> {
    let stamp = id.get(..18)?;
    let rest = &id[18..];
    if !(rest.is_empty()
        || rest
            .strip_prefix('-')
            .is_some_and(|n| n.parse::<u32>().is_ok()))
    {
        return None;
    }
    NaiveDateTime::parse_from_str(stamp, SNAPSHOT_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// A new snapshot folder name for `now` that does not exist yet.
fn new_snapshot_path(destination: &Path, now: DateTime<Utc>) -> PathBuf {
    let stamp = now.format(SNAPSHOT_FORMAT).to_string();
    (1..)
        .map(|n| {
            if n == 1 {
                destination.join(&stamp)
            } else {
                destination.join(format!("{stamp}-{n}"))
            }
        })
        .find(|path| !path.exists())
        .unwrap_or_else(|| destination.join(stamp))
}

/// Takes one snapshot of `sources` into `settings.destination` (module doc).
pub async fn run(
    sources: &[Box<dyn Source>],
    settings: RunSettings<'_>,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<SnapshotRun> {
    let destination = settings.destination;
    let _lock = lock_destination(destination)?;
    claim_destination(destination, settings.owner)?;
    remove_stale_partials(destination);
    let previous = list_snapshots(destination)
        .iter()
        .rev()
        .filter(|s| s.verified)
        .find_map(|s| PreviousArchive::open(&destination.join(&s.id)).ok());
    let plan = export::plan_since(sources, previous.as_ref(), progress.as_ref(), cancel).await?;
    let flags = previous
        .as_ref()
        .map(|p| sudden_drops(&plan, p, settings.drop_percent))
        .unwrap_or_default();
    for flag in &flags {
        progress.event(JobEvent::Warning(crate::model::Warning::new(
            "sudden-drop",
            flag.clone(),
        )));
    }
    let out = new_snapshot_path(destination, Utc::now());
    let fetched_items = plan.fetch_count();
    let summary = match &previous {
        Some(previous) => {
            export::execute_since(sources, &plan, previous, &out, progress, cancel).await?
        }
        None => export::execute(sources, &plan, &out, progress, cancel).await?,
    };
    let pruned = if flags.is_empty() {
        prune(destination, settings.retention)
    } else {
        Vec::new()
    };
    Ok(SnapshotRun {
        snapshot: out,
        summary,
        fetched_items,
        flags,
        pruned,
    })
}

/// Collections of the previous snapshot that are gone now, or lost more than `percent` of
/// their items. Only sources this run read are compared.
pub fn sudden_drops(plan: &ExportPlan, previous: &PreviousArchive, percent: u32) -> Vec<String> {
    let manifest = previous.manifest();
    let mut flags = Vec::new();
    for source_plan in &plan.sources {
        let Some(source_index) = manifest
            .sources
            .iter()
            .position(|s| s.location == source_plan.info.location)
        else {
            continue;
        };
        for before in manifest
            .collections
            .iter()
            .filter(|c| c.source == source_index)
        {
            let name = before
                .info
                .display_name
                .clone()
                .unwrap_or_else(|| before.info.name.clone());
            let had = previous.item_count(&before.path);
            let now = source_plan
                .collections
                .iter()
                .find(|c| c.info.href == before.info.href)
                .map(export::CollectionPlan::item_count);
            match now {
                None => flags.push(format!(
                    "{name}: the whole collection is gone at {} ({had} items last time)",
                    source_plan.info.label
                )),
                Some(now) if had > 0 && now < had => {
                    let lost = had - now;
                    if lost * 100 > had * percent as usize {
                        flags.push(format!(
                            "{name}: {lost} of {had} items are gone since the last run ({}%)",
                            lost * 100 / had
                        ));
                    }
                }
                Some(_) => {}
            }
        }
    }
    flags
}

/// Deletes the snapshots retention lets go. Returns their names; a folder that cannot be
/// deleted is left and logged.
fn prune(destination: &Path, policy: &Retention) -> Vec<String> {
    let snapshots = list_snapshots(destination);
    let mut pruned = Vec::new();
    for id in retention::to_forget(&snapshots, policy) {
        let path = destination.join(&id);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => pruned.push(id),
            Err(error) => {
                tracing::warn!("could not delete old snapshot {}: {error}", path.display())
            }
        }
    }
    pruned
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn snapshot_names_round_trip() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T05:30:07Z")
            .unwrap()
            .with_timezone(&Utc);
        let dir = tempfile::tempdir().unwrap();
        let first = new_snapshot_path(dir.path(), now);
        assert_eq!(first.file_name().unwrap(), "2026-11-28T053007Z");
        std::fs::create_dir(&first).unwrap();
        let second = new_snapshot_path(dir.path(), now);
        assert_eq!(second.file_name().unwrap(), "2026-11-28T053007Z-2");
        for name in ["2026-11-28T053007Z", "2026-11-28T053007Z-2"] {
            assert_eq!(snapshot_time(name), Some(now), "{name}");
        }
        for name in [
            "2026-11-28T053007Zx",
            "notes",
            "2026-11-28",
            ".lifeboat.lock",
        ] {
            assert_eq!(snapshot_time(name), None, "{name}");
        }
    }

    #[test]
    fn a_destination_belongs_to_the_profile_that_ran_there_first() {
        let dir = tempfile::tempdir().unwrap();
        claim_destination(dir.path(), "nightly").unwrap();
        claim_destination(dir.path(), "nightly").unwrap();
        let refused = claim_destination(dir.path(), "hourly").unwrap_err();
        assert!(refused.to_string().contains("\"nightly\""), "{refused}");
    }

    #[test]
    fn a_second_run_on_the_same_destination_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_destination(dir.path()).unwrap();
        let refused = lock_destination(dir.path()).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
        assert!(
            refused.to_string().contains("another Lifeboat run"),
            "{refused}"
        );
        drop(held);
        lock_destination(dir.path()).unwrap();
    }
}
