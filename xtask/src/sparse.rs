//! `cargo xtask sparse-compare`: basis sparseness dialled in by `pg` (Hoyer) next to what
//! scikit-learn's `mu` and `cd` reach with `alpha_H` tuned for the same mean sparseness.

use std::num::NonZeroUsize;

use anyhow::Result;
use faer::{Mat, Par};
use nmf::prelude::*;
use nmf::sparseness::hoyer;
use serde::Deserialize;

use nmf_cli::common::{self, DataFileArgs};

/// Arguments of `sparse-compare`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    data: DataFileArgs,
    /// Number of components.
    #[arg(short = 'k', long, default_value_t = 25)]
    components: usize,
    /// Iteration limit (tol 1e-4).
    #[arg(long, default_value_t = 200)]
    max_iter: usize,
    /// Target mean basis sparseness values.
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5,0.7,0.9")]
    targets: Vec<f64>,
    /// Threads of our fits (default: all cores).
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Skip the scikit-learn side.
    #[arg(long)]
    no_sklearn: bool,
    /// Python interpreter with scikit-learn.
    #[arg(long, default_value = "python3")]
    python: String,
}

/// One line of `scripts/sparse_compare_sklearn.py`: a solver at a target, and what alpha_H
/// reached it (`None`: unreachable).
#[derive(Deserialize)]
struct SklearnLine {
    solver: String,
    target: f64,
    result: Option<SklearnResult>,
}

#[derive(Deserialize)]
struct SklearnResult {
    #[serde(rename = "alpha_H")]
    alpha_h: f64,
    mean: f64,
    min: f64,
    max: f64,
    err: f64,
    seconds: f64,
    /// Components whose row of H is all zero.
    dead: u64,
}

pub(crate) fn run(a: Args) -> Result<()> {
    let path = a.data.path()?;
    let x: Mat<f32> = nmf::io::read_npy(&path)?;
    ours(&a, &x)?;
    if a.no_sklearn {
        return Ok(());
    }
    sklearn(&a, &path)
}

/// pg at every target: the mean, least and most sparse basis vector.
fn ours(a: &Args, x: &Mat<f32>) -> Result<()> {
    // `Par::rayon(0)` is faer's "every core".
    let par = a.threads.map_or(Par::rayon(0), |n| common::par(n.get()));
    println!(
        "pg (Hoyer nmfsc), k = {}, max_iter {}, tol 1e-4, every row of H at the target:",
        a.components, a.max_iter
    );
    println!(
        "{:>7} {:>7} {:>7} {:>7} {:>10} {:>8} {:>6}",
        "target", "mean", "min", "max", "err", "seconds", "iters"
    );
    for &t in &a.targets {
        let model = Nmf::params(a.components)
            .solver(SolverKind::ProjectedGradient)
            .h_sparseness(t)
            .max_iter(a.max_iter)
            .tol(1e-4)
            .par(par)
            .fit(x.as_ref())?;
        let s: Vec<f64> = (0..a.components)
            .map(|r| hoyer(model.h().row(r).iter().map(|&v| v as f64)))
            .collect();
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        let (lo, hi) = s
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let r = model.report();
        println!(
            "{t:>7.2} {mean:>7.4} {lo:>7.4} {hi:>7.4} {:>10.3} {:>8.2} {:>6}",
            r.reconstruction_err, r.seconds, r.n_iter
        );
    }
    Ok(())
}

/// scikit-learn's side: alpha_H bisected per solver and target by the script.
fn sklearn(a: &Args, path: &std::path::Path) -> Result<()> {
    println!(
        "scikit-learn, alpha_H bisected (l1_ratio 1, alpha_W 0, nndsvda) to reach the target mean:"
    );
    let mut args = vec![
        path.display().to_string(),
        a.components.to_string(),
        a.max_iter.to_string(),
    ];
    args.extend(a.targets.iter().map(|t| t.to_string()));
    let out = crate::python::run(&a.python, "sparse_compare_sklearn.py", &args)?;
    println!(
        "{:>6} {:>7} {:>10} {:>7} {:>7} {:>7} {:>10} {:>8} {:>5}",
        "solver", "target", "alpha_H", "mean", "min", "max", "err", "seconds", "dead"
    );
    for line in out.lines() {
        let v: SklearnLine = serde_json::from_str(line)?;
        let Some(r) = v.result else {
            println!(
                "{:>6} {:>7} unreachable (alpha_H up to 1e3)",
                v.solver, v.target
            );
            continue;
        };
        println!(
            "{:>6} {:>7} {:>10.3e} {:>7.4} {:>7.4} {:>7.4} {:>10.3} {:>8.2} {:>5}",
            v.solver, v.target, r.alpha_h, r.mean, r.min, r.max, r.err, r.seconds, r.dead
        );
    }
    Ok(())
}
