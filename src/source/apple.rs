//! Apple's "copy of your data" (privacy.apple.com): the parts in open formats — iCloud
//! Contacts (.vcf), iCloud Calendars and Reminders (.ics) and iCloud Photos originals with
//! their `Photo Details.csv` and album CSVs. Everything else (Notes, Drive, Mail, ...) is
//! listed as not handled.
//!
//! Apple names each part's top folder `iCloud Photos Part 2 of 3`; the parts are merged under
//! `iCloud Photos` so one collection holds them all.

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;
use crate::model::{CollectionKind, Warning};
use crate::source::bundle::{Bundle, BundleEntry};
use crate::source::provider::{
    Layout, MediaCopy, PlannedCollection, PlannedItem, extension, file_name, folder_of, not_handled,
};

const FROM_APPLE: &str = "from Apple's data copy";

/// `iCloud Photos Part 2 of 3/Photos/IMG_1.HEIC` → `iCloud Photos/Photos/IMG_1.HEIC`.
pub fn normalize(path: &str) -> String {
    let (top, rest) = path.split_once('/').unwrap_or((path, ""));
    let top = match top.rfind(" Part ") {
        Some(at)
            if top[at + 6..]
                .split_once(" of ")
                .is_some_and(|(n, m)| n.parse::<u32>().is_ok() && m.parse::<u32>().is_ok()) =>
        {
            &top[..at]
        }
        _ => top,
    };
    if rest.is_empty() {
        top.to_owned()
    } else {
        format!("{top}/{rest}")
    }
}

