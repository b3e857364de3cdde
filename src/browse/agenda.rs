//! The agenda: each event of an archived calendar, recurrences expanded, with the details a
//! calendar app shows when an event is opened (time zone, recurrence, people, reminders).

use std::sync::Arc;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarDuration, ICalendarEntry,
    ICalendarFrequency, ICalendarParameterName, ICalendarParameterValue,
    ICalendarParticipationStatus, ICalendarProperty, ICalendarRecurrenceRule, ICalendarValue,
    ICalendarWeekday,
};
use chrono::NaiveDateTime;

/// Occurrences of one recurring event shown in the agenda, at most.
const MAX_OCCURRENCES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaEntry {
    pub start: NaiveDateTime,
    /// Where the occurrence ends, shown like `start` (for a whole-day event, the day after
    /// its last day, as iCalendar writes it).
    pub end: Option<NaiveDateTime>,
    pub all_day: bool,
    pub summary: String,
    pub calendar: String,
    pub recurring: bool,
    pub location: Option<String>,
    /// Shared by every occurrence of one event.
    pub details: Arc<EventDetails>,
}

/// What an opened event shows, in plain words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventDetails {
    /// The time zone the event was written in ("Europe/Paris", "UTC").
    pub time_zone: Option<String>,
    /// "Every 2 weeks on Monday and Wednesday, 10 times".
    pub repeats: Option<String>,
    pub organizer: Option<String>,
    /// "Ana López (accepted)".
    pub attendees: Vec<String>,
    /// "15 minutes before".
    pub reminders: Vec<String>,
    pub description: Option<String>,
}

fn text(component: &ICalendarComponent, property: &ICalendarProperty) -> Option<String> {
    component
        .property(property)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .map(str::to_owned)
        .filter(|t| !t.trim().is_empty())
}

