//! Sparse X: a validated, canonical compressed matrix kept in row (CSR) and column (CSC) order.
//!
//! [`SparseMat`] is what `nmf::io::read_sparse` returns and what `fit(x.as_ref())` takes for
//! sparse data. It is built once, at the door, from CSR, CSC or coordinate (COO) arrays, and
//! whatever the input order it ends up the same:
//!
//! - **canonical**: indices sorted within each row and column; **duplicates summed** in the
//!   order they were given (SciPy's `sum_duplicates`, MatrixMarket readers, faer's triplets all
//!   do the same; refusing them would reject valid `.mtx` files); **explicitly stored zeros
//!   dropped** (they change no loss or update, and scikit-learn crashes on them for β ≠ 2);
//! - **validated**: every stored value finite and nonnegative, every index in range, index
//!   pointers consistent; errors name the offending entry by row and column;
//! - **stored twice**: CSR and CSC. Every product the solvers need is then a *gather* whose
//!   outputs belong to exactly one task (`X·B` over rows of the CSR copy, `Xᵀ·B` and `Aᵀ·X`
//!   over columns of the CSC copy), so results are the same bits for any thread count. The
//!   second copy costs `z` values and `z` `u32` indices; the memory budgets count it.
//!
//! The caller's arrays are only read, never mutated.
//!
//! ```
//! use nmf_core::sparse::SparseMat;
//! // 2 x 3 with a duplicate at (0, 2) (summed) and an explicit zero at (1, 0) (dropped).
//! let x = SparseMat::<f64>::from_triplets(2, 3, &[0, 1, 0, 1], &[2, 0, 2, 1], &[1.0, 0.0, 2.5, 4.0])?;
//! assert_eq!(x.nnz(), 2);
//! assert_eq!(x.row(0), (&[2u32][..], &[3.5][..]));
//! assert_eq!(x.col(1), (&[1u32][..], &[4.0][..]));
//! # Ok::<(), nmf_core::CoreError>(())
//! ```

use crate::mat;
use faer::{Mat, MatRef};

use crate::error::CoreError;
use crate::scalar::Float;

/// An index type the constructors accept (what the file formats and callers hold).
pub trait SparseIndex: Copy {
    /// The index as a `usize`, or `None` if it is negative or does not fit.
    fn to_index(self) -> Option<usize>;
    /// The index as given, for error messages.
    fn to_i128(self) -> i128;
}

macro_rules! impl_index {
    ($($t:ty),*) => {$(
        impl SparseIndex for $t {
            #[inline(always)]
            fn to_index(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
            fn to_i128(self) -> i128 {
                self as i128
            }
        }
    )*};
}
impl_index!(u32, u64, usize, i32, i64);

/// A sparse nonnegative matrix in canonical CSR and CSC form (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseMat<T> {
    nrows: usize,
    ncols: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<u32>,
    row_val: Vec<T>,
    col_ptr: Vec<usize>,
    row_idx: Vec<u32>,
    col_val: Vec<T>,
    scratch: Scratch<T>,
}

/// Reusable buffers for the kernels' dense panels (see `sparse_ops`): a product borrows them
/// for its duration, so repeated products allocate nothing. A second product running on the
/// same matrix at the same moment (two fits sharing X) gets a fresh buffer instead of waiting.
/// Not part of the matrix's value: clones start empty and equality ignores it.
#[derive(Default)]
struct Scratch<T>(std::sync::Mutex<Vec<T>>);

impl<T> Clone for Scratch<T> {
    fn clone(&self) -> Self {
        Scratch(std::sync::Mutex::new(Vec::new()))
    }
}

impl<T> PartialEq for Scratch<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> core::fmt::Debug for Scratch<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Scratch")
    }
}

/// A borrowed view of a [`SparseMat`] (what [`crate::DataRef::Sparse`] holds).
#[derive(Debug, Clone, Copy)]
pub struct SparseRef<'a, T> {
    mat: &'a SparseMat<T>,
}

/// One compressed layout: pointers over the major axis, minor indices and values.
struct Compressed<T> {
    ptr: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<T>,
}

/// Names the axes of a layout so errors speak of rows and columns, not "major" and "minor".
#[derive(Clone, Copy)]
struct Axes {
    what: &'static str,
    row_major: bool,
}

