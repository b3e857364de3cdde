//! Where data comes from: the [`Source`] trait and one file per backend.
//!
//! Backends: [`dav::DavSource`] (CalDAV/CardDAV accounts), [`photos::PhotoSource`] (WebDAV photo
//! folders), [`device::DeviceSource`] (a phone or folder on this computer),
//! [`provider::ProviderExport`] (a Google Takeout or Apple data copy, read by [`takeout`] and
//! [`apple`] from a [`bundle::Bundle`] of zips and folders), [`android::AndroidSource`] (a
//! phone over USB) and [`memory::MemorySource`] (fast engine tests). [`contract`] is the test suite every backend
//! must pass.

pub mod android;
pub mod apple;
pub mod bundle;
pub mod collecting;
pub mod contract;
pub mod dav;
mod dav_fetch;
pub mod device;
pub mod google_tasks;
pub mod memory;
pub mod photos;
pub mod provider;
pub mod takeout;

use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{Etag, Href};
use crate::model::{CollectionInfo, ItemAbout, ItemRef, Warning};
use crate::progress::CancelToken;

/// A stream of a file's bytes, for photos and other large items.
pub type ByteStream = BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// What an archive records about a source: never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `carddav+caldav`, `webdav-photos`, `device` or `memory`.
    pub kind: String,
    /// A short label for people ("alice at dav.example.com").
    pub label: String,
    /// The URL or folder the data came from, without credentials.
    pub location: String,
}

impl SourceInfo {
    /// Which account this is: its location and who is signed in (the label names the user),
    /// since two accounts on one server share a location and must never stand for each
    /// other (in restore records, incremental baselines and the drop guard).
    pub fn account_key(&self) -> String {
        if self.label == self.location {
            self.location.clone()
        } else {
            format!("{} ({})", self.location, self.label)
        }
    }
}

/// Where fetched items go. The archive writer implements it; tests may collect into memory.
#[async_trait::async_trait]
pub trait ItemSink: Send + Sync {
    /// One item's exact bytes. `href` is the item's source href; for a file cut into several
    /// items it is `file#n` (n from 1).
    async fn item(&self, href: Href, etag: Option<Etag>, bytes: Vec<u8>) -> Result<()>;
    /// One item whose bytes arrive as a stream (photos).
    async fn stream(&self, href: Href, etag: Option<Etag>, body: ByteStream) -> Result<()>;
    /// A whole source file kept verbatim because its items could not be cut from it losslessly.
    async fn original(&self, href: &str, bytes: &[u8]) -> Result<()>;
    /// [`ItemSink::original`] for a file on this computer, which the archive copies without
    /// holding it in memory. Required, so that no wrapper can fall back to reading it whole.
    async fn original_file(&self, href: &str, path: &std::path::Path) -> Result<()>;
    /// A problem with one item or file that does not stop the job.
    fn warn(&self, warning: Warning);
    /// What the source is doing now, in words for the person watching (waiting for an
    /// unplugged phone). Sinks that report no progress ignore it.
    fn phase(&self, _words: String) {}
    /// What the source knows about the item at `href` besides its bytes; given before the
    /// item itself. Sinks that keep no manifest ignore it.
    fn describe(&self, _href: &str, _about: ItemAbout) {}
    /// Whether a resource holding several items (two vCards in one `.vcf` on a CalDAV or
    /// CardDAV server) is also delivered as one item each (`href#1`, ...), besides whole as
    /// an original. Archives want that; a restore reading its target back wants resources as
    /// they are, since it writes to their hrefs.
    fn splits_resources(&self) -> bool {
        true
    }
    /// A file that describes items (a photo's sidecar, an album's metadata, a provider's own
    /// export of to-dos), kept verbatim beside them.
    async fn metadata(&self, href: &str, bytes: &[u8]) -> Result<()> {
        self.original(href, bytes).await
    }
}

/// Items changed or added, and hrefs deleted, since a sync token; with the token to use next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub sync_token: String,
    pub changed: Vec<ItemRef>,
    pub deleted: Vec<Href>,
}

/// A place that holds a person's contacts, calendars, to-dos or photos.
///
/// # Contract
/// Every backend obeys these rules; [`contract::check_source`] tests them.
/// 1. **Read-only.** No method changes anything at the source.
/// 2. [`Source::collections`] returns every collection once, with a unique `href`.
/// 3. [`Source::list`] returns every item of a collection exactly once, with unique hrefs,
///    cheaply: it never downloads item bodies (one PROPFIND for DAV, a directory walk for
///    devices). [`Source::list_for_download`] returns the same hrefs.
/// 4. [`Source::fetch`] delivers, for each listed ref, the item's bytes **exactly as the source
///    holds them** to the sink, or a warning with code `unavailable` naming the href when that
///    one item cannot be had. It never skips an item silently, never re-encodes, and fetches in
///    batches where the protocol allows (never one request per vCard/event). A file holding
///    several items is delivered as several items (`file#1`, `file#2`, ...) and, when the cut
///    is not an exact partition of the file, also as an original.
/// 5. A failure that concerns the whole collection (auth, network, 5xx after retries) is
///    returned as an `Err`; the job then writes no archive.
/// 6. `fetch` checks the cancel token between requests and returns `Cancelled` when it is set.
/// 7. [`Source::sync_token`] is cheap to ask before [`Source::list`]; asked right away,
///    [`Source::changes_since`] with that token reports no changes. A source that cannot tell
///    what changed answers `None` to both, and callers then list everything.
#[async_trait::async_trait]
pub trait Source: Send + Sync + std::fmt::Debug {
    fn info(&self) -> SourceInfo;

