//! The command line: clap arguments to validated settings, terminal progress and summaries.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a CLI's job is to print

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Args, Parser, Subcommand};

use crate::archive::{ArchiveReader, verify};
use crate::config::AccountKind;
use crate::connect::Endpoint;
use crate::dav::http::Credentials;
use crate::destination::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::job::export;
use crate::job::restore::{
    self, ConflictPolicy, RestoreInput, RestoreOptions, RestorePlan, RestoreSummary,
};
use crate::job::restore_report::{self, RestoreReport};
use crate::model::ItemKind;
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::source::Source;
use crate::source::provider::{Provider, ProviderExport};

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
        /// An archive (folder or .zip) to open, or the parts of a Google Takeout or Apple
        /// export to offer for import.
        paths: Vec<PathBuf>,
        /// The screen to show first.
        #[arg(long, value_enum)]
        screen: Option<FirstScreen>,
    },
    /// Run a backup profile once: a new dated snapshot beside the earlier ones, downloading only
    /// what changed (what the OS scheduler calls).
    Run { profile: String },
    /// Manage backup profiles (what to back up, where, how often, how many snapshots to keep).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Let the OS run profiles while the app is closed (systemd timer, launchd, Task Scheduler).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// List an archive's collections and item counts.
    Ls {
        archive: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Where the data comes from: shared by `export` and `profile add`.
#[derive(Debug, Args)]
struct SourceArgs {
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
}

impl SourceArgs {
    fn is_empty(&self) -> bool {
        self.urls.is_empty() && self.photos_urls.is_empty() && self.devices.is_empty()
    }
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[command(flatten)]
    sources: SourceArgs,
    /// A Google Takeout download: its takeout-*.zip parts (all of them, any order) or the
    /// folder they were extracted to. Read in place, nothing is unpacked to disk.
    #[arg(long = "takeout", value_name = "PATH", num_args = 1..)]
    takeout: Vec<PathBuf>,
    /// Apple's "copy of your data" (privacy.apple.com): its .zip files or their folder.
    #[arg(long = "apple", value_name = "PATH", num_args = 1..)]
    apple: Vec<PathBuf>,
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

#[derive(Debug, Subcommand)]
enum ProfileCommand {
    /// Add a profile. The password comes from LIFEBOAT_PASSWORD or a prompt and is saved in
    /// the system keyring for the runs.
    Add(Box<ProfileAddArgs>),
    /// List the profiles with their schedule and last run.
    List,
    /// Remove a profile (and its OS schedule and saved password). Its snapshots stay.
    Remove { name: String },
}

#[derive(Debug, Args)]
struct ProfileAddArgs {
    /// Letters, digits, - and _.
    name: String,
    #[command(flatten)]
    sources: SourceArgs,
    /// The folder that will hold one dated snapshot per run.
    #[arg(long)]
    dest: PathBuf,
    /// A PEM file with a CA certificate to trust (self-hosted servers).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    #[arg(long, value_enum)]
    every: EveryArg,
    /// Time of day for daily and weekly runs (HH:MM, 24-hour).
    #[arg(long, default_value = "03:00")]
    at: String,
    /// Day of the week for weekly runs (mon, tue, ...).
    #[arg(long, default_value = "mon")]
    on: String,
    /// Keep the n newest snapshots.
    #[arg(long)]
    keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the n newest days.
    #[arg(long)]
    keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the n newest weeks.
    #[arg(long)]
    keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the n newest months.
    #[arg(long)]
    keep_monthly: Option<u32>,
    /// Flag a collection that lost more than this percentage of its items since the last run.
    #[arg(long, default_value_t = crate::schedule::profile::DEFAULT_DROP_PERCENT)]
    drop_percent: u32,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EveryArg {
    Hourly,
    Daily,
    Weekly,
}

#[derive(Debug, Subcommand)]
enum ScheduleCommand {
    /// Register a profile with the OS scheduler (runs missed while off happen at next boot).
    Install { profile: String },
    /// Unregister a profile from the OS scheduler.
    Remove { profile: String },
    /// Accept a profile's flagged snapshots: what vanished at the source was deleted on
    /// purpose. Later runs compare against them, and retention counts them again.
    Accept { profile: String },
    /// For each profile: installed or not, the last run and its result, the next run.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
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

/// The screen the window opens at (`lifeboat gui --screen`); the binary maps it onto the
/// window's own, so the command line never depends on the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FirstScreen {
    Accounts,
    Backup,
    Restore,
    Browse,
    Schedules,
}

/// What the command line asked for: a command that ran, or the window.
#[derive(Debug)]
pub enum Run {
    Done(ExitCode),
    Window {
        paths: Vec<PathBuf>,
        screen: Option<FirstScreen>,
    },
}

/// Runs the command line: the command's exit status, or the window to open.
pub fn main() -> Run {
    init_logging();
    let cli = Cli::parse();
    let command = match cli.command {
        None => Command::Gui {
            paths: Vec::new(),
            screen: None,
        },
        Some(command) => command,
    };
    if let Command::Gui { paths, screen } = command {
        return Run::Window { paths, screen };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return Run::Done(ExitCode::FAILURE);
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Export(args) => run_export(args).await,
            Command::Restore(args) => run_restore(args).await,
            Command::Verify { archive, json } => run_verify(&archive, json),
            Command::Ls { archive, json } => run_ls(&archive, json),
            Command::Run { profile } => run_profile(&profile).await,
            Command::Profile(command) => run_profile_command(command),
            Command::Schedule(command) => run_schedule_command(command),
            // Opened above, before any runtime is started; the window needs the main thread.
            Command::Gui { .. } => Ok(ExitCode::SUCCESS),
        }
    });
    Run::Done(match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(hint) = error.hint() {
                eprintln!("hint: {hint}");
            }
            if error.kind() == ErrorKind::Tls {
                eprintln!("hint: give that file with --ca-file FILE");
            }
            if error.kind() == ErrorKind::Cancelled {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The token first, then the password from the environment, then asked for on a terminal.
fn credentials(user: Option<&str>) -> Result<Credentials> {
    use crate::connect::{PASSWORD_ENV, Step};
    let steps = [Step::TokenEnv, Step::PasswordEnv, Step::Prompt];
    match (crate::connect::credentials(user, &steps)?, user) {
        (Some(credentials), _) => Ok(credentials),
        (None, None) => Ok(Credentials::None),
        (None, Some(user)) => Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "no password for {user}: set {PASSWORD_ENV} (passwords are never taken as arguments)"
            ),
        )),
    }
}

async fn connect(args: &ExportArgs) -> Result<Vec<Box<dyn Source>>> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    let endpoints = endpoints(
        &args.sources.urls,
        &args.sources.photos_urls,
        &args.sources.devices,
        args.ca_file.as_ref(),
    );
    let credentials = if endpoints.iter().any(|e| e.kind != AccountKind::Folder) {
        credentials(args.sources.user.as_deref())?
    } else {
        Credentials::None
    };
    for endpoint in &endpoints {
        sources.push(endpoint.source(&credentials).await?);
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
            "nothing to export: give --url, --photos-url, --device, --takeout or --apple",
        ));
    }
    Ok(sources)
}

