//! A provider's downloaded export (Google Takeout, Apple's data copy) as a [`Source`]: the
//! layout that provider's reader found in the [`Bundle`], fetched entry by entry.
//!
//! The readers ([`super::takeout`], [`super::apple`]) only decide what is what; everything
//! they share — cutting vCard/iCalendar files into items, streaming photos, archiving a photo
//! found in several folders once, keeping sidecars and reporting what is not handled — lives
//! here.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, ItemAbout, ItemRef, Warning};
use crate::progress::CancelToken;
use crate::source::bundle::{Bundle, BundleEntry};
use crate::source::{ItemSink, Source, SourceInfo};

/// What a provider's reader found: collections with their planned items, and what it left.
#[derive(Debug, Default)]
pub struct Layout {
    pub collections: Vec<PlannedCollection>,
    /// Parts of the export Lifeboat does not handle (mail, documents, ...), one warning per
    /// product folder; reported with the first collection.
    pub not_handled: Vec<Warning>,
}

#[derive(Debug)]
pub struct PlannedCollection {
    pub info: CollectionInfo,
    pub items: Vec<PlannedItem>,
    /// Entries kept verbatim under `metadata/` beside the collection (sidecars, Tasks.json,
    /// album descriptions, CSVs).
    pub metadata: Vec<BundleEntry>,
    /// Problems found while reading the layout (unmatched sidecars, photos without one).
    pub warnings: Vec<Warning>,
}

impl PlannedCollection {
    /// A collection named `name` (also its display name) with nothing kept beside it yet.
    pub fn new(
        kind: CollectionKind,
        href: impl Into<Href>,
        name: String,
        description: &str,
        items: Vec<PlannedItem>,
    ) -> Self {
        Self {
            info: CollectionInfo {
                kind,
                href: href.into(),
                display_name: Some(name.clone()),
                name,
                description: Some(description.to_owned()),
                color: None,
                components: Vec::new(),
                sync_token: None,
            },
            items,
            metadata: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum PlannedItem {
    /// A vCard or iCalendar file, cut into items like a device folder's.
    File { entry: BundleEntry },
    /// An item Lifeboat wrote from the provider's own format (a Google task as a VTODO).
    Generated { href: Href, bytes: Vec<u8> },
    /// A photo or video found in one or more folders; the copies are compared byte for byte
    /// before they are archived once.
    Media { copies: Vec<MediaCopy> },
}

/// One place a photo or video was found, with what its folder and sidecar say about it.
#[derive(Debug, Clone)]
pub struct MediaCopy {
    pub entry: BundleEntry,
    pub album: Option<String>,
    pub taken: Option<String>,
    pub sidecar: Option<String>,
}

impl PlannedItem {
    /// The href the item is listed under (the first copy's path for media).
    pub fn href(&self) -> &str {
        match self {
            Self::File { entry } => &entry.path,
            Self::Generated { href, .. } => href,
            Self::Media { copies } => copies.first().map_or("", |c| c.entry.path.as_str()),
        }
    }

    fn size(&self) -> Option<u64> {
        match self {
            Self::File { entry } => Some(entry.size),
            Self::Generated { bytes, .. } => Some(bytes.len() as u64),
            Self::Media { copies } => copies.first().map(|c| c.entry.size),
        }
    }
}

/// A summary of an opened export: its collections and what is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFound {
    pub provider: Provider,
    pub collections: Vec<FoundPart>,
    /// One line per product folder that is not imported.
    pub not_handled: Vec<String>,
    /// Warnings already known (photos without a sidecar, unmatched sidecars).
    pub notes: usize,
}

/// One collection of an export: `count` photos (a photo in several albums once), to-dos, or
/// files of contacts or events (each may hold many).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPart {
    pub kind: CollectionKind,
    pub name: String,
    pub count: usize,
    /// What is counted, for people: "photos and videos", "to-dos", ...
    pub what: &'static str,
}

/// Which provider's export a [`ProviderExport`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GoogleTakeout,
    AppleDataCopy,
}

impl Provider {
    /// The provider whose export these dropped paths look like, by their names only (no file
    /// is opened): `takeout-*.zip` or a `Takeout` folder; Apple's `iCloud *.zip` parts.
    pub fn recognise(paths: &[std::path::PathBuf]) -> Option<Self> {
        let names: Vec<String> = paths
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_lowercase())
            .collect();
        if names
            .iter()
            .any(|n| (n.starts_with("takeout-") && n.ends_with(".zip")) || n == "takeout")
        {
            Some(Self::GoogleTakeout)
        } else if names
            .iter()
            .any(|n| n.starts_with("icloud ") && n.ends_with(".zip"))
        {
            Some(Self::AppleDataCopy)
        } else {
            None
        }
    }

    /// What the window offers for it: "Import this Google export".
    pub fn offer(self) -> &'static str {
        match self {
            Self::GoogleTakeout => "Import this Google export",
            Self::AppleDataCopy => "Import this Apple export",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::GoogleTakeout => "google-takeout",
            Self::AppleDataCopy => "apple-data-copy",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::GoogleTakeout => "Google Takeout",
            Self::AppleDataCopy => "Apple data copy",
        }
    }
}

