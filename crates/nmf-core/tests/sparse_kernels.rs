//! The sparse kernels behind `DataRef::Sparse` against dense references and faer's sequential
//! sparse products, and bit for bit across thread counts, for every block width the kernels
//! special-case (k from 1 to past the register blocks).

use std::num::NonZeroUsize;

use faer::{Mat, MatRef, Par};
use nmf_core::{DataRef, Loss, SparseMat, loss};
use proptest::prelude::*;

fn rayon(n: usize) -> Par {
    Par::Rayon(NonZeroUsize::new(n).unwrap())
}

/// A seeded pseudo-random sparse matrix (xorshift; about `density` stored).
fn sparse(n: usize, m: usize, density: f64, seed: u64) -> SparseMat<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
    for i in 0..n {
        for j in 0..m {
            if next() < density {
                r.push(i);
                c.push(j);
                v.push(0.05 + 2.0 * next());
            }
        }
    }
    SparseMat::from_triplets(n, m, &r, &c, &v).unwrap()
}

fn dense(n: usize, m: usize, seed: u64) -> Mat<f64> {
    Mat::from_fn(n, m, |i, j| {
        let h = (i as u64 * 31 + j as u64 * 17 + seed * 7) % 101;
        0.01 + h as f64 / 50.0
    })
}

fn rel(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let mut num = 0.0f64;
    let mut den = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            num = num.max((a[(i, j)] - b[(i, j)]).abs());
            den = den.max(b[(i, j)].abs());
        }
    }
    num / den.max(f64::MIN_POSITIVE)
}

fn bits(a: MatRef<'_, f64>) -> Vec<u64> {
    (0..a.ncols())
        .flat_map(|j| (0..a.nrows()).map(move |i| a[(i, j)].to_bits()))
        .collect()
}

/// All four products of `x` with dense operands of `k` columns, on `par`.
fn products(x: &SparseMat<f64>, k: usize, par: Par) -> [Mat<f64>; 6] {
    let (n, m) = x.shape();
    let d = DataRef::from(x);
    let (w, h) = (dense(n, k, 1), dense(k, m, 2));
    let mut xht = Mat::zeros(n, k);
    d.mul_into(xht.as_mut(), h.transpose(), par).unwrap();
    let mut xtw = Mat::zeros(m, k);
    d.t_mul_into(xtw.as_mut(), w.as_ref(), par).unwrap();
    let mut wtx = Mat::zeros(k, m);
    d.lhs_t_mul_into(wtx.as_mut(), w.as_ref(), par).unwrap();
    let mut hxt = Mat::zeros(k, n);
    d.lhs_mul_t_into(hxt.as_mut(), h.as_ref(), par).unwrap();
    let mut nw = Mat::zeros(n, k);
    d.mu_numerator_w(nw.as_mut(), w.as_ref(), h.as_ref(), 1.0, par)
        .unwrap();
    let mut nh = Mat::zeros(k, m);
    d.mu_numerator_h(nh.as_mut(), w.as_ref(), h.as_ref(), 0.5, par)
        .unwrap();
    [xht, xtw, wtx, hxt, nw, nh]
}

