//! Beta-divergence losses, evaluated with scikit-learn's numerics, and the penalised objective.
//!
//! `d_β(x|y)` is `½(x−y)²` (β = 2), `x log(x/y) − x + y` (β = 1), `x/y − log(x/y) − 1` (β = 0) and
//! `(x^β + (β−1)y^β − βxy^(β−1)) / (β(β−1))` otherwise. As scikit-learn does for β ≠ 2, entries with
//! `X ≤ EPS` (float32 epsilon, whatever the dtype) are treated as zeros and `WH` is clipped at EPS
//! where it meets them, so `reconstruction_err` agrees with scikit-learn's `reconstruction_err_`.

use crate::mat;
use core::str::FromStr;

use faer::prelude::*;
use faer::{Mat, MatMut, MatRef, Par};

use crate::data::DataRef;
use crate::error::CoreError;
use crate::kernels;
use crate::partition;
use crate::regularization::Penalties;
use crate::scalar::{Float, SKLEARN_EPS};
use crate::vlog;

/// Which beta-divergence to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Loss {
    /// β = 2, half the squared Frobenius norm.
    #[default]
    Frobenius,
    /// β = 1, generalised Kullback-Leibler divergence.
    KullbackLeibler,
    /// β = 0, Itakura-Saito divergence (X must be positive).
    ItakuraSaito,
    /// Any real β (β = 2, 1, 0 behave exactly like the named variants).
    Beta(f64),
}

impl Loss {
    /// The β of this loss.
    pub fn beta(self) -> f64 {
        match self {
            Loss::Frobenius => 2.0,
            Loss::KullbackLeibler => 1.0,
            Loss::ItakuraSaito => 0.0,
            Loss::Beta(b) => b,
        }
    }

    /// Maps `Beta(2)`, `Beta(1)`, `Beta(0)` to their named variants (scikit-learn does the same).
    pub fn canonical(self) -> Loss {
        let b = self.beta();
        if b == 2.0 {
            Loss::Frobenius
        } else if b == 1.0 {
            Loss::KullbackLeibler
        } else if b == 0.0 {
            Loss::ItakuraSaito
        } else {
            Loss::Beta(b)
        }
    }

    /// Rejects a non-finite β.
    pub fn validate(self) -> Result<(), CoreError> {
        let b = self.beta();
        if !b.is_finite() {
            return Err(CoreError::invalid("beta_loss", b, "a finite real number"));
        }
        Ok(())
    }
}

impl core::fmt::Display for Loss {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.canonical() {
            Loss::Frobenius => f.write_str("frobenius"),
            Loss::KullbackLeibler => f.write_str("kullback-leibler"),
            Loss::ItakuraSaito => f.write_str("itakura-saito"),
            Loss::Beta(b) => write!(f, "{b}"),
        }
    }
}

impl FromStr for Loss {
    type Err = CoreError;

    /// Accepts scikit-learn's names (`frobenius`, `kullback-leibler`, `itakura-saito`), the short
    /// forms `fro`, `kl`, `is`, or a number (β).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let l = match s.trim() {
            "frobenius" | "fro" => Loss::Frobenius,
            "kullback-leibler" | "kl" => Loss::KullbackLeibler,
            "itakura-saito" | "is" => Loss::ItakuraSaito,
            other => match other.parse::<f64>() {
                Ok(b) => Loss::Beta(b).canonical(),
                Err(_) => {
                    return Err(CoreError::invalid(
                        "beta_loss",
                        other,
                        "frobenius, kullback-leibler, itakura-saito or a number",
                    ));
                }
            },
        };
        l.validate()?;
        Ok(l)
    }
}

fn check_factors<T: Float>(
    x: &DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
) -> Result<(), CoreError> {
    crate::check::ensure_shape("W", w, x.nrows(), w.ncols())?;
    crate::check::ensure_shape("H", h, w.ncols(), x.ncols())
}

