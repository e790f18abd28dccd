//! Weighted and masked fits: the reference numbers of the masked-NMF fixtures
//! (`../shared/fixtures-scale/d_*`, docs/missing.md), an all-ones mask equals the unweighted
//! fit, zero-weight entries have no influence (bit for bit), integer weights equal repeated
//! observations, scaling the weights changes no iterate, the objective never increases, dense
//! and pattern kernels agree, any thread count gives the same bits, and hostile inputs get
//! typed errors or documented behaviour.

mod common;

use faer::{Mat, MatRef, Par};
use nmf::prelude::*;
use nmf::{CoreError, FitWarning, NmfError, NmfParams};

use common::scale_npy as npy;

/// X (30 x 20), the 0/1 mask (120 zeros), W0, H0.
/// X, weights, W0, H0.
type Problem = (Mat<f64>, Mat<f64>, Mat<f64>, Mat<f64>);

fn d_problem() -> Option<Problem> {
    Some((
        npy("d_X.npy")?,
        npy("d_M.npy")?,
        npy("d_W0.npy")?,
        npy("d_H0.npy")?,
    ))
}

fn fixed(
    solver: SolverKind,
    loss: Loss,
    w0: &Mat<f64>,
    h0: &Mat<f64>,
    iters: usize,
) -> NmfParams<f64> {
    Nmf::params(w0.ncols())
        .solver(solver)
        .loss(loss)
        .init(Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        })
        .tol(0.0)
        .max_iter(iters)
        .trace_every(1)
}

fn held_out_mse(x: &Mat<f64>, m: &Mat<f64>, w: MatRef<'_, f64>, h: MatRef<'_, f64>) -> f64 {
    let wh = w * h;
    let (mut s, mut c) = (0.0, 0usize);
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            if m[(i, j)] == 0.0 {
                s += (x[(i, j)] - wh[(i, j)]).powi(2);
                c += 1;
            }
        }
    }
    s / c as f64
}

fn values(a: MatRef<'_, f64>) -> Vec<f64> {
    let mut v = Vec::new();
    a.for_each(|&x| v.push(x));
    v
}

fn close6(got: f64, want: f64) -> bool {
    (got - want).abs() <= 5e-6 * want.abs()
}

#[test]
fn masked_reference_numbers_are_reproduced() {
    let Some((x, m, w0, h0)) = d_problem() else {
        return;
    };
    assert_eq!(
        values(m.as_ref()).iter().filter(|&&v| v == 0.0).count(),
        120
    );
    // (solver, loss, fixture, objective at 0, 1, 10, 50, held-out MSE, W[0])
    let cases = [
        (
            SolverKind::Mu,
            Loss::Frobenius,
            "mu_fro",
            [98.6374, 19.2672, 15.4643, 10.0860],
            0.293767,
            [0.490681, 0.580001, 0.447291],
        ),
        (
            SolverKind::Mu,
            Loss::KullbackLeibler,
            "mu_kl",
            [132.320, 43.5961, 37.9258, 27.5892],
            0.341491,
            [0.563782, 0.588754, 0.452505],
        ),
        (
            SolverKind::Cd,
            Loss::Frobenius,
            "hals",
            [98.6374, 20.9409, 10.0271, 9.21789],
            0.505735,
            [0.361224, 0.49283, 0.646946],
        ),
    ];
    for (solver, loss, name, objs, mse, w_row0) in cases {
        let model = fixed(solver, loss, &w0, &h0, 50)
            .weights(m.as_ref())
            .fit(x.as_ref())
            .unwrap();
        let r = model.report();
        let trace: Vec<f64> = r.loss_trace.iter().map(|&(_, o)| o).collect();
        assert_eq!(trace.len(), 51, "{name}");
        for (it, want) in [0, 1, 10, 50].into_iter().zip(objs) {
            assert!(
                close6(trace[it], want),
                "{name}: objective at {it} is {}, reference {want}",
                trace[it]
            );
        }
        assert!(
            trace.windows(2).all(|p| p[1] <= p[0] * (1.0 + 1e-12)),
            "{name}: objective went up"
        );
        let got_mse = held_out_mse(&x, &m, model.w(), model.h());
        assert!(
            close6(got_mse, mse),
            "{name}: held-out MSE {got_mse}, reference {mse}"
        );
        for (t, &want) in w_row0.iter().enumerate() {
            assert!(close6(model.w()[(0, t)], want), "{name}: W[0, {t}]");
        }
        let (w_ref, h_ref) = (
            npy(&format!("d_{name}_W.npy")).unwrap(),
            npy(&format!("d_{name}_H.npy")).unwrap(),
        );
        let (dw, dh) = (
            common::rel_diff(model.w(), w_ref.as_ref()),
            common::rel_diff(model.h(), h_ref.as_ref()),
        );
        println!(
            "masked {name}: W {dw:.1e}, H {dh:.1e} relative to the reference, held-out MSE {got_mse:.6}"
        );
        assert!(dw < 1e-12 && dh < 1e-12, "{name}: W {dw:e}, H {dh:e}");
    }
}

