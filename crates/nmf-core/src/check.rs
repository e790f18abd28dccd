//! Validation at the door: every public entry point checks its matrices here once, so kernels
//! can assume valid input.

use faer::MatRef;

use crate::error::CoreError;
use crate::scalar::Float;

/// Finds the first entry (in row-major order) for which `bad` holds.
///
/// Scans column by column (faer's layout) but keeps the smallest `(row, col)` in row-major
/// order, so error messages point where a user reading the matrix row by row would look.
fn first_in_row_major<T: Float>(
    a: MatRef<'_, T>,
    bad: impl Fn(T) -> bool,
) -> Option<(usize, usize, T)> {
    let mut best: Option<(usize, usize, T)> = None;
    for j in 0..a.ncols() {
        let limit = best.map_or(a.nrows(), |(r, _, _)| r + 1);
        for i in 0..limit.min(a.nrows()) {
            let v = a[(i, j)];
            if bad(v) {
                let better = match best {
                    None => true,
                    Some((r, c, _)) => (i, j) < (r, c),
                };
                if better {
                    best = Some((i, j, v));
                }
                break;
            }
        }
    }
    best
}

/// Rejects a matrix with no rows or no columns.
pub fn ensure_not_empty<T: Float>(what: &'static str, a: MatRef<'_, T>) -> Result<(), CoreError> {
    if a.nrows() == 0 || a.ncols() == 0 {
        return Err(CoreError::Empty {
            what,
            rows: a.nrows(),
            cols: a.ncols(),
        });
    }
    Ok(())
}

/// Rejects NaN and infinities, naming the first offending entry.
pub fn ensure_finite<T: Float>(what: &'static str, a: MatRef<'_, T>) -> Result<(), CoreError> {
    match first_in_row_major(a, |v| !v.is_finite()) {
        Some((row, col, v)) => Err(CoreError::NonFinite {
            what,
            row,
            col,
            value: v.to_f64(),
        }),
        None => Ok(()),
    }
}

/// Rejects negative entries, naming the first one.
pub fn ensure_nonneg<T: Float>(what: &'static str, a: MatRef<'_, T>) -> Result<(), CoreError> {
    match first_in_row_major(a, |v| v < T::ZERO) {
        Some((row, col, v)) => Err(CoreError::Negative {
            what,
            row,
            col,
            value: v.to_f64(),
        }),
        None => Ok(()),
    }
}

/// Rejects a matrix whose entries are all zero.
pub fn ensure_not_all_zero<T: Float>(
    what: &'static str,
    a: MatRef<'_, T>,
) -> Result<(), CoreError> {
    if first_in_row_major(a, |v| v != T::ZERO).is_none() {
        return Err(CoreError::AllZero { what });
    }
    Ok(())
}

/// Checks that `a` is `rows x cols`.
pub fn ensure_shape<T: Float>(
    what: &'static str,
    a: MatRef<'_, T>,
    rows: usize,
    cols: usize,
) -> Result<(), CoreError> {
    if a.nrows() != rows {
        return Err(CoreError::ShapeMismatch {
            what,
            dim: "rows",
            expected: rows,
            got: a.nrows(),
        });
    }
    if a.ncols() != cols {
        return Err(CoreError::ShapeMismatch {
            what,
            dim: "columns",
            expected: cols,
            got: a.ncols(),
        });
    }
    Ok(())
}

/// The data check of `fit`: not empty, finite, nonnegative.
pub fn ensure_data<T: Float>(what: &'static str, a: MatRef<'_, T>) -> Result<(), CoreError> {
    ensure_not_empty(what, a)?;
    if crate::kernels::all_finite_and_nonneg(a) {
        return Ok(());
    }
    // Something is wrong: the slower searches name the first offending entry.
    ensure_finite(what, a)?;
    ensure_nonneg(what, a)
}

/// For beta <= 0 losses: X must have no zero (entries <= 0 make the divergence undefined).
///
/// scikit-learn tests `X.min() == 0`; we report where the first zero is.
pub fn ensure_positive_for_beta<T: Float>(a: MatRef<'_, T>, beta: f64) -> Result<(), CoreError> {
    if beta > 0.0 {
        return Ok(());
    }
    match first_in_row_major(a, |v| v == T::ZERO) {
        Some((row, col, _)) => Err(CoreError::ZerosWithNonPositiveBeta { beta, row, col }),
        None => Ok(()),
    }
}

/// Checks a real parameter lies in `[lo, hi]` (and is not NaN).
pub fn ensure_in_range(
    name: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    expected: &'static str,
) -> Result<(), CoreError> {
    if value.is_nan() || value < lo || value > hi {
        return Err(CoreError::invalid(name, value, expected));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::mat;

    #[test]
    fn reports_first_negative_in_row_major_order() {
        // (0, 2) comes before (1, 0) when reading row by row, even though faer stores columns.
        let a = mat![[1.0, 2.0, -3.0], [-4.0, 5.0, 6.0f64]];
        let err = ensure_nonneg("X", a.as_ref()).unwrap_err();
        assert_eq!(
            err,
            CoreError::Negative {
                what: "X",
                row: 0,
                col: 2,
                value: -3.0
            }
        );
        assert!(err.to_string().contains("row 0, column 2"));
    }

    #[test]
    fn reports_non_finite_and_empty_and_zero() {
        let a = mat![[1.0, f32::NAN], [f32::INFINITY, 0.0]];
        assert!(matches!(
            ensure_finite("X", a.as_ref()),
            Err(CoreError::NonFinite { row: 0, col: 1, .. })
        ));
        let e = faer::Mat::<f64>::zeros(0, 3);
        assert!(matches!(
            ensure_data("X", e.as_ref()),
            Err(CoreError::Empty { .. })
        ));
        let z = faer::Mat::<f64>::zeros(2, 2);
        assert!(matches!(
            ensure_not_all_zero("H", z.as_ref()),
            Err(CoreError::AllZero { what: "H" })
        ));
        assert!(matches!(
            ensure_positive_for_beta(z.as_ref(), 0.0),
            Err(CoreError::ZerosWithNonPositiveBeta { row: 0, col: 0, .. })
        ));
        assert!(ensure_positive_for_beta(z.as_ref(), 0.5).is_ok());
    }

    #[test]
    fn shape_and_range() {
        let a = faer::Mat::<f64>::zeros(2, 3);
        assert!(ensure_shape("W", a.as_ref(), 2, 3).is_ok());
        assert!(matches!(
            ensure_shape("W", a.as_ref(), 2, 4),
            Err(CoreError::ShapeMismatch {
                dim: "columns",
                expected: 4,
                got: 3,
                ..
            })
        ));
        assert!(ensure_in_range("l1_ratio", f64::NAN, 0.0, 1.0, "in [0, 1]").is_err());
        assert!(ensure_in_range("l1_ratio", 0.5, 0.0, 1.0, "in [0, 1]").is_ok());
    }
}
