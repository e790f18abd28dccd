//! Property tests of the solvers: `docs/algorithms.md 11`, properties 1-7, 9-13 and 16.
//! Strategies yield (shape, seed) and build matrices from the seed, so shrinking stays cheap.

mod common;

use faer::{Mat, MatRef, Par};
use nmf::init::mt19937::RandomState;
use nmf::prelude::*;
use proptest::prelude::*;

const BETAS: [f64; 8] = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0];

fn rand_mat(r: &mut RandomState, n: usize, m: usize, lo: f64, hi: f64) -> Mat<f64> {
    Mat::from_fn(n, m, |_, _| lo + (hi - lo) * r.random_sample())
}

/// A well-conditioned problem: rank-k data plus small noise, positive entries.
fn problem(n: usize, m: usize, k: usize, seed: u64) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let mut r = RandomState::new(seed as u32);
    let a = rand_mat(&mut r, n, k, 0.2, 1.0);
    let b = rand_mat(&mut r, k, m, 0.2, 1.0);
    let x = &a * &b + rand_mat(&mut r, n, m, 0.0, 0.05);
    let w0 = rand_mat(&mut r, n, k, 0.1, 1.0);
    let h0 = rand_mat(&mut r, k, m, 0.1, 1.0);
    (x, w0, h0)
}

fn dims() -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (2usize..=10, 2usize..=10, 1usize..=4, 0u64..100_000)
}

