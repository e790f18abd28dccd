//! Sparseness you can dial in: Hoyer's nmfsc, the legacy scikit-learn 0.15 solver, and OPNMF,
//! against the reference numbers of `docs/algorithms.md` 12.6, 12.8 and 12.9, and on the faces.

mod common;

use faer::{Mat, MatRef, Par};
use nmf::init::mt19937::RandomState;
use nmf::prelude::*;
use nmf::solvers::{LegacySparseness, OpnmfNorm};
use nmf::sparseness::hoyer;
use nmf::{CoreError, NmfError};

fn x3() -> Mat<f64> {
    faer::mat![
        [1.0, 2.0, 0.0, 3.0, 1.0],
        [0.0, 1.0, 4.0, 1.0, 2.0],
        [3.0, 0.0, 1.0, 2.0, 0.0],
        [2.0, 2.0, 2.0, 0.0, 1.0]
    ]
}

fn assert_close(name: &str, got: MatRef<'_, f64>, want: MatRef<'_, f64>, tol: f64) {
    assert_eq!(got.shape(), want.shape(), "{name}: shape");
    for j in 0..got.ncols() {
        for i in 0..got.nrows() {
            let (a, b) = (got[(i, j)], want[(i, j)]);
            assert!(
                (a - b).abs() <= tol * (1.0 + b.abs()),
                "{name}[{i},{j}]: {a} vs {b}\n{got:?}"
            );
        }
    }
}

