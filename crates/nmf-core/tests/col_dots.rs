//! The unpacked small-k product (`simd::col_dots`, `kernels::xt_b_into`): every dot product
//! against a plain f64 sum, over tails of rows, short column groups, uneven passes over B,
//! several row tiles and strided views; the same bits on any thread count; the fallback
//! where it does not apply.

use faer::{Accum, Mat, MatRef, Par};
use nmf_core::simd::{
    COL_DOTS_MAX_K, DotsWidth, col_dots, col_dots_applies, col_dots_at, col_dots_available,
};
use nmf_core::{DataRef, Float, kernels};

/// Asserts that `xt_b_into` declines `Xᵀ·b` and leaves a sentinel destination untouched.
fn assert_declines(x: MatRef<'_, f64>, b: MatRef<'_, f64>) {
    let mut dst = Mat::<f64>::from_fn(x.ncols(), b.ncols(), |_, _| 3.0);
    assert!(!kernels::xt_b_into(dst.as_mut(), false, x, b, Par::Seq).unwrap());
    assert!(
        dst.col_iter().all(|c| c.iter().all(|&v| v == 3.0)),
        "declined but wrote"
    );
}

/// Whether `xt_b_into` runs here; if not, checks that it declines.
fn xt_b_runs() -> bool {
    if kernels::XT_B_WIDTH.supported() {
        return true;
    }
    assert_declines(
        filled::<f64>(300, 4, 1).as_ref(),
        filled::<f64>(300, 3, 2).as_ref(),
    );
    eprintln!(
        "no {:?} here: checked that xt_b_into declines",
        kernels::XT_B_WIDTH
    );
    false
}

fn filled<T: Float>(n: usize, m: usize, seed: usize) -> Mat<T> {
    // Values in (0, 1] with no pattern a wrong index could hide behind.
    Mat::from_fn(n, m, |i, j| {
        let h = (i * 2654435761 + j * 40503 + seed * 97) % 1_000_003;
        T::from_f64((h as f64 + 1.0) / 1_000_003.0)
    })
}

/// `Σ_i x[i, j]·b[i, c]` in f64, and `Σ_i |x||b|` for the rounding bound.
fn reference<T: Float>(x: MatRef<'_, T>, b: MatRef<'_, T>, j: usize, c: usize) -> (f64, f64) {
    let mut s = 0.0;
    let mut a = 0.0;
    for i in 0..x.nrows() {
        let p = x[(i, j)].to_f64() * b[(i, c)].to_f64();
        s += p;
        a += p.abs();
    }
    (s, a)
}

/// `filled` inside a frame of NaN: a read outside the view turns a result into NaN.
fn framed<T: Float>(n: usize, m: usize, top: usize, left: usize, seed: usize) -> Mat<T> {
    let inner = filled::<T>(n, m, seed);
    Mat::from_fn(n + top + 2, m + left + 1, |i, j| {
        if (top..top + n).contains(&i) && (left..left + m).contains(&j) {
            inner[(i - top, j - left)]
        } else {
            T::from_f64(f64::NAN)
        }
    })
}

fn check_col_dots<T: Float>(n: usize, m: usize, k: usize, tol: f64) {
    // Views into larger matrices framed by NaN: column strides beyond n, a row offset.
    let xbig = framed::<T>(n, m, 3, 1, 1);
    let bbig = framed::<T>(n, k, 1, 0, 2);
    let x = xbig.as_ref().submatrix(3, 1, n, m);
    let b = bbig.as_ref().submatrix(1, 0, n, k);
    check_views(x, b, tol);
    // Views that end where their memory ends (no padding after the last column).
    let xs: Vec<T> = (0..m)
        .flat_map(|j| (0..n).map(move |i| x[(i, j)]))
        .collect();
    let bs: Vec<T> = (0..k)
        .flat_map(|c| (0..n).map(move |i| b[(i, c)]))
        .collect();
    check_views(
        MatRef::from_column_major_slice(&xs, n, m),
        MatRef::from_column_major_slice(&bs, n, k),
        tol,
    );
}

/// Every width this CPU has (the AVX2 kernel is checked on AVX-512 machines too).
fn widths() -> Vec<DotsWidth> {
    [DotsWidth::Avx512, DotsWidth::Avx2]
        .into_iter()
        .filter(|w| w.supported())
        .collect()
}

fn check_views<T: Float>(x: MatRef<'_, T>, b: MatRef<'_, T>, tol: f64) {
    for width in widths() {
        check_width(width, x, b, tol);
    }
}

