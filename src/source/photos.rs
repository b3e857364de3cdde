//! A WebDAV photo folder (Nextcloud `Photos/`, `InstantUpload/`, any WebDAV share): a recursive
//! PROPFIND walk through libdav, then each file's original bytes streamed with bounded
//! concurrency.

use futures_util::{StreamExt, TryStreamExt};
use http::Uri;
use libdav::dav::WebDavClient;
use libdav::{PropertyName, names};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{CollectionInfo, CollectionKind, ItemRef, Warning, href_key};
use crate::progress::CancelToken;
use crate::source::http::{DavService, HttpClient};
use crate::source::{ItemSink, Source, SourceInfo, last_segment};

/// Downloads in flight at once: enough to hide latency, few enough not to hammer a home server.
pub const PHOTO_CONCURRENCY: usize = 4;

/// A failed PROPFIND of a photo folder, as an error naming the URL.
pub(crate) fn listing_error(
    error: libdav::dav::WebDavError<crate::source::http::HttpError>,
    url: &str,
    user: Option<&str>,
) -> Error {
    match error {
        libdav::dav::WebDavError::BadStatusCode(status) => {
            crate::source::http::status_error(status, url, user)
        }
        libdav::dav::WebDavError::Request(libdav::dav::RequestError::Client(e)) => {
            e.into_error(url)
        }
        other => Error::with_source(
            ErrorKind::NotDav,
            format!("this is not a WebDAV folder we can use: {url}"),
            other,
        ),
    }
}

/// `DAV:getcontentlength`, which libdav has no name for.
const GETCONTENTLENGTH: PropertyName<'static, 'static> =
    PropertyName::new(names::DAV, "getcontentlength");

/// One file or folder of a photo folder's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// Normalised as libdav normalises hrefs (for the photo walk's checks and file names).
    pub href: String,
    /// Exactly as the server wrote it (only an absolute URL cut to its path): what is sent
    /// back to CalDAV/CardDAV servers, which may compare hrefs byte for byte.
    pub raw_href: String,
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub is_folder: bool,
}

