//! Agreement between fits, and the parts-based quality of a basis.

use faer::{Mat, MatRef};
use nmf_core::{CoreError, Float};

use crate::sparseness;

/// Cosine similarity between the rows of `a` (k1 x m) and of `b` (k2 x m); 0 for a zero row.
pub fn cosine_similarity<T: Float>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
) -> Result<Mat<f64>, CoreError> {
    nmf_core::check::ensure_shape("second basis", b, b.nrows(), a.ncols())?;
    let norm = |m: MatRef<'_, T>, i: usize| {
        m.row(i)
            .iter()
            .map(|v| v.to_f64() * v.to_f64())
            .sum::<f64>()
            .sqrt()
    };
    let na: Vec<f64> = (0..a.nrows()).map(|i| norm(a, i)).collect();
    let nb: Vec<f64> = (0..b.nrows()).map(|i| norm(b, i)).collect();
    Ok(Mat::from_fn(a.nrows(), b.nrows(), |i, j| {
        let dot: f64 = (0..a.ncols())
            .map(|c| a[(i, c)].to_f64() * b[(j, c)].to_f64())
            .sum();
        let d = na[i] * nb[j];
        if d > 0.0 { dot / d } else { 0.0 }
    }))
}

/// The best one-to-one matching of components between two fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Matching {
    /// `pairs[i]` is the component of the second fit matched to component i of the first.
    pub pairs: Vec<usize>,
    /// Cosine similarity of each matched pair.
    pub similarities: Vec<f64>,
    /// Mean matched similarity: 1 for identical bases up to order.
    pub mean: f64,
}

/// Matches the rows of `a` to rows of `b` (same k) maximising the total cosine similarity
/// (Hungarian algorithm, `pathfinding::kuhn_munkres` on similarities scaled to integers).
pub fn match_components<T: Float>(
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
) -> Result<Matching, CoreError> {
    if a.nrows() != b.nrows() || a.nrows() == 0 {
        return Err(CoreError::invalid(
            "bases",
            format!("{} and {} components", a.nrows(), b.nrows()),
            "the same nonzero number of components",
        ));
    }
    let c = cosine_similarity(a, b)?;
    let k = a.nrows();
    let scale = 1e12;
    let weights =
        pathfinding::matrix::Matrix::from_fn(k, k, |(i, j)| (c[(i, j)] * scale).round() as i64);
    let (_, pairs) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
    let similarities: Vec<f64> = pairs.iter().enumerate().map(|(i, &j)| c[(i, j)]).collect();
    let mean = similarities.iter().sum::<f64>() / k as f64;
    Ok(Matching {
        pairs,
        similarities,
        mean,
    })
}

/// Amari-type distance between two bases: `1/(2k)·[Σ_i (1 − max_j |c_ij|) + Σ_j (1 − max_i
/// |c_ij|)]` on the cosine similarities; 0 iff every component of each fit has an exact
/// (up to scale) counterpart in the other, at most 1.
pub fn amari_distance<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> Result<f64, CoreError> {
    let c = cosine_similarity(a, b)?;
    let (k1, k2) = c.shape();
    if k1 == 0 || k2 == 0 {
        return Err(CoreError::invalid(
            "bases",
            0,
            "at least one component each",
        ));
    }
    let rows: f64 = (0..k1)
        .map(|i| 1.0 - (0..k2).map(|j| c[(i, j)].abs()).fold(0.0, f64::max))
        .sum();
    let cols: f64 = (0..k2)
        .map(|j| 1.0 - (0..k1).map(|i| c[(i, j)].abs()).fold(0.0, f64::max))
        .sum();
    Ok((rows / k1 as f64 + cols / k2 as f64) / 2.0)
}

/// How parts-based a basis (rows = components, e.g. basis images) is.
#[derive(Debug, Clone, PartialEq)]
pub struct PartsQuality {
    /// Per-component Hoyer sparseness.
    pub sparseness: Vec<f64>,
    /// Their summary.
    pub summary: Option<sparseness::Summary>,
    /// Mean cosine similarity between distinct components (low: parts do not overlap).
    pub mean_overlap: f64,
    /// Largest cosine similarity between distinct components.
    pub max_overlap: f64,
}

/// Parts-based quality of the rows of `h`.
pub fn parts_quality<T: Float>(h: MatRef<'_, T>) -> Result<PartsQuality, CoreError> {
    let s = sparseness::rows(h);
    let c = cosine_similarity(h, h)?;
    let k = h.nrows();
    let (mut sum, mut max, mut count) = (0.0f64, 0.0f64, 0usize);
    for i in 0..k {
        for j in 0..k {
            if i != j {
                sum += c[(i, j)];
                max = max.max(c[(i, j)]);
                count += 1;
            }
        }
    }
    Ok(PartsQuality {
        summary: sparseness::summary(&s),
        sparseness: s,
        mean_overlap: if count > 0 { sum / count as f64 } else { 0.0 },
        max_overlap: max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_recovers_a_permutation() {
        let a = faer::mat![[1.0, 0.0, 0.0], [0.0, 1.0, 0.2], [0.3, 0.0, 1.0f64]];
        let b = faer::mat![[0.3, 0.0, 1.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.2f64]];
        let m = match_components(a.as_ref(), b.as_ref()).unwrap();
        assert_eq!(m.pairs, vec![1, 2, 0]);
        assert!((m.mean - 1.0).abs() < 1e-12);
        assert!(amari_distance(a.as_ref(), b.as_ref()).unwrap() < 1e-12);
    }
}
