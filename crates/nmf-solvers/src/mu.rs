//! Multiplicative updates for every beta-divergence (Févotte & Idier 2011, majorisation-
//! minimisation form), with scikit-learn's numerics: the exponent γ(β), penalties in the
//! denominators, float32-epsilon clipping of `WH`, and the post-update clipping of tiny entries.
//!
//! `W·H` is recomputed from the current factors in every half-step. Reusing a stale `WH` between
//! the two half-steps breaks the majorisation argument and makes the KL divergence go up (the
//! classic pitfall; docs/algorithms.md 4.4). For β ≠ 2 the updated factor is cut into independent
//! blocks (rows of W, columns of H) that run in parallel, each forming its `WH` one cache-sized
//! tile at a time, so no n x m temporary is ever allocated and the bits do not depend on the
//! thread count.

use core::ops::Range;
use nmf_core::mat;

use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nmf_core::data::np_pow;
use nmf_core::kernels::{gram_cols_into, gram_rows_into, matmul};
use nmf_core::loss::{self, LossScratch};
use nmf_core::partition::{self, Cols, Rows, TilePlan};
use nmf_core::{DataRef, Float, Loss, Penalties, SKLEARN_EPS};

use crate::error::NmfError;
use crate::params::NmfParams;
use crate::report::{FitWarning, StopReason};
use crate::solver::{
    Problem, Solver, ensure_finite, error_rule, gram_or_exact, gram_or_exact_divergence,
};

/// The MM exponent γ(β): 1/(2−β) for β < 1, 1 for 1 ≤ β ≤ 2, 1/(β−1) for β > 2.
pub(crate) fn gamma(beta: f64) -> f64 {
    if beta < 1.0 {
        1.0 / (2.0 - beta)
    } else if beta > 2.0 {
        1.0 / (beta - 1.0)
    } else {
        1.0
    }
}

/// Penalty coefficients of one factor, in the data's precision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FactorPenalty<T> {
    /// L1 coefficient (already scaled).
    l1: T,
    /// L2 coefficient (already scaled).
    l2: T,
}

impl<T: Float> FactorPenalty<T> {
    pub(crate) fn w(p: &Penalties) -> Self {
        FactorPenalty {
            l1: T::from_f64(p.l1_w),
            l2: T::from_f64(p.l2_w),
        }
    }
    pub(crate) fn h(p: &Penalties) -> Self {
        FactorPenalty {
            l1: T::from_f64(p.l1_h),
            l2: T::from_f64(p.l2_h),
        }
    }
}

/// The blockwise plan of one half-step and its grouping onto tasks.
struct Blockwise {
    plan: TilePlan,
    groups: Vec<usize>,
}

impl Blockwise {
    fn new(along: usize, across: usize, threads: usize) -> Self {
        let plan = TilePlan::new(along, across);
        let groups = partition::groups(&plan.pieces, threads);
        Blockwise { plan, groups }
    }
}

/// Whether H changes between W half-steps (a fit) or stays fixed (transform: for β = 2 its
/// products are then computed once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HRole {
    Updated,
    Fixed,
}

/// Buffers for the updates of an n x m problem with k components, sized once.
pub(crate) struct Workspace<T: Float> {
    num_w: Mat<T>,
    den_w: Mat<T>,
    num_h: Mat<T>,
    den_h: Mat<T>,
    kk: Mat<T>,
    /// HHᵀ of the current H, valid while `hht_current` (computed by the objective evaluation
    /// after an H update, then reused by the next W update).
    hht: Mat<T>,
    hht_current: bool,
    /// β ≠ 2: the plans of both half-steps and two tiles per task.
    on_w: Blockwise,
    on_h: Blockwise,
    scratch: Vec<Vec<T>>,
    tile_len: usize,
    sums: Vec<T>,
    /// For β = 2 with H fixed (transform): XHᵀ and HHᵀ stay valid across iterations.
    fixed_h_ready: bool,
    /// Whether a W half-step ends with scikit-learn's β < 1 clipping (`NMF` clips; the inner W
    /// solve of `MiniBatchNMF`, and so its `transform`, does not).
    pub(crate) clip_w: bool,
}

impl<T: Float> Workspace<T> {
    /// Forgets every product cached from the previous H (H changed outside this workspace).
    pub(crate) fn h_changed(&mut self) {
        self.fixed_h_ready = false;
        self.hht_current = false;
    }

