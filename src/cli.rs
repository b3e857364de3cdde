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
use crate::model::ItemKind;
use crate::progress::{CancelToken, JobEvent, Progress};
use crate::source::Source;
use crate::source::dav::DavSource;
use crate::source::device::DeviceSource;
use crate::source::http::{Credentials, HttpClient, HttpSettings};
use crate::source::photos::PhotoSource;

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
    /// Re-check every file of an archive against its manifest.
    Verify {
        archive: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
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

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        println!(
            "Lifeboat {}: the desktop window is not part of this build yet.",
            env!("CARGO_PKG_VERSION")
        );
        println!(
            "Use the commands instead, for example:\n  lifeboat export --device /media/phone --out backup.zip\nSee `lifeboat --help`."
        );
        return ExitCode::SUCCESS;
    };
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
            Command::Verify { archive, json } => run_verify(&archive, json),
            Command::Ls { archive, json } => run_ls(&archive, json),
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
    warnings_shown: AtomicUsize,
}

/// Warnings printed as they happen; the rest are counted in the summary and the manifest.
const LIVE_WARNINGS: usize = 20;

impl TerminalProgress {
    fn new() -> Self {
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
                self.bar.set_message(format!("fetching {name}"))
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
    let cancel = CancelToken::default();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let started = std::time::Instant::now();
    let progress = Arc::new(TerminalProgress::new());
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
                    collection.items.len()
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
