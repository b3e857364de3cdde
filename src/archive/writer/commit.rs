//! Finishing an archive: files written and synced, the staged folder checked against
//! its manifest, then moved into place; partial folders of dead exports cleaned up.

use super::*;

impl ArchiveWriter {
    pub(super) fn finish_blocking(&self) -> Result<WrittenArchive> {
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
    pub(super) fn check_staged(&self, manifest: &Manifest) -> Result<()> {
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

    pub(super) fn write_file(
        &self,
        relative: &str,
        role: &str,
        bytes: &[u8],
    ) -> Result<ManifestFile> {
        self.copy_file(relative, role, bytes, Path::new(relative))
    }

    /// Writes what `from` reads (`read_path` names it in errors), hashing as it goes.
    pub(super) fn copy_file(
        &self,
        relative: &str,
        role: &str,
        mut from: impl std::io::Read,
        read_path: &Path,
    ) -> Result<ManifestFile> {
        let path = self.staging.join(relative);
        self.make_parent(&path)?;
        let mut to = std::fs::File::create(&path).map_err(io("writing", &path))?;
        let mut hasher = sha2::Sha256::new();
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
        let sha256 = Sha256::from_digest(&hasher.finalize());
        self.dedupe(relative, &sha256);
        Ok(ManifestFile {
            path: relative.to_owned(),
            role: role.to_owned(),
            sha256,
            size,
        })
    }
}

/// The error for a failed move into place; a name taken meanwhile (another export to the
/// same destination finished first) says so, since that archive was left as it is.
pub(super) fn commit_error(result: std::io::Result<()>, final_path: &Path) -> Result<()> {
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

pub(super) fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Without a cheap portable check, assume alive: leaving a stale folder is safe.
        true
    }
}

pub(super) fn collect_files(root: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
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

pub(super) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(io("writing", path))?;
    file.write_all(bytes).map_err(io("writing", path))?;
    file.sync_all().map_err(io("syncing", path))
}

/// Flushes every file under `root` to disk: one `syncfs` on Unix instead of an fsync per item.
pub(super) fn sync_tree(root: &Path) -> Result<()> {
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

pub(super) fn sync_parent(path: &Path) {
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
