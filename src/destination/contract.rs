//! The contract test suite every [`Target`] backend must pass (see the trait's rustdoc); unit
//! tests run it on the folder target, integration tests on real Radicale and WsgiDAV.

use crate::destination::{PutMode, PutOutcome, Target, href_key};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::Etag;
use crate::model::{CollectionInfo, CollectionKind};

fn broken(message: String) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!("contract broken: {message}"),
    )
}

/// Creates a collection named `name` of `kind`, stores `first` in it, replaces it with
/// `second` (a new version of the same item: same UID), and checks every rule of the
/// contract on the way.
pub async fn check_target(
    target: &dyn Target,
    kind: CollectionKind,
    name: &str,
    first: &[u8],
    second: &[u8],
) -> Result<()> {
    let href = target.new_collection_href(kind, name)?;
    let before = target.collections(kind).await?;
    if before.iter().any(|c| href_key(&c.href) == href_key(&href)) {
        return Err(broken(format!("{href} exists before it was created")));
    }
    let info = CollectionInfo {
        kind,
        href: href.clone(),
        name: name.to_owned(),
        display_name: Some(format!("{name} (display)")),
        description: None,
        color: None,
        components: match kind {
            CollectionKind::Calendar => vec!["VEVENT".to_owned()],
            _ => Vec::new(),
        },
        sync_token: None,
    };
    target.create_collection(&href, &info).await?;
    let created = target
        .collections(kind)
        .await?
        .into_iter()
        .find(|c| href_key(&c.href) == href_key(&href))
        .ok_or_else(|| broken(format!("{href} not listed after creation")))?;
    // The name people gave it comes back (a folder of photos may have none).
    if kind != CollectionKind::Photos && created.display_name != info.display_name {
        return Err(broken(format!(
            "{href} is named {:?} after creation, not {:?}",
            created.display_name, info.display_name
        )));
    }

    let item_href = target.item_href(&href, "one.item");
    let outcome = target
        .put(&item_href, kind, first.to_vec(), PutMode::Create)
        .await?;
    let PutOutcome::Stored { etag } = outcome else {
        return Err(broken(format!("first put of {item_href}: {outcome:?}")));
    };
    // Rule 1: a create never replaces.
    let again = target
        .put(&item_href, kind, second.to_vec(), PutMode::Create)
        .await?;
    if again != PutOutcome::AlreadyExists {
        return Err(broken(format!("second create of {item_href}: {again:?}")));
    }
    // Rule 3: listed once, served with the bytes stored (servers may re-serialise vCards
    // and iCalendar; photos and local files must match exactly).
    let listed = target.list(&created).await?;
    if listed.len() != 1 || href_key(&listed[0].href) != href_key(&item_href) {
        return Err(broken(format!("listing after one put: {listed:?}")));
    }
    let served = target
        .fetch(&created, std::slice::from_ref(&item_href))
        .await?;
    let exact = matches!(kind, CollectionKind::Photos);
    match served.as_slice() {
        [one] if one.bytes == first => {}
        // Servers may stamp properties of their own (DAViCal adds REV).
        [one]
            if !exact
                && crate::vobject::differences(first, &one.bytes)
                    .iter()
                    .all(|c| matches!(c, crate::vobject::PropertyChange::Added { .. })) => {}
        other => return Err(broken(format!("fetch after put served {other:?}"))),
    }
    // Rule 2 of replacing: only with the user's consent, and only the version we saw.
    if let Some(etag) = etag {
        let stale = target
            .put(
                &item_href,
                kind,
                second.to_vec(),
                PutMode::Replace {
                    etag: Some(Etag::from("\"not-the-etag\"")),
                },
            )
            .await?;
        if stale != PutOutcome::AlreadyExists {
            return Err(broken(format!("replace with a stale ETag: {stale:?}")));
        }
        let replaced = target
            .put(
                &item_href,
                kind,
                second.to_vec(),
                PutMode::Replace { etag: Some(etag) },
            )
            .await?;
        if !matches!(replaced, PutOutcome::Stored { .. }) {
            return Err(broken(format!("replace with the right ETag: {replaced:?}")));
        }
    }
    // Fetching an href that does not exist leaves it out.
    let missing = target
        .fetch(&created, &[target.item_href(&href, "nothing.here")])
        .await?;
    if !missing.is_empty() {
        return Err(broken(format!("fetch of a missing href gave {missing:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::destination::folder::FolderTarget;

    #[tokio::test]
    async fn folder_target_passes_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let target = FolderTarget::new(dir.path().join("restored")).unwrap();
        let card = |uid: &str| {
            format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{uid}\r\nEND:VCARD\r\n")
                .into_bytes()
        };
        check_target(
            &target,
            CollectionKind::Contacts,
            "family",
            &card("a"),
            &card("b"),
        )
        .await
        .unwrap();
        check_target(
            &target,
            CollectionKind::Photos,
            "album",
            b"\xFF\xD8one",
            b"\xFF\xD8two",
        )
        .await
        .unwrap();
    }
}
