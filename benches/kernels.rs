//! The products of one NMF iteration at the faces' shape (400 x 4096), k = 10, 50, 200:
//! `nmf_core::kernels::matmul` (thread-count independent) on one and two threads, next to faer's
//! own parallel GEMM; `Xᵀ·W` at k = 5 and 10 through faer and through `simd::col_dots` at every
//! vector width this CPU has (on an AVX2 machine, the measure of whether its AVX2 kernel should
//! stay on); plus the f64-accumulated reductions.
//!
//! `cargo bench --bench kernels` (filter: `cargo bench --bench kernels -- "k=50"`).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faer::{Accum, Mat, MatRef, Par};
use nmf::kernels;
use nmf_core::simd::{DotsWidth, col_dots_at};

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
    small_k::<f32>(c);
    small_k::<f64>(c);
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

/// `Xᵀ·W` at k = 5 and 10: faer (one and two threads, through `kernels::matmul`), each width
/// of `simd::col_dots` on one thread, and `xt_b_into` (the products' path) on two.
fn small_k<T: nmf::Float>(c: &mut Criterion) {
    let x = common::synthetic::<T>();
    let (n, m) = x.shape();
    for k in [5, 10] {
        let (w, _) = common::factors(&x, k);
        let mut g = c.benchmark_group(format!("small-k Xᵀ·W {} k={k}", T::NAME));
        g.sample_size(20)
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500));
        g.throughput(Throughput::Elements((2 * n * m * k) as u64));
        let mut dst = Mat::<T>::zeros(m, k);
        for (label, par) in [("1 thread", Par::Seq), ("2 threads", Par::rayon(2))] {
            g.bench_function(format!("faer (kernels::matmul) {label}"), |bch| {
                bch.iter(|| {
                    let (xt, wr) = (x.transpose(), w.as_ref());
                    kernels::matmul(dst.as_mut(), Accum::Replace, xt, wr, T::ONE, par).unwrap();
                    black_box(&dst);
                })
            });
        }
        for width in [DotsWidth::Avx512, DotsWidth::Avx2] {
            if !width.supported() {
                continue;
            }
            g.bench_function(format!("col_dots {width:?} 1 thread"), |bch| {
                bch.iter(|| {
                    dst.fill(T::ZERO);
                    let ran = col_dots_at(width, x.as_ref(), w.as_ref(), |j, c, v| {
                        dst[(j, c)] += v;
                    });
                    assert!(ran);
                    black_box(&dst);
                })
            });
        }
        let label = if kernels::XT_B_WIDTH.supported() {
            "xt_b_into 2 threads"
        } else {
            "xt_b_into 2 threads (declines here: no AVX-512)"
        };
        g.bench_function(label, |bch| {
            bch.iter(|| {
                let (xr, wr) = (x.as_ref(), w.as_ref());
                kernels::xt_b_into(dst.as_mut(), false, xr, wr, Par::rayon(2)).unwrap();
                black_box(&dst);
            })
        });
        g.finish();
    }
}

criterion_group!(benches, products);
criterion_main!(benches);
