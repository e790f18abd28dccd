//! Every initialisation on sparse X: it never densifies (no `require_dense` error on any path),
//! agrees with the same initialisation on the dense copy, and matches scikit-learn's
//! `_initialize_nmf` on the G.3 fixture.

mod common;

use common::{fixtures, load_npy, rel_diff};
use faer::{Mat, Par};
use nmf_core::{DataRef, SparseMat};
use nmf_init::{Compat, Init, SvdPath, initialize};
use proptest::prelude::*;

/// A nonnegative matrix with about `density` of its entries stored: a decaying sum of five
/// smooth rank-one terms (well-separated leading singular values, so the singular vectors are
/// determined up to sign) times a pseudo-random mask.
fn sparse_like(n: usize, m: usize, density: f64, seed: u64) -> Mat<f64> {
    Mat::from_fn(n, m, |i, j| {
        let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ (j as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
            ^ seed;
        let h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        if ((h >> 11) as f64 / (1u64 << 53) as f64) >= density {
            return 0.0;
        }
        let (a, b) = (i as f64 / n as f64, j as f64 / m as f64);
        (0..5)
            .map(|r| {
                let r = r as f64;
                0.5f64.powf(r)
                    * (1.0 + (3.0 * a * (r + 1.0) + r).sin())
                    * (1.0 + (2.0 * b * (r + 1.0)).cos())
            })
            .sum::<f64>()
            + 0.01 * ((h >> 40) as f64 / (1u64 << 24) as f64)
    })
}

fn inits() -> Vec<Init<f64>> {
    vec![
        Init::Auto,
        Init::Random,
        Init::Nndsvd,
        Init::NndsvdA,
        Init::NndsvdAr,
    ]
}

#[test]
fn dense_and_sparse_agree_for_every_init_and_compat() {
    // (60, 40): Native takes subspace iteration on sparse X; (200, 150): Lanczos.
    for (n, m, k) in [(60, 40, 5), (40, 70, 4), (200, 150, 3)] {
        let x = sparse_like(n, m, 0.35, 1);
        let s = SparseMat::from_dense(x.as_ref()).unwrap();
        for compat in [Compat::Sklearn, Compat::Native] {
            for init in inits() {
                let d = initialize(&x, k, &init, 3, compat, Par::Seq).unwrap();
                let sp = initialize(&s, k, &init, 3, compat, Par::Seq).unwrap();
                let (dw, dh) = (
                    rel_diff(sp.w.as_ref(), d.w.as_ref()),
                    rel_diff(sp.h.as_ref(), d.h.as_ref()),
                );
                eprintln!(
                    "{n}x{m} k={k} {compat:?} {init:?}: W {dw:.2e} H {dh:.2e} ({:?})",
                    sp.report.svd
                );
                assert!(
                    dw <= 1e-10 && dh <= 1e-10,
                    "{n}x{m} {compat:?} {init:?}: W {dw:e}, H {dh:e}"
                );
                assert_eq!(sp.report.kind, d.report.kind);
                let want = match (compat, sp.report.kind) {
                    (_, nmf_init::InitKind::Random) => None,
                    (Compat::Sklearn, _) => Some(SvdPath::Randomized),
                    (Compat::Native, _) if n.min(m) > 64 => Some(SvdPath::Lanczos),
                    (Compat::Native, _) => Some(SvdPath::Subspace),
                };
                assert_eq!(sp.report.svd, want, "{n}x{m} {compat:?} {init:?}");
            }
        }
    }
}

#[test]
fn sparse_results_do_not_depend_on_the_thread_count() {
    let x = sparse_like(200, 150, 0.3, 2);
    let s = SparseMat::from_dense(x.as_ref()).unwrap();
    for compat in [Compat::Sklearn, Compat::Native] {
        for init in inits() {
            let a = initialize(&s, 4, &init, 5, compat, Par::Seq).unwrap();
            let b = initialize(&s, 4, &init, 5, compat, Par::rayon(2)).unwrap();
            assert!(a.w == b.w && a.h == b.h, "{compat:?} {init:?}");
        }
    }
}

#[test]
fn nndsvda_on_sparse_matches_scikit_learn_g3() {
    let Some(dir) = fixtures() else { return };
    let x = load_npy(&dir.join("g_X_dense.npy"));
    let (want_w, want_h) = (
        load_npy(&dir.join("g_nndsvda_W.npy")),
        load_npy(&dir.join("g_nndsvda_H.npy")),
    );
    let s = SparseMat::from_dense(x.as_ref()).unwrap();
    let f = initialize(&s, 5, &Init::NndsvdA, 0, Compat::Sklearn, Par::Seq).unwrap();
    let (dw, dh) = (
        rel_diff(f.w.as_ref(), want_w.as_ref()),
        rel_diff(f.h.as_ref(), want_h.as_ref()),
    );
    eprintln!("G.3 sparse nndsvda vs scikit-learn: W {dw:.2e}, H {dh:.2e}");
    assert!(dw <= 1e-10 && dh <= 1e-10, "W {dw:e}, H {dh:e}");
    // The fill value is SciPy's sparse mean to the last bit (docs/sparse.md 4: 0.30353233333333335,
    // where the dense mean is 0.3035323333333333); scikit-learn's W holds it in 126 places.
    let fill = 0.30353233333333335f64;
    let count = |a: &Mat<f64>| {
        (0..a.ncols())
            .map(|j| (0..a.nrows()).filter(|&i| a[(i, j)] == fill).count())
            .sum::<usize>()
    };
    assert_eq!(count(&want_w), 126);
    assert_eq!(count(&f.w), count(&want_w));
    assert_eq!(count(&f.h), count(&want_h));
    // And the dense input gives the same factors to rounding.
    let d = initialize(&x, 5, &Init::NndsvdA, 0, Compat::Sklearn, Par::Seq).unwrap();
    let (ew, eh) = (
        rel_diff(d.w.as_ref(), f.w.as_ref()),
        rel_diff(d.h.as_ref(), f.h.as_ref()),
    );
    eprintln!("G.3 dense vs sparse nndsvda: W {ew:.2e}, H {eh:.2e}");
    assert!(ew <= 1e-10 && eh <= 1e-10);
}

#[test]
fn f32_sparse_runs_and_agrees_with_f32_dense() {
    for (n, m, k) in [(60, 40, 5), (200, 150, 3)] {
        let x = sparse_like(n, m, 0.35, 4);
        let x32 = Mat::<f32>::from_fn(n, m, |i, j| x[(i, j)] as f32);
        let s32 = SparseMat::from_dense(x32.as_ref()).unwrap();
        for compat in [Compat::Sklearn, Compat::Native] {
            for init in [Init::Random, Init::Nndsvd, Init::NndsvdA, Init::NndsvdAr] {
                let d = initialize(&x32, k, &init, 0, compat, Par::Seq).unwrap();
                let sp = initialize(&s32, k, &init, 0, compat, Par::Seq).unwrap();
                let up = |a: &Mat<f32>| {
                    Mat::<f64>::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f64)
                };
                let (dw, dh) = (
                    rel_diff(up(&sp.w).as_ref(), up(&d.w).as_ref()),
                    rel_diff(up(&sp.h).as_ref(), up(&d.h).as_ref()),
                );
                assert!(
                    dw <= 1e-3 && dh <= 1e-3,
                    "{n}x{m} {compat:?} {init:?}: W {dw:e}, H {dh:e}"
                );
                sp.w.for_each(|&v| assert!(v.is_finite() && v >= 0.0));
                sp.h.for_each(|&v| assert!(v.is_finite() && v >= 0.0));
            }
        }
    }
}

