//! Byte-level reading of vCard and iCalendar data: splitting files into items, finding UIDs and
//! kinds, and building merged files. Never rewrites a byte of an item; parsing (calcard) is only
//! used to check that an item is readable.

// One file per concern: lines (bytes as content lines), inspect (what an item is), split
// (files into items), merge (collections into one file), edit (the few changes a restore
// makes), compare (equivalence for read-back) and cut (files too large to split in memory).
mod compare;
mod cut;
mod edit;
mod inspect;
mod lines;
mod merge;
mod split;

use self::{
    inspect::{begins_with_vcard, text_of},
    lines::{
        Line, begins, contains, ends, ensure_terminated, line_terminator, lines, logical_lines,
        marker, property_value, split_content_line, unfolded,
    },
    split::{CalendarBlock, Component, calendar_blocks, is_timezone, refers_to_tzid},
};
pub use compare::{PropertyChange, differences, equivalent, holds, same_items};
pub use cut::{CutOutcome, cut_file};
pub use edit::{Property, add_uid, properties, replace_uid};
pub use inspect::{ItemFacts, inspect, uid_of, uids_of};
pub use merge::{MergedCalendar, append_vcard, components_of};
pub use split::{Split, split_calendar, split_items, split_vcards};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ItemKind;

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
