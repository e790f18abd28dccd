//! Dense products shared by the solvers, with explicit parallelism.
//!
//! Every kernel writes into a caller-provided destination (`_into`), takes `faer::Par`
//! explicitly (never faer's global setting) and checks shapes, returning an error rather than
//! panicking. Reductions to scalars accumulate in `f64` whatever the matrix type.
//!
//! All products go through [`matmul`] and the Grams through [`syrk_lower_into`], whose results
//! do not depend on the number of threads.

use faer::{Accum, MatMut, MatRef, Par};

use crate::error::CoreError;
use crate::partition;
use crate::scalar::Float;

fn dst_shape<T: Float>(dst: &MatMut<'_, T>, rows: usize, cols: usize) -> Result<(), CoreError> {
    crate::check::ensure_shape("destination", dst.as_ref(), rows, cols)
}

fn inner_dim(what: &'static str, expected: usize, got: usize) -> Result<(), CoreError> {
    if expected != got {
        return Err(CoreError::ShapeMismatch {
            what,
            dim: "rows/columns on the shared dimension",
            expected,
            got,
        });
    }
    Ok(())
}

/// `dst = alpha·lhs·rhs` (`Accum::Replace`) or `dst += alpha·lhs·rhs` (`Accum::Add`), with the
/// same bits whatever `par` says.
///
/// faer's parallel GEMM may split the reduction differently with the thread count, so
/// results moved with it in the last bits (seen on the faces: 1e-4 relative after ten `cd`
/// iterations). Here the output is cut into fixed blocks along its longer side (the block
/// length is [`partition::matmul_block_len`], a function of the shape only), each task takes a
/// run of consecutive blocks, and every call to faer is sequential. A task makes one call per
/// block, or one over its whole run where that sums each entry in the same order (on x86-64
/// with AVX2 or AVX-512, where faer's GEMM allows it). Each output entry is therefore always
/// summed in the same order, and `par` only decides how many tasks run at once. Nothing is
/// allocated here.
///
/// # Errors
/// The shapes do not agree (`lhs` r x s, `rhs` s x c, `dst` r x c).
pub fn matmul<T: Float>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
    par: Par,
) -> Result<(), CoreError> {
    inner_dim("right operand", lhs.ncols(), rhs.nrows())?;
    dst_shape(&dst, lhs.nrows(), rhs.ncols())?;
    let (r, c) = dst.shape();
    if partition::matmul_is_single(r, c, lhs.ncols()) {
        faer::linalg::matmul::matmul(dst, accum, lhs, rhs, alpha, Par::Seq);
        return Ok(());
    }
    let by_rows = r >= c;
    let dim = if by_rows { r } else { c };
    let len = partition::matmul_block_len(dim);
    let blocks = dim.div_ceil(len);
    let last = dim - (blocks - 1) * len;
    let (other, inner) = (if by_rows { c } else { r }, lhs.ncols());
    let p = Product {
        accum,
        lhs,
        rhs,
        alpha,
        by_rows,
        len,
        merge: blocks_merge(last.min(len), other, inner),
    };
    p.run(dst, 0, blocks, par.degree().clamp(1, blocks));
    Ok(())
}

/// The operands of one [`matmul`], cut into blocks of `len` output rows (`by_rows`) or columns.
struct Product<'a, T> {
    accum: Accum,
    lhs: MatRef<'a, T>,
    rhs: MatRef<'a, T>,
    alpha: T,
    by_rows: bool,
    len: usize,
    /// A task's run of consecutive blocks is one faer call ([`blocks_merge`]).
    merge: bool,
}

/// Whether one faer call over several consecutive blocks gives the same bits as a call per
/// block, for blocks whose shortest side along the split is `shortest`, `other` long across it,
/// with inner dimension `inner`.
///
/// Every block repacks the whole other operand, so a task that makes one call over its blocks
/// saves the repacking (on a 2-core Xeon, `X·Hᵀ` of the faces at k = 50 took 0.93 ms as seven
/// 64-row calls and 0.68 ms as one call per thread). Which blocks a task gets depends on the
/// thread count, so merging is only sound where a call's per-entry summation order does not
/// depend on how many rows or columns it has. On x86-64 with AVX2+FMA or AVX-512, faer 0.24
/// sends every product of more than 16³ multiply-adds whose sides all exceed 1 to
/// private-gemm-x86, which sums each entry along the inner dimension in chunks of
/// `min(inner, 512)` whatever the other sides (the per-block and merged calls agreed to the bit
/// on every shape tried; `tests/determinism.rs` and the unit test
/// `matmul_bits_ignore_the_thread_count` guard it).
/// Elsewhere (faer's `gemm` crate, nano-gemm, its matrix-vector paths) the order has not been
/// checked, so blocks stay separate calls there.
fn blocks_merge(shortest: usize, other: usize, inner: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let simd = std::arch::is_x86_feature_detected!("avx512f")
            || (std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma"));
        simd && shortest > 1
            && other > 1
            && inner > 1
            && shortest.saturating_mul(other).saturating_mul(inner) > 16 * 16 * 16
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (shortest, other, inner);
        false
    }
}

