//! Same data, parameters and seed give the same bits, whatever the number of threads.

use faer::{Mat, Par};
use nmf::init::mt19937::RandomState;
use nmf::prelude::*;
use nmf::solvers::LegacySparseness;

fn data() -> Mat<f32> {
    let mut r = RandomState::new(11);
    let a = Mat::from_fn(300, 6, |_, _| r.random_sample() as f32);
    let b = Mat::from_fn(6, 200, |_, _| r.random_sample() as f32);
    let noise = Mat::from_fn(300, 200, |_, _| 0.05 * r.random_sample() as f32);
    &a * &b + noise
}

fn fit_with_threads(threads: usize, p: &nmf::NmfParams<f32>, x: &Mat<f32>) -> (Mat<f32>, Mat<f32>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let par = if threads == 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    };
    pool.install(|| {
        let m = p.clone().par(par).fit(x.as_ref()).unwrap();
        (m.w().to_owned(), m.h().to_owned())
    })
}

#[test]
fn bit_identical_across_runs_and_thread_counts() {
    let x = data();
    let configs: Vec<(&str, nmf::NmfParams<f32>)> = vec![
        ("cd", Nmf::params(5).max_iter(30).tol(0.0)),
        (
            "cd shuffle",
            Nmf::params(5).shuffle(true).seed(3).max_iter(30).tol(0.0),
        ),
        (
            "mu fro",
            Nmf::params(5).solver(SolverKind::Mu).max_iter(30).tol(0.0),
        ),
        (
            "mu kl",
            Nmf::params(5)
                .solver(SolverKind::Mu)
                .loss(Loss::KullbackLeibler)
                .max_iter(30)
                .tol(0.0),
        ),
        (
            "pg",
            Nmf::params(5)
                .solver(SolverKind::ProjectedGradient)
                .h_sparseness(0.6)
                .max_iter(20)
                .tol(0.0),
        ),
        (
            "pg legacy",
            Nmf::params(5)
                .solver(SolverKind::ProjectedGradient)
                .legacy_pg(LegacySparseness::Components)
                .max_iter(10),
        ),
        (
            "opnmf",
            Nmf::params(5)
                .solver(SolverKind::Opnmf)
                .max_iter(30)
                .tol(0.0),
        ),
    ];
    for (name, p) in configs {
        let base = fit_with_threads(1, &p, &x);
        assert_eq!(
            base,
            fit_with_threads(1, &p, &x),
            "{name}: two sequential runs differ"
        );
        for threads in [2, 4] {
            let other = fit_with_threads(threads, &p, &x);
            let dw = (&base.0 - &other.0).norm_max();
            let dh = (&base.1 - &other.1).norm_max();
            assert!(
                dw == 0.0 && dh == 0.0,
                "{name}: {threads} threads differ from 1 (W by {dw:e}, H by {dh:e})"
            );
        }
    }
}

/// At the faces' size the products are large enough to be split over threads; they must still
/// give the same bits (every solver, its default init, 1, 2 and 4 threads).
#[test]
fn faces_bit_identical_across_thread_counts() {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/olivetti_faces.npy");
    if !p.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} missing under CI",
            p.display()
        );
        eprintln!("skipped: {} not found", p.display());
        return;
    }
    let x: Mat<f32> = nmf::io::read_npy(&p).unwrap();
    let configs: Vec<(&str, nmf::NmfParams<f32>)> = vec![
        ("cd", Nmf::params(20).max_iter(5).tol(0.0)),
        // k = 10 takes the unpacked small-k product for Xᵀ·W (`kernels::xt_b_into`).
        ("cd k = 10", Nmf::params(10).max_iter(5).tol(0.0)),
        (
            "mu fro k = 10",
            Nmf::params(10).solver(SolverKind::Mu).max_iter(5).tol(0.0),
        ),
        (
            "mu fro",
            Nmf::params(20).solver(SolverKind::Mu).max_iter(5).tol(0.0),
        ),
        (
            "mu kl",
            Nmf::params(20)
                .solver(SolverKind::Mu)
                .loss(Loss::KullbackLeibler)
                .max_iter(5)
                .tol(0.0),
        ),
        (
            "pg",
            Nmf::params(10)
                .solver(SolverKind::ProjectedGradient)
                .h_sparseness(0.6)
                .max_iter(3)
                .tol(0.0),
        ),
        (
            // Both sides constrained: the projections of H's rows and W's columns run on
            // several threads at this size.
            "pg W and H",
            Nmf::params(10)
                .solver(SolverKind::ProjectedGradient)
                .h_sparseness(0.6)
                .w_sparseness(0.4)
                .max_iter(3)
                .tol(0.0),
        ),
        (
            "opnmf",
            Nmf::params(10)
                .solver(SolverKind::Opnmf)
                .max_iter(5)
                .tol(0.0),
        ),
    ];
    for (name, params) in configs {
        let base = fit_with_threads(1, &params, &x);
        for threads in [2, 4] {
            let other = fit_with_threads(threads, &params, &x);
            let dw = (&base.0 - &other.0).norm_max();
            let dh = (&base.1 - &other.1).norm_max();
            assert!(
                dw == 0.0 && dh == 0.0,
                "{name}: {threads} threads differ from 1 on the faces (W by {dw:e}, H by {dh:e})"
            );
        }
    }
}
