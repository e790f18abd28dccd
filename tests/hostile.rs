//! Hostile inputs through the public API: every case returns finite, nonnegative factors or the
//! typed error its input class calls for (`docs/algorithms.md 6`) — never a panic, a NaN or a
//! hang. The metrics get the same inputs and every result is checked.

mod common;

use faer::Mat;
use nmf::init::InitError;
use nmf::init::mt19937::RandomState;
use nmf::prelude::*;
use nmf::solvers::LegacySparseness;
use nmf::{CoreError, NmfError};
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

/// Whether any entry of `a` satisfies `f`.
fn any_entry(a: faer::MatRef<'_, f32>, f: impl Fn(f32) -> bool) -> bool {
    let mut hit = false;
    a.for_each(|&v| hit |= f(v));
    hit
}

/// The error a fit of `x` with `params(which, k, _)` must return, from the input alone, in the
/// order the checks run: X's values, then zeros for β <= 0, then the initialisation's rank rule.
/// `None`: the fit must succeed, except that values near f32's range may overflow (see
/// [`may_overflow`]).
fn expected_error(x: faer::MatRef<'_, f32>, which: usize, k: usize) -> Option<&'static str> {
    let (n, m) = x.shape();
    if any_entry(x, |v| !v.is_finite()) {
        return Some("non-finite X");
    }
    if any_entry(x, |v| v < 0.0) {
        return Some("negative X");
    }
    // Cases 4 (Itakura-Saito) and 5 (β = -0.5) have β <= 0.
    if matches!(which % 9, 4 | 5) && any_entry(x, |v| v == 0.0) {
        return Some("zeros with beta <= 0");
    }
    // Cases 2 and 3 ask for the NNDSVD family explicitly; the others start randomly or from
    // `Init::Auto`, which falls back to a random start when k > min(n, m).
    if matches!(which % 9, 2 | 3) && k > n.min(m) {
        return Some("rank too large");
    }
    None
}

fn matches_class(e: &NmfError, class: &str) -> bool {
    match class {
        "non-finite X" => matches!(e, NmfError::Core(CoreError::NonFinite { what: "X", .. })),
        "negative X" => matches!(e, NmfError::Core(CoreError::Negative { what: "X", .. })),
        "zeros with beta <= 0" => {
            matches!(
                e,
                NmfError::Core(CoreError::ZerosWithNonPositiveBeta { .. })
            )
        }
        "rank too large" => matches!(e, NmfError::Init(InitError::RankTooLarge { .. })),
        _ => false,
    }
}

/// Entries this large (1e30, 3e38) can overflow f32 in W·H, in the Gram products or in the
/// initial SVD.
fn may_overflow(x: faer::MatRef<'_, f32>) -> bool {
    any_entry(x, |v| v >= 1e30)
}

/// How an overflow must be reported: a factor that became non-finite, or an SVD that could not
/// converge on the initialisation's data — never infinities in the output.
fn is_overflow_error(e: &NmfError) -> bool {
    matches!(
        e,
        NmfError::NonFinite { .. } | NmfError::Init(InitError::Svd(_))
    )
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
        let expected = expected_error(x.as_ref(), which, k);
        match p.fit(x.as_ref()) {
            Ok(model) => {
                prop_assert!(expected.is_none(), "{which}: expected {expected:?}, the fit succeeded");
                prop_assert!(finite_nonneg(model.w()) && finite_nonneg(model.h()), "{which}: non-finite or negative factors");
                prop_assert_eq!(model.w().shape(), (n, k));
                prop_assert_eq!(model.h().shape(), (k, m));
                // +∞ only where it is exact: β < 0 with a zero of WH.
                let err = model.report().reconstruction_err;
                prop_assert!(err.is_finite() || (err == f64::INFINITY && model.report().loss.beta() < 0.0), "error {err}");
                // The training data passed validation once, so transforming it can only fail by
                // overflowing.
                match model.transform(x.as_ref()) {
                    Ok(w) => {
                        prop_assert!(finite_nonneg(w.as_ref()), "{which}: transform gave non-finite or negative values");
                        prop_assert_eq!(w.shape(), (n, k));
                    }
                    Err(e) => prop_assert!(
                        may_overflow(x.as_ref()) && is_overflow_error(&e),
                        "{which}: transform of the training data failed: {e:?}"
                    ),
                }
            }
            Err(e) => match expected {
                Some(class) => prop_assert!(matches_class(&e, class), "{which}: expected {class}, got {e:?}"),
                None => prop_assert!(
                    may_overflow(x.as_ref()) && is_overflow_error(&e),
                    "{which}: valid input refused: {e:?}"
                ),
            },
        }
    }

    #[test]
    fn metrics_never_panic(n in 1usize..7, k in 1usize..5, seed in 0u32..1000, special in prop::option::of((0usize..64, 0usize..10))) {
        let w = matrix(n, k, seed, special, false, false);
        let finite = !any_entry(w.as_ref(), |v| !v.is_finite());
        let s = nmf::metrics::sparseness::rows(w.as_ref());
        prop_assert_eq!(s.len(), n);
        for (i, v) in s.iter().enumerate() {
            let row_finite = w.row(i).iter().all(|x| x.is_finite());
            // In [0, 1] for finite rows; NaN (never a panic) for a non-finite one, except that a
            // single entry has sparseness 0 by convention whatever it is.
            let ok = if k == 1 { *v == 0.0 } else if row_finite { (0.0..=1.0).contains(v) } else { v.is_nan() };
            prop_assert!(ok, "row {i}: {v}");
        }
        let labels = nmf::metrics::cluster::labels(w.as_ref());
        prop_assert_eq!(labels.len(), n);
        prop_assert!(labels.iter().all(|&l| l < k));
        // Two identical runs: a 0/1 consensus, dispersion exactly 1, cophenetic correlation 1
        // unless the distances are all equal (one label, all labels distinct, or n < 3).
        let c = nmf::metrics::cluster::consensus(&[labels.clone(), labels.clone()]).unwrap();
        prop_assert_eq!(c.shape(), (n, n));
        c.for_each(|&v| assert!(v == 0.0 || v == 1.0));
        prop_assert_eq!(nmf::metrics::cluster::dispersion(c.as_ref()), 1.0);
        let distinct = { let mut u = labels.clone(); u.sort_unstable(); u.dedup(); u.len() };
        match nmf::metrics::cluster::cophenetic_correlation(c.as_ref()) {
            Some(v) => prop_assert!((v - 1.0).abs() < 1e-12, "cophenetic {v}"),
            None => prop_assert!(n < 3 || distinct == 1 || distinct == n),
        }
        // Matching a basis with itself: every nonzero component finds itself (similarity 1), a
        // zero one scores 0; the Amari distance counts the zero components.
        let basis = w.transpose();
        let mm = nmf::metrics::stability::match_components(basis, basis).unwrap();
        let mut sorted = mm.pairs.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..k).collect::<Vec<_>>());
        let amari = nmf::metrics::stability::amari_distance(basis, basis).unwrap();
        if finite {
            let zero: Vec<bool> = (0..k).map(|r| basis.row(r).iter().all(|&v| v == 0.0)).collect();
            for (r, &sim) in mm.similarities.iter().enumerate() {
                let want = if zero[r] { 0.0 } else { 1.0 };
                prop_assert!((sim - want).abs() < 1e-9, "component {r}: similarity {sim}");
            }
            let zeros = zero.iter().filter(|&&z| z).count() as f64;
            prop_assert!((mm.mean - (k as f64 - zeros) / k as f64).abs() < 1e-9, "mean {}", mm.mean);
            prop_assert!((amari - zeros / k as f64).abs() < 1e-9, "amari {amari}");
        }
    }
}
