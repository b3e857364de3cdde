//! CalDAV/CardDAV accounts through libdav: discovery (in `discovery.rs`), principal and home
//! sets, collections with their properties, one PROPFIND listing per
//! collection and bodies through multiget REPORTs in batches.

use libdav::PropertyName;
use libdav::dav::{WebDavClient, WebDavError};
use libdav::names;

use crate::dav::http::{HttpClient, HttpError, status_error};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Etag, Href};
use crate::model::{CollectionInfo, CollectionKind, ItemRef, href_key};
use crate::progress::CancelToken;
use crate::source::{Changes, ItemSink, Source, SourceInfo, last_segment};

/// Items per multiget REPORT. Radicale refuses a REPORT answering more than 10,000 VEVENTs and
/// costs the same per item from 1,000 up, so 1,000 bounds memory without costing speed.
pub const MULTIGET_BATCH: usize = 1000;

pub(crate) type Dav = WebDavClient<crate::dav::http::DavService>;

/// A CalDAV/CardDAV account.
#[derive(Debug)]
pub struct DavSource {
    pub(crate) http: HttpClient,
    /// The context URL that answers for the account's services.
    pub(crate) dav: Dav,
    /// Address book and calendar home sets, found by discovery.
    pub(crate) contact_homes: Vec<String>,
    pub(crate) calendar_homes: Vec<String>,
    location: String,
    /// Collections that said they support sync-collection (RFC 6578).
    syncable: std::sync::Mutex<std::collections::HashSet<Href>>,
}

/// Maps a libdav error to ours, naming the URL and the account.
pub(crate) fn dav_error(error: WebDavError<HttpError>, url: &str, user: Option<&str>) -> Error {
    match error {
        WebDavError::Request(libdav::dav::RequestError::Client(http)) => http.into_error(url),
        WebDavError::Request(libdav::dav::RequestError::Http(source)) => Error::with_source(
            ErrorKind::Network,
            format!("the connection broke while reading the answer: {url}"),
            source,
        ),
        WebDavError::BadStatusCode(status) => status_error(status, url, user),
        WebDavError::Xml(source) => Error::with_source(
            ErrorKind::InvalidData,
            format!("the server sent malformed XML: {url}"),
            source,
        ),
        WebDavError::InvalidResponse(source) => Error::with_source(
            ErrorKind::InvalidData,
            format!("the server sent an answer we cannot read: {url}"),
            source,
        ),
        WebDavError::InvalidInput(source) => Error::with_source(
            ErrorKind::InvalidInput,
            format!("cannot build a request for {url}"),
            source,
        ),
        WebDavError::PreconditionFailed(_) => Error::new(
            ErrorKind::Server,
            format!("the server refused a precondition: {url}"),
        ),
    }
}

use crate::dav::discovery::find_context;
pub use crate::dav::discovery::{split_user_info, starting_url};

impl DavSource {
    /// Finds the account's services and home sets at `input` (URL, host or email address).
    pub async fn connect(input: &str, http: HttpClient) -> Result<Self> {
        let start = starting_url(input)?;
        match Self::connect_at(&start, http.clone()).await {
            Err(error) if matches!(error.kind(), ErrorKind::Network | ErrorKind::Tls) => {
                match crate::dav::discovery::plain_http_instead(input) {
                    Some(plain) => Self::connect_at(&plain, http).await,
                    None if !input.contains("://") => Err(Error::new(
                        error.kind(),
                        format!(
                            "{error}; if this server only speaks plain http, type the address with http:// in front (the password then travels unencrypted)"
                        ),
                    )),
                    None => Err(error),
                }
            }
            other => other,
        }
    }

    async fn connect_at(start: &http::Uri, http: HttpClient) -> Result<Self> {
        let start = start.clone();
        http.trust(&start);
        let user = http.credentials().user().map(str::to_owned);
        let base = find_context(&http, &start, user.as_deref()).await?;
        // Found by an allowed path (the address itself, a redirect that stayed on https, DNS).
        http.trust(&base);
        let dav = WebDavClient::new(base.clone(), http.dav_service());
        let base_text = base.to_string();

        let principal = dav
            .find_current_user_principal()
            .await
            .map_err(|e| match e {
                libdav::dav::FindCurrentUserPrincipalError::RequestError(e) => {
                    dav_error(e, &base_text, user.as_deref())
                }
                libdav::dav::FindCurrentUserPrincipalError::InvalidInput(e) => {
                    Error::with_source(ErrorKind::InvalidInput, format!("bad URL: {base_text}"), e)
                }
            })?
            .map_or_else(|| base.path().to_owned(), |uri| uri.path().to_owned());

        let principal_url = crate::dav::http::url_for_href(&base, &principal);
        let contact_homes = dav
            .request(libdav::carddav::FindAddressBookHomeSet::new(&principal))
            .await
            .map(|r| r.home_sets.iter().map(|u| u.path().to_owned()).collect())
            .or_else(|e| tolerate_missing(e, &principal_url, user.as_deref()))?;
        let calendar_homes = dav
            .request(libdav::caldav::FindCalendarHomeSet::new(&principal))
            .await
            .map(|r| r.home_sets.iter().map(|u| u.path().to_owned()).collect())
            .or_else(|e| tolerate_missing(e, &principal_url, user.as_deref()))?;
        if contact_homes.is_empty() && calendar_homes.is_empty() {
            return Err(Error::new(
                ErrorKind::NotDav,
                format!(
                    "the server has no address books or calendars for this account: {base_text}"
                ),
            ));
        }
        Ok(Self {
            http,
            dav,
            contact_homes,
            calendar_homes,
            location: base_text,
            syncable: std::sync::Mutex::default(),
        })
    }