/// The places the arguments name, DAV accounts first.
fn endpoints<'a>(
    urls: impl IntoIterator<Item = &'a String>,
    photos_urls: impl IntoIterator<Item = &'a String>,
    folders: impl IntoIterator<Item = &'a PathBuf>,
    ca_file: Option<&PathBuf>,
) -> Vec<Endpoint> {
    let at = |kind, address: String| Endpoint::new(kind, address, ca_file.cloned());
    urls.into_iter()
        .map(|url| at(AccountKind::Dav, url.clone()))
        .chain(
            photos_urls
                .into_iter()
                .map(|url| at(AccountKind::Photos, url.clone())),
        )
        .chain(
            folders
                .into_iter()
                .map(|folder| at(AccountKind::Folder, folder.display().to_string())),
        )
        .collect()
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
            // The terminal bar counts items; partial bytes would only make it jitter.
            JobEvent::Receiving { .. } => {}
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

/// Takes user names out of `urls` (`https://alice@host/`) into `user`, before anything else
/// sees the URLs; an address holding a password is refused.
fn take_user_names<'a>(
    urls: impl IntoIterator<Item = &'a mut String>,
    user: &mut Option<String>,
) -> Result<()> {
    for url in urls {
        let (address, name) = crate::source::dav::split_user_info(url)?;
        *url = address;
        match (name, user.as_deref()) {
            (Some(name), Some(given)) if name != given => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("the address names the user {name:?}, but --user says {given:?}"),
                ));
            }
            (Some(name), _) => *user = Some(name),
            (None, _) => {}
        }
    }
    Ok(())
}

