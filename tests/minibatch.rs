//! `SolverKind::MiniBatch` against scikit-learn's `MiniBatchNMF` (the reference numbers of
//! `docs/minibatch.md` 5 on the G matrix, dense and sparse), its stopping rules, the
//! batch-MU equivalence, and the same bits for any thread count.

mod common;

use std::num::NonZeroUsize;

use faer::{Mat, Par};
use nmf::prelude::*;
use nmf::{NmfParams, SparseMat, StopReason};

use common::scale_npy as npy;

/// Dense X, the same X sparse, W0 and H0.
type Problem = (Mat<f64>, SparseMat<f64>, Mat<f64>, Mat<f64>);

/// The G matrix (60 x 40) dense and sparse, W0 and H0 (k = 5).
fn g_problem() -> Option<Problem> {
    let x = npy("g_X_dense.npy")?;
    let s = SparseMat::from_dense(x.as_ref()).unwrap();
    Some((x, s, npy("g_W0.npy")?, npy("g_H0.npy")?))
}

/// One row of the table in docs/minibatch.md 5.
struct Case {
    name: &'static str,
    params: fn(NmfParams<f64>) -> NmfParams<f64>,
    n_iter: usize,
    n_steps: usize,
    err: f64,
    reason: StopReason,
}

/// The fixed-iteration base: `init="custom"`, batch 16, tol 0, no no-improvement rule.
fn fixed(p: NmfParams<f64>) -> NmfParams<f64> {
    p.batch_size(16)
        .tol(0.0)
        .max_no_improvement(None)
        .max_iter(20)
}

fn cases() -> Vec<Case> {
    use StopReason::*;
    vec![
        Case {
            name: "fro",
            params: fixed,
            n_iter: 20,
            n_steps: 80,
            err: 35.2414,
            reason: MaxIter,
        },
        Case {
            name: "kl",
            params: |p| fixed(p).loss(Loss::KullbackLeibler),
            n_iter: 20,
            n_steps: 80,
            err: 43.9070,
            reason: MaxIter,
        },
        Case {
            name: "b05",
            params: |p| fixed(p).loss(Loss::Beta(0.5)).max_iter(10),
            n_iter: 10,
            n_steps: 40,
            err: 70.4383,
            reason: MaxIter,
        },
        Case {
            name: "ff05",
            params: |p| fixed(p).forget_factor(0.5).max_iter(10),
            n_iter: 10,
            n_steps: 40,
            err: 35.5404,
            reason: MaxIter,
        },
        Case {
            name: "fresh",
            params: |p| fixed(p).fresh_restarts(true).max_iter(10),
            n_iter: 10,
            n_steps: 40,
            err: 34.9541,
            reason: MaxIter,
        },
        Case {
            name: "l1",
            params: |p| fixed(p).alpha_w(0.001).l1_ratio(0.5),
            n_iter: 20,
            n_steps: 80,
            err: 35.2429,
            reason: MaxIter,
        },
        Case {
            name: "b23",
            params: |p| fixed(p).batch_size(23).max_iter(10),
            n_iter: 10,
            n_steps: 30,
            err: 35.8878,
            reason: MaxIter,
        },
        Case {
            name: "stop_noimp_b30",
            params: |p| p.batch_size(30),
            n_iter: 172,
            n_steps: 344,
            err: 34.5122,
            reason: NoImprovement,
        },
        Case {
            name: "stop_noimp_b16_kl",
            params: |p| p.batch_size(16).loss(Loss::KullbackLeibler),
            n_iter: 121,
            n_steps: 482,
            err: 42.9419,
            reason: NoImprovement,
        },
        Case {
            name: "stop_tol_b60",
            params: |p| p.batch_size(60).tol(0.05),
            n_iter: 8,
            n_steps: 8,
            err: 36.4579,
            reason: Converged,
        },
    ]
}

