//! Restore: open and verify an archive (or convert a plain folder of .vcf/.ics/photos into one),
//! plan against the targets — collections to create, items to upload, items already there,
//! conflicts, refused items — then execute with conditional writes, keep the restore report
//! beside the archive, and read every written item back.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use crate::archive::manifest::{Manifest, ManifestCollection, ManifestItem};
use crate::archive::writer::sha256_hex;
use crate::archive::{ArchiveReader, VerifyReport};
use crate::destination::{PutMode, PutOutcome, StoredItem, Target, href_key};
use crate::error::{Error, ErrorKind, Result};
use crate::job::restore_report::{ItemRecord, ItemState, RestoreReport};
use crate::model::{CollectionInfo, CollectionKind, ItemKind, ItemRef, Warning};
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::vobject;

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

/// An archive opened for restoring: manifest, verification result and a reader.
#[derive(Debug)]
pub struct RestoreInput {
    /// The path the user gave (the report is kept beside it).
    pub path: PathBuf,
    pub manifest: Manifest,
    pub verify: VerifyReport,
    reader: Mutex<ArchiveReader>,
    damaged: HashSet<String>,
    /// For plain folders and files: the archive made from them, deleted on drop.
    _converted: Option<tempfile::TempDir>,
}

impl RestoreInput {
    /// Opens `path`: a Lifeboat archive (folder or zip), or a folder or `.vcf`/`.ics` file
    /// without a manifest, which is first read like a device into a temporary archive.
    /// A damaged archive opens too: its damaged files are in `verify` and are never
    /// restored; whether to go on with the rest is the front's to ask.
    pub async fn open(path: &Path, cancel: &CancelToken) -> Result<Self> {
        let (archive_path, converted) = as_archive(path, cancel).await?;
        let mut reader = ArchiveReader::open(&archive_path)?;
        let manifest = reader.manifest()?;
        let verify = crate::archive::verify::check(&mut reader, &manifest)?;
        let damaged = verify.damaged_paths();
        Ok(Self {
            path: path.to_path_buf(),
            manifest,
            verify,
            reader: Mutex::new(reader),
            damaged,
            _converted: converted,
        })
    }

    /// An item's archived bytes, checked again against the manifest (the archive may have
    /// changed since it was verified).
    fn read_item(&self, item: &ManifestItem) -> std::result::Result<Vec<u8>, String> {
        let bytes = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .read(&item.path, item.size)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "missing from the archive".to_owned())?;
        if sha256_hex(&bytes) != item.sha256 {
            return Err("its bytes no longer match the manifest's checksum".to_owned());
        }
        Ok(bytes)
    }

    /// What goes to the target for `plan`: the archived bytes, with the planned UID added
    /// where the item has none.
    fn bytes_to_send(
        &self,
        item: &ManifestItem,
        plan: &ItemPlan,
    ) -> std::result::Result<Vec<u8>, String> {
        let bytes = self.read_item(item)?;
        Ok(match (&plan.uid, plan.uid_added) {
            (Some(uid), true) => vobject::add_uid(&bytes, uid),
            _ => bytes,
        })
    }
}

/// `path` as an archive: itself, or for a plain folder of `.vcf`/`.ics` files (or one such
/// file) a temporary archive read from it like a device, which lives as long as the folder
/// returned with it.
pub async fn as_archive(
    path: &Path,
    cancel: &CancelToken,
) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    let metadata =
        std::fs::metadata(path).map_err(|e| Error::io("opening the archive", path, e))?;
    let plain_file = metadata.is_file()
        && matches!(
            crate::source::device::kind_of(path),
            Some(CollectionKind::Contacts | CollectionKind::Calendar)
        );
    let plain_folder =
        metadata.is_dir() && !path.join(crate::archive::manifest::MANIFEST_FILE).exists();
    if plain_file || plain_folder {
        let (archive, temp) = convert_plain(path, plain_file, cancel).await?;
        Ok((archive, Some(temp)))
    } else {
        Ok((path.to_path_buf(), None))
    }
}