impl<T: Float> Product<'_, T> {
    /// Blocks `b0..b1` into `dst` (which starts at block `b0`), on `groups` tasks: halves
    /// through `rayon::join` until one group is left, which runs its blocks in order.
    fn run(&self, dst: MatMut<'_, T>, b0: usize, b1: usize, groups: usize) {
        if groups <= 1 {
            if self.merge {
                let start = b0 * self.len;
                let (a, bb) = if self.by_rows {
                    (self.lhs.subrows(start, dst.nrows()), self.rhs)
                } else {
                    (self.lhs, self.rhs.subcols(start, dst.ncols()))
                };
                faer::linalg::matmul::matmul(dst, self.accum, a, bb, self.alpha, Par::Seq);
                return;
            }
            let mut rest = dst;
            for b in b0..b1 {
                let start = b * self.len;
                let (block, tail, a, bb);
                if self.by_rows {
                    let rows = self.len.min(rest.nrows());
                    (block, tail) = rest.split_at_row_mut(rows);
                    (a, bb) = (self.lhs.subrows(start, rows), self.rhs);
                } else {
                    let cols = self.len.min(rest.ncols());
                    (block, tail) = rest.split_at_col_mut(cols);
                    (a, bb) = (self.lhs, self.rhs.subcols(start, cols));
                }
                faer::linalg::matmul::matmul(block, self.accum, a, bb, self.alpha, Par::Seq);
                rest = tail;
            }
            return;
        }
        let half = groups / 2;
        let mid = b0 + (b1 - b0) * half / groups;
        let at = (mid - b0) * self.len;
        let (left, right) = if self.by_rows {
            dst.split_at_row_mut(at)
        } else {
            dst.split_at_col_mut(at)
        };
        rayon::join(
            || self.run(left, b0, mid, half),
            || self.run(right, mid, b1, groups - half),
        );
    }
}

/// The lower triangle (diagonal included) of `dst = a·aᵀ` (`Accum::Replace`) or
/// `dst += a·aᵀ` (`Accum::Add`), in about half the multiplications of [`matmul`]; entries above
/// the diagonal are not touched. Same bits whatever `par` says.
///
/// `dst` is cut into fixed block columns of [`partition::matmul_block_len`]`(p)` (a function of
/// the shape only): each is a sequential triangular product on its diagonal block and one
/// sequential faer product below it, and `par` only decides how many block columns run at
/// once (split by their work, which shrinks down the triangle). Nothing is allocated here.
///
/// # Errors
/// `dst` is not `a.nrows()` square.
pub fn syrk_lower_into<T: Float>(
    dst: MatMut<'_, T>,
    accum: Accum,
    a: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    let p = a.nrows();
    dst_shape(&dst, p, p)?;
    if p == 0 {
        return Ok(());
    }
    let len = if partition::matmul_is_single(p, p, a.ncols()) {
        p
    } else {
        partition::matmul_block_len(p)
    };
    let blocks = p.div_ceil(len);
    let s = Syrk { accum, a, len };
    s.run(dst, 0, blocks, par.degree().clamp(1, blocks));
    Ok(())
}

/// Copies the lower triangle of a square `dst` onto its upper triangle (after
/// [`syrk_lower_into`]: the result is then exactly symmetric).
pub fn mirror_lower<T: Float>(mut dst: MatMut<'_, T>) {
    let p = dst.nrows().min(dst.ncols());
    for j in 1..p {
        for i in 0..j {
            dst[(i, j)] = dst[(j, i)];
        }
    }
}

/// The operands of one [`syrk_lower_into`], cut into block columns of `len`.
struct Syrk<'a, T> {
    accum: Accum,
    a: MatRef<'a, T>,
    len: usize,
}

