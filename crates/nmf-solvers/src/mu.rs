//! Multiplicative updates for every beta-divergence (Févotte & Idier 2011, majorisation-
//! minimisation form), with scikit-learn's numerics: the exponent γ(β), penalties in the
//! denominators, float32-epsilon clipping of `WH`, and the post-update clipping of tiny entries.
//!
//! `W·H` is recomputed from the current factors in every half-step. Reusing a stale `WH` between
//! the two half-steps breaks the majorisation argument and makes the KL divergence go up (the
//! classic pitfall; ALGORITHMS.md 4.4). For β ≠ 2 the updated factor is cut into independent
//! blocks (rows of W, columns of H) that run in parallel, each forming its `WH` one cache-sized
//! tile at a time, so no n x m temporary is ever allocated and the bits do not depend on the
//! thread count.

use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nmf_core::kernels::matmul;
use nmf_core::{Float, SKLEARN_EPS};

/// The MM exponent γ(β): 1/(2−β) for β < 1, 1 for 1 ≤ β ≤ 2, 1/(β−1) for β > 2.
pub fn gamma(beta: f64) -> f64 {
    if beta < 1.0 {
        1.0 / (2.0 - beta)
    } else if beta > 2.0 {
        1.0 / (beta - 1.0)
    } else {
        1.0
    }
}

/// `x^e` with NumPy's fast paths for the exponents it special-cases (−1, 0, ½, 1, 2), so
/// results match scikit-learn's `**` to the last bit.
#[inline(always)]
fn np_pow<T: Float>(x: T, e: f64) -> T {
    if e == 2.0 {
        x * x
    } else if e == -1.0 {
        T::ONE / x
    } else if e == 0.5 {
        x.sqrt()
    } else if e == 1.0 {
        x
    } else if e == 0.0 {
        T::ONE
    } else {
        x.powf(T::from_f64(e))
    }
}

/// Penalty coefficients of one factor, in the data's precision.
#[derive(Debug, Clone, Copy)]
pub struct FactorPenalty<T> {
    /// L1 coefficient (already scaled).
    pub l1: T,
    /// L2 coefficient (already scaled).
    pub l2: T,
}

/// Reusable buffers for the updates of an n x m problem with k components.
pub struct Workspace<T: Float> {
    num_w: Mat<T>,
    den_w: Mat<T>,
    num_h: Mat<T>,
    den_h: Mat<T>,
    kk: Mat<T>,
    /// HHᵀ of the current H, valid while `hht_current` (computed by the objective evaluation
    /// after an H update, then reused by the next W update).
    hht: Mat<T>,
    hht_current: bool,
    /// Two tiles per worker for the β ≠ 2 updates (grown on first use to the thread count).
    scratch: Vec<Vec<T>>,
    sums: Vec<T>,
    /// For β = 2 with H fixed (transform): XHᵀ and HHᵀ stay valid across iterations.
    fixed_h_ready: bool,
}

impl<T: Float> Workspace<T> {
    /// Buffers for X n x m and k components.
    pub fn new(n: usize, m: usize, k: usize) -> Self {
        Workspace {
            num_w: Mat::zeros(n, k),
            den_w: Mat::zeros(n, k),
            num_h: Mat::zeros(k, m),
            den_h: Mat::zeros(k, m),
            kk: Mat::zeros(k, k),
            hht: Mat::zeros(k, k),
            hht_current: false,
            scratch: Vec::new(),
            sums: vec![T::ZERO; k],
            fixed_h_ready: false,
        }
    }
}