impl SourceArgs {
    fn take_user_names(&mut self) -> Result<()> {
        take_user_names(
            self.urls.iter_mut().chain(self.photos_urls.iter_mut()),
            &mut self.user,
        )
    }
}

async fn run_export(mut args: ExportArgs) -> Result<ExitCode> {
    args.sources.take_user_names()?;
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
    // An archive without everything the source listed is kept (it holds all that could be
    // read), but the run did not succeed.
    Ok(if print_warning_counts(&summary.manifest.warnings) > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
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
fn refuse_damaged(input: &RestoreInput, args: &RestoreArgs) -> Result<()> {
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

async fn run_restore(mut args: RestoreArgs) -> Result<ExitCode> {
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

/// Prints the warnings by code; returns how many listed items are missing from the archive.
fn print_warning_counts(warnings: &[crate::model::Warning]) -> usize {
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
        for damage in report.problems() {
            println!("{damage}");
        }
        for file in &report.extra {
            println!("extra {file}");
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

fn config_dir() -> Result<PathBuf> {
    crate::config::Config::dir().ok_or_else(|| {
        Error::new(
            ErrorKind::Io,
            "no settings folder on this system; set LIFEBOAT_CONFIG_DIR",
        )
    })
}

fn load_config() -> Result<(PathBuf, crate::config::Config)> {
    let dir = config_dir()?;
    let config = crate::config::Config::load(&dir.join(crate::config::CONFIG_FILE))?;
    Ok((dir, config))
}

async fn run_profile(name: &str) -> Result<ExitCode> {
    use crate::schedule::status::Outcome;
    let cancel = cancel_on_interrupt();
    let (dir, config) = load_config()?;
    let profile = config.profile(name)?.clone();
    let secrets = crate::secrets::open_default();
    let progress = Arc::new(TerminalProgress::new("fetching"));
    let record =
        crate::schedule::run_profile(&profile, &dir, secrets.as_ref(), progress.clone(), &cancel)
            .await;
    progress.bar.finish_and_clear();
    let record = record?;
    match record.outcome {
        Outcome::Failed => {
            eprintln!("error: {}", record.message);
            Ok(ExitCode::FAILURE)
        }
        outcome => {
            println!(
                "Snapshot {} in {}",
                record.snapshot.as_deref().unwrap_or("?"),
                profile.destination.display()
            );
            println!("{}", record.message);
            println!(
                "{} downloaded in {:.1} s, {} requests",
                human_bytes(record.fetched_bytes),
                (record.finished - record.started).as_seconds_f64(),
                record.requests
            );
            for flag in &record.flags {
                println!("FLAGGED: {flag}");
            }
            if !record.pruned.is_empty() {
                println!("Removed old snapshots: {}", record.pruned.join(", "));
            }
            // A drop is not a failure of the run, but scripts should notice it.
            Ok(if outcome == Outcome::Flagged {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn profile_accounts(
    args: &ProfileAddArgs,
) -> Result<Vec<crate::schedule::profile::ProfileAccount>> {
    use crate::config::{Account, Preset};
    if args.sources.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "nothing to back up: give --url, --photos-url or --device",
        ));
    }
    let mut accounts = Vec::new();
    let user = args.sources.user.clone().unwrap_or_default();
    let mut add = |preset: Preset, address: String, user: String| {
        let id = format!("profile-{}-{}", args.name, accounts.len() + 1);
        accounts.push(crate::schedule::profile::ProfileAccount {
            account: Account {
                name: format!("{} {}", args.name, accounts.len() + 1),
                id,
                preset,
                address,
                user,
                ca_file: args.ca_file.clone(),
            },
            collections: Vec::new(),
        });
    };
    for url in &args.sources.urls {
        add(Preset::OtherDav, url.clone(), user.clone());
    }
    for url in &args.sources.photos_urls {
        add(Preset::WebdavPhotos, url.clone(), user.clone());
    }
    for device in &args.sources.devices {
        let absolute =
            std::path::absolute(device).map_err(|e| Error::io("resolving", device, e))?;
        add(
            Preset::Folder,
            absolute.to_string_lossy().into_owned(),
            String::new(),
        );
    }
    Ok(accounts)
}

fn profile_every(args: &ProfileAddArgs) -> Result<crate::schedule::policy::Every> {
    use crate::schedule::policy::{Every, parse_time};
    let at = parse_time(&args.at).map_err(|m| Error::new(ErrorKind::InvalidInput, m))?;
    Ok(match args.every {
        EveryArg::Hourly => Every::Hourly,
        EveryArg::Daily => Every::Daily { at },
        EveryArg::Weekly => Every::Weekly {
            on: args.on.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("not a day of the week: {:?} (mon, tue, ...)", args.on),
                )
            })?,
            at,
        },
    })
}

fn run_profile_command(command: ProfileCommand) -> Result<ExitCode> {
    use crate::schedule::profile::{Profile, check_name};
    let (dir, mut config) = load_config()?;
    let path = dir.join(crate::config::CONFIG_FILE);
    match command {
        ProfileCommand::Add(mut args) => {
            args.sources.take_user_names()?;
            check_name(&args.name)?;
            if config.profiles.iter().any(|p| p.name == args.name) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "a profile named {:?} exists; remove it first or pick another name",
                        args.name
                    ),
                ));
            }
            let accounts = profile_accounts(&args)?;
            let mut retention = crate::schedule::retention::Retention::default();
            for (value, field) in [
                (args.keep_last, &mut retention.keep_last),
                (args.keep_daily, &mut retention.keep_daily),
                (args.keep_weekly, &mut retention.keep_weekly),
                (args.keep_monthly, &mut retention.keep_monthly),
            ] {
                if let Some(value) = value {
                    *field = value;
                }
            }
            // Only --keep-last given: keep exactly that many, as the user said.
            if args.keep_last.is_some()
                && args.keep_daily.is_none()
                && args.keep_weekly.is_none()
                && args.keep_monthly.is_none()
            {
                retention.keep_daily = 0;
                retention.keep_weekly = 0;
                retention.keep_monthly = 0;
            }
            let destination = std::path::absolute(&args.dest)
                .map_err(|e| Error::io("resolving", &args.dest, e))?;
            let profile = Profile {
                name: args.name.clone(),
                every: profile_every(&args)?,
                accounts,
                destination,
                retention,
                drop_percent: args.drop_percent,
                enabled: true,
            };
            let needs_password: Vec<_> = profile
                .accounts
                .iter()
                .filter(|a| a.account.needs_password())
                .collect();
            if !needs_password.is_empty() && std::env::var(crate::schedule::TOKEN_ENV).is_err() {
                let credentials = credentials(args.sources.user.as_deref())?;
                if let crate::dav::http::Credentials::Basic { password, .. } = credentials {
                    let secrets = crate::secrets::open_default();
                    for chosen in &needs_password {
                        secrets.set(&chosen.account.id, &password)?;
                    }
                    if !secrets.is_persistent() {
                        eprintln!(
                            "warning: no system keyring here; scheduled runs need {} in their environment",
                            crate::schedule::PASSWORD_ENV
                        );
                    }
                }
            }
            println!(
                "Added profile {}: {} into {}, {}",
                profile.name,
                profile.every.describe(),
                profile.destination.display(),
                profile.retention.describe()
            );
            println!(
                "Run it now with `lifeboat run {0}`; schedule it with `lifeboat schedule install {0}`",
                profile.name
            );
            config.profiles.push(profile);
            config.save(&path)?;
        }
        ProfileCommand::List => {
            if config.profiles.is_empty() {
                println!("No profiles yet: `lifeboat profile add --help` shows how to add one.");
            }
            for profile in &config.profiles {
                let status =
                    crate::schedule::status::StatusFiles::for_profile(&dir, &profile.name).load();
                println!(
                    "{}: {} into {} ({} account(s); {}); last run: {}",
                    profile.name,
                    profile.every.describe(),
                    profile.destination.display(),
                    profile.accounts.len(),
                    profile.retention.describe(),
                    status.last().map_or_else(
                        || "never".to_owned(),
                        |r| format!("{:?} at {}", r.outcome, r.started.to_rfc3339())
                    )
                );
            }
        }
        ProfileCommand::Remove { name } => {
            let profile = config.profile(&name)?.clone();
            crate::schedule::install::remove(&name)?;
            let secrets = crate::secrets::open_default();
            for chosen in &profile.accounts {
                // Accounts shared with the window keep their password.
                if !config.accounts.iter().any(|a| a.id == chosen.account.id) {
                    let _ = secrets.delete(&chosen.account.id);
                }
            }
            config.profiles.retain(|p| p.name != name);
            config.save(&path)?;
            println!(
                "Removed profile {name}; its snapshots in {} stay.",
                profile.destination.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct ScheduleLine<'a> {
    profile: &'a str,
    every: String,
    installed: bool,
    enabled_in_app: bool,
    last_run: Option<&'a crate::schedule::status::RunRecord>,
    next_run: String,
}

fn run_schedule_command(command: ScheduleCommand) -> Result<ExitCode> {
    use crate::schedule::{install, policy, status::StatusFiles};
    let (dir, config) = load_config()?;
    match command {
        ScheduleCommand::Install { profile } => {
            let profile = config.profile(&profile)?;
            let log = StatusFiles::for_profile(&dir, &profile.name).log;
            let what = install::install(&profile.name, &profile.every, &log)?;
            println!("Installed {what}: {}", profile.every.describe());
        }
        ScheduleCommand::Remove { profile } => {
            config.profile(&profile)?;
            install::remove(&profile)?;
            println!("The OS will no longer run {profile}.");
        }
        ScheduleCommand::Accept { profile } => {
            let profile = config.profile(&profile)?;
            let accepted = crate::schedule::snapshot::accept_flagged(&profile.destination)?;
            if accepted.is_empty() {
                println!("No flagged snapshots in {}.", profile.destination.display());
            } else {
                println!(
                    "Accepted as good: {}. The next run compares against the newest of them.",
                    accepted.join(", ")
                );
            }
        }
        ScheduleCommand::Status { json } => {
            let now = chrono::Local::now().naive_local();
            let statuses: Vec<_> = config
                .profiles
                .iter()
                .map(|p| (p, StatusFiles::for_profile(&dir, &p.name).load()))
                .collect();
            let lines: Vec<ScheduleLine<'_>> = statuses
                .iter()
                .map(|(profile, status)| ScheduleLine {
                    profile: &profile.name,
                    every: profile.every.describe(),
                    installed: install::is_installed(&profile.name),
                    enabled_in_app: profile.enabled,
                    last_run: status.last(),
                    next_run: policy::decide(&profile.every, &status.history(), now).describe(),
                })
                .collect();
            if json {
                println!("{}", to_json(&lines));
            } else if lines.is_empty() {
                println!("No profiles yet: `lifeboat profile add --help` shows how to add one.");
            } else {
                for line in &lines {
                    println!(
                        "{}: {}, {}; last run: {}; next run: {}",
                        line.profile,
                        line.every,
                        if line.installed {
                            "scheduled with the OS"
                        } else {
                            "not scheduled with the OS"
                        },
                        line.last_run.map_or_else(
                            || "never".to_owned(),
                            |r| format!(
                                "{:?} at {} ({})",
                                r.outcome,
                                r.started
                                    .with_timezone(&chrono::Local)
                                    .format("%Y-%m-%d %H:%M"),
                                r.message
                            )
                        ),
                        line.next_run
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
