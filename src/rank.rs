//! Rank selection: for each k, several seeded fits, summarised by consensus stability
//! (cophenetic correlation, dispersion), error, and the agreement of their bases.

use faer::Mat;
use nmf_core::{DataRef, Float};
use nmf_init::Init;
use nmf_metrics::{cluster, stability};
use nmf_solvers::{NmfError, NmfParams};

/// One row of the rank-selection table.
#[derive(Debug, Clone)]
pub struct RankRow {
    /// Number of components.
    pub k: usize,
    /// Fits run.
    pub runs: usize,
    /// Cophenetic correlation of the consensus (None where undefined).
    pub cophenetic: Option<f64>,
    /// Dispersion of the consensus.
    pub dispersion: f64,
    /// Mean reconstruction error over runs.
    pub error_mean: f64,
    /// Standard deviation of the reconstruction error over runs.
    pub error_std: f64,
    /// Mean matched cosine similarity of the bases over all pairs of runs (1: identical).
    pub stability: f64,
    /// Mean purity over runs, when class labels are given.
    pub purity: Option<f64>,
    /// Mean entropy over runs, when class labels are given.
    pub entropy: Option<f64>,
    /// The consensus matrix (n_samples x n_samples).
    pub consensus: Mat<f64>,
    /// Wall-clock seconds for this k.
    pub seconds: f64,
}

/// Runs `runs` fits for every k in `ks` from `template` (its k is replaced; each run uses
/// `Init::Random` with seed 0, 1, ..., so runs differ and results are reproducible), calling
/// `on_row` as each k finishes. Runs of one k go in parallel (rayon), each fit on one thread.
/// `x` is dense (`x.as_ref()` of a `Mat`) or sparse (of a `SparseMat`).
///
/// # Errors
/// Any fit's error; `runs = 0`; labels of the wrong length.
pub fn select_rank<'a, T: Float>(
    x: impl Into<DataRef<'a, T>>,
    ks: &[usize],
    runs: usize,
    template: &NmfParams<T>,
    classes: Option<&[i64]>,
    mut on_row: impl FnMut(&RankRow),
) -> Result<Vec<RankRow>, NmfError> {
    use rayon::prelude::*;
    let x: DataRef<'a, T> = x.into();
    if runs == 0 {
        return Err(nmf_core::CoreError::invalid("runs", 0, "at least 1").into());
    }
    let mut out = Vec::new();
    for &k in ks {
        let start = std::time::Instant::now();
        let fits: Vec<_> = (0..runs as u64)
            .into_par_iter()
            .map(|seed| {
                template
                    .clone()
                    .n_components(k)
                    .init(Init::Random)
                    .seed(seed)
                    .par(faer::Par::Seq)
                    .fit(x)
            })
            .collect::<Result<_, _>>()?;
        let labels: Vec<Vec<usize>> = fits.iter().map(|f| cluster::labels(f.w())).collect();
        let consensus = cluster::consensus(&labels)?;
        let errs: Vec<f64> = fits.iter().map(|f| f.report().reconstruction_err).collect();
        let mean = errs.iter().sum::<f64>() / runs as f64;
        let var = errs.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / runs as f64;
        let mut sims = Vec::new();
        for a in 0..runs {
            for b in a + 1..runs {
                sims.push(stability::match_components(fits[a].h(), fits[b].h())?.mean);
            }
        }
        let stability = if sims.is_empty() {
            1.0
        } else {
            sims.iter().sum::<f64>() / sims.len() as f64
        };
        let (purity, entropy) = match classes {
            Some(c) => {
                let mut p = 0.0;
                let mut e = 0.0;
                for l in &labels {
                    p += cluster::purity(l, c)?;
                    e += cluster::entropy(l, c)?;
                }
                (Some(p / runs as f64), Some(e / runs as f64))
            }
            None => (None, None),
        };
        let row = RankRow {
            k,
            runs,
            cophenetic: cluster::cophenetic_correlation(consensus.as_ref()),
            dispersion: cluster::dispersion(consensus.as_ref()),
            error_mean: mean,
            error_std: var.sqrt(),
            stability,
            purity,
            entropy,
            consensus,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_row(&row);
        out.push(row);
    }
    Ok(out)
}
