//! Content lines as bytes: physical lines with their terminators, unfolding, BEGIN/END markers
//! and property values, without ever rewriting the input.

/// A line of a file: its byte range, with and without the line terminator.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
    pub(super) start: usize,
    /// End of the content, before `\r\n`, `\n` or `\r`.
    pub(super) content_end: usize,
    /// End including the terminator.
    pub(super) end: usize,
}

/// Splits into lines, accepting CRLF, LF, CR alone and CR CR LF; no byte is lost.
pub(super) fn lines(data: &[u8]) -> Vec<Line> {
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
pub(super) fn marker<'a>(content: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
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

pub(super) fn begins(content: &[u8], name: &[u8]) -> bool {
    marker(content, b"BEGIN").is_some_and(|n| n.eq_ignore_ascii_case(name))
}

pub(super) fn ends(content: &[u8], name: &[u8]) -> bool {
    marker(content, b"END").is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// Value of a property named `name` among `lines` (first match), as bytes. The lines are
/// unfolded first (RFC 6350 3.2, RFC 5545 3.1): a fold may cut the name itself
/// (`UID\r\n :315030d0-...`, from a real Mozilla file).
pub(super) fn property_value(data: &[u8], lines: &[Line], name: &[u8]) -> Option<Vec<u8>> {
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

/// Logical lines (folded continuations joined, vCard 2.1 quoted-printable soft breaks too).
pub(super) fn logical_lines(data: &[u8], all: &[Line]) -> Vec<Vec<u8>> {
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

/// The line terminator a file uses (for the few lines we add when wrapping components).
pub(super) fn line_terminator(data: &[u8]) -> &'static [u8] {
    match data.iter().position(|&b| b == b'\n' || b == b'\r') {
        Some(i) if data[i] == b'\n' && i > 0 && data[i - 1] == b'\r' => b"\r\n",
        Some(i) if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') => b"\r\n",
        Some(i) if data[i] == b'\n' => b"\n",
        Some(_) => b"\r",
        None => b"\r\n",
    }
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

pub(super) fn ensure_terminated(out: &mut Vec<u8>, eol: &[u8]) {
    if !matches!(out.last(), Some(b'\n' | b'\r')) {
        out.extend_from_slice(eol);
    }
}

/// Logical lines (continuation lines joined), without terminators.
pub(super) fn unfolded(data: &[u8]) -> Vec<Vec<u8>> {
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
pub(super) fn split_content_line(line: &[u8]) -> (&[u8], &[u8]) {
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