/// Buffers for evaluating losses of an n x m problem with k components, sized once so that
/// solvers evaluate their objective inside the loop without allocating.
#[derive(Debug, Clone)]
pub struct LossScratch<T> {
    xht: Mat<T>,
    wtw: Mat<T>,
    hht: Mat<T>,
    /// One `n x width` tile of `WH` per task.
    tiles: Vec<Vec<T>>,
    /// One partial sum per column block, merged in block order.
    partials: Vec<[f64; 3]>,
    /// Group boundaries over the column blocks (reused; its capacity never grows after `new`).
    bounds: Vec<usize>,
}

impl<T: Float> LossScratch<T> {
    /// Buffers for X n x m, k components and at most `par.degree()` tasks.
    pub fn new(n: usize, m: usize, k: usize, par: Par) -> Self {
        Self::sized(n, m, k, par, true)
    }

    fn sized(n: usize, m: usize, k: usize, par: Par, with_xht: bool) -> Self {
        let width = partition::fold_width(n, m);
        let blocks = m.div_ceil(width);
        let tasks = par.degree().clamp(1, blocks.max(1));
        LossScratch {
            xht: if with_xht {
                mat::zeros(n, k)
            } else {
                mat::zeros(0, 0)
            },
            wtw: mat::zeros(k, k),
            hht: mat::zeros(k, k),
            tiles: (0..tasks).map(|_| vec![T::ZERO; n * width]).collect(),
            partials: vec![[0.0; 3]; blocks],
            bounds: Vec::with_capacity(tasks + 1),
        }
    }

    /// Buffers sized for this kind of data: sparse X needs no `n x k` product (its
    /// Frobenius cross term is summed over the stored entries), dense X does.
    pub fn for_data(x: &DataRef<'_, T>, k: usize, par: Par) -> Self {
        let (n, m) = x.shape();
        Self::sized(n, m, k, par, !x.is_sparse())
    }

    /// Scratch for an `n x m` X (dense or `sparse`) not at hand yet, e.g. the batches of a
    /// matrix read from a file; the same buffers [`Self::for_data`] would size.
    pub fn for_shape(n: usize, m: usize, k: usize, sparse: bool, par: Par) -> Self {
        Self::sized(n, m, k, par, !sparse)
    }

    /// Grows the buffers if this problem is larger than the one they were made for (never in a
    /// fit, whose shapes are fixed).
    fn fit_to(&mut self, x: &DataRef<'_, T>, k: usize, par: Par) {
        let (n, m) = x.shape();
        let width = partition::fold_width(n, m);
        let blocks = m.div_ceil(width);
        let tasks = par.degree().clamp(1, blocks.max(1));
        let fits = (x.is_sparse() || self.xht.shape() == (n, k))
            && self.wtw.shape() == (k, k)
            && self.tiles.len() >= tasks
            && self.tiles.iter().all(|t| t.len() >= n * width)
            && self.partials.len() >= blocks
            && self.bounds.capacity() > tasks;
        if !fits {
            *self = LossScratch::for_data(x, k, par);
        }
    }
}

/// What [`fold_entries`] folds: entry by entry, or a whole column of a dense X at once (with
/// the matching column of `WH`), which a fold may do in vector lanes.
trait Fold<T: Float>: Sync {
    fn entry(&self, acc: &mut [f64; 3], x: f64, y: f64);
    /// Defaults to the entries in order, so a fold without its own column form gives the
    /// same bits either way.
    fn column(&self, acc: &mut [f64; 3], x: &[T], y: &[T]) {
        for (a, b) in x.iter().zip(y) {
            self.entry(acc, a.to_f64(), b.to_f64());
        }
    }
}

/// A fold given by its entry closure alone.
struct Entries<F>(F);

impl<T: Float, F: Fn(&mut [f64; 3], f64, f64) + Sync> Fold<T> for Entries<F> {
    fn entry(&self, acc: &mut [f64; 3], x: f64, y: f64) {
        (self.0)(acc, x, y)
    }
}

