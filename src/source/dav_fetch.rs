//! Item bodies of a CalDAV/CardDAV collection: multiget REPORTs in pipelined batches, with
//! hrefs sent exactly as the server listed them; a batch that fails is split until the bad
//! items are alone, those are fetched by GET, and what still fails is one warning each.

use crate::error::{Error, ErrorKind, Result};
use crate::model::{CollectionInfo, CollectionKind, ItemRef, Warning, href_key};
use crate::progress::CancelToken;
use crate::source::ItemSink;
use crate::source::dav::{DavSource, MULTIGET_BATCH, dav_error};

/// Failed halves of one batch after which its remaining items are fetched one by one by GET:
/// enough to isolate a few bad items in a batch of [`MULTIGET_BATCH`] (ten halvings each).
const SPLIT_FAILURES: usize = 24;

impl DavSource {
    /// Every item of `items`, in batches of [`MULTIGET_BATCH`]; pipelined: while one batch
    /// is written to disk, the server prepares the next.
    pub(crate) async fn fetch_items(
        &self,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        // Pipelined: while one batch is written to disk, the server prepares the next.
        let batches: Vec<&[ItemRef]> = items.chunks(MULTIGET_BATCH).collect();
        let mut fetched = match batches.first() {
            Some(first) => {
                cancel.check()?;
                self.multiget(collection, first).await
            }
            None => Ok(Vec::new()),
        };
        for (index, batch) in batches.iter().enumerate() {
            let following = async {
                match batches.get(index + 1) {
                    Some(next) => {
                        cancel.check()?;
                        self.multiget(collection, next).await
                    }
                    None => Ok(Vec::new()),
                }
            };
            let current = std::mem::replace(&mut fetched, Ok(Vec::new()));
            let (settled, next) = tokio::join!(
                self.settle(collection, batch, current, sink, cancel),
                following
            );
            settled?;
            fetched = next;
        }
        Ok(())
    }

    /// One multiget REPORT for a batch of hrefs.
    async fn multiget(
        &self,
        collection: &CollectionInfo,
        batch: &[ItemRef],
    ) -> Result<Vec<libdav::FetchedResource>> {
        let hrefs = batch.iter().map(|r| r.href.as_str());
        match collection.kind {
            CollectionKind::Contacts => self
                .dav
                .request(
                    libdav::carddav::GetAddressBookResources::new(&collection.href)
                        .with_hrefs(hrefs),
                )
                .await
                .map(|r| r.resources),
            _ => self
                .dav
                .request(
                    libdav::caldav::GetCalendarResources::new(&collection.href).with_hrefs(hrefs),
                )
                .await
                .map(|r| r.resources),
        }
        .map_err(|e| dav_error(e, &self.url_of(&collection.href), self.user()))
    }
}

/// Hands one batch's answers to the sink; hrefs the server left out become warnings.
/// Each item is recorded under the href as it was asked for (as the server listed it):
/// libdav hands back answers' hrefs percent-decoded.
async fn deliver(
    kind: CollectionKind,
    batch: &[ItemRef],
    resources: Vec<libdav::FetchedResource>,
    sink: &dyn ItemSink,
) -> Result<()> {
    let asked: std::collections::HashMap<String, &ItemRef> =
        batch.iter().map(|r| (href_key(&r.href), r)).collect();
    let mut delivered = std::collections::HashSet::new();
    for resource in resources {
        let key = href_key(&resource.href);
        // Only what was asked, once: a hostile or broken server must not slip in items
        // from elsewhere, nor the same item twice.
        let Some(listed) = asked.get(&key).filter(|_| delivered.insert(key)) else {
            sink.warn(
                Warning::new(
                    "not-asked",
                    "the server answered with an item that was not asked for (or twice); it was left out",
                )
                .at_href(resource.href),
            );
            continue;
        };
        match resource.content {
            Ok(content) => {
                let bytes = content.data.into_bytes();
                one_resource(kind, &listed.href, Some(content.etag), bytes, sink).await?;
            }
            Err(status) => sink.warn(
                Warning::new(
                    "unavailable",
                    format!("the server would not give this item ({status})"),
                )
                .at_href(&listed.href),
            ),
        }
    }
    for missing in batch
        .iter()
        .filter(|r| !delivered.contains(&href_key(&r.href)))
    {
        sink.warn(
            Warning::new("unavailable", "the server left this item out of its answer")
                .at_href(&missing.href),
        );
    }
    Ok(())
}

