//! The command line: clap arguments to validated settings, terminal progress and summaries.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a CLI's job is to print

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Parser, Subcommand};

use crate::archive::{ArchiveReader, verify};
use crate::error::{Error, ErrorKind, Result};
use crate::job::export;
use crate::job::restore::{
    self, ConflictPolicy, RestoreInput, RestoreOptions, RestorePlan, RestoreSummary,
};
use crate::job::restore_report::{self, RestoreReport};
use crate::model::ItemKind;
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::source::Source;
use crate::source::dav::DavSource;
use crate::source::device::DeviceSource;
use crate::source::http::{Credentials, HttpClient, HttpSettings};
use crate::source::photos::PhotoSource;
use crate::target::Target;
use crate::target::dav::DavTarget;
use crate::target::folder::FolderTarget;
use crate::target::webdav::PhotoTarget;

#[derive(Debug, Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Back up contacts, calendars, to-dos and photos into open formats you own"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy accounts and device folders into a new archive (a folder, or a .zip).
    Export(ExportArgs),
    /// Put an archive (or a folder of .vcf/.ics/photos) back into an account or a folder:
    /// plans first, never overwrites unless asked, safe to run again.
    Restore(RestoreArgs),
    /// Re-check every file of an archive against its manifest.
    Verify {
        archive: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open the window (what running `lifeboat` with no arguments does), optionally with an
    /// archive to restore or browse, e.g. from a file manager's "Open with".
    Gui {
        /// An archive (folder or .zip) to open.
        archive: Option<PathBuf>,
        /// The screen to show first.
        #[arg(long, value_enum)]
        screen: Option<crate::gui::command::Screen>,
    },
    /// List an archive's collections and item counts.
    Ls {
        archive: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// CalDAV/CardDAV server URL, host or email address (repeatable).
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// User name for the accounts. The password comes from LIFEBOAT_PASSWORD or a prompt;
    /// a bearer token from LIFEBOAT_TOKEN.
    #[arg(long)]
    user: Option<String>,
    /// WebDAV folder holding photos (repeatable).
    #[arg(long = "photos-url", value_name = "URL")]
    photos_urls: Vec<String>,
    /// A phone or folder on this computer (repeatable).
    #[arg(long = "device", value_name = "DIR")]
    devices: Vec<PathBuf>,
    /// Where to write the archive: a new folder, or a file ending in .zip.
    #[arg(long)]
    out: PathBuf,
    /// A PEM file with a CA certificate to trust (self-hosted servers).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Show what would be exported, write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// The archive (folder or .zip), or a folder or .vcf/.ics file from another tool.
    archive: PathBuf,
    /// CalDAV/CardDAV server URL, host or email address to restore contacts and calendars to.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// User name. The password comes from LIFEBOAT_PASSWORD or a prompt; a bearer token from
    /// LIFEBOAT_TOKEN.
    #[arg(long)]
    user: Option<String>,
    /// WebDAV folder to restore photos into (each archived photo collection becomes a folder).
    #[arg(long = "photos-url", value_name = "URL")]
    photos_url: Option<String>,
    /// Restore into a folder on this computer instead (vdirs and photo folders).
    #[arg(long = "to-folder", value_name = "DIR")]
    to_folder: Option<PathBuf>,
    /// A PEM file with a CA certificate to trust (self-hosted servers).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// What to do when the target holds a different version of an item (same UID).
    #[arg(long, value_enum, default_value = "skip")]
    on_conflict: OnConflict,
    /// Restore an archived collection into an existing one: ARCHIVED=TARGET, or just TARGET
    /// when the archive holds one collection per kind (repeatable).
    #[arg(long, value_name = "[ARCHIVED=]TARGET")]
    into: Vec<String>,
    /// Restore the verified items of a damaged archive and report the rest.
    #[arg(long)]
    accept_damaged: bool,
    /// Upload item by item even where the server takes a whole new collection at once.
    #[arg(long)]
    one_by_one: bool,
    /// Show the plan, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the plan and the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OnConflict {
    /// Leave the target's version and report it.
    Skip,
    /// Replace the target's version with the archived one.
    Overwrite,
    /// Keep the target's version and add the archived one with a new UID.
    KeepBoth,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let command = match cli.command {
        None => Command::Gui {
            archive: None,
            screen: None,
        },
        Some(command) => command,
    };
    if let Command::Gui { archive, screen } = command {
        let start = crate::gui::Start { archive, screen };
        return match crate::gui::run(start) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                eprintln!("hint: the commands work without a display; see `lifeboat --help`");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Export(args) => run_export(args).await,
            Command::Restore(args) => run_restore(args).await,
            Command::Verify { archive, json } => run_verify(&archive, json),
            Command::Ls { archive, json } => run_ls(&archive, json),
            // Opened above, before any runtime is started; the window needs the main thread.
            Command::Gui { .. } => Ok(ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(hint) = error.hint() {
                eprintln!("hint: {hint}");
            }
            if error.kind() == ErrorKind::Cancelled {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn credentials(user: Option<&str>) -> Result<Credentials> {
    if let Ok(token) = std::env::var("LIFEBOAT_TOKEN") {
        return Ok(Credentials::Bearer(token));
    }
    let Some(user) = user else {
        return Ok(Credentials::None);
    };
    let password = match std::env::var("LIFEBOAT_PASSWORD") {
        Ok(password) => password,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Password for {user}: ")).map_err(|e| {
                Error::with_source(ErrorKind::InvalidInput, "could not read the password", e)
            })?
        }
        Err(_) => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "no password for {user}: set LIFEBOAT_PASSWORD (passwords are never taken as arguments)"
                ),
            ));
        }
    };
    Ok(Credentials::Basic {
        user: user.to_owned(),
        password,
    })
}