fn custom(w0: &Mat<f64>, h0: &Mat<f64>) -> NmfParams<f64> {
    Nmf::params::<f64>(5)
        .solver(SolverKind::MiniBatch)
        .init(Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        })
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn minibatch_reproduces_scikit_learn_on_the_g_matrix_dense_and_sparse() {
    let Some((x, s, w0, h0)) = g_problem() else {
        return;
    };
    for case in cases() {
        let (Some(w_want), Some(h_want)) = (
            npy(&format!("e_{}_W.npy", case.name)),
            npy(&format!("e_{}_H.npy", case.name)),
        ) else {
            return;
        };
        let config = (case.params)(custom(&w0, &h0)).check().unwrap();
        let dense = config.fit(&x).unwrap();
        let sparse = config.fit(&s).unwrap();
        for (kind, model) in [("dense", &dense), ("sparse", &sparse)] {
            let tag = format!("{} ({kind})", case.name);
            let r = model.report();
            assert_eq!(r.n_iter, case.n_iter, "{tag}: n_iter");
            assert_eq!(r.n_steps, case.n_steps, "{tag}: n_steps");
            assert_eq!(r.stop_reason, case.reason, "{tag}: stop reason");
            // The table gives 6 significant digits.
            close(&tag, r.reconstruction_err, case.err, 5e-6);
            let dw = common::rel_diff(model.w(), w_want.as_ref());
            let dh = common::rel_diff(model.h(), h_want.as_ref());
            // Measured: <= 5e-14 (the issue asks for 1e-6); 1e-10 leaves room for other CPUs.
            assert!(
                dw <= 1e-10 && dh <= 1e-10,
                "{tag}: W off by {dw:e}, H by {dh:e}"
            );
        }
    }
}

#[test]
fn minibatch_nndsvda_start_matches_scikit_learn() {
    let Some((x, s, _, _)) = g_problem() else {
        return;
    };
    let (Some(w_want), Some(h_want)) = (npy("e_nndsvda_W.npy"), npy("e_nndsvda_H.npy")) else {
        return;
    };
    let config = fixed(
        Nmf::params::<f64>(5)
            .solver(SolverKind::MiniBatch)
            .init(Init::NndsvdA)
            .seed(0)
            .compat(Compat::Sklearn),
    )
    .check()
    .unwrap();
    for (kind, model) in [
        ("dense", config.fit(&x).unwrap()),
        ("sparse", config.fit(&s).unwrap()),
    ] {
        let r = model.report();
        assert_eq!((r.n_iter, r.n_steps), (20, 80), "{kind}");
        close(kind, r.reconstruction_err, 34.6054, 5e-6);
        let dw = common::rel_diff(model.w(), w_want.as_ref());
        let dh = common::rel_diff(model.h(), h_want.as_ref());
        assert!(
            dw <= 1e-6 && dh <= 1e-6,
            "{kind}: W off by {dw:e}, H by {dh:e}"
        );
    }
}

#[test]
fn minibatch_transform_is_scikit_learns_solve() {
    let Some((x, s, w0, h0)) = g_problem() else {
        return;
    };
    let x5 = x.as_ref().subrows(0, 5).to_owned();
    let s5 = SparseMat::from_dense(x5.as_ref()).unwrap();
    for (name, loss, row0) in [
        (
            "fro",
            Loss::Frobenius,
            [0.00237097, 8.66707e-07, 0.0372526, 0.50096, 0.102371],
        ),
        (
            "kl",
            Loss::KullbackLeibler,
            [2.33169e-41, 8.74968e-20, 0.297356, 0.330442, 0.30527],
        ),
    ] {
        let Some(want) = npy(&format!("e_{name}_transform5_W.npy")) else {
            return;
        };
        let model = fixed(custom(&w0, &h0)).loss(loss).fit(&s).unwrap();
        for got in [model.transform(&x5).unwrap(), model.transform(&s5).unwrap()] {
            let d = common::rel_diff(got.as_ref(), want.as_ref());
            assert!(d <= 1e-6, "{name}: transform off by {d:e}");
            for (t, &v) in row0.iter().enumerate() {
                close(name, got[(0, t)], v, 1e-5);
            }
        }
        let _ = &x;
    }
}

#[test]
fn full_batch_without_forgetting_is_the_mu_solver() {
    // scikit-learn's equivalence: batch_size = n, forget_factor = 0, tol = 0 and no
    // no-improvement rule give NMF(solver="mu") for every β.
    let Some((x, s, w0, h0)) = g_problem() else {
        return;
    };
    for loss in [
        Loss::Frobenius,
        Loss::KullbackLeibler,
        Loss::Beta(0.5),
        Loss::Beta(3.0),
    ] {
        let start = Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        };
        let mu = Nmf::params::<f64>(5)
            .solver(SolverKind::Mu)
            .loss(loss)
            .init(start.clone())
            .tol(0.0)
            .max_iter(15);
        let mb = mu
            .clone()
            .solver(SolverKind::MiniBatch)
            .batch_size(60)
            .forget_factor(0.0)
            .max_no_improvement(None);
        for data in [nmf::DataRef::from(&x), nmf::DataRef::from(&s)] {
            let a = mu.fit(data).unwrap();
            let b = mb.fit(data).unwrap();
            let dw = common::rel_diff(b.w(), a.w());
            let dh = common::rel_diff(b.h(), a.h());
            assert!(
                dw <= 1e-12 && dh <= 1e-12,
                "{loss}: W off by {dw:e}, H by {dh:e}"
            );
            assert_eq!(b.report().n_steps, 15);
        }
    }
}

