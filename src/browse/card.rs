//! A contact as the window shows it: the card's labelled fields, its photo, and the folded
//! text that search and order compare.

use super::{Pixels, thumbnail};
use crate::vobject::{Property, properties};

/// Contact photos are shrunk to this many pixels on their longer side.
const CONTACT_PHOTO_PX: u32 = 96;

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

fn value_of<'a>(props: &'a [Property], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
        .filter(|v| !v.trim().is_empty())
}

pub(super) fn contact(bytes: &[u8], path: &str) -> Contact {
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
}
