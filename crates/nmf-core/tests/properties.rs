//! Property tests of the losses and the objective (docs/algorithms.md 11).

use faer::{Mat, MatRef, Par};
use nmf_core::loss::{beta_divergence, frobenius_direct, gradient_into, objective};
use nmf_core::{Loss, Penalties, Regularization, kernels};
use proptest::prelude::*;

/// SplitMix64: matrices are built from a seed so shrinking stays cheap.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn mat(&mut self, r: usize, c: usize, lo: f64, hi: f64) -> Mat<f64> {
        Mat::from_fn(r, c, |_, _| lo + (hi - lo) * self.next())
    }
}

fn dims() -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (1usize..=8, 1usize..=8, 1usize..=4, any::<u64>())
}

const BETAS: [f64; 8] = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0];

fn d(x: MatRef<'_, f64>, w: MatRef<'_, f64>, h: MatRef<'_, f64>, beta: f64) -> f64 {
    beta_divergence(x, w, h, Loss::Beta(beta), Par::Seq).unwrap()
}

proptest! {
    #[test]
    fn divergence_is_nonnegative((n, m, k, seed) in dims(), bi in 0usize..BETAS.len()) {
        let mut r = Rng(seed);
        let (x, w, h) = (r.mat(n, m, 0.1, 5.0), r.mat(n, k, 0.1, 2.0), r.mat(k, m, 0.1, 2.0));
        let v = d(x.as_ref(), w.as_ref(), h.as_ref(), BETAS[bi]);
        prop_assert!(v >= -1e-12 * (1.0 + v.abs()), "D = {v}");
    }

    #[test]
    fn divergence_of_exact_fit_is_zero((n, m, _k, seed) in dims(), bi in 0usize..BETAS.len()) {
        // W = X, H = I gives WH = X exactly.
        let mut r = Rng(seed);
        let x = r.mat(n, m, 0.1, 5.0);
        let id = Mat::<f64>::identity(m, m);
        let v = d(x.as_ref(), x.as_ref(), id.as_ref(), BETAS[bi]);
        prop_assert!(v.abs() <= 1e-10 * (1.0 + kernels::squared_norm(x.as_ref())), "D = {v}");
    }

    #[test]
    fn divergence_is_homogeneous((n, m, k, seed) in dims(), bi in 0usize..BETAS.len(), c in 0.2f64..5.0) {
        let mut r = Rng(seed);
        let beta = BETAS[bi];
        let (x, w, h) = (r.mat(n, m, 0.1, 5.0), r.mat(n, k, 0.1, 2.0), r.mat(k, m, 0.1, 2.0));
        let cx = Mat::from_fn(n, m, |i, j| c * x[(i, j)]);
        let cw = Mat::from_fn(n, k, |i, j| c * w[(i, j)]);
        let lhs = d(cx.as_ref(), cw.as_ref(), h.as_ref(), beta);
        let rhs = c.powf(beta) * d(x.as_ref(), w.as_ref(), h.as_ref(), beta);
        prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + rhs.abs()), "{lhs} vs {rhs}");
    }

    #[test]
    fn gram_identity_equals_direct((n, m, k, seed) in dims()) {
        let mut r = Rng(seed);
        let (x, w, h) = (r.mat(n, m, 0.0, 5.0), r.mat(n, k, 0.0, 2.0), r.mat(k, m, 0.0, 2.0));
        let mut xht = Mat::zeros(n, k);
        let mut wtw = Mat::zeros(k, k);
        let mut hht = Mat::zeros(k, k);
        kernels::xht_into(xht.as_mut(), x.as_ref(), h.as_ref(), Par::Seq).unwrap();
        kernels::gram_cols_into(wtw.as_mut(), w.as_ref(), Par::Seq).unwrap();
        kernels::gram_rows_into(hht.as_mut(), h.as_ref(), Par::Seq).unwrap();
        let xx = kernels::squared_norm(x.as_ref());
        let gram = kernels::frobenius_from_grams(xx, xht.as_ref(), w.as_ref(), wtw.as_ref(), hht.as_ref()).unwrap();
        let direct = frobenius_direct(x.as_ref(), w.as_ref(), h.as_ref(), Par::Seq).unwrap();
        let scale = xx + kernels::squared_norm(w.as_ref()) * kernels::squared_norm(h.as_ref());
        prop_assert!((gram - direct).abs() <= 1e-12 * (1.0 + scale), "{gram} vs {direct}");
    }

    #[test]
    fn gradient_matches_central_differences(
        (n, m, k, seed) in dims(),
        bi in 0usize..BETAS.len(),
        aw in 0.0f64..0.5, ah in 0.0f64..0.5, l1 in 0.0f64..=1.0,
    ) {
        let mut r = Rng(seed);
        let beta = BETAS[bi];
        let loss = Loss::Beta(beta);
        let (x, w, h) = (r.mat(n, m, 0.5, 3.0), r.mat(n, k, 0.5, 1.5), r.mat(k, m, 0.5, 1.5));
        let p = Regularization { alpha_w: aw, alpha_h: ah.into(), l1_ratio: l1 }.scaled(n, m);
        let mut gw = Mat::zeros(n, k);
        let mut gh = Mat::zeros(k, m);
        gradient_into(gw.as_mut(), gh.as_mut(), x.as_ref(), w.as_ref(), h.as_ref(), loss, &p, Par::Seq).unwrap();
        let f = |w: &Mat<f64>, h: &Mat<f64>| objective(x.as_ref(), w.as_ref(), h.as_ref(), loss, &p, Par::Seq).unwrap();
        let eps = 1e-6;
        for i in 0..n { for j in 0..k {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[(i, j)] += eps; wm[(i, j)] -= eps;
            let fd = (f(&wp, &h) - f(&wm, &h)) / (2.0 * eps);
            prop_assert!((fd - gw[(i, j)]).abs() <= 1e-5 * (1.0 + fd.abs()), "dW[{i},{j}]: fd {fd} vs {}", gw[(i, j)]);
        }}
        for i in 0..k { for j in 0..m {
            let (mut hp, mut hm) = (h.clone(), h.clone());
            hp[(i, j)] += eps; hm[(i, j)] -= eps;
            let fd = (f(&w, &hp) - f(&w, &hm)) / (2.0 * eps);
            prop_assert!((fd - gh[(i, j)]).abs() <= 1e-5 * (1.0 + fd.abs()), "dH[{i},{j}]: fd {fd} vs {}", gh[(i, j)]);
        }}
    }

    #[test]
    fn f32_and_f64_agree((n, m, k, seed) in dims(), bi in 0usize..BETAS.len()) {
        let mut r = Rng(seed);
        let beta = BETAS[bi];
        let (x, w, h) = (r.mat(n, m, 0.5, 3.0), r.mat(n, k, 0.5, 1.5), r.mat(k, m, 0.5, 1.5));
        let to32 = |a: &Mat<f64>| Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f32);
        // Compare against f64 evaluated on the f32-rounded inputs so only evaluation error counts.
        let back = |a: &Mat<f32>| Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f64);
        let (x32, w32, h32) = (to32(&x), to32(&w), to32(&h));
        let v32 = beta_divergence(x32.as_ref(), w32.as_ref(), h32.as_ref(), Loss::Beta(beta), Par::Seq).unwrap();
        let v64 = d(back(&x32).as_ref(), back(&w32).as_ref(), back(&h32).as_ref(), beta);
        let scale = kernels::squared_norm(x.as_ref()) + 1.0;
        prop_assert!((v32 - v64).abs() <= 1e-4 * scale.max(v64.abs()), "{v32} vs {v64}");
    }

    #[test]
    fn penalties_add_up((n, m, k, seed) in dims(), aw in 0.0f64..2.0, l1 in 0.0f64..=1.0) {
        let mut r = Rng(seed);
        let (x, w, h) = (r.mat(n, m, 0.0, 5.0), r.mat(n, k, 0.0, 2.0), r.mat(k, m, 0.0, 2.0));
        let p: Penalties = Regularization { alpha_w: aw, l1_ratio: l1, ..Default::default() }.scaled(n, m);
        let obj = objective(x.as_ref(), w.as_ref(), h.as_ref(), Loss::Frobenius, &p, Par::Seq).unwrap();
        let base = d(x.as_ref(), w.as_ref(), h.as_ref(), 2.0);
        let expect = base
            + m as f64 * aw * l1 * kernels::sum(w.as_ref())
            + 0.5 * m as f64 * aw * (1.0 - l1) * kernels::squared_norm(w.as_ref())
            + n as f64 * aw * l1 * kernels::sum(h.as_ref())
            + 0.5 * n as f64 * aw * (1.0 - l1) * kernels::squared_norm(h.as_ref());
        prop_assert!((obj - expect).abs() <= 1e-10 * (1.0 + expect));
    }
}