/// Reads a plain folder (or one file) like a device into a temporary archive.
async fn convert_plain(
    path: &Path,
    single_file: bool,
    cancel: &CancelToken,
) -> Result<(PathBuf, tempfile::TempDir)> {
    let temp = tempfile::Builder::new()
        .prefix("lifeboat-restore-")
        .tempdir()
        .map_err(|e| Error::io("creating a temporary folder", std::env::temp_dir(), e))?;
    let folder = if single_file {
        let folder = temp.path().join("input");
        std::fs::create_dir(&folder).map_err(|e| Error::io("creating a folder", &folder, e))?;
        let copy = folder.join(path.file_name().unwrap_or_default());
        std::fs::copy(path, &copy).map_err(|e| Error::io("copying", path, e))?;
        folder
    } else {
        path.to_path_buf()
    };
    let sources: Vec<Box<dyn crate::source::Source>> =
        vec![Box::new(crate::source::device::DeviceSource::new(folder)?)];
    let plan = crate::job::export::plan(&sources, &crate::progress::NoProgress, cancel).await?;
    let archive = temp.path().join("archive");
    crate::job::export::execute(
        &sources,
        &plan,
        &archive,
        Arc::new(crate::progress::NoProgress),
        cancel,
    )
    .await?;
    Ok((archive, temp))
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
    KeepBoth {
        href: String,
        new_uid: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum ItemAction {
    Upload {
        href: String,
    },
    AlreadyThere {
        href: String,
        matched: Match,
    },
    Conflict {
        href: String,
        etag: Option<String>,
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
    pub uid: Option<String>,
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
    pub href: String,
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

fn label_of(collection: &ManifestCollection) -> String {
    collection
        .info
        .display_name
        .clone()
        .unwrap_or_else(|| collection.info.name.clone())
}

/// The target collection named by `--into`, if the user mapped this archived collection.
fn mapped_name<'a>(
    options: &'a RestoreOptions,
    collection: &ManifestCollection,
) -> Option<&'a str> {
    options.into.iter().find_map(|(from, to)| {
        let matches = from.is_empty()
            || *from == collection.path
            || *from == collection.info.name
            || collection.info.display_name.as_deref() == Some(from.as_str());
        matches.then_some(to.as_str())
    })
}

/// What is at the target already, indexed for matching.
#[derive(Default)]
struct Existing {
    by_href: HashMap<String, StoredItem>,
    /// Every href holding each UID: servers such as DAViCal store several resources of one
    /// UID (iTIP copies of a meeting), so an item is matched with the one that holds it.
    by_uid: HashMap<String, Vec<String>>,
    by_sha: HashMap<String, String>,
}

impl Existing {
    fn from_items(items: Vec<StoredItem>) -> Self {
        let mut existing = Self::default();
        for item in items {
            let key = href_key(&item.href);
            // A resource of several vCards (Cyrus stores them) answers for each of their UIDs.
            for uid in vobject::uids_of(&item.bytes) {
                existing.by_uid.entry(uid).or_default().push(key.clone());
            }
            if let Some(sha256) = &item.sha256 {
                existing
                    .by_sha
                    .entry(sha256.clone())
                    .or_insert_with(|| key.clone());
            }
            existing.by_href.insert(key, item);
        }
        existing
    }

    /// The items at the target with `uid`, in listing order.
    fn with_uid<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a StoredItem> {
        self.by_uid
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|key| self.by_href.get(key))
    }
}

/// Picks an href for a new item that nothing at the target or in the plan uses.
fn free_href(
    target: &dyn Target,
    collection_href: &str,
    relative: &str,
    taken: &mut HashSet<String>,
) -> String {
    let (stem, extension) = match relative.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.contains('/') => (stem, format!(".{ext}")),
        _ => (relative, String::new()),
    };
    let mut counter = 1;
    loop {
        let name = if counter == 1 {
            relative.to_owned()
        } else {
            format!("{stem}-{counter}{extension}")
        };
        let href = target.item_href(collection_href, &name);
        if taken.insert(href_key(&href)) {
            return href;
        }
        counter += 1;
    }
}

