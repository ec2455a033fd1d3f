//! The `stemzip` executable (a console program on Windows): everything is
//! in [`stemzip::cli::main`], shared with `stemzip-gui`.

fn main() -> std::process::ExitCode {
    stemzip::cli::main()
}
