//! Cutting vCard and iCalendar files into items line by line, so that a file of any size is cut
//! with one item in memory (and, for a calendar, a few offsets per event): the same code cuts a
//! server's resource held in memory and a 1 GiB `.vcf` read from a phone's folder.

use std::collections::HashMap;

use std::io::{Read as _, Seek as _, SeekFrom};

use sha2::{Digest as _, Sha256};

use super::{CalendarBlock, Component, begins, ends, lines, marker, property_value, text_of};

/// What cutting a file gave besides its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutOutcome {
    /// What looked wrong (text outside items, an unterminated item, ...).
    pub problems: Vec<String>,
    /// The items put together give back the whole file; otherwise the file is kept too.
    pub lossless: bool,
    /// Nothing could be cut (or the file is a single object): the file itself, unchanged, is
    /// the one item. No item was emitted.
    pub whole: bool,
}

impl CutOutcome {
    fn whole(problems: Vec<String>) -> Self {
        Self {
            problems,
            lossless: true,
            whole: true,
        }
    }
}

/// Calls `each(line, content)` for every line of `data`: the line with its terminator, and
/// its content without.
pub(super) fn each_line_of(data: &[u8], mut each: impl FnMut(&[u8], &[u8])) {
    for line in lines(data) {
        each(
            &data[line.start..line.end],
            &data[line.start..line.content_end],
        );
    }
}

/// The same over a reader, one line in memory at a time, cut exactly as [`lines`] cuts a
/// whole file: `\n` ends a line (with any `\r`s before it), a lone `\r` ends one when the
/// byte after it is neither `\r` nor `\n`. Scans each byte once, so a file with `\r` line
/// ends only (old Macs) is as bounded as any other.
fn each_line_read(
    mut reader: impl std::io::Read,
    mut each: impl FnMut(&[u8], &[u8]) -> bool,
) -> std::io::Result<()> {
    let mut block = vec![0u8; 256 * 1024];
    let mut line = Vec::new();
    // The line so far ends in a `\r` whose next byte decides whether it ended the line.
    let mut after_cr = false;
    loop {
        let read = match reader.read(&mut block) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &byte in &block[..read] {
            if after_cr && byte != b'\r' && byte != b'\n' {
                if !each(&line, &line[..line.len() - 1]) {
                    return Ok(());
                }
                line.clear();
            }
            line.push(byte);
            after_cr = byte == b'\r';
            if byte == b'\n' {
                let content = without_trailing_cr(&line[..line.len() - 1]);
                if !each(&line, content) {
                    return Ok(());
                }
                line.clear();
            }
        }
    }
    if !line.is_empty() {
        each(&line, without_trailing_cr(&line));
    }
    Ok(())
}

/// `line` without the `\r`s that end it.
fn without_trailing_cr(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b'\r')
        .map_or(0, |last| last + 1);
    &line[..end]
}

/// Cuts vCards: each item is the exact bytes from `BEGIN:VCARD` to its `END:VCARD` line,
/// terminator included. Nested vCards (2.1 AGENT) stay inside their parent.
#[derive(Debug, Default)]
pub(super) struct VcardCutter {
    card: Vec<u8>,
    depth: usize,
    length: usize,
    covered: usize,
    cards: usize,
    stray: bool,
}

impl VcardCutter {
    /// Takes one line; gives back a card when this line closes it.
    pub(super) fn feed(&mut self, line: &[u8], content: &[u8]) -> Option<Vec<u8>> {
        self.length += line.len();
        if self.depth == 0 && !begins(content, b"VCARD") {
            if !content.trim_ascii().is_empty() {
                self.stray = true;
            }
            return None;
        }
        self.card.extend_from_slice(line);
        if begins(content, b"VCARD") {
            self.depth += 1;
        } else if ends(content, b"VCARD") {
            self.depth -= 1;
            if self.depth == 0 {
                return Some(self.close());
            }
        }
        None
    }

    fn close(&mut self) -> Vec<u8> {
        self.covered += self.card.len();
        self.cards += 1;
        std::mem::take(&mut self.card)
    }

    /// The last card if it was never closed, and how the cut went.
    pub(super) fn finish(mut self) -> (Option<Vec<u8>>, CutOutcome) {
        let mut problems = Vec::new();
        let last = (self.depth > 0).then(|| {
            problems.push("the last vCard is never closed (END:VCARD missing)".to_owned());
            self.close()
        });
        if self.stray {
            problems.push("text outside BEGIN:VCARD/END:VCARD was found".to_owned());
        }
        if self.cards == 0 {
            return (
                None,
                CutOutcome::whole(vec!["no BEGIN:VCARD found".to_owned()]),
            );
        }
        let lossless = self.covered == self.length;
        (
            last,
            CutOutcome {
                problems,
                lossless,
                whole: false,
            },
        )
    }
}

