//! The one interface through which solvers, losses and initialisations see the data X.
//!
//! [`DataRef`] is a borrowed view of X of some kind: a dense matrix or a sparse one
//! ([`SparseMat`], kept as CSR and CSC); a weighted or masked matrix and a distributed block
//! are further variants to come (the enum is `#[non_exhaustive]`). Solvers never take X apart: they ask for what they need —
//! shape, ‖X‖², sum and maximum, the products `X·B`, `Xᵀ·B`, `Aᵀ·X`, `A·Xᵀ`, `⟨X, WH⟩`, the β-MU
//! elementwise pass on one `(X, WH)` tile — and each kind answers in its own way, so a new
//! kind plugs in here without touching solver code. Every product keeps the workspace's
//! determinism rule (same bits for any thread count).
//!
//! Public entry points take `impl Into<DataRef<'_, T>>`, so `fit(x.as_ref())` and `fit(&x)`
//! both work.

use crate::mat;
use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use crate::check;
use crate::error::CoreError;
use crate::kernels::{self, matmul};
use crate::scalar::{Float, SKLEARN_EPS};
use crate::sparse::{SparseMat, SparseRef};
use crate::sparse_ops::Layout;

/// A borrowed view of the data matrix X (n_samples x n_features).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum DataRef<'a, T> {
    /// A dense matrix (any strides).
    Dense(MatRef<'a, T>),
    /// A sparse matrix: only the stored (nonzero) entries are ever read, and no operation
    /// forms an `n x m` array.
    Sparse(SparseRef<'a, T>),
}

impl<'a, T> From<SparseRef<'a, T>> for DataRef<'a, T> {
    fn from(x: SparseRef<'a, T>) -> Self {
        DataRef::Sparse(x)
    }
}

impl<'a, T> From<&'a SparseMat<T>> for DataRef<'a, T> {
    fn from(x: &'a SparseMat<T>) -> Self {
        DataRef::Sparse(SparseRef::new(x))
    }
}

impl<'a, T> From<MatRef<'a, T>> for DataRef<'a, T> {
    fn from(x: MatRef<'a, T>) -> Self {
        DataRef::Dense(x)
    }
}

impl<'a, T> From<&'a Mat<T>> for DataRef<'a, T> {
    fn from(x: &'a Mat<T>) -> Self {
        DataRef::Dense(x.as_ref())
    }
}

/// An owned data matrix of some kind (what [`DataRef::to_scaled`] and
/// [`DataRef::to_f64_scaled`] return).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Data<T> {
    /// A dense matrix.
    Dense(Mat<T>),
    /// A sparse matrix.
    Sparse(SparseMat<T>),
}

impl<T> Data<T> {
    /// The borrowed view.
    pub fn as_data_ref(&self) -> DataRef<'_, T> {
        match self {
            Data::Dense(x) => DataRef::Dense(x.as_ref()),
            Data::Sparse(x) => DataRef::Sparse(SparseRef::new(x)),
        }
    }
}

fn product_shape(
    what: &'static str,
    dst: (usize, usize),
    want: (usize, usize),
) -> Result<(), CoreError> {
    let (dim, expected, got) = if dst.0 != want.0 {
        ("rows", want.0, dst.0)
    } else {
        ("columns", want.1, dst.1)
    };
    if dst == want {
        return Ok(());
    }
    Err(CoreError::ShapeMismatch {
        what,
        dim,
        expected,
        got,
    })
}

fn inner(what: &'static str, expected: usize, got: usize) -> Result<(), CoreError> {
    if expected == got {
        return Ok(());
    }
    Err(CoreError::ShapeMismatch {
        what,
        dim: "rows/columns on the shared dimension",
        expected,
        got,
    })
}

