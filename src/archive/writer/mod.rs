//! Writes an archive atomically: everything goes into a hidden staging folder beside the
//! destination, the manifest is written last, the disk is synced, and only then is the folder
//! renamed (or packed into a `.zip` and renamed). An interrupted export leaves nothing that
//! looks like an archive, and an existing archive is never touched.

// One file per part: the collection sink, links to the previous archive, merged files, the
// commit (sync and move into place) and zip packing. This file holds the writer's state.
mod commit;
mod link;
mod merged;
mod pack;
mod readme;
mod sink;

use self::{
    commit::{collect_files, commit_error},
    link::LinkFrom,
    merged::{merge_kinds, merge_members},
};
pub use commit::remove_stale_partials;
pub use readme::readme_text;
pub use sink::CollectionWriter;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::StreamExt;
use sha2::Digest;

use crate::archive::commit::rename_no_replace;
use crate::archive::layout::{NameSet, item_stem, safe_relative_path, safe_segment};
use crate::archive::manifest::{
    FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, Manifest, ManifestCollection, ManifestFile,
    ManifestItem,
};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{Etag, Href, Sha256, Uid};
use crate::model::{CollectionInfo, CollectionKind, ItemAbout, ItemKind, Warning};
use crate::progress::{JobEvent, Progress, Receiving};
use crate::source::{ByteStream, ItemSink, SourceInfo};
use crate::vobject;

const PARTIAL_MARKER: &str = ".lifeboat-partial-";

#[derive(Debug, Default)]
struct State {
    sources: Vec<SourceInfo>,
    collections: Vec<ManifestCollection>,
    collection_names: HashMap<CollectionKind, NameSet>,
    item_names: HashMap<String, NameSet>,
    uids: HashMap<(String, Uid), String>,
    items: Vec<ManifestItem>,
    /// What sources said about items not yet written, by (collection path, href).
    about: HashMap<(String, String), ItemAbout>,
    files: Vec<ManifestFile>,
    warnings: Vec<Warning>,
    bytes: u64,
    /// Items linked from the previous archive instead of written, and their bytes.
    linked: u64,
    linked_bytes: u64,
    /// Set once hard links failed and files were copied instead.
    copied_instead_of_linked: bool,
}

/// What a finished archive holds, for summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenArchive {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// Bytes of items (not counting merged files and metadata).
    pub item_bytes: u64,
    /// Items hard-linked from the previous archive rather than written again, and their bytes
    /// (included in `item_bytes`).
    pub linked_items: u64,
    pub linked_bytes: u64,
}

/// Judges a finished archive just before it is committed (the drop guard of scheduled
/// snapshots): the warnings it returns go into the manifest, and any at all also write
/// [`FLAG_FILE`], so that the archive is known as flagged from its files alone.
pub type CommitCheck = Box<dyn FnOnce(&Manifest) -> Vec<Warning> + Send>;

/// Written into an archive whose [`CommitCheck`] found something wrong: one line per finding.
pub const FLAG_FILE: &str = "FLAGGED.txt";

pub struct ArchiveWriter {
    final_path: PathBuf,
    staging: PathBuf,
    zip: bool,
    state: Mutex<State>,
    progress: Arc<dyn Progress>,
    /// Set once the archive is in place: nothing is removed after that.
    committed: AtomicBool,
    /// Set by [`ArchiveWriter::abort`]: no file or folder is created after that, so a write
    /// still running on another task cannot bring the removed staging folder back.
    aborted: AtomicBool,
    link_from: Option<LinkFrom>,
    commit_check: Mutex<Option<CommitCheck>>,
}

impl std::fmt::Debug for ArchiveWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("final_path", &self.final_path)
            .field("staging", &self.staging)
            .finish_non_exhaustive()
    }
}

fn is_zip(out: &Path) -> bool {
    out.file_name()
        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".zip"))
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    let what = what.to_owned();
    move |e| Error::io(&what, path, e)
}

impl ArchiveWriter {
    /// Prepares an archive at `out` (a folder, or a zip when it ends in `.zip`). Fails if `out`
    /// already exists: an earlier backup is never overwritten.
    pub fn create(out: &Path, progress: Arc<dyn Progress>) -> Result<Arc<Self>> {
        Self::prepare(out, progress, None).map(Arc::new)
    }

