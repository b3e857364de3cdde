//! Reads an archive, a folder or a `.zip`, without trusting it: entry names that would escape
//! (`..`, absolute paths, drive letters) and symbolic links are reported, never followed.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::archive::manifest::{MANIFEST_FILE, Manifest};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::Sha256;

/// The largest manifest we read into memory (a million items is ~300 MB; far beyond that is an
/// attack, not a backup).
const MAX_MANIFEST_BYTES: u64 = 512 * 1024 * 1024;

/// One entry of an archive as found, before any trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    /// Why this entry must not be used, if it must not.
    pub unsafe_reason: Option<String>,
}

#[derive(Debug)]
pub enum ArchiveReader {
    Folder(PathBuf),
    Zip {
        path: PathBuf,
        zip: Box<zip::ZipArchive<std::io::BufReader<std::fs::File>>>,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |e| Error::io(what, path, e)
}

/// Why a relative entry name is not safe to use as a path, if it is not.
pub fn unsafe_name(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("absolute path".to_owned());
    }
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return Some("drive letter".to_owned());
    }
    if name.split(['/', '\\']).any(|part| part == "..") {
        return Some("`..` in path".to_owned());
    }
    if name.contains('\0') {
        return Some("NUL in name".to_owned());
    }
    for part in name.split(['/', '\\']) {
        if part.contains(':') {
            // `a:b` is a drive-relative path or an alternate data stream on Windows.
            return Some("`:` in a name".to_owned());
        }
        let stem = part.split('.').next().unwrap_or("").trim_end();
        if crate::archive::layout::WINDOWS_RESERVED
            .iter()
            .any(|reserved| stem.eq_ignore_ascii_case(reserved))
        {
            return Some(format!("reserved device name on Windows: {part}"));
        }
    }
    None
}

