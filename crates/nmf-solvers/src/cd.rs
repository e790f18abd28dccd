//! Coordinate descent (fast HALS, Cichocki & Phan 2009) for the Frobenius loss with elastic-net
//! penalties: scikit-learn's `_update_cdnmf_fast`, the same updates (bit for bit in the sweep's
//! own arithmetic below [`BLOCKED_MIN_K`] components; equal to rounding from there on AVX-512).
//!
//! One sweep over W minimises `½‖X − W·Hᵀ‖² + l1·ΣW + ½·l2·‖W‖²` exactly in each coordinate, column
//! by column. Within a column the rows are independent, so rows are processed in fixed blocks
//! (in parallel when asked). Below [`BLOCKED_MIN_K`] components each row's gradient is summed in
//! the same order as scikit-learn's Cython loop; from there, with AVX-512, a blocked kernel
//! computes the same gradients in another order ([`sweep_blocked`]). Either way each row's
//! arithmetic depends on k and the CPU only: results do not depend on the thread count.
//!
//! At 2 to 10 components on dense X, where the unpacked small-k kernel runs and [`Fused`]'s
//! plan accepts the shape, the H update is one pass over X's column blocks that also leaves the
//! next W update its `X·Hᵀ`: X is read from memory once per iteration instead of twice.

use core::ops::Range;
use nmf_core::mat;

use faer::Accum;
use faer::prelude::*;
use faer::{Mat, MatMut, MatRef, Par};
use nmf_core::kernels::{self, gram_cols_into};
use nmf_core::loss::{self, LossScratch};
use nmf_core::partition::{self, Rows};
use nmf_core::{DataRef, Float, Penalties};
use nmf_init::Compat;
use nmf_init::mt19937::RandomState;

use crate::error::NmfError;
use crate::params::NmfParams;
use crate::report::{FitWarning, StopReason};
use crate::solver::{Problem, Solver, ensure_finite, gram_or_exact, violation_rule};

/// The shape-only cut of a sweep over `n` rows ([`partition::sweep_blocks`]) and its grouping
/// onto tasks, made once per factor, with each task's scratch.
struct SweepPlan<T> {
    blocks: Vec<usize>,
    groups: Vec<usize>,
    /// Per group: the packed sub-block of [`sweep_packed`] (sized on the first sweep).
    slots: Vec<Vec<T>>,
    /// Row t of the Gram at `t·k..(t + 1)·k`, refreshed by every sweep: the packed kernel reads
    /// `g[(t, q)]` along q contiguously (the solver's Grams are exactly symmetric, mirrored
    /// SYRKs, but a sweep takes any G and reads its rows, as scikit-learn's does).
    g_rows: Vec<T>,
    /// The Gram's rows in the sweep's order, [`TB`] at a time, for [`sweep_blocked`]:
    /// block j holds `g[(perm[j·TB + u], q)]` at `j·k·TB + q·TB + u` (zeros past k).
    g_perm: Vec<T>,
}

impl<T: Float> SweepPlan<T> {
    fn new(n: usize, k: usize, par: Par) -> Self {
        let blocks = partition::sweep_blocks(n);
        let groups = partition::groups(&blocks, partition::sweep_par(par, n, k).degree());
        let slots = vec![Vec::new(); groups.len()];
        SweepPlan {
            blocks,
            groups,
            slots,
            g_rows: Vec::new(),
            g_perm: Vec::new(),
        }
    }
}

/// One coordinate-descent sweep over the columns of `w` (n x k), in the order `perm`, for
/// `min_W ½‖X − W·Hᵀ‖² + l1·ΣW + ½·l2·‖W‖²`, given `g = HᵀH + l2·I` (k x k) and
/// `r = X·H − l1` (n x k). `grad` and `viol` are n-long scratch.
///
/// Returns scikit-learn's violation: the sum of |projected gradient| over all coordinates, taken
/// before each coordinate's update; summed per block in row order, then over blocks in order.
fn sweep<T: Float>(
    w: MatMut<'_, T>,
    g: MatRef<'_, T>,
    r: MatRef<'_, T>,
    perm: &[usize],
    plan: &mut SweepPlan<T>,
    grad: &mut [T],
    viol: &mut [f64],
) -> f64 {
    let (n, k) = w.shape();
    let (grad, viol) = (&mut grad[..n], &mut viol[..n]);
    let kernel = Kernel::for_k(k);
    plan.g_rows.clear();
    plan.g_rows.extend((0..k * k).map(|i| g[(i / k, i % k)]));
    if kernel == Kernel::Blocked {
        gram_in_sweep_order(&plan.g_rows, perm, &mut plan.g_perm);
    }
    // Grows once (the first sweep, or a larger k in a unit test); later sweeps reuse it.
    let need = kernel.scratch::<T>(k);
    plan.slots
        .iter_mut()
        .filter(|s| s.len() < need)
        .for_each(|s| s.resize(need, T::ZERO));
    let (blocks, g_rows, g_perm) = (&plan.blocks, &plan.g_rows[..], &plan.g_perm[..]);
    let work = |part: (Rows<'_, T>, &mut [T], &mut [f64]), wp: &mut Vec<T>, range: Range<usize>| {
        partition::for_each_piece(part, blocks, range, |(Rows(blk), gr, vi), rows| {
            let r = r.subrows(rows.start, rows.len());
            let gs = Grams {
                g,
                rows: g_rows,
                perm: g_perm,
            };
            sweep_block(blk, gs, r, perm, gr, vi, kernel, &mut wp[..]);
        });
    };
    partition::run_groups(
        (Rows(w), &mut *grad, &mut *viol),
        &plan.groups,
        &mut plan.slots,
        &work,
    );
    blocks
        .windows(2)
        .map(|c| viol[c[0]..c[1]].iter().sum::<f64>())
        .sum()
}

/// Rows per packed sub-block of a sweep (see [`sweep_packed`]).
///
/// The gradient loop is plain Rust that the compiler vectorises, and only this size was fast
/// under both profiles: 16 rows (f64) won at k >= 100 in release builds but ran 2-4x slower than
/// the unpacked loop at the dev profile's opt-level 2 (which `cargo xtask` uses), and 24, 32 and
/// 48 rows became shuffles or scalar code in either. 64 rows beat the unpacked loop at every k
/// measured, 10 to 400, f32 and f64 (docs/performance.md).
const SUB_ROWS: usize = 64;

/// Whether sweeps run in packed sub-blocks or blocked chunks: with AVX-512 only (the
/// 64-row gradient needs 8 AVX-512 registers, the blocked kernel 16 accumulators of two
/// vectors' rows; nothing else was measured). Without it the row loop stays.
fn packs() -> bool {
    #[cfg(target_arch = "x86_64")]
    // The same test as `multiversion!`'s AVX-512 version, so that these kernels run there.
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        return true;
    }
    false
}

/// Fewest components for [`sweep_blocked`]. Below it the packed loop is faster (its work per
/// row, k², is too little to pay for the blocked kernel's accumulator loads and stores and its
/// in-block corrections); from here the blocked kernel is (docs/performance.md).
const BLOCKED_MIN_K: usize = 96;

/// Coordinates per block of [`sweep_blocked`], and columns of its micro-kernel.
const TB: usize = 8;

/// Which loop sweeps the rows of a block. The row loop and the packed one compute the same
/// bits (scikit-learn's order of the gradient's terms); the blocked one sums each gradient in
/// another order, with fused multiply-adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Rows,
    Packed,
    Blocked,
}

impl Kernel {
    /// The loop for k components on this CPU. Depends on k and the CPU only, never on the
    /// rows or the thread count.
    fn for_k(k: usize) -> Self {
        match (packs(), k >= BLOCKED_MIN_K) {
            (false, _) => Kernel::Rows,
            (true, false) => Kernel::Packed,
            (true, true) => Kernel::Blocked,
        }
    }

    /// Scratch per task.
    fn scratch<T: Float>(self, k: usize) -> usize {
        match self {
            Kernel::Rows => 0,
            Kernel::Packed => SUB_ROWS * k,
            Kernel::Blocked => 2 * chunk_rows::<T>() * (k + TB),
        }
    }
}

/// Rows per chunk of [`sweep_blocked`]: two AVX-512 vectors (16 f64, 32 f32), so that its
/// 8 columns of accumulators take 16 of the 32 registers and a chunk's `rows x k` slice of W
/// (25 KiB at k = 200) stays in L1 beside the Gram's panel for the block.
fn chunk_rows<T: Float>() -> usize {
    128 / core::mem::size_of::<T>()
}