fn penalties() -> impl Strategy<Value = Regularization> {
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

fn nonneg_finite(a: MatRef<'_, f64>) -> bool {
    (0..a.ncols()).all(|j| (0..a.nrows()).all(|i| a[(i, j)].is_finite() && a[(i, j)] >= 0.0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::cases(48)))]

    /// Properties 1-3: nonnegative finite outputs, shapes, n_iter bounds and the mu cadence,
    /// reconstruction_err = sqrt(2 D).
    #[test]
    fn outputs_shapes_and_reported_error(
        (n, m, k, seed) in dims(), bi in 0usize..BETAS.len(), use_mu in any::<bool>(), reg in penalties(),
        tol in prop_oneof![Just(0.0), Just(1e-4), Just(1e-2)],
    ) {
        let (x, _, _) = problem(n, m, k, seed);
        let (solver, loss) = if use_mu { (SolverKind::Mu, Loss::Beta(BETAS[bi])) } else { (SolverKind::Cd, Loss::Frobenius) };
        let model = Nmf::params(k).solver(solver).loss(loss).regularization(reg).tol(tol).max_iter(37).seed(seed)
            .fit(x.as_ref()).unwrap();
        prop_assert_eq!(model.w().shape(), (n, k));
        prop_assert_eq!(model.h().shape(), (k, m));
        prop_assert!(nonneg_finite(model.w()) && nonneg_finite(model.h()));
        let r = model.report();
        prop_assert!(r.n_iter >= 1 && r.n_iter <= 37);
        if use_mu && tol > 0.0 {
            prop_assert!(r.n_iter % 10 == 0 || r.n_iter == 37, "n_iter {}", r.n_iter);
        }
        let d = nmf::loss::beta_divergence(x.as_ref(), model.w(), model.h(), loss, Par::Seq).unwrap();
        prop_assert!((r.reconstruction_err - (2.0 * d.max(0.0)).sqrt()).abs() <= 1e-12 * (1.0 + r.reconstruction_err));
        let w = model.transform(x.as_ref()).unwrap();
        prop_assert!(nonneg_finite(w.as_ref()));
    }

    /// Property 4: same data, parameters and seed give identical bits.
    #[test]
    fn determinism((n, m, k, seed) in dims(), use_mu in any::<bool>(), shuffle in any::<bool>()) {
        let (x, _, _) = problem(n, m, k, seed);
        let p = Nmf::params(k)
            .solver(if use_mu { SolverKind::Mu } else { SolverKind::Cd })
            .init(Init::Random).shuffle(shuffle && !use_mu).seed(seed).max_iter(25);
        let (a, b) = (p.fit(x.as_ref()).unwrap(), p.fit(x.as_ref()).unwrap());
        prop_assert!(a.w() == b.w() && a.h() == b.h());
    }

    // Properties 6 and 7 (every MU half-step and every cd sweep is non-increasing) test
    // crate-private steps: they live in nmf-solvers (`mu.rs`, `cd.rs` unit tests).

    /// Property 9: at convergence (cd, tol 1e-8) the KKT residual is tiny against its start.
    #[test]
    fn kkt_at_convergence((n, m, k, seed) in dims(), reg in penalties()) {
        // A penalty on one factor only has no minimiser (W → W/c, H → cH lowers it forever), so
        // the KKT point exists only with penalties on both factors or on neither.
        let reg = Regularization { alpha_h: nmf::AlphaH::Same, ..reg };
        let (x, w0, h0) = problem(n, m, k, seed);
        let model = Nmf::params(k).regularization(reg).tol(1e-8).max_iter(5000)
            .init(Init::Custom { w: w0.clone(), h: h0.clone() }).fit(x.as_ref()).unwrap();
        let p = reg.scaled(n, m);
        let kkt = |w: MatRef<'_, f64>, h: MatRef<'_, f64>| {
            let mut gw = Mat::zeros(n, k);
            let mut gh = Mat::zeros(k, m);
            nmf::loss::gradient_into(gw.as_mut(), gh.as_mut(), x.as_ref(), w, h, Loss::Frobenius, &p, Par::Seq).unwrap();
            let mut s = 0.0;
            for (f, g) in [(w, gw.as_ref()), (h, gh.as_ref())] {
                for j in 0..f.ncols() { for i in 0..f.nrows() { s += f[(i, j)].min(g[(i, j)]).powi(2); } }
            }
            s.sqrt()
        };
        // HALS can crawl on degenerate problems; the property is about a converged fit.
        prop_assume!(model.report().stop_reason == StopReason::Converged);
        let (start, end) = (kkt(w0.as_ref(), h0.as_ref()), kkt(model.w(), model.h()));
        prop_assert!(end <= 1e-4 * start, "KKT {end:e} vs start {start:e} after {} iterations", model.report().n_iter);
    }

    /// Property 10: transform(X_train) is close to the fitted W at a tight tolerance.
    #[test]
    fn transform_of_training_data_is_close_to_w((n, m, k, seed) in dims(), use_mu in any::<bool>()) {
        // Well-posed problems only: k well below min(n, m) (near-exact, overparameterised fits make
        // MU crawl, and its relative stopping rule then stops far from the optimum).
        let k = k.min(n.min(m) / 2).max(1);
        let (x, w0, h0) = problem(n, m, k, seed);
        let (solver, tol, slack) = if use_mu { (SolverKind::Mu, 1e-8, 1e-3) } else { (SolverKind::Cd, 1e-10, 1e-6) };
        let model = Nmf::params(k).solver(solver).tol(tol).max_iter(20_000)
            .init(Init::Custom { w: w0, h: h0 }).fit(x.as_ref()).unwrap();
        prop_assume!(model.report().stop_reason == StopReason::Converged);
        // Compare reconstructions (W itself is not unique when H is rank deficient).
        let w = model.transform(x.as_ref()).unwrap();
        let a = model.inverse_transform(w.as_ref()).unwrap();
        let b = model.inverse_transform(model.w()).unwrap();
        let scale = x.norm_max();
        prop_assert!((&a - &b).norm_max() <= slack * scale + 1e-3 * (&x - &b).norm_max(),
            "{:e} vs scale {scale}", (&a - &b).norm_max());
    }

    /// Property 11: scaling X by c scales both factors by sqrt(c) (custom init scaled alike),
    /// with the same number of iterations, for every solver and β.
    #[test]
    fn scaling_equivariance((n, m, k, seed) in dims(), bi in 0usize..BETAS.len(), use_mu in any::<bool>()) {
        let (x, w0, h0) = problem(n, m, k, seed);
        let c = 4.0;
        let s = 2.0;
        let (solver, loss) = if use_mu { (SolverKind::Mu, Loss::Beta(BETAS[bi])) } else { (SolverKind::Cd, Loss::Frobenius) };
        let fit = |x: &Mat<f64>, w: Mat<f64>, h: Mat<f64>| Nmf::params(k).solver(solver).loss(loss).tol(1e-4)
            .max_iter(60).init(Init::Custom { w, h }).fit(x.as_ref()).unwrap();
        let a = fit(&x, w0.clone(), h0.clone());
        let scaled = |m: &Mat<f64>, f: f64| Mat::from_fn(m.nrows(), m.ncols(), |i, j| f * m[(i, j)]);
        let b = fit(&scaled(&x, c), scaled(&w0, s), scaled(&h0, s));
        prop_assert_eq!(a.report().n_iter, b.report().n_iter);
        let dw = (scaled(&a.w().to_owned(), s) - b.w()).norm_max() / b.w().norm_max().max(1e-300);
        let dh = (scaled(&a.h().to_owned(), s) - b.h()).norm_max() / b.h().norm_max().max(1e-300);
        prop_assert!(dw <= 1e-10 && dh <= 1e-10, "{dw:e} {dh:e}");
    }

    /// Property 12: permuting the rows of X (and of W0) permutes the rows of W, H unchanged.
    #[test]
    fn row_permutation((n, m, k, seed) in dims(), use_mu in any::<bool>()) {
        let (x, w0, h0) = problem(n, m, k, seed);
        let perm = RandomState::new(seed as u32 + 1).permutation(n);
        let px = Mat::from_fn(n, m, |i, j| x[(perm[i], j)]);
        let pw0 = Mat::from_fn(n, k, |i, j| w0[(perm[i], j)]);
        let solver = if use_mu { SolverKind::Mu } else { SolverKind::Cd };
        let fit = |x: &Mat<f64>, w: Mat<f64>| Nmf::params(k).solver(solver).tol(0.0).max_iter(30)
            .init(Init::Custom { w, h: h0.clone() }).fit(x.as_ref()).unwrap();
        let (a, b) = (fit(&x, w0), fit(&px, pw0));
        let aw = Mat::from_fn(n, k, |i, j| a.w()[(perm[i], j)]);
        prop_assert!((&aw - b.w()).norm_max() <= 1e-10 * (1.0 + aw.norm_max()));
        prop_assert!((a.h() - b.h()).norm_max() <= 1e-10 * (1.0 + a.h().norm_max()));
    }

    /// Property 16: multiplicative updates never move a zero, so the zero pattern only grows.
    #[test]
    fn mu_zero_locking((n, m, k, seed) in dims(), bi in 0usize..BETAS.len()) {
        let (x, mut w0, mut h0) = problem(n, m, k, seed);
        w0[(0, 0)] = 0.0;
        h0[(k - 1, m - 1)] = 0.0;
        let model = Nmf::params(k).solver(SolverKind::Mu).loss(Loss::Beta(BETAS[bi])).tol(0.0).max_iter(20)
            .init(Init::Custom { w: w0.clone(), h: h0.clone() }).fit(x.as_ref()).unwrap();
        for (a, b) in [(w0.as_ref(), model.w()), (h0.as_ref(), model.h())] {
            for j in 0..a.ncols() { for i in 0..a.nrows() {
                if a[(i, j)] == 0.0 { prop_assert_eq!(b[(i, j)], 0.0); }
            }}
        }
        let warned = model.report().warnings.iter().any(|w| matches!(w, nmf::FitWarning::MuZerosInInit { zeros: 2 }));
        prop_assert!(warned, "missing MuZerosInInit warning");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::cases(16)))]

    /// Property 13: fitting Xᵀ gives (Hᵀ, Wᵀ) up to convergence error (well-conditioned data).
    #[test]
    fn transposition(n in 6usize..=12, m in 6usize..=12, k in 1usize..=3, seed in 0u64..100_000, use_mu in any::<bool>()) {
        let mut r = RandomState::new(seed as u32);
        let a = rand_mat(&mut r, n, k, 0.5, 1.5);
        let b = rand_mat(&mut r, k, m, 0.5, 1.5);
        let x = &a * &b + rand_mat(&mut r, n, m, 0.0, 1e-3);
        let xt = x.transpose().to_owned();
        let solver = if use_mu { SolverKind::Mu } else { SolverKind::Cd };
        let p = Nmf::params(k).solver(solver).init(Init::Nndsvd).tol(1e-8).max_iter(20_000);
        let (f, g) = (p.fit(x.as_ref()).unwrap(), p.fit(xt.as_ref()).unwrap());
        let (ef, eg) = (f.report().reconstruction_err, g.report().reconstruction_err);
        let fx = f.w() * f.h();
        let gx = g.w() * g.h();
        let d = (&fx - gx.transpose()).norm_max();
        // Errors agree to 1e-6 relative (plus an absolute floor for near-exact fits).
        prop_assert!((ef - eg).abs() <= 1e-6 * ef.max(eg) + 1e-6 * x.norm_l2(), "errors {ef} vs {eg}");
        prop_assert!(d <= 1e-4 * x.norm_max() + 10.0 * ef.max(eg), "reconstructions differ by {d:e}");
    }
}