pub(super) fn agenda_entries(bytes: &[u8], calendar: &str) -> Vec<AgendaEntry> {
    let Ok(ical) = ICalendar::parse(String::from_utf8_lossy(bytes)) else {
        return Vec::new();
    };
    let expanded = ical.expand_dates(calcard::common::timezone::Tz::UTC, MAX_OCCURRENCES);
    let details: Vec<Arc<EventDetails>> = ical
        .components
        .iter()
        .map(|c| Arc::new(details(&ical, c)))
        .collect();
    expanded
        .events
        .iter()
        .filter_map(|event| {
            let component = ical.components.get(event.comp_id as usize)?;
            if component.component_type != ICalendarComponentType::VEvent {
                return None;
            }
            let all_day = component
                .property(&ICalendarProperty::Dtstart)
                .is_some_and(|e| {
                    e.params.iter().any(|p| {
                        p.value
                            .as_text()
                            .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
                    })
                });
            // Timed events in this computer's time zone; dates stay as they are.
            let shown = |at: chrono::DateTime<calcard::common::timezone::Tz>| {
                if all_day {
                    at.naive_local()
                } else {
                    at.with_timezone(&chrono::Local).naive_local()
                }
            };
            let end = match &event.end {
                calcard::icalendar::dates::TimeOrDelta::Time(end) => shown(*end),
                calcard::icalendar::dates::TimeOrDelta::Delta(delta) => shown(event.start) + *delta,
            };
            Some(AgendaEntry {
                location: text(component, &ICalendarProperty::Location),
                start: shown(event.start),
                end: (end > shown(event.start)).then_some(end),
                all_day,
                summary: text(component, &ICalendarProperty::Summary)
                    .unwrap_or_else(|| "(no title)".to_owned()),
                calendar: calendar.to_owned(),
                recurring: component.property(&ICalendarProperty::Rrule).is_some(),
                details: details
                    .get(event.comp_id as usize)
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn details(ical: &ICalendar, event: &ICalendarComponent) -> EventDetails {
    let start = event.property(&ICalendarProperty::Dtstart);
    let time_zone = start.and_then(|s| {
        s.parameter(&ICalendarParameterName::Tzid)
            .and_then(ICalendarParameterValue::as_text)
            .map(str::to_owned)
            .or_else(|| {
                matches!(s.values.first(), Some(ICalendarValue::PartialDateTime(at))
                    if at.tz_hour == Some(0) && at.tz_minute.unwrap_or(0) == 0)
                .then(|| "UTC".to_owned())
            })
    });
    let repeats = event
        .property(&ICalendarProperty::Rrule)
        .and_then(|r| r.values.first())
        .and_then(|v| match v {
            ICalendarValue::RecurrenceRule(rule) => Some(repeat_words(rule)),
            _ => None,
        });
    let reminders = event
        .component_ids
        .iter()
        .filter_map(|id| ical.components.get(*id as usize))
        .filter(|c| c.component_type == ICalendarComponentType::VAlarm)
        .filter_map(|alarm| alarm.property(&ICalendarProperty::Trigger))
        .filter_map(|trigger| match trigger.values.first()? {
            ICalendarValue::Duration(d) => Some(before_words(d)),
            ICalendarValue::PartialDateTime(at) => Some(format!(
                "on {:04}-{:02}-{:02} at {:02}:{:02}",
                at.year?,
                at.month?,
                at.day?,
                at.hour.unwrap_or(0),
                at.minute.unwrap_or(0)
            )),
            _ => None,
        })
        .collect();
    EventDetails {
        time_zone,
        repeats,
        organizer: event
            .property(&ICalendarProperty::Organizer)
            .map(|o| person(o, false)),
        attendees: event
            .properties(&ICalendarProperty::Attendee)
            .map(|a| person(a, true))
            .collect(),
        reminders,
        description: text(event, &ICalendarProperty::Description),
    }
}

/// A person's name (or address without `mailto:`), and their answer when asked for.
fn person(entry: &ICalendarEntry, with_answer: bool) -> String {
    let name = entry
        .parameter(&ICalendarParameterName::Cn)
        .and_then(ICalendarParameterValue::as_text)
        .map(str::to_owned)
        .or_else(|| {
            let address = entry.values.first()?.as_text()?;
            let bare = address.strip_prefix("mailto:").unwrap_or(address);
            Some(bare.strip_prefix("MAILTO:").unwrap_or(bare).to_owned())
        })
        .unwrap_or_else(|| "someone".to_owned());
    let answer = match entry.parameter(&ICalendarParameterName::Partstat) {
        _ if !with_answer => None,
        Some(ICalendarParameterValue::Partstat(status)) => Some(match status {
            ICalendarParticipationStatus::Accepted => "accepted",
            ICalendarParticipationStatus::Declined => "declined",
            ICalendarParticipationStatus::Tentative => "maybe",
            ICalendarParticipationStatus::Delegated => "sent someone else",
            ICalendarParticipationStatus::NeedsAction => "has not answered",
            _ => "answered",
        }),
        _ => None,
    };
    match answer {
        Some(answer) => format!("{name} ({answer})"),
        None => name,
    }
}

/// "15 minutes before", "1 day before", "at the start", "10 minutes after".
fn before_words(d: &ICalendarDuration) -> String {
    let parts: Vec<String> = [
        (d.weeks, "week"),
        (d.days, "day"),
        (d.hours, "hour"),
        (d.minutes, "minute"),
        (d.seconds, "second"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
    .collect();
    if parts.is_empty() {
        "at the start".to_owned()
    } else {
        format!(
            "{} {}",
            parts.join(" "),
            if d.neg { "before" } else { "after" }
        )
    }
}

fn weekday(day: ICalendarWeekday) -> &'static str {
    match day {
        ICalendarWeekday::Monday => "Monday",
        ICalendarWeekday::Tuesday => "Tuesday",
        ICalendarWeekday::Wednesday => "Wednesday",
        ICalendarWeekday::Thursday => "Thursday",
        ICalendarWeekday::Friday => "Friday",
        ICalendarWeekday::Saturday => "Saturday",
        ICalendarWeekday::Sunday => "Sunday",
    }
}

/// A recurrence rule in words: how often, on which days, and until when.
fn repeat_words(rule: &ICalendarRecurrenceRule) -> String {
    let unit = match rule.freq {
        ICalendarFrequency::Yearly => "year",
        ICalendarFrequency::Monthly => "month",
        ICalendarFrequency::Weekly => "week",
        ICalendarFrequency::Daily => "day",
        ICalendarFrequency::Hourly => "hour",
        ICalendarFrequency::Minutely => "minute",
        ICalendarFrequency::Secondly => "second",
    };
    let mut words = match rule.interval.unwrap_or(1) {
        0 | 1 => format!("Every {unit}"),
        n => format!("Every {n} {unit}s"),
    };
    if !rule.byday.is_empty() {
        let days: Vec<String> = rule
            .byday
            .iter()
            .map(|d| match d.ordwk {
                Some(-1) => format!("the last {}", weekday(d.weekday)),
                Some(n) if n > 0 => format!("the {} {}", ordinal(n), weekday(d.weekday)),
                _ => weekday(d.weekday).to_owned(),
            })
            .collect();
        words.push_str(" on ");
        words.push_str(&and_list(&days));
    }
    if !rule.bymonthday.is_empty() {
        let days: Vec<String> = rule
            .bymonthday
            .iter()
            .map(|d| format!("the {}", ordinal(i16::from(*d))))
            .collect();
        words.push_str(" on ");
        words.push_str(&and_list(&days));
    }
    if let Some(count) = rule.count {
        words.push_str(&format!(", {count} times"));
    } else if let Some((Some(y), Some(m), Some(d))) =
        rule.until.as_ref().map(|u| (u.year, u.month, u.day))
    {
        words.push_str(&format!(", until {y:04}-{m:02}-{d:02}"));
    }
    words
}

fn ordinal(n: i16) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn recurring_events_are_expanded() {
        let ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Standup\r\nLOCATION:Room 4\\, floor 2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let entries = agenda_entries(ics, "Work");
        let starts: Vec<String> = entries
            .iter()
            .map(|e| e.start.format("%Y-%m-%d").to_string())
            .collect();
        assert_eq!(starts, ["2026-01-05", "2026-01-12", "2026-01-19"]);
        assert!(
            entries
                .iter()
                .all(|e| e.recurring && e.summary == "Standup")
        );
        assert_eq!(entries[0].location.as_deref(), Some("Room 4, floor 2"));
    }

    #[test]
    fn an_opened_event_says_its_zone_recurrence_people_and_reminders() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:r\r\n\
            DTSTART;TZID=Europe/Paris:20260105T090000\r\nDTEND;TZID=Europe/Paris:20260105T093000\r\n\
            RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10\r\nSUMMARY:Réunion 🎉\r\n\
            DESCRIPTION:Bring the notes\r\n\
            ORGANIZER;CN=Ana López:mailto:ana@example.org\r\n\
            ATTENDEE;CN=Bo;PARTSTAT=ACCEPTED:mailto:bo@example.org\r\n\
            ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:cy@example.org\r\n\
            BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n\
            BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-P1D\r\nEND:VALARM\r\n\
            END:VEVENT\r\nEND:VCALENDAR\r\n";
        let entries = agenda_entries(ics.as_bytes(), "Work");
        assert_eq!(entries.len(), 10);
        let first = &entries[0];
        assert_eq!(
            first.end.unwrap() - first.start,
            chrono::TimeDelta::minutes(30)
        );
        let details = &first.details;
        assert_eq!(details.time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(
            details.repeats.as_deref(),
            Some("Every 2 weeks on Monday and Wednesday, 10 times")
        );
        assert_eq!(details.organizer.as_deref(), Some("Ana López"));
        assert_eq!(
            details.attendees,
            ["Bo (accepted)", "cy@example.org (has not answered)"]
        );
        assert_eq!(details.reminders, ["15 minutes before", "1 day before"]);
        assert_eq!(details.description.as_deref(), Some("Bring the notes"));
        assert!(Arc::ptr_eq(&entries[0].details, &entries[9].details));
    }

    #[test]
    fn an_event_in_utc_with_a_date_limit_says_so() {
        let ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260105T090000Z\r\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20260601T000000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let details = &agenda_entries(ics, "Work")[0].details;
        assert_eq!(details.time_zone.as_deref(), Some("UTC"));
        assert_eq!(
            details.repeats.as_deref(),
            Some("Every month on the last Friday, until 2026-06-01")
        );
        assert!(details.attendees.is_empty() && details.reminders.is_empty());
    }
}