impl<T: Float> Syrk<'_, T> {
    /// Multiply-adds of block column `b` per column of `a`: the rectangle below its diagonal
    /// block and half of that block.
    fn work(&self, b: usize) -> usize {
        let start = b * self.len;
        let w = self.len.min(self.a.nrows() - start);
        (self.a.nrows() - start - w) * w + w * (w + 1) / 2
    }

    /// Block columns `b0..b1` into `dst` (the full height; its first column is block `b0`'s).
    fn run(&self, dst: MatMut<'_, T>, b0: usize, b1: usize, groups: usize) {
        use faer::linalg::matmul::triangular::{BlockStructure, matmul as tri};
        if groups <= 1 || b1 - b0 <= 1 {
            let mut rest = dst;
            for b in b0..b1 {
                let start = b * self.len;
                let w = self.len.min(rest.ncols());
                let (block, tail) = rest.split_at_col_mut(w);
                let height = block.nrows() - start;
                let (diag, below) = block.subrows_mut(start, height).split_at_row_mut(w);
                let top = self.a.subrows(start, w);
                tri(
                    diag,
                    BlockStructure::TriangularLower,
                    self.accum,
                    top,
                    BlockStructure::Rectangular,
                    top.transpose(),
                    BlockStructure::Rectangular,
                    T::ONE,
                    Par::Seq,
                );
                let low = self.a.subrows(start + w, self.a.nrows() - start - w);
                faer::linalg::matmul::matmul(
                    below,
                    self.accum,
                    low,
                    top.transpose(),
                    T::ONE,
                    Par::Seq,
                );
                rest = tail;
            }
            return;
        }
        let total: usize = (b0..b1).map(|b| self.work(b)).sum();
        let half = groups / 2;
        let want = total * half / groups;
        // The first block columns whose work is nearest `want` (at least one, not all).
        let (mut mid, mut acc) = (b0 + 1, self.work(b0));
        while mid + 1 < b1 && (acc + self.work(mid)).abs_diff(want) < acc.abs_diff(want) {
            acc += self.work(mid);
            mid += 1;
        }
        let (left, right) = dst.split_at_col_mut((mid - b0) * self.len);
        rayon::join(
            || self.run(left, b0, mid, half),
            || self.run(right, mid, b1, groups - half),
        );
    }
}

/// `dst = aᵀ·a` (e.g. `WᵀW`, k x k from an n x k factor): [`syrk_lower_into`] then
/// [`mirror_lower`], half the multiply-adds of a full product and exactly symmetric.
pub fn gram_cols_into<T: Float>(
    dst: MatMut<'_, T>,
    a: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    gram_rows_into(dst, a.transpose(), par)
}

/// `dst = a·aᵀ` (e.g. `HHᵀ`, k x k from a k x m factor), as [`gram_cols_into`].
pub fn gram_rows_into<T: Float>(
    mut dst: MatMut<'_, T>,
    a: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    syrk_lower_into(dst.as_mut(), Accum::Replace, a, par)?;
    mirror_lower(dst);
    Ok(())
}

/// `dst = X·Hᵀ` (n x k).
pub fn xht_into<T: Float>(
    dst: MatMut<'_, T>,
    x: MatRef<'_, T>,
    h: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    inner_dim("H", x.ncols(), h.ncols())?;
    dst_shape(&dst, x.nrows(), h.nrows())?;
    matmul(dst, Accum::Replace, x, h.transpose(), T::ONE, par)?;
    Ok(())
}

/// `dst = Wᵀ·X` (k x m).
pub fn wtx_into<T: Float>(
    dst: MatMut<'_, T>,
    w: MatRef<'_, T>,
    x: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    inner_dim("W", x.nrows(), w.nrows())?;
    dst_shape(&dst, w.ncols(), x.ncols())?;
    matmul(dst, Accum::Replace, w.transpose(), x, T::ONE, par)?;
    Ok(())
}

/// Fewest rows of X for [`xt_b_into`]: shorter columns leave too few multiply-adds per dot
/// product to pay for its horizontal sums (at 64 rows faer is faster, docs/performance.md).
pub const XT_B_MIN_ROWS: usize = 256;

/// Most columns of B for [`xt_b_into`]: from 13 its passes over B lose to faer's panels.
pub const XT_B_MAX_K: usize = 10;

/// The vector width [`xt_b_into`] runs at. AVX-512 only: the AVX2 kernel is built and tested,
/// but it has not been timed against faer on an AVX2 CPU (on Zen 5 it is slower than faer's
/// AVX-512 GEMM, which says nothing about faer's AVX2 one). `cargo bench --bench kernels --
/// small-k` compares them; on AVX2 hardware that measurement decides whether it joins.
pub const XT_B_WIDTH: crate::simd::DotsWidth = crate::simd::DotsWidth::Avx512;

