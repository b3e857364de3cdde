//! Restoring into a CalDAV/CardDAV account: the account found as for export, collections
//! created with extended MKCOL / MKCALENDAR through libdav, items stored with conditional PUTs
//! of their exact bytes, and Radicale's one-request collection upload.

use libdav::caldav::CalendarComponent;
use libdav::{PropertyName, names};

use crate::archive::layout::safe_segment;
use crate::dav::http::{HttpClient, backoff, url_for_href};
use crate::destination::{
    PutMode, PutOutcome, StoredItem, Target, fetch_from, http_put, http_put_retried,
};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, ItemRef};
use crate::source::dav::{DavSource, dav_error};
use crate::source::{Source, SourceInfo};

/// Radicale names itself with this property; no header says which server answers.
const RADICALE_VERSION: PropertyName = PropertyName::new("http://radicale.org/ns/", "version");

#[derive(Debug)]
pub struct DavTarget {
    account: DavSource,
    /// Radicale creates a whole collection from one PUT of a merged file, at a cost that
    /// does not grow with the collection (a one-by-one create checks the new UID against
    /// every item: ~90 ms each at 3,000 items, against ~5 ms for replacing an item). Address
    /// books come out byte for byte as one-by-one uploads would; calendars get Radicale's
    /// PRODID, lose METHOD and have VTIMEZONEs rewritten, which the restore job repairs by
    /// re-sending those items (`If-Match`).
    whole_collection_upload: bool,
}

impl DavTarget {
    pub async fn connect(input: &str, http: HttpClient) -> Result<Self> {
        let account = DavSource::connect(input, http).await?;
        let probe = account
            .contact_homes
            .first()
            .or(account.calendar_homes.first())
            .cloned()
            .unwrap_or_default();
        let radicale = account
            .dav
            .request(libdav::dav::GetProperty::new(&probe, &RADICALE_VERSION))
            .await
            .ok()
            .and_then(|r| r.value)
            .is_some();
        Ok(Self {
            account,
            whole_collection_upload: radicale,
        })
    }

    fn url_of(&self, href: &str) -> String {
        url_for_href(&self.account.dav.base_url, href)
    }

    /// One PROPPATCH with the archived display name, description, colour and (calendars)
    /// component set. Servers that keep fewer properties are not worth failing a restore
    /// for: problems are logged.
    async fn set_collection_properties(&self, href: &str, info: &CollectionInfo) {
        let mut props = String::new();
        if let Some(name) = &info.display_name {
            props += &format!("<D:displayname>{}</D:displayname>", xml_text(name));
        }
        let calendar = info.kind == CollectionKind::Calendar;
        if let Some(description) = &info.description {
            let element = if calendar {
                "C:calendar-description"
            } else {
                "A:addressbook-description"
            };
            props += &format!("<{element}>{}</{element}>", xml_text(description));
        }
        if let (Some(color), true) = (&info.color, calendar) {
            props += &format!("<I:calendar-color>{}</I:calendar-color>", xml_text(color));
        }
        if calendar && !info.components.is_empty() {
            props += "<C:supported-calendar-component-set>";
            for component in &info.components {
                props += &format!(r#"<C:comp name="{}"/>"#, xml_text(component));
            }
            props += "</C:supported-calendar-component-set>";
        }
        if props.is_empty() {
            return;
        }
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="urn:ietf:params:xml:ns:carddav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>{props}</D:prop></D:set></D:propertyupdate>"#
        );
        let url = self.url_of(href);
        let request = http::Request::builder()
            .method(http::Method::from_bytes(b"PROPPATCH").unwrap_or(http::Method::PUT))
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/xml; charset=utf-8")
            .body(body);
        let status = match request {
            Ok(request) => self.account.http.send(request).await.map(|r| r.status()),
            Err(error) => {
                tracing::warn!(%url, %error, "could not build a PROPPATCH");
                return;
            }
        };
        match status {
            Ok(status) if status.is_success() => {}
            other => tracing::warn!(%url, ?other, "the server kept no collection properties"),
        }
    }

    async fn set_property(&self, href: &str, property: &PropertyName<'_, '_>, value: &str) {
        // A server that keeps no description is not worth failing the restore for.
        let result = self
            .account
            .dav
            .request(libdav::dav::SetProperty::new(href, property, Some(value)))
            .await;
        if let Err(error) = result {
            tracing::warn!(%href, %error, "could not set a collection property");
        }
    }
}