#[test]
fn minibatch_bits_do_not_depend_on_the_thread_count() {
    let Some((x, s, w0, h0)) = g_problem() else {
        return;
    };
    for loss in [Loss::Frobenius, Loss::KullbackLeibler, Loss::Beta(1.5)] {
        for data in [nmf::DataRef::from(&x), nmf::DataRef::from(&s)] {
            let fits: Vec<_> = [1usize, 2, 3]
                .iter()
                .map(|&t| {
                    let par = if t == 1 {
                        Par::Seq
                    } else {
                        Par::Rayon(NonZeroUsize::new(t).unwrap())
                    };
                    let m = fixed(custom(&w0, &h0))
                        .loss(loss)
                        .batch_size(23)
                        .par(par)
                        .fit(data)
                        .unwrap();
                    (m.w().to_owned(), m.h().to_owned())
                })
                .collect();
            assert!(
                fits.windows(2).all(|f| f[0] == f[1]),
                "{loss}: thread-dependent bits"
            );
        }
    }
}

#[test]
fn minibatch_works_in_f32() {
    let Some((x, _, w0, h0)) = g_problem() else {
        return;
    };
    let narrow = |a: &Mat<f64>| Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f32);
    let (x32, w32, h32) = (narrow(&x), narrow(&w0), narrow(&h0));
    let Some(h_want) = npy("e_fro_H.npy") else {
        return;
    };
    let model = Nmf::params::<f32>(5)
        .solver(SolverKind::MiniBatch)
        .init(Init::Custom { w: w32, h: h32 })
        .batch_size(16)
        .tol(0.0)
        .max_no_improvement(None)
        .max_iter(20)
        .fit(&x32)
        .unwrap();
    let d = common::rel_diff(common::widen(model.h()).as_ref(), h_want.as_ref());
    // 80 online steps in single precision.
    assert!(d <= 1e-3, "f32 H off by {d:e}");
}

