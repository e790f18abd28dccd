//! # nmf-cli
//!
//! The `nmf` command: nonnegative matrix factorization of `.npy`, `.csv`, `.npz` and `.mtx` files
//! without writing Rust. `nmf fit DATA -k K -o DIR` writes `W.npy`, `H.npy` and `model.json`;
//! `nmf transform --model DIR NEW.npy -o W.npy` reuses the model in another process; `nmf info`,
//! `nmf grid-search` and `nmf rank-select` describe the data, sweep the penalties and pick k.
//!
//! This library holds the command line ([`Cli`]) and the jobs, so that `cargo xtask` runs the
//! same `grid-search` and `rank-select` code and the man page and shell completions are
//! generated from the same definitions:
//!
//! ```
//! use clap::Parser;
//! use nmf_cli::Cli;
//!
//! let dir = std::env::temp_dir().join(format!("nmf-cli-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let data = dir.join("x.csv");
//! std::fs::write(&data, "1,2,3\n2,4,6\n3,6,9.5\n1,1,1\n")?;
//! let out = dir.join("model");
//! let cli = Cli::try_parse_from([
//!     "nmf", "fit", data.to_str().unwrap(), "-k", "2", "--quiet", "-o", out.to_str().unwrap(),
//! ])?;
//! cli.run()?;
//! let model: nmf::NmfModel<f64> = nmf::model_file::ModelFiles::load(&out)?;
//! assert_eq!(model.h().nrows(), 2);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Exit codes of the binary: 0 success, 1 bad input or a failed job (one line on stderr naming
//! the problem; with `--json`, also `{"ok": false, "error": ...}` on stdout), 2 usage errors.
//!
//! Modules: `cli` (the clap definitions), `data` (reading DATA in its own precision), `fit`
//! (`fit`, `transform`, `inverse-transform`), `info`, `progress` (bars on a terminal, plain
//! lines otherwise), and the jobs shared with `cargo xtask`: [`grid`] (split by stage) and
//! [`rank`] with `rank_cv`, over `common` (dataset flags, CSV number format), `charts` (SVG
//! charts with plotters) and `png`.

#[doc(hidden)]
pub mod charts;
mod cli;
#[doc(hidden)]
pub mod common;
mod data;
mod fit;
pub mod grid;
mod info;
#[doc(hidden)]
pub mod png;
mod progress;
pub mod rank;
mod rank_cv;

pub use cli::{Cli, Command, FitArgs, InfoArgs, InverseArgs, TransformArgs};

/// Whether a failure is a usage error (exit 2) rather than bad input (exit 1).
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if e.downcast_ref::<clap::Error>().is_some() {
        2
    } else {
        1
    }
}
