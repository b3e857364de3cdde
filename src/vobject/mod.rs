//! Byte-level reading of vCard and iCalendar data: splitting files into items, finding UIDs and
//! kinds, and building merged files. Never rewrites a byte of an item; parsing (calcard) is only
//! used to check that an item is readable.

use crate::model::ItemKind;

mod compare;
mod cut;
pub use compare::{PropertyChange, differences, equivalent, holds, same_items};
pub use cut::{CutOutcome, cut_file};

/// A line of a file: its byte range, with and without the line terminator.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the content, before `\r\n`, `\n` or `\r`.
    content_end: usize,
    /// End including the terminator.
    end: usize,
}

/// Splits into lines, accepting CRLF, LF, CR alone and CR CR LF; no byte is lost.
fn lines(data: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\n' => {
                let mut content_end = i;
                while content_end > start && data[content_end - 1] == b'\r' {
                    content_end -= 1;
                }
                out.push(Line {
                    start,
                    content_end,
                    end: i + 1,
                });
                start = i + 1;
            }
            b'\r'
                if data
                    .get(i + 1)
                    .is_some_and(|&next| next != b'\r' && next != b'\n') =>
            {
                out.push(Line {
                    start,
                    content_end: i,
                    end: i + 1,
                });
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < data.len() {
        let mut content_end = data.len();
        while content_end > start && data[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        out.push(Line {
            start,
            content_end,
            end: data.len(),
        });
    }
    out
}

/// `BEGIN:NAME` / `END:NAME` markers, case-insensitive, tolerant of a BOM and surrounding blanks.
fn marker<'a>(content: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    let content = content.trim_ascii();
    let colon = content.iter().position(|&b| b == b':')?;
    let (key, rest) = content.split_at(colon);
    if key.trim_ascii().eq_ignore_ascii_case(keyword) {
        Some(rest[1..].trim_ascii())
    } else {
        None
    }
}

fn begins(content: &[u8], name: &[u8]) -> bool {
    marker(content, b"BEGIN").is_some_and(|n| n.eq_ignore_ascii_case(name))
}

fn ends(content: &[u8], name: &[u8]) -> bool {
    marker(content, b"END").is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// Value of a property named `name` among `lines` (first match), as bytes. The lines are
/// unfolded first (RFC 6350 3.2, RFC 5545 3.1): a fold may cut the name itself
/// (`UID\r\n :315030d0-...`, from a real Mozilla file).
fn property_value(data: &[u8], lines: &[Line], name: &[u8]) -> Option<Vec<u8>> {
    logical_lines(data, lines).into_iter().find_map(|logical| {
        // A property name ends at ':' or ';' (parameters); vCard groups prefix it with `group.`.
        let name_end = logical.iter().position(|&b| b == b':' || b == b';')?;
        let full_name = &logical[..name_end];
        let bare = full_name
            .iter()
            .rposition(|&b| b == b'.')
            .map_or(full_name, |dot| &full_name[dot + 1..]);
        if !bare.trim_ascii().eq_ignore_ascii_case(name) {
            return None;
        }
        let colon = logical.iter().position(|&b| b == b':')?;
        Some(logical[colon + 1..].to_vec())
    })
}

/// What reading one item told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFacts {
    pub kind: ItemKind,
    pub uid: Option<String>,
    /// Why a parser could not read it, if it could not; the bytes are kept regardless.
    pub parse_problem: Option<String>,
    /// Ways the item breaks RFC 6350/5545 that a lenient parser accepts (blank lines, lines
    /// without a colon, empty parameters, bad UTC offsets, ...).
    pub nonconforming: Vec<String>,
    pub is_utf8: bool,
}

fn text_of(value: &[u8]) -> String {
    String::from_utf8_lossy(value).trim().to_owned()
}

/// The item's UID (the first one, for a recurring event), cheaply, without parsing.
pub fn uid_of(data: &[u8]) -> Option<String> {
    property_value(data, &lines(data), b"UID")
        .map(|value| text_of(&value))
        .filter(|uid| !uid.is_empty())
}

