//! ndarray interop (feature `ndarray`; `.ci/run` runs it with `--features ndarray`): C and
//! Fortran views are borrowed, other layouts copied once, and every layout fits to the same
//! factors as the faer matrix it holds.
#![cfg(feature = "ndarray")]

use faer::{Mat, Par};
use ndarray::{Array2, ShapeBuilder, s};
use nmf::nd::{self, FitArray, ModelArrays};
use nmf::prelude::*;

fn values(i: usize, j: usize) -> f64 {
    0.1 + ((i * 7 + j * 3) % 11) as f64 / 11.0 + ((i * j + 2) % 5) as f64 / 7.0
}

fn rel(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let num: f64 = a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

#[test]
fn both_layouts_are_borrowed_and_fit_alike() {
    let c = Array2::from_shape_fn((40, 12), |(i, j)| values(i, j));
    let f = Array2::from_shape_fn((40, 12).f(), |(i, j)| values(i, j));
    let faer_x = Mat::from_fn(40, 12, values);
    let cv = nd::view(c.view());
    let fv = nd::view(f.view());
    assert!(cv.is_borrowed() && fv.is_borrowed());
    // No copy: the faer views point into the arrays' memory.
    assert_eq!(cv.as_ref().as_ptr(), c.as_ptr());
    assert_eq!(fv.as_ref().as_ptr(), f.as_ptr());
    assert_eq!(cv.as_ref(), faer_x.as_ref());
    assert_eq!(fv.as_ref(), faer_x.as_ref());

    for solver in [SolverKind::Cd, SolverKind::Mu] {
        let p = Nmf::params::<f64>(3).solver(solver).seed(3).par(Par::Seq);
        let reference = p.fit(faer_x.as_ref()).unwrap();
        let want_w = nd::to_array(reference.w());
        let want_h = nd::to_array(reference.h());
        for x in [&c, &f] {
            let m = p.fit_array(x.view()).unwrap();
            // Column-major data is the same matrix in the same memory order: same bits. Row-major
            // data may sum the products in another order: equal to rounding.
            let tol = if x.is_standard_layout() { 1e-9 } else { 0.0 };
            assert!(rel(&m.w_array(), &want_w) <= tol, "{solver}: W");
            assert!(rel(&m.h_array(), &want_h) <= tol, "{solver}: H");
            assert_eq!(m.h_array().dim(), (3, 12));
            let back = m.inverse_transform_array(m.w_array().view()).unwrap();
            assert_eq!(back.dim(), (40, 12));
        }
    }
}

#[test]
fn strided_views_are_copied_once_and_still_right() {
    let big = Array2::from_shape_fn((40, 24), |(i, j)| values(i, j / 2));
    // Every other column: neither C nor Fortran contiguous.
    let strided = big.slice(s![.., ..;2]);
    let v = nd::view(strided);
    assert!(!v.is_borrowed());
    let faer_x = Mat::from_fn(40, 12, |i, j| big[[i, 2 * j]]);
    assert_eq!(v.as_ref(), faer_x.as_ref());
    let model = Nmf::params::<f64>(2).seed(1).fit_array(strided).unwrap();
    let reference = Nmf::params::<f64>(2).seed(1).fit(faer_x.as_ref()).unwrap();
    assert_eq!(model.h_array(), nd::to_array(reference.h()));
    let w = model.transform_array(strided).unwrap();
    assert_eq!(
        w,
        nd::to_array(reference.transform(faer_x.as_ref()).unwrap().as_ref())
    );
    // Fortran-order results for code that wants faer's layout.
    let wf = nd::to_array_f(reference.w());
    assert!(!wf.is_standard_layout());
    assert_eq!(wf, model.w_array());
}

#[test]
fn f32_arrays_work_and_errors_are_the_librarys() {
    let x = Array2::<f32>::from_shape_fn((10, 5), |(i, j)| values(i, j) as f32);
    let model = Nmf::params::<f32>(2).fit_array(x.view()).unwrap();
    assert_eq!(model.w_array().dim(), (10, 2));
    let mut bad = x.clone();
    bad[[2, 3]] = -1.0;
    assert!(Nmf::params::<f32>(2).fit_array(bad.view()).is_err());
    let wide = Array2::<f32>::ones((3, 6));
    assert!(model.transform_array(wide.view()).is_err());
}
