//! PROPFIND Depth 1 listings read as a stream: each `<response>` becomes a [`ListedEntry`] as
//! it arrives, so memory follows the entries kept, not the size of the XML (a DOM of a 900 MB
//! answer took five times that).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use http::Method;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

use crate::dav::http::{ATTEMPTS, HttpClient, backoff, status_error, too_slow};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Etag, Href};

/// The largest listing read, as [`crate::dav::http`] caps every DAV answer.
const MAX_LISTING: u64 = 1 << 30;
/// The most bytes one XML event may span (a text, a tag): far above any real href or ETag,
/// and what bounds the parser's buffer against one endless element.
const MAX_EVENT: u64 = 1 << 20;
/// The most bytes handed to the parser at once.
const PIECE: usize = 64 * 1024;
/// The longest href, ETag or length text kept.
const MAX_TEXT: usize = 64 * 1024;

const DAV: Namespace<'static> = Namespace(b"DAV:");

/// One member of a listing: a file or folder of a photo folder, an item of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// Normalised as libdav normalises hrefs (for the photo walk's checks and file names).
    pub href: String,
    /// Exactly as the server wrote it (only an absolute URL cut to its path): what is sent
    /// back to CalDAV/CardDAV servers, which may compare hrefs byte for byte.
    pub raw_href: Href,
    pub etag: Option<Etag>,
    pub size: Option<u64>,
    pub is_folder: bool,
}

/// An href as a path on the server we asked. RFC 4918 lets a server write hrefs as absolute
/// URLs (`http://host/photos/a.jpg`); only their path is used, so requests never go to a
/// host other than the one the user named.
fn absolute_path(href: &str) -> &str {
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    let Some(rest) = ["https://", "http://"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map(|scheme| &href[scheme.len()..])
    else {
        return href;
    };
    rest.find('/').map_or("/", |slash| &rest[slash..])
}

/// Which property a piece of text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Href,
    Etag,
    Length,
}

/// The properties of the `<response>` being read. Like a lookup in a tree, the first
/// `href`, `getetag`, `getcontentlength` and `resourcetype` of a response count.
#[derive(Debug, Default)]
struct Partial {
    href: Option<String>,
    etag: Option<String>,
    length: Option<String>,
    seen: [bool; 4],
    is_folder: bool,
}

/// Where a listing's entries go as they are read: a `Vec`, or a walk that uses each entry at
/// once so that a million-file folder is never held twice.
pub trait Entries: Send {
    /// One `<response>` of the listing.
    fn entry(&mut self, entry: ListedEntry);
    /// The answer broke off and is asked for again: forget every entry of this listing.
    fn restart(&mut self);
}

impl Entries for Vec<ListedEntry> {
    fn entry(&mut self, entry: ListedEntry) {
        self.push(entry);
    }

    fn restart(&mut self) {
        self.clear();
    }
}

/// Builds entries from XML events (module doc).
struct Collector<'a> {
    entries: &'a mut dyn Entries,
    current: Option<Partial>,
    depth: usize,
    /// The element whose text is being kept, with its depth.
    text: Option<(Field, usize, String)>,
    /// The depth of the first `resourcetype` inside the current response.
    resourcetype: Option<usize>,
    root_is_multistatus: bool,
    closed: bool,
}

/// Why a listing could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("the answer ended before its last tag")]
    CutShort,
    #[error(transparent)]
    Body(#[from] io::Error),
}

impl<'a> Collector<'a> {
    fn new(entries: &'a mut dyn Entries) -> Self {
        Self {
            entries,
            current: None,
            depth: 0,
            text: None,
            resourcetype: None,
            root_is_multistatus: false,
            closed: false,
        }
    }

    fn start(&mut self, namespace: &ResolveResult<'_>, local: &[u8], empty: bool) {
        self.depth += 1;
        let dav = matches!(namespace, ResolveResult::Bound(ns) if *ns == DAV);
        if self.depth == 1 {
            self.root_is_multistatus = dav && local == b"multistatus";
        }
        if dav && local == b"response" && self.current.is_none() {
            self.current = Some(Partial::default());
        } else if let Some(partial) = self.current.as_mut() {
            let field = match (dav, local) {
                (true, b"href") => Some((Field::Href, 0)),
                (true, b"getetag") => Some((Field::Etag, 1)),
                (true, b"getcontentlength") => Some((Field::Length, 2)),
                (true, b"resourcetype") if !partial.seen[3] => {
                    partial.seen[3] = true;
                    self.resourcetype = Some(self.depth);
                    None
                }
                (true, b"collection") if self.resourcetype.is_some() => {
                    partial.is_folder = true;
                    None
                }
                _ => None,
            };
            if let Some((field, index)) = field
                && !partial.seen[index]
                && self.text.is_none()
            {
                partial.seen[index] = true;
                if !empty {
                    self.text = Some((field, self.depth, String::new()));
                }
            }
        }
        if empty {
            self.end(namespace, local);
        }
    }

