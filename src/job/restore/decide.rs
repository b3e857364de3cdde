//! What to do with one archived item against what the destination holds: upload, already there,
//! conflict (and how it is resolved) or refused.

use std::collections::{HashMap, HashSet};

use crate::archive::manifest::{ManifestCollection, ManifestItem};
use crate::destination::{StoredItem, Target, href_key};
use crate::ids::{Href, Uid};
use crate::job::restore_report::{ItemRecord, ItemState};
use crate::model::CollectionKind;
use crate::vobject;

use super::{
    ConflictPolicy, Existing, ItemAction, Match, Resolution, RestoreInput, free_href, relative_path,
};

#[allow(clippy::too_many_arguments)]
pub(super) fn decide(
    input: &RestoreInput,
    target: &dyn Target,
    collection_href: &str,
    collection: &ManifestCollection,
    item: &ManifestItem,
    record: Option<&ItemRecord>,
    existing: &Existing,
    taken: &mut HashSet<String>,
    planned_uids: &mut HashMap<Uid, Href>,
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
            .as_ref()
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

pub(super) fn keep_both(
    target: &dyn Target,
    collection_href: &str,
    relative: &str,
    item: &ManifestItem,
    taken: &mut HashSet<String>,
) -> Resolution {
    let tag = item.sha256.short(8);
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
        new_uid: item
            .uid
            .as_ref()
            .map(|uid| Uid::new(format!("{uid}-restored-{tag}"))),
    }
}
