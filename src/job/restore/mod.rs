//! Restore: open and verify an archive (or convert a plain folder of .vcf/.ics/photos into one),
//! plan against the destinations — collections to create, items to upload, items already there,
//! conflicts, refused items — then execute with conditional writes, keep the restore report
//! beside the archive, and read every written item back.

// One file per step: input → plan (decide per item) → execute → read back. This file holds
// the plan's and the summary's data, which every step shares.
mod decide;
mod execute;
mod input;
mod plan;
mod read_back;

use self::{
    decide::decide,
    execute::{Warnings, Written, changed_warning},
    plan::{Existing, free_href, relative_path},
    read_back::read_back,
};
pub use execute::execute;
pub use input::{RestoreInput, as_archive};
pub use plan::plan;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::ids::{Etag, Href, Uid};
use crate::model::{CollectionInfo, CollectionKind, Warning};

/// Uploads in flight per collection. Servers that lock per collection (Radicale) gain nothing
/// from more; others hide latency with a few.
const UPLOAD_CONCURRENCY: usize = 4;

/// Archived bytes held by uploads in flight, in MiB: each upload holds its item whole, so big
/// photos go up one at a time and memory stays bounded whatever the library's size.
const UPLOAD_BUDGET_MIB: u32 = 32;

/// What to do with an archived item whose UID (or photo path) exists on the target with
/// other content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// Leave the target's version; report the conflict.
    #[default]
    Skip,
    /// Replace the target's version (`If-Match` its ETag).
    Overwrite,
    /// Upload the archived version as a new item with a new UID (or a new photo name).
    KeepBoth,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub on_conflict: ConflictPolicy,
    /// Archive collection (name, display name or path) → existing target collection (name or
    /// display name). A lone `("", TARGET)` maps every collection of the archive.
    pub into: Vec<(String, String)>,
    /// Never use a server's one-request collection upload.
    pub one_by_one: bool,
}

/// How an item already at the target was recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Match {
    /// Same UID (or path) and the same bytes.
    SameBytes,
    /// Same UID; the server re-serialised it but every property is the same.
    Equivalent,
    /// The restore report says an earlier run put it there.
    RestoredBefore,
    /// An earlier run put it there and its read-back found these changes, which the target
    /// still serves: reported again on every run, never counted as restored.
    ChangedByServer { changes: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "resolution")]
pub enum Resolution {
    Skip,
    Overwrite,
    KeepBoth { href: Href, new_uid: Option<Uid> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum ItemAction {
    Upload {
        href: Href,
    },
    AlreadyThere {
        href: Href,
        matched: Match,
    },
    Conflict {
        href: Href,
        etag: Option<Etag>,
        #[serde(flatten)]
        resolution: Resolution,
    },
    Refused {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemPlan {
    pub path: String,
    pub uid: Option<Uid>,
    /// The archived item has no UID and the target needs one: `uid` is made from its
    /// checksum (so a re-run finds it again) and added to the bytes sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub uid_added: bool,
    /// The archived item's size, for progress by bytes.
    pub size: u64,
    #[serde(flatten)]
    pub action: ItemAction,
}

/// What will happen to one archived collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionRestore {
    pub archive_path: String,
    pub kind: CollectionKind,
    pub label: String,
    /// Index into the targets given to [`plan`].
    pub target: usize,
    pub target_label: String,
    /// The collection at the target (created if `create`).
    pub href: Href,
    pub create: bool,
    /// Whether a one-request upload may be tried for a new collection.
    pub one_request: bool,
    /// The archived collection's properties, for creating it.
    #[serde(skip)]
    pub info: CollectionInfo,
    pub items: Vec<ItemPlan>,
}

/// Counts of a collection's plan, for display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    pub upload: usize,
    /// Items the target holds as the archive has them.
    pub already_there: usize,
    /// Items an earlier run put there that the target serves changed: not counted as there.
    pub changed_by_server: usize,
    pub conflicts: usize,
    pub refused: usize,
}

impl CollectionRestore {
    pub fn counts(&self) -> PlanCounts {
        let mut counts = PlanCounts::default();
        for item in &self.items {
            match item.action {
                ItemAction::Upload { .. } => counts.upload += 1,
                ItemAction::AlreadyThere {
                    matched: Match::ChangedByServer { .. },
                    ..
                } => counts.changed_by_server += 1,
                ItemAction::AlreadyThere { .. } => counts.already_there += 1,
                ItemAction::Conflict { .. } => counts.conflicts += 1,
                ItemAction::Refused { .. } => counts.refused += 1,
            }
        }
        counts
    }

    /// Items this run will write (uploads, overwrites, kept copies).
    fn writes(&self) -> impl Iterator<Item = &ItemPlan> {
        self.items.iter().filter(|i| {
            matches!(
                i.action,
                ItemAction::Upload { .. }
                    | ItemAction::Conflict {
                        resolution: Resolution::Overwrite | Resolution::KeepBoth { .. },
                        ..
                    }
            )
        })
    }
}

/// The whole plan: plain data, printed by the CLI, shown by the GUI, executed by [`execute`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestorePlan {
    pub archive: String,
    pub collections: Vec<CollectionRestore>,
    /// Archived collections no destination can take (photos when no photo place was given).
    pub skipped: Vec<SkippedCollection>,
    /// The archive's damaged files, which are not restored.
    pub damaged: Vec<crate::archive::verify::Damage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedCollection {
    pub archive_path: String,
    /// The collection's name for people.
    pub label: String,
    pub kind: CollectionKind,
    pub items: usize,
    pub reason: String,
}

impl RestorePlan {
    pub fn writes(&self) -> usize {
        self.collections.iter().map(|c| c.writes().count()).sum()
    }

    /// The bytes of the items this run will write.
    pub fn write_bytes(&self) -> u64 {
        self.collections
            .iter()
            .flat_map(CollectionRestore::writes)
            .map(|i| i.size)
            .sum()
    }
}

/// What happened to one collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectionOutcome {
    pub archive_path: String,
    pub label: String,
    pub href: Href,
    pub created: bool,
    /// Items stored by one whole-collection request.
    pub one_request_items: usize,
    pub uploaded: usize,
    pub already_there: usize,
    pub conflicts_skipped: usize,
    pub overwritten: usize,
    pub kept_both: usize,
    pub refused: usize,
    /// Read back with the same bytes as sent.
    pub verified_same_bytes: usize,
    /// Read back re-serialised by the server, every property the same.
    pub verified_equivalent: usize,
    /// Read back missing or different.
    pub verify_failed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreSummary {
    pub collections: Vec<CollectionOutcome>,
    pub warnings: Vec<Warning>,
    pub report: Option<PathBuf>,
    #[serde(skip)]
    pub elapsed: Duration,
    pub requests: u64,
}

impl RestoreSummary {
    /// Whether everything planned is now at the target, verified.
    pub fn is_complete(&self) -> bool {
        self.collections
            .iter()
            .all(|c| c.refused == 0 && c.verify_failed == 0)
    }
}
