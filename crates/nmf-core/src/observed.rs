//! Weights and missing values: which entries of X a fit sees, and how much each one counts.
//!
//! A weighted fit minimises `Σ_ij M_ij · d_β(X_ij, (WH)_ij)` plus the penalties, with `M ≥ 0`.
//! The user gives M as [`Weights`] (a dense matrix, or a sparse one whose unstored entries weigh
//! zero), or lets it come from the data: [`Missing::Nan`] makes the NaN entries of a dense X
//! unobserved, and `mask_zeros` makes the unstored entries of a sparse X unobserved (the
//! recommender setting). [`Observed::build`] turns all of these into one of two kernels' inputs:
//!
//! - **dense** ([`ObservedKind::Dense`]): `M`, `X` and `M ⊙ X` as n x m matrices, for weights that
//!   cover most of the matrix; the solvers then work in GEMM-sized tiles;
//! - **pattern** ([`ObservedKind::Pattern`]): the observed entries only (weight > 0), in row
//!   and column order with their weights and values, for sparse weights and `mask_zeros`; every
//!   kernel then costs `O(|Ω|·k)` or `O(|Ω|·k²)` and nothing of size n x m exists.
//!
//! Values of X where the weight is zero are never read after this point: they are zeroed in the
//! dense copy and absent from the pattern, so they cannot influence a fit (not even as NaN).
//!
//! ```
//! use faer::mat;
//! use nmf_core::observed::{Missing, Observed, Weights};
//! let x = mat![[1.0, f64::NAN], [2.0, 3.0]];
//! let obs = Observed::build(x.as_ref().into(), None, Missing::Nan, false)?.expect("X has a hole");
//! assert_eq!(obs.n_observed(), 3);
//! assert!(!obs.is_observed(0, 1));
//! // Weights of the wrong shape are a typed error.
//! let m = Weights::from(mat![[1.0, 1.0]].as_ref());
//! assert!(Observed::build(x.as_ref().into(), Some(&m), Missing::Nan, false).is_err());
//! # Ok::<(), nmf_core::CoreError>(())
//! ```

use crate::mat;
use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};

use crate::data::{Data, DataRef, np_pow};
use crate::error::CoreError;
use crate::scalar::{Float, SKLEARN_EPS};
use crate::sparse::SparseMat;

/// Weights of a weighted fit, the shape of X: dense, or sparse (unstored entries weigh zero).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Weights<T> {
    /// One weight per entry.
    Dense(Mat<T>),
    /// Weights of the stored entries; every other entry weighs zero (is unobserved).
    Sparse(SparseMat<T>),
}

impl<T: Float> From<MatRef<'_, T>> for Weights<T> {
    fn from(m: MatRef<'_, T>) -> Self {
        Weights::Dense(mat::copy(m))
    }
}
impl<T: Float> From<&Mat<T>> for Weights<T> {
    fn from(m: &Mat<T>) -> Self {
        Weights::Dense(m.clone())
    }
}
impl<T: Float> From<Mat<T>> for Weights<T> {
    fn from(m: Mat<T>) -> Self {
        Weights::Dense(m)
    }
}
impl<T: Float> From<&SparseMat<T>> for Weights<T> {
    fn from(m: &SparseMat<T>) -> Self {
        Weights::Sparse(m.clone())
    }
}
impl<T: Float> From<SparseMat<T>> for Weights<T> {
    fn from(m: SparseMat<T>) -> Self {
        Weights::Sparse(m)
    }
}

impl<T: Float> Weights<T> {
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Weights::Dense(m) => m.shape(),
            Weights::Sparse(s) => s.shape(),
        }
    }
}

/// What a NaN in a dense X means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Missing {
    /// NaN is an error (the default: a NaN is usually a bug upstream).
    #[default]
    Error,
    /// NaN marks an unobserved entry (weight 0).
    Nan,
}

