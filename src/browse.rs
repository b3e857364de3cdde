//! What an archive holds, read into plain data for the browser: contacts with every field,
//! an agenda with recurrences expanded, to-dos as trees, photos, and the verification result.
//! A view only: the archived bytes are never changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use crate::archive::reader::ArchiveReader;
use crate::archive::verify;
use crate::error::Result;
use crate::model::{CollectionKind, ItemKind};
use crate::progress::CancelToken;
use crate::vobject::{Property, properties};

/// Occurrences of one recurring event shown in the agenda, at most.
const MAX_OCCURRENCES: usize = 200;
/// Items larger than this are listed but not parsed for display.
const MAX_DISPLAY_BYTES: u64 = 4 * 1024 * 1024;
/// Photos larger than this get no thumbnail (read whole to decode).
const MAX_PREVIEW_BYTES: u64 = 64 * 1024 * 1024;
/// Contact photos are shrunk to this many pixels on their longer side.
const CONTACT_PHOTO_PX: u32 = 96;

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

#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    /// A first e-mail address or phone number, for the list.
    pub detail: String,
    /// Every property as (name, value), in the card's order.
    pub fields: Vec<(String, String)>,
    pub photo: Option<Pixels>,
    pub path: String,
    search_text: String,
}

impl Contact {
    /// Whether the contact matches a search text folded by [`fold`] (name or any field).
    pub fn matches(&self, query_folded: &str) -> bool {
        query_folded.is_empty() || self.search_text.contains(query_folded)
    }
}

