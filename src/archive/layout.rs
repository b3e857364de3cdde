//! Where things go inside an archive, and file names that are safe on every OS.

use std::collections::HashSet;

/// Longest file name we produce (bytes), well under every file system's limit.
const MAX_NAME: usize = 100;

pub(crate) const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Makes one path segment safe: ASCII letters, digits and `._-@+` stay; anything else becomes
/// `_`; no leading dot, no Windows reserved name, at most [`MAX_NAME`] bytes.
pub fn safe_segment(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while name.starts_with('.') {
        name.replace_range(0..1, "_");
    }
    if name.len() > MAX_NAME {
        // Cut the stem, not the extension: a photo must stay a `.jpg`. (All ASCII by now.)
        let extension = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && ext.len() <= 10 => format!(".{ext}"),
            _ => String::new(),
        };
        name.truncate(MAX_NAME - extension.len());
        name.push_str(&extension);
    }
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    if WINDOWS_RESERVED.contains(&stem.as_str()) {
        name.insert(0, '_');
    }
    if name.trim_matches('_').is_empty() {
        name = format!("item{name}");
    }
    name
}

/// Keeps names unique inside one folder (case-insensitively, for macOS and Windows).
#[derive(Debug, Default)]
pub struct NameSet {
    used: HashSet<String>,
}

impl NameSet {
    /// `stem` + `.ext`, or `stem-2.ext`, `stem-3.ext`, ... when taken.
    pub fn claim(&mut self, stem: &str, extension: Option<&str>) -> String {
        let with_extension = |s: &str| match extension {
            Some(ext) => format!("{s}.{ext}"),
            None => s.to_owned(),
        };
        let mut candidate = with_extension(stem);
        let mut counter = 2;
        while !self.used.insert(candidate.to_ascii_lowercase()) {
            candidate = with_extension(&format!("{stem}-{counter}"));
            counter += 1;
        }
        candidate
    }
}

/// The file name stem for an item from its source href: the last segment without its
/// extension, or the whole relative path (slashes as `_`) for device files, `#n` as `-n`.
pub fn item_stem(href: &str, extension: Option<&str>) -> String {
    let (path, part) = match href.rsplit_once('#') {
        Some((path, part)) if part.chars().all(|c| c.is_ascii_digit()) => (path, Some(part)),
        _ => (href, None),
    };
    let last = crate::source::last_segment(path);
    let mut stem = match extension {
        Some(ext) => {
            let lower = last.to_ascii_lowercase();
            let suffix = format!(".{ext}");
            if lower.ends_with(&suffix) {
                last[..last.len() - suffix.len()].to_owned()
            } else {
                last
            }
        }
        None => last,
    };
    if let Some(part) = part {
        stem = format!("{stem}-{part}");
    }
    safe_segment(&stem)
}

/// A relative path made safe segment by segment (photos keep their album folders).
pub fn safe_relative_path(relative: &str) -> String {
    relative
        .split('/')
        .filter(|s| !s.is_empty() && *s != "." && *s != "..")
        .map(|s| {
            let decoded = percent_encoding::percent_decode_str(s).decode_utf8_lossy();
            safe_segment(&decoded)
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_safe_everywhere() {
        assert_eq!(safe_segment("Ünïcode name.vcf"), "_n_code_name.vcf");
        assert_eq!(safe_segment(".hidden"), "_hidden");
        assert_eq!(safe_segment("con.vcf"), "_con.vcf");
        assert_eq!(safe_segment("../../etc"), "_._.._etc");
        assert_eq!(safe_segment(""), "item");
        assert!(safe_segment(&"x".repeat(500)).len() <= MAX_NAME);
        let long = safe_segment(&format!("{}.jpg", "Sommer ".repeat(43)));
        assert_eq!(long.len(), MAX_NAME);
        assert!(
            long.starts_with("Sommer_Sommer_") && long.ends_with("_Somme.jpg"),
            "{long}"
        );
    }

    #[test]
    fn names_are_unique_case_insensitively() {
        let mut names = NameSet::default();
        assert_eq!(names.claim("a", Some("vcf")), "a.vcf");
        assert_eq!(names.claim("A", Some("vcf")), "A-2.vcf");
        assert_eq!(names.claim("a", Some("vcf")), "a-3.vcf");
    }

    #[test]
    fn stems_come_from_hrefs() {
        assert_eq!(
            item_stem("/dav/alice/contacts/abc%40x.vcf", Some("vcf")),
            "abc@x"
        );
        assert_eq!(item_stem("old/phone/all.VCF#3", Some("vcf")), "all-3");
        assert_eq!(item_stem("/cal/event", Some("ics")), "event");
    }

    #[test]
    fn relative_paths_cannot_escape() {
        assert_eq!(
            safe_relative_path("/Photos/../../x/a b.jpg"),
            "Photos/x/a_b.jpg"
        );
    }
}
