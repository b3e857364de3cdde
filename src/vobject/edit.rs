//! The few edits a restore makes to an item (a new UID for a kept-both copy, a UID where one is
//! missing) and reading its properties for comparison.

use super::{lines, split_content_line, unfolded};

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
pub(super) fn unescape_text(value: &str) -> String {
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
