//! Item bodies of a CalDAV/CardDAV collection: multiget REPORTs in pipelined batches, with
//! hrefs sent exactly as the server listed them; a batch that fails is split until the bad
//! items are alone, those are fetched by GET, and what still fails is one warning each.

use std::collections::{HashMap, HashSet};

use crate::dav::line_ends;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Etag, Href};
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
            None => Ok(Answer::default()),
        };
        for (index, batch) in batches.iter().enumerate() {
            let following = async {
                match batches.get(index + 1) {
                    Some(next) => {
                        cancel.check()?;
                        self.multiget(collection, next).await
                    }
                    None => Ok(Answer::default()),
                }
            };
            let current = std::mem::replace(&mut fetched, Ok(Answer::default()));
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
    async fn multiget(&self, collection: &CollectionInfo, batch: &[ItemRef]) -> Result<Answer> {
        let hrefs = batch.iter().map(|r| r.href.as_str());
        match collection.kind {
            CollectionKind::Contacts => self
                .report(
                    libdav::carddav::GetAddressBookResources::new(&collection.href)
                        .with_hrefs(hrefs),
                    "address-data",
                )
                .await
                .map(|(r, inexact)| Answer {
                    resources: r.resources,
                    inexact,
                }),
            _ => self
                .report(
                    libdav::caldav::GetCalendarResources::new(&collection.href).with_hrefs(hrefs),
                    "calendar-data",
                )
                .await
                .map(|(r, inexact)| Answer {
                    resources: r.resources,
                    inexact,
                }),
        }
        .map_err(|e| dav_error(e, &self.url_of(&collection.href), self.user()))
    }

    /// A libdav request sent by hand, so that its raw answer can be looked at too: which
    /// items' `data` the XML could not carry byte for byte ([`line_ends::inexact_items`]).
    async fn report<R>(
        &self,
        request: R,
        data: &str,
    ) -> std::result::Result<(R::Response, HashSet<String>), DavError>
    where
        R: libdav::requests::DavRequest<ParseError = libdav::requests::ParseResponseError>,
    {
        let prepared = request.prepare_request(self.dav.base_url().clone())?;
        let (head, body) = self.dav.request_raw(prepared).await?;
        let response = request.parse_response(&head, &body)?;
        Ok((response, line_ends::inexact_items(&body, data)))
    }
}

type DavError = libdav::dav::WebDavError<crate::dav::http::HttpError>;

/// One multiget's answer: what libdav read, and the items whose bytes it could not carry.
#[derive(Default)]
struct Answer {
    resources: Vec<libdav::FetchedResource>,
    /// [`href_key`]s of the items holding a bare CR or LF.
    inexact: HashSet<String>,
}

/// An item a multiget did not bring (exactly): it is asked for again by GET.
struct Refetch<'a> {
    item: &'a ItemRef,
    /// Why, for the warning if the GET fails too.
    why: String,
    /// What the multiget brought, with its line ends made CRLF: archived if the GET fails,
    /// so that the item is never lost over its line ends.
    fallback: Option<(String, Vec<u8>)>,
}

/// Hands one batch's answers to the sink, and returns the items to fetch again by GET: those
/// the server left out or answered with an error status, and those whose bytes the XML
/// could not carry. Each item is recorded under the href as it was asked for (as the server
/// listed it): libdav hands back answers' hrefs percent-decoded.
async fn deliver<'a>(
    kind: CollectionKind,
    batch: &'a [ItemRef],
    answer: Answer,
    sink: &dyn ItemSink,
) -> Result<Vec<Refetch<'a>>> {
    let asked: HashMap<String, &ItemRef> = batch.iter().map(|r| (href_key(&r.href), r)).collect();
    let mut delivered = HashSet::new();
    let mut again = Vec::new();
    for resource in answer.resources {
        let key = href_key(&resource.href);
        // Only what was asked, once: a hostile or broken server must not slip in items
        // from elsewhere, nor the same item twice.
        let Some(listed) = asked
            .get(&key)
            .copied()
            .filter(|_| delivered.insert(key.clone()))
        else {
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
            Ok(content) if answer.inexact.contains(&key) => again.push(Refetch {
                item: listed,
                why: "its line ends cannot travel in a multiget answer".to_owned(),
                fallback: Some((content.etag, content.data.into_bytes())),
            }),
            Ok(content) => {
                let bytes = content.data.into_bytes();
                one_resource(
                    kind,
                    &listed.href,
                    Some(Etag::new(content.etag)),
                    bytes,
                    sink,
                )
                .await?;
            }
            Err(status) => again.push(Refetch {
                item: listed,
                why: format!("with others: {status}"),
                fallback: None,
            }),
        }
    }
    again.extend(
        batch
            .iter()
            .filter(|r| !delivered.contains(&href_key(&r.href)))
            .map(|item| Refetch {
                item,
                why: "left out of the server's answer".to_owned(),
                fallback: None,
            }),
    );
    Ok(again)
}

