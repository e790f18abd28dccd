//! nmf-init through the facade: scikit-learn parity in `Compat::Sklearn`, properties, errors.

mod common;

use faer::{Mat, Par};
use nmf::CoreError;
use nmf::init::mt19937::RandomState;
use nmf::init::{Compat, Init, InitError, InitKind, SvdPath, initialize};
use proptest::prelude::*;

#[test]
fn mt19937_matches_numpy() {
    let fx = common::fixture("mt19937.json");
    for seed in [0u32, 42] {
        let case = &fx[seed.to_string()];
        let mut r = RandomState::new(seed);
        for u in case["uniforms"].as_array().unwrap() {
            assert_eq!(
                r.random_sample(),
                u.as_f64().unwrap(),
                "seed {seed} uniform"
            );
        }
        let mut r = RandomState::new(seed);
        for z in case["normals"].as_array().unwrap() {
            assert_eq!(
                r.standard_normal(),
                z.as_f64().unwrap(),
                "seed {seed} normal"
            );
        }
        let mut r = RandomState::new(seed);
        for p in case["permutations"].as_array().unwrap() {
            let expect: Vec<usize> = p
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(
                r.permutation(expect.len()),
                expect,
                "seed {seed} permutation"
            );
        }
    }
}

fn init_of(name: &str) -> Init<f64> {
    match name {
        "nndsvd" => Init::Nndsvd,
        "nndsvda" => Init::NndsvdA,
        "nndsvdar" => Init::NndsvdAr,
        "random" => Init::Random,
        other => panic!("unknown init {other}"),
    }
}

#[test]
fn sklearn_initialize_nmf_is_reproduced() {
    let fx = common::fixture("init.json");
    for case in fx["cases"].as_array().unwrap() {
        let x = match case["x"].as_str().unwrap() {
            "X3" => common::mat(&fx["X3"]),
            "X2" => common::mat(&fx["X2"]),
            _ => common::mat(&case["X"]),
        };
        let k = case["k"].as_u64().unwrap() as usize;
        let seed = case["seed"].as_u64().unwrap();
        let name = case["init"].as_str().unwrap();
        let f = initialize(
            x.as_ref(),
            k,
            &init_of(name),
            seed,
            Compat::Sklearn,
            Par::Seq,
        )
        .unwrap();
        let (w, h) = (common::mat(&case["W"]), common::mat(&case["H"]));
        let what = format!("{name} k={k} on {}x{}", x.nrows(), x.ncols());
        assert!(
            common::rel_diff(f.w.as_ref(), w.as_ref()) < 1e-10,
            "{what}: W differs"
        );
        assert!(
            common::rel_diff(f.h.as_ref(), h.as_ref()) < 1e-10,
            "{what}: H differs"
        );
        if name != "random" {
            assert_eq!(f.report.svd, Some(SvdPath::Randomized));
        }
    }
}

#[test]
fn algorithms_md_12_2_values() {
    // The rounded W of nndsvd(X3, k=3) in `docs/algorithms.md 12.2`, printed by
    // `python3 scripts/reference_values.py` (scikit-learn's `_initialize_nmf`).
    let fx = common::fixture("init.json");
    let x = common::mat(&fx["X3"]);
    let f = initialize(x.as_ref(), 3, &Init::Nndsvd, 0, Compat::Sklearn, Par::Seq).unwrap();
    let w = faer::mat![
        [1.12706, 1.00064, 0.0],
        [1.54486, 0.0, 0.0],
        [1.08768, 1.00699, 0.930299],
        [1.25207, 0.0, 0.606707]
    ];
    assert!(common::rel_diff(f.w.as_ref(), w.as_ref()) < 1e-5);
}