async fn connect(args: &ExportArgs) -> Result<Vec<Box<dyn Source>>> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if !args.urls.is_empty() || !args.photos_urls.is_empty() {
        let settings = HttpSettings {
            ca_file: args.ca_file.clone(),
            ..HttpSettings::default()
        };
        let credentials = credentials(args.user.as_deref())?;
        for url in &args.urls {
            let http = HttpClient::new(credentials.clone(), &settings)?;
            sources.push(Box::new(DavSource::connect(url, http).await?));
        }
        for url in &args.photos_urls {
            let http = HttpClient::new(credentials.clone(), &settings)?;
            sources.push(Box::new(PhotoSource::new(url, http)?));
        }
    }
    for device in &args.devices {
        sources.push(Box::new(DeviceSource::new(device)?));
    }
    if sources.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "nothing to export: give --url, --photos-url or --device",
        ));
    }
    Ok(sources)
}

/// Draws job events as a progress bar on stderr (hidden when stderr is not a terminal).
struct TerminalProgress {
    bar: indicatif::ProgressBar,
    /// What a collection's items are undergoing ("fetching", "uploading").
    verb: &'static str,
    warnings_shown: AtomicUsize,
}

/// Warnings printed as they happen; the rest are counted in the summary and the manifest.
const LIVE_WARNINGS: usize = 20;

impl TerminalProgress {
    fn new(verb: &'static str) -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} items, {binary_bytes} ({eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Self {
            bar,
            verb,
            warnings_shown: AtomicUsize::new(0),
        }
    }
}

impl Progress for TerminalProgress {
    fn event(&self, event: JobEvent) {
        match event {
            JobEvent::Phase(text) => self.bar.set_message(text),
            JobEvent::Planned { items, .. } => self.bar.set_length(items),
            JobEvent::CollectionStarted { name, .. } => {
                self.bar.set_message(format!("{} {name}", self.verb))
            }
            JobEvent::Progress { items, .. } => self.bar.inc(items),
            JobEvent::Warning(warning) => {
                if self.warnings_shown.fetch_add(1, Ordering::Relaxed) < LIVE_WARNINGS {
                    let place = warning.path.or(warning.href).unwrap_or_default();
                    self.bar
                        .suspend(|| eprintln!("warning: {}: {place}", warning.message));
                }
            }
        }
    }
}

async fn run_export(args: ExportArgs) -> Result<ExitCode> {
    let cancel = cancel_on_interrupt();
    let started = std::time::Instant::now();
    let progress = Arc::new(TerminalProgress::new("fetching"));
    let sources = connect(&args).await?;
    let plan = export::plan(&sources, progress.as_ref(), &cancel).await?;
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
    let summary = export::execute(&sources, &plan, &args.out, progress.clone(), &cancel).await;
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
    print_warning_counts(&summary.manifest.warnings);
    Ok(ExitCode::SUCCESS)
}

/// A token that Ctrl-C sets.
fn cancel_on_interrupt() -> CancelToken {
    let cancel = CancelToken::default();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    cancel
}

fn parse_into(values: &[String]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|value| match value.split_once('=') {
            Some((from, to)) => (from.trim().to_owned(), to.trim().to_owned()),
            None => (String::new(), value.trim().to_owned()),
        })
        .collect()
}

async fn restore_targets(args: &RestoreArgs) -> Result<Vec<Box<dyn Target>>> {
    let mut targets: Vec<Box<dyn Target>> = Vec::new();
    if args.url.is_some() || args.photos_url.is_some() {
        let settings = HttpSettings {
            ca_file: args.ca_file.clone(),
            ..HttpSettings::default()
        };
        let credentials = credentials(args.user.as_deref())?;
        if let Some(url) = &args.url {
            let http = HttpClient::new(credentials.clone(), &settings)?;
            targets.push(Box::new(DavTarget::connect(url, http).await?));
        }
        if let Some(url) = &args.photos_url {
            let http = HttpClient::new(credentials, &settings)?;
            targets.push(Box::new(PhotoTarget::new(url, http)?));
        }
    }
    if let Some(folder) = &args.to_folder {
        targets.push(Box::new(FolderTarget::new(folder)?));
    }
    if targets.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "nowhere to restore to: give --url, --photos-url or --to-folder",
        ));
    }
    Ok(targets)
}