fn check_width<T: Float>(width: DotsWidth, x: MatRef<'_, T>, b: MatRef<'_, T>, tol: f64) {
    let (n, m, k) = (x.nrows(), x.ncols(), b.ncols());
    let mut got = Mat::<f64>::zeros(m, k);
    let mut calls = vec![0u32; m * k];
    let ran = col_dots_at(width, x, b, |j, c, v| {
        got[(j, c)] += v.to_f64();
        calls[j * k + c] += 1;
    });
    assert!(ran, "{width:?} declined n = {n}, m = {m}, k = {k}");
    for j in 0..m {
        for c in 0..k {
            let (want, size) = reference(x, b, j, c);
            let err = (got[(j, c)] - want).abs();
            // Written so that a NaN fails.
            assert!(
                err <= tol * size.max(f64::MIN_POSITIVE),
                "{} {width:?} n = {n}, m = {m}, k = {k}, ({j}, {c}): {} against {want} (error {err:e})",
                T::NAME,
                got[(j, c)]
            );
            assert!(calls[j * k + c] >= 1, "({j}, {c}) never reported");
        }
    }
}

fn skip_without_simd() -> bool {
    if col_dots_available() {
        return false;
    }
    // Without AVX2 or AVX-512 the kernel must decline, so that callers take faer.
    let x = filled::<f64>(300, 4, 1);
    let b = filled::<f64>(300, 3, 2);
    assert!(!col_dots(x.as_ref(), b.as_ref(), |_, _, _| unreachable!()));
    assert_declines(x.as_ref(), b.as_ref());
    eprintln!("no AVX2 or AVX-512 here: checked that the kernel declines");
    true
}

#[test]
fn col_dots_match_plain_sums() {
    if skip_without_simd() {
        return;
    }
    // Rows: one, lane tails on both sides of 8 and 16, several 32 KiB row tiles (a tile is
    // 4096 / k f64 rows or 8192 / k f32 rows, rounded down to whole vectors: at n = 409 f64
    // from k = 10, at n = 1300 f64 from k = 4 and f32 from k = 7).
    // Every tail length of both widths (1..=33), then row tiles.
    for n in (1..=33).chain([100, 409, 1300]) {
        // Columns of X: short and full groups of four (fewer shapes for the tail sweep).
        let ms: &[usize] = if n <= 33 && n != 1 && n != 17 {
            &[3, 5]
        } else {
            &[1, 3, 4, 6, 9]
        };
        for &m in ms {
            for k in 1..=COL_DOTS_MAX_K {
                check_col_dots::<f64>(n, m, k, 1e-14);
                check_col_dots::<f32>(n, m, k, 1e-6);
            }
        }
    }
}

#[test]
fn col_dots_declines_what_it_does_not_take() {
    if skip_without_simd() {
        return;
    }
    let x = filled::<f64>(40, 5, 1);
    let b = filled::<f64>(40, COL_DOTS_MAX_K + 1, 2);
    assert!(!col_dots_applies(x.as_ref(), b.as_ref()));
    assert!(!col_dots(x.as_ref(), b.as_ref(), |_, _, _| unreachable!()));
    // Rows of a row-major view are not contiguous down a column.
    let xt = filled::<f64>(5, 40, 3);
    assert!(!col_dots_applies(xt.transpose(), b.as_ref().subcols(0, 3)));
    // Row counts that differ.
    assert!(!col_dots_applies(
        x.as_ref(),
        b.as_ref().subrows(0, 39).subcols(0, 3)
    ));
    assert!(col_dots_applies(x.as_ref(), b.as_ref().subcols(0, 3)));
}

fn close<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>, tol: f64) -> bool {
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let (u, v) = (a[(i, j)].to_f64(), b[(i, j)].to_f64());
            // Written so that a NaN fails.
            let within = (u - v).abs() <= tol * (1.0 + v.abs());
            if !within {
                return false;
            }
        }
    }
    true
}

fn check_product<T: Float>(n: usize, m: usize, k: usize, tol: f64) {
    let x = filled::<T>(n, m, 5);
    let b = filled::<T>(n, k, 6);
    let mut want = Mat::<T>::zeros(m, k);
    kernels::matmul(
        want.as_mut(),
        Accum::Replace,
        x.transpose(),
        b.as_ref(),
        T::ONE,
        Par::Seq,
    )
    .unwrap();
    let mut first: Option<(Mat<T>, Mat<T>)> = None;
    for par in [Par::Seq, Par::rayon(2), Par::rayon(3)] {
        // Garbage in the destinations: the product replaces it.
        let mut xtb = Mat::<T>::from_fn(m, k, |_, _| T::from_f64(7.0));
        let mut btx = Mat::<T>::from_fn(k, m, |_, _| T::from_f64(7.0));
        assert!(kernels::xt_b_into(xtb.as_mut(), false, x.as_ref(), b.as_ref(), par).unwrap());
        assert!(kernels::xt_b_into(btx.as_mut(), true, x.as_ref(), b.as_ref(), par).unwrap());
        assert!(
            close(xtb.as_ref(), want.as_ref(), tol),
            "{} Xᵀ·B, n = {n}, m = {m}, k = {k}",
            T::NAME
        );
        assert_eq!(
            btx,
            xtb.transpose().to_owned(),
            "Bᵀ·X is (Xᵀ·B)ᵀ, bit for bit"
        );
        // The data interface takes the same path.
        let mut via = Mat::<T>::zeros(m, k);
        DataRef::Dense(x.as_ref())
            .t_mul_into(via.as_mut(), b.as_ref(), par)
            .unwrap();
        assert_eq!(via, xtb);
        let mut via_t = Mat::<T>::zeros(k, m);
        DataRef::Dense(x.as_ref())
            .lhs_t_mul_into(via_t.as_mut(), b.as_ref(), par)
            .unwrap();
        assert_eq!(via_t, btx);
        match &first {
            None => first = Some((xtb, btx)),
            Some((a, bt)) => {
                assert_eq!(a, &xtb, "{par:?} changed the bits of Xᵀ·B");
                assert_eq!(bt, &btx, "{par:?} changed the bits of Bᵀ·X");
            }
        }
    }
}

