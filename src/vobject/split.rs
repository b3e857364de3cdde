//! Cutting a file of many vCards or a calendar into items, each keeping the time zones it
//! refers to, byte for byte.

use super::{CutOutcome, begins_with_vcard, contains, cut};

/// Cuts `data` with [`split_vcards`] or [`split_calendar`], as its first line says.
pub fn split_items(data: &[u8]) -> Split {
    if begins_with_vcard(data) {
        split_vcards(data)
    } else {
        split_calendar(data)
    }
}

/// One top-level component inside a VCALENDAR (VEVENT, VTODO, VTIMEZONE, ...).
#[derive(Debug, Clone)]
pub(super) struct Component {
    pub(super) name: String,
    pub(super) uid: Option<String>,
    pub(super) tzid: Option<String>,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// One VCALENDAR: its header property lines and its components.
#[derive(Debug, Clone)]
pub(super) struct CalendarBlock {
    pub(super) end: usize,
    /// Byte ranges of property lines directly inside VCALENDAR (VERSION, PRODID, ...).
    pub(super) header: Vec<(usize, usize)>,
    pub(super) components: Vec<Component>,
    /// The calendar was never closed.
    pub(super) unterminated: bool,
}

pub(super) fn calendar_blocks(data: &[u8]) -> Vec<CalendarBlock> {
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
    pub(super) fn of(data: &[u8], items: Vec<Vec<u8>>, outcome: CutOutcome) -> Self {
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

pub(super) fn is_timezone(component: &Component) -> bool {
    component.name.eq_ignore_ascii_case("VTIMEZONE")
}

pub(super) fn refers_to_tzid(body: &[u8], tzid: &str) -> bool {
    let plain = format!("TZID={tzid}");
    let quoted = format!("TZID=\"{tzid}\"");
    contains(body, plain.as_bytes()) || contains(body, quoted.as_bytes())
}