async fn run_restore(args: RestoreArgs) -> Result<ExitCode> {
    let cancel = cancel_on_interrupt();
    let progress = Arc::new(TerminalProgress::new("uploading"));
    progress
        .bar
        .set_message(format!("verifying {}", args.archive.display()));
    let input = RestoreInput::open(&args.archive, args.accept_damaged, &cancel).await?;
    let targets = restore_targets(&args).await?;
    let options = RestoreOptions {
        on_conflict: match args.on_conflict {
            OnConflict::Skip => ConflictPolicy::Skip,
            OnConflict::Overwrite => ConflictPolicy::Overwrite,
            OnConflict::KeepBoth => ConflictPolicy::KeepBoth,
        },
        accept_damaged: args.accept_damaged,
        into: parse_into(&args.into),
        one_by_one: args.one_by_one,
    };
    let report_path = restore_report::report_path(&args.archive);
    let mut report = RestoreReport::load(&report_path)?;
    let plan = restore::plan(
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
    let summary = restore::execute(
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

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn print_restore_plan(plan: &RestorePlan, input: &RestoreInput) {
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
        println!(
            "            upload {}, already there {}, conflicts {}, refused {}",
            counts.upload, counts.already_there, counts.conflicts, counts.refused
        );
    }
    for skipped in &plan.skipped {
        println!(
            "  skipped   {} ({} items): {}",
            skipped.archive_path, skipped.items, skipped.reason
        );
    }
}

fn print_restore_summary(summary: &RestoreSummary) {
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

fn kind_label(kind: ItemKind) -> &'static str {
    kind.label()
}

fn print_warning_counts(warnings: &[crate::model::Warning]) {
    if warnings.is_empty() {
        println!("No warnings.");
        return;
    }
    let mut by_code = std::collections::BTreeMap::new();
    for warning in warnings {
        *by_code.entry(warning.code.as_str()).or_insert(0usize) += 1;
    }
    let parts: Vec<String> = by_code
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect();
    println!(
        "{} warnings ({}); every affected item is kept, see manifest.json",
        warnings.len(),
        parts.join(", ")
    );
}

fn human_bytes(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}

fn run_verify(path: &std::path::Path, json: bool) -> Result<ExitCode> {
    let (manifest, report) = verify(path)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        for file in &report.missing {
            println!("missing: {file}");
        }
        for file in &report.corrupt {
            println!("corrupt: {file}");
        }
        for file in &report.extra {
            println!("extra:   {file}");
        }
        for file in &report.unsafe_entries {
            println!("unsafe:  {file}");
        }
        if report.is_ok() {
            println!(
                "{} items, {} files checked: all checksums match.",
                manifest.items.len(),
                report.checked
            );
        } else {
            println!(
                "NOT OK: {} missing, {} corrupt, {} extra, {} unsafe ({} files checked).",
                report.missing.len(),
                report.corrupt.len(),
                report.extra.len(),
                report.unsafe_entries.len(),
                report.checked
            );
        }
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(Debug, serde::Serialize)]
struct ListedCollection<'a> {
    path: &'a str,
    kind: &'a str,
    display_name: Option<&'a str>,
    items: usize,
    source: &'a str,
}

fn run_ls(path: &std::path::Path, json: bool) -> Result<ExitCode> {
    let manifest = ArchiveReader::open(path)?.manifest()?;
    let listed: Vec<ListedCollection> = manifest
        .collections
        .iter()
        .map(|c| ListedCollection {
            path: &c.path,
            kind: c.info.kind.folder(),
            display_name: c.info.display_name.as_deref(),
            items: manifest
                .items
                .iter()
                .filter(|i| i.collection == c.path)
                .count(),
            source: manifest
                .sources
                .get(c.source)
                .map_or("", |s| s.label.as_str()),
        })
        .collect();
    if json {
        let value = serde_json::json!({
            "created": manifest.created,
            "format_version": manifest.format_version,
            "items": manifest.items.len(),
            "warnings": manifest.warnings.len(),
            "collections": listed,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        println!(
            "{} (made {} by {})",
            path.display(),
            manifest.created,
            manifest.tool
        );
        for c in &listed {
            println!(
                "  {:<40} {:>7} items  {}",
                c.path,
                c.items,
                c.display_name.unwrap_or("")
            );
        }
        println!(
            "{} items, {} warnings",
            manifest.items.len(),
            manifest.warnings.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
