//! Which JSON sidecar belongs to which photo: Takeout's names cut at 46 or 51 characters, "(1)"
//! duplicates and edited copies, matched as Google writes them.

use serde::Deserialize;

use super::{EDITED, MIN_CUT_PREFIX, VIDEO_EXTENSIONS};

/// What a sidecar says, as far as Lifeboat uses it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct SidecarJson {
    #[serde(default)]
    pub(super) title: Option<String>,
    #[serde(default, rename = "photoTakenTime")]
    pub(super) photo_taken_time: Option<Timestamp>,
    #[serde(default, rename = "creationTime")]
    pub(super) creation_time: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct Timestamp {
    #[serde(default)]
    pub(super) timestamp: Option<String>,
}

/// A JSON file of a photo folder: a sidecar when it says when a photo was taken.
#[derive(Debug, Clone)]
pub struct Sidecar {
    pub name: String,
    pub title: Option<String>,
    pub taken: Option<String>,
    pub is_sidecar: bool,
}

impl Sidecar {
    pub(super) fn read(name: &str, bytes: &[u8]) -> Self {
        let parsed: Option<SidecarJson> = serde_json::from_slice(bytes).ok();
        let seconds = parsed.as_ref().and_then(|json| {
            json.photo_taken_time
                .as_ref()
                .or(json.creation_time.as_ref())
                .and_then(|t| t.timestamp.as_deref())
                .and_then(|s| s.parse::<i64>().ok())
        });
        Self {
            name: name.to_owned(),
            title: parsed.as_ref().and_then(|json| json.title.clone()),
            taken: seconds
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            is_sidecar: parsed.is_some_and(|json| {
                json.photo_taken_time.is_some() || json.creation_time.is_some()
            }),
        }
    }
}

/// `IMG(1).jpg` → (`IMG.jpg`, Some(1)); names without a number come back whole.
pub(super) fn split_duplicate_number(name: &str) -> (String, Option<u32>) {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) => (stem, format!(".{ext}")),
        None => (name, String::new()),
    };
    match trailing_number(stem) {
        Some((base, n)) => (format!("{base}{ext}"), Some(n)),
        None => (name.to_owned(), None),
    }
}

/// `abc(12)` → (`abc`, 12).
pub(super) fn trailing_number(text: &str) -> Option<(&str, u32)> {
    let inner = text.strip_suffix(')')?;
    let (base, digits) = inner.rsplit_once('(')?;
    let n = digits.parse().ok()?;
    Some((base, n))
}

/// A sidecar's name without `.json` and without its duplicate number, with that number:
/// `IMG.jpg.supplemental-metadata(1).json` → (`IMG.jpg.supplemental-metadata`, Some(1)).
pub(super) fn sidecar_key(name: &str) -> (String, Option<u32>) {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    match trailing_number(stem) {
        Some((base, n)) => (base.to_owned(), Some(n)),
        None => (stem.to_owned(), None),
    }
}

/// How a photo found its sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The sidecar's name is the photo's name plus a known suffix.
    Name,
    /// The sidecar's `title` is the photo's name.
    Title,
    /// The sidecar's name or the photo's name was cut short.
    CutName,
    /// An edited copy: it shares the original's sidecar.
    EditedCopy,
    /// The video half of a motion photo: it shares the photo's sidecar.
    MotionVideo,
}

/// Matches the media files of one folder to the sidecars of that folder. Returns, per media
/// file, the index of its sidecar and how it was found; sidecars no photo claimed are those
/// never named in the result.
pub fn match_sidecars(media: &[&str], sidecars: &[Sidecar]) -> Vec<Option<(usize, Match)>> {
    let mut matched: Vec<Option<(usize, Match)>> = vec![None; media.len()];
    let mut claimed = vec![false; sidecars.len()];
    let keys: Vec<(String, Option<u32>)> = sidecars.iter().map(|s| sidecar_key(&s.name)).collect();
    let bases: Vec<(String, Option<u32>)> =
        media.iter().map(|m| split_duplicate_number(m)).collect();
    // Each pass only looks at what earlier, surer passes left.
    type Rule<'a> = &'a dyn Fn(&str, &str, &(String, Option<u32>), &Sidecar) -> bool;
    let by_name: Rule = &|media, base, (key, number), _| {
        let (_, media_number) = split_duplicate_number(media);
        *number == media_number
            && (key == base || key.strip_prefix(base) == Some(".supplemental-metadata"))
            || (number.is_none() && key == media)
    };
    let by_title: Rule = &|media, base, (_, number), sidecar| {
        let (_, media_number) = split_duplicate_number(media);
        sidecar.is_sidecar && *number == media_number && sidecar.title.as_deref() == Some(base)
    };
    let by_cut_name: Rule = &|media, base, (key, number), sidecar| {
        let (_, media_number) = split_duplicate_number(media);
        let full = format!("{base}.supplemental-metadata");
        sidecar.is_sidecar
            && *number == media_number
            && key.len() >= MIN_CUT_PREFIX.min(base.len())
            && (full.starts_with(key.as_str())
                || (key.len() >= MIN_CUT_PREFIX && base.starts_with(key.as_str())))
    };
    for (rule, how) in [
        (by_name, Match::Name),
        (by_title, Match::Title),
        (by_cut_name, Match::CutName),
    ] {
        for (m, name) in media.iter().enumerate() {
            if matched[m].is_some() {
                continue;
            }
            let base = &bases[m].0;
            if let Some(s) = (0..sidecars.len())
                .find(|&s| !claimed[s] && rule(name, base, &keys[s], &sidecars[s]))
            {
                claimed[s] = true;
                matched[m] = Some((s, how));
            }
        }
    }
    let position = |name: &str| media.iter().position(|m| *m == name);
    for (m, name) in media.iter().enumerate() {
        if matched[m].is_some() {
            continue;
        }
        let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
        let original = EDITED.iter().find_map(|suffix| {
            let lower = stem.to_lowercase();
            let kept = stem.get(..stem.len().checked_sub(suffix.len())?)?;
            lower.ends_with(suffix).then(|| format!("{kept}.{ext}"))
        });
        if let Some(found) = original
            .and_then(|original| position(&original))
            .and_then(|o| matched[o])
        {
            matched[m] = Some((found.0, Match::EditedCopy));
            continue;
        }
        if VIDEO_EXTENSIONS.contains(&ext.to_lowercase().as_str()) {
            let photo = media.iter().enumerate().find(|(p, other)| {
                *p != m
                    && matched[*p].is_some()
                    && other
                        .rsplit_once('.')
                        .is_some_and(|(other_stem, _)| other_stem == *name || other_stem == stem)
            });
            if let Some((p, _)) = photo {
                matched[m] = matched[p].map(|(s, _)| (s, Match::MotionVideo));
            }
        }
    }
    matched
}
