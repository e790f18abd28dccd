//! `cargo xtask`: the project's commands (see `cargo xtask --help`).

mod bench;
mod draw;
mod grid;
mod initcmp;
mod png;
mod rank;
mod sparse;

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
    /// The main job: sweep alpha_W x l1_ratio (and pg sparseness targets), report sparseness and
    /// error of every point, with pictures and report.html.
    GridSearch(grid::Args),
    /// Time our solvers against scikit-learn's on the same data, init and iteration count.
    BenchCompare(bench::Args),
    /// Time and starting error of every initialisation, exact vs scikit-learn-compatible.
    InitCompare(initcmp::Args),
    /// Rank selection: consensus, dispersion, error and stability for several k.
    RankSelect(rank::Args),
    /// Dial in basis sparseness with pg next to scikit-learn's alpha_H-tuned mu and cd.
    SparseCompare(sparse::Args),
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::GridSearch(a) => grid::run(a),
        Cmd::BenchCompare(a) => bench::run(a),
        Cmd::SparseCompare(a) => sparse::run(a),
        Cmd::RankSelect(a) => rank::run(a),
        Cmd::InitCompare(a) => initcmp::run(a),
    };
    if let Err(e) = res {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