    fn end(&mut self, namespace: &ResolveResult<'_>, local: &[u8]) {
        let dav = matches!(namespace, ResolveResult::Bound(ns) if *ns == DAV);
        if let Some((field, depth, _)) = &self.text
            && *depth == self.depth
        {
            let field = *field;
            let text = self
                .text
                .take()
                .map(|(_, _, t)| t)
                .filter(|t| !t.is_empty());
            if let Some(partial) = self.current.as_mut() {
                match field {
                    Field::Href => partial.href = text,
                    Field::Etag => partial.etag = text,
                    Field::Length => partial.length = text,
                }
            }
        }
        if self.resourcetype == Some(self.depth) {
            self.resourcetype = None;
        }
        if dav && local == b"response" && self.current.is_some() {
            self.finish_response();
        }
        if self.depth == 1 && self.root_is_multistatus {
            self.closed = true;
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn finish_response(&mut self) {
        let Some(partial) = self.current.take() else {
            return;
        };
        let Some(raw_href) = partial.href.as_deref().map(|h| absolute_path(h.trim())) else {
            return;
        };
        let href = libdav::encoding::normalise_percent_encoded(raw_href)
            .map_or_else(|_| raw_href.to_owned(), std::borrow::Cow::into_owned);
        self.entries.entry(ListedEntry {
            href,
            raw_href: Href::new(raw_href),
            etag: partial.etag.map(Etag::new),
            size: partial.length.and_then(|t| t.trim().parse().ok()),
            is_folder: partial.is_folder,
        });
    }

    /// Text inside the element being kept (only its own, not a child's).
    fn text(&mut self, piece: &str) {
        if let Some((_, depth, text)) = self.text.as_mut()
            && *depth == self.depth
            && text.len() + piece.len() <= MAX_TEXT
        {
            text.push_str(piece);
        }
    }
}

/// Reads a multistatus listing from `input` into `entries` (module doc). Refuses a DTD:
/// entities declared in one are never expanded.
pub async fn read_listing<R: AsyncBufRead + Unpin>(
    input: R,
    entries: &mut dyn Entries,
) -> std::result::Result<(), ListingError> {
    let mut reader = quick_xml::reader::NsReader::from_reader(EventBudget {
        inner: input,
        since_event: 0,
    });
    let mut collector = Collector::new(entries);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        reader.get_mut().since_event = 0;
        let (namespace, event) = reader
            .read_resolved_event_into_async(&mut buffer)
            .await
            .map_err(xml_error)?;
        match event {
            Event::Start(tag) => collector.start(&namespace, tag.local_name().as_ref(), false),
            Event::Empty(tag) => collector.start(&namespace, tag.local_name().as_ref(), true),
            Event::End(tag) => collector.end(&namespace, tag.local_name().as_ref()),
            Event::Text(text) => {
                let text = text
                    .decode()
                    .map_err(|e| ListingError::Xml(e.to_string()))?;
                collector.text(&text);
            }
            Event::CData(data) => {
                let text = data
                    .decode()
                    .map_err(|e| ListingError::Xml(e.to_string()))?;
                collector.text(&text);
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .map_err(|e| ListingError::Xml(e.to_string()))?
                        .map(String::from)
                } else {
                    let name = reference
                        .decode()
                        .map_err(|e| ListingError::Xml(e.to_string()))?;
                    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                };
                let Some(resolved) = resolved else {
                    return Err(ListingError::Xml("an entity that is not XML's own".into()));
                };
                collector.text(&resolved);
            }
            Event::DocType(_) => {
                return Err(ListingError::Xml("a document type declaration".into()));
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if collector.closed {
        Ok(())
    } else if collector.depth == 0 {
        Err(ListingError::Xml(
            "the answer is not a WebDAV listing".into(),
        ))
    } else {
        Err(ListingError::CutShort)
    }
}

fn xml_error(error: quick_xml::Error) -> ListingError {
    match error {
        // The reader's errors come back shared; their text says which fault stopped the body.
        quick_xml::Error::Io(io) => ListingError::Body(io::Error::new(io.kind(), io.to_string())),
        // Every syntax error but this one is the input ending inside markup.
        quick_xml::Error::Syntax(e) if e != quick_xml::errors::SyntaxError::InvalidBangMarkup => {
            ListingError::CutShort
        }
        other => ListingError::Xml(other.to_string()),
    }
}

/// Reads a listing held in memory (fuzzing and tests): the reader never waits.
pub fn listing_from_bytes(xml: &[u8]) -> std::result::Result<Vec<ListedEntry>, ListingError> {
    let mut entries = Vec::new();
    let result = {
        let mut future = std::pin::pin!(read_listing(xml, &mut entries));
        match future
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
        {
            Poll::Ready(result) => result,
            Poll::Pending => Err(ListingError::CutShort),
        }
    };
    result.map(|()| entries)
}

/// Sends PROPFIND Depth 1 for `href` asking for `properties` (DAV: names) and reads the
/// answer as a stream, retrying a broken, slow or cut-short answer like any idempotent read.
pub async fn propfind(
    http: &HttpClient,
    url: &str,
    properties: &[&str],
) -> Result<Vec<ListedEntry>> {
    let mut entries = Vec::new();
    propfind_into(http, url, properties, &mut entries).await?;
    Ok(entries)
}

/// [`propfind`] handing each entry to `entries` as it is read; a retried answer first calls
/// [`Entries::restart`].
pub async fn propfind_into(
    http: &HttpClient,
    url: &str,
    properties: &[&str],
    entries: &mut dyn Entries,
) -> Result<()> {
    let props: String = properties.iter().map(|p| format!("<d:{p}/>")).collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><d:propfind xmlns:d=\"DAV:\"><d:prop>{props}</d:prop></d:propfind>"
    );
    let user = http.credentials().user();
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt > 1 {
            entries.restart();
        }
        let request = http::Request::builder()
            .method(Method::from_bytes(b"PROPFIND").unwrap_or(Method::GET))
            .uri(url)
            .header("Depth", "1")
            .header(http::header::CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(body.clone())
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::InvalidInput,
                    format!("not a valid URL: {url}"),
                    e,
                )
            })?;
        let response = http.send(request).await.map_err(|e| e.into_error(url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status, url, user));
        }
        let error = match read_listing(body_reader(response, http.patience), entries).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let fault = match &error {
            ListingError::Body(io) => Some(io.to_string()),
            _ => None,
        };
        let fault = fault.as_deref();
        let refused = matches!(error, ListingError::Xml(_))
            || fault == Some(fault::TOO_LARGE)
            || fault == Some(fault::EVENT_TOO_LARGE);
        if !refused && attempt < ATTEMPTS {
            tracing::debug!(attempt, %error, url, "listing broke off; retrying");
            tokio::time::sleep(backoff(attempt)).await;
            continue;
        }
        return Err(match error {
            ListingError::Xml(why) => Error::new(
                ErrorKind::InvalidData,
                format!("the server sent malformed XML ({why}): {url}"),
            ),
            ListingError::CutShort => Error::new(
                ErrorKind::Network,
                format!("the listing was cut short: {url}"),
            ),
            ListingError::Body(io) => match fault {
                Some(fault::TOO_LARGE) => Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "the listing is larger than {} MiB: {url}",
                        MAX_LISTING >> 20
                    ),
                ),
                Some(fault::EVENT_TOO_LARGE) => Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "one element of the listing is larger than {} MiB: {url}",
                        MAX_EVENT >> 20
                    ),
                ),
                Some(fault::TOO_SLOW) => Error::new(
                    ErrorKind::Network,
                    format!("the server did not answer in time: {url}"),
                ),
                _ => Error::with_source(
                    ErrorKind::Network,
                    format!("the connection to the server broke: {url}"),
                    io,
                ),
            },
        });
    }
}