/// Compares the archive with the targets; nothing is written anywhere.
pub async fn plan(
    input: &RestoreInput,
    targets: &[Box<dyn Target>],
    report: &RestoreReport,
    options: &RestoreOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<RestorePlan> {
    let mut plan = RestorePlan {
        archive: input.path.display().to_string(),
        collections: Vec::new(),
        skipped: Vec::new(),
        damaged: input.verify.problems(),
    };
    let mut items_of: HashMap<&str, Vec<&ManifestItem>> = HashMap::new();
    for item in &input.manifest.items {
        items_of
            .entry(item.collection.as_str())
            .or_default()
            .push(item);
    }
    let mut known_collections: HashMap<(usize, CollectionKind), Vec<CollectionInfo>> =
        HashMap::new();
    for collection in &input.manifest.collections {
        cancel.check()?;
        let mut items = items_of
            .remove(collection.path.as_str())
            .unwrap_or_default();
        items.sort_by(|a, b| a.path.cmp(&b.path));
        let kind = collection.info.kind;
        let Some(target_index) = targets.iter().position(|t| t.accepts(kind)) else {
            plan.skipped.push(SkippedCollection {
                archive_path: collection.path.clone(),
                label: label_of(collection),
                items: items.len(),
                kind,
                reason: match kind {
                    CollectionKind::Photos => "no place for photos was chosen".to_owned(),
                    _ => format!("no place for {} was chosen", kind.folder()),
                },
            });
            continue;
        };
        let target = targets[target_index].as_ref();
        progress.event(JobEvent::Phase(format!(
            "comparing {} with {}",
            label_of(collection),
            target.info().label
        )));
        if let std::collections::hash_map::Entry::Vacant(slot) =
            known_collections.entry((target_index, kind))
        {
            slot.insert(target.collections(kind).await?);
        }
        let known = &known_collections[&(target_index, kind)];
        let new_href = target.new_collection_href(kind, &collection.info.name)?;
        let found = match mapped_name(options, collection) {
            Some(name) => Some(
                known
                    .iter()
                    .find(|c| c.name == name || c.display_name.as_deref() == Some(name))
                    .cloned()
                    .ok_or_else(|| no_such_collection(kind, name, known))?,
            ),
            None => known
                .iter()
                .find(|c| href_key(&c.href) == href_key(&new_href))
                .cloned(),
        };
        let create = found.is_none();
        let info = found.clone().unwrap_or_else(|| {
            let mut info = collection.info.clone();
            info.href = new_href;
            info.sync_token = None;
            if kind == CollectionKind::Calendar && info.components.is_empty() {
                info.components = components_of(&items);
            }
            info
        });
        let existing = match &found {
            Some(info) => read_existing(target, info, &items, collection, cancel).await?,
            None => Existing::default(),
        };
        let records = report
            .targets
            .get(&target.info().account_key())
            .map(|t| &t.items);
        let mut taken: HashSet<String> = existing.by_href.keys().cloned().collect();
        let mut planned_uids: HashMap<String, String> = HashMap::new();
        let mut decided = Vec::with_capacity(items.len());
        for item in items {
            let uid_added = item.uid.is_none()
                && target.requires_uid()
                && matches!(
                    item.kind,
                    ItemKind::Contact | ItemKind::Event | ItemKind::Todo | ItemKind::Journal
                );
            let with_uid;
            let item = if uid_added {
                with_uid = ManifestItem {
                    uid: Some(format!(
                        "lifeboat-{}",
                        &item.sha256[..32.min(item.sha256.len())]
                    )),
                    ..item.clone()
                };
                &with_uid
            } else {
                item
            };
            let action = decide(
                input,
                target,
                &info.href,
                collection,
                item,
                records.and_then(|r| r.get(&item.path)),
                &existing,
                &mut taken,
                &mut planned_uids,
                options.on_conflict,
            );
            decided.push(ItemPlan {
                path: item.path.clone(),
                uid: item.uid.clone(),
                uid_added,
                size: item.size,
                action,
            });
        }
        plan.collections.push(CollectionRestore {
            archive_path: collection.path.clone(),
            kind,
            label: label_of(collection),
            target: target_index,
            target_label: target.info().label,
            href: info.href.clone(),
            create,
            one_request: create && !options.one_by_one,
            info,
            items: decided,
        });
    }
    progress.event(JobEvent::Planned {
        collections: plan.collections.len(),
        items: plan.writes() as u64,
        bytes: Some(plan.write_bytes()),
    });
    Ok(plan)
}

fn no_such_collection(kind: CollectionKind, name: &str, known: &[CollectionInfo]) -> Error {
    let names: Vec<String> = known
        .iter()
        .map(|c| c.display_name.clone().unwrap_or_else(|| c.name.clone()))
        .collect();
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "the destination has no {} collection named {name:?} (it has: {})",
            kind.folder(),
            names.join(", ")
        ),
    )
}