/// Every UID in `data`: one per vCard of a file of several, each distinct one of a calendar
/// (a recurring event's overrides share theirs).
pub fn uids_of(data: &[u8]) -> Vec<String> {
    let split = split_items(data);
    let mut uids: Vec<String> = Vec::new();
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

/// Cuts `data` with [`split_vcards`] or [`split_calendar`], as its first line says.
pub fn split_items(data: &[u8]) -> Split {
    if begins_with_vcard(data) {
        split_vcards(data)
    } else {
        split_calendar(data)
    }
}

/// Whether the first non-blank line opens a vCard.
fn begins_with_vcard(data: &[u8]) -> bool {
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
            .filter(|u| !u.is_empty());
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
        let uid = main.and_then(|b| b.uid.clone());
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

/// Logical lines (folded continuations joined, vCard 2.1 quoted-printable soft breaks too).
fn logical_lines(data: &[u8], all: &[Line]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in all {
        let content = &data[line.start..line.content_end];
        let continues_fold = matches!(content.first(), Some(b' ' | b'\t')) && !out.is_empty();
        let continues_soft_break = out.last().is_some_and(|previous| {
            previous.ends_with(b"=")
                && contains(&previous.to_ascii_uppercase(), b"QUOTED-PRINTABLE")
        });
        match out.last_mut() {
            Some(previous) if continues_fold => previous.extend_from_slice(&content[1..]),
            Some(previous) if continues_soft_break => previous.extend_from_slice(content),
            _ => out.push(content.to_vec()),
        }
    }
    out
}

fn is_utc_offset(value: &[u8]) -> bool {
    let digits = &value[1.min(value.len())..];
    matches!(value.first(), Some(b'+' | b'-'))
        && (digits.len() == 4 || digits.len() == 6)
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] - b'0') * 10 + (digits[1] - b'0') <= 23
        && (digits[2] - b'0') * 10 + (digits[3] - b'0') <= 59
}