/// The logarithmic terms over the entries with `x > EPS`, with `d = x / max(y, EPS)`:
/// `Σ x·ln d` and `Σ x` (KL), or `Σ (d − ln d)` (IS). Columns go through [`ratio_log_column`].
#[derive(Clone, Copy)]
struct RatioLog {
    itakura_saito: bool,
}

impl RatioLog {
    #[inline(always)]
    fn term(self, acc: &mut [f64; 3], xv: f64, yv: f64) {
        if xv > SKLEARN_EPS {
            let d = xv / yv.max(SKLEARN_EPS);
            if self.itakura_saito {
                acc[0] += d - vlog::ln(d);
            } else {
                acc[0] += xv * vlog::ln(d);
                acc[1] += xv;
            }
        }
    }
}

impl<T: Float> Fold<T> for RatioLog {
    fn entry(&self, acc: &mut [f64; 3], x: f64, y: f64) {
        self.term(acc, x, y);
    }
    fn column(&self, acc: &mut [f64; 3], x: &[T], y: &[T]) {
        ratio_log_column(acc, x, y, self.itakura_saito);
    }
}

crate::multiversion! {
    /// [`RatioLog`] over one column in [`vlog::LANES`] lanes (each summed in order, the lanes
    /// then added in a fixed tree), the tail entry by entry: the logarithms vectorise.
    fn ratio_log_column<T: Float>(acc: &mut [f64; 3], x: &[T], y: &[T], is: bool) {
        const L: usize = vlog::LANES;
        let eps = SKLEARN_EPS;
        let n = x.len().min(y.len());
        let full = n - n % L;
        let (mut a0, mut a1) = ([0.0f64; L], [0.0f64; L]);
        for (xc, yc) in x[..full].chunks_exact(L).zip(y[..full].chunks_exact(L)) {
            let (mut xv, mut d) = ([0.0f64; L], [0.0f64; L]);
            for l in 0..L {
                xv[l] = xc[l].to_f64();
                d[l] = xv[l] / yc[l].to_f64().max(eps);
            }
            let ld = vlog::ln_lanes(&d);
            for l in 0..L {
                let on = xv[l] > eps;
                // Selects, not products with a mask: an off lane may hold ±∞ or NaN.
                if is {
                    a0[l] += if on { d[l] - ld[l] } else { 0.0 };
                } else {
                    a0[l] += if on { xv[l] * ld[l] } else { 0.0 };
                    a1[l] += if on { xv[l] } else { 0.0 };
                }
            }
        }
        let tree = |a: [f64; L]| ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        acc[0] += tree(a0);
        acc[1] += tree(a1);
        let f = RatioLog { itakura_saito: is };
        for (a, b) in x[full..n].iter().zip(&y[full..n]) {
            f.term(acc, a.to_f64(), b.to_f64());
        }
    }
}

