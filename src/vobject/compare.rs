//! Whether what a server stores says the same as what was sent: a comparison of vCards and
//! iCalendar objects after the normalisations RFC 6350 and RFC 5545 allow (property order,
//! folding, parameter order, spelling and default value types, durations written another
//! way, case where values are case-insensitive), and a report per property of what differs.

use super::{split_content_line, unfolded};

/// One content line in a canonical spelling: name upper-cased without its group, parameters
/// as sorted `NAME=value` pairs (names upper-cased, values lower-cased and unquoted, lists
/// split), then the value as it is.
fn canonical_line(line: &[u8]) -> Vec<u8> {
    let (head, value) = split_content_line(line);
    let text = String::from_utf8_lossy(head);
    let mut parts = text.split(';');
    let name = parts.next().unwrap_or("");
    let name = name
        .rsplit('.')
        .next()
        .unwrap_or(name)
        .trim()
        .to_ascii_uppercase();
    let mut parameters: Vec<String> = Vec::new();
    for parameter in parts {
        let (key, values) = parameter.split_once('=').unwrap_or(("TYPE", parameter));
        let key = key.trim().to_ascii_uppercase();
        for value in values.split(',') {
            let value = value.trim().trim_matches('"').to_lowercase();
            // A value type that is the property's default says nothing (RFC 5545 3.2.20).
            if key == "VALUE" && is_default_type(&name, &value) {
                continue;
            }
            parameters.push(format!("{key}={value}"));
        }
    }
    parameters.sort();
    parameters.dedup();
    let mut out = name.clone().into_bytes();
    for parameter in parameters {
        out.push(b';');
        out.extend_from_slice(parameter.as_bytes());
    }
    out.push(b':');
    out.extend_from_slice(&canonical_value(&name, value));
    out
}

/// Whether two vCards or iCalendar objects say the same thing although their bytes differ,
/// as when a server re-serialises what it stores: the same set of properties with the same
/// values, in any order, folding, line ending or parameter spelling. `PRODID` is left out (servers
/// stamp their own).
pub fn equivalent(a: &[u8], b: &[u8]) -> bool {
    differences(a, b).is_empty()
}

/// Whether `resource` (what a server serves at one href) holds `item`: it is [`equivalent`],
/// or the resource holds several vCards or calendar objects and one of them is. A restore
/// then finds a contact it archived out of a two-vCard resource already there.
pub fn holds(resource: &[u8], item: &[u8]) -> bool {
    if equivalent(resource, item) {
        return true;
    }
    let parts = super::split_items(resource);
    parts.items.len() > 1 && parts.items.iter().any(|part| equivalent(part, item))
}

/// Whether the events, to-dos, journal entries or vCards of `a` and `b` are [`equivalent`],
/// whatever the calendar around them says (`METHOD`, `CALSCALE`, `VTIMEZONE` blocks): those
/// are what a server rewrites on a whole-collection upload, while an edit made by a person
/// changes the items themselves.
pub fn same_items(a: &[u8], b: &[u8]) -> bool {
    let items_only = |data: &[u8]| {
        let mut stack: Vec<Vec<u8>> = Vec::new();
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for line in unfolded(data) {
            let canonical = canonical_line(&line);
            if let Some(name) = canonical.strip_prefix(b"BEGIN:") {
                stack.push(name.to_vec());
            }
            let inside_item =
                stack.iter().any(|c| c != b"VCALENDAR") && !stack.iter().any(|c| c == b"VTIMEZONE");
            if inside_item {
                kept.push(canonical.clone());
            }
            if canonical.starts_with(b"END:") {
                stack.pop();
            }
        }
        kept.sort();
        kept
    };
    items_only(a) == items_only(b)
}

/// `VALUE=` types that are the default for the property, so that writing them or not says
/// the same thing.
fn is_default_type(name: &str, value: &str) -> bool {
    match value {
        "date-time" => matches!(
            name,
            "DTSTART"
                | "DTEND"
                | "DUE"
                | "RECURRENCE-ID"
                | "EXDATE"
                | "RDATE"
                | "DTSTAMP"
                | "CREATED"
                | "LAST-MODIFIED"
                | "COMPLETED"
        ),
        "duration" => matches!(name, "DURATION" | "TRIGGER"),
        "text" => true,
        _ => false,
    }
}