/// A provider's export, opened and read into a [`Layout`].
#[derive(Debug)]
pub struct ProviderExport {
    provider: Provider,
    bundle: Arc<Bundle>,
    layout: Layout,
    location: String,
    /// The not-handled listing is reported once, with whichever collection is fetched first.
    reported: std::sync::atomic::AtomicBool,
}

impl ProviderExport {
    /// Opens the zips and folders and reads their layout. Blocking (it reads sidecars and the
    /// zips' tables of contents): call it from `spawn_blocking`.
    pub fn open(provider: Provider, paths: &[std::path::PathBuf]) -> Result<Self> {
        let (bundle, layout) = match provider {
            Provider::GoogleTakeout => {
                let bundle = Bundle::open(paths, super::takeout::normalize)?;
                let layout = super::takeout::layout(&bundle)?;
                (bundle, layout)
            }
            Provider::AppleDataCopy => {
                let bundle = Bundle::open(paths, super::apple::normalize)?;
                let layout = super::apple::layout(&bundle)?;
                (bundle, layout)
            }
        };
        if layout.collections.is_empty() {
            let found = layout
                .not_handled
                .iter()
                .map(|w| w.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "no contacts, calendars, to-dos or photos found in this {} export{}",
                    provider.label(),
                    if found.is_empty() {
                        String::new()
                    } else {
                        format!(" (it holds: {found})")
                    }
                ),
            ));
        }
        let location = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self {
            provider,
            bundle: Arc::new(bundle),
            layout,
            location,
            reported: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Opens on a blocking thread.
    pub async fn open_async(provider: Provider, paths: Vec<std::path::PathBuf>) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::open(provider, &paths))
            .await
            .map_err(|e| Error::with_source(ErrorKind::Io, "reading the export failed", e))?
    }

    /// What the export holds, for a person deciding whether to import it.
    pub fn found(&self) -> ExportFound {
        ExportFound {
            provider: self.provider,
            collections: self
                .layout
                .collections
                .iter()
                .map(|c| FoundPart {
                    kind: c.info.kind,
                    name: c
                        .info
                        .display_name
                        .clone()
                        .unwrap_or_else(|| c.info.name.clone()),
                    count: c.items.len(),
                    what: match c.info.kind {
                        CollectionKind::Photos => "photos and videos",
                        CollectionKind::Contacts => "file(s) of contacts",
                        CollectionKind::Calendar if c.info.components == ["VTODO"] => "to-dos",
                        CollectionKind::Calendar => "file(s) of events",
                    },
                })
                .collect(),
            not_handled: self
                .layout
                .not_handled
                .iter()
                .map(|w| w.message.clone())
                .collect(),
            notes: self
                .layout
                .collections
                .iter()
                .map(|c| c.warnings.len())
                .sum(),
        }
    }

    fn planned(&self, collection: &CollectionInfo) -> Result<&PlannedCollection> {
        self.layout
            .collections
            .iter()
            .find(|c| c.info.href == collection.href)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no collection {} in this export", collection.href),
                )
            })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Bundle) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let bundle = Arc::clone(&self.bundle);
        tokio::task::spawn_blocking(move || work(&bundle))
            .await
            .map_err(|e| Error::with_source(ErrorKind::Io, "reading the export failed", e))?
    }

    /// Reads a small entry, or warns that it could not be read (a damaged zip entry).
    async fn read_or_warn(&self, entry: &BundleEntry, sink: &dyn ItemSink) -> Option<Vec<u8>> {
        let wanted = entry.clone();
        match self.blocking(move |bundle| bundle.read(&wanted)).await {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                sink.warn(Warning::new("unavailable", error.to_string()).at_href(&entry.path));
                None
            }
        }
    }

    async fn fetch_file(
        &self,
        kind: CollectionKind,
        entry: &BundleEntry,
        sink: &dyn ItemSink,
    ) -> Result<()> {
        let Some(bytes) = self.read_or_warn(entry, sink).await else {
            return Ok(());
        };
        super::device::deliver_split(kind, &entry.path, &bytes, sink).await
    }

    /// Archives a photo once for all its identical copies; copies whose bytes differ after
    /// all (same size and CRC, or same name and size in a folder) are archived on their own.
    async fn fetch_media(&self, copies: &[MediaCopy], sink: &dyn ItemSink) -> Result<()> {
        let groups: Vec<Vec<MediaCopy>> = if copies.len() == 1 {
            vec![copies.to_vec()]
        } else {
            // One hash per distinct entry (Apple lists one file once per album).
            let mut entries: Vec<BundleEntry> = copies.iter().map(|c| c.entry.clone()).collect();
            entries.dedup_by(|a, b| a.path == b.path);
            let distinct = entries.clone();
            let hashes: Result<Vec<crate::ids::Sha256>> = self
                .blocking(move |bundle| entries.iter().map(|e| bundle.sha256(e)).collect())
                .await;
            let hash_of = |entry: &BundleEntry| -> String {
                let at = distinct
                    .iter()
                    .position(|e| e.path == entry.path)
                    .unwrap_or(0);
                match &hashes {
                    Ok(hashes) => hashes.get(at).map(ToString::to_string).unwrap_or_default(),
                    // An unreadable copy: archive each file on its own so the readable ones
                    // survive and the broken one is reported by its own fetch.
                    Err(_) => entry.path.clone(),
                }
            };
            let hashes: Vec<String> = copies.iter().map(|c| hash_of(&c.entry)).collect();
            let mut groups: Vec<(String, Vec<MediaCopy>)> = Vec::new();
            for (copy, hash) in copies.iter().zip(hashes) {
                match groups.iter_mut().find(|(h, _)| *h == hash) {
                    Some((_, group)) => group.push(copy.clone()),
                    None => groups.push((hash, vec![copy.clone()])),
                }
            }
            groups.into_iter().map(|(_, group)| group).collect()
        };
        for group in groups {
            let Some(first) = group.first() else { continue };
            let albums: BTreeSet<String> = group.iter().filter_map(|c| c.album.clone()).collect();
            let about = ItemAbout {
                taken: group.iter().find_map(|c| c.taken.clone()),
                modified: None,
                albums: albums.into_iter().collect(),
                described_by: group.iter().find_map(|c| c.sidecar.clone()),
                copies: group
                    .iter()
                    .map(|c| c.entry.path.clone())
                    .filter(|path| *path != first.entry.path)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            };
            sink.describe(&first.entry.path, about);
            let body = self.bundle.stream(&first.entry);
            match sink
                .stream(Href::new(first.entry.path.clone()), None, body)
                .await
            {
                // A damaged entry of a downloaded zip is that photo's problem, not the job's.
                Err(error) if error.kind() == ErrorKind::InvalidData => sink.warn(
                    Warning::new("unavailable", error.to_string()).at_href(&first.entry.path),
                ),
                other => other?,
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Source for ProviderExport {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: self.provider.kind().to_owned(),
            label: self.provider.label().to_owned(),
            location: self.location.clone(),
        }
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        Ok(self
            .layout
            .collections
            .iter()
            .map(|c| c.info.clone())
            .collect())
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        Ok(self
            .planned(collection)?
            .items
            .iter()
            .map(|item| ItemRef {
                href: Href::new(item.href()),
                etag: None,
                size: item.size(),
            })
            .collect())
    }

    async fn fetch(
        &self,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let planned = self.planned(collection)?;
        if !self
            .reported
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            for warning in &self.layout.not_handled {
                sink.warn(warning.clone());
            }
        }
        for warning in &planned.warnings {
            sink.warn(warning.clone());
        }
        for entry in &planned.metadata {
            cancel.check()?;
            if let Some(bytes) = self.read_or_warn(entry, sink).await {
                sink.metadata(&entry.path, &bytes).await?;
            }
        }
        let by_href: std::collections::HashMap<&str, &PlannedItem> =
            planned.items.iter().map(|i| (i.href(), i)).collect();
        for wanted in items {
            cancel.check()?;
            let Some(item) = by_href.get(wanted.href.as_str()) else {
                sink.warn(Warning::new("unavailable", "not in this export").at_href(&wanted.href));
                continue;
            };
            match item {
                PlannedItem::File { entry } => {
                    self.fetch_file(collection.kind, entry, sink).await?;
                }
                PlannedItem::Generated { href, bytes } => {
                    sink.item(href.clone(), None, bytes.clone()).await?;
                }
                PlannedItem::Media { copies } => self.fetch_media(copies, sink).await?,
            }
        }
        Ok(())
    }
}

/// The file name of a path (after the last `/`).
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The extension of a path or file name, lower-case; empty when it has none.
pub fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_lowercase())
        .unwrap_or_default()
}

/// The folder of a path (before the last `/`), empty at the top.
pub fn folder_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// A warning listing what a product folder held that Lifeboat does not handle.
pub fn not_handled(product: &str, files: usize, bytes: u64) -> Warning {
    Warning::new(
        "not-handled",
        format!(
            "{product}: {files} file{} ({}) not handled by Lifeboat and not in this archive",
            if files == 1 { "" } else { "s" },
            indicatif::BinaryBytes(bytes)
        ),
    )
    .at_href(product)
}
