//! `cargo xtask init-compare`: time and starting error of each initialisation, exact vs
//! scikit-learn-compatible NNDSVD, next to scikit-learn's own `_initialize_nmf`
//! (`scripts/init_compare_sklearn.py`).

use std::ffi::OsStr;
use std::num::NonZeroUsize;
use std::path::Path;

use anyhow::Result;
use faer::{Mat, Par};
use nmf::init::{Compat, Init, initialize};
use serde::Deserialize;

use nmf_cli::common::{self, DataFileArgs};

/// Arguments of `init-compare`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    data: DataFileArgs,
    /// Numbers of components.
    #[arg(short = 'k', long, value_delimiter = ',', default_value = "20,50,200")]
    components: Vec<usize>,
    /// Threads.
    #[arg(long, default_value = "2")]
    threads: NonZeroUsize,
    /// Python with scikit-learn (skipped if it fails).
    #[arg(long, default_value = "python3")]
    python: String,
}

/// One line of the script: an initialisation, its best time of 3 and ‖X − W0·H0‖_F.
#[derive(Deserialize)]
struct SklearnInit {
    init: String,
    seconds: f64,
    error: f64,
}

pub(crate) fn run(a: Args) -> Result<()> {
    let path = a.data.path()?;
    let x: Mat<f32> = nmf::io::read_npy(&path)?;
    let par = common::par(a.threads.get());
    println!(
        "{} ({} x {}), {} thread(s); error = ‖X − W0·H0‖_F before any iteration",
        path.display(),
        x.nrows(),
        x.ncols(),
        a.threads
    );
    println!(
        "{:>5} {:<10} {:<9} {:<38} {:>9} {:>12}",
        "k", "init", "mode", "svd", "seconds", "error"
    );
    for &k in &a.components {
        ours(&x, k, par)?;
        sklearn(&a.python, &path, k);
    }
    Ok(())
}

/// Each of our initialisations at k, in both modes.
fn ours(x: &Mat<f32>, k: usize, par: Par) -> Result<()> {
    for (init, name) in [
        (Init::NndsvdA, "nndsvda"),
        (Init::Nndsvd, "nndsvd"),
        (Init::Random, "random"),
    ] {
        for compat in [Compat::Native, Compat::Sklearn] {
            // Best of 3 to damp the noise of a shared machine.
            let mut best = f64::MAX;
            let mut f = None;
            for _ in 0..3 {
                let r = initialize(x.as_ref(), k, &init, 0, compat, par)?;
                best = best.min(r.report.seconds);
                f = Some(r);
            }
            let Some(f) = f else { continue };
            let err = nmf::loss::reconstruction_err(
                x.as_ref(),
                f.w.as_ref(),
                f.h.as_ref(),
                nmf::Loss::Frobenius,
                par,
            )?;
            println!(
                "{k:>5} {name:<10} {:<9} {:<38} {best:>9.4} {err:>12.4}",
                format!("{compat:?}"),
                f.report.svd.map_or("-".to_string(), |s| s.to_string()),
            );
        }
    }
    Ok(())
}

/// scikit-learn's rows at k; silently none when its side cannot run (no scikit-learn here).
fn sklearn(python: &str, path: &Path, k: usize) {
    let k_arg = k.to_string();
    let args = [path.as_os_str(), OsStr::new(&k_arg)];
    let Ok(out) = crate::python::run(python, "init_compare_sklearn.py", args) else {
        return;
    };
    for r in out
        .lines()
        .filter_map(|l| serde_json::from_str::<SklearnInit>(l).ok())
    {
        println!(
            "{k:>5} {:<10} {:<9} {:<38} {:>9.4} {:>12.4}",
            r.init, "sklearn", "scikit-learn 1.x _initialize_nmf", r.seconds, r.error
        );
    }
}
