//! The phone's calendar provider (`content://com.android.calendar`) turned into iCalendar:
//! one calendar per phone calendar, one object per event series holding its exceptions
//! (rows whose `original_id` points at the series) as RECURRENCE-ID overrides, with
//! reminders as VALARMs and attendees (columns from `CalendarContract`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone as _, Utc};
use icalendar::{Calendar, Component as _, Event, EventLike as _, Property};

use super::contacts::Account;
use super::content::{Row, Table};
use super::timezone;

pub const CALENDARS_URI: &str = "content://com.android.calendar/calendars";
pub const EVENTS_URI: &str = "content://com.android.calendar/events";
pub const REMINDERS_URI: &str = "content://com.android.calendar/reminders";
pub const ATTENDEES_URI: &str = "content://com.android.calendar/attendees";

pub const CALENDAR_COLUMNS: &[&str] = &[
    "_id",
    "name",
    "calendar_displayName",
    "calendar_color",
    "account_name",
    "account_type",
    "calendar_timezone",
    "deleted",
];
pub const EVENT_COLUMNS: &[&str] = &[
    "_id",
    "calendar_id",
    "title",
    "description",
    "eventLocation",
    "dtstart",
    "dtend",
    "duration",
    "eventTimezone",
    "eventEndTimezone",
    "allDay",
    "rrule",
    "rdate",
    "exrule",
    "exdate",
    "original_id",
    "originalInstanceTime",
    "originalAllDay",
    "uid2445",
    "_sync_id",
    "deleted",
    "eventStatus",
    "availability",
    "accessLevel",
    "organizer",
];
pub const REMINDER_COLUMNS: &[&str] = &["_id", "event_id", "minutes", "method"];
pub const ATTENDEE_COLUMNS: &[&str] = &[
    "_id",
    "event_id",
    "attendeeName",
    "attendeeEmail",
    "attendeeRelationship",
    "attendeeType",
    "attendeeStatus",
];

/// One phone calendar.
#[derive(Debug, Clone)]
pub struct PhoneCalendar {
    pub id: String,
    pub name: String,
    pub account: Account,
    /// `#RRGGBB`.
    pub color: Option<String>,
    pub events: Vec<Series>,
}

/// One event series (or single event) as one iCalendar object.
#[derive(Debug, Clone)]
pub struct Series {
    pub event_id: String,
    pub uid: String,
    pub etag: String,
    pub ics: Vec<u8>,
}

/// The calendars found on the phone.
#[derive(Debug, Clone, Default)]
pub struct Calendars {
    pub calendars: Vec<PhoneCalendar>,
    /// Events marked deleted (waiting for their account to sync the deletion).
    pub deleted: usize,
    /// Exceptions whose series is not on the phone: kept as objects of their own.
    pub orphans: usize,
}

/// The rows of one table grouped by their `event_id`.
fn by_event(table: &Table) -> HashMap<&str, Vec<&Row>> {
    let mut grouped: HashMap<&str, Vec<&Row>> = HashMap::new();
    for row in &table.rows {
        if let Some(id) = table.get(row, "event_id") {
            grouped.entry(id).or_default().push(row);
        }
    }
    grouped
}

