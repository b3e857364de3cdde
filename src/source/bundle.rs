//! A provider's downloaded export read in place: several `.zip` parts and extracted folders
//! seen as one tree of files, read entry by entry without unpacking anything to disk.
//!
//! Google Takeout and Apple's data copy both hand out a pile of zips whose folders continue
//! from one part to the next; [`Bundle`] merges them so that a photo and its sidecar in two
//! different parts sit in the same folder.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::Digest;

use crate::error::{Error, ErrorKind, Result};
use crate::source::ByteStream;

/// Chunk size for streamed entries; a handful of chunks are in flight at most.
const CHUNK: usize = 256 * 1024;
/// Small files (vCard, iCalendar, JSON, CSV) are read whole, up to this size.
pub const SMALL_FILE_CAP: u64 = 256 * 1024 * 1024;

/// One file of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEntry {
    /// Its path inside its part, with `/` separators (a second file at the same path in
    /// another part gets ` (part N)` before its extension, so paths stay unique).
    pub path: String,
    pub size: u64,
    /// The zip's CRC-32, free from the central directory; `None` for folder files.
    pub crc32: Option<u32>,
    /// Which part (zip or folder) holds it, in the order given.
    pub part: usize,
    /// Zip entry index, or the path relative to the folder part.
    location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    ZipIndex(usize),
    FolderRelative(String),
}

enum Part {
    Zip {
        path: PathBuf,
        archive: Mutex<zip::ZipArchive<std::io::BufReader<std::fs::File>>>,
    },
    Folder {
        root: PathBuf,
    },
}

impl Part {
    fn path(&self) -> &Path {
        match self {
            Self::Zip { path, .. } => path,
            Self::Folder { root } => root,
        }
    }
}