    pub(crate) fn user(&self) -> Option<&str> {
        self.http.credentials().user()
    }

    pub(crate) fn url_of(&self, href: &str) -> String {
        self.dav
            .relative_uri(href)
            .map_or_else(|_| href.to_owned(), |u| u.to_string())
    }

    /// Every address book and calendar in `home`, with what we show of each, in one
    /// PROPFIND Depth 1. Not libdav's `FindCollections`: it always asks for `getetag`, which
    /// Radicale computes by hashing every item of every collection (2 s per home on an
    /// account of 22,000 items), and it needs a second request per calendar for its
    /// components.
    async fn find_in_home(&self, home: &str) -> Result<Vec<CollectionInfo>> {
        const PROPERTIES: [&PropertyName<'static, 'static>; 7] = [
            &names::RESOURCETYPE,
            &names::DISPLAY_NAME,
            &names::ADDRESSBOOK_DESCRIPTION,
            &names::CALENDAR_DESCRIPTION,
            &names::CALENDAR_COLOUR,
            &names::SUPPORTED_REPORT_SET,
            &names::SUPPORTED_CALENDAR_COMPONENT_SET,
        ];
        let url = self.url_of(home);
        let response = self
            .dav
            .request(
                libdav::dav::Propfind::new(home)
                    .with_properties(&PROPERTIES)
                    .with_depth(libdav::Depth::One),
            )
            .await
            .map_err(|e| dav_error(e, &url, self.user()))?;
        let found = collections_in(&response).map_err(|e| {
            Error::with_source(
                ErrorKind::InvalidData,
                format!("the server sent malformed XML: {url}"),
                e,
            )
        })?;
        let mut syncable = self
            .syncable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(found
            .into_iter()
            .map(|(collection, supports_sync)| {
                if supports_sync {
                    syncable.insert(collection.href.clone());
                }
                collection
            })
            .collect())
    }
}