/// Builds every calendar from the four tables. `device` makes derived UIDs unique to this
/// phone.
pub fn calendars(
    calendars: &Table,
    events: &Table,
    reminders: &Table,
    attendees: &Table,
    device: &str,
) -> Calendars {
    let reminder_table = reminders;
    let attendee_table = attendees;
    let reminders = by_event(reminders);
    let attendees = by_event(attendees);
    let mut out = Calendars::default();
    let live: Vec<&Row> = events
        .rows
        .iter()
        .filter(|e| {
            let deleted = events.get(e, "deleted") == Some("1");
            out.deleted += usize::from(deleted);
            !deleted
        })
        .collect();
    let ids: std::collections::HashSet<&str> =
        live.iter().filter_map(|e| events.get(e, "_id")).collect();
    let mut exceptions: HashMap<&str, Vec<&Row>> = HashMap::new();
    let mut masters: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for event in live {
        let calendar = events.get(event, "calendar_id").unwrap_or_default();
        match events.get(event, "original_id") {
            Some(series) if ids.contains(series) => {
                exceptions.entry(series).or_default().push(event);
            }
            Some(_) => {
                out.orphans += 1;
                masters.entry(calendar).or_default().push(event);
            }
            None => masters.entry(calendar).or_default().push(event),
        }
    }
    for calendar in &calendars.rows {
        let get = |c: &str| calendars.get(calendar, c).filter(|v| !v.is_empty());
        let Some(id) = get("_id") else { continue };
        if get("deleted") == Some("1") {
            continue;
        }
        let account = Account {
            name: get("account_name").map(str::to_owned),
            kind: get("account_type").map(str::to_owned),
        };
        let name = get("calendar_displayName")
            .or(get("name"))
            .unwrap_or("Calendar")
            .to_owned();
        let context = Context {
            events,
            reminders: &reminders,
            attendees: &attendees,
            reminder_table,
            attendee_table,
            device,
            account: &account,
        };
        let series = masters
            .get(id)
            .map(|rows| {
                rows.iter()
                    .map(|master| {
                        let own = events.get(master, "_id").unwrap_or_default();
                        let overrides = exceptions.get(own).map(Vec::as_slice).unwrap_or(&[]);
                        context.series(master, overrides)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.calendars.push(PhoneCalendar {
            id: id.to_owned(),
            name,
            color: get("calendar_color").and_then(color),
            account,
            events: series,
        });
    }
    out
}

/// Android's signed ARGB integer as `#RRGGBB`.
fn color(value: &str) -> Option<String> {
    let argb = value.parse::<i64>().ok()?;
    Some(format!("#{:06X}", argb & 0x00FF_FFFF))
}

struct Context<'a> {
    events: &'a Table,
    reminders: &'a HashMap<&'a str, Vec<&'a Row>>,
    attendees: &'a HashMap<&'a str, Vec<&'a Row>>,
    reminder_table: &'a Table,
    attendee_table: &'a Table,
    device: &'a str,
    account: &'a Account,
}

impl Context<'_> {
    fn series(&self, master: &Row, overrides: &[&Row]) -> Series {
        let get = |c: &str| self.events.get(master, c).filter(|v| !v.is_empty());
        let event_id = get("_id").unwrap_or_default().to_owned();
        let uid = match (get("uid2445"), get("_sync_id")) {
            (Some(uid), _) => uid.to_owned(),
            (None, Some(sync)) => derived(&format!(
                "{}\n{}\n{sync}",
                self.account.kind.as_deref().unwrap_or(""),
                self.account.name.as_deref().unwrap_or("")
            )),
            (None, None) => derived(&format!("{}\nevent {event_id}", self.device)),
        };
        let mut fingerprint = String::new();
        let mut calendar = Calendar::new();
        let mut master_event = self.event(master, &uid, &mut fingerprint);
        let mut changes = Vec::new();
        let zone = get("eventTimezone");
        let all_day = get("allDay") == Some("1");
        for exception in overrides {
            let at = self
                .events
                .get(exception, "originalInstanceTime")
                .and_then(millis);
            let exception_all_day =
                self.events.get(exception, "originalAllDay") == Some("1") || all_day;
            let Some(at) = at else { continue };
            let (params, value) = moment(at, zone, exception_all_day);
            // A cancelled instance (Android keeps one as an exception with status 2).
            if self.events.get(exception, "eventStatus") == Some("2") {
                fingerprint.push_str(&format!("{exception:?}"));
                master_event.append_multi_property(property("EXDATE", &params, &value));
                continue;
            }
            let mut changed = self.event(exception, &uid, &mut fingerprint);
            changed.append_property(property("RECURRENCE-ID", &params, &value));
            changes.push(changed.done());
        }
        // Master first, as most readers expect.
        calendar.push(master_event.done());
        for changed in changes {
            calendar.push(changed);
        }
        let mut ics = calendar.done().to_string();
        let zones = self.zones(master, overrides);
        if let (false, Some(first)) = (zones.is_empty(), ics.find("BEGIN:VEVENT")) {
            let around = get("dtstart")
                .and_then(millis)
                .unwrap_or(DateTime::UNIX_EPOCH);
            let blocks: String = zones
                .into_values()
                .map(|zone| timezone::vtimezone(zone, around))
                .collect();
            ics.insert_str(first, &blocks);
        }
        Series {
            event_id,
            uid,
            etag: crate::ids::Sha256::of(fingerprint.as_bytes())
                .short(16)
                .to_owned(),
            ics: ics.into_bytes(),
        }
    }

    /// The zones the series' times are written in (all-day and UTC times name none).
    fn zones(&self, master: &Row, overrides: &[&Row]) -> BTreeMap<&'static str, chrono_tz::Tz> {
        let mut zones = BTreeMap::new();
        for row in std::iter::once(master).chain(overrides.iter().copied()) {
            if self.events.get(row, "allDay") == Some("1") {
                continue;
            }
            for column in ["eventTimezone", "eventEndTimezone"] {
                if let Some(zone) = self.events.get(row, column).and_then(known_zone) {
                    zones.insert(zone.name(), zone);
                }
            }
        }
        for column in ["rdate", "exdate"] {
            for line in self
                .events
                .get(master, column)
                .unwrap_or_default()
                .split('\n')
            {
                if let Some(zone) = line.split_once(';').and_then(|(z, _)| known_zone(z)) {
                    zones.insert(zone.name(), zone);
                }
            }
        }
        zones
    }

    fn event(&self, row: &Row, uid: &str, fingerprint: &mut String) -> Event {
        let events = self.events;
        let get = |c: &str| events.get(row, c).filter(|v| !v.is_empty());
        let id = get("_id").unwrap_or_default();
        fingerprint.push_str(&format!("{row:?}"));
        let mut event = Event::new();
        event.uid(uid);
        // DTSTAMP from the event, not the clock: the same phone gives the same bytes.
        let start = get("dtstart")
            .and_then(millis)
            .unwrap_or(DateTime::UNIX_EPOCH);
        event.timestamp(start);
        if let Some(title) = get("title") {
            event.summary(title);
        }
        if let Some(description) = get("description") {
            event.description(description);
        }
        if let Some(location) = get("eventLocation") {
            event.location(location);
        }
        let all_day = get("allDay") == Some("1");
        let zone = get("eventTimezone");
        let (params, value) = moment(start, zone, all_day);
        event.append_property(property("DTSTART", &params, &value));
        if let Some(end) = get("dtend").and_then(millis) {
            let (params, value) = moment(end, get("eventEndTimezone").or(zone), all_day);
            event.append_property(property("DTEND", &params, &value));
        } else if let Some(duration) = get("duration") {
            event.add_property("DURATION", rfc_duration(duration));
        }
        for (column, name) in [("rrule", "RRULE"), ("exrule", "EXRULE")] {
            if let Some(rule) = get(column) {
                for part in rule.split('\n').filter(|p| !p.is_empty()) {
                    event.append_multi_property(Property::new(name, part));
                }
            }
        }
        for (column, name) in [("rdate", "RDATE"), ("exdate", "EXDATE")] {
            if let Some(dates) = get(column) {
                for line in dates.split('\n').filter(|p| !p.is_empty()) {
                    event.append_multi_property(date_list(name, line));
                }
            }
        }
        match get("eventStatus") {
            Some("0") => event.add_property("STATUS", "TENTATIVE"),
            Some("1") => event.add_property("STATUS", "CONFIRMED"),
            Some("2") => event.add_property("STATUS", "CANCELLED"),
            _ => &mut event,
        };
        if get("availability") == Some("1") {
            event.add_property("TRANSP", "TRANSPARENT");
        }
        match get("accessLevel") {
            Some("1") => event.add_property("CLASS", "CONFIDENTIAL"),
            Some("2") => event.add_property("CLASS", "PRIVATE"),
            Some("3") => event.add_property("CLASS", "PUBLIC"),
            _ => &mut event,
        };
        if let Some(organizer) = get("organizer").filter(|o| o.contains('@')) {
            event.add_property("ORGANIZER", format!("mailto:{organizer}"));
        }
        for attendee in self.attendees.get(id).into_iter().flatten() {
            fingerprint.push_str(&format!("{attendee:?}"));
            if let Some(attendee) = self.attendee(attendee) {
                event.append_multi_property(attendee);
            }
        }
        for reminder in self.reminders.get(id).into_iter().flatten() {
            fingerprint.push_str(&format!("{reminder:?}"));
            // Android's -1 ("the default") is taken as at the start.
            let minutes = self
                .reminder_table
                .get(reminder, "minutes")
                .and_then(|m| m.parse::<i64>().ok())
                .unwrap_or(0)
                .max(0);
            let description = get("title").unwrap_or("Reminder");
            let trigger = icalendar::Trigger::before_start(chrono::Duration::minutes(minutes));
            let mut alarm = icalendar::Alarm::display(description, trigger);
            // In the short form servers write back (-PT15M, not -PT900S).
            alarm.add_property("TRIGGER", timezone::duration_text(-minutes * 60));
            // The crate would stamp the alarm with the clock and a random UID: stable ones
            // give the same bytes from the same phone every run.
            let reminder_id = self.reminder_table.get(reminder, "_id").unwrap_or_default();
            alarm
                .add_property("DTSTAMP", start.format("%Y%m%dT%H%M%SZ").to_string())
                .add_property("UID", format!("{uid}-reminder-{reminder_id}"));
            event.alarm(alarm);
        }
        event
    }

    fn attendee(&self, row: &Row) -> Option<Property> {
        let get = |c: &str| self.attendee_table.get(row, c).filter(|v| !v.is_empty());
        let email = get("attendeeEmail")?;
        let mut property = Property::new("ATTENDEE", format!("mailto:{email}"));
        if let Some(name) = get("attendeeName") {
            property.add_parameter("CN", name);
        }
        match get("attendeeType") {
            Some("1") => property.add_parameter("ROLE", "REQ-PARTICIPANT"),
            Some("2") => property.add_parameter("ROLE", "OPT-PARTICIPANT"),
            Some("3") => property.add_parameter("CUTYPE", "RESOURCE"),
            _ => &mut property,
        };
        if get("attendeeRelationship") == Some("2") {
            property.add_parameter("ROLE", "CHAIR");
        }
        match get("attendeeStatus") {
            Some("1") => property.add_parameter("PARTSTAT", "ACCEPTED"),
            Some("2") => property.add_parameter("PARTSTAT", "DECLINED"),
            Some("3") => property.add_parameter("PARTSTAT", "NEEDS-ACTION"),
            Some("4") => property.add_parameter("PARTSTAT", "TENTATIVE"),
            _ => &mut property,
        };
        Some(property)
    }
}

fn derived(key: &str) -> String {
    let hex = crate::ids::Sha256::of(key.as_bytes()).to_string();
    format!("{}@android.lifeboat", &hex[..32])
}

fn millis(text: &str) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(text.parse().ok()?).single()
}

