//! `cargo xtask bench-masked`: the cost per iteration of a masked fit against the unmasked one
//! on the same data, start and iteration count, for both weight representations (dense weights;
//! sparse weights, which visit the observed entries only), written to `bench_masked.csv` as each
//! row finishes. With `--mask FILE` the mask comes from a file (raw `u8`, row-major, 1 =
//! observed), e.g. the one a side-by-side run of another library used.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use faer::Mat;
use nmf::prelude::*;

use nmf_cli::common::DataFileArgs;

/// Arguments of `bench-masked`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    data: DataFileArgs,
    /// Numbers of components, comma-separated.
    #[arg(short = 'k', long, value_delimiter = ',', default_value = "10,50")]
    components: Vec<usize>,
    /// Iterations per fit (tol = 0).
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Timed runs per configuration; the fastest counts.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Fraction of each row's entries missing at random (ignored with --mask).
    #[arg(long, default_value_t = 0.3)]
    missing: f64,
    /// A mask file: n x m bytes, row-major, 1 = observed, 0 = missing.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "target/bench-masked")]
    out: PathBuf,
}

/// Fastest per-iteration seconds of `repeats` fixed-iteration fits.
fn per_iter(p: &nmf::NmfParams<f64>, x: &Mat<f64>, iters: usize, repeats: usize) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let model = p.fit(x.as_ref())?;
        best = best.min(model.report().solver_seconds / iters as f64);
    }
    Ok(best)
}

pub(crate) fn run(a: Args) -> Result<()> {
    let x: Mat<f64> = nmf::io::read_npy(a.data.path()?)?;
    let (n, m) = x.shape();
    let mask = match &a.mask {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            if bytes.len() != n * m {
                bail!(
                    "{}: {} bytes for a {n} x {m} mask",
                    p.display(),
                    bytes.len()
                );
            }
            Mat::from_fn(n, m, |i, j| f64::from(bytes[i * m + j] != 0))
        }
        None => Mat::from_fn(n, m, |i, j| {
            f64::from(nmf::cv::position_uniform(2024, i, j) >= a.missing)
        }),
    };
    let mut observed = 0usize;
    mask.as_ref()
        .for_each(|&v| observed += usize::from(v > 0.0));
    let sparse_mask = SparseMat::from_dense(mask.as_ref())?;
    std::fs::create_dir_all(&a.out)?;
    let csv_path = a.out.join("bench_masked.csv");
    let mut csv = std::fs::File::create(&csv_path)?;
    writeln!(
        csv,
        "solver,k,unmasked_ms,dense_weights_ms,sparse_weights_ms"
    )?;
    println!(
        "{n} x {m}, {observed} observed ({:.1}%), {} iterations, fastest of {}, f64, every core",
        100.0 * observed as f64 / (n * m) as f64,
        a.iters,
        a.repeats
    );
    println!(
        "{:>8} {:>4} {:>12} {:>16} {:>17} {:>8} {:>8}",
        "solver",
        "k",
        "unmasked ms",
        "dense weights ms",
        "sparse weights ms",
        "dense/un",
        "sparse/un"
    );
    for &k in &a.components {
        let start = nmf::init::initialize(
            x.as_ref(),
            k,
            &Init::NndsvdA,
            0,
            Compat::Native,
            faer::Par::rayon(0),
        )?;
        for (name, solver, loss) in [
            ("cd", SolverKind::Cd, Loss::Frobenius),
            ("mu-fro", SolverKind::Mu, Loss::Frobenius),
            ("mu-kl", SolverKind::Mu, Loss::KullbackLeibler),
        ] {
            let p = Nmf::params(k)
                .solver(solver)
                .loss(loss)
                .init(Init::Custom {
                    w: start.w.clone(),
                    h: start.h.clone(),
                })
                .tol(0.0)
                .max_iter(a.iters)
                .trace_every(0);
            let un = per_iter(&p, &x, a.iters, a.repeats)?;
            let dense = per_iter(&p.clone().weights(mask.as_ref()), &x, a.iters, a.repeats)?;
            let sparse = per_iter(&p.clone().weights(&sparse_mask), &x, a.iters, a.repeats)?;
            println!(
                "{name:>8} {k:>4} {:>12.2} {:>16.2} {:>17.2} {:>8.2} {:>8.2}",
                1e3 * un,
                1e3 * dense,
                1e3 * sparse,
                dense / un,
                sparse / un
            );
            writeln!(
                csv,
                "{name},{k},{},{},{}",
                1e3 * un,
                1e3 * dense,
                1e3 * sparse
            )?;
            csv.flush()?;
        }
    }
    println!("wrote {}", csv_path.display());
    Ok(())
}
