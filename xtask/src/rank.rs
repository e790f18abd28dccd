//! `cargo xtask rank-select`: which k? Consensus stability, error and basis agreement per k.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use nmf::prelude::*;

/// Arguments of `rank-select`.
#[derive(clap::Args)]
pub struct Args {
    /// `swimmer`, `olivetti`, or a .npy/.csv path.
    #[arg(long, default_value = "swimmer")]
    dataset: String,
    /// Folder holding olivetti_faces.npy (default: $NMF_DATA_HOME, else ../shared/data).
    #[arg(long, env = "NMF_DATA_HOME")]
    data_home: Option<PathBuf>,
    /// Ranks to try, comma-separated.
    #[arg(short = 'k', long, value_delimiter = ',', default_value = "10,20,30")]
    components: Vec<usize>,
    /// Seeded runs per rank.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Class labels (.npy, integers) for purity and entropy; olivetti brings its own.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Solver of each fit (cd or mu).
    #[arg(long, default_value = "cd")]
    solver: String,
    /// Iteration limit of each fit.
    #[arg(long, default_value_t = 200)]
    max_iter: usize,
    /// Tolerance of each fit.
    #[arg(long, default_value_t = 1e-4)]
    tol: f64,
    /// Output folder.
    #[arg(long, default_value = "target/rank-select")]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    if a.runs == 0 || a.components.is_empty() || a.components.contains(&0) {
        bail!("--runs and every -k must be at least 1");
    }
    let solver: SolverKind = a.solver.parse()?;
    let data = nmf::datasets::load(&a.dataset, a.data_home.as_deref())?;
    let labels = match &a.labels {
        Some(p) => Some(nmf::io::read_npy_labels(p)?),
        None => data.labels.clone(),
    };
    if let Some(l) = &labels
        && l.len() != data.x.nrows()
    {
        bail!("{} labels for {} samples", l.len(), data.x.nrows());
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let csv_path = a.out.join("rank_selection.csv");
    let mut csv = std::fs::File::create(&csv_path)?;
    writeln!(
        csv,
        "k,runs,cophenetic,dispersion,error_mean,error_std,stability,purity,entropy,seconds"
    )?;
    println!(
        "{} ({} x {}), {} runs per k, {solver}",
        data.name,
        data.x.nrows(),
        data.x.ncols(),
        a.runs
    );
    println!(
        "{:>4} {:>10} {:>10} {:>10} {:>9} {:>9} {:>7} {:>7} {:>7}",
        "k",
        "cophenetic",
        "dispersion",
        "error",
        "err_std",
        "stability",
        "purity",
        "entropy",
        "seconds"
    );
    let template = Nmf::params::<f32>(1)
        .solver(solver)
        .max_iter(a.max_iter)
        .tol(a.tol);
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let mut failure = None;
    nmf::select_rank(
        data.x.as_ref(),
        &a.components,
        a.runs,
        &template,
        labels.as_deref(),
        |r| {
            println!(
                "{:>4} {:>10.4} {:>10.4} {:>10.4} {:>9.4} {:>9.4} {:>7} {:>7} {:>7.1}",
                r.k,
                r.cophenetic.unwrap_or(f64::NAN),
                r.dispersion,
                r.error_mean,
                r.error_std,
                r.stability,
                r.purity.map_or("-".into(), |v| format!("{v:.4}")),
                r.entropy.map_or("-".into(), |v| format!("{v:.4}")),
                r.seconds
            );
            let line = format!(
                "{},{},{},{},{},{},{},{},{},{}",
                r.k,
                r.runs,
                opt(r.cophenetic),
                r.dispersion,
                r.error_mean,
                r.error_std,
                r.stability,
                opt(r.purity),
                opt(r.entropy),
                r.seconds
            );
            let res = writeln!(csv, "{line}").and_then(|_| csv.flush());
            // Heatmap with samples in dendrogram order, so clusters show as diagonal blocks.
            let n = r.consensus.nrows();
            let order = nmf::metrics::cluster::leaf_order(r.consensus.as_ref());
            let values: Vec<f64> = (0..n * n)
                .map(|p| r.consensus[(order[p / n], order[p % n])])
                .collect();
            let scale = (400 / n.max(1)).max(1);
            let png = a.out.join(format!("consensus_k{}.png", r.k));
            if let Err(e) = res
                .map_err(anyhow::Error::from)
                .and_then(|_| crate::png::matrix_heatmap(&png, &values, n, scale))
            {
                failure.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    println!("wrote {} and consensus_k*.png", csv_path.display());
    Ok(())
}
