//! The error type of nmf-core: what went wrong, and where.

use thiserror::Error;

/// Errors raised when validating inputs or parameters.
///
/// Messages are short, lower-case and say where the problem is (which matrix, which entry).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A matrix has no rows or no columns.
    #[error("{what} is empty ({rows} x {cols}); at least one row and one column are required")]
    Empty {
        /// Which matrix (e.g. "X").
        what: &'static str,
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
    },
    /// A matrix contains NaN or an infinity.
    #[error("{what} contains a non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Which matrix.
        what: &'static str,
        /// Row of the first offending entry (row-major order).
        row: usize,
        /// Column of the first offending entry.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// A matrix that must be nonnegative has a negative entry.
    #[error(
        "{what} has a negative value {value} at row {row}, column {col}; NMF needs nonnegative data"
    )]
    Negative {
        /// Which matrix.
        what: &'static str,
        /// Row of the first offending entry (row-major order).
        row: usize,
        /// Column of the first offending entry.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// A matrix does not have the expected number of rows or columns.
    #[error("{what} has {got} {dim}, expected {expected}")]
    ShapeMismatch {
        /// Which matrix.
        what: &'static str,
        /// "rows" or "columns".
        dim: &'static str,
        /// The required size.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// A matrix that must carry information is all zeros (e.g. a custom initial factor).
    #[error("{what} is all zeros")]
    AllZero {
        /// Which matrix.
        what: &'static str,
    },
    /// A parameter has a value outside its range.
    #[error("invalid parameter {name} = {value}: {expected}")]
    InvalidParam {
        /// Parameter name as the builder spells it (e.g. "l1_ratio").
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What would have been valid.
        expected: &'static str,
    },
    /// beta <= 0 divergences are undefined where X is zero (scikit-learn refuses too).
    #[error(
        "beta_loss = {beta} <= 0 and X contains zeros (first at row {row}, column {col}): the loss is undefined there; add a small positive offset to X or use beta > 0"
    )]
    ZerosWithNonPositiveBeta {
        /// The beta of the loss.
        beta: f64,
        /// Row of the first zero.
        row: usize,
        /// Column of the first zero.
        col: usize,
    },
    /// An operation that exists for some kinds of data only (e.g. an exact dense SVD) was asked
    /// of another kind; nothing is converted behind the caller's back.
    #[error("{operation} is not available for {kind} data")]
    Unsupported {
        /// What was asked.
        operation: &'static str,
        /// The kind of data it was asked of (e.g. "dense").
        kind: &'static str,
    },
    /// A sparse matrix's index pointers are inconsistent.
    #[error("{what}: {axis} pointer {position} {problem}")]
    SparseIndexPointer {
        /// Which matrix.
        what: &'static str,
        /// "row" (CSR pointers) or "column" (CSC pointers).
        axis: &'static str,
        /// Position in the pointer array (or its length when that is wrong).
        position: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A sparse matrix has an index outside its shape.
    #[error("{what}: stored entry {entry} has {axis} index {index}, outside 0..{bound}")]
    SparseIndexOutOfRange {
        /// Which matrix.
        what: &'static str,
        /// Position of the entry in the arrays given.
        entry: usize,
        /// "row" or "column".
        axis: &'static str,
        /// The index found.
        index: i128,
        /// The number of rows or columns.
        bound: usize,
    },
    /// A sparse matrix's index and value arrays differ in length.
    #[error("{what}: {indices} indices but {values} values")]
    SparseLengthMismatch {
        /// Which matrix.
        what: &'static str,
        /// Length of the index array.
        indices: usize,
        /// Length of the value array.
        values: usize,
    },
    /// A sparse matrix has more rows or columns than its 32-bit indices can address.
    #[error("{what} is {rows} x {cols}: sparse matrices are limited to 2^32 - 1 rows and columns")]
    SparseTooLarge {
        /// Which matrix.
        what: &'static str,
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
    },
}

impl CoreError {
    /// Builds an [`CoreError::InvalidParam`] from any displayable value.
    pub fn invalid(
        name: &'static str,
        value: impl core::fmt::Display,
        expected: &'static str,
    ) -> Self {
        CoreError::InvalidParam {
            name,
            value: value.to_string(),
            expected,
        }
    }
}
