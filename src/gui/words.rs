//! The window's own words for what the engine reports by code: people never see a warning
//! code, only what it means for their data.

/// What warnings of kind `code` are, in a few plain words (a count goes in front).
pub fn warning_kind(code: &str) -> &'static str {
    match code {
        "unavailable" => "could not be read from the source",
        "account-failed" => "account could not be backed up",
        "sudden-drop" => "sign that data vanished at the source",
        "unparseable" => "kept exactly as it was, but could not be read as a contact or event",
        "missing-uid" => "without an identifier",
        "duplicate-uid" => "sharing an identifier with another item",
        "damaged-file" => "damaged file, kept whole",
        "original-kept" => "file kept whole besides its items",
        "line-ends-changed" => "with line ends the server changed",
        "outside-folder" => "outside the chosen folder, not read",
        "not-asked" => "sent by the server without being asked for, left out",
        "skipped-link" => "linked folder not followed",
        "no-sidecar" | "sidecar-unmatched" => "photo whose details could not be paired",
        "not-handled" => "part of the export Lifeboat does not read",
        "not-mapped" => "kind of phone detail kept as the phone gave it",
        "deleted-left-out" => "deleted on the phone, left out",
        "phone-reconnected" => "copied on after the phone was plugged in again",
        "vdir-metadata" => "folder detail not read",
        "copied-not-linked" => "copied instead of shared with the last backup",
        "damaged-previous" => "damaged in the last backup, fetched again",
        "future-snapshot" => "backup dated in the future, kept",
        "conflict-skipped" | "no-uid-conflict" => "changed on the account since, left alone",
        "not-restored" => "not restored",
        "verify-failed" => "could not be checked after writing",
        "report-not-saved" => "record of this restore not saved",
        _ => "other problem",
    }
}

/// A moment recorded as RFC 3339 ("2026-12-03T11:38:53Z") as people read it, in local time:
/// "3 December 2026 at 11:38". Anything else is shown as it is.
pub fn moment(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_owned(),
        |at| {
            at.with_timezone(&chrono::Local)
                .format("%-d %B %Y at %H:%M")
                .to_string()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_the_engine_writes_has_words() {
        // The codes as the engine spells them; a new one without words reads "other problem".
        for code in [
            "unavailable",
            crate::source::ACCOUNT_FAILED,
            "unparseable",
            "missing-uid",
            "duplicate-uid",
            "damaged-file",
            "not-restored",
            "phone-reconnected",
        ] {
            let words = warning_kind(code);
            assert_ne!(words, "other problem", "{code}");
            assert!(!words.contains('-'), "{code}: {words}");
        }
    }

    #[test]
    fn a_moment_reads_as_a_date_and_time() {
        assert!(
            moment("2026-06-15T12:00:00Z").contains("June 2026 at "),
            "{}",
            moment("2026-06-15T12:00:00Z")
        );
        assert_eq!(moment("not a date"), "not a date");
    }
}
