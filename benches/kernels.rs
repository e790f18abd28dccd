//! The products of one NMF iteration at the faces' shape (400 x 4096), k = 10, 50, 200:
//! `nmf_core::kernels::matmul` (thread-count independent) on one and two threads, next to faer's
//! own parallel GEMM; plus the f64-accumulated reductions.
//!
//! `cargo bench --bench kernels` (filter: `cargo bench --bench kernels -- "k=50"`).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faer::{Accum, Mat, MatRef, Par};
use nmf::kernels;

type Product =
    for<'a> fn(&'a Mat<f32>, &'a Mat<f32>, &'a Mat<f32>) -> (MatRef<'a, f32>, MatRef<'a, f32>);

fn products(c: &mut Criterion) {
    let x = common::synthetic::<f32>();
    let (n, m) = x.shape();
    let cases: [(&str, Product); 4] = [
        ("X·Hᵀ", |x, _, h| (x.as_ref(), h.transpose())),
        ("Wᵀ·X", |x, w, _| (w.transpose(), x.as_ref())),
        ("H·Hᵀ", |_, _, h| (h.as_ref(), h.transpose())),
        ("W·H", |_, w, h| (w.as_ref(), h.as_ref())),
    ];
    for k in [10, 50, 200] {
        let (w, h) = common::factors(&x, k);
        let mut g = c.benchmark_group(format!("products k={k}"));
        g.sample_size(20)
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500));
        for (name, pick) in cases {
            let (a, b) = pick(&x, &w, &h);
            let mut dst = Mat::<f32>::zeros(a.nrows(), b.ncols());
            g.throughput(Throughput::Elements(
                (2 * a.nrows() * a.ncols() * b.ncols()) as u64,
            ));
            for (label, par) in [("1 thread", Par::Seq), ("2 threads", Par::rayon(2))] {
                g.bench_function(format!("{name} nmf {label}"), |bch| {
                    bch.iter(|| {
                        kernels::matmul(dst.as_mut(), Accum::Replace, a, b, 1.0, par).unwrap();
                        black_box(&dst);
                    })
                });
            }
            g.bench_function(format!("{name} faer 2 threads"), |bch| {
                bch.iter(|| {
                    faer::linalg::matmul::matmul(
                        dst.as_mut(),
                        Accum::Replace,
                        a,
                        b,
                        1.0,
                        Par::rayon(2),
                    );
                    black_box(&dst);
                })
            });
        }
        g.finish();
    }
    let mut g = c.benchmark_group("reductions");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements((n * m) as u64));
    g.bench_function("squared_norm X", |b| {
        b.iter(|| black_box(kernels::squared_norm(x.as_ref())))
    });
    g.bench_function("frobenius_inner X X", |b| {
        b.iter(|| black_box(kernels::frobenius_inner(x.as_ref(), x.as_ref()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, products);
criterion_main!(benches);
