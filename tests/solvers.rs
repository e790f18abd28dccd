//! Solvers through the facade: scikit-learn parity (fixed trajectories, full fits, end to end,
//! the faces), transform, and the two classic questions (KL monotonicity, transform vs pinv).

mod common;

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Par};
use nmf::prelude::*;
use nmf::{FitWarning, NmfParams};
use serde_json::Value;

/// Builds parameters from a scikit-learn keyword dict (the fixtures' `params`).
fn params_from(kw: &Value, k: usize) -> NmfParams<f64> {
    let mut p = Nmf::params::<f64>(k).compat(Compat::Sklearn);
    let get = |key: &str| kw.get(key);
    if let Some(s) = get("solver") {
        p = p.solver(s.as_str().unwrap().parse().unwrap());
    }
    if let Some(b) = get("beta_loss") {
        let l = match b {
            Value::String(s) => s.parse::<Loss>().unwrap(),
            v => Loss::Beta(v.as_f64().unwrap()).canonical(),
        };
        p = p.loss(l);
    }
    if let Some(v) = get("max_iter") {
        p = p.max_iter(v.as_u64().unwrap() as usize);
    }
    if let Some(v) = get("tol") {
        p = p.tol(v.as_f64().unwrap());
    }
    if let Some(v) = get("alpha_W") {
        p = p.alpha_w(v.as_f64().unwrap());
    }
    if let Some(v) = get("alpha_H") {
        p = p.alpha_h(v.as_f64().unwrap());
    }
    if let Some(v) = get("l1_ratio") {
        p = p.l1_ratio(v.as_f64().unwrap());
    }
    if let Some(v) = get("shuffle") {
        p = p.shuffle(v.as_bool().unwrap());
    }
    if let Some(v) = get("random_state") {
        p = p.seed(v.as_u64().unwrap());
    }
    if let Some(v) = get("init") {
        p = p.init(match v.as_str().unwrap() {
            "random" => Init::Random,
            "nndsvd" => Init::Nndsvd,
            "nndsvda" => Init::NndsvdA,
            "nndsvdar" => Init::NndsvdAr,
            other => panic!("init {other}"),
        });
    }
    p
}

/// The one place that fits and compares against scikit-learn's factors.
fn check_fit(
    name: &str,
    p: NmfParams<f64>,
    x: &Mat<f64>,
    w: &Mat<f64>,
    h: &Mat<f64>,
    tol: f64,
) -> NmfModel<f64> {
    let model = p.fit(x.as_ref()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let dw = common::rel_diff(model.w(), w.as_ref());
    let dh = common::rel_diff(model.h(), h.as_ref());
    assert!(
        dw <= tol && dh <= tol,
        "{name}: W differs by {dw:e}, H by {dh:e} (tolerance {tol:e})"
    );
    model
}

/// `a·b` by the textbook triple loop in f64, independent of the library's kernels.
fn naive_product<T: nmf::Float>(a: faer::MatRef<'_, T>, b: faer::MatRef<'_, T>) -> Mat<f64> {
    assert_eq!(a.ncols(), b.nrows());
    Mat::from_fn(a.nrows(), b.ncols(), |i, j| {
        (0..a.ncols())
            .map(|t| a[(i, t)].to_f64() * b[(t, j)].to_f64())
            .sum()
    })
}

#[test]
fn fixed_iteration_trajectories_match_sklearn() {
    let fx = common::fixture("solvers.json");
    for case in fx["trajectories"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, w0, h0) = (
            common::mat(&case["X"]),
            common::mat(&case["W0"]),
            common::mat(&case["H0"]),
        );
        let p = params_from(&case["params"], w0.ncols())
            .tol(0.0)
            .init(Init::Custom { w: w0, h: h0 });
        let model = check_fit(
            name,
            p,
            &x,
            &common::mat(&case["W"]),
            &common::mat(&case["H"]),
            1e-6,
        );
        assert_eq!(
            model.report().n_iter,
            case["n_iter"].as_u64().unwrap() as usize,
            "{name}"
        );
        assert_eq!(model.report().stop_reason, StopReason::MaxIter);
        assert!(
            model
                .report()
                .warnings
                .iter()
                .all(|w| !matches!(w, FitWarning::MaxIterReached { .. }))
        );
    }
}

