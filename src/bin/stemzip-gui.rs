//! `stemzip-gui`: the same program as `stemzip`, built for the Windows GUI
//! subsystem, so that starting it from Explorer or a shortcut opens the
//! window with no console window beside it. (A console program cannot drop
//! its console without `unsafe` calls, which this crate forbids; a GUI
//! program started from a terminal does not print there, so `stemzip.exe`
//! stays the one for `stemzip run`.) Elsewhere the attribute does nothing.
#![windows_subsystem = "windows"]

fn main() -> std::process::ExitCode {
    stemzip::cli::main()
}
