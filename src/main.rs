//! The `lifeboat` binary: runs the command line, or opens the window when that is what it
//! asked for (the only place both fronts meet).

use std::process::ExitCode;

use lifeboat::cli::{FirstScreen, Run};
use lifeboat::gui::command::Screen;

fn main() -> ExitCode {
    match lifeboat::cli::main() {
        Run::Done(code) => code,
        Run::Window { paths, screen } => {
            let screen = screen.map(|screen| match screen {
                FirstScreen::Accounts => Screen::Accounts,
                FirstScreen::Backup => Screen::Backup,
                FirstScreen::Restore => Screen::Restore,
                FirstScreen::Browse => Screen::Browse,
                FirstScreen::Schedules => Screen::Schedules,
            });
            match lifeboat::gui::run(lifeboat::gui::Start { paths, screen }) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    eprintln!("hint: the commands work without a display; see `lifeboat --help`");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