#[test]
fn minibatch_settings_are_validated() {
    let x = Mat::from_fn(6, 4, |i, j| (1 + i + j) as f64);
    let bad: Vec<(&str, NmfParams<f64>)> = vec![
        (
            "batch_size",
            Nmf::params(2).solver(SolverKind::MiniBatch).batch_size(0),
        ),
        (
            "forget_factor",
            Nmf::params(2)
                .solver(SolverKind::MiniBatch)
                .forget_factor(1.5),
        ),
        (
            "forget_factor",
            Nmf::params(2)
                .solver(SolverKind::MiniBatch)
                .forget_factor(f64::NAN),
        ),
        (
            "fresh_restarts_max_iter",
            Nmf::params(2)
                .solver(SolverKind::MiniBatch)
                .fresh_restarts_max_iter(0),
        ),
        (
            "transform_max_iter",
            Nmf::params(2)
                .solver(SolverKind::MiniBatch)
                .transform_max_iter(0),
        ),
        (
            "max_no_improvement",
            Nmf::params(2)
                .solver(SolverKind::MiniBatch)
                .max_no_improvement(Some(0)),
        ),
        (
            "kkt_tol",
            Nmf::params(2).solver(SolverKind::MiniBatch).kkt_tol(1e-3),
        ),
    ];
    for (name, p) in bad {
        let e = p.check().unwrap_err().to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
    let w = Mat::from_fn(6, 4, |_, _| 1.0);
    let e = Nmf::params::<f64>(2)
        .solver(SolverKind::MiniBatch)
        .weights(w.as_ref())
        .fit(&x)
        .unwrap_err();
    assert!(matches!(e, nmf::NmfError::WeightsUnsupported { .. }), "{e}");
    // Negative data is refused by transform too (scikit-learn's MiniBatchNMF.transform does not
    // check, and fails later with an unrelated message).
    let model = Nmf::params::<f64>(2)
        .solver(SolverKind::MiniBatch)
        .fit(&x)
        .unwrap();
    let mut neg = x.clone();
    neg[(1, 2)] = -1.0;
    assert!(model.transform(&neg).is_err());
}

#[test]
fn partial_fit_matches_scikit_learn_over_two_passes_of_chunks() {
    // docs/minibatch.md 5: defaults with init="custom"; chunks X[0:15], ..., X[45:60], twice; the first
    // call with W = W0[:15], H = H0.
    let Some((x, s, w0, h0)) = g_problem() else {
        return;
    };
    let (Some(h_want), Some(w_want)) = (npy("e_partial_H.npy"), npy("e_partial_transform_W.npy"))
    else {
        return;
    };
    for data in [nmf::DataRef::from(&x), nmf::DataRef::from(&s)] {
        let config = Nmf::params::<f64>(5)
            .solver(SolverKind::MiniBatch)
            .init(Init::Custom {
                w: w0.as_ref().subrows(0, 15).to_owned(),
                h: h0.clone(),
            })
            .check()
            .unwrap();
        let mut online = config.online().unwrap();
        for _ in 0..2 {
            for start in (0..60).step_by(15) {
                let chunk = match data {
                    nmf::DataRef::Dense(d) => nmf::DataRef::from(d.subrows(start, 15)),
                    _ => {
                        let block = s.row_block(start..start + 15).unwrap();
                        let model = online.partial_fit(&block).unwrap();
                        assert_eq!(model.w().nrows(), 15);
                        continue;
                    }
                };
                online.partial_fit(chunk).unwrap();
            }
        }
        let state = online.state().unwrap();
        assert_eq!(state.n_steps, 8);
        assert_eq!(state.rho, 0.7);
        let total: f64 = (0..5)
            .flat_map(|t| (0..40).map(move |j| (t, j)))
            .map(|(t, j)| state.h[(t, j)])
            .sum();
        close("sum H", total, 56.8913, 2e-6);
        close("H[0,0]", state.h[(0, 0)], 0.598387, 2e-6);
        let dh = common::rel_diff(state.h.as_ref(), h_want.as_ref());
        assert!(dh <= 1e-10, "H off by {dh:e}");
        let model = online.model().unwrap();
        let w = model.transform(&x).unwrap();
        let dw = common::rel_diff(w.as_ref(), w_want.as_ref());
        assert!(dw <= 1e-10, "transform off by {dw:e}");
        let r = &x - &w * &state.h;
        close("error", r.norm_l2(), 35.6127, 5e-6);
    }
}

#[test]
fn fit_with_fresh_restarts_equals_partial_fit_over_the_same_chunks() {
    // docs/minibatch.md 6: exact when the partial_fit estimator forgets at ff^(b/n) per chunk.
    let Some((x, _, w0, h0)) = g_problem() else {
        return;
    };
    let b = 20;
    let base = |ff: f64| {
        Nmf::params::<f64>(5)
            .solver(SolverKind::MiniBatch)
            .fresh_restarts(true)
            .batch_size(b)
            .tol(0.0)
            .max_no_improvement(None)
            .max_iter(3)
            .forget_factor(ff)
    };
    let fit = base(0.7)
        .init(Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        })
        .fit(&x)
        .unwrap();
    let mut online = base(0.7f64.powf(b as f64 / 60.0))
        .init(Init::Custom {
            w: w0.as_ref().subrows(0, b).to_owned(),
            h: h0.clone(),
        })
        .check()
        .unwrap()
        .online()
        .unwrap();
    for _ in 0..3 {
        for start in (0..60).step_by(b) {
            online.partial_fit(x.as_ref().subrows(start, b)).unwrap();
        }
    }
    let state = online.state().unwrap();
    assert_eq!(state.h, fit.h().to_owned(), "H differs");
    assert_eq!(state.n_steps, fit.report().n_steps);
    // The fit keeps the statistics it ended with (scikit-learn's partial_fit after fit
    // continues from them): the stream's state, running sums and decay included, bit for bit.
    let kept = fit
        .online_state()
        .expect("a minibatch fit keeps its online state");
    assert_eq!(kept, state);
    let mut resumed = nmf::OnlineNmf::resume(fit.config(), kept.clone()).unwrap();
    let next = x.as_ref().subrows(0, b);
    let h_resumed = resumed.partial_fit(next).unwrap().h().to_owned();
    assert_eq!(h_resumed, online.partial_fit(next).unwrap().h().to_owned());
    // Batch solvers have no online statistics.
    let batch = Nmf::params::<f64>(5).max_iter(5).fit(&x).unwrap();
    assert!(batch.online_state().is_none());
}