/// Apple's dates: `Saturday May 7,2022 1:43 PM GMT`. RFC 3339 when it reads, else `None`.
pub fn parse_apple_date(text: &str) -> Option<String> {
    let cleaned = text
        .trim()
        .trim_end_matches(" GMT")
        .trim_end_matches(" UTC");
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let formats = ["%A %B %d,%Y %I:%M %p", "%A %B %d, %Y %I:%M %p"];
    formats.iter().find_map(|format| {
        chrono::NaiveDateTime::parse_from_str(&cleaned, format)
            .ok()
            .map(|t| {
                t.and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
    })
}

/// The fields of one CSV line (quotes honoured; Apple leaves the comma in its dates
/// unquoted, which [`photo_details`] puts back together).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(last) = fields.last_mut() {
                    last.push('"');
                }
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            _ => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

/// `Photo Details.csv`: image name → taken time.
pub fn photo_details(text: &str) -> HashMap<String, String> {
    let mut lines = text.lines();
    let header = lines.next().map(csv_fields).unwrap_or_default();
    let name_at = header
        .iter()
        .position(|h| h.trim() == "imgName")
        .unwrap_or(0);
    let mut taken = HashMap::new();
    for line in lines {
        let fields = csv_fields(line);
        let Some(name) = fields.get(name_at) else {
            continue;
        };
        // The date is the field that reads as one, alone or joined with the next (its
        // unquoted comma splits it in two).
        let date = (0..fields.len()).find_map(|i| {
            parse_apple_date(&fields[i]).or_else(|| {
                let joined = format!("{},{}", fields[i], fields.get(i + 1)?);
                parse_apple_date(&joined)
            })
        });
        if let Some(date) = date {
            taken.insert(name.trim().to_owned(), date);
        }
    }
    taken
}

/// Reads the layout of an Apple data copy. Blocking: reads the photo CSVs.
pub fn layout(bundle: &Bundle) -> Result<Layout> {
    let mut layout = Layout::default();
    let mut contacts: BTreeMap<String, Vec<&BundleEntry>> = BTreeMap::new();
    let mut calendars: Vec<&BundleEntry> = Vec::new();
    let mut photos: BTreeMap<String, Vec<&BundleEntry>> = BTreeMap::new();
    let mut ignored: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for entry in bundle.entries() {
        let top = entry.path.split('/').next().unwrap_or_default().to_owned();
        let extension = extension(&entry.path);
        if matches!(extension.as_str(), "vcf" | "vcard") {
            contacts
                .entry(folder_of(&entry.path).to_owned())
                .or_default()
                .push(entry);
        } else if matches!(extension.as_str(), "ics" | "ical") {
            calendars.push(entry);
        } else if top.to_lowercase().contains("photo") && top != entry.path {
            photos.entry(top).or_default().push(entry);
        } else {
            let counted = ignored.entry(top).or_default();
            counted.0 += 1;
            counted.1 += entry.size;
        }
    }
    for (folder, files) in contacts {
        let name = if folder.is_empty() {
            "Contacts".to_owned()
        } else {
            file_name(&folder).to_owned()
        };
        layout.collections.push(PlannedCollection::new(
            CollectionKind::Contacts,
            format!("{folder}/"),
            name,
            FROM_APPLE,
            files
                .into_iter()
                .map(|e| PlannedItem::File { entry: e.clone() })
                .collect(),
        ));
    }
    for file in calendars {
        let name = file_name(&file.path);
        let name = name
            .rsplit_once('.')
            .map_or(name, |(stem, _)| stem)
            .to_owned();
        layout.collections.push(PlannedCollection::new(
            CollectionKind::Calendar,
            file.path.clone(),
            name,
            FROM_APPLE,
            vec![PlannedItem::File {
                entry: file.clone(),
            }],
        ));
    }
    for (top, files) in photos {
        layout
            .collections
            .push(photo_collection(bundle, &top, &files));
    }
    for (top, (files, bytes)) in ignored {
        layout.not_handled.push(not_handled(&top, files, bytes));
    }
    Ok(layout)
}

/// iCloud Photos: originals with their taken time from `Photo Details*.csv` and albums from
/// `Albums/<album>.csv`; the CSVs are kept.
fn photo_collection(bundle: &Bundle, top: &str, files: &[&BundleEntry]) -> PlannedCollection {
    let (csvs, media): (Vec<&BundleEntry>, Vec<&BundleEntry>) = files
        .iter()
        .copied()
        .partition(|e| extension(&e.path) == "csv");
    let mut taken = HashMap::new();
    let mut albums: HashMap<String, Vec<String>> = HashMap::new();
    let mut warnings = Vec::new();
    for csv in &csvs {
        let text = match bundle.read(csv) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) => {
                warnings.push(Warning::new("unavailable", error.to_string()).at_href(&csv.path));
                continue;
            }
        };
        let name = file_name(&csv.path);
        if name.starts_with("Photo Details") {
            taken.extend(photo_details(&text));
        } else if folder_of(&csv.path).ends_with("/Albums") {
            let album = name.trim_end_matches(".csv").to_owned();
            for line in text.lines().skip(1) {
                if let Some(image) = csv_fields(line).first().filter(|f| !f.trim().is_empty()) {
                    albums
                        .entry(image.trim().to_owned())
                        .or_default()
                        .push(album.clone());
                }
            }
        }
    }
    let items = media
        .iter()
        .map(|entry| {
            let name = file_name(&entry.path);
            let when = taken.get(name).cloned();
            if when.is_none() {
                warnings.push(
                    Warning::new(
                        "no-sidecar",
                        "kept, but Photo Details.csv does not describe it",
                    )
                    .at_href(&entry.path),
                );
            }
            let mut copies = vec![MediaCopy {
                entry: (*entry).clone(),
                album: None,
                taken: when.clone(),
                sidecar: None,
            }];
            // An image in several albums is archived once and lists each album.
            for album in albums.get(name).into_iter().flatten() {
                copies.push(MediaCopy {
                    entry: (*entry).clone(),
                    album: Some(album.clone()),
                    taken: when.clone(),
                    sidecar: None,
                });
            }
            PlannedItem::Media { copies }
        })
        .collect();
    let mut planned = PlannedCollection::new(
        CollectionKind::Photos,
        format!("{top}/"),
        top.to_owned(),
        FROM_APPLE,
        items,
    );
    planned.metadata = csvs.into_iter().cloned().collect();
    planned.warnings = warnings;
    planned
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn part_folders_merge() {
        assert_eq!(
            normalize("iCloud Photos Part 2 of 3/Photos/IMG_1.HEIC"),
            "iCloud Photos/Photos/IMG_1.HEIC"
        );
        assert_eq!(
            normalize("iCloud Contacts/card.vcf"),
            "iCloud Contacts/card.vcf"
        );
        assert_eq!(normalize("My Part 2/x.jpg"), "My Part 2/x.jpg");
    }

    #[test]
    fn photo_details_give_taken_times_even_with_the_unquoted_comma() {
        let csv = "imgName,fileChecksum,favorite,hidden,deleted,originalCreationDate,viewCount,importDate\n\
                   IMG_0001.HEIC,abc=,no,no,no,Saturday May 7,2022 1:43 PM GMT,3,Saturday May 7,2022 1:50 PM GMT\n\
                   IMG_0002.JPG,def=,yes,no,no,\"Monday December 25,2023 11:05 AM GMT\",0,\n";
        let taken = photo_details(csv);
        assert_eq!(
            taken.get("IMG_0001.HEIC").map(String::as_str),
            Some("2022-05-07T13:43:00Z")
        );
        assert_eq!(
            taken.get("IMG_0002.JPG").map(String::as_str),
            Some("2023-12-25T11:05:00Z")
        );
    }
}
