//! Heap use of a fit, counted by a wrapping global allocator.
//!
//! - Peak: no n x m temporaries per iteration for Frobenius, blockwise work for the other
//!   losses. Budget: the peak while fitting stays within twice the bytes of X plus the factors
//!   plus the k x k Gram products (X itself counts against it).
//! - Count: iterations 2..N of every solver allocate nothing (all workspaces are sized when the
//!   solver is built), on one thread and on two.
//!
//! - Sparse: cd and mu (Frobenius, KL) on a 200,000 x 50,000 matrix with 5 M stored values at
//!   k = 20 peak under twice the stored data (both CSR and CSC copies) plus factors plus
//!   Grams: nothing of size n x m, dense or otherwise, is ever formed.
//!
//! - Out of core: a 1 GiB float32 `.npy` file (262,144 x 1024) fitted by minibatch from disk
//!   (`fit_source`) and its W streamed to a second file (`transform_npy`), peak under 64 MB:
//!   one 4096-row batch plus the factors.
//!
//! One test function, so no other test allocates concurrently in this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::ops::ControlFlow;

use faer::{Mat, Par};
use nmf::NmfParams;
use nmf::prelude::*;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Number of allocations (and reallocations) so far.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Allocations made on this thread: a one-thread fit's own count, which other threads of
    /// the process (rayon's idle workers tidying their queues, say) cannot disturb.
    static MINE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        MINE.with(|c| c.set(c.get() + 1));
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn fits_stay_in_budget_and_their_iterations_allocate_nothing() {
    peak_within_twice_the_data();
    // After the warm-up above: faer's per-thread packing buffer is a fixed cost of the
    // process, not of the data.
    out_of_core_fit_within_64_mb();
    iterations_allocate_nothing();
    sparse_peak_within_twice_the_stored_data();
}

/// 200,000 x 50,000, 25 stored values in every row (5 M), in scrambled order within rows.
fn big_sparse() -> nmf::SparseMat<f64> {
    let (n, m, per_row) = (200_000usize, 50_000usize, 25usize);
    let mut ptr = Vec::with_capacity(n + 1);
    let mut idx = Vec::with_capacity(n * per_row);
    let mut val = Vec::with_capacity(n * per_row);
    ptr.push(0);
    for i in 0..n {
        // 25 distinct columns: a stride coprime with m from a row-dependent start.
        let start = (i * 7919) % m;
        for t in 0..per_row {
            idx.push(((start + t * 1999) % m) as u32);
            val.push(1.0 + ((i + 3 * t) % 7) as f64);
        }
        ptr.push(idx.len());
    }
    nmf::SparseMat::from_csr(n, m, &ptr, &idx, &val).unwrap()
}

fn sparse_peak_within_twice_the_stored_data() {
    let x = big_sparse();
    let ((n, m), k) = (x.shape(), 20);
    assert_eq!(x.nnz(), 5_000_000);
    let size = std::mem::size_of::<f64>();
    let stored = x.heap_bytes();
    let budget = 2 * (stored + size * ((n + m) * k + 2 * k * k));
    let w0 = Mat::<f64>::from_fn(n, k, |i, t| ((i + 3 * t) % 17) as f64 / 17.0 + 0.1);
    let h0 = Mat::<f64>::from_fn(k, m, |t, j| ((5 * t + j) % 13) as f64 / 13.0 + 0.1);
    for (solver, loss) in [
        (SolverKind::Cd, Loss::Frobenius),
        (SolverKind::Mu, Loss::Frobenius),
        (SolverKind::Mu, Loss::KullbackLeibler),
    ] {
        let params = Nmf::params(k)
            .solver(solver)
            .loss(loss)
            .init(Init::Custom {
                w: w0.clone(),
                h: h0.clone(),
            })
            .max_iter(2)
            .tol(0.0)
            .par(Par::rayon(2));
        let before = CURRENT.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let model = params.fit(&x).unwrap();
        let peak = stored + PEAK.load(Ordering::Relaxed).saturating_sub(before);
        assert_eq!(model.report().n_iter, 2);
        eprintln!(
            "sparse {solver:?} {loss:?}: peak {:.1} MB of budget {:.1} MB (X stored {:.1} MB)",
            peak as f64 / 1e6,
            budget as f64 / 1e6,
            stored as f64 / 1e6
        );
        assert!(
            peak <= budget,
            "sparse {solver:?} {loss:?}: peak {} MB over budget {} MB",
            peak >> 20,
            budget >> 20
        );
    }
}