fn is_date_or_date_time(value: &[u8]) -> bool {
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
fn conformance_problems(data: &[u8], all: &[Line]) -> Vec<String> {
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

fn describe_entry(entry: &calcard::Entry) -> String {
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

/// One top-level component inside a VCALENDAR (VEVENT, VTODO, VTIMEZONE, ...).
#[derive(Debug, Clone)]
struct Component {
    name: String,
    uid: Option<String>,
    tzid: Option<String>,
    start: usize,
    end: usize,
}

/// One VCALENDAR: its header property lines and its components.
#[derive(Debug, Clone)]
struct CalendarBlock {
    end: usize,
    /// Byte ranges of property lines directly inside VCALENDAR (VERSION, PRODID, ...).
    header: Vec<(usize, usize)>,
    components: Vec<Component>,
    /// The calendar was never closed.
    unterminated: bool,
}

fn calendar_blocks(data: &[u8]) -> Vec<CalendarBlock> {
    let mut scanner = cut::CalendarScanner::default();
    let mut blocks = Vec::new();
    let mut components = Vec::new();
    let mut take = |found| match found {
        cut::Scanned::Component(c) => components.push(c),
        cut::Scanned::Block(mut block) => {
            block.components = std::mem::take(&mut components);
            blocks.push(block);
        }
    };
    cut::each_line_of(data, |line, content| {
        if let Some(found) = scanner.feed(line, content) {
            take(found);
        }
    });
    scanner.finish().into_iter().for_each(take);
    blocks
}

/// How a file of many items was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The items, each as bytes ready to archive.
    pub items: Vec<Vec<u8>>,
    /// True when the items are exact slices that put together give back the whole file;
    /// otherwise the caller must also keep the original file.
    pub lossless: bool,
    /// What looked wrong while cutting (text outside items, an unterminated item, ...).
    pub problems: Vec<String>,
}

/// Cuts a `.vcf` file into vCards: each item is the exact bytes from `BEGIN:VCARD` to its
/// `END:VCARD` line, terminator included. Nested vCards (2.1 AGENT) stay inside their parent.
pub fn split_vcards(data: &[u8]) -> Split {
    let mut cutter = cut::VcardCutter::default();
    let mut items = Vec::new();
    cut::each_line_of(data, |line, content| {
        items.extend(cutter.feed(line, content))
    });
    let (last, outcome) = cutter.finish();
    items.extend(last);
    Split::of(data, items, outcome)
}

impl Split {
    fn of(data: &[u8], items: Vec<Vec<u8>>, outcome: CutOutcome) -> Self {
        Split {
            items: if outcome.whole {
                vec![data.to_vec()]
            } else {
                items
            },
            lossless: outcome.lossless,
            problems: outcome.problems,
        }
    }
}

/// The line terminator a file uses (for the few lines we add when wrapping components).
fn line_terminator(data: &[u8]) -> &'static [u8] {
    match data.iter().position(|&b| b == b'\n' || b == b'\r') {
        Some(i) if data[i] == b'\n' && i > 0 && data[i - 1] == b'\r' => b"\r\n",
        Some(i) if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') => b"\r\n",
        Some(i) if data[i] == b'\n' => b"\n",
        Some(_) => b"\r",
        None => b"\r\n",
    }
}

/// Cuts an `.ics` file into calendar objects, one per UID (recurrence overrides stay together),
/// each wrapped in the file's own VCALENDAR header and the VTIMEZONEs it refers to. A file that
/// is a single object is returned whole and unchanged.
pub fn split_calendar(data: &[u8]) -> Split {
    let mut cutter = cut::CalendarCutter::default();
    cut::each_line_of(data, |line, content| cutter.feed(line, content));
    let mut items = Vec::new();
    // Reading back from memory cannot fail; were it to, the file is kept whole.
    let outcome = cutter
        .cut(&mut { data }, |item| {
            items.push(item);
            true
        })
        .unwrap_or_else(|e| CutOutcome {
            problems: vec![e.to_string()],
            lossless: true,
            whole: true,
        });
    Split::of(data, items, outcome)
}

fn is_timezone(component: &Component) -> bool {
    component.name.eq_ignore_ascii_case("VTIMEZONE")
}

fn refers_to_tzid(body: &[u8], tzid: &str) -> bool {
    let plain = format!("TZID={tzid}");
    let quoted = format!("TZID=\"{tzid}\"");
    contains(body, plain.as_bytes()) || contains(body, quoted.as_bytes())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn ensure_terminated(out: &mut Vec<u8>, eol: &[u8]) {
    if !matches!(out.last(), Some(b'\n' | b'\r')) {
        out.extend_from_slice(eol);
    }
}

/// Builds one merged iCalendar file from many calendar objects in two passes, so that only the
/// header and the VTIMEZONEs stay in memory: pass one collects the header of the first object
/// and each VTIMEZONE once (by TZID); pass two streams every other component's exact bytes
/// ([`components_of`]).
#[derive(Debug, Default)]
pub struct MergedCalendar {
    header: Vec<u8>,
    timezones: Vec<u8>,
    seen_tzids: std::collections::HashSet<String>,
}

impl MergedCalendar {
    /// Pass one: remembers the header (first object only) and unseen VTIMEZONEs.
    pub fn add_header_and_timezones(&mut self, data: &[u8]) {
        for block in calendar_blocks(data) {
            if self.header.is_empty() {
                for &(start, end) in &block.header {
                    self.header.extend_from_slice(&data[start..end]);
                    ensure_terminated(&mut self.header, b"\r\n");
                }
            }
            for component in block.components.iter().filter(|c| is_timezone(c)) {
                let id = component.tzid.clone().unwrap_or_default();
                if self.seen_tzids.insert(id) {
                    self.timezones
                        .extend_from_slice(&data[component.start..component.end]);
                    ensure_terminated(&mut self.timezones, b"\r\n");
                }
            }
        }
    }

    /// `BEGIN:VCALENDAR`, the header and the timezones.
    pub fn opening(&self) -> Vec<u8> {
        let mut out = b"BEGIN:VCALENDAR\r\n".to_vec();
        if self.header.is_empty() {
            out.extend_from_slice(b"VERSION:2.0\r\nPRODID:-//Lifeboat//merged//EN\r\n");
        } else {
            out.extend_from_slice(&self.header);
        }
        out.extend_from_slice(&self.timezones);
        out
    }

    pub fn closing() -> &'static [u8] {
        b"END:VCALENDAR\r\n"
    }
}

/// Pass two: the exact bytes of every component of an object except its VTIMEZONEs.
pub fn components_of(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for block in calendar_blocks(data) {
        for component in block.components.iter().filter(|c| !is_timezone(c)) {
            out.extend_from_slice(&data[component.start..component.end]);
            ensure_terminated(&mut out, b"\r\n");
        }
    }
    out
}

/// Appends one vCard to a merged `.vcf`, making sure cards never run into each other.
pub fn append_vcard(merged: &mut Vec<u8>, card: &[u8]) {
    merged.extend_from_slice(card);
    ensure_terminated(merged, b"\r\n");
}

/// Logical lines (continuation lines joined), without terminators.
fn unfolded(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in lines(data) {
        let content = &data[line.start..line.content_end];
        match (content.first(), out.last_mut()) {
            (Some(b' ' | b'\t'), Some(previous)) => previous.extend_from_slice(&content[1..]),
            _ if content.trim_ascii().is_empty() => {}
            _ => out.push(content.to_vec()),
        }
    }
    out
}

/// Splits `NAME;PARAM=a,b;P2="x":value` at the first colon outside quotes.
fn split_content_line(line: &[u8]) -> (&[u8], &[u8]) {
    let mut quoted = false;
    for (index, &byte) in line.iter().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b':' if !quoted => return (&line[..index], &line[index + 1..]),
            _ => {}
        }
    }
    (line, b"")
}