impl<'a, T: Float> DataRef<'a, T> {
    /// The name of this kind of data, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            DataRef::Dense(_) => "dense",
            DataRef::Sparse(_) => "sparse",
        }
    }

    /// `(n_samples, n_features)`.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            DataRef::Dense(x) => x.shape(),
            DataRef::Sparse(x) => x.shape(),
        }
    }

    /// n_samples.
    pub fn nrows(&self) -> usize {
        self.shape().0
    }

    /// n_features.
    pub fn ncols(&self) -> usize {
        self.shape().1
    }

    /// The dense matrix, if this is one.
    pub fn as_dense(&self) -> Option<MatRef<'a, T>> {
        match *self {
            DataRef::Dense(x) => Some(x),
            DataRef::Sparse(_) => None,
        }
    }

    /// `true` for sparse data (whose kernels touch stored entries only).
    pub fn is_sparse(&self) -> bool {
        matches!(self, DataRef::Sparse(_))
    }

    /// The dense matrix, or a typed [`CoreError::Unsupported`] naming `operation`: dense-only
    /// work on other kinds of data is an error, never a silent conversion.
    pub fn require_dense(&self, operation: &'static str) -> Result<MatRef<'a, T>, CoreError> {
        self.as_dense().ok_or(CoreError::Unsupported {
            operation,
            kind: self.kind(),
        })
    }

    /// The data check of `fit`: not empty, finite, nonnegative (errors name the first bad entry).
    pub fn validate(&self, what: &'static str) -> Result<(), CoreError> {
        match self {
            DataRef::Dense(x) => check::ensure_data(what, *x),
            // Stored values were checked when the matrix was built (finite, nonnegative).
            DataRef::Sparse(x) => {
                let (rows, cols) = x.shape();
                if rows == 0 || cols == 0 {
                    return Err(CoreError::Empty { what, rows, cols });
                }
                Ok(())
            }
        }
    }

    /// For β ≤ 0: no zero entries (the divergence is undefined there).
    pub fn ensure_positive_for_beta(&self, beta: f64) -> Result<(), CoreError> {
        match self {
            DataRef::Dense(x) => check::ensure_positive_for_beta(*x, beta),
            DataRef::Sparse(x) => match x.first_implicit_zero() {
                Some((row, col)) if beta <= 0.0 => {
                    Err(CoreError::ZerosWithNonPositiveBeta { beta, row, col })
                }
                _ => Ok(()),
            },
        }
    }

    /// `‖X‖²_F`, accumulated in f64.
    pub fn squared_norm(&self) -> f64 {
        match self {
            DataRef::Dense(x) => kernels::squared_norm(*x),
            DataRef::Sparse(x) => x.values().iter().map(|&v| v.to_f64() * v.to_f64()).sum(),
        }
    }

    /// `Σ X_ij`, accumulated in f64.
    pub fn sum(&self) -> f64 {
        match self {
            DataRef::Dense(x) => kernels::sum(*x),
            DataRef::Sparse(x) => x.values().iter().map(|&v| v.to_f64()).sum(),
        }
    }

    /// `max X_ij` (0 for an all-zero or empty X: the data are nonnegative).
    pub fn max(&self) -> f64 {
        match self {
            DataRef::Dense(x) => {
                let mut m = 0.0f64;
                x.for_each(|&v| m = m.max(v.to_f64()));
                m
            }
            DataRef::Sparse(x) => x.values().iter().fold(0.0f64, |m, &v| m.max(v.to_f64())),
        }
    }

    /// `dst = X·b` (n x c from b m x c), e.g. `X·Hᵀ` with `b = h.transpose()`.
    pub fn mul_into(
        &self,
        dst: MatMut<'_, T>,
        b: MatRef<'_, T>,
        par: Par,
    ) -> Result<(), CoreError> {
        let (n, m) = self.shape();
        inner("right operand of X·B", m, b.nrows())?;
        product_shape("destination of X·B", dst.shape(), (n, b.ncols()))?;
        match self {
            DataRef::Dense(x) => matmul(dst, Accum::Replace, *x, b, T::ONE, par)?,
            DataRef::Sparse(x) => x.gather(Layout::Rows, dst, b, par),
        }
        Ok(())
    }

    /// `dst = Xᵀ·b` (m x c from b n x c), e.g. `Xᵀ·W`.
    pub fn t_mul_into(
        &self,
        dst: MatMut<'_, T>,
        b: MatRef<'_, T>,
        par: Par,
    ) -> Result<(), CoreError> {
        let (n, m) = self.shape();
        inner("right operand of Xᵀ·B", n, b.nrows())?;
        product_shape("destination of Xᵀ·B", dst.shape(), (m, b.ncols()))?;
        match self {
            DataRef::Dense(x) => {
                let mut dst = dst;
                if !kernels::xt_b_into(dst.rb_mut(), false, *x, b, par)? {
                    matmul(dst, Accum::Replace, x.transpose(), b, T::ONE, par)?;
                }
            }
            DataRef::Sparse(x) => x.gather(Layout::Cols, dst, b, par),
        }
        Ok(())
    }

    /// `dst = aᵀ·X` (c x m from a n x c), e.g. `Wᵀ·X`.
    pub fn lhs_t_mul_into(
        &self,
        dst: MatMut<'_, T>,
        a: MatRef<'_, T>,
        par: Par,
    ) -> Result<(), CoreError> {
        let (n, m) = self.shape();
        inner("left operand of Aᵀ·X", n, a.nrows())?;
        product_shape("destination of Aᵀ·X", dst.shape(), (a.ncols(), m))?;
        match self {
            DataRef::Dense(x) => {
                let mut dst = dst;
                if !kernels::xt_b_into(dst.rb_mut(), true, *x, a, par)? {
                    matmul(dst, Accum::Replace, a.transpose(), *x, T::ONE, par)?;
                }
            }
            DataRef::Sparse(x) => x.gather(Layout::Cols, dst.transpose_mut(), a, par),
        }
        Ok(())
    }

    /// `dst = a·Xᵀ` (c x n from a c x m), e.g. `H·Xᵀ`.
    pub fn lhs_mul_t_into(
        &self,
        dst: MatMut<'_, T>,
        a: MatRef<'_, T>,
        par: Par,
    ) -> Result<(), CoreError> {
        let (n, m) = self.shape();
        inner("left operand of A·Xᵀ", m, a.ncols())?;
        product_shape("destination of A·Xᵀ", dst.shape(), (a.nrows(), n))?;
        match self {
            DataRef::Dense(x) => matmul(dst, Accum::Replace, a, x.transpose(), T::ONE, par)?,
            DataRef::Sparse(x) => x.gather(Layout::Rows, dst.transpose_mut(), a.transpose(), par),
        }
        Ok(())
    }

    /// `⟨X, W·H⟩ = Σ_ij X_ij (WH)_ij`, accumulated in f64, as `⟨X·Hᵀ, W⟩` (nothing of X's size
    /// is formed; `xht` is n x k scratch).
    ///
    /// # Errors
    /// Shapes of `w`, `h` or `xht` that do not fit X.
    pub fn dot_wh(
        &self,
        w: MatRef<'_, T>,
        h: MatRef<'_, T>,
        mut xht: MatMut<'_, T>,
        par: Par,
    ) -> Result<f64, CoreError> {
        check::ensure_shape("W", w, self.nrows(), h.nrows())?;
        self.mul_into(xht.rb_mut(), h.transpose(), par)?;
        kernels::frobenius_inner(xht.rb(), w)
    }

    /// The elementwise pass of a β-MU half-step on one tile: rows `r0..`, columns `c0..` of X,
    /// the size of `wh`, which holds `WH` on that tile.
    ///
    /// Fills `fx` with `X ⊙ Λs^(β−2)` and, unless β = 1, overwrites `wh` with `Λd^(β−1)`,
    /// where Λs (Λd) is `WH` clipped at scikit-learn's EPS for β < 2 (β < 1).
    ///
    /// # Errors
    /// The tile lies outside X, or `fx` and `wh` differ in shape.
    pub fn mu_tile(
        &self,
        r0: usize,
        c0: usize,
        wh: MatMut<'_, T>,
        fx: MatMut<'_, T>,
        beta: f64,
    ) -> Result<(), CoreError> {
        let (r, c) = wh.shape();
        product_shape("X ⊙ WH tile", fx.shape(), (r, c))?;
        let (n, m) = self.shape();
        if r0 + r > n || c0 + c > m {
            return Err(CoreError::ShapeMismatch {
                what: "WH tile",
                dim: if r0 + r > n { "rows" } else { "columns" },
                expected: if r0 + r > n {
                    n - r0.min(n)
                } else {
                    m - c0.min(m)
                },
                got: if r0 + r > n { r } else { c },
            });
        }
        match self {
            DataRef::Dense(x) => mu_elementwise(x.submatrix(r0, c0, r, c), wh, fx, beta),
            DataRef::Sparse(x) => x.mu_tile(r0, c0, wh, fx, beta),
        }
        Ok(())
    }

    /// X divided by `scale`, in its own precision (the f64 quotient rounded to `T`: for f32
    /// data and a scale that is an f32 value, such as the data's maximum, that is the exact
    /// quotient correctly rounded), for solvers that rescale the data (Hoyer's works on
    /// `X / max(X)`).
    pub fn to_scaled(&self, scale: f64) -> Data<T> {
        match self {
            DataRef::Dense(x) => Data::Dense(mat::from_fn(x.nrows(), x.ncols(), |i, j| {
                T::from_f64(x[(i, j)].to_f64() / scale)
            })),
            DataRef::Sparse(x) => {
                Data::Sparse(x.mat().map_values(|v| T::from_f64(v.to_f64() / scale)))
            }
        }
    }

    /// X converted to f64 and divided by `scale` (Hoyer's `transform` works in f64).
    pub fn to_f64_scaled(&self, scale: f64) -> Data<f64> {
        match self {
            DataRef::Dense(x) => Data::Dense(mat::from_fn(x.nrows(), x.ncols(), |i, j| {
                x[(i, j)].to_f64() / scale
            })),
            DataRef::Sparse(x) => Data::Sparse(x.mat().map_values(|v| v.to_f64() / scale)),
        }
    }

    /// The numerator of a β-MU half-step on W from the stored entries alone, for sparse data:
    /// `dst = (X ⊙ Λs^(β−2))·Hᵀ` (n x k) with Λ = WH evaluated only where X stores a value and
    /// clipped at EPS for β < 2. Implicit zeros contribute nothing to it, so for sparse X this
    /// costs `O(z·k)` instead of the dense tiles' `O(n·m·k)`.
    ///
    /// # Errors
    /// Dense data ([`CoreError::Unsupported`]: use [`DataRef::mu_tile`]), or shapes that do
    /// not fit X.
    pub fn mu_numerator_w(
        &self,
        dst: MatMut<'_, T>,
        w: MatRef<'_, T>,
        h: MatRef<'_, T>,
        beta: f64,
        par: Par,
    ) -> Result<(), CoreError> {
        let s = self.require_sparse("the stored-entry MU numerator")?;
        check::ensure_shape("W", w, self.nrows(), h.nrows())?;
        check::ensure_shape("H", h, w.ncols(), self.ncols())?;
        product_shape("numerator of W", dst.shape(), w.shape())?;
        s.fused_mu(Layout::Rows, dst, w, h.transpose(), beta, par);
        Ok(())
    }

    /// As [`DataRef::mu_numerator_w`] for H: `dst = Wᵀ·(X ⊙ Λs^(β−2))` (k x m).
    ///
    /// # Errors
    /// As [`DataRef::mu_numerator_w`].
    pub fn mu_numerator_h(
        &self,
        dst: MatMut<'_, T>,
        w: MatRef<'_, T>,
        h: MatRef<'_, T>,
        beta: f64,
        par: Par,
    ) -> Result<(), CoreError> {
        let s = self.require_sparse("the stored-entry MU numerator")?;
        check::ensure_shape("W", w, self.nrows(), h.nrows())?;
        check::ensure_shape("H", h, w.ncols(), self.ncols())?;
        product_shape("numerator of H", dst.shape(), h.shape())?;
        s.fused_mu(
            Layout::Cols,
            dst.transpose_mut(),
            h.transpose(),
            w,
            beta,
            par,
        );
        Ok(())
    }

    fn require_sparse(&self, operation: &'static str) -> Result<SparseRef<'a, T>, CoreError> {
        match *self {
            DataRef::Sparse(s) => Ok(s),
            _ => Err(CoreError::Unsupported {
                operation,
                kind: self.kind(),
            }),
        }
    }
}

/// `x^e` with NumPy's fast paths for the exponents it special-cases (−1, 0, ½, 1, 2), so
/// results match scikit-learn's `**` to the last bit.
#[inline(always)]
pub fn np_pow<T: Float>(x: T, e: f64) -> T {
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

crate::multiversion! {
/// The dense [`DataRef::mu_tile`]: one pass per column over contiguous slices, with the β cases
/// hoisted out of the loop so the common losses (KL, IS) compile to straight vector code.
fn mu_elementwise<T: Float>(x: MatRef<'_, T>, wh: MatMut<'_, T>, fx: MatMut<'_, T>, beta: f64) {
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
            // Strided views (a row-major X): the plain loop.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_agree_with_plain_ones_and_check_shapes() {
        let x = Mat::<f64>::from_fn(7, 5, |i, j| (i * 5 + j) as f64);
        let d = DataRef::from(&x);
        let b = Mat::<f64>::from_fn(5, 3, |i, j| (i + 2 * j) as f64 * 0.5);
        let a = Mat::<f64>::from_fn(7, 3, |i, j| (i * j) as f64 + 1.0);
        let mut out = Mat::zeros(7, 3);
        d.mul_into(out.as_mut(), b.as_ref(), Par::Seq).unwrap();
        assert_eq!(out, &x * &b);
        let mut out = Mat::zeros(5, 3);
        d.t_mul_into(out.as_mut(), a.as_ref(), Par::Seq).unwrap();
        assert_eq!(out, x.transpose() * &a);
        let mut out = Mat::zeros(3, 5);
        d.lhs_t_mul_into(out.as_mut(), a.as_ref(), Par::Seq)
            .unwrap();
        assert_eq!(out, a.transpose() * &x);
        let mut out = Mat::zeros(3, 7);
        d.lhs_mul_t_into(out.as_mut(), b.transpose(), Par::Seq)
            .unwrap();
        assert_eq!(out, b.transpose() * x.transpose());
        let mut bad = Mat::zeros(6, 3);
        assert!(matches!(
            d.mul_into(bad.as_mut(), b.as_ref(), Par::Seq),
            Err(CoreError::ShapeMismatch {
                dim: "rows",
                expected: 7,
                got: 6,
                ..
            })
        ));
        assert!(matches!(
            d.t_mul_into(bad.as_mut(), b.as_ref(), Par::Seq),
            Err(CoreError::ShapeMismatch {
                expected: 7,
                got: 5,
                ..
            })
        ));
    }

    #[test]
    fn inner_product_with_wh() {
        let x = Mat::<f64>::from_fn(4, 3, |i, j| (i + 2 * j) as f64);
        let w = Mat::<f64>::from_fn(4, 2, |i, t| (i * t + 1) as f64);
        let h = Mat::<f64>::from_fn(2, 3, |t, j| (t + j) as f64 * 0.5);
        let wh = &w * &h;
        let mut want = 0.0;
        for j in 0..3 {
            for i in 0..4 {
                want += x[(i, j)] * wh[(i, j)];
            }
        }
        let mut xht = Mat::zeros(4, 2);
        let got = DataRef::from(&x)
            .dot_wh(w.as_ref(), h.as_ref(), xht.as_mut(), Par::Seq)
            .unwrap();
        assert!((got - want).abs() <= 1e-12 * want.abs());
    }

    #[test]
    fn reductions() {
        let x = Mat::<f32>::from_fn(3, 4, |i, j| (i + j) as f32);
        let d = DataRef::from(x.as_ref());
        assert_eq!(d.shape(), (3, 4));
        assert_eq!(d.sum(), 30.0);
        assert_eq!(d.max(), 5.0);
        assert_eq!(d.squared_norm(), 98.0);
        assert_eq!(d.kind(), "dense");
        assert!(d.require_dense("svd").is_ok());
    }
}