/// Allocations between the end of iteration 1 and the end of the last iteration.
/// Allocations between the first and the last iteration's callback: counted on every thread
/// for a parallel fit, on the calling thread (where all of its work runs) for a sequential one.
fn allocations_in_iterations(params: &NmfParams<f32>, x: &Mat<f32>) -> usize {
    let (mut first, mut last) = (None, 0);
    let one_thread = params.clone().check().unwrap().par() == Par::Seq;
    let model = params
        .fit_with(x.as_ref(), &mut |info| {
            let now = if one_thread {
                MINE.with(std::cell::Cell::get)
            } else {
                ALLOCS.load(Ordering::Relaxed)
            };
            if info.iter == 1 {
                first = Some(now);
            }
            last = now;
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(
        model.report().n_iter,
        params.clone().check().unwrap().max_iter()
    );
    last - first.unwrap()
}

fn iterations_allocate_nothing() {
    // Large enough that products, Grams, sweeps and MU pieces all take their parallel paths
    // on two threads (k >= 32, more than 2M multiply-adds per product).
    let (n, m, k) = (256, 512, 40);
    let x = Mat::<f32>::from_fn(n, m, |i, j| {
        ((i * 7919 + j * 104_729) % 1000) as f32 / 1000.0 + 0.01
    });
    let base = Nmf::params(k).max_iter(12).tol(1e-12).init(Init::NndsvdA);
    // A mask with every seventh entry missing, as dense and as sparse weights.
    let mask = Mat::<f32>::from_fn(n, m, |i, j| f32::from((i + 3 * j) % 7 != 0));
    let sparse_mask = nmf::SparseMat::from_dense(mask.as_ref()).expect("a valid mask");
    let configs: [(&str, NmfParams<f32>); 13] = [
        ("cd", base.clone().solver(SolverKind::Cd)),
        (
            "cd, 3 inner sweeps, shuffle",
            base.clone().inner_sweeps(3).shuffle(true),
        ),
        ("mu Frobenius", base.clone().solver(SolverKind::Mu)),
        (
            "mu KL",
            base.clone()
                .solver(SolverKind::Mu)
                .loss(Loss::KullbackLeibler),
        ),
        (
            "mu IS",
            base.clone().solver(SolverKind::Mu).loss(Loss::ItakuraSaito),
        ),
        (
            "mu beta 0.5",
            base.clone().solver(SolverKind::Mu).loss(Loss::Beta(0.5)),
        ),
        (
            "pg Hoyer",
            base.clone()
                .solver(SolverKind::ProjectedGradient)
                .h_sparseness(0.7),
        ),
        (
            "pg legacy",
            base.clone()
                .solver(SolverKind::ProjectedGradient)
                .legacy_pg(nmf::solvers::LegacySparseness::None),
        ),
        ("opnmf", base.clone().solver(SolverKind::Opnmf)),
        (
            "weighted cd, dense weights",
            base.clone().solver(SolverKind::Cd).weights(mask.as_ref()),
        ),
        (
            "weighted mu KL, dense weights",
            base.clone()
                .solver(SolverKind::Mu)
                .loss(Loss::KullbackLeibler)
                .weights(mask.as_ref()),
        ),
        (
            "weighted cd, sparse weights",
            base.clone().solver(SolverKind::Cd).weights(&sparse_mask),
        ),
        (
            "weighted mu Frobenius, sparse weights",
            base.clone().solver(SolverKind::Mu).weights(&sparse_mask),
        ),
    ];
    // cd at k <= 10 on AVX-512 takes the fused H update (planned in the first iteration); on
    // a tall, narrow X its plan declines, and must stay declined without replanning.
    let small = Nmf::params(10).max_iter(12).tol(1e-12).init(Init::NndsvdA);
    let narrow = Mat::<f32>::from_fn(300, 60, |i, j| {
        ((i * 31 + j * 17) % 97) as f32 / 97.0 + 0.01
    });
    let mut configs: Vec<(&str, _, &Mat<f32>)> =
        configs.into_iter().map(|(name, p)| (name, p, &x)).collect();
    configs.push((
        "cd k = 10 (fused H update)",
        small.clone().solver(SolverKind::Cd),
        &x,
    ));
    configs.push((
        "cd k = 10, 300 x 60 (fused plan declined)",
        small.solver(SolverKind::Cd),
        &narrow,
    ));
    let mut failures = Vec::new();
    for (name, params, x) in &configs {
        for par in [Par::Seq, Par::rayon(2)] {
            let params = params.clone().par(par);
            let count = allocations_in_iterations(&params, x);
            eprintln!("{name} {par:?}: {count} allocations in iterations 2..12");
            if count != 0 {
                failures.push(format!("{name} {par:?}: {count}"));
            }
        }
    }
    assert!(failures.is_empty(), "iterations allocated: {failures:?}");
}

fn peak_within_twice_the_data() {
    // The faces' shape, synthetic (strictly positive, so every loss applies).
    let (n, m, k) = (400, 4096, 50);
    let x = Mat::<f32>::from_fn(n, m, |i, j| {
        ((i * 7919 + j * 104_729) % 1000) as f32 / 1000.0 + 0.01
    });
    let size = std::mem::size_of::<f32>();
    let budget = 2 * size * (n * m + n * k + k * m + 2 * k * k);
    let w0 = Mat::<f32>::from_fn(n, k, |i, t| ((i + 3 * t) % 17) as f32 / 17.0 + 0.1);
    let h0 = Mat::<f32>::from_fn(k, m, |t, j| ((5 * t + j) % 13) as f32 / 13.0 + 0.1);
    // faer's GEMM keeps one cache-sized packing buffer per thread, allocated by its first product
    // (about 67 MB here whatever the problem size) and reused ever after: warm it up on this
    // thread and on every thread of the pool, so what follows measures the fit itself. A fit on
    // two threads is not enough: which worker runs which product depends on timing, and a worker
    // that did none during the warm-up allocated its buffer in the measured fit (seen under load).
    let warm = || {
        let a = Mat::<f32>::from_fn(512, 512, |i, j| (i + j) as f32);
        let mut c = Mat::<f32>::zeros(512, 512);
        // Sequential, so the thread that runs it is the one that packs.
        faer::linalg::matmul::matmul(
            c.as_mut(),
            faer::Accum::Replace,
            a.as_ref(),
            a.as_ref(),
            1.0,
            Par::Seq,
        );
    };
    warm();
    rayon::broadcast(|_| warm());
    for par in [Par::Seq, Par::rayon(2)] {
        Nmf::params(k).max_iter(1).par(par).fit(x.as_ref()).unwrap();
    }
    let peak_above = |before: usize| PEAK.load(Ordering::Relaxed).saturating_sub(before);
    let x_bytes = size * n * m;
    // Initialisation: the randomized SVD (scikit-learn's) stays within budget; the exact SVD
    // (Compat::Native: here the Gram route, an f64 block of X's columns of up to 16 MB plus the
    // Gram; the thin SVD it falls back to needs about three copies of X) is only reported.
    for init in [Init::NndsvdA, Init::Nndsvd] {
        for compat in [Compat::Sklearn, Compat::Native] {
            let before = CURRENT.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let r = nmf::init::initialize(x.as_ref(), k, &init, 0, compat, Par::Seq).unwrap();
            let peak = x_bytes + peak_above(before);
            eprintln!(
                "init {:?} {compat:?}: {:.1} MB above X",
                r.report.kind,
                peak_above(before) as f64 / 1e6
            );
            if compat == Compat::Sklearn {
                assert!(
                    peak <= budget,
                    "{init:?}: peak {} over budget {}",
                    peak,
                    budget
                );
            }
        }
    }
    for (solver, loss) in [
        (SolverKind::Cd, Loss::Frobenius),
        (SolverKind::Mu, Loss::Frobenius),
        (SolverKind::Mu, Loss::KullbackLeibler),
        (SolverKind::Mu, Loss::ItakuraSaito),
    ] {
        for par in [Par::Seq, Par::rayon(2)] {
            let params = Nmf::params(k)
                .solver(solver)
                .loss(loss)
                .init(Init::Custom {
                    w: w0.clone(),
                    h: h0.clone(),
                })
                .max_iter(3)
                .tol(0.0)
                .par(par);
            let before = CURRENT.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let model = params.fit(x.as_ref()).unwrap();
            let peak = x_bytes + peak_above(before);
            assert!(model.report().n_iter == 3);
            assert!(
                peak <= budget,
                "{solver:?} {loss:?} {par:?}: peak {} MB over budget {} MB",
                peak >> 20,
                budget >> 20
            );
            eprintln!(
                "{solver:?} {loss:?} {par:?}: peak {:.1} MB of budget {:.1} MB (X alone {:.1} MB)",
                peak as f64 / 1e6,
                budget as f64 / 1e6,
                x_bytes as f64 / 1e6
            );
        }
    }
}

/// Writes the 1 GiB test matrix block by block (never whole in memory): rank-4 structure plus
/// a positive floor, float32.
fn write_big_npy(path: &std::path::Path, n: usize, m: usize) {
    let mut out = nmf::io::NpyRowWriter::<f32>::create(path, n, m).unwrap();
    let block = 8192;
    for start in (0..n).step_by(block) {
        let rows = block.min(n - start);
        let b = Mat::<f32>::from_fn(rows, m, |i, j| {
            let i = start + i;
            let t = (i % 4, j % 4);
            0.05 + if t.0 == t.1 { 1.0 } else { 0.0 } + ((i * 7 + j * 13) % 11) as f32 / 110.0
        });
        out.write_rows(b.as_ref()).unwrap();
    }
    out.finish().unwrap();
}

fn out_of_core_fit_within_64_mb() {
    use nmf::RowSource;
    let (n, m, k) = (262_144usize, 1024usize, 4usize);
    let dir = std::env::temp_dir().join(format!("nmf-memory-ooc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, output) = (dir.join("x.npy"), dir.join("w.npy"));
    write_big_npy(&input, n, m);
    let bytes = std::fs::metadata(&input).unwrap().len();
    assert!(
        bytes >= 1 << 30,
        "the test file has {bytes} bytes, not 1 GiB"
    );
    let budget = 64usize << 20;
    for par in [Par::Seq, Par::rayon(2)] {
        let config = Nmf::params::<f32>(k)
            .solver(SolverKind::MiniBatch)
            .init(Init::Random)
            .batch_size(4096)
            .max_iter(1)
            .transform_max_iter(5)
            .par(par)
            .check()
            .unwrap();
        let before = CURRENT.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let t0 = std::time::Instant::now();
        let mut src = nmf::io::NpyRows::<f32>::open(&input).unwrap();
        assert_eq!(src.shape(), (n, m));
        let model = config.fit_source(&mut src).unwrap();
        let fit_s = t0.elapsed().as_secs_f64();
        drop(src);
        let d = nmf::io::transform_npy(&model, &input, &output).unwrap();
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        eprintln!(
            "out of core {par:?}: {:.2} GB file, batch 4096 rows, peak {:.1} MB of {} MB, \
             fit {fit_s:.1} s (3 passes), total {:.1} s",
            bytes as f64 / 1e9,
            peak as f64 / 1e6,
            budget >> 20,
            t0.elapsed().as_secs_f64()
        );
        assert_eq!(model.report().n_steps, n / 4096);
        assert!(d.is_finite() && d > 0.0);
        assert!(
            peak <= budget,
            "out of core {par:?}: peak {} MB over {} MB",
            peak >> 20,
            budget >> 20
        );
        drop(model);
        let w = nmf::io::read_npy::<f32>(&output).unwrap();
        assert_eq!(w.shape(), (n, k));
        assert!(
            w.col_iter()
                .all(|c| c.iter().all(|v| v.is_finite() && *v >= 0.0))
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
