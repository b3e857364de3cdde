//! The archive a restore reads: a Lifeboat archive opened and verified, or a plain folder or
//! file of .vcf/.ics/photos read into a temporary one first.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::archive::manifest::{Manifest, ManifestItem};
use crate::archive::{ArchiveReader, VerifyReport};
use crate::error::{Error, Result};
use crate::ids::Sha256;
use crate::model::CollectionKind;
use crate::progress::CancelToken;
use crate::vobject;

use super::ItemPlan;

/// An archive opened for restoring: manifest, verification result and a reader.
#[derive(Debug)]
pub struct RestoreInput {
    /// The path the user gave (the report is kept beside it).
    pub path: PathBuf,
    pub manifest: Manifest,
    pub verify: VerifyReport,
    pub(super) reader: Mutex<ArchiveReader>,
    pub(super) damaged: HashSet<String>,
    /// For plain folders and files: the archive made from them, deleted on drop.
    pub(super) _converted: Option<tempfile::TempDir>,
}

impl RestoreInput {
    /// Opens `path`: a Lifeboat archive (folder or zip), or a folder or `.vcf`/`.ics` file
    /// without a manifest, which is first read like a device into a temporary archive.
    /// A damaged archive opens too: its damaged files are in `verify` and are never
    /// restored; whether to go on with the rest is the front's to ask.
    pub async fn open(path: &Path, cancel: &CancelToken) -> Result<Self> {
        let (archive_path, converted) = as_archive(path, cancel).await?;
        let mut reader = ArchiveReader::open(&archive_path)?;
        let manifest = reader.manifest()?;
        let verify = crate::archive::verify::check(&mut reader, &manifest)?;
        let damaged = verify.damaged_paths();
        Ok(Self {
            path: path.to_path_buf(),
            manifest,
            verify,
            reader: Mutex::new(reader),
            damaged,
            _converted: converted,
        })
    }

    /// An item's archived bytes, checked again against the manifest (the archive may have
    /// changed since it was verified).
    pub(super) fn read_item(&self, item: &ManifestItem) -> std::result::Result<Vec<u8>, String> {
        let bytes = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .read(&item.path, item.size)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "missing from the archive".to_owned())?;
        if Sha256::of(&bytes) != item.sha256 {
            return Err("its bytes no longer match the manifest's checksum".to_owned());
        }
        Ok(bytes)
    }

    /// What goes to the target for `plan`: the archived bytes, with the planned UID added
    /// where the item has none.
    pub(super) fn bytes_to_send(
        &self,
        item: &ManifestItem,
        plan: &ItemPlan,
    ) -> std::result::Result<Vec<u8>, String> {
        let bytes = self.read_item(item)?;
        Ok(match (&plan.uid, plan.uid_added) {
            (Some(uid), true) => vobject::add_uid(&bytes, uid),
            _ => bytes,
        })
    }
}

/// `path` as an archive: itself, or for a plain folder of `.vcf`/`.ics` files (or one such
/// file) a temporary archive read from it like a device, which lives as long as the folder
/// returned with it.
pub async fn as_archive(
    path: &Path,
    cancel: &CancelToken,
) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    let metadata =
        std::fs::metadata(path).map_err(|e| Error::io("opening the archive", path, e))?;
    let plain_file = metadata.is_file()
        && matches!(
            crate::source::device::kind_of(path),
            Some(CollectionKind::Contacts | CollectionKind::Calendar)
        );
    let plain_folder =
        metadata.is_dir() && !path.join(crate::archive::manifest::MANIFEST_FILE).exists();
    if plain_file || plain_folder {
        let (archive, temp) = convert_plain(path, plain_file, cancel).await?;
        Ok((archive, Some(temp)))
    } else {
        Ok((path.to_path_buf(), None))
    }
}

/// Reads a plain folder (or one file) like a device into a temporary archive.
pub(super) async fn convert_plain(
    path: &Path,
    single_file: bool,
    cancel: &CancelToken,
) -> Result<(PathBuf, tempfile::TempDir)> {
    let temp = tempfile::Builder::new()
        .prefix("lifeboat-restore-")
        .tempdir()
        .map_err(|e| Error::io("creating a temporary folder", std::env::temp_dir(), e))?;
    let folder = if single_file {
        let folder = temp.path().join("input");
        std::fs::create_dir(&folder).map_err(|e| Error::io("creating a folder", &folder, e))?;
        let copy = folder.join(path.file_name().unwrap_or_default());
        std::fs::copy(path, &copy).map_err(|e| Error::io("copying", path, e))?;
        folder
    } else {
        path.to_path_buf()
    };
    let sources: Vec<Box<dyn crate::source::Source>> =
        vec![Box::new(crate::source::device::DeviceSource::new(folder)?)];
    let plan = crate::job::export::plan(&sources, &crate::progress::NoProgress, cancel).await?;
    let archive = temp.path().join("archive");
    crate::job::export::execute(
        &sources,
        &plan,
        &archive,
        Arc::new(crate::progress::NoProgress),
        cancel,
    )
    .await?;
    Ok((archive, temp))
}