/// Properties whose values are case-insensitive keywords (RFC 5545 3.8, RFC 6350 6.1.4).
const KEYWORD_VALUES: [&str; 7] = [
    "STATUS", "CLASS", "TRANSP", "ACTION", "KIND", "CALSCALE", "METHOD",
];

fn canonical_value(name: &str, value: &[u8]) -> Vec<u8> {
    if KEYWORD_VALUES.contains(&name) {
        return value.to_ascii_lowercase();
    }
    if matches!(name, "DURATION" | "TRIGGER")
        && let Some(seconds) = std::str::from_utf8(value).ok().and_then(duration_seconds)
    {
        return format!("{seconds}s").into_bytes();
    }
    if matches!(name, "ATTENDEE" | "ORGANIZER")
        && value.len() >= 7
        && value[..7].eq_ignore_ascii_case(b"mailto:")
    {
        let mut out = b"mailto:".to_vec();
        out.extend_from_slice(&value[7..]);
        return out;
    }
    // A data: URI written with its `;` and `,` escaped as text is the same URI (calcard
    // writes `base64\,`, Radicale serves `image/jpeg\;base64\,`).
    if matches!(name, "PHOTO" | "LOGO" | "SOUND" | "KEY")
        && value.len() >= 5
        && value[..5].eq_ignore_ascii_case(b"data:")
    {
        // The header ends at the first comma, escaped or not; base64 has no backslashes.
        let header_end = value
            .iter()
            .position(|b| *b == b',')
            .map_or(value.len(), |at| at + 1);
        let (header, data) = value.split_at(header_end);
        let mut out: Vec<u8> = header.iter().copied().filter(|b| *b != b'\\').collect();
        out.extend_from_slice(data);
        return out;
    }
    // Trailing empty components of a structured value say nothing (SOGo writes
    // `N:Doe;;;;` as `N:Doe`).
    let mut value = value;
    if matches!(name, "N" | "ADR" | "ORG") {
        while let [rest @ .., b';'] = value
            && !rest.ends_with(b"\\")
        {
            value = rest;
        }
    }
    // `\N` and `\n` are the same newline in a text value.
    let mut out = Vec::with_capacity(value.len());
    let mut index = 0;
    while index < value.len() {
        if value[index] == b'\\' && value.get(index + 1) == Some(&b'N') {
            out.extend_from_slice(b"\\n");
            index += 2;
        } else {
            out.push(value[index]);
            index += 1;
        }
    }
    out
}

/// An RFC 5545 duration (`PT60M`, `-P1DT2H`, `P2W`) in seconds.
fn duration_seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => number.push(c),
            'T' if number.is_empty() => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                let scale = match (unit, in_time) {
                    ('W', false) => 604_800,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(scale)?)?;
                any = true;
            }
        }
    }
    (any && number.is_empty()).then_some(sign * total)
}

/// One way a server's copy differs from what was sent, property by property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyChange {
    /// The server kept no property of this name: the bytes of what it dropped.
    Dropped { name: String, bytes: usize },
    /// The server kept the property with another value (or other parameters).
    Changed { name: String },
    /// The server kept the property but cut its value to less than half (a photo whose
    /// data it could not read): the sizes sent and kept.
    Shrunk {
        name: String,
        from: usize,
        to: usize,
    },
    /// The server added a property that was not sent.
    Added { name: String },
}

impl std::fmt::Display for PropertyChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dropped { name, bytes } => {
                write!(f, "the server dropped the {name} ({})", human_size(*bytes))
            }
            Self::Changed { name } => write!(f, "the server changed the {name}"),
            Self::Shrunk { name, from, to } => write!(
                f,
                "the server cut the {name} from {} to {}",
                human_size(*from),
                human_size(*to)
            ),
            Self::Added { name } => write!(f, "the server added a property, {name}"),
        }
    }
}