/// Whether [`xt_b_into`] computes `Xᵀ·B` (or `Bᵀ·X`) for these operands rather than declining:
/// 2 to [`XT_B_MAX_K`] columns in B, at least [`XT_B_MIN_ROWS`] rows, a column of X, and
/// [`XT_B_WIDTH`] on this CPU with strides it takes. A caller that plans around the kernel
/// (cd's fused H update) asks this first.
pub fn xt_b_applies<T: Float>(x: MatRef<'_, T>, b: MatRef<'_, T>) -> bool {
    let k = b.ncols();
    // k = 1 is a matrix-vector product, which faer streams as fast.
    let in_range = (2..=XT_B_MAX_K).contains(&k)
        && x.nrows() >= XT_B_MIN_ROWS
        && x.nrows() == b.nrows()
        && x.ncols() > 0;
    in_range && XT_B_WIDTH.supported() && crate::simd::col_dots_applies(x, b)
}

/// `dst = Xᵀ·B` (m x k, `transposed == false`) or `dst = Bᵀ·X` (k x m, `transposed == true`)
/// for a column-major X (n x m) and a B (n x k) with 2 to [`XT_B_MAX_K`] columns and at least
/// [`XT_B_MIN_ROWS`] rows, through [`simd::col_dots_at`](crate::simd::col_dots_at) at
/// [`XT_B_WIDTH`]: X is read once and never packed. Returns `Ok(false)`, having written
/// nothing, outside that range or where the kernel does not run (no AVX-512, other strides);
/// the caller then takes [`matmul`].
///
/// X's columns are cut into fixed blocks of [`partition::matmul_block_len`]`(m)` (a function
/// of the shape only) and `par` only decides how many run at once: the same bits whatever it
/// says.
///
/// # Errors
/// The shapes do not agree.
pub fn xt_b_into<T: Float>(
    mut dst: MatMut<'_, T>,
    transposed: bool,
    x: MatRef<'_, T>,
    b: MatRef<'_, T>,
    par: Par,
) -> Result<bool, CoreError> {
    inner_dim("B", x.nrows(), b.nrows())?;
    let (m, k) = (x.ncols(), b.ncols());
    if transposed {
        dst_shape(&dst, k, m)?;
    } else {
        dst_shape(&dst, m, k)?;
    }
    if !xt_b_applies(x, b) {
        return Ok(false);
    }
    dst.fill(T::ZERO);
    let view = if transposed { dst.transpose_mut() } else { dst };
    let len = partition::matmul_block_len(m);
    let blocks = m.div_ceil(len);
    col_blocks(view, x, b, len, 0, blocks, par.degree().clamp(1, blocks));
    Ok(true)
}

/// Blocks `b0..b1` of X's columns into `dst` (m x k, starting at block `b0`), on `groups` tasks.
fn col_blocks<T: Float>(
    mut dst: MatMut<'_, T>,
    x: MatRef<'_, T>,
    b: MatRef<'_, T>,
    len: usize,
    b0: usize,
    b1: usize,
    groups: usize,
) {
    if groups <= 1 {
        let start = b0 * len;
        let cols = x.ncols().min(b1 * len) - start;
        let xb = x.subcols(start, cols);
        let ran = crate::simd::col_dots_at(XT_B_WIDTH, xb, b, |j, c, v| dst[(j, c)] += v);
        // `xt_b_into` tested that it applies; a decline here would leave zeros behind.
        assert!(
            ran,
            "col_dots declined a block after xt_b_into accepted the product"
        );
        return;
    }
    let half = groups / 2;
    let mid = b0 + (b1 - b0) * half / groups;
    let (left, right) = dst.split_at_row_mut((mid - b0) * len);
    rayon::join(
        || col_blocks(left, x, b, len, b0, mid, half),
        || col_blocks(right, x, b, len, mid, b1, groups - half),
    );
}

/// `dst = W·H` (n x m).
pub fn wh_into<T: Float>(
    dst: MatMut<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    inner_dim("H", w.ncols(), h.nrows())?;
    dst_shape(&dst, w.nrows(), h.ncols())?;
    matmul(dst, Accum::Replace, w, h, T::ONE, par)?;
    Ok(())
}

/// `Σ_i f(a_i)` over a slice in eight interleaved f64 sums (one serial chain would bound the
/// loop at the add latency), then the lanes in a fixed order.
#[inline(always)]
fn lane_sum<T: Float>(a: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = a.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            acc[i] += f(c[i]);
        }
    }
    let mut tail = 0.0f64;
    for &v in chunks.remainder() {
        tail += f(v);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// [`lane_sum`] over two slices of equal length, of `f(a_i, b_i)`.
#[inline(always)]
fn lane_sum2<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] += f(x[i], y[i]);
        }
    }
    let mut tail = 0.0f64;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += f(x, y);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// A row-major view as its column-major transpose (for reductions that ignore orientation, so