impl ArchiveReader {
    pub fn open(path: &Path) -> Result<Self> {
        let metadata = std::fs::metadata(path).map_err(io("opening the archive", path))?;
        if metadata.is_dir() {
            return Ok(Self::Folder(path.to_path_buf()));
        }
        let file = std::fs::File::open(path).map_err(io("opening the archive", path))?;
        let zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
            // A zip's table of contents is at its end: a zip that starts like one but has none
            // was cut short (a download or copy that stopped), not something else entirely.
            let starts_as_zip = std::fs::File::open(path)
                .and_then(|mut f| {
                    let mut head = [0u8; 4];
                    f.read_exact(&mut head).map(|()| head)
                })
                .is_ok_and(|head| head == *b"PK\x03\x04");
            let what = if starts_as_zip {
                "this zip is damaged: it ends too early (cut short while it was downloaded or copied); copy it again from where it came from"
            } else {
                "this is not a Lifeboat archive (not a folder, and not a readable zip)"
            };
            Error::with_source(
                ErrorKind::InvalidData,
                format!("{what}: {}", path.display()),
                e,
            )
        })?;
        Ok(Self::Zip {
            path: path.to_path_buf(),
            zip: Box::new(zip),
        })
    }

    pub fn path(&self) -> &Path {
        match self {
            Self::Folder(path) | Self::Zip { path, .. } => path,
        }
    }

    pub fn manifest(&mut self) -> Result<Manifest> {
        let bytes = self
            .read(MANIFEST_FILE, MAX_MANIFEST_BYTES)?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "no manifest.json: this is not a finished Lifeboat archive: {}",
                        self.path().display()
                    ),
                )
            })?;
        Manifest::parse(&bytes)
    }

    /// Every file entry (directories left out), sorted.
    pub fn entries(&mut self) -> Result<Vec<Entry>> {
        match self {
            Self::Folder(root) => {
                let mut found = BTreeMap::new();
                walk(root, "", &mut found)?;
                Ok(found
                    .into_iter()
                    .map(|(path, unsafe_reason)| Entry {
                        path,
                        unsafe_reason,
                    })
                    .collect())
            }
            Self::Zip { path, zip } => {
                let mut found = Vec::new();
                for index in 0..zip.len() {
                    let file = zip.by_index(index).map_err(|e| Error::zip_read(path, e))?;
                    if file.is_dir() {
                        continue;
                    }
                    let Ok(name) = file.name().map(std::borrow::Cow::into_owned) else {
                        found.push(Entry {
                            path: format!("<entry {index}>"),
                            unsafe_reason: Some("name is not valid text".to_owned()),
                        });
                        continue;
                    };
                    let unsafe_reason = unsafe_name(&name)
                        .or_else(|| file.is_symlink().then(|| "symbolic link".to_owned()));
                    found.push(Entry {
                        path: name,
                        unsafe_reason,
                    });
                }
                found.sort_by(|a, b| a.path.cmp(&b.path));
                Ok(found)
            }
        }
    }

    /// Names a zip holds more than once, with how often. Which of such entries a program
    /// reads differs from program to program, so none of them can be trusted. (The zip
    /// crate's index keeps one entry per name; its central-directory walk keeps them all.)
    pub fn duplicate_names(&mut self) -> Vec<(String, usize)> {
        let Self::Zip { path, zip } = self else {
            return Vec::new();
        };
        if !zip.has_duplicate_names() {
            return Vec::new();
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let walk = std::fs::File::open(&*path)
            .map(std::io::BufReader::new)
            .ok()
            .and_then(|file| {
                zip::unstable::read::ZipIterable::try_new(file, zip::read::Config::default()).ok()
            });
        if let Some(mut iterable) = walk
            && let Ok(files) = iterable.files()
        {
            for entry in files.flatten() {
                let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
                *counts.entry(name).or_default() += 1;
            }
        }
        counts.into_iter().filter(|(_, n)| *n > 1).collect()
    }

    /// SHA-256 and size of an entry, streamed; `None` when it does not exist.
    pub fn hash(&mut self, name: &str) -> Result<Option<(Sha256, u64)>> {
        if unsafe_name(name).is_some() {
            return Ok(None);
        }
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        let mut consume = |reader: &mut dyn std::io::Read, path: &Path| -> Result<()> {
            loop {
                let read = match reader.read(&mut buffer) {
                    Ok(read) => read,
                    // Damage inside one entry: what it gave is hashed, the checksum then
                    // differs, and the entry is named as damaged; the rest stays readable.
                    Err(e) if damaged_entry(&e) => 0,
                    Err(e) => return Err(Error::io("reading", path, e)),
                };
                if read == 0 {
                    return Ok(());
                }
                hasher.update(&buffer[..read]);
                size += read as u64;
            }
        };
        match self {
            Self::Folder(root) => {
                if through_a_link(root, name) {
                    return Ok(None);
                }
                let path = root.join(name);
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_file() => {}
                    Ok(_) => return Ok(None),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(Error::io("reading", path, e)),
                }
                let mut file = std::fs::File::open(&path).map_err(io("reading", &path))?;
                consume(&mut file, &path)?;
            }
            Self::Zip { path, zip } => {
                let mut file = match zip.by_name(name) {
                    Ok(file) => file,
                    Err(zip::result::ZipError::FileNotFound) => return Ok(None),
                    Err(e) => return Err(Error::zip_read(path, e)),
                };
                consume(&mut file, path)?;
            }
        }
        Ok(Some((Sha256::from_digest(&hasher.finalize()), size)))
    }

    /// An entry's bytes, refusing entries larger than `max_bytes`; `None` when missing.
    pub fn read(&mut self, name: &str, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        if unsafe_name(name).is_some() {
            return Ok(None);
        }
        let too_big = |path: &Path| {
            Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{name} is larger than {max_bytes} bytes: {}",
                    path.display()
                ),
            )
        };
        match self {
            Self::Folder(root) if through_a_link(root, name) => Ok(None),
            Self::Folder(root) => {
                let path = root.join(name);
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_file() && m.len() > max_bytes => Err(too_big(&path)),
                    Ok(m) if m.is_file() => {
                        std::fs::read(&path).map(Some).map_err(io("reading", &path))
                    }
                    Ok(_) => Ok(None),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io("reading", path, e)),
                }
            }
            Self::Zip { path, zip } => {
                let file = match zip.by_name(name) {
                    Ok(file) => file,
                    Err(zip::result::ZipError::FileNotFound) => return Ok(None),
                    Err(e) => return Err(Error::zip_read(path, e)),
                };
                let mut bytes = Vec::new();
                match file.take(max_bytes + 1).read_to_end(&mut bytes) {
                    // As in `hash`: the caller's checksum tells these bytes are damaged.
                    Err(e) if !damaged_entry(&e) => return Err(Error::io("reading", &*path, e)),
                    _ => {}
                }
                if bytes.len() as u64 > max_bytes {
                    return Err(too_big(path));
                }
                Ok(Some(bytes))
            }
        }
    }
}

