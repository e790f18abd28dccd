//! Data shared by the benches: the faces when `../shared/data` is present, and synthetic data of
//! the same shape (400 x 4096, a low-rank nonnegative product plus noise) always.
#![allow(dead_code)] // each bench uses part of it

use faer::Mat;
use nmf::Float;
use nmf::init::mt19937::RandomState;

/// Faces-shaped synthetic data: rank-40 nonnegative product plus 5% uniform noise, seeded.
pub fn synthetic<T: Float>() -> Mat<T> {
    let mut r = RandomState::new(7);
    let a = Mat::<f64>::from_fn(400, 40, |_, _| r.random_sample());
    let b = Mat::<f64>::from_fn(40, 4096, |_, _| r.random_sample());
    let x = &a * &b;
    let mut r = RandomState::new(8);
    Mat::from_fn(400, 4096, |i, j| {
        T::from_f64(x[(i, j)] / 10.0 + 0.05 * r.random_sample())
    })
}

/// The Olivetti faces (f32, widened for f64) if `../shared/data` is beside the checkout.
pub fn faces<T: Float>() -> Option<Mat<T>> {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/olivetti_faces.npy");
    if !p.exists() {
        eprintln!("faces benches skipped: {} not found", p.display());
        return None;
    }
    let x: Mat<f32> = nmf::io::read_npy(&p).ok()?;
    Some(Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        T::from_f64(f64::from(x[(i, j)]))
    }))
}

/// Seeded positive factors of the right shapes for `x` and `k`.
pub fn factors<T: Float>(x: &Mat<T>, k: usize) -> (Mat<T>, Mat<T>) {
    let mut r = RandomState::new(k as u32);
    let w = Mat::from_fn(x.nrows(), k, |_, _| T::from_f64(0.1 + r.random_sample()));
    let h = Mat::from_fn(k, x.ncols(), |_, _| T::from_f64(0.1 + r.random_sample()));
    (w, h)
}
