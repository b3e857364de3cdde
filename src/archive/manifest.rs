//! `manifest.json`: the archive's table of contents and checksums (format in
//! `docs/ARCHIVE_FORMAT.md`). Loading tolerates unknown fields; a newer major version is refused.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Etag, Href, Sha256, Uid};
use crate::model::{CollectionInfo, ItemAbout, ItemKind, Warning};
use crate::source::SourceInfo;

pub const FORMAT_NAME: &str = "lifeboat-archive";
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// `lifeboat 0.1.0`.
    pub tool: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub sources: Vec<SourceInfo>,
    pub collections: Vec<ManifestCollection>,
    pub items: Vec<ManifestItem>,
    /// Every other file of the archive except `manifest.json` itself (merged files, README,
    /// vdir metadata, originals), with checksums.
    #[serde(default)]
    pub files: Vec<ManifestFile>,
    #[serde(default)]
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestCollection {
    /// The folder of the collection inside the archive, e.g. `contacts/family`.
    pub path: String,
    /// Index into `sources`.
    pub source: usize,
    #[serde(flatten)]
    pub info: CollectionInfo,
    /// The merged `.vcf`/`.ics` of the collection, if one was written.
    #[serde(default)]
    pub merged: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestItem {
    pub path: String,
    /// Path of the collection (`ManifestCollection::path`) the item belongs to.
    pub collection: String,
    pub kind: ItemKind,
    #[serde(default)]
    pub uid: Option<Uid>,
    pub href: Href,
    #[serde(default)]
    pub etag: Option<Etag>,
    pub sha256: Sha256,
    pub size: u64,
    /// Taken time, albums, sidecar and copies, where the source knew them.
    #[serde(flatten)]
    pub about: ItemAbout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    /// `merged`, `readme`, `vdir-metadata`, `original` or `metadata`.
    pub role: String,
    pub sha256: Sha256,
    pub size: u64,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| {
            // A checksum is compared, shortened and shown, so anything but 64 hex digits is
            // refused as it enters; say which entry, not only where in the text.
            let message = match bad_checksum_entry(bytes) {
                Some(path) => format!(
                    "this backup's list of contents is damaged: the checksum it records for {path} is not 64 hexadecimal digits"
                ),
                None => "manifest.json is damaged or not a Lifeboat manifest".to_owned(),
            };
            Error::with_source(ErrorKind::InvalidData, message, e)
        })?;
        if manifest.format != FORMAT_NAME {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "manifest.json is not a Lifeboat manifest (format {:?})",
                    manifest.format
                ),
            ));
        }
        if manifest.format_version > FORMAT_VERSION {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "this archive has format version {}; this Lifeboat reads up to {FORMAT_VERSION}: update Lifeboat",
                    manifest.format_version
                ),
            ));
        }
        Ok(manifest)
    }

    /// Every path the manifest vouches for, with its checksum and size.
    pub fn checked_files(&self) -> impl Iterator<Item = (&str, &Sha256, u64)> {
        self.items
            .iter()
            .map(|i| (i.path.as_str(), &i.sha256, i.size))
            .chain(
                self.files
                    .iter()
                    .map(|f| (f.path.as_str(), &f.sha256, f.size)),
            )
    }
}

/// The path of the first item or file whose recorded checksum is not 64 hex digits, read from
/// the raw JSON only after the typed parse failed.
fn bad_checksum_entry(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    ["items", "files"]
        .iter()
        .filter_map(|list| value.get(list)?.as_array())
        .flatten()
        .find(|entry| {
            entry
                .get("sha256")
                .is_some_and(|sha| !sha.as_str().is_some_and(crate::ids::is_sha256_hex))
        })
        .map(|entry| {
            entry
                .get("path")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("an entry without a path")
                .to_owned()
        })
}
