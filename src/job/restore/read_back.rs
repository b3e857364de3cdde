//! After a restore: every written item read back from the destination and compared with what
//! was archived.

use std::collections::HashMap;

use crate::destination::{StoredItem, Target, href_key};
use crate::error::Result;
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, Warning};
use crate::vobject;

use super::{CollectionOutcome, CollectionRestore, Warnings, Written, changed_warning};

/// Fetches every written item back and compares it with what was sent.
pub(super) async fn read_back(
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
    let hrefs: Vec<Href> = written
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
    let read = |hrefs: Vec<Href>| async move {
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
    let again: Vec<Href> = written
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
        let served_sha256 = found.sha256.clone();
        if served_sha256.as_ref() == Some(&done.sent_sha256) {
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
        if let Some(served) = served_sha256 {
            done.sent_sha256 = served;
        }
    }
    Ok(())
}