impl Axes {
    fn rc(self, major: usize, minor: usize) -> (usize, usize) {
        if self.row_major {
            (major, minor)
        } else {
            (minor, major)
        }
    }
    fn minor_name(self) -> &'static str {
        if self.row_major { "column" } else { "row" }
    }
    fn major_name(self) -> &'static str {
        if self.row_major { "row" } else { "column" }
    }
}

fn check_value<T: Float>(axes: Axes, major: usize, minor: usize, v: T) -> Result<(), CoreError> {
    let (row, col) = axes.rc(major, minor);
    if !v.is_finite() {
        return Err(CoreError::NonFinite {
            what: axes.what,
            row,
            col,
            value: v.to_f64(),
        });
    }
    if v < T::ZERO {
        return Err(CoreError::Negative {
            what: axes.what,
            row,
            col,
            value: v.to_f64(),
        });
    }
    Ok(())
}

fn check_dims(what: &'static str, nrows: usize, ncols: usize) -> Result<(), CoreError> {
    // Indices are stored as u32 (4 bytes an entry instead of 8).
    if nrows > u32::MAX as usize || ncols > u32::MAX as usize {
        return Err(CoreError::SparseTooLarge {
            what,
            rows: nrows,
            cols: ncols,
        });
    }
    Ok(())
}

fn bad_ptr(what: &'static str, axis: &'static str, position: usize, problem: String) -> CoreError {
    CoreError::SparseIndexPointer {
        what,
        axis,
        position,
        problem,
    }
}

/// Validates compressed arrays and canonicalises them (sorted, duplicates summed in the
/// given order, zeros dropped) without touching the caller's arrays.
fn canonical<T: Float, I: SparseIndex>(
    axes: Axes,
    n_major: usize,
    n_minor: usize,
    ptr: &[usize],
    idx: &[I],
    val: &[T],
) -> Result<Compressed<T>, CoreError> {
    let what = axes.what;
    let axis = axes.major_name();
    if ptr.len() != n_major + 1 {
        return Err(bad_ptr(
            what,
            axis,
            ptr.len(),
            format!(
                "{} pointers given, expected {} ({axis}s + 1)",
                ptr.len(),
                n_major + 1
            ),
        ));
    }
    if idx.len() != val.len() {
        return Err(CoreError::SparseLengthMismatch {
            what,
            indices: idx.len(),
            values: val.len(),
        });
    }
    if ptr[0] != 0 {
        return Err(bad_ptr(
            what,
            axis,
            0,
            format!("starts at {}, not 0", ptr[0]),
        ));
    }
    for (p, w) in ptr.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(bad_ptr(
                what,
                axis,
                p + 1,
                format!("decreases from {} to {}", w[0], w[1]),
            ));
        }
    }
    if ptr[n_major] != val.len() {
        return Err(bad_ptr(
            what,
            axis,
            n_major,
            format!(
                "ends at {}, but {} values are stored",
                ptr[n_major],
                val.len()
            ),
        ));
    }
    let mut out = Compressed {
        ptr: Vec::with_capacity(n_major + 1),
        idx: Vec::with_capacity(val.len()),
        val: Vec::with_capacity(val.len()),
    };
    out.ptr.push(0);
    let mut scratch: Vec<(u32, T)> = Vec::new();
    for major in 0..n_major {
        let (a, b) = (ptr[major], ptr[major + 1]);
        let mut sorted = true;
        let mut prev: Option<usize> = None;
        for e in a..b {
            let minor = idx[e].to_index().filter(|&i| i < n_minor).ok_or(
                CoreError::SparseIndexOutOfRange {
                    what,
                    entry: e,
                    axis: axes.minor_name(),
                    index: idx[e].to_i128(),
                    bound: n_minor,
                },
            )?;
            check_value(axes, major, minor, val[e])?;
            if prev.is_some_and(|p| p >= minor) {
                sorted = false;
            }
            prev = Some(minor);
        }
        if sorted {
            for e in a..b {
                if val[e] != T::ZERO {
                    out.idx.push(idx[e].to_index().unwrap_or(0) as u32);
                    out.val.push(val[e]);
                }
            }
        } else {
            scratch.clear();
            scratch.extend((a..b).map(|e| (idx[e].to_index().unwrap_or(0) as u32, val[e])));
            // Stable: duplicates keep the order they were given in and are summed in it.
            scratch.sort_by_key(|&(i, _)| i);
            let mut s = 0;
            while s < scratch.len() {
                let (i, mut v) = scratch[s];
                let mut t = s + 1;
                while t < scratch.len() && scratch[t].0 == i {
                    v += scratch[t].1;
                    t += 1;
                }
                if !v.is_finite() {
                    let (row, col) = axes.rc(major, i as usize);
                    return Err(CoreError::NonFinite {
                        what,
                        row,
                        col,
                        value: v.to_f64(),
                    });
                }
                if v != T::ZERO {
                    out.idx.push(i);
                    out.val.push(v);
                }
                s = t;
            }
        }
        out.ptr.push(out.val.len());
    }
    out.idx.shrink_to_fit();
    out.val.shrink_to_fit();
    Ok(out)
}