/// The observed entries in row (CSR) and column (CSC) order, with their weights and values.
#[derive(Debug, Clone)]
pub struct Pattern<T> {
    /// CSR: row `i` holds entries `row_ptr[i]..row_ptr[i + 1]`.
    pub row_ptr: Vec<usize>,
    /// Column of each entry, in row order.
    pub col_idx: Vec<u32>,
    /// Weight of each entry, in row order.
    pub wt: Vec<T>,
    /// X at each entry, in row order.
    pub x: Vec<T>,
    /// CSC: column `j` holds entries `col_ptr[j]..col_ptr[j + 1]`.
    pub col_ptr: Vec<usize>,
    /// Row of each entry, in column order.
    pub row_idx: Vec<u32>,
    /// Weight of each entry, in column order.
    pub wt_c: Vec<T>,
    /// X at each entry, in column order.
    pub x_c: Vec<T>,
}

impl<T: Float> Pattern<T> {
    /// From row-ordered entries (`row_ptr`, columns increasing within a row).
    fn from_rows(m: usize, row_ptr: Vec<usize>, col_idx: Vec<u32>, wt: Vec<T>, x: Vec<T>) -> Self {
        let z = col_idx.len();
        let mut col_ptr = vec![0usize; m + 1];
        for &j in &col_idx {
            col_ptr[j as usize + 1] += 1;
        }
        for j in 0..m {
            col_ptr[j + 1] += col_ptr[j];
        }
        let mut next = col_ptr.clone();
        let (mut row_idx, mut wt_c, mut x_c) = (vec![0u32; z], vec![T::ZERO; z], vec![T::ZERO; z]);
        for i in 0..row_ptr.len() - 1 {
            for e in row_ptr[i]..row_ptr[i + 1] {
                let j = col_idx[e] as usize;
                let d = next[j];
                next[j] += 1;
                row_idx[d] = i as u32;
                wt_c[d] = wt[e];
                x_c[d] = x[e];
            }
        }
        Pattern {
            row_ptr,
            col_idx,
            wt,
            x,
            col_ptr,
            row_idx,
            wt_c,
            x_c,
        }
    }

    /// Number of observed entries.
    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }
}

/// How the observed entries are held (see the module docs).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ObservedKind<T> {
    /// n x m weights, X with unobserved entries zeroed, and their product.
    Dense {
        /// The weights (0 where unobserved).
        wt: Mat<T>,
        /// X, zero where unobserved.
        x: Mat<T>,
        /// `wt ⊙ x`.
        wx: Mat<T>,
    },
    /// The observed entries only.
    Pattern(Pattern<T>),
}

/// The weighted problem as the kernels see it: built once per fit by [`Observed::build`].
#[derive(Debug, Clone)]
pub struct Observed<T> {
    n: usize,
    m: usize,
    kind: ObservedKind<T>,
    n_observed: usize,
    empty_rows: Vec<usize>,
    empty_cols: Vec<usize>,
}

/// Checks one weight; `Ok(true)` when the entry is observed.
fn check_weight<T: Float>(v: T, row: usize, col: usize) -> Result<bool, CoreError> {
    if !v.is_finite() {
        return Err(CoreError::NonFinite {
            what: "weights",
            row,
            col,
            value: v.to_f64(),
        });
    }
    if v < T::ZERO {
        return Err(CoreError::Negative {
            what: "weights",
            row,
            col,
            value: v.to_f64(),
        });
    }
    Ok(v > T::ZERO)
}

/// Checks one value of X at an entry of positive weight; `Ok(false)` for a NaN in `Missing::Nan`
/// mode (the entry becomes unobserved).
fn check_value<T: Float>(
    v: T,
    row: usize,
    col: usize,
    missing: Missing,
) -> Result<bool, CoreError> {
    if is_nan(v) && missing == Missing::Nan {
        return Ok(false);
    }
    if !v.is_finite() {
        return Err(CoreError::NonFinite {
            what: "X",
            row,
            col,
            value: v.to_f64(),
        });
    }
    if v < T::ZERO {
        return Err(CoreError::Negative {
            what: "X",
            row,
            col,
            value: v.to_f64(),
        });
    }
    Ok(true)
}