/// Folds `f(acc, x_ij, (WH)_ij)` over every entry, forming `WH` one block of columns at a time.
///
/// The blocks are fixed by the shape ([`partition::fold_width`]), each is folded from zero by
/// one sequential pass, and the partial results are merged in block order, so the value does
/// not depend on the thread count; `par` only decides how many blocks run at once.
fn fold_entries<T: Float>(
    ws: &mut LossScratch<T>,
    x: DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    par: Par,
    f: &impl Fold<T>,
) -> [f64; 3] {
    let (n, m) = x.shape();
    ws.fit_to(&x, w.ncols(), par);
    let width = partition::fold_width(n, m);
    let blocks = m.div_ceil(width);
    let tasks = par.degree().clamp(1, blocks.max(1));
    ws.bounds.clear();
    ws.bounds.extend((0..=tasks).map(|g| g * blocks / tasks));
    let work = |part: &mut [[f64; 3]], tile: &mut Vec<T>, range: core::ops::Range<usize>| {
        for (acc, b) in part.iter_mut().zip(range) {
            let j0 = b * width;
            let cb = width.min(m - j0);
            let mut blk = MatMut::from_column_major_slice_mut(&mut tile[..n * cb], n, cb);
            faer::linalg::matmul::matmul(
                blk.rb_mut(),
                faer::Accum::Replace,
                w,
                h.subcols(j0, cb),
                T::ONE,
                Par::Seq,
            );
            *acc = [0.0; 3];
            for jj in 0..cb {
                match x {
                    DataRef::Dense(x) => match x.col(j0 + jj).try_as_col_major() {
                        // The tile is column-major and contiguous: both columns are slices.
                        Some(xc) => {
                            let yc = blk.rb().col(jj).try_as_col_major().map(|c| c.as_slice());
                            match yc {
                                Some(yc) => f.column(acc, xc.as_slice(), yc),
                                None => {
                                    for i in 0..n {
                                        f.entry(acc, xc[i].to_f64(), blk[(i, jj)].to_f64());
                                    }
                                }
                            }
                        }
                        None => {
                            for i in 0..n {
                                f.entry(acc, x[(i, j0 + jj)].to_f64(), blk[(i, jj)].to_f64());
                            }
                        }
                    },
                    // Implicit zeros are passed as the zeros they are, in the same order as
                    // for the dense matrix, so both give the same bits.
                    DataRef::Sparse(x) => {
                        let (rows, vals) = x.col(j0 + jj);
                        let mut next = rows.iter().zip(vals).peekable();
                        for i in 0..n {
                            let xv = match next.peek() {
                                Some(&(&r, &v)) if r as usize == i => {
                                    next.next();
                                    v.to_f64()
                                }
                                _ => 0.0,
                            };
                            f.entry(acc, xv, blk[(i, jj)].to_f64());
                        }
                    }
                }
            }
        }
    };
    partition::run_groups(
        &mut ws.partials[..blocks],
        &ws.bounds,
        &mut ws.tiles[..tasks],
        &work,
    );
    let mut total = [0.0f64; 3];
    for p in &ws.partials[..blocks] {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// `D_β(X | WH)` evaluated as scikit-learn does (see the module docs).
///
/// For β = 2 the value comes from the Gram identity (no `WH` formed) unless cancellation would
/// dominate (fit error below about `10³·eps·‖X‖²`), in which case it is evaluated directly, one
/// column block of `WH` at a time. Other β always evaluate directly, blockwise.
///
/// # Errors
/// Shape mismatch between `X`, `W` and `H`.
pub fn beta_divergence<'a, T: Float>(
    x: impl Into<DataRef<'a, T>>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    loss: Loss,
    par: Par,
) -> Result<f64, CoreError> {
    let x = x.into();
    let mut ws = LossScratch::for_data(&x, w.ncols(), par);
    beta_divergence_with(&mut ws, x, w, h, loss, par)
}

/// [`beta_divergence`] with caller-owned buffers (allocates nothing when `ws` was made for
/// this shape).
///
/// # Errors
/// Shape mismatch between `X`, `W` and `H`.
pub fn beta_divergence_with<T: Float>(
    ws: &mut LossScratch<T>,
    x: DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    loss: Loss,
    par: Par,
) -> Result<f64, CoreError> {
    check_factors(&x, w, h)?;
    ws.fit_to(&x, w.ncols(), par);
    let beta = loss.beta();
    if beta == 2.0 {
        return frobenius_with(ws, x, w, h, None, par);
    }
    Ok(beta_divergence_direct(ws, x, w, h, beta, par))
}

/// `½‖X − WH‖²_F` as [`beta_divergence_with`] computes it, for a dense X whose product `X·Hᵀ`
/// the caller already holds (a solver that just used it for its W step): the same bits,
/// without forming that product again.
///
/// # Errors
/// Shape mismatch between `X`, `W`, `H` and `xht`.
pub fn frobenius_with_xht<T: Float>(
    ws: &mut LossScratch<T>,
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    xht: MatRef<'_, T>,
    par: Par,
) -> Result<f64, CoreError> {
    let x = DataRef::from(x);
    check_factors(&x, w, h)?;
    for (dim, expected, got) in [
        ("rows", x.nrows(), xht.nrows()),
        ("columns", w.ncols(), xht.ncols()),
    ] {
        if got != expected {
            return Err(CoreError::ShapeMismatch {
                what: "X·Hᵀ",
                dim,
                expected,
                got,
            });
        }
    }
    ws.fit_to(&x, w.ncols(), par);
    frobenius_with(ws, x, w, h, Some(xht), par)
}

fn frobenius_with<T: Float>(
    ws: &mut LossScratch<T>,
    x: DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    xht: Option<MatRef<'_, T>>,
    par: Par,
) -> Result<f64, CoreError> {
    kernels::gram_cols_into(ws.wtw.as_mut(), w, par)?;
    kernels::gram_rows_into(ws.hht.as_mut(), h, par)?;
    let xx = x.squared_norm();
    let d = match x {
        // ⟨X, WH⟩ from the stored entries: O(z·k) and no n x k product.
        DataRef::Sparse(s) => {
            let [cross, _, _] =
                s.fold_stored(w, h, par, &|acc: &mut [f64; 3], xv, yv| acc[0] += xv * yv);
            let quad = kernels::frobenius_inner(ws.wtw.as_ref(), ws.hht.as_ref())?;
            (0.5 * (xx - 2.0 * cross + quad)).max(0.0)
        }
        _ => {
            let xht = match xht {
                Some(p) => p,
                None => {
                    x.mul_into(ws.xht.as_mut(), h.transpose(), par)?;
                    ws.xht.as_ref()
                }
            };
            kernels::frobenius_from_grams(xx, xht, w, ws.wtw.as_ref(), ws.hht.as_ref())?
        }
    };
    // The Gram identity is used unless cancellation dominates, or the products overflowed
    // the data's precision (then the blockwise sum in f64 may still be finite).
    if d.is_finite() && d > 1e3 * T::EPSILON.to_f64() * 0.5 * xx {
        return Ok(d);
    }
    Ok(frobenius_direct_with(ws, x, w, h, par))
}

/// `½‖X − WH‖²_F` evaluated entry by entry (blockwise), for when the Gram identity cancels.
///
/// # Errors
/// Shape mismatch between `X`, `W` and `H`.
pub fn frobenius_direct<'a, T: Float>(
    x: impl Into<DataRef<'a, T>>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    par: Par,
) -> Result<f64, CoreError> {
    let x = x.into();
    check_factors(&x, w, h)?;
    let mut ws = LossScratch::for_data(&x, w.ncols(), par);
    Ok(frobenius_direct_with(&mut ws, x, w, h, par))
}