/// [`SweepPlan::g_perm`] from the Gram's rows (row t at `t·k`) and the sweep's order.
fn gram_in_sweep_order<T: Float>(g_rows: &[T], perm: &[usize], out: &mut Vec<T>) {
    let k = perm.len();
    out.clear();
    out.resize(k.div_ceil(TB) * k * TB, T::ZERO);
    for (j, dst) in out.chunks_exact_mut(k * TB).enumerate() {
        for (u, &t) in perm[j * TB..k.min((j + 1) * TB)].iter().enumerate() {
            for (q, &v) in g_rows[t * k..(t + 1) * k].iter().enumerate() {
                dst[q * TB + u] = v;
            }
        }
    }
}

/// The Gram as a sweep reads it: the matrix, its rows (row t at `t·k`) and, for
/// [`sweep_blocked`], its rows in the sweep's order ([`SweepPlan::g_perm`]).
#[derive(Clone, Copy)]
struct Grams<'a, T> {
    g: MatRef<'a, T>,
    rows: &'a [T],
    perm: &'a [T],
}

nmf_core::multiversion! {
    /// The sweep over one block of rows (see [`sweep`]) with `kernel`: for `Packed`,
    /// sub-blocks of [`SUB_ROWS`] rows through [`sweep_packed`] and the rest through
    /// [`sweep_rows`]; for `Blocked`, chunks of [`chunk_rows`] through [`sweep_blocked`]. Rows
    /// are independent, so the cut does not change any bit.
    fn sweep_block<T: Float>(w: MatMut<'_, T>, gs: Grams<'_, T>, r: MatRef<'_, T>, perm: &[usize], grad: &mut [T], viol: &mut [f64], kernel: Kernel, wp: &mut [T]) {
        let mut w = w;
        assert!(
            w.row_stride() == 1 && r.row_stride() == 1,
            "cd keeps its factors and products column-major"
        );
        let b = w.nrows();
        if kernel == Kernel::Blocked {
            if chunk_rows::<T>() == 16 {
                blocked_chunks::<T, 16>(w, gs, r, perm, viol, wp);
            } else {
                blocked_chunks::<T, 32>(w, gs, r, perm, viol, wp);
            }
            return;
        }
        let mut i = 0;
        while kernel == Kernel::Packed && i + SUB_ROWS <= b {
            let (wb, rb) = (w.rb_mut().subrows_mut(i, SUB_ROWS), r.subrows(i, SUB_ROWS));
            let vb = &mut viol[i..i + SUB_ROWS];
            sweep_packed::<T, SUB_ROWS>(wb, gs.rows, rb, perm, vb, wp);
            i += SUB_ROWS;
        }
        if i < b {
            let rest = b - i;
            sweep_rows(w.subrows_mut(i, rest), gs.g, r.subrows(i, rest), perm, &mut grad[i..], &mut viol[i..]);
        }
    }
}

/// The block's rows in chunks of `R` through [`sweep_blocked`]: each chunk's slices of W and
/// R copied into `scratch` (column q at `q·R`), the last one padded with zero rows. A zero row
/// of R and W has a zero gradient and stays zero, and its violation is dropped.
#[inline(always)]
fn blocked_chunks<T: Float, const R: usize>(
    w: MatMut<'_, T>,
    gs: Grams<'_, T>,
    r: MatRef<'_, T>,
    perm: &[usize],
    viol: &mut [f64],
    scratch: &mut [T],
) {
    let mut w = w;
    let (b, k) = w.shape();
    let (wc, rest) = scratch.split_at_mut(R * k);
    let (rc, rest) = rest.split_at_mut(R * k);
    let (acc, rest) = rest.split_at_mut(R * TB);
    let delta = &mut rest[..R * TB];
    let mut i = 0;
    while i < b {
        let len = R.min(b - i);
        for q in 0..k {
            let (wd, rd) = (&mut wc[q * R..(q + 1) * R], &mut rc[q * R..(q + 1) * R]);
            let (ws, rs) = (&col_slice(w.as_ref(), q)[i..], &col_slice(r, q)[i..]);
            if len == R {
                // As arrays of the constant R: a few vector moves inline, where
                // `copy_from_slice` of a run-time length calls memmove for each column.
                let (wd, rd): (&mut [T; R], &mut [T; R]) = (
                    wd.try_into().expect("R rows"),
                    rd.try_into().expect("R rows"),
                );
                *wd = ws[..R].try_into().expect("R rows");
                *rd = rs[..R].try_into().expect("R rows");
            } else {
                wd[..len].copy_from_slice(&ws[..len]);
                rd[..len].copy_from_slice(&rs[..len]);
                wd[len..].fill(T::ZERO);
                rd[len..].fill(T::ZERO);
            }
        }
        let mut v = [0.0f64; R];
        sweep_blocked::<T, R>(wc, rc, gs, perm, &mut v, acc, delta);
        viol[i..i + len].copy_from_slice(&v[..len]);
        for q in 0..k {
            let mut col = w.rb_mut().col_mut(q);
            let col = col
                .rb_mut()
                .try_as_col_major_mut()
                .expect("unit row stride checked by the caller")
                .as_slice_mut();
            let src = &wc[q * R..(q + 1) * R];
            if len == R {
                let dst: &mut [T; R] = (&mut col[i..i + R]).try_into().expect("R rows");
                *dst = src.try_into().expect("R rows");
            } else {
                col[i..i + len].copy_from_slice(&src[..len]);
            }
        }
        i += len;
    }
}

/// One sweep over an `R`-row chunk of W (`wc`, column q at `q·R`), with `rc` its rows of R,
/// the coordinates taken [`TB`] at a time in the order `perm`.
///
/// [`sweep_packed`] computes each coordinate's gradient `−r + Σ_q g[t, q]·w[:, q]` on its
/// own: one load of W per multiply-add, from L2 once the packed block outgrows L1 (k ≥ 100 in
/// f64). Here the gradients of a block of TB coordinates are computed together from the W of
/// the block's start (each load of W feeds TB multiply-adds, the gradients in registers: a
/// GEMM micro-kernel), and then corrected in the block's order for the coordinates it has
/// already updated: `grad_t = (−r_t + Σ_q g[t, q]·w₀[:, q]) + Σ_{v before t} g[t, v]·Δw_v`.
/// That is the gradient at the current W, as the plain sweep takes it, equal up to rounding:
/// summed in another order, with one rounding per multiply-add and Δw rounded. The update and
/// the violation are computed from it as there.
#[inline(always)]
fn sweep_blocked<T: Float, const R: usize>(
    wc: &mut [T],
    rc: &[T],
    gs: Grams<'_, T>,
    perm: &[usize],
    viol: &mut [f64; R],
    acc: &mut [T],
    delta: &mut [T],
) {
    let k = perm.len();
    debug_assert_eq!(wc.len(), R * k, "one column of the chunk per coordinate");
    for (j, ts) in perm.chunks(TB).enumerate() {
        let gb = &gs.perm[j * k * TB..(j + 1) * k * TB];
        // The block's gradients at w₀: −r, then the terms in increasing q.
        let mut a = [[T::ZERO; R]; TB];
        for (au, &t) in a.iter_mut().zip(ts) {
            let rt: &[T; R] = rc[t * R..(t + 1) * R].try_into().expect("R rows");
            for l in 0..R {
                au[l] = -rt[l];
            }
        }
        micro_kernel::<T, R>(wc, gb, k, &mut a);
        for (dst, au) in acc.chunks_exact_mut(R).zip(&a) {
            dst.copy_from_slice(au);
        }
        // In the block's order: the corrections for the coordinates already updated, then
        // the update.
        for (u, &t) in ts.iter().enumerate() {
            let mut gr: [T; R] = acc[u * R..(u + 1) * R].try_into().expect("R rows");
            let g_t = &gs.rows[t * k..(t + 1) * k];
            for (v, &tv) in ts[..u].iter().enumerate() {
                let c = g_t[tv];
                let d: &[T; R] = delta[v * R..(v + 1) * R].try_into().expect("R rows");
                for l in 0..R {
                    gr[l] = c.fma(d[l], gr[l]);
                }
            }
            let hess = g_t[t];
            let wt: &mut [T; R] = (&mut wc[t * R..(t + 1) * R]).try_into().expect("R rows");
            let d: &mut [T; R] = (&mut delta[u * R..(u + 1) * R]).try_into().expect("R rows");
            for l in 0..R {
                let pg = if wt[l] == T::ZERO {
                    gr[l].min(T::ZERO)
                } else {
                    gr[l]
                };
                viol[l] += pg.abs().to_f64();
                let old = wt[l];
                if hess != T::ZERO {
                    wt[l] = (wt[l] - gr[l] / hess).max(T::ZERO);
                }
                d[l] = wt[l] - old;
            }
        }
    }
}