#[test]
fn partial_fit_resumes_from_a_saved_state_and_refuses_bad_chunks() {
    let x = Mat::from_fn(40, 6, |i, j| ((i * 5 + j * 3) % 7) as f64 + 0.5);
    let config = Nmf::params::<f64>(3)
        .solver(SolverKind::MiniBatch)
        .check()
        .unwrap();
    let mut straight = config.online().unwrap();
    for start in (0..40).step_by(10) {
        straight.partial_fit(x.as_ref().subrows(start, 10)).unwrap();
    }
    let mut first = config.online().unwrap();
    for start in (0..20).step_by(10) {
        first.partial_fit(x.as_ref().subrows(start, 10)).unwrap();
    }
    let saved = first.state().unwrap().clone();
    let mut resumed = nmf::OnlineNmf::resume(&config, saved).unwrap();
    for start in (20..40).step_by(10) {
        resumed.partial_fit(x.as_ref().subrows(start, 10)).unwrap();
    }
    assert_eq!(resumed.state(), straight.state());

    // Through a model folder: saved after two chunks, loaded, two more chunks, same bits.
    use nmf::model_file::{ModelFileError, ModelFiles};
    let dir = scratch("online");
    first.save(&dir).unwrap();
    let json = nmf::model_file::read_model_json(&dir).unwrap();
    assert_eq!(json.format_version, 2);
    assert_eq!(json.online.map(|o| o.n_steps), Some(2));
    let mut loaded = nmf::OnlineNmf::<f64>::load(&dir).unwrap();
    for start in (20..40).step_by(10) {
        loaded.partial_fit(x.as_ref().subrows(start, 10)).unwrap();
    }
    assert_eq!(loaded.state(), straight.state());
    // The same folder is a plain model too; a plain model folder is no online state, and a
    // fitter that learned nothing has nothing to save.
    let plain = NmfModel::<f64>::load(&dir).unwrap();
    assert_eq!(plain.h(), first.state().unwrap().h);
    plain.save(&dir).unwrap();
    assert!(matches!(
        nmf::OnlineNmf::<f64>::load(&dir),
        Err(ModelFileError::NotAModel { .. })
    ));
    assert!(config.online().unwrap().save(&dir).is_err());
    std::fs::remove_dir_all(&dir).unwrap();

    // A bad chunk is an error and changes nothing.
    let before = resumed.state().unwrap().clone();
    let mut neg = x.as_ref().subrows(0, 10).to_owned();
    neg[(2, 3)] = -1.0;
    assert!(resumed.partial_fit(&neg).is_err());
    let narrow = Mat::from_fn(10, 5, |_, _| 1.0);
    assert!(resumed.partial_fit(&narrow).is_err());
    assert_eq!(resumed.state(), Some(&before));
    // Only minibatch configs learn online; a state must fit the config.
    assert!(Nmf::params::<f64>(3).check().unwrap().online().is_err());
    let mut bad = before.clone();
    bad.rho = 1.5;
    assert!(nmf::OnlineNmf::resume(&config, bad).is_err());
    let mut bad = before;
    bad.a = Mat::zeros(2, 6);
    assert!(nmf::OnlineNmf::resume(&config, bad).is_err());
}

