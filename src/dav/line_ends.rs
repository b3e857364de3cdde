//! Which items of a multiget answer an XML parser cannot hand back byte for byte: XML turns a
//! literal CR and CRLF into LF (and libdav every LF into CRLF), so an item whose text holds a
//! line end other than CRLF must be fetched by GET to keep its exact bytes.

use std::collections::HashSet;

use crate::model::href_key;

/// The hrefs (as [`href_key`]s) of the items in a multiget answer `body` whose data (the
/// element `data`, `address-data` or `calendar-data`, in any namespace prefix) holds a bare
/// CR or a bare LF, written literally or as a character reference. An answer that is not
/// XML gives none: libdav reports it.
pub(crate) fn inexact_items(body: &[u8], data: &str) -> HashSet<String> {
    let Ok(text) = std::str::from_utf8(body) else {
        return HashSet::new();
    };
    let Ok(document) = roxmltree::Document::parse(text) else {
        return HashSet::new();
    };
    let mut found = HashSet::new();
    for response in document
        .descendants()
        .filter(|n| n.tag_name().name() == "response")
    {
        let Some(element) = response.descendants().find(|n| n.tag_name().name() == data) else {
            continue;
        };
        if !has_bare_line_end(raw_content(text, element.range())) {
            continue;
        }
        let Some(href) = response
            .children()
            .find(|n| n.tag_name().name() == "href")
            .and_then(|n| n.text())
        else {
            continue;
        };
        found.insert(href_key(path_of(href.trim())));
    }
    found
}

/// The path of an href that may be written as an absolute URL (RFC 4918 allows both).
fn path_of(href: &str) -> &str {
    match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => href,
    }
}

/// What lies between an element's start and end tags, as written in the document.
fn raw_content(text: &str, range: std::ops::Range<usize>) -> &str {
    let element = text.get(range).unwrap_or_default();
    match (element.find('>'), element.rfind('<')) {
        (Some(open), Some(close)) if open < close => &element[open + 1..close],
        _ => "",
    }
}

/// Whether `raw` (XML text, undecoded) holds a CR not followed by an LF, or an LF not after
/// a CR, counting `&#13;`/`&#xD;` and `&#10;`/`&#xA;` as the characters they stand for.
fn has_bare_line_end(raw: &str) -> bool {
    let mut ends = Vec::new();
    let mut rest = raw;
    while let Some(at) = rest.find(['\r', '\n', '&']) {
        let tail = &rest[at..];
        let (end, length) = if tail.starts_with('\r') {
            (Some(b'\r'), 1)
        } else if tail.starts_with('\n') {
            (Some(b'\n'), 1)
        } else {
            character_reference(tail)
        };
        if let Some(end) = end {
            ends.push((at + raw.len() - rest.len(), end, length));
        }
        rest = &tail[length..];
    }
    ends.iter().enumerate().any(|(i, &(at, end, length))| {
        let next = ends.get(i + 1);
        let previous = i.checked_sub(1).and_then(|p| ends.get(p));
        match end {
            b'\r' => !matches!(next, Some(&(n, b'\n', _)) if n == at + length),
            _ => !matches!(previous, Some(&(p, b'\r', l)) if p + l == at),
        }
    })
}

/// A character reference for CR or LF at the start of `tail` (which starts with `&`), and
/// how many bytes to step over.
fn character_reference(tail: &str) -> (Option<u8>, usize) {
    let Some(end) = tail.find(';').filter(|&end| end <= 8) else {
        return (None, 1);
    };
    let number = &tail[1..end];
    let value = match number
        .strip_prefix("#x")
        .or_else(|| number.strip_prefix("#X"))
    {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => number.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()),
    };
    match value {
        Some(13) => (Some(b'\r'), end + 1),
        Some(10) => (Some(b'\n'), end + 1),
        _ => (None, end + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(data: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:response><d:href>/ab/a%20b.vcf</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag><c:address-data>{data}</c:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response><d:response><d:href>http://h:1/ab/ok.vcf</d:href><d:propstat><d:prop><d:getetag>"2"</d:getetag><c:address-data>BEGIN:VCARD&#13;
END:VCARD&#13;
</c:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#
        )
    }

    fn inexact(data: &str) -> Vec<String> {
        let mut found: Vec<String> = inexact_items(answer(data).as_bytes(), "address-data")
            .into_iter()
            .collect();
        found.sort();
        found
    }

    #[test]
    fn crlf_written_any_way_is_exact() {
        assert!(inexact("BEGIN:VCARD\r\nEND:VCARD\r\n").is_empty());
        assert!(inexact("BEGIN:VCARD&#13;&#10;END:VCARD&#xD;\n").is_empty());
        assert!(inexact("A &amp; B&#13;\nEND&#x0D;&#x0a;").is_empty());
    }

    #[test]
    fn a_bare_cr_or_lf_is_found_however_it_is_written() {
        for data in [
            "BEGIN:VCARD\rEND:VCARD\r",
            "BEGIN:VCARD\nEND:VCARD\n",
            "BEGIN:VCARD\r\nNOTE:one&#13;two\r\n",
            "BEGIN:VCARD\r\nNOTE:one&#10;two\r\n",
            "BEGIN:VCARD\r\nEND:VCARD\r",
            "\nBEGIN:VCARD\r\n",
        ] {
            assert_eq!(inexact(data), vec!["/ab/a b.vcf".to_owned()], "{data:?}");
        }
    }

    #[test]
    fn absolute_hrefs_and_answers_that_are_not_xml() {
        let body = answer("x").replace("&#13;\n", "\n");
        let mut found: Vec<String> = inexact_items(body.as_bytes(), "address-data")
            .into_iter()
            .collect();
        found.sort();
        assert_eq!(found, vec!["/ab/ok.vcf".to_owned()]);
        assert!(inexact_items(b"<not xml", "address-data").is_empty());
        assert!(inexact_items(b"\xff\xfe", "address-data").is_empty());
    }
}