/// their loops run over contiguous memory; e.g. cd's H is a view of its stored Hᵀ).
#[inline(always)]
fn upright<T: Float>(a: MatRef<'_, T>) -> MatRef<'_, T> {
    if a.row_stride() != 1 && a.col_stride() == 1 {
        a.transpose()
    } else {
        a
    }
}

/// Column `j` as a slice when the view has unit row stride.
#[inline(always)]
fn col<'a, T: Float>(a: MatRef<'a, T>, j: usize) -> Option<&'a [T]> {
    a.col(j).try_as_col_major().map(|c| c.as_slice())
}

crate::multiversion! {
    /// `Σ_ij a_ij·b_ij` for same-shape views, accumulated in f64.
    fn inner_unchecked<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
        let (a, b) = if a.row_stride() != 1 && b.row_stride() != 1 {
            (a.transpose(), b.transpose())
        } else {
            (a, b)
        };
        let mut s = 0.0f64;
        for j in 0..a.ncols() {
            s += match (col(a, j), col(b, j)) {
                (Some(x), Some(y)) => lane_sum2(x, y, |u, v| u.to_f64() * v.to_f64()),
                _ => (0..a.nrows()).map(|i| a[(i, j)].to_f64() * b[(i, j)].to_f64()).sum(),
            };
        }
        s
    }
}

crate::multiversion! {
    /// `Σ_ij f(a_ij)` with f = square (`square`) or identity, accumulated in f64.
    fn sum_map<T: Float>(a: MatRef<'_, T>, square: bool) -> f64 {
        let a = upright(a);
        let mut s = 0.0f64;
        for j in 0..a.ncols() {
            s += match (col(a, j), square) {
                (Some(x), true) => lane_sum(x, |v| v.to_f64() * v.to_f64()),
                (Some(x), false) => lane_sum(x, |v| v.to_f64()),
                (None, _) => (0..a.nrows())
                    .map(|i| {
                        let v = a[(i, j)].to_f64();
                        if square { v * v } else { v }
                    })
                    .sum(),
            };
        }
        s
    }
}

