//! Google Takeout: finds Contacts (.vcf), Calendar (.ics per calendar), Tasks (`Tasks.json`)
//! and Google Photos (year and album folders with `*.json` sidecars) in the merged tree of
//! the downloaded parts, matches each photo to its sidecar, and lists every other product
//! folder as not handled.
//!
//! Takeout's quirks handled here: sidecar names cut short (`IMG_1.jpg.supplemental-met.json`),
//! long photo names cut short too, duplicates numbered after the extension
//! (`IMG.jpg(1).json` for `IMG(1).jpg`), edited copies (`IMG-edited.jpg`) and motion-photo
//! videos (`PXL.MP` beside `PXL.MP.jpg`) that share the original's sidecar, and the same
//! photo in a "Photos from YYYY" folder and in albums.

mod sidecars;

use self::sidecars::split_duplicate_number;
pub use sidecars::{Match, Sidecar, match_sidecars};

use std::collections::{BTreeMap, HashMap};

use crate::error::Result;
use crate::ids::Href;
use crate::model::{CollectionKind, Warning};
use crate::source::bundle::{Bundle, BundleEntry};
use crate::source::google_tasks;
use crate::source::provider::{
    Layout, MediaCopy, PlannedCollection, PlannedItem, extension, file_name, folder_of, not_handled,
};

const ROOT: &str = "Takeout";
/// Product folder names, in the languages Takeout is most often downloaded in.
const CONTACTS: &[&str] = &[
    "contacts",
    "kontakte",
    "contactos",
    "contatti",
    "contacten",
    "kontakty",
    "contatos",
];
const CALENDAR: &[&str] = &[
    "calendar",
    "kalender",
    "calendario",
    "calendrier",
    "agenda",
    "kalendarz",
    "calendário",
];
const TASKS: &[&str] = &[
    "tasks",
    "aufgaben",
    "tareas",
    "tâches",
    "attività",
    "taken",
    "zadania",
    "tarefas",
];
/// Suffixes Google Photos gives edited copies, by language.
const EDITED: &[&str] = &[
    "-edited",
    "-bearbeitet",
    "-modifié",
    "-editado",
    "-modificato",
    "-bewerkt",
    "-edytowane",
    "-redigeret",
];
const VIDEO_EXTENSIONS: &[&str] = &["mp", "mp4", "mov", "m4v", "3gp"];
/// Takeout cuts file names to 51 characters (sidecars) or 47 (photos); a cut prefix at least
/// this long is taken as the name it was cut from.
const MIN_CUT_PREFIX: usize = 30;

/// Maps a path inside a part to `Takeout/...`: zips start with `Takeout/`, an extracted folder
/// may be the Takeout folder itself or hold it deeper (`takeout-001/Takeout/...`).
pub fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.iter().position(|p| *p == ROOT) {
        Some(at) => parts[at..].join("/"),
        None => format!("{ROOT}/{path}"),
    }
}

fn is_one_of(name: &str, names: &[&str]) -> bool {
    names.contains(&name.to_lowercase().as_str())
}

fn is_photos_product(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.contains("photo") || lower.contains("foto")
}

/// Reads the layout of a Takeout. Blocking: reads `Tasks.json` and photo sidecars.
pub fn layout(bundle: &Bundle) -> Result<Layout> {
    // (product folder, or a file at the top such as archive_browser.html) → its files.
    let mut products: BTreeMap<(String, bool), Vec<&BundleEntry>> = BTreeMap::new();
    for entry in bundle.entries() {
        let rest = entry.path.strip_prefix("Takeout/").unwrap_or(&entry.path);
        let key = match rest.split_once('/') {
            Some((product, _)) => (product.to_owned(), true),
            None => (rest.to_owned(), false),
        };
        products.entry(key).or_default().push(entry);
    }
    let mut layout = Layout::default();
    let mut orphans: Vec<(BundleEntry, Option<Warning>)> = Vec::new();
    for ((product, is_folder), entries) in &products {
        if !is_folder {
            layout.not_handled.push(not_handled(
                &format!("{ROOT}/{product}"),
                entries.len(),
                entries.iter().map(|e| e.size).sum(),
            ));
        } else if is_one_of(product, CONTACTS) {
            vcard_and_ics(
                product,
                entries,
                CollectionKind::Contacts,
                &mut layout,
                &mut orphans,
            );
        } else if is_one_of(product, CALENDAR) {
            vcard_and_ics(
                product,
                entries,
                CollectionKind::Calendar,
                &mut layout,
                &mut orphans,
            );
        } else if is_one_of(product, TASKS) {
            tasks(bundle, product, entries, &mut layout, &mut orphans);
        } else if is_photos_product(product) {
            photos(bundle, product, entries, &mut layout);
        } else {
            layout.not_handled.push(not_handled(
                &format!("{ROOT}/{product}"),
                entries.len(),
                entries.iter().map(|e| e.size).sum(),
            ));
        }
    }
    // Files of handled products that fit no collection are kept with the first one.
    if let Some(first) = layout.collections.first_mut() {
        for (entry, warning) in orphans {
            first.warnings.extend(warning);
            first.metadata.push(entry);
        }
    }
    Ok(layout)
}