#[test]
fn algorithms_md_12_4_values() {
    // Rounded values of `docs/algorithms.md 12.4` (cd, X4 from W0/H0, 5 iterations), printed by
    // `python3 scripts/reference_values.py` (scikit-learn's `non_negative_factorization`).
    let fx = common::fixture("beta_divergence.json");
    let (x, w0, h0) = (
        common::mat(&fx["X4"]),
        common::mat(&fx["W0"]),
        common::mat(&fx["H0"]),
    );
    let model = Nmf::params(2)
        .init(Init::Custom { w: w0, h: h0 })
        .max_iter(5)
        .tol(0.0)
        .fit(x.as_ref())
        .unwrap();
    let w = faer::mat![
        [1.58311, 1.06075],
        [2.39862, 1.56661],
        [2.72253, 0.512568],
        [1.71194, 1.38712],
        [4.04977, 0.0]
    ];
    assert!(common::rel_diff(model.w(), w.as_ref()) < 1e-5);
    let d = model.report().reconstruction_err.powi(2) / 2.0;
    assert!((d - 22.473).abs() < 1e-3, "{d}");
}

#[test]
fn transform_solves_with_h_fixed_like_sklearn() {
    let fx = common::fixture("solvers.json");
    for case in fx["fixed_h"].as_array().unwrap() {
        let x = common::mat(&case["X"]);
        let h = common::mat(&case["H"]);
        let solver: SolverKind = case["solver"].as_str().unwrap().parse().unwrap();
        let beta = case["beta"].as_f64().unwrap();
        // A model whose H is the fixture's H: fit with H as custom init and zero iterations is
        // not possible (max_iter >= 1), so build it from a fit and compare the transform only.
        let mut p = params_from(&case["params"], h.nrows())
            .solver(solver)
            .loss(Loss::Beta(beta).canonical())
            .tol(0.0)
            .max_iter(case["max_iter"].as_u64().unwrap() as usize);
        p = p.init(Init::Custom {
            w: Mat::from_fn(x.nrows(), h.nrows(), |_, _| 1.0),
            h: h.clone(),
        });
        let model = p.fit(x.as_ref()).unwrap();
        let w = nmf::solvers::transform_with_h(model.config(), h.as_ref(), x.as_ref()).unwrap();
        let expect = common::mat(&case["W"]);
        let d = common::rel_diff(w.as_ref(), expect.as_ref());
        assert!(d < 1e-6, "{solver} beta {beta} {}: {d:e}", case["params"]);
    }
}

#[test]
fn full_default_fits_match_sklearn() {
    let fx = common::fixture("solvers.json");
    for case in fx["fits"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = common::mat(&case["X"]);
        let k = case["k"].as_u64().unwrap() as usize;
        let p = params_from(&case["params"], k);
        let model = check_fit(
            name,
            p,
            &x,
            &common::mat(&case["W"]),
            &common::mat(&case["H"]),
            1e-6,
        );
        let r = model.report();
        assert_eq!(
            r.n_iter,
            case["n_iter"].as_u64().unwrap() as usize,
            "{name}: n_iter"
        );
        let err = case["err"].as_f64().unwrap();
        assert!(
            (r.reconstruction_err - err).abs() <= 1e-6 * err.max(1e-3),
            "{name}: err {} vs {err}",
            r.reconstruction_err
        );
        if let Some(tin) = case.get("transform_in") {
            let out = model.transform(common::mat(tin).as_ref()).unwrap();
            let d = common::rel_diff(out.as_ref(), common::mat(&case["transform_out"]).as_ref());
            assert!(d < 1e-6, "{name}: transform differs by {d:e}");
            let back = model.inverse_transform(out.as_ref()).unwrap();
            let expect = naive_product(out.as_ref(), model.h());
            let d = common::rel_diff(back.as_ref(), expect.as_ref());
            assert!(
                d < 1e-14,
                "{name}: inverse_transform differs from W·H by {d:e}"
            );
        }
    }
}

#[test]
fn end_to_end_from_a_seed_matches_sklearn() {
    let fx = common::fixture("solvers.json");
    for case in fx["end_to_end"].as_array().unwrap() {
        let x = common::mat(&case["X"]);
        let kw = &case["params"];
        let k = kw["n_components"].as_u64().unwrap() as usize;
        let name = kw.to_string();
        check_fit(
            &name,
            params_from(kw, k),
            &x,
            &common::mat(&case["W"]),
            &common::mat(&case["H"]),
            1e-8,
        );
    }
}

