//! A sink that keeps everything a source delivers in memory: for reading back what a
//! destination serves, and for the contract suite.

use std::sync::Mutex;

use futures_util::TryStreamExt;

use crate::error::{ErrorKind, Result};
use crate::ids::{Etag, Href};
use crate::model::Warning;
use crate::source::{ByteStream, ItemSink};

/// A sink that keeps everything in memory.
#[derive(Debug, Default)]
pub struct CollectingSink {
    pub items: Mutex<Vec<(Href, Vec<u8>)>>,
    pub originals: Mutex<Vec<(String, Vec<u8>)>>,
    pub warnings: Mutex<Vec<Warning>>,
    /// The ETag each delivered href came with, when the source sent one.
    pub etags: Mutex<std::collections::HashMap<Href, Etag>>,
    /// Resources are taken as they are, never cut into items ([`ItemSink::splits_resources`]).
    pub whole_resources: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CollectingSink {
    pub fn items(&self) -> Vec<(Href, Vec<u8>)> {
        lock(&self.items).clone()
    }

    pub fn warnings(&self) -> Vec<Warning> {
        lock(&self.warnings).clone()
    }

    /// Everything delivered, with ETags, leaving the sink empty.
    pub fn take(&self) -> Vec<(Href, Option<Etag>, Vec<u8>)> {
        let mut etags = lock(&self.etags);
        std::mem::take(&mut *lock(&self.items))
            .into_iter()
            .map(|(href, bytes)| {
                let etag = etags.remove(&href);
                (href, etag, bytes)
            })
            .collect()
    }

    fn remember_etag(&self, href: &Href, etag: Option<Etag>) {
        if let Some(etag) = etag {
            lock(&self.etags).insert(href.clone(), etag);
        }
    }
}

#[async_trait::async_trait]
impl ItemSink for CollectingSink {
    fn splits_resources(&self) -> bool {
        !self.whole_resources
    }

    async fn item(&self, href: Href, etag: Option<Etag>, bytes: Vec<u8>) -> Result<()> {
        self.remember_etag(&href, etag);
        lock(&self.items).push((href, bytes));
        Ok(())
    }

    async fn stream(&self, href: Href, etag: Option<Etag>, body: ByteStream) -> Result<()> {
        self.remember_etag(&href, etag);
        let chunks: Vec<bytes::Bytes> = body
            .try_collect()
            .await
            .map_err(|e| crate::Error::with_source(ErrorKind::Network, "stream failed", e))?;
        lock(&self.items).push((href, chunks.concat()));
        Ok(())
    }

    async fn original(&self, href: &str, bytes: &[u8]) -> Result<()> {
        lock(&self.originals).push((href.to_owned(), bytes.to_vec()));
        Ok(())
    }

    async fn original_file(&self, href: &str, path: &std::path::Path) -> Result<()> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| crate::error::Error::io("reading", path.to_path_buf(), e))?;
        self.original(href, &bytes).await
    }

    fn warn(&self, warning: Warning) {
        lock(&self.warnings).push(warning);
    }
}