/// Text as search and sorting compare it: lower case without accents, so that "oznur" finds
/// "Öznur" and "Ángela" sorts with the other A names, not after Z.
pub fn fold(text: &str) -> String {
    icu_normalizer::DecomposingNormalizerBorrowed::new_nfd()
        .normalize(text)
        .chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaEntry {
    pub start: NaiveDateTime,
    pub all_day: bool,
    pub summary: String,
    pub calendar: String,
    pub recurring: bool,
    pub location: Option<String>,
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

/// Opens and verifies the archive at `path`, then reads every item for display.
pub fn load(path: &Path, cancel: &CancelToken) -> Result<ArchiveContents> {
    let mut reader = ArchiveReader::open(path)?;
    let manifest = reader.manifest()?;
    let report = verify::check(&mut reader, &manifest)?;
    let mut problems: Vec<String> = Vec::new();
    problems.extend(report.missing.iter().map(|p| format!("missing: {p}")));
    problems.extend(report.corrupt.iter().map(|p| format!("damaged: {p}")));
    problems.extend(
        report
            .extra
            .iter()
            .map(|p| format!("not in the manifest: {p}")),
    );
    problems.extend(
        report
            .unsafe_entries
            .iter()
            .map(|p| format!("unsafe entry: {p}")),
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
            ItemKind::Contact => contents.contacts.push(contact(&bytes, &item.path)),
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

fn value_of<'a>(props: &'a [Property], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn contact(bytes: &[u8], path: &str) -> Contact {
    let props = properties(bytes);
    let structured_name = value_of(&props, "N").map(|n| {
        let parts: Vec<&str> = n.split(';').collect();
        let given = parts.get(1).copied().unwrap_or("");
        let family = parts.first().copied().unwrap_or("");
        format!("{given} {family}").trim().to_owned()
    });
    let name = value_of(&props, "FN")
        .map(str::to_owned)
        .or(structured_name.filter(|n| !n.is_empty()))
        .or_else(|| value_of(&props, "ORG").map(|o| o.replace(';', " ")))
        .unwrap_or_else(|| "(no name)".to_owned());
    let detail = value_of(&props, "EMAIL")
        .or_else(|| value_of(&props, "TEL"))
        .unwrap_or("")
        .to_owned();
    let mut photo = None;
    let mut fields = Vec::new();
    for prop in &props {
        // What a person reads on a card: no identifiers, revision stamps or program data.
        let hidden = matches!(
            prop.name.as_str(),
            "BEGIN" | "END" | "VERSION" | "PRODID" | "UID" | "REV" | "KIND" | "CLIENTPIDMAP"
        ) || prop.name.starts_with("X-")
            // The name's parts say again what the name says.
            || (prop.name == "N" && value_of(&props, "FN").is_some());
        if hidden {
            continue;
        }
        if prop.name == "PHOTO" {
            // Shown above the fields when it decodes; otherwise not mentioned at all.
            photo = photo.or_else(|| contact_photo(prop));
            continue;
        }
        let value = match prop.name.as_str() {
            "N" | "ADR" | "ORG" => prop
                .value
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(", "),
            "TEL" => prop
                .value
                .strip_prefix("tel:")
                .unwrap_or(&prop.value)
                .to_owned(),
            "EMAIL" => prop
                .value
                .strip_prefix("mailto:")
                .unwrap_or(&prop.value)
                .to_owned(),
            "BDAY" | "ANNIVERSARY" => readable_day(&prop.value),
            _ => prop.value.clone(),
        };
        let kinds: Vec<&str> = prop
            .parameters
            .split(';')
            .filter_map(|p| {
                let (key, value) = p.split_once('=').unwrap_or(("TYPE", p));
                key.eq_ignore_ascii_case("TYPE").then_some(value)
            })
            .flat_map(|v| v.split(','))
            .filter_map(type_words)
            .collect();
        let label = if kinds.is_empty() {
            field_label(&prop.name)
        } else {
            format!("{} ({})", field_label(&prop.name), kinds.join(", "))
        };
        fields.push((label, value));
    }
    let search_text = std::iter::once(name.as_str())
        .chain(fields.iter().map(|(_, v)| v.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    let search_text = fold(&search_text);
    Contact {
        name,
        detail,
        fields,
        photo,
        path: path.to_owned(),
        search_text,
    }
}

fn field_label(name: &str) -> String {
    match name {
        "FN" => "Name".to_owned(),
        "N" => "Name parts".to_owned(),
        "TEL" => "Phone".to_owned(),
        "EMAIL" => "E-mail".to_owned(),
        "ADR" => "Address".to_owned(),
        "ORG" => "Organisation".to_owned(),
        "BDAY" => "Birthday".to_owned(),
        "NOTE" => "Note".to_owned(),
        "URL" => "Web".to_owned(),
        "TITLE" => "Title".to_owned(),
        "NICKNAME" => "Nickname".to_owned(),
        "ROLE" => "Role".to_owned(),
        "ANNIVERSARY" => "Anniversary".to_owned(),
        "GENDER" => "Gender".to_owned(),
        "LANG" => "Language".to_owned(),
        "IMPP" => "Messaging".to_owned(),
        "GEO" => "Location".to_owned(),
        "TZ" => "Time zone".to_owned(),
        "CATEGORIES" => "Groups".to_owned(),
        "RELATED" => "Related".to_owned(),
        "LABEL" => "Address label".to_owned(),
        "SOURCE" => "Source".to_owned(),
        other => {
            // An unknown property in sentence case rather than the file's capitals.
            let lower = other.to_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// A vCard TYPE value in plain words, or `None` for ones that say nothing to a person.
fn type_words(kind: &str) -> Option<&'static str> {
    Some(
        match kind.trim().trim_matches('"').to_ascii_lowercase().as_str() {
            "cell" | "mobile" => "mobile",
            "home" => "home",
            "work" => "work",
            "fax" => "fax",
            "pager" => "pager",
            "video" => "video",
            "text" | "msg" => "text",
            "main" => "main",
            "other" => "other",
            _ => return None,
        },
    )
}

/// A birthday: `19850412`, `1985-04-12` or `--0412` (no year) as 1985-04-12 or 04-12.
fn readable_day(value: &str) -> String {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    match (value.starts_with("--"), digits.len()) {
        (true, 4) => format!("{}-{}", &digits[..2], &digits[2..]),
        (false, 8) => format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..8]),
        _ => value.to_owned(),
    }
}

/// Decodes an inline `PHOTO` (vCard 3 `ENCODING=b`, vCard 4 `data:` URI) into a small image.
fn contact_photo(prop: &Property) -> Option<Pixels> {
    use base64::Engine;
    let value = prop.value.trim();
    let encoded = match value.split_once(";base64,") {
        Some((_, data)) if value.starts_with("data:") => data,
        _ => value,
    };
    let cleaned: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .ok()?;
    thumbnail(&bytes, CONTACT_PHOTO_PX)
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

fn agenda_entries(bytes: &[u8], calendar: &str) -> Vec<AgendaEntry> {
    use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty};
    let Ok(ical) = ICalendar::parse(String::from_utf8_lossy(bytes)) else {
        return Vec::new();
    };
    let expanded = ical.expand_dates(calcard::common::timezone::Tz::UTC, MAX_OCCURRENCES);
    let recurring: Vec<bool> = ical
        .components
        .iter()
        .map(|c| c.property(&ICalendarProperty::Rrule).is_some())
        .collect();
    expanded
        .events
        .iter()
        .filter_map(|event| {
            let component = ical.components.get(event.comp_id as usize)?;
            if component.component_type != ICalendarComponentType::VEvent {
                return None;
            }
            let summary = component
                .property(&ICalendarProperty::Summary)
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_text())
                .unwrap_or("(no title)")
                .to_owned();
            let all_day = component
                .property(&ICalendarProperty::Dtstart)
                .is_some_and(|e| {
                    e.params.iter().any(|p| {
                        p.value
                            .as_text()
                            .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
                    })
                });
            let location = component
                .property(&ICalendarProperty::Location)
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_text())
                .map(str::to_owned)
                .filter(|l| !l.trim().is_empty());
            Some(AgendaEntry {
                location,
                // Timed events in this computer's time zone; dates stay as they are.
                start: if all_day {
                    event.start.naive_local()
                } else {
                    event.start.with_timezone(&chrono::Local).naive_local()
                },
                all_day,
                summary,
                calendar: calendar.to_owned(),
                recurring: recurring
                    .get(event.comp_id as usize)
                    .copied()
                    .unwrap_or(false),
            })
        })
        .collect()
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
    fn contact_fields_and_search() {
        let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nEMAIL;TYPE=work:ann@example.org\r\nNOTE:likes\\, commas\r\nEND:VCARD\r\n";
        let contact = contact(card, "contacts/a.vcf");
        assert_eq!(contact.name, "Ann Example");
        assert_eq!(contact.detail, "ann@example.org");
        assert!(
            contact
                .fields
                .contains(&("E-mail (work)".to_owned(), "ann@example.org".to_owned()))
        );
        assert!(
            contact
                .fields
                .contains(&("Note".to_owned(), "likes, commas".to_owned()))
        );
        assert!(contact.matches("ann"));
        assert!(contact.matches("commas"));
        assert!(!contact.matches("bob"));
    }

    #[test]
    fn a_card_reads_like_a_contacts_app() {
        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nREV:20230103T200932Z\r\nFN:Ñandú Pérez\r\nNICKNAME:Ñan\r\nTEL;TYPE=cell,voice:tel:+33-1-23\r\nORG:Ñandú S.A.;Compta\r\nBDAY:--0412\r\nX-ABUID:123\r\nPHOTO:http://example.org/none.jpg\r\nEND:VCARD\r\n";
        let contact = contact(card.as_bytes(), "contacts/n.vcf");
        let fields: Vec<(&str, &str)> = contact
            .fields
            .iter()
            .map(|(l, v)| (l.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Name", "Ñandú Pérez"),
                ("Nickname", "Ñan"),
                ("Phone (mobile)", "+33-1-23"),
                ("Organisation", "Ñandú S.A., Compta"),
                ("Birthday", "04-12"),
            ]
        );
        assert!(contact.photo.is_none());
    }

    #[test]
    fn search_and_order_ignore_accents_and_case() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Öznur Çelik\r\nEND:VCARD\r\n";
        let contact = contact(card.as_bytes(), "contacts/o.vcf");
        for query in ["oznur", "ÖZNUR", "celik", "Çelik"] {
            assert!(contact.matches(&fold(query)), "{query}");
        }
        let mut names = ["Zoë", "Ángela", "anna", "Émile", "Bob"];
        names.sort_by_cached_key(|n| fold(n));
        assert_eq!(names, ["Ángela", "anna", "Bob", "Émile", "Zoë"]);
    }

    #[test]
    fn recurring_events_are_expanded() {
        let ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Standup\r\nLOCATION:Room 4\\, floor 2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let entries = agenda_entries(ics, "Work");
        let starts: Vec<String> = entries
            .iter()
            .map(|e| e.start.format("%Y-%m-%d").to_string())
            .collect();
        assert_eq!(starts, ["2026-01-05", "2026-01-12", "2026-01-19"]);
        assert!(
            entries
                .iter()
                .all(|e| e.recurring && e.summary == "Standup")
        );
        assert_eq!(entries[0].location.as_deref(), Some("Room 4, floor 2"));
    }

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
