//! Packing a finished staging folder into a `.zip` beside the destination, renamed into
//! place only when complete.

use std::path::{Path, PathBuf};

use crate::archive::commit::rename_no_replace;
use crate::error::{Error, Result};

use super::{ArchiveWriter, collect_files, commit_error, io};

impl ArchiveWriter {
    pub(super) fn pack_zip(&self) -> Result<()> {
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
                    .large_file(true)
                    .last_modified_time(zip_time(&source));
                zip.start_file(relative.as_str(), options)
                    .map_err(|e| Error::zip_write(&partial, e))?;
                let mut input = std::fs::File::open(&source).map_err(io("reading", &source))?;
                std::io::copy(&mut input, &mut zip).map_err(io("writing the zip", &partial))?;
            }
            let writer = zip.finish().map_err(|e| Error::zip_write(&partial, e))?;
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

    pub(super) fn partial_zip_path(&self) -> PathBuf {
        let mut name = self.staging.as_os_str().to_owned();
        name.push(".zip");
        PathBuf::from(name)
    }
}

/// A file's modification time as a zip entry keeps it (local time, to two seconds), so that a
/// photo packed into a zip keeps the time it had at its source.
fn zip_time(path: &std::path::Path) -> zip::DateTime {
    use chrono::{Datelike as _, Timelike as _};
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(chrono::DateTime::<chrono::Local>::from)
        .and_then(|t| {
            zip::DateTime::from_date_and_time(
                u16::try_from(t.year()).ok()?,
                u8::try_from(t.month()).ok()?,
                u8::try_from(t.day()).ok()?,
                u8::try_from(t.hour()).ok()?,
                u8::try_from(t.minute()).ok()?,
                u8::try_from(t.second()).ok()?,
            )
            .ok()
        })
        .unwrap_or_default()
}
