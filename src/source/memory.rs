//! An in-memory source for fast engine tests: collections and items held in a Vec.

use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, ItemRef, Warning};
use crate::progress::CancelToken;
use crate::source::{ItemSink, Source, SourceInfo};

/// A collection with its items' hrefs and bytes.
#[derive(Debug, Clone)]
pub struct MemoryCollection {
    pub info: CollectionInfo,
    pub items: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    pub collections: Vec<MemoryCollection>,
}

impl MemorySource {
    /// Adds a collection of `kind` named `name` holding `items` (href, bytes).
    pub fn with_collection(
        mut self,
        kind: CollectionKind,
        name: &str,
        items: Vec<(String, Vec<u8>)>,
    ) -> Self {
        self.collections.push(MemoryCollection {
            info: CollectionInfo {
                kind,
                href: Href::new(format!("/{name}/")),
                name: name.to_owned(),
                display_name: Some(format!("{name} (memory)")),
                description: None,
                color: None,
                components: Vec::new(),
                sync_token: None,
            },
            items,
        });
        self
    }

    fn find(&self, collection: &CollectionInfo) -> Result<&MemoryCollection> {
        self.collections
            .iter()
            .find(|c| c.info.href == collection.href)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("no such collection: {}", collection.href),
                )
            })
    }
}

#[async_trait::async_trait]
impl Source for MemorySource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "memory".to_owned(),
            label: "memory".to_owned(),
            location: "memory:".to_owned(),
        }
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        Ok(self.collections.iter().map(|c| c.info.clone()).collect())
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        Ok(self
            .find(collection)?
            .items
            .iter()
            .map(|(href, bytes)| ItemRef {
                href: Href::new(href),
                etag: None,
                size: Some(bytes.len() as u64),
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
        let stored = self.find(collection)?;
        for wanted in items {
            cancel.check()?;
            match stored.items.iter().find(|(href, _)| **href == *wanted.href) {
                Some((href, bytes)) => sink.item(Href::new(href), None, bytes.clone()).await?,
                None => sink.warn(
                    Warning::new("unavailable", "the item is gone from the source")
                        .at_href(&wanted.href),
                ),
            }
        }
        Ok(())
    }
}