    /// `X·Hᵀ` as the last β = 2 W step formed it (at the H it was given): what a Frobenius
    /// cost at the new W needs, so it need not be formed twice.
    pub(crate) fn xht(&self) -> MatRef<'_, T> {
        self.num_w.as_ref()
    }

    /// Buffers for X n x m, k components and loss β on `par`'s threads.
    pub(crate) fn new(n: usize, m: usize, k: usize, beta: f64, sparse: bool, par: Par) -> Self {
        let threads = par.degree().max(1);
        let (on_w, on_h) = (Blockwise::new(n, m, threads), Blockwise::new(m, n, threads));
        let tile_len = on_w.plan.tile_len().max(on_h.plan.tile_len());
        // β = 2 never forms WH; sparse KL forms it at the stored entries only.
        let sparse_kl = sparse && beta == 1.0;
        let tiles = !(beta == 2.0 || sparse_kl);
        let tasks = if tiles { threads } else { 0 };
        // Sparse KL broadcasts its denominators from `sums`.
        let (dn, dm) = if sparse_kl { (0, 0) } else { (n, m) };
        Workspace {
            num_w: mat::zeros(n, k),
            den_w: mat::zeros(dn, k),
            num_h: mat::zeros(k, m),
            den_h: mat::zeros(k, dm),
            kk: mat::zeros(k, k),
            hht: mat::zeros(k, k),
            hht_current: false,
            on_w,
            on_h,
            scratch: (0..tasks).map(|_| vec![T::ZERO; 2 * tile_len]).collect(),
            tile_len,
            sums: vec![T::ZERO; k],
            fixed_h_ready: false,
            clip_w: true,
        }
    }
}

nmf_core::multiversion! {
/// `factor ← factor ⊙ (num / (den + l1 + l2·factor))^γ`, with exact zeros of the denominator
/// replaced by EPS first (scikit-learn's order of operations).
///
/// Column by column over contiguous slices with γ hoisted, so the γ = 1 case (KL, Frobenius)
/// compiles to vector code. Adding a zero penalty changes no bits, so it is not special-cased.
fn apply<T: Float>(f: MatMut<'_, T>, num: MatRef<'_, T>, den: MatRef<'_, T>, p: FactorPenalty<T>, gamma: f64) {
    let mut f = f;
    let eps = T::from_f64(SKLEARN_EPS);
    let (l1, l2) = (p.l1, p.l2);
    let ratio = |f: T, nu: T, de: T| {
        let mut d = de + l1 + l2 * f;
        if d == T::ZERO {
            d = eps;
        }
        nu / d
    };
    for j in 0..f.ncols() {
        let mut fc = f.rb_mut().col_mut(j);
        let (nc, dc) = (num.col(j), den.col(j));
        let (Some(fs), Some(ns), Some(ds)) = (
            fc.rb_mut().try_as_col_major_mut().map(|c| c.as_slice_mut()),
            nc.try_as_col_major().map(|c| c.as_slice()),
            dc.try_as_col_major().map(|c| c.as_slice()),
        ) else {
            for i in 0..fc.nrows() {
                let v = fc[i];
                fc[i] = v * np_pow(ratio(v, nc[i], dc[i]), gamma);
            }
            continue;
        };
        let it = fs.iter_mut().zip(ns).zip(ds);
        if gamma == 1.0 {
            for ((v, &nu), &de) in it {
                *v *= ratio(*v, nu, de);
            }
        } else if gamma == 0.5 {
            for ((v, &nu), &de) in it {
                *v *= ratio(*v, nu, de).sqrt();
            }
        } else {
            for ((v, &nu), &de) in it {
                *v *= np_pow(ratio(*v, nu, de), gamma);
            }
        }
    }
}
}

/// The multiplicative half-step on W with H fixed, followed (β < 1) by scikit-learn's clipping.
///
/// With a fixed H (transform) and β = 2 the products XHᵀ and HHᵀ are reused. Unlike
/// scikit-learn, the cached H row sums are never modified by the L1 penalty (its KL transform
/// accumulates it: docs/algorithms.md 4.5).
pub(crate) fn update_w<T: Float>(
    mut w: MatMut<'_, T>,
    h: MatRef<'_, T>,
    x: DataRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    role: HRole,
    par: Par,
) -> Result<(), NmfError> {
    let k = w.ncols();
    if beta != 2.0 {
        if beta == 1.0 {
            row_sums(h, &mut ws.sums);
            if x.is_sparse() {
                // KL on sparse X: the numerator from the stored entries alone (O(z·k)), the
                // denominator is the broadcast row sums of H.
                x.mu_numerator_w(ws.num_w.as_mut(), w.rb(), h, beta, par)?;
                finish_broadcast(w, ws.num_w.as_ref(), &ws.sums, p, true);
                return Ok(());
            }
        }
        blockwise_w(w, h, x, beta, p, ws);
        return Ok(());
    }
    if !(role == HRole::Fixed && ws.fixed_h_ready) {
        x.mul_into(ws.num_w.as_mut(), h.transpose(), par)?;
        if !ws.hht_current {
            gram_rows_into(ws.hht.as_mut(), h, partition::gram_par(par, k))?;
            ws.hht_current = true;
        }
        ws.fixed_h_ready = role == HRole::Fixed;
    }
    matmul(
        ws.den_w.as_mut(),
        Accum::Replace,
        w.rb(),
        ws.hht.as_ref(),
        T::ONE,
        partition::small_product_par(par, w.nrows(), k),
    )?;
    apply(
        w.rb_mut(),
        ws.num_w.as_ref(),
        ws.den_w.as_ref(),
        p,
        gamma(beta),
    );
    Ok(())
}

