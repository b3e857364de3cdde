//! The sink one collection's items go into ([`CollectionWriter`]): items and streamed
//! bodies written with their checksums, originals and metadata kept, progress reported.

use super::*;

/// How much of a streamed item one `write` hands the kernel. Measured on these machines
/// (`benches/android_phone.rs`, 2 GiB of photos): 1 MiB writes cost 3.6–4.0 s of system time,
/// 256 KiB ones 1.8–1.9 s and 64 KiB ones 1.1 s, as `adb pull`'s own 64 KiB writes do. Larger
/// writes make the page cache take larger blocks of fresh memory, which costs more to touch.
const WRITE_SLICE: usize = 64 * 1024;

/// The sink for one collection's items.
#[derive(Debug, Clone)]
pub struct CollectionWriter {
    pub(super) archive: Arc<ArchiveWriter>,
    pub(super) path: String,
    pub(super) info: CollectionInfo,
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
    pub(super) fn place(&self, href: &str) -> String {
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
    pub(super) fn link(&self, item: &ManifestItem, warnings: Vec<Warning>) -> Result<bool> {
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

    pub(super) fn record(&self, item: ManifestItem, warnings: Vec<Warning>) {
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

    pub(super) fn facts_warnings(
        &self,
        path: &str,
        href: &str,
        bytes: &[u8],
    ) -> (ItemKind, Option<Uid>, Vec<Warning>) {
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
    pub(super) fn original_name(&self, href: &str) -> String {
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

    pub(super) fn kept_original(&self, href: &str, relative: String, file: ManifestFile) {
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

    pub(super) fn take_about(&self, href: &str) -> ItemAbout {
        self.archive
            .state()
            .about
            .remove(&(self.path.clone(), href.to_owned()))
            .unwrap_or_default()
    }

    pub(super) fn media_kind(path: &str) -> ItemKind {
        match crate::source::device::kind_of(Path::new(path)) {
            Some(CollectionKind::Photos) => ItemKind::Photo,
            _ => ItemKind::File,
        }
    }
}

#[async_trait::async_trait]
impl ItemSink for CollectionWriter {
    async fn item(&self, href: Href, etag: Option<Etag>, bytes: Vec<u8>) -> Result<()> {
        let path = self.place(&href);
        let (kind, uid, warnings) = if self.info.kind == CollectionKind::Photos {
            (Self::media_kind(&path), None, Vec::new())
        } else {
            self.facts_warnings(&path, &href, &bytes)
        };
        let sha256 = Sha256::of(&bytes);
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

    async fn stream(&self, href: Href, etag: Option<Etag>, mut body: ByteStream) -> Result<()> {
        let path = self.place(&href);
        let full = self.archive.staging.join(&path);
        self.archive.make_parent(&full)?;
        // Hashing and writing run on a thread of their own, so that the next bytes are
        // received while the last are written (a phone or server waits for each read).
        let (pieces, mut arriving) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
        let writer = tokio::task::spawn_blocking({
            let full = full.clone();
            move || -> std::io::Result<(sha2::Sha256, u64, std::fs::File)> {
                use std::io::Write as _;
                let mut file = std::fs::File::create(&full)?;
                let mut hasher = sha2::Sha256::new();
                let mut size = 0u64;
                while let Some(piece) = arriving.blocking_recv() {
                    hasher.update(&piece);
                    size += piece.len() as u64;
                    for part in piece.chunks(WRITE_SLICE) {
                        file.write_all(part)?;
                    }
                }
                file.flush()?;
                Ok((hasher, size, file))
            }
        });
        let mut receiving = Receiving::new(&*self.archive.progress);
        let mut failed = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    receiving.add(chunk.len());
                    if pieces.send(chunk).await.is_err() {
                        // The writer stopped (its error comes below).
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(pieces);
        drop(receiving);
        let written = writer
            .await
            .map_err(|e| Error::with_source(ErrorKind::Io, "writing a file failed", e))?;
        if let Some(e) = failed {
            // No partial file stays behind: the source may report this one item and go on
            // (a damaged entry of a local zip) or fail the job.
            drop(written);
            let _ = tokio::fs::remove_file(&full).await;
            if crate::progress::CancelToken::is_cancel(&e) {
                return Err(Error::cancelled());
            }
            let (kind, what) = if e.kind() == std::io::ErrorKind::InvalidData {
                (ErrorKind::InvalidData, "damaged at the source")
            } else {
                (ErrorKind::Network, "the download broke off")
            };
            // A source that says why (a phone that did not come back) is heard out.
            if let Some(why) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
                return Err(Error::new(why.kind(), format!("{what}: {href}: {why}")));
            }
            return Err(Error::with_source(kind, format!("{what}: {href}"), e));
        }
        let (hasher, size, file) = written.map_err(io("writing", &full))?;
        let about = self.take_about(&href);
        if let Some(modified) = about
            .modified
            .as_deref()
            .and_then(|m| chrono::DateTime::parse_from_rfc3339(m).ok())
        {
            // The photo keeps the time it had at its source, as `adb pull -a` or a copy would.
            file.set_modified(std::time::SystemTime::from(modified))
                .map_err(io("writing", &full))?;
        }
        drop(file);
        let kind = Self::media_kind(&path);
        let sha256 = Sha256::from_digest(&hasher.finalize());
        self.archive.dedupe(&path, &sha256);
        self.record(
            ManifestItem {
                path,
                collection: self.path.clone(),
                kind,
                uid: None,
                about,
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

    fn phase(&self, words: String) {
        self.archive.progress.event(JobEvent::Phase(words));
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