#[test]
fn olivetti_nndsvda_matches_sklearn() {
    let Some(path) = common::olivetti_path() else {
        return;
    };
    let (Some(wp), Some(hp)) = (
        common::large_fixture("olivetti_nndsvda_k20_seed0_W.npy"),
        common::large_fixture("olivetti_nndsvda_k20_seed0_H.npy"),
    ) else {
        return;
    };
    let x: Mat<f32> = nmf::io::read_npy(&path).unwrap();
    let f = initialize(
        x.as_ref(),
        20,
        &Init::NndsvdA,
        0,
        Compat::Sklearn,
        Par::rayon(0),
    )
    .unwrap();
    let w: Mat<f32> = nmf::io::read_npy(&wp).unwrap();
    let h: Mat<f32> = nmf::io::read_npy(&hp).unwrap();
    // NNDSVDa replaces exact zeros by the fill value mean(X): an entry of a singular
    // vector within rounding of 0 is 0 on one side and tiny on the other, and then differs by the
    // whole fill value. Such entries are checked for that pattern and counted; the rest must agree.
    let fill = nmf::kernels::sum(x.as_ref()) / (400.0 * 4096.0);
    let compare = |ours: &Mat<f32>, theirs: &Mat<f32>| {
        let (mut ours, mut theirs) = (common::widen(ours.as_ref()), common::widen(theirs.as_ref()));
        let at_fill = |v: f64| (v - fill).abs() <= 1e-5 * fill;
        let mut jumps = 0;
        for j in 0..ours.ncols() {
            for i in 0..ours.nrows() {
                let (a, b) = (ours[(i, j)], theirs[(i, j)]);
                if at_fill(a) != at_fill(b) && (a - b).abs() > 1e-3 {
                    let other = if at_fill(a) { b } else { a };
                    assert!(
                        other.abs() < 1e-3,
                        "[{i}, {j}]: {a} vs {b} is not a zero-fill jump"
                    );
                    jumps += 1;
                    ours[(i, j)] = 0.0;
                    theirs[(i, j)] = 0.0;
                }
            }
        }
        (common::rel_fro(ours.as_ref(), theirs.as_ref()), jumps)
    };
    let (dw, jw) = compare(&f.w, &w);
    let (dh, jh) = compare(&f.h, &h);
    assert!(jw + jh <= 4, "{jw} + {jh} zero-fill jumps");
    eprintln!("W {dw:e} ({jw} zero-fill jumps), H {dh:e} ({jh})");
    assert!(
        dw < 1e-4 && dh < 1e-4,
        "relative differences W {dw:e}, H {dh:e}"
    );
}