/// One resource's bytes. A resource holding several vCards (or calendar objects of several
/// UIDs), which CardDAV and CalDAV forbid but servers such as Cyrus store, is kept whole and
/// also as one item each (`href#1`, `href#2`, ...), so that a restore brings back every one.
async fn one_resource(
    kind: CollectionKind,
    href: &str,
    etag: Option<Etag>,
    bytes: Vec<u8>,
    sink: &dyn ItemSink,
) -> Result<()> {
    let split = match kind {
        _ if !sink.splits_resources() => return sink.item(Href::new(href), etag, bytes).await,
        CollectionKind::Contacts => crate::vobject::split_vcards(&bytes),
        CollectionKind::Calendar => crate::vobject::split_calendar(&bytes),
        CollectionKind::Photos => return sink.item(Href::new(href), etag, bytes).await,
    };
    if split.items.len() < 2 {
        return sink.item(Href::new(href), etag, bytes).await;
    }
    sink.original(href, &bytes).await?;
    for (index, part) in split.items.into_iter().enumerate() {
        sink.item(
            Href::new(format!("{href}#{}", index + 1)),
            etag.clone(),
            part,
        )
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
            let alone = |item| Refetch {
                item,
                why: format!("with others: {error}"),
                fallback: None,
            };
            if batch.len() == 1 || failures.fetch_add(1, Ordering::Relaxed) >= SPLIT_FAILURES {
                return self
                    .refetch(
                        collection.kind,
                        batch.iter().map(alone).collect(),
                        sink,
                        cancel,
                    )
                    .await;
            }
            tracing::debug!(items = batch.len(), %error, "multiget failed; asking in halves");
            let (first, second) = batch.split_at(batch.len() / 2);
            for half in [first, second] {
                cancel.check()?;
                if let [item] = half {
                    self.refetch(collection.kind, vec![alone(item)], sink, cancel)
                        .await?;
                    continue;
                }
                match self.multiget(collection, half).await {
                    Ok(answer) => {
                        let again = deliver(collection.kind, half, answer, sink).await?;
                        self.refetch(collection.kind, again, sink, cancel).await?;
                    }
                    Err(error) => {
                        self.isolate(collection, half, sink, cancel, error, failures)
                            .await?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Each of `items` by GET, one after another.
    async fn refetch(
        &self,
        kind: CollectionKind,
        items: Vec<Refetch<'_>>,
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        for refetch in items {
            cancel.check()?;
            self.get_one(kind, refetch, sink).await?;
        }
        Ok(())
    }

    /// One item by GET, after a multiget did not bring it (exactly). If the GET fails too,
    /// what the multiget brought is archived with a warning, or else the item is one warning.
    async fn get_one(
        &self,
        kind: CollectionKind,
        refetch: Refetch<'_>,
        sink: &dyn ItemSink,
    ) -> Result<()> {
        let href = &refetch.item.href;
        let url = self.url_of(href);
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
                    .map(Etag::from)
                    .or_else(|| refetch.fallback.map(|(etag, _)| Etag::new(etag)));
                let bytes = response.into_body().to_vec();
                return one_resource(kind, href, etag, bytes, sink).await;
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
        if let Some((etag, bytes)) = refetch.fallback {
            sink.warn(
                Warning::new(
                    "line-ends-changed",
                    format!(
                        "the server would not give this item alone ({problem}); it is kept as its multiget answer brought it, with CRLF line ends"
                    ),
                )
                .at_href(href),
            );
            return one_resource(kind, href, Some(Etag::new(etag)), bytes, sink).await;
        }
        sink.warn(
            Warning::new(
                "unavailable",
                format!(
                    "the server would not give this item, neither {} nor alone ({problem})",
                    refetch.why
                ),
            )
            .at_href(href),
        );
        Ok(())
    }

    /// One batch: a multiget, and when it fails, [`DavSource::isolate`].
    async fn settle(
        &self,
        collection: &CollectionInfo,
        batch: &[ItemRef],
        answer: Result<Answer>,
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        match answer {
            Ok(answer) => {
                let again = deliver(collection.kind, batch, answer, sink).await?;
                self.refetch(collection.kind, again, sink, cancel).await
            }
            Err(error) => {
                let failures = std::sync::atomic::AtomicUsize::new(0);
                self.isolate(collection, batch, sink, cancel, error, &failures)
                    .await
            }
        }
    }
}
