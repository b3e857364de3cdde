//! A phone or folder on this computer (a mounted phone, an SD card, an old export): finds
//! `.vcf`/`.ics` files and photos recursively, cuts multi-item files into items byte for byte,
//! and keeps every file whose cut is not an exact partition as an original too.
//!
//! Every file is kept whatever its name's encoding: a name that is not UTF-8 (Latin-1 from an
//! old phone) gets an href with its invalid bytes as `%XX`, and the file is read by its real
//! name. Links are not followed (a loop must not hang us, and a backup copies files, not what
//! links point to) but each is reported; a subfolder that cannot be read is reported too,
//! and the rest is archived.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;

use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::model::{CollectionInfo, CollectionKind, ItemRef, Warning};
use crate::progress::CancelToken;
use crate::source::{ItemSink, Source, SourceInfo};
use crate::vobject;

const CONTACT_EXTENSIONS: &[&str] = &["vcf", "vcard"];
const CALENDAR_EXTENSIONS: &[&str] = &["ics", "ical", "icalendar", "vcs"];
/// Images and the videos phones keep beside them; kept as they are.
const MEDIA_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "heic", "heif", "webp", "tif", "tiff", "bmp", "dng", "raw", "cr2",
    "nef", "arw", "mp4", "mov", "3gp", "m4v", "mp", "avi", "mkv", "webm",
];

/// Which collection a file belongs to, by its extension.
pub fn kind_of(path: &Path) -> Option<CollectionKind> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    if CONTACT_EXTENSIONS.contains(&extension.as_str()) {
        Some(CollectionKind::Contacts)
    } else if CALENDAR_EXTENSIONS.contains(&extension.as_str()) {
        Some(CollectionKind::Calendar)
    } else if MEDIA_EXTENSIONS.contains(&extension.as_str()) {
        Some(CollectionKind::Photos)
    } else {
        None
    }
}

#[derive(Debug)]
pub struct DeviceSource {
    root: PathBuf,
    name: String,
    /// One walk of the folder serves every collection's listing.
    scanned: tokio::sync::OnceCell<Scan>,
    /// The walk's warnings go into the first collection fetched.
    reported: AtomicBool,
}

#[derive(Debug)]
struct Scan {
    found: Vec<Found>,
    /// Real paths by href, for names that are not UTF-8.
    paths: HashMap<String, PathBuf>,
    problems: Vec<Warning>,
}

/// A file found under the root: its path relative to the root, with `/` separators.
#[derive(Debug, Clone)]
struct Found {
    relative: String,
    kind: CollectionKind,
    size: u64,
}

/// A regular file under a folder: its href (path relative to the folder, `/` separators,
/// bytes of a non-UTF-8 name as `%XX`), its real path and size.
#[derive(Debug, Clone)]
pub(crate) struct FolderFile {
    pub relative: String,
    pub path: PathBuf,
    pub size: u64,
}

/// What a folder walk found, and what it could not take (links, unreadable folders, names
/// that are not UTF-8), one warning each.
#[derive(Debug, Default)]
pub(crate) struct FolderWalk {
    pub files: Vec<FolderFile>,
    pub problems: Vec<Warning>,
}

impl DeviceSource {
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let metadata = std::fs::metadata(&root)
            .map_err(|e| Error::io("opening the device folder", &root, e))?;
        if !metadata.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("not a folder: {}", root.display()),
            ));
        }
        let name = root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "device".to_owned());
        Ok(Self {
            root,
            name,
            scanned: tokio::sync::OnceCell::new(),
            reported: AtomicBool::new(false),
        })
    }

    async fn scan(&self) -> Result<&[Found]> {
        Ok(&self.scanned().await?.found)
    }

    async fn scanned(&self) -> Result<&Scan> {
        let found = self
            .scanned
            .get_or_try_init(|| async {
                let root = self.root.clone();
                tokio::task::spawn_blocking(move || scan_folder(&root))
                    .await
                    .map_err(|e| Error::with_source(ErrorKind::Io, "the folder scan failed", e))?
            })
            .await?;
        Ok(found)
    }

    fn path_of(&self, scan: &Scan, relative: &str) -> PathBuf {
        scan.paths.get(relative).cloned().unwrap_or_else(|| {
            relative
                .split('/')
                .fold(self.root.clone(), |path, part| path.join(part))
        })
    }
}