/// The multiplicative half-step on H with W fixed, followed (β ≤ 1) by scikit-learn's clipping.
fn update_h<T: Float>(
    w: MatRef<'_, T>,
    mut h: MatMut<'_, T>,
    x: DataRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    par: Par,
) -> Result<(), NmfError> {
    ws.fixed_h_ready = false;
    ws.hht_current = false;
    if beta != 2.0 {
        if beta == 1.0 {
            kl_h_denominators(w, &mut ws.sums);
            if x.is_sparse() {
                x.mu_numerator_h(ws.num_h.as_mut(), w, h.rb(), beta, par)?;
                finish_broadcast(h, ws.num_h.as_ref(), &ws.sums, p, false);
                return Ok(());
            }
        }
        blockwise_h(w, h, x, beta, p, ws, false);
        return Ok(());
    }
    frobenius_h_products(w, h.rb(), x, ws, par)?;
    apply(h.rb_mut(), ws.num_h.as_ref(), ws.den_h.as_ref(), p, 1.0);
    Ok(())
}

/// The β = 2 products of an H half-step: `WᵀX` into `num_h`, `WᵀW` into `kk`, `WᵀW·H` into
/// `den_h`.
fn frobenius_h_products<T: Float>(
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    x: DataRef<'_, T>,
    ws: &mut Workspace<T>,
    par: Par,
) -> Result<(), NmfError> {
    let k = w.ncols();
    x.lhs_t_mul_into(ws.num_h.as_mut(), w, par)?;
    gram_cols_into(ws.kk.as_mut(), w, partition::gram_par(par, k))?;
    matmul(
        ws.den_h.as_mut(),
        Accum::Replace,
        ws.kk.as_ref(),
        h,
        T::ONE,
        par,
    )?;
    Ok(())
}

/// The KL denominators of an H half-step: W's column sums, a zero (a component unused by every
/// sample, which would divide by zero) replaced by 1 as scikit-learn does.
fn kl_h_denominators<T: Float>(w: MatRef<'_, T>, sums: &mut [T]) {
    col_sums(w, sums);
    for s in sums {
        if *s == T::ZERO {
            *s = T::ONE;
        }
    }
}

/// The running statistics of the online H update (`MiniBatchNMF`'s components numerator and
/// denominator), decayed by `rho` before each batch's are added.
pub(crate) struct OnlineStats<'a, T> {
    pub a: MatMut<'a, T>,
    pub b: MatMut<'a, T>,
    pub rho: T,
}

/// The denominator of an H half-step: a k x m matrix, or (KL) one broadcast value per row.
enum Den<'a, T> {
    Full(MatRef<'a, T>),
    Broadcast(&'a [T]),
}

/// scikit-learn's online H half-step (Lefèvre, Bach & Févotte 2011): with `N` and `D` the MU
/// numerator and penalised denominator of this batch at the current H,
/// `A ← ρA + N ⊙ H^(1/γ)`, `B ← ρB + D`, `H ← (A / B)^γ`, then (β ≤ 1) the clipping. With ρ = 0,
/// A = H and B = 1 it is the batch step.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_h_online<T: Float>(
    w: MatRef<'_, T>,
    mut h: MatMut<'_, T>,
    x: DataRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    stats: OnlineStats<'_, T>,
    par: Par,
) -> Result<(), NmfError> {
    ws.h_changed();
    if beta == 2.0 {
        frobenius_h_products(w, h.rb(), x, ws, par)?;
    } else if beta == 1.0 {
        kl_h_denominators(w, &mut ws.sums);
        if x.is_sparse() {
            x.mu_numerator_h(ws.num_h.as_mut(), w, h.rb(), beta, par)?;
        } else {
            blockwise_h(w, h.rb_mut(), x, beta, p, ws, true);
        }
    } else {
        blockwise_h(w, h.rb_mut(), x, beta, p, ws, true);
    }
    let den = if beta == 1.0 {
        Den::Broadcast(&ws.sums)
    } else {
        Den::Full(ws.den_h.as_ref())
    };
    apply_online(h.rb_mut(), ws.num_h.as_ref(), den, stats, p, gamma(beta));
    if beta <= 1.0 {
        clip_tiny(h);
    }
    Ok(())
}

/// The elementwise part of [`update_h_online`], in scikit-learn's order of operations: the
/// penalties join the denominator, an exact zero becomes EPS, then the numerator takes the
/// factor `H^(1/γ)`, both statistics decay by ρ and take the batch's terms, and H is their
/// ratio (to the power γ).
fn apply_online<T: Float>(
    h: MatMut<'_, T>,
    num: MatRef<'_, T>,
    den: Den<'_, T>,
    stats: OnlineStats<'_, T>,
    p: FactorPenalty<T>,
    gamma: f64,
) {
    let OnlineStats { a, b, rho } = stats;
    let (dm, ds) = match den {
        Den::Full(d) => (Some(d), &[][..]),
        Den::Broadcast(s) => (None, s),
    };
    online_columns(h, a, b, num, dm, ds, p, rho, gamma);
}

