//! The `stemzip` binary: parse the arguments, pick the front end, exit.

use std::process::ExitCode;

use clap::Parser;
use stemzip::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => stemzip::cli::run(&args),
        Some(Command::Gui(args)) => match stemzip::cli::gui_overlay(&args) {
            Ok(overlay) => window(args.profile, args.run, overlay),
            Err(status) => status,
        },
        Some(Command::Verify(args)) => stemzip::cli::verify(&args),
        None => window(None, false, None),
    }
}

#[cfg(feature = "gui")]
fn window(
    profile: Option<std::path::PathBuf>,
    run_now: bool,
    overlay: Option<stemzip::profile::Overlay>,
) -> ExitCode {
    let options = stemzip::gui::AppOptions {
        config_dir: stemzip::gui::config_dir(),
        profile,
        run_now,
        overlay,
    };
    match stemzip::gui::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "gui"))]
fn window(
    _profile: Option<std::path::PathBuf>,
    _run_now: bool,
    _overlay: Option<stemzip::profile::Overlay>,
) -> ExitCode {
    use clap::CommandFactory;
    eprintln!(
        "this stemzip was built without the window (feature `gui`); use `stemzip run PROFILE`"
    );
    let _ = Cli::command().print_help();
    ExitCode::from(stemzip::cli::EXIT_BAD_INPUT)
}