/// The files of the folder this device source handles (by extension), sorted.
fn scan_folder(root: &Path) -> Result<Scan> {
    let walk = files_under(root)?;
    let mut paths = HashMap::new();
    let found = walk
        .files
        .into_iter()
        .filter_map(|file| {
            let kind = kind_of(Path::new(&file.relative))?;
            paths.insert(file.relative.clone(), file.path);
            Some(Found {
                relative: file.relative,
                kind,
                size: file.size,
            })
        })
        .collect();
    Ok(Scan {
        found,
        paths,
        problems: walk.problems,
    })
}

/// A file name as href text: UTF-8 as it is, the bytes of anything else as `%XX`; `true`
/// when the name was not UTF-8.
fn name_text(name: &std::ffi::OsStr) -> (String, bool) {
    if let Some(text) = name.to_str() {
        return (text.to_owned(), false);
    }
    #[cfg(unix)]
    {
        use std::fmt::Write as _;
        use std::os::unix::ffi::OsStrExt as _;
        let mut text = String::new();
        for chunk in name.as_bytes().utf8_chunks() {
            text.push_str(chunk.valid());
            for byte in chunk.invalid() {
                let _ = write!(text, "%{byte:02X}");
            }
        }
        (text, true)
    }
    #[cfg(not(unix))]
    {
        (name.to_string_lossy().into_owned(), true)
    }
}

/// The warning for a subfolder that could not be read (whole, or to its end).
fn unreadable_folder(prefix: &str, error: &std::io::Error) -> Warning {
    Warning::new(
        "unavailable",
        format!("this folder could not be read ({error}); what it holds is not in the archive"),
    )
    .at_href(format!("{prefix}/"))
}

/// Every regular file under `root`, sorted by href (module doc: names, links, unreadable
/// folders). Fails only when `root` itself cannot be read.
pub(crate) fn files_under(root: &Path) -> Result<FolderWalk> {
    let mut walk = FolderWalk::default();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if prefix.is_empty() => return Err(Error::io("reading a folder", &folder, e)),
            Err(e) => {
                walk.problems.push(unreadable_folder(&prefix, &e));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    walk.problems.push(unreadable_folder(&prefix, &e));
                    break;
                }
            };
            let (name, not_utf8) = name_text(&entry.file_name());
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(file_type) = entry.file_type() else {
                walk.problems.push(
                    Warning::new("unavailable", "this entry could not be read").at_href(&relative),
                );
                continue;
            };
            if not_utf8 {
                walk.problems.push(
                    Warning::new(
                        "name-not-utf8",
                        "this name is not UTF-8 (an old phone's or card's charset); kept, with its bytes that are not as %XX in the manifest",
                    )
                    .at_href(&relative),
                );
            }
            if file_type.is_dir() {
                pending.push((entry.path(), relative));
            } else if file_type.is_file() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                walk.files.push(FolderFile {
                    relative,
                    path: entry.path(),
                    size,
                });
            } else if file_type.is_symlink() {
                let points_to = std::fs::read_link(entry.path())
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                walk.problems.push(
                    Warning::new(
                        "skipped-link",
                        format!("a link (to {points_to}), not followed: a backup copies files, not what links point to"),
                    )
                    .at_href(&relative),
                );
            }
        }
    }
    walk.files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(walk)
}

#[async_trait::async_trait]
impl Source for DeviceSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "device".to_owned(),
            label: format!("folder {}", self.name),
            location: self.root.display().to_string(),
        }
    }

    async fn collections(&self) -> Result<Vec<CollectionInfo>> {
        let found = self.scan().await?;
        let mut collections = Vec::new();
        for kind in [
            CollectionKind::Contacts,
            CollectionKind::Calendar,
            CollectionKind::Photos,
        ] {
            if found.iter().any(|f| f.kind == kind) {
                let name = format!("{}-{}", self.name, kind.folder());
                collections.push(CollectionInfo {
                    kind,
                    href: Href::new(format!("{}/", kind.folder())),
                    display_name: Some(format!("{} from {}", kind.folder(), self.name)),
                    name,
                    description: None,
                    color: None,
                    components: Vec::new(),
                    sync_token: None,
                });
            }
        }
        Ok(collections)
    }

    async fn list(&self, collection: &CollectionInfo) -> Result<Vec<ItemRef>> {
        Ok(self
            .scan()
            .await?
            .iter()
            .filter(|f| f.kind == collection.kind)
            .map(|f| ItemRef {
                href: Href::new(f.relative.clone()),
                etag: None,
                size: Some(f.size),
            })
            .collect())
    }

    async fn fetch(
        &self,
        collection: &CollectionInfo,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let scan = self.scanned().await?;
        if !self.reported.swap(true, Ordering::SeqCst) {
            for problem in &scan.problems {
                sink.warn(problem.clone());
            }
        }
        for item in items {
            cancel.check()?;
            let path = self.path_of(scan, &item.href);
            if collection.kind == CollectionKind::Photos {
                match tokio::fs::File::open(&path).await {
                    Ok(file) => {
                        let body = cancel.guard(tokio_file_stream(file).boxed());
                        sink.stream(item.href.clone(), None, body).await?;
                    }
                    Err(e) => sink.warn(
                        Warning::new("unavailable", format!("the file could not be read: {e}"))
                            .at_href(&item.href),
                    ),
                }
                continue;
            }
            deliver_file(collection.kind, &item.href, &path, sink, cancel).await?;
        }
        Ok(())
    }
}

