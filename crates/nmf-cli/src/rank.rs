//! `cargo xtask rank-select`: which k? Consensus stability, error and basis agreement per k,
//! printed, written to `rank_selection.csv` and drawn as consensus heatmaps.

use std::fs::File;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nmf::RankRow;
use nmf::prelude::*;
use serde::Serialize;

use crate::common::{DatasetArgs, text};

/// Arguments of `rank-select`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DatasetArgs,
    /// Ranks to try, comma-separated.
    #[arg(short = 'k', long, value_delimiter = ',', default_value = "10,20,30")]
    components: Vec<usize>,
    /// Seeded runs per rank.
    #[arg(long, default_value = "5")]
    runs: NonZeroUsize,
    /// Class labels (.npy, integers) for purity and entropy; olivetti brings its own.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Solver of each fit (cd or mu).
    #[arg(long, default_value = "cd")]
    solver: SolverKind,
    /// Iteration limit of each fit.
    #[arg(long, default_value_t = 200)]
    max_iter: usize,
    /// Tolerance of each fit.
    #[arg(long, default_value_t = 1e-4)]
    tol: f64,
    /// alpha_W of each fit (alpha_H is the same); a small ridge keeps masked fits at large k
    /// from putting arbitrary mass on entries nothing observed constrains.
    #[arg(long, default_value_t = 0.0)]
    alpha_w: f64,
    /// l1_ratio of each fit.
    #[arg(long, default_value_t = 0.0)]
    l1_ratio: f64,
    /// Runs of one k fitted at once, one thread each (default: all cores).
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// Output folder.
    #[arg(long, default_value = "target/rank-select")]
    out: PathBuf,
    /// Also cross-validate: hold out this fraction of the entries (e.g. 0.05), fit the rest
    /// with a masked NMF per k and score the held-out entries (`rank_cv.csv`, `rank_cv.svg`).
    #[arg(long, value_name = "FRACTION")]
    cv: Option<f64>,
    /// Hold-out sets (replicates) per k for `--cv`.
    #[arg(long, default_value_t = 3)]
    cv_replicates: usize,
    /// Seed of the `--cv` hold-out draws.
    #[arg(long, default_value_t = 0)]
    cv_seed: u64,
    /// With `--cv`: skip the consensus runs.
    #[arg(long)]
    cv_only: bool,
}

/// One line of `rank_selection.csv`; purity and entropy are empty without labels.
#[derive(Serialize)]
struct CsvRow {
    k: usize,
    runs: usize,
    #[serde(with = "text::opt")]
    cophenetic: Option<f64>,
    #[serde(with = "text")]
    dispersion: f64,
    #[serde(with = "text")]
    error_mean: f64,
    #[serde(with = "text")]
    error_std: f64,
    #[serde(with = "text")]
    stability: f64,
    #[serde(with = "text::opt")]
    purity: Option<f64>,
    #[serde(with = "text::opt")]
    entropy: Option<f64>,
    #[serde(with = "text")]
    seconds: f64,
}

impl From<&RankRow> for CsvRow {
    fn from(r: &RankRow) -> Self {
        CsvRow {
            k: r.k,
            runs: r.runs,
            cophenetic: r.cophenetic,
            dispersion: r.dispersion,
            error_mean: r.error_mean,
            error_std: r.error_std,
            stability: r.stability,
            purity: r.purity,
            entropy: r.entropy,
            seconds: r.seconds,
        }
    }
}

/// Runs `rank-select`.
pub fn run(a: Args) -> Result<()> {
    let template = Nmf::params::<f32>(1)
        .solver(a.solver)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .alpha_w(a.alpha_w)
        .l1_ratio(a.l1_ratio);
    // The library's rules, before any output exists (select_rank would find them at the first
    // fit, after the CSV was created).
    for &k in &a.components {
        template
            .clone()
            .n_components(k)
            .check()
            .with_context(|| format!("-k {k}"))?;
    }
    let data = a.data.load()?;
    let labels = match &a.labels {
        Some(p) => Some(nmf::io::read_npy_labels(p)?),
        None => data.labels.clone(),
    };
    if let Some(l) = &labels
        && l.len() != data.nrows()
    {
        bail!("{} labels for {} samples", l.len(), data.nrows());
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    if let Some(fraction) = a.cv {
        let opts = nmf::cv::CvOptions {
            fraction,
            replicates: a.cv_replicates,
            seed: a.cv_seed,
            ..Default::default()
        };
        let cv = || crate::rank_cv::run(data.data(), &a.components, &template, &opts, &a.out);
        match a.threads {
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n.get())
                .build()?
                .install(cv)?,
            None => cv()?,
        };
        if a.cv_only {
            return Ok(());
        }
    } else if a.cv_only {
        bail!("--cv-only needs --cv FRACTION");
    }
    let csv_path = a.out.join("rank_selection.csv");
    let mut csv = csv::Writer::from_path(&csv_path)?;
    print_header(&a, &data);
    let mut failure = None;
    let mut select = || {
        nmf::select_rank(
            data.data(),
            &a.components,
            a.runs.get(),
            &template,
            labels.as_deref(),
            |r| {
                if let Err(e) = on_row(r, &mut csv, &a.out) {
                    failure.get_or_insert(e);
                }
            },
        )
    };
    match a.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.get())
            .build()?
            .install(select)?,
        // rayon's global pool: every core.
        None => select()?,
    };
    if let Some(e) = failure {
        return Err(e);
    }
    println!("wrote {} and consensus_k*.png", csv_path.display());
    Ok(())
}

fn print_header(a: &Args, data: &crate::common::Input) {
    println!(
        "{} ({} x {}{}), {} runs per k, {}",
        data.name,
        data.nrows(),
        data.ncols(),
        if data.is_sparse() { ", sparse" } else { "" },
        a.runs,
        a.solver
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
}

/// One finished k: printed, appended (and flushed) to the CSV, its consensus drawn.
fn on_row(r: &RankRow, csv: &mut csv::Writer<File>, out: &Path) -> Result<()> {
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
    csv.serialize(CsvRow::from(r))?;
    csv.flush()?;
    // Heatmap with samples in dendrogram order, so clusters show as diagonal blocks.
    let n = r.consensus.nrows();
    let order = nmf::metrics::cluster::leaf_order(r.consensus.as_ref());
    let values: Vec<f64> = (0..n * n)
        .map(|p| r.consensus[(order[p / n], order[p % n])])
        .collect();
    let scale = (400 / n.max(1)).max(1);
    let png = out.join(format!("consensus_k{}.png", r.k));
    crate::png::matrix_heatmap(&png, &values, n, scale)
}
