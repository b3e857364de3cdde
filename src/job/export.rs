//! Export: list every collection and item of every source (the plan), then fetch each
//! collection into an [`ArchiveWriter`]. Any whole-job failure leaves no archive behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::archive::ArchiveWriter;
use crate::archive::manifest::Manifest;
use crate::error::Result;
use crate::model::{CollectionInfo, ItemKind, ItemRef, Warning};
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::source::{ItemSink, Source, SourceInfo};

/// Collections fetched at once. Each holds at most one multiget batch in memory.
const COLLECTION_CONCURRENCY: usize = 3;

/// What an export will fetch: every collection of every source with its item refs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportPlan {
    pub sources: Vec<SourcePlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcePlan {
    pub info: SourceInfo,
    pub collections: Vec<CollectionPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionPlan {
    pub info: CollectionInfo,
    pub items: Vec<ItemRef>,
}

impl ExportPlan {
    pub fn item_count(&self) -> u64 {
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
    let mut plan = ExportPlan {
        sources: Vec::new(),
    };
    for source in sources {
        cancel.check()?;
        let info = source.info();
        progress.event(JobEvent::Phase(format!("listing {}", info.label)));
        let mut collections = Vec::new();
        for collection in source.collections().await? {
            cancel.check()?;
            let items = source.list(&collection).await?;
            collections.push(CollectionPlan {
                info: collection,
                items,
            });
        }
        plan.sources.push(SourcePlan { info, collections });
    }
    progress.event(JobEvent::Planned {
        collections: plan.collection_count(),
        items: plan.item_count(),
    });
    Ok(plan)
}

/// The outcome of an export, for the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    pub archive: std::path::PathBuf,
    pub manifest: Manifest,
    pub item_bytes: u64,
    pub elapsed: Duration,
    pub requests: u64,
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
    let started = Instant::now();
    let writer = ArchiveWriter::create(out, Arc::clone(&progress))?;
    let result = fetch_all(sources, plan, &writer, progress.as_ref(), cancel).await;
    if let Err(error) = result {
        writer.abort();
        return Err(error);
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
    })
}

async fn fetch_all(
    sources: &[Box<dyn Source>],
    plan: &ExportPlan,
    writer: &Arc<ArchiveWriter>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let mut jobs = Vec::new();
    for (source, source_plan) in sources.iter().zip(&plan.sources) {
        let index = writer.add_source(source_plan.info.clone());
        for collection in &source_plan.collections {
            let sink = writer.add_collection(index, &collection.info)?;
            jobs.push((source.as_ref(), collection, sink));
        }
    }
    futures_util::stream::iter(jobs)
        .map(|(source, collection, sink)| async move {
            progress.event(JobEvent::CollectionStarted {
                name: collection
                    .info
                    .display_name
                    .clone()
                    .unwrap_or_else(|| collection.info.name.clone()),
                kind: collection.info.kind,
                items: collection.items.len() as u64,
            });
            let tracked = Tracking::new(&sink);
            source
                .fetch(&collection.info, &collection.items, &tracked, cancel)
                .await?;
            tracked.report_missing(&collection.items);
            Ok::<(), crate::Error>(())
        })
        .buffer_unordered(COLLECTION_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
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
        let key = percent_encoding::percent_decode_str(base)
            .decode_utf8_lossy()
            .into_owned();
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
            let key = percent_encoding::percent_decode_str(&item.href)
                .decode_utf8_lossy()
                .into_owned();
            if !seen.contains(&key) {
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
    async fn item(&self, href: String, etag: Option<String>, bytes: Vec<u8>) -> Result<()> {
        self.mark(&href);
        self.inner.item(href, etag, bytes).await
    }

    async fn stream(
        &self,
        href: String,
        etag: Option<String>,
        body: crate::source::ByteStream,
    ) -> Result<()> {
        self.mark(&href);
        self.inner.stream(href, etag, body).await
    }

    async fn original(&self, href: &str, bytes: &[u8]) -> Result<()> {
        self.inner.original(href, bytes).await
    }

    fn warn(&self, warning: Warning) {
        if let Some(href) = &warning.href {
            self.mark(href);
        }
        self.inner.warn(warning);
    }
}