fn weights_shape(got: (usize, usize), want: (usize, usize)) -> Result<(), CoreError> {
    if got.0 != want.0 {
        return Err(CoreError::ShapeMismatch {
            what: "weights",
            dim: "rows",
            expected: want.0,
            got: got.0,
        });
    }
    if got.1 != want.1 {
        return Err(CoreError::ShapeMismatch {
            what: "weights",
            dim: "columns",
            expected: want.1,
            got: got.1,
        });
    }
    Ok(())
}

impl<T: Float> Observed<T> {
    /// The weighted problem of `x` under `weights`, `missing` and `mask_zeros`, or `None` when
    /// every entry is observed with weight 1 (an ordinary fit: dense X without NaN, or sparse X
    /// without weights or `mask_zeros`).
    ///
    /// Entries of X with weight zero are not validated (they may hold anything). Dense weights
    /// with a sparse X make the problem dense-sized: X is densified (documented cost).
    ///
    /// # Errors
    /// Weights of another shape than X, negative or non-finite weights, a non-finite or
    /// negative X at an observed entry (NaN only with [`Missing::Error`]), `mask_zeros` with a
    /// dense X, an empty X, or no observed entry at all.
    pub fn build(
        x: DataRef<'_, T>,
        weights: Option<&Weights<T>>,
        missing: Missing,
        mask_zeros: bool,
    ) -> Result<Option<Self>, CoreError> {
        let (n, m) = x.shape();
        if n == 0 || m == 0 {
            return Err(CoreError::Empty {
                what: "X",
                rows: n,
                cols: m,
            });
        }
        if let Some(w) = weights {
            weights_shape(w.shape(), (n, m))?;
        }
        if let Some(Weights::Dense(wm)) = weights {
            // Every weight given is checked, used or not.
            for i in 0..n {
                for j in 0..m {
                    check_weight(wm[(i, j)], i, j)?;
                }
            }
        }
        let obs = match x {
            DataRef::Dense(xd) => {
                if mask_zeros {
                    return Err(CoreError::invalid(
                        "mask_zeros",
                        true,
                        "only for sparse X (a dense X has no unstored entries)",
                    ));
                }
                match weights {
                    None => {
                        if missing != Missing::Nan || !has_nan(xd) {
                            return Ok(None);
                        }
                        Self::dense(n, m, |_, _| T::ONE, |i, j| xd[(i, j)], missing)?
                    }
                    Some(Weights::Dense(wm)) => {
                        Self::dense(n, m, |i, j| wm[(i, j)], |i, j| xd[(i, j)], missing)?
                    }
                    Some(Weights::Sparse(s)) => Self::pattern(n, m, missing, |i, out| {
                        let (c, v) = s.row(i);
                        out.extend(c.iter().zip(v).map(|(&j, &w)| (j, w, xd[(i, j as usize)])));
                    })?,
                }
            }
            DataRef::Sparse(xs) => {
                let xs = xs.mat();
                match (weights, mask_zeros) {
                    (None, false) => return Ok(None),
                    (None, true) => Self::pattern(n, m, missing, |i, out| {
                        let (c, v) = xs.row(i);
                        out.extend(c.iter().zip(v).map(|(&j, &x)| (j, T::ONE, x)));
                    })?,
                    (Some(Weights::Dense(wm)), true) => Self::pattern(n, m, missing, |i, out| {
                        let (c, v) = xs.row(i);
                        out.extend(c.iter().zip(v).map(|(&j, &x)| (j, wm[(i, j as usize)], x)));
                    })?,
                    (Some(Weights::Sparse(s)), mask) => Self::pattern(n, m, missing, |i, out| {
                        // Merge the two sorted rows: every weighted entry (X = 0 where X stores
                        // nothing), or with `mask_zeros` only those X stores.
                        let ((wc, wv), (xc, xv)) = (s.row(i), xs.row(i));
                        let mut q = 0;
                        for (&j, &w) in wc.iter().zip(wv) {
                            while q < xc.len() && xc[q] < j {
                                q += 1;
                            }
                            let stored = q < xc.len() && xc[q] == j;
                            if stored {
                                out.push((j, w, xv[q]));
                            } else if !mask {
                                out.push((j, w, T::ZERO));
                            }
                        }
                    })?,
                    (Some(Weights::Dense(wm)), false) => {
                        let xd = xs.to_dense();
                        Self::dense(n, m, |i, j| wm[(i, j)], |i, j| xd[(i, j)], missing)?
                    }
                }
            }
        };
        Ok(Some(obs))
    }

