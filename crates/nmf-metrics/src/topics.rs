//! Topic models: how well fitted components recover planted topics, and each component's top
//! terms.
//!
//! On count data the rows of H are (unnormalised) topics over the vocabulary. Against a known
//! answer (a synthetic corpus) [`topic_recovery`] matches every planted topic to a distinct
//! fitted component, maximising the total cosine similarity (Hungarian algorithm): cosine,
//! because H's rows carry an arbitrary scale that W compensates; one-to-one, so that a single
//! fitted blend of all topics cannot score well by matching them all.

use faer::{Mat, MatRef};
use nmf_core::{CoreError, Float};

use crate::stability::cosine_similarity;

/// The planted topics matched to fitted components.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMatch {
    /// `fitted[t]`: the fitted component (row of H) matched to planted topic t.
    pub fitted: Vec<usize>,
    /// Cosine similarity of each planted topic with its match, in `[0, 1]`.
    pub cosines: Vec<f64>,
    /// Mean of `cosines`: 1 when every topic is recovered up to scale and order.
    pub mean: f64,
}

/// Matches each row of `topics` (k_t x m, the planted topics) to a distinct row of `h_fit`
/// (k_f x m, k_f ≥ k_t, the fitted components) maximising the total cosine similarity, and
/// reports the matched cosines. Extra fitted components stay unmatched; a zero row scores 0.
///
/// # Errors
/// Different numbers of terms, no topics, or fewer fitted components than topics.
pub fn topic_recovery<T: Float, U: Float>(
    h_fit: MatRef<'_, T>,
    topics: MatRef<'_, U>,
) -> Result<TopicMatch, CoreError> {
    let (kt, kf) = (topics.nrows(), h_fit.nrows());
    if kt == 0 || kf < kt {
        return Err(CoreError::invalid(
            "h_fit",
            format!("{kf} fitted components for {kt} topics"),
            "at least one topic and at least as many fitted components as topics",
        ));
    }
    let wide = |m: MatRef<'_, T>| Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)].to_f64());
    let topics64 = Mat::from_fn(topics.nrows(), topics.ncols(), |i, j| {
        topics[(i, j)].to_f64()
    });
    // Rows: planted topics; columns: fitted components (kuhn_munkres needs rows ≤ columns).
    let c = cosine_similarity(topics64.as_ref(), wide(h_fit).as_ref())?;
    // Integer weights for the exact algorithm; 1e12 keeps 12 digits of every cosine.
    let scale = 1e12;
    let weights =
        pathfinding::matrix::Matrix::from_fn(kt, kf, |(i, j)| (c[(i, j)] * scale).round() as i64);
    let (_, fitted) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
    let cosines: Vec<f64> = fitted.iter().enumerate().map(|(t, &j)| c[(t, j)]).collect();
    let mean = cosines.iter().sum::<f64>() / kt as f64;
    Ok(TopicMatch {
        fitted,
        cosines,
        mean,
    })
}

/// The `n` largest entries of each row of `h`, as column indices, largest first; ties go to
/// the smaller index, so the answer is deterministic. Zero entries are never listed (a row with
/// fewer than `n` positive entries gives fewer), nor are NaNs.
pub fn top_terms<T: Float>(h: MatRef<'_, T>, n: usize) -> Vec<Vec<usize>> {
    (0..h.nrows())
        .map(|i| {
            let mut idx: Vec<usize> = (0..h.ncols())
                .filter(|&j| h[(i, j)].to_f64() > 0.0)
                .collect();
            idx.sort_by(|&a, &b| {
                h[(i, b)]
                    .to_f64()
                    .total_cmp(&h[(i, a)].to_f64())
                    .then(a.cmp(&b))
            });
            idx.truncate(n);
            idx
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planted() -> Mat<f64> {
        faer::mat![
            [0.5, 0.3, 0.2, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.1, 0.6, 0.3, 0.0],
            [0.1, 0.0, 0.0, 0.0, 0.2, 0.7],
        ]
    }

    #[test]
    fn permuted_and_rescaled_topics_score_one() {
        let t = planted();
        // Rows permuted (2, 0, 1) and scaled: recovered exactly.
        let h = Mat::from_fn(3, 6, |i, j| [7.0, 0.5, 3.0][i] * t[([2, 0, 1][i], j)]);
        let m = topic_recovery(h.as_ref(), t.as_ref()).unwrap();
        assert_eq!(m.fitted, vec![1, 2, 0]);
        assert!((m.mean - 1.0).abs() < 1e-12, "{m:?}");
        // In f32 too, and with an extra (unmatched) component.
        let h32 = Mat::from_fn(4, 6, |i, j| if i < 3 { h[(i, j)] as f32 } else { 1.0 });
        let m = topic_recovery(h32.as_ref(), t.as_ref()).unwrap();
        assert_eq!(m.fitted, vec![1, 2, 0]);
        assert!((m.mean - 1.0).abs() < 1e-6);
    }

    #[test]
    fn one_blend_cannot_match_every_topic() {
        let t = planted();
        // The first row is the sum of all topics (close to each); the others are flat noise.
        let h = Mat::from_fn(3, 6, |i, j| {
            if i == 0 {
                (0..3).map(|r| t[(r, j)]).sum()
            } else {
                1.0
            }
        });
        let m = topic_recovery(h.as_ref(), t.as_ref()).unwrap();
        let mut used = m.fitted.clone();
        used.sort_unstable();
        assert_eq!(used, vec![0, 1, 2], "one-to-one");
        assert!(m.mean < 0.8, "{m:?}");
        // A zero component scores 0 for the topic it is given.
        let mut z = t.clone();
        z.row_mut(1).fill(0.0);
        let m = topic_recovery(z.as_ref(), t.as_ref()).unwrap();
        assert_eq!(m.cosines[1], 0.0);
        assert!((m.mean - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn too_few_components_or_other_vocabularies_are_errors() {
        let t = planted();
        let h = Mat::<f64>::ones(2, 6);
        assert!(topic_recovery(h.as_ref(), t.as_ref()).is_err());
        let h = Mat::<f64>::ones(3, 5);
        assert!(topic_recovery(h.as_ref(), t.as_ref()).is_err());
        assert!(topic_recovery(h.as_ref(), Mat::<f64>::zeros(0, 5).as_ref()).is_err());
    }

    #[test]
    fn top_terms_are_largest_first_ties_by_index_zeros_left_out() {
        let h = faer::mat![[0.1, 0.5, 0.5, 0.0, 0.2], [0.0, 0.0, 0.0, 0.0, 3.0f32]];
        assert_eq!(top_terms(h.as_ref(), 3), vec![vec![1, 2, 4], vec![4]]);
        assert_eq!(top_terms(h.as_ref(), 0), vec![Vec::<usize>::new(), vec![]]);
        assert_eq!(top_terms(h.as_ref(), 9)[0], vec![1, 2, 4, 0]);
    }
}
