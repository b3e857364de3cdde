//! A WebDAV photo folder (Nextcloud `Photos/`, `InstantUpload/`, any WebDAV share): a recursive
//! PROPFIND walk (`listing.rs`), then each file's original bytes streamed with bounded
//! concurrency.

use futures_util::{StreamExt, TryStreamExt};
use http::Uri;

use crate::dav::http::HttpClient;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, ItemRef, Warning, href_key};
use crate::progress::CancelToken;
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
        crate::dav::http::url_for_href(&self.root, href)
    }

    /// Every file below `top`. Each folder is listed once (a server whose folders list each
    /// other would otherwise be walked for ever), at most [`MAX_DEPTH`] deep, and only hrefs
    /// inside `top` are taken; what is refused is reported. Entries are used as the listing
    /// is read ([`Walk`]), so a million-file folder is held once, as `found`.
    async fn walk(&self, top: &str, found: &mut Vec<ItemRef>) -> Result<()> {
        let mut walk = Walk::new(top, found);
        while let Some((folder, depth)) = walk.pending.pop() {
            walk.begin(&folder, depth);
            // Our own PROPFIND instead of libdav's `ListResources`: it also asks for each
            // file's length, the witness that a download is whole.
            crate::dav::listing::propfind_into(
                &self.http,
                &self.url_of(&folder),
                &["resourcetype", "getetag", "getcontentlength"],
                &mut walk,
            )
            .await?;
        }
        let problems = walk.finish();
        self.problems
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(problems);
        Ok(())
    }
}

/// Refused hrefs reported one by one; past this many a server listing garbage gets one
/// summary line instead of a warning per entry held in memory.
const MAX_PROBLEMS: usize = 1000;

/// The state of one photo-folder walk, fed each listed entry as it is read.
struct Walk<'a> {
    top: &'a str,
    found: &'a mut Vec<ItemRef>,
    /// Folders still to list, with their depth below `top`.
    pending: Vec<(String, usize)>,
    /// Folders listed or waiting, by [`href_key`].
    visited: std::collections::HashSet<String>,
    problems: Vec<Warning>,
    /// The hrefs of `problems`: an href listed again by another folder is reported once.
    reported: std::collections::HashSet<String>,
    /// Refusals past [`MAX_PROBLEMS`].
    unreported: usize,
    /// The folder being listed, without its trailing slash, and its depth.
    folder: String,
    depth: usize,
    /// Lengths of `found`, `pending`, `problems` and `unreported` when this folder's listing
    /// began: a listing asked for again after a break starts over from here.
    marks: (usize, usize, usize, usize),
}

impl<'a> Walk<'a> {
    fn new(top: &'a str, found: &'a mut Vec<ItemRef>) -> Self {
        Self {
            top,
            found,
            pending: vec![(top.to_owned(), 0)],
            visited: std::collections::HashSet::from([href_key(top.trim_end_matches('/'))]),
            problems: Vec::new(),
            reported: std::collections::HashSet::new(),
            unreported: 0,
            folder: String::new(),
            depth: 0,
            marks: (0, 0, 0, 0),
        }
    }

    fn begin(&mut self, folder: &str, depth: usize) {
        folder.trim_end_matches('/').clone_into(&mut self.folder);
        self.depth = depth;
        self.marks = (
            self.found.len(),
            self.pending.len(),
            self.problems.len(),
            self.unreported,
        );
    }

    fn refuse(&mut self, href: String, why: &str) {
        if self.reported.contains(&href) {
            return;
        }
        if self.problems.len() >= MAX_PROBLEMS {
            self.unreported += 1;
            return;
        }
        self.problems
            .push(Warning::new("outside-folder", why).at_href(&href));
        self.reported.insert(href);
    }

    /// The files found, sorted and each once (a file listed by two folders that are one is
    /// kept once), and the problems to report.
    fn finish(self) -> Vec<Warning> {
        // Compared by their decoded bytes without building a key per file: a million keys
        // would double the walk's memory.
        self.found
            .sort_unstable_by(|a, b| decoded(a).cmp(decoded(b)).then_with(|| a.href.cmp(&b.href)));
        self.found.dedup_by(|a, b| decoded(a).eq(decoded(b)));
        let mut problems = self.problems;
        if self.unreported > 0 {
            problems.push(Warning::new(
                "outside-folder",
                format!(
                    "{} more entries the server listed were refused like the ones above; they are not named one by one",
                    self.unreported
                ),
            ));
        }
        problems
    }
}