/// The calendar components a new collection must accept, from what its items are.
fn components_of(items: &[&ManifestItem]) -> Vec<String> {
    let mut components: Vec<String> = items
        .iter()
        .filter_map(|item| match item.kind {
            crate::model::ItemKind::Event => Some("VEVENT"),
            crate::model::ItemKind::Todo => Some("VTODO"),
            crate::model::ItemKind::Journal => Some("VJOURNAL"),
            _ => None,
        })
        .map(str::to_owned)
        .collect();
    components.sort();
    components.dedup();
    components
}

/// Lists an existing target collection and reads what is needed to match: every item of an
/// address book or calendar (for UIDs), only same-path files of a photo folder.
async fn read_existing(
    target: &dyn Target,
    info: &CollectionInfo,
    items: &[&ManifestItem],
    collection: &ManifestCollection,
    cancel: &CancelToken,
) -> Result<Existing> {
    cancel.check()?;
    let refs: Vec<ItemRef> = target.list(info).await?;
    let wanted: Vec<String> = if info.kind == CollectionKind::Photos {
        let listed: HashMap<String, &ItemRef> =
            refs.iter().map(|r| (href_key(&r.href), r)).collect();
        items
            .iter()
            .filter_map(|item| {
                let href = target.item_href(&info.href, &relative_path(collection, item));
                listed.get(&href_key(&href)).map(|r| r.href.clone())
            })
            .collect()
    } else {
        refs.iter().map(|r| r.href.clone()).collect()
    };
    // Photos are compared by checksum only, read as streams: memory stays bounded.
    let found = if info.kind == CollectionKind::Photos {
        target.digests(info, &wanted).await?
    } else {
        target.fetch(info, &wanted).await?
    };
    let mut existing = Existing::from_items(found);
    // Listed but not fetched (photos at other paths) still occupy their names.
    for r in refs {
        existing
            .by_href
            .entry(href_key(&r.href))
            .or_insert(StoredItem::listed(r.href, r.etag));
    }
    Ok(existing)
}

/// Where an item goes inside its collection: the archived file name for vCards and
/// iCalendar objects; for photos the original album path and file name (from the source href,
/// when it is a safe relative path), else the archived one.
fn relative_path(collection: &ManifestCollection, item: &ManifestItem) -> String {
    let archived = || {
        let prefix = format!("{}/", collection.path);
        item.path
            .strip_prefix(&prefix)
            .unwrap_or(&item.path)
            .to_owned()
    };
    if collection.info.kind != CollectionKind::Photos {
        return item
            .path
            .rsplit('/')
            .next()
            .unwrap_or(&item.path)
            .to_owned();
    }
    let base = format!("{}/", collection.info.href.trim_end_matches('/'));
    let Some(rest) = item.href.strip_prefix(&base) else {
        return archived();
    };
    let original = percent_encoding::percent_decode_str(rest)
        .decode_utf8_lossy()
        .into_owned();
    let safe = !original.is_empty()
        && crate::archive::reader::unsafe_name(&original).is_none()
        && original
            .split('/')
            .all(|part| !part.is_empty() && part != ".");
    if safe { original } else { archived() }
}

