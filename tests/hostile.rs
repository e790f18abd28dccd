//! Hostile inputs through the public API: every case returns a typed error or finite,
//! nonnegative factors — never a panic, a NaN or a hang (issue 9, first part).

mod common;

use faer::Mat;
use nmf::init::mt19937::RandomState;
use nmf::prelude::*;
use nmf::solvers::LegacySparseness;
use proptest::prelude::*;

const SPECIALS: [f32; 10] = [
    f32::NAN,
    f32::INFINITY,
    -1.0,
    0.0,
    1e-38,
    1e30,
    1e-45,
    3.0e38,
    1e-7,
    1.0,
];

fn matrix(
    n: usize,
    m: usize,
    seed: u32,
    special: Option<(usize, usize)>,
    zero_row: bool,
    low_rank: bool,
) -> Mat<f32> {
    let mut r = RandomState::new(seed);
    let mut x = if low_rank {
        let a = Mat::from_fn(n, 1, |_, _| r.random_sample() as f32);
        let b = Mat::from_fn(1, m, |_, _| r.random_sample() as f32);
        &a * &b
    } else {
        Mat::from_fn(n, m, |_, _| r.random_sample() as f32)
    };
    if zero_row {
        for j in 0..m {
            x[(0, j)] = 0.0;
        }
    }
    if let Some((at, which)) = special {
        x[(at % n, (at / n) % m)] = SPECIALS[which % SPECIALS.len()];
    }
    x
}

fn params(which: usize, k: usize, seed: u64) -> nmf::NmfParams<f32> {
    let base = Nmf::params(k)
        .max_iter(15)
        .seed(seed)
        .max_time(std::time::Duration::from_secs(20));
    match which % 9 {
        0 => base,
        1 => base.init(Init::Random).shuffle(true),
        2 => base.solver(SolverKind::Mu).init(Init::Nndsvd),
        3 => base
            .solver(SolverKind::Mu)
            .loss(Loss::KullbackLeibler)
            .init(Init::NndsvdAr),
        4 => base
            .solver(SolverKind::Mu)
            .loss(Loss::ItakuraSaito)
            .init(Init::Random),
        5 => base
            .solver(SolverKind::Mu)
            .loss(Loss::Beta(-0.5))
            .alpha_w(0.1)
            .l1_ratio(0.5),
        6 => base
            .solver(SolverKind::ProjectedGradient)
            .h_sparseness(0.7)
            .w_sparseness(0.2),
        7 => base
            .solver(SolverKind::ProjectedGradient)
            .legacy_pg(LegacySparseness::Data)
            .init(Init::Random),
        _ => base.solver(SolverKind::Opnmf).compat(Compat::Sklearn),
    }
}

fn finite_nonneg(a: faer::MatRef<'_, f32>) -> bool {
    let mut ok = true;
    a.for_each(|&v| ok &= v.is_finite() && v >= 0.0);
    ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::cases(192)))]

    #[test]
    fn fit_and_transform_never_panic(
        n in 1usize..7, m in 1usize..7, k in 1usize..9, seed in 0u32..1000,
        special in prop::option::of((0usize..64, 0usize..10)), zero_row in any::<bool>(),
        low_rank in any::<bool>(), which in 0usize..9,
    ) {
        let x = matrix(n, m, seed, special, zero_row, low_rank);
        let p = params(which, k, seed as u64);
        match p.fit(x.as_ref()) {
            Ok(model) => {
                prop_assert!(finite_nonneg(model.w()) && finite_nonneg(model.h()), "{which}: non-finite or negative factors");
                // +∞ only where it is exact: β < 0 with a zero of WH.
                let err = model.report().reconstruction_err;
                prop_assert!(err.is_finite() || (err == f64::INFINITY && model.report().loss.beta() < 0.0), "error {err}");
                if let Ok(w) = model.transform(x.as_ref()) {
                    prop_assert!(finite_nonneg(w.as_ref()), "{which}: transform gave non-finite or negative values");
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn metrics_never_panic(n in 1usize..7, k in 1usize..5, seed in 0u32..1000, special in prop::option::of((0usize..64, 0usize..10))) {
        let w = matrix(n, k, seed, special, false, false);
        let _ = nmf::metrics::sparseness::rows(w.as_ref());
        let labels = nmf::metrics::cluster::labels(w.as_ref());
        if let Ok(c) = nmf::metrics::cluster::consensus(&[labels.clone(), labels.clone()]) {
            let _ = nmf::metrics::cluster::cophenetic_correlation(c.as_ref());
            prop_assert!((0.0..=1.0).contains(&nmf::metrics::cluster::dispersion(c.as_ref())));
        }
        let _ = nmf::metrics::stability::match_components(w.transpose(), w.transpose());
        let _ = nmf::metrics::stability::amari_distance(w.transpose(), w.transpose());
    }
}
