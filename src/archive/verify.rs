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
    pub corrupt: Vec<Damage>,
    /// Files the manifest does not list.
    pub extra: Vec<String>,
    /// Entries that try to escape the archive or are links.
    pub unsafe_entries: Vec<Damage>,
    /// Warnings recorded when the archive was made.
    pub export_warnings: usize,
}

/// One archived file that cannot be trusted, and what is wrong with it: data, so each
/// front says it in its own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub path: String,
    #[serde(flatten)]
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// The manifest lists it; the archive does not hold it.
    Missing,
    SizeDiffers {
        found: u64,
        expected: u64,
    },
    ChecksumDiffers,
    /// A zip holding several entries of this name (programs differ in which they read).
    SameNameTwice {
        count: usize,
    },
    /// An entry that leads out of the archive, or a link.
    Unsafe {
        reason: String,
    },
}

impl std::fmt::Display for Damage {
    /// The terse form of logs and the command line: "corrupt a/b.jpg (checksum differs)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = &self.path;
        match &self.problem {
            Problem::Missing => write!(f, "missing {path}"),
            Problem::SizeDiffers { found, expected } => {
                write!(f, "corrupt {path} (size {found}, expected {expected})")
            }
            Problem::ChecksumDiffers => write!(f, "corrupt {path} (checksum differs)"),
            Problem::SameNameTwice { count } => write!(
                f,
                "corrupt {path} (the zip holds {count} entries of this name; programs differ in which they read)"
            ),
            Problem::Unsafe { reason } => write!(f, "unsafe {path} ({reason})"),
        }
    }
}

impl VerifyReport {
    /// Archived files that must not be used: missing or not matching their checksum.
    pub fn damaged_paths(&self) -> std::collections::HashSet<String> {
        self.missing
            .iter()
            .cloned()
            .chain(self.corrupt.iter().map(|d| d.path.clone()))
            .collect()
    }

    /// Everything that cannot be restored: missing, corrupt and unsafe entries.
    pub fn problems(&self) -> Vec<Damage> {
        self.missing
            .iter()
            .map(|path| Damage {
                path: path.clone(),
                problem: Problem::Missing,
            })
            .chain(self.corrupt.iter().cloned())
            .chain(self.unsafe_entries.iter().cloned())
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
        report.corrupt.push(Damage {
            path: name.clone(),
            problem: Problem::SameNameTwice { count: *count },
        });
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
                let problem = if actual_size != size {
                    Some(Problem::SizeDiffers {
                        found: actual_size,
                        expected: size,
                    })
                } else {
                    (actual != *sha256).then_some(Problem::ChecksumDiffers)
                };
                if let Some(problem) = problem {
                    report.corrupt.push(Damage {
                        path: file.to_owned(),
                        problem,
                    });
                }
            }
        }
    }
    for entry in reader.entries()? {
        if let Some(reason) = entry.unsafe_reason {
            report.unsafe_entries.push(Damage {
                path: entry.path,
                problem: Problem::Unsafe { reason },
            });
        } else if entry.path != MANIFEST_FILE && !listed.contains(&entry.path) {
            report.extra.push(entry.path);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Problem, verify};
    use crate::ids::Sha256;

    /// A damaged file's path is data, whole: a name with " (" in it (as copies are named)
    /// was once cut there when the damage was carried as a line of text.
    #[test]
    fn a_damaged_file_whose_name_holds_a_parenthesis_is_named_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = "photos/camera/IMG (1).jpg";
        std::fs::create_dir_all(dir.path().join("photos/camera")).unwrap();
        std::fs::write(dir.path().join(path), b"changed after the backup").unwrap();
        let manifest = serde_json::json!({
            "format": crate::archive::manifest::FORMAT_NAME,
            "format_version": crate::archive::manifest::FORMAT_VERSION,
            "tool": "lifeboat test",
            "created": "2026-12-03T12:00:00Z",
            "sources": [],
            "collections": [],
            "items": [{
                "path": path,
                "collection": "photos/camera",
                "kind": "photo",
                "href": "/Photos/IMG%20(1).jpg",
                "sha256": Sha256::of(b"as it was backed up").as_str(),
                "size": 24,
            }],
        });
        std::fs::write(
            dir.path().join("manifest.json"),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        let (_, report) = verify(dir.path()).unwrap();
        assert_eq!(report.corrupt.len(), 1, "{report:?}");
        assert_eq!(report.corrupt[0].path, path);
        assert_eq!(report.corrupt[0].problem, Problem::ChecksumDiffers);
        assert!(report.damaged_paths().contains(path));
        assert_eq!(
            report.corrupt[0].to_string(),
            format!("corrupt {path} (checksum differs)")
        );
    }
}