/// A component being read.
#[derive(Debug)]
struct OpenComponent {
    name: String,
    start: usize,
    depth: usize,
    /// Its own property lines (not those of nested VALARMs), for its UID and TZID.
    own: Vec<u8>,
}

/// What [`CalendarScanner`] found: a component as it closes, and a VCALENDAR (without its
/// components, which came before it) as it closes.
#[derive(Debug)]
pub(super) enum Scanned {
    Component(Component),
    Block(CalendarBlock),
}

/// Finds the VCALENDARs of a file and their components, line by line.
#[derive(Debug, Default)]
pub(super) struct CalendarScanner {
    offset: usize,
    block: Option<CalendarBlock>,
    component: Option<OpenComponent>,
    /// Something other than blanks outside every VCALENDAR.
    stray: bool,
    /// The line terminator of the file's first line, for the lines added when wrapping.
    eol: Option<&'static [u8]>,
}

impl CalendarScanner {
    pub(super) fn feed(&mut self, line: &[u8], content: &[u8]) -> Option<Scanned> {
        let start = self.offset;
        self.offset += line.len();
        let end = self.offset;
        self.eol.get_or_insert_with(|| super::line_terminator(line));
        if let Some(component) = &mut self.component {
            if marker(content, b"BEGIN").is_some() {
                component.depth += 1;
            } else if marker(content, b"END").is_some() {
                component.depth = component.depth.saturating_sub(1);
                if component.depth == 0 {
                    return self.close_component(end).map(Scanned::Component);
                }
            } else if component.depth == 1 {
                component.own.extend_from_slice(line);
            }
            return None;
        }
        let Some(block) = &mut self.block else {
            if begins(content, b"VCALENDAR") {
                self.block = Some(CalendarBlock {
                    end: start,
                    header: Vec::new(),
                    components: Vec::new(),
                    unterminated: true,
                });
            } else if !content.trim_ascii().is_empty() {
                self.stray = true;
            }
            return None;
        };
        if ends(content, b"VCALENDAR") {
            block.end = end;
            block.unterminated = false;
            return self.block.take().map(Scanned::Block);
        }
        if let Some(name) = marker(content, b"BEGIN") {
            self.component = Some(OpenComponent {
                name: String::from_utf8_lossy(name).into_owned(),
                start,
                depth: 1,
                own: Vec::new(),
            });
        } else if !content.trim_ascii().is_empty() {
            // Continuation lines belong to the previous header line.
            match (content.first(), block.header.last_mut()) {
                (Some(b' ' | b'\t'), Some(previous)) => previous.1 = end,
                _ => block.header.push((start, end)),
            }
        }
        None
    }

    fn close_component(&mut self, end: usize) -> Option<Component> {
        let open = self.component.take()?;
        let own = lines(&open.own);
        Some(Component {
            uid: property_value(&open.own, &own, b"UID").map(|v| text_of(&v)),
            tzid: property_value(&open.own, &own, b"TZID").map(|v| text_of(&v)),
            name: open.name,
            start: open.start,
            end,
        })
    }

    /// What was still open at the end of the file: it runs to the end.
    pub(super) fn finish(&mut self) -> Vec<Scanned> {
        let end = self.offset;
        let mut out = Vec::new();
        out.extend(self.close_component(end).map(Scanned::Component));
        if let Some(mut block) = self.block.take() {
            block.end = end;
            out.push(Scanned::Block(block));
        }
        out
    }
}

/// One VCALENDAR's header and VTIMEZONEs, which every item cut from it is wrapped in.
#[derive(Debug)]
struct Frame {
    header: Vec<(usize, usize)>,
    timezones: Vec<(usize, usize, Option<String>)>,
    unterminated: bool,
}

/// Where one non-timezone component lies and which item it goes to.
#[derive(Debug, Clone, Copy)]
struct Part {
    group: u32,
    frame: u32,
    start: usize,
    end: usize,
}

/// Cuts a calendar file into calendar objects, one per UID (recurrence overrides stay
/// together, wherever they are in the file), each wrapped in its VCALENDAR's header and the
/// VTIMEZONEs it refers to. Reading keeps only offsets; [`CalendarCutter::cut`] then reads
/// each object's parts back from the file.
#[derive(Debug, Default)]
pub(super) struct CalendarCutter {
    scanner: CalendarScanner,
    frames: Vec<Frame>,
    timezones: Vec<(usize, usize, Option<String>)>,
    parts: Vec<Part>,
    /// By VCALENDAR and a digest of the UID, so a million UIDs are not held as text.
    groups: HashMap<(u32, [u8; 16]), u32>,
    group_count: u32,
}

