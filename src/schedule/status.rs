//! A status file and a log per profile, beside the config: what the last runs did, for
//! `schedule status`, the window, and the policy that decides when the next run is due.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::schedule::policy::History;

/// Runs remembered in the status file.
const RUNS_KEPT: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new snapshot was written and checked.
    Success,
    /// A snapshot was written, but items vanished at the source: nothing was pruned.
    Flagged,
    /// No snapshot was written.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub outcome: Outcome,
    /// The snapshot folder's name, when one was written.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// One line for people: the summary or the error.
    pub message: String,
    /// What vanished at the source (the drop guard).
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub fetched_items: u64,
    #[serde(default)]
    pub linked_items: u64,
    #[serde(default)]
    pub fetched_bytes: u64,
    #[serde(default)]
    pub requests: u64,
    /// Snapshots deleted by retention after this run.
    #[serde(default)]
    pub pruned: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Oldest first.
    pub runs: Vec<RunRecord>,
}

impl Status {
    pub fn last(&self) -> Option<&RunRecord> {
        self.runs.last()
    }

    /// The history the schedule policy needs, in local time. A flagged run wrote a snapshot,
    /// so it counts as done.
    pub fn history(&self) -> History {
        let local = |t: &DateTime<Utc>| t.with_timezone(&Local).naive_local();
        History {
            last_success: self
                .runs
                .iter()
                .rev()
                .find(|r| r.outcome != Outcome::Failed)
                .map(|r| local(&r.started)),
            last_attempt: self
                .runs
                .last()
                .map(|r| (local(&r.started), r.outcome != Outcome::Failed)),
        }
    }
}

/// Where a profile's status and log files live.
#[derive(Debug, Clone)]
pub struct StatusFiles {
    pub status: PathBuf,
    pub log: PathBuf,
}

impl StatusFiles {
    /// `profiles/NAME.status.json` and `profiles/NAME.log` in the config folder.
    pub fn for_profile(config_dir: &Path, name: &str) -> Self {
        let dir = config_dir.join("profiles");
        Self {
            status: dir.join(format!("{name}.status.json")),
            log: dir.join(format!("{name}.log")),
        }
    }

    /// A missing file is an empty status; a damaged one too (it is rebuilt by the next run,
    /// and losing run history must not stop backups).
    pub fn load(&self) -> Status {
        std::fs::read(&self.status)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Adds a run to the status file (atomically) and a line to the log.
    pub fn record(&self, run: RunRecord) -> Result<()> {
        let dir = self.status.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let line = format!(
            "{} {:?} {}{}\n",
            run.started
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            run.outcome,
            run.message,
            if run.flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", run.flags.join("; "))
            }
        );
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Error::io("writing the log", &self.log, e))?;
        log.write_all(line.as_bytes())
            .map_err(|e| Error::io("writing the log", &self.log, e))?;
        let mut status = self.load();
        status.runs.push(run);
        let excess = status.runs.len().saturating_sub(RUNS_KEPT);
        status.runs.drain(..excess);
        let json = serde_json::to_vec_pretty(&status)
            .map_err(|e| Error::with_source(ErrorKind::Io, "encoding the status", e))?;
        let mut file = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::io("writing the status", dir, e))?;
        file.write_all(&json)
            .map_err(|e| Error::io("writing the status", &self.status, e))?;
        file.persist(&self.status)
            .map_err(|e| Error::io("writing the status", &self.status, e.error))?;
        Ok(())
    }
}
