//! What an item is, read from its bytes: kind, UID, whether a parser accepts it, and where it
//! breaks the standard.

use crate::ids::Uid;
use crate::model::ItemKind;

use super::{
    Line, begins, calendar_blocks, contains, lines, logical_lines, marker, property_value,
    split_items,
};

/// What reading one item told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFacts {
    pub kind: ItemKind,
    pub uid: Option<Uid>,
    /// Why a parser could not read it, if it could not; the bytes are kept regardless.
    pub parse_problem: Option<String>,
    /// Ways the item breaks RFC 6350/5545 that a lenient parser accepts (blank lines, lines
    /// without a colon, empty parameters, bad UTC offsets, ...).
    pub nonconforming: Vec<String>,
    pub is_utf8: bool,
}

pub(super) fn text_of(value: &[u8]) -> String {
    String::from_utf8_lossy(value).trim().to_owned()
}

/// The item's UID (the first one, for a recurring event), cheaply, without parsing.
pub fn uid_of(data: &[u8]) -> Option<Uid> {
    property_value(data, &lines(data), b"UID")
        .map(|value| text_of(&value))
        .filter(|uid| !uid.is_empty())
        .map(Uid::new)
}

/// Every UID in `data`: one per vCard of a file of several, each distinct one of a calendar
/// (a recurring event's overrides share theirs).
pub fn uids_of(data: &[u8]) -> Vec<Uid> {
    let split = split_items(data);
    let mut uids: Vec<Uid> = Vec::new();
    let parts = if split.items.len() > 1 {
        split.items
    } else {
        vec![data.to_vec()]
    };
    for part in &parts {
        if let Some(uid) = uid_of(part).filter(|u| !uids.contains(u)) {
            uids.push(uid);
        }
    }
    uids
}

/// Whether the first non-blank line opens a vCard.
pub(super) fn begins_with_vcard(data: &[u8]) -> bool {
    let all = lines(data);
    all.iter()
        .map(|l| &data[l.start..l.content_end])
        .find(|c| !c.trim_ascii().is_empty())
        .is_some_and(|c| begins(c, b"VCARD"))
}

/// Reads the kind, UID and readability of one vCard or iCalendar item.
pub fn inspect(data: &[u8]) -> ItemFacts {
    let all = lines(data);
    let is_utf8 = std::str::from_utf8(data).is_ok();
    let first = all
        .iter()
        .map(|l| &data[l.start..l.content_end])
        .find(|c| !c.trim_ascii().is_empty());
    let is_vcard = first.is_some_and(|c| begins(c, b"VCARD"));
    let is_calendar = first.is_some_and(|c| begins(c, b"VCALENDAR"));
    if is_vcard {
        let uid = property_value(data, &all, b"UID")
            .map(|v| text_of(&v))
            .filter(|u| !u.is_empty())
            .map(Uid::new);
        let parse_problem = match calcard::vcard::VCard::parse(String::from_utf8_lossy(data)) {
            Ok(_) => None,
            Err(entry) => Some(describe_entry(&entry)),
        };
        return ItemFacts {
            kind: ItemKind::Contact,
            uid,
            parse_problem,
            nonconforming: conformance_problems(data, &all),
            is_utf8,
        };
    }
    if is_calendar {
        let blocks = calendar_blocks(data);
        let main = blocks
            .iter()
            .flat_map(|cal| cal.components.iter())
            .find(|b| !b.name.eq_ignore_ascii_case("VTIMEZONE"));
        let kind = match main.map(|b| b.name.to_ascii_uppercase()) {
            Some(name) if name == "VEVENT" => ItemKind::Event,
            Some(name) if name == "VTODO" => ItemKind::Todo,
            Some(name) if name == "VJOURNAL" => ItemKind::Journal,
            _ => ItemKind::Unknown,
        };
        let uid = main.and_then(|b| b.uid.clone()).map(Uid::new);
        let parse_problem =
            match calcard::icalendar::ICalendar::parse(String::from_utf8_lossy(data)) {
                Ok(_) => None,
                Err(entry) => Some(describe_entry(&entry)),
            };
        let mut nonconforming = conformance_problems(data, &all);
        if main.is_none() && !blocks.iter().any(|b| b.unterminated) {
            nonconforming.push("holds no event, to-do or journal entry".to_owned());
        }
        return ItemFacts {
            kind,
            uid,
            parse_problem,
            nonconforming,
            is_utf8,
        };
    }
    ItemFacts {
        kind: ItemKind::Unknown,
        uid: None,
        parse_problem: Some("neither a vCard nor an iCalendar object".to_owned()),
        nonconforming: Vec::new(),
        is_utf8,
    }
}

pub(super) fn is_utc_offset(value: &[u8]) -> bool {
    let digits = &value[1.min(value.len())..];
    matches!(value.first(), Some(b'+' | b'-'))
        && (digits.len() == 4 || digits.len() == 6)
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] - b'0') * 10 + (digits[1] - b'0') <= 23
        && (digits[2] - b'0') * 10 + (digits[3] - b'0') <= 59
}

