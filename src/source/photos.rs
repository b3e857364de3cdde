//! A WebDAV photo folder (Nextcloud `Photos/`, `InstantUpload/`, any WebDAV share): a recursive
//! PROPFIND walk (`listing.rs`), then each file's original bytes streamed with bounded
//! concurrency.

use futures_util::{StreamExt, TryStreamExt};
use http::Uri;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{CollectionInfo, CollectionKind, ItemRef, Warning, href_key};
use crate::progress::CancelToken;
use crate::source::http::HttpClient;
use crate::source::{ItemSink, Source, SourceInfo, last_segment};

/// Downloads in flight at once: enough to hide latency, few enough not to hammer a home server.
pub const PHOTO_CONCURRENCY: usize = 4;

#[derive(Debug)]
pub struct PhotoSource {
    http: HttpClient,
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
        Ok(Self {
            http,
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
            let entries = crate::source::listing::propfind(
                &self.http,
                &self.url_of(&folder),
                &["resourcetype", "getetag", "getcontentlength"],
            )
            .await?;
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
                .stream(item.href.clone(), item.etag.clone(), cancel.guard(body))
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
}