/// Whether a zip entry's read failed on its own damaged bytes (a CRC-32 that does not match,
/// a broken deflate stream), not on the file or the disk: that entry is damaged, the others
/// are not.
fn damaged_entry(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::InvalidData
}

/// Whether a folder on the way from `root` to its entry `name` is a link: reads never leave
/// the archive through one (a linked collection folder is not part of the archive).
fn through_a_link(root: &Path, name: &str) -> bool {
    let mut path = root.to_path_buf();
    let mut folders: Vec<&str> = name.split('/').collect();
    folders.pop();
    folders.into_iter().any(|folder| {
        path.push(folder);
        std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
    })
}

fn walk(root: &Path, prefix: &str, found: &mut BTreeMap<String, Option<String>>) -> Result<()> {
    let dir = root.join(prefix);
    for entry in std::fs::read_dir(&dir).map_err(io("reading the archive", &dir))? {
        let entry = entry.map_err(io("reading the archive", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let file_type = entry.file_type().map_err(io("reading the archive", &dir))?;
        if file_type.is_symlink() {
            found.insert(relative, Some("symbolic link".to_owned()));
        } else if file_type.is_dir() {
            walk(root, &relative, found)?;
        } else {
            found.insert(relative, None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_cut_short_zip_is_called_damaged_and_a_damaged_entry_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&whole).unwrap());
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let photo: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        zip.start_file("photos/a.jpg", stored).unwrap();
        zip.write_all(&photo).unwrap();
        zip.start_file("contacts/b.vcf", stored).unwrap();
        zip.write_all(b"BEGIN:VCARD\r\nEND:VCARD\r\n").unwrap();
        zip.finish().unwrap();
        let mut bytes = std::fs::read(&whole).unwrap();

        let cut = dir.path().join("cut.zip");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let refused = ArchiveReader::open(&cut).err().unwrap().to_string();
        assert!(
            refused.contains("damaged") && refused.contains("ends too early"),
            "{refused}"
        );
        let other = dir.path().join("notes.zip");
        std::fs::write(&other, b"just some text").unwrap();
        let refused = ArchiveReader::open(&other).err().unwrap().to_string();
        assert!(refused.contains("not a Lifeboat archive"), "{refused}");

        // Bytes flipped inside the photo: its CRC fails, yet it hashes (to another checksum)
        // and the other entry reads as before.
        let at = bytes
            .windows(64)
            .position(|w| w == &photo[1000..1064])
            .unwrap();
        bytes[at] ^= 0x55;
        let flipped = dir.path().join("flipped.zip");
        std::fs::write(&flipped, &bytes).unwrap();
        let mut reader = ArchiveReader::open(&flipped).unwrap();
        let (damaged, size) = reader.hash("photos/a.jpg").unwrap().unwrap();
        assert_eq!(size, photo.len() as u64);
        assert_ne!(damaged, Sha256::of(&photo));
        let read = reader.read("photos/a.jpg", 1 << 20).unwrap().unwrap();
        assert_ne!(read, photo);
        assert_eq!(
            reader.read("contacts/b.vcf", 1 << 20).unwrap().unwrap(),
            b"BEGIN:VCARD\r\nEND:VCARD\r\n"
        );
    }
}