/// Several zips and folders read as one tree. Opening reads only zip central directories and
/// folder listings.
pub struct Bundle {
    parts: Vec<Part>,
    entries: Vec<BundleEntry>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field(
                "parts",
                &self.parts.iter().map(Part::path).collect::<Vec<_>>(),
            )
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Bundle {
    /// Opens every path (a `.zip` or a folder). `normalize` maps an entry's path inside its
    /// part to the path it has in the merged tree (parts name their top folder differently).
    /// Blocking: call it off the async runtime.
    pub fn open(paths: &[PathBuf], normalize: fn(&str) -> String) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "no export given: name the downloaded .zip files or their extracted folder",
            ));
        }
        let mut parts = Vec::new();
        let mut entries = Vec::new();
        let mut taken = HashSet::new();
        for path in paths {
            let metadata =
                std::fs::metadata(path).map_err(|e| Error::io("opening the export", path, e))?;
            let index = parts.len();
            let mut found = Vec::new();
            if metadata.is_dir() {
                for file in super::device::files_under(path)?.files {
                    let location = Location::FolderRelative(file.relative.clone());
                    found.push((file.relative, file.size, None, location));
                }
                parts.push(Part::Folder { root: path.clone() });
            } else {
                let file = std::fs::File::open(path)
                    .map_err(|e| Error::io("opening the export", path, e))?;
                let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
                    .map_err(|e| not_a_zip(path, e))?;
                for entry in 0..archive.len() {
                    let file = archive
                        .by_index_raw(entry)
                        .map_err(|e| crate::Error::zip_read(path, e))?;
                    if file.is_dir() || file.is_symlink() {
                        continue;
                    }
                    let name = file
                        .name()
                        .map_err(|e| crate::Error::zip_read(path, e))?
                        .replace('\\', "/");
                    found.push((
                        name,
                        file.size(),
                        Some(file.crc32()),
                        Location::ZipIndex(entry),
                    ));
                }
                parts.push(Part::Zip {
                    path: path.clone(),
                    archive: Mutex::new(archive),
                });
            }
            for (name, size, crc32, location) in found {
                let path = unique_path(&normalize(&name), index, &mut taken);
                entries.push(BundleEntry {
                    path,
                    size,
                    crc32,
                    part: index,
                    location,
                });
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self { parts, entries })
    }

    pub fn entries(&self) -> &[BundleEntry] {
        &self.entries
    }

    /// The zip or folder an entry comes from, for messages.
    pub fn part_path(&self, entry: &BundleEntry) -> &Path {
        self.parts[entry.part].path()
    }

    /// Feeds the entry's bytes to `each` in chunks; a damaged zip entry (CRC mismatch, cut
    /// short) is an error. Blocking.
    pub fn read_with(
        &self,
        entry: &BundleEntry,
        mut each: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64> {
        let part = &self.parts[entry.part];
        let damaged = |e: std::io::Error| {
            Error::with_source(
                ErrorKind::InvalidData,
                format!(
                    "{} in {} could not be read whole (the download may be damaged)",
                    entry.path,
                    part.path().display()
                ),
                e,
            )
        };
        let mut buffer = vec![0u8; CHUNK];
        let mut total = 0u64;
        let mut pump = |reader: &mut dyn Read| -> std::io::Result<()> {
            loop {
                let read = reader.read(&mut buffer)?;
                if read == 0 {
                    return Ok(());
                }
                total += read as u64;
                each(&buffer[..read])?;
            }
        };
        match (part, &entry.location) {
            (Part::Zip { path, archive }, Location::ZipIndex(index)) => {
                let mut archive = archive
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut file = archive
                    .by_index(*index)
                    .map_err(|e| crate::Error::zip_read(path, e))?;
                pump(&mut file).map_err(damaged)?;
            }
            (Part::Folder { root }, Location::FolderRelative(relative)) => {
                let full = relative.split('/').fold(root.clone(), |p, s| p.join(s));
                let mut file =
                    std::fs::File::open(&full).map_err(|e| Error::io("reading", &full, e))?;
                pump(&mut file).map_err(|e| Error::io("reading", &full, e))?;
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Io,
                    "an export entry points at the wrong part",
                ));
            }
        }
        Ok(total)
    }

    /// The whole entry, for small files; anything over [`SMALL_FILE_CAP`] is refused.
    pub fn read(&self, entry: &BundleEntry) -> Result<Vec<u8>> {
        if entry.size > SMALL_FILE_CAP {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{} in {} is {} bytes, too large for a contacts, calendar or metadata file",
                    entry.path,
                    self.part_path(entry).display(),
                    entry.size
                ),
            ));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
        self.read_with(entry, |chunk| {
            if bytes.len() as u64 + chunk.len() as u64 > SMALL_FILE_CAP {
                return Err(std::io::Error::other("larger than its listed size"));
            }
            bytes.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(bytes)
    }

    /// SHA-256 of the entry, hex. Blocking.
    pub fn sha256(&self, entry: &BundleEntry) -> Result<crate::ids::Sha256> {
        let mut hasher = sha2::Sha256::new();
        self.read_with(entry, |chunk| {
            hasher.update(chunk);
            Ok(())
        })?;
        Ok(crate::ids::Sha256::from_digest(&hasher.finalize()))
    }

    /// The entry as a stream of chunks read on a blocking thread, for photos and videos: only
    /// a few chunks are held at once however large the file.
    pub fn stream(self: &Arc<Self>, entry: &BundleEntry) -> ByteStream {
        use futures_util::StreamExt as _;
        let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
        let bundle = Arc::clone(self);
        let entry = entry.clone();
        tokio::task::spawn_blocking(move || {
            let result = bundle.read_with(&entry, |chunk| {
                sender
                    .blocking_send(Ok(bytes::Bytes::copy_from_slice(chunk)))
                    .map_err(|_| std::io::Error::other("the archive writer stopped reading"))
            });
            if let Err(error) = result {
                let kind = if error.kind() == ErrorKind::InvalidData {
                    std::io::ErrorKind::InvalidData
                } else {
                    std::io::ErrorKind::Other
                };
                let _ = sender.blocking_send(Err(std::io::Error::new(kind, error.to_string())));
            }
        });
        futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        })
        .boxed()
    }
}