/// The entries of a PROPFIND Depth 1 answer for a folder or collection (itself included),
/// with hrefs normalised as libdav normalises them, so that they compare with earlier
/// snapshots. Also parses the CalDAV/CardDAV item listings of [`super::dav`].
pub fn entries_in(
    response: &libdav::dav::PropfindResponse,
) -> std::result::Result<Vec<ListedEntry>, libdav::requests::ParseResponseError> {
    let document = response.xml_tree()?;
    let mut entries = Vec::new();
    for node in document
        .descendants()
        .filter(|n| n.tag_name() == names::RESPONSE)
    {
        let first =
            |name: &PropertyName<'_, '_>| node.descendants().find(|n| n.tag_name() == *name);
        let Some(raw_href) = first(&names::HREF)
            .and_then(|n| n.text())
            .map(|h| absolute_path(h.trim()))
        else {
            continue;
        };
        let href = libdav::encoding::normalise_percent_encoded(raw_href)
            .map_or_else(|_| raw_href.to_owned(), std::borrow::Cow::into_owned);
        entries.push(ListedEntry {
            href,
            raw_href: raw_href.to_owned(),
            etag: first(&names::GETETAG)
                .and_then(|n| n.text())
                .map(str::to_owned),
            size: first(&GETCONTENTLENGTH)
                .and_then(|n| n.text())
                .and_then(|t| t.trim().parse().ok()),
            is_folder: first(&names::RESOURCETYPE)
                .is_some_and(|n| n.descendants().any(|d| d.tag_name() == names::COLLECTION)),
        });
    }
    Ok(entries)
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

#[derive(Debug)]
pub struct PhotoSource {
    http: HttpClient,
    dav: WebDavClient<DavService>,
    root: Uri,
    /// What the walk refused (hrefs outside the folder, loops, too deep), reported by the
    /// first fetch.
    problems: std::sync::Mutex<Vec<Warning>>,
}

/// Folders deeper than this below the photo folder are not walked: real libraries nest a
/// handful of levels, a server whose folder is its own child nests without end.
const MAX_DEPTH: usize = 32;

/// Whether `href` names something inside the folder `root` (both absolute paths): no `..`
/// or `.` segment and no backslash, percent-encoded or not, may lead out of it.
fn inside(href: &str, root: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(href).decode_utf8_lossy();
    let root = percent_encoding::percent_decode_str(root).decode_utf8_lossy();
    let root = root.trim_end_matches('/');
    decoded.starts_with('/')
        && (decoded.trim_end_matches('/') == root || decoded.starts_with(&format!("{root}/")))
        && !decoded.contains('\\')
        && !decoded.split('/').any(|part| part == ".." || part == ".")
}

impl PhotoSource {
    pub fn new(url: &str, http: HttpClient) -> Result<Self> {
        let root: Uri = crate::source::dav::starting_url(url)?;
        http.trust(&root);
        let dav = WebDavClient::new(root.clone(), http.dav_service());
        Ok(Self {
            http,
            dav,
            root,
            problems: std::sync::Mutex::default(),
        })
    }

    fn url_of(&self, href: &str) -> String {
        crate::source::http::url_for_href(&self.root, href)
    }

    /// Every file below `top`. Each folder is listed once (a server whose folders list each
    /// other would otherwise be walked for ever), at most [`MAX_DEPTH`] deep, and only hrefs
    /// inside `top` are taken; what is refused is reported.
    async fn walk(&self, top: &str, found: &mut Vec<ItemRef>) -> Result<()> {
        let mut pending = vec![(top.to_owned(), 0usize)];
        let mut visited = std::collections::HashSet::from([href_key(top.trim_end_matches('/'))]);
        let mut files = std::collections::HashSet::new();
        let mut problems = Vec::new();
        while let Some((folder, depth)) = pending.pop() {
            // Our own PROPFIND instead of libdav's `ListResources`: it also asks for each
            // file's length, the witness that a download is whole.
            let response = self
                .dav
                .request(
                    libdav::dav::Propfind::new(&folder)
                        .with_properties(&[
                            &names::RESOURCETYPE,
                            &names::GETETAG,
                            &GETCONTENTLENGTH,
                        ])
                        .with_depth(libdav::Depth::One),
                )
                .await
                .map_err(|e| {
                    listing_error(e, &self.url_of(&folder), self.http.credentials().user())
                })?;
            let entries = entries_in(&response).map_err(|e| {
                Error::with_source(
                    ErrorKind::InvalidData,
                    format!("the server sent malformed XML: {}", self.url_of(&folder)),
                    e,
                )
            })?;
            let own = folder.trim_end_matches('/');
            for entry in entries {
                if entry.href.trim_end_matches('/') == own {
                    continue;
                }
                let refused = |why: &str| Warning::new("outside-folder", why).at_href(&entry.href);
                // Listed again by another folder: reported once.
                if problems
                    .iter()
                    .any(|p: &Warning| p.href.as_deref() == Some(&entry.href))
                {
                    continue;
                }
                let key = href_key(entry.href.trim_end_matches('/'));
                if !inside(&entry.href, top) {
                    problems.push(refused(
                        "the server listed this outside the photo folder; it was not fetched",
                    ));
                } else if !entry.is_folder {
                    if files.insert(key) {
                        found.push(ItemRef {
                            href: entry.href,
                            etag: entry.etag,
                            size: entry.size,
                        });
                    }
                } else if depth + 1 > MAX_DEPTH {
                    problems.push(refused(&format!(
                        "this folder is more than {MAX_DEPTH} levels deep; it was not walked"
                    )));
                } else if visited.insert(key) {
                    pending.push((entry.href, depth + 1));
                } else {
                    problems.push(refused(
                        "this folder was listed again (the server's folders form a loop); it was walked once",
                    ));
                }
            }
        }
        found.sort_by(|a, b| a.href.cmp(&b.href));
        self.problems
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(problems);
        Ok(())
    }
}

impl PhotoSource {
    async fn fetch_one(
        &self,
        item: &ItemRef,
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        cancel.check()?;
        let url = self.url_of(&item.href);
        let problem = match self.http.get_resuming(&url, item.size).await {
            Ok(body) => match sink
                .stream(item.href.clone(), item.etag.clone(), body)
                .await
            {
                // The server began sending this file, then the body kept breaking off or
                // arrived short: that file's problem. (The sink's own failures are local
                // ones, disk full and the like, and end the job.)
                Err(error)
                    if matches!(error.kind(), ErrorKind::Network | ErrorKind::InvalidData) =>
                {
                    Err((
                        Some(
                            "the download kept breaking off or ending before its listed length"
                                .to_owned(),
                        ),
                        error,
                    ))
                }
                other => other.map_err(|e| (None, e)),
            },
            Err(error) => Err((one_file_problem(&error), error)),
        };
        match problem {
            Ok(()) => Ok(()),
            // One file the server will not give us costs that file, not the backup (Source
            // contract, rule 4); the run reports it as missing.
            Err((Some(why), _)) => {
                sink.warn(Warning::new("unavailable", why).at_href(&item.href));
                Ok(())
            }
            Err((None, error)) => Err(error),
        }
    }
}

/// Why a failed download concerns only that one file, or `None` for a failure of the whole
/// job (the connection is gone, the server is overloaded, the disk is full). The listing was
/// answered with the same password, so a 401/403 on one file is about that file.
fn one_file_problem(error: &Error) -> Option<String> {
    match error.kind() {
        ErrorKind::NotFound => Some("the file disappeared before it was copied".to_owned()),
        ErrorKind::Auth => Some(
            "the server refused access to this one file, though it let us list the folder"
                .to_owned(),
        ),
        ErrorKind::Server | ErrorKind::InvalidData => {
            Some(format!("the server could not send this file ({error})"))
        }
        _ => None,
    }
}

#[async_trait::async_trait]
impl Source for PhotoSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "webdav-photos".to_owned(),
            label: format!(
                "photos at {}",
                self.root.authority().map_or("", |a| a.as_str())
            ),
            location: self.root.to_string(),
        }
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let path = self.root.path();
        let href = if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        let name = match last_segment(&href) {
            name if name.is_empty() => "photos".to_owned(),
            name => name,
        };
        Ok(vec![CollectionInfo {
            kind: CollectionKind::Photos,
            href,
            display_name: Some(name.clone()),
            name,
            description: None,
            color: None,
            components: Vec::new(),
            sync_token: None,
        }])
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        let mut found = Vec::new();
        self.walk(&collection.href, &mut found).await?;
        Ok(found)
    }

    async fn fetch(
        &self,
        _collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let problems = std::mem::take(
            &mut *self
                .problems
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for problem in problems {
            sink.warn(problem);
        }
        let downloads: Vec<_> = items
            .iter()
            .map(|item| self.fetch_one(item, sink, cancel))
            .collect();
        futures_util::stream::iter(downloads)
            .buffer_unordered(PHOTO_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    fn requests_made(&self) -> u64 {
        self.http.stats().requests()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hrefs_inside_the_folder_are_taken() {
        for href in ["/Photos/a.jpg", "/Photos/album/b%20c.jpg", "/Photos/"] {
            assert!(inside(href, "/Photos/"), "{href}");
        }
        for href in [
            "/Photos/%2e%2e/%2e%2e/escape2.jpg",
            "/Photos/../x.jpg",
            "/Photos/a%5C..%5C..%5Cwin.jpg",
            "@127.0.0.1:18132/x.jpg",
            "/Photos2/x.jpg",
            "/elsewhere/y.jpg",
        ] {
            assert!(!inside(href, "/Photos/"), "{href}");
        }
    }

    #[test]
    fn absolute_url_hrefs_become_paths_on_our_own_server() {
        assert_eq!(absolute_path("/photos/a.jpg"), "/photos/a.jpg");
        assert_eq!(absolute_path("http://host/photos/a.jpg"), "/photos/a.jpg");
        assert_eq!(absolute_path("HTTPS://host:8443/p/"), "/p/");
        assert_eq!(absolute_path("http://elsewhere"), "/");
    }
}
