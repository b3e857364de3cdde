//! The merged file of a collection: every item's components in one VCALENDAR, or the vCards one
//! after another.

use super::{calendar_blocks, ensure_terminated, is_timezone};

/// Builds one merged iCalendar file from many calendar objects in two passes, so that only the
/// header and the VTIMEZONEs stay in memory: pass one collects the header of the first object
/// and each VTIMEZONE once (by TZID); pass two streams every other component's exact bytes
/// ([`components_of`]).
#[derive(Debug, Default)]
pub struct MergedCalendar {
    pub(super) header: Vec<u8>,
    pub(super) timezones: Vec<u8>,
    pub(super) seen_tzids: std::collections::HashSet<String>,
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