/// The other layout of a canonical one, by a counting sort (O(z + n + m)); minor indices come
/// out sorted because majors are visited in order.
fn transpose<T: Float>(n_minor: usize, c: &Compressed<T>) -> Compressed<T> {
    let z = c.val.len();
    let mut ptr = vec![0usize; n_minor + 1];
    for &i in &c.idx {
        ptr[i as usize + 1] += 1;
    }
    for j in 0..n_minor {
        ptr[j + 1] += ptr[j];
    }
    let mut next = ptr.clone();
    let mut idx = vec![0u32; z];
    let mut val = vec![T::ZERO; z];
    for major in 0..c.ptr.len() - 1 {
        for e in c.ptr[major]..c.ptr[major + 1] {
            let slot = &mut next[c.idx[e] as usize];
            idx[*slot] = major as u32;
            val[*slot] = c.val[e];
            *slot += 1;
        }
    }
    Compressed { ptr, idx, val }
}

impl<T: Float> SparseMat<T> {
    fn from_parts(nrows: usize, ncols: usize, csr: Compressed<T>, csc: Compressed<T>) -> Self {
        SparseMat {
            nrows,
            ncols,
            row_ptr: csr.ptr,
            col_idx: csr.idx,
            row_val: csr.val,
            col_ptr: csc.ptr,
            row_idx: csc.idx,
            col_val: csc.val,
            scratch: Scratch::default(),
        }
    }

    /// Runs `f` on `len` scratch values (contents unspecified).
    pub(crate) fn with_scratch<R>(&self, len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
        match self.scratch.0.try_lock() {
            Ok(mut g) => {
                if g.len() < len {
                    g.resize(len, T::ZERO);
                }
                f(&mut g[..len])
            }
            Err(_) => f(&mut vec![T::ZERO; len]),
        }
    }

    /// From CSR arrays (SciPy's `indptr`, `indices`, `data` of a `csr_matrix`): row `i` stores
    /// `values[indptr[i]..indptr[i+1]]` at columns `indices[..]`, in any order.
    ///
    /// # Errors
    /// Inconsistent pointers or lengths, an index out of range, a negative or non-finite value
    /// (named by row and column), or a dimension beyond `u32::MAX`.
    pub fn from_csr<I: SparseIndex>(
        nrows: usize,
        ncols: usize,
        indptr: &[usize],
        indices: &[I],
        values: &[T],
    ) -> Result<Self, CoreError> {
        check_dims("X", nrows, ncols)?;
        let axes = Axes {
            what: "X",
            row_major: true,
        };
        let csr = canonical(axes, nrows, ncols, indptr, indices, values)?;
        let csc = transpose(ncols, &csr);
        Ok(Self::from_parts(nrows, ncols, csr, csc))
    }

    /// From CSC arrays (SciPy's `csc_matrix`): column `j` stores
    /// `values[indptr[j]..indptr[j+1]]` at rows `indices[..]`. The result is the same matrix
    /// as from the equivalent CSR or COO arrays, bit for bit.
    ///
    /// # Errors
    /// As [`SparseMat::from_csr`].
    pub fn from_csc<I: SparseIndex>(
        nrows: usize,
        ncols: usize,
        indptr: &[usize],
        indices: &[I],
        values: &[T],
    ) -> Result<Self, CoreError> {
        check_dims("X", nrows, ncols)?;
        let axes = Axes {
            what: "X",
            row_major: false,
        };
        let csc = canonical(axes, ncols, nrows, indptr, indices, values)?;
        // Duplicates were summed per column in stored order; rebuilding CSR from the canonical
        // CSC keeps that, so CSR and CSC input of the same entries give the same bits.
        let csr = transpose(nrows, &csc);
        Ok(Self::from_parts(nrows, ncols, csr, csc))
    }

