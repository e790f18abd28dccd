//! Sparse X end to end: every solver on a `SparseMat` gives the dense answers, scikit-learn's
//! fixed-iteration factors on its CSR matrix (`docs/sparse.md` 4, in `../shared/fixtures-scale`),
//! the same bits for any thread count, and sparse-only validation rules.

mod common;

use std::num::NonZeroUsize;

use faer::{Mat, MatRef, Par};
use nmf::prelude::*;
use nmf::solvers::{LegacySparseness, OpnmfNorm};
use nmf::{CoreError, NmfError, NmfParams, SparseMat};

use common::scale_npy as npy;

/// Dense X, the same X sparse, W0 and H0.
type Problem = (Mat<f64>, SparseMat<f64>, Mat<f64>, Mat<f64>);

/// The G matrix (60 x 40, 360 stored values), W0 and H0.
fn g_problem() -> Option<Problem> {
    let x = npy("g_X_dense.npy")?;
    let s = SparseMat::from_dense(x.as_ref()).unwrap();
    assert_eq!(s.nnz(), 360);
    Some((x, s, npy("g_W0.npy")?, npy("g_H0.npy")?))
}

fn rayon(n: usize) -> Par {
    Par::Rayon(NonZeroUsize::new(n).unwrap())
}

/// A seeded random sparse matrix with no empty row or column.
fn random_sparse(n: usize, m: usize, density: f64, seed: u64) -> SparseMat<f64> {
    let mut rs = nmf::init::mt19937::RandomState::new(seed as u32);
    let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
    for i in 0..n {
        for j in 0..m {
            if rs.random_sample() < density || j == i % m || i == j % n {
                r.push(i);
                c.push(j);
                v.push(0.1 + 3.0 * rs.random_sample());
            }
        }
    }
    SparseMat::from_triplets(n, m, &r, &c, &v).unwrap()
}

fn start(n: usize, m: usize, k: usize, seed: u32) -> (Mat<f64>, Mat<f64>) {
    let mut rs = nmf::init::mt19937::RandomState::new(seed);
    let w = Mat::from_fn(n, k, |_, _| 0.05 + 0.5 * rs.random_sample());
    let h = Mat::from_fn(k, m, |_, _| 0.05 + 0.5 * rs.random_sample());
    (w, h)
}

/// Every solver configuration the sparse path must cover (30 fixed iterations, custom start).
fn configurations(w0: &Mat<f64>, h0: &Mat<f64>) -> Vec<(&'static str, NmfParams<f64>)> {
    let k = w0.ncols();
    let base = || {
        Nmf::params::<f64>(k)
            .tol(0.0)
            .max_iter(30)
            .init(Init::Custom {
                w: w0.clone(),
                h: h0.clone(),
            })
    };
    vec![
        (
            "cd l1",
            base().solver(SolverKind::Cd).alpha_w(0.01).l1_ratio(0.5),
        ),
        ("mu fro", base().solver(SolverKind::Mu)),
        (
            "mu kl l2",
            base()
                .solver(SolverKind::Mu)
                .loss(Loss::KullbackLeibler)
                .alpha_w(0.02)
                .l1_ratio(0.0),
        ),
        (
            "mu 0.5",
            base().solver(SolverKind::Mu).loss(Loss::Beta(0.5)),
        ),
        (
            "mu 1.5",
            base().solver(SolverKind::Mu).loss(Loss::Beta(1.5)),
        ),
        ("mu 3", base().solver(SolverKind::Mu).loss(Loss::Beta(3.0))),
        (
            "pg hoyer",
            base()
                .solver(SolverKind::ProjectedGradient)
                .h_sparseness(0.6)
                .max_iter(15),
        ),
        (
            "pg legacy",
            base().legacy_pg(LegacySparseness::Components).max_iter(15),
        ),
        (
            "opnmf",
            base()
                .solver(SolverKind::Opnmf)
                .opnmf_norm(OpnmfNorm::Monotone),
        ),
    ]
}

#[test]
fn sklearn_fixed_iterations_on_its_csr_matrix() {
    let Some((_, x, w0, h0)) = g_problem() else {
        return;
    };
    let custom = || Init::Custom {
        w: w0.clone(),
        h: h0.clone(),
    };
    let base = || {
        Nmf::params::<f64>(5)
            .tol(0.0)
            .max_iter(30)
            .compat(Compat::Sklearn)
            .init(custom())
    };
    // (name, params, fixture prefix, reconstruction_err_ of docs/sparse.md 4)
    let cases = [
        (
            "cd",
            base().solver(SolverKind::Cd).alpha_w(0.01).l1_ratio(0.5),
            "g_cd",
            34.4816,
        ),
        ("mu2", base().solver(SolverKind::Mu), "g_mu2", 34.7497),
        (
            "mu1",
            base().solver(SolverKind::Mu).loss(Loss::KullbackLeibler),
            "g_mu1",
            43.4587,
        ),
        (
            "mu05",
            base().solver(SolverKind::Mu).loss(Loss::Beta(0.5)),
            "g_mu05",
            61.6246,
        ),
    ];
    for (name, p, prefix, err) in cases {
        let (Some(w), Some(h)) = (
            npy(&format!("{prefix}_W.npy")),
            npy(&format!("{prefix}_H.npy")),
        ) else {
            return;
        };
        let model = p.fit(&x).unwrap_or_else(|e| panic!("{name}: {e}"));
        let dw = common::rel_diff(model.w(), w.as_ref());
        let dh = common::rel_diff(model.h(), h.as_ref());
        eprintln!("{name}: sparse vs scikit-learn W {dw:.1e}, H {dh:.1e}");
        assert!(dw <= 1e-10 && dh <= 1e-10, "{name}: W {dw:e}, H {dh:e}");
        let got = model.report().reconstruction_err;
        assert!(
            (got - err).abs() <= 5e-6 * err,
            "{name}: reconstruction_err {got} vs scikit-learn {err}"
        );
        assert_eq!(model.report().n_iter, 30, "{name}");
    }
}

