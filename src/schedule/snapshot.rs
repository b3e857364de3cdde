//! One scheduled run: lock the destination, take a dated snapshot that links everything
//! unchanged from the last good one, flag sudden drops at the source, then apply retention.
//!
//! Snapshots are append-only: an item deleted at the source is simply absent from the new
//! snapshot and stays in the older ones. A run is judged by what it *archived*, against the
//! newest good snapshot: items that snapshot holds and the source listed but did not deliver,
//! or more than the allowed share of items gone, flag the new snapshot ([`FLAG_FILE`] inside
//! it, written before it is committed). A flagged snapshot is never the baseline of a later
//! run and never counts as a good one for retention, so a provider that keeps failing cannot
//! push the last good copy out; nothing is pruned after a run that failed or was flagged.
//! Snapshots named after the present (a clock that ran ahead) are warned about and left out
//! of the ordering. Deletions the user made on purpose are accepted with [`accept_flagged`].

use std::fs::TryLockError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Local, NaiveDateTime, Utc};

use crate::archive::ArchiveWriter;
use crate::archive::manifest::{MANIFEST_FILE, Manifest};
use crate::archive::previous::PreviousArchive;
use crate::archive::writer::{CommitCheck, FLAG_FILE, remove_stale_partials};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::job::export::{self, ExportSummary};
use crate::model::{Warning, href_key};
use crate::progress::{CancelToken, Progress};
use crate::schedule::retention::{self, Retention, Snapshot};
use crate::source::Source;

/// The lock file inside a destination; held (an OS file lock) for the whole run.
pub const LOCK_FILE: &str = ".lifeboat.lock";
/// Names the profile whose snapshots a destination holds: retention deletes snapshots, so two
/// profiles must never share one.
pub const OWNER_FILE: &str = ".lifeboat-profile";
/// Flagged snapshots the user said are fine (what vanished was deleted on purpose), one name
/// a line: they count as good again.
pub const ACCEPTED_FILE: &str = ".lifeboat-accepted";
/// Snapshot folder names: UTC, without `:` (which Windows forbids).
const SNAPSHOT_FORMAT: &str = "%Y-%m-%dT%H%M%SZ";
/// The warning code of a drop-guard finding.
pub const SUDDEN_DROP: &str = "sudden-drop";

/// What a snapshot run did.
#[derive(Debug, Clone)]
pub struct SnapshotRun {
    pub snapshot: PathBuf,
    pub summary: ExportSummary,
    /// Items downloaded this time (the rest were linked from the previous snapshot).
    pub fetched_items: u64,
    /// What the drop guard found against the last good snapshot: collections gone, items
    /// listed but not delivered, more than the allowed share of items gone.
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
    /// Accounts that could not be connected ([`crate::source::Connected`]): recorded in the
    /// snapshot, which is then flagged.
    pub failed: &'a [Warning],
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
/// renamed into place after its check); it is flagged when it holds [`FLAG_FILE`] and the
/// user has not accepted it.
pub fn list_snapshots(destination: &Path) -> Vec<Snapshot> {
    let Ok(entries) = std::fs::read_dir(destination) else {
        return Vec::new();
    };
    let accepted = accepted_snapshots(destination);
    let mut found: Vec<Snapshot> = entries
        .flatten()
        .filter_map(|entry| {
            let id = entry.file_name().to_string_lossy().into_owned();
            let time = snapshot_time(&id)?;
            Some(Snapshot {
                verified: entry.path().join(MANIFEST_FILE).is_file(),
                flagged: entry.path().join(FLAG_FILE).is_file() && !accepted.contains(&id),
                id,
                time: time.with_timezone(&Local).naive_local(),
            })
        })
        .collect();
    found.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| snapshot_sequence(&a.id).cmp(&snapshot_sequence(&b.id)))
    });
    found
}