    /// From coordinates (COO, MatrixMarket): entry `e` is `values[e]` at
    /// `(rows[e], cols[e])`, in any order; duplicates are summed in the order given.
    ///
    /// # Errors
    /// Arrays of different lengths, an index out of range (named by its position `e`), a
    /// negative or non-finite value, or a dimension beyond `u32::MAX`.
    pub fn from_triplets<I: SparseIndex>(
        nrows: usize,
        ncols: usize,
        rows: &[I],
        cols: &[I],
        values: &[T],
    ) -> Result<Self, CoreError> {
        check_dims("X", nrows, ncols)?;
        if rows.len() != values.len() || cols.len() != values.len() {
            return Err(CoreError::SparseLengthMismatch {
                what: "X",
                indices: if rows.len() != values.len() {
                    rows.len()
                } else {
                    cols.len()
                },
                values: values.len(),
            });
        }
        let mut ptr = vec![0usize; nrows + 1];
        for (e, &r) in rows.iter().enumerate() {
            let r =
                r.to_index()
                    .filter(|&r| r < nrows)
                    .ok_or(CoreError::SparseIndexOutOfRange {
                        what: "X",
                        entry: e,
                        axis: "row",
                        index: r.to_i128(),
                        bound: nrows,
                    })?;
            ptr[r + 1] += 1;
        }
        for i in 0..nrows {
            ptr[i + 1] += ptr[i];
        }
        // A stable counting sort by row: within a row, entries keep their input order, so
        // duplicates are summed in the order given.
        let mut next = ptr.clone();
        let mut order = vec![0usize; values.len()];
        for (e, &r) in rows.iter().enumerate() {
            let slot = &mut next[r.to_index().unwrap_or(0)];
            order[*slot] = e;
            *slot += 1;
        }
        let idx: Vec<I> = order.iter().map(|&e| cols[e]).collect();
        let val: Vec<T> = order.iter().map(|&e| values[e]).collect();
        drop(order);
        Self::from_csr(nrows, ncols, &ptr, &idx, &val).map_err(|e| match e {
            // Report the caller's position, not the sorted one.
            CoreError::SparseIndexOutOfRange {
                what,
                axis,
                index,
                bound,
                ..
            } => {
                let entry = cols
                    .iter()
                    .position(|c| c.to_index().is_none_or(|c| c >= ncols))
                    .unwrap_or(0);
                CoreError::SparseIndexOutOfRange {
                    what,
                    entry,
                    axis,
                    index,
                    bound,
                }
            }
            other => other,
        })
    }

    /// The nonzero entries of a dense matrix (a convenience for tests and small inputs).
    ///
    /// # Errors
    /// A negative or non-finite entry, or a dimension beyond `u32::MAX`.
    pub fn from_dense(x: MatRef<'_, T>) -> Result<Self, CoreError> {
        check_dims("X", x.nrows(), x.ncols())?;
        let mut csc = Compressed {
            ptr: Vec::with_capacity(x.ncols() + 1),
            idx: Vec::new(),
            val: Vec::new(),
        };
        csc.ptr.push(0);
        let axes = Axes {
            what: "X",
            row_major: false,
        };
        for j in 0..x.ncols() {
            for i in 0..x.nrows() {
                let v = x[(i, j)];
                check_value(axes, j, i, v)?;
                if v != T::ZERO {
                    csc.idx.push(i as u32);
                    csc.val.push(v);
                }
            }
            csc.ptr.push(csc.val.len());
        }
        let csr = transpose(x.nrows(), &csc);
        Ok(Self::from_parts(x.nrows(), x.ncols(), csr, csc))
    }

