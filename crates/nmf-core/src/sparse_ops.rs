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
        if c == 1 {
            // One vector (every Lanczos step): a padded panel would hold it 8 times over (8x
            // the cache footprint, one useful lane in eight of every multiply-add).
            self.mat().with_scratch(q, |v| {
                for (i, e) in v.iter_mut().enumerate() {
                    *e = op[(i, 0)];
                }
                let v = &*v;
                let leaf = |dst: MatMut<'_, T>, first: usize, _: &mut [T]| {
                    vector_leaf(ptr, idx, val, first, v, dst);
                };
                split(dst, 0, ptr.len() - 1, ptr, d, &mut [], 0, &leaf);
            });
            return;
        }
        let cp = padded(c);
        self.mat().with_scratch(q * cp, |panel| {
            to_panel(op, panel, cp);
            let panel = &*panel;
            let leaf = |dst: MatMut<'_, T>, first: usize, _: &mut [T]| {
                gather_leaf(ptr, idx, val, first, panel, c, dst);
            };
            split(dst, 0, ptr.len() - 1, ptr, d, &mut [], 0, &leaf);
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
        let q = v.nrows();
        let d = depth(par, 2 * val.len() * c);
        let leaves = 1usize << d;
        // Only `v` is read in random order and needs the panel; each `u_p` is read once, into
        // a per-task buffer beside the accumulator (no n x k copy of W).
        let cp = padded(c);
        let need = q * cp + leaves * 2 * cp;
        self.mat().with_scratch(need, |s| {
            let (vp, accs) = s.split_at_mut(q * cp);
            to_panel(v, vp, cp);
            let vp = &*vp;
            let leaf = |dst: MatMut<'_, T>, first: usize, acc: &mut [T]| {
                fused_leaf(ptr, idx, val, first, u, vp, c, beta, dst, acc);
            };
            split(dst, 0, ptr.len() - 1, ptr, d, accs, 2 * cp, &leaf);
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
        let cp = padded(c);
        self.mat().with_scratch((n + m) * cp, |s| {
            let (up, vp) = s.split_at_mut(n * cp);
            to_panel(w, up, cp);
            to_panel(h.transpose(), vp, cp);
            let (up, vp) = (&*up, &*vp);
            let leaf = |rows: Range<usize>| {
                let mut acc = [0.0f64; 3];
                for i in rows {
                    let ui = &up[i * cp..(i + 1) * cp];
                    for e in ptr[i]..ptr[i + 1] {
                        let j = idx[e] as usize;
                        let y = dot(ui, &vp[j * cp..(j + 1) * cp]);
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

/// `c` rounded up to whole [`LANES`]: panel rows are padded with zeros so every kernel loads
/// whole vectors (the zeros add exact zeros).
fn padded(c: usize) -> usize {
    c.div_ceil(LANES) * LANES
}

/// Copies `a` (`q x c`, any strides) into `panel` row by row with row stride `cp >= c`
/// (`panel[i*cp + t] = a[i, t]`, zeros after `c`).
fn to_panel<T: Float>(a: MatRef<'_, T>, panel: &mut [T], cp: usize) {
    let c = a.ncols();
    if cp == 0 {
        return;
    }
    for row in panel.chunks_exact_mut(cp).take(a.nrows()) {
        row[c..].fill(T::ZERO);
    }
    for t in 0..c {
        let col = a.col(t);
        for (i, dst) in panel.chunks_exact_mut(cp).enumerate().take(a.nrows()) {
            dst[t] = col[i];
        }
    }
}

/// Lanes of the vector loops below: a constant trip count LLVM turns into whole vector
/// operations. A runtime-length loop over a short `k` (20, say) would otherwise fall into the
/// scalar remainder of a 32-wide unrolled body.
const LANES: usize = 8;

/// `Σ a_r·b_r` in eight fixed lanes (lane `l` sums `r ≡ l mod 8`, the tail goes to lanes
/// `0..`), then the lanes in order: vectorisable, and the same bits whichever thread runs it
/// and whichever operand comes first.
#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [T::ZERO; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            lanes[l] += x[l] * y[l];
        }
    }
    for ((s, &x), &y) in lanes.iter_mut().zip(ar).zip(br) {
        *s += x * y;
    }
    let mut s = T::ZERO;
    for v in lanes {
        s += v;
    }
    s
}

/// `acc += x·b` in whole chunks of [`LANES`] (see there).
#[inline(always)]
fn axpy<T: Float>(acc: &mut [T], x: T, b: &[T]) {
    let n = acc.len().min(b.len());
    let (acc, b) = (&mut acc[..n], &b[..n]);
    let mut ac = acc.chunks_exact_mut(LANES);
    let bc = b.chunks_exact(LANES);
    let br = bc.remainder();
    for (a, b) in (&mut ac).zip(bc) {
        for l in 0..LANES {
            a[l] += x * b[l];
        }
    }
    for (a, &b) in ac.into_remainder().iter_mut().zip(br) {
        *a += x * b;
    }
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

/// How many stored entries ahead the gather prefetches its operand rows.
const PREFETCH: usize = 16;

/// Widest output block kept in registers by the gather (4 AVX-512 f64 vectors).
const BLOCK: usize = 4 * LANES;

/// One output row of a gather, columns `off..off + N` of the padded panel, accumulated in
/// local arrays the compiler keeps in registers (a slice accumulator in memory would make every
/// stored entry wait on the previous entry's store). Even and odd entries go to two
/// accumulators, added at the end, so consecutive entries do not wait on each other's add
/// either; the order is fixed, so the bits still do not depend on the thread count.
#[inline(always)]
fn gather_block<T: Float, const N: usize>(
    idx: &[u32],
    val: &[T],
    panel: &[T],
    cp: usize,
    off: usize,
) -> [T; N] {
    let row = |q: u32| -> &[T; N] {
        let start = q as usize * cp + off;
        panel[start..start + N]
            .try_into()
            .expect("panel rows are padded")
    };
    let (mut a0, mut a1) = ([T::ZERO; N], [T::ZERO; N]);
    let (ic, vc) = (idx.chunks_exact(2), val.chunks_exact(2));
    let (ir, vr) = (ic.remainder(), vc.remainder());
    for (e, (i, v)) in ic.zip(vc).enumerate() {
        // The rows PREFETCH entries ahead: a large panel lives in L3, and waiting for each
        // row in turn would leave the gather latency-bound.
        if let Some(&q) = idx.get(2 * e + PREFETCH) {
            crate::simd::prefetch(row(q));
        }
        let (r0, r1) = (row(i[0]), row(i[1]));
        for l in 0..N {
            a0[l] += v[0] * r0[l];
            a1[l] += v[1] * r1[l];
        }
    }
    if let (Some(&q), Some(&x)) = (ir.first(), vr.first()) {
        let r = row(q);
        for l in 0..N {
            a0[l] += x * r[l];
        }
    }
    for l in 0..N {
        a0[l] += a1[l];
    }
    a0
}

crate::multiversion! {
/// Majors `first..first + dst.nrows()` of a gather (see [`SparseRef::gather`]): each output
/// row in blocks of up to [`BLOCK`] columns, entries in stored order within each block.
fn gather_leaf<T: Float>(
    ptr: &[usize],
    idx: &[u32],
    val: &[T],
    first: usize,
    panel: &[T],
    c: usize,
    dst: MatMut<'_, T>,
) {
    let mut dst = dst;
    let cp = padded(c);
    // Column blocks outside the rows: one block of the panel (Q x 32 values) stays in cache
    // while every row of this leaf gathers from it.
    let mut off = 0;
    while off < c {
        let width = (cp - off).min(BLOCK);
        for pp in 0..dst.nrows() {
            let p = first + pp;
            let (ix, vx) = (&idx[ptr[p]..ptr[p + 1]], &val[ptr[p]..ptr[p + 1]]);
            let mut put = |acc: &[T]| {
                for (t, &a) in acc.iter().enumerate().take(c - off) {
                    dst[(pp, off + t)] = a;
                }
            };
            match width {
                LANES => put(&gather_block::<T, LANES>(ix, vx, panel, cp, off)),
                16 => put(&gather_block::<T, 16>(ix, vx, panel, cp, off)),
                24 => put(&gather_block::<T, 24>(ix, vx, panel, cp, off)),
                _ => put(&gather_block::<T, BLOCK>(ix, vx, panel, cp, off)),
            }
        }
        off += width;
    }
}
}

crate::multiversion! {
/// Majors `first..first + dst.nrows()` of a product with one vector `v`: each output is
/// `Σ x·v[q]` over its stored entries, entry `e` added to lane `e mod 8` in stored order and
/// the lanes summed pairwise at the end. Eight independent chains of adds (one chain would
/// wait an add's latency per entry); the order is fixed, so the bits do not depend on the
/// thread count.
fn vector_leaf<T: Float>(
    ptr: &[usize],
    idx: &[u32],
    val: &[T],
    first: usize,
    v: &[T],
    dst: MatMut<'_, T>,
) {
    let mut dst = dst;
    for pp in 0..dst.nrows() {
        let p = first + pp;
        let (ix, vx) = (&idx[ptr[p]..ptr[p + 1]], &val[ptr[p]..ptr[p + 1]]);
        let mut acc = [T::ZERO; LANES];
        let (ic, vc) = (ix.chunks_exact(LANES), vx.chunks_exact(LANES));
        let (ir, vr) = (ic.remainder(), vc.remainder());
        for (i, x) in ic.zip(vc) {
            for l in 0..LANES {
                acc[l] += x[l] * v[i[l] as usize];
            }
        }
        for (a, (&q, &x)) in acc.iter_mut().zip(ir.iter().zip(vr)) {
            *a += x * v[q as usize];
        }
        let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
        dst[(pp, 0)] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    }
}
}

/// The weight of one stored entry in the MU numerator: `x · Λs^(β−2)` with `Λs = y` clipped at
/// EPS for β < 2 (for KL, `x / Λs`), as the dense tile pass computes it.
#[inline(always)]
fn mu_weight<T: Float>(x: T, y: T, beta: f64, eps: T) -> T {
    if beta == 1.0 {
        x / if y < eps { eps } else { y }
    } else {
        let ys = if beta < 2.0 && y < eps { eps } else { y };
        crate::data::np_pow(ys, beta - 2.0) * x
    }
}

/// One output row of the fused pass for `c <= N` (padded panel rows of `N`): `u`, the
/// accumulator and each `v_q` in registers.
#[inline(always)]
fn fused_row<T: Float, const N: usize>(
    idx: &[u32],
    val: &[T],
    u: &[T; N],
    vp: &[T],
    beta: f64,
) -> [T; N] {
    let eps = T::from_f64(SKLEARN_EPS);
    let mut acc = [T::ZERO; N];
    for (&q, &x) in idx.iter().zip(val) {
        let start = q as usize * N;
        let v: &[T; N] = vp[start..start + N]
            .try_into()
            .expect("panel rows are padded");
        let s = mu_weight(x, dot(u, v), beta, eps);
        for l in 0..N {
            acc[l] += s * v[l];
        }
    }
    acc
}

crate::multiversion! {
/// Majors `first..first + dst.nrows()` of a fused MU numerator (see [`SparseRef::fused_mu`]).
fn fused_leaf<T: Float>(
    ptr: &[usize],
    idx: &[u32],
    val: &[T],
    first: usize,
    up: MatRef<'_, T>,
    vp: &[T],
    c: usize,
    beta: f64,
    dst: MatMut<'_, T>,
    acc: &mut [T],
) {
    let mut dst = dst;
    let cp = padded(c);
    let eps = T::from_f64(SKLEARN_EPS);
    let (acc, u) = acc.split_at_mut(cp);
    u.fill(T::ZERO);
    for pp in 0..dst.nrows() {
        let p = first + pp;
        for (t, ut) in u.iter_mut().enumerate().take(c) {
            *ut = up[(p, t)];
        }
        let (ix, vx) = (&idx[ptr[p]..ptr[p + 1]], &val[ptr[p]..ptr[p + 1]]);
        macro_rules! fixed {
            ($n:expr) => {{
                let uu: &[T; $n] = (&u[..$n]).try_into().expect("cp lanes");
                let r = fused_row::<T, $n>(ix, vx, uu, vp, beta);
                acc[..$n].copy_from_slice(&r);
            }};
        }
        match cp {
            LANES => fixed!(LANES),
            16 => fixed!(16),
            24 => fixed!(24),
            32 => fixed!(32),
            _ => {
                let u = &*u;
                acc.fill(T::ZERO);
                for (&q, &x) in ix.iter().zip(vx) {
                    let q = q as usize;
                    let v = &vp[q * cp..(q + 1) * cp];
                    let s = mu_weight(x, dot(u, v), beta, eps);
                    axpy(acc, s, v);
                }
            }
        }
        for (t, &a) in acc.iter().enumerate().take(c) {
            dst[(pp, t)] = a;
        }
    }
}
}