/// The item with every `UID` property's value replaced by `uid` (all components of a
/// recurring event share it); every other byte stays as it was.
pub fn replace_uid(data: &[u8], uid: &str) -> Vec<u8> {
    let all = lines(data);
    let mut out = Vec::with_capacity(data.len() + uid.len());
    let mut index = 0;
    while index < all.len() {
        let line = all[index];
        let content = &data[line.start..line.content_end];
        let (head, _) = split_content_line(content);
        let name = head.split(|&b| b == b';').next().unwrap_or(head);
        let bare = name.rsplit(|&b| b == b'.').next().unwrap_or(name);
        let is_uid = !matches!(content.first(), Some(b' ' | b'\t'))
            && bare.trim_ascii().eq_ignore_ascii_case(b"UID");
        if !is_uid {
            out.extend_from_slice(&data[line.start..line.end]);
            index += 1;
            continue;
        }
        out.extend_from_slice(head);
        out.push(b':');
        out.extend_from_slice(uid.as_bytes());
        // Skip the old value's continuation lines; keep the last one's terminator.
        let mut last = line;
        index += 1;
        while let Some(next) = all.get(index) {
            if matches!(data.get(next.start), Some(b' ' | b'\t')) {
                last = *next;
                index += 1;
            } else {
                break;
            }
        }
        out.extend_from_slice(&data[last.content_end..last.end]);
    }
    out
}

/// The item with a `UID:uid` line added at the end of each vCard and each event, to-do or
/// journal entry: servers refuse items without a UID (Google's vCards have none). Every
/// other byte stays as it was; the new line takes the terminator of the line after it.
pub fn add_uid(data: &[u8], uid: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + uid.len() + 8);
    for line in lines(data) {
        let content = data[line.start..line.content_end].trim_ascii();
        let ends_item = [
            &b"END:VCARD"[..],
            b"END:VEVENT",
            b"END:VTODO",
            b"END:VJOURNAL",
        ]
        .iter()
        .any(|end| content.eq_ignore_ascii_case(end));
        if ends_item {
            let terminator = &data[line.content_end..line.end];
            out.extend_from_slice(b"UID:");
            out.extend_from_slice(uid.as_bytes());
            out.extend_from_slice(if terminator.is_empty() {
                b"\r\n"
            } else {
                terminator
            });
        }
        out.extend_from_slice(&data[line.start..line.end]);
    }
    out
}

/// One content line of an item, for display: the name without group, the parameters as
/// written, and the value with vCard/iCalendar escapes undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub parameters: String,
    pub value: String,
}

/// The item's content lines (unfolded), decoded lossily as UTF-8, for showing a person.
/// The bytes themselves are never changed; this is a view.
pub fn properties(data: &[u8]) -> Vec<Property> {
    unfolded(data)
        .iter()
        .map(|line| {
            let (head, value) = split_content_line(line);
            let head = String::from_utf8_lossy(head);
            let (name, parameters) = head.split_once(';').unwrap_or((&head, ""));
            let name = name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase();
            Property {
                name,
                parameters: parameters.to_owned(),
                value: unescape_text(&String::from_utf8_lossy(value)),
            }
        })
        .collect()
}

