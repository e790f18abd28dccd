//! The sparse kernels behind [`crate::DataRef::Sparse`]: gathers over the CSR or CSC copy.
//!
//! Every kernel computes output vector `p` (a row of `X·B`, a column of `Wᵀ·X`, ...) in one
//! task, walking the stored entries of major index `p` in stored (sorted) order and summing
//! over `r = 0..c` in order. How the majors are split among threads therefore cannot change a
//! single bit; the split only balances stored entries. Reductions to a scalar (losses) use a
//! pairwise tree over fixed blocks of majors, fixed by the shape alone.
//!
//! Dense operands are first copied into a row-major panel (one contiguous `c`-vector per row
//! or column they contribute): a gather touches operand rows in random order, and a strided
//! row would cost one cache line per element. The copy is `O((n + m)·c)` against the
//! gather's `O(z·c)`, and lives in the matrix's reusable scratch, so repeated products
//! allocate nothing.

use core::ops::Range;

use faer::{MatMut, MatRef, Par};

use crate::scalar::{Float, SKLEARN_EPS};
use crate::sparse::SparseRef;

/// Which compressed copy a kernel walks: CSR (majors are rows) or CSC (majors are columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Majors are rows of X.
    Rows,
    /// Majors are columns of X.
    Cols,
}

/// Below this many multiply-adds a product runs on the calling thread (a fork costs more).
const PAR_MIN_MACS: usize = 1 << 15;

/// Majors per leaf of the loss reduction tree (fixed, so the tree depends on the shape only).
const FOLD_BLOCK: usize = 256;

/// Recursion depth of the parallel split: about four leaves per thread.
fn depth(par: Par, macs: usize) -> u32 {
    let t = par.degree();
    if t <= 1 || macs < PAR_MIN_MACS {
        0
    } else {
        (4 * t).next_power_of_two().trailing_zeros().min(10)
    }
}

impl<'a, T: Float> SparseRef<'a, T> {
    fn layout(&self, l: Layout) -> (&'a [usize], &'a [u32], &'a [T]) {
        let m = self.mat();
        match l {
            Layout::Rows => (m.row_ptr(), m.col_indices(), m.values()),
            Layout::Cols => (m.col_ptr(), m.row_indices(), m.col_values()),
        }
    }

