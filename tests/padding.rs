//! The column padding of the matrices a fit owns is zero, whatever the heap held before.
//!
//! faer pads each column of a `Mat` to 64 bytes and its x86 GEMM kernels compute on the
//! padding rows of an unpacked left operand (the lanes are discarded). Padding that holds
//! subnormal garbage made those products 25-40x slower on Intel CPUs (`nmf_core::mat`). Here
//! every allocation is filled with a subnormal bit pattern before it is handed out, so
//! padding that nobody wrote reads back as that pattern; the fitted W and H, and the helpers of
//! `nmf::mat`, must show zeros instead.
//!
//! One test function, so that no other test allocates concurrently in this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use faer::{Mat, MatRef, Par};
use nmf::prelude::*;

/// `0x0001_0000` in every 32-bit word: a subnormal f32, and as f64 `0x0001_0000_0001_0000`,
/// a subnormal f64 too.
const POISON: u32 = 0x0001_0000;

static ON: AtomicBool = AtomicBool::new(false);

struct Poisoning;

// SAFETY: forwards every call to the system allocator; only writes the returned block.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Poisoning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && ON.load(Ordering::Relaxed) {
            let bytes = POISON.to_le_bytes();
            for i in 0..layout.size() {
                // SAFETY: `p` is a fresh block of `layout.size()` bytes.
                unsafe { p.add(i).write(bytes[i % 4]) };
            }
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Poisoning = Poisoning;

/// The padding rows (`nrows..col_stride`) of every column of an owned matrix's view, as bits,
/// and whether they are all zero.
#[allow(unsafe_code)]
fn padding_is_zero<T: Float>(a: MatRef<'_, T>) -> bool {
    assert_eq!(a.row_stride(), 1, "column-major storage");
    let cs = a.col_stride() as usize;
    let p = a.as_ptr();
    (0..a.ncols()).all(|j| {
        (a.nrows()..cs).all(|i| {
            // SAFETY: `a` views an owned faer `Mat`, whose allocation holds `col_stride` rows
            // for each of its columns; with the poisoning allocator every byte of it was
            // written when it was allocated.
            let v = unsafe { p.add(i + j * cs).read() };
            v.to_f64().to_bits() == 0
        })
    })
}

/// Both factors of a model have zero padding.
fn assert_factors<T: Float>(what: &str, model: &NmfModel<T>) {
    assert!(padding_is_zero(model.w()), "{what}: W's padding");
    assert!(padding_is_zero(model.h()), "{what}: H's padding");
}

fn x(n: usize, m: usize) -> Mat<f32> {
    Mat::from_fn(n, m, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0 + 0.05)
}

#[test]
fn padding_is_zero_after_any_fit() {
    // Rows that are not a multiple of 16 (f32) or 8 (f64) leave padding in every column.
    let (n, m, k) = (37, 29, 5);
    let x32 = x(n, m);
    let x64 = Mat::<f64>::from_fn(n, m, |i, j| f64::from(x32[(i, j)]));
    ON.store(true, Ordering::Relaxed);

    // The helpers themselves, against a plain faer matrix made on the same poisoned heap.
    let plain = Mat::<f32>::zeros(n, k);
    assert!(
        !padding_is_zero(plain.as_ref()),
        "the poisoning allocator must show through faer's own padding"
    );
    assert!(padding_is_zero(nmf::mat::zeros::<f32>(n, k).as_ref()));
    assert!(padding_is_zero(nmf::mat::zeros::<f64>(n, k).as_ref()));
    assert!(padding_is_zero(
        nmf::mat::from_fn::<f32>(n, k, |i, j| (i + j) as f32).as_ref()
    ));
    assert!(padding_is_zero(nmf::mat::copy(x32.transpose()).as_ref()));

    let configs = [
        ("cd", SolverKind::Cd, Loss::Frobenius),
        ("mu Frobenius", SolverKind::Mu, Loss::Frobenius),
        ("mu KL", SolverKind::Mu, Loss::KullbackLeibler),
        ("pg (Hoyer)", SolverKind::ProjectedGradient, Loss::Frobenius),
        ("opnmf", SolverKind::Opnmf, Loss::Frobenius),
        ("minibatch", SolverKind::MiniBatch, Loss::Frobenius),
    ];
    let custom = || Init::Custom {
        w: Mat::from_fn(n, k, |i, t| ((i + t) % 3) as f32 + 0.5),
        h: Mat::from_fn(k, m, |t, j| ((t + j) % 4) as f32 + 0.5),
    };
    for (name, solver, loss) in configs {
        for init in [Init::NndsvdA, Init::Random, custom()] {
            let model = Nmf::params(k)
                .solver(solver)
                .loss(loss)
                .init(init)
                .max_iter(20)
                .seed(1)
                .par(Par::Seq)
                .fit(x32.as_ref())
                .unwrap();
            assert_factors(name, &model);
        }
    }
    // A weighted fit (NaN marks the unobserved entries), a Hoyer pg model's transform, a cloned
    // model and one reassembled from faer-made parts.
    let holes = Mat::<f32>::from_fn(n, m, |i, j| {
        if (i + 2 * j) % 7 == 0 {
            f32::NAN
        } else {
            x32[(i, j)]
        }
    });
    let weighted = Nmf::params(k)
        .missing(Missing::Nan)
        .max_iter(20)
        .par(Par::Seq)
        .fit(holes.as_ref())
        .unwrap();
    assert_factors("weighted fit", &weighted);
    let pg = Nmf::params(k)
        .solver(SolverKind::ProjectedGradient)
        .max_iter(10)
        .par(Par::Seq)
        .fit(x32.as_ref())
        .unwrap();
    let w = pg.transform(x32.as_ref()).unwrap();
    assert!(padding_is_zero(w.as_ref()), "pg transform's W");
    assert_factors("a cloned model", &pg.clone());
    let parts = nmf::solvers::NmfModel::from_parts(
        Mat::from_fn(n, k, |_, _| 1.0f32),
        Mat::from_fn(k, m, |_, _| 1.0f32),
        pg.report().clone(),
        pg.config().clone(),
    )
    .unwrap();
    assert!(padding_is_zero(parts.h()), "from_parts keeps a copy of H");

    // partial_fit: the state carried from one call to the next.
    let mut online = Nmf::params(k)
        .solver(SolverKind::MiniBatch)
        .par(Par::Seq)
        .check()
        .unwrap()
        .online()
        .unwrap();
    for start in [0, 18] {
        let chunk = online.partial_fit(x32.as_ref().subrows(start, 18)).unwrap();
        assert!(padding_is_zero(chunk.h()), "partial_fit's H");
        let st = online.state().unwrap();
        for (what, a) in [("H", &st.h), ("A", &st.a), ("B", &st.b)] {
            assert!(padding_is_zero(a.as_ref()), "partial_fit state's {what}");
        }
    }

    let model = Nmf::params(k)
        .solver(SolverKind::Mu)
        .max_iter(20)
        .par(Par::Seq)
        .fit(x64.as_ref())
        .unwrap();
    assert_factors("mu f64", &model);
    let w = model.transform(x64.as_ref()).unwrap();
    assert!(padding_is_zero(w.as_ref()), "transform's W");
    ON.store(false, Ordering::Relaxed);
}
