//! Solver iterations at the faces' shape: five iterations of each solver and loss from fixed
//! positive factors (tol = 0, so exactly five; pg with a basis sparseness target), on two
//! threads, k = 10, 50, 200; synthetic data always, the Olivetti faces when `../shared/data` is
//! present; f64 for the Frobenius solvers.
//! Throughput is in iterations.
//!
//! `cargo bench --bench solvers` (filter: `cargo bench --bench solvers -- "faces k=50"`).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faer::{Mat, Par};
use nmf::Float;
use nmf::prelude::*;

const ITERS: usize = 5;

/// Name, solver, loss and pg's basis sparseness target.
fn configs() -> Vec<(&'static str, SolverKind, Loss, Option<f64>)> {
    vec![
        ("cd", SolverKind::Cd, Loss::Frobenius, None),
        ("mu fro", SolverKind::Mu, Loss::Frobenius, None),
        ("mu kl", SolverKind::Mu, Loss::KullbackLeibler, None),
        ("mu is", SolverKind::Mu, Loss::ItakuraSaito, None),
        // Hoyer's solver next to mu: issue 21 wants a pg iteration within 3x of mu's.
        (
            "pg h 0.5",
            SolverKind::ProjectedGradient,
            Loss::Frobenius,
            Some(0.5),
        ),
    ]
}

fn bench_data<T: Float>(c: &mut Criterion, label: &str, x: &Mat<T>, ks: &[usize], only_fro: bool) {
    // Itakura-Saito needs X > 0; the offset changes nothing about the work.
    let xp = Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] + T::from_f64(1e-3));
    for &k in ks {
        let (w0, h0) = common::factors(x, k);
        let mut g = c.benchmark_group(format!("{label} k={k}"));
        g.sample_size(10)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_millis(500))
            .throughput(Throughput::Elements(ITERS as u64));
        for (name, solver, loss, h_sparseness) in configs() {
            if only_fro && loss != Loss::Frobenius {
                continue;
            }
            let mut params = Nmf::params(k)
                .solver(solver)
                .loss(loss)
                .init(Init::Custom {
                    w: w0.clone(),
                    h: h0.clone(),
                })
                .max_iter(ITERS)
                .tol(0.0)
                .par(Par::rayon(2));
            if let Some(s) = h_sparseness {
                params = params.h_sparseness(s);
            }
            let data = if loss == Loss::ItakuraSaito { &xp } else { x };
            g.bench_function(name, |b| {
                b.iter(|| black_box(params.clone().fit(data.as_ref()).unwrap()))
            });
        }
        g.finish();
    }
}

fn solvers(c: &mut Criterion) {
    let synthetic = common::synthetic::<f32>();
    bench_data(c, "synthetic f32", &synthetic, &[10, 50, 200], false);
    bench_data(c, "synthetic f64", &common::synthetic::<f64>(), &[50], true);
    if let Some(faces) = common::faces::<f32>() {
        bench_data(c, "faces f32", &faces, &[10, 50, 200], false);
    }
}

criterion_group!(benches, solvers);
criterion_main!(benches);
