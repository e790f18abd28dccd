//! ndarray interop (feature `ndarray`): fit and transform `ArrayView2`s, get `Array2`s back.
//!
//! A view in standard (C, row-major) or Fortran (column-major) layout is used **without a
//! copy**: it becomes a faer view of the same memory, since faer, like ndarray, describes a
//! matrix by a pointer and two strides. Any other view (a slice with steps, a transposed
//! sub-block) is **copied once** into a column-major matrix; [`view`] tells which happened.
//! Results (`W`, `H`, transforms) are new `Array2`s in standard layout.
//!
//! ```
//! use ndarray::Array2;
//! use nmf::nd::{self, FitArray, ModelArrays};
//! use nmf::prelude::*;
//!
//! let x = Array2::from_shape_fn((6, 4), |(i, j)| ((i * 3 + j * 5) % 7) as f64 + 0.5);
//! assert!(nd::view(x.view()).is_borrowed());       // C order: no copy
//! let model = Nmf::params(2).seed(1).fit_array(x.view())?;
//! let w: Array2<f64> = model.w_array();
//! assert_eq!(w.dim(), (6, 2));
//! let w_new = model.transform_array(x.t().t())?;   // any layout works
//! assert_eq!(w_new.dim(), (6, 2));
//! # Ok::<(), nmf::NmfError>(())
//! ```

use faer::{Mat, MatRef};
use ndarray::{Array2, ArrayView2, ShapeBuilder};
use nmf_core::Float;
use nmf_core::mat;
use nmf_solvers::{NmfConfig, NmfError, NmfModel, NmfParams};

/// An `ArrayView2` as a faer matrix: the same memory when the layout allows, else one copy.
#[derive(Debug)]
pub enum NdMatrix<'a, T> {
    /// A view of the array's memory (standard or Fortran layout).
    Borrowed(MatRef<'a, T>),
    /// A column-major copy (any other layout).
    Copied(Mat<T>),
}

impl<T: Float> NdMatrix<'_, T> {
    /// The matrix.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        match self {
            NdMatrix::Borrowed(m) => *m,
            NdMatrix::Copied(m) => m.as_ref(),
        }
    }

    /// Whether no copy was made.
    pub fn is_borrowed(&self) -> bool {
        matches!(self, NdMatrix::Borrowed(_))
    }
}

/// The view as a faer matrix, borrowing its memory when it is contiguous in standard or
/// Fortran order and copying it once otherwise.
pub fn view<'a, T: Float>(a: ArrayView2<'a, T>) -> NdMatrix<'a, T> {
    let (n, m) = a.dim();
    if let Some(s) = a.to_slice() {
        // Standard layout: row i starts at i·m.
        return NdMatrix::Borrowed(MatRef::from_row_major_slice(s, n, m));
    }
    if let Some(s) = a.reversed_axes().to_slice() {
        // The transpose is standard: `a` is column-major.
        return NdMatrix::Borrowed(MatRef::from_column_major_slice(s, n, m));
    }
    NdMatrix::Copied(mat::from_fn(n, m, |i, j| a[[i, j]]))
}

/// A faer matrix as a new `Array2` in standard layout.
pub fn to_array<T: Float>(m: MatRef<'_, T>) -> Array2<T> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// A faer matrix as a new `Array2` in Fortran layout (faer's own order: a column-wise copy).
pub fn to_array_f<T: Float>(m: MatRef<'_, T>) -> Array2<T> {
    Array2::from_shape_fn((m.nrows(), m.ncols()).f(), |(i, j)| m[(i, j)])
}

/// `fit` for ndarray data.
pub trait FitArray<T: Float> {
    /// Fits `x` (n_samples x n_features), borrowing it when its layout allows (see [`view`]).
    ///
    /// # Errors
    /// As the library's `fit`.
    fn fit_array(&self, x: ArrayView2<'_, T>) -> Result<NmfModel<T>, NmfError>;
}

impl<T: Float> FitArray<T> for NmfParams<T> {
    fn fit_array(&self, x: ArrayView2<'_, T>) -> Result<NmfModel<T>, NmfError> {
        self.fit(view(x).as_ref())
    }
}

impl<T: Float> FitArray<T> for NmfConfig<T> {
    fn fit_array(&self, x: ArrayView2<'_, T>) -> Result<NmfModel<T>, NmfError> {
        self.fit(view(x).as_ref())
    }
}

/// A fitted model's factors and solves as `Array2`s.
pub trait ModelArrays<T: Float> {
    /// W (n_samples x k).
    fn w_array(&self) -> Array2<T>;
    /// H (k x n_features).
    fn h_array(&self) -> Array2<T>;
    /// `transform` of new rows.
    ///
    /// # Errors
    /// As the library's `transform`.
    fn transform_array(&self, x: ArrayView2<'_, T>) -> Result<Array2<T>, NmfError>;
    /// `inverse_transform` of a W.
    ///
    /// # Errors
    /// As the library's `inverse_transform`.
    fn inverse_transform_array(&self, w: ArrayView2<'_, T>) -> Result<Array2<T>, NmfError>;
}

impl<T: Float> ModelArrays<T> for NmfModel<T> {
    fn w_array(&self) -> Array2<T> {
        to_array(self.w())
    }
    fn h_array(&self) -> Array2<T> {
        to_array(self.h())
    }
    fn transform_array(&self, x: ArrayView2<'_, T>) -> Result<Array2<T>, NmfError> {
        Ok(to_array(self.transform(view(x).as_ref())?.as_ref()))
    }
    fn inverse_transform_array(&self, w: ArrayView2<'_, T>) -> Result<Array2<T>, NmfError> {
        Ok(to_array(self.inverse_transform(view(w).as_ref())?.as_ref()))
    }
}
