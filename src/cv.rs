//! Cross-validated rank selection: hold out a seeded fraction of the observed entries, fit the
//! rest with a weighted (masked) NMF for each k, and score the error on the held-out entries.
//! The k with the lowest mean test error wins; its spread across replicates and the smallest k
//! within one standard error of it are reported too (docs/missing.md, "Choosing k").
//!
//! The hold-out set of replicate r is `{(i, j) : u(seed + r, i, j) < fraction}` with `u` a
//! counter-based hash of the position (SplitMix64), so it needs no storage and does not depend
//! on the thread count. Every row and column keeps at least one training entry: where the draw
//! would take them all, the first held-out entry (in reading order) goes back to training.
//! Initialisations see only the training entries (held-out values are zeroed before any SVD).
//!
//! ```
//! use nmf::cv::{CvOptions, cross_validate};
//! use nmf::prelude::*;
//! // A rank-2 matrix: the test error bottoms out at k = 2.
//! let x = faer::Mat::<f64>::from_fn(30, 20, |i, j| (1 + i % 3) as f64 * (1 + j % 4) as f64 + ((i * j) % 2) as f64);
//! let rows = cross_validate(x.as_ref(), &[1, 2, 4], &Nmf::params(1).max_iter(300), &CvOptions::default(), |_| {})?;
//! assert_eq!(rows.len(), 3);
//! assert!(rows.iter().all(|r| r.test_mean.is_finite() && r.held_out > 0));
//! # Ok::<(), nmf::NmfError>(())
//! ```

use faer::MatRef;
use nmf_core::mat;
use nmf_core::observed::entry_divergence;
use nmf_core::{CoreError, DataRef, Float, Missing, SparseMat, Weights};
use nmf_solvers::{NmfError, NmfModel, NmfParams};

/// Which entries may be held out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CvEntries {
    /// Dense X: every entry (not NaN with `Missing::Nan`); sparse X: only the stored entries,
    /// with unstored ones unobserved in training too (`mask_zeros`, the recommender setting).
    #[default]
    Auto,
    /// Every entry, zeros included (a sparse X then gets dense n x m weights).
    All,
    /// Only the stored entries of a sparse X (as `Auto` for sparse data).
    Stored,
}

/// Options of [`cross_validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct CvOptions {
    /// Fraction of the candidate entries held out per replicate, in (0, 0.5]. Default 0.05.
    pub fraction: f64,
    /// Replicates (hold-out sets) per k; each also seeds its fit differently. Default 3.
    pub replicates: usize,
    /// Seed of the hold-out draws. Default 0.
    pub seed: u64,
    /// Which entries may be held out.
    pub entries: CvEntries,
}

impl Default for CvOptions {
    fn default() -> Self {
        CvOptions {
            fraction: 0.05,
            replicates: 3,
            seed: 0,
            entries: CvEntries::Auto,
        }
    }
}

/// One k of the cross-validation curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CvRow {
    /// Number of components.
    pub k: usize,
    /// Mean over replicates of the test error: per held-out entry, the mean squared error
    /// (Frobenius) or the mean β-divergence (other losses).
    pub test_mean: f64,
    /// Standard deviation of the test error over replicates.
    pub test_std: f64,
    /// Mean training error per training entry.
    pub train_mean: f64,
    /// Standard deviation of the training error.
    pub train_std: f64,
    /// The test error of each replicate.
    pub test: Vec<f64>,
    /// The training error of each replicate.
    pub train: Vec<f64>,
    /// Held-out entries per replicate (the first replicate's count).
    pub held_out: usize,
    /// Wall-clock seconds for this k.
    pub seconds: f64,
}

/// The k of the lowest mean test error, and the smallest k whose mean test error is within one
/// standard error (std / √replicates) of that minimum. `None` for no rows.
pub fn best_k(rows: &[CvRow]) -> Option<(usize, usize)> {
    let best = rows
        .iter()
        .min_by(|a, b| a.test_mean.total_cmp(&b.test_mean))?;
    let se = best.test_std / (best.test.len().max(1) as f64).sqrt();
    let one_se = rows
        .iter()
        .filter(|r| r.test_mean <= best.test_mean + se)
        .map(|r| r.k)
        .min()
        .unwrap_or(best.k);
    Some((best.k, one_se))
}

