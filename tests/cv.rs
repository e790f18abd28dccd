//! Cross-validated rank selection: the planted rank of a noisy low-rank matrix is found (dense
//! and sparse data), results are reproducible and thread-count independent, the hold-out keeps
//! every row and column trained, and bad options are typed errors.

mod common;

use faer::Mat;
use nmf::cv::{CvEntries, CvOptions, best_k, cross_validate, position_uniform};
use nmf::prelude::*;
use nmf::{CoreError, NmfError};

/// A nonnegative rank-`r` matrix times multiplicative noise of ±`noise`.
fn planted(n: usize, m: usize, r: usize, noise: f64, seed: u64) -> Mat<f64> {
    let u = |a: usize, b: usize, s: u64| position_uniform(seed * 31 + s, a, b);
    let w = Mat::from_fn(n, r, |i, t| u(i, t, 1).powi(2));
    let h = Mat::from_fn(r, m, |t, j| u(t, j, 2).powi(2));
    let wh = &w * &h;
    Mat::from_fn(n, m, |i, j| {
        wh[(i, j)] * (1.0 + noise * (2.0 * u(i, j, 3) - 1.0))
    })
}

#[test]
fn the_planted_rank_has_the_lowest_test_error() {
    for (seed, rank) in [(1u64, 4usize), (2, 6)] {
        let x = planted(80, 60, rank, 0.05, seed);
        let ks = [2, 3, 4, 5, 6, 7, 8, 10];
        let template = Nmf::params(1)
            .solver(SolverKind::Cd)
            .max_iter(500)
            .tol(1e-6);
        let opts = CvOptions {
            fraction: 0.1,
            replicates: 3,
            seed: 7,
            ..Default::default()
        };
        let rows = cross_validate(x.as_ref(), &ks, &template, &opts, |_| {}).unwrap();
        println!("planted rank {rank}:");
        for r in &rows {
            println!(
                "  k = {:>2}: test {:.3e} ± {:.1e}, train {:.3e}",
                r.k, r.test_mean, r.test_std, r.train_mean
            );
        }
        let (best, one_se) = best_k(&rows).unwrap();
        assert_eq!(best, rank, "planted rank {rank}");
        assert!(one_se <= best);
        // Training error keeps falling with k (up to the fits' tolerance) while the test error
        // turns up past the planted rank.
        let last = rows.last().unwrap();
        let at = rows.iter().find(|r| r.k == rank).unwrap();
        assert!(
            last.train_mean < at.train_mean,
            "train error should fall with k"
        );
        assert!(
            last.test_mean > at.test_mean,
            "test error should rise past the planted rank"
        );
    }
}

#[test]
fn sparse_data_holds_out_stored_entries_and_finds_the_rank() {
    // A sparse planted matrix: rank-4 counts-like values at ~35% of the positions.
    let dense = planted(90, 70, 4, 0.05, 3);
    let kept = Mat::from_fn(90, 70, |i, j| {
        if position_uniform(99, i, j) < 0.35 {
            dense[(i, j)]
        } else {
            0.0
        }
    });
    let xs = SparseMat::from_dense(kept.as_ref()).unwrap();
    let template = Nmf::params(1)
        .solver(SolverKind::Cd)
        .max_iter(500)
        .tol(1e-6);
    let opts = CvOptions {
        fraction: 0.1,
        replicates: 3,
        seed: 1,
        entries: CvEntries::Auto,
    };
    let rows = cross_validate(&xs, &[2, 3, 4, 6, 8], &template, &opts, |_| {}).unwrap();
    for r in &rows {
        println!(
            "sparse k = {}: test {:.3e}, train {:.3e}",
            r.k, r.test_mean, r.train_mean
        );
        // Only stored entries are candidates.
        assert!(
            r.held_out <= xs.nnz() / 5 && r.held_out > xs.nnz() / 20,
            "{}",
            r.held_out
        );
    }
    assert_eq!(best_k(&rows).unwrap().0, 4);
    let err = cross_validate(
        kept.as_ref(),
        &[2],
        &template,
        &CvOptions {
            entries: CvEntries::Stored,
            ..opts.clone()
        },
        |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            NmfError::Core(CoreError::InvalidParam {
                name: "entries",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn results_are_reproducible_and_independent_of_the_thread_count() {
    let x = planted(40, 30, 3, 0.1, 5);
    let template = Nmf::params(1).solver(SolverKind::Mu).max_iter(100);
    let opts = CvOptions::default();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| cross_validate(x.as_ref(), &[2, 3], &template, &opts, |_| {}).unwrap())
    };
    let (a, b) = (run(1), run(3));
    for (p, q) in a.iter().zip(&b) {
        assert_eq!(p.test, q.test);
        assert_eq!(p.train, q.train);
    }
    let other_seed = cross_validate(
        x.as_ref(),
        &[2],
        &template,
        &CvOptions {
            seed: 1,
            ..opts.clone()
        },
        |_| {},
    )
    .unwrap();
    assert_ne!(
        other_seed[0].test, a[0].test,
        "the seed moves the hold-out set"
    );
}

#[test]
fn every_row_and_column_keeps_a_training_entry_and_bad_options_are_errors() {
    // One column: with fraction 0.5 many rows would lose their only entry.
    let x = planted(50, 1, 1, 0.0, 8);
    let rows = cross_validate(
        x.as_ref(),
        &[1],
        &Nmf::params(1).max_iter(50),
        &CvOptions {
            fraction: 0.5,
            ..Default::default()
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(
        rows[0].held_out, 0,
        "a single column gives every row exactly one entry: none may go"
    );
    let t = Nmf::params(1);
    for (opts, name) in [
        (
            CvOptions {
                fraction: 0.0,
                ..Default::default()
            },
            "fraction",
        ),
        (
            CvOptions {
                fraction: 0.7,
                ..Default::default()
            },
            "fraction",
        ),
        (
            CvOptions {
                replicates: 0,
                ..Default::default()
            },
            "replicates",
        ),
    ] {
        let e = cross_validate(x.as_ref(), &[1], &t, &opts, |_| {}).unwrap_err();
        assert!(
            matches!(e, NmfError::Core(CoreError::InvalidParam { name: n, .. }) if n == name),
            "{e}"
        );
    }
    let e = cross_validate(
        x.as_ref(),
        &[1],
        &t.clone().weights(Mat::<f64>::ones(50, 1).as_ref()),
        &CvOptions::default(),
        |_| {},
    )
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
    let e = cross_validate(
        x.as_ref(),
        &[1],
        &t.solver(SolverKind::ProjectedGradient),
        &CvOptions::default(),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, NmfError::WeightsUnsupported { .. }), "{e}");
}