#[allow(clippy::too_many_arguments)]
fn decide(
    input: &RestoreInput,
    target: &dyn Target,
    collection_href: &str,
    collection: &ManifestCollection,
    item: &ManifestItem,
    record: Option<&ItemRecord>,
    existing: &Existing,
    taken: &mut HashSet<String>,
    planned_uids: &mut HashMap<String, String>,
    policy: ConflictPolicy,
) -> ItemAction {
    if input.damaged.contains(&item.path) {
        return ItemAction::Refused {
            reason: "damaged in the archive (missing, or its checksum differs)".to_owned(),
        };
    }
    let relative = &relative_path(collection, item);
    let photos = collection.info.kind == CollectionKind::Photos;
    // 1. An earlier run put it there and nobody changed it since (recognised even where the
    //    server rewrote its UID or bytes): only what the record proves (the bytes the server
    //    served right after our upload, or the ETag it gave) counts. A pending record proves
    //    nothing (the run stopped before the upload was confirmed, and the user may have
    //    edited the item since): such an item is judged by its content below, and anything
    //    else with its UID is a conflict, handled as the user chose.
    if let Some(record) = record.filter(|r| r.state != ItemState::Pending)
        && let Some(found) = existing.by_href.get(&href_key(&record.href))
    {
        let unchanged = record
            .served_sha256
            .as_deref()
            .is_some_and(|served| found.has_sha256(served))
            || (record.etag.is_some() && record.etag == found.etag);
        let same_photo = photos && found.has_sha256(&item.sha256);
        if unchanged && !record.changes.is_empty() {
            return ItemAction::AlreadyThere {
                href: found.href.clone(),
                matched: Match::ChangedByServer {
                    changes: record.changes.clone(),
                },
            };
        }
        if unchanged || same_photo {
            return ItemAction::AlreadyThere {
                href: found.href.clone(),
                matched: Match::RestoredBefore,
            };
        }
    }
    // A run killed after a one-request upload but before it re-sent the items the server
    // rewrote: the server chose the href, so the pending record only knows the UID. The item
    // is ours to repair only when nothing but the calendar around it differs (what such an
    // upload rewrites); an edit of the item itself is somebody's, and a conflict below.
    if let Some(record) = record.filter(|r| r.state == ItemState::Pending && !photos)
        && let Some(found) = record
            .uid
            .as_ref()
            .and_then(|uid| existing.with_uid(uid).next())
    {
        match input.read_item(item) {
            Ok(bytes) if bytes == found.bytes || vobject::holds(&found.bytes, &bytes) => {
                return ItemAction::AlreadyThere {
                    href: found.href.clone(),
                    matched: Match::RestoredBefore,
                };
            }
            Ok(bytes) if vobject::same_items(&bytes, &found.bytes) => {
                return ItemAction::Conflict {
                    href: found.href.clone(),
                    etag: found.etag.clone(),
                    resolution: Resolution::Overwrite,
                };
            }
            Ok(_) => {}
            Err(reason) => return ItemAction::Refused { reason },
        }
    }
    // 2. Something with the same identity (UID, or path for photos) is there.
    let same_identity = if photos {
        let href = target.item_href(collection_href, relative);
        existing
            .by_href
            .get(&href_key(&href))
            .filter(|found| found.sha256.is_some())
    } else if let Some(uid) = item.uid.as_deref() {
        // Of several items with the UID, the one holding this item matches it.
        let candidates: Vec<&StoredItem> = existing.with_uid(uid).collect();
        if let Some(found) = candidates
            .iter()
            .find(|found| found.has_sha256(&item.sha256))
        {
            return ItemAction::AlreadyThere {
                href: found.href.clone(),
                matched: Match::SameBytes,
            };
        }
        if !candidates.is_empty() {
            match input.read_item(item) {
                Ok(bytes) => {
                    if let Some(found) = candidates
                        .iter()
                        .find(|found| vobject::holds(&found.bytes, &bytes))
                    {
                        return ItemAction::AlreadyThere {
                            href: found.href.clone(),
                            matched: Match::Equivalent,
                        };
                    }
                }
                Err(reason) => return ItemAction::Refused { reason },
            }
        }
        candidates.first().copied()
    } else {
        None
    };
    if let Some(found) = same_identity {
        if found.has_sha256(&item.sha256) {
            return ItemAction::AlreadyThere {
                href: found.href.clone(),
                matched: Match::SameBytes,
            };
        }
        let resolution = match policy {
            ConflictPolicy::Skip => Resolution::Skip,
            ConflictPolicy::Overwrite => Resolution::Overwrite,
            ConflictPolicy::KeepBoth => keep_both(target, collection_href, relative, item, taken),
        };
        return ItemAction::Conflict {
            href: found.href.clone(),
            etag: found.etag.clone(),
            resolution,
        };
    }
    // The same bytes are the same item, also where the archived one has no UID (a restore
    // gives it one, which the target's copy does not carry).
    if !photos
        && let Some(found) = existing
            .by_sha
            .get(&item.sha256)
            .and_then(|key| existing.by_href.get(key))
    {
        return ItemAction::AlreadyThere {
            href: found.href.clone(),
            matched: Match::SameBytes,
        };
    }
    // 3. Two archived items with one UID cannot both live in one collection.
    if let Some(uid) = &item.uid
        && let Some(first) = planned_uids.get(uid)
    {
        if policy == ConflictPolicy::KeepBoth {
            let resolution = keep_both(target, collection_href, relative, item, taken);
            return ItemAction::Conflict {
                href: first.clone(),
                etag: None,
                resolution,
            };
        }
        return ItemAction::Refused {
            reason: format!(
                "another archived item of this collection has the same UID ({first}); \
                     keeping both on conflicts restores both"
            ),
        };
    }
    let href = free_href(target, collection_href, relative, taken);
    if let Some(uid) = &item.uid {
        planned_uids.insert(uid.clone(), href.clone());
    }
    ItemAction::Upload { href }
}