nmf_core::multiversion! {
/// [`apply_online`] column by column; over contiguous slices with γ = 1 (Frobenius, KL) the
/// loop is plain arithmetic and selects, so it compiles to vector code. Same operations in the
/// same order either way, so the same bits.
#[allow(clippy::too_many_arguments)]
fn online_columns<T: Float>(
    h: MatMut<'_, T>,
    a: MatMut<'_, T>,
    b: MatMut<'_, T>,
    num: MatRef<'_, T>,
    den_full: Option<MatRef<'_, T>>,
    den_rows: &[T],
    p: FactorPenalty<T>,
    rho: T,
    gamma: f64,
) {
    let (mut h, mut a, mut b) = (h, a, b);
    let eps = T::from_f64(SKLEARN_EPS);
    let inv = 1.0 / gamma;
    let (l1, l2) = (p.l1, p.l2);
    let k = h.nrows();
    for j in 0..h.ncols() {
        let dcol = den_full.map(|d| d.col(j));
        let fast = gamma == 1.0;
        let slices = (
            h.rb_mut().col_mut(j).try_as_col_major_mut().map(|c| c.as_slice_mut()),
            a.rb_mut().col_mut(j).try_as_col_major_mut().map(|c| c.as_slice_mut()),
            b.rb_mut().col_mut(j).try_as_col_major_mut().map(|c| c.as_slice_mut()),
            num.col(j).try_as_col_major().map(|c| c.as_slice()),
            match dcol {
                Some(d) => d.try_as_col_major().map(|c| c.as_slice()),
                None => Some(den_rows),
            },
        );
        if let (true, (Some(hs), Some(as_), Some(bs), Some(ns), Some(ds))) = (fast, slices) {
            // Zipped, so the loop has no bounds checks and vectorises.
            let stats = as_.iter_mut().zip(bs.iter_mut());
            let terms = ns.iter().zip(&ds[..k]);
            for ((hv, (av, bv)), (&nv, &dv)) in hs.iter_mut().zip(stats).zip(terms) {
                let v = *hv;
                let mut d = dv + l1 + l2 * v;
                if d == T::ZERO {
                    d = eps;
                }
                let at = rho * *av + nv * v;
                let bt = rho * *bv + d;
                *av = at;
                *bv = bt;
                *hv = at / bt;
            }
            continue;
        }
        for t in 0..k {
            let v = h[(t, j)];
            let d0 = match dcol {
                Some(d) => d[t],
                None => den_rows[t],
            };
            let mut d = d0 + l1 + l2 * v;
            if d == T::ZERO {
                d = eps;
            }
            let hv = if gamma == 1.0 { v } else { np_pow(v, inv) };
            let at = rho * a[(t, j)] + num[(t, j)] * hv;
            let bt = rho * b[(t, j)] + d;
            a[(t, j)] = at;
            b[(t, j)] = bt;
            let r = at / bt;
            h[(t, j)] = if gamma == 1.0 { r } else { np_pow(r, gamma) };
        }
    }
}
}

/// Sets entries below float64 epsilon to zero (scikit-learn's stability clipping).
pub(crate) fn clip_tiny<T: Float>(mut f: MatMut<'_, T>) {
    let tiny = T::from_f64(f64::EPSILON);
    for j in 0..f.ncols() {
        for i in 0..f.nrows() {
            if f[(i, j)] < tiny {
                f[(i, j)] = T::ZERO;
            }
        }
    }
}

/// `sums[t] = Σ_j h[t, j]`, walking H's columns in memory order.
fn row_sums<T: Float>(h: MatRef<'_, T>, sums: &mut [T]) {
    sums.fill(T::ZERO);
    for j in 0..h.ncols() {
        for (t, s) in sums.iter_mut().enumerate() {
            *s += h[(t, j)];
        }
    }
}

/// `sums[t] = Σ_i w[i, t]`.
fn col_sums<T: Float>(w: MatRef<'_, T>, sums: &mut [T]) {
    for (t, s) in sums.iter_mut().enumerate() {
        let mut acc = T::ZERO;
        for i in 0..w.nrows() {
            acc += w[(i, t)];
        }
        *s = acc;
    }
}

/// Finishes a piece: the β = 1 denominator (a broadcast sum), the update, the clipping.
fn finish<T: Float>(
    f: MatMut<'_, T>,
    num: MatRef<'_, T>,
    mut den: MatMut<'_, T>,
    sums: &[T],
    beta: f64,
    p: FactorPenalty<T>,
    by_rows: bool,
    clip_w: bool,
) {
    let mut f = f;
    if beta == 1.0 {
        for (t, &s) in sums.iter().enumerate() {
            if by_rows {
                den.rb_mut().col_mut(t).fill(s);
            } else {
                den.rb_mut().row_mut(t).fill(s);
            }
        }
    }
    apply(f.rb_mut(), num, den.rb(), p, gamma(beta));
    let clip = if by_rows {
        clip_w && beta < 1.0
    } else {
        beta <= 1.0
    };
    if clip {
        clip_tiny(f);
    }
}