/// The validation error inside `e`, however many layers wrap it (fit reports initialisation
/// problems as `NmfError::Init`, which may itself carry a `CoreError`).
fn core_error(e: &nmf::NmfError) -> Option<&nmf::CoreError> {
    match e {
        nmf::NmfError::Core(c) | nmf::NmfError::Init(nmf::init::InitError::Core(c)) => Some(c),
        _ => None,
    }
}

#[test]
fn invalid_inputs_are_typed_errors() {
    use nmf::CoreError;
    use nmf::NmfError;
    use nmf::init::InitError;
    let x = Mat::<f64>::from_fn(4, 3, |i, j| (i + j) as f64);
    let err = |p: nmf::NmfParams<f64>| p.fit(x.as_ref()).expect_err("must be refused");
    // Parameter errors name the parameter as the builder spells it.
    let param = |p: nmf::NmfParams<f64>| match core_error(&err(p)) {
        Some(CoreError::InvalidParam { name, .. }) => *name,
        other => panic!("expected InvalidParam, got {other:?}"),
    };
    assert_eq!(param(Nmf::params(0)), "n_components");
    assert_eq!(param(Nmf::params(2).max_iter(0)), "max_iter");
    assert_eq!(param(Nmf::params(2).tol(-1.0)), "tol");
    assert_eq!(param(Nmf::params(2).tol(f64::NAN)), "tol");
    assert_eq!(param(Nmf::params(2).alpha_w(-0.1)), "alpha_w");
    assert_eq!(param(Nmf::params(2).l1_ratio(2.0)), "l1_ratio");
    assert_eq!(param(Nmf::params(2).kkt_tol(0.0)), "kkt_tol");
    assert_eq!(
        param(
            Nmf::params(2)
                .loss(Loss::Beta(f64::INFINITY))
                .solver(SolverKind::Mu)
        ),
        "beta_loss"
    );
    let e = err(Nmf::params(2).loss(Loss::KullbackLeibler));
    assert!(
        matches!(e, NmfError::SolverLoss { solver: "cd", .. }),
        "cd with KL must be refused: {e:?}"
    );
    // X has a zero at (0, 0): undefined for beta <= 0.
    let e = err(Nmf::params(2)
        .solver(SolverKind::Mu)
        .loss(Loss::ItakuraSaito));
    assert!(
        matches!(
            core_error(&e),
            Some(CoreError::ZerosWithNonPositiveBeta { row: 0, col: 0, .. })
        ),
        "{e:?}"
    );
    let e = err(Nmf::params(4).init(Init::Nndsvd));
    assert!(
        matches!(
            e,
            NmfError::Init(InitError::RankTooLarge { k: 4, max: 3, .. })
        ),
        "k > min(n, m) with nndsvd: {e:?}"
    );
    let e = err(Nmf::params(2).compat(Compat::Sklearn).seed(1 << 33));
    assert!(
        matches!(e, NmfError::Init(InitError::SeedOutOfRange { seed }) if seed == 1 << 33),
        "{e:?}"
    );
    // Negative X with a custom init (scikit-learn accepts it silently).
    let mut neg = x.clone();
    neg[(0, 0)] = -1.0;
    let custom = Init::Custom {
        w: Mat::from_fn(4, 2, |_, _| 1.0),
        h: Mat::from_fn(2, 3, |_, _| 1.0),
    };
    let e = Nmf::params(2)
        .init(custom.clone())
        .fit(neg.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            core_error(&e),
            Some(CoreError::Negative {
                what: "X",
                row: 0,
                col: 0,
                ..
            })
        ),
        "{e:?}"
    );
    // NaN in a custom factor (scikit-learn accepts it silently).
    let mut nan_h = Mat::from_fn(2, 3, |_, _| 1.0);
    nan_h[(1, 1)] = f64::NAN;
    let e = Nmf::params(2)
        .init(Init::Custom {
            w: Mat::from_fn(4, 2, |_, _| 1.0),
            h: nan_h,
        })
        .fit(x.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            core_error(&e),
            Some(CoreError::NonFinite {
                what: "H",
                row: 1,
                col: 1,
                ..
            })
        ),
        "{e:?}"
    );
    // Negative X and wrong feature count in transform; wrong k in inverse_transform.
    let model = Nmf::params(2).fit(x.as_ref()).unwrap();
    let e = model.transform(neg.as_ref()).unwrap_err();
    assert!(
        matches!(core_error(&e), Some(CoreError::Negative { what: "X", .. })),
        "{e:?}"
    );
    let e = model
        .transform(Mat::<f64>::zeros(2, 4).as_ref())
        .unwrap_err();
    assert!(
        matches!(
            core_error(&e),
            Some(CoreError::ShapeMismatch {
                dim: "columns",
                expected: 3,
                got: 4,
                ..
            })
        ),
        "{e:?}"
    );
    let e = model
        .inverse_transform(Mat::<f64>::zeros(2, 3).as_ref())
        .unwrap_err();
    assert!(
        matches!(
            core_error(&e),
            Some(CoreError::ShapeMismatch {
                what: "W",
                dim: "columns",
                expected: 2,
                got: 3
            })
        ),
        "{e:?}"
    );
}