    fn dense(
        n: usize,
        m: usize,
        wf: impl Fn(usize, usize) -> T,
        xf: impl Fn(usize, usize) -> T,
        missing: Missing,
    ) -> Result<Self, CoreError> {
        // Row-major scan so the first error named is the first in reading order.
        let mut wt = mat::zeros::<T>(n, m);
        let mut x = mat::zeros::<T>(n, m);
        for i in 0..n {
            for j in 0..m {
                let w = wf(i, j);
                if w > T::ZERO && check_value(xf(i, j), i, j, missing)? {
                    wt[(i, j)] = w;
                    x[(i, j)] = xf(i, j);
                }
            }
        }
        let wx = mat::from_fn(n, m, |i, j| wt[(i, j)] * x[(i, j)]);
        Self::finish(n, m, ObservedKind::Dense { wt, x, wx })
    }

    /// The observed entries row by row: `row(i, out)` pushes the candidates `(column, weight,
    /// value)` of row `i` in increasing column order; zero weights and (in `Missing::Nan`
    /// mode) NaN values are dropped, other values checked.
    fn pattern(
        n: usize,
        m: usize,
        missing: Missing,
        mut row: impl FnMut(usize, &mut Vec<(u32, T, T)>),
    ) -> Result<Self, CoreError> {
        let mut row_ptr = vec![0usize; n + 1];
        let (mut cols, mut wts, mut xvs) = (Vec::new(), Vec::new(), Vec::new());
        let mut buf = Vec::new();
        for i in 0..n {
            buf.clear();
            row(i, &mut buf);
            for &(j, w, x) in &buf {
                if w > T::ZERO && check_value(x, i, j as usize, missing)? {
                    cols.push(j);
                    wts.push(w);
                    xvs.push(x);
                }
            }
            row_ptr[i + 1] = cols.len();
        }
        Self::finish(
            n,
            m,
            ObservedKind::Pattern(Pattern::from_rows(m, row_ptr, cols, wts, xvs)),
        )
    }

    fn finish(n: usize, m: usize, kind: ObservedKind<T>) -> Result<Self, CoreError> {
        let (mut row_seen, mut col_seen) = (vec![false; n], vec![false; m]);
        let mut n_observed = 0usize;
        match &kind {
            ObservedKind::Dense { wt, .. } => {
                for j in 0..m {
                    for i in 0..n {
                        if wt[(i, j)] > T::ZERO {
                            row_seen[i] = true;
                            col_seen[j] = true;
                            n_observed += 1;
                        }
                    }
                }
            }
            ObservedKind::Pattern(p) => {
                n_observed = p.nnz();
                for (i, seen) in row_seen.iter_mut().enumerate() {
                    *seen = p.row_ptr[i + 1] > p.row_ptr[i];
                }
                for (j, seen) in col_seen.iter_mut().enumerate() {
                    *seen = p.col_ptr[j + 1] > p.col_ptr[j];
                }
            }
        }
        if n_observed == 0 {
            return Err(CoreError::invalid(
                "weights",
                "all zero",
                "at least one observed entry (weight > 0, not NaN)",
            ));
        }
        let unseen = |s: &[bool]| (0..s.len()).filter(|&i| !s[i]).collect::<Vec<_>>();
        Ok(Observed {
            n,
            m,
            empty_rows: unseen(&row_seen),
            empty_cols: unseen(&col_seen),
            kind,
            n_observed,
        })
    }