    /// `dst` row `p` = Σ over stored `(q, x)` of major `p`: `x · op` row `q`.
    ///
    /// `dst` is `P x c` (P = number of majors), `op` is `Q x c`. Views of any strides.
    pub(crate) fn gather(&self, l: Layout, dst: MatMut<'_, T>, op: MatRef<'_, T>, par: Par) {
        let (ptr, idx, val) = self.layout(l);
        let c = op.ncols();
        let q = op.nrows();
        let d = depth(par, val.len() * c);
        let leaves = 1usize << d;
        let need = q * c + leaves * c;
        self.mat().with_scratch(need, |s| {
            let (panel, accs) = s.split_at_mut(q * c);
            to_panel(op, panel);
            let panel = &*panel;
            let leaf = |dst: MatMut<'_, T>, first: usize, acc: &mut [T]| {
                gather_leaf(ptr, idx, val, first, panel, c, dst, acc);
            };
            split(dst, 0, ptr.len() - 1, ptr, d, accs, c, &leaf);
        });
    }

    /// The fused multiplicative-update numerator on stored entries only:
    /// `dst` row `p` = Σ over stored `(q, x)` of major `p`: `g(x, ⟨u_p, v_q⟩) · v_q` with
    /// `g(x, y) = x · Λs^(β−2)` (Λs = y clipped at EPS for β < 2; for β = 1, `x / Λs`).
    ///
    /// `u` is `P x c` (the factor on the major side), `v` is `Q x c`.
    pub(crate) fn fused_mu(
        &self,
        l: Layout,
        dst: MatMut<'_, T>,
        u: MatRef<'_, T>,
        v: MatRef<'_, T>,
        beta: f64,
        par: Par,
    ) {
        let (ptr, idx, val) = self.layout(l);
        let c = v.ncols();
        let (p, q) = (u.nrows(), v.nrows());
        let d = depth(par, 2 * val.len() * c);
        let leaves = 1usize << d;
        let need = (p + q) * c + leaves * c;
        self.mat().with_scratch(need, |s| {
            let (up, rest) = s.split_at_mut(p * c);
            let (vp, accs) = rest.split_at_mut(q * c);
            to_panel(u, up);
            to_panel(v, vp);
            let (up, vp) = (&*up, &*vp);
            let leaf = |dst: MatMut<'_, T>, first: usize, acc: &mut [T]| {
                fused_leaf(ptr, idx, val, first, up, vp, c, beta, dst, acc);
            };
            split(dst, 0, ptr.len() - 1, ptr, d, accs, c, &leaf);
        });
    }

    /// Folds `f(acc, x, (WH)_ij)` over the stored entries only (values in f64), with `WH`
    /// evaluated at those entries (`w` n x k, `h` k x m). The result does not depend on `par`.
    pub(crate) fn fold_stored(
        &self,
        w: MatRef<'_, T>,
        h: MatRef<'_, T>,
        par: Par,
        f: &(dyn Fn(&mut [f64; 3], f64, f64) + Sync),
    ) -> [f64; 3] {
        let (ptr, idx, val) = self.layout(Layout::Rows);
        let c = w.ncols();
        let (n, m) = self.shape();
        let parallel = depth(par, val.len() * c) > 0;
        self.mat().with_scratch((n + m) * c, |s| {
            let (up, vp) = s.split_at_mut(n * c);
            to_panel(w, up);
            to_panel(h.transpose(), vp);
            let (up, vp) = (&*up, &*vp);
            let leaf = |rows: Range<usize>| {
                let mut acc = [0.0f64; 3];
                for i in rows {
                    let ui = &up[i * c..(i + 1) * c];
                    for e in ptr[i]..ptr[i + 1] {
                        let j = idx[e] as usize;
                        let y = dot(ui, &vp[j * c..(j + 1) * c]);
                        f(&mut acc, val[e].to_f64(), y.to_f64());
                    }
                }
                acc
            };
            tree(0..n, parallel, &leaf)
        })
    }

    /// The sparse `mu_tile`: `fx` = X ⊙ Λs^(β−2) on the tile (zero where nothing is stored),
    /// and, unless β = 1, `wh` = Λd^(β−1) everywhere on it.
    pub(crate) fn mu_tile(
        &self,
        r0: usize,
        c0: usize,
        mut wh: MatMut<'_, T>,
        mut fx: MatMut<'_, T>,
        beta: f64,
    ) {
        let eps = T::from_f64(SKLEARN_EPS);
        let clip = |y: T| if y < eps { eps } else { y };
        let (r, c) = wh.shape();
        fx.fill(T::ZERO);
        for jj in 0..c {
            let (rows, vals) = self.col(c0 + jj);
            let start = rows.partition_point(|&i| (i as usize) < r0);
            for (&i, &x) in rows[start..].iter().zip(&vals[start..]) {
                let ii = i as usize - r0;
                if ii >= r {
                    break;
                }
                let y = wh[(ii, jj)];
                let ys = if beta < 2.0 { clip(y) } else { y };
                fx[(ii, jj)] = crate::data::np_pow(ys, beta - 2.0) * x;
            }
        }
        if beta != 1.0 {
            for jj in 0..c {
                for ii in 0..r {
                    let y = wh[(ii, jj)];
                    wh[(ii, jj)] =
                        crate::data::np_pow(if beta < 1.0 { clip(y) } else { y }, beta - 1.0);
                }
            }
        }
    }
}

/// Copies `a` (`q x c`, any strides) into `panel` row by row (`panel[i*c + t] = a[i, t]`).
fn to_panel<T: Float>(a: MatRef<'_, T>, panel: &mut [T]) {
    let c = a.ncols();
    for t in 0..c {
        let col = a.col(t);
        for (i, dst) in panel.chunks_exact_mut(c.max(1)).enumerate().take(a.nrows()) {
            dst[t] = col[i];
        }
    }
}

