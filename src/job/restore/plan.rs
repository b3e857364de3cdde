//! Planning a restore: which destination takes each archived collection, what each holds
//! already, and where every item would go. Writes nothing.

use std::collections::{HashMap, HashSet};

use crate::archive::manifest::{ManifestCollection, ManifestItem};
use crate::destination::{StoredItem, Target, href_key};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Href, Sha256, Uid};
use crate::job::restore_report::RestoreReport;
use crate::model::{CollectionInfo, CollectionKind, ItemKind, ItemRef};
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::vobject;

use super::{
    CollectionRestore, ItemPlan, RestoreInput, RestoreOptions, RestorePlan, SkippedCollection,
    decide,
};

pub(super) fn label_of(collection: &ManifestCollection) -> String {
    collection
        .info
        .display_name
        .clone()
        .unwrap_or_else(|| collection.info.name.clone())
}

/// The target collection named by `--into`, if the user mapped this archived collection.
pub(super) fn mapped_name<'a>(
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
pub(super) struct Existing {
    pub(super) by_href: HashMap<String, StoredItem>,
    /// Every href holding each UID: servers such as DAViCal store several resources of one
    /// UID (iTIP copies of a meeting), so an item is matched with the one that holds it.
    pub(super) by_uid: HashMap<Uid, Vec<String>>,
    pub(super) by_sha: HashMap<Sha256, String>,
}

impl Existing {
    pub(super) fn from_items(items: Vec<StoredItem>) -> Self {
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
    pub(super) fn with_uid<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a StoredItem> {
        self.by_uid
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|key| self.by_href.get(key))
    }
}

/// Picks an href for a new item that nothing at the target or in the plan uses.
pub(super) fn free_href(
    target: &dyn Target,
    collection_href: &str,
    relative: &str,
    taken: &mut HashSet<String>,
) -> Href {
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
        let mut planned_uids: HashMap<Uid, Href> = HashMap::new();
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
                    uid: Some(Uid::new(format!("lifeboat-{}", item.sha256.short(32)))),
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

pub(super) fn no_such_collection(
    kind: CollectionKind,
    name: &str,
    known: &[CollectionInfo],
) -> Error {
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
pub(super) fn components_of(items: &[&ManifestItem]) -> Vec<String> {
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
pub(super) async fn read_existing(
    target: &dyn Target,
    info: &CollectionInfo,
    items: &[&ManifestItem],
    collection: &ManifestCollection,
    cancel: &CancelToken,
) -> Result<Existing> {
    cancel.check()?;
    let refs: Vec<ItemRef> = target.list(info).await?;
    let wanted: Vec<Href> = if info.kind == CollectionKind::Photos {
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
pub(super) fn relative_path(collection: &ManifestCollection, item: &ManifestItem) -> String {
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