impl CalendarCutter {
    pub(super) fn feed(&mut self, line: &[u8], content: &[u8]) {
        if let Some(found) = self.scanner.feed(line, content) {
            self.take(found);
        }
    }

    fn take(&mut self, found: Scanned) {
        let frame = u32::try_from(self.frames.len()).unwrap_or(u32::MAX);
        match found {
            Scanned::Component(c) if c.name.eq_ignore_ascii_case("VTIMEZONE") => {
                self.timezones.push((c.start, c.end, c.tzid));
            }
            Scanned::Component(c) => {
                let group = match c.uid.as_deref().filter(|u| !u.is_empty()) {
                    Some(uid) => {
                        let digest: [u8; 32] = Sha256::digest(uid.as_bytes()).into();
                        let mut key = [0u8; 16];
                        key.copy_from_slice(&digest[..16]);
                        let next = self.group_count;
                        *self.groups.entry((frame, key)).or_insert(next)
                    }
                    None => self.group_count,
                };
                if group == self.group_count {
                    self.group_count += 1;
                }
                self.parts.push(Part {
                    group,
                    frame,
                    start: c.start,
                    end: c.end,
                });
            }
            Scanned::Block(block) => {
                self.frames.push(Frame {
                    header: block.header,
                    timezones: std::mem::take(&mut self.timezones),
                    unterminated: block.unterminated,
                });
            }
        }
    }

    /// Emits every object, its bytes read from `file` (the bytes that were fed), until `emit`
    /// returns false.
    pub(super) fn cut(
        mut self,
        file: &mut dyn Ranges,
        mut emit: impl FnMut(Vec<u8>) -> bool,
    ) -> std::io::Result<CutOutcome> {
        for found in self.scanner.finish() {
            self.take(found);
        }
        if self.frames.is_empty() {
            return Ok(CutOutcome::whole(vec![
                "no BEGIN:VCALENDAR found".to_owned(),
            ]));
        }
        let mut problems = Vec::new();
        if self.frames.iter().any(|f| f.unterminated) {
            problems.push("a VCALENDAR is never closed (END:VCALENDAR missing)".to_owned());
        }
        if self.scanner.stray {
            problems.push("text outside BEGIN:VCALENDAR/END:VCALENDAR was found".to_owned());
        }
        // Nothing to cut by (no component with content) or a single object: keep the file whole,
        // so no file can yield zero items.
        if self.group_count == 0 || (self.group_count == 1 && self.frames.len() == 1) {
            return Ok(CutOutcome::whole(problems));
        }
        let eol = self.scanner.eol.unwrap_or(b"\r\n");
        // Stable: each object's parts stay in file order.
        self.parts.sort_by_key(|p| p.group);
        for run in self.parts.chunk_by(|a, b| a.group == b.group) {
            let frame = &self.frames[run[0].frame as usize];
            let mut body = Vec::new();
            let mut ends = Vec::with_capacity(run.len());
            for part in run {
                file.append(part.start, part.end, &mut body)?;
                ends.push(body.len());
            }
            let mut out = Vec::new();
            out.extend_from_slice(b"BEGIN:VCALENDAR");
            out.extend_from_slice(eol);
            for &(start, end) in &frame.header {
                file.append(start, end, &mut out)?;
                super::ensure_terminated(&mut out, eol);
            }
            for (start, end, tzid) in &frame.timezones {
                if tzid
                    .as_deref()
                    .is_some_and(|id| super::refers_to_tzid(&body, id))
                {
                    file.append(*start, *end, &mut out)?;
                    super::ensure_terminated(&mut out, eol);
                }
            }
            let mut from = 0;
            for to in ends {
                out.extend_from_slice(&body[from..to]);
                super::ensure_terminated(&mut out, eol);
                from = to;
            }
            out.extend_from_slice(b"END:VCALENDAR");
            out.extend_from_slice(eol);
            if !emit(out) {
                break;
            }
        }
        Ok(CutOutcome {
            problems,
            lossless: false,
            whole: false,
        })
    }
}

/// Reads byte ranges back from what was cut: a file held in memory or on disk.
pub(super) trait Ranges {
    fn append(&mut self, start: usize, end: usize, out: &mut Vec<u8>) -> std::io::Result<()>;
}

impl Ranges for &[u8] {
    fn append(&mut self, start: usize, end: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
        out.extend_from_slice(&self[start..end]);
        Ok(())
    }
}