#[test]
fn an_all_ones_mask_gives_the_unweighted_fit() {
    let Some((x, _, w0, h0)) = d_problem() else {
        return;
    };
    let ones = Mat::<f64>::ones(x.nrows(), x.ncols());
    // scikit-learn's divergences after 50 iterations from this start (docs/missing.md).
    for (solver, loss, sklearn_d) in [
        (SolverKind::Mu, Loss::Frobenius, Some(16.7654)),
        (SolverKind::Mu, Loss::KullbackLeibler, Some(40.3794)),
        (SolverKind::Cd, Loss::Frobenius, Some(15.5413)),
        (SolverKind::Mu, Loss::Beta(0.5), None),
        (SolverKind::Mu, Loss::Beta(3.0), None),
    ] {
        let p = fixed(solver, loss, &w0, &h0, 50)
            .alpha_w(0.01)
            .l1_ratio(0.5);
        let plain = p.fit(x.as_ref()).unwrap();
        let weighted = p.clone().weights(ones.as_ref()).fit(x.as_ref()).unwrap();
        let (dw, dh) = (
            common::rel_diff(weighted.w(), plain.w()),
            common::rel_diff(weighted.h(), plain.h()),
        );
        println!("all-ones mask, {solver} {loss}: W {dw:.1e}, H {dh:.1e}");
        assert!(
            dw <= 1e-12 && dh <= 1e-12,
            "{solver} {loss}: W {dw:e}, H {dh:e}"
        );
        let (a, b) = (weighted.report().objective, plain.report().objective);
        assert!(
            (a - b).abs() <= 1e-12 * b,
            "{solver} {loss}: objective {a} vs {b}"
        );
        if let Some(d) = sklearn_d {
            let unpen = fixed(solver, loss, &w0, &h0, 50)
                .weights(ones.as_ref())
                .fit(x.as_ref())
                .unwrap();
            let got = unpen.report().objective;
            assert!(
                close6(got, d),
                "{solver} {loss}: {got} vs scikit-learn's {d}"
            );
        }
    }
}

#[test]
fn scaling_the_weights_changes_no_iterate_and_scales_the_objective() {
    let Some((x, m, w0, h0)) = d_problem() else {
        return;
    };
    let m25 = Mat::from_fn(m.nrows(), m.ncols(), |i, j| 2.5 * m[(i, j)]);
    for (solver, loss) in [
        (SolverKind::Mu, Loss::Frobenius),
        (SolverKind::Mu, Loss::KullbackLeibler),
        (SolverKind::Cd, Loss::Frobenius),
    ] {
        let a = fixed(solver, loss, &w0, &h0, 50)
            .weights(m.as_ref())
            .fit(x.as_ref())
            .unwrap();
        let b = fixed(solver, loss, &w0, &h0, 50)
            .weights(m25.as_ref())
            .fit(x.as_ref())
            .unwrap();
        assert!(common::rel_diff(b.w(), a.w()) <= 5e-14, "{solver} {loss}");
        assert!(common::rel_diff(b.h(), a.h()) <= 5e-14, "{solver} {loss}");
        let ratio = b.report().objective / a.report().objective;
        assert!(
            (ratio - 2.5).abs() < 1e-12,
            "{solver} {loss}: ratio {ratio}"
        );
    }
}