    /// `(n_samples, n_features)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.n, self.m)
    }

    /// How the entries are held.
    pub fn kind(&self) -> &ObservedKind<T> {
        &self.kind
    }

    /// Number of observed entries (weight > 0).
    pub fn n_observed(&self) -> usize {
        self.n_observed
    }

    /// Rows with no observed entry (their row of W is set to zero).
    pub fn empty_rows(&self) -> &[usize] {
        &self.empty_rows
    }

    /// Columns with no observed entry (their column of H is set to zero).
    pub fn empty_cols(&self) -> &[usize] {
        &self.empty_cols
    }

    /// Whether entry `(i, j)` has a positive weight.
    pub fn is_observed(&self, i: usize, j: usize) -> bool {
        match &self.kind {
            ObservedKind::Dense { wt, .. } => wt[(i, j)] > T::ZERO,
            ObservedKind::Pattern(p) => p.col_idx[p.row_ptr[i]..p.row_ptr[i + 1]]
                .binary_search(&(j as u32))
                .is_ok(),
        }
    }

    /// X with its unobserved entries set to zero, the data an initialisation may see (an SVD
    /// start must never read held-out values).
    pub fn filled(&self) -> Data<T> {
        match &self.kind {
            ObservedKind::Dense { x, .. } => Data::Dense(mat::copy(x.as_ref())),
            ObservedKind::Pattern(p) => {
                let rows: Vec<u32> = (0..self.n)
                    .flat_map(|i| (p.row_ptr[i]..p.row_ptr[i + 1]).map(move |_| i as u32))
                    .collect();
                Data::Sparse(
                    SparseMat::from_triplets(self.n, self.m, &rows, &p.col_idx, &p.x)
                        .expect("observed values were validated"),
                )
            }
        }
    }

    /// `Σ M_ij X_ij²`, accumulated in f64 (the weighted ‖X‖²).
    pub fn weighted_sqnorm(&self) -> f64 {
        let f = |w: T, x: T| w.to_f64() * x.to_f64() * x.to_f64();
        match &self.kind {
            ObservedKind::Dense { wt, x, .. } => {
                let mut s = 0.0;
                for j in 0..self.m {
                    for i in 0..self.n {
                        s += f(wt[(i, j)], x[(i, j)]);
                    }
                }
                s
            }
            ObservedKind::Pattern(p) => p.wt.iter().zip(&p.x).map(|(&w, &x)| f(w, x)).sum(),
        }
    }

    /// The mean of X over the observed entries (weighted by M).
    pub fn weighted_mean(&self) -> f64 {
        let (mut sw, mut swx) = (0.0f64, 0.0f64);
        match &self.kind {
            ObservedKind::Dense { wt, wx, .. } => {
                for j in 0..self.m {
                    for i in 0..self.n {
                        sw += wt[(i, j)].to_f64();
                        swx += wx[(i, j)].to_f64();
                    }
                }
            }
            ObservedKind::Pattern(p) => {
                for (&w, &x) in p.wt.iter().zip(&p.x) {
                    sw += w.to_f64();
                    swx += w.to_f64() * x.to_f64();
                }
            }
        }
        swx / sw
    }

    /// For β ≤ 0: no observed zero (the divergence is undefined there).
    ///
    /// # Errors
    /// [`CoreError::ZerosWithNonPositiveBeta`] naming the first observed zero.
    pub fn ensure_positive_for_beta(&self, beta: f64) -> Result<(), CoreError> {
        if beta > 0.0 {
            return Ok(());
        }
        let bad = |row, col| Err(CoreError::ZerosWithNonPositiveBeta { beta, row, col });
        match &self.kind {
            ObservedKind::Dense { wt, x, .. } => {
                for i in 0..self.n {
                    for j in 0..self.m {
                        if wt[(i, j)] > T::ZERO && x[(i, j)] == T::ZERO {
                            return bad(i, j);
                        }
                    }
                }
            }
            ObservedKind::Pattern(p) => {
                for i in 0..self.n {
                    for e in p.row_ptr[i]..p.row_ptr[i + 1] {
                        if p.x[e] == T::ZERO {
                            return bad(i, p.col_idx[e] as usize);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The weighted divergence `Σ M_ij d_β(X_ij, (WH)_ij)` with scikit-learn's evaluation rules
    /// (see [`entry_divergence`]), summed in f64 in an order fixed by the shape (blocks of rows
    /// in parallel, then in order), so the same bits for any thread count. Allocates its
    /// scratch; [`Self::divergence_with`] reuses one.
    ///
    /// # Errors
    /// `w` or `h` of the wrong shape.
    pub fn divergence(
        &self,
        w: MatRef<'_, T>,
        h: MatRef<'_, T>,
        beta: f64,
        par: Par,
    ) -> Result<f64, CoreError> {
        self.divergence_with(&mut EvalScratch::new(self, par), w, h, beta)
    }

    /// [`Self::divergence`] over a caller-owned scratch (no allocation).
    ///
    /// # Errors
    /// `w` or `h` of the wrong shape.
    pub fn divergence_with(
        &self,
        scratch: &mut EvalScratch<T>,
        w: MatRef<'_, T>,
        h: MatRef<'_, T>,
        beta: f64,
    ) -> Result<f64, CoreError> {
        self.entrywise_sum(scratch, w, h, |wt, x, lam| {
            wt.to_f64() * entry_divergence(x.to_f64(), lam.to_f64(), beta)
        })
    }

    /// `Σ f(M_ij, X_ij, (WH)_ij)` over the observed entries, blockwise and deterministic.
    ///
    /// # Errors
    /// `w` or `h` of the wrong shape.
    pub fn entrywise_sum(
        &self,
        scratch: &mut EvalScratch<T>,
        w: MatRef<'_, T>,
        h: MatRef<'_, T>,
        f: impl Fn(T, T, T) -> f64 + Sync,
    ) -> Result<f64, CoreError> {
        crate::check::ensure_shape("W", w, self.n, h.nrows())?;
        crate::check::ensure_shape("H", h, w.ncols(), self.m)?;
        let m = self.m;
        let EvalScratch { groups, lam, parts } = scratch;
        let run = |part: &mut [f64], lam: &mut Vec<T>, range: core::ops::Range<usize>| {
            for (slot, b) in part.iter_mut().zip(range) {
                let r0 = b * EVAL_ROWS;
                let rb = EVAL_ROWS.min(self.n - r0);
                *slot = match &self.kind {
                    ObservedKind::Dense { wt, x, .. } => {
                        let mut l =
                            faer::MatMut::from_column_major_slice_mut(&mut lam[..rb * m], rb, m);
                        faer::linalg::matmul::matmul(
                            l.rb_mut(),
                            Accum::Replace,
                            w.subrows(r0, rb),
                            h,
                            T::ONE,
                            Par::Seq,
                        );
                        let mut s = 0.0f64;
                        for i in 0..rb {
                            for j in 0..m {
                                let v = wt[(r0 + i, j)];
                                if v > T::ZERO {
                                    s += f(v, x[(r0 + i, j)], l[(i, j)]);
                                }
                            }
                        }
                        s
                    }
                    ObservedKind::Pattern(p) => {
                        let k = w.ncols();
                        let mut s = 0.0f64;
                        for i in r0..r0 + rb {
                            for e in p.row_ptr[i]..p.row_ptr[i + 1] {
                                let j = p.col_idx[e] as usize;
                                let mut lam = T::ZERO;
                                for t in 0..k {
                                    lam += w[(i, t)] * h[(t, j)];
                                }
                                s += f(p.wt[e], p.x[e], lam);
                            }
                        }
                        s
                    }
                };
            }
        };
        crate::partition::run_groups(&mut parts[..], groups, lam, &run);
        Ok(parts.iter().sum())
    }
}

/// Rows per block of a weighted loss evaluation.
const EVAL_ROWS: usize = 64;

/// The buffers of [`Observed::divergence_with`]: per-task `WH` row tiles (dense weights) and one
/// partial sum per block of rows, sized once.
#[derive(Debug, Clone)]
pub struct EvalScratch<T> {
    groups: Vec<usize>,
    lam: Vec<Vec<T>>,
    parts: Vec<f64>,
}

impl<T: Float> EvalScratch<T> {
    /// Buffers for evaluating on `obs` with `par`'s threads.
    pub fn new(obs: &Observed<T>, par: Par) -> Self {
        let blocks = obs.n.div_ceil(EVAL_ROWS);
        let pieces: Vec<usize> = (0..=blocks).collect();
        let groups = crate::partition::groups(&pieces, par.degree().max(1));
        let tile = match obs.kind {
            ObservedKind::Dense { .. } => EVAL_ROWS.min(obs.n) * obs.m,
            ObservedKind::Pattern(_) => 0,
        };
        EvalScratch {
            lam: (0..groups.len().saturating_sub(1).max(1))
                .map(|_| vec![T::ZERO; tile])
                .collect(),
            groups,
            parts: vec![0.0; blocks],
        }
    }
}

/// `d_β(x | λ)` for one entry with scikit-learn's rules: the terms with `x` (logs, ratios,
/// `x^β`) only where `x > EPS`, with `λ` clipped at EPS there; the terms in `λ` alone
/// unclipped. Summed over a full matrix with weight 1 this is scikit-learn's
/// `_beta_divergence` (up to the summation order).
pub fn entry_divergence(x: f64, lam: f64, beta: f64) -> f64 {
    let eps = SKLEARN_EPS;
    let big = x > eps;
    let ls = lam.max(eps);
    if beta == 2.0 {
        0.5 * (x - lam) * (x - lam)
    } else if beta == 1.0 {
        (if big { x * (x / ls).ln() } else { 0.0 }) - x + lam
    } else if beta == 0.0 {
        if big {
            let d = x / ls;
            d - 1.0 - d.ln()
        } else {
            // X = 0 with β = 0 is rejected before any fit; scikit-learn drops the term.
            0.0
        }
    } else {
        let xt = if big {
            np_pow(x, beta) - beta * x * np_pow(ls, beta - 1.0)
        } else {
            0.0
        };
        (xt + (beta - 1.0) * np_pow(lam, beta)) / (beta * (beta - 1.0))
    }
}

/// NaN is the one value not equal to itself (the trait has no `is_nan`).
#[allow(clippy::eq_op)]
fn is_nan<T: Float>(v: T) -> bool {
    v != v
}

fn has_nan<T: Float>(x: MatRef<'_, T>) -> bool {
    let mut any = false;
    x.for_each(|&v| any |= is_nan(v));
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::mat;

    #[test]
    fn unweighted_divergence_matches_the_sum_of_entries() {
        let x = mat![[1.0, 0.0, 2.0], [0.5, 3.0, 0.0f64]];
        let w = mat![[1.0], [0.7f64]];
        let h = mat![[0.9, 1.1, 1.3f64]];
        let ones = Weights::from(Mat::from_fn(2, 3, |_, _| 1.0f64));
        let obs = Observed::build(x.as_ref().into(), Some(&ones), Missing::Error, false)
            .unwrap()
            .unwrap();
        for beta in [2.0, 1.0, 0.5, 1.5, 3.0] {
            let want: f64 = (0..2)
                .flat_map(|i| (0..3).map(move |j| (i, j)))
                .map(|(i, j)| entry_divergence(x[(i, j)], w[(i, 0)] * h[(0, j)], beta))
                .sum();
            let got = obs
                .divergence(w.as_ref(), h.as_ref(), beta, Par::Seq)
                .unwrap();
            assert!((got - want).abs() <= 1e-14 * want.abs(), "beta {beta}");
        }
    }

    #[test]
    fn sparse_weights_and_mask_zeros_give_the_same_pattern() {
        let x = SparseMat::from_triplets(
            3,
            4,
            &[0u32, 1, 2, 2],
            &[1u32, 0, 2, 3],
            &[1.0, 2.0, 3.0, 4.0f64],
        )
        .unwrap();
        let by_mask = Observed::build((&x).into(), None, Missing::Error, true)
            .unwrap()
            .unwrap();
        let ones = x.map_values(|_| 1.0f64);
        let by_weights = Observed::build(
            (&x).into(),
            Some(&Weights::from(&ones)),
            Missing::Error,
            false,
        )
        .unwrap()
        .unwrap();
        let (ObservedKind::Pattern(a), ObservedKind::Pattern(b)) =
            (by_mask.kind(), by_weights.kind())
        else {
            panic!("sparse weights give a pattern");
        };
        assert_eq!(a.col_idx, b.col_idx);
        assert_eq!(a.x, b.x);
        assert_eq!(a.wt, b.wt);
        assert_eq!(a.x_c, vec![2.0, 1.0, 3.0, 4.0]);
        assert_eq!(by_mask.empty_rows(), &[] as &[usize]);
        assert_eq!(by_mask.n_observed(), 4);
    }

    #[test]
    fn hostile_weights_are_typed_errors() {
        let x = mat![[1.0, 2.0], [3.0, 4.0f64]];
        let bad = |m: Mat<f64>| {
            Observed::build(
                x.as_ref().into(),
                Some(&Weights::from(m)),
                Missing::Error,
                false,
            )
            .unwrap_err()
        };
        assert!(matches!(
            bad(mat![[1.0, -1.0], [1.0, 1.0]]),
            CoreError::Negative {
                what: "weights",
                row: 0,
                col: 1,
                ..
            }
        ));
        assert!(matches!(
            bad(mat![[1.0, 1.0], [f64::NAN, 1.0]]),
            CoreError::NonFinite {
                what: "weights",
                row: 1,
                col: 0,
                ..
            }
        ));
        assert!(matches!(
            bad(mat![[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]),
            CoreError::ShapeMismatch {
                what: "weights",
                dim: "columns",
                ..
            }
        ));
        assert!(matches!(
            bad(Mat::zeros(2, 2)),
            CoreError::InvalidParam { .. }
        ));
        // A NaN under weight zero is never read; under weight one it is an error.
        let xn = mat![[1.0, f64::NAN], [3.0, 4.0f64]];
        let m = Weights::from(mat![[1.0, 0.0], [1.0, 1.0f64]]);
        let o = Observed::build(xn.as_ref().into(), Some(&m), Missing::Error, false)
            .unwrap()
            .unwrap();
        assert_eq!(o.empty_cols(), &[] as &[usize]);
        let all = Weights::from(mat![[1.0, 1.0], [1.0, 1.0f64]]);
        assert!(matches!(
            Observed::build(xn.as_ref().into(), Some(&all), Missing::Error, false).unwrap_err(),
            CoreError::NonFinite {
                what: "X",
                row: 0,
                col: 1,
                ..
            }
        ));
        assert!(Observed::build(x.as_ref().into(), None, Missing::Error, true).is_err());
    }
}
