//! `cargo xtask`: parses the command line and runs the command (see `cargo xtask --help`).

use clap::Parser;

fn main() {
    if let Err(e) = xtask::Cli::parse().run() {
        // One line per cause, no backtrace: these are user-facing errors.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
