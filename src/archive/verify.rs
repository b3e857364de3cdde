//! `lifeboat verify`: re-hashes every file against the manifest and reports missing, corrupt,
//! extra and unsafe entries.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use crate::archive::manifest::{MANIFEST_FILE, Manifest};
use crate::archive::reader::ArchiveReader;
use crate::error::Result;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Files whose checksum and size were compared.
    pub checked: usize,
    pub missing: Vec<String>,
    /// Files whose bytes differ from the manifest, with what differs.
    pub corrupt: Vec<String>,
    /// Files the manifest does not list.
    pub extra: Vec<String>,
    /// Entries that try to escape the archive or are links.
    pub unsafe_entries: Vec<String>,
    /// Warnings recorded when the archive was made.
    pub export_warnings: usize,
}

impl VerifyReport {
    /// Archived files that must not be used: missing or not matching their checksum.
    pub fn damaged_paths(&self) -> std::collections::HashSet<String> {
        let path_of = |entry: &String| {
            entry
                .split_once(" (")
                .map_or_else(|| entry.clone(), |(path, _)| path.to_owned())
        };
        self.missing
            .iter()
            .chain(&self.corrupt)
            .map(path_of)
            .collect()
    }

    pub fn is_ok(&self) -> bool {
        self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.extra.is_empty()
            && self.unsafe_entries.is_empty()
    }
}

/// Checks an archive; errors only when it cannot be read at all (no manifest, not a zip).
pub fn verify(path: &Path) -> Result<(Manifest, VerifyReport)> {
    let mut reader = ArchiveReader::open(path)?;
    let manifest = reader.manifest()?;
    let report = check(&mut reader, &manifest)?;
    Ok((manifest, report))
}

/// Checks an open archive against its manifest.
pub fn check(reader: &mut ArchiveReader, manifest: &Manifest) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        export_warnings: manifest.warnings.len(),
        ..VerifyReport::default()
    };
    let duplicates = reader.duplicate_names();
    for (name, count) in &duplicates {
        report.corrupt.push(format!(
            "{name} (the zip holds {count} entries of this name; programs differ in which they read)"
        ));
    }
    let mut listed = HashSet::new();
    for (file, sha256, size) in manifest.checked_files() {
        listed.insert(file.to_owned());
        if duplicates.iter().any(|(name, _)| name == file) {
            continue;
        }
        match reader.hash(file)? {
            None => report.missing.push(file.to_owned()),
            Some((actual, actual_size)) => {
                report.checked += 1;
                if actual_size != size {
                    report
                        .corrupt
                        .push(format!("{file} (size {actual_size}, expected {size})"));
                } else if actual != sha256 {
                    report.corrupt.push(format!("{file} (checksum differs)"));
                }
            }
        }
    }
    for entry in reader.entries()? {
        if let Some(reason) = entry.unsafe_reason {
            report
                .unsafe_entries
                .push(format!("{} ({reason})", entry.path));
        } else if entry.path != MANIFEST_FILE && !listed.contains(&entry.path) {
            report.extra.push(entry.path);
        }
    }
    Ok(report)
}