nmf_core::multiversion! {
/// Fills `fx` with `X ⊙ Λs^(β−2)` and, unless β = 1, overwrites `wh` with `Λd^(β−1)`, where
/// Λs (Λd) is `WH` clipped at EPS for β < 2 (β < 1).
///
/// One pass per column over contiguous slices, with the β cases hoisted out of the loop so the
/// common losses (KL, IS) compile to straight vector code.
fn elementwise<T: Float>(x: MatRef<'_, T>, wh: MatMut<'_, T>, fx: MatMut<'_, T>, beta: f64) {
    let (mut wh, mut fx) = (wh, fx);
    let eps = T::from_f64(SKLEARN_EPS);
    let clip = |y: T| if y < eps { eps } else { y };
    for j in 0..x.ncols() {
        let xc = x.col(j);
        let mut whc = wh.rb_mut().col_mut(j);
        let mut fxc = fx.rb_mut().col_mut(j);
        let (Some(xs), Some(ys), Some(fs)) = (
            xc.try_as_col_major().map(|c| c.as_slice()),
            whc.rb_mut()
                .try_as_col_major_mut()
                .map(|c| c.as_slice_mut()),
            fxc.rb_mut()
                .try_as_col_major_mut()
                .map(|c| c.as_slice_mut()),
        ) else {
            // Strided views (never produced inside this crate): the plain loop.
            for i in 0..x.nrows() {
                let (xv, y) = (x[(i, j)], wh[(i, j)]);
                let ys = if beta < 2.0 { clip(y) } else { y };
                fx[(i, j)] = np_pow(ys, beta - 2.0) * xv;
                if beta != 1.0 {
                    wh[(i, j)] = np_pow(if beta < 1.0 { clip(y) } else { y }, beta - 1.0);
                }
            }
            continue;
        };
        if beta == 1.0 {
            for ((f, &xv), &y) in fs.iter_mut().zip(xs).zip(ys.iter()) {
                *f = xv / clip(y);
            }
        } else if beta == 0.0 {
            for ((f, &xv), y) in fs.iter_mut().zip(xs).zip(ys.iter_mut()) {
                let r = T::ONE / clip(*y);
                *f = r * r * xv;
                *y = r;
            }
        } else {
            for ((f, &xv), y) in fs.iter_mut().zip(xs).zip(ys.iter_mut()) {
                let v = *y;
                let s = if beta < 2.0 { clip(v) } else { v };
                *f = np_pow(s, beta - 2.0) * xv;
                *y = np_pow(if beta < 1.0 { clip(v) } else { v }, beta - 1.0);
            }
        }
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

/// Sets entries below float64 epsilon to zero (scikit-learn's stability clipping).
fn clip_tiny<T: Float>(mut f: MatMut<'_, T>) {
    let tiny = T::from_f64(f64::EPSILON);
    for j in 0..f.ncols() {
        for i in 0..f.nrows() {
            if f[(i, j)] < tiny {
                f[(i, j)] = T::ZERO;
            }
        }
    }
}

/// The multiplicative half-step on W with H fixed, followed (β < 1) by scikit-learn's clipping.
///
/// `h_fixed` says H has not changed since the previous call with this workspace (transform):
/// for β = 2 the products XHᵀ and HHᵀ are then reused. Unlike scikit-learn, the cached H row
/// sums are never modified by the L1 penalty (its KL transform accumulates it: ALGORITHMS.md 4.5).
pub fn update_w<T: Float>(
    mut w: MatMut<'_, T>,
    h: MatRef<'_, T>,
    x: MatRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    h_fixed: bool,
    par: Par,
) {
    let k = w.ncols();
    let g = gamma(beta);
    if beta != 2.0 {
        if beta == 1.0 {
            row_sums(h, &mut ws.sums);
        }
        blockwise_w(w, h, x, beta, p, ws, par);
        return;
    }
    if !(h_fixed && ws.fixed_h_ready) {
        matmul(
            ws.num_w.as_mut(),
            Accum::Replace,
            x,
            h.transpose(),
            T::ONE,
            par,
        );
        if !ws.hht_current {
            matmul(
                ws.hht.as_mut(),
                Accum::Replace,
                h,
                h.transpose(),
                T::ONE,
                crate::cd::kpar(par, k),
            );
            ws.hht_current = true;
        }
        ws.fixed_h_ready = h_fixed;
    }
    // n x k x k: a few MFLOP, faster on one thread (LIMITS.md: W(HHᵀ) at k = 50 runs at 99
    // GFLOP/s on one thread, 58 on two).
    let small = 2 * w.nrows() * k * k < 16_000_000;
    matmul(
        ws.den_w.as_mut(),
        Accum::Replace,
        w.rb(),
        ws.hht.as_ref(),
        T::ONE,
        if small { Par::Seq } else { par },
    );
    apply(w.rb_mut(), ws.num_w.as_ref(), ws.den_w.as_ref(), p, g);
}

/// The multiplicative half-step on H with W fixed, followed (β ≤ 1) by scikit-learn's clipping.
pub fn update_h<T: Float>(
    w: MatRef<'_, T>,
    mut h: MatMut<'_, T>,
    x: MatRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    par: Par,
) {
    let k = w.ncols();
    ws.fixed_h_ready = false;
    ws.hht_current = false;
    if beta != 2.0 {
        if beta == 1.0 {
            col_sums(w, &mut ws.sums);
            // A component unused by every sample would divide by zero; scikit-learn uses 1.
            for s in &mut ws.sums {
                if *s == T::ZERO {
                    *s = T::ONE;
                }
            }
        }
        blockwise_h(w, h, x, beta, p, ws, par);
        return;
    }
    matmul(
        ws.num_h.as_mut(),
        Accum::Replace,
        w.transpose(),
        x,
        T::ONE,
        par,
    );
    matmul(
        ws.kk.as_mut(),
        Accum::Replace,
        w.transpose(),
        w,
        T::ONE,
        crate::cd::kpar(par, k),
    );
    matmul(
        ws.den_h.as_mut(),
        Accum::Replace,
        ws.kk.as_ref(),
        h.rb(),
        T::ONE,
        par,
    );
    apply(h.rb_mut(), ws.num_h.as_ref(), ws.den_h.as_ref(), p, 1.0);
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

/// Entries of one scratch tile of `WH` (and one of `X ⊙ …`): small enough that both tiles and
/// the factor panels they meet stay in a core's L2 cache.
const TILE: usize = 32 * 1024;

/// Boundaries of `parts` near-equal pieces of `0..d`, on multiples of 16 where the pieces allow
/// (whole SIMD registers for faer's kernels). A function of `d` and `parts` only.
pub(crate) fn cuts(d: usize, parts: usize) -> Vec<usize> {
    let parts = parts.clamp(1, d.max(1));
    let align = if d >= 16 * parts { 16 } else { 1 };
    let mut b: Vec<usize> = (0..=parts)
        .map(|i| ((i * d / parts + align / 2) / align * align).min(d))
        .collect();
    b[parts] = d;
    b.dedup();
    b
}

/// One independent piece of a blockwise update: a block of rows of W (or of columns of H),
/// starting at `at`, with its numerator and denominator.
struct Piece<'a, T> {
    at: usize,
    f: MatMut<'a, T>,
    num: MatMut<'a, T>,
    den: MatMut<'a, T>,
}

/// Runs `work` on every piece, the pieces cut into one contiguous group per thread, each group
/// with its own scratch (two tiles).
fn run_pieces<T: Float>(
    pieces: Vec<Piece<'_, T>>,
    scratch: &mut Vec<Vec<T>>,
    par: Par,
    work: impl Fn(&mut Piece<'_, T>, &mut [T]) + Sync,
) {
    let groups = par.degree().clamp(1, pieces.len().max(1));
    if scratch.len() < groups {
        scratch.resize_with(groups, || vec![T::ZERO; 2 * TILE]);
    }
    let bounds = cuts(pieces.len(), groups);
    let mut rest = pieces;
    let mut grouped = Vec::with_capacity(groups);
    for c in bounds.windows(2).rev() {
        grouped.push(rest.split_off(c[0]));
    }
    if grouped.len() <= 1 {
        for mut pc in grouped.into_iter().flatten() {
            work(&mut pc, &mut scratch[0]);
        }
        return;
    }
    use rayon::prelude::*;
    grouped
        .into_par_iter()
        .zip(scratch.par_iter_mut())
        .for_each(|(group, tile)| {
            for mut pc in group {
                work(&mut pc, tile);
            }
        });
}

/// Cuts `f`, `num` and `den` into pieces along rows (`by_rows`) or columns at `bounds`.
fn pieces<'a, T: Float>(
    mut f: MatMut<'a, T>,
    mut num: MatMut<'a, T>,
    mut den: MatMut<'a, T>,
    bounds: &[usize],
    by_rows: bool,
) -> Vec<Piece<'a, T>> {
    let mut out = Vec::with_capacity(bounds.len());
    for c in bounds.windows(2) {
        let len = c[1] - c[0];
        let (a, b, d);
        if by_rows {
            (a, f) = f.split_at_row_mut(len);
            (b, num) = num.split_at_row_mut(len);
            (d, den) = den.split_at_row_mut(len);
        } else {
            (a, f) = f.split_at_col_mut(len);
            (b, num) = num.split_at_col_mut(len);
            (d, den) = den.split_at_col_mut(len);
        }
        out.push(Piece {
            at: c[0],
            f: a,
            num: b,
            den: d,
        });
    }
    out
}

/// Pieces along an axis of length `along` (a multiple of 8 of them, so 1, 2, 4 or 8 threads
/// share them evenly) and the chunks each piece walks along the other axis (`across`), sized so
/// one chunk's tile fits [`TILE`].
fn plan(along: usize, across: usize) -> (Vec<usize>, Vec<usize>) {
    let piece_cuts = cuts(along, along.div_ceil(256).next_multiple_of(8));
    let widest = piece_cuts
        .windows(2)
        .map(|c| c[1] - c[0])
        .max()
        .unwrap_or(1);
    let chunk = (TILE / widest.max(1)).max(1);
    let chunk_cuts = cuts(across, across.div_ceil(chunk));
    (piece_cuts, chunk_cuts)
}

/// Finishes a piece: the β = 1 denominator (a broadcast sum), the update, the clipping.
fn finish<T: Float>(
    pc: &mut Piece<'_, T>,
    sums: &[T],
    beta: f64,
    p: FactorPenalty<T>,
    by_rows: bool,
) {
    if beta == 1.0 {
        for (t, &s) in sums.iter().enumerate() {
            if by_rows {
                pc.den.rb_mut().col_mut(t).fill(s);
            } else {
                pc.den.rb_mut().row_mut(t).fill(s);
            }
        }
    }
    apply(pc.f.rb_mut(), pc.num.rb(), pc.den.rb(), p, gamma(beta));
    let clip = if by_rows { beta < 1.0 } else { beta <= 1.0 };
    if clip {
        clip_tiny(pc.f.rb_mut());
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
    x: MatRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    par: Par,
) {
    use faer::linalg::matmul::matmul as gemm;
    let (n, m) = x.shape();
    let (rows, cols) = plan(n, m);
    let sums = &ws.sums;
    let ps = pieces(w, ws.num_w.as_mut(), ws.den_w.as_mut(), &rows, true);
    run_pieces(ps, &mut ws.scratch, par, |pc, tile| {
        let r = pc.f.nrows();
        let (t_wh, t_fx) = tile.split_at_mut(TILE);
        for (ci, c) in cols.windows(2).enumerate() {
            let cb = c[1] - c[0];
            let hb = h.subcols(c[0], cb);
            let mut wh = MatMut::from_column_major_slice_mut(&mut t_wh[..r * cb], r, cb);
            let mut fx = MatMut::from_column_major_slice_mut(&mut t_fx[..r * cb], r, cb);
            gemm(wh.rb_mut(), Accum::Replace, pc.f.rb(), hb, T::ONE, Par::Seq);
            elementwise(
                x.submatrix(pc.at, c[0], r, cb),
                wh.rb_mut(),
                fx.rb_mut(),
                beta,
            );
            let acc = if ci == 0 { Accum::Replace } else { Accum::Add };
            gemm(
                pc.num.rb_mut(),
                acc,
                fx.rb(),
                hb.transpose(),
                T::ONE,
                Par::Seq,
            );
            if beta != 1.0 {
                gemm(
                    pc.den.rb_mut(),
                    acc,
                    wh.rb(),
                    hb.transpose(),
                    T::ONE,
                    Par::Seq,
                );
            }
        }
        finish(pc, sums, beta, p, true);
    });
}

/// The β ≠ 2 half-step on H, in independent blocks of columns (see [`blockwise_w`]).
fn blockwise_h<T: Float>(
    w: MatRef<'_, T>,
    h: MatMut<'_, T>,
    x: MatRef<'_, T>,
    beta: f64,
    p: FactorPenalty<T>,
    ws: &mut Workspace<T>,
    par: Par,
) {
    use faer::linalg::matmul::matmul as gemm;
    let (n, m) = x.shape();
    let (cols, rows) = plan(m, n);
    let sums = &ws.sums;
    let ps = pieces(h, ws.num_h.as_mut(), ws.den_h.as_mut(), &cols, false);
    run_pieces(ps, &mut ws.scratch, par, |pc, tile| {
        let cb = pc.f.ncols();
        let (t_wh, t_fx) = tile.split_at_mut(TILE);
        for (ri, r) in rows.windows(2).enumerate() {
            let rb = r[1] - r[0];
            let wb = w.subrows(r[0], rb);
            let mut wh = MatMut::from_column_major_slice_mut(&mut t_wh[..rb * cb], rb, cb);
            let mut fx = MatMut::from_column_major_slice_mut(&mut t_fx[..rb * cb], rb, cb);
            gemm(wh.rb_mut(), Accum::Replace, wb, pc.f.rb(), T::ONE, Par::Seq);
            elementwise(
                x.submatrix(r[0], pc.at, rb, cb),
                wh.rb_mut(),
                fx.rb_mut(),
                beta,
            );
            let acc = if ri == 0 { Accum::Replace } else { Accum::Add };
            gemm(
                pc.num.rb_mut(),
                acc,
                wb.transpose(),
                fx.rb(),
                T::ONE,
                Par::Seq,
            );
            if beta != 1.0 {
                gemm(
                    pc.den.rb_mut(),
                    acc,
                    wb.transpose(),
                    wh.rb(),
                    T::ONE,
                    Par::Seq,
                );
            }
        }
        finish(pc, sums, beta, p, false);
    });
}

/// ½‖X − WH‖² right after a β = 2 [`update_h`], from the products that update left behind
/// (WᵀX and WᵀW of the current W) and HHᵀ of the new H, which the next [`update_w`] reuses.
/// Only meaningful after a β = 2 `update_h` with this workspace.
pub fn frobenius_after_h<T: Float>(
    ws: &mut Workspace<T>,
    h: MatRef<'_, T>,
    x_sqnorm: f64,
    par: Par,
) -> f64 {
    let k = h.nrows();
    matmul(
        ws.hht.as_mut(),
        Accum::Replace,
        h,
        h.transpose(),
        T::ONE,
        crate::cd::kpar(par, k),
    );
    ws.hht_current = true;
    let cross = nmf_core::kernels::frobenius_inner(ws.num_h.as_ref(), h).unwrap_or(f64::NAN);
    let quad =
        nmf_core::kernels::frobenius_inner(ws.kk.as_ref(), ws.hht.as_ref()).unwrap_or(f64::NAN);
    (0.5 * (x_sqnorm - 2.0 * cross + quad)).max(0.0)
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
                let mut ws = Workspace::new(n, m, k);
                let mut w1 = w.clone();
                update_w(
                    w1.as_mut(),
                    h.as_ref(),
                    x.as_ref(),
                    beta,
                    p,
                    &mut ws,
                    false,
                    par,
                );
                let mut h1 = h.clone();
                update_h(w.as_ref(), h1.as_mut(), x.as_ref(), beta, p, &mut ws, par);
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

    #[test]
    fn cuts_cover_the_axis_in_order() {
        for d in [0usize, 1, 5, 16, 100, 400, 4096, 4097] {
            for parts in [1usize, 2, 3, 8, 16, 200] {
                let c = cuts(d, parts);
                assert_eq!((c[0], *c.last().unwrap()), (0, d), "d {d}, parts {parts}");
                assert!(
                    c.windows(2).all(|p| p[0] < p[1]) || d == 0,
                    "d {d}, parts {parts}"
                );
                assert!(c.len() - 1 <= parts.max(1), "d {d}, parts {parts}");
            }
        }
    }
}