#[test]
fn errors_are_typed() {
    let x = Mat::<f64>::from_fn(4, 5, |i, j| (i + j) as f64);
    let r = initialize(x.as_ref(), 5, &Init::Nndsvd, 0, Compat::Native, Par::Seq);
    assert!(
        matches!(r, Err(InitError::RankTooLarge { k: 5, max: 4, .. })),
        "{r:?}"
    );
    // Random init allows k > min(n, m); Auto falls back to it.
    let f = initialize(x.as_ref(), 5, &Init::Auto, 0, Compat::Native, Par::Seq).unwrap();
    assert_eq!(f.report.kind, InitKind::Random);
    let r = initialize(
        x.as_ref(),
        2,
        &Init::Random,
        1 << 40,
        Compat::Sklearn,
        Par::Seq,
    );
    assert!(
        matches!(r, Err(InitError::SeedOutOfRange { seed }) if seed == 1 << 40),
        "{r:?}"
    );
    let r = initialize(x.as_ref(), 0, &Init::Random, 0, Compat::Native, Par::Seq);
    assert!(
        matches!(
            r,
            Err(InitError::Core(CoreError::InvalidParam {
                name: "n_components",
                ..
            }))
        ),
        "{r:?}"
    );
    let mut neg = x.clone();
    neg[(1, 2)] = -1.0;
    let e = initialize(neg.as_ref(), 2, &Init::Random, 0, Compat::Native, Par::Seq).unwrap_err();
    assert!(
        matches!(
            e,
            InitError::Core(CoreError::Negative {
                what: "X",
                row: 1,
                col: 2,
                ..
            })
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("row 1, column 2"), "{e}");
    let good_w = Mat::<f64>::from_fn(4, 2, |_, _| 1.0);
    let good_h = Mat::<f64>::from_fn(2, 5, |_, _| 1.0);
    let custom = |w: Mat<f64>, h: Mat<f64>| {
        initialize(
            x.as_ref(),
            2,
            &Init::Custom { w, h },
            0,
            Compat::Native,
            Par::Seq,
        )
    };
    let f = custom(good_w.clone(), good_h.clone()).unwrap();
    assert_eq!(
        (f.w, f.h),
        (good_w.clone(), good_h.clone()),
        "a custom start is used as given"
    );
    let core = |r: Result<nmf::init::Factors<f64>, InitError>| match r {
        Err(InitError::Core(e)) => e,
        other => panic!("expected a CoreError, got {other:?}"),
    };
    let e = core(custom(Mat::from_fn(3, 2, |_, _| 1.0), good_h.clone()));
    assert!(
        matches!(
            e,
            CoreError::ShapeMismatch {
                what: "W",
                dim: "rows",
                expected: 4,
                got: 3
            }
        ),
        "{e:?}"
    );
    let e = core(custom(good_w.clone(), Mat::zeros(2, 5)));
    assert!(matches!(e, CoreError::AllZero { what: "H" }), "{e:?}");
    let mut nan = good_h.clone();
    nan[(0, 1)] = f64::NAN;
    let e = core(custom(good_w.clone(), nan));
    assert!(
        matches!(
            e,
            CoreError::NonFinite {
                what: "H",
                row: 0,
                col: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let mut negw = good_w.clone();
    negw[(2, 1)] = -0.5;
    let e = core(custom(negw, good_h));
    assert!(
        matches!(
            e,
            CoreError::Negative {
                what: "W",
                row: 2,
                col: 1,
                value: -0.5
            }
        ),
        "{e:?}"
    );
}

#[test]
fn degenerate_inputs_never_give_nan() {
    // All zeros, a zero row and column, duplicated rows, rank one.
    let cases: Vec<Mat<f64>> = vec![
        Mat::zeros(5, 4),
        Mat::from_fn(5, 4, |i, j| {
            if i == 2 || j == 1 {
                0.0
            } else {
                (i + j) as f64
            }
        }),
        Mat::from_fn(6, 4, |i, j| ((i % 2) * 3 + j) as f64),
        Mat::from_fn(6, 5, |i, j| ((i + 1) * (j + 1)) as f64),
    ];
    for x in &cases {
        let k = x.nrows().min(x.ncols());
        for init in [Init::Nndsvd, Init::NndsvdA, Init::NndsvdAr, Init::Random] {
            for compat in [Compat::Native, Compat::Sklearn] {
                let f = initialize(x.as_ref(), k, &init, 3, compat, Par::Seq).unwrap();
                f.w.for_each(|&v| assert!(v.is_finite() && v >= 0.0, "{init:?} {compat:?}"));
                f.h.for_each(|&v| assert!(v.is_finite() && v >= 0.0, "{init:?} {compat:?}"));
            }
        }
    }
}

#[test]
fn nndsvd_square_full_rank_beats_the_mean() {
    // scikit-learn's test: for a 10 x 10 full-rank X with k = 10, ‖X − WH‖ <= ‖X − mean(X)‖.
    let x = Mat::<f64>::from_fn(10, 10, |i, j| {
        ((i * 7 + j * 3) % 11) as f64 + if i == j { 5.0 } else { 0.0 }
    });
    let mean = nmf::kernels::sum(x.as_ref()) / 100.0;
    let spread = Mat::from_fn(10, 10, |i, j| x[(i, j)] - mean).norm_l2();
    for compat in [Compat::Native, Compat::Sklearn] {
        let f = initialize(x.as_ref(), 10, &Init::Nndsvd, 0, compat, Par::Seq).unwrap();
        let err = (&x - &f.w * &f.h).norm_l2();
        assert!(err <= spread, "{compat:?}: {err} > {spread}");
    }
}

fn planted(n: usize, m: usize, seed: u64) -> Mat<f64> {
    let mut r = RandomState::new(seed as u32);
    let a = Mat::from_fn(n, 3, |_, _| r.random_sample());
    let b = Mat::from_fn(3, m, |_, _| r.random_sample());
    let noise = Mat::from_fn(n, m, |_, _| 0.05 * r.random_sample());
    &a * &b + noise
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::cases(64)))]

    #[test]
    fn nndsvd_family_properties(n in 2usize..12, m in 2usize..12, kk in 1usize..6, seed in 0u64..1000, sk in any::<bool>()) {
        let x = planted(n, m, seed);
        let k = kk.min(n.min(m));
        let compat = if sk { Compat::Sklearn } else { Compat::Native };
        let base = initialize(x.as_ref(), k, &Init::Nndsvd, seed, compat, Par::Seq).unwrap();
        prop_assert_eq!(base.w.shape(), (n, k));
        prop_assert_eq!(base.h.shape(), (k, m));
        for variant in [Init::NndsvdA, Init::NndsvdAr] {
            let f = initialize(x.as_ref(), k, &variant, seed, compat, Par::Seq).unwrap();
            for (a, b) in [(&f.w, &base.w), (&f.h, &base.h)] {
                for j in 0..a.ncols() { for i in 0..a.nrows() {
                    prop_assert!(a[(i, j)] > 0.0 || (a[(i, j)] == 0.0 && b[(i, j)] == 0.0 && x.norm_l2() == 0.0));
                    if b[(i, j)] != 0.0 { prop_assert_eq!(a[(i, j)], b[(i, j)]); }
                }}
            }
        }
        // First component = sqrt(σ0)·(|u0|, |v0|) from an independent SVD (entries >= 1e-6).
        let svd = x.thin_svd().unwrap();
        let s0 = svd.S().column_vector()[0];
        for i in 0..n {
            let e = s0.sqrt() * svd.U()[(i, 0)].abs();
            let e = if e < 1e-6 { 0.0 } else { e };
            prop_assert!((base.w[(i, 0)] - e).abs() <= 1e-8 * (1.0 + e), "W[{},0] {} vs {}", i, base.w[(i, 0)], e);
        }
        for j in 0..m {
            let e = s0.sqrt() * svd.V()[(j, 0)].abs();
            let e = if e < 1e-6 { 0.0 } else { e };
            prop_assert!((base.h[(0, j)] - e).abs() <= 1e-8 * (1.0 + e));
        }
    }

    #[test]
    fn random_init_is_nonnegative_with_the_expected_mean(seed in 0u64..1000, sk in any::<bool>()) {
        let x = planted(40, 30, seed);
        let k = 4;
        let compat = if sk { Compat::Sklearn } else { Compat::Native };
        let f = initialize(x.as_ref(), k, &Init::Random, seed, compat, Par::Seq).unwrap();
        let xbar = nmf::kernels::sum(x.as_ref()) / 1200.0;
        let expect = (2.0 * xbar / (std::f64::consts::PI * k as f64)).sqrt();
        let total = nmf::kernels::sum(f.w.as_ref()) + nmf::kernels::sum(f.h.as_ref());
        let count = (40 * k + k * 30) as f64;
        f.w.for_each(|&v| assert!(v >= 0.0));
        f.h.for_each(|&v| assert!(v >= 0.0));
        // 280 half-normal draws: the mean is within ~4 standard errors. For |Z| with Z standard
        // normal, mean = sqrt(2/π) and variance = 1 − 2/π, so sd/mean = sqrt(π/2 − 1) ≈ 0.7555.
        prop_assert!((total / count - expect).abs() < 4.0 * 0.76 * expect / count.sqrt(), "{} vs {}", total / count, expect);
    }
}

/// NNDSVD (Boutsidis & Gallopoulos) from faer's f64 thin SVD: an independent reference for
/// the exact paths. NNDSVD does not depend on the singular vectors' signs (flipping a pair
/// swaps the positive and negative parts it chooses between; the first pair, of a nonnegative
/// X, is taken in absolute value), so no sign convention is needed.
fn reference_nndsvd(x: &Mat<f64>, k: usize) -> (Mat<f64>, Mat<f64>) {
    let svd = x.thin_svd().unwrap();
    let (u, v, s) = (svd.U(), svd.V(), svd.S().column_vector());
    let (n, m) = x.shape();
    let mut w = Mat::<f64>::zeros(n, k);
    let mut h = Mat::<f64>::zeros(k, m);
    for j in 0..k {
        let (uj, vj) = (u.col(j), v.col(j));
        let part = |c: faer::ColRef<'_, f64>, sign: f64| -> Vec<f64> {
            c.iter().map(|&a| (sign * a).max(0.0)).collect()
        };
        let norm = |a: &[f64]| a.iter().map(|v| v * v).sum::<f64>().sqrt();
        let (up, un, vp, vn) = (part(uj, 1.0), part(uj, -1.0), part(vj, 1.0), part(vj, -1.0));
        let (mp, mn) = (norm(&up) * norm(&vp), norm(&un) * norm(&vn));
        let abs = |c: faer::ColRef<'_, f64>| c.iter().map(|a| a.abs()).collect::<Vec<f64>>();
        let (a, b, sig) = if j == 0 {
            (abs(uj), abs(vj), 0.0)
        } else if mp > mn {
            (up, vp, mp)
        } else {
            (un, vn, mn)
        };
        let (na, nb) = (norm(&a), norm(&b));
        let scale = (s[j] * if j == 0 { na * nb } else { sig }).sqrt();
        for i in 0..n {
            w[(i, j)] = scale * a[i] / na;
        }
        for i in 0..m {
            h[(j, i)] = scale * b[i] / nb;
        }
    }
    // NNDSVD's cut-off: entries below 1e-6 become exact zeros.
    let cut = |v: f64| if v < 1e-6 { 0.0 } else { v };
    (
        Mat::from_fn(n, k, |i, j| cut(w[(i, j)])),
        Mat::from_fn(k, m, |i, j| cut(h[(i, j)])),
    )
}