/// Text for an XML element or attribute.
fn xml_text(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn calendar_components(info: &CollectionInfo) -> Vec<CalendarComponent> {
    info.components
        .iter()
        .map(|c| match c.to_ascii_uppercase().as_str() {
            "VEVENT" => CalendarComponent::VEvent,
            "VTODO" => CalendarComponent::VTodo,
            "VJOURNAL" => CalendarComponent::VJournal,
            "VFREEBUSY" => CalendarComponent::VFreeBusy,
            other => CalendarComponent::Other(other.to_owned()),
        })
        .collect()
}

#[async_trait::async_trait]
impl Target for DavTarget {
    fn requires_uid(&self) -> bool {
        true
    }

    fn info(&self) -> SourceInfo {
        self.account.info()
    }

    fn accepts(&self, kind: CollectionKind) -> bool {
        match kind {
            CollectionKind::Contacts => !self.account.contact_homes.is_empty(),
            CollectionKind::Calendar => !self.account.calendar_homes.is_empty(),
            CollectionKind::Photos => false,
        }
    }

    async fn collections(&self, kind: CollectionKind) -> Result<Vec<CollectionInfo>> {
        Ok(self
            .account
            .collections()
            .await?
            .into_iter()
            .filter(|c| c.kind == kind)
            .collect())
    }

    fn new_collection_href(&self, kind: CollectionKind, name: &str) -> Result<Href> {
        let homes = match kind {
            CollectionKind::Contacts => &self.account.contact_homes,
            _ => &self.account.calendar_homes,
        };
        let home = homes.first().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "this account has no place for {}: {}",
                    kind.folder(),
                    self.account.info().location
                ),
            )
        })?;
        Ok(Href::new(format!(
            "{}/{}/",
            home.trim_end_matches('/'),
            safe_segment(name)
        )))
    }

    async fn create_collection(&self, href: &str, info: &CollectionInfo) -> Result<()> {
        // MKCOL/MKCALENDAR are not idempotent: after a broken connection or a 5xx, look
        // whether the first attempt made the collection before sending another.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.make_collection(href, info).await {
                Err(Creation::Transient(error)) if attempt < 3 => {
                    tracing::debug!(%href, %error, "creating the collection failed; checking");
                    tokio::time::sleep(backoff(attempt)).await;
                    if self.collection_exists(href).await {
                        return Ok(());
                    }
                }
                // 405: a collection is there already, though the plan found the href free:
                // another restore into the same account made it meanwhile. Using it is safe,
                // since every item goes up with `If-None-Match: *`.
                Err(Creation::Exists(error)) => {
                    return if self.collection_exists(href).await {
                        Ok(())
                    } else {
                        Err(error)
                    };
                }
                Err(Creation::Transient(error) | Creation::Failed(error)) => return Err(error),
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        self.account.list(collection).await
    }

    async fn fetch(&self, collection: &CollectionInfo, hrefs: &[Href]) -> Result<Vec<StoredItem>> {
        fetch_from(&self.account, collection, hrefs).await
    }

    async fn put(
        &self,
        href: &str,
        kind: CollectionKind,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<PutOutcome> {
        http_put(&self.account.http, &self.url_of(href), kind, bytes, &mode).await
    }

    async fn create_collection_with(
        &self,
        href: &str,
        info: &CollectionInfo,
        items: &[&[u8]],
    ) -> Result<bool> {
        if !self.whole_collection_upload {
            return Ok(false);
        }
        // Radicale names items of such an upload after their UID and then refuses requests for
        // names with characters like `*`; it cannot read non-UTF-8 at all. Those go one by one.
        let items: Vec<&[u8]> = items
            .iter()
            .copied()
            .filter(|item| {
                std::str::from_utf8(item).is_ok()
                    && crate::vobject::uid_of(item).is_some_and(|uid| safe_segment(&uid) == *uid)
            })
            .collect();
        if items.len() < 2 {
            return Ok(false);
        }
        let mut merged = Vec::with_capacity(items.iter().map(|i| i.len() + 2).sum());
        match info.kind {
            CollectionKind::Contacts => {
                for item in &items {
                    crate::vobject::append_vcard(&mut merged, item);
                }
            }
            CollectionKind::Calendar => {
                let mut calendar = crate::vobject::MergedCalendar::default();
                for item in &items {
                    calendar.add_header_and_timezones(item);
                }
                merged = calendar.opening();
                for item in &items {
                    merged.extend_from_slice(&crate::vobject::components_of(item));
                }
                merged.extend_from_slice(crate::vobject::MergedCalendar::closing());
            }
            CollectionKind::Photos => return Ok(false),
        }
        // If-None-Match: a PUT on an existing collection would replace all of it.
        let url = self.url_of(href);
        if super::condition_fails_already(&self.account.http, &url, &PutMode::Create).await {
            return Ok(false);
        }
        let (outcome, retried) = http_put_retried(
            &self.account.http,
            &url,
            info.kind,
            merged.into(),
            &PutMode::Create,
        )
        .await?;
        match outcome {
            // The upload creates a bare collection: name, colour, description and the
            // component set follow in one PROPPATCH. After a lost answer, a 412 is our own
            // first attempt: the plan found the href free, and the job finds the items by UID.
            PutOutcome::Stored { .. } => {
                self.set_collection_properties(href, info).await;
                Ok(true)
            }
            PutOutcome::AlreadyExists if retried => {
                self.set_collection_properties(href, info).await;
                Ok(true)
            }
            PutOutcome::AlreadyExists | PutOutcome::Refused { .. } => {
                tracing::info!(%href, ?outcome, "one-request upload refused; going one by one");
                Ok(false)
            }
        }
    }

    fn requests_made(&self) -> u64 {
        self.account.requests_made()
    }
}

