//! Writes an archive atomically: everything goes into a hidden staging folder beside the
//! destination, the manifest is written last, the disk is synced, and only then is the folder
//! renamed (or packed into a `.zip` and renamed). An interrupted export leaves nothing that
//! looks like an archive, and an existing archive is never touched.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::archive::commit::rename_no_replace;
use crate::archive::layout::{NameSet, item_stem, safe_relative_path, safe_segment};
use crate::archive::manifest::{
    FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, Manifest, ManifestCollection, ManifestFile,
    ManifestItem,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{CollectionInfo, CollectionKind, ItemAbout, ItemKind, Warning};
use crate::progress::{JobEvent, Progress, Receiving};
use crate::source::{ByteStream, ItemSink, SourceInfo};
use crate::vobject;

const PARTIAL_MARKER: &str = ".lifeboat-partial-";

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Default)]
struct State {
    sources: Vec<SourceInfo>,
    collections: Vec<ManifestCollection>,
    collection_names: HashMap<CollectionKind, NameSet>,
    item_names: HashMap<String, NameSet>,
    uids: HashMap<(String, String), String>,
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

/// An earlier archive folder whose identical files are hard-linked rather than written again.
#[derive(Debug)]
struct LinkFrom {
    root: PathBuf,
    /// SHA-256 → path inside `root`.
    by_checksum: HashMap<String, String>,
    /// Merged files by (source location, collection href).
    merged: HashMap<(String, String), EarlierMerged>,
}

/// A merged file of the earlier archive with the (path, SHA-256) of the items it was made
/// from: the same members make the same merged file.
#[derive(Debug)]
struct EarlierMerged {
    file: ManifestFile,
    members: Vec<(String, String)>,
}

impl LinkFrom {
    fn new(previous: &crate::job::incremental::PreviousArchive) -> Self {
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

/// The item kinds a collection's merged file holds, and its extension; `None` for photos.
fn merge_kinds(kind: CollectionKind) -> Option<(&'static [ItemKind], &'static str)> {
    match kind {
        CollectionKind::Contacts => Some((&[ItemKind::Contact], "vcf")),
        CollectionKind::Calendar => {
            Some((&[ItemKind::Event, ItemKind::Todo, ItemKind::Journal], "ics"))
        }
        CollectionKind::Photos => None,
    }
}

/// (path, SHA-256) of a collection's items that go into its merged file, in merge order.
fn merge_members(
    items: &[ManifestItem],
    collection: &str,
    kinds: &[ItemKind],
) -> Vec<(String, String)> {
    let mut members: Vec<(String, String)> = items
        .iter()
        .filter(|i| i.collection == collection && kinds.contains(&i.kind))
        .map(|i| (i.path.clone(), i.sha256.clone()))
        .collect();
    members.sort();
    members
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
        previous: &crate::job::incremental::PreviousArchive,
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

    /// Hard-links (or copies) `relative` of the previous archive to `relative_new` in staging,
    /// once its bytes are proven to hash to `sha256`: a file damaged in the previous snapshot
    /// must never be carried into the new one. `Ok(false)` (and a warning naming the damaged
    /// file) when they do not; nothing is linked then.
    fn link_previous(&self, relative: &str, relative_new: &str, sha256: &str) -> Result<bool> {
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
    fn link_file(&self, source: &Path, relative_new: &str) -> Result<()> {
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
    fn previous_file_is(&self, path: &Path, sha256: &str) -> bool {
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
    fn dedupe(&self, relative_new: &str, sha256: &str) {
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

    /// Writes the merged file of the collection at `path` now that all its items are in.
    fn merge_complete_collection(&self, path: &str) -> Result<()> {
        let (collection, location, members) = {
            let state = self.state();
            let Some(collection) = state.collections.iter().find(|c| c.path == path).cloned()
            else {
                return Ok(());
            };
            let location = state
                .sources
                .get(collection.source)
                .map_or_else(String::new, |s| s.location.clone());
            let members: Vec<ManifestItem> = state
                .items
                .iter()
                .filter(|i| i.collection == path)
                .cloned()
                .collect();
            (collection, location, members)
        };
        if let Some(merged) = self.write_merged(&collection, &location, &members)? {
            let mut state = self.state();
            if let Some(done) = state.collections.iter_mut().find(|c| c.path == path) {
                done.merged = Some(merged.path.clone());
            }
            state.files.push(merged);
        }
        Ok(())
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

    fn finish_blocking(&self) -> Result<WrittenArchive> {
        let mut state = std::mem::take(&mut *self.state());
        let mut extra_files = Vec::new();
        for index in 0..state.collections.len() {
            let collection = state.collections[index].clone();
            let location = state
                .sources
                .get(collection.source)
                .map_or("", |s| s.location.as_str());
            if collection.merged.is_none()
                && let Some(merged) = self.write_merged(&collection, location, &state.items)?
            {
                extra_files.push(merged.clone());
                state.collections[index].merged = Some(merged.path);
            }
            for (file, value) in [
                ("displayname", collection.info.display_name.as_deref()),
                ("color", collection.info.color.as_deref()),
            ] {
                if let (Some(value), true) = (value, collection.info.kind != CollectionKind::Photos)
                {
                    let relative = format!("{}/{file}", collection.path);
                    extra_files.push(self.write_file(
                        &relative,
                        "vdir-metadata",
                        value.as_bytes(),
                    )?);
                }
            }
        }
        extra_files.push(self.write_file("README.txt", "readme", readme_text().as_bytes())?);
        state.files.extend(extra_files);
        // Merged files are written as collections complete, in no fixed order.
        state.files.sort_by(|a, b| a.path.cmp(&b.path));
        state.items.sort_by(|a, b| a.path.cmp(&b.path));
        let mut manifest = Manifest {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            tool: concat!("lifeboat ", env!("CARGO_PKG_VERSION")).to_owned(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            sources: state.sources,
            collections: state.collections,
            items: state.items,
            files: state.files,
            warnings: state.warnings,
        };
        let check = self
            .commit_check
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(check) = check {
            let findings = check(&manifest);
            if !findings.is_empty() {
                let text: String = findings
                    .iter()
                    .map(|w| format!("{}\n", w.message))
                    .collect();
                manifest
                    .files
                    .push(self.write_file(FLAG_FILE, "flagged", text.as_bytes())?);
                manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
                for finding in findings {
                    self.progress.event(JobEvent::Warning(finding.clone()));
                    manifest.warnings.push(finding);
                }
            }
        }
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::with_source(ErrorKind::Io, "serializing the manifest", e))?;
        let manifest_path = self.staging.join(MANIFEST_FILE);
        write_synced(&manifest_path, &json)?;
        sync_tree(&self.staging)?;
        self.check_staged(&manifest)?;
        if self.zip {
            self.pack_zip()?;
        } else {
            commit_error(
                rename_no_replace(&self.staging, &self.final_path),
                &self.final_path,
            )?;
        }
        sync_parent(&self.final_path);
        self.committed.store(true, Ordering::SeqCst);
        Ok(WrittenArchive {
            path: self.final_path.clone(),
            manifest,
            item_bytes: state.bytes,
            linked_items: state.linked,
            linked_bytes: state.linked_bytes,
        })
    }

    /// Before the archive is moved into place: every file the manifest lists is there with
    /// its size. (Checksums were computed from the bytes as they were written or linked.)
    fn check_staged(&self, manifest: &Manifest) -> Result<()> {
        for (relative, _, size) in manifest.checked_files() {
            let path = self.staging.join(relative);
            let found = std::fs::metadata(&path).map_err(io("checking", &path))?;
            if found.len() != size {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "a written file has the wrong size ({} instead of {size} bytes): {}",
                        found.len(),
                        path.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn write_file(&self, relative: &str, role: &str, bytes: &[u8]) -> Result<ManifestFile> {
        self.copy_file(relative, role, bytes, Path::new(relative))
    }

    /// Writes what `from` reads (`read_path` names it in errors), hashing as it goes.
    fn copy_file(
        &self,
        relative: &str,
        role: &str,
        mut from: impl std::io::Read,
        read_path: &Path,
    ) -> Result<ManifestFile> {
        let path = self.staging.join(relative);
        self.make_parent(&path)?;
        let mut to = std::fs::File::create(&path).map_err(io("writing", &path))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = match from.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading", read_path, e)),
            };
            hasher.update(&buffer[..read]);
            to.write_all(&buffer[..read])
                .map_err(io("writing", &path))?;
            size += read as u64;
        }
        let sha256 = hex(&hasher.finalize());
        self.dedupe(relative, &sha256);
        Ok(ManifestFile {
            path: relative.to_owned(),
            role: role.to_owned(),
            sha256,
            size,
        })
    }

    /// The collection's items joined into one importable file, from their archived bytes.
    /// Streams from disk: only VTIMEZONEs and the calendar header stay in memory.
    fn write_merged(
        &self,
        collection: &ManifestCollection,
        location: &str,
        items: &[ManifestItem],
    ) -> Result<Option<ManifestFile>> {
        let Some((wanted, extension)) = merge_kinds(collection.info.kind) else {
            return Ok(None);
        };
        let mut members: Vec<&ManifestItem> = items
            .iter()
            .filter(|i| i.collection == collection.path && wanted.contains(&i.kind))
            .collect();
        if members.is_empty() {
            return Ok(None);
        }
        members.sort_by(|a, b| a.path.cmp(&b.path));
        let slug = collection.path.rsplit('/').next().unwrap_or("collection");
        let relative = format!(
            "merged/{}/{slug}.{extension}",
            collection.info.kind.folder()
        );
        // The same members as last time make the same file: link it instead of reading every
        // item back to build it again.
        if let Some(earlier) = self.link_from.as_ref().and_then(|from| {
            from.merged
                .get(&(location.to_owned(), collection.info.href.clone()))
        }) && earlier
            .members
            .iter()
            .map(|(path, sha)| (path.as_str(), sha.as_str()))
            .eq(members.iter().map(|i| (i.path.as_str(), i.sha256.as_str())))
            && self.link_previous(&earlier.file.path, &relative, &earlier.file.sha256)?
        {
            return Ok(Some(ManifestFile {
                path: relative,
                ..earlier.file.clone()
            }));
        }
        let path = self.staging.join(&relative);
        self.make_parent(&path)?;
        let file = std::fs::File::create(&path).map_err(io("writing", &path))?;
        let mut out = HashingWriter::new(std::io::BufWriter::new(file));
        let read = |item: &ManifestItem| {
            let item_path = self.staging.join(&item.path);
            std::fs::read(&item_path).map_err(io("reading back", &item_path))
        };
        let write_err = io("writing", &path);
        let result: std::io::Result<()> = (|| {
            if collection.info.kind == CollectionKind::Contacts {
                for item in &members {
                    let bytes = read(item).map_err(std::io::Error::other)?;
                    let mut card = Vec::with_capacity(bytes.len() + 2);
                    vobject::append_vcard(&mut card, &bytes);
                    out.write_all(&card)?;
                }
            } else {
                let mut head = vobject::MergedCalendar::default();
                for item in &members {
                    head.add_header_and_timezones(&read(item).map_err(std::io::Error::other)?);
                }
                out.write_all(&head.opening())?;
                for item in &members {
                    out.write_all(&vobject::components_of(
                        &read(item).map_err(std::io::Error::other)?,
                    ))?;
                }
                out.write_all(vobject::MergedCalendar::closing())?;
            }
            out.flush()
        })();
        result.map_err(write_err)?;
        let (sha256, size) = out.finish();
        self.dedupe(&relative, &sha256);
        Ok(Some(ManifestFile {
            path: relative,
            role: "merged".to_owned(),
            sha256,
            size,
        }))
    }

    fn pack_zip(&self) -> Result<()> {
        let partial = self.partial_zip_path();
        let result = (|| -> Result<()> {
            let file = std::fs::File::create(&partial).map_err(io("creating the zip", &partial))?;
            let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
            let mut files = Vec::new();
            collect_files(&self.staging, "", &mut files)?;
            files.sort();
            for relative in files {
                let source = self.staging.join(&relative);
                let compressed = !matches!(
                    Path::new(&relative)
                        .extension()
                        .and_then(|e| e.to_str())
                        .map(str::to_ascii_lowercase)
                        .as_deref(),
                    Some(
                        "jpg"
                            | "jpeg"
                            | "png"
                            | "gif"
                            | "heic"
                            | "heif"
                            | "webp"
                            | "mp4"
                            | "mov"
                            | "3gp"
                            | "m4v"
                            | "zip"
                    )
                );
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(if compressed {
                        zip::CompressionMethod::Deflated
                    } else {
                        zip::CompressionMethod::Stored
                    })
                    .large_file(true);
                zip.start_file(relative.as_str(), options)
                    .map_err(|e| zip_error(&partial, e))?;
                let mut input = std::fs::File::open(&source).map_err(io("reading", &source))?;
                std::io::copy(&mut input, &mut zip).map_err(io("writing the zip", &partial))?;
            }
            let writer = zip.finish().map_err(|e| zip_error(&partial, e))?;
            let file = writer
                .into_inner()
                .map_err(|e| Error::io("writing the zip", &partial, e.into_error()))?;
            file.sync_all().map_err(io("syncing the zip", &partial))?;
            commit_error(
                rename_no_replace(&partial, &self.final_path),
                &self.final_path,
            )?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result?;
        let _ = std::fs::remove_dir_all(&self.staging);
        Ok(())
    }

    fn partial_zip_path(&self) -> PathBuf {
        let mut name = self.staging.as_os_str().to_owned();
        name.push(".zip");
        PathBuf::from(name)
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

/// The error for a failed move into place; a name taken meanwhile (another export to the
/// same destination finished first) says so, since that archive was left as it is.
fn commit_error(result: std::io::Result<()>, final_path: &Path) -> Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "another backup was saved under the same name while this one was being written; it was left as it is and this one was not kept: {}",
                final_path.display()
            ),
        )),
        Err(e) => Err(Error::io("moving the archive into place", final_path, e)),
    }
}

fn zip_error(path: &Path, error: zip::result::ZipError) -> Error {
    match error {
        zip::result::ZipError::Io(e) => Error::io("writing the zip", path, e),
        other => Error::with_source(
            ErrorKind::Io,
            format!("writing the zip failed: {}", path.display()),
            other,
        ),
    }
}

/// Removes the staging folders and partial zips that earlier, killed runs left in `parent`
/// (any archive's: a killed export to another name, or a snapshot, has a name of its own).
pub fn remove_stale_partials(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some((_, rest)) = file_name
            .starts_with('.')
            .then(|| file_name.split_once(PARTIAL_MARKER))
            .flatten()
        else {
            continue;
        };
        let pid = rest.trim_end_matches(".zip");
        if pid.parse::<u32>().is_ok_and(|pid| !process_alive(pid)) {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Without a cheap portable check, assume alive: leaving a stale folder is safe.
        true
    }
}

fn collect_files(root: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    let dir = root.join(prefix);
    for entry in std::fs::read_dir(&dir).map_err(io("reading", &dir))? {
        let entry = entry.map_err(io("reading", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type().map_err(io("reading", &dir))?.is_dir() {
            collect_files(root, &relative, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(io("writing", path))?;
    file.write_all(bytes).map_err(io("writing", path))?;
    file.sync_all().map_err(io("syncing", path))
}

/// Flushes every file under `root` to disk: one `syncfs` on Unix instead of an fsync per item.
fn sync_tree(root: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = std::fs::File::open(root).map_err(io("syncing", root))?;
        rustix::fs::syncfs(&dir).map_err(|e| Error::io("syncing", root, e.into()))?;
    }
    #[cfg(not(unix))]
    {
        let mut files = Vec::new();
        collect_files(root, "", &mut files)?;
        for relative in files {
            let path = root.join(relative);
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io("syncing", &path))?;
        }
    }
    Ok(())
}

fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .and_then(|parent| std::fs::File::open(parent).ok())
    {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A writer that hashes and counts what passes through.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: std::io::Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (String, u64) {
        (hex(&self.hasher.finalize()), self.size)
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

/// The sink for one collection's items.
#[derive(Debug, Clone)]
pub struct CollectionWriter {
    archive: Arc<ArchiveWriter>,
    path: String,
    info: CollectionInfo,
}

impl CollectionWriter {
    /// Says every item of the collection is in: its merged file is written now, while the
    /// next collection downloads, instead of at [`ArchiveWriter::finish`]. No item may follow.
    pub async fn complete(&self) -> Result<()> {
        let archive = Arc::clone(&self.archive);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || archive.merge_complete_collection(&path))
            .await
            .map_err(|e| Error::with_source(ErrorKind::Io, "writing a merged file failed", e))?
    }

    /// Chooses the item's archive path (unique in its folder) and records its facts.
    fn place(&self, href: &str) -> String {
        let mut state = self.archive.state();
        let names = state.item_names.entry(self.path.clone()).or_default();
        match self.info.kind.item_extension() {
            Some(extension) => {
                let name = names.claim(&item_stem(href, Some(extension)), Some(extension));
                format!("{}/{name}", self.path)
            }
            None => {
                let relative = href.strip_prefix(self.info.href.as_str()).unwrap_or(href);
                let safe = safe_relative_path(relative);
                let (stem, extension) = match safe.rsplit_once('.') {
                    Some((stem, ext)) if !ext.contains('/') => {
                        (stem.to_owned(), Some(ext.to_owned()))
                    }
                    _ => (safe.clone(), None),
                };
                let name = names.claim(&stem, extension.as_deref());
                format!("{}/{name}", self.path)
            }
        }
    }

    /// Takes `items` over from the previous archive unchanged (hard links, else copies), each
    /// with the warnings that archive recorded for it: all on one blocking task, since a
    /// snapshot where little changed links thousands of files. Each file is re-hashed first;
    /// the items whose earlier copy is damaged are returned, to be fetched again.
    pub async fn link_all(
        &self,
        items: Vec<(ManifestItem, Vec<Warning>)>,
        cancel: &crate::progress::CancelToken,
    ) -> Result<Vec<ManifestItem>> {
        let writer = self.clone();
        let cancel = cancel.clone();
        tokio::task::spawn_blocking(move || {
            let mut damaged = Vec::new();
            for (item, warnings) in items {
                cancel.check()?;
                if !writer.link(&item, warnings)? {
                    damaged.push(item);
                }
            }
            Ok(damaged)
        })
        .await
        .map_err(|e| Error::with_source(ErrorKind::Io, "linking files failed", e))?
    }

    /// Links one unchanged item; `Ok(false)` when its earlier copy is damaged.
    fn link(&self, item: &ManifestItem, warnings: Vec<Warning>) -> Result<bool> {
        let Some(from) = &self.archive.link_from else {
            return Err(Error::new(ErrorKind::Io, "no earlier archive to link from"));
        };
        let source = from.root.join(&item.path);
        if !self.archive.previous_file_is(&source, &item.sha256) {
            return Ok(false);
        }
        let path = self.place(&item.href);
        self.archive.link_file(&source, &path)?;
        if let Some(uid) = &item.uid {
            let mut state = self.archive.state();
            state
                .uids
                .entry((self.path.clone(), uid.clone()))
                .or_insert_with(|| path.clone());
        }
        let warnings = warnings
            .into_iter()
            .map(|w| w.at_path(path.clone()))
            .collect();
        {
            let mut state = self.archive.state();
            state.linked += 1;
            state.linked_bytes += item.size;
        }
        self.record(
            ManifestItem {
                path,
                collection: self.path.clone(),
                ..item.clone()
            },
            warnings,
        );
        Ok(true)
    }

    fn record(&self, item: ManifestItem, warnings: Vec<Warning>) {
        self.archive.progress.event(JobEvent::Progress {
            items: 1,
            bytes: item.size,
        });
        for warning in &warnings {
            self.archive
                .progress
                .event(JobEvent::Warning(warning.clone()));
        }
        let mut state = self.archive.state();
        state.bytes += item.size;
        state.items.push(item);
        state.warnings.extend(warnings);
    }

    fn facts_warnings(
        &self,
        path: &str,
        href: &str,
        bytes: &[u8],
    ) -> (ItemKind, Option<String>, Vec<Warning>) {
        let facts = vobject::inspect(bytes);
        let mut warnings = Vec::new();
        let here = |w: Warning| w.at_path(path).at_href(href);
        if let Some(problem) = &facts.parse_problem {
            warnings.push(here(Warning::new(
                "unparseable",
                format!("kept verbatim, but no parser could read it: {problem}"),
            )));
        }
        if !facts.nonconforming.is_empty() {
            warnings.push(here(Warning::new(
                "nonconforming",
                format!(
                    "kept verbatim; breaks the standard: {}",
                    facts.nonconforming.join(", ")
                ),
            )));
        }
        if !facts.is_utf8 {
            warnings.push(here(Warning::new(
                "not-utf8",
                "kept verbatim in its original (non-UTF-8) charset",
            )));
        }
        match &facts.uid {
            None if facts.kind != ItemKind::Unknown => {
                warnings.push(here(Warning::new(
                    "missing-uid",
                    "has no UID; kept under a generated file name",
                )));
            }
            Some(uid) => {
                let mut state = self.archive.state();
                let key = (self.path.clone(), uid.clone());
                if let Some(first) = state.uids.get(&key) {
                    warnings.push(here(Warning::new(
                        "duplicate-uid",
                        format!("has the same UID as {first}; both kept"),
                    )));
                } else {
                    state.uids.insert(key, path.to_owned());
                }
            }
            None => {}
        }
        (facts.kind, facts.uid, warnings)
    }

    /// Where the original of `href` goes. Names made safe can meet (`Kontakte-ä.vcf` and
    /// `Kontakte-ö.vcf` both become `Kontakte-_.vcf`): each original claims its own.
    fn original_name(&self, href: &str) -> String {
        // Relative to the collection, as a device file's href already is; a collection
        // that is itself one file (a Takeout calendar) keeps the file's name.
        let inside = href
            .strip_prefix(self.info.href.as_str())
            .filter(|rest| !rest.trim_matches('/').is_empty())
            .unwrap_or(href);
        let safe = safe_relative_path(inside);
        let (folder, name) = match safe.rsplit_once('/') {
            Some((folder, name)) => (format!("originals/{}/{folder}", self.path), name),
            None => (format!("originals/{}", self.path), safe.as_str()),
        };
        let (stem, extension) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
            _ => (name, None),
        };
        let mut state = self.archive.state();
        let claimed = state
            .item_names
            .entry(folder.clone())
            .or_default()
            .claim(stem, extension);
        format!("{folder}/{claimed}")
    }

    fn kept_original(&self, href: &str, relative: String, file: ManifestFile) {
        let warning = Warning::new(
            "original-kept",
            "this file holds several items; they were archived one by one and the whole file is kept too",
        )
        .at_path(relative)
        .at_href(href);
        self.archive
            .progress
            .event(JobEvent::Warning(warning.clone()));
        let mut state = self.archive.state();
        state.files.push(file);
        state.warnings.push(warning);
    }

    fn take_about(&self, href: &str) -> ItemAbout {
        self.archive
            .state()
            .about
            .remove(&(self.path.clone(), href.to_owned()))
            .unwrap_or_default()
    }

    fn media_kind(path: &str) -> ItemKind {
        match crate::source::device::kind_of(Path::new(path)) {
            Some(CollectionKind::Photos) => ItemKind::Photo,
            _ => ItemKind::File,
        }
    }
}

#[async_trait::async_trait]
impl ItemSink for CollectionWriter {
    async fn item(&self, href: String, etag: Option<String>, bytes: Vec<u8>) -> Result<()> {
        let path = self.place(&href);
        let (kind, uid, warnings) = if self.info.kind == CollectionKind::Photos {
            (Self::media_kind(&path), None, Vec::new())
        } else {
            self.facts_warnings(&path, &href, &bytes)
        };
        let sha256 = sha256_hex(&bytes);
        let size = bytes.len() as u64;
        let full = self.archive.staging.join(&path);
        tokio::fs::write(&full, bytes)
            .await
            .map_err(io("writing", &full))?;
        self.archive.dedupe(&path, &sha256);
        self.record(
            ManifestItem {
                path,
                collection: self.path.clone(),
                kind,
                uid,
                about: self.take_about(&href),
                href,
                etag,
                sha256,
                size,
            },
            warnings,
        );
        Ok(())
    }

    async fn stream(&self, href: String, etag: Option<String>, mut body: ByteStream) -> Result<()> {
        use tokio::io::AsyncWriteExt as _;
        let path = self.place(&href);
        let full = self.archive.staging.join(&path);
        self.archive.make_parent(&full)?;
        let mut file = tokio::fs::File::create(&full)
            .await
            .map_err(io("writing", &full))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut receiving = Receiving::new(&*self.archive.progress);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    // No partial file stays behind: the source may report this one item
                    // and go on (a damaged entry of a local zip) or fail the job.
                    drop(file);
                    let _ = tokio::fs::remove_file(&full).await;
                    if crate::progress::CancelToken::is_cancel(&e) {
                        return Err(Error::cancelled());
                    }
                    let (kind, what) = if e.kind() == std::io::ErrorKind::InvalidData {
                        (ErrorKind::InvalidData, "damaged at the source")
                    } else {
                        (ErrorKind::Network, "the download broke off")
                    };
                    return Err(Error::with_source(kind, format!("{what}: {href}"), e));
                }
            };
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io("writing", &full))?;
            receiving.add(chunk.len());
        }
        drop(receiving);
        file.flush().await.map_err(io("writing", &full))?;
        drop(file);
        let kind = Self::media_kind(&path);
        let sha256 = hex(&hasher.finalize());
        self.archive.dedupe(&path, &sha256);
        self.record(
            ManifestItem {
                path,
                collection: self.path.clone(),
                kind,
                uid: None,
                about: self.take_about(&href),
                href,
                etag,
                sha256,
                size,
            },
            Vec::new(),
        );
        Ok(())
    }

    async fn original(&self, href: &str, bytes: &[u8]) -> Result<()> {
        let relative = self.original_name(href);
        let file = {
            let archive = Arc::clone(&self.archive);
            let relative = relative.clone();
            let bytes = bytes.to_vec();
            tokio::task::spawn_blocking(move || archive.write_file(&relative, "original", &bytes))
                .await
                .map_err(|e| Error::with_source(ErrorKind::Io, "writing an original failed", e))??
        };
        self.kept_original(href, relative, file);
        Ok(())
    }

    async fn original_file(&self, href: &str, from: &Path) -> Result<()> {
        let relative = self.original_name(href);
        let file = {
            let archive = Arc::clone(&self.archive);
            let relative = relative.clone();
            let from = from.to_owned();
            tokio::task::spawn_blocking(move || {
                let reader = std::fs::File::open(&from).map_err(io("reading", &from))?;
                archive.copy_file(&relative, "original", reader, &from)
            })
            .await
            .map_err(|e| Error::with_source(ErrorKind::Io, "writing an original failed", e))??
        };
        self.kept_original(href, relative, file);
        Ok(())
    }

    fn warn(&self, warning: Warning) {
        self.archive.warn(warning);
    }

    fn describe(&self, href: &str, about: ItemAbout) {
        self.archive
            .state()
            .about
            .insert((self.path.clone(), href.to_owned()), about);
    }

    async fn metadata(&self, href: &str, bytes: &[u8]) -> Result<()> {
        let inside = href.strip_prefix(self.info.href.as_str()).unwrap_or(href);
        let relative = format!("metadata/{}/{}", self.path, safe_relative_path(inside));
        let archive = Arc::clone(&self.archive);
        let bytes = bytes.to_vec();
        let file =
            tokio::task::spawn_blocking(move || archive.write_file(&relative, "metadata", &bytes))
                .await
                .map_err(|e| {
                    Error::with_source(ErrorKind::Io, "writing a metadata file failed", e)
                })??;
        self.archive.state().files.push(file);
        Ok(())
    }
}

/// The README.txt placed inside every archive, for a person without Lifeboat.
pub fn readme_text() -> String {
    format!(
        "This is a backup made by Lifeboat {version} (archive format {FORMAT_VERSION}).\n\
\n\
Everything here is in open formats; you do not need Lifeboat to use it.\n\
\n\
contacts/       One folder per address book; one .vcf file (vCard) per contact, exactly as\n\
                the server or phone held it. Each folder is a \"vdir\" that khard can read.\n\
calendars/      One folder per calendar or task list; one .ics file (iCalendar) per event\n\
                or to-do. khal and todoman can read these folders directly.\n\
merged/         The same data joined into one file per address book (.vcf) or calendar\n\
                (.ics). To move to another service, import these: Google Contacts\n\
                (Import), Google Calendar (Settings > Import), Apple Contacts and Calendar\n\
                (File > Import), Outlook, Thunderbird, or copy them onto a phone.\n\
photos/         Your photos, byte for byte as they were (EXIF intact), in their folders.\n\
originals/      Files from a phone or folder that held many items, kept whole as found.\n\
metadata/       Files that describe the items, kept as the provider wrote them: Google\n\
                Takeout's photo sidecars (.json) and Tasks.json, Apple's photo CSVs.\n\
manifest.json   The list of every file with its SHA-256 checksum, where it came from,\n\
                and any warnings (items that could not be read are still kept).\n\
\n\
To check that nothing is damaged: lifeboat verify <this archive>\n\
To put it back into an account: lifeboat restore <this archive> (or drop it on the app).\n",
        version = env!("CARGO_PKG_VERSION")
    )
}
