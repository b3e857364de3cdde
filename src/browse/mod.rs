//! What an archive holds, read into plain data for the browser: contacts with every field,
//! an agenda with recurrences expanded, to-dos as trees, photos, and the verification result.
//! A view only: the archived bytes are never changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::archive::reader::ArchiveReader;
use crate::archive::verify;
use crate::error::Result;
use crate::model::{CollectionKind, ItemKind};
use crate::progress::CancelToken;
use crate::vobject::{Property, properties};

mod agenda;
mod card;
use agenda::agenda_entries;
pub use agenda::{AgendaEntry, EventDetails};
pub use card::{Contact, fold};

/// Items larger than this are listed but not parsed for display.
const MAX_DISPLAY_BYTES: u64 = 4 * 1024 * 1024;
/// Photos larger than this get no thumbnail (read whole to decode).
const MAX_PREVIEW_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct ArchiveContents {
    pub path: PathBuf,
    pub created: String,
    pub verification: Verification,
    pub collections: Vec<CollectionSummary>,
    pub contacts: Vec<Contact>,
    pub agenda: Vec<AgendaEntry>,
    pub todos: Vec<Todo>,
    /// `todos` in tree order as (depth, index): each parent followed by its subtasks.
    pub todo_order: Vec<(usize, usize)>,
    pub photos: Vec<PhotoEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub items: usize,
    pub ok: bool,
    /// "12,345 items, all checksums match", or what is wrong.
    pub summary: String,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSummary {
    pub label: String,
    pub kind: CollectionKind,
    pub items: usize,
}

/// A small decoded image (RGBA, row-major).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Todo {
    pub uid: Option<String>,
    pub summary: String,
    pub done: bool,
    pub due: Option<String>,
    pub parent: Option<String>,
    pub list: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoEntry {
    /// Path inside the archive.
    pub path: String,
    pub name: String,
    pub size: u64,
    /// A JPEG or PNG small enough to decode for a thumbnail; videos and other kinds are
    /// listed by name only, so nobody reads them whole just to fail decoding.
    pub previewable: bool,
    /// When it was taken (RFC 3339) and its albums, where the source said (Takeout, Apple).
    pub taken: Option<String>,
    pub albums: Vec<String>,
}

/// A damaged file in words for people: the file, then what is wrong.
pub fn damage_words(damage: &verify::Damage) -> String {
    use verify::Problem;
    let what = match &damage.problem {
        Problem::Missing => "missing from the backup".to_owned(),
        Problem::SizeDiffers { .. } | Problem::ChecksumDiffers => {
            "damaged: its contents changed after the backup was made".to_owned()
        }
        Problem::SameNameTwice { count } => {
            format!("damaged: the .zip holds {count} different files of this name")
        }
        Problem::Unsafe { reason } => format!("left out: {reason}"),
    };
    format!("{}: {what}", damage.path)
}

/// Opens and verifies the archive at `path`, then reads every item for display.
pub fn load(path: &Path, cancel: &CancelToken) -> Result<ArchiveContents> {
    let mut reader = ArchiveReader::open(path)?;
    let manifest = reader.manifest()?;
    let report = verify::check(&mut reader, &manifest)?;
    let mut problems: Vec<String> = Vec::new();
    problems.extend(report.problems().iter().map(damage_words));
    problems.extend(
        report
            .extra
            .iter()
            .map(|p| format!("{p}: not in the backup's list of contents")),
    );
    let items = manifest.items.len();
    let summary = if problems.is_empty() {
        format!("{}, all checksums match", count_noun(items, "item"))
    } else {
        format!(
            "{}; {} found",
            count_noun(items, "item"),
            count_noun(problems.len(), "problem")
        )
    };
    let mut contents = ArchiveContents {
        path: path.to_path_buf(),
        created: manifest.created.clone(),
        verification: Verification {
            items,
            ok: problems.is_empty(),
            summary,
            problems,
        },
        ..ArchiveContents::default()
    };
    let labels: HashMap<&str, String> = manifest
        .collections
        .iter()
        .map(|c| {
            let label = c
                .info
                .display_name
                .clone()
                .unwrap_or_else(|| c.info.name.clone());
            (c.path.as_str(), label)
        })
        .collect();
    for collection in &manifest.collections {
        contents.collections.push(CollectionSummary {
            label: labels[collection.path.as_str()].clone(),
            kind: collection.info.kind,
            items: manifest
                .items
                .iter()
                .filter(|i| i.collection == collection.path)
                .count(),
        });
    }
    for item in &manifest.items {
        cancel.check()?;
        let label = labels
            .get(item.collection.as_str())
            .cloned()
            .unwrap_or_default();
        if matches!(item.kind, ItemKind::Photo) {
            contents.photos.push(PhotoEntry {
                name: item
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or(&item.path)
                    .to_owned(),
                path: item.path.clone(),
                size: item.size,
                previewable: item.size <= MAX_PREVIEW_BYTES && {
                    let lower = item.path.to_ascii_lowercase();
                    [".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e))
                },
                taken: item.about.taken.clone(),
                albums: item.about.albums.clone(),
            });
            continue;
        }
        if item.size > MAX_DISPLAY_BYTES {
            continue;
        }
        let Some(bytes) = reader.read(&item.path, MAX_DISPLAY_BYTES)? else {
            continue;
        };
        match item.kind {
            ItemKind::Contact => contents.contacts.push(card::contact(&bytes, &item.path)),
            ItemKind::Event => contents.agenda.extend(agenda_entries(&bytes, &label)),
            ItemKind::Todo => contents.todos.extend(todo(&bytes, &label)),
            _ => {}
        }
    }
    contents
        .contacts
        .sort_by_cached_key(|c| (fold(&c.name), c.name.clone()));
    // Photos with a known taken time first, oldest first (RFC 3339 in UTC sorts as text);
    // the rest keep the archive's folder order after them.
    contents.photos.sort_by(|a, b| match (&a.taken, &b.taken) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    contents
        .agenda
        .sort_by(|a, b| a.start.cmp(&b.start).then(a.summary.cmp(&b.summary)));
    contents.todo_order = todo_tree(&contents.todos);
    Ok(contents)
}

/// `n` and the noun, plural when `n` is not 1 ("1 contact", "12,345 contacts").
pub fn count_noun(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", thousands(n))
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Decodes an image and shrinks it to at most `max_px` on its longer side.
pub fn thumbnail(bytes: &[u8], max_px: u32) -> Option<Pixels> {
    let image = image::load_from_memory(bytes).ok()?;
    let small = if image.width() > max_px || image.height() > max_px {
        image.thumbnail(max_px, max_px)
    } else {
        image
    };
    let rgba = small.to_rgba8();
    Some(Pixels {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

fn todo(bytes: &[u8], list: &str) -> Option<Todo> {
    let props = properties(bytes);
    let mut depth = 0;
    let mut todo_props: Vec<&Property> = Vec::new();
    for prop in &props {
        match (prop.name.as_str(), prop.value.trim()) {
            ("BEGIN", "VTODO") => depth = 1,
            ("BEGIN", _) if depth > 0 => depth += 1,
            ("END", _) if depth > 0 => depth -= 1,
            _ if depth == 1 => todo_props.push(prop),
            _ => {}
        }
    }
    if todo_props.is_empty() {
        return None;
    }
    let get = |name: &str| {
        todo_props
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.trim().to_owned())
    };
    let parent = todo_props
        .iter()
        .find(|p| {
            p.name == "RELATED-TO"
                && (p.parameters.is_empty()
                    || p.parameters.to_ascii_uppercase().contains("RELTYPE=PARENT"))
        })
        .map(|p| p.value.trim().to_owned());
    let status = get("STATUS").unwrap_or_default().to_ascii_uppercase();
    Some(Todo {
        uid: get("UID"),
        summary: get("SUMMARY").unwrap_or_else(|| "(no title)".to_owned()),
        done: status == "COMPLETED" || get("COMPLETED").is_some(),
        due: get("DUE").map(|due| readable_date(&due)),
        parent,
        list: list.to_owned(),
    })
}

/// An iCalendar DATE or DATE-TIME (`20261215`, `20261215T170000Z`) as `2026-12-15` or
/// `2026-12-15 17:00 UTC`; anything else as it is.
fn readable_date(value: &str) -> String {
    let (date, time) = value.split_once('T').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if date.len() != 8 || !digits(date) {
        return value.to_owned();
    }
    let day = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..8]);
    let clock = time.trim_end_matches('Z');
    if clock.len() < 4 || !digits(clock) {
        return day;
    }
    let zone = if time.ends_with('Z') { " UTC" } else { "" };
    format!("{day} {}:{}{zone}", &clock[..2], &clock[2..4])
}

/// The newest Lifeboat archives in `folder` (folders holding a manifest, and `.zip` files),
/// newest first, at most `limit`: what the Restore screen offers before anything is dropped.
pub fn recent_archives(folder: &Path, limit: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let archive = !name.starts_with('.')
                && (path.join(crate::archive::manifest::MANIFEST_FILE).is_file()
                    || (name.to_ascii_lowercase().ends_with(".zip") && path.is_file()));
            let modified = entry.metadata().and_then(|m| m.modified()).ok()?;
            archive.then_some((modified, path))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    found
        .into_iter()
        .take(limit)
        .map(|(_, path)| path)
        .collect()
}

/// To-dos in tree order: each parent followed by its subtasks, with their depth.
/// A to-do whose parent is not in the archive is shown at the top level.
pub fn todo_tree(todos: &[Todo]) -> Vec<(usize, usize)> {
    let known: std::collections::HashSet<&str> =
        todos.iter().filter_map(|t| t.uid.as_deref()).collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (index, todo) in todos.iter().enumerate() {
        match todo.parent.as_deref() {
            Some(parent) if known.contains(parent) && Some(parent) != todo.uid.as_deref() => {
                children.entry(parent).or_default().push(index);
            }
            _ => roots.push(index),
        }
    }
    let mut out = Vec::new();
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|i| (0, i)).collect();
    let mut seen = vec![false; todos.len()];
    while let Some((depth, index)) = stack.pop() {
        if std::mem::replace(&mut seen[index], true) {
            continue;
        }
        out.push((depth, index));
        if let Some(uid) = todos[index].uid.as_deref()
            && let Some(kids) = children.get(uid)
        {
            stack.extend(kids.iter().rev().map(|&k| (depth + 1, k)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn todo_tree_puts_subtasks_under_parents() {
        let make = |uid: &str, parent: Option<&str>| Todo {
            uid: Some(uid.to_owned()),
            summary: uid.to_owned(),
            done: false,
            due: None,
            parent: parent.map(str::to_owned),
            list: String::new(),
        };
        let todos = vec![
            make("child", Some("root")),
            make("root", None),
            make("orphan", Some("gone")),
            make("grandchild", Some("child")),
        ];
        let tree: Vec<(usize, &str)> = todo_tree(&todos)
            .into_iter()
            .map(|(d, i)| (d, todos[i].summary.as_str()))
            .collect();
        assert_eq!(
            tree,
            [(0, "root"), (1, "child"), (2, "grandchild"), (0, "orphan")]
        );
    }

    #[test]
    fn todo_reads_status_and_parent() {
        let ics = b"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:Buy milk\r\nSTATUS:COMPLETED\r\nRELATED-TO;RELTYPE=PARENT:p1\r\nBEGIN:VALARM\r\nSUMMARY:alarm\r\nEND:VALARM\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let todo = todo(ics, "Tasks").unwrap();
        assert_eq!(todo.summary, "Buy milk");
        assert!(todo.done);
        assert_eq!(todo.parent.as_deref(), Some("p1"));
    }

    #[test]
    fn due_dates_are_readable() {
        assert_eq!(readable_date("20261215T170000Z"), "2026-12-15 17:00 UTC");
        assert_eq!(readable_date("20261215T0930"), "2026-12-15 09:30");
        assert_eq!(readable_date("20261215"), "2026-12-15");
        assert_eq!(readable_date("next week"), "next week");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(12345), "12,345");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