/// A 40 x 30 problem with ~25% of entries at weight 0 and a few fractional weights.
fn random_problem(seed: u64) -> Problem {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let (n, mm, k) = (40, 30, 4);
    let w = Mat::from_fn(n, k, |_, _| next());
    let h = Mat::from_fn(k, mm, |_, _| next());
    let x = Mat::from_fn(n, mm, |i, j| {
        let v: f64 = (0..k).map(|t| w[(i, t)] * h[(t, j)]).sum();
        v * (0.8 + 0.4 * next())
    });
    let m = Mat::from_fn(n, mm, |_, _| {
        let u = next();
        if u < 0.25 {
            0.0
        } else if u < 0.35 {
            0.5
        } else {
            1.0
        }
    });
    let w0 = Mat::from_fn(n, k, |_, _| 0.2 + next());
    let h0 = Mat::from_fn(k, mm, |_, _| 0.2 + next());
    (x, m, w0, h0)
}

const SOLVERS: [(SolverKind, Loss); 5] = [
    (SolverKind::Cd, Loss::Frobenius),
    (SolverKind::Mu, Loss::Frobenius),
    (SolverKind::Mu, Loss::KullbackLeibler),
    (SolverKind::Mu, Loss::Beta(0.5)),
    (SolverKind::Mu, Loss::ItakuraSaito),
];

#[test]
fn zero_weight_entries_have_no_influence_bit_for_bit() {
    let (x, m, w0, h0) = random_problem(7);
    // Anything at all where the weight is zero: huge values, NaN, negative numbers.
    let mut junk = x.clone();
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            if m[(i, j)] == 0.0 {
                junk[(i, j)] = match (i + j) % 3 {
                    0 => f64::NAN,
                    1 => -5.0,
                    _ => 1e6,
                };
            }
        }
    }
    let sparse_m = SparseMat::from_dense(m.as_ref()).unwrap();
    for (solver, loss) in SOLVERS {
        for sparse in [false, true] {
            let p = fixed(solver, loss, &w0, &h0, 30)
                .alpha_w(0.02)
                .l1_ratio(0.3);
            let p = if sparse {
                p.weights(&sparse_m)
            } else {
                p.weights(m.as_ref())
            };
            let a = p.fit(x.as_ref()).unwrap();
            let b = p.fit(junk.as_ref()).unwrap();
            assert!(
                a.w() == b.w() && a.h() == b.h(),
                "{solver} {loss} sparse={sparse}"
            );
            assert_eq!(
                a.report().objective.to_bits(),
                b.report().objective.to_bits()
            );
        }
    }
}

#[test]
fn integer_weights_equal_repeated_observations() {
    // Weight 2 on column 3 equals that column observed twice (appended), with H's start
    // duplicated too: the W updates see the same sums, the duplicate columns of H move alike.
    let (x, m, w0, h0) = random_problem(11);
    let j = 3;
    let mut m2 = m.clone();
    for i in 0..x.nrows() {
        m2[(i, j)] *= 2.0;
    }
    let dup = |a: &Mat<f64>| {
        Mat::from_fn(a.nrows(), a.ncols() + 1, |i, c| {
            a[(i, if c < a.ncols() { c } else { j })]
        })
    };
    let (xd, md, hd) = (dup(&x), dup(&m), dup(&h0));
    for (solver, loss) in SOLVERS {
        let a = fixed(solver, loss, &w0, &h0, 30)
            .weights(m2.as_ref())
            .fit(x.as_ref())
            .unwrap();
        let b = fixed(solver, loss, &w0, &hd, 30)
            .weights(md.as_ref())
            .fit(xd.as_ref())
            .unwrap();
        let dw = common::rel_diff(a.w(), b.w());
        let dh = common::rel_diff(a.h(), b.h().subcols(0, x.ncols()));
        assert!(
            dw < 1e-11 && dh < 1e-11,
            "{solver} {loss}: W {dw:e}, H {dh:e}"
        );
        let od = (a.report().objective - b.report().objective).abs() / b.report().objective;
        assert!(od < 1e-11, "{solver} {loss}: objective {od:e}");
    }
}