#[test]
fn every_solver_gives_the_dense_answer() {
    let Some((xd, xs, w0, h0)) = g_problem() else {
        return;
    };
    for (name, p) in configurations(&w0, &h0) {
        let d = p.fit(&xd).unwrap_or_else(|e| panic!("{name} dense: {e}"));
        let s = p.fit(&xs).unwrap_or_else(|e| panic!("{name} sparse: {e}"));
        let dw = common::rel_diff(s.w(), d.w());
        let dh = common::rel_diff(s.h(), d.h());
        eprintln!("{name}: sparse vs dense W {dw:.1e}, H {dh:.1e}");
        assert!(dw <= 1e-10 && dh <= 1e-10, "{name}: W {dw:e}, H {dh:e}");
        let (ed, es) = (d.report().reconstruction_err, s.report().reconstruction_err);
        assert!((ed - es).abs() <= 1e-10 * ed, "{name}: error {es} vs {ed}");
        assert_eq!(d.report().n_iter, s.report().n_iter, "{name}");
        // transform of the same data agrees too (a nonnegative solve with H fixed).
        if !name.starts_with("pg") && name != "opnmf" {
            let (td, ts) = (d.transform(&xd).unwrap(), d.transform(&xs).unwrap());
            let dt = common::rel_diff(ts.as_ref(), td.as_ref());
            assert!(dt <= 1e-10, "{name}: transform {dt:e}");
        }
    }
}

