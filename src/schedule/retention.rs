//! Which snapshots to keep, like restic's `forget`: a pure function of the snapshots and the
//! policy.
//!
//! Rules:
//! 1. `keep_last` keeps the n newest snapshots.
//! 2. `keep_daily`, `keep_weekly` and `keep_monthly` keep, for each of the n newest days (ISO
//!    weeks, months) that have snapshots, the newest snapshot of that day (week, month).
//! 3. The newest good snapshot is always kept, whatever the policy.
//! 4. A policy that keeps nothing at all keeps everything: deleting every backup is never a
//!    setting.
//! 5. Only good snapshots count and only they are ever deleted. Snapshots that are not
//!    verified (they may be something we cannot read, and are not ours to delete), flagged
//!    ones (the source lost data; the copy before may be the only good one, and the flagged
//!    one may hold what is new) and ones named after `now` (made while the clock ran ahead:
//!    their names say nothing about their order) are kept and do not count towards the
//!    numbers above, so the user always has as many good snapshots as asked for.
//!
//! The caller decides *whether* to prune at all: never after a run that failed, did not
//! verify, or flagged a sudden drop at the source.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDateTime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retention {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

impl Default for Retention {
    /// Hard-linked snapshots cost only what changed, so keeping many is cheap.
    fn default() -> Self {
        Self {
            keep_last: 10,
            keep_daily: 7,
            keep_weekly: 5,
            keep_monthly: 12,
        }
    }
}

impl Retention {
    pub fn describe(&self) -> String {
        format!(
            "keep the last {}, {} daily, {} weekly, {} monthly",
            self.keep_last, self.keep_daily, self.keep_weekly, self.keep_monthly
        )
    }
}

/// One snapshot as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    /// When it was taken, local time.
    pub time: NaiveDateTime,
    /// It holds a manifest and passed its check when written.
    pub verified: bool,
    /// The drop guard flagged it, and the user has not accepted it.
    pub flagged: bool,
}

/// The calendar bucket (day, ISO week or month) a snapshot time falls into.
type BucketOf = fn(&NaiveDateTime) -> (i32, u32);

