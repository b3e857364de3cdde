//! Where a restore puts data: the [`Target`] trait and one file per backend.
//!
//! Backends: [`dav::DavTarget`] (CalDAV/CardDAV accounts), [`webdav::PhotoTarget`] (WebDAV
//! photo folders) and [`folder::FolderTarget`] (a local folder, written as vdirs and photo
//! folders; also the fast backend for engine tests).

pub mod contract;
pub mod dav;
mod digest;
pub mod folder;
pub mod webdav;

use http::{Method, StatusCode};

use crate::dav::http::{HttpClient, check_status, status_error};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Etag, Href, Sha256};
use crate::model::{CollectionInfo, CollectionKind, ItemRef};
use crate::source::SourceInfo;

/// An item as the target serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub href: Href,
    pub etag: Option<Etag>,
    /// Empty when only the checksum was read ([`Target::digests`]) or nothing was read.
    pub bytes: Vec<u8>,
    /// SHA-256 (hex) of what the target serves; `None` for an item only listed, not read.
    pub sha256: Option<Sha256>,
}

impl StoredItem {
    /// An item read whole.
    pub fn read(href: Href, etag: Option<Etag>, bytes: Vec<u8>) -> Self {
        let sha256 = Some(Sha256::of(&bytes));
        Self {
            href,
            etag,
            bytes,
            sha256,
        }
    }

    /// An item only listed: its name is taken, its content unknown.
    pub fn listed(href: Href, etag: Option<Etag>) -> Self {
        Self {
            href,
            etag,
            bytes: Vec::new(),
            sha256: None,
        }
    }

    /// Whether its checksum is `sha256`.
    pub fn has_sha256(&self, sha256: &Sha256) -> bool {
        self.sha256.as_ref() == Some(sha256)
    }
}

/// How a `put` may treat an existing item at the same href.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Only create: fail with [`PutOutcome::AlreadyExists`] if anything is there.
    Create,
    /// Replace the version with this ETag (or, without one, whatever is there): only ever
    /// used when the user chose `--on-conflict overwrite`.
    Replace { etag: Option<Etag> },
}

/// What the target did with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Stored {
        etag: Option<Etag>,
    },
    /// `Create` found something at the href, or `Replace` found another version (412).
    AlreadyExists,
    /// The target refused this one item (400, 409, 412, 415, a CalDAV precondition, ...).
    Refused {
        status: u16,
        reason: String,
    },
}

/// A place a restore writes to.
///
/// # Contract
/// 1. **Nothing is overwritten or deleted.** `put` with [`PutMode::Create`] never replaces
///    anything (HTTP `If-None-Match: *`, or an exclusive create on disk); `Replace` is only
///    sent when the user asked for it. No method deletes.
/// 2. [`Target::collections`] lists the existing collections of a kind;
///    [`Target::new_collection_href`] says where a new one named `name` would go, without
///    creating it; [`Target::create_collection`] creates it with the archived display name,
///    colour, description and components.
/// 3. [`Target::list`] lists a collection's items cheaply; [`Target::fetch`] returns the
///    bytes the target serves for the given hrefs (for matching and for read-back), leaving
///    out hrefs that do not exist.
/// 4. A refusal that concerns one item is `Ok(PutOutcome::Refused)`: the job reports it and
///    goes on. Failures that concern the whole job (authentication, network, a full account)
///    are `Err`.
/// 5. [`Target::create_collection_with`] is an optional fast path: a whole new collection in
///    one request. It may leave out items the server cannot take that way (the job finds
///    stored items by UID and uploads the rest one by one), and the server may store items
///    differently from one-by-one uploads; the
///    restore job reads them back and re-sends (`If-Match`) every item whose bytes differ from
///    the archive's, so the end state is what one-by-one uploads give.
#[async_trait::async_trait]
pub trait Target: Send + Sync + std::fmt::Debug {
    fn info(&self) -> SourceInfo;