fn frobenius_direct_with<T: Float>(
    ws: &mut LossScratch<T>,
    x: DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    par: Par,
) -> f64 {
    let [sq, _, _] = fold_entries(
        ws,
        x,
        w,
        h,
        par,
        &Entries(|acc: &mut [f64; 3], xv: f64, yv: f64| {
            let r = xv - yv;
            acc[0] += r * r;
        }),
    );
    0.5 * sq
}

fn beta_divergence_direct<T: Float>(
    ws: &mut LossScratch<T>,
    x: DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    beta: f64,
    par: Par,
) -> f64 {
    let eps = SKLEARN_EPS;
    if beta == 2.0 {
        return frobenius_direct_with(ws, x, w, h, par);
    }
    if beta == 1.0 {
        // Σ_Ω x log(x/WH) + Σ_all WH − Σ_Ω x, with Σ_all WH = colsum(W)·rowsum(H).
        let kl = RatioLog {
            itakura_saito: false,
        };
        let [xlog, xs, _] = match x {
            // Only stored entries have x > EPS: WH is needed there alone (O(z·k)).
            DataRef::Sparse(s) => s.fold_stored(w, h, par, &|acc: &mut [f64; 3], xv, yv| {
                kl.term(acc, xv, yv)
            }),
            _ => fold_entries(ws, x, w, h, par, &kl),
        };
        let mut sum_wh = 0.0f64;
        for r in 0..w.ncols() {
            sum_wh += kernels::sum(w.col(r).as_mat()) * kernels::sum(h.row(r).as_mat());
        }
        return xlog + sum_wh - xs;
    }
    if beta == 0.0 {
        let is = RatioLog {
            itakura_saito: true,
        };
        let [acc, _, _] = fold_entries(ws, x, w, h, par, &is);
        return acc - (x.nrows() as f64) * (x.ncols() as f64);
    }
    let [xb, xy, yb] = fold_entries(
        ws,
        x,
        w,
        h,
        par,
        &Entries(|acc: &mut [f64; 3], xv: f64, yv: f64| {
            if xv > eps {
                acc[0] += xv.powf(beta);
                acc[1] += xv * yv.max(eps).powf(beta - 1.0);
            }
            acc[2] += yv.powf(beta);
        }),
    );
    (xb - beta * xy + (beta - 1.0) * yb) / (beta * (beta - 1.0))
}