    /// Rows `rows` as a matrix of their own, with the same stored entries in the same order
    /// (so kernels on the block give the bits they give on those rows of the whole matrix).
    /// This is how minibatches and row chunks of a sparse X are cut: O(stored entries of the
    /// block), no revalidation.
    ///
    /// # Errors
    /// `rows` is empty, reversed or reaches past the last row.
    pub fn row_block(&self, rows: core::ops::Range<usize>) -> Result<Self, CoreError> {
        if rows.start >= rows.end || rows.end > self.nrows {
            return Err(CoreError::invalid(
                "rows",
                format!("{}..{} of {}", rows.start, rows.end, self.nrows),
                "a non-empty range within the matrix's rows",
            ));
        }
        let (a, b) = (self.row_ptr[rows.start], self.row_ptr[rows.end]);
        let csr = Compressed {
            ptr: self.row_ptr[rows.start..=rows.end]
                .iter()
                .map(|p| p - a)
                .collect(),
            idx: self.col_idx[a..b].to_vec(),
            val: self.row_val[a..b].to_vec(),
        };
        let csc = transpose(self.ncols, &csr);
        Ok(Self::from_parts(rows.len(), self.ncols, csr, csc))
    }

    /// The dense matrix (an explicit conversion the caller asks for; the library never
    /// densifies X on its own).
    pub fn to_dense(&self) -> Mat<T> {
        let mut out = mat::zeros(self.nrows, self.ncols);
        for j in 0..self.ncols {
            let (rows, vals) = self.col(j);
            for (&i, &v) in rows.iter().zip(vals) {
                out[(i as usize, j)] = v;
            }
        }
        out
    }

    /// The borrowed view that `fit`, `transform` and the losses take.
    #[allow(clippy::should_implement_trait)]
    pub fn as_ref(&self) -> SparseRef<'_, T> {
        SparseRef::new(self)
    }

    /// Number of rows (samples).
    pub fn nrows(&self) -> usize {
        self.nrows
    }
    /// Number of columns (features).
    pub fn ncols(&self) -> usize {
        self.ncols
    }
    /// `(nrows, ncols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.nrows, self.ncols)
    }
    /// Number of stored (nonzero) values.
    pub fn nnz(&self) -> usize {
        self.row_val.len()
    }
    /// Stored fraction `nnz / (nrows · ncols)`.
    pub fn density(&self) -> f64 {
        self.nnz() as f64 / (self.nrows as f64 * self.ncols as f64).max(1.0)
    }
    /// Heap bytes held by both layouts (not counting the kernels' reusable panels, which are
    /// factor-sized: at most `(nrows + ncols) · k` values).
    pub fn heap_bytes(&self) -> usize {
        let z = self.nnz();
        2 * z * (size_of::<u32>() + size_of::<T>())
            + (self.nrows + self.ncols + 2) * size_of::<usize>()
    }
    /// CSR row pointers (`nrows + 1`).
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }
    /// CSR column indices (sorted within each row).
    pub fn col_indices(&self) -> &[u32] {
        &self.col_idx
    }
    /// CSR values (row by row).
    pub fn values(&self) -> &[T] {
        &self.row_val
    }
    /// CSC column pointers (`ncols + 1`).
    pub fn col_ptr(&self) -> &[usize] {
        &self.col_ptr
    }
    /// CSC row indices (sorted within each column).
    pub fn row_indices(&self) -> &[u32] {
        &self.row_idx
    }
    /// CSC values (column by column).
    pub fn col_values(&self) -> &[T] {
        &self.col_val
    }
    /// Row `i`: its column indices and values.
    pub fn row(&self, i: usize) -> (&[u32], &[T]) {
        let (a, b) = (self.row_ptr[i], self.row_ptr[i + 1]);
        (&self.col_idx[a..b], &self.row_val[a..b])
    }
    /// Column `j`: its row indices and values.
    pub fn col(&self, j: usize) -> (&[u32], &[T]) {
        let (a, b) = (self.col_ptr[j], self.col_ptr[j + 1]);
        (&self.row_idx[a..b], &self.col_val[a..b])
    }
    /// The CSR layout as an owned faer matrix (for faer's sparse routines, e.g. as a test
    /// reference; the solvers use their own kernels).
    ///
    /// # Errors
    /// More than `u32::MAX` stored values (faer's pointers then do not fit its `u32` index).
    pub fn to_faer_csr(&self) -> Result<faer::sparse::SparseRowMat<u32, T>, CoreError> {
        let ptr = self
            .row_ptr
            .iter()
            .map(|&p| u32::try_from(p))
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| CoreError::SparseTooLarge {
                what: "X",
                rows: self.nrows,
                cols: self.ncols,
            })?;
        let sym = faer::sparse::SymbolicSparseRowMat::new_checked(
            self.nrows,
            self.ncols,
            ptr,
            None,
            self.col_idx.clone(),
        );
        Ok(faer::sparse::SparseRowMat::new(sym, self.row_val.clone()))
    }
    /// The same matrix with every value mapped by `f` (which must keep values finite and
    /// nonnegative; zeros it produces stay stored). Used to rescale or change precision.
    pub fn map_values<U: Float>(&self, f: impl Fn(T) -> U) -> SparseMat<U> {
        SparseMat {
            nrows: self.nrows,
            ncols: self.ncols,
            row_ptr: self.row_ptr.clone(),
            col_idx: self.col_idx.clone(),
            row_val: self.row_val.iter().map(|&v| f(v)).collect(),
            col_ptr: self.col_ptr.clone(),
            row_idx: self.row_idx.clone(),
            col_val: self.col_val.iter().map(|&v| f(v)).collect(),
            scratch: Scratch::default(),
        }
    }
}

