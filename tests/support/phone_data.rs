//! A phone described as data for the simulated phone: its providers' tables, the files its
//! `content read` serves and its shared storage, answering `content query` and `content read`
//! exactly as AOSP's `cmds/content` prints (`Row: N col=value, ...`, `NULL`, errors on stderr
//! with status 1).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::phone::{Answer, PhoneFile, Shell};

/// One provider table: its columns and rows (`None` is SQL NULL).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    pub fn new(columns: &[&str]) -> Self {
        Self {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row given as `column = value` pairs; columns not named are NULL.
    pub fn add(&mut self, values: &[(&str, &str)]) {
        let row = self
            .columns
            .iter()
            .map(|c| {
                values
                    .iter()
                    .find(|(name, _)| name == c)
                    .map(|(_, v)| (*v).to_owned())
            })
            .collect();
        self.rows.push(row);
    }
}

/// Everything the phone holds.
#[derive(Debug, Clone, Default)]
pub struct PhoneContent {
    pub tables: HashMap<String, Table>,
    /// What `content read --uri` serves.
    pub readable: HashMap<String, Vec<u8>>,
    pub files: BTreeMap<String, PhoneFile>,
}

/// Splits a command line as the phone's `sh` would, for the quoting Lifeboat uses.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if !quoted => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            ' ' if !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

fn error(message: String) -> Answer {
    Answer {
        out: Vec::new(),
        err: format!("Error while accessing provider:{message}\n").into_bytes(),
        status: 1,
    }
}

impl PhoneContent {
    /// The answer to one shell command.
    pub fn answer(&self, command: &str) -> Answer {
        let words = words(command);
        let flag = |name: &str| {
            words
                .iter()
                .position(|w| w == name)
                .and_then(|i| words.get(i + 1))
                .cloned()
        };
        match words.get(..2) {
            Some([content, verb]) if content == "content" && verb == "query" => {
                let Some(uri) = flag("--uri") else {
                    return error("no uri".to_owned());
                };
                let Some(table) = self.tables.get(&uri) else {
                    return error(format!(
                        "{uri} java.lang.IllegalArgumentException: Unknown URL"
                    ));
                };
                let projection: Vec<String> = match flag("--projection") {
                    Some(p) => p.split(':').map(str::to_owned).collect(),
                    None => table.columns.clone(),
                };
                let mut indexes = Vec::new();
                for column in &projection {
                    match table.columns.iter().position(|c| c == column) {
                        Some(i) => indexes.push(i),
                        None => {
                            return error(format!(
                                "{uri} java.lang.IllegalArgumentException: Invalid column {column}"
                            ));
                        }
                    }
                }
                if table.rows.is_empty() {
                    return b"No result found.\n".to_vec().into();
                }
                let mut out = String::new();
                for (n, row) in table.rows.iter().enumerate() {
                    out.push_str(&format!("Row: {n} "));
                    for (k, (column, index)) in projection.iter().zip(&indexes).enumerate() {
                        if k > 0 {
                            out.push_str(", ");
                        }
                        let value = row[*index].as_deref().unwrap_or("NULL");
                        out.push_str(&format!("{column}={value}"));
                    }
                    out.push('\n');
                }
                out.into_bytes().into()
            }
            Some([content, verb]) if content == "content" && verb == "read" => {
                let uri = flag("--uri").unwrap_or_default();
                match self.readable.get(&uri) {
                    Some(bytes) => bytes.clone().into(),
                    None => error(format!("{uri} java.io.FileNotFoundException: No photo")),
                }
            }
            _ => Answer {
                out: Vec::new(),
                err: format!("/system/bin/sh: {command}: inaccessible or not found\n").into_bytes(),
                status: 127,
            },
        }
    }

    pub fn shell(self: &Arc<Self>) -> Shell {
        let me = Arc::clone(self);
        Arc::new(move |command: &str| me.answer(command))
    }
}
