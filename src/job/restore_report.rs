//! The restore report saved beside an archive (`NAME.restore.json`): per target, where each
//! archived item went (href, UID sent, ETag, SHA-256 of what the server serves). Written before
//! uploads (as pending) and after, so a re-run, even after `kill -9`, recognises its own work
//! on servers that rename items or rewrite UIDs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{Etag, Href, Sha256, Uid};

pub const REPORT_FORMAT: &str = "lifeboat-restore-report";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreReport {
    pub format: String,
    pub format_version: u32,
    /// Target location (URL or folder, never credentials) and the account signed in there
    /// (`URL (alice at host)`) → what went there.
    #[serde(default)]
    pub targets: BTreeMap<String, TargetRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// RFC 3339 time of the last run that wrote here.
    #[serde(default)]
    pub updated: String,
    /// Archive item path → where it went.
    #[serde(default)]
    pub items: BTreeMap<String, ItemRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemState {
    /// About to be uploaded; if it is found there later, it is ours.
    Pending,
    /// The target accepted it.
    Stored,
    /// Read back and found equal (exactly or equivalently).
    Verified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub href: Href,
    /// The UID sent (a new one for `keep-both` copies).
    #[serde(default)]
    pub uid: Option<Uid>,
    pub state: ItemState,
    #[serde(default)]
    pub etag: Option<Etag>,
    /// SHA-256 of the bytes the target served on read-back.
    #[serde(default)]
    pub served_sha256: Option<Sha256>,
    /// What the read-back found the target changed (one line per property); empty when it
    /// holds what was sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl Default for RestoreReport {
    fn default() -> Self {
        Self {
            format: REPORT_FORMAT.to_owned(),
            format_version: 1,
            targets: BTreeMap::new(),
        }
    }
}

/// `archive.zip` → `archive.zip.restore.json`; `archive/` → `archive.restore.json`, beside it.
pub fn report_path(archive: &Path) -> PathBuf {
    let name = archive
        .file_name()
        .map_or_else(|| "archive".into(), |n| n.to_string_lossy().into_owned());
    archive.with_file_name(format!("{name}.restore.json"))
}

impl RestoreReport {
    /// Loads the report, or starts an empty one when there is none. An unreadable report is
    /// set aside (renamed `.damaged`), never silently overwritten.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::io("reading the restore report", path, e)),
        };
        match serde_json::from_slice::<Self>(&bytes) {
            Ok(report) if report.format == REPORT_FORMAT => Ok(report),
            _ => {
                let aside = path.with_extension("json.damaged");
                std::fs::rename(path, &aside)
                    .map_err(|e| Error::io("setting aside a damaged restore report", path, e))?;
                tracing::warn!(path = %aside.display(), "restore report damaged; set aside");
                Ok(Self::default())
            }
        }
    }

    /// Writes atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| {
            Error::with_source(
                crate::ErrorKind::Io,
                "could not encode the restore report",
                e,
            )
        })?;
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&temporary, json)
            .map_err(|e| Error::io("writing the restore report", &temporary, e))?;
        std::fs::rename(&temporary, path)
            .map_err(|e| Error::io("writing the restore report", path, e))
    }

    pub fn target(&mut self, location: &str) -> &mut TargetRecord {
        self.targets.entry(location.to_owned()).or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn saves_loads_and_sets_aside_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = report_path(&dir.path().join("backup.zip"));
        assert!(path.ends_with("backup.zip.restore.json"));
        let mut report = RestoreReport::load(&path).unwrap();
        report.target("http://x/").items.insert(
            "contacts/a/1.vcf".to_owned(),
            ItemRecord {
                href: "/a/1.vcf".into(),
                uid: Some("1".into()),
                state: ItemState::Pending,
                etag: None,
                served_sha256: None,
                changes: Vec::new(),
            },
        );
        report.save(&path).unwrap();
        assert_eq!(RestoreReport::load(&path).unwrap(), report);
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(
            RestoreReport::load(&path).unwrap(),
            RestoreReport::default()
        );
        assert!(path.with_extension("json.damaged").exists());
    }
}