fn keep_both(
    target: &dyn Target,
    collection_href: &str,
    relative: &str,
    item: &ManifestItem,
    taken: &mut HashSet<String>,
) -> Resolution {
    let tag = &item.sha256[..8.min(item.sha256.len())];
    let (stem, extension) = relative
        .rsplit_once('.')
        .map_or((relative, String::new()), |(s, e)| (s, format!(".{e}")));
    let href = free_href(
        target,
        collection_href,
        &format!("{stem}-restored-{tag}{extension}"),
        taken,
    );
    Resolution::KeepBoth {
        href,
        new_uid: item.uid.as_ref().map(|uid| format!("{uid}-restored-{tag}")),
    }
}

/// What happened to one collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectionOutcome {
    pub archive_path: String,
    pub label: String,
    pub href: String,
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

/// One write to make and what came of it.
struct Written {
    path: String,
    href: String,
    uid: Option<String>,
    /// The bytes sent (for photos only their checksum is kept).
    sent: Vec<u8>,
    sent_sha256: String,
    size: u64,
    etag: Option<String>,
    verified: bool,
    /// What the read-back found the target changed, property by property.
    changes: Vec<String>,
}

/// Collects warnings and forwards them to the front end.
struct Warnings<'a> {
    progress: &'a dyn Progress,
    list: Mutex<Vec<Warning>>,
}

impl Warnings<'_> {
    fn warn(&self, warning: Warning) {
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
struct Settled<'p> {
    written: Vec<Written>,
    /// Items the server did not store (found by UID): to upload one by one.
    missing: Vec<&'p ItemPlan>,
}