#[test]
fn gram_path_falls_back_near_a_perfect_fit() {
    // X = WH exactly plus a tiny residual: the Gram identity would cancel to noise in f32.
    let w = Mat::from_fn(50, 3, |i, j| 1.0 + ((i * 7 + j * 3) % 5) as f32);
    let h = Mat::from_fn(3, 40, |i, j| 1.0 + ((i * 5 + j * 11) % 7) as f32);
    let mut x = &w * &h;
    x[(3, 4)] += 0.01;
    let v = beta_divergence(
        x.as_ref(),
        w.as_ref(),
        h.as_ref(),
        Loss::Frobenius,
        Par::Seq,
    )
    .unwrap();
    assert!((v - 0.5 * 0.01f64.powi(2)).abs() < 1e-6, "{v}");
}

mod sparseness_props {
    use super::Rng;
    use nmf_core::sparseness::{hoyer, l1_for_sparseness, project};
    use proptest::prelude::*;

    fn norms(v: &[f64]) -> (f64, f64) {
        (v.iter().sum(), v.iter().map(|a| a * a).sum::<f64>().sqrt())
    }

    fn check_targets(v: &[f64], l1: f64, l2: f64, s: f64) -> Result<(), TestCaseError> {
        let (a, b) = norms(v);
        prop_assert!(v.iter().all(|&x| x >= 0.0 && x.is_finite()), "{v:?}");
        prop_assert!((a - l1).abs() <= 1e-12 * l1 * 10.0, "sum {a} vs {l1}");
        prop_assert!((b - l2).abs() <= 1e-12 * l2 * 10.0, "norm {b} vs {l2}");
        if v.len() > 1 {
            prop_assert!(
                (hoyer(v.iter().copied()) - s).abs() <= 1e-9,
                "sparseness {} vs {s}",
                hoyer(v.iter().copied())
            );
        }
        Ok(())
    }