#[test]
fn olivetti_50_iterations_match_sklearn() {
    let Some(path) = common::olivetti_path() else {
        return;
    };
    let x: Mat<f32> = nmf::io::read_npy(&path).unwrap();
    let (Some(w0p), Some(h0p)) = (
        common::large_fixture("olivetti_nndsvda_k20_seed0_W.npy"),
        common::large_fixture("olivetti_nndsvda_k20_seed0_H.npy"),
    ) else {
        return;
    };
    let w0: Mat<f32> = nmf::io::read_npy(&w0p).unwrap();
    let h0: Mat<f32> = nmf::io::read_npy(&h0p).unwrap();
    for (solver, beta) in [("cd", 2.0), ("mu", 2.0), ("mu", 1.0)] {
        let tag = format!("olivetti_k20_{solver}_beta{beta}_it50");
        let (Some(wp), Some(hp)) = (
            common::large_fixture(&format!("{tag}_W.npy")),
            common::large_fixture(&format!("{tag}_H.npy")),
        ) else {
            return;
        };
        let model = Nmf::params(20)
            .solver(solver.parse().unwrap())
            .loss(Loss::Beta(beta).canonical())
            .init(Init::Custom {
                w: w0.clone(),
                h: h0.clone(),
            })
            .max_iter(50)
            .tol(0.0)
            .par(Par::rayon(0))
            .fit(x.as_ref())
            .unwrap();
        let w: Mat<f32> = nmf::io::read_npy(&wp).unwrap();
        let h: Mat<f32> = nmf::io::read_npy(&hp).unwrap();
        let dw = common::rel_fro(
            common::widen(model.w()).as_ref(),
            common::widen(w.as_ref()).as_ref(),
        );
        let dh = common::rel_fro(
            common::widen(model.h()).as_ref(),
            common::widen(h.as_ref()).as_ref(),
        );
        assert!(dw < 1e-4 && dh < 1e-4, "{tag}: W {dw:e}, H {dh:e}");
    }
}

