//! `cargo xtask`: the project's commands (see `cargo xtask --help`).

mod bench;

use clap::{Parser, Subcommand};

/// nmf-rs commands.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Time our solvers against scikit-learn's on the same data, init and iteration count.
    BenchCompare(bench::Args),
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::BenchCompare(a) => bench::run(a),
    };
    if let Err(e) = res {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