#[test]
fn dense_and_pattern_kernels_agree_and_threads_change_no_bits() {
    let (x, m, w0, h0) = random_problem(3);
    let sparse_m = SparseMat::from_dense(m.as_ref()).unwrap();
    for (solver, loss) in SOLVERS {
        let p = fixed(solver, loss, &w0, &h0, 25)
            .alpha_h(0.05)
            .l1_ratio(0.2);
        let dense = p.clone().weights(m.as_ref()).fit(x.as_ref()).unwrap();
        let pattern = p.clone().weights(&sparse_m).fit(x.as_ref()).unwrap();
        let (dw, dh) = (
            common::rel_diff(pattern.w(), dense.w()),
            common::rel_diff(pattern.h(), dense.h()),
        );
        assert!(
            dw < 1e-11 && dh < 1e-11,
            "{solver} {loss}: W {dw:e}, H {dh:e}"
        );
        for weights in [
            nmf::Weights::from(m.as_ref()),
            nmf::Weights::from(&sparse_m),
        ] {
            let fits: Vec<_> = [Par::Seq, Par::rayon(2), Par::rayon(3)]
                .into_iter()
                .map(|par| {
                    p.clone()
                        .weights(weights.clone())
                        .par(par)
                        .fit(x.as_ref())
                        .unwrap()
                })
                .collect();
            for f in &fits[1..] {
                assert!(
                    f.w() == fits[0].w() && f.h() == fits[0].h(),
                    "{solver} {loss}: thread-dependent bits"
                );
            }
        }
    }
}

#[test]
fn sparse_x_with_mask_zeros_equals_dense_x_weighted_by_its_pattern() {
    let (x, m, w0, h0) = random_problem(5);
    // X keeps only the entries where m > 0 (stored), so mask_zeros sees exactly that pattern.
    let xs_dense = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        if m[(i, j)] > 0.0 { x[(i, j)] } else { 0.0 }
    });
    let xs = SparseMat::from_dense(xs_dense.as_ref()).unwrap();
    let pattern = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        if xs_dense[(i, j)] > 0.0 { 1.0 } else { 0.0 }
    });
    for (solver, loss) in SOLVERS {
        let p = fixed(solver, loss, &w0, &h0, 20);
        let a = p.clone().mask_zeros(true).fit(&xs).unwrap();
        let b = p
            .clone()
            .weights(pattern.as_ref())
            .fit(xs_dense.as_ref())
            .unwrap();
        let (dw, dh) = (
            common::rel_diff(a.w(), b.w()),
            common::rel_diff(a.h(), b.h()),
        );
        assert!(
            dw < 1e-11 && dh < 1e-11,
            "{solver} {loss}: W {dw:e}, H {dh:e}"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(common::cases(24)))]
    /// The weighted objective never increases, for every solver and loss, with penalties.
    #[test]
    fn the_weighted_objective_never_increases(seed in 0u64..10_000, si in 0usize..SOLVERS.len(), alpha in 0.0f64..0.1, sparse in proptest::bool::ANY) {
        let (solver, loss) = SOLVERS[si];
        let (x, m, w0, h0) = random_problem(seed);
        let p = fixed(solver, loss, &w0, &h0, 30).alpha_w(alpha).l1_ratio(0.5);
        let p = if sparse { p.weights(SparseMat::from_dense(m.as_ref()).unwrap()) } else { p.weights(m.as_ref()) };
        let model = p.fit(x.as_ref()).unwrap();
        let t: Vec<f64> = model.report().loss_trace.iter().map(|&(_, o)| o).collect();
        for w in t.windows(2) {
            proptest::prop_assert!(w[1] <= w[0] + 1e-10 * w[0].abs(), "{solver} {loss}: {} -> {}", w[0], w[1]);
        }
    }
}