/// An href's decoded bytes, without its trailing slash: what tells two files apart.
fn decoded(item: &ItemRef) -> percent_encoding::PercentDecode<'_> {
    percent_encoding::percent_decode_str(item.href.trim_end_matches('/'))
}

impl crate::dav::listing::Entries for Walk<'_> {
    fn entry(&mut self, entry: crate::dav::listing::ListedEntry) {
        let mut href = entry.href;
        if href.trim_end_matches('/') == self.folder {
            return;
        }
        if self.reported.contains(&href) {
            return;
        }
        if !inside(&href, self.top) {
            self.refuse(
                href,
                "the server listed this outside the photo folder; it was not fetched",
            );
        } else if !entry.is_folder {
            href.shrink_to_fit();
            self.found.push(ItemRef {
                href: Href::new(href),
                etag: entry.etag,
                size: entry.size,
            });
        } else if self.depth + 1 > MAX_DEPTH {
            self.refuse(
                href,
                &format!("this folder is more than {MAX_DEPTH} levels deep; it was not walked"),
            );
        } else if self.visited.insert(href_key(&href)) {
            self.pending.push((href, self.depth + 1));
        } else {
            self.refuse(
                href,
                "this folder was listed again (the server's folders form a loop); it was walked once",
            );
        }
    }

    fn restart(&mut self) {
        let (found, pending, problems, unreported) = self.marks;
        self.found.truncate(found);
        for (folder, _) in self.pending.drain(pending..) {
            self.visited.remove(&href_key(&folder));
        }
        for problem in self.problems.drain(problems..) {
            if let Some(href) = problem.href {
                self.reported.remove(&href);
            }
        }
        self.unreported = unreported;
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
            href: Href::new(href),
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
        // Made one at a time as a slot frees: a future per photo up front would hold a
        // million of them for a million photos.
        futures_util::stream::iter(
            (0..items.len()).map(|i| self.fetch_one(&items[i], sink, cancel)),
        )
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
    #![allow(clippy::unwrap_used)]
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

    fn listed(href: &str, is_folder: bool) -> crate::dav::listing::ListedEntry {
        crate::dav::listing::ListedEntry {
            href: href.to_owned(),
            raw_href: Href::from(href),
            etag: None,
            size: Some(1),
            is_folder,
        }
    }

    #[test]
    fn a_listing_read_again_after_a_break_counts_each_entry_once() {
        use crate::dav::listing::Entries as _;
        let mut found = Vec::new();
        let mut walk = Walk::new("/photos/", &mut found);
        let (top, depth) = walk.pending.pop().unwrap();
        walk.begin(&top, depth);
        let first_half = [
            listed("/photos/", true),
            listed("/photos/a.jpg", false),
            listed("/photos/album/", true),
            listed("/elsewhere/x.jpg", false),
        ];
        for entry in first_half.clone() {
            walk.entry(entry);
        }
        // The answer broke off and came again whole.
        walk.restart();
        for entry in first_half {
            walk.entry(entry);
        }
        walk.entry(listed("/photos/b%20c.jpg", false));
        walk.entry(listed("/photos/b c.jpg", false));
        assert_eq!(walk.pending, [("/photos/album/".to_owned(), 1)]);
        let problems = walk.finish();
        let hrefs: Vec<&str> = found.iter().map(|i| i.href.as_str()).collect();
        // The same file under two spellings is one file.
        assert_eq!(hrefs, ["/photos/a.jpg", "/photos/b c.jpg"]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].href.as_deref(), Some("/elsewhere/x.jpg"));
    }

    #[test]
    fn a_flood_of_refused_hrefs_is_named_up_to_a_limit_then_counted() {
        use crate::dav::listing::Entries as _;
        let mut found = Vec::new();
        let mut walk = Walk::new("/photos/", &mut found);
        walk.begin("/photos/", 0);
        for i in 0..MAX_PROBLEMS + 250 {
            walk.entry(listed(&format!("/elsewhere/{i}.jpg"), false));
        }
        let problems = walk.finish();
        assert_eq!(problems.len(), MAX_PROBLEMS + 1);
        assert!(
            problems[MAX_PROBLEMS].message.starts_with("250 more"),
            "{:?}",
            problems[MAX_PROBLEMS]
        );
    }
}