/// `sqrt(2·max(D, 0))`: scikit-learn's `reconstruction_err_` (‖X − WH‖_F for Frobenius).
pub fn reconstruction_err<'a, T: Float>(
    x: impl Into<DataRef<'a, T>>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    loss: Loss,
    par: Par,
) -> Result<f64, CoreError> {
    Ok((2.0 * beta_divergence(x, w, h, loss, par)?.max(0.0)).sqrt())
}

/// [`reconstruction_err`] with caller-owned buffers.
///
/// # Errors
/// Shape mismatch between `X`, `W` and `H`.
pub fn reconstruction_err_with<T: Float>(
    ws: &mut LossScratch<T>,
    x: DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    loss: Loss,
    par: Par,
) -> Result<f64, CoreError> {
    Ok((2.0 * beta_divergence_with(ws, x, w, h, loss, par)?.max(0.0)).sqrt())
}

/// The penalty part of the objective:
/// `l1_W·ΣW + ½·l2_W·‖W‖² + l1_H·ΣH + ½·l2_H·‖H‖²`.
pub fn penalty_value<T: Float>(w: MatRef<'_, T>, h: MatRef<'_, T>, p: &Penalties) -> f64 {
    let mut v = 0.0;
    if p.l1_w != 0.0 {
        v += p.l1_w * kernels::sum(w);
    }
    if p.l2_w != 0.0 {
        v += 0.5 * p.l2_w * kernels::squared_norm(w);
    }
    if p.l1_h != 0.0 {
        v += p.l1_h * kernels::sum(h);
    }
    if p.l2_h != 0.0 {
        v += 0.5 * p.l2_h * kernels::squared_norm(h);
    }
    v
}

/// The full penalised objective `D_β(X|WH) + penalties` that the solvers minimise.
pub fn objective<'a, T: Float>(
    x: impl Into<DataRef<'a, T>>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    loss: Loss,
    penalties: &Penalties,
    par: Par,
) -> Result<f64, CoreError> {
    Ok(beta_divergence(x, w, h, loss, par)? + penalty_value(w, h, penalties))
}

/// [`objective`] with caller-owned buffers.
///
/// # Errors
/// Shape mismatch between `X`, `W` and `H`.
pub fn objective_with<T: Float>(
    ws: &mut LossScratch<T>,
    x: DataRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    loss: Loss,
    penalties: &Penalties,
    par: Par,
) -> Result<f64, CoreError> {
    Ok(beta_divergence_with(ws, x, w, h, loss, par)? + penalty_value(w, h, penalties))
}