/// After a one-request upload: finds each item by UID and re-sends (`If-Match`) the archived
/// bytes of every item the server stored differently, so the result is what one-by-one
/// uploads give. Replacing is cheap where creating is not (Radicale: ~5 ms against ~90 ms
/// per item at 3,000 items).
async fn settle_one_request<'p>(
    target: &dyn Target,
    collection: &CollectionRestore,
    uploaded: Vec<(&'p ItemPlan, Vec<u8>)>,
) -> Result<Settled<'p>> {
    let info = CollectionInfo {
        href: collection.href.clone(),
        ..collection.info.clone()
    };
    let hrefs: Vec<String> = target
        .list(&info)
        .await?
        .into_iter()
        .map(|r| r.href)
        .collect();
    let mut by_uid: HashMap<String, StoredItem> = HashMap::new();
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
                sent_sha256: sha256_hex(&bytes),
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
fn changed_warning(changes: &[String], href: &str, path: &str) -> Warning {
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
fn write_destination(item: &ItemPlan) -> (String, Option<String>) {
    match &item.action {
        ItemAction::Upload { href } => (href.clone(), item.uid.clone()),
        ItemAction::Conflict {
            resolution: Resolution::KeepBoth { href, new_uid },
            ..
        } => (href.clone(), new_uid.clone()),
        ItemAction::Conflict { href, .. } | ItemAction::AlreadyThere { href, .. } => {
            (href.clone(), item.uid.clone())
        }
        ItemAction::Refused { .. } => (String::new(), None),
    }
}

/// Uploads one item. The outer `Err` stops the job (authentication, network, full account,
/// cancel); the inner one is a warning about this item only.
async fn upload_one<'p>(
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
    let sent_sha256 = sha256_hex(&bytes);
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

/// Fetches every written item back and compares it with what was sent.
async fn read_back(
    target: &dyn Target,
    collection: &CollectionRestore,
    written: &mut [Written],
    outcome: &mut CollectionOutcome,
    warnings: &Warnings<'_>,
) -> Result<()> {
    if written.is_empty() {
        return Ok(());
    }
    let info = CollectionInfo {
        href: collection.href.clone(),
        ..collection.info.clone()
    };
    // Items a one-request upload stored exactly were compared while settling it.
    outcome.verified_same_bytes += written.iter().filter(|w| w.verified).count();
    let hrefs: Vec<String> = written
        .iter()
        .filter(|w| !w.verified)
        .map(|w| w.href.clone())
        .collect();
    if hrefs.is_empty() {
        return Ok(());
    }
    let photos = collection.kind == CollectionKind::Photos;
    let same = |done: &Written, found: &StoredItem| {
        found.has_sha256(&done.sent_sha256)
            || (!photos && vobject::equivalent(&done.sent, &found.bytes))
    };
    // Photos are read back as checksums, streamed: memory stays bounded.
    let info = &info;
    let read = |hrefs: Vec<String>| async move {
        if photos {
            target.digests(info, &hrefs).await
        } else {
            target.fetch(info, &hrefs).await
        }
    };
    let mut served: HashMap<String, StoredItem> = read(hrefs)
        .await?
        .into_iter()
        .map(|item| (href_key(&item.href), item))
        .collect();
    // A read-back can break off or be cut short like any download: what is missing or
    // differs is read once more before it counts as failed.
    let again: Vec<String> = written
        .iter()
        .filter(|w| !w.verified)
        .filter(|w| {
            served
                .get(&href_key(&w.href))
                .is_none_or(|found| !same(w, found))
        })
        .map(|w| w.href.clone())
        .collect();
    if !again.is_empty() {
        for item in read(again).await? {
            served.insert(href_key(&item.href), item);
        }
    }
    let by_href: HashMap<String, &StoredItem> = served
        .iter()
        .map(|(key, item)| (key.clone(), item))
        .collect();
    for done in written.iter_mut().filter(|w| !w.verified) {
        let Some(found) = by_href.get(&href_key(&done.href)).copied() else {
            outcome.verify_failed += 1;
            warnings.warn(
                Warning::new("verify-failed", "not found on the target when read back")
                    .at_path(&done.path),
            );
            continue;
        };
        done.href.clone_from(&found.href);
        let served_sha256 = found.sha256.clone().unwrap_or_default();
        if served_sha256 == done.sent_sha256 {
            outcome.verified_same_bytes += 1;
            done.verified = true;
        } else if collection.kind != CollectionKind::Photos
            && vobject::equivalent(&done.sent, &found.bytes)
        {
            outcome.verified_equivalent += 1;
            done.verified = true;
        } else {
            outcome.verify_failed += 1;
            done.changes = if collection.kind == CollectionKind::Photos {
                vec!["the target serves different bytes".to_owned()]
            } else {
                vobject::differences(&done.sent, &found.bytes)
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            };
            warnings.warn(changed_warning(&done.changes, &found.href, &done.path));
        }
        // From now on, `sent_sha256` records what the target serves, for the report.
        done.sent_sha256 = served_sha256;
    }
    Ok(())
}
