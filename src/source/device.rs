//! A phone or folder on this computer (a mounted phone, an SD card, an old export): finds
//! `.vcf`/`.ics` files and photos recursively, cuts multi-item files into items byte for byte,
//! and keeps every file whose cut is not an exact partition as an original too.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use crate::error::{Error, ErrorKind, Result};
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
    scanned: tokio::sync::OnceCell<Vec<Found>>,
}

/// A file found under the root: its path relative to the root, with `/` separators.
#[derive(Debug, Clone)]
struct Found {
    relative: String,
    kind: CollectionKind,
    size: u64,
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
        })
    }

    async fn scan(&self) -> Result<&[Found]> {
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

    fn path_of(&self, relative: &str) -> PathBuf {
        relative
            .split('/')
            .fold(self.root.clone(), |path, part| path.join(part))
    }
}

/// The files of the folder this device source handles (by extension), sorted.
fn scan_folder(root: &Path) -> Result<Vec<Found>> {
    Ok(files_under(root)?
        .into_iter()
        .filter_map(|(relative, size)| {
            let kind = kind_of(Path::new(&relative))?;
            Some(Found {
                relative,
                kind,
                size,
            })
        })
        .collect())
}

/// Every regular file under `root` as (path relative to it with `/` separators, size),
/// sorted by path. Symbolic links are not followed: a link loop must not hang us.
pub(crate) fn files_under(root: &Path) -> Result<Vec<(String, u64)>> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        let entries =
            std::fs::read_dir(&folder).map_err(|e| Error::io("reading a folder", &folder, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("reading a folder", &folder, e))?;
            let file_type = entry
                .file_type()
                .map_err(|e| Error::io("reading a folder", entry.path(), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if file_type.is_dir() {
                pending.push((entry.path(), relative));
            } else if file_type.is_file() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                found.push((relative, size));
            }
        }
    }
    found.sort();
    Ok(found)
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
                    href: format!("{}/", kind.folder()),
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
                href: f.relative.clone(),
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
        for item in items {
            cancel.check()?;
            let path = self.path_of(&item.href);
            if collection.kind == CollectionKind::Photos {
                match tokio::fs::File::open(&path).await {
                    Ok(file) => {
                        let body = tokio_file_stream(file).boxed();
                        sink.stream(item.href.clone(), None, body).await?;
                    }
                    Err(e) => sink.warn(
                        Warning::new("unavailable", format!("the file could not be read: {e}"))
                            .at_href(&item.href),
                    ),
                }
                continue;
            }
            let bytes = match tokio::fs::read(&path).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    sink.warn(
                        Warning::new("unavailable", format!("the file could not be read: {e}"))
                            .at_href(&item.href),
                    );
                    continue;
                }
            };
            deliver_split(collection.kind, &item.href, &bytes, sink).await?;
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
    if split.items.len() == 1 {
        let only = split.items.into_iter().next().unwrap_or_default();
        sink.item(href.to_owned(), None, only).await?;
    } else {
        for (index, part) in split.items.into_iter().enumerate() {
            sink.item(format!("{href}#{}", index + 1), None, part)
                .await?;
        }
    }
    Ok(())
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
