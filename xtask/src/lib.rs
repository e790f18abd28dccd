//! `cargo xtask`: the project's commands (see `cargo xtask --help`), as a library so that its
//! tests can use the file formats it writes (the grid's [`grid::rows::Row`]).
//!
//! The user-facing jobs (`grid-search`, `rank-select`) live in the `nmf-cli` crate, which the
//! installed `nmf` command runs too; xtask adds the developer commands that compare with
//! scikit-learn (`python`: the scripts of `scripts/`) and time our kernels.

mod bench;
mod bench_masked;
mod initcmp;
mod python;
mod sparse;

pub use nmf_cli::grid;
use nmf_cli::rank;

use anyhow::Result;
use clap::Subcommand;

/// nmf-rs commands.
#[derive(clap::Parser)]
#[command(name = "cargo xtask", version, about)]
pub struct Cli {
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
    /// Cost per iteration of masked fits (dense and sparse weights) against unmasked ones.
    BenchMasked(bench_masked::Args),
    /// Time and starting error of every initialisation, exact vs scikit-learn-compatible.
    InitCompare(initcmp::Args),
    /// Rank selection: consensus, dispersion, error and stability for several k.
    RankSelect(rank::Args),
    /// Dial in basis sparseness with pg next to scikit-learn's alpha_H-tuned mu and cd.
    SparseCompare(sparse::Args),
    /// Peers side by side (scikit-learn, RcppML, R NMF, nimfa, PyPI nmf-rs): per-iteration time
    /// and time to a common error. Runs scripts/bench_peers.py; `-- --setup` makes its venvs.
    BenchPeers {
        /// The Python that runs the script (it needs numpy, scipy and scikit-learn).
        #[arg(long, default_value = "python3")]
        python: String,
        /// The script's own flags (`--setup`, `--k 10,50`, `--repeat 5`, `--quick`, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

impl Cli {
    /// Runs the chosen command.
    pub fn run(self) -> Result<()> {
        match self.cmd {
            Cmd::GridSearch(a) => grid::run(a),
            Cmd::BenchCompare(a) => bench::run(a),
            Cmd::BenchMasked(a) => bench_masked::run(a),
            Cmd::SparseCompare(a) => sparse::run(a),
            Cmd::RankSelect(a) => rank::run(a),
            Cmd::InitCompare(a) => initcmp::run(a),
            Cmd::BenchPeers { python, args } => python::exec(&python, "bench_peers.py", args),
        }
    }
}
