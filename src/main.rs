//! The `lifeboat` binary: parses the command line and runs the command.

fn main() -> std::process::ExitCode {
    lifeboat::cli::main()
}