/// Column blocks of X (what threads get) change no bit, at every width.
#[test]
fn col_dots_bits_do_not_depend_on_the_column_split() {
    if skip_without_simd() {
        return;
    }
    fn run<T: Float>(
        width: DotsWidth,
        x: MatRef<'_, T>,
        b: MatRef<'_, T>,
        cuts: &[usize],
    ) -> Mat<T> {
        let mut out = Mat::<T>::zeros(x.ncols(), b.ncols());
        for c in cuts.windows(2) {
            let part = x.subcols(c[0], c[1] - c[0]);
            assert!(col_dots_at(width, part, b, |j, cc, v| out
                [(c[0] + j, cc)] +=
                v));
        }
        out
    }
    fn check<T: Float>(n: usize, m: usize, k: usize) {
        let x = filled::<T>(n, m, 9);
        let b = filled::<T>(n, k, 10);
        for width in widths() {
            let whole = run(width, x.as_ref(), b.as_ref(), &[0, m]);
            for cuts in [vec![0, 1, m], vec![0, 5, 6, 17, m], vec![0, m / 2, m]] {
                let split = run(width, x.as_ref(), b.as_ref(), &cuts);
                assert_eq!(
                    whole,
                    split,
                    "{} {width:?} n = {n}, k = {k}, cuts {cuts:?}",
                    T::NAME
                );
            }
        }
    }
    // One tile and several (k = 10 f64: 408 rows a tile at AVX-512, 408 at AVX2).
    for (n, k) in [(300, 7), (1000, 10), (257, 3)] {
        check::<f64>(n, 41, k);
        check::<f32>(n, 41, k);
    }
}

#[test]
fn xt_b_is_the_product_on_any_thread_count() {
    if !xt_b_runs() {
        return;
    }
    // The faces' shape at k = 10, the transposed faces, several row tiles, uneven blocks.
    for (n, m, k) in [
        (400, 4096, 10),
        (4096, 400, 7),
        (1000, 333, 2),
        (257, 1030, 5),
    ] {
        check_product::<f64>(n, m, k, 1e-13);
        check_product::<f32>(n, m, k, 1e-5);
    }
}

#[test]
fn xt_b_leaves_other_shapes_to_the_caller() {
    let x = filled::<f64>(400, 50, 1);
    // Too many components, too few rows, one component: declined, nothing written.
    assert_declines(x.as_ref(), filled::<f64>(400, 11, 2).as_ref());
    assert_declines(
        filled::<f64>(100, 50, 3).as_ref(),
        filled::<f64>(100, 3, 4).as_ref(),
    );
    assert_declines(x.as_ref(), filled::<f64>(400, 1, 5).as_ref());
    // A row-major X (a transposed view) or B: rows are not contiguous down the columns.
    let xt = filled::<f64>(50, 400, 6);
    assert_declines(xt.transpose(), filled::<f64>(400, 4, 7).as_ref());
    let b4t = filled::<f64>(4, 400, 8);
    assert_declines(x.as_ref(), b4t.transpose());
    // Shapes that do not fit are errors, not a decline.
    let b_bad = filled::<f64>(399, 3, 6);
    let mut d = Mat::<f64>::zeros(50, 3);
    assert!(kernels::xt_b_into(d.as_mut(), false, x.as_ref(), b_bad.as_ref(), Par::Seq).is_err());
    let mut d_bad = Mat::<f64>::zeros(49, 3);
    let b_ok = filled::<f64>(400, 3, 7);
    assert!(
        kernels::xt_b_into(d_bad.as_mut(), false, x.as_ref(), b_ok.as_ref(), Par::Seq).is_err()
    );
    assert!(kernels::xt_b_into(d.as_mut(), true, x.as_ref(), b_ok.as_ref(), Par::Seq).is_err());
}
