//! Dense products shared by the solvers, with explicit parallelism.
//!
//! Every kernel writes into a caller-provided destination (`_into`), takes `faer::Par`
//! explicitly (never faer's global setting) and checks shapes, returning an error rather than
//! panicking. Reductions to scalars accumulate in `f64` whatever the matrix type.
//!
//! All products go through [`matmul`], whose results do not depend on the number of threads.

use faer::{Accum, MatMut, MatRef, Par};

use crate::error::CoreError;
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

/// Products with fewer multiply-adds than this run as one sequential call (parallel tasks
/// cost more than they save there; measured in LIMITS.md: faer's k x k products lose half their
/// speed on two threads).
const SPLIT_MIN_MACS: usize = 2_000_000;

/// Output rows or columns per task of [`matmul`], from the shape alone.
fn block_len(dim: usize) -> usize {
    dim.div_ceil(8).next_multiple_of(16).clamp(16, 256)
}

/// `dst = alpha·lhs·rhs` (`Accum::Replace`) or `dst += alpha·lhs·rhs` (`Accum::Add`), with the
/// same bits whatever `par` says.
///
/// faer's parallel GEMM may split the reduction differently with the thread count, so
/// results moved with it in the last bits (seen on the faces: 1e-4 relative after ten `cd`
/// iterations). Here the output is cut into fixed blocks along its longer side (block size a
/// function of the shape only), each block is one sequential faer product, and `par` only decides
/// how many of the blocks run at once. Each output entry is therefore always summed in the same
/// order.
///
/// # Panics
/// If the shapes do not agree (`lhs` r x s, `rhs` s x c, `dst` r x c), as faer does; the
/// checked entry points are the `*_into` kernels.
pub fn matmul<T: Float>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
    par: Par,
) {
    assert!(
        dst.nrows() == lhs.nrows() && dst.ncols() == rhs.ncols() && lhs.ncols() == rhs.nrows(),
        "matmul shapes: dst {:?}, lhs {:?}, rhs {:?}",
        dst.shape(),
        lhs.shape(),
        rhs.shape()
    );
    use faer::linalg::matmul::matmul as faer_matmul;
    let (r, c) = dst.shape();
    let macs = r.saturating_mul(c).saturating_mul(lhs.ncols());
    if macs < SPLIT_MIN_MACS || r.max(c) <= 16 {
        faer_matmul(dst, accum, lhs, rhs, alpha, Par::Seq);
        return;
    }
    let by_rows = r >= c;
    let dim = if by_rows { r } else { c };
    let len = block_len(dim);
    let mut tasks = Vec::with_capacity(dim.div_ceil(len));
    let mut rest = dst;
    let mut start = 0;
    while start < dim {
        let b = len.min(dim - start);
        if by_rows {
            let (top, bottom) = rest.split_at_row_mut(b);
            tasks.push((top, lhs.subrows(start, b), rhs));
            rest = bottom;
        } else {
            let (left, right) = rest.split_at_col_mut(b);
            tasks.push((left, lhs, rhs.subcols(start, b)));
            rest = right;
        }
        start += b;
    }
    let run = |(d, a, b): (MatMut<'_, T>, MatRef<'_, T>, MatRef<'_, T>)| {
        faer_matmul(d, accum, a, b, alpha, Par::Seq)
    };
    let threads = par.degree();
    if threads <= 1 {
        tasks.into_iter().for_each(run);
    } else {
        use rayon::prelude::*;
        // At most `threads` pieces (rayon halves a range only while both halves keep this many).
        let min_len = (tasks.len() / threads).max(1);
        tasks.into_par_iter().with_min_len(min_len).for_each(run);
    }
}

/// `dst = aᵀ·a` (e.g. `WᵀW`, k x k from an n x k factor).
pub fn gram_cols_into<T: Float>(
    dst: MatMut<'_, T>,
    a: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    dst_shape(&dst, a.ncols(), a.ncols())?;
    matmul(dst, Accum::Replace, a.transpose(), a, T::ONE, par);
    Ok(())
}

/// `dst = a·aᵀ` (e.g. `HHᵀ`, k x k from a k x m factor).
pub fn gram_rows_into<T: Float>(
    dst: MatMut<'_, T>,
    a: MatRef<'_, T>,
    par: Par,
) -> Result<(), CoreError> {
    dst_shape(&dst, a.nrows(), a.nrows())?;
    matmul(dst, Accum::Replace, a, a.transpose(), T::ONE, par);
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
    matmul(dst, Accum::Replace, x, h.transpose(), T::ONE, par);
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
    matmul(dst, Accum::Replace, w.transpose(), x, T::ONE, par);
    Ok(())
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
    matmul(dst, Accum::Replace, w, h, T::ONE, par);
    Ok(())
}

/// `Σ_ij a_ij·b_ij`, accumulated in f64.
pub fn frobenius_inner<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> Result<f64, CoreError> {
    crate::check::ensure_shape("second operand", b, a.nrows(), a.ncols())?;
    let mut s = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            s += a[(i, j)].to_f64() * b[(i, j)].to_f64();
        }
    }
    Ok(s)
}

/// `‖a‖²_F`, accumulated in f64.
pub fn squared_norm<T: Float>(a: MatRef<'_, T>) -> f64 {
    let mut s = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let v = a[(i, j)].to_f64();
            s += v * v;
        }
    }
    s
}

/// Sum of all entries, accumulated in f64.
pub fn sum<T: Float>(a: MatRef<'_, T>) -> f64 {
    let mut s = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            s += a[(i, j)].to_f64();
        }
    }
    s
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
                matmul(d.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par);
                assert!(
                    (&d - &want).norm_max() <= 1e-9 * want.norm_max(),
                    "{r}x{s}x{c}"
                );
                matmul(d.as_mut(), Accum::Add, a.as_ref(), b.as_ref(), -2.0, par);
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
                );
                assert!((dt.transpose() - &want).norm_max() <= 1e-9 * want.norm_max());
            }
        }
    }
}