/// `a[c] += Σ_q gb[q·TB + c]·wc[q·R..(q + 1)·R]` over all k columns of the chunk, in
/// increasing q: TB x R accumulators (16 AVX-512 registers), each load of W feeding TB
/// fused multiply-adds. The accumulators are named one by one: written as an array of
/// arrays, the vectoriser turned the loop over c into gathers.
#[inline(always)]
fn micro_kernel<T: Float, const R: usize>(wc: &[T], gb: &[T], k: usize, a: &mut [[T; R]; TB]) {
    let [
        mut a0,
        mut a1,
        mut a2,
        mut a3,
        mut a4,
        mut a5,
        mut a6,
        mut a7,
    ] = *a;
    for (w, g) in wc.chunks_exact(R).zip(gb.chunks_exact(TB)).take(k) {
        let w: &[T; R] = w.try_into().expect("R rows");
        let g: &[T; TB] = g.try_into().expect("TB columns");
        let [g0, g1, g2, g3, g4, g5, g6, g7] = *g;
        for l in 0..R {
            let x = w[l];
            a0[l] = g0.fma(x, a0[l]);
            a1[l] = g1.fma(x, a1[l]);
            a2[l] = g2.fma(x, a2[l]);
            a3[l] = g3.fma(x, a3[l]);
            a4[l] = g4.fma(x, a4[l]);
            a5[l] = g5.fma(x, a5[l]);
            a6[l] = g6.fma(x, a6[l]);
            a7[l] = g7.fma(x, a7[l]);
        }
    }
    *a = [a0, a1, a2, a3, a4, a5, a6, a7];
}

/// [`sweep_rows`] on exactly `S` rows, with their `S x k` block of W copied into `wp` (column
/// q at `q·S`) for the whole sweep. Every coordinate re-reads the block: packed it is contiguous
/// (in a 48 KiB L1 up to k = 96 for f64), and each row's gradient stays in registers over all q, where
/// [`sweep_rows`] loads and stores it every four terms (1.6-3x faster from k = 50 to 400,
/// docs/performance.md). The gradient is still summed over q in increasing order from
/// `−r`, as in [`sweep_rows`]: the same bits.
#[inline(always)]
fn sweep_packed<T: Float, const S: usize>(
    w: MatMut<'_, T>,
    g_rows: &[T],
    r: MatRef<'_, T>,
    perm: &[usize],
    viol: &mut [f64],
    wp: &mut [T],
) {
    let mut w = w;
    let k = w.ncols();
    let wp = &mut wp[..S * k];
    for (q, dst) in wp.chunks_exact_mut(S).enumerate() {
        dst.copy_from_slice(&col_slice(w.as_ref(), q)[..S]);
    }
    // The violations stay in memory: an S-long f64 array beside the S-long gradient would
    // not fit the registers.
    let viol = &mut viol[..S];
    viol.fill(0.0);
    for &t in perm {
        let rt: &[T; S] = col_slice(r, t)[..S].try_into().expect("S rows");
        let mut gr = [T::ZERO; S];
        for l in 0..S {
            gr[l] = -rt[l];
        }
        let g_t = &g_rows[t * k..(t + 1) * k];
        for (&c, wq) in g_t.iter().zip(wp.chunks_exact(S)) {
            let wq: &[T; S] = wq.try_into().expect("S rows");
            for l in 0..S {
                gr[l] += c * wq[l];
            }
        }
        let hess = g_t[t];
        let wt: &mut [T; S] = (&mut wp[t * S..(t + 1) * S]).try_into().expect("S rows");
        for l in 0..S {
            let pg = if wt[l] == T::ZERO {
                gr[l].min(T::ZERO)
            } else {
                gr[l]
            };
            viol[l] += pg.abs().to_f64();
            if hess != T::ZERO {
                wt[l] = (wt[l] - gr[l] / hess).max(T::ZERO);
            }
        }
    }
    for (q, src) in wp.chunks_exact(S).enumerate() {
        let mut col = w.rb_mut().col_mut(q);
        col.rb_mut()
            .try_as_col_major_mut()
            .expect("unit row stride checked by the caller")
            .as_slice_mut()
            .copy_from_slice(src);
    }
}

/// The sweep over rows of a block, one coordinate at a time for all of them. Each coordinate's
/// gradient `−r[i, t] + Σ_q g[t, q]·w[i, q]` is summed over q in increasing order
/// (scikit-learn's order, so the same bits) for all rows at once: plain slice loops the
/// compiler vectorises at the width [`nmf_core::multiversion!`] selects for [`sweep_block`].
#[inline(always)]
fn sweep_rows<T: Float>(
    w: MatMut<'_, T>,
    g: MatRef<'_, T>,
    r: MatRef<'_, T>,
    perm: &[usize],
    grad: &mut [T],
    viol: &mut [f64],
) {
    let mut w = w;
    let (b, k) = w.shape();
    assert!(
        w.row_stride() == 1 && r.row_stride() == 1,
        "cd keeps its factors and products column-major"
    );
    // |projected gradient| per row, summed in row order by the caller: vectorisable,
    // unlike one serial f64 sum.
    viol.fill(0.0);
    for &t in perm {
        for (gi, &rv) in grad.iter_mut().zip(col_slice(r, t)) {
            *gi = -rv;
        }
        // Four terms per pass over `grad`, still added one at a time left to right (the
        // same bits as one term per pass, a quarter of the loads and stores of `grad`).
        let mut q = 0;
        while q + 4 <= k {
            let (c0, c1, c2, c3) = (g[(t, q)], g[(t, q + 1)], g[(t, q + 2)], g[(t, q + 3)]);
            let wr = w.as_ref();
            let (w0, w1) = (&col_slice(wr, q)[..b], &col_slice(wr, q + 1)[..b]);
            let (w2, w3) = (&col_slice(wr, q + 2)[..b], &col_slice(wr, q + 3)[..b]);
            let gr = &mut grad[..b];
            for i in 0..b {
                gr[i] = (((gr[i] + c0 * w0[i]) + c1 * w1[i]) + c2 * w2[i]) + c3 * w3[i];
            }
            q += 4;
        }
        for q in q..k {
            let c = g[(t, q)];
            for (gi, &wv) in grad.iter_mut().zip(col_slice(w.as_ref(), q)) {
                *gi += c * wv;
            }
        }
        let hess = g[(t, t)];
        let mut wt = w.rb_mut().col_mut(t);
        let col = wt
            .rb_mut()
            .try_as_col_major_mut()
            .expect("unit row stride checked above")
            .as_slice_mut();
        for ((wv, &gr), vi) in col.iter_mut().zip(grad.iter()).zip(viol.iter_mut()) {
            let pg = if *wv == T::ZERO { gr.min(T::ZERO) } else { gr };
            *vi += pg.abs().to_f64();
            if hess != T::ZERO {
                *wv = (*wv - gr / hess).max(T::ZERO);
            }
        }
    }
}

/// Column `j` of a view with unit row stride, as a slice.
fn col_slice<'a, T: Float>(a: MatRef<'a, T>, j: usize) -> &'a [T] {
    a.col(j)
        .try_as_col_major()
        .expect("unit row stride checked by the caller")
        .as_slice()
}

/// Whether H changes between W sweeps (a fit) or stays fixed (transform, whose products of H
/// are then computed once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HRole {
    Updated,
    Fixed,
}

/// Most bytes of X per block of the fused H update: the block the `XᵀW` pass reads from
/// memory is read again by `X_b·Hᵀ_b`, and should still be in L2 then (512 KiB on Zen 3, 1 MiB
/// on Zen 4 and 5). On Zen 5 a 1 MiB budget (f64 faces blocks of 256 columns instead of 160)
/// timed the same within the noise; this one also fits the smaller L2.
const FUSED_BLOCK_BYTES: usize = 512 * 1024;

