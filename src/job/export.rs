//! Export: list every collection and item of every source (the plan), then fetch each
//! collection into an [`ArchiveWriter`]. Any whole-job failure leaves no archive behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::archive::ArchiveWriter;
use crate::archive::manifest::{Manifest, ManifestItem};
use crate::archive::previous::{PreviousArchive, PreviousCollection};
use crate::archive::writer::CollectionWriter;
use crate::error::Result;
use crate::ids::{Etag, Href};
use crate::model::{CollectionInfo, ItemKind, ItemRef, Warning, href_key};
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::source::{ItemSink, Source, SourceInfo};

/// What an export will fetch: every collection of every source with its item refs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportPlan {
    pub sources: Vec<SourcePlan>,
    /// Problems found before anything was fetched (an account that could not be connected),
    /// recorded in the archive's manifest like any other warning.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcePlan {
    pub info: SourceInfo,
    pub collections: Vec<CollectionPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionPlan {
    pub info: CollectionInfo,
    /// Items to fetch from the source.
    pub items: Vec<ItemRef>,
    /// Items unchanged since the previous archive: linked from it, not fetched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<UnchangedItem>,
}

/// An item the previous archive already holds in its current version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnchangedItem {
    pub archived: ManifestItem,
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

impl CollectionPlan {
    /// Items the collection holds now, fetched or not.
    pub fn item_count(&self) -> usize {
        self.items.len() + self.unchanged.len()
    }
}

impl ExportPlan {
    /// The bytes of every planned item, when the listing told each one's size (photo
    /// folders do; CalDAV and CardDAV listings mostly do not).
    pub fn known_bytes(&self) -> Option<u64> {
        let collections = self.sources.iter().flat_map(|s| &s.collections);
        let mut total = 0u64;
        for collection in collections {
            for item in &collection.items {
                total += item.size?;
            }
            total += collection
                .unchanged
                .iter()
                .map(|u| u.archived.size)
                .sum::<u64>();
        }
        Some(total)
    }

    pub fn item_count(&self) -> u64 {
        self.sources
            .iter()
            .flat_map(|s| &s.collections)
            .map(|c| c.item_count() as u64)
            .sum()
    }

    /// Items that will be downloaded (the rest are linked from the previous archive).
    pub fn fetch_count(&self) -> u64 {
        self.sources
            .iter()
            .flat_map(|s| &s.collections)
            .map(|c| c.items.len() as u64)
            .sum()
    }

    pub fn collection_count(&self) -> usize {
        self.sources.iter().map(|s| s.collections.len()).sum()
    }
}

