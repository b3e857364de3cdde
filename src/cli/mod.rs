//! The command line: clap arguments to validated settings, terminal progress and summaries.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a CLI's job is to print

// One file per command (export, restore, archive: verify and ls, profile: run, profile,
// schedule), the arguments in args.rs and the terminal bar in progress.rs.
mod archive;
mod args;
mod export;
mod profile;
mod progress;
mod restore;

use self::{
    archive::{run_ls, run_verify},
    args::{
        Cli, Command, EveryArg, ExportArgs, OnConflict, ProfileAddArgs, ProfileCommand,
        RestoreArgs, ScheduleCommand, take_user_names,
    },
    export::run_export,
    profile::{run_profile, run_profile_command, run_schedule_command},
    progress::TerminalProgress,
    restore::run_restore,
};
pub use args::FirstScreen;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::config::AccountKind;
use crate::connect::Endpoint;
use crate::dav::http::Credentials;
use crate::error::{Error, ErrorKind, Result};
use crate::progress::CancelToken;

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

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn human_bytes(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
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