    async fn collections(&self) -> Result<Vec<CollectionInfo>>;

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>>;

    /// Like [`Source::list`], for a plan that downloads every item anyway: the same items, but
    /// a backend may leave out ETags where that spares the server work ([`Source::fetch`]
    /// brings each item's ETag with its bytes).
    async fn list_for_download(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        self.list(collection).await
    }

    async fn fetch(
        &self,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()>;

    /// The collection's current sync token (RFC 6578), asked for *before* listing so that a
    /// change made while listing shows up again next time. `None` where there is none.
    async fn sync_token(&self, _collection: &CollectionInfo) -> Result<Option<String>> {
        Ok(None)
    }

    /// What changed in the collection since `token`, or `None` when the source cannot tell
    /// (no support, or the server no longer knows the token): the caller then lists everything.
    async fn changes_since(
        &self,
        _collection: &CollectionInfo,
        _token: &str,
    ) -> Result<Option<Changes>> {
        Ok(None)
    }

    /// Requests made so far, for summaries and benchmarks (0 for local sources).
    fn requests_made(&self) -> u64 {
        0
    }
}

/// The last segment of an href or path, without a trailing slash, percent-decoded.
pub fn last_segment(href: &str) -> String {
    let trimmed = href.trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    percent_encoding::percent_decode_str(last)
        .decode_utf8_lossy()
        .into_owned()
}

/// The warning code of an account that could not be backed up (its password refused, its
/// server unreachable): the archive holds the other accounts, and says which one is missing.
pub const ACCOUNT_FAILED: &str = "account-failed";

/// The accounts of one backup, connected one by one: one that fails becomes a warning naming
/// it, so that the others are still saved (one wrong password must not cost everyone's data).
#[derive(Debug, Default)]
pub struct Connected {
    pub sources: Vec<Box<dyn Source>>,
    /// One [`ACCOUNT_FAILED`] warning per account that could not be connected.
    pub failed: Vec<Warning>,
    first_error: Option<crate::Error>,
}

impl Connected {
    /// Adds what connecting `account` gave: its sources narrowed to `collections`, or its
    /// failure. A cancel is not an account's failure: it ends the job.
    pub fn add(
        &mut self,
        account: &crate::config::Account,
        collections: &[Href],
        connected: Result<Vec<Box<dyn Source>>>,
    ) -> Result<()> {
        match connected {
            Ok(sources) => {
                for source in sources {
                    self.sources
                        .push(only_collections(source, collections.to_vec()));
                }
            }
            Err(error) if error.kind() == crate::error::ErrorKind::Cancelled => return Err(error),
            Err(error) => {
                let name = if account.name.is_empty() {
                    &account.address
                } else {
                    &account.name
                };
                self.failed.push(
                    Warning::new(
                        ACCOUNT_FAILED,
                        format!("{name} could not be backed up: {error}"),
                    )
                    .at_href(&account.address),
                );
                self.first_error.get_or_insert(error);
            }
        }
        Ok(())
    }

    /// Itself when at least one account is connected; else an error (then there is nothing
    /// to save, and the first failure says why).
    pub fn finish(self) -> Result<Self> {
        if self.sources.is_empty() {
            return Err(self.first_error.unwrap_or_else(|| {
                crate::Error::new(
                    crate::error::ErrorKind::InvalidInput,
                    "choose at least one account to back up",
                )
            }));
        }
        Ok(self)
    }
}

/// `source` narrowed to the collections with these hrefs; all of them when `hrefs` is empty.
pub fn only_collections(source: Box<dyn Source>, hrefs: Vec<Href>) -> Box<dyn Source> {
    if hrefs.is_empty() {
        source
    } else {
        Box::new(OnlyCollections {
            inner: source,
            hrefs,
        })
    }
}

/// A source narrowed to some of its collections (by href); everything else passes through.
#[derive(Debug)]
pub struct OnlyCollections {
    pub inner: Box<dyn Source>,
    pub hrefs: Vec<Href>,
}

#[async_trait::async_trait]
impl Source for OnlyCollections {
    fn info(&self) -> SourceInfo {
        self.inner.info()
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let mut all = self.inner.collections().await?;
        all.retain(|c| self.hrefs.contains(&c.href));
        Ok(all)
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        self.inner.list(collection).await
    }

    async fn list_for_download(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        self.inner.list_for_download(collection).await
    }

    async fn fetch(
        &self,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        self.inner.fetch(collection, items, sink, cancel).await
    }

    async fn sync_token(&self, collection: &CollectionInfo) -> Result<Option<String>> {
        self.inner.sync_token(collection).await
    }

    async fn changes_since(
        &self,
        collection: &CollectionInfo,
        token: &str,
    ) -> Result<Option<Changes>> {
        self.inner.changes_since(collection, token).await
    }

    fn requests_made(&self) -> u64 {
        self.inner.requests_made()
    }
}