/// A failed MKCOL/MKCALENDAR: `Transient` when the first attempt may have landed or may
/// succeed again (a broken connection, a 5xx), so that checking and retrying make sense; any
/// other answer (405: something is there already) stays an error.
#[derive(Debug)]
enum Creation {
    Transient(Error),
    /// 405 Method Not Allowed: something exists at the href.
    Exists(Error),
    Failed(Error),
}

impl Creation {
    fn from_dav(
        error: libdav::dav::WebDavError<crate::dav::http::HttpError>,
        url: &str,
        user: Option<&str>,
    ) -> Self {
        let transient = match &error {
            libdav::dav::WebDavError::Request(_) => true,
            libdav::dav::WebDavError::BadStatusCode(status) => status.is_server_error(),
            _ => false,
        };
        let exists = matches!(
            &error,
            libdav::dav::WebDavError::BadStatusCode(http::StatusCode::METHOD_NOT_ALLOWED)
        );
        let error = dav_error(error, url, user);
        if transient {
            Self::Transient(error)
        } else if exists {
            Self::Exists(error)
        } else {
            Self::Failed(error)
        }
    }
}

impl DavTarget {
    async fn collection_exists(&self, href: &str) -> bool {
        self.account
            .dav
            .request(libdav::dav::GetProperty::new(href, &names::RESOURCETYPE))
            .await
            .is_ok()
    }

    async fn make_collection(
        &self,
        href: &str,
        info: &CollectionInfo,
    ) -> std::result::Result<(), Creation> {
        let user = self.account.user();
        let url = self.url_of(href);
        match info.kind {
            CollectionKind::Contacts => {
                let mut request = libdav::carddav::CreateAddressBook::new(href);
                if let Some(name) = &info.display_name {
                    request = request.with_display_name(name);
                }
                if let Some(description) = &info.description {
                    request = request.with_description(description);
                }
                self.account
                    .dav
                    .request(request)
                    .await
                    .map_err(|e| Creation::from_dav(e, &url, user))?;
            }
            CollectionKind::Calendar => {
                let components = calendar_components(info);
                let mut request = libdav::caldav::CreateCalendar::new(href);
                if let Some(name) = &info.display_name {
                    request = request.with_display_name(name);
                }
                if let Some(color) = &info.color {
                    request = request.with_colour(color);
                }
                if !components.is_empty() {
                    request = request.with_components(&components);
                }
                self.account
                    .dav
                    .request(request)
                    .await
                    .map_err(|e| Creation::from_dav(e, &url, user))?;
                if let Some(description) = &info.description {
                    self.set_property(href, &names::CALENDAR_DESCRIPTION, description)
                        .await;
                }
            }
            CollectionKind::Photos => {
                return Err(Creation::Failed(Error::new(
                    ErrorKind::InvalidInput,
                    "photos go to a WebDAV photo folder or a folder, not to a CalDAV/CardDAV account",
                )));
            }
        }
        // Some servers make the collection but drop the name sent with it (SOGo's MKCOL
        // names a task list after its href): a PROPPATCH sets it again.
        if let Some(name) = &info.display_name {
            self.set_property(href, &names::DISPLAY_NAME, name).await;
        }
        Ok(())
    }
}
