//! Multiplicative updates for every beta-divergence (Févotte & Idier 2011, majorisation-
//! minimisation form), with scikit-learn's numerics: the exponent γ(β), penalties in the
//! denominators, float32-epsilon clipping of `WH`, and the post-update clipping of tiny entries.
//!
//! `W·H` is recomputed from the current factors in every half-step. Reusing a stale `WH` between
//! the two half-steps breaks the majorisation argument and makes the KL divergence go up (the
//! classic pitfall; ALGORITHMS.md 4.4). For β ≠ 2 the entries of `WH` are formed one column block
//! at a time, so no n x m temporary is ever allocated.

use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nmf_core::kernels::matmul;
use nmf_core::{Float, SKLEARN_EPS};

/// Columns of `WH` formed at a time.
const BLOCK: usize = 256;

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
    wh: Mat<T>,
    fx: Mat<T>,
    sums: Vec<T>,
    /// For β = 2 with H fixed (transform): XHᵀ and HHᵀ stay valid across iterations.
    fixed_h_ready: bool,
}

impl<T: Float> Workspace<T> {
    /// Buffers for X n x m and k components.
    pub fn new(n: usize, m: usize, k: usize) -> Self {
        let b = BLOCK.min(m.max(1));
        Workspace {
            num_w: Mat::zeros(n, k),
            den_w: Mat::zeros(n, k),
            num_h: Mat::zeros(k, m),
            den_h: Mat::zeros(k, m),
            kk: Mat::zeros(k, k),
            hht: Mat::zeros(k, k),
            hht_current: false,
            wh: Mat::zeros(n, b),
            fx: Mat::zeros(n, b),
            sums: vec![T::ZERO; k],
            fixed_h_ready: false,
        }
    }
}

/// Fills `fx` with `X ⊙ Λs^(β−2)` and, unless β = 1, overwrites `wh` with `Λd^(β−1)`, where
/// Λs (Λd) is `WH` clipped at EPS for β < 2 (β < 1).
///
/// One pass per column over contiguous slices, with the β cases hoisted out of the loop so the
/// common losses (KL, IS) compile to straight vector code.
fn elementwise<T: Float>(
    x: MatRef<'_, T>,
    mut wh: MatMut<'_, T>,
    mut fx: MatMut<'_, T>,
    beta: f64,
) {
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

/// `factor ← factor ⊙ (num / (den + l1 + l2·factor))^γ`, with exact zeros of the denominator
/// replaced by EPS first (scikit-learn's order of operations).
fn apply<T: Float>(
    mut f: MatMut<'_, T>,
    num: MatRef<'_, T>,
    den: MatRef<'_, T>,
    p: FactorPenalty<T>,
    gamma: f64,
) {
    let eps = T::from_f64(SKLEARN_EPS);
    for j in 0..f.ncols() {
        for i in 0..f.nrows() {
            let mut d = den[(i, j)];
            if p.l1 > T::ZERO {
                d += p.l1;
            }
            if p.l2 > T::ZERO {
                d += p.l2 * f[(i, j)];
            }
            if d == T::ZERO {
                d = eps;
            }
            let ratio = np_pow(num[(i, j)] / d, gamma);
            f[(i, j)] *= ratio;
        }
    }
}

/// Sets entries below float64 epsilon to zero (scikit-learn's stability clipping).
fn clip_tiny<T: Float>(mut f: MatMut<'_, T>) {
    for j in 0..f.ncols() {
        for i in 0..f.nrows() {
            if f[(i, j)].to_f64() < f64::EPSILON {
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
    if beta == 2.0 {
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
    } else {
        let m = x.ncols();
        let mut j0 = 0;
        while j0 < m {
            let b = ws.wh.ncols().min(m - j0);
            let hb = h.subcols(j0, b);
            let mut wh = ws.wh.as_mut().subcols_mut(0, b);
            let mut fx = ws.fx.as_mut().subcols_mut(0, b);
            matmul(wh.rb_mut(), Accum::Replace, w.rb(), hb, T::ONE, par);
            elementwise(x.subcols(j0, b), wh.rb_mut(), fx.rb_mut(), beta);
            let acc = if j0 == 0 { Accum::Replace } else { Accum::Add };
            matmul(ws.num_w.as_mut(), acc, fx.rb(), hb.transpose(), T::ONE, par);
            if beta != 1.0 {
                matmul(ws.den_w.as_mut(), acc, wh.rb(), hb.transpose(), T::ONE, par);
            }
            j0 += b;
        }
        if beta == 1.0 {
            for t in 0..k {
                let mut s = T::ZERO;
                for j in 0..m {
                    s += h[(t, j)];
                }
                ws.sums[t] = s;
            }
            for t in 0..k {
                let s = ws.sums[t];
                ws.den_w.col_mut(t).fill(s);
            }
        }
    }
    apply(w.rb_mut(), ws.num_w.as_ref(), ws.den_w.as_ref(), p, g);
    if beta < 1.0 {
        clip_tiny(w);
    }
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
    let g = gamma(beta);
    ws.fixed_h_ready = false;
    ws.hht_current = false;
    if beta == 2.0 {
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
    } else {
        let m = x.ncols();
        let mut j0 = 0;
        while j0 < m {
            let b = ws.wh.ncols().min(m - j0);
            let mut wh = ws.wh.as_mut().subcols_mut(0, b);
            let mut fx = ws.fx.as_mut().subcols_mut(0, b);
            matmul(
                wh.rb_mut(),
                Accum::Replace,
                w,
                h.rb().subcols(j0, b),
                T::ONE,
                par,
            );
            elementwise(x.subcols(j0, b), wh.rb_mut(), fx.rb_mut(), beta);
            matmul(
                ws.num_h.as_mut().subcols_mut(j0, b),
                Accum::Replace,
                w.transpose(),
                fx.rb(),
                T::ONE,
                par,
            );
            if beta != 1.0 {
                matmul(
                    ws.den_h.as_mut().subcols_mut(j0, b),
                    Accum::Replace,
                    w.transpose(),
                    wh.rb(),
                    T::ONE,
                    par,
                );
            }
            j0 += b;
        }
        if beta == 1.0 {
            for t in 0..k {
                let mut s = T::ZERO;
                for i in 0..w.nrows() {
                    s += w[(i, t)];
                }
                ws.sums[t] = if s == T::ZERO { T::ONE } else { s };
            }
            for j in 0..m {
                for t in 0..k {
                    ws.den_h[(t, j)] = ws.sums[t];
                }
            }
        }
    }
    apply(h.rb_mut(), ws.num_h.as_ref(), ws.den_h.as_ref(), p, g);
    if beta <= 1.0 {
        clip_tiny(h);
    }
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
}