/// Gradients of the penalised objective: `gw = ∂L/∂W` (n x k), `gh = ∂L/∂H` (k x m).
///
/// This is the gradient of the smooth divergence (no EPS clipping), valid where `WH > 0`:
/// `∂D/∂(WH) = (WH)^(β−1) − X ⊙ (WH)^(β−2)`, then `gw = G·Hᵀ + l1_W + l2_W·W` and
/// `gh = Wᵀ·G + l1_H + l2_H·H`. Entries with `X = 0` contribute `(WH)^(β−1)` only.
/// For β = 2 it uses the Gram form `W(HHᵀ) − XHᵀ` and forms nothing of size n x m.
pub fn gradient_into<'a, T: Float>(
    mut gw: MatMut<'_, T>,
    mut gh: MatMut<'_, T>,
    x: impl Into<DataRef<'a, T>>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    loss: Loss,
    p: &Penalties,
    par: Par,
) -> Result<(), CoreError> {
    let x = x.into();
    check_factors(&x, w, h)?;
    let (n, k) = w.shape();
    let m = x.ncols();
    crate::check::ensure_shape("gradient of W", gw.as_ref(), n, k)?;
    crate::check::ensure_shape("gradient of H", gh.as_ref(), k, m)?;
    let beta = loss.beta();
    use crate::kernels::matmul;
    use faer::Accum;
    if beta == 2.0 {
        let mut hht = mat::zeros::<T>(k, k);
        let mut wtw = mat::zeros::<T>(k, k);
        kernels::gram_rows_into(hht.as_mut(), h, par)?;
        kernels::gram_cols_into(wtw.as_mut(), w, par)?;
        let mut xht = mat::zeros::<T>(n, k);
        let mut wtx = mat::zeros::<T>(k, m);
        x.mul_into(xht.as_mut(), h.transpose(), par)?;
        x.lhs_t_mul_into(wtx.as_mut(), w, par)?;
        matmul(gw.rb_mut(), Accum::Replace, w, hht.as_ref(), T::ONE, par)?;
        gw -= &xht;
        matmul(gh.rb_mut(), Accum::Replace, wtw.as_ref(), h, T::ONE, par)?;
        gh -= &wtx;
    } else {
        let x = x.require_dense("the gradient of a loss other than Frobenius")?;
        let mut wh = mat::zeros::<T>(n, m);
        kernels::wh_into(wh.as_mut(), w, h, par)?;
        let b = T::from_f64(beta);
        let one = T::ONE;
        let two = T::from_f64(2.0);
        faer::zip!(wh.as_mut(), x).for_each(|faer::unzip!(y, xv)| {
            let yv = *y;
            let first = yv.powf(b - one);
            *y = if *xv == T::ZERO {
                first
            } else {
                first - *xv * yv.powf(b - two)
            };
        });
        matmul(
            gw.rb_mut(),
            Accum::Replace,
            wh.as_ref(),
            h.transpose(),
            T::ONE,
            par,
        )?;
        matmul(
            gh.rb_mut(),
            Accum::Replace,
            w.transpose(),
            wh.as_ref(),
            T::ONE,
            par,
        )?;
    }
    let (l1w, l2w) = (T::from_f64(p.l1_w), T::from_f64(p.l2_w));
    let (l1h, l2h) = (T::from_f64(p.l1_h), T::from_f64(p.l2_h));
    faer::zip!(gw.rb_mut(), w).for_each(|faer::unzip!(g, wv)| *g += l1w + l2w * *wv);
    faer::zip!(gh.rb_mut(), h).for_each(|faer::unzip!(g, hv)| *g += l1h + l2h * *hv);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        assert_eq!("kl".parse::<Loss>().unwrap(), Loss::KullbackLeibler);
        assert_eq!("2".parse::<Loss>().unwrap(), Loss::Frobenius);
        assert_eq!("0.5".parse::<Loss>().unwrap(), Loss::Beta(0.5));
        assert!("nan".parse::<Loss>().is_err());
        assert!("euclid".parse::<Loss>().is_err());
        assert_eq!(Loss::Beta(0.0).to_string(), "itakura-saito");
        assert_eq!(Loss::Beta(1.5).to_string(), "1.5");
    }
}