fn human_size(bytes: usize) -> String {
    #[allow(clippy::cast_precision_loss)]
    let kib = bytes as f64 / 1024.0;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if kib < 1024.0 {
        format!("{kib:.1} KiB")
    } else {
        format!("{:.1} MiB", kib / 1024.0)
    }
}

/// What `served` says differently from `sent`, one entry per property name, after the
/// normalisations of [`equivalent`]; empty when they are equivalent. `PRODID` is left out.
pub fn differences(sent: &[u8], served: &[u8]) -> Vec<PropertyChange> {
    if sent == served {
        return Vec::new();
    }
    let canonical = |data: &[u8]| -> Vec<Vec<u8>> {
        let mut lines: Vec<Vec<u8>> = unfolded(data)
            .iter()
            .map(|line| canonical_line(line))
            .filter(|line| property_name(line) != "PRODID")
            .collect();
        lines.sort();
        lines
    };
    // Compared as multisets: a line the server doubled or dropped one copy of counts.
    let (ours, theirs) = (canonical(sent), canonical(served));
    let (only_ours, only_theirs) = multiset_difference(&ours, &theirs);
    let mut names: Vec<String> = only_ours
        .iter()
        .chain(&only_theirs)
        .map(|l| property_name(l))
        .collect();
    names.sort();
    names.dedup();
    let size = |lines: &[&Vec<u8>], name: &str| -> usize {
        lines
            .iter()
            .filter(|l| property_name(l) == name)
            .map(|l| l.len())
            .sum()
    };
    let mut changes: Vec<PropertyChange> = Vec::new();
    let mut added = Vec::new();
    for name in names {
        let from = size(&only_ours, &name);
        if !theirs.iter().any(|l| property_name(l) == name) {
            changes.push(PropertyChange::Dropped { name, bytes: from });
        } else if !ours.iter().any(|l| property_name(l) == name) {
            added.push(PropertyChange::Added { name });
        } else {
            let to = size(&only_theirs, &name);
            if from >= 256 && to < from / 2 {
                changes.push(PropertyChange::Shrunk { name, from, to });
            } else {
                changes.push(PropertyChange::Changed { name });
            }
        }
    }
    changes.extend(added);
    changes
}