#[test]
fn products_match_dense_references_and_faer() {
    for (n, m, k) in [
        (37, 29, 1),
        (50, 41, 7),
        (64, 33, 8),
        (45, 70, 20),
        (30, 25, 33),
        (23, 19, 100),
    ] {
        let x = sparse(n, m, 0.2, (n * m + k) as u64);
        let xd = x.to_dense();
        let (w, h) = (dense(n, k, 1), dense(k, m, 2));
        let [xht, xtw, wtx, hxt, nw, nh] = products(&x, k, Par::Seq);
        let tol = 1e-13;
        assert!(rel(xht.as_ref(), (&xd * h.transpose()).as_ref()) <= tol);
        assert!(rel(xtw.as_ref(), (xd.transpose() * &w).as_ref()) <= tol);
        assert!(rel(wtx.as_ref(), (w.transpose() * &xd).as_ref()) <= tol);
        assert!(rel(hxt.as_ref(), (&h * xd.transpose()).as_ref()) <= tol);
        // faer's own sequential sparse x dense product.
        let f = x.to_faer_csr().unwrap();
        let mut want = Mat::zeros(n, k);
        faer::sparse::linalg::matmul::sparse_dense_matmul(
            want.as_mut(),
            faer::Accum::Replace,
            f.as_ref(),
            h.transpose(),
            1.0,
            Par::Seq,
        );
        assert!(rel(xht.as_ref(), want.as_ref()) <= 1e-14, "{n}x{m} k={k}");
        // The fused numerators: (X ⊙ (WH)^(β−2))·Hᵀ and Wᵀ·(...) at stored entries only.
        let wh = &w * &h;
        let eps = nmf_core::SKLEARN_EPS;
        let s1 = Mat::from_fn(n, m, |i, j| {
            if xd[(i, j)] == 0.0 {
                0.0
            } else {
                xd[(i, j)] / wh[(i, j)].max(eps)
            }
        });
        let s05 = Mat::from_fn(n, m, |i, j| {
            if xd[(i, j)] == 0.0 {
                0.0
            } else {
                xd[(i, j)] * wh[(i, j)].max(eps).powf(-1.5)
            }
        });
        assert!(
            rel(nw.as_ref(), (&s1 * h.transpose()).as_ref()) <= 1e-12,
            "k={k}"
        );
        assert!(
            rel(nh.as_ref(), (w.transpose() * &s05).as_ref()) <= 1e-12,
            "k={k}"
        );
    }
}

#[test]
fn products_and_losses_are_bit_identical_for_any_thread_count() {
    for k in [1, 3, 20, 40] {
        let x = sparse(400, 300, 0.08, k as u64);
        let (w, h) = (dense(400, k, 1), dense(k, 300, 2));
        let seq = products(&x, k, Par::Seq);
        let loss_seq: Vec<u64> = [Loss::Frobenius, Loss::KullbackLeibler, Loss::Beta(1.5)]
            .iter()
            .map(|&l| {
                loss::beta_divergence(&x, w.as_ref(), h.as_ref(), l, Par::Seq)
                    .unwrap()
                    .to_bits()
            })
            .collect();
        for t in [2, 3, 4, 16] {
            let par = products(&x, k, rayon(t));
            for (a, b) in seq.iter().zip(&par) {
                assert_eq!(bits(a.as_ref()), bits(b.as_ref()), "k={k}, {t} threads");
            }
            let l: Vec<u64> = [Loss::Frobenius, Loss::KullbackLeibler, Loss::Beta(1.5)]
                .iter()
                .map(|&l| {
                    loss::beta_divergence(&x, w.as_ref(), h.as_ref(), l, rayon(t))
                        .unwrap()
                        .to_bits()
                })
                .collect();
            assert_eq!(l, loss_seq, "losses, k={k}, {t} threads");
        }
    }
}