    /// The kinds of collection this target can hold.
    fn accepts(&self, kind: CollectionKind) -> bool;

    /// Whether every vCard and iCalendar item needs a UID here (CalDAV/CardDAV servers
    /// refuse items without one; a folder takes any bytes).
    fn requires_uid(&self) -> bool {
        false
    }

    async fn collections(&self, kind: CollectionKind) -> Result<Vec<CollectionInfo>>;

    fn new_collection_href(&self, kind: CollectionKind, name: &str) -> Result<Href>;

    async fn create_collection(&self, href: &str, info: &CollectionInfo) -> Result<()>;

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>>;

    async fn fetch(&self, collection: &CollectionInfo, hrefs: &[Href]) -> Result<Vec<StoredItem>>;

    /// Like [`Target::fetch`], but only the checksums of what the target serves, with `bytes`
    /// left empty: photos are compared this way, so memory stays bounded whatever their
    /// number and size. Backends that can read an item as a stream hash it as it arrives;
    /// the default reads one item at a time.
    async fn digests(
        &self,
        collection: &CollectionInfo,
        hrefs: &[Href],
    ) -> Result<Vec<StoredItem>> {
        let mut found = Vec::with_capacity(hrefs.len());
        for href in hrefs {
            for mut item in self.fetch(collection, std::slice::from_ref(href)).await? {
                item.bytes = Vec::new();
                found.push(item);
            }
        }
        Ok(found)
    }

    /// The href of an item named `relative` (a file name, or a path for photos) inside a
    /// collection.
    fn item_href(&self, collection_href: &str, relative: &str) -> Href {
        Href::new(format!(
            "{}/{relative}",
            collection_href.trim_end_matches('/')
        ))
    }

    async fn put(
        &self,
        href: &str,
        kind: CollectionKind,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<PutOutcome>;

    /// Creates `href` holding `items` in one request; `Ok(false)` when not offered here.
    async fn create_collection_with(
        &self,
        _href: &str,
        _info: &CollectionInfo,
        _items: &[&[u8]],
    ) -> Result<bool> {
        Ok(false)
    }

    fn requests_made(&self) -> u64 {
        0
    }
}

/// What `source` serves for `hrefs` (left out when missing): the read side of the network
/// targets is the export source for the same server.
pub(crate) async fn fetch_from(
    source: &dyn crate::source::Source,
    collection: &CollectionInfo,
    hrefs: &[Href],
) -> Result<Vec<StoredItem>> {
    let sink = crate::source::collecting::CollectingSink {
        whole_resources: true,
        ..Default::default()
    };
    fetch_into(source, collection, hrefs, &sink).await?;
    Ok(sink
        .take()
        .into_iter()
        .map(|(href, etag, bytes)| StoredItem::read(href, etag, bytes))
        .collect())
}

/// The checksums of what `source` serves for `hrefs` (left out when missing), each body
/// hashed as it streams in and never held whole.
pub(crate) async fn digests_from(
    source: &dyn crate::source::Source,
    collection: &CollectionInfo,
    hrefs: &[Href],
) -> Result<Vec<StoredItem>> {
    let sink = digest::DigestSink::default();
    fetch_into(source, collection, hrefs, &sink).await?;
    Ok(sink.take())
}

async fn fetch_into(
    source: &dyn crate::source::Source,
    collection: &CollectionInfo,
    hrefs: &[Href],
    sink: &dyn crate::source::ItemSink,
) -> Result<()> {
    let refs: Vec<ItemRef> = hrefs
        .iter()
        .map(|href| ItemRef {
            href: href.clone(),
            etag: None,
            size: None,
        })
        .collect();
    source
        .fetch(
            collection,
            &refs,
            sink,
            &crate::progress::CancelToken::default(),
        )
        .await
}

pub use crate::model::href_key;

fn content_type(kind: CollectionKind, href: &str) -> &'static str {
    match kind {
        CollectionKind::Contacts => "text/vcard; charset=utf-8",
        CollectionKind::Calendar => "text/calendar; charset=utf-8",
        CollectionKind::Photos => {
            let lower = href.to_ascii_lowercase();
            if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
                "image/jpeg"
            } else if lower.ends_with(".png") {
                "image/png"
            } else {
                "application/octet-stream"
            }
        }
    }
}

