//! When a profile is due: a pure function of (schedule, history, now), in local wall-clock time.
//!
//! Rules:
//! 1. A profile that never ran is due at once: a new schedule starts with a backup.
//! 2. Each schedule has *slots*: every full hour (hourly), every day at `at` (daily), every
//!    `weekday` at `at` (weekly). A profile is due when it has not succeeded since the latest
//!    slot that is not in the future. Missed slots (the computer was off or asleep) are made up
//!    by one run, not one per missed slot.
//! 3. After a failed attempt, the next try waits [`RETRY_AFTER`], so a server that is down is
//!    not hammered, but a failure is retried well before the next slot.
//! 4. Times are compared as local wall-clock times, so "daily at 03:00" stays at 03:00 across
//!    daylight-saving changes.

use chrono::{Datelike, Duration, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

/// How long to wait after a failed attempt before trying again.
pub const RETRY_AFTER: Duration = Duration::minutes(30);

/// How often a profile runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "lowercase")]
pub enum Every {
    Hourly,
    Daily {
        #[serde(with = "hh_mm")]
        at: NaiveTime,
    },
    Weekly {
        on: Weekday,
        #[serde(with = "hh_mm")]
        at: NaiveTime,
    },
}

impl Every {
    /// Sentence for people: "daily at 03:00".
    pub fn describe(&self) -> String {
        match self {
            Self::Hourly => "every hour".to_owned(),
            Self::Daily { at } => format!("daily at {}", at.format("%H:%M")),
            Self::Weekly { on, at } => format!("weekly on {on} at {}", at.format("%H:%M")),
        }
    }

    /// The latest slot at or before `now`.
    pub fn latest_slot(&self, now: NaiveDateTime) -> NaiveDateTime {
        match *self {
            Self::Hourly => now
                .with_minute(0)
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(now),
            Self::Daily { at } => {
                let today = now.date().and_time(at);
                if today <= now {
                    today
                } else {
                    today - Duration::days(1)
                }
            }
            Self::Weekly { on, at } => {
                let back =
                    (7 + now.weekday().num_days_from_monday() - on.num_days_from_monday()) % 7;
                let slot = (now.date() - Duration::days(i64::from(back))).and_time(at);
                if slot <= now {
                    slot
                } else {
                    slot - Duration::weeks(1)
                }
            }
        }
    }

    /// The first slot after `slot`.
    pub fn next_slot(&self, slot: NaiveDateTime) -> NaiveDateTime {
        match self {
            Self::Hourly => slot + Duration::hours(1),
            Self::Daily { .. } => slot + Duration::days(1),
            Self::Weekly { .. } => slot + Duration::weeks(1),
        }
    }
}

/// What the profile did before, in local time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    pub last_success: Option<NaiveDateTime>,
    /// The last attempt and whether it succeeded.
    pub last_attempt: Option<(NaiveDateTime, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run now.
    Due,
    /// Not yet; due at this time.
    Wait(NaiveDateTime),
}

impl Decision {
    /// "due now" or the local time it will be due, for people.
    pub fn describe(&self) -> String {
        match self {
            Self::Due => "due now".to_owned(),
            Self::Wait(at) => at.format("%Y-%m-%d %H:%M").to_string(),
        }
    }
}

/// Whether a profile with `every` and `history` should run at `now` (module doc: the rules).
pub fn decide(every: &Every, history: &History, now: NaiveDateTime) -> Decision {
    if history.last_success.is_none() && history.last_attempt.is_none() {
        return Decision::Due;
    }
    let slot = every.latest_slot(now);
    let covered = history.last_success.is_some_and(|done| done >= slot);
    let retry_at = match history.last_attempt {
        Some((at, false)) => Some(at + RETRY_AFTER),
        _ => None,
    };
    if covered {
        let next = every.next_slot(slot);
        return Decision::Wait(next);
    }
    match retry_at {
        Some(retry) if retry > now => Decision::Wait(retry),
        _ => Decision::Due,
    }
}

/// `"03:00"` in the config file.
mod hh_mm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_time(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_time(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| format!("not a time of day like 03:30: {text:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn daily(time: &str) -> Every {
        Every::Daily {
            at: parse_time(time).unwrap(),
        }
    }

    fn ok(text: &str) -> History {
        History {
            last_success: Some(at(text)),
            last_attempt: Some((at(text), true)),
        }
    }

    fn failed_after(success: Option<&str>, attempt: &str) -> History {
        History {
            last_success: success.map(at),
            last_attempt: Some((at(attempt), false)),
        }
    }

    #[test]
    fn decisions() {
        // 2026-11-25 is a Wednesday.
        let weekly_mon = Every::Weekly {
            on: Weekday::Mon,
            at: parse_time("09:00").unwrap(),
        };
        let cases: Vec<(&str, Every, History, &str, Decision)> = vec![
            (
                "never ran",
                daily("03:00"),
                History::default(),
                "2026-11-25 12:00",
                Decision::Due,
            ),
            (
                "ran after today's slot",
                daily("03:00"),
                ok("2026-11-25 03:00"),
                "2026-11-25 12:00",
                Decision::Wait(at("2026-11-26 03:00")),
            ),
            (
                "ran yesterday, today's slot passed",
                daily("03:00"),
                ok("2026-11-24 03:05"),
                "2026-11-25 12:00",
                Decision::Due,
            ),
            (
                "ran yesterday, today's slot ahead",
                daily("03:00"),
                ok("2026-11-24 03:05"),
                "2026-11-25 02:59",
                Decision::Wait(at("2026-11-25 03:00")),
            ),
            (
                "laptop asleep for days: one catch-up run",
                daily("03:00"),
                ok("2026-11-20 03:00"),
                "2026-11-25 08:00",
                Decision::Due,
            ),
            (
                "exactly at the slot",
                daily("03:00"),
                ok("2026-11-24 03:00"),
                "2026-11-25 03:00",
                Decision::Due,
            ),
            (
                "hourly, ran this hour",
                Every::Hourly,
                ok("2026-11-25 12:01"),
                "2026-11-25 12:59",
                Decision::Wait(at("2026-11-25 13:00")),
            ),
            (
                "hourly, ran last hour",
                Every::Hourly,
                ok("2026-11-25 11:59"),
                "2026-11-25 12:00",
                Decision::Due,
            ),
            (
                "weekly, ran Monday",
                weekly_mon,
                ok("2026-11-23 09:10"),
                "2026-11-25 12:00",
                Decision::Wait(at("2026-11-30 09:00")),
            ),
            (
                "weekly, missed Monday",
                weekly_mon,
                ok("2026-11-16 09:10"),
                "2026-11-25 12:00",
                Decision::Due,
            ),
            (
                "weekly, Monday before the time",
                weekly_mon,
                ok("2026-11-16 09:10"),
                "2026-11-23 08:00",
                Decision::Wait(at("2026-11-23 09:00")),
            ),
            (
                "failed 10 min ago: wait",
                daily("03:00"),
                failed_after(Some("2026-11-24 03:00"), "2026-11-25 11:50"),
                "2026-11-25 12:00",
                Decision::Wait(at("2026-11-25 12:20")),
            ),
            (
                "failed 40 min ago: retry",
                daily("03:00"),
                failed_after(Some("2026-11-24 03:00"), "2026-11-25 11:20"),
                "2026-11-25 12:00",
                Decision::Due,
            ),
            (
                "never succeeded, failed just now",
                daily("03:00"),
                failed_after(None, "2026-11-25 11:59"),
                "2026-11-25 12:00",
                Decision::Wait(at("2026-11-25 12:29")),
            ),
            (
                "failed, but this slot already done",
                daily("03:00"),
                History {
                    last_success: Some(at("2026-11-25 03:01")),
                    last_attempt: Some((at("2026-11-25 11:00"), false)),
                },
                "2026-11-25 12:00",
                Decision::Wait(at("2026-11-26 03:00")),
            ),
        ];
        for (name, every, history, now, expected) in cases {
            assert_eq!(decide(&every, &history, at(now)), expected, "{name}");
        }
    }

    #[test]
    fn schedules_round_trip_through_json() {
        for every in [
            Every::Hourly,
            daily("03:30"),
            Every::Weekly {
                on: Weekday::Sun,
                at: parse_time("22:15").unwrap(),
            },
        ] {
            let json = serde_json::to_string(&every).unwrap();
            assert_eq!(
                serde_json::from_str::<Every>(&json).unwrap(),
                every,
                "{json}"
            );
        }
        assert_eq!(
            serde_json::to_string(&daily("03:30")).unwrap(),
            r#"{"every":"daily","at":"03:30"}"#
        );
        assert!(parse_time("25:00").is_err());
    }
}
