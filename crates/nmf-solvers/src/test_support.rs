//! Problems and tolerances shared by the solvers' property tests.

use faer::{Mat, MatRef, Par};
use nmf_core::{Loss, Regularization};
use nmf_init::mt19937::RandomState;
use proptest::prelude::*;

/// Slack for "non-increasing": 1e-12 relative, plus the absolute rounding error of evaluating a
/// divergence as a sum of terms of size x^β, |log x| and 1 (matters only when the objective is
/// tiny next to those terms, e.g. a near-exact fit).
pub fn slack(prev: f64, x: &Mat<f64>, beta: f64) -> f64 {
    let mut scale = 0.0;
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            let v = x[(i, j)];
            scale += v.powf(beta).abs() + v.ln().abs() + v * v + 1.0;
        }
    }
    1e-12 * prev.abs() + 16.0 * f64::EPSILON * scale
}

fn rand_mat(r: &mut RandomState, n: usize, m: usize, lo: f64, hi: f64) -> Mat<f64> {
    Mat::from_fn(n, m, |_, _| lo + (hi - lo) * r.random_sample())
}

/// A well-conditioned problem: rank-k data plus small noise, positive entries; X, W0, H0.
pub fn problem(n: usize, m: usize, k: usize, seed: u64) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let mut r = RandomState::new(seed as u32);
    let a = rand_mat(&mut r, n, k, 0.2, 1.0);
    let b = rand_mat(&mut r, k, m, 0.2, 1.0);
    let x = &a * &b + rand_mat(&mut r, n, m, 0.0, 0.05);
    let w0 = rand_mat(&mut r, n, k, 0.1, 1.0);
    let h0 = rand_mat(&mut r, k, m, 0.1, 1.0);
    (x, w0, h0)
}

/// (n, m, k, seed) of small problems.
pub fn dims() -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (2usize..=10, 2usize..=10, 1usize..=4, 0u64..100_000)
}

/// Penalties from none to moderate.
pub fn penalties() -> impl Strategy<Value = Regularization> {
    (
        prop_oneof![Just(0.0), 0.0f64..0.1],
        prop_oneof![Just(0.0), 0.0f64..0.1],
        0.0f64..=1.0,
    )
        .prop_map(|(aw, ah, l1)| Regularization {
            alpha_w: aw,
            alpha_h: ah.into(),
            l1_ratio: l1,
        })
}

/// The penalised objective with scikit-learn's scaling.
pub fn objective(
    x: MatRef<'_, f64>,
    w: MatRef<'_, f64>,
    h: MatRef<'_, f64>,
    l: Loss,
    reg: &Regularization,
) -> f64 {
    let p = reg.scaled(x.nrows(), x.ncols());
    nmf_core::loss::objective(x, w, h, l, &p, Par::Seq).unwrap()
}