/// Cuts a vCard or iCalendar file into items for `sink`: one item keeps the file's href,
/// several become `href#1`, `href#2`, ...; a cut that is not an exact partition of the file
/// also keeps the whole file as an original.
pub async fn deliver_split(
    kind: CollectionKind,
    href: &str,
    bytes: &[u8],
    sink: &dyn ItemSink,
) -> Result<()> {
    let split = if kind == CollectionKind::Contacts {
        vobject::split_vcards(bytes)
    } else {
        vobject::split_calendar(bytes)
    };
    for problem in &split.problems {
        sink.warn(Warning::new("damaged-file", problem.clone()).at_href(href));
    }
    if !split.lossless {
        sink.original(href, bytes).await?;
    }
    let mut numbered = Numbered::new(href);
    for part in split.items {
        numbered.push(part, sink).await?;
    }
    numbered.finish(sink).await
}

/// [`deliver_split`] for a file on disk, cut as it is read (a 1 GiB `.vcf` from a phone is
/// never in memory whole); its original, when kept, is copied from the file too.
async fn deliver_file(
    kind: CollectionKind,
    href: &str,
    path: &Path,
    sink: &dyn ItemSink,
    cancel: &CancelToken,
) -> Result<()> {
    let unreadable = |e: std::io::Error| {
        Warning::new("unavailable", format!("the file could not be read: {e}")).at_href(href)
    };
    let (send, mut receive) = tokio::sync::mpsc::channel(2);
    let cutting = tokio::task::spawn_blocking({
        let path = path.to_owned();
        move || {
            vobject::cut_file(&path, kind == CollectionKind::Contacts, |item| {
                send.blocking_send(item).is_ok()
            })
        }
    });
    let mut numbered = Numbered::new(href);
    while let Some(part) = receive.recv().await {
        cancel.check()?;
        numbered.push(part, sink).await?;
    }
    let outcome = cutting
        .await
        .map_err(|e| Error::with_source(ErrorKind::Io, "cutting a file failed", e))?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            sink.warn(unreadable(e));
            return numbered.finish(sink).await;
        }
    };
    for problem in &outcome.problems {
        sink.warn(Warning::new("damaged-file", problem.clone()).at_href(href));
    }
    if outcome.whole {
        // No item could be cut, or the file is one object: the file itself is the item.
        match tokio::fs::read(path).await {
            Ok(bytes) => sink.item(Href::new(href), None, bytes).await?,
            Err(e) => sink.warn(unreadable(e)),
        }
        return Ok(());
    }
    if !outcome.lossless {
        sink.original_file(href, path).await?;
    }
    numbered.finish(sink).await
}

/// Names the items cut from one file: the only one keeps the file's href, several are
/// `href#1`, `href#2`, ... (the first is held until the second shows there are several).
struct Numbered<'a> {
    href: &'a str,
    first: Option<Vec<u8>>,
    count: usize,
}

impl<'a> Numbered<'a> {
    fn new(href: &'a str) -> Self {
        Self {
            href,
            first: None,
            count: 0,
        }
    }

    async fn push(&mut self, part: Vec<u8>, sink: &dyn ItemSink) -> Result<()> {
        self.count += 1;
        let href = self.href;
        if self.count == 1 {
            self.first = Some(part);
            return Ok(());
        }
        if let Some(first) = self.first.take() {
            sink.item(Href::new(format!("{href}#1")), None, first)
                .await?;
        }
        sink.item(Href::new(format!("{href}#{}", self.count)), None, part)
            .await
    }

    async fn finish(mut self, sink: &dyn ItemSink) -> Result<()> {
        match self.first.take() {
            Some(only) => sink.item(Href::new(self.href), None, only).await,
            None => Ok(()),
        }
    }
}

/// Reads a file in 256 KiB chunks, so a large video never sits in memory whole.
pub fn tokio_file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_util::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt as _;
        let mut buffer = vec![0u8; 256 * 1024];
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.truncate(read);
        Ok(Some((bytes::Bytes::from(buffer), file)))
    })
}