/// `docs/algorithms.md 12.8`: nmfsc on V = X3 (literature convention, so X = X3ᵀ here) from fixed
/// starts. The expected objectives and factors are printed by `python3 scripts/nmfsc_reference.py`
/// (a NumPy transcription of Hoyer's `nmfsc.m` with these starts).
#[test]
fn nmfsc_reproduces_reference_trajectories() {
    // Hoyer's W (4 x 2) and H (2 x 5) starts; ours are their transposes (H = Wᵀ_lit, W = Hᵀ_lit).
    let w_lit = Mat::from_fn(4, 2, |i, r| {
        0.5 + (((r + 2) * (i + 1)) % 5) as f64 / 5.0 + 0.01 * i as f64
    });
    let h_lit = Mat::from_fn(2, 5, |r, j| {
        0.5 + (((r + 1) * (j + 2)) % 7) as f64 / 7.0 + 0.01 * j as f64
    });
    let x = x3().transpose().to_owned();
    // (h_sparseness = Hoyer's sW, w_sparseness = Hoyer's sH, f(0), f(1), f(10), f(50))
    let cases = [
        (Some(0.5), None, [0.85537, 0.339842, 0.303253, 0.303159]),
        (None, Some(0.6), [4.55619, 0.837534, 0.336952, 0.336951]),
        (
            Some(0.5),
            Some(0.6),
            [1.81417, 0.428972, 0.395917, 0.395739],
        ),
    ];
    for (hs, ws, f) in cases {
        let mut p = Nmf::params(2)
            .solver(SolverKind::ProjectedGradient)
            .init(Init::Custom {
                w: h_lit.transpose().to_owned(),
                h: w_lit.transpose().to_owned(),
            })
            .tol(0.0)
            .max_iter(50);
        if let Some(s) = hs {
            p = p.h_sparseness(s);
        }
        if let Some(s) = ws {
            p = p.w_sparseness(s);
        }
        let model = p.fit(x.as_ref()).unwrap();
        let trace = &model.report().loss_trace;
        // Objective reported in the data's scale: Hoyer's is on X / max(X) = X / 4.
        // A run that stops at a constrained stationary point (step floor) keeps its last value.
        let at = |it: usize| trace.iter().rev().find(|(i, _)| *i <= it).unwrap().1 / 16.0;
        assert!(model.report().n_iter == 50 || model.report().stop_reason == StopReason::StepFloor);
        for (it, want) in [0usize, 1, 10, 50].into_iter().zip(f) {
            let got = at(it);
            assert!(
                (got - want).abs() <= 1e-5 * want,
                "{hs:?}/{ws:?} f({it}) = {got}, want {want}"
            );
        }
        for w in trace.windows(2) {
            assert!(
                w[1].1 <= w[0].1 * (1.0 + 1e-12),
                "objective went up: {:?}",
                w
            );
        }
        if hs.is_some() && ws.is_some() {
            let w_lit_50 = faer::mat![
                [0.0949631, 0.759997],
                [1.17449, 0.0],
                [0.1129, 0.908058],
                [0.626763, 0.116753]
            ];
            let h_lit_50 = faer::mat![
                [0.0, 0.24305, 0.906717, 0.0, 0.34466],
                [0.654143, 0.0891903, 0.0, 0.751094, 0.0]
            ];
            // W columns carry unit norm, so H carries the data scale (x 4).
            let h_ours = Mat::from_fn(2, 4, |r, j| model.h()[(r, j)] / 4.0);
            assert_close("H (Hoyer's W)", h_ours.transpose(), w_lit_50.as_ref(), 1e-5);
            assert_close(
                "W (Hoyer's H)",
                model.w().transpose(),
                h_lit_50.as_ref(),
                1e-5,
            );
            for r in 0..2 {
                assert!((hoyer(model.h().row(r).iter().copied()) - 0.5).abs() < 1e-9);
                assert!((hoyer(model.w().col(r).iter().copied()) - 0.6).abs() < 1e-9);
                assert!((model.w().col(r).norm_l2() - 1.0).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn faces_basis_sparseness_is_dialled_in() {
    let Some(path) = common::olivetti_path() else {
        return;
    };
    let x: Mat<f32> = nmf::io::read_npy(&path).unwrap();
    let model = Nmf::params(25)
        .solver(SolverKind::ProjectedGradient)
        .h_sparseness(0.75)
        .tol(0.0)
        .max_iter(200)
        .par(Par::rayon(0))
        .fit(x.as_ref())
        .unwrap();
    for r in 0..25 {
        let s = hoyer(model.h().row(r).iter().map(|&v| v as f64));
        assert!((s - 0.75).abs() <= 1e-6, "basis face {r}: sparseness {s}");
    }
    let trace = &model.report().loss_trace;
    assert_eq!(trace.len(), 201);
    for w in trace.windows(2) {
        assert!(
            w[1].1 <= w[0].1 * (1.0 + 1e-12),
            "objective went up at {}: {} -> {}",
            w[1].0,
            w[0].1,
            w[1].1
        );
    }
    // The model still explains the faces: better than the mean face would.
    let err = model.report().reconstruction_err;
    assert!(err.is_finite() && err > 0.0);
    // transform solves the same problem: nonnegative codes.
    let codes = model.transform(x.as_ref().subrows(0, 5)).unwrap();
    codes.for_each(|&v| assert!(v >= 0.0 && v.is_finite()));
}

/// f32 data: pg's products with X run in f32 while the iterate stays f64. Both sides
/// constrained, 150 iterations from the same start: every step search still finds its step
/// (no early stop at the step floor), the sparseness is met, and the error lands where the
/// f64 fit's does.
#[test]
fn faces_pg_in_f32_follows_the_f64_fit() {
    let Some(path) = common::olivetti_path() else {
        return;
    };
    let x: Mat<f32> = nmf::io::read_npy(&path).unwrap();
    let x64 = x.as_ref().map(|&v| f64::from(v));
    let k = 20;
    let start = nmf::init::initialize(
        x64.as_ref(),
        k,
        &Init::NndsvdA,
        0,
        Compat::Sklearn,
        Par::Seq,
    )
    .unwrap();
    let (w0, h0) = (start.w, start.h);
    let start_err = (&x64 - &w0 * &h0).norm_l2();
    fn fit<T: nmf::Float>(k: usize, init: Init<T>) -> nmf::NmfParams<T> {
        Nmf::params(k)
            .solver(SolverKind::ProjectedGradient)
            .h_sparseness(0.6)
            .w_sparseness(0.3)
            .init(init)
            .tol(0.0)
            .max_iter(150)
    }
    let fit64 = fit(
        k,
        Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        },
    )
    .fit(x64.as_ref())
    .unwrap();
    let to32 = |a: &Mat<f64>| a.as_ref().map(|&v| v as f32);
    let fit32 = fit(
        k,
        Init::Custom {
            w: to32(&w0),
            h: to32(&h0),
        },
    )
    .fit(x.as_ref())
    .unwrap();
    let (r32, r64) = (fit32.report(), fit64.report());
    assert_eq!(r32.n_iter, 150, "f32 stopped early: {:?}", r32.stop_reason);
    assert_eq!(r64.n_iter, 150, "f64 stopped early: {:?}", r64.stop_reason);
    for r in 0..k {
        let s = hoyer(fit32.h().row(r).iter().map(|&v| f64::from(v)));
        assert!((s - 0.6).abs() <= 1e-5, "f32 component {r}: sparseness {s}");
        let s = hoyer(fit32.w().col(r).iter().map(|&v| f64::from(v)));
        assert!(
            (s - 0.3).abs() <= 1e-5,
            "f32 column {r} of W: sparseness {s}"
        );
    }
    let (e32, e64) = (r32.reconstruction_err, r64.reconstruction_err);
    // nndsvda's filled zeros start far from X (here ‖X − W0H0‖ ≈ 4‖X‖).
    let x_norm = x64.norm_l2();
    assert!(
        e64 < 0.25 * x_norm && e64 < start_err,
        "the f64 fit does not explain the faces: {start_err} -> {e64}, ‖X‖ = {x_norm}"
    );
    // 1.2e-6 apart when written.
    assert!(
        (e32 - e64).abs() <= 1e-4 * e64,
        "f32 error {e32} vs f64 error {e64}"
    );
}

/// scikit-learn 0.15's random init: unscaled |N(0, 1)|, W drawn before H.
fn legacy_random(n: usize, m: usize, k: usize, seed: u32) -> (Mat<f64>, Mat<f64>) {
    let mut r = RandomState::new(seed);
    let w = Mat::from_fn(n, k, |_, _| 0.0);
    let mut w = w;
    for i in 0..n {
        for j in 0..k {
            w[(i, j)] = r.standard_normal().abs();
        }
    }
    let mut h = Mat::zeros(k, m);
    for i in 0..k {
        for j in 0..m {
            h[(i, j)] = r.standard_normal().abs();
        }
    }
    (w, h)
}

#[test]
fn legacy_pg_reproduces_sklearn_0_15() {
    let x2 = faer::mat![
        [1.0, 1.0],
        [2.0, 1.0],
        [3.0, 1.2],
        [4.0, 1.0],
        [5.0, 0.8],
        [6.0, 1.0]
    ];
    let (w0, h0) = legacy_random(6, 2, 2, 0);
    // `docs/algorithms.md 12.6`. The None and Components values on X2 are published in the
    // scikit-learn 0.15 `ProjectedGradientNMF` docstring; every number of this test is printed by
    // `python3 scripts/legacy_pg_reference.py` (a NumPy transcription of 0.15's solver).
    let cases = [
        (
            LegacySparseness::None,
            13,
            0.00746795,
            faer::mat![[0.77032744, 0.11118662], [0.38526873, 0.38228063]],
        ),
        (
            LegacySparseness::Components,
            79,
            0.513284,
            faer::mat![[1.67481991, 0.29614922], [0.0, 0.4681982]],
        ),
        (
            LegacySparseness::Data,
            81,
            0.713945,
            faer::mat![[5.41506, 1.11911], [0.222986, 1.78586]],
        ),
    ];
    for (sp, n_iter, err, h) in cases {
        let model = Nmf::params(2)
            .solver(SolverKind::ProjectedGradient)
            .legacy_pg(sp)
            .init(Init::Custom {
                w: w0.clone(),
                h: h0.clone(),
            })
            .fit(x2.as_ref())
            .unwrap();
        let r = model.report();
        assert_eq!(r.n_iter, n_iter, "{sp:?}");
        assert!(
            (r.reconstruction_err - err).abs() <= 1e-5 * err,
            "{sp:?}: err {}",
            r.reconstruction_err
        );
        assert_close(&format!("{sp:?} H"), model.h(), h.as_ref(), 1e-5);
    }
    // X3 with nndsvd (0.15's default for k < n_features).
    let cases = [
        (
            LegacySparseness::None,
            20,
            3.03858,
            faer::mat![
                [0.236156, 0.797689, 2.20619, 0.235203, 1.08553],
                [1.15321, 0.546215, 0.0, 1.19489, 0.130328]
            ],
        ),
        (
            LegacySparseness::Components,
            36,
            3.07609,
            faer::mat![
                [0.0, 0.322273, 1.05442, 0.0, 0.518738],
                [0.790893, 0.355418, 0.0, 0.812869, 0.0548982]
            ],
        ),
        (
            LegacySparseness::Data,
            33,
            3.076,
            faer::mat![
                [0.4282, 1.2433, 3.40435, 0.402185, 1.67126],
                [2.49923, 1.36279, 0.55889, 2.64829, 0.562843]
            ],
        ),
    ];
    for (sp, n_iter, err, h) in cases {
        let model = Nmf::params(2)
            .solver(SolverKind::ProjectedGradient)
            .legacy_pg(sp)
            .init(Init::Nndsvd)
            .fit(x3().as_ref())
            .unwrap();
        let r = model.report();
        assert_eq!(r.n_iter, n_iter, "X3 {sp:?}");
        assert!(
            (r.reconstruction_err - err).abs() <= 2e-5 * err,
            "X3 {sp:?}: err {}",
            r.reconstruction_err
        );
        assert_close(&format!("X3 {sp:?} H"), model.h(), h.as_ref(), 1e-5);
        // transform: an exact nonnegative least-squares solve per row, so the KKT conditions of
        // min ‖X − W·H‖² over W >= 0 hold: gradient (W·H − X)·Hᵀ zero where W > 0, and
        // nonnegative where W = 0.
        let w = model.transform(x3().as_ref()).unwrap();
        let h = model.h();
        let grad = (&w * h - x3()) * h.transpose();
        let scale = x3().norm_max() * h.norm_max();
        for i in 0..w.nrows() {
            for r in 0..w.ncols() {
                let (v, g) = (w[(i, r)], grad[(i, r)]);
                assert!(v >= 0.0, "X3 {sp:?}: W[{i},{r}] = {v}");
                if v > 0.0 {
                    assert!(
                        g.abs() <= 1e-9 * scale,
                        "X3 {sp:?}: gradient {g} at W[{i},{r}] = {v}"
                    );
                } else {
                    assert!(
                        g >= -1e-9 * scale,
                        "X3 {sp:?}: gradient {g} at a zero W[{i},{r}]"
                    );
                }
            }
        }
    }
}

#[test]
fn opnmf_reproduces_the_package() {
    // opnmf(X3, 2, init="nndsvd"), columns of X3 as samples; here rows are samples, so fit X3ᵀ:
    // our H is opnmf's Wᵀ and our W is opnmf's Hᵀ.
    let xt = x3().transpose().to_owned();
    let fit = |x: &Mat<f64>, k| {
        Nmf::params(k)
            .solver(SolverKind::Opnmf)
            .opnmf_norm(OpnmfNorm::Spectral)
            .init(Init::Nndsvd)
            .tol(1e-5)
            .max_iter(50_000)
            .fit(x.as_ref())
            .unwrap()
    };
    // `docs/algorithms.md 12.9`: the published opnmf package (0.0.2, PyPI); every number of this
    // test is printed by `python3 scripts/opnmf_reference.py`, which calls that package.
    let model = fit(&xt, 2);
    let r = model.report();
    assert_eq!(r.n_iter, 181);
    assert!(
        (r.reconstruction_err - 3.13107).abs() < 1e-5,
        "{}",
        r.reconstruction_err
    );
    let w_pkg = faer::mat![
        [7.10392e-07, 0.661814],
        [0.844973, 9.58429e-17],
        [3.29842e-06, 0.64111],
        [0.435956, 0.225063]
    ];
    assert_close("opnmf W", model.h().transpose(), w_pkg.as_ref(), 1e-5);
    let h_pkg = faer::mat![
        [0.871922, 1.71689, 4.25181, 0.844982, 2.1259],
        [3.03527, 1.77375, 1.09124, 3.26766, 0.886877]
    ];
    assert_close("opnmf H", model.w().transpose(), h_pkg.as_ref(), 1e-5);
    // X3ᵀ in the package = X3 here.
    let m2 = fit(&x3(), 2);
    assert_eq!(m2.report().n_iter, 69);
    assert!((m2.report().reconstruction_err - 3.09829).abs() < 1e-5);
    let m3 = fit(&x3(), 3);
    assert_eq!(m3.report().n_iter, 273);
    assert!((m3.report().reconstruction_err - 2.1406).abs() < 1e-4);
    // transform = X_new·Hᵀ.
    let t = model.transform(xt.as_ref()).unwrap();
    assert_close("transform", t.as_ref(), model.w(), 1e-12);
}

#[test]
fn opnmf_monotone_variant_never_goes_up() {
    let mut r = RandomState::new(4);
    let x = Mat::from_fn(30, 12, |_, _| r.random_sample());
    let model = Nmf::params(4)
        .solver(SolverKind::Opnmf)
        .tol(0.0)
        .max_iter(300)
        .fit(x.as_ref())
        .unwrap();
    let trace = &model.report().loss_trace;
    for w in trace.windows(2) {
        assert!(w[1].1 <= w[0].1 * (1.0 + 1e-12), "{:?}", w);
    }
    assert!(trace.last().unwrap().1 < trace[0].1);
    // Components nearly orthonormal at convergence: HHᵀ close to diagonal.
    let h = model.h();
    let g = h * h.transpose();
    for i in 0..4 {
        for j in 0..4 {
            if i != j {
                assert!(
                    g[(i, j)].abs() < 0.2 * (g[(i, i)] * g[(j, j)]).sqrt(),
                    "{g:?}"
                );
            }
        }
    }
}

#[test]
fn sparseness_parameters_are_validated() {
    let x = x3();
    // Each refusal names the parameter (or says which solver cannot take the loss).
    let param = |p: nmf::NmfParams<f64>| match p.fit(x.as_ref()) {
        Err(NmfError::Core(CoreError::InvalidParam { name, .. })) => name,
        other => panic!("expected InvalidParam, got {other:?}"),
    };
    assert_eq!(
        param(Nmf::params(2).h_sparseness(0.5)),
        "h_sparseness",
        "cd with a sparseness target"
    );
    let pg = || Nmf::params(2).solver(SolverKind::ProjectedGradient);
    assert_eq!(param(pg().h_sparseness(1.5)), "h_sparseness");
    assert_eq!(param(pg().w_sparseness(f64::NAN)), "w_sparseness");
    assert_eq!(param(pg().alpha_w(0.1)), "alpha_w/alpha_h");
    let r = Nmf::params(2)
        .solver(SolverKind::Opnmf)
        .loss(Loss::KullbackLeibler)
        .fit(x.as_ref());
    assert!(
        matches!(
            r,
            Err(NmfError::SolverLoss {
                solver: "opnmf",
                ..
            })
        ),
        "{r:?}"
    );
}

/// Story 4: OPNMF on the faces (images as rows: H holds basis images) and on the faces
/// transposed (pixels as rows: H holds per-person image mixtures).
#[test]
fn opnmf_on_faces_and_faces_transposed() {
    let Some(path) = common::olivetti_path() else {
        return;
    };
    let x: Mat<f32> = nmf::io::read_npy(&path).unwrap();
    let xt = x.transpose().to_owned();
    for (name, data) in [("faces", &x), ("faces transposed", &xt)] {
        let model = Nmf::params(10)
            .solver(SolverKind::Opnmf)
            .tol(1e-4)
            .max_iter(60)
            .par(Par::rayon(0))
            .fit(data.as_ref())
            .unwrap();
        let r = model.report();
        for w in r.loss_trace.windows(2) {
            assert!(
                w[1].1 <= w[0].1 * (1.0 + 1e-6),
                "{name}: objective went up {:?}",
                w
            );
        }
        assert!(
            r.loss_trace.last().unwrap().1 < r.loss_trace[0].1,
            "{name}: no progress"
        );
        assert_eq!(model.h().shape(), (10, data.ncols()));
        model.h().for_each(|&v| assert!(v >= 0.0 && v.is_finite()));
        // Projective: W = X·Hᵀ, the same as transforming the training data.
        let t = model.transform(data.as_ref()).unwrap();
        let d = (0..10)
            .map(|j| {
                (0..data.nrows())
                    .map(|i| (t[(i, j)] - model.w()[(i, j)]).abs())
                    .fold(0.0f32, f32::max)
            })
            .fold(0.0f32, f32::max);
        assert!(
            d <= 1e-3 * model.w().norm_max().max(1.0),
            "{name}: transform differs by {d}"
        );
    }
}
