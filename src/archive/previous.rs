//! What an earlier archive of the same sources holds, so that an export can link unchanged
//! items from it instead of fetching them again, and ask the server only for what changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::archive::Manifest;
use crate::archive::manifest::{MANIFEST_FILE, ManifestCollection, ManifestItem};
use crate::error::{Error, Result};
use crate::ids::{Href, Sha256};
use crate::model::{ItemRef, href_key};
use crate::source::Changes;

/// An earlier, complete archive folder and its manifest.
#[derive(Debug)]
pub struct PreviousArchive {
    root: PathBuf,
    manifest: Manifest,
    /// (source location, collection href) → index into `manifest.collections`.
    collections: HashMap<(String, Href), usize>,
    /// collection path → indexes into `manifest.items`.
    items: HashMap<String, Vec<usize>>,
    /// item path → indexes into `manifest.warnings`.
    warnings: HashMap<String, Vec<usize>>,
}

/// One collection of the previous archive.
#[derive(Debug, Clone)]
pub struct PreviousCollection<'a> {
    archive: &'a PreviousArchive,
    pub collection: &'a ManifestCollection,
    /// Items by [`href_key`].
    by_href: HashMap<String, &'a ManifestItem>,
}

impl PreviousArchive {
    /// Reads the manifest of the archive folder at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        let path = root.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
        Ok(Self::new(root.to_path_buf(), Manifest::parse(&bytes)?))
    }

    pub fn new(root: PathBuf, manifest: Manifest) -> Self {
        let collections = manifest
            .collections
            .iter()
            .enumerate()
            .filter_map(|(index, c)| {
                let source = manifest.sources.get(c.source)?;
                Some(((source.account_key(), c.info.href.clone()), index))
            })
            .collect();
        let mut items: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, item) in manifest.items.iter().enumerate() {
            items
                .entry(item.collection.clone())
                .or_default()
                .push(index);
        }
        let mut warnings: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, warning) in manifest.warnings.iter().enumerate() {
            if let Some(path) = &warning.path {
                warnings.entry(path.clone()).or_default().push(index);
            }
        }
        Self {
            root,
            manifest,
            collections,
            items,
            warnings,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The collection with this href from the account `account`
    /// ([`crate::source::SourceInfo::account_key`]), if the archive has it.
    pub fn collection(&self, account: &str, href: &str) -> Option<PreviousCollection<'_>> {
        let index = *self
            .collections
            .get(&(account.to_owned(), Href::from(href)))?;
        let collection = &self.manifest.collections[index];
        let by_href = self
            .items
            .get(&collection.path)
            .into_iter()
            .flatten()
            .map(|&i| {
                let item = &self.manifest.items[i];
                (href_key(&item.href), item)
            })
            .collect();
        Some(PreviousCollection {
            archive: self,
            collection,
            by_href,
        })
    }

    /// How many items the collection at archive `path` holds.
    pub fn item_count(&self, path: &str) -> usize {
        self.items.get(path).map_or(0, Vec::len)
    }

    /// Every archived file by its checksum, for linking identical bytes.
    pub fn paths_by_checksum(&self) -> HashMap<Sha256, String> {
        self.manifest
            .checked_files()
            .map(|(path, sha256, _)| (sha256.clone(), path.to_owned()))
            .collect()
    }
}

impl<'a> PreviousCollection<'a> {
    pub fn items(&self) -> impl Iterator<Item = &'a ManifestItem> + 'a {
        let archive = self.archive;
        archive
            .items
            .get(&self.collection.path)
            .into_iter()
            .flatten()
            .map(move |&index| &archive.manifest.items[index])
    }

