//! nmf-core through the facade: reference values computed by scikit-learn
//! (`tests/fixtures/beta_divergence.json`, written by `scripts/make_fixtures.py`).

mod common;

use faer::Par;
use nmf::CoreError;
use nmf::prelude::*;

#[test]
fn beta_divergence_matches_sklearn() {
    let fx = common::fixture("beta_divergence.json");
    for case in fx["cases"].as_array().unwrap() {
        let beta = case["beta"].as_f64().unwrap();
        let (x, w, h) = match case["x"].as_str().unwrap() {
            "X4" => (
                common::mat(&fx["X4"]),
                common::mat(&fx["W0"]),
                common::mat(&fx["H0"]),
            ),
            _ => (
                common::mat(&fx["X3"]),
                common::mat(&fx["Wa"]),
                common::mat(&fx["Ha"]),
            ),
        };
        let expect = case["d"].as_f64().unwrap();
        let got = nmf::loss::beta_divergence(
            x.as_ref(),
            w.as_ref(),
            h.as_ref(),
            Loss::Beta(beta),
            Par::Seq,
        )
        .unwrap();
        assert!(
            (got - expect).abs() <= 1e-10 * expect.abs(),
            "beta {beta} on {}: {got} vs scikit-learn {expect}",
            case["x"]
        );
        // And in f32, to f32 accuracy.
        let to32 =
            |a: &faer::Mat<f64>| faer::Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f32);
        let got32 = nmf::loss::beta_divergence(
            to32(&x).as_ref(),
            to32(&w).as_ref(),
            to32(&h).as_ref(),
            Loss::Beta(beta),
            Par::Seq,
        )
        .unwrap();
        assert!(
            (got32 - expect).abs() <= 1e-5 * expect.abs(),
            "f32 beta {beta}: {got32} vs {expect}"
        );
    }
}

#[test]
fn algorithms_md_table_12_1() {
    // The rounded values of `docs/algorithms.md 12.1` (6 significant digits), printed by
    // `python3 scripts/reference_values.py` (scikit-learn's `_beta_divergence`).
    let fx = common::fixture("beta_divergence.json");
    let (x, w, h) = (
        common::mat(&fx["X4"]),
        common::mat(&fx["W0"]),
        common::mat(&fx["H0"]),
    );
    let table = [
        (2.0, 91.2344, 13.5081),
        (1.0, 32.5661, 8.07045),
        (0.0, 12.9953, 5.0981),
        (0.5, 20.3059, 6.37274),
        (1.5, 53.7099, 10.3644),
        (3.0, 288.546, 24.0227),
        (-0.5, 8.51813, 4.1275),
    ];
    for (beta, d, err) in table {
        let loss = Loss::Beta(beta);
        let got =
            nmf::loss::beta_divergence(x.as_ref(), w.as_ref(), h.as_ref(), loss, Par::Seq).unwrap();
        let e = nmf::loss::reconstruction_err(x.as_ref(), w.as_ref(), h.as_ref(), loss, Par::Seq)
            .unwrap();
        assert!((got - d).abs() <= 5e-6 * d, "beta {beta}: {got} vs {d}");
        assert!(
            (e - err).abs() <= 5e-6 * err,
            "beta {beta}: err {e} vs {err}"
        );
    }
}

#[test]
fn shape_mismatch_is_an_error() {
    let x = faer::Mat::<f64>::zeros(3, 4);
    let w = faer::Mat::<f64>::zeros(3, 2);
    let h = faer::Mat::<f64>::zeros(3, 4);
    let r = nmf::loss::beta_divergence(
        x.as_ref(),
        w.as_ref(),
        h.as_ref(),
        Loss::Frobenius,
        Par::Seq,
    );
    assert!(matches!(r, Err(CoreError::ShapeMismatch { .. })), "{r:?}");
}