    proptest! {
        /// Property 17: the measure is in [0, 1], 1 for one nonzero, 0 for equal magnitudes,
        /// invariant to scaling and permutation.
        #[test]
        fn measure_properties(n in 2usize..40, seed in any::<u64>(), c in 0.01f64..100.0, k in any::<prop::sample::Index>()) {
            let mut r = Rng(seed);
            let x: Vec<f64> = (0..n).map(|_| r.next() * 3.0 - 1.0).collect();
            let s = hoyer(x.iter().copied());
            prop_assert!((0.0..=1.0).contains(&s));
            prop_assert!((hoyer(x.iter().map(|v| c * v)) - s).abs() < 1e-12);
            prop_assert!((hoyer(x.iter().map(|v| -c * v)) - s).abs() < 1e-12);
            let mut p = x.clone();
            p.reverse();
            p.rotate_left(k.index(n));
            prop_assert!((hoyer(p.iter().copied()) - s).abs() < 1e-12);
            let mut one = vec![0.0; n];
            one[k.index(n)] = c;
            prop_assert_eq!(hoyer(one.iter().copied()), 1.0);
            prop_assert!(hoyer(vec![c; n]).abs() < 1e-12);
        }

        /// Property 18: targets met, idempotent, feasible input returned, nearest point among
        /// random feasible points.
        #[test]
        fn projection_properties(n in 2usize..40, seed in any::<u64>(), s in 0.0f64..=1.0, l2 in 0.1f64..10.0, neg in any::<bool>()) {
            let mut r = Rng(seed);
            let x: Vec<f64> = (0..n).map(|_| if neg { r.next() * 2.0 - 0.5 } else { r.next() }).collect();
            let l1 = l1_for_sparseness(n, s, l2);
            let v = project(&x, l1, l2).unwrap();
            check_targets(&v, l1, l2, s)?;
            let again = project(&v, l1, l2).unwrap();
            let moved = v.iter().zip(&again).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            prop_assert!(moved <= 1e-9 * l2, "not idempotent: moved {moved}");
            let dist = |y: &[f64]| x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            let dv = dist(&v);
            for _ in 0..20 {
                let z: Vec<f64> = (0..n).map(|_| r.next() * 4.0).collect();
                let y = project(&z, l1, l2).unwrap();
                prop_assert!(dv <= dist(&y) + 1e-12 * (1.0 + dv), "a feasible point is nearer: {} < {dv}", dist(&y));
            }
        }

        /// Tied inputs (values from a small set) terminate and hit the targets.
        #[test]
        fn tied_inputs(vals in prop::collection::vec(prop::sample::select(vec![0.0, 1.0, 1.5, 2.0]), 2..12), s in 0.0f64..=1.0) {
            let n = vals.len();
            let l1 = l1_for_sparseness(n, s, 1.0);
            let v = project(&vals, l1, 1.0).unwrap();
            check_targets(&v, l1, 1.0, s)?;
        }
    }
}
