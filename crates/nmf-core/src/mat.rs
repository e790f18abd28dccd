//! Matrices whose column padding is zero.
//!
//! faer rounds a [`Mat`]'s column stride up to 64 bytes (16 f32 or 8 f64 rows) and leaves the
//! rows past `nrows` uninitialised. Its x86 GEMM kernels read an unpacked left operand in
//! whole vectors, padding rows included, and discard those lanes. When the padding holds heap
//! garbage that reads as subnormal floats (a reused allocation that held small integers, say),
//! every multiply-add on those lanes takes a microcode assist on Intel CPUs: a `k x k` Gram
//! times `H` at k = 50 ran 25-40x slower (docs/performance.md), and which run got the slow
//! allocation depended on what the process had freed before. The matrices built here have
//! their padding rows written as zeros once; faer never writes padding, so they stay zero.
//!
//! ```
//! let w = nmf_core::mat::zeros::<f32>(50, 3);
//! assert_eq!(w.shape(), (50, 3));
//! assert_eq!(w.col_stride(), 64); // rows 50..64 of each column are zeros, not garbage
//! let c = nmf_core::mat::copy(w.as_ref());
//! assert_eq!(c.col_stride(), 64);
//! ```

use faer::{Mat, MatRef};

use crate::Float;

/// Rows of padded storage for `nrows` rows: faer's own rounding (a multiple of 64 bytes).
fn padded_rows<T>(nrows: usize) -> usize {
    nrows.next_multiple_of((64 / std::mem::size_of::<T>()).max(1))
}

/// An `nrows x ncols` zero matrix whose column padding is zero too.
pub fn zeros<T: Float>(nrows: usize, ncols: usize) -> Mat<T> {
    // Zeros over the padded row count, then shrunk: `truncate` keeps the allocation and the
    // column stride, so the rows past `nrows` keep the zeros written here.
    let mut m = Mat::zeros(padded_rows::<T>(nrows), ncols);
    m.truncate(nrows, ncols);
    m
}

/// `Mat::from_fn` with zero column padding.
pub fn from_fn<T: Float>(
    nrows: usize,
    ncols: usize,
    mut f: impl FnMut(usize, usize) -> T,
) -> Mat<T> {
    let mut m = Mat::from_fn(padded_rows::<T>(nrows), ncols, |i, j| {
        if i < nrows { f(i, j) } else { T::ZERO }
    });
    m.truncate(nrows, ncols);
    m
}

/// An owned copy of `src` (any layout) with zero column padding.
pub fn copy<T: Float>(src: MatRef<'_, T>) -> Mat<T> {
    let mut m = zeros(src.nrows(), src.ncols());
    m.copy_from(src);
    m
}

/// `f` applied to every entry of `src` (any layout), into a matrix with zero column padding.
pub fn map<S: Copy, T: Float>(src: MatRef<'_, S>, mut f: impl FnMut(S) -> T) -> Mat<T> {
    from_fn(src.nrows(), src.ncols(), |i, j| f(src[(i, j)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_strides_and_values() {
        for n in [0usize, 1, 7, 15, 16, 17, 50, 64] {
            let z = zeros::<f32>(n, 3);
            assert_eq!(z.shape(), (n, 3));
            if n > 0 {
                assert_eq!(z.col_stride() as usize, n.next_multiple_of(16));
            }
            assert!((0..3).all(|j| (0..n).all(|i| z[(i, j)] == 0.0)));
            let f = from_fn::<f64>(n, 2, |i, j| (i * 10 + j) as f64);
            assert_eq!(f.shape(), (n, 2));
            if n > 0 {
                assert_eq!(f.col_stride() as usize, n.next_multiple_of(8));
            }
            let c = copy(f.transpose());
            let g = map(f.as_ref(), |v| v as f32 + 0.5);
            assert_eq!(g.shape(), (n, 2));
            assert!((0..n).all(|i| g[(i, 1)] == (i * 10 + 1) as f32 + 0.5));
            assert_eq!(c.shape(), (2, n));
            assert!((0..n).all(|i| c[(1, i)] == (i * 10 + 1) as f64 && f[(i, 1)] == c[(1, i)]));
        }
    }
}