/// A moment as iCalendar writes it: a date for all-day events (Android keeps them at UTC
/// midnight), local time with TZID in a known zone, else UTC.
fn moment(
    at: DateTime<Utc>,
    zone: Option<&str>,
    all_day: bool,
) -> (Vec<(&'static str, String)>, String) {
    if all_day {
        return (
            vec![("VALUE", "DATE".to_owned())],
            at.format("%Y%m%d").to_string(),
        );
    }
    match zone.and_then(known_zone) {
        Some(tz) => (
            vec![("TZID", tz.name().to_owned())],
            at.with_timezone(&tz).format("%Y%m%dT%H%M%S").to_string(),
        ),
        None => (Vec::new(), at.format("%Y%m%dT%H%M%SZ").to_string()),
    }
}

/// A zone from the tz database other than UTC (whose times are written with `Z`).
fn known_zone(name: &str) -> Option<chrono_tz::Tz> {
    let zone = name.parse::<chrono_tz::Tz>().ok()?;
    (!matches!(name, "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT")).then_some(zone)
}

fn property(name: &str, params: &[(&str, String)], value: &str) -> Property {
    let mut property = Property::new(name, value);
    for (key, val) in params {
        property.add_parameter(key, val);
    }
    property
}

/// An `rdate`/`exdate` column line, `[TZID;]date,date,...` as Android's RecurrenceSet keeps it.
fn date_list(name: &str, line: &str) -> Property {
    let (zone, dates) = match line.split_once(';') {
        Some((zone, dates)) => (Some(zone), dates),
        None => (None, line),
    };
    let mut property = Property::new(name, dates);
    if let Some(zone) = zone {
        property.add_parameter("TZID", zone);
    }
    if !dates.contains('T') {
        property.add_parameter("VALUE", "DATE");
    }
    property
}

/// Android writes durations as `P3600S` (and `P1D`); RFC 5545 wants `PT1H`, as servers
/// write it back. Anything else is kept as it is.
fn rfc_duration(duration: &str) -> String {
    let seconds = duration.strip_prefix('P').and_then(|rest| {
        let (number, unit) = rest.split_at(rest.len().checked_sub(1)?);
        let number: i64 = number.parse().ok()?;
        match unit {
            "S" => Some(number),
            "D" => Some(number * 86_400),
            "W" => Some(number * 7 * 86_400),
            _ => None,
        }
    });
    seconds.map_or_else(|| duration.to_owned(), timezone::duration_text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{color, date_list, rfc_duration};

    #[test]
    fn android_columns_become_rfc_5545_values() {
        assert_eq!(rfc_duration("P3600S"), "PT1H");
        assert_eq!(rfc_duration("P1D"), "P1D");
        assert_eq!(rfc_duration("PT45M"), "PT45M");
        assert_eq!(rfc_duration("soon"), "soon");
        assert_eq!(color("-16738680").as_deref(), Some("#009688"));
        assert_eq!(color("red"), None);
        let zoned = date_list("EXDATE", "Europe/Berlin;20261221T090000,20261228T090000");
        assert_eq!(zoned.value(), "20261221T090000,20261228T090000");
        assert_eq!(zoned.params().get("TZID").unwrap().value(), "Europe/Berlin");
        let days = date_list("RDATE", "20261224");
        assert_eq!(days.params().get("VALUE").unwrap().value(), "DATE");
    }
}
