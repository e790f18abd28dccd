//! Peak heap memory of a fit, counted by a wrapping global allocator: no n x m temporaries per
//! iteration for Frobenius, blockwise work for the other losses.
//!
//! Budget (issue 8): the peak while fitting stays within twice the bytes of X plus the factors plus
//! the k x k Gram products (X itself counts against it). One test function, so no other test
//! allocates concurrently in this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use faer::{Mat, Par};
use nmf::prelude::*;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
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
fn a_fit_never_holds_more_than_twice_its_data() {
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
    // (about 67 MB here whatever the problem size) and reused ever after: warm it up on both
    // threads so what follows measures the fit itself.
    for par in [Par::Seq, Par::rayon(2)] {
        Nmf::params(k).max_iter(1).par(par).fit(x.as_ref()).unwrap();
    }
    let peak_above = |before: usize| PEAK.load(Ordering::Relaxed).saturating_sub(before);
    let x_bytes = size * n * m;
    // Initialisation: the randomized SVD (scikit-learn's) stays within budget; the exact thin SVD
    // (Compat::Native) needs about three copies of X and is only reported.
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
