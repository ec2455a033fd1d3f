//! The `stemzip` binary: parse the arguments, pick the front end, exit.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use stemzip::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => stemzip::cli::run(&args),
        None => {
            // The window comes with the desktop issue; until then, help.
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
    }
}
