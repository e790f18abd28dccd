//! One test per bug found outside the unit and property suites, named after what went wrong.

use faer::Mat;
use nmf::prelude::*;

/// A β ≠ 2 MU half-step asked for a `WH` tile larger than its scratch (found on a 20,000 x 5,000
/// f32 KL fit at k = 20: "range end index 33280 out of range for slice of length 32768"). The
/// smallest shapes whose old tile plan overflowed are 272 x 1358 (the W half-step) and
/// 1358 x 272 (the H half-step), found by replaying the old plan over all shapes up to 6,000 x
/// 25,000.
#[test]
fn mu_tile_plans_fit_their_scratch() {
    for (n, m) in [(272, 1358), (1358, 272)] {
        let x = Mat::<f32>::from_fn(n, m, |i, j| ((i * 31 + j * 17) % 23) as f32 / 23.0 + 0.05);
        for loss in [Loss::KullbackLeibler, Loss::Beta(0.5)] {
            let model = Nmf::params(5)
                .solver(SolverKind::Mu)
                .loss(loss)
                .init(Init::Random)
                .max_iter(2)
                .tol(0.0)
                .fit(x.as_ref())
                .unwrap();
            assert_eq!(model.report().n_iter, 2);
            assert!(model.report().reconstruction_err.is_finite());
        }
    }
}