impl Ranges for std::fs::File {
    fn append(&mut self, start: usize, end: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
        self.seek(SeekFrom::Start(start as u64))?;
        let before = out.len();
        self.take((end - start) as u64).read_to_end(out)?;
        if out.len() - before != end - start {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file changed while it was read",
            ));
        }
        Ok(())
    }
}

/// Cuts the `.vcf` (`contacts`) or `.ics` file at `path` as it is read, calling `emit` with
/// each item until it returns false. Holds one item at a time (a calendar also ~60 bytes per
/// event); a file that is one item or none (`whole` in the outcome) is left to the caller.
pub fn cut_file(
    path: &std::path::Path,
    contacts: bool,
    mut emit: impl FnMut(Vec<u8>) -> bool,
) -> std::io::Result<CutOutcome> {
    let mut file = std::fs::File::open(path)?;
    let reader = file.try_clone()?;
    if contacts {
        let mut cutter = VcardCutter::default();
        let mut going = true;
        each_line_read(reader, |line, content| {
            if let Some(card) = cutter.feed(line, content) {
                going = emit(card);
            }
            going
        })?;
        let (last, outcome) = cutter.finish();
        if let Some(last) = last.filter(|_| going) {
            emit(last);
        }
        return Ok(outcome);
    }
    let mut cutter = CalendarCutter::default();
    each_line_read(reader, |line, content| {
        cutter.feed(line, content);
        true
    })?;
    cutter.cut(&mut file, emit)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{Split, split_calendar, split_vcards};
    use super::cut_file;

    fn inputs() -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = vec![
            b"BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\n\r\nBEGIN:VCARD\nFN:B\nEND:VCARD\n".to_vec(),
            b"BEGIN:VCARD\rFN:cr only\rEND:VCARD\rBEGIN:VCARD\rFN:x\r\r\nEND:VCARD".to_vec(),
            b"note\r\nBEGIN:VCARD\r\nAGENT:BEGIN:VCARD\r\nBEGIN:VCARD\r\nFN:in\r\nEND:VCARD\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:open".to_vec(),
            b"no cards at all".to_vec(),
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Z\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Z:20240101T100000\r\nEND:VEVENT\r\nBEGIN:VTODO\r\nUID:b\r\nEND:VTODO\r\nBEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID:20240108T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\nstray\r\nBEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\nBEGIN:VEVENT\nEND:VEVENT".to_vec(),
            b"BEGIN:VCALENDAR\r\nPRODID:x\r\n  folded\r\nBEGIN:VEVENT\r\nUID:only\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".to_vec(),
        ];
        // Lines longer than the reader's buffer, and many items.
        let long = format!("NOTE:{}\r\n", "x".repeat(300 * 1024));
        let mut big = Vec::new();
        for n in 0..3000 {
            big.extend_from_slice(format!("BEGIN:VCARD\r\nUID:{n}\r\n").as_bytes());
            if n % 1000 == 0 {
                big.extend_from_slice(long.as_bytes());
            }
            big.extend_from_slice(b"END:VCARD\r\n");
        }
        // Old Mac line ends, across the reader's blocks; runs of `\r` before `\n` and not.
        out.push(big.iter().copied().filter(|&b| b != b'\n').collect());
        out.push(big);
        let mut runs = b"BEGIN:VCARD\r\r\r\nFN:a\r\rb\r".repeat(20_000);
        runs.extend_from_slice(b"END:VCARD\r\r");
        out.push(runs);
        for kind in ["vcard", "ical"] {
            let folder = format!("{}/../shared/corpus/{kind}", env!("CARGO_MANIFEST_DIR"));
            for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
                out.extend(std::fs::read(entry.path()));
            }
        }
        out
    }

    /// A file cut as it is read from disk gives exactly what the same bytes cut in memory give.
    #[test]
    fn a_file_cut_from_disk_is_cut_as_in_memory() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("file");
        for bytes in inputs() {
            std::fs::write(&path, &bytes).unwrap();
            for contacts in [true, false] {
                let mut items = Vec::new();
                let outcome = cut_file(&path, contacts, |item| {
                    items.push(item);
                    true
                })
                .unwrap();
                let in_memory = if contacts {
                    split_vcards(&bytes)
                } else {
                    split_calendar(&bytes)
                };
                assert_eq!(
                    Split::of(&bytes, items, outcome),
                    in_memory,
                    "{}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                );
            }
        }
    }

    #[test]
    fn cutting_stops_when_told() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("file.vcf");
        std::fs::write(&path, "BEGIN:VCARD\nEND:VCARD\n".repeat(10)).unwrap();
        let mut seen = 0;
        cut_file(&path, true, |_| {
            seen += 1;
            seen < 3
        })
        .unwrap();
        assert_eq!(seen, 3);
    }
}