/// Contacts: one address book per folder of .vcf files. Calendar: one calendar per .ics.
fn vcard_and_ics(
    product: &str,
    entries: &[&BundleEntry],
    kind: CollectionKind,
    layout: &mut Layout,
    orphans: &mut Vec<(BundleEntry, Option<Warning>)>,
) {
    let wanted: &[&str] = match kind {
        CollectionKind::Contacts => &["vcf", "vcard"],
        _ => &["ics", "ical", "ifb", "icalendar"],
    };
    let mut collections: BTreeMap<String, Vec<&BundleEntry>> = BTreeMap::new();
    for entry in entries {
        if wanted.contains(&extension(&entry.path).as_str()) {
            let key = if kind == CollectionKind::Contacts {
                folder_of(&entry.path).to_owned()
            } else {
                entry.path.clone()
            };
            collections.entry(key).or_default().push(entry);
        } else {
            orphans.push(((*entry).clone(), None));
        }
    }
    for (href, files) in collections {
        let name = match kind {
            CollectionKind::Contacts if href == format!("{ROOT}/{product}") => product.to_owned(),
            CollectionKind::Contacts => file_name(&href).to_owned(),
            _ => {
                let file = file_name(&href);
                file.rsplit_once('.')
                    .map_or(file, |(stem, _)| stem)
                    .to_owned()
            }
        };
        let href = if kind == CollectionKind::Contacts {
            format!("{href}/")
        } else {
            href
        };
        let items = files
            .into_iter()
            .map(|e| PlannedItem::File { entry: e.clone() })
            .collect();
        layout.collections.push(PlannedCollection::new(
            kind,
            href,
            name,
            "from Google Takeout",
            items,
        ));
    }
}

/// Tasks: one task list collection per list in `Tasks.json`, each task a generated VTODO; the
/// JSON is kept beside the first list.
fn tasks(
    bundle: &Bundle,
    product: &str,
    entries: &[&BundleEntry],
    layout: &mut Layout,
    orphans: &mut Vec<(BundleEntry, Option<Warning>)>,
) {
    let mut first_list = true;
    for entry in entries {
        if extension(&entry.path) != "json" {
            orphans.push(((*entry).clone(), None));
            continue;
        }
        let lists = match bundle
            .read(entry)
            .map_err(|e| e.to_string())
            .and_then(|bytes| google_tasks::parse(&bytes))
        {
            Ok(lists) if !lists.items.is_empty() => lists,
            Ok(_) => {
                orphans.push(((*entry).clone(), None));
                continue;
            }
            Err(problem) => {
                let warning = Warning::new(
                    "unparseable",
                    format!("kept verbatim, but its to-dos could not be read: {problem}"),
                )
                .at_href(&entry.path);
                orphans.push(((*entry).clone(), Some(warning)));
                continue;
            }
        };
        for list in lists.items {
            let href = format!("{ROOT}/{product}/{}/", list.id);
            let items = list
                .items
                .iter()
                .map(|task| PlannedItem::Generated {
                    href: Href::new(format!("{href}{}.ics", task.id)),
                    bytes: google_tasks::vtodo(task),
                })
                .collect();
            let title = if list.title.is_empty() {
                list.id.clone()
            } else {
                list.title.clone()
            };
            let mut planned = PlannedCollection::new(
                CollectionKind::Calendar,
                href,
                title,
                "Google Tasks, from Google Takeout",
                items,
            );
            planned.info.components = vec!["VTODO".to_owned()];
            if std::mem::take(&mut first_list) {
                planned.metadata.push((*entry).clone());
            }
            layout.collections.push(planned);
        }
    }
}

/// A "Photos from 2019" folder (every photo of that year), as opposed to an album.
fn is_year_folder(name: &str, has_album_metadata: bool) -> bool {
    !has_album_metadata
        && name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|year| year.chars().all(|c| c.is_ascii_digit()))
        && name[..name.len() - 4].chars().all(|c| !c.is_ascii_digit())
}

const ALBUM_METADATA: &[&str] = &["metadata.json", "metadaten.json", "métadonnées.json"];