/// The ids of the snapshots to delete (module doc: the rules).
pub fn to_forget(snapshots: &[Snapshot], policy: &Retention, now: NaiveDateTime) -> Vec<String> {
    let nothing_kept = policy.keep_last == 0
        && policy.keep_daily == 0
        && policy.keep_weekly == 0
        && policy.keep_monthly == 0;
    if nothing_kept {
        return Vec::new();
    }
    let mut newest_first: Vec<&Snapshot> = snapshots
        .iter()
        .filter(|s| s.verified && !s.flagged && s.time <= now)
        .collect();
    newest_first.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
    let mut keep: HashSet<&str> = HashSet::new();
    if let Some(newest) = newest_first.first() {
        keep.insert(&newest.id);
    }
    keep.extend(
        newest_first
            .iter()
            .take(policy.keep_last as usize)
            .map(|s| s.id.as_str()),
    );
    let buckets: [(u32, BucketOf); 3] = [
        (policy.keep_daily, |t| (t.year(), t.ordinal())),
        (policy.keep_weekly, |t| {
            let week = t.iso_week();
            (week.year(), week.week())
        }),
        (policy.keep_monthly, |t| (t.year(), t.month())),
    ];
    for (count, bucket_of) in buckets {
        let mut seen = HashSet::new();
        for snapshot in &newest_first {
            if seen.len() >= count as usize {
                break;
            }
            if seen.insert(bucket_of(&snapshot.time)) {
                keep.insert(&snapshot.id);
            }
        }
    }
    newest_first
        .iter()
        .filter(|s| !keep.contains(s.id.as_str()))
        .map(|s| s.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn snap(time: &str) -> Snapshot {
        Snapshot {
            id: time.to_owned(),
            time: NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M").unwrap(),
            verified: true,
            flagged: false,
        }
    }

    fn policy(last: u32, daily: u32, weekly: u32, monthly: u32) -> Retention {
        Retention {
            keep_last: last,
            keep_daily: daily,
            keep_weekly: weekly,
            keep_monthly: monthly,
        }
    }

    /// Four snapshots a day (00:00, 06:00, 12:00, 18:00) for `days` days from 2026-10-01.
    fn four_a_day(days: u32) -> Vec<Snapshot> {
        let start = NaiveDateTime::parse_from_str("2026-10-01 00:00", "%Y-%m-%d %H:%M").unwrap();
        (0..days * 4)
            .map(|n| {
                let time = start + chrono::Duration::hours(6 * i64::from(n));
                snap(&time.format("%Y-%m-%d %H:%M").to_string())
            })
            .collect()
    }

    /// Long after every snapshot of the tests.
    fn later() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2030-01-01 00:00", "%Y-%m-%d %H:%M").unwrap()
    }

    fn kept(snapshots: &[Snapshot], policy: &Retention) -> Vec<String> {
        let forget: HashSet<String> = to_forget(snapshots, policy, later()).into_iter().collect();
        let mut kept: Vec<String> = snapshots
            .iter()
            .map(|s| s.id.clone())
            .filter(|id| !forget.contains(id))
            .collect();
        kept.sort();
        kept
    }

    #[test]
    fn table() {
        let month = four_a_day(61); // 2026-10-01 .. 2026-11-30
        let cases: Vec<(&str, Vec<Snapshot>, Retention, Vec<&str>)> = vec![
            (
                "keep last 3",
                four_a_day(2),
                policy(3, 0, 0, 0),
                vec!["2026-10-02 06:00", "2026-10-02 12:00", "2026-10-02 18:00"],
            ),
            (
                "daily 2 keeps the newest of each of the 2 newest days",
                four_a_day(3),
                policy(0, 2, 0, 0),
                vec!["2026-10-02 18:00", "2026-10-03 18:00"],
            ),
            (
                "last 1 + daily 2 overlap",
                four_a_day(3),
                policy(1, 2, 0, 0),
                vec!["2026-10-02 18:00", "2026-10-03 18:00"],
            ),
            (
                "monthly 2 over two months",
                month.clone(),
                policy(0, 0, 0, 2),
                vec!["2026-10-31 18:00", "2026-11-30 18:00"],
            ),
            (
                "weekly 2: newest of the two newest ISO weeks (Mon 23 - Sun 29, Mon 30)",
                month.clone(),
                policy(0, 0, 2, 0),
                vec!["2026-11-29 18:00", "2026-11-30 18:00"],
            ),
            (
                "a policy of zeros keeps everything",
                four_a_day(1),
                policy(0, 0, 0, 0),
                vec![
                    "2026-10-01 00:00",
                    "2026-10-01 06:00",
                    "2026-10-01 12:00",
                    "2026-10-01 18:00",
                ],
            ),
            ("nothing to prune", Vec::new(), policy(1, 0, 0, 0), vec![]),
        ];
        for (name, snapshots, policy, expected) in cases {
            assert_eq!(kept(&snapshots, &policy), expected, "{name}");
        }
    }

    #[test]
    fn the_newest_verified_snapshot_survives_and_unverified_ones_are_left_alone() {
        let mut snapshots = four_a_day(1);
        // The two newest are not verified: not counted, not deleted.
        snapshots[2].verified = false;
        snapshots[3].verified = false;
        let forget = to_forget(&snapshots, &policy(1, 0, 0, 0), later());
        assert_eq!(forget, vec!["2026-10-01 00:00".to_owned()]);
    }

    #[test]
    fn flagged_snapshots_are_kept_and_never_push_a_good_one_out() {
        // A provider failing for three runs in a row, with keep-last 1: the one good
        // snapshot before the failure stays, and so do the flagged ones.
        let mut snapshots = four_a_day(1);
        for flagged in &mut snapshots[1..] {
            flagged.flagged = true;
        }
        assert!(to_forget(&snapshots, &policy(1, 0, 0, 0), later()).is_empty());
        // Once a good run follows, only good snapshots are counted and deleted.
        snapshots.push(snap("2026-10-02 00:00"));
        assert_eq!(
            to_forget(&snapshots, &policy(1, 0, 0, 0), later()),
            vec!["2026-10-01 00:00".to_owned()]
        );
    }

    #[test]
    fn a_snapshot_named_in_the_future_neither_counts_nor_is_deleted() {
        // The clock once ran ahead to 2031; the run made now must not be deleted for it.
        let snapshots = vec![
            snap("2026-10-01 00:00"),
            snap("2031-01-01 03:00"),
            snap("2026-12-01 03:00"),
        ];
        let now = NaiveDateTime::parse_from_str("2026-12-01 03:01", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(
            to_forget(&snapshots, &policy(1, 0, 0, 0), now),
            vec!["2026-10-01 00:00".to_owned()]
        );
    }
}