#[test]
fn kl_updates_decrease_monotonically() {
    // The classic question: V = arange(0.01, 1.01, 0.01) as 10 x 10, k = 6, random init; the KL
    // divergence must fall at every iteration, not alternate between two values.
    let v = Mat::from_fn(10, 10, |i, j| 0.01 * (i * 10 + j + 1) as f64);
    let mut trace = Vec::new();
    let model = Nmf::params(6)
        .solver(SolverKind::Mu)
        .loss(Loss::KullbackLeibler)
        .init(Init::Random)
        .max_iter(100)
        .tol(0.0)
        .trace_every(1)
        .fit_with(v.as_ref(), &mut |info| {
            trace.push(info.objective.unwrap());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(trace.len(), 100);
    for w in trace.windows(2) {
        assert!(
            w[1] <= w[0] * (1.0 + 1e-12),
            "KL went up: {} -> {}",
            w[0],
            w[1]
        );
    }
    // No two-value alternation: a strictly decreasing tail, not a period-2 cycle.
    assert!(trace[99] < trace[97]);
    assert!(trace[99] < trace[0]);
    assert_eq!(model.report().loss_trace.len(), 101);
}

#[test]
fn transform_is_a_nonnegative_solve_not_a_pseudo_inverse() {
    // The classic question about transform vs pinv.
    let x = faer::mat![
        [0.0, 0.0, 1.0, 1.0, 1.0],
        [0.0, 1.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0, 1.0, 0.0f64]
    ];
    let model = Nmf::params(2)
        .init(Init::Random)
        .seed(0)
        .fit(x.as_ref())
        .unwrap();
    let x_new = faer::mat![[0.0, 0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0f64]];
    let w = model.transform(x_new.as_ref()).unwrap();
    w.for_each(|&v| assert!(v >= 0.0));
    let err_nmf = (&x_new - model.inverse_transform(w.as_ref()).unwrap()).norm_l2();
    // Clipped pseudo-inverse projection: W = max(X_new · pinv(H), 0).
    let h = model.h().to_owned();
    let hht = &h * h.transpose();
    let pinv = h.transpose() * hht.as_ref().partial_piv_lu().inverse();
    let mut w_pinv = &x_new * &pinv;
    w_pinv.for_each_mut(|v| *v = v.max(0.0));
    let err_pinv = (&x_new - &w_pinv * &h).norm_l2();
    assert!(
        err_nmf <= err_pinv + 1e-9,
        "nmf {err_nmf} vs clipped pinv {err_pinv}"
    );
}

#[test]
fn inner_sweeps_lower_the_loss_per_iteration_and_keep_their_contract() {
    // A random low-rank-plus-noise problem; the same start for every run.
    let (n, m, k) = (60, 80, 6);
    let cell = |a: usize, b: usize, s: usize| ((a * 7919 + b * 104_729 + s) % 1000) as f64 / 1000.0;
    let x = Mat::from_fn(n, m, |i, j| {
        cell(i, j, 1) + (i % 5) as f64 * (j % 7) as f64 / 10.0
    });
    let w0 = Mat::from_fn(n, k, |i, t| cell(i, t, 2) + 0.1);
    let h0 = Mat::from_fn(k, m, |t, j| cell(t, j, 3) + 0.1);
    let run = |sweeps: usize, iters: usize| {
        Nmf::params(k)
            .init(Init::Custom {
                w: w0.clone(),
                h: h0.clone(),
            })
            .inner_sweeps(sweeps)
            .max_iter(iters)
            .tol(0.0)
            .fit(x.as_ref())
            .unwrap()
    };
    let errs: Vec<f64> = [1, 2, 4]
        .iter()
        .map(|&s| run(s, 5).report().reconstruction_err)
        .collect();
    assert!(
        errs[1] < errs[0] && errs[2] < errs[1],
        "errors after 5 iterations: {errs:?}"
    );
    // Still a descent method: the objective never goes up.
    let model = run(3, 20);
    let trace = &model.report().loss_trace;
    assert!(
        trace.windows(2).all(|p| p[1].1 <= p[0].1 * (1.0 + 1e-12)),
        "{trace:?}"
    );
    // One sweep is scikit-learn's algorithm, bit for bit the default.
    assert_eq!(
        run(1, 5).w(),
        Nmf::params(k)
            .init(Init::Custom {
                w: w0.clone(),
                h: h0.clone()
            })
            .max_iter(5)
            .tol(0.0)
            .fit(x.as_ref())
            .unwrap()
            .w()
    );
    for bad in [
        Nmf::params::<f64>(k).inner_sweeps(0),
        Nmf::params::<f64>(k).inner_sweeps(1001),
        Nmf::params::<f64>(k).solver(SolverKind::Mu).inner_sweeps(2),
    ] {
        let r = bad.check();
        assert!(
            matches!(
                r,
                Err(nmf::NmfError::Core(nmf::CoreError::InvalidParam {
                    name: "inner_sweeps",
                    ..
                }))
            ),
            "{r:?}"
        );
    }
}

#[test]
fn inverse_transform_reconstructs_exact_low_rank_data() {
    // X = A·B with A (8 x 2) and B (2 x 6) positive: an exact rank-2 nonnegative factorization
    // exists, so a converged k = 2 fit reproduces X, and so does the round trip through
    // transform and inverse_transform.
    let a = Mat::from_fn(8, 2, |i, r| 0.5 + ((i * 3 + r * 5) % 7) as f64 / 7.0);
    let b = Mat::from_fn(2, 6, |r, j| 0.5 + ((r * 2 + j * 3) % 5) as f64 / 5.0);
    let x = naive_product(a.as_ref(), b.as_ref());
    for solver in [SolverKind::Cd, SolverKind::Mu] {
        // NNDSVDa: no zeros in the start, which mu could never move; a fixed iteration count
        // because mu's relative stopping rule would stop it early on this slow tail.
        let model = Nmf::params(2)
            .solver(solver)
            .init(Init::NndsvdA)
            .tol(0.0)
            .max_iter(20_000)
            .fit(x.as_ref())
            .unwrap();
        let fitted = model.inverse_transform(model.w()).unwrap();
        let d = common::rel_diff(fitted.as_ref(), x.as_ref());
        assert!(d < 1e-4, "{solver}: fitted W·H differs from X by {d:e}");
        let w = model.transform(x.as_ref()).unwrap();
        let back = model.inverse_transform(w.as_ref()).unwrap();
        let d = common::rel_diff(back.as_ref(), x.as_ref());
        assert!(
            d < 1e-4,
            "{solver}: transform round trip differs from X by {d:e}"
        );
        // inverse_transform is exactly W·H, whatever W is (no nonnegativity check either).
        let any_w = Mat::from_fn(3, 2, |i, r| (i as f64 - 1.0) * (r as f64 + 0.5));
        let got = model.inverse_transform(any_w.as_ref()).unwrap();
        let want = naive_product(any_w.as_ref(), model.h());
        assert!(common::rel_diff(got.as_ref(), want.as_ref()) < 1e-14);
    }
}
