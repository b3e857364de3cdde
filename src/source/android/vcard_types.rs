//! How the contacts provider numbers kinds (`Phone.TYPE_MOBILE` = 2, ...) in vCard's words,
//! and the dates it keeps as typed.

use calcard::common::PartialDateTime;
use calcard::vcard::{VCardParameterValue, VCardType};

/// "1990-05-17", "19900517" and "--05-17" (no year), as the phone keeps them.
pub(super) fn partial_date(text: &str) -> Option<PartialDateTime> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (text.starts_with("--"), digits.len()) {
        (true, 4) => (None, digits.as_str()),
        (false, 8) => (Some(digits[..4].parse().ok()?), &digits[4..]),
        _ => return None,
    };
    let month: u8 = rest[..2].parse().ok()?;
    let day: u8 = rest[2..4].parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(PartialDateTime {
        year,
        month: Some(month),
        day: Some(day),
        ..PartialDateTime::default()
    })
}

fn known(types: &[VCardType]) -> Vec<VCardParameterValue> {
    types
        .iter()
        .cloned()
        .map(VCardParameterValue::Type)
        .collect()
}

fn other(name: &str) -> VCardParameterValue {
    VCardParameterValue::Text(name.to_owned())
}

/// `Phone.TYPE_*` as vCard types.
pub(super) fn phone_types(typ: Option<&str>) -> Vec<VCardParameterValue> {
    use VCardType::{Cell, Fax, Home, MainNumber, Pager, Textphone, Voice, Work};
    match typ {
        Some("1") => known(&[Home, Voice]),
        Some("2") => known(&[Cell]),
        Some("3") => known(&[Work, Voice]),
        Some("4") => known(&[Work, Fax]),
        Some("5") => known(&[Home, Fax]),
        Some("6") => known(&[Pager]),
        Some("8") => vec![other("x-callback")],
        Some("9") => vec![other("x-car")],
        Some("10") => vec![VCardParameterValue::Type(Work), other("x-company-main")],
        Some("11") => vec![other("x-isdn")],
        Some("12") => known(&[MainNumber]),
        Some("13") => known(&[Fax]),
        Some("14") => vec![other("x-radio")],
        Some("15") => vec![other("x-telex")],
        Some("16") => known(&[Textphone]),
        Some("17") => known(&[Work, Cell]),
        Some("18") => known(&[Work, Pager]),
        Some("19") => vec![other("x-assistant")],
        Some("20") => vec![other("x-mms")],
        _ => Vec::new(),
    }
}

pub(super) fn email_types(typ: Option<&str>) -> Vec<VCardParameterValue> {
    match typ {
        Some("4") => vec![other("x-mobile")],
        other_type => address_types(other_type),
    }
}

/// Home, work and other, as email, postal, IM and SIP rows number them.
pub(super) fn address_types(typ: Option<&str>) -> Vec<VCardParameterValue> {
    match typ {
        Some("1") => known(&[VCardType::Home]),
        Some("2") => known(&[VCardType::Work]),
        _ => Vec::new(),
    }
}

pub(super) fn website_types(typ: Option<&str>) -> Vec<VCardParameterValue> {
    match typ {
        Some("1") => vec![other("x-homepage")],
        Some("2") => vec![other("x-blog")],
        Some("3") => vec![other("x-profile")],
        Some("4") => known(&[VCardType::Home]),
        Some("5") => known(&[VCardType::Work]),
        Some("6") => vec![other("x-ftp")],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::partial_date;

    #[test]
    fn dates_are_read_as_the_phone_keeps_them_and_anything_else_is_left_as_text() {
        let full = partial_date("1990-05-17").unwrap();
        assert_eq!(
            (full.year, full.month, full.day),
            (Some(1990), Some(5), Some(17))
        );
        assert_eq!(partial_date("19900517"), Some(full));
        let no_year = partial_date("--06-01").unwrap();
        assert_eq!(
            (no_year.year, no_year.month, no_year.day),
            (None, Some(6), Some(1))
        );
        for text in ["next spring", "1990-13-01", "1990-05", "--0", ""] {
            assert_eq!(partial_date(text), None, "{text}");
        }
    }
}