impl<'a, T> SparseRef<'a, T> {
    /// The view of `mat`.
    pub fn new(mat: &'a SparseMat<T>) -> Self {
        SparseRef { mat }
    }
}

impl<'a, T: Float> SparseRef<'a, T> {
    /// The first position (in row-major order) that stores no value, if any.
    pub fn first_implicit_zero(&self) -> Option<(usize, usize)> {
        let (n, m) = self.shape();
        (0..n).find_map(|i| {
            let (cols, _) = self.row(i);
            if cols.len() == m {
                return None;
            }
            // Sorted, distinct: the first gap is where cols[j] != j.
            let j = cols.iter().enumerate().position(|(j, &c)| c as usize != j);
            Some((i, j.unwrap_or(cols.len())))
        })
    }
    /// The matrix this views.
    pub fn mat(&self) -> &'a SparseMat<T> {
        self.mat
    }
    /// `(nrows, ncols)`.
    pub fn shape(&self) -> (usize, usize) {
        self.mat.shape()
    }
    /// Number of stored values.
    pub fn nnz(&self) -> usize {
        self.mat.nnz()
    }
    /// Row `i`: its column indices and values.
    #[inline(always)]
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [T]) {
        let m = self.mat;
        let (a, b) = (m.row_ptr[i], m.row_ptr[i + 1]);
        (&m.col_idx[a..b], &m.row_val[a..b])
    }
    /// Column `j`: its row indices and values.
    #[inline(always)]
    pub fn col(&self, j: usize) -> (&'a [u32], &'a [T]) {
        let m = self.mat;
        let (a, b) = (m.col_ptr[j], m.col_ptr[j + 1]);
        (&m.row_idx[a..b], &m.col_val[a..b])
    }
    /// CSR row pointers.
    pub fn row_ptr(&self) -> &'a [usize] {
        &self.mat.row_ptr
    }
    /// CSC column pointers.
    pub fn col_ptr(&self) -> &'a [usize] {
        &self.mat.col_ptr
    }
    /// CSR values.
    pub fn values(&self) -> &'a [T] {
        &self.mat.row_val
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(x: &SparseMat<f64>) -> Vec<Vec<f64>> {
        let d = x.to_dense();
        (0..d.nrows())
            .map(|i| (0..d.ncols()).map(|j| d[(i, j)]).collect())
            .collect()
    }

    #[test]
    fn csr_csc_coo_and_dense_give_the_same_matrix() {
        // 3 x 4: [[0, 1, 0, 2], [3, 0, 0, 0], [0, 0, 4, 5]]
        let csr = SparseMat::<f64>::from_csr(
            3,
            4,
            &[0, 2, 3, 5],
            &[1u32, 3, 0, 2, 3],
            &[1., 2., 3., 4., 5.],
        )
        .unwrap();
        let csc = SparseMat::<f64>::from_csc(
            3,
            4,
            &[0, 1, 2, 3, 5],
            &[1i64, 0, 2, 0, 2],
            &[3., 1., 4., 2., 5.],
        )
        .unwrap();
        let coo = SparseMat::<f64>::from_triplets(
            3,
            4,
            &[2usize, 0, 1, 2, 0],
            &[3usize, 3, 0, 2, 1],
            &[5., 2., 3., 4., 1.],
        )
        .unwrap();
        let d = SparseMat::from_dense(csr.to_dense().as_ref()).unwrap();
        assert_eq!(csr, csc);
        assert_eq!(csr, coo);
        assert_eq!(csr, d);
        assert_eq!(
            dense(&csr),
            vec![
                vec![0., 1., 0., 2.],
                vec![3., 0., 0., 0.],
                vec![0., 0., 4., 5.]
            ]
        );
        assert_eq!(csr.col(3), (&[0u32, 2][..], &[2., 5.][..]));
        assert_eq!(csr.nnz(), 5);
    }

    #[test]
    fn unsorted_duplicates_and_zeros_are_canonicalised_without_touching_input() {
        let (ptr, idx, val) = (
            vec![0usize, 4, 5],
            vec![2u32, 0, 2, 1],
            vec![0.5, 1.0, 0.25, 0.0],
        );
        let mut idx2 = idx.clone();
        idx2.push(1);
        let mut val2 = val.clone();
        val2.push(-0.0);
        let x = SparseMat::<f64>::from_csr(2, 3, &ptr, &idx2, &val2).unwrap();
        assert_eq!(idx2, vec![2, 0, 2, 1, 1]);
        assert_eq!(x.row(0), (&[0u32, 2][..], &[1.0, 0.75][..]));
        assert_eq!(x.row(1), (&[][..], &[][..]));
        assert_eq!(x.nnz(), 2);
        assert_eq!(x.col_ptr(), &[0, 1, 1, 2]);
    }

    #[test]
    fn errors_name_the_entry() {
        let e = SparseMat::<f64>::from_csr(2, 3, &[0, 1, 2], &[0u32, 5], &[1.0, 1.0]).unwrap_err();
        assert_eq!(
            e,
            CoreError::SparseIndexOutOfRange {
                what: "X",
                entry: 1,
                axis: "column",
                index: 5,
                bound: 3
            }
        );
        let e =
            SparseMat::<f64>::from_csc(2, 3, &[0, 1, 1, 2], &[0u32, 1], &[1.0, -2.0]).unwrap_err();
        assert_eq!(
            e,
            CoreError::Negative {
                what: "X",
                row: 1,
                col: 2,
                value: -2.0
            }
        );
        let e = SparseMat::<f32>::from_triplets(2, 2, &[1i32], &[0i32], &[f32::NAN]).unwrap_err();
        assert!(matches!(e, CoreError::NonFinite { row: 1, col: 0, .. }));
        let e = SparseMat::<f64>::from_triplets(2, 2, &[0i32, -1], &[0i32, 0], &[1.0, 1.0])
            .unwrap_err();
        assert!(matches!(
            e,
            CoreError::SparseIndexOutOfRange {
                entry: 1,
                index: -1,
                axis: "row",
                ..
            }
        ));
        let e =
            SparseMat::<f64>::from_triplets(2, 2, &[0i32, 1], &[0i32, 7], &[1.0, 1.0]).unwrap_err();
        assert!(matches!(
            e,
            CoreError::SparseIndexOutOfRange {
                entry: 1,
                index: 7,
                axis: "column",
                ..
            }
        ));
        for (ptr, want) in [
            (vec![0usize, 1], 2usize),
            (vec![1, 1, 2], 0),
            (vec![0, 2, 1], 2),
            (vec![0, 1, 1], 2),
        ] {
            let e = SparseMat::<f64>::from_csr(2, 2, &ptr, &[0u32, 1], &[1.0, 1.0]).unwrap_err();
            match e {
                CoreError::SparseIndexPointer { position, .. } => assert_eq!(position, want),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            SparseMat::<f64>::from_csr(1, 2, &[0, 1], &[0u32, 1], &[1.0]),
            Err(CoreError::SparseLengthMismatch { .. })
        ));
        // Duplicates that overflow to infinity are refused, not stored.
        let e =
            SparseMat::<f32>::from_triplets(1, 1, &[0u32, 0], &[0u32, 0], &[f32::MAX, f32::MAX])
                .unwrap_err();
        assert!(matches!(e, CoreError::NonFinite { .. }));
    }

    #[test]
    fn faer_view_matches() {
        let x = SparseMat::<f64>::from_triplets(2, 3, &[0u32, 1], &[2u32, 0], &[1.5, 2.0]).unwrap();
        let f = x.to_faer_csr().unwrap();
        assert_eq!(f.to_dense(), x.to_dense());
    }
}
