//! Restoring into a folder on this computer: `contacts/NAME/` and `calendars/NAME/` as vdirs
//! (one file per item, `displayname`/`color` files), `photos/NAME/` with album folders. Files
//! appear atomically and never replace one that exists.

use std::path::{Path, PathBuf};

use crate::archive::layout::safe_segment;
use crate::destination::{PutMode, PutOutcome, StoredItem, Target};
use crate::error::{Error, Result};
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, ItemRef};
use crate::source::SourceInfo;

/// vdir metadata files, which are not items.
const METADATA_FILES: &[&str] = &["displayname", "color", "description"];

#[derive(Debug)]
pub struct FolderTarget {
    root: PathBuf,
}

impl FolderTarget {
    /// Uses `root`, creating it if needed.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| Error::io("creating the restore folder", &root, e))?;
        Ok(Self { root })
    }

    fn path_of(&self, href: &str) -> PathBuf {
        href.split('/')
            .filter(|part| !part.is_empty())
            .fold(self.root.clone(), |path, part| path.join(part))
    }

    /// `read` of each href's file; a missing file is left out.
    fn each_file(
        &self,
        hrefs: &[Href],
        read: impl Fn(&Href, &Path) -> std::io::Result<StoredItem>,
    ) -> Result<Vec<StoredItem>> {
        let mut stored = Vec::new();
        for href in hrefs {
            let path = self.path_of(href);
            match read(href, &path) {
                Ok(item) => stored.push(item),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("reading", &path, e)),
            }
        }
        Ok(stored)
    }
}

fn walk(dir: &Path, prefix: &str, found: &mut Vec<ItemRef>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("reading a folder", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("reading a folder", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || (prefix.matches('/').count() == 2 && METADATA_FILES.contains(&name.as_str()))
        {
            continue;
        }
        let href = format!("{prefix}{name}");
        let file_type = entry
            .file_type()
            .map_err(|e| Error::io("reading a folder", entry.path(), e))?;
        if file_type.is_dir() {
            walk(&entry.path(), &format!("{href}/"), found)?;
        } else if file_type.is_file() {
            let size = entry.metadata().ok().map(|m| m.len());
            found.push(ItemRef {
                href: Href::new(href),
                etag: None,
                size,
            });
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Target for FolderTarget {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "folder".to_owned(),
            label: format!("folder {}", self.root.display()),
            location: self.root.display().to_string(),
        }
    }

    fn accepts(&self, _kind: CollectionKind) -> bool {
        true
    }

    async fn collections(&self, kind: CollectionKind) -> Result<Vec<CollectionInfo>> {
        let dir = self.root.join(kind.folder());
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("reading a folder", &dir, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("reading a folder", &dir, e))?;
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let display_name = std::fs::read_to_string(entry.path().join("displayname"))
                .ok()
                .map(|s| s.trim().to_owned());
            found.push(CollectionInfo {
                kind,
                href: Href::new(format!("{}/{name}/", kind.folder())),
                name,
                display_name,
                description: None,
                color: None,
                components: Vec::new(),
                sync_token: None,
            });
        }
        found.sort_by(|a, b| a.href.cmp(&b.href));
        Ok(found)
    }

    fn new_collection_href(&self, kind: CollectionKind, name: &str) -> Result<Href> {
        Ok(Href::new(format!(
            "{}/{}/",
            kind.folder(),
            safe_segment(name)
        )))
    }

    async fn create_collection(&self, href: &str, info: &CollectionInfo) -> Result<()> {
        let dir = self.path_of(href);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating a folder", &dir, e))?;
        for (file, value) in [
            ("displayname", &info.display_name),
            ("color", &info.color),
            ("description", &info.description),
        ] {
            if let Some(value) = value {
                let path = dir.join(file);
                std::fs::write(&path, value).map_err(|e| Error::io("writing", &path, e))?;
            }
        }
        Ok(())
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        let mut found = Vec::new();
        let prefix = format!("{}/", collection.href.trim_end_matches('/'));
        walk(&self.path_of(&collection.href), &prefix, &mut found)?;
        Ok(found)
    }

    async fn fetch(&self, _collection: &CollectionInfo, hrefs: &[Href]) -> Result<Vec<StoredItem>> {
        self.each_file(hrefs, |href, path| {
            std::fs::read(path).map(|bytes| StoredItem::read(href.clone(), None, bytes))
        })
    }

    async fn digests(
        &self,
        _collection: &CollectionInfo,
        hrefs: &[Href],
    ) -> Result<Vec<StoredItem>> {
        self.each_file(hrefs, |href, path| {
            super::digest::sha256_of_file(path).map(|sha256| StoredItem {
                href: href.clone(),
                etag: None,
                bytes: Vec::new(),
                sha256: Some(sha256),
            })
        })
    }

    async fn put(
        &self,
        href: &str,
        _kind: CollectionKind,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<PutOutcome> {
        let path = self.path_of(href);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("creating a folder", &parent, e))?;
        // A short temporary name of its own: the item's name may already be near the file
        // system's 255-byte limit.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let temporary = parent.join(format!(
            ".lifeboat-{}-{}.part",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&temporary, &bytes).map_err(|e| Error::io("writing", &temporary, e))?;
        let placed = match mode {
            // A hard link never replaces an existing name: creation is atomic and exclusive.
            PutMode::Create => std::fs::hard_link(&temporary, &path),
            PutMode::Replace { .. } => std::fs::rename(&temporary, &path),
        };
        let _ = std::fs::remove_file(&temporary);
        match placed {
            Ok(()) => Ok(PutOutcome::Stored { etag: None }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(Error::io("writing", &path, e)),
        }
    }
}