#[test]
fn nan_entries_are_missing_only_when_asked_and_impute_fills_them() {
    let (x, m, _, _) = random_problem(9);
    let mut xn = x.clone();
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            if m[(i, j)] == 0.0 {
                xn[(i, j)] = f64::NAN;
            }
        }
    }
    let err = Nmf::params(4).fit(xn.as_ref()).unwrap_err();
    assert!(
        matches!(err, NmfError::Core(CoreError::NonFinite { what: "X", .. })),
        "{err}"
    );
    let ones_where_seen = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        if m[(i, j)] == 0.0 { 0.0 } else { 1.0 }
    });
    for solver in [SolverKind::Cd, SolverKind::Mu] {
        let p = Nmf::params(4).solver(solver).max_iter(300);
        let by_nan = p.clone().missing(Missing::Nan).fit(xn.as_ref()).unwrap();
        let by_mask = p
            .clone()
            .weights(ones_where_seen.as_ref())
            .fit(x.as_ref())
            .unwrap();
        assert!(
            by_nan.w() == by_mask.w() && by_nan.h() == by_mask.h(),
            "{solver}: NaN holes = a 0/1 mask"
        );
        let imputed = by_nan.impute(xn.as_ref()).unwrap();
        let wh = by_nan.w() * by_nan.h();
        for i in 0..x.nrows() {
            for j in 0..x.ncols() {
                let want = if xn[(i, j)].is_nan() {
                    wh[(i, j)]
                } else {
                    x[(i, j)]
                };
                assert_eq!(imputed[(i, j)], want);
            }
        }
        // The planted low-rank structure makes the imputation far better than the mean.
        let (mut e_imp, mut e_mean, mut c) = (0.0, 0.0, 0);
        let mean = values(x.as_ref()).iter().sum::<f64>() / (x.nrows() * x.ncols()) as f64;
        for i in 0..x.nrows() {
            for j in 0..x.ncols() {
                if xn[(i, j)].is_nan() {
                    e_imp += (imputed[(i, j)] - x[(i, j)]).powi(2);
                    e_mean += (mean - x[(i, j)]).powi(2);
                    c += 1;
                }
            }
        }
        assert!(
            c > 200 && e_imp < 0.3 * e_mean,
            "{solver}: imputed {e_imp}, mean {e_mean}"
        );
    }
}

#[test]
fn transform_weighted_solves_new_rows_from_their_observed_entries() {
    let (x, m, _, _) = random_problem(13);
    for solver in [SolverKind::Cd, SolverKind::Mu] {
        let model = Nmf::params(4)
            .solver(solver)
            .max_iter(400)
            .tol(1e-8)
            .fit(x.as_ref())
            .unwrap();
        // All ones: the ordinary transform (same problem, same start, same rule up to rounding
        // for mu; cd's rule here is per row, so compare the solutions, not the iterates).
        let ones = Mat::<f64>::ones(x.nrows(), x.ncols());
        let a = model.transform_weighted(x.as_ref(), ones.as_ref()).unwrap();
        let b = model.transform(x.as_ref()).unwrap();
        let d = common::rel_diff(a.as_ref(), b.as_ref());
        assert!(d < 1e-5, "{solver}: {d:e}");
        // Values under weight zero do not matter; the result is nonnegative and finite.
        let junk = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
            if m[(i, j)] == 0.0 { 1e9 } else { x[(i, j)] }
        });
        let c1 = model.transform_weighted(x.as_ref(), m.as_ref()).unwrap();
        let c2 = model.transform_weighted(junk.as_ref(), m.as_ref()).unwrap();
        assert!(c1 == c2, "{solver}");
        values(c1.as_ref())
            .iter()
            .for_each(|&v| assert!(v >= 0.0 && v.is_finite()));
    }
}