/// `name`, or `name (part N)` when an earlier part already had that path.
fn unique_path(name: &str, part: usize, taken: &mut HashSet<String>) -> String {
    let mut candidate = name.to_owned();
    let mut round = 0;
    while !taken.insert(candidate.clone()) {
        round += 1;
        let (stem, extension) = match name.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => (stem, format!(".{ext}")),
            _ => (name, String::new()),
        };
        let suffix = if round == 1 {
            format!(" (part {})", part + 1)
        } else {
            format!(" (part {}, {round})", part + 1)
        };
        candidate = format!("{stem}{suffix}{extension}");
    }
    candidate
}

fn not_a_zip(path: &Path, error: zip::result::ZipError) -> Error {
    let hint = match path.extension().and_then(|e| e.to_str()) {
        Some("tgz" | "gz") => {
            " (a .tgz export: extract it and give the folder, or ask for .zip files)"
        }
        _ => "",
    };
    Error::with_source(
        ErrorKind::InvalidInput,
        format!(
            "not a folder and not a readable zip: {}{hint}",
            path.display()
        ),
        error,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn zip_with(path: &Path, files: &[(&str, &[u8])]) {
        use std::io::Write as _;
        let file = std::fs::File::create(path).unwrap();
        let mut writer = zip::ZipWriter::new(file);
        for (name, bytes) in files {
            writer
                .start_file(
                    *name,
                    zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Stored),
                )
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap();
    }

    #[test]
    fn parts_and_folders_merge_into_one_tree_with_unique_paths() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("takeout-001.zip");
        let two = dir.path().join("takeout-002.zip");
        zip_with(
            &one,
            &[("Takeout/a.txt", b"one"), ("Takeout/b.jpg", b"photo")],
        );
        zip_with(
            &two,
            &[("Takeout/a.txt", b"two"), ("Takeout/c.json", b"{}")],
        );
        let folder = dir.path().join("extracted");
        std::fs::create_dir_all(folder.join("Takeout")).unwrap();
        std::fs::write(folder.join("Takeout/d.vcf"), b"BEGIN:VCARD").unwrap();
        let bundle = Bundle::open(&[two.clone(), one.clone(), folder], str::to_owned).unwrap();
        let paths: Vec<&str> = bundle.entries().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "Takeout/a (part 2).txt",
                "Takeout/a.txt",
                "Takeout/b.jpg",
                "Takeout/c.json",
                "Takeout/d.vcf"
            ]
        );
        let read = |path: &str| {
            let entry = bundle.entries().iter().find(|e| e.path == path).unwrap();
            bundle.read(entry).unwrap()
        };
        assert_eq!(read("Takeout/a.txt"), b"two");
        assert_eq!(read("Takeout/a (part 2).txt"), b"one");
        assert_eq!(read("Takeout/d.vcf"), b"BEGIN:VCARD");
    }

    #[test]
    fn a_damaged_entry_is_an_error_not_short_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        let payload = vec![7u8; 4096];
        zip_with(&path, &[("Takeout/x.jpg", &payload)]);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(8).position(|w| w == [7u8; 8]).unwrap() + 100;
        bytes[at] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let bundle = Bundle::open(&[path], str::to_owned).unwrap();
        let error = bundle.read(&bundle.entries()[0]).unwrap_err();
        assert!(
            error.to_string().contains("could not be read whole"),
            "{error}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_zip_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("takeout.tgz");
        std::fs::write(&path, b"not a zip").unwrap();
        let error = Bundle::open(&[path], str::to_owned).unwrap_err();
        assert!(error.to_string().contains(".tgz export"), "{error}");
    }
}