#[test]
fn all_zero_data_stops_cleanly() {
    let x = Mat::<f64>::zeros(5, 4);
    for solver in [SolverKind::Cd, SolverKind::Mu] {
        let model = Nmf::params(2)
            .solver(solver)
            .init(Init::Random)
            .fit(x.as_ref())
            .unwrap();
        assert!(nonneg_finite(model.w()) && nonneg_finite(model.h()));
        assert_eq!(model.report().reconstruction_err, 0.0);
    }
}

#[test]
fn observer_cancel_and_time_limit_stop_the_loop() {
    let (x, _, _) = problem(8, 7, 2, 1);
    let model = Nmf::params(2)
        .tol(0.0)
        .fit_with(x.as_ref(), &mut |i| {
            if i.iter == 3 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(
        (model.report().n_iter, model.report().stop_reason),
        (3, StopReason::Observer)
    );
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let model = Nmf::params(2).cancel_flag(flag).fit(x.as_ref()).unwrap();
    assert_eq!(
        (model.report().n_iter, model.report().stop_reason),
        (0, StopReason::Cancelled)
    );
    let model = Nmf::params(2)
        .max_time(std::time::Duration::ZERO)
        .fit(x.as_ref())
        .unwrap();
    assert_eq!(model.report().stop_reason, StopReason::Timeout);
    let model = Nmf::params(2)
        .tol(0.0)
        .max_iter(5000)
        .kkt_tol(1e-3)
        .fit(x.as_ref())
        .unwrap();
    assert_eq!(model.report().stop_reason, StopReason::KktConverged);
}