/// The lines of sorted `a` not matched by one in sorted `b`, and the other way round.
fn multiset_difference<'a>(
    a: &'a [Vec<u8>],
    b: &'a [Vec<u8>],
) -> (Vec<&'a Vec<u8>>, Vec<&'a Vec<u8>>) {
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(x);
                i += 1;
            }
            (Some(x), None) => {
                only_a.push(x);
                i += 1;
            }
            (_, Some(y)) => {
                only_b.push(y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (only_a, only_b)
}

/// The name of a canonical line (`NAME;…:…` or `NAME:…`); `BEGIN`/`END` name their component.
fn property_name(line: &[u8]) -> String {
    let end = line
        .iter()
        .position(|&b| b == b';' || b == b':')
        .unwrap_or(line.len());
    let name = String::from_utf8_lossy(&line[..end]).into_owned();
    if name == "BEGIN" || name == "END" {
        let value = line.get(end + 1..).unwrap_or_default();
        return format!(
            "{} block",
            String::from_utf8_lossy(value).to_ascii_uppercase()
        );
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(lines: &str) -> Vec<u8> {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n")
            .into_bytes()
    }

    #[test]
    fn a_value_added_beside_one_of_the_same_name_or_a_doubled_line_is_a_change() {
        let sent = event("SUMMARY:x\r\n");
        let second_uid = event("SUMMARY:x\r\nUID:other\r\n");
        assert_eq!(
            differences(&sent, &second_uid),
            vec![PropertyChange::Changed {
                name: "UID".to_owned()
            }]
        );
        let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nFN:A\r\nEND:VCARD\r\n";
        let doubled = [card.as_slice(), card.as_slice()].concat();
        assert!(!equivalent(card, &doubled));
        assert!(!equivalent(&doubled, card));
    }

    #[test]
    fn trailing_empty_components_of_a_name_say_nothing() {
        let card = |n: &str| {
            format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nFN:A\r\nN:{n}\r\nEND:VCARD\r\n")
                .into_bytes()
        };
        assert!(equivalent(&card("Doe;Ann;;;"), &card("Doe;Ann")));
        assert!(!equivalent(&card("Doe;Ann;;;"), &card("Doe")));
        assert!(!equivalent(&card("Doe\\;"), &card("Doe\\")));
    }

    #[test]
    fn a_data_uri_escaped_as_text_is_the_same_photo() {
        let card = |photo: &str| {
            format!("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë\r\nPHOTO:{photo}\r\nEND:VCARD\r\n")
                .into_bytes()
        };
        let calcard = card("data:image/jpeg;base64\\,/9j/4AAQ");
        assert!(equivalent(
            &calcard,
            &card("data:image/jpeg\\;base64\\,/9j/4AAQ")
        ));
        assert!(equivalent(
            &calcard,
            &card("data:image/jpeg;base64,/9j/4AAQ")
        ));
        assert!(!equivalent(&calcard, &card("data:image/jpeg\\;base64")));
        assert!(!equivalent(
            &calcard,
            &card("data:image/jpeg;base64\\,/9j/4AAR")
        ));
    }

    #[test]
    fn what_rfc_5545_calls_equal_is_equal() {
        // Radicale writes PT60M as PT1H; others add the default value type, reorder and
        // re-case parameters, fold long lines, or change a keyword's case.
        let sent = event(
            "DTSTART;TZID=Europe/Berlin:20240102T100000\r\nDURATION:PT60M\r\nSTATUS:confirmed\r\nATTENDEE;ROLE=CHAIR;CN=Ann:MAILTO:ann@example.org\r\nDESCRIPTION:one\\Ntwo\r\n",
        );
        let served = event(
            "DTSTART;VALUE=DATE-TIME;tzid=Europe/Berlin:20240102T100000\r\nDURATION:PT1H\r\nSTATUS:CONFIRMED\r\nATTENDEE;CN=Ann;ROLE=CHAIR:mailto:ann@exam\r\n ple.org\r\nDESCRIPTION:one\\ntwo\r\n",
        );
        assert_eq!(differences(&sent, &served), Vec::new());
        assert!(equivalent(&sent, &served));
        assert_eq!(duration_seconds("-P1DT2H"), Some(-93_600));
        assert_eq!(duration_seconds("P2W"), Some(1_209_600));
        assert_eq!(duration_seconds("PT"), None);
    }

    #[test]
    fn a_resource_of_two_vcards_holds_each_and_answers_for_both_uids() {
        let one = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:two-1\r\nFN:One\r\nEND:VCARD\r\n";
        let two = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:two-2\r\nFN:Two\r\nEND:VCARD\r\n";
        let both = [&one[..], &two[..]].concat();
        assert_eq!(super::super::uids_of(&both), ["two-1", "two-2"]);
        assert!(holds(&both, two) && holds(&both, one) && holds(one, one));
        assert!(!holds(one, two));
    }

    #[test]
    fn what_a_server_really_changed_is_named_by_property() {
        let photo = format!("PHOTO:data:image/jpeg;base64,{}\r\n", "A".repeat(3000));
        let card = |extra: &str| {
            format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c\r\nFN:Ann\r\n{extra}END:VCARD\r\n")
                .into_bytes()
        };
        let sent = card(&format!("{photo}NOTE:kept\r\nTITLE:Boss\r\n"));
        // Radicale's rewrite of a vCard 4.0 data URI, a changed note, a lost title, a new
        // property.
        let served = card("PHOTO:data:image/jpeg\\;base64\r\nNOTE:changed\r\nX-ADDED:1\r\n");
        let changes = differences(&sent, &served);
        let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "the server changed the NOTE",
                "the server cut the PHOTO from 3.0 KiB to 28 B",
                "the server dropped the TITLE (10 B)",
                "the server added a property, X-ADDED",
            ],
            "{changes:?}"
        );
        assert!(!equivalent(&sent, &served));
    }
}