/// Most columns per block of the fused H update (`xt_b_into`'s own largest block).
const FUSED_MAX_COLS: usize = 256;
/// Fewest columns per block: narrower blocks, for X with more rows than the L2 budget holds
/// at 64 columns, were not measured, so such X keeps the two separate products.
const FUSED_MIN_COLS: usize = 64;

/// Partial sums of `X·Hᵀ` in the fused update: a fixed number, so that the sum's order does
/// not depend on the thread count.
const FUSED_STRIPES: usize = 8;

/// One stripe's partial `X·Hᵀ` (n x k) and its sweep scratch.
type FusedSlot<T> = (Mat<T>, Vec<T>);

/// Rows of Hᵀ and of `XᵀW`, and the per-row gradient, violation and first-sweep violation.
type FusedState<'a, T> = (
    Rows<'a, T>,
    Rows<'a, T>,
    (&'a mut [T], (&'a mut [f64], &'a mut [f64])),
);

/// The plan of cd's fused H update on a dense X (n x m) at small k: X's columns in blocks
/// small enough to stay in L2, grouped into [`FUSED_STRIPES`] stripes with a partial `X·Hᵀ`
/// each. Per block, `XᵀW` through the unpacked small-k kernel (`kernels::xt_b_into`), the
/// sweep of those rows of Hᵀ, and `X_b·Hᵀ_b` added to the stripe's partial: X is read from
/// memory once per iteration instead of twice (the next W update's `X·Hᵀ` is ready).
struct Fused<T> {
    /// Column boundaries of X's blocks.
    blocks: Vec<usize>,
    /// Column boundaries of the stripes (runs of whole blocks).
    stripes: Vec<usize>,
    slots: Vec<FusedSlot<T>>,
    /// The first sweep's violation per row of Hᵀ (the one the stopping rule reads).
    viol_first: Vec<f64>,
    /// The Gram's rows (row t at `t·k`), as [`SweepPlan::g_rows`].
    g_rows: Vec<T>,
}

impl<T: Float> Fused<T> {
    /// The plan for X n x m at k components, or `None` where fusing does not pay: a column
    /// block that cannot stay in L2, or partial sums that would take more than an eighth of
    /// X's memory.
    fn plan(n: usize, m: usize, k: usize) -> Option<Fused<T>> {
        let bytes = n.checked_mul(core::mem::size_of::<T>())?;
        let cols = (FUSED_BLOCK_BYTES / bytes.max(1)) / 16 * 16;
        let cols = cols.min(FUSED_MAX_COLS);
        if cols < FUSED_MIN_COLS {
            return None;
        }
        let blocks = partition::bounded(m, cols);
        let count = blocks.len() - 1;
        let stripes = partition::groups(&blocks, FUSED_STRIPES.min(count));
        let n_stripes = stripes.len() - 1;
        if n_stripes * k * 8 > m {
            return None;
        }
        Some(Fused {
            blocks,
            stripes,
            slots: (0..n_stripes)
                .map(|_| (mat::zeros(n, k), Vec::new()))
                .collect(),
            viol_first: vec![0.0; m],
            g_rows: Vec::new(),
        })
    }
}