#[test]
fn default_fits_stop_where_sklearn_stops() {
    // docs/sparse.md 4: NMF(5, random_state=0) and the KL mu fit on the sparse G matrix.
    let Some((_, x, _, _)) = g_problem() else {
        return;
    };
    let cd = Nmf::params::<f64>(5)
        .compat(Compat::Sklearn)
        .seed(0)
        .fit(&x);
    let cd = match cd {
        Ok(m) => m,
        // The SVD-based start on sparse X lands with the init work; until then say so.
        Err(NmfError::Init(e)) => panic!("nndsvda on sparse X: {e}"),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(cd.report().n_iter, 114);
    assert!((cd.report().reconstruction_err - 34.4593).abs() < 5e-5);
    let mu = Nmf::params::<f64>(5)
        .compat(Compat::Sklearn)
        .seed(0)
        .solver(SolverKind::Mu)
        .loss(Loss::KullbackLeibler)
        .fit(&x)
        .unwrap();
    assert_eq!(mu.report().n_iter, 80);
    assert!((mu.report().reconstruction_err - 42.0295).abs() < 5e-5);
}

fn fits_bitwise_equal(a: &NmfModel<f64>, b: &NmfModel<f64>) -> bool {
    let same = |x: MatRef<'_, f64>, y: MatRef<'_, f64>| {
        (0..x.ncols()).all(|j| (0..x.nrows()).all(|i| x[(i, j)].to_bits() == y[(i, j)].to_bits()))
    };
    same(a.w(), b.w()) && same(a.h(), b.h())
}

#[test]
fn sparse_fits_are_bit_identical_for_any_thread_count() {
    // Large enough that every kernel splits its work among threads.
    let x = random_sparse(700, 500, 0.05, 7);
    let (w0, h0) = start(700, 500, 12, 3);
    for (name, p) in configurations(&w0, &h0) {
        let p = p.max_iter(6);
        let seq = p.clone().par(Par::Seq).fit(&x).unwrap();
        for t in [2, 3, 4, 16] {
            let par = p.clone().par(rayon(t)).fit(&x).unwrap();
            assert!(fits_bitwise_equal(&seq, &par), "{name}: {t} threads differ");
            assert_eq!(
                seq.report().reconstruction_err.to_bits(),
                par.report().reconstruction_err.to_bits(),
                "{name}: error with {t} threads"
            );
        }
    }
}

#[test]
fn every_storage_order_is_the_same_matrix() {
    // Triplets in a scrambled order, with duplicates split into exactly representable halves
    // and explicit zeros, canonicalise to the same CSR and CSC as the clean input; the
    // caller's arrays are not touched.
    let x = random_sparse(40, 30, 0.1, 11);
    let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
    for i in 0..40 {
        let (cols, vals) = x.row(i);
        for (&j, &val) in cols.iter().zip(vals) {
            r.push(i);
            c.push(j as usize);
            v.push(val / 2.0);
            r.push(i);
            c.push(j as usize);
            v.push(val / 2.0);
            r.push(i);
            c.push((j as usize + 1) % 30);
            v.push(0.0);
        }
    }
    let perm: Vec<usize> = (0..r.len()).map(|e| (e * 7919) % r.len()).collect();
    assert!(r.len() % 7919 != 0, "7919 must be coprime with the length");
    let (r2, c2, v2): (Vec<_>, Vec<_>, Vec<_>) = perm.iter().map(|&e| (r[e], c[e], v[e])).fold(
        (vec![], vec![], vec![]),
        |(mut a, mut b, mut d), (x, y, z)| {
            a.push(x);
            b.push(y);
            d.push(z);
            (a, b, d)
        },
    );
    let v_before = v2.clone();
    let y = SparseMat::from_triplets(40, 30, &r2, &c2, &v2).unwrap();
    assert_eq!(v2, v_before);
    assert_eq!(y, x);
    let z = SparseMat::from_csc(40, 30, x.col_ptr(), x.row_indices(), x.col_values()).unwrap();
    assert_eq!(z, x);
}

#[test]
fn non_positive_beta_refuses_implicit_zeros() {
    let x = random_sparse(10, 8, 0.3, 5);
    let err = Nmf::params::<f64>(2)
        .solver(SolverKind::Mu)
        .loss(Loss::ItakuraSaito)
        .fit(&x)
        .unwrap_err();
    assert!(
        matches!(
            err,
            NmfError::Core(CoreError::ZerosWithNonPositiveBeta { .. })
        ),
        "{err:?}"
    );
    // A sparse matrix that stores every entry is fine for β = 0.
    let full = Mat::<f64>::from_fn(6, 5, |i, j| 1.0 + (i * 5 + j) as f64);
    let xs = SparseMat::from_dense(full.as_ref()).unwrap();
    let (w0, h0) = start(6, 5, 2, 1);
    let p = Nmf::params::<f64>(2)
        .solver(SolverKind::Mu)
        .loss(Loss::ItakuraSaito)
        .tol(0.0)
        .max_iter(20)
        .init(Init::Custom { w: w0, h: h0 });
    // `x.as_ref()` is the contract spelling; `&x` works too.
    let (a, b) = (p.fit(xs.as_ref()).unwrap(), p.fit(&full).unwrap());
    assert!(common::rel_diff(a.w(), b.w()) <= 1e-10);
}

#[test]
fn losses_on_sparse_data_match_the_dense_formulas() {
    let Some((xd, xs, w0, h0)) = g_problem() else {
        return;
    };
    // docs/sparse.md 4: D_β(X | W0 H0).
    for (loss, want) in [
        (Loss::Frobenius, 852.941),
        (Loss::KullbackLeibler, 1555.17),
        (Loss::Beta(0.5), 3437.82),
    ] {
        let d = nmf::loss::beta_divergence(&xd, w0.as_ref(), h0.as_ref(), loss, Par::Seq).unwrap();
        let s = nmf::loss::beta_divergence(&xs, w0.as_ref(), h0.as_ref(), loss, Par::Seq).unwrap();
        assert!((d - s).abs() <= 1e-12 * d.abs(), "{loss}: {s} vs {d}");
        assert!((s - want).abs() <= 5e-6 * want, "{loss}: {s} vs {want}");
    }
}

#[test]
fn exact_fits_have_a_nonnegative_error() {
    // scikit-learn square-roots the cancelling Gram formula unclamped and reports NaN for
    // some exactly rank-1 sparse matrices (docs/sparse.md 3); ours is a number >= 0.
    for seed in 0..50u32 {
        let mut rs = nmf::init::mt19937::RandomState::new(seed);
        let u: Vec<f64> = (0..8)
            .map(|_| {
                if rs.random_sample() < 0.4 {
                    0.0
                } else {
                    rs.random_sample()
                }
            })
            .collect();
        let v: Vec<f64> = (0..6)
            .map(|_| {
                if rs.random_sample() < 0.4 {
                    0.0
                } else {
                    rs.random_sample()
                }
            })
            .collect();
        let d = Mat::from_fn(8, 6, |i, j| u[i] * v[j]);
        if d.norm_l2() == 0.0 {
            continue;
        }
        let x = SparseMat::from_dense(d.as_ref()).unwrap();
        let w = Mat::from_fn(8, 1, |i, _| u[i]);
        let h = Mat::from_fn(1, 6, |_, j| v[j]);
        let e =
            nmf::loss::reconstruction_err(&x, w.as_ref(), h.as_ref(), Loss::Frobenius, Par::Seq)
                .unwrap();
        assert!(e >= 0.0 && e <= 1e-12 * d.norm_l2(), "seed {seed}: {e}");
    }
}