    /// The sync token to ask for changes with, if the archive holds the collection whole.
    /// An item the source failed to deliver last time would never show up as a change, so
    /// such a collection is listed in full again.
    pub fn complete_sync_token(&self) -> Option<&'a str> {
        let prefix = self.collection.info.href.as_str();
        let incomplete = self.archive.manifest.warnings.iter().any(|w| {
            w.code == "unavailable" && w.href.as_deref().is_some_and(|h| h.starts_with(prefix))
        });
        if incomplete {
            None
        } else {
            self.collection.info.sync_token.as_deref()
        }
    }

    /// The collection's items now: last time's, minus deletions, with changes applied.
    pub fn apply(&self, changes: &Changes) -> Vec<ItemRef> {
        let deleted: std::collections::HashSet<String> =
            changes.deleted.iter().map(|h| href_key(h)).collect();
        let changed: std::collections::HashSet<String> =
            changes.changed.iter().map(|r| href_key(&r.href)).collect();
        let mut items: Vec<ItemRef> = self
            .items()
            .filter(|i| {
                let key = href_key(&i.href);
                !deleted.contains(&key) && !changed.contains(&key)
            })
            .map(|i| ItemRef {
                href: i.href.clone(),
                etag: i.etag.clone(),
                size: Some(i.size),
            })
            .collect();
        items.extend(changes.changed.iter().cloned());
        items
    }

    /// The warnings last time's archive recorded for one of its items.
    pub fn warnings_for(&self, item: &ManifestItem) -> Vec<crate::model::Warning> {
        self.archive
            .warnings
            .get(&item.path)
            .into_iter()
            .flatten()
            .map(|&index| self.archive.manifest.warnings[index].clone())
            .collect()
    }

    /// The archived copy of `item`, if it has the same href and the same ETag: such an item
    /// has not changed and need not be fetched again.
    pub fn unchanged(&self, item: &ItemRef) -> Option<&'a ManifestItem> {
        let etag = item.etag.as_deref()?;
        self.by_href
            .get(&href_key(&item.href))
            .copied()
            .filter(|archived| archived.etag.as_deref() == Some(etag))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::archive::manifest::{FORMAT_NAME, FORMAT_VERSION};
    use crate::model::{CollectionInfo, CollectionKind, ItemKind, Warning};
    use crate::source::SourceInfo;

    fn item(href: &str, etag: &str) -> ManifestItem {
        ManifestItem {
            about: crate::model::ItemAbout::default(),
            path: format!("contacts/friends/{}", href.rsplit('/').next().unwrap()),
            collection: "contacts/friends".into(),
            kind: ItemKind::Contact,
            uid: None,
            href: href.into(),
            etag: Some(etag.into()),
            sha256: Sha256::of(href.as_bytes()),
            size: 10,
        }
    }

    fn previous(warnings: Vec<Warning>) -> PreviousArchive {
        let manifest = Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            tool: "test".into(),
            created: "2026-11-28T00:00:00Z".into(),
            sources: vec![SourceInfo {
                kind: "carddav+caldav".into(),
                label: "alice".into(),
                location: "https://dav.example/".into(),
            }],
            collections: vec![ManifestCollection {
                path: "contacts/friends".into(),
                source: 0,
                info: CollectionInfo {
                    kind: CollectionKind::Contacts,
                    href: "/alice/friends/".into(),
                    name: "friends".into(),
                    display_name: None,
                    description: None,
                    color: None,
                    components: Vec::new(),
                    sync_token: Some("token-1".into()),
                },
                merged: None,
            }],
            items: vec![
                item("/alice/friends/a.vcf", "\"1\""),
                item("/alice/friends/b%20c.vcf", "\"1\""),
                item("/alice/friends/d.vcf", "\"1\""),
            ],
            files: Vec::new(),
            warnings,
        };
        PreviousArchive::new(PathBuf::from("/nowhere"), manifest)
    }

    #[test]
    fn changes_apply_to_the_previous_item_list() {
        let archive = previous(Vec::new());
        let before = archive
            .collection("https://dav.example/ (alice)", "/alice/friends/")
            .unwrap();
        assert_eq!(before.complete_sync_token(), Some("token-1"));
        let changes = Changes {
            sync_token: "token-2".into(),
            changed: vec![
                ItemRef {
                    href: "/alice/friends/a.vcf".into(),
                    etag: Some("\"2\"".into()),
                    size: None,
                },
                ItemRef {
                    href: "/alice/friends/new.vcf".into(),
                    etag: Some("\"1\"".into()),
                    size: None,
                },
            ],
            // Encoded differently from the archived href: still the same item.
            deleted: vec!["/alice/friends/b c.vcf".into()],
        };
        let now = before.apply(&changes);
        let hrefs: Vec<&str> = now.iter().map(|i| i.href.as_str()).collect();
        assert_eq!(
            hrefs,
            [
                "/alice/friends/d.vcf",
                "/alice/friends/a.vcf",
                "/alice/friends/new.vcf"
            ]
        );
        // Only d is unchanged; a has a new ETag, new.vcf was never archived.
        let unchanged: Vec<&str> = now
            .iter()
            .filter_map(|i| before.unchanged(i))
            .map(|i| i.href.as_str())
            .collect();
        assert_eq!(unchanged, ["/alice/friends/d.vcf"]);
        // Another server, or another account on the same server, is never this baseline.
        for account in ["https://other/ (alice)", "https://dav.example/ (bob)"] {
            assert!(
                archive.collection(account, "/alice/friends/").is_none(),
                "{account}"
            );
        }
    }

    #[test]
    fn an_item_missing_last_time_forces_a_full_listing() {
        let archive = previous(vec![
            Warning::new("unavailable", "gone").at_href("/alice/friends/x.vcf"),
        ]);
        let before = archive
            .collection("https://dav.example/ (alice)", "/alice/friends/")
            .unwrap();
        assert_eq!(before.complete_sync_token(), None);
    }
}
