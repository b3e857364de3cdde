//! Incremental archives: unchanged files hard-linked (or copied) from the previous
//! archive, and identical new files linked to each other.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::archive::manifest::ManifestFile;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Href, Sha256};
use crate::model::Warning;

use super::{ArchiveWriter, HashingWriter, io, merge_kinds, merge_members};

/// An earlier archive folder whose identical files are hard-linked rather than written again.
#[derive(Debug)]
pub(super) struct LinkFrom {
    pub(super) root: PathBuf,
    /// SHA-256 → path inside `root`.
    pub(super) by_checksum: HashMap<Sha256, String>,
    /// Merged files by (source location, collection href).
    pub(super) merged: HashMap<(String, Href), EarlierMerged>,
}

/// A merged file of the earlier archive with the (path, SHA-256) of the items it was made
/// from: the same members make the same merged file.
#[derive(Debug)]
pub(super) struct EarlierMerged {
    pub(super) file: ManifestFile,
    pub(super) members: Vec<(String, Sha256)>,
}

impl LinkFrom {
    pub(super) fn new(previous: &crate::archive::previous::PreviousArchive) -> Self {
        let manifest = previous.manifest();
        let mut merged = HashMap::new();
        for collection in &manifest.collections {
            let (Some(path), Some(source), Some((kinds, _))) = (
                &collection.merged,
                manifest.sources.get(collection.source),
                merge_kinds(collection.info.kind),
            ) else {
                continue;
            };
            let Some(file) = manifest.files.iter().find(|f| &f.path == path) else {
                continue;
            };
            let members = merge_members(&manifest.items, &collection.path, kinds);
            merged.insert(
                (source.location.clone(), collection.info.href.clone()),
                EarlierMerged {
                    file: file.clone(),
                    members,
                },
            );
        }
        Self {
            root: previous.root().to_path_buf(),
            by_checksum: previous.paths_by_checksum(),
            merged,
        }
    }
}

impl ArchiveWriter {
    /// Hard-links (or copies) `relative` of the previous archive to `relative_new` in staging,
    /// once its bytes are proven to hash to `sha256`: a file damaged in the previous snapshot
    /// must never be carried into the new one. `Ok(false)` (and a warning naming the damaged
    /// file) when they do not; nothing is linked then.
    pub(super) fn link_previous(
        &self,
        relative: &str,
        relative_new: &str,
        sha256: &str,
    ) -> Result<bool> {
        let Some(from) = &self.link_from else {
            return Err(Error::new(ErrorKind::Io, "no earlier archive to link from"));
        };
        let source = from.root.join(relative);
        if !self.previous_file_is(&source, sha256) {
            return Ok(false);
        }
        self.link_file(&source, relative_new)?;
        Ok(true)
    }

    /// Hard-links (or copies) the file at `source` to `relative_new` in staging.
    pub(super) fn link_file(&self, source: &Path, relative_new: &str) -> Result<()> {
        let target = self.staging.join(relative_new);
        self.make_parent(&target)?;
        if std::fs::hard_link(source, &target).is_ok() {
            return Ok(());
        }
        std::fs::copy(source, &target).map_err(io("copying from the previous snapshot", source))?;
        let first_copy = {
            let mut state = self.state();
            !std::mem::replace(&mut state.copied_instead_of_linked, true)
        };
        if first_copy {
            self.warn(Warning::new(
                "copied-not-linked",
                "this disk cannot hard-link files, so unchanged files were copied: every snapshot takes full space",
            ));
        }
        Ok(())
    }

    /// Whether the previous archive's file at `path` still holds bytes hashing to `sha256`.
    /// A file that does not (damaged on disk since, or unreadable) is reported once by name.
    pub(super) fn previous_file_is(&self, path: &Path, sha256: &str) -> bool {
        let actual = std::fs::File::open(path).and_then(|mut file| {
            let mut hasher = HashingWriter::new(std::io::sink());
            std::io::copy(&mut file, &mut hasher)?;
            Ok(hasher.finish().0)
        });
        if actual.as_ref().is_ok_and(|actual| actual == sha256) {
            return true;
        }
        let shown = path
            .strip_prefix(self.final_path.parent().unwrap_or(Path::new("")))
            .unwrap_or(path);
        let why = match actual {
            Ok(_) => "its bytes no longer match its checksum".to_owned(),
            Err(e) => format!("it cannot be read ({e})"),
        };
        self.warn(
            Warning::new(
                "damaged-previous",
                format!(
                    "the earlier snapshot's copy of a file is damaged ({why}), so it was not reused: {}",
                    shown.display()
                ),
            ),
        );
        false
    }

    /// Replaces a freshly written staging file by a link to an identical earlier one, once
    /// the earlier one is proven to still hold those bytes.
    pub(super) fn dedupe(&self, relative_new: &str, sha256: &str) {
        let Some(from) = &self.link_from else { return };
        let Some(earlier) = from.by_checksum.get(sha256) else {
            return;
        };
        let source = from.root.join(earlier);
        if !self.previous_file_is(&source, sha256) {
            return;
        }
        let target = self.staging.join(relative_new);
        let spare = self.staging.join(format!("{relative_new}.lifeboat-link"));
        // Link beside, then rename over: the written copy stays until the link is in place.
        if std::fs::hard_link(&source, &spare).is_ok() && std::fs::rename(&spare, &target).is_err()
        {
            let _ = std::fs::remove_file(&spare);
        }
    }
}