/// The address books and calendars in a home's PROPFIND answer, each with whether it offers
/// sync-collection. Entries that are neither, or have no href, are skipped.
pub fn collections_in(
    response: &libdav::dav::PropfindResponse,
) -> std::result::Result<Vec<(CollectionInfo, bool)>, libdav::requests::ParseResponseError> {
    let document = response.xml_tree()?;
    let mut found = Vec::new();
    for entry in document
        .descendants()
        .filter(|n| n.tag_name() == names::RESPONSE)
    {
        let first =
            |name: &PropertyName<'_, '_>| entry.descendants().find(|n| n.tag_name() == *name);
        let text = |name: &PropertyName<'_, '_>| {
            first(name)
                .and_then(|n| n.text())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let has = |outer: &PropertyName<'_, '_>, inner: &PropertyName<'_, '_>| {
            first(outer).is_some_and(|n| n.descendants().any(|d| d.tag_name() == *inner))
        };
        let kind = if has(&names::RESOURCETYPE, &names::ADDRESSBOOK) {
            CollectionKind::Contacts
        } else if has(&names::RESOURCETYPE, &names::CALENDAR) {
            CollectionKind::Calendar
        } else {
            continue;
        };
        let Some(raw_href) = text(&names::HREF) else {
            continue;
        };
        // Kept as the server wrote it: some servers (Cyrus) compare hrefs byte for byte.
        let href = raw_href;
        let supports_sync = has(&names::SUPPORTED_REPORT_SET, &names::SYNC_COLLECTION);
        let contacts = kind == CollectionKind::Contacts;
        found.push((
            CollectionInfo {
                kind,
                name: last_segment(&href),
                display_name: text(&names::DISPLAY_NAME),
                description: text(if contacts {
                    &names::ADDRESSBOOK_DESCRIPTION
                } else {
                    &names::CALENDAR_DESCRIPTION
                }),
                color: if contacts {
                    None
                } else {
                    text(&names::CALENDAR_COLOUR)
                },
                components: first(&names::SUPPORTED_CALENDAR_COMPONENT_SET)
                    .map(|set| {
                        set.descendants()
                            .filter(|n| n.tag_name() == names::COMP)
                            .filter_map(|n| n.attribute("name"))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                sync_token: None,
                href: Href::new(href),
            },
            supports_sync,
        ));
    }
    Ok(found)
}

/// Some servers answer 404 for a home-set property they do not have: that service is absent.
fn tolerate_missing(
    error: WebDavError<HttpError>,
    principal: &str,
    user: Option<&str>,
) -> Result<Vec<String>> {
    match error {
        WebDavError::BadStatusCode(http::StatusCode::NOT_FOUND) => Ok(Vec::new()),
        WebDavError::InvalidResponse(_) => Ok(Vec::new()),
        other => Err(dav_error(other, principal, user)),
    }
}

impl DavSource {
    /// The collection's items from one PROPFIND Depth 1. Only resourcetype, plus getetag when
    /// `with_etags`: libdav's ListResources also asks for getcontenttype, which Radicale works
    /// out by reading every item, and a getetag request makes Radicale hash the whole
    /// collection once more for the collection's own ETag (about a second per 10,000 items
    /// each, measured with scripts/bench_export.py's data).
    async fn members(&self, collection: &CollectionInfo, with_etags: bool) -> Result<Vec<ItemRef>> {
        let properties: &[&str] = if with_etags {
            &["resourcetype", "getetag"]
        } else {
            &["resourcetype"]
        };
        let url = self.url_of(&collection.href);
        let entries = crate::dav::listing::propfind(&self.http, &url, properties).await?;
        let own = collection.href.trim_end_matches('/');
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_folder && href_key(&e.raw_href) != href_key(own))
            .map(|e| ItemRef {
                href: e.raw_href,
                etag: e.etag,
                size: None,
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl Source for DavSource {
    fn info(&self) -> SourceInfo {
        let host = self
            .dav
            .base_url
            .authority()
            .map_or_else(String::new, ToString::to_string);
        SourceInfo {
            kind: "carddav+caldav".to_owned(),
            label: match self.user() {
                Some(user) => format!("{user} at {host}"),
                None => host,
            },
            location: self.location.clone(),
        }
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        // Servers such as Radicale use one home for both services: ask each home once.
        let mut homes: Vec<&String> = Vec::new();
        for home in self.contact_homes.iter().chain(&self.calendar_homes) {
            if !homes.contains(&home) {
                homes.push(home);
            }
        }
        let mut all: Vec<CollectionInfo> = Vec::new();
        for home in homes {
            for collection in self.find_in_home(home).await? {
                if !all.iter().any(|c| c.href == collection.href) {
                    all.push(collection);
                }
            }
        }
        // Address books first, as before: archive folder names are claimed in this order.
        all.sort_by_key(|c| c.kind != CollectionKind::Contacts);
        Ok(all)
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        self.members(collection, true).await
    }

    async fn list_for_download(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        self.members(collection, false).await
    }

    async fn fetch(
        &self,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        self.fetch_items(collection, items, sink, cancel).await
    }

    async fn sync_token(&self, collection: &CollectionInfo) -> Result<Option<String>> {
        if !self.supports_sync(collection) {
            return Ok(None);
        }
        // Asked per collection (Depth 0), not in the home's Depth 1 PROPFIND: servers such as
        // Radicale compute a token by walking every item, and a home-level request makes them
        // do it for every collection, for each kind we look for.
        Ok(self
            .dav
            .request(libdav::dav::GetProperty::new(
                &collection.href,
                &names::SYNC_TOKEN,
            ))
            .await
            .ok()
            .and_then(|r| r.value))
    }

    async fn changes_since(
        &self,
        collection: &CollectionInfo,
        token: &str,
    ) -> Result<Option<Changes>> {
        if !self.supports_sync(collection) {
            return Ok(None);
        }
        let request = libdav::dav::SyncCollection::new(&collection.href).with_sync_token(token);
        match self.dav.request(request).await {
            Ok(response) => {
                let own = collection.href.trim_end_matches('/');
                Ok(Some(Changes {
                    sync_token: response.new_sync_token,
                    changed: response
                        .changed
                        .into_iter()
                        .filter(|r| r.href.trim_end_matches('/') != own && !r.href.ends_with('/'))
                        .map(|r| ItemRef {
                            href: Href::new(r.href),
                            etag: r.etag.map(Etag::new),
                            size: None,
                        })
                        .collect(),
                    deleted: response.deleted.into_iter().map(Href::new).collect(),
                }))
            }
            // The server forgot the token or refuses the report, or answers it with something
            // we cannot read: a full listing (and multigets that fall back to GET) still works.
            Err(
                WebDavError::PreconditionFailed(_)
                | WebDavError::Xml(_)
                | WebDavError::InvalidResponse(_),
            ) => Ok(None),
            Err(WebDavError::BadStatusCode(status))
                if status.is_client_error() && status != http::StatusCode::UNAUTHORIZED =>
            {
                Ok(None)
            }
            Err(error) => Err(dav_error(
                error,
                &self.url_of(&collection.href),
                self.user(),
            )),
        }
    }

    fn requests_made(&self) -> u64 {
        self.http.stats().requests()
    }
}

impl DavSource {
    fn supports_sync(&self, collection: &CollectionInfo) -> bool {
        self.syncable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&collection.href)
    }
}