#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut s = T::ZERO;
    for (&x, &y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// Splits majors `a..b` (and `dst`'s rows with them) in two at the stored-entry midpoint,
/// `d` times, running `leaf` on each part with its own accumulator slice.
fn split<T: Float, F>(
    dst: MatMut<'_, T>,
    a: usize,
    b: usize,
    ptr: &[usize],
    d: u32,
    accs: &mut [T],
    c: usize,
    leaf: &F,
) where
    F: Fn(MatMut<'_, T>, usize, &mut [T]) + Sync,
{
    if d == 0 || b - a < 2 {
        leaf(dst, a, &mut accs[..c]);
        return;
    }
    let target = (ptr[a] + ptr[b]) / 2;
    let mid = (a + ptr[a..b].partition_point(|&p| p < target)).clamp(a + 1, b - 1);
    let (top, bottom) = dst.split_at_row_mut(mid - a);
    let (acc1, acc2) = accs.split_at_mut(accs.len() / 2);
    rayon::join(
        || split(top, a, mid, ptr, d - 1, acc1, c, leaf),
        || split(bottom, mid, b, ptr, d - 1, acc2, c, leaf),
    );
}

/// A fixed pairwise tree over blocks of [`FOLD_BLOCK`] majors: the same additions in the same
/// order whether the two halves run in parallel or not.
fn tree(
    r: Range<usize>,
    parallel: bool,
    leaf: &(dyn Fn(Range<usize>) -> [f64; 3] + Sync),
) -> [f64; 3] {
    let blocks = r.len().div_ceil(FOLD_BLOCK);
    if blocks <= 1 {
        return leaf(r);
    }
    let mid = r.start + blocks / 2 * FOLD_BLOCK;
    let (a, b) = if parallel {
        rayon::join(
            || tree(r.start..mid, parallel, leaf),
            || tree(mid..r.end, parallel, leaf),
        )
    } else {
        (
            tree(r.start..mid, parallel, leaf),
            tree(mid..r.end, parallel, leaf),
        )
    };
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

crate::multiversion! {
/// Majors `first..first + dst.nrows()` of a gather (see [`SparseRef::gather`]).
fn gather_leaf<T: Float>(
    ptr: &[usize],
    idx: &[u32],
    val: &[T],
    first: usize,
    panel: &[T],
    c: usize,
    dst: MatMut<'_, T>,
    acc: &mut [T],
) {
    let mut dst = dst;
    for pp in 0..dst.nrows() {
        let p = first + pp;
        acc.fill(T::ZERO);
        for e in ptr[p]..ptr[p + 1] {
            let x = val[e];
            let q = idx[e] as usize;
            for (a, &b) in acc.iter_mut().zip(&panel[q * c..(q + 1) * c]) {
                *a += x * b;
            }
        }
        for (t, &a) in acc.iter().enumerate() {
            dst[(pp, t)] = a;
        }
    }
}
}

crate::multiversion! {
/// Majors `first..first + dst.nrows()` of a fused MU numerator (see [`SparseRef::fused_mu`]).
fn fused_leaf<T: Float>(
    ptr: &[usize],
    idx: &[u32],
    val: &[T],
    first: usize,
    up: &[T],
    vp: &[T],
    c: usize,
    beta: f64,
    dst: MatMut<'_, T>,
    acc: &mut [T],
) {
    let mut dst = dst;
    let eps = T::from_f64(SKLEARN_EPS);
    for pp in 0..dst.nrows() {
        let p = first + pp;
        let u = &up[p * c..(p + 1) * c];
        acc.fill(T::ZERO);
        for e in ptr[p]..ptr[p + 1] {
            let q = idx[e] as usize;
            let v = &vp[q * c..(q + 1) * c];
            let y = dot(u, v);
            let s = if beta == 1.0 {
                val[e] / if y < eps { eps } else { y }
            } else {
                let ys = if beta < 2.0 && y < eps { eps } else { y };
                crate::data::np_pow(ys, beta - 2.0) * val[e]
            };
            for (a, &b) in acc.iter_mut().zip(v) {
                *a += s * b;
            }
        }
        for (t, &a) in acc.iter().enumerate() {
            dst[(pp, t)] = a;
        }
    }
}
}