fn accepted_snapshots(destination: &Path) -> std::collections::HashSet<String> {
    std::fs::read_to_string(destination.join(ACCEPTED_FILE))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Accepts every flagged snapshot in `destination` as good (the user deleted what vanished on
/// purpose), so that later runs compare against the newest of them and retention may prune
/// again. Returns their names.
pub fn accept_flagged(destination: &Path) -> Result<Vec<String>> {
    let _lock = lock_destination(destination)?;
    let flagged: Vec<String> = list_snapshots(destination)
        .into_iter()
        .filter(|s| s.verified && s.flagged)
        .map(|s| s.id)
        .collect();
    if !flagged.is_empty() {
        let mut all: Vec<String> = accepted_snapshots(destination).into_iter().collect();
        all.extend(flagged.iter().cloned());
        all.sort();
        let path = destination.join(ACCEPTED_FILE);
        std::fs::write(&path, all.join("\n") + "\n").map_err(|e| Error::io("writing", &path, e))?;
    }
    Ok(flagged)
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

/// The number after a snapshot name's time: 1 for `2026-11-28T053000Z`, 2 for its `-2`.
fn snapshot_sequence(id: &str) -> u32 {
    id.get(19..).and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// A new snapshot folder name for `now` that does not exist yet. Within one second it
/// numbers past every name already taken, even one pruned since: a freed `…Z` reused after
/// `…Z-2` would sort before the snapshot it follows, and retention would keep the wrong one.
fn new_snapshot_path(destination: &Path, now: DateTime<Utc>) -> PathBuf {
    let stamp = now.format(SNAPSHOT_FORMAT).to_string();
    let taken = std::fs::read_dir(destination)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let id = entry.file_name().to_string_lossy().into_owned();
            (id.starts_with(&stamp) && snapshot_time(&id).is_some()).then(|| snapshot_sequence(&id))
        })
        .max();
    match taken {
        None => destination.join(stamp),
        Some(n) => destination.join(format!("{stamp}-{}", n + 1)),
    }
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
    let now = Utc::now();
    let now_local = now.with_timezone(&Local).naive_local();
    let snapshots = list_snapshots(destination);
    let baseline = snapshots
        .iter()
        .rev()
        .filter(|s| s.verified && !s.flagged && s.time <= now_local)
        .find_map(|s| PreviousArchive::open(&destination.join(&s.id)).ok());
    let mut plan =
        export::plan_since(sources, baseline.as_ref(), progress.as_ref(), cancel).await?;
    plan.warnings.extend(settings.failed.iter().cloned());
    let out = new_snapshot_path(destination, now);
    let fetched_items = plan.fetch_count();
    let writer = match &baseline {
        Some(baseline) => ArchiveWriter::create_linked(&out, Arc::clone(&progress), baseline)?,
        None => ArchiveWriter::create(&out, Arc::clone(&progress))?,
    };
    for future in snapshots.iter().filter(|s| s.time > now_local) {
        writer.warn(Warning::new(
            "future-snapshot",
            format!(
                "the snapshot {} is named after a time still to come (the clock was wrong when it was made); it is kept but not used as the latest",
                future.id
            ),
        ));
    }
    writer.check_before_commit(drop_guard(baseline.as_ref(), settings.drop_percent));
    let summary = export::execute_into(sources, &plan, writer, progress, cancel).await?;
    let flags: Vec<String> = summary
        .manifest
        .warnings
        .iter()
        .filter(|w| w.code == SUDDEN_DROP)
        .map(|w| w.message.clone())
        .collect();
    let pruned = if flags.is_empty() {
        prune(destination, settings.retention, now_local)
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

/// One collection of the baseline snapshot, as the drop guard compares it.
struct Before {
    /// [`crate::source::SourceInfo::account_key`] of its source.
    account: String,
    href: Href,
    name: String,
    /// [`href_key`]s of its items.
    items: std::collections::HashSet<String>,
}

/// The check a new snapshot must pass against the `baseline` (module doc), if there is one:
/// its findings flag the snapshot. Without a baseline (the first run) only items the source
/// listed but did not deliver are found.
fn drop_guard(baseline: Option<&PreviousArchive>, percent: u32) -> CommitCheck {
    let before: Vec<Before> = baseline
        .map(|baseline| {
            let manifest = baseline.manifest();
            manifest
                .collections
                .iter()
                .filter_map(|c| {
                    let account = manifest.sources.get(c.source)?.account_key();
                    let items = baseline
                        .collection(&account, &c.info.href)?
                        .items()
                        .map(|i| href_key(&i.href))
                        .collect();
                    Some(Before {
                        account,
                        href: c.info.href.clone(),
                        name: c
                            .info
                            .display_name
                            .clone()
                            .unwrap_or_else(|| c.info.name.clone()),
                        items,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Box::new(move |now: &Manifest| sudden_drops(&before, now, percent))
}

/// What the snapshot `now` lost against `before`. Only sources this run read are compared.
fn sudden_drops(before: &[Before], now: &Manifest, percent: u32) -> Vec<Warning> {
    let unavailable: std::collections::HashSet<String> = now
        .warnings
        .iter()
        .filter(|w| w.code == "unavailable")
        .filter_map(|w| w.href.as_deref())
        .map(href_key)
        .collect();
    let mut flags = Vec::new();
    for collection in before {
        let read_now = now
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.account_key() == collection.account)
            .map(|(index, _)| index)
            .collect::<Vec<_>>();
        if read_now.is_empty() {
            continue;
        }
        let label = &now.sources[read_now[0]].label;
        let had = collection.items.len();
        let Some(path) = now
            .collections
            .iter()
            .find(|c| read_now.contains(&c.source) && c.info.href == collection.href)
            .map(|c| c.path.as_str())
        else {
            flags.push(format!(
                "{}: the whole collection is gone at {label} ({had} items last time)",
                collection.name
            ));
            continue;
        };
        let archived: std::collections::HashSet<String> = now
            .items
            .iter()
            .filter(|i| i.collection == path)
            .map(|i| href_key(&i.href))
            .collect();
        let missing: Vec<&String> = collection.items.difference(&archived).collect();
        // A multi-item file's parts (`file.vcf#2`) are unavailable as the whole file.
        let not_delivered = missing
            .iter()
            .filter(|key| unavailable.contains(key.split('#').next().unwrap_or(key)))
            .count();
        let gone = missing.len() - not_delivered;
        if not_delivered > 0 {
            flags.push(format!(
                "{}: {not_delivered} of {had} items the last good snapshot holds were listed by {label} but could not be read this time",
                collection.name
            ));
        }
        if had > 0 && gone * 100 > had * percent as usize {
            flags.push(format!(
                "{}: {gone} of {had} items are gone since the last good snapshot ({}%)",
                collection.name,
                gone * 100 / had
            ));
        }
    }
    // Items listed but not delivered that no good snapshot holds either (new ones, or the
    // first run): missing all the same, so the run must not count as a success.
    let unknown = unavailable
        .iter()
        .filter(|key| !before.iter().any(|c| c.items.contains(*key)))
        .count();
    if unknown > 0 {
        flags.push(format!(
            "{unknown} item(s) the source listed could not be read and are in no good snapshot"
        ));
    }
    // An account not read at all is compared with nothing above: its absence is the flag.
    flags.extend(
        now.warnings
            .iter()
            .filter(|w| w.code == crate::source::ACCOUNT_FAILED)
            .map(|w| w.message.clone()),
    );
    flags
        .into_iter()
        .map(|flag| Warning::new(SUDDEN_DROP, flag))
        .collect()
}

/// Deletes the snapshots retention lets go. Returns their names; a folder that cannot be
/// deleted is left and logged.
fn prune(destination: &Path, policy: &Retention, now: chrono::NaiveDateTime) -> Vec<String> {
    let snapshots = list_snapshots(destination);
    let mut pruned = Vec::new();
    for id in retention::to_forget(&snapshots, policy, now) {
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
        // The first was pruned: its freed name must not come back before the second.
        std::fs::create_dir(&second).unwrap();
        std::fs::remove_dir(&first).unwrap();
        let third = new_snapshot_path(dir.path(), now);
        assert_eq!(third.file_name().unwrap(), "2026-11-28T053007Z-3");
        for n in 3..=10 {
            std::fs::create_dir(dir.path().join(format!("2026-11-28T053007Z-{n}"))).unwrap();
        }
        let order: Vec<String> = list_snapshots(dir.path())
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(order.first().unwrap(), "2026-11-28T053007Z-2");
        assert_eq!(order.last().unwrap(), "2026-11-28T053007Z-10", "{order:?}");
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