/// Why a body stopped, carried through the XML reader as an I/O error's text.
mod fault {
    pub(super) const TOO_LARGE: &str = "the listing is too large";
    pub(super) const TOO_SLOW: &str = "the listing comes too slowly";
    pub(super) const EVENT_TOO_LARGE: &str = "one XML element is too large";
}

/// The response body as a reader, refusing more than [`MAX_LISTING`] bytes and a body slower
/// than the client's minimum rate.
fn body_reader(
    response: reqwest::Response,
    patience: std::time::Duration,
) -> tokio_util::io::StreamReader<
    impl futures_util::Stream<Item = io::Result<bytes::Bytes>>,
    bytes::Bytes,
> {
    let started = std::time::Instant::now();
    let mut total = 0u64;
    let stream = response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(io::Error::other)?;
        total += chunk.len() as u64;
        if total > MAX_LISTING {
            return Err(io::Error::other(fault::TOO_LARGE));
        }
        if too_slow(started, total, patience) {
            return Err(io::Error::other(fault::TOO_SLOW));
        }
        Ok(chunk)
    });
    tokio_util::io::StreamReader::new(stream)
}

/// A reader that fails once one XML event has consumed [`MAX_EVENT`] bytes: quick-xml keeps
/// a whole event in its buffer, so one endless text would otherwise be held whole.
struct EventBudget<R> {
    inner: R,
    since_event: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for EventBudget<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for EventBudget<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.since_event > MAX_EVENT {
            return Poll::Ready(Err(io::Error::other(fault::EVENT_TOO_LARGE)));
        }
        // Handing out small pieces makes every event pass through this check often.
        Pin::new(&mut this.inner)
            .poll_fill_buf(cx)
            .map_ok(|piece| &piece[..piece.len().min(PIECE)])
    }

    fn consume(mut self: Pin<&mut Self>, amount: usize) {
        self.since_event += amount as u64;
        Pin::new(&mut self.inner).consume(amount);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LISTING: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
 <response><href>/alice/contacts/</href><propstat><prop>
  <resourcetype><collection/><C:addressbook/></resourcetype><getetag>"c"</getetag>
 </prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response>
  <href>
   http://127.0.0.1:5232/alice/contacts/Contact%205%20%C3%A9.vcf</href>
  <propstat><prop><resourcetype/><getetag>&quot;e1&quot;</getetag>
   <getcontentlength>12</getcontentlength></prop>
   <status>HTTP/1.1 200 OK</status></propstat>
 </response>
 <D:response xmlns:D="DAV:"><D:href>/alice/contacts/a&amp;b.vcf</D:href>
  <D:propstat><D:prop><D:getetag><![CDATA["e2"]]></D:getetag></D:prop>
  <D:status>HTTP/1.1 200 OK</D:status></D:propstat>
  <D:propstat><D:prop><D:getetag>"later"</D:getetag></D:prop></D:propstat></D:response>
 <response><href></href></response>
 <response xmlns="urn:other"><href>/not/dav.vcf</href></response>
</multistatus>"#;

    fn check(entries: &[ListedEntry]) {
        assert_eq!(entries.len(), 3, "{entries:?}");
        assert!(entries[0].is_folder);
        assert_eq!(
            entries[1].raw_href,
            "/alice/contacts/Contact%205%20%C3%A9.vcf"
        );
        assert_eq!(entries[1].etag.as_deref(), Some("\"e1\""));
        assert_eq!(entries[1].size, Some(12));
        assert!(!entries[1].is_folder);
        assert_eq!(entries[2].raw_href, "/alice/contacts/a&b.vcf");
        assert_eq!(entries[2].etag.as_deref(), Some("\"e2\""));
    }

    #[test]
    fn a_listing_keeps_each_response_as_the_server_wrote_it() {
        check(&listing_from_bytes(LISTING.as_bytes()).unwrap());
    }

    #[tokio::test]
    async fn a_listing_arriving_a_byte_at_a_time_reads_the_same() {
        let chunks: Vec<io::Result<bytes::Bytes>> = LISTING
            .as_bytes()
            .iter()
            .map(|b| Ok(bytes::Bytes::copy_from_slice(&[*b])))
            .collect();
        let reader = tokio_util::io::StreamReader::new(futures_util::stream::iter(chunks));
        let mut entries = Vec::new();
        read_listing(reader, &mut entries).await.unwrap();
        check(&entries);
    }

    #[test]
    fn cut_short_dtds_and_other_documents_are_refused() {
        let cut = &LISTING[..LISTING.len() / 2];
        assert!(matches!(
            listing_from_bytes(cut.as_bytes()),
            Err(ListingError::CutShort)
        ));
        let dtd = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>&x;</d:href></d:response></d:multistatus>";
        assert!(matches!(
            listing_from_bytes(dtd.as_bytes()),
            Err(ListingError::Xml(_))
        ));
        let html = "<html><body>It works!</body></html>";
        assert!(matches!(
            listing_from_bytes(html.as_bytes()),
            Err(ListingError::Xml(_))
        ));
    }

    #[test]
    fn one_endless_element_is_refused_instead_of_held() {
        let mut xml =
            String::from("<d:multistatus xmlns:d=\"DAV:\"><d:response><d:href>/a</d:href><x>");
        xml.push_str(&"y".repeat(2 * MAX_EVENT as usize));
        xml.push_str("</x></d:response></d:multistatus>");
        let refused = listing_from_bytes(xml.as_bytes()).unwrap_err();
        assert!(
            refused.to_string().contains(fault::EVENT_TOO_LARGE),
            "{refused}"
        );
        // Many ordinary responses of the same total size are read.
        let response = "<d:response><d:href>/c/item.vcf</d:href></d:response>";
        let count = 2 * MAX_EVENT as usize / response.len();
        let many = format!(
            "<d:multistatus xmlns:d=\"DAV:\">{}</d:multistatus>",
            response.repeat(count)
        );
        assert_eq!(listing_from_bytes(many.as_bytes()).unwrap().len(), count);
    }

    #[test]
    fn absolute_url_hrefs_become_paths_on_our_own_server() {
        assert_eq!(absolute_path("/photos/a.jpg"), "/photos/a.jpg");
        assert_eq!(absolute_path("http://host/photos/a.jpg"), "/photos/a.jpg");
        assert_eq!(absolute_path("HTTPS://host:8443/p/"), "/p/");
        assert_eq!(absolute_path("http://elsewhere"), "/");
    }
}