/// One conditional PUT of raw bytes (never re-encoded; libdav's PUT takes a `String`, which
/// would refuse a vCard 2.1 in Latin-1), mapping statuses to [`PutOutcome`] or a job error.
pub(crate) async fn http_put(
    http: &HttpClient,
    url: &str,
    kind: CollectionKind,
    bytes: Vec<u8>,
    mode: &PutMode,
) -> Result<PutOutcome> {
    if condition_fails_already(http, url, mode).await {
        return Ok(PutOutcome::AlreadyExists);
    }
    let bytes = bytes::Bytes::from(bytes);
    let (outcome, retried) = http_put_retried(http, url, kind, bytes.clone(), mode).await?;
    // A 412 after a lost answer may be our own first attempt: read the item back.
    if outcome == PutOutcome::AlreadyExists
        && retried
        && earlier_attempt_landed(http, url, kind, &bytes).await
    {
        return Ok(PutOutcome::Stored { etag: None });
    }
    Ok(outcome)
}

/// Whether a HEAD shows that `mode`'s condition fails already: something is at the href of
/// a create, or another version at the href of a replace. Some servers (SOGo) ignore
/// `If-None-Match` and `If-Match`, so the condition is checked here before the PUT sends it
/// too. A server that cannot say (no HEAD, no ETag, an error) leaves it to the PUT.
pub(crate) async fn condition_fails_already(http: &HttpClient, url: &str, mode: &PutMode) -> bool {
    let expected = match mode {
        PutMode::Create => None,
        PutMode::Replace { etag: Some(etag) } => Some(etag),
        PutMode::Replace { etag: None } => return false,
    };
    let Ok(request) = http::Request::builder()
        .method(Method::HEAD)
        .uri(url)
        .body(String::new())
    else {
        return false;
    };
    // One attempt (429/503 aside): a server that cannot answer a HEAD still has the PUT's
    // own condition.
    let Ok((response, _)) = http.send_retrying(&request, false).await else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    let strong = |etag: &str| etag.trim().trim_start_matches("W/").to_owned();
    match expected {
        None => true,
        Some(etag) => response
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|now| strong(now) != strong(etag)),
    }
}

/// [`http_put`] without reading back, also telling whether it took more than one attempt
/// (so that an `AlreadyExists` may be our own earlier attempt, whose answer was lost).
pub(crate) async fn http_put_retried(
    http: &HttpClient,
    url: &str,
    kind: CollectionKind,
    bytes: bytes::Bytes,
    mode: &PutMode,
) -> Result<(PutOutcome, bool)> {
    let mut request = http::Request::builder()
        .method(Method::PUT)
        .uri(url)
        .header(http::header::CONTENT_TYPE, content_type(kind, url));
    request = match mode {
        PutMode::Create => request.header(http::header::IF_NONE_MATCH, "*"),
        PutMode::Replace { etag: Some(etag) } => {
            request.header(http::header::IF_MATCH, etag.as_str())
        }
        PutMode::Replace { etag: None } => request,
    };
    let request = request
        .body(bytes)
        .map_err(|e| Error::with_source(ErrorKind::InvalidInput, format!("bad URL: {url}"), e))?;
    // A PUT is retried after a broken connection or a 5xx: `If-None-Match`/`If-Match` make a
    // second attempt harmless.
    let (response, attempts) = http
        .send_retrying(&request, true)
        .await
        .map_err(|e| e.into_error(url))?;
    let status = response.status();
    let etag = response
        .headers()
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(Etag::from);
    if status.is_success() {
        return Ok((PutOutcome::Stored { etag }, attempts > 1));
    }
    let body = response.text().await.unwrap_or_default();
    let reason = server_reason(&body);
    let outcome = match status {
        StatusCode::PRECONDITION_FAILED => PutOutcome::AlreadyExists,
        StatusCode::FORBIDDEN if body.contains("urn:ietf:params:xml:ns:") => {
            // A CalDAV/CardDAV precondition (RFC 4791 §5.3.2.1): about this item, not the login.
            PutOutcome::Refused {
                status: status.as_u16(),
                reason,
            }
        }
        StatusCode::BAD_REQUEST
        | StatusCode::CONFLICT
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNPROCESSABLE_ENTITY => PutOutcome::Refused {
            status: status.as_u16(),
            reason,
        },
        other => return Err(status_error(other, url, http.credentials().user())),
    };
    Ok((outcome, attempts > 1))
}