/// Undoes `\n`, `\,`, `\;` and `\\` escapes of text values.
fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_whose_name_is_folded_is_found_and_replaced_once() {
        // The shape of a real Mozilla file in the corpus: the fold cuts the name.
        let data = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID\r\n :315030d0-abc\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(uid_of(data).as_deref(), Some("315030d0-abc"));
        assert_eq!(inspect(data).uid.as_deref(), Some("315030d0-abc"));
        let replaced = replace_uid(data, "new");
        let text = String::from_utf8_lossy(&replaced);
        assert_eq!(text.matches("UID").count(), 1, "{text}");
        assert!(text.contains("UID:new\r\nSUMMARY:x"), "{text}");
        // A value folded in the middle still reads whole.
        assert_eq!(
            uid_of(b"BEGIN:VCARD\r\nUID:ab\r\n cd\r\nEND:VCARD\r\n").as_deref(),
            Some("abcd")
        );
    }

    #[test]
    fn add_uid_adds_one_line_per_item_and_keeps_every_other_byte() {
        let card = b"BEGIN:VCARD\nVERSION:3.0\nFN:A\nEND:VCARD\n";
        assert_eq!(
            add_uid(card, "u1"),
            b"BEGIN:VCARD\nVERSION:3.0\nFN:A\nUID:u1\nEND:VCARD\n"
        );
        let event = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR";
        let with = add_uid(event, "u2");
        assert_eq!(uid_of(&with).as_deref(), Some("u2"));
        assert_eq!(
            with,
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\nEND:VALARM\r\nUID:u2\r\nEND:VEVENT\r\nEND:VCALENDAR"
        );
    }

    #[test]
    fn lines_keep_every_byte_for_every_terminator() {
        let data = b"A\r\nB\nC\rD\r\r\nE";
        let found = lines(data);
        let contents: Vec<&[u8]> = found
            .iter()
            .map(|l| &data[l.start..l.content_end])
            .collect();
        assert_eq!(contents, vec![&b"A"[..], b"B", b"C", b"D", b"E"]);
        assert_eq!(found.last().map(|l| l.end), Some(data.len()));
        let total: usize = found.iter().map(|l| l.end - l.start).sum();
        assert_eq!(total, data.len());
    }

    #[test]
    fn vcards_split_into_exact_slices() {
        let data = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nEND:VCARD\r\nbegin:vcard\nVERSION:2.1\nFN:B\nend:vcard\n";
        let split = split_vcards(data);
        assert_eq!(split.items.len(), 2);
        assert!(split.lossless);
        assert_eq!(split.items.concat(), data.to_vec());
        assert_eq!(inspect(&split.items[0]).uid.as_deref(), Some("a"));
        assert_eq!(inspect(&split.items[1]).uid, None);
        assert_eq!(inspect(&split.items[1]).kind, ItemKind::Contact);
    }

    #[test]
    fn nested_agent_vcard_stays_in_parent() {
        let data = b"BEGIN:VCARD\nFN:A\nBEGIN:VCARD\nFN:Agent\nEND:VCARD\nEND:VCARD\n";
        let split = split_vcards(data);
        assert_eq!(split.items.len(), 1);
        assert!(split.lossless);
    }

    #[test]
    fn truncated_vcard_is_kept_and_reported() {
        let data = b"BEGIN:VCARD\nFN:A\nEND:VCARD\nBEGIN:VCARD\nFN:cut";
        let split = split_vcards(data);
        assert_eq!(split.items.len(), 2);
        assert_eq!(split.items[1], b"BEGIN:VCARD\nFN:cut".to_vec());
        assert!(split.lossless);
        assert_eq!(split.problems.len(), 1);
    }

    #[test]
    fn text_without_vcards_is_one_item() {
        let split = split_vcards(b"garbage\xff\xfe");
        assert_eq!(split.items, vec![b"garbage\xff\xfe".to_vec()]);
        assert_eq!(inspect(&split.items[0]).kind, ItemKind::Unknown);
    }

    const TWO_EVENTS: &[u8] = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VTIMEZONE\r\nTZID:Unused\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:one\r\nDTSTART;TZID=Europe/Berlin:20240101T100000\r\nBEGIN:VALARM\r\nUID:alarm\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VTODO\r\nUID:two\r\nEND:VTODO\r\nBEGIN:VEVENT\r\nUID:one\r\nRECURRENCE-ID:20240108T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn calendar_splits_by_uid_with_referenced_timezones() {
        let split = split_calendar(TWO_EVENTS);
        assert_eq!(split.items.len(), 2);
        assert!(!split.lossless);
        let first = String::from_utf8_lossy(&split.items[0]).into_owned();
        assert!(first.contains("TZID:Europe/Berlin"));
        assert!(!first.contains("TZID:Unused"));
        assert_eq!(first.matches("BEGIN:VEVENT").count(), 2);
        assert!(first.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y\r\n"));
        let facts = inspect(&split.items[0]);
        assert_eq!(facts.uid.as_deref(), Some("one"));
        assert_eq!(facts.kind, ItemKind::Event);
        assert_eq!(facts.parse_problem, None);
        let second = inspect(&split.items[1]);
        assert_eq!(
            (second.kind, second.uid.as_deref()),
            (ItemKind::Todo, Some("two"))
        );
    }

    #[test]
    fn calendars_without_components_are_one_whole_item() {
        let data = b"BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:A\nEND:VTIMEZONE\nEND:VCALENDAR\nBEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n";
        let split = split_calendar(data);
        assert_eq!(split.items, vec![data.to_vec()]);
        assert!(split.lossless);
    }

    #[test]
    fn single_object_calendar_is_returned_whole() {
        let data =
            b"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nEND:VCALENDAR\n";
        let split = split_calendar(data);
        assert_eq!(split.items, vec![data.to_vec()]);
        assert!(split.lossless);
    }

    #[test]
    fn merged_calendar_deduplicates_timezones() {
        let items = split_calendar(TWO_EVENTS).items;
        let mut merged = MergedCalendar::default();
        for item in &items {
            merged.add_header_and_timezones(item);
        }
        let mut bytes = merged.opening();
        for item in &items {
            bytes.extend(components_of(item));
        }
        bytes.extend_from_slice(MergedCalendar::closing());
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(text.matches("TZID:Europe/Berlin").count(), 1);
        assert_eq!(text.matches("BEGIN:VCALENDAR").count(), 1);
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 2);
        assert_eq!(text.matches("BEGIN:VTODO").count(), 1);
        assert!(calcard::icalendar::ICalendar::parse(&text).is_ok());
    }

    #[test]
    fn equivalent_ignores_order_folding_and_parameter_spelling() {
        let original = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEMAIL;type=INTERNET;type=WORK:ann@example.com\r\nUID:a1\r\nEND:VCARD\r\n";
        let served = b"BEGIN:VCARD\nVERSION:3.0\nUID:a1\nEMAIL;TYPE=internet,work:ann@exa\n mple.com\nFN:Ann\nEND:VCARD\n";
        assert!(equivalent(original, served));
        let changed = b"BEGIN:VCARD\nVERSION:3.0\nUID:a1\nEMAIL;TYPE=internet,work:bob@example.com\nFN:Ann\nEND:VCARD\n";
        assert!(!equivalent(original, changed));
    }

    #[test]
    fn same_items_ignores_the_calendar_around_the_items_but_not_an_edit() {
        let sent = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let rewritten = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Radicale//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(!equivalent(sent, rewritten));
        assert!(same_items(sent, rewritten));
        let edited = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Dentist at 9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(!same_items(sent, edited));
        let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Anna\r\nEND:VCARD\r\n";
        let card_edited =
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Anna EDITED ON PHONE\r\nEND:VCARD\r\n";
        assert!(!same_items(card, card_edited));
    }

    #[test]
    fn replace_uid_changes_only_uid_lines() {
        let event = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:old-\r\n continued\r\nSUMMARY:x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nuid;X=1:old-continued\r\nRECURRENCE-ID:20200101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let replaced = replace_uid(event, "new");
        assert_eq!(
            String::from_utf8_lossy(&replaced),
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:new\r\nSUMMARY:x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nuid;X=1:new\r\nRECURRENCE-ID:20200101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
    }
}
