//! The contract test suite every [`Source`] backend must pass (see the trait's rustdoc); unit
//! tests run it on memory and device sources, integration tests on real Radicale and WebDAV.

use crate::error::ErrorKind;
use crate::ids::Href;
use crate::model::{CollectionKind, Warning};
use crate::progress::CancelToken;
use crate::source::Source;

pub use super::collecting::CollectingSink;

/// What a backend was seeded with: a collection's kind, a part of its name, its items' bytes.
#[derive(Debug, Clone)]
pub struct ExpectedCollection {
    pub kind: CollectionKind,
    pub name_contains: String,
    pub items: Vec<Vec<u8>>,
}

/// Runs the contract on `source`, which must hold exactly `expected` (other collections may
/// exist). Returns a description of the first broken rule.
pub async fn check_source(
    source: &dyn Source,
    expected: &[ExpectedCollection],
) -> std::result::Result<(), String> {
    let collections = source
        .collections()
        .await
        .map_err(|e| format!("collections: {e}"))?;
    let mut hrefs: Vec<&str> = collections.iter().map(|c| c.href.as_str()).collect();
    hrefs.sort_unstable();
    hrefs.dedup();
    if hrefs.len() != collections.len() {
        return Err("rule 2: collection hrefs are not unique".to_owned());
    }
    for wanted in expected {
        let collection = collections
            .iter()
            .find(|c| c.kind == wanted.kind && c.name.contains(&wanted.name_contains))
            .ok_or_else(|| {
                format!(
                    "rule 2: no {:?} collection named like {:?}",
                    wanted.kind, wanted.name_contains
                )
            })?;
        let token = source
            .sync_token(collection)
            .await
            .map_err(|e| format!("sync_token: {e}"))?;
        let refs = source
            .list(collection)
            .await
            .map_err(|e| format!("list: {e}"))?;
        if let Some(token) = token {
            match source.changes_since(collection, &token).await {
                Ok(Some(changes)) if !changes.changed.is_empty() || !changes.deleted.is_empty() => {
                    return Err(format!(
                        "rule 7: {} reports {} changed and {} deleted items right after its token",
                        collection.href,
                        changes.changed.len(),
                        changes.deleted.len()
                    ));
                }
                Ok(_) => {}
                Err(e) => return Err(format!("rule 7: changes_since: {e}")),
            }
        }
        let mut ref_hrefs: Vec<&str> = refs.iter().map(|r| r.href.as_str()).collect();
        ref_hrefs.sort_unstable();
        ref_hrefs.dedup();
        if ref_hrefs.len() != refs.len() {
            return Err(format!(
                "rule 3: listed hrefs of {} are not unique",
                collection.href
            ));
        }
        let mut download_hrefs: Vec<Href> = source
            .list_for_download(collection)
            .await
            .map_err(|e| format!("list_for_download: {e}"))?
            .into_iter()
            .map(|r| r.href)
            .collect();
        download_hrefs.sort_unstable();
        if download_hrefs != ref_hrefs {
            return Err(format!(
                "rule 3: list_for_download of {} does not list the same hrefs as list",
                collection.href
            ));
        }
        if refs.is_empty() != wanted.items.is_empty() {
            return Err(format!(
                "rule 3: {} listed {} items",
                collection.href,
                refs.len()
            ));
        }

        let sink = CollectingSink::default();
        let cancel = CancelToken::default();
        source
            .fetch(collection, &refs, &sink, &cancel)
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        let unavailable: Vec<Warning> = sink
            .warnings()
            .into_iter()
            .filter(|w| w.code == "unavailable")
            .collect();
        if !unavailable.is_empty() {
            return Err(format!("rule 4: items unavailable: {unavailable:?}"));
        }
        let mut got: Vec<Vec<u8>> = sink.items().into_iter().map(|(_, b)| b).collect();
        let mut want = wanted.items.clone();
        got.sort();
        want.sort();
        if got != want {
            return Err(format!(
                "rule 4: {} delivered {} items that differ from the {} seeded",
                collection.href,
                got.len(),
                want.len()
            ));
        }
        for (href, _) in sink.items() {
            let base = href.split('#').next().unwrap_or(&href);
            if !refs.iter().any(|r| r.href == base) {
                return Err(format!("rule 4: delivered {href}, which was never listed"));
            }
        }

        let empty = CollectingSink::default();
        source
            .fetch(collection, &[], &empty, &cancel)
            .await
            .map_err(|e| format!("fetch of nothing: {e}"))?;
        if !empty.items().is_empty() {
            return Err("rule 4: fetching no refs delivered items".to_owned());
        }

        if let Some(first) = refs.first() {
            let one = CollectingSink::default();
            source
                .fetch(collection, std::slice::from_ref(first), &one, &cancel)
                .await
                .map_err(|e| format!("fetch of one: {e}"))?;
            let items = one.items();
            if items.is_empty()
                || items
                    .iter()
                    .any(|(h, _)| h.split('#').next() != Some(&first.href))
            {
                return Err(format!(
                    "rule 4: fetching {} alone delivered {items:?}",
                    first.href
                ));
            }

            let cancelled = CancelToken::default();
            cancelled.cancel();
            let result = source
                .fetch(collection, &refs, &CollectingSink::default(), &cancelled)
                .await;
            if !matches!(&result, Err(e) if e.kind() == ErrorKind::Cancelled) {
                return Err("rule 6: a cancelled fetch did not stop".to_owned());
            }
        }
    }
    let again = source
        .collections()
        .await
        .map_err(|e| format!("collections: {e}"))?;
    if again != collections {
        return Err("rule 1: listing twice gave different collections".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::memory::MemorySource;

    fn card(uid: &str) -> Vec<u8> {
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{uid}\r\nEND:VCARD\r\n").into_bytes()
    }

    #[tokio::test]
    async fn memory_source_passes_the_contract() {
        let source = MemorySource::default().with_collection(
            CollectionKind::Contacts,
            "friends",
            vec![
                ("/friends/a.vcf".into(), card("a")),
                ("/friends/b.vcf".into(), card("b")),
            ],
        );
        let expected = [ExpectedCollection {
            kind: CollectionKind::Contacts,
            name_contains: "friends".into(),
            items: vec![card("a"), card("b")],
        }];
        assert_eq!(check_source(&source, &expected).await, Ok(()));
    }

    #[tokio::test]
    async fn contract_catches_a_source_that_changes_bytes() {
        let source = MemorySource::default().with_collection(
            CollectionKind::Contacts,
            "friends",
            vec![("/friends/a.vcf".into(), card("a"))],
        );
        let expected = [ExpectedCollection {
            kind: CollectionKind::Contacts,
            name_contains: "friends".into(),
            items: vec![card("other")],
        }];
        assert!(check_source(&source, &expected).await.is_err());
    }

    #[tokio::test]
    async fn device_source_passes_the_contract()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("phone/DCIM"))?;
        let two = [card("x"), card("y")].concat();
        std::fs::write(dir.path().join("phone/all.vcf"), &two)?;
        std::fs::write(dir.path().join("phone/DCIM/p.jpg"), b"\xff\xd8jpeg")?;
        std::fs::write(dir.path().join("phone/notes.txt"), b"ignored")?;
        let source = crate::source::device::DeviceSource::new(dir.path().join("phone"))?;
        let expected = [
            ExpectedCollection {
                kind: CollectionKind::Contacts,
                name_contains: "phone".into(),
                items: vec![card("x"), card("y")],
            },
            ExpectedCollection {
                kind: CollectionKind::Photos,
                name_contains: "phone".into(),
                items: vec![b"\xff\xd8jpeg".to_vec()],
            },
        ];
        assert_eq!(check_source(&source, &expected).await, Ok(()));
        Ok(())
    }

    #[tokio::test]
    async fn provider_exports_pass_the_contract()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        use crate::source::provider::{Provider, ProviderExport};
        use std::io::Write as _;
        let dir = tempfile::tempdir()?;
        let zip_of = |name: &str, files: &[(&str, &[u8])]| -> std::io::Result<std::path::PathBuf> {
            let path = dir.path().join(name);
            let mut writer = zip::ZipWriter::new(std::fs::File::create(&path)?);
            for (file, bytes) in files {
                writer.start_file(*file, zip::write::SimpleFileOptions::default())?;
                writer.write_all(bytes)?;
            }
            writer.finish()?;
            Ok(path)
        };
        let two = [card("x"), card("y")].concat();
        let tasks = br#"{"items": [{"id": "L", "title": "Chores", "items": [{"id": "t1", "title": "Dishes"}]}]}"#;
        let takeout = zip_of(
            "takeout-001.zip",
            &[
                ("Takeout/Contacts/All/All.vcf", &two),
                ("Takeout/Tasks/Tasks.json", tasks),
                (
                    "Takeout/Google Photos/Photos from 2020/p.jpg",
                    b"\xff\xd8one",
                ),
                ("Takeout/Google Photos/Trip/p.jpg", b"\xff\xd8one"),
                ("Takeout/Google Photos/Trip/q.jpg", b"\xff\xd8two"),
            ],
        )?;
        let source = ProviderExport::open(Provider::GoogleTakeout, &[takeout])?;
        let task = crate::source::google_tasks::parse(tasks)?.items[0].items[0].clone();
        let expected = [
            ExpectedCollection {
                kind: CollectionKind::Contacts,
                name_contains: "All".into(),
                items: vec![card("x"), card("y")],
            },
            ExpectedCollection {
                kind: CollectionKind::Calendar,
                name_contains: "Chores".into(),
                items: vec![crate::source::google_tasks::vtodo(&task)],
            },
            ExpectedCollection {
                kind: CollectionKind::Photos,
                name_contains: "Google Photos".into(),
                // The same photo in a year folder and an album is delivered once.
                items: vec![b"\xff\xd8one".to_vec(), b"\xff\xd8two".to_vec()],
            },
        ];
        assert_eq!(check_source(&source, &expected).await, Ok(()));

        let apple = zip_of(
            "iCloud Photos Part 1 of 1.zip",
            &[
                ("iCloud Photos Part 1 of 1/Photos/a.heic", b"heic"),
                ("iCloud Contacts/card.vcf", &card("z")),
            ],
        )?;
        let source = ProviderExport::open(Provider::AppleDataCopy, &[apple])?;
        let expected = [
            ExpectedCollection {
                kind: CollectionKind::Photos,
                name_contains: "iCloud Photos".into(),
                items: vec![b"heic".to_vec()],
            },
            ExpectedCollection {
                kind: CollectionKind::Contacts,
                name_contains: "iCloud Contacts".into(),
                items: vec![card("z")],
            },
        ];
        assert_eq!(check_source(&source, &expected).await, Ok(()));
        Ok(())
    }
}