#[test]
fn hostile_weights_give_typed_errors_or_documented_behaviour() {
    let (x, m, _, _) = random_problem(17);
    let (n, mm) = x.shape();
    // Wrong shape.
    let e = Nmf::params(3)
        .weights(Mat::<f64>::ones(n, mm + 1).as_ref())
        .fit(x.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::ShapeMismatch {
                what: "weights",
                ..
            })
        ),
        "{e}"
    );
    // Negative and NaN weights, named by entry.
    let mut bad = m.clone();
    bad[(4, 2)] = -1.0;
    let e = Nmf::params(3)
        .weights(bad.as_ref())
        .fit(x.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::Negative {
                what: "weights",
                row: 4,
                col: 2,
                ..
            })
        ),
        "{e}"
    );
    bad[(4, 2)] = f64::NAN;
    let e = Nmf::params(3)
        .weights(bad.as_ref())
        .fit(x.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::NonFinite {
                what: "weights",
                row: 4,
                col: 2,
                ..
            })
        ),
        "{e}"
    );
    // Nothing observed.
    let e = Nmf::params(3)
        .weights(Mat::<f64>::zeros(n, mm).as_ref())
        .fit(x.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::InvalidParam {
                name: "weights",
                ..
            })
        ),
        "{e}"
    );
    // Solvers without a weighted form, mask_zeros on dense X, kkt_tol.
    let e = Nmf::params(3)
        .solver(SolverKind::ProjectedGradient)
        .weights(m.as_ref())
        .check()
        .unwrap_err();
    assert!(
        matches!(e, NmfError::WeightsUnsupported { solver: "pg" }),
        "{e}"
    );
    let e = Nmf::params::<f64>(3)
        .solver(SolverKind::Opnmf)
        .mask_zeros(true)
        .check()
        .unwrap_err();
    assert!(
        matches!(e, NmfError::WeightsUnsupported { solver: "opnmf" }),
        "{e}"
    );
    let e = Nmf::params(3).mask_zeros(true).fit(x.as_ref()).unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::InvalidParam {
                name: "mask_zeros",
                ..
            })
        ),
        "{e}"
    );
    let e = Nmf::params(3)
        .weights(m.as_ref())
        .kkt_tol(1e-3)
        .check()
        .unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::InvalidParam {
                name: "kkt_tol",
                ..
            })
        ),
        "{e}"
    );
    // NaN holes with pg: the holes are found at fit time.
    let mut xn = x.clone();
    xn[(0, 0)] = f64::NAN;
    let e = Nmf::params(3)
        .solver(SolverKind::ProjectedGradient)
        .missing(Missing::Nan)
        .fit(xn.as_ref())
        .unwrap_err();
    assert!(
        matches!(e, NmfError::WeightsUnsupported { solver: "pg" }),
        "{e}"
    );
    // β <= 0 with an observed zero; an unobserved zero is fine.
    let mut xz = x.clone();
    xz[(1, 1)] = 0.0;
    let mut mz = Mat::<f64>::ones(n, mm);
    let is = Nmf::params(3)
        .solver(SolverKind::Mu)
        .loss(Loss::ItakuraSaito);
    let e = is
        .clone()
        .weights(mz.as_ref())
        .fit(xz.as_ref())
        .unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::ZerosWithNonPositiveBeta { row: 1, col: 1, .. })
        ),
        "{e}"
    );
    mz[(1, 1)] = 0.0;
    assert!(is.weights(mz.as_ref()).fit(xz.as_ref()).is_ok());
    // All-missing rows and columns: zero factors and a warning, never NaN.
    let mut mh = m.clone();
    for j in 0..mm {
        mh[(5, j)] = 0.0;
    }
    for i in 0..n {
        mh[(i, 7)] = 0.0;
    }
    for (solver, loss) in SOLVERS {
        let f = Nmf::params(3)
            .solver(solver)
            .loss(loss)
            .weights(mh.as_ref())
            .max_iter(50)
            .fit(x.as_ref())
            .unwrap();
        assert!(
            (0..3).all(|t| f.w()[(5, t)] == 0.0 && f.h()[(t, 7)] == 0.0),
            "{solver} {loss}"
        );
        values(f.w())
            .iter()
            .chain(&values(f.h()))
            .for_each(|v| assert!(v.is_finite()));
        assert!(f.report().warnings.iter().any(|w| matches!(w, FitWarning::Unobserved { rows, cols } if rows == &[5] && cols == &[7])), "{solver} {loss}");
        assert!(f.report().reconstruction_err.is_finite());
    }
}