/// Google Photos: every photo and video once (identical copies in year and album folders
/// merged), with its sidecar's taken time and its albums; sidecars and album files kept.
fn photos(bundle: &Bundle, product: &str, entries: &[&BundleEntry], layout: &mut Layout) {
    let href = format!("{ROOT}/{product}/");
    let mut folders: BTreeMap<&str, Vec<&BundleEntry>> = BTreeMap::new();
    for entry in entries {
        folders
            .entry(folder_of(&entry.path))
            .or_default()
            .push(entry);
    }
    let mut copies: Vec<MediaCopy> = Vec::new();
    let mut metadata = Vec::new();
    let mut warnings = Vec::new();
    for (folder, files) in folders {
        let (json, media): (Vec<&BundleEntry>, Vec<&BundleEntry>) = files
            .into_iter()
            .partition(|e| extension(&e.path) == "json");
        // Every JSON file of the folder is read once: sidecars, and the album's own file
        // (whose `title` names the album).
        let sidecars: Vec<Sidecar> = json
            .iter()
            .map(|e| {
                let name = file_name(&e.path);
                match bundle.read(e) {
                    Ok(bytes) => Sidecar::read(name, &bytes),
                    Err(_) => Sidecar::read(name, b""),
                }
            })
            .collect();
        let album_file = sidecars
            .iter()
            .find(|s| ALBUM_METADATA.contains(&s.name.to_lowercase().as_str()));
        let folder_name = file_name(folder);
        let album = if folder == href.trim_end_matches('/')
            || is_year_folder(folder_name, album_file.is_some())
        {
            None
        } else {
            let title = album_file.and_then(|s| s.title.clone());
            Some(
                title
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| folder_name.to_owned()),
            )
        };
        let names: Vec<&str> = media.iter().map(|e| file_name(&e.path)).collect();
        let matched = match_sidecars(&names, &sidecars);
        for (entry, found) in media.iter().zip(&matched) {
            let sidecar = found.map(|(s, _)| &sidecars[s]);
            copies.push(MediaCopy {
                entry: (*entry).clone(),
                album: album.clone(),
                taken: sidecar.and_then(|s| s.taken.clone()),
                sidecar: found.map(|(s, _)| json[s].path.clone()),
            });
        }
        for (s, entry) in json.iter().enumerate() {
            let used = matched.iter().flatten().any(|(m, _)| *m == s);
            if !used && sidecars[s].is_sidecar {
                warnings.push(
                    Warning::new(
                        "sidecar-unmatched",
                        "kept, but no photo or video of its folder matches this sidecar",
                    )
                    .at_href(&entry.path),
                );
            }
            metadata.push((*entry).clone());
        }
    }
    // Identical copies: the zip's CRC and size, or (in a folder) the name and size, pick the
    // candidates; the fetch compares their bytes before archiving them once.
    let mut groups: HashMap<(u64, String), Vec<MediaCopy>> = HashMap::new();
    let mut order = Vec::new();
    for copy in copies {
        let key = (
            copy.entry.size,
            match copy.entry.crc32 {
                Some(crc) => format!("{crc:08x}"),
                None => split_duplicate_number(file_name(&copy.entry.path)).0,
            },
        );
        let group = groups.entry(key.clone()).or_default();
        if group.is_empty() {
            order.push(key);
        }
        group.push(copy);
    }
    let items = order
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .map(|mut group| {
            // The year folder's copy is the one archived: albums become a list, not a path.
            group.sort_by_key(|c| c.album.is_some());
            // An album copy without a sidecar is described by its year folder's.
            if group.iter().all(|c| c.sidecar.is_none()) {
                warnings.push(
                    Warning::new(
                        "no-sidecar",
                        "kept, but no sidecar (.json) describes it: its date and album come from its folder only",
                    )
                    .at_href(&group[0].entry.path),
                );
            }
            PlannedItem::Media { copies: group }
        })
        .collect();
    let mut planned = PlannedCollection::new(
        CollectionKind::Photos,
        href,
        product.to_owned(),
        "Google Photos, from Google Takeout",
        items,
    );
    planned.metadata = metadata;
    planned.warnings = warnings;
    layout.collections.push(planned);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sidecar(name: &str, title: &str) -> Sidecar {
        let json =
            format!(r#"{{"title": "{title}", "photoTakenTime": {{"timestamp": "1562000000"}}}}"#);
        Sidecar::read(name, json.as_bytes())
    }

    fn matches(media: &[&str], sidecars: &[Sidecar]) -> Vec<Option<(String, Match)>> {
        match_sidecars(media, sidecars)
            .into_iter()
            .map(|m| m.map(|(s, how)| (sidecars[s].name.clone(), how)))
            .collect()
    }

    #[test]
    fn takeout_paths_line_up_whatever_folder_was_given() {
        assert_eq!(
            normalize("Takeout/Tasks/Tasks.json"),
            "Takeout/Tasks/Tasks.json"
        );
        assert_eq!(
            normalize("takeout-002/Takeout/Tasks/Tasks.json"),
            "Takeout/Tasks/Tasks.json"
        );
        assert_eq!(normalize("Tasks/Tasks.json"), "Takeout/Tasks/Tasks.json");
    }

    #[test]
    fn sidecars_are_found_by_name_title_and_cut_names() {
        let long = "Screenshot_20190704-101010_Some Long App Name.jpg";
        let sidecars = [
            sidecar("IMG_1.jpg.supplemental-metadata.json", "IMG_1.jpg"),
            sidecar("IMG_2.jpg.json", "IMG_2.jpg"),
            sidecar("IMG_3.jpg.supplemental-metadata(1).json", "IMG_3.jpg"),
            sidecar("IMG_3.jpg.supplemental-metadata.json", "IMG_3.jpg"),
            sidecar("Screenshot_20190704-101010_Some Long App.json", long),
            sidecar("renamed-by-google.json", "Café ü.jpg"),
        ];
        let found = matches(
            &[
                "IMG_1.jpg",
                "IMG_2.jpg",
                "IMG_3(1).jpg",
                "IMG_3.jpg",
                long,
                "Café ü.jpg",
            ],
            &sidecars,
        );
        let how: Vec<_> = found
            .iter()
            .map(|f| f.as_ref().map(|(n, h)| (n.as_str(), *h)))
            .collect();
        assert_eq!(
            how,
            [
                Some(("IMG_1.jpg.supplemental-metadata.json", Match::Name)),
                Some(("IMG_2.jpg.json", Match::Name)),
                Some(("IMG_3.jpg.supplemental-metadata(1).json", Match::Name)),
                Some(("IMG_3.jpg.supplemental-metadata.json", Match::Name)),
                Some((
                    "Screenshot_20190704-101010_Some Long App.json",
                    Match::Title
                )),
                Some(("renamed-by-google.json", Match::Title)),
            ]
        );
    }

    #[test]
    fn a_sidecar_name_cut_short_still_finds_its_photo() {
        let photo = "PXL_20230615_184512345.NIGHT.jpg";
        let sidecars = [sidecar(
            "PXL_20230615_184512345.NIGHT.jpg.supplemental-me.json",
            "x",
        )];
        assert_eq!(
            matches(&[photo], &sidecars),
            [Some((
                "PXL_20230615_184512345.NIGHT.jpg.supplemental-me.json".to_owned(),
                Match::CutName
            ))]
        );
    }

    #[test]
    fn edited_copies_and_motion_videos_share_the_original_sidecar() {
        let sidecars = [
            sidecar("IMG_5.jpg.supplemental-metadata.json", "IMG_5.jpg"),
            sidecar("PXL_9.MP.jpg.supplemental-metadata.json", "PXL_9.MP.jpg"),
        ];
        let found = matches(
            &["IMG_5.jpg", "IMG_5-edited.jpg", "PXL_9.MP.jpg", "PXL_9.MP"],
            &sidecars,
        );
        let how: Vec<_> = found.iter().map(|f| f.as_ref().map(|(_, h)| *h)).collect();
        assert_eq!(
            how,
            [
                Some(Match::Name),
                Some(Match::EditedCopy),
                Some(Match::Name),
                Some(Match::MotionVideo)
            ]
        );
        assert_eq!(found[1].as_ref().unwrap().0, found[0].as_ref().unwrap().0);
        assert_eq!(found[3].as_ref().unwrap().0, found[2].as_ref().unwrap().0);
    }

    #[test]
    fn a_photo_without_sidecar_is_not_given_a_wrong_one() {
        let sidecars = [sidecar("IMG_10.jpg.json", "IMG_10.jpg")];
        assert_eq!(
            matches(&["IMG_1.jpg", "IMG_100.jpg"], &sidecars),
            [None, None]
        );
    }

    #[test]
    fn year_folders_are_told_from_albums() {
        assert!(is_year_folder("Photos from 2019", false));
        assert!(is_year_folder("Fotos von 2021", false));
        assert!(!is_year_folder("Trip 2019", true));
        assert!(!is_year_folder("Summer", false));
        assert!(!is_year_folder("2019", false));
    }

    #[test]
    fn the_taken_time_comes_from_the_sidecar() {
        assert_eq!(
            sidecar("a.json", "a").taken.as_deref(),
            Some("2019-07-01T16:53:20Z")
        );
    }
}