/// A uniform draw in [0, 1) from the position `(i, j)` and `seed` (SplitMix64 finaliser).
pub fn position_uniform(seed: u64, i: usize, j: usize) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add((j as u64).wrapping_mul(0x8CB9_2BA7_2F3D_8DD7));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The candidate entries of X for hold-out, in reading order, with their values.
fn candidates<T: Float>(
    x: DataRef<'_, T>,
    stored_only: bool,
    missing: Missing,
) -> Vec<(usize, usize, T)> {
    let mut out = Vec::new();
    match x {
        DataRef::Dense(d) => {
            for i in 0..d.nrows() {
                for j in 0..d.ncols() {
                    let v = d[(i, j)];
                    #[allow(clippy::eq_op)]
                    let nan = v != v;
                    if (nan && missing == Missing::Nan) || (stored_only && v == T::ZERO) {
                        continue;
                    }
                    out.push((i, j, v));
                }
            }
        }
        DataRef::Sparse(s) => {
            let s = s.mat();
            for i in 0..s.nrows() {
                if stored_only {
                    let (c, v) = s.row(i);
                    out.extend(c.iter().zip(v).map(|(&j, &v)| (i, j as usize, v)));
                } else {
                    let dense_row = (0..s.ncols()).map(|j| {
                        let (c, v) = s.row(i);
                        c.binary_search(&(j as u32)).map_or(T::ZERO, |p| v[p])
                    });
                    out.extend(dense_row.enumerate().map(|(j, v)| (i, j, v)));
                }
            }
        }
        _ => {}
    }
    out
}

/// The held-out flags over `cand` for one replicate, with every row and column keeping at least
/// one training entry.
fn hold_out<T>(
    cand: &[(usize, usize, T)],
    n: usize,
    m: usize,
    fraction: f64,
    seed: u64,
) -> Vec<bool> {
    let mut held: Vec<bool> = cand
        .iter()
        .map(|&(i, j, _)| position_uniform(seed, i, j) < fraction)
        .collect();
    for by_row in [true, false] {
        let len = if by_row { n } else { m };
        let (mut train, mut first) = (vec![0usize; len], vec![usize::MAX; len]);
        for (e, &(i, j, _)) in cand.iter().enumerate() {
            let a = if by_row { i } else { j };
            if held[e] {
                first[a] = first[a].min(e);
            } else {
                train[a] += 1;
            }
        }
        for a in 0..len {
            if train[a] == 0 && first[a] != usize::MAX {
                held[first[a]] = false;
            }
        }
    }
    held
}

/// Mean loss per entry over `entries` (Frobenius: the mean squared error; other β: the mean
/// β-divergence).
fn mean_loss<T: Float>(
    model: &NmfModel<T>,
    entries: impl Iterator<Item = (usize, usize, T)>,
    beta: f64,
) -> f64 {
    let (w, h) = (model.w(), model.h());
    let (mut s, mut c) = (0.0f64, 0usize);
    for (i, j, x) in entries {
        let mut lam = 0.0f64;
        for t in 0..w.ncols() {
            lam += w[(i, t)].to_f64() * h[(t, j)].to_f64();
        }
        let x = x.to_f64();
        s += if beta == 2.0 {
            (x - lam) * (x - lam)
        } else {
            entry_divergence(x, lam, beta)
        };
        c += 1;
    }
    s / c.max(1) as f64
}