#[test]
fn dense_only_operations_are_typed_errors() {
    let x = sparse(5, 4, 0.5, 3);
    let d = DataRef::from(&x);
    assert!(matches!(
        d.require_dense("an exact dense SVD"),
        Err(nmf_core::CoreError::Unsupported { kind: "sparse", .. })
    ));
    let xd = x.to_dense();
    let (w, h) = (dense(5, 2, 1), dense(2, 4, 2));
    let mut out = Mat::zeros(5, 2);
    assert!(matches!(
        DataRef::from(&xd).mu_numerator_w(out.as_mut(), w.as_ref(), h.as_ref(), 1.0, Par::Seq),
        Err(nmf_core::CoreError::Unsupported { kind: "dense", .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random shapes, densities and k: the four products equal the dense ones.
    #[test]
    fn random_products_match_dense(n in 1usize..40, m in 1usize..40, k in 1usize..45,
                                   density in 0.0f64..1.0, seed in 0u64..1000) {
        let x = sparse(n, m, density, seed);
        let xd = x.to_dense();
        let (w, h) = (dense(n, k, 1), dense(k, m, 2));
        let [xht, xtw, wtx, hxt, _, _] = products(&x, k, rayon(3));
        prop_assert!(rel(xht.as_ref(), (&xd * h.transpose()).as_ref()) <= 1e-13);
        prop_assert!(rel(xtw.as_ref(), (xd.transpose() * &w).as_ref()) <= 1e-13);
        prop_assert!(rel(wtx.as_ref(), (w.transpose() * &xd).as_ref()) <= 1e-13);
        prop_assert!(rel(hxt.as_ref(), (&h * xd.transpose()).as_ref()) <= 1e-13);
    }
}

#[test]
fn one_vector_products_sum_long_rows_in_lanes() {
    // Products with one vector (Lanczos' steps) skip the padded panel and sum each output in
    // eight lanes: rows of about 90 and columns of about 300 stored entries run whole chunks
    // and tails.
    let (n, m) = (1000, 300);
    let x = sparse(n, m, 0.3, 5);
    let xd = x.to_dense();
    let (w, ht) = (dense(n, 1, 1), dense(m, 1, 2));
    let d = DataRef::from(&x);
    let (mut xh, mut xtw) = (Mat::zeros(n, 1), Mat::zeros(m, 1));
    d.mul_into(xh.as_mut(), ht.as_ref(), Par::Seq).unwrap();
    d.t_mul_into(xtw.as_mut(), w.as_ref(), Par::Seq).unwrap();
    assert!(rel(xh.as_ref(), (&xd * &ht).as_ref()) <= 1e-14);
    assert!(rel(xtw.as_ref(), (xd.transpose() * &w).as_ref()) <= 1e-14);
    // A strided operand (a row of a matrix) is read the same way.
    let wt = w.transpose().to_owned();
    let mut strided = Mat::zeros(m, 1);
    d.t_mul_into(strided.as_mut(), wt.transpose(), Par::Seq)
        .unwrap();
    assert_eq!(bits(strided.as_ref()), bits(xtw.as_ref()));
    for t in [2, 3, 16] {
        let (mut a, mut b) = (Mat::zeros(n, 1), Mat::zeros(m, 1));
        d.mul_into(a.as_mut(), ht.as_ref(), rayon(t)).unwrap();
        d.t_mul_into(b.as_mut(), w.as_ref(), rayon(t)).unwrap();
        assert_eq!(bits(a.as_ref()), bits(xh.as_ref()), "{t} threads");
        assert_eq!(bits(b.as_ref()), bits(xtw.as_ref()), "{t} threads");
    }
}

#[test]
fn tall_panels_and_narrow_outputs() {
    // Xᵀ·W gathers from a 50,000-row panel at k = 3 (padded to 8 lanes), split over threads.
    let (n, m, k) = (50_000, 40, 3);
    let x = sparse(n, m, 0.02, 99);
    let xd = x.to_dense();
    let w = dense(n, k, 1);
    let d = DataRef::from(&x);
    let mut seq = Mat::zeros(m, k);
    d.t_mul_into(seq.as_mut(), w.as_ref(), Par::Seq).unwrap();
    assert!(rel(seq.as_ref(), (xd.transpose() * &w).as_ref()) <= 1e-13);
    let mut wtx = Mat::zeros(k, m);
    d.lhs_t_mul_into(wtx.as_mut(), w.as_ref(), Par::Seq)
        .unwrap();
    assert!(rel(wtx.as_ref(), seq.transpose()) <= 1e-15);
    for t in [2, 3, 16] {
        let mut par = Mat::zeros(m, k);
        d.t_mul_into(par.as_mut(), w.as_ref(), rayon(t)).unwrap();
        assert_eq!(bits(par.as_ref()), bits(seq.as_ref()), "{t} threads");
    }
}