/// One resource's bytes. A resource holding several vCards (or calendar objects of several
/// UIDs), which CardDAV and CalDAV forbid but servers such as Cyrus store, is kept whole and
/// also as one item each (`href#1`, `href#2`, ...), so that a restore brings back every one.
async fn one_resource(
    kind: CollectionKind,
    href: &str,
    etag: Option<String>,
    bytes: Vec<u8>,
    sink: &dyn ItemSink,
) -> Result<()> {
    let split = match kind {
        _ if !sink.splits_resources() => return sink.item(href.to_owned(), etag, bytes).await,
        CollectionKind::Contacts => crate::vobject::split_vcards(&bytes),
        CollectionKind::Calendar => crate::vobject::split_calendar(&bytes),
        CollectionKind::Photos => return sink.item(href.to_owned(), etag, bytes).await,
    };
    if split.items.len() < 2 {
        return sink.item(href.to_owned(), etag, bytes).await;
    }
    sink.original(href, &bytes).await?;
    for (index, part) in split.items.into_iter().enumerate() {
        sink.item(format!("{href}#{}", index + 1), etag.clone(), part)
            .await?;
    }
    Ok(())
}

/// A failed multiget that may be caused by one item (a 5xx, an answer we cannot read), so
/// that asking for fewer items at a time can get the others. A refused password, a server
/// that went away or a cancel are not: they would fail for every item alike.
fn item_may_be_the_cause(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Server | ErrorKind::InvalidData | ErrorKind::NotFound
    )
}

impl DavSource {
    /// A batch whose multiget failed with `error`: its halves are asked for again until the
    /// failing items are alone; each of those is fetched by GET (which carries any bytes,
    /// where a multiget's XML cannot), and what still fails is one warning naming its href.
    /// After [`SPLIT_FAILURES`] failed halves the rest is fetched by GET straight away: a
    /// server that fails every multiget would otherwise cost two retried REPORTs per item.
    fn isolate<'a>(
        &'a self,
        collection: &'a CollectionInfo,
        batch: &'a [ItemRef],
        sink: &'a dyn ItemSink,
        cancel: &'a CancelToken,
        error: Error,
        failures: &'a std::sync::atomic::AtomicUsize,
    ) -> futures_util::future::BoxFuture<'a, Result<()>> {
        use std::sync::atomic::Ordering;
        Box::pin(async move {
            if !item_may_be_the_cause(&error) {
                return Err(error);
            }
            if batch.len() == 1 || failures.fetch_add(1, Ordering::Relaxed) >= SPLIT_FAILURES {
                for item in batch {
                    cancel.check()?;
                    self.get_one(collection.kind, item, sink, &error).await?;
                }
                return Ok(());
            }
            tracing::debug!(items = batch.len(), %error, "multiget failed; asking in halves");
            let (first, second) = batch.split_at(batch.len() / 2);
            for half in [first, second] {
                cancel.check()?;
                if let [item] = half {
                    self.get_one(collection.kind, item, sink, &error).await?;
                    continue;
                }
                match self.multiget(collection, half).await {
                    Ok(resources) => deliver(collection.kind, half, resources, sink).await?,
                    Err(error) => {
                        self.isolate(collection, half, sink, cancel, error, failures)
                            .await?;
                    }
                }
            }
            Ok(())
        })
    }

    /// One item by GET, after a multiget holding only it failed with `multiget_error`.
    async fn get_one(
        &self,
        kind: CollectionKind,
        item: &ItemRef,
        sink: &dyn ItemSink,
        multiget_error: &Error,
    ) -> Result<()> {
        let url = self.url_of(&item.href);
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(&url)
            .body(String::new())
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::InvalidInput,
                    format!("not a valid URL: {url}"),
                    e,
                )
            })?;
        let answer = self.http.send_buffered(request).await;
        let problem = match answer {
            Ok(response) if response.status().is_success() => {
                let etag = response
                    .headers()
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let bytes = response.into_body().to_vec();
                return one_resource(kind, &item.href, etag, bytes, sink).await;
            }
            Ok(response) => response.status().to_string(),
            Err(error) => {
                let error = error.into_error(&url);
                if !item_may_be_the_cause(&error) {
                    return Err(error);
                }
                error.to_string()
            }
        };
        sink.warn(
            Warning::new(
                "unavailable",
                format!(
                    "the server would not give this item, neither with others ({multiget_error}) nor alone ({problem})"
                ),
            )
            .at_href(&item.href),
        );
        Ok(())
    }

    /// One batch: a multiget, and when it fails, [`DavSource::isolate`].
    async fn settle(
        &self,
        collection: &CollectionInfo,
        batch: &[ItemRef],
        answer: Result<Vec<libdav::FetchedResource>>,
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        match answer {
            Ok(resources) => deliver(collection.kind, batch, resources, sink).await,
            Err(error) => {
                let failures = std::sync::atomic::AtomicUsize::new(0);
                self.isolate(collection, batch, sink, cancel, error, &failures)
                    .await
            }
        }
    }
}