/// Lists collections and items of every source; nothing is downloaded or written.
pub async fn plan(
    sources: &[Box<dyn Source>],
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<ExportPlan> {
    plan_since(sources, None, progress, cancel).await
}

/// Like [`plan`], but against an earlier archive of the same sources: where the source can
/// say what changed since that archive's sync token, only the changes are asked for, and
/// items whose ETag is unchanged are planned as links instead of downloads.
pub async fn plan_since(
    sources: &[Box<dyn Source>],
    previous: Option<&PreviousArchive>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<ExportPlan> {
    // Sources are listed side by side (each is its own server or disk); a source's
    // collections one after another, as they are fetched.
    let sources = futures_util::future::try_join_all(sources.iter().map(|source| async move {
        cancel.check()?;
        let info = source.info();
        progress.event(JobEvent::Phase(format!("listing {}", info.label)));
        let mut collections = Vec::new();
        for collection in source.collections().await? {
            cancel.check()?;
            let before = previous.and_then(|p| p.collection(&info.account_key(), &collection.href));
            collections.push(plan_collection(source.as_ref(), collection, before.as_ref()).await?);
        }
        Ok::<SourcePlan, crate::Error>(SourcePlan { info, collections })
    }))
    .await?;
    let plan = ExportPlan {
        sources,
        warnings: Vec::new(),
    };
    progress.event(JobEvent::Planned {
        collections: plan.collection_count(),
        items: plan.item_count(),
        bytes: plan.known_bytes(),
    });
    Ok(plan)
}

async fn plan_collection(
    source: &dyn Source,
    mut info: CollectionInfo,
    before: Option<&PreviousCollection<'_>>,
) -> Result<CollectionPlan> {
    let changes = match before.and_then(PreviousCollection::complete_sync_token) {
        Some(token) => source.changes_since(&info, token).await?,
        None => None,
    };
    let listed = match (changes, before) {
        (Some(changes), Some(before)) => {
            info.sync_token = Some(changes.sync_token.clone());
            before.apply(&changes)
        }
        _ => {
            // The token first: whatever changes while we list shows up again next time.
            info.sync_token = source.sync_token(&info).await?;
            match before {
                // ETags tell unchanged items apart from changed ones.
                Some(_) => source.list(&info).await?,
                // Everything will be downloaded, and the download brings the ETags.
                None => source.list_for_download(&info).await?,
            }
        }
    };
    // The listing itself becomes the download list: a second list of a million photos
    // would double the plan's memory.
    let mut items = listed;
    let mut unchanged = Vec::new();
    if let Some(before) = before {
        items.retain(|item| match before.unchanged(item) {
            Some(archived) => {
                unchanged.push(UnchangedItem {
                    warnings: before.warnings_for(archived),
                    archived: archived.clone(),
                });
                false
            }
            None => true,
        });
    }
    Ok(CollectionPlan {
        info,
        items,
        unchanged,
    })
}

/// The outcome of an export, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    pub archive: std::path::PathBuf,
    pub manifest: Manifest,
    pub item_bytes: u64,
    pub elapsed: Duration,
    pub requests: u64,
    /// Items linked from the previous archive instead of downloaded, and their bytes (part
    /// of `item_bytes`).
    pub linked_items: u64,
    pub linked_bytes: u64,
}

impl ExportSummary {
    /// Items per kind, in a stable order.
    pub fn counts(&self) -> BTreeMap<ItemKind, u64> {
        let mut counts = BTreeMap::new();
        for item in &self.manifest.items {
            *counts.entry(item.kind).or_insert(0) += 1;
        }
        counts
    }
}

/// Fetches everything in `plan` into a new archive at `out` (folder, or zip for `.zip`).
pub async fn execute(
    sources: &[Box<dyn Source>],
    plan: &ExportPlan,
    out: &Path,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<ExportSummary> {
    let writer = ArchiveWriter::create(out, Arc::clone(&progress))?;
    execute_into(sources, plan, writer, progress, cancel).await
}

/// Like [`execute`] for a plan made by [`plan_since`]: unchanged items and identical files
/// are hard-linked from `previous` into the new folder archive at `out`.
pub async fn execute_since(
    sources: &[Box<dyn Source>],
    plan: &ExportPlan,
    previous: &PreviousArchive,
    out: &Path,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<ExportSummary> {
    let writer = ArchiveWriter::create_linked(out, Arc::clone(&progress), previous)?;
    execute_into(sources, plan, writer, progress, cancel).await
}

/// Fetches everything in `plan` into an archive writer the caller prepared (a snapshot sets a
/// check on it first); the writer is aborted on any failure.
pub async fn execute_into(
    sources: &[Box<dyn Source>],
    plan: &ExportPlan,
    writer: Arc<ArchiveWriter>,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<ExportSummary> {
    let started = Instant::now();
    for warning in &plan.warnings {
        writer.warn(warning.clone());
    }
    let result = fetch_all(sources, plan, &writer, progress.as_ref(), cancel).await;
    if let Err(error) = result {
        writer.abort();
        // A cancel may surface as another task's broken download: it is still a cancel.
        return Err(if cancel.is_cancelled() {
            crate::Error::cancelled()
        } else {
            error
        });
    }
    if let Err(error) = cancel.check() {
        writer.abort();
        return Err(error);
    }
    let written = writer.finish().await?;
    Ok(ExportSummary {
        archive: written.path,
        manifest: written.manifest,
        item_bytes: written.item_bytes,
        elapsed: started.elapsed(),
        requests: sources.iter().map(|s| s.requests_made()).sum(),
        linked_items: written.linked_items,
        linked_bytes: written.linked_bytes,
    })
}

async fn fetch_all(
    sources: &[Box<dyn Source>],
    plan: &ExportPlan,
    writer: &Arc<ArchiveWriter>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    // Folder names are claimed in plan order, before anything runs.
    let mut per_source = Vec::new();
    for (source, source_plan) in sources.iter().zip(&plan.sources) {
        let index = writer.add_source(source_plan.info.clone());
        let mut jobs = Vec::new();
        for collection in &source_plan.collections {
            jobs.push((collection, writer.add_collection(index, &collection.info)?));
        }
        per_source.push((source.as_ref(), jobs));
    }
    // Sources run side by side; each source's collections one after another. A server such
    // as Radicale answers one request at a time anyway, and parallel collections made it
    // slower (GIL contention: 18.5-20.7 s against 16.9-18.4 s one at a time for the
    // scripts/bench_export.py data); `fetch` keeps the next batch in flight meanwhile.
    futures_util::future::try_join_all(per_source.into_iter().map(|(source, jobs)| async move {
        for (collection, sink) in jobs {
            fetch_collection(source, collection, &sink, progress, cancel).await?;
        }
        Ok::<(), crate::Error>(())
    }))
    .await?;
    Ok(())
}

async fn fetch_collection(
    source: &dyn Source,
    collection: &CollectionPlan,
    sink: &CollectionWriter,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    progress.event(JobEvent::CollectionStarted {
        name: collection
            .info
            .display_name
            .clone()
            .unwrap_or_else(|| collection.info.name.clone()),
        kind: collection.info.kind,
        items: collection.item_count() as u64,
    });
    let unchanged = collection
        .unchanged
        .iter()
        .map(|u| (u.archived.clone(), u.warnings.clone()))
        .collect();
    let damaged = sink.link_all(unchanged, cancel).await?;
    // What the previous snapshot holds damaged is fetched again instead.
    let refetch: Vec<ItemRef>;
    let items = if damaged.is_empty() {
        &collection.items
    } else {
        refetch = collection
            .items
            .iter()
            .cloned()
            .chain(damaged.into_iter().map(|item| ItemRef {
                href: item.href,
                etag: item.etag,
                size: Some(item.size),
            }))
            .collect();
        &refetch
    };
    let tracked = Tracking::new(sink);
    source
        .fetch(&collection.info, items, &tracked, cancel)
        .await?;
    tracked.report_missing(items);
    sink.complete().await
}

/// Wraps a sink to notice listed items a source neither delivered nor warned about, so that
/// even a faulty backend cannot lose an item silently.
struct Tracking<'a> {
    inner: &'a dyn ItemSink,
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl<'a> Tracking<'a> {
    fn new(inner: &'a dyn ItemSink) -> Self {
        Self {
            inner,
            seen: std::sync::Mutex::default(),
        }
    }

    fn mark(&self, href: &str) {
        let base = href.split('#').next().unwrap_or(href);
        let key = href_key(base);
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key);
    }

    fn report_missing(&self, items: &[ItemRef]) {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for item in items {
            if !seen.contains(&href_key(&item.href)) {
                self.inner.warn(
                    Warning::new("unavailable", "listed, but never delivered by the source")
                        .at_href(&item.href),
                );
            }
        }
    }
}

#[async_trait::async_trait]
impl ItemSink for Tracking<'_> {
    async fn item(&self, href: Href, etag: Option<Etag>, bytes: Vec<u8>) -> Result<()> {
        self.mark(&href);
        self.inner.item(href, etag, bytes).await
    }

    async fn stream(
        &self,
        href: Href,
        etag: Option<Etag>,
        body: crate::source::ByteStream,
    ) -> Result<()> {
        self.mark(&href);
        self.inner.stream(href, etag, body).await
    }

    async fn original(&self, href: &str, bytes: &[u8]) -> Result<()> {
        self.inner.original(href, bytes).await
    }

    async fn original_file(&self, href: &str, path: &std::path::Path) -> Result<()> {
        self.inner.original_file(href, path).await
    }

    fn warn(&self, warning: Warning) {
        if let Some(href) = &warning.href {
            self.mark(href);
        }
        self.inner.warn(warning);
    }

    fn describe(&self, href: &str, about: crate::model::ItemAbout) {
        self.inner.describe(href, about);
    }

    fn phase(&self, words: String) {
        self.inner.phase(words);
    }

    async fn metadata(&self, href: &str, bytes: &[u8]) -> Result<()> {
        self.inner.metadata(href, bytes).await
    }
}