/// A scratch folder for this test binary's files, removed by the caller.
fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nmf-minibatch-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `x` as a Fortran-order float64 `.npy` file (columns one after another), which
/// `write_npy` (C order) does not write.
fn write_fortran_npy(path: &std::path::Path, x: &Mat<f64>) {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': True, 'shape': ({}, {}), }}",
        x.nrows(),
        x.ncols()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            bytes.extend(x[(i, j)].to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_fit_from_row_sources_equals_the_in_memory_fit() {
    use nmf::io::{NpyRows, NpzRows};
    use nmf::{InMemoryRows, RowSource};
    let Some((x, s, w0, h0)) = g_problem() else {
        return;
    };
    let dir = scratch("sources");
    let (c_file, f_file) = (dir.join("x_c.npy"), dir.join("x_f.npy"));
    nmf::io::write_npy(&c_file, x.as_ref()).unwrap();
    write_fortran_npy(&f_file, &x);
    // The sparse matrix as a deflated CSR .npz (our writer, SciPy's layout) and the same
    // members stored uncompressed (`save_npz(compressed=False)`).
    let (z_file, stored_file) = (dir.join("x.npz"), dir.join("x_stored.npz"));
    nmf::io::write_sparse(&z_file, &s).unwrap();
    restore_uncompressed(&z_file, &stored_file);
    for case in cases() {
        let config = (case.params)(custom(&w0, &h0)).check().unwrap();
        let fresh = config.minibatch().fresh_restarts;
        let dense = config.fit(&x).unwrap();
        let sparse = config.fit(&s).unwrap();
        type Source<'m> = (
            &'static str,
            Box<dyn RowSource<f64> + 'm>,
            &'m NmfModel<f64>,
        );
        let mut sources: Vec<Source<'_>> = vec![
            (
                "C-order file",
                Box::new(NpyRows::open(&c_file).unwrap()),
                &dense,
            ),
            (
                "Fortran file",
                Box::new(NpyRows::open(&f_file).unwrap()),
                &dense,
            ),
            ("dense rows", Box::new(InMemoryRows::new(&x)), &dense),
            ("sparse rows", Box::new(InMemoryRows::new(&s)), &sparse),
            (
                "deflated npz",
                Box::new(NpzRows::open(&z_file).unwrap()),
                &sparse,
            ),
            (
                "stored npz",
                Box::new(NpzRows::open(&stored_file).unwrap()),
                &sparse,
            ),
        ];
        for (what, src, want) in &mut sources {
            let got = config.fit_source(src.as_mut()).unwrap();
            let (r, w) = (got.report(), want.report());
            let at = format!("{} from {what}", case.name);
            assert_eq!(
                (r.n_iter, r.n_steps, r.stop_reason),
                (w.n_iter, w.n_steps, w.stop_reason),
                "{at}"
            );
            assert!(got.h() == want.h(), "{at}: H differs");
            if fresh {
                // The final W is solved batch by batch: each block as `transform` alone.
                let b = config.minibatch().batch_size;
                for start in (0..x.nrows()).step_by(b) {
                    let rows = b.min(x.nrows() - start);
                    let block = want.transform(x.as_ref().subrows(start, rows)).unwrap();
                    let got_w = got.w().subrows(start, rows);
                    let d = common::rel_diff(got_w, block.as_ref());
                    assert!(d <= 1e-12, "{at}: W rows {start}.. off by {d:e}");
                }
            } else {
                assert!(got.w() == want.w(), "{at}: W differs");
            }
            close(&at, r.reconstruction_err, w.reconstruction_err, 1e-12);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Copies the `.npz` archive `from` to `to` with every member stored, not deflated.
fn restore_uncompressed(from: &std::path::Path, to: &std::path::Path) {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        zout.start_file(f.name().unwrap().to_string(), opts)
            .unwrap();
        zout.write_all(&bytes).unwrap();
    }
    zout.finish().unwrap();
}

#[test]
fn npz_rows_read_the_rows_of_the_whole_file_in_any_order() {
    use nmf::RowSource;
    use nmf::io::NpzRows;
    let Some((_, s, _, _)) = g_problem() else {
        return;
    };
    let dir = scratch("npz");
    let path = dir.join("x.npz");
    nmf::io::write_sparse(&path, &s).unwrap();
    let mut rows = NpzRows::<f64>::open(&path).unwrap();
    assert_eq!(rows.shape(), s.shape());
    assert_eq!(rows.nnz(), s.nnz());
    // Forwards, skipping, then backwards (a new pass): each block is the matrix's rows.
    for r in [0..7, 7..20, 33..60, 5..9, 59..60] {
        let want = s.row_block(r.clone()).unwrap();
        match rows.rows(r.clone()).unwrap() {
            nmf::DataRef::Sparse(got) => assert_eq!(got.mat(), &want, "rows {r:?}"),
            _ => panic!("rows {r:?}: a dense block from a sparse file"),
        }
    }
    assert!(rows.rows(10..10).is_err() && rows.rows(50..61).is_err());
    // float64 data does not read as f32 (it would round); a file that is no archive is an
    // error, not a panic.
    assert!(NpzRows::<f32>::open(&path).is_err());
    let junk = dir.join("junk.npz");
    std::fs::write(&junk, b"PK\x03\x04 not really").unwrap();
    assert!(NpzRows::<f64>::open(&junk).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
