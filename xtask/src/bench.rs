//! `cargo xtask bench-compare`: per-iteration time and final error of our solvers next to
//! scikit-learn's, from the same starting factors, interleaved in one run on one machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use faer::{Mat, Par};
use nmf::prelude::*;

/// Arguments of `bench-compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Data matrix (.npy, float32).
    #[arg(long, default_value = "../shared/data/olivetti_faces.npy")]
    data: PathBuf,
    /// Numbers of components, comma-separated.
    #[arg(short = 'k', long, value_delimiter = ',', default_value = "50")]
    components: Vec<usize>,
    /// Iterations per fit (tol = 0).
    #[arg(long, default_value_t = 200)]
    iters: usize,
    /// Configurations: cd, mu-fro, mu-kl, mu-is (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "cd,mu-fro,mu-kl,mu-is")]
    solvers: Vec<String>,
    /// Threads for our fits (1 = sequential).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Python interpreter with scikit-learn.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Where to write bench.csv (and the shared starting factors).
    #[arg(long, default_value = "target/bench-compare")]
    out: PathBuf,
}

struct Row {
    config: String,
    k: usize,
    sk_iter: f64,
    ours_iter: f64,
    sk_err: f64,
    ours_err: f64,
}

fn sklearn(
    a: &Args,
    k: usize,
    solver: &str,
    beta: f64,
    offset: f64,
    dir: &Path,
) -> Result<serde_json::Value> {
    let out = Command::new(&a.python)
        .arg("scripts/bench_sklearn.py")
        .arg(&a.data)
        .args([
            k.to_string(),
            a.iters.to_string(),
            solver.into(),
            beta.to_string(),
            offset.to_string(),
        ])
        .arg(dir)
        .output()
        .with_context(|| format!("running {} (pip install scikit-learn)", a.python))?;
    if !out.status.success() {
        bail!(
            "scikit-learn side failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

pub fn run(a: Args) -> Result<()> {
    let x0: Mat<f32> = nmf::io::read_npy(&a.data)?;
    std::fs::create_dir_all(&a.out)?;
    let par = if a.threads <= 1 {
        Par::Seq
    } else {
        Par::rayon(a.threads)
    };
    let mut rows = Vec::new();
    println!(
        "data {} ({} x {}, f32), {} iterations, tol 0, nndsvda start shared; ours on {} thread(s)",
        a.data.display(),
        x0.nrows(),
        x0.ncols(),
        a.iters,
        a.threads
    );
    println!(
        "{:<8} {:>4} {:>14} {:>14} {:>8} {:>12} {:>12}",
        "config", "k", "sklearn s/it", "ours s/it", "ratio", "sklearn err", "ours err"
    );
    for &k in &a.components {
        for cfg in &a.solvers {
            let (solver, loss, offset) = match cfg.as_str() {
                "cd" => (SolverKind::Cd, Loss::Frobenius, 0.0),
                "mu-fro" => (SolverKind::Mu, Loss::Frobenius, 0.0),
                "mu-kl" => (SolverKind::Mu, Loss::KullbackLeibler, 0.0),
                // Itakura-Saito needs X > 0 (the faces contain a zero): both sides add 1e-3.
                "mu-is" => (SolverKind::Mu, Loss::ItakuraSaito, 1e-3),
                other => bail!("unknown configuration {other:?} (cd, mu-fro, mu-kl, mu-is)"),
            };
            let dir = a.out.join(format!("{cfg}-k{k}"));
            let sk = sklearn(&a, k, solver.name(), loss.beta(), offset, &dir)?;
            let w0: Mat<f32> = nmf::io::read_npy(dir.join("W0.npy"))?;
            let h0: Mat<f32> = nmf::io::read_npy(dir.join("H0.npy"))?;
            let x = Mat::from_fn(x0.nrows(), x0.ncols(), |i, j| x0[(i, j)] + offset as f32);
            let model = Nmf::params(k)
                .solver(solver)
                .loss(loss)
                .init(Init::Custom { w: w0, h: h0 })
                .tol(0.0)
                .max_iter(a.iters)
                .trace_every(0)
                .par(par)
                .fit(x.as_ref())?;
            let r = model.report();
            let row = Row {
                config: cfg.clone(),
                k,
                sk_iter: sk["seconds_per_iter"].as_f64().unwrap_or(f64::NAN),
                ours_iter: r.seconds_per_iter(),
                sk_err: sk["reconstruction_err"].as_f64().unwrap_or(f64::NAN),
                ours_err: r.reconstruction_err,
            };
            println!(
                "{:<8} {:>4} {:>12.3}ms {:>12.3}ms {:>7.2}x {:>12.4} {:>12.4}",
                row.config,
                row.k,
                row.sk_iter * 1e3,
                row.ours_iter * 1e3,
                row.sk_iter / row.ours_iter,
                row.sk_err,
                row.ours_err
            );
            rows.push(row);
        }
    }
    let mut csv = String::from(
        "config,k,iters,sklearn_s_per_iter,ours_s_per_iter,speedup,sklearn_err,ours_err\n",
    );
    for r in &rows {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.config,
            r.k,
            a.iters,
            r.sk_iter,
            r.ours_iter,
            r.sk_iter / r.ours_iter,
            r.sk_err,
            r.ours_err
        ));
    }
    std::fs::write(a.out.join("bench.csv"), csv)?;
    println!("wrote {}", a.out.join("bench.csv").display());
    Ok(())
}