crate::multiversion! {
    /// Whether every entry is finite and (with `nonneg`) `>= 0`; one vectorised pass without
    /// early exit per column (the error paths then search for the first offender).
    fn all_finite_nonneg<T: Float>(a: MatRef<'_, T>, nonneg: bool) -> bool {
        let a = upright(a);
        for j in 0..a.ncols() {
            let ok = match col(a, j) {
                Some(x) if nonneg => x.iter().fold(true, |ok, &v| ok & (v.is_finite() & (v >= T::ZERO))),
                Some(x) => x.iter().fold(true, |ok, &v| ok & v.is_finite()),
                None => (0..a.nrows()).all(|i| {
                    let v = a[(i, j)];
                    v.is_finite() && (!nonneg || v >= T::ZERO)
                }),
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Whether every entry of `a` is finite.
pub fn all_finite<T: Float>(a: MatRef<'_, T>) -> bool {
    all_finite_nonneg(a, false)
}

/// Whether every entry of `a` is finite and nonnegative (the fast path of data validation).
pub fn all_finite_and_nonneg<T: Float>(a: MatRef<'_, T>) -> bool {
    all_finite_nonneg(a, true)
}

/// `Σ_ij a_ij·b_ij`, accumulated in f64.
pub fn frobenius_inner<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> Result<f64, CoreError> {
    crate::check::ensure_shape("second operand", b, a.nrows(), a.ncols())?;
    Ok(inner_unchecked(a, b))
}

/// `‖a‖²_F`, accumulated in f64.
pub fn squared_norm<T: Float>(a: MatRef<'_, T>) -> f64 {
    sum_map(a, true)
}

/// Sum of all entries, accumulated in f64.
pub fn sum<T: Float>(a: MatRef<'_, T>) -> f64 {
    sum_map(a, false)
}

/// `½‖X − WH‖²_F` from products the solvers already hold, without forming `WH`:
/// `½(‖X‖² − 2⟨XHᵀ, W⟩ + ⟨WᵀW, HHᵀ⟩)`, clamped at 0 (cancellation can make it slightly negative).
///
/// Exact in exact arithmetic; in floating point its absolute error is about
/// `eps·‖X‖²`, so near a perfect fit prefer [`crate::loss::beta_divergence`], which detects
/// that regime and evaluates directly.
pub fn frobenius_from_grams<T: Float>(
    x_sqnorm: f64,
    xht: MatRef<'_, T>,
    w: MatRef<'_, T>,
    wtw: MatRef<'_, T>,
    hht: MatRef<'_, T>,
) -> Result<f64, CoreError> {
    let cross = frobenius_inner(xht, w)?;
    let quad = frobenius_inner(wtw, hht)?;
    Ok((0.5 * (x_sqnorm - 2.0 * cross + quad)).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Mat, mat};

    #[test]
    fn reductions_match_naive_sums_on_contiguous_and_strided_views() {
        let a = Mat::<f32>::from_fn(37, 11, |i, j| ((i * 31 + j * 17) % 23) as f32 / 7.0);
        let b = Mat::<f32>::from_fn(37, 11, |i, j| ((i * 13 + j * 29) % 19) as f32 / 5.0);
        let bt = b.transpose().to_owned();
        // Contiguous, both row-major (transposed back), and mixed (the strided fallback).
        for (x, y) in [
            (a.as_ref(), b.as_ref()),
            (a.transpose(), b.transpose()),
            (a.transpose(), bt.as_ref()),
        ] {
            let (mut s, mut sq, mut ip) = (0.0f64, 0.0f64, 0.0f64);
            for j in 0..x.ncols() {
                for i in 0..x.nrows() {
                    let (u, v) = (x[(i, j)] as f64, y[(i, j)] as f64);
                    s += u;
                    sq += u * u;
                    ip += u * v;
                }
            }
            assert!((sum(x) - s).abs() <= 1e-12 * s);
            assert!((squared_norm(x) - sq).abs() <= 1e-12 * sq);
            assert!((frobenius_inner(x, y).unwrap() - ip).abs() <= 1e-12 * ip);
            assert!(all_finite(x) && all_finite_and_nonneg(x));
        }
        for (i, j, v) in [(0, 0, f32::NAN), (36, 10, f32::INFINITY), (35, 3, -1.0)] {
            let mut c = a.clone();
            c[(i, j)] = v;
            assert!(!all_finite_and_nonneg(c.as_ref()), "({i}, {j}) = {v}");
            assert!(
                !all_finite_and_nonneg(c.transpose()),
                "({i}, {j}) = {v}, transposed"
            );
            assert_eq!(all_finite(c.as_ref()), v.is_finite());
        }
    }

    #[test]
    fn products_match_definitions() {
        let w = mat![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0f64]];
        let h = mat![[1.0, 0.0, 2.0], [0.5, 1.0, 0.0f64]];
        let x = mat![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0f64]];
        let mut g = Mat::zeros(2, 2);
        gram_cols_into(g.as_mut(), w.as_ref(), Par::Seq).unwrap();
        assert_eq!(g, mat![[35.0, 44.0], [44.0, 56.0]]);
        gram_rows_into(g.as_mut(), h.as_ref(), Par::Seq).unwrap();
        assert_eq!(g, mat![[5.0, 0.5], [0.5, 1.25]]);
        let mut xht = Mat::zeros(3, 2);
        xht_into(xht.as_mut(), x.as_ref(), h.as_ref(), Par::Seq).unwrap();
        assert_eq!(xht, mat![[7.0, 2.5], [16.0, 7.0], [25.0, 11.5]]);
        let mut wtx = Mat::zeros(2, 3);
        wtx_into(wtx.as_mut(), w.as_ref(), x.as_ref(), Par::Seq).unwrap();
        assert_eq!(wtx, w.transpose() * &x);
        let mut wh = Mat::zeros(3, 3);
        wh_into(wh.as_mut(), w.as_ref(), h.as_ref(), Par::Seq).unwrap();
        assert_eq!(wh, &w * &h);
    }

    /// The Grams are exactly symmetric, agree with the full product to rounding and keep their
    /// bits on any number of threads, at a k large enough to be cut into parallel blocks.
    #[test]
    fn grams_are_symmetric_syrks() {
        let (k, m) = (70, 900);
        let h = Mat::<f64>::from_fn(k, m, |i, j| ((i * 31 + j * 17) % 23) as f64 / 23.0);
        let full = &h * h.transpose();
        let mut seq = Mat::zeros(k, k);
        gram_rows_into(seq.as_mut(), h.as_ref(), Par::Seq).unwrap();
        let mut par = Mat::zeros(k, k);
        gram_rows_into(par.as_mut(), h.as_ref(), Par::rayon(2)).unwrap();
        let mut cols = Mat::zeros(k, k);
        gram_cols_into(cols.as_mut(), h.transpose(), Par::rayon(3)).unwrap();
        for i in 0..k {
            for j in 0..k {
                assert_eq!(seq[(i, j)].to_bits(), seq[(j, i)].to_bits(), "({i}, {j})");
                assert_eq!(seq[(i, j)].to_bits(), par[(i, j)].to_bits(), "({i}, {j})");
                assert_eq!(seq[(i, j)].to_bits(), cols[(i, j)].to_bits(), "({i}, {j})");
                let tol = 1e-13 * full[(i, i)].max(full[(j, j)]);
                assert!((seq[(i, j)] - full[(i, j)]).abs() <= tol, "({i}, {j})");
            }
        }
    }

    #[test]
    fn shape_errors_not_panics() {
        let w = Mat::<f32>::zeros(3, 2);
        let mut bad = Mat::<f32>::zeros(3, 3);
        assert!(gram_cols_into(bad.as_mut(), w.as_ref(), Par::Seq).is_err());
        let h = Mat::<f32>::zeros(2, 4);
        let x = Mat::<f32>::zeros(3, 5);
        let mut d = Mat::<f32>::zeros(3, 2);
        assert!(xht_into(d.as_mut(), x.as_ref(), h.as_ref(), Par::Seq).is_err());
        assert!(frobenius_inner(w.as_ref(), h.as_ref()).is_err());
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn split_matmul_matches_one_call() {
        for &(r, s, c) in &[
            (400, 4096, 20),
            (20, 400, 4096),
            (60, 4096, 400),
            (300, 300, 300),
        ] {
            let a = Mat::<f64>::from_fn(r, s, |i, j| ((i * 7 + j * 13) % 17) as f64 / 17.0);
            let b = Mat::<f64>::from_fn(s, c, |i, j| ((i * 5 + j * 3) % 11) as f64 / 11.0);
            let want = &a * &b;
            for par in [Par::Seq, Par::rayon(2)] {
                let mut d = Mat::<f64>::zeros(r, c);
                matmul(d.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par).unwrap();
                assert!(
                    (&d - &want).norm_max() <= 1e-9 * want.norm_max(),
                    "{r}x{s}x{c}"
                );
                matmul(d.as_mut(), Accum::Add, a.as_ref(), b.as_ref(), -2.0, par).unwrap();
                assert!(
                    (&d + &want).norm_max() <= 1e-9 * want.norm_max(),
                    "{r}x{s}x{c} add"
                );
                let mut dt = Mat::<f64>::zeros(c, r);
                matmul(
                    dt.as_mut(),
                    Accum::Replace,
                    b.transpose(),
                    a.transpose(),
                    1.0,
                    par,
                )
                .unwrap();
                assert!((dt.transpose() - &want).norm_max() <= 1e-9 * want.norm_max());
            }
        }
    }

    /// `matmul` merges a task's consecutive blocks into one faer call where
    /// [`blocks_merge`] says the bits cannot move; check that they do not: the same bits as one
    /// faer call per fixed block, on every thread count (row and column splits, both types,
    /// inner dimensions below and above faer's 512-long chunks, both kernels faer picks for f64
    /// on AVX-512, transposed operands, a short last block, accumulation).
    #[test]
    fn matmul_bits_ignore_the_thread_count() {
        fn check<T: Float>(r: usize, s: usize, c: usize, transposed: bool) {
            let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (r * 31 + s * 7 + c) as u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                T::from_f64((state >> 11) as f64 / (1u64 << 53) as f64)
            };
            let a0 = Mat::<T>::from_fn(r, s, |_, _| next());
            let at = Mat::<T>::from_fn(s, r, |i, j| a0[(j, i)]);
            let a = if transposed {
                at.transpose()
            } else {
                a0.as_ref()
            };
            let b = Mat::<T>::from_fn(s, c, |_, _| next());
            let start = Mat::<T>::from_fn(r, c, |_, _| next());
            let alpha = T::from_f64(-0.75);
            // The reference: one sequential faer call per fixed block, as before merging.
            let mut want = start.clone();
            if partition::matmul_is_single(r, c, s) {
                faer::linalg::matmul::matmul(
                    want.as_mut(),
                    Accum::Add,
                    a,
                    b.as_ref(),
                    alpha,
                    Par::Seq,
                );
            } else {
                let by_rows = r >= c;
                let bounds = partition::matmul_blocks(if by_rows { r } else { c });
                for w in bounds.windows(2) {
                    let (lo, n) = (w[0], w[1] - w[0]);
                    if by_rows {
                        faer::linalg::matmul::matmul(
                            want.as_mut().subrows_mut(lo, n),
                            Accum::Add,
                            a.subrows(lo, n),
                            b.as_ref(),
                            alpha,
                            Par::Seq,
                        );
                    } else {
                        faer::linalg::matmul::matmul(
                            want.as_mut().subcols_mut(lo, n),
                            Accum::Add,
                            a,
                            b.subcols(lo, n),
                            alpha,
                            Par::Seq,
                        );
                    }
                }
            }
            for par in [
                Par::Seq,
                Par::rayon(2),
                Par::rayon(3),
                Par::rayon(5),
                Par::rayon(8),
            ] {
                let mut d = start.clone();
                matmul(d.as_mut(), Accum::Add, a, b.as_ref(), alpha, par).unwrap();
                for j in 0..c {
                    for i in 0..r {
                        assert!(
                            d[(i, j)].to_f64().to_bits() == want[(i, j)].to_f64().to_bits(),
                            "{r}x{s}x{c} transposed {transposed} {par:?} at ({i}, {j})"
                        );
                    }
                }
            }
        }
        for &(r, s, c) in &[
            (400, 4096, 50),
            (400, 4096, 10),
            (400, 4096, 200),
            (50, 400, 4096),
            (4096, 400, 50),
            (1000, 3000, 7),
            (333, 777, 200),
            (401, 300, 40),
            (385, 2000, 3),
            (97, 5000, 96),
            (20, 400, 4096),
        ] {
            for transposed in [false, true] {
                check::<f32>(r, s, c, transposed);
                check::<f64>(r, s, c, transposed);
            }
        }
    }

    #[test]
    fn syrk_matches_the_full_product_and_ignores_the_thread_count() {
        // One block (small), several uneven blocks (p = 400: blocks of 64, the last 16 wide),
        // a strided (transposed) operand, f32 and f64, and accumulation onto a symmetric start.
        fn check<T: Float>(p: usize, q: usize, transposed: bool) {
            let base = Mat::<T>::from_fn(
                if transposed { q } else { p },
                if transposed { p } else { q },
                |i, j| T::from_f64(((i * 37 + j * 11) % 29) as f64 / 13.0),
            );
            let a = if transposed {
                base.transpose()
            } else {
                base.as_ref()
            };
            let mut full = Mat::<T>::zeros(p, p);
            faer::linalg::matmul::matmul(
                full.as_mut(),
                Accum::Replace,
                a,
                a.transpose(),
                T::ONE,
                Par::Seq,
            );
            let mut seq = Mat::<T>::from_fn(p, p, |_, _| T::from_f64(7.0));
            syrk_lower_into(seq.as_mut(), Accum::Replace, a, Par::Seq).unwrap();
            let tol = T::EPSILON.to_f64() * 64.0 * q as f64;
            for j in 0..p {
                for i in 0..p {
                    let (got, want) = (seq[(i, j)].to_f64(), full[(i, j)].to_f64());
                    if i >= j {
                        assert!(
                            (got - want).abs() <= tol * want.abs().max(1.0),
                            "{p}x{q} ({i}, {j}): {got} vs {want}"
                        );
                    } else {
                        assert_eq!(got, 7.0, "above the diagonal is not touched");
                    }
                }
            }
            mirror_lower(seq.as_mut());
            assert_eq!(
                seq,
                seq.transpose().to_owned(),
                "exactly symmetric after mirroring"
            );
            for threads in [2, 3] {
                let mut par = Mat::<T>::from_fn(p, p, |_, _| T::from_f64(7.0));
                syrk_lower_into(par.as_mut(), Accum::Replace, a, Par::rayon(threads)).unwrap();
                for j in 1..p {
                    for i in 0..j {
                        assert_eq!(
                            par[(i, j)].to_f64(),
                            7.0,
                            "{threads} threads wrote above the diagonal"
                        );
                    }
                }
                mirror_lower(par.as_mut());
                assert_eq!(par, seq, "{p}x{q}, {threads} threads");
            }
            // Add onto the symmetric result: twice the product.
            syrk_lower_into(seq.as_mut(), Accum::Add, a, Par::rayon(2)).unwrap();
            mirror_lower(seq.as_mut());
            for j in 0..p {
                for i in 0..p {
                    let want = 2.0 * full[(i, j)].to_f64();
                    assert!((seq[(i, j)].to_f64() - want).abs() <= 2.0 * tol * want.abs().max(1.0));
                }
            }
        }
        for (p, q, t) in [
            (5, 7, false),
            (400, 300, false),
            (130, 257, true),
            (0, 3, false),
        ] {
            check::<f64>(p, q, t);
            check::<f32>(p, q, t);
        }
        let mut wrong = Mat::<f64>::zeros(3, 4);
        assert!(
            syrk_lower_into(
                wrong.as_mut(),
                Accum::Replace,
                Mat::<f64>::zeros(3, 2).as_ref(),
                Par::Seq
            )
            .is_err()
        );
    }
}
