//! `cargo xtask sparse-compare`: basis sparseness dialled in by `pg` (Hoyer) next to what
//! scikit-learn's `mu` and `cd` reach with `alpha_H` tuned for the same mean sparseness.

use std::path::PathBuf;

use anyhow::Result;
use faer::{Mat, Par};
use nmf::prelude::*;
use nmf::sparseness::hoyer;

/// Arguments of `sparse-compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Data matrix (.npy).
    #[arg(long, default_value = "../shared/data/olivetti_faces.npy")]
    data: PathBuf,
    /// Number of components.
    #[arg(short = 'k', long, default_value_t = 25)]
    components: usize,
    /// Iteration limit (tol 1e-4).
    #[arg(long, default_value_t = 200)]
    max_iter: usize,
    /// Target mean basis sparseness values.
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.5,0.7,0.9")]
    targets: Vec<f64>,
    /// Skip the scikit-learn side.
    #[arg(long)]
    no_sklearn: bool,
    /// Python interpreter with scikit-learn.
    #[arg(long, default_value = "python3")]
    python: String,
}

pub fn run(a: Args) -> Result<()> {
    let x: Mat<f32> = nmf::io::read_npy(&a.data)?;
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
            .par(Par::rayon(0))
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
    if a.no_sklearn {
        return Ok(());
    }
    println!(
        "scikit-learn, alpha_H bisected (l1_ratio 1, alpha_W 0, nndsvda) to reach the target mean:"
    );
    let targets: Vec<String> = a.targets.iter().map(|t| t.to_string()).collect();
    let mut args = vec![
        a.data.display().to_string(),
        a.components.to_string(),
        a.max_iter.to_string(),
    ];
    args.extend(targets);
    let out = crate::python::run(&a.python, "sparse_compare_sklearn.py", &args)?;
    println!(
        "{:>6} {:>7} {:>10} {:>7} {:>7} {:>7} {:>10} {:>8} {:>5}",
        "solver", "target", "alpha_H", "mean", "min", "max", "err", "seconds", "dead"
    );
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let r = &v["result"];
        if r.is_null() {
            println!(
                "{:>6} {:>7} unreachable (alpha_H up to 1e3)",
                v["solver"].as_str().unwrap_or("?"),
                v["target"]
            );
            continue;
        }
        println!(
            "{:>6} {:>7} {:>10.3e} {:>7.4} {:>7.4} {:>7.4} {:>10.3} {:>8.2} {:>5}",
            v["solver"].as_str().unwrap_or("?"),
            v["target"],
            r["alpha_H"].as_f64().unwrap_or(f64::NAN),
            r["mean"].as_f64().unwrap_or(f64::NAN),
            r["min"].as_f64().unwrap_or(f64::NAN),
            r["max"].as_f64().unwrap_or(f64::NAN),
            r["err"].as_f64().unwrap_or(f64::NAN),
            r["seconds"].as_f64().unwrap_or(f64::NAN),
            r["dead"]
        );
    }
    Ok(())
}