#[test]
fn f32_weighted_fits_track_f64() {
    let (x, m, w0, h0) = random_problem(21);
    let to32 = |a: &Mat<f64>| Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f32);
    for (solver, loss) in SOLVERS {
        let a = fixed(solver, loss, &w0, &h0, 20)
            .weights(m.as_ref())
            .fit(x.as_ref())
            .unwrap();
        let b = Nmf::params(w0.ncols())
            .solver(solver)
            .loss(loss)
            .init(Init::Custom {
                w: to32(&w0),
                h: to32(&h0),
            })
            .tol(0.0)
            .max_iter(20)
            .weights(to32(&m))
            .fit(to32(&x).as_ref())
            .unwrap();
        let d = common::rel_diff(common::widen(b.w()).as_ref(), a.w());
        assert!(d < 1e-3, "{solver} {loss}: {d:e}");
    }
}

#[test]
fn transform_treats_nan_as_missing_in_a_nan_model_and_sparse_models_impute() {
    let (x, m, _, _) = random_problem(23);
    let mut xn = x.clone();
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            if m[(i, j)] == 0.0 {
                xn[(i, j)] = f64::NAN;
            }
        }
    }
    let seen = Mat::from_fn(x.nrows(), x.ncols(), |i, j| f64::from(m[(i, j)] != 0.0));
    let model = Nmf::params(4)
        .missing(Missing::Nan)
        .max_iter(200)
        .fit(xn.as_ref())
        .unwrap();
    let by_nan = model.transform(xn.as_ref()).unwrap();
    let by_weights = model.transform_weighted(x.as_ref(), seen.as_ref()).unwrap();
    assert!(
        by_nan == by_weights,
        "NaN rows in transform = their 0/1 weights"
    );
    // A model without Missing::Nan still refuses NaN in transform.
    let plain = Nmf::params(4).max_iter(50).fit(x.as_ref()).unwrap();
    assert!(plain.transform(xn.as_ref()).is_err());
    // mask_zeros on sparse X: impute keeps the stored values and fills the rest from WH.
    let xs = SparseMat::from_dense(
        Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] * seen[(i, j)]).as_ref(),
    )
    .unwrap();
    let rec = Nmf::params(4)
        .mask_zeros(true)
        .max_iter(200)
        .fit(&xs)
        .unwrap();
    let filled = rec.impute(&xs).unwrap();
    let wh = rec.w() * rec.h();
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let want = if seen[(i, j)] > 0.0 {
                x[(i, j)]
            } else {
                wh[(i, j)]
            };
            assert_eq!(filled[(i, j)], want);
        }
    }
    let e = rec.impute(x.subrows(0, 5)).unwrap_err();
    assert!(
        matches!(
            e,
            NmfError::Core(CoreError::ShapeMismatch { dim: "rows", .. })
        ),
        "{e}"
    );
}