/// Whether what is at `url` now is what an earlier, unanswered attempt sent: the same bytes
/// for a photo, the same UID for a contact or event (DAV servers may re-serialize them).
async fn earlier_attempt_landed(
    http: &HttpClient,
    url: &str,
    kind: CollectionKind,
    sent: &[u8],
) -> bool {
    let Ok(response) = http.get(url).await else {
        return false;
    };
    let Ok(stored) = response.bytes().await else {
        return false;
    };
    match kind {
        CollectionKind::Photos => stored.as_ref() == sent,
        _ => {
            let ours = crate::vobject::uid_of(sent);
            ours.is_some() && crate::vobject::uid_of(&stored) == ours
        }
    }
}

/// The gist of an error body: the precondition element or the first line of text.
fn server_reason(body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.starts_with('<') {
        // `<D:error><C:no-uid-conflict>...` → "no-uid-conflict"
        let names: Vec<&str> = trimmed
            .split('<')
            .filter_map(|tag| tag.split(['>', ' ', '/']).next())
            .filter(|tag| !tag.is_empty() && !tag.starts_with('?') && !tag.starts_with('!'))
            .map(|tag| tag.rsplit(':').next().unwrap_or(tag))
            .filter(|name| *name != "error" && *name != "href")
            .collect();
        if let Some(name) = names.first() {
            return (*name).to_owned();
        }
    }
    trimmed
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// MKCOL of a plain folder; a folder that already exists is fine.
pub(crate) async fn http_mkcol(http: &HttpClient, url: &str) -> Result<()> {
    let request = http::Request::builder()
        .method(
            Method::from_bytes(b"MKCOL").map_err(|e| {
                Error::with_source(ErrorKind::InvalidInput, "MKCOL is not a method", e)
            })?,
        )
        .uri(url)
        .body(String::new())
        .map_err(|e| Error::with_source(ErrorKind::InvalidInput, format!("bad URL: {url}"), e))?;
    // Retried like a PUT: a second MKCOL after one that landed finds the folder (405).
    let (response, _) = http
        .send_retrying(&request, true)
        .await
        .map_err(|e| e.into_error(url))?;
    match response.status() {
        // 405: something is there already (RFC 4918 §9.3.1).
        status if status.is_success() || status == StatusCode::METHOD_NOT_ALLOWED => Ok(()),
        status => check_status(status, url, http.credentials().user()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_reason_names_the_precondition() {
        let body = r#"<?xml version="1.0"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:no-uid-conflict><D:href>/a/b.ics</D:href></C:no-uid-conflict></D:error>"#;
        assert_eq!(server_reason(body), "no-uid-conflict");
        assert_eq!(server_reason("Bad Request\nmore"), "Bad Request");
    }

    #[test]
    fn href_keys_ignore_encoding_and_trailing_slash() {
        assert_eq!(href_key("/a/b%20c/"), href_key("/a/b c"));
    }
}
