//! VTIMEZONE blocks for the zones a phone's events name: RFC 5545 wants one for every TZID,
//! and servers that add their own report the object as changed. Built from the tz database
//! (chrono-tz) by finding the zone's offset changes in the year before the event and writing
//! each as a yearly rule, as servers and Apple's and Google's calendars do.

use chrono::{DateTime, Datelike as _, Duration, NaiveDate, Offset as _, TimeZone as _, Utc};
use chrono_tz::{OffsetComponents as _, OffsetName as _, Tz};

/// One change of a zone's offset.
struct Change {
    at: DateTime<Utc>,
    from: i32,
    to: i32,
    daylight: bool,
    name: String,
}

fn offset_at(tz: Tz, at: DateTime<Utc>) -> (i32, bool, String) {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc());
    let name = offset.abbreviation().unwrap_or_default().to_owned();
    let daylight = !offset.dst_offset().is_zero();
    (offset.fix().local_minus_utc(), daylight, name)
}

/// The zone's changes during `year`, to the quarter hour (where all real ones fall).
fn changes(tz: Tz, year: i32) -> Vec<Change> {
    let Some(start) = NaiveDate::from_ymd_opt(year, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0))
    else {
        return Vec::new();
    };
    let mut at = start.and_utc();
    let end = at + Duration::days(366);
    let step = Duration::minutes(15);
    let mut before = offset_at(tz, at);
    let mut found = Vec::new();
    while at < end {
        let next = at + step;
        let after = offset_at(tz, next);
        if after.0 != before.0 {
            found.push(Change {
                at: next,
                from: before.0,
                to: after.0,
                daylight: after.1,
                name: after.2.clone(),
            });
        }
        before = after;
        at = next;
    }
    found
}

fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
}

fn weekday(day: chrono::Weekday) -> &'static str {
    ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][day.num_days_from_monday() as usize]
}

/// The VTIMEZONE for `zone` as it stood around `at`, lines ending in CRLF.
pub fn vtimezone(zone: Tz, at: DateTime<Utc>) -> String {
    let year = at.year() - 1;
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", zone.name());
    let found = changes(zone, year);
    if found.is_empty() {
        let (offset, _, name) = offset_at(zone, at);
        let offset = offset_text(offset);
        out.push_str(&format!(
            "BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZNAME:{name}\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\nEND:STANDARD\r\n"
        ));
    }
    for change in found {
        // The onset in the wall time that was in force until then.
        let local = change.at + Duration::seconds(i64::from(change.from));
        let days_in_month = NaiveDate::from_ymd_opt(
            local.year() + i32::from(local.month() == 12),
            local.month() % 12 + 1,
            1,
        )
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day());
        let ordinal = if local.day() + 7 > days_in_month {
            "-1".to_owned()
        } else {
            ((local.day() - 1) / 7 + 1).to_string()
        };
        let kind = if change.daylight {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        out.push_str(&format!(
            "BEGIN:{kind}\r\nDTSTART:{}\r\nRRULE:FREQ=YEARLY;BYMONTH={};BYDAY={ordinal}{}\r\nTZNAME:{}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\nEND:{kind}\r\n",
            local.format("%Y%m%dT%H%M%S"),
            local.month(),
            weekday(local.weekday()),
            change.name,
            offset_text(change.from),
            offset_text(change.to),
        ));
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

/// A duration as RFC 5545 and servers write it: `PT1H`, `P1DT30M`, `PT0S`.
pub fn duration_text(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let seconds = seconds.abs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (hours, minutes, secs) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = format!("{sign}P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if secs > 0 || rest == 0 {
            out.push_str(&format!("{secs}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{duration_text, vtimezone};

    #[test]
    fn zones_get_their_yearly_rules_and_durations_their_short_form() {
        let at = "2026-12-07T08:00:00Z".parse().unwrap();
        let berlin = vtimezone(chrono_tz::Europe::Berlin, at);
        assert!(berlin.contains("BEGIN:DAYLIGHT\r\nDTSTART:20250330T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZNAME:CEST\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"), "{berlin}");
        assert!(berlin.contains("BEGIN:STANDARD\r\nDTSTART:20251026T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZNAME:CET\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"), "{berlin}");
        let new_york = vtimezone(chrono_tz::America::New_York, at);
        assert!(
            new_york.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"),
            "{new_york}"
        );
        assert!(
            new_york.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"),
            "{new_york}"
        );
        let tokyo = vtimezone(chrono_tz::Asia::Tokyo, at);
        assert!(
            tokyo.contains("TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900"),
            "{tokyo}"
        );
        assert_eq!(duration_text(3600), "PT1H");
        assert_eq!(duration_text(5400), "PT1H30M");
        assert_eq!(duration_text(86_400), "P1D");
        assert_eq!(duration_text(90_000), "P1DT1H");
        assert_eq!(duration_text(-900), "-PT15M");
        assert_eq!(duration_text(0), "PT0S");
    }
}