/// Runs `work` on every stripe of `stripes` (column boundaries) with its slot, on `tasks`
/// tasks of contiguous stripes: which task runs a stripe never changes a bit.
fn run_stripes<T: Float>(
    state: FusedState<'_, T>,
    stripes: &[usize],
    slots: &mut [FusedSlot<T>],
    tasks: usize,
    work: &(impl Fn(FusedState<'_, T>, &mut FusedSlot<T>, Range<usize>) + Sync),
) {
    let count = stripes.len() - 1;
    if tasks <= 1 || count <= 1 {
        let mut slots = slots.iter_mut();
        partition::for_each_piece(state, stripes, stripes[0]..stripes[count], |st, range| {
            work(st, slots.next().expect("one slot per stripe"), range);
        });
        return;
    }
    let mid = count / 2;
    let (left, right) = partition::Split::split_at(state, stripes[mid] - stripes[0]);
    let (s_left, s_right) = slots.split_at_mut(mid);
    let half = tasks / 2;
    rayon::join(
        || run_stripes(left, &stripes[..=mid], s_left, half, work),
        || run_stripes(right, &stripes[mid..], s_right, tasks - half, work),
    );
}

/// State of the coordinate-descent solver: W (n x k) and Hᵀ (m x k), both column-major so that
/// both sweeps run down contiguous columns, the Gram/cross products of the last sweep and the
/// sweep scratch, all sized once.
struct CoordinateDescent<T: Float> {
    w: Mat<T>,
    ht: Mat<T>,
    /// k x k Gram of the fixed factor (plus l2 on the diagonal).
    gram: Mat<T>,
    /// HHᵀ of the current H, when it is known to be current (saves a product per iteration).
    hht: Mat<T>,
    hht_current: bool,
    xht: Mat<T>,
    /// `xht` is X·Hᵀ − l1_W of the current H (left by the fused H update).
    xht_current: bool,
    xtw: Mat<T>,
    /// The fused H update's plan ([`Fused`]), made on the first H update it applies to.
    fused: Option<Box<Fused<T>>>,
    /// `Fused::plan` has run (whatever it said), so a declined plan is not remade, and
    /// reallocated, on every iteration.
    fused_planned: bool,
    /// Whether the H update may fuse (tests turn it off to compare the two).
    fuse: bool,
    perm: Vec<usize>,
    plan_w: SweepPlan<T>,
    plan_h: SweepPlan<T>,
    grad: Vec<T>,
    viol: Vec<f64>,
    /// Sweeps per factor and iteration with the same products (`NmfParams::inner_sweeps`).
    inner: usize,
    l1_w: T,
    l2_w: T,
    l1_h: T,
    l2_h: T,
}

impl<T: Float> CoordinateDescent<T> {
    fn new(w: Mat<T>, h: MatRef<'_, T>, p: &Penalties, inner: usize, par: Par) -> Self {
        let (n, k) = w.shape();
        let m = h.ncols();
        CoordinateDescent {
            w,
            ht: mat::copy(h.transpose()),
            gram: mat::zeros(k, k),
            hht: mat::zeros(k, k),
            hht_current: false,
            xht: mat::zeros(n, k),
            xht_current: false,
            xtw: mat::zeros(m, k),
            fused: None,
            fused_planned: false,
            fuse: true,
            perm: (0..k).collect(),
            plan_w: SweepPlan::new(n, k, par),
            plan_h: SweepPlan::new(m, k, par),
            grad: vec![T::ZERO; n.max(m)],
            viol: vec![0.0; n.max(m)],
            inner,
            l1_w: T::from_f64(p.l1_w),
            l2_w: T::from_f64(p.l2_w),
            l1_h: T::from_f64(p.l1_h),
            l2_h: T::from_f64(p.l2_h),
        }
    }

    fn order(&mut self, shuffle: Option<&mut RandomState>) {
        match shuffle {
            Some(rng) => rng.permutation_into(&mut self.perm),
            None => self.perm.iter_mut().enumerate().for_each(|(i, p)| *p = i),
        }
    }

    /// The W sweep: G = HHᵀ + l2_W·I, R = XHᵀ − l1_W. With a fixed H the products of H are
    /// computed on the first call only.
    fn update_w(
        &mut self,
        x: DataRef<'_, T>,
        role: HRole,
        shuffle: Option<&mut RandomState>,
        par: Par,
    ) -> Result<f64, NmfError> {
        let k = self.w.ncols();
        if !self.hht_current {
            gram_cols_into(
                self.hht.as_mut(),
                self.ht.as_ref(),
                partition::gram_par(par, k),
            )?;
            self.hht_current = true;
        }
        if !self.xht_current {
            x.mul_into(self.xht.as_mut(), self.ht.as_ref(), par)?;
            if self.l1_w != T::ZERO {
                let l1 = self.l1_w;
                self.xht.for_each_mut(|v| *v -= l1);
            }
            self.xht_current = true;
        }
        self.gram.copy_from(&self.hht);
        if self.l2_w != T::ZERO {
            for t in 0..k {
                self.gram[(t, t)] += self.l2_w;
            }
        }
        let v = self.sweeps(true, shuffle);
        if role == HRole::Updated {
            // H is about to change.
            self.hht_current = false;
            self.xht_current = false;
        }
        Ok(v)
    }

    /// The H sweep on Hᵀ: G = WᵀW + l2_H·I, R = XᵀW − l1_H.
    fn update_h(
        &mut self,
        x: DataRef<'_, T>,
        shuffle: Option<&mut RandomState>,
        par: Par,
    ) -> Result<f64, NmfError> {
        let k = self.w.ncols();
        gram_cols_into(
            self.gram.as_mut(),
            self.w.as_ref(),
            partition::gram_par(par, k),
        )?;
        if self.l2_h != T::ZERO {
            for t in 0..k {
                self.gram[(t, t)] += self.l2_h;
            }
        }
        self.hht_current = false;
        self.xht_current = false;
        // With a shuffle, every inner sweep draws its own order for all of Hᵀ, which a
        // block-by-block pass cannot follow; one sweep, or none drawn, it can.
        if let Some(d) = x.as_dense()
            && (self.inner <= 1 || shuffle.is_none())
            && kernels::xt_b_applies(d, self.w.as_ref())
            && self.fuse
        {
            if !self.fused_planned {
                self.fused = Fused::plan(d.nrows(), d.ncols(), k).map(Box::new);
                self.fused_planned = true;
            }
            if self.fused.is_some() {
                self.order(shuffle);
                return Ok(self.update_h_fused(d, par));
            }
        }
        x.t_mul_into(self.xtw.as_mut(), self.w.as_ref(), par)?;
        if self.l1_h != T::ZERO {
            let l1 = self.l1_h;
            self.xtw.for_each_mut(|v| *v -= l1);
        }
        Ok(self.sweeps(false, shuffle))
    }

    /// [`update_h`](Self::update_h) in one pass over X's column blocks ([`Fused`]), with the
    /// Gram (and l2_H) in place and the order drawn: per block, `XᵀW` for the block's rows of
    /// Hᵀ, the sweeps of those rows, and the block's share of `X·Hᵀ` for the next W update
    /// while the block is still in cache. Each row of Hᵀ gets the same bits as in the
    /// unfused update (rows are independent, and `xt_b_into` splits columns without changing
    /// a bit), and so does the returned violation; `X·Hᵀ` is summed in an order fixed by the
    /// shape.
    fn update_h_fused(&mut self, x: MatRef<'_, T>, par: Par) -> f64 {
        let (k, m) = (self.w.ncols(), x.ncols());
        let f = self.fused.as_deref_mut().expect("planned by update_h");
        debug_assert_eq!(f.viol_first.len(), m, "planned for another X");
        let kernel = Kernel::for_k(k);
        f.g_rows.clear();
        f.g_rows
            .extend((0..k * k).map(|i| self.gram[(i / k, i % k)]));
        let need = kernel.scratch::<T>(k);
        for (_, wp) in f.slots.iter_mut().filter(|(_, wp)| wp.len() < need) {
            wp.resize(need, T::ZERO);
        }
        let gs = Grams {
            g: self.gram.as_ref(),
            rows: &f.g_rows,
            perm: &[],
        };
        let (w, perm, inner, l1) = (
            self.w.as_ref(),
            &self.perm[..],
            self.inner.max(1),
            self.l1_h,
        );
        let blocks = &f.blocks[..];
        let work = |state: FusedState<'_, T>, slot: &mut FusedSlot<T>, range: Range<usize>| {
            let (part, wp) = slot;
            let mut first_block = true;
            partition::for_each_piece(
                state,
                blocks,
                range,
                |(Rows(mut hb), Rows(mut rb), (gb, (vb, fb))), cols| {
                    let xb = x.subcols(cols.start, cols.len());
                    let ran = kernels::xt_b_into(rb.rb_mut(), false, xb, w, Par::Seq);
                    // `update_h` asked `xt_b_applies` for the whole X; a block has the same rows.
                    assert!(matches!(ran, Ok(true)), "xt_b_into declined a block of X");
                    if l1 != T::ZERO {
                        rb.rb_mut().for_each_mut(|v| *v -= l1);
                    }
                    for s in 0..inner {
                        sweep_block(hb.rb_mut(), gs, rb.rb(), perm, gb, vb, kernel, &mut wp[..]);
                        if s == 0 {
                            fb.copy_from_slice(vb);
                        }
                        // A sweep that changes nothing leaves the next one nothing to change, so
                        // stopping per block gives the bits of the global early stop.
                        if vb.iter().all(|&v| v == 0.0) {
                            break;
                        }
                    }
                    let accum = if first_block {
                        Accum::Replace
                    } else {
                        Accum::Add
                    };
                    faer::linalg::matmul::matmul(
                        part.as_mut(),
                        accum,
                        xb,
                        hb.rb(),
                        T::ONE,
                        Par::Seq,
                    );
                    first_block = false;
                },
            );
        };
        let state = (
            Rows(self.ht.as_mut()),
            Rows(self.xtw.as_mut()),
            (
                &mut self.grad[..m],
                (&mut self.viol[..m], &mut f.viol_first[..]),
            ),
        );
        let tasks = par.degree().clamp(1, f.slots.len());
        run_stripes(state, &f.stripes, &mut f.slots, tasks, &work);
        self.xht.copy_from(&f.slots[0].0);
        for (part, _) in &f.slots[1..] {
            self.xht += part;
        }
        if self.l1_w != T::ZERO {
            let l1 = self.l1_w;
            self.xht.for_each_mut(|v| *v -= l1);
        }
        self.xht_current = true;
        self.plan_h
            .blocks
            .windows(2)
            .map(|c| f.viol_first[c[0]..c[1]].iter().sum::<f64>())
            .sum()
    }

    /// `inner` sweeps over W (`on_w`) or Hᵀ with the current products; returns the first
    /// sweep's violation (the one scikit-learn's stopping rule knows). Stops early once a sweep
    /// finds nothing to change.
    fn sweeps(&mut self, on_w: bool, mut shuffle: Option<&mut RandomState>) -> f64 {
        let mut first = None;
        for _ in 0..self.inner.max(1) {
            self.order(shuffle.as_deref_mut());
            let (f, r, plan) = if on_w {
                (self.w.as_mut(), self.xht.as_ref(), &mut self.plan_w)
            } else {
                (self.ht.as_mut(), self.xtw.as_ref(), &mut self.plan_h)
            };
            let v = sweep(
                f,
                self.gram.as_ref(),
                r,
                &self.perm,
                plan,
                &mut self.grad,
                &mut self.viol,
            );
            first.get_or_insert(v);
            if v == 0.0 {
                break;
            }
        }
        first.unwrap_or(0.0)
    }

    /// ½‖X − WH‖² from the products of the last H sweep, without forming WH (Gram identity).
    /// Computes HHᵀ of the new H, which the next W sweep then reuses.
    fn frobenius_after_h(&mut self, x_sqnorm: f64, par: Par) -> Result<f64, NmfError> {
        let k = self.w.ncols();
        gram_cols_into(
            self.hht.as_mut(),
            self.ht.as_ref(),
            partition::gram_par(par, k),
        )?;
        self.hht_current = true;
        // gram = WᵀW + l2_H·I and xtw = XᵀW − l1_H: undo the penalties in the sums.
        use nmf_core::kernels::{frobenius_inner, sum};
        let (ht, xtw) = (self.ht.as_ref(), self.xtw.as_ref());
        let mut cross = frobenius_inner(xtw, ht).unwrap_or(f64::NAN);
        if self.l1_h != T::ZERO {
            cross += self.l1_h.to_f64() * sum(ht);
        }
        let mut quad = frobenius_inner(self.gram.as_ref(), self.hht.as_ref()).unwrap_or(f64::NAN);
        for j in 0..k {
            quad -= self.l2_h.to_f64() * self.hht[(j, j)].to_f64();
        }
        Ok((0.5 * (x_sqnorm - 2.0 * cross + quad)).max(0.0))
    }
}

/// The coordinate shuffle stream: NumPy's `RandomState(seed)` (a separate instance from the
/// init's, as in scikit-learn). Native mode folds a 64-bit seed into the 32 bits it takes.
pub(crate) fn shuffle_rng(shuffle: bool, seed: u64, compat: Compat) -> Option<Box<RandomState>> {
    if !shuffle {
        return None;
    }
    let s = match compat {
        Compat::Sklearn => seed as u32,
        Compat::Native => (seed ^ (seed >> 32)) as u32,
    };
    Some(Box::new(RandomState::new(s)))
}

/// scikit-learn's `solver="cd"`: one W sweep and one H sweep per iteration, stopped when the
/// violation falls below `tol` times the first iteration's.
pub(crate) struct Cd<T: Float> {
    cd: Box<CoordinateDescent<T>>,
    rng: Option<Box<RandomState>>,
    loss_ws: LossScratch<T>,
    /// The first iteration's violation and the last one's.
    v_init: Option<f64>,
    v_last: f64,
}

impl<T: Float> Solver<T> for Cd<T> {
    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        _warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        let c = pb.c;
        Ok(Cd {
            cd: Box::new(CoordinateDescent::new(
                w,
                h.as_ref(),
                &pb.pen,
                c.inner_sweeps,
                c.par,
            )),
            rng: shuffle_rng(c.shuffle, c.seed, c.compat),
            loss_ws: LossScratch::for_data(&pb.x, c.n_components, c.par),
            v_init: None,
            v_last: 0.0,
        })
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        let par = pb.par();
        let mut v = self
            .cd
            .update_w(pb.x, HRole::Updated, self.rng.as_deref_mut(), par)?;
        v += self.cd.update_h(pb.x, self.rng.as_deref_mut(), par)?;
        self.v_last = v;
        Ok(None)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        ensure_finite("W", self.cd.w.as_ref(), iter)?;
        ensure_finite("H", self.cd.ht.as_ref(), iter)
    }

    fn objective(&mut self, pb: &Problem<'_, T>, after_step: bool) -> Result<f64, NmfError> {
        let (w, h) = (self.cd.w.as_ref(), self.cd.ht.transpose());
        if !after_step {
            let c = pb.c;
            return Ok(loss::objective_with(
                &mut self.loss_ws,
                pb.x,
                w,
                h,
                c.loss,
                &pb.pen,
                c.par,
            )?);
        }
        let d = self.cd.frobenius_after_h(pb.x_sqnorm, pb.par())?;
        let (w, h) = (self.cd.w.as_ref(), self.cd.ht.transpose());
        gram_or_exact(d, &mut self.loss_ws, pb, w, h)
    }

    fn converged(
        &mut self,
        pb: &Problem<'_, T>,
        _iter: usize,
    ) -> Result<Option<StopReason>, NmfError> {
        Ok(violation_rule(&mut self.v_init, self.v_last, pb.c.tol))
    }

    fn factors(&self) -> Option<(MatRef<'_, T>, MatRef<'_, T>)> {
        Some((self.cd.w.as_ref(), self.cd.ht.transpose()))
    }

    fn into_factors(self, _pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        let h = mat::copy(self.cd.ht.transpose());
        Ok((self.cd.w, h))
    }

    /// scikit-learn's cd `transform`: W sweeps from zeros with H fixed, until the violation falls
    /// below `tol` times the first.
    fn solve_w(
        c: &NmfParams<T>,
        h: MatRef<'_, T>,
        x: DataRef<'_, T>,
        pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        let (n, k) = (x.nrows(), h.nrows());
        let mut cd = CoordinateDescent::new(mat::zeros(n, k), h, pen, c.inner_sweeps, c.par);
        let mut rng = shuffle_rng(c.shuffle, c.seed, c.compat);
        let mut v_init = None;
        for _ in 0..c.max_iter {
            let v = cd.update_w(x, HRole::Fixed, rng.as_deref_mut(), c.par)?;
            let v0 = *v_init.get_or_insert(v);
            if v0 == 0.0 || v / v0 <= c.tol {
                break;
            }
        }
        Ok(cd.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain row loop's sweep from `w0`: the reference the other kernels are held to.
    fn plain_sweep<T: Float>(
        w0: &Mat<T>,
        g: &Mat<T>,
        r: &Mat<T>,
        perm: &[usize],
    ) -> (Mat<T>, Vec<f64>) {
        let n = w0.nrows();
        let mut plain = w0.clone();
        let (mut grad, mut viol) = (vec![T::ZERO; n], vec![0.0f64; n]);
        sweep_rows(
            plain.as_mut(),
            g.as_ref(),
            r.as_ref(),
            perm,
            &mut grad,
            &mut viol,
        );
        (plain, viol)
    }

    /// Every entry of `out` within `tol·(1 + |plain|)` of `plain`.
    fn assert_close<T: Float>(plain: &Mat<T>, out: &Mat<T>, tol: f64, what: &str) {
        let (n, k) = plain.shape();
        for j in 0..k {
            for i in 0..n {
                let (a, b) = (plain[(i, j)].to_f64(), out[(i, j)].to_f64());
                assert!(
                    (a - b).abs() <= tol * (1.0 + a.abs()),
                    "n = {n}, k = {k}, W[{i}, {j}]: plain {a}, {what} {b}"
                );
            }
        }
    }

    #[test]
    fn one_coordinate_is_the_exact_minimiser() {
        // 1 x 1 problem: min ½(x − w·h)² + l1·w + ½·l2·w² has w* = max(0, (x·h − l1)/(h² + l2)).
        let (x, h, l1, l2) = (3.0f64, 2.0, 0.5, 1.0);
        let mut w = Mat::<f64>::from_fn(1, 1, |_, _| 0.7);
        let g = Mat::from_fn(1, 1, |_, _| h * h + l2);
        let r = Mat::from_fn(1, 1, |_, _| x * h - l1);
        let mut plan = SweepPlan::new(1, 1, Par::Seq);
        let (mut grad, mut viol) = ([0.0f64], [0.0f64]);
        let v = sweep(
            w.as_mut(),
            g.as_ref(),
            r.as_ref(),
            &[0],
            &mut plan,
            &mut grad,
            &mut viol,
        );
        assert!((w[(0, 0)] - (x * h - l1) / (h * h + l2)).abs() < 1e-15);
        assert!((v - ((h * h + l2) * 0.7 - (x * h - l1)).abs()).abs() < 1e-12);
    }

    #[test]
    fn blocks_and_threads_do_not_change_the_result() {
        // k = 5 takes the packed or the row loop, k = 100 the blocked one on AVX-512.
        for k in [5, BLOCKED_MIN_K + 4] {
            threads_do_not_change_the_result(k);
        }
    }

    fn threads_do_not_change_the_result(k: usize) {
        let n = 3 * partition::SWEEP_ROWS + 17;
        let w0 = Mat::<f32>::from_fn(n, k, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
        let g = Mat::<f32>::from_fn(k, k, |i, j| if i == j { 3.0 } else { 0.3 });
        let r = Mat::<f32>::from_fn(n, k, |i, j| ((i + j) % 5) as f32);
        let mut perm: Vec<usize> = (0..k).rev().collect();
        perm.swap(0, k / 2);
        let mut a = w0.clone();
        let mut b = w0.clone();
        let run = |w: &mut Mat<f32>, par| {
            // Planned for at least k = 64, so that k = 5 also runs on two threads.
            let mut plan = SweepPlan::new(n, k.max(64), par);
            let (mut grad, mut viol) = (vec![0.0f32; n], vec![0.0f64; n]);
            let perm = &perm;
            sweep(
                w.as_mut(),
                g.as_ref(),
                r.as_ref(),
                perm,
                &mut plan,
                &mut grad,
                &mut viol,
            )
        };
        let va = run(&mut a, Par::Seq);
        let vb = run(&mut b, Par::rayon(2));
        assert_eq!(a, b);
        assert_eq!(va, vb);
    }

    /// Bits of a matrix, for exact comparisons that also hold for NaN.
    fn mat_bits<T: Float>(a: MatRef<'_, T>) -> Vec<u64> {
        let mut v = Vec::new();
        a.for_each(|x| v.push(x.to_f64().to_bits()));
        v
    }

    /// One W update and one H update from the same start, fused or not (and the fused one on
    /// 1, 2 and 3 threads). Hᵀ, `XᵀW` and the violation must agree bit for bit, the fused
    /// `X·Hᵀ` must be the product of the new H to rounding, and the next W update must see it.
    #[test]
    fn fused_h_update_is_the_unfused_one() {
        fn check<T: Float>(k: usize, inner: usize, shuffled: bool, pen: Penalties, tol: f64) {
            // 300 rows (xt_b_into takes 256 and more) by 2500 columns: more blocks than
            // stripes, so that some stripes sum two blocks, at either precision. The first 300
            // columns of X and of H are zero: their rows of Hᵀ have nothing to change, so with
            // inner sweeps the first block stops after one sweep, and the second has rows of
            // both kinds (a per-block stop that looked at any one row would show).
            let (n, m, zeros) = (300, 2500, 300);
            let x = Mat::<T>::from_fn(n, m, |i, j| {
                let v = ((i * 13 + j * 7) % 23) as f64 / 23.0 + 0.01;
                T::from_f64(if j < zeros { 0.0 } else { v })
            });
            let w0 = Mat::<T>::from_fn(n, k, |i, j| T::from_f64(((i + 3 * j) % 7) as f64 / 7.0));
            let h0 = Mat::<T>::from_fn(k, m, |i, j| {
                T::from_f64(if j < zeros {
                    0.0
                } else {
                    ((2 * i + j) % 5) as f64 / 5.0
                })
            });
            let xd = DataRef::Dense(x.as_ref());
            let run = |fuse: bool, par: Par| {
                let mut cd = CoordinateDescent::new(w0.clone(), h0.as_ref(), &pen, inner, par);
                cd.fuse = fuse;
                let mut rng = shuffled.then(|| RandomState::new(7));
                let vw = cd.update_w(xd, HRole::Updated, rng.as_mut(), par).unwrap();
                let vh = cd.update_h(xd, rng.as_mut(), par).unwrap();
                // The next draw of the stream: both updates must have drawn the same orders.
                let next = rng.map(|mut r| r.random_sample().to_bits());
                (cd, vw, vh, next)
            };
            let (plain, vw, vh, next) = run(false, Par::Seq);
            assert!(
                (0..zeros).all(|j| (0..k).all(|t| plain.ht[(j, t)] == T::ZERO)),
                "the zero rows of Hᵀ stay zero"
            );
            assert!(plain.fused.is_none());
            let applies = kernels::xt_b_applies(x.as_ref(), w0.as_ref());
            let mut xht_bits = None;
            for par in [Par::Seq, Par::rayon(2), Par::rayon(3)] {
                let (fused, fvw, fvh, fnext) = run(true, par);
                let what = format!(
                    "{} k = {k}, inner {inner}, shuffled {shuffled}, {par:?}",
                    core::any::type_name::<T>()
                );
                // Without the small-k kernel (no AVX-512, or k outside its range) nothing fuses.
                assert_eq!(
                    fused.fused.is_some(),
                    applies && (inner <= 1 || !shuffled),
                    "{what}"
                );
                for (name, a, b) in [
                    ("W", &fused.w, &plain.w),
                    ("H", &fused.ht, &plain.ht),
                    ("XᵀW", &fused.xtw, &plain.xtw),
                ] {
                    assert_eq!(mat_bits(a.as_ref()), mat_bits(b.as_ref()), "{what}: {name}");
                }
                assert_eq!(
                    (fvw.to_bits(), fvh.to_bits()),
                    (vw.to_bits(), vh.to_bits()),
                    "{what}: violations"
                );
                assert_eq!(fnext, next, "{what}: draws of the shuffle stream");
                let Some(plan) = fused.fused.as_deref() else {
                    continue;
                };
                assert!(
                    plan.blocks.len() > plan.stripes.len(),
                    "{what}: one block per stripe"
                );
                assert!(fused.xht_current, "{what}");
                // The stripes' order is fixed: the same X·Hᵀ bits on any number of threads.
                let bits = mat_bits(fused.xht.as_ref());
                assert_eq!(
                    xht_bits.get_or_insert_with(|| bits.clone()),
                    &bits,
                    "{what}: X·Hᵀ bits"
                );
                let mut want = &x * fused.ht.as_ref();
                want.for_each_mut(|v| *v -= T::from_f64(pen.l1_w));
                let scale = want.norm_max().to_f64();
                let diff = (&fused.xht - &want).norm_max().to_f64();
                assert!(
                    diff <= tol * scale,
                    "{what}: X·Hᵀ off by {diff:e} of {scale:e}"
                );
                // The next W update takes that product instead of computing its own: to rounding
                // the unfused one's, and a product replaced by zeros (W's minimiser is then 0)
                // shows that it is read.
                let (mut a, mut b) = (fused, run(false, Par::Seq).0);
                let mut c = run(true, par).0;
                c.xht.fill(T::ZERO);
                a.update_w(xd, HRole::Updated, None, par).unwrap();
                b.update_w(xd, HRole::Updated, None, par).unwrap();
                c.update_w(xd, HRole::Updated, None, par).unwrap();
                let dw = (&a.w - &b.w).norm_max().to_f64();
                assert!(
                    dw <= 1e3 * tol * b.w.norm_max().to_f64(),
                    "{what}: next W off by {dw:e}"
                );
                // (To rounding: `w − (G_tt·w)/G_tt` can leave a few ulps of w. A component whose
                // row of H is all zero has a zero Hessian, and the sweep leaves its column alone.)
                let live: Vec<usize> = (0..k).filter(|&t| c.hht[(t, t)] != T::ZERO).collect();
                assert!(!live.is_empty(), "{what}: H is zero");
                assert!(
                    live.iter()
                        .all(|&t| c.w.col(t).norm_max().to_f64() <= 1e-3 * b.w.norm_max().to_f64()),
                    "{what}: the W update recomputed X·Hᵀ"
                );
            }
        }
        let none = Penalties {
            l1_w: 0.0,
            l2_w: 0.0,
            l1_h: 0.0,
            l2_h: 0.0,
        };
        let all = Penalties {
            l1_w: 0.05,
            l2_w: 0.2,
            l1_h: 0.1,
            l2_h: 0.3,
        };
        for k in [2, 5, 10, 12] {
            check::<f64>(k, 1, false, none, 1e-13);
            check::<f32>(k, 1, false, all, 1e-5);
        }
        check::<f64>(10, 3, false, all, 1e-13);
        check::<f32>(5, 1, true, none, 1e-5);
        // Shuffled with inner sweeps: every sweep draws its own order, so nothing fuses.
        check::<f64>(5, 3, true, all, 1e-13);
    }

    #[test]
    fn fused_plan_declines_where_it_does_not_pay() {
        // A block of 64 columns of 1100 f64 rows (550 KB) no longer fits the L2 budget.
        assert!(Fused::<f64>::plan(1100, 4096, 10).is_none());
        assert!(Fused::<f32>::plan(1100, 4096, 10).is_some());
        // Partial sums larger than an eighth of X: 1000 f64 rows take blocks of 64 columns, so
        // 200 columns make 4 stripes, 4·10 partial columns for every 50 of X.
        assert!(Fused::<f64>::plan(1000, 200, 10).is_none());
        assert!(Fused::<f64>::plan(1000, 4096, 10).is_some());
        let p = Fused::<f32>::plan(400, 4096, 10).expect("the faces fuse");
        assert_eq!(p.blocks.len() - 1, 16);
        assert_eq!(p.stripes.len() - 1, FUSED_STRIPES);
        assert!(p.blocks.windows(2).all(|c| c[1] - c[0] == 256));
        let p = Fused::<f64>::plan(400, 4096, 10).expect("the faces fuse in f64");
        assert!(partition::widest(&p.blocks) * 400 * 8 <= FUSED_BLOCK_BYTES);
        // Stripes are runs of whole blocks.
        assert!(p.stripes.iter().all(|s| p.blocks.contains(s)));
    }

    /// The packed sub-blocks (with a tail of unpacked rows) give the bits of the plain row
    /// loop, for both precisions, shuffled, with zeros in W; and so does a whole
    /// sweep with the kernel this CPU gets, unless that is the blocked one.
    #[test]
    fn packed_sub_blocks_give_the_bits_of_the_row_loop() {
        fn check<T: Float>(n: usize, k: usize) {
            let w0 = Mat::<T>::from_fn(n, k, |i, j| {
                T::from_f64(if (i + 2 * j) % 7 == 0 {
                    0.0
                } else {
                    ((i * 7 + j * 3) % 11) as f64 / 11.0
                })
            });
            // Not symmetric on purpose: the kernels must read row t of G, as scikit-learn does.
            let g = Mat::<T>::from_fn(k, k, |i, j| {
                T::from_f64(if i == j {
                    k as f64
                } else {
                    0.3 / (1.0 + (2 * i + j) as f64)
                })
            });
            let r = Mat::<T>::from_fn(n, k, |i, j| T::from_f64(((i + 3 * j) % 5) as f64 - 0.7));
            let mut perm: Vec<usize> = (0..k).rev().collect();
            perm.rotate_left(k / 3);
            let (plain, viol_plain) = plain_sweep(&w0, &g, &r, &perm);
            let mut grad = vec![T::ZERO; n];
            let g_rows: Vec<T> = (0..k * k).map(|i| g[(i / k, i % k)]).collect();
            let gs = Grams {
                g: g.as_ref(),
                rows: &g_rows,
                perm: &[],
            };
            for kernel in [Kernel::Rows, Kernel::Packed] {
                let mut out = w0.clone();
                let mut viol = vec![0.0f64; n];
                let mut wp = vec![T::ZERO; kernel.scratch::<T>(k)];
                sweep_block(
                    out.as_mut(),
                    gs,
                    r.as_ref(),
                    &perm,
                    &mut grad,
                    &mut viol,
                    kernel,
                    &mut wp,
                );
                assert!(
                    mat_bits(out.as_ref()) == mat_bits(plain.as_ref()),
                    "n = {n}, k = {k}, {kernel:?}: W differs"
                );
                assert_eq!(
                    viol, viol_plain,
                    "n = {n}, k = {k}, {kernel:?}: violations differ"
                );
            }
            // The blocked kernel sums in another order: the whole sweep (its Gram in the
            // sweep's order, its scratch, the dispatch) is then held to rounding.
            let blocked = Kernel::for_k(k) == Kernel::Blocked;
            let mut whole = w0.clone();
            let mut plan = SweepPlan::new(n, k, Par::rayon(2));
            let mut viol = vec![0.0f64; n];
            let v = sweep(
                whole.as_mut(),
                g.as_ref(),
                r.as_ref(),
                &perm,
                &mut plan,
                &mut grad,
                &mut viol,
            );
            if blocked {
                let tol = if T::NAME == "float64" { 1e-11 } else { 2e-4 };
                assert_close(&plain, &whole, tol, "blocked sweep");
                let total: f64 = viol_plain.iter().sum();
                assert!(
                    (v - total).abs() <= tol * k as f64 * (1.0 + total),
                    "{v} vs {total}"
                );
                return;
            }
            assert!(
                mat_bits(whole.as_ref()) == mat_bits(plain.as_ref()),
                "n = {n}, k = {k}: sweep differs"
            );
            let by_block: f64 = plan
                .blocks
                .windows(2)
                .map(|c| viol_plain[c[0]..c[1]].iter().sum::<f64>())
                .sum();
            assert_eq!(v.to_bits(), by_block.to_bits());
        }
        // Called on one block: fewer rows than a sub-block, one and a tail, three and a tail.
        // Through `sweep`, 1100 rows are 16 blocks of 68-69 rows, each one sub-block and a tail.
        for k in [1, 3, 4, 5, 17, 50, 130] {
            for n in [21, 101, 200, 1100] {
                check::<f64>(n, k);
                check::<f32>(n, k);
            }
        }
    }

    /// The blocked kernel computes the plain sweep's coordinates up to rounding: chunks with
    /// padded tails (n not a multiple of its rows), k not a multiple of its block, a shuffled
    /// order, zeros in W, a coordinate with a zero Hessian (left alone) and a Gram whose
    /// off-diagonal terms matter (the test fails without the in-block corrections, or with one
    /// term of the micro-kernel dropped). Run directly, so any CPU checks it.
    #[test]
    fn blocked_sweep_is_the_plain_sweep() {
        fn check<T: Float>(n: usize, k: usize, tol: f64) {
            let w0 = Mat::<T>::from_fn(n, k, |i, j| {
                T::from_f64(if (i + 2 * j) % 7 == 0 {
                    0.0
                } else {
                    ((i * 7 + j * 3) % 11) as f64 / 11.0
                })
            });
            // Not symmetric, and strong couplings between neighbours in the sweep's order.
            let g = Mat::<T>::from_fn(k, k, |i, j| {
                T::from_f64(if i == j {
                    if i == k / 2 && k > 2 { 0.0 } else { 2.0 }
                } else {
                    0.6 / (1.0 + (2 * i + j) as f64) + 0.4 / (1.0 + i.abs_diff(j) as f64)
                })
            });
            let r = Mat::<T>::from_fn(n, k, |i, j| {
                T::from_f64(((i + 3 * j) % 5) as f64 * 0.8 - 0.7)
            });
            let mut perm: Vec<usize> = (0..k).rev().collect();
            perm.rotate_left(k / 3);
            let (plain, viol_plain) = plain_sweep(&w0, &g, &r, &perm);
            let mut grad = vec![T::ZERO; n];
            let g_rows: Vec<T> = (0..k * k).map(|i| g[(i / k, i % k)]).collect();
            let mut g_perm = Vec::new();
            gram_in_sweep_order(&g_rows, &perm, &mut g_perm);
            let gs = Grams {
                g: g.as_ref(),
                rows: &g_rows,
                perm: &g_perm,
            };
            let mut out = w0.clone();
            let mut viol = vec![0.0f64; n];
            let mut wp = vec![T::ZERO; Kernel::Blocked.scratch::<T>(k)];
            sweep_block(
                out.as_mut(),
                gs,
                r.as_ref(),
                &perm,
                &mut grad,
                &mut viol,
                Kernel::Blocked,
                &mut wp,
            );
            assert_close(&plain, &out, tol, "blocked");
            let moved = (0..k)
                .flat_map(|j| (0..n).map(move |i| (i, j)))
                .map(|(i, j)| (plain[(i, j)].to_f64() - w0[(i, j)].to_f64()).abs())
                .fold(0.0f64, f64::max);
            assert!(moved > 0.1, "n = {n}, k = {k}: the sweep should move W");
            if k > 2 {
                let t = k / 2;
                assert!(
                    (0..n).all(|i| out[(i, t)] == w0[(i, t)]),
                    "zero Hessian: W moved"
                );
            }
            for (i, (a, b)) in viol_plain.iter().zip(&viol).enumerate() {
                assert!(
                    (a - b).abs() <= tol * (1.0 + a.abs()) * k as f64,
                    "n = {n}, k = {k}, violation {i}: {a} vs {b}"
                );
            }
        }
        for k in [1, 3, 8, 9, 17, 50, 130] {
            for n in [5, 16, 21, 33, 101] {
                check::<f64>(n, k, 1e-11);
                check::<f32>(n, k, 2e-4);
            }
        }
    }

    proptest::proptest! {
        /// Every coordinate-descent sweep is non-increasing for the penalised objective.
        #[test]
        fn sweeps_never_increase_the_objective(
            (n, m, k, seed) in crate::test_support::dims(),
            reg in crate::test_support::penalties(),
            shuffle in proptest::prelude::any::<bool>(),
        ) {
            use crate::test_support::{objective, problem, slack};
            use nmf_core::Loss;
            let (x, mut w, h0) = problem(n, m, k, seed);
            let mut ht = h0.transpose().to_owned();
            let p = reg.scaled(n, m);
            let mut rng = RandomState::new(seed as u32);
            let mut perm: Vec<usize> = (0..k).collect();
            let (mut plan_w, mut plan_h) = (SweepPlan::new(n, k, Par::Seq), SweepPlan::new(m, k, Par::Seq));
            let (mut grad, mut viol) = (vec![0.0f64; n.max(m)], vec![0.0f64; n.max(m)]);
            let obj = |w: &Mat<f64>, ht: &Mat<f64>| objective(x.as_ref(), w.as_ref(), ht.transpose(), Loss::Frobenius, &reg);
            let mut prev = obj(&w, &ht);
            for _ in 0..15 {
                if shuffle { rng.permutation_into(&mut perm); }
                let mut g = ht.transpose() * &ht;
                for t in 0..k { g[(t, t)] += p.l2_w; }
                let mut r = &x * &ht;
                r.for_each_mut(|v| *v -= p.l1_w);
                sweep(w.as_mut(), g.as_ref(), r.as_ref(), &perm, &mut plan_w, &mut grad, &mut viol);
                let o = obj(&w, &ht);
                proptest::prop_assert!(o <= prev + slack(prev, &x, 2.0), "W sweep: {prev} -> {o}");
                prev = o;
                let mut g = w.transpose() * &w;
                for t in 0..k { g[(t, t)] += p.l2_h; }
                let mut r = x.transpose() * &w;
                r.for_each_mut(|v| *v -= p.l1_h);
                sweep(ht.as_mut(), g.as_ref(), r.as_ref(), &perm, &mut plan_h, &mut grad, &mut viol);
                let o = obj(&w, &ht);
                proptest::prop_assert!(o <= prev + slack(prev, &x, 2.0), "H sweep: {prev} -> {o}");
                prev = o;
            }
        }
    }
}