#[test]
fn native_nndsvd_on_the_faces_takes_the_gram_route_and_matches_the_thin_svd() {
    let Some(path) = common::olivetti_path() else {
        return;
    };
    let x32: Mat<f32> = nmf::io::read_npy(&path).unwrap();
    let x64 = Mat::<f64>::from_fn(400, 4096, |i, j| x32[(i, j)] as f64);
    let xt = x64.transpose().to_owned();
    for k in [10, 50] {
        let (w, h) = reference_nndsvd(&x64, k);
        let near = |a: faer::MatRef<'_, f64>, b: &Mat<f64>, tol: f64, what: &str| {
            let d = common::rel_diff(a, b.as_ref());
            assert!(d <= tol, "k = {k} {what}: {d:e}");
        };
        // f32 data, converted to f64 (k = 10: Lanczos on G, k = 50: its tridiagonal top 50).
        let f = initialize(
            x32.as_ref(),
            k,
            &Init::Nndsvd,
            0,
            Compat::Native,
            Par::rayon(2),
        )
        .unwrap();
        assert_eq!(f.report.svd, Some(SvdPath::Gram), "k = {k}");
        let to64 =
            |a: &Mat<f32>| Mat::<f64>::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f64);
        near(to64(&f.w).as_ref(), &w, 1e-6, "f32 W");
        near(to64(&f.h).as_ref(), &h, 1e-6, "f32 H");
        // f64 data, and its transpose (the Gram of the other side).
        let f = initialize(x64.as_ref(), k, &Init::Nndsvd, 0, Compat::Native, Par::Seq).unwrap();
        assert_eq!(f.report.svd, Some(SvdPath::Gram), "k = {k}");
        near(f.w.as_ref(), &w, 1e-9, "f64 W");
        near(f.h.as_ref(), &h, 1e-9, "f64 H");
        let f = initialize(
            xt.as_ref(),
            k,
            &Init::Nndsvd,
            0,
            Compat::Native,
            Par::rayon(2),
        )
        .unwrap();
        assert_eq!(f.report.svd, Some(SvdPath::Gram), "k = {k}, transposed");
        near(
            f.w.as_ref(),
            &h.transpose().to_owned(),
            1e-9,
            "transposed W",
        );
        near(
            f.h.as_ref(),
            &w.transpose().to_owned(),
            1e-9,
            "transposed H",
        );
    }
    // f64 with k above min(n, m)/4: declined, the thin SVD runs.
    let f = initialize(
        x64.as_ref(),
        120,
        &Init::Nndsvd,
        0,
        Compat::Native,
        Par::rayon(2),
    )
    .unwrap();
    assert_eq!(f.report.svd, Some(SvdPath::Full));
}