#[test]
fn custom_factors_pass_through_on_sparse() {
    let x = sparse_like(10, 8, 0.5, 5);
    let s = SparseMat::from_dense(x.as_ref()).unwrap();
    let (w, h) = (
        Mat::<f64>::from_fn(10, 2, |i, j| (i + j + 1) as f64),
        Mat::<f64>::from_fn(2, 8, |i, j| (i * j + 1) as f64),
    );
    let f = initialize(
        &s,
        2,
        &Init::Custom {
            w: w.clone(),
            h: h.clone(),
        },
        0,
        Compat::Native,
        Par::Seq,
    )
    .unwrap();
    assert!(f.w == w && f.h == h);
}

fn all_inits(n: usize, m: usize, k: usize) -> Vec<Init<f64>> {
    let mut v = inits();
    v.push(Init::Custom {
        w: Mat::from_fn(n, k, |i, j| (i + j + 1) as f64),
        h: Mat::from_fn(k, m, |i, j| (i + 2 * j + 1) as f64),
    });
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// No initialisation ever asks for dense X: on any sparse matrix every `Init` in both modes
    /// succeeds (a `require_dense` would be an `Unsupported` error) with valid factors.
    #[test]
    fn no_init_needs_dense_x(
        n in 1usize..30,
        m in 1usize..30,
        density in 0.05f64..0.9,
        seed in 0u64..1000,
        kf in 0.0f64..1.0,
    ) {
        let mut x = sparse_like(n, m, density, seed);
        x[(n / 2, m / 2)] = 1.5; // never all zero
        let s = SparseMat::from_dense(x.as_ref()).unwrap();
        let x = DataRef::from(&s);
        let k = 1 + ((n.min(m) - 1) as f64 * kf) as usize;
        for compat in [Compat::Sklearn, Compat::Native] {
            for init in all_inits(n, m, k) {
                let f = initialize(x, k, &init, seed, compat, Par::Seq);
                let f = f.map_err(|e| TestCaseError::fail(format!("{n}x{m} k={k} {compat:?} {init:?}: {e}")))?;
                prop_assert_eq!(f.w.shape(), (n, k));
                prop_assert_eq!(f.h.shape(), (k, m));
                let good = |a: &faer::Mat<f64>| {
                    (0..a.ncols()).all(|j| (0..a.nrows()).all(|i| a[(i, j)].is_finite() && a[(i, j)] >= 0.0))
                };
                prop_assert!(good(&f.w) && good(&f.h));
            }
        }
    }
}