/// Cross-validated rank selection: for each k in `ks`, `opts.replicates` masked fits from
/// `template` (its k replaced, seed `template.seed + r`, one thread each, replicates in
/// parallel), scored on their held-out entries. `on_row` is called as each k finishes. Use
/// [`best_k`] on the result.
///
/// # Errors
/// A fraction outside (0, 0.5], zero replicates, a template with its own weights or with a
/// solver other than cd and mu, `Stored` entries for a dense X, or any fit's error.
pub fn cross_validate<'a, T: Float>(
    x: impl Into<DataRef<'a, T>>,
    ks: &[usize],
    template: &NmfParams<T>,
    opts: &CvOptions,
    mut on_row: impl FnMut(&CvRow),
) -> Result<Vec<CvRow>, NmfError> {
    use rayon::prelude::*;
    let x: DataRef<'a, T> = x.into();
    if !(opts.fraction > 0.0 && opts.fraction <= 0.5) {
        return Err(CoreError::invalid("fraction", opts.fraction, "a number in (0, 0.5]").into());
    }
    if opts.replicates == 0 {
        return Err(CoreError::invalid("replicates", 0, "at least 1").into());
    }
    let checked = template.clone().check()?;
    if checked.weights().is_some() {
        return Err(CoreError::invalid(
            "weights",
            "given",
            "unset in the template: cross-validation makes its own training weights",
        )
        .into());
    }
    let missing = checked.missing();
    let beta = checked.loss().beta();
    let stored_only = match (opts.entries, x.is_sparse()) {
        (CvEntries::Stored, false) => {
            return Err(CoreError::invalid(
                "entries",
                "Stored",
                "All or Auto for dense X (a dense X stores every entry)",
            )
            .into());
        }
        (CvEntries::All, _) | (CvEntries::Auto, false) => false,
        (CvEntries::Stored | CvEntries::Auto, true) => true,
    };
    let (n, m) = x.shape();
    let cand = candidates(x, stored_only, missing);
    // The training weights and test entries of every replicate, drawn once for all k.
    let splits: Vec<(Weights<T>, Vec<usize>)> = (0..opts.replicates as u64)
        .map(|r| {
            let held = hold_out(&cand, n, m, opts.fraction, opts.seed.wrapping_add(r));
            let test: Vec<usize> = (0..cand.len()).filter(|&e| held[e]).collect();
            let weights = if stored_only {
                let (mut ri, mut ci) = (Vec::new(), Vec::new());
                for (e, &(i, j, _)) in cand.iter().enumerate() {
                    if !held[e] {
                        ri.push(i as u32);
                        ci.push(j as u32);
                    }
                }
                let ones = vec![T::ONE; ri.len()];
                Weights::Sparse(SparseMat::from_triplets(n, m, &ri, &ci, &ones)?)
            } else {
                let mut wm = mat::zeros::<T>(n, m);
                for (e, &(i, j, _)) in cand.iter().enumerate() {
                    if !held[e] {
                        wm[(i, j)] = T::ONE;
                    }
                }
                Weights::Dense(wm)
            };
            Ok((weights, test))
        })
        .collect::<Result<_, CoreError>>()?;
    let mut out = Vec::new();
    for &k in ks {
        let start = std::time::Instant::now();
        let scores: Vec<(f64, f64)> = splits
            .par_iter()
            .enumerate()
            .map(|(r, (weights, test))| {
                let model = template
                    .clone()
                    .n_components(k)
                    .seed(template_seed(template).wrapping_add(r as u64))
                    .par(faer::Par::Seq)
                    .weights(weights.clone())
                    .mask_zeros(stored_only)
                    .fit(x)?;
                let test_err = mean_loss(&model, test.iter().map(|&e| cand[e]), beta);
                let mut is_test = vec![false; cand.len()];
                for &e in test {
                    is_test[e] = true;
                }
                let train_err = mean_loss(
                    &model,
                    cand.iter()
                        .enumerate()
                        .filter(|(e, _)| !is_test[*e])
                        .map(|(_, &c)| c),
                    beta,
                );
                Ok((test_err, train_err))
            })
            .collect::<Result<_, NmfError>>()?;
        let stats = |v: &[f64]| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / v.len() as f64;
            (mean, var.sqrt())
        };
        let test: Vec<f64> = scores.iter().map(|s| s.0).collect();
        let train: Vec<f64> = scores.iter().map(|s| s.1).collect();
        let ((test_mean, test_std), (train_mean, train_std)) = (stats(&test), stats(&train));
        let row = CvRow {
            k,
            test_mean,
            test_std,
            train_mean,
            train_std,
            test,
            train,
            held_out: splits[0].1.len(),
            seconds: start.elapsed().as_secs_f64(),
        };
        on_row(&row);
        out.push(row);
    }
    Ok(out)
}

fn template_seed<T: Float>(p: &NmfParams<T>) -> u64 {
    p.clone().check().map_or(0, |c| c.seed())
}

/// The fraction of `x`'s entries a hold-out at `fraction` with `seed` takes (for reports).
pub fn held_out_fraction<T: Float>(x: MatRef<'_, T>, fraction: f64, seed: u64) -> f64 {
    let (n, m) = x.shape();
    let cand = candidates(DataRef::Dense(x), false, Missing::Error);
    let held = hold_out(&cand, n, m, fraction, seed);
    held.iter().filter(|&&h| h).count() as f64 / (n * m) as f64
}
