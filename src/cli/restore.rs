//! `lifeboat restore`: the archive opened, the destinations the arguments name, the plan
//! printed, then carried out.

use std::process::ExitCode;
use std::sync::Arc;

use crate::config::AccountKind;
use crate::dav::http::Credentials;
use crate::destination::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::job::restore::{
    ConflictPolicy, RestoreInput, RestoreOptions, RestorePlan, RestoreSummary,
};
use crate::job::restore_report;
use crate::job::restore_report::RestoreReport;

use super::{
    OnConflict, RestoreArgs, TerminalProgress, cancel_on_interrupt, credentials, endpoints,
    take_user_names, to_json,
};

pub(super) fn parse_into(values: &[String]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|value| match value.split_once('=') {
            Some((from, to)) => (from.trim().to_owned(), to.trim().to_owned()),
            None => (String::new(), value.trim().to_owned()),
        })
        .collect()
}

pub(super) async fn restore_targets(args: &RestoreArgs) -> Result<Vec<Box<dyn Target>>> {
    let endpoints = endpoints(
        &args.url,
        &args.photos_url,
        &args.to_folder,
        args.ca_file.as_ref(),
    );
    if endpoints.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "nowhere to restore to: give --url, --photos-url or --to-folder",
        ));
    }
    let credentials = if endpoints.iter().any(|e| e.kind != AccountKind::Folder) {
        credentials(args.user.as_deref())?
    } else {
        Credentials::None
    };
    let mut targets = Vec::new();
    for endpoint in &endpoints {
        targets.push(endpoint.destination(&credentials).await?);
    }
    Ok(targets)
}

/// A damaged archive restores only with `--accept-damaged`, so a script never restores
/// part of an archive without having said so.
pub(super) fn refuse_damaged(input: &RestoreInput, args: &RestoreArgs) -> Result<()> {
    let problems = input.verify.problems();
    if problems.is_empty() || args.accept_damaged {
        return Ok(());
    }
    let named: Vec<String> = problems.iter().take(3).map(ToString::to_string).collect();
    Err(Error::new(
        ErrorKind::InvalidData,
        format!(
            "the archive is damaged ({} problems: {}{}); nothing was restored. \
             `lifeboat verify` lists them; --accept-damaged restores only the items that \
             verify: {}",
            problems.len(),
            named.join(", "),
            if problems.len() > 3 { ", ..." } else { "" },
            args.archive.display()
        ),
    ))
}

pub(super) async fn run_restore(mut args: RestoreArgs) -> Result<ExitCode> {
    take_user_names(
        args.url.iter_mut().chain(args.photos_url.iter_mut()),
        &mut args.user,
    )?;
    let cancel = cancel_on_interrupt();
    let progress = Arc::new(TerminalProgress::new("uploading"));
    progress
        .bar
        .set_message(format!("verifying {}", args.archive.display()));
    let input = RestoreInput::open(&args.archive, &cancel).await?;
    refuse_damaged(&input, &args)?;
    let targets = restore_targets(&args).await?;
    let options = RestoreOptions {
        on_conflict: match args.on_conflict {
            OnConflict::Skip => ConflictPolicy::Skip,
            OnConflict::Overwrite => ConflictPolicy::Overwrite,
            OnConflict::KeepBoth => ConflictPolicy::KeepBoth,
        },
        into: parse_into(&args.into),
        one_by_one: args.one_by_one,
    };
    let report_path = restore_report::report_path(&args.archive);
    let mut report = RestoreReport::load(&report_path)?;
    let plan = crate::job::restore::plan(
        &input,
        &targets,
        &report,
        &options,
        progress.as_ref(),
        &cancel,
    )
    .await?;
    progress.bar.finish_and_clear();
    if args.json && args.dry_run {
        println!("{}", to_json(&plan));
        return Ok(ExitCode::SUCCESS);
    }
    if !args.json {
        print_restore_plan(&plan, &input);
    }
    if args.dry_run {
        println!("dry run: nothing was written.");
        return Ok(ExitCode::SUCCESS);
    }
    let progress = Arc::new(TerminalProgress::new("uploading"));
    let summary = crate::job::restore::execute(
        &input,
        &targets,
        &plan,
        &mut report,
        &report_path,
        progress.as_ref(),
        &cancel,
    )
    .await;
    progress.bar.finish_and_clear();
    let summary = summary?;
    if args.json {
        println!(
            "{}",
            to_json(&serde_json::json!({ "plan": plan, "summary": summary }))
        );
    } else {
        print_restore_summary(&summary);
    }
    // 2: finished, but not everything is at the target (refused or failed read-back).
    Ok(if summary.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub(super) fn print_restore_plan(plan: &RestorePlan, input: &RestoreInput) {
    println!(
        "Restore plan for {} ({} items; archive verified: {} files checked)",
        plan.archive,
        input.manifest.items.len(),
        input.verify.checked
    );
    for problem in &plan.damaged {
        println!("  damaged, not restored: {problem}");
    }
    for collection in &plan.collections {
        let counts = collection.counts();
        println!(
            "  {:<9} {:<28} -> {} {}{}",
            collection.kind.folder(),
            collection.label,
            collection.target_label,
            collection.href,
            if collection.create { " (new)" } else { "" }
        );
        let changed = if counts.changed_by_server > 0 {
            format!(
                " (and {} the server changed when they were restored)",
                counts.changed_by_server
            )
        } else {
            String::new()
        };
        println!(
            "            upload {}, already there {}{changed}, conflicts {}, refused {}",
            counts.upload, counts.already_there, counts.conflicts, counts.refused
        );
    }
    for skipped in &plan.skipped {
        println!(
            "  skipped   {} ({} items): {}{}",
            skipped.archive_path,
            skipped.items,
            skipped.reason,
            if skipped.kind == crate::model::CollectionKind::Photos {
                " (give --photos-url or --to-folder)"
            } else {
                ""
            }
        );
    }
}

pub(super) fn print_restore_summary(summary: &RestoreSummary) {
    for outcome in &summary.collections {
        let mut parts = vec![format!("{} uploaded", outcome.uploaded)];
        if outcome.one_request_items > 0 {
            parts.push(format!(
                "{} of them in one request",
                outcome.one_request_items
            ));
        }
        for (count, what) in [
            (outcome.already_there, "already there"),
            (outcome.conflicts_skipped, "conflicts left alone"),
            (outcome.overwritten, "overwritten"),
            (outcome.kept_both, "kept both"),
            (outcome.refused, "refused"),
        ] {
            if count > 0 {
                parts.push(format!("{count} {what}"));
            }
        }
        println!(
            "{}{}: {}",
            outcome.label,
            if outcome.created { " (created)" } else { "" },
            parts.join(", ")
        );
        let read_back =
            outcome.verified_same_bytes + outcome.verified_equivalent + outcome.verify_failed;
        if read_back > 0 {
            println!(
                "    read back: {} same bytes, {} re-serialised by the server, {} failed",
                outcome.verified_same_bytes, outcome.verified_equivalent, outcome.verify_failed
            );
        }
    }
    println!(
        "{:.1} s, {} requests",
        summary.elapsed.as_secs_f64(),
        summary.requests
    );
    if let Some(report) = &summary.report {
        println!("Restore report: {}", report.display());
    }
    if summary.is_complete() {
        println!("Everything in the plan is at the target and was read back.");
    } else {
        println!("Not everything could be restored; the warnings above say which items and why.");
    }
}