/// The KL update with the broadcast denominator read from `sums` instead of a filled matrix
/// (sparse X keeps no n x k denominator): the same arithmetic as [`finish`], so the same bits.
fn finish_broadcast<T: Float>(
    mut f: MatMut<'_, T>,
    num: MatRef<'_, T>,
    sums: &[T],
    p: FactorPenalty<T>,
    by_rows: bool,
) {
    let eps = T::from_f64(SKLEARN_EPS);
    let (l1, l2) = (p.l1, p.l2);
    for j in 0..f.ncols() {
        for i in 0..f.nrows() {
            let v = f[(i, j)];
            let mut d = (if by_rows { sums[j] } else { sums[i] }) + l1 + l2 * v;
            if d == T::ZERO {
                d = eps;
            }
            // γ = 1 for KL.
            f[(i, j)] = v * (num[(i, j)] / d);
        }
    }
    // scikit-learn clips H after a KL step, not W (as `finish`).
    if !by_rows {
        clip_tiny(f);
    }
}

/// The β ≠ 2 half-step on W, in independent blocks of rows.
///
/// Rows R of W need `(X_R ⊙ Λ_R^(β−2))·Hᵀ` and `Λ_R^(β−1)·Hᵀ` with `Λ_R = W_R·H`, nothing
/// from other rows. Each piece walks the columns in chunks, forms that tile of `WH`, the
/// elementwise powers in one pass and both products, then applies its own update. Every
/// product is a sequential faer call on shapes fixed by the problem, so the bits do not depend
/// on the thread count; the threads share the elementwise work, and no n x m temporary exists.
fn blockwise_w<T: Float>(
    w: MatMut<'_, T>,
    h: MatRef<'_, T>,
    x: DataRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
) {
    use faer::linalg::matmul::matmul as gemm;
    let (plan, sums, tile_len, clip_w) = (&ws.on_w.plan, &ws.sums, ws.tile_len, ws.clip_w);
    let state = (Rows(w), Rows(ws.num_w.as_mut()), Rows(ws.den_w.as_mut()));
    let work = |part: (Rows<'_, T>, Rows<'_, T>, Rows<'_, T>),
                tile: &mut Vec<T>,
                range: Range<usize>| {
        partition::for_each_piece(
            part,
            &plan.pieces,
            range,
            |(Rows(mut f), Rows(mut num), Rows(den)), rows| {
                let r = rows.len();
                let mut den = den;
                let (t_wh, t_fx) = tile.split_at_mut(tile_len);
                for (ci, c) in plan.chunks.windows(2).enumerate() {
                    let cb = c[1] - c[0];
                    let hb = h.subcols(c[0], cb);
                    let mut wh = MatMut::from_column_major_slice_mut(&mut t_wh[..r * cb], r, cb);
                    let mut fx = MatMut::from_column_major_slice_mut(&mut t_fx[..r * cb], r, cb);
                    gemm(wh.rb_mut(), Accum::Replace, f.rb(), hb, T::ONE, Par::Seq);
                    x.mu_tile(rows.start, c[0], wh.rb_mut(), fx.rb_mut(), beta)
                        .expect("tiles are cut from X's own shape");
                    let acc = if ci == 0 { Accum::Replace } else { Accum::Add };
                    gemm(num.rb_mut(), acc, fx.rb(), hb.transpose(), T::ONE, Par::Seq);
                    if beta != 1.0 {
                        gemm(den.rb_mut(), acc, wh.rb(), hb.transpose(), T::ONE, Par::Seq);
                    }
                }
                finish(f.rb_mut(), num.rb(), den, sums, beta, p, true, clip_w);
            },
        );
    };
    partition::run_groups(state, &ws.on_w.groups, &mut ws.scratch, &work);
}

/// The β ≠ 2 half-step on H, in independent blocks of columns (see [`blockwise_w`]).
fn blockwise_h<T: Float>(
    w: MatRef<'_, T>,
    h: MatMut<'_, T>,
    x: DataRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    defer: bool,
) {
    use faer::linalg::matmul::matmul as gemm;
    let (plan, sums, tile_len) = (&ws.on_h.plan, &ws.sums, ws.tile_len);
    let state = (Cols(h), Cols(ws.num_h.as_mut()), Cols(ws.den_h.as_mut()));
    let work = |part: (Cols<'_, T>, Cols<'_, T>, Cols<'_, T>),
                tile: &mut Vec<T>,
                range: Range<usize>| {
        partition::for_each_piece(
            part,
            &plan.pieces,
            range,
            |(Cols(mut f), Cols(mut num), Cols(den)), cols| {
                let cb = cols.len();
                let mut den = den;
                let (t_wh, t_fx) = tile.split_at_mut(tile_len);
                for (ri, r) in plan.chunks.windows(2).enumerate() {
                    let rb = r[1] - r[0];
                    let wb = w.subrows(r[0], rb);
                    let mut wh = MatMut::from_column_major_slice_mut(&mut t_wh[..rb * cb], rb, cb);
                    let mut fx = MatMut::from_column_major_slice_mut(&mut t_fx[..rb * cb], rb, cb);
                    gemm(wh.rb_mut(), Accum::Replace, wb, f.rb(), T::ONE, Par::Seq);
                    x.mu_tile(r[0], cols.start, wh.rb_mut(), fx.rb_mut(), beta)
                        .expect("tiles are cut from X's own shape");
                    let acc = if ri == 0 { Accum::Replace } else { Accum::Add };
                    gemm(num.rb_mut(), acc, wb.transpose(), fx.rb(), T::ONE, Par::Seq);
                    if beta != 1.0 {
                        gemm(den.rb_mut(), acc, wb.transpose(), wh.rb(), T::ONE, Par::Seq);
                    }
                }
                if !defer {
                    finish(f.rb_mut(), num.rb(), den, sums, beta, p, false, true);
                }
            },
        );
    };
    partition::run_groups(state, &ws.on_h.groups, &mut ws.scratch, &work);
}

/// ½‖X − WH‖² right after a β = 2 [`update_h`], from the products that update left behind
/// (WᵀX and WᵀW of the current W) and HHᵀ of the new H, which the next [`update_w`] reuses.
/// Only meaningful after a β = 2 `update_h` with this workspace.
fn frobenius_after_h<T: Float>(
    ws: &mut Workspace<T>,
    h: MatRef<'_, T>,
    x_sqnorm: f64,
    par: Par,
) -> Result<f64, NmfError> {
    let k = h.nrows();
    gram_rows_into(ws.hht.as_mut(), h, partition::gram_par(par, k))?;
    ws.hht_current = true;
    let cross = nmf_core::kernels::frobenius_inner(ws.num_h.as_ref(), h).unwrap_or(f64::NAN);
    let quad =
        nmf_core::kernels::frobenius_inner(ws.kk.as_ref(), ws.hht.as_ref()).unwrap_or(f64::NAN);
    Ok((0.5 * (x_sqnorm - 2.0 * cross + quad)).max(0.0))
}

/// scikit-learn's `solver="mu"` for any β: W then H per iteration, `W·H` recomputed between the
/// half-steps, and scikit-learn's rule of comparing the error every 10 iterations.
pub(crate) struct Mu<T: Float> {
    w: Mat<T>,
    h: Mat<T>,
    ws: Box<Workspace<T>>,
    loss_ws: LossScratch<T>,
    pw: FactorPenalty<T>,
    ph: FactorPenalty<T>,
    beta: f64,
    /// The error at the start and at the last check (scikit-learn's rule).
    e0: f64,
    prev_err: f64,
}

impl<T: Float> Mu<T> {
    /// `reconstruction_err` right after a step: from the step's products for Frobenius (the
    /// Gram identity on WᵀX, WᵀW of this W and HHᵀ of the new H), else evaluated blockwise.
    fn error_after_step(&mut self, pb: &Problem<'_, T>) -> Result<f64, NmfError> {
        if pb.c.loss != Loss::Frobenius {
            return self.error(pb);
        }
        let d = frobenius_after_h(&mut self.ws, self.h.as_ref(), pb.x_sqnorm, pb.par())?;
        let d =
            gram_or_exact_divergence(d, &mut self.loss_ws, pb, self.w.as_ref(), self.h.as_ref())?;
        Ok((2.0 * d.max(0.0)).sqrt())
    }

    fn error(&mut self, pb: &Problem<'_, T>) -> Result<f64, NmfError> {
        let c = pb.c;
        Ok(loss::reconstruction_err_with(
            &mut self.loss_ws,
            pb.x,
            self.w.as_ref(),
            self.h.as_ref(),
            c.loss,
            c.par,
        )?)
    }
}

pub(crate) fn count_zeros<T: Float>(a: MatRef<'_, T>) -> usize {
    let mut z = 0;
    a.for_each(|&v| z += usize::from(v == T::ZERO));
    z
}

impl<T: Float> Solver<T> for Mu<T> {
    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        let c = pb.c;
        let (n, m) = pb.x.shape();
        let k = c.n_components;
        // Multiplicative updates never move an exact zero.
        let zeros = count_zeros(w.as_ref()) + count_zeros(h.as_ref());
        if zeros > 0 {
            warnings.push(FitWarning::MuZerosInInit { zeros });
        }
        let beta = c.loss.beta();
        Ok(Mu {
            w,
            h,
            ws: Box::new(Workspace::new(n, m, k, beta, pb.x.is_sparse(), c.par)),
            loss_ws: LossScratch::for_data(&pb.x, k, c.par),
            pw: FactorPenalty::w(&pb.pen),
            ph: FactorPenalty::h(&pb.pen),
            beta,
            e0: 0.0,
            prev_err: 0.0,
        })
    }

    fn start(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        if pb.c.tol <= 0.0 {
            return Ok(None);
        }
        self.e0 = self.error(pb)?;
        self.prev_err = self.e0;
        Ok((self.e0 == 0.0).then_some(StopReason::PerfectFit))
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        let par = pb.par();
        update_w(
            self.w.as_mut(),
            self.h.as_ref(),
            pb.x,
            self.beta,
            self.pw,
            &mut self.ws,
            HRole::Updated,
            par,
        )?;
        update_h(
            self.w.as_ref(),
            self.h.as_mut(),
            pb.x,
            self.beta,
            self.ph,
            &mut self.ws,
            par,
        )?;
        Ok(None)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        ensure_finite("W", self.w.as_ref(), iter)?;
        ensure_finite("H", self.h.as_ref(), iter)
    }

    fn objective(&mut self, pb: &Problem<'_, T>, after_step: bool) -> Result<f64, NmfError> {
        let c = pb.c;
        if !(after_step && c.loss == Loss::Frobenius) {
            return Ok(loss::objective_with(
                &mut self.loss_ws,
                pb.x,
                self.w.as_ref(),
                self.h.as_ref(),
                c.loss,
                &pb.pen,
                c.par,
            )?);
        }
        let d = frobenius_after_h(&mut self.ws, self.h.as_ref(), pb.x_sqnorm, pb.par())?;
        gram_or_exact(d, &mut self.loss_ws, pb, self.w.as_ref(), self.h.as_ref())
    }

    fn converged(
        &mut self,
        pb: &Problem<'_, T>,
        iter: usize,
    ) -> Result<Option<StopReason>, NmfError> {
        // scikit-learn compares the error every 10 iterations with the error at the start.
        if pb.c.tol <= 0.0 || !iter.is_multiple_of(10) {
            return Ok(None);
        }
        let e = self.error_after_step(pb)?;
        Ok(error_rule(&mut self.prev_err, self.e0, e, pb.c.tol))
    }

    fn factors(&self) -> Option<(MatRef<'_, T>, MatRef<'_, T>)> {
        Some((self.w.as_ref(), self.h.as_ref()))
    }

    fn into_factors(self, _pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        Ok((self.w, self.h))
    }

    /// scikit-learn's mu `transform`: W half-steps from `sqrt(mean(X)/k)` with H fixed, with
    /// its every-10-iterations error rule.
    fn solve_w(
        c: &NmfParams<T>,
        h: MatRef<'_, T>,
        x: DataRef<'_, T>,
        pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        let (n, m) = x.shape();
        let k = h.nrows();
        let beta = c.loss.beta();
        let avg = (T::from_f64(x.sum() / (n as f64 * m as f64)) / T::from_usize(k)).sqrt();
        let mut w = mat::from_fn(n, k, |_, _| avg);
        let mut ws = Workspace::new(n, m, k, beta, x.is_sparse(), c.par);
        let mut loss_ws = LossScratch::for_data(&x, k, c.par);
        let pw = FactorPenalty::w(pen);
        let mut err = |w: &Mat<T>| {
            loss::reconstruction_err_with(&mut loss_ws, x, w.as_ref(), h, c.loss, c.par)
        };
        let e0 = if c.tol > 0.0 { err(&w)? } else { 0.0 };
        let mut prev = e0;
        for it in 1..=c.max_iter {
            update_w(w.as_mut(), h, x, beta, pw, &mut ws, HRole::Fixed, c.par)?;
            if c.tol > 0.0 && it % 10 == 0 {
                let e = err(&w)?;
                if e0 == 0.0 || (prev - e) / e0 < c.tol {
                    break;
                }
                prev = e;
            }
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_follows_fevotte_idier() {
        assert_eq!(gamma(0.0), 0.5);
        assert_eq!(gamma(1.0), 1.0);
        assert_eq!(gamma(2.0), 1.0);
        assert_eq!(gamma(3.0), 0.5);
        assert_eq!(gamma(-1.0), 1.0 / 3.0);
    }

    #[test]
    fn numpy_fast_powers() {
        assert_eq!(np_pow(4.0f64, 0.5), 2.0);
        assert_eq!(np_pow(4.0f64, -1.0), 0.25);
        assert_eq!(np_pow(3.0f32, 2.0), 9.0);
        assert_eq!(np_pow(2.0f64, 3.0), 8.0);
    }

    /// The textbook update with a full `WH`, for checking the blockwise one.
    fn dense_update(w: &Mat<f64>, h: &Mat<f64>, x: &Mat<f64>, beta: f64, on_w: bool) -> Mat<f64> {
        let eps = SKLEARN_EPS;
        let wh = w * h;
        let lam_s = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
            let v = wh[(i, j)];
            if beta < 2.0 { v.max(eps) } else { v }
        });
        let lam_d = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
            let v = wh[(i, j)];
            if beta < 1.0 { v.max(eps) } else { v }
        });
        let fx = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
            x[(i, j)] * lam_s[(i, j)].powf(beta - 2.0)
        });
        let pw = Mat::from_fn(x.nrows(), x.ncols(), |i, j| lam_d[(i, j)].powf(beta - 1.0));
        let g = gamma(beta);
        if on_w {
            let (num, den) = (&fx * h.transpose(), &pw * h.transpose());
            Mat::from_fn(w.nrows(), w.ncols(), |i, t| {
                let v = w[(i, t)] * (num[(i, t)] / den[(i, t)]).powf(g);
                if beta < 1.0 && v < f64::EPSILON {
                    0.0
                } else {
                    v
                }
            })
        } else {
            let (num, den) = (w.transpose() * &fx, w.transpose() * &pw);
            Mat::from_fn(h.nrows(), h.ncols(), |t, j| {
                let v = h[(t, j)] * (num[(t, j)] / den[(t, j)]).powf(g);
                if beta <= 1.0 && v < f64::EPSILON {
                    0.0
                } else {
                    v
                }
            })
        }
    }

    #[test]
    fn blockwise_updates_match_the_dense_formula_on_any_thread_count() {
        // Shapes that give several pieces and several chunks per piece on both sides.
        let (n, m, k) = (200, 1500, 5);
        let cell =
            |a: usize, b: usize, s: usize| ((a * 7919 + b * 104_729 + s) % 1000) as f64 / 1000.0;
        let x = Mat::from_fn(n, m, |i, j| cell(i, j, 1) + 0.05);
        let w = Mat::from_fn(n, k, |i, t| cell(i, t, 2) + 0.1);
        let h = Mat::from_fn(k, m, |t, j| cell(t, j, 3) + 0.1);
        let p = FactorPenalty { l1: 0.0, l2: 0.0 };
        for beta in [0.0, 0.5, 1.0, 1.5, 3.0] {
            let want_w = dense_update(&w, &h, &x, beta, true);
            let want_h = dense_update(&w, &h, &x, beta, false);
            let mut bits = Vec::new();
            for par in [Par::Seq, Par::rayon(2), Par::rayon(3)] {
                let mut ws = Workspace::new(n, m, k, beta, false, par);
                let mut w1 = w.clone();
                update_w(
                    w1.as_mut(),
                    h.as_ref(),
                    x.as_ref().into(),
                    beta,
                    p,
                    &mut ws,
                    HRole::Updated,
                    par,
                )
                .unwrap();
                let mut h1 = h.clone();
                update_h(
                    w.as_ref(),
                    h1.as_mut(),
                    x.as_ref().into(),
                    beta,
                    p,
                    &mut ws,
                    par,
                )
                .unwrap();
                let close = |a: &Mat<f64>, b: &Mat<f64>| (a - b).norm_max() <= 1e-10 * b.norm_max();
                assert!(close(&w1, &want_w), "W, beta {beta}, {par:?}");
                assert!(close(&h1, &want_h), "H, beta {beta}, {par:?}");
                bits.push((w1, h1));
            }
            assert!(
                bits.windows(2).all(|b| b[0] == b[1]),
                "thread-dependent bits, beta {beta}"
            );
        }
    }

    const BETAS: [f64; 8] = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0];

    proptest::proptest! {
        /// Every multiplicative half-step is non-increasing for its objective, for every β,
        /// with and without penalties (X > 0).
        #[test]
        fn half_steps_never_increase_the_objective(
            (n, m, k, seed) in crate::test_support::dims(),
            bi in 0usize..BETAS.len(),
            reg in crate::test_support::penalties(),
        ) {
            use crate::test_support::{objective, problem, slack};
            let beta = BETAS[bi];
            let loss = Loss::Beta(beta);
            let (x, mut w, mut h) = problem(n, m, k, seed);
            let p = reg.scaled(n, m);
            let (pw, ph) = (FactorPenalty::w(&p), FactorPenalty::h(&p));
            let mut ws = Workspace::new(n, m, k, beta, false, Par::Seq);
            let mut prev = objective(x.as_ref(), w.as_ref(), h.as_ref(), loss, &reg);
            for _ in 0..15 {
                update_w(w.as_mut(), h.as_ref(), x.as_ref().into(), beta, pw, &mut ws, HRole::Updated, Par::Seq).unwrap();
                let o = objective(x.as_ref(), w.as_ref(), h.as_ref(), loss, &reg);
                proptest::prop_assert!(o <= prev + slack(prev, &x, beta), "W half-step: {prev} -> {o}");
                prev = o;
                update_h(w.as_ref(), h.as_mut(), x.as_ref().into(), beta, ph, &mut ws, Par::Seq).unwrap();
                let o = objective(x.as_ref(), w.as_ref(), h.as_ref(), loss, &reg);
                proptest::prop_assert!(o <= prev + slack(prev, &x, beta), "H half-step: {prev} -> {o}");
                prev = o;
            }
        }
    }
}