pub(super) fn is_date_or_date_time(value: &[u8]) -> bool {
    let (date, time) = match value.iter().position(|&b| b == b'T') {
        Some(t) => (&value[..t], Some(&value[t + 1..])),
        None => (value, None),
    };
    let time_ok = time.is_none_or(|t| {
        let t = t.strip_suffix(b"Z").unwrap_or(t);
        t.len() == 6 && t.iter().all(u8::is_ascii_digit)
    });
    date.len() == 8 && date.iter().all(u8::is_ascii_digit) && time_ok
}

/// Cheap checks for what the RFCs forbid but lenient parsers accept; each problem is named
/// once. Only reported, never repaired.
pub(super) fn conformance_problems(data: &[u8], all: &[Line]) -> Vec<String> {
    let mut problems: Vec<String> = Vec::new();
    let mut note = |problem: &str| {
        if !problems.iter().any(|p| p == problem) {
            problems.push(problem.to_owned());
        }
    };
    let logical = logical_lines(data, all);
    let mut depth = 0usize;
    let mut has_version = false;
    let mut timezones = Vec::new();
    let mut tzid_references = Vec::new();
    let mut after_base64 = false;
    for line in &logical {
        let previous_was_base64 = std::mem::replace(
            &mut after_base64,
            contains(&line.to_ascii_uppercase(), b"BASE64"),
        );
        if marker(line, b"BEGIN").is_some() {
            depth += 1;
            continue;
        }
        if marker(line, b"END").is_some() {
            depth = depth.saturating_sub(1);
            continue;
        }
        if depth == 0 {
            continue;
        }
        if line.trim_ascii().is_empty() {
            // vCard 2.1 ends base64 values with a blank line; anywhere else it is an error.
            if !previous_was_base64 {
                note("blank line inside the object");
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            note("a line without a colon");
            continue;
        };
        let (head, value) = (&line[..colon], &line[colon + 1..]);
        let mut parts = head.split(|&b| b == b';');
        let name = parts.next().unwrap_or_default().to_ascii_uppercase();
        let parameters: Vec<&[u8]> = parts.collect();
        if parameters.iter().any(|p| p.trim_ascii().is_empty()) {
            note("an empty parameter");
        }
        let tzid = parameters.iter().find_map(|p| {
            let upper = p.to_ascii_uppercase();
            upper.starts_with(b"TZID=").then(|| p[5..].to_vec())
        });
        match name.as_slice() {
            b"VERSION" => has_version = true,
            b"TZOFFSETFROM" | b"TZOFFSETTO" if !is_utc_offset(value.trim_ascii()) => {
                note("an invalid UTC offset");
            }
            b"TZID" => timezones.push(value.trim_ascii().to_vec()),
            b"ORGANIZER" | b"ATTENDEE" if value.trim_ascii().contains(&b' ') => {
                note("a calendar address that is not a valid URI");
            }
            b"DTSTAMP" | b"DTSTART" | b"DTEND" | b"DUE" | b"RECURRENCE-ID" | b"COMPLETED"
                if !is_date_or_date_time(value.trim_ascii()) =>
            {
                note("an invalid date or date-time");
            }
            _ => {}
        }
        if let Some(tzid) = tzid {
            if value.trim_ascii().ends_with(b"Z") {
                note("a time zone given together with a UTC time");
            }
            tzid_references.push(tzid);
        }
    }
    if !has_version {
        note("no VERSION");
    }
    let unquoted = |id: &[u8]| id.trim_ascii().trim_ascii_start().to_vec();
    if tzid_references.iter().any(|r| {
        let r = unquoted(r);
        let r = r
            .strip_prefix(b"\"")
            .and_then(|x| x.strip_suffix(b"\""))
            .map_or(r.clone(), <[u8]>::to_vec);
        !timezones.contains(&r)
    }) {
        note("a TZID with no matching VTIMEZONE");
    }
    problems
}

pub(super) fn describe_entry(entry: &calcard::Entry) -> String {
    match entry {
        calcard::Entry::InvalidLine(line) => {
            let short: String = line.chars().take(60).collect();
            format!("invalid line {short:?}")
        }
        calcard::Entry::UnexpectedComponentEnd { expected, found } => {
            format!("component {found:?} ends where {expected:?} should")
        }
        calcard::Entry::UnterminatedComponent(name) => format!("{name} is never closed"),
        calcard::Entry::TooManyComponents => "too many components".to_owned(),
        calcard::Entry::Eof => "empty or truncated".to_owned(),
        calcard::Entry::VCard(_) => "a vCard where an iCalendar object was expected".to_owned(),
        calcard::Entry::ICalendar(_) => "an iCalendar object where a vCard was expected".to_owned(),
        _ => "unreadable".to_owned(),
    }
}
