//! `lifeboat export`: the sources the arguments name, the export, and its summary.

use std::process::ExitCode;
use std::sync::Arc;

use crate::config::AccountKind;
use crate::dav::http::Credentials;
use crate::error::{Error, ErrorKind, Result};
use crate::model::ItemKind;
use crate::source::Source;
use crate::source::provider::{Provider, ProviderExport};

use super::{
    ExportArgs, TerminalProgress, cancel_on_interrupt, credentials, endpoints, human_bytes,
};

pub(super) async fn connect(args: &ExportArgs) -> Result<Vec<Box<dyn Source>>> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    let endpoints = endpoints(
        &args.sources.urls,
        &args.sources.photos_urls,
        &args.sources.devices,
        args.ca_file.as_ref(),
    );
    let credentials = if endpoints
        .iter()
        .any(|e| matches!(e.kind, AccountKind::Dav | AccountKind::Photos))
    {
        credentials(args.sources.user.as_deref())?
    } else {
        Credentials::None
    };
    for endpoint in &endpoints {
        sources.push(endpoint.source(&credentials).await?);
    }
    if let Some(serial) = &args.sources.android {
        let phone = crate::connect::Endpoint::new(AccountKind::Android, serial.clone(), None);
        sources.push(phone.source(&Credentials::None).await?);
    }
    for (provider, paths) in [
        (Provider::GoogleTakeout, &args.takeout),
        (Provider::AppleDataCopy, &args.apple),
    ] {
        if !paths.is_empty() {
            let export = ProviderExport::open_async(provider, paths.clone()).await?;
            sources.push(Box::new(export));
        }
    }
    if sources.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "nothing to export: give --url, --photos-url, --device, --android, --takeout or --apple",
        ));
    }
    Ok(sources)
}

pub(super) async fn run_export(mut args: ExportArgs) -> Result<ExitCode> {
    args.sources.take_user_names()?;
    let cancel = cancel_on_interrupt();
    let started = std::time::Instant::now();
    let progress = Arc::new(TerminalProgress::new("fetching"));
    let sources = connect(&args).await?;
    let plan = crate::job::export::plan(&sources, progress.as_ref(), &cancel).await?;
    if args.dry_run {
        progress.bar.finish_and_clear();
        for source in &plan.sources {
            println!("{} ({})", source.info.label, source.info.location);
            for collection in &source.collections {
                println!(
                    "  {:<9} {:<40} {:>7} items",
                    collection.info.kind.folder(),
                    collection
                        .info
                        .display_name
                        .as_deref()
                        .unwrap_or(&collection.info.name),
                    collection.item_count()
                );
            }
        }
        println!(
            "dry run: {} items in {} collections would be exported to {}",
            plan.item_count(),
            plan.collection_count(),
            args.out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let summary =
        crate::job::export::execute(&sources, &plan, &args.out, progress.clone(), &cancel).await;
    progress.bar.finish_and_clear();
    let summary = summary?;
    let counts: Vec<String> = summary
        .counts()
        .iter()
        .map(|(kind, count)| format!("{count} {}", kind_label(*kind)))
        .collect();
    println!(
        "Exported {} into {}",
        if counts.is_empty() {
            "nothing".to_owned()
        } else {
            counts.join(", ")
        },
        summary.archive.display()
    );
    println!(
        "{} of items in {:.1} s, {} requests",
        human_bytes(summary.item_bytes),
        started.elapsed().as_secs_f64(),
        summary.requests
    );
    // An archive without everything the source listed is kept (it holds all that could be
    // read), but the run did not succeed.
    Ok(if print_warning_counts(&summary.manifest.warnings) > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn kind_label(kind: ItemKind) -> &'static str {
    kind.label()
}

/// Prints the warnings by code; returns how many listed items are missing from the archive.
pub(super) fn print_warning_counts(warnings: &[crate::model::Warning]) -> usize {
    if warnings.is_empty() {
        println!("No warnings.");
        return 0;
    }
    let mut by_code = std::collections::BTreeMap::new();
    for warning in warnings {
        *by_code.entry(warning.code.as_str()).or_insert(0usize) += 1;
    }
    let parts: Vec<String> = by_code
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect();
    let missing: Vec<&crate::model::Warning> = warnings
        .iter()
        .filter(|w| w.code == "unavailable")
        .collect();
    if missing.is_empty() {
        println!(
            "{} warnings ({}); every affected item is kept, see manifest.json",
            warnings.len(),
            parts.join(", ")
        );
    } else {
        println!(
            "{} warnings ({}); {} listed items could NOT be read and are missing from this archive:",
            warnings.len(),
            parts.join(", "),
            missing.len()
        );
        for warning in missing.iter().take(20) {
            println!(
                "  missing: {} ({})",
                warning.href.as_deref().unwrap_or("?"),
                warning.message
            );
        }
        if missing.len() > 20 {
            println!("  ... and {} more, see manifest.json", missing.len() - 20);
        }
    }
    for warning in warnings.iter().filter(|w| w.code == "not-handled") {
        println!("  not in this archive: {}", warning.message);
    }
    missing.len()
}