    fn prepare(
        out: &Path,
        progress: Arc<dyn Progress>,
        link_from: Option<LinkFrom>,
    ) -> Result<Self> {
        if out.exists() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the destination already exists and Lifeboat never overwrites a backup; choose a new name: {}",
                    out.display()
                ),
            ));
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("not a file name: {}", out.display()),
                )
            })?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io("creating the destination folder", &parent))?;
        remove_stale_partials(&parent);
        let staging = parent.join(format!(".{name}{PARTIAL_MARKER}{}", std::process::id()));
        std::fs::create_dir(&staging).map_err(io("creating a temporary folder", &staging))?;
        Ok(Self {
            final_path: out.to_path_buf(),
            staging,
            zip: is_zip(out),
            state: Mutex::new(State::default()),
            progress,
            committed: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            link_from,
            commit_check: Mutex::new(None),
        })
    }

    /// Like [`ArchiveWriter::create`] for a folder archive whose files identical to ones in the
    /// earlier archive folder `previous` (by checksum) become hard links to them: a snapshot
    /// that is complete on its own yet costs only what changed. Where the file system cannot
    /// link, files are copied and a warning says so.
    pub fn create_linked(
        out: &Path,
        progress: Arc<dyn Progress>,
        previous: &crate::archive::previous::PreviousArchive,
    ) -> Result<Arc<Self>> {
        if is_zip(out) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "snapshots are folders, not .zip files",
            ));
        }
        Self::prepare(out, progress, Some(LinkFrom::new(previous))).map(Arc::new)
    }

    /// Sets the check run on the finished manifest before the archive is committed.
    pub fn check_before_commit(&self, check: CommitCheck) {
        *self
            .commit_check
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(check);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_source(&self, info: SourceInfo) -> usize {
        let mut state = self.state();
        state.sources.push(info);
        state.sources.len() - 1
    }

    /// Creates the collection's folder and returns the sink its items go into.
    pub fn add_collection(
        self: &Arc<Self>,
        source: usize,
        info: &CollectionInfo,
    ) -> Result<CollectionWriter> {
        let path = {
            let mut state = self.state();
            let slug = safe_segment(&info.name);
            let folder = state
                .collection_names
                .entry(info.kind)
                .or_default()
                .claim(&slug, None);
            let path = format!("{}/{folder}", info.kind.folder());
            state.collections.push(ManifestCollection {
                path: path.clone(),
                source,
                info: info.clone(),
                merged: None,
            });
            path
        };
        let dir = self.staging.join(&path);
        self.make_parent(&dir.join("_"))?;
        Ok(CollectionWriter {
            archive: Arc::clone(self),
            path,
            info: info.clone(),
        })
    }

    /// Records a warning that concerns no single collection.
    pub fn warn(&self, warning: Warning) {
        self.progress.event(JobEvent::Warning(warning.clone()));
        self.state().warnings.push(warning);
    }

    /// Writes merged files, metadata, README and manifest; syncs; moves the archive into place.
    pub async fn finish(self: Arc<Self>) -> Result<WrittenArchive> {
        self.progress.event(JobEvent::Phase(
            "writing merged files and manifest".to_owned(),
        ));
        let writer = Arc::clone(&self);
        tokio::task::spawn_blocking(move || writer.finish_blocking())
            .await
            .map_err(|e| Error::with_source(ErrorKind::Io, "finishing the archive failed", e))?
    }

    /// Removes everything written so far. Called on error and cancel; `Drop` does it again
    /// once the last task holding the writer is gone.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        self.remove_uncommitted();
    }

    fn remove_uncommitted(&self) {
        if self.committed.load(Ordering::SeqCst) {
            return;
        }
        // A write that began before the flag was set may add an entry while the folder is
        // being removed, which makes one pass fail with "not empty".
        for _ in 0..5 {
            match std::fs::remove_dir_all(&self.staging) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                _ => break,
            }
        }
        let _ = std::fs::remove_file(self.partial_zip_path());
    }

    /// Creates the folders above `path` inside staging; refused once the job was aborted,
    /// and never re-creates the staging folder itself.
    fn make_parent(&self, path: &Path) -> Result<()> {
        if self.aborted.load(Ordering::SeqCst) || !self.staging.is_dir() {
            return Err(Error::new(
                ErrorKind::Cancelled,
                "the archive was abandoned",
            ));
        }
        match path.parent() {
            Some(parent) => {
                std::fs::create_dir_all(parent).map_err(io("creating a folder", parent))
            }
            None => Ok(()),
        }
    }
}

impl Drop for ArchiveWriter {
    fn drop(&mut self) {
        self.remove_uncommitted();
    }
}

/// A writer that hashes and counts what passes through.
struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
    size: u64,
}

impl<W: std::io::Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (Sha256, u64) {
        (Sha256::from_digest(&self.hasher.finalize()), self.size)
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
