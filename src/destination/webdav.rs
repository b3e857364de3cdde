//! Restoring photos into a WebDAV folder: one folder per archived photo collection, album
//! folders created with MKCOL, each original uploaded with `If-None-Match: *`.

use std::collections::HashSet;

use http::Uri;

use crate::archive::layout::safe_segment;
use crate::dav::http::{HttpClient, url_for_href};
use crate::destination::{
    PutMode, PutOutcome, StoredItem, Target, digests_from, fetch_from, http_mkcol, http_put,
};
use crate::error::Result;
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, ItemRef};
use crate::source::photos::PhotoSource;
use crate::source::{Source, SourceInfo, last_segment};

#[derive(Debug)]
pub struct PhotoTarget {
    http: HttpClient,
    root: Uri,
    reader: PhotoSource,
    /// Folders known to exist, so that each is created once. Held across the MKCOLs: two
    /// concurrent MKCOLs of one folder make some servers (WsgiDAV) fail with 500.
    folders: tokio::sync::Mutex<HashSet<String>>,
}

impl PhotoTarget {
    pub fn new(url: &str, http: HttpClient) -> Result<Self> {
        let root = crate::source::dav::starting_url(url)?;
        Ok(Self {
            reader: PhotoSource::new(url, http.clone())?,
            http,
            root,
            folders: tokio::sync::Mutex::default(),
        })
    }

    fn root_href(&self) -> String {
        let path = self.root.path();
        if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        }
    }

    /// Creates every folder between the root and `href`'s parent that we have not seen.
    async fn ensure_parents(&self, href: &str) -> Result<()> {
        let root = self.root_href();
        let Some(relative) = href.strip_prefix(&root) else {
            return Ok(());
        };
        let mut folder = root.clone();
        let parts: Vec<&str> = relative.split('/').collect();
        let mut known = self.folders.lock().await;
        for part in &parts[..parts.len().saturating_sub(1)] {
            folder = format!("{folder}{part}/");
            if !known.contains(&folder) {
                http_mkcol(&self.http, &url_for_href(&self.root, &folder)).await?;
                known.insert(folder.clone());
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Target for PhotoTarget {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            label: format!(
                "photos at {}",
                self.root.authority().map_or("", |a| a.as_str())
            ),
            ..self.reader.info()
        }
    }

    fn accepts(&self, kind: CollectionKind) -> bool {
        kind == CollectionKind::Photos
    }

    async fn collections(&self, kind: CollectionKind) -> Result<Vec<CollectionInfo>> {
        if kind != CollectionKind::Photos {
            return Ok(Vec::new());
        }
        let root = self.root_href();
        let url = url_for_href(&self.root, &root);
        let listing = crate::dav::listing::propfind(&self.http, &url, &["resourcetype"]).await?;
        Ok(listing
            .into_iter()
            .filter(|r| r.is_folder && r.href.trim_end_matches('/') != root.trim_end_matches('/'))
            .map(|r| {
                let name = last_segment(&r.href);
                CollectionInfo {
                    kind: CollectionKind::Photos,
                    href: Href::new(r.href),
                    display_name: Some(name.clone()),
                    name,
                    description: None,
                    color: None,
                    components: Vec::new(),
                    sync_token: None,
                }
            })
            .collect())
    }

    fn new_collection_href(&self, _kind: CollectionKind, name: &str) -> Result<Href> {
        Ok(Href::new(format!(
            "{}{}/",
            self.root_href(),
            safe_segment(name)
        )))
    }

    async fn create_collection(&self, href: &str, _info: &CollectionInfo) -> Result<()> {
        http_mkcol(&self.http, &url_for_href(&self.root, href)).await?;
        self.folders.lock().await.insert(href.to_owned());
        Ok(())
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        self.reader.list(collection).await
    }

    async fn fetch(&self, collection: &CollectionInfo, hrefs: &[Href]) -> Result<Vec<StoredItem>> {
        fetch_from(&self.reader, collection, hrefs).await
    }

    async fn digests(
        &self,
        collection: &CollectionInfo,
        hrefs: &[Href],
    ) -> Result<Vec<StoredItem>> {
        digests_from(&self.reader, collection, hrefs).await
    }

    async fn put(
        &self,
        href: &str,
        kind: CollectionKind,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<PutOutcome> {
        self.ensure_parents(href).await?;
        http_put(
            &self.http,
            &url_for_href(&self.root, href),
            kind,
            bytes,
            &mode,
        )
        .await
    }

    fn requests_made(&self) -> u64 {
        self.http.stats().requests()
    }
}
