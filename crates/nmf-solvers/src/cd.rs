//! Coordinate descent (fast HALS, Cichocki & Phan 2009) for the Frobenius loss with elastic-net
//! penalties, numerically identical to scikit-learn's `_update_cdnmf_fast`.
//!
//! One sweep over W minimises `½‖X − W·Hᵀ‖² + l1·ΣW + ½·l2·‖W‖²` exactly in each coordinate, column
//! by column. Within a column the rows are independent, so rows are processed in fixed blocks
//! (in parallel when asked) and each row's gradient is summed in the same order as scikit-learn's
//! Cython loop: results do not depend on the thread count.

use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nmf_core::Float;
use nmf_core::kernels::matmul;

/// Typical rows per block of a sweep. The blocks are cut from the shape alone (a multiple of 8
/// of them, near-equal, on multiples of 16 rows: see `mu::cuts`), so results never depend on
/// the thread count and 2 or 4 threads get equal shares (the faces' 400 rows: 8 blocks of 48-64;
/// their 4096 columns: 32 blocks of 128). Larger blocks amortise the per-coordinate loop setup
/// (measured at k = 200: 64 rows 19-20 ms per iteration, 128 rows 17-19 ms).
const ROW_BLOCK: usize = 128;

/// One coordinate-descent sweep over the columns of `w` (n x k), in the order `perm`, for
/// `min_W ½‖X − W·Hᵀ‖² + l1·ΣW + ½·l2·‖W‖²`, given `g = HᵀH + l2·I` (k x k) and
/// `r = X·H − l1` (n x k).
///
/// Returns scikit-learn's violation: the sum of |projected gradient| over all coordinates, taken
/// before each coordinate's update.
///
/// # Panics
/// If the shapes disagree (`g` k x k, `r` n x k, `perm` a permutation of 0..k); callers inside
/// this crate guarantee them.
pub fn sweep<T: Float>(
    w: MatMut<'_, T>,
    g: MatRef<'_, T>,
    r: MatRef<'_, T>,
    perm: &[usize],
    par: Par,
) -> f64 {
    let (n, k) = w.shape();
    assert!(g.shape() == (k, k) && r.shape() == (n, k) && perm.len() == k);
    let bounds = crate::mu::cuts(n, n.div_ceil(ROW_BLOCK).next_multiple_of(8));
    let mut blocks = Vec::with_capacity(bounds.len());
    let mut rest = w;
    for c in bounds.windows(2) {
        let (top, bottom) = rest.split_at_row_mut(c[1] - c[0]);
        blocks.push((c[0], top));
        rest = bottom;
    }
    let run = |(i0, blk): (usize, MatMut<'_, T>)| {
        let b = blk.nrows();
        sweep_block(blk, g, r.subrows(i0, b), perm)
    };
    let violations: Vec<f64> = match par {
        Par::Seq => blocks.into_iter().map(run).collect(),
        #[allow(unreachable_patterns)]
        _ => {
            use rayon::prelude::*;
            blocks.into_par_iter().map(run).collect()
        }
    };
    // Summed in block order whatever the scheduling.
    violations.into_iter().sum()
}

nmf_core::multiversion! {
    /// The sweep over one block of rows (see [`sweep`]). Each coordinate's gradient
    /// `−r[i, t] + Σ_q g[t, q]·w[i, q]` is summed over q in increasing order (scikit-learn's order,
    /// so the same bits) for all rows of the block at once: plain slice loops the compiler
    /// vectorises at the width [`nmf_core::multiversion!`] selects.
    fn sweep_block<T: Float>(w: MatMut<'_, T>, g: MatRef<'_, T>, r: MatRef<'_, T>, perm: &[usize]) -> f64 {
        let mut w = w;
        let (b, k) = w.shape();
        if w.row_stride() != 1 || r.row_stride() != 1 {
            // Views built inside this crate are always column-major; keep strided ones correct.
            let mut wc = w.rb().to_owned();
            let v = sweep_block(wc.as_mut(), g, r.to_owned().as_ref(), perm);
            w.copy_from(&wc);
            return v;
        }
        let mut grad = vec![T::ZERO; b];
        // |projected gradient| per row, summed in row order at the end: vectorisable, unlike
        // one serial f64 sum.
        let mut viol = vec![0.0f64; b];
        for &t in perm {
            for (gi, &rv) in grad.iter_mut().zip(col_slice(r, t)) {
                *gi = -rv;
            }
            // Four terms per pass over `grad`, still added one at a time left to right (the
            // same bits as one term per pass, a quarter of the loads and stores of `grad`).
            let mut q = 0;
            while q + 4 <= k {
                let (c0, c1, c2, c3) = (g[(t, q)], g[(t, q + 1)], g[(t, q + 2)], g[(t, q + 3)]);
                let wr = w.as_ref();
                let (w0, w1) = (&col_slice(wr, q)[..b], &col_slice(wr, q + 1)[..b]);
                let (w2, w3) = (&col_slice(wr, q + 2)[..b], &col_slice(wr, q + 3)[..b]);
                let gr = &mut grad[..b];
                for i in 0..b {
                    gr[i] = (((gr[i] + c0 * w0[i]) + c1 * w1[i]) + c2 * w2[i]) + c3 * w3[i];
                }
                q += 4;
            }
            for q in q..k {
                let c = g[(t, q)];
                for (gi, &wv) in grad.iter_mut().zip(col_slice(w.as_ref(), q)) {
                    *gi += c * wv;
                }
            }
            let hess = g[(t, t)];
            let mut wt = w.rb_mut().col_mut(t);
            let col = wt
                .rb_mut()
                .try_as_col_major_mut()
                .expect("unit row stride checked above")
                .as_slice_mut();
            for ((wv, &gr), vi) in col.iter_mut().zip(grad.iter()).zip(viol.iter_mut()) {
                let pg = if *wv == T::ZERO { gr.min(T::ZERO) } else { gr };
                *vi += pg.abs().to_f64();
                if hess != T::ZERO {
                    *wv = (*wv - gr / hess).max(T::ZERO);
                }
            }
        }
        viol.iter().sum()
    }
}

/// Column `j` of a view with unit row stride, as a slice.
fn col_slice<'a, T: Float>(a: MatRef<'a, T>, j: usize) -> &'a [T] {
    a.col(j)
        .try_as_col_major()
        .expect("unit row stride checked by the caller")
        .as_slice()
}

/// State of the coordinate-descent solver: W (n x k) and Hᵀ (m x k), both column-major so that
/// both sweeps run down contiguous columns, and the Gram/cross products of the last sweep.
pub(crate) struct CoordinateDescent<T: Float> {
    pub w: Mat<T>,
    pub ht: Mat<T>,
    /// k x k Gram of the fixed factor (plus l2 on the diagonal).
    gram: Mat<T>,
    /// HHᵀ of the current H, when it is known to be current (saves a product per iteration).
    hht: Mat<T>,
    hht_current: bool,
    xht: Mat<T>,
    xtw: Mat<T>,
    perm: Vec<usize>,
    /// Sweeps per factor and iteration with the same products (`NmfParams::inner_sweeps`).
    pub inner: usize,
    pub l1_w: T,
    pub l2_w: T,
    pub l1_h: T,
    pub l2_h: T,
}

impl<T: Float> CoordinateDescent<T> {
    pub fn new(w: Mat<T>, h: MatRef<'_, T>, p: &nmf_core::Penalties) -> Self {
        let (n, k) = w.shape();
        let m = h.ncols();
        CoordinateDescent {
            w,
            ht: h.transpose().to_owned(),
            gram: Mat::zeros(k, k),
            hht: Mat::zeros(k, k),
            hht_current: false,
            xht: Mat::zeros(n, k),
            xtw: Mat::zeros(m, k),
            perm: (0..k).collect(),
            inner: 1,
            l1_w: T::from_f64(p.l1_w),
            l2_w: T::from_f64(p.l2_w),
            l1_h: T::from_f64(p.l1_h),
            l2_h: T::from_f64(p.l2_h),
        }
    }

    fn order(&mut self, shuffle: Option<&mut nmf_init::mt19937::RandomState>) {
        match shuffle {
            Some(rng) => rng.permutation_into(&mut self.perm),
            None => self.perm.iter_mut().enumerate().for_each(|(i, p)| *p = i),
        }
    }

    /// The W sweep: G = HHᵀ + l2_W·I, R = XHᵀ − l1_W. `fixed_h` skips recomputing products of an
    /// unchanged H (transform).
    pub fn update_w(
        &mut self,
        x: MatRef<'_, T>,
        fixed_h: bool,
        shuffle: Option<&mut nmf_init::mt19937::RandomState>,
        par: Par,
    ) -> f64 {
        let k = self.w.ncols();
        if !(fixed_h && self.hht_current) {
            if !self.hht_current {
                matmul(
                    self.hht.as_mut(),
                    Accum::Replace,
                    self.ht.transpose(),
                    self.ht.as_ref(),
                    T::ONE,
                    kpar(par, k),
                );
            }
            matmul(
                self.xht.as_mut(),
                Accum::Replace,
                x,
                self.ht.as_ref(),
                T::ONE,
                par,
            );
            if self.l1_w != T::ZERO {
                let l1 = self.l1_w;
                self.xht.for_each_mut(|v| *v -= l1);
            }
            self.hht_current = true;
        }
        self.gram.copy_from(&self.hht);
        if self.l2_w != T::ZERO {
            for t in 0..k {
                self.gram[(t, t)] += self.l2_w;
            }
        }
        let v = self.sweeps(true, shuffle, par);
        if !fixed_h {
            // H is about to change.
            self.hht_current = false;
        }
        v
    }

    /// The H sweep on Hᵀ: G = WᵀW + l2_H·I, R = XᵀW − l1_H.
    pub fn update_h(
        &mut self,
        x: MatRef<'_, T>,
        shuffle: Option<&mut nmf_init::mt19937::RandomState>,
        par: Par,
    ) -> f64 {
        let k = self.w.ncols();
        matmul(
            self.gram.as_mut(),
            Accum::Replace,
            self.w.transpose(),
            self.w.as_ref(),
            T::ONE,
            kpar(par, k),
        );
        matmul(
            self.xtw.as_mut(),
            Accum::Replace,
            x.transpose(),
            self.w.as_ref(),
            T::ONE,
            par,
        );
        if self.l1_h != T::ZERO {
            let l1 = self.l1_h;
            self.xtw.for_each_mut(|v| *v -= l1);
        }
        if self.l2_h != T::ZERO {
            for t in 0..k {
                self.gram[(t, t)] += self.l2_h;
            }
        }
        let v = self.sweeps(false, shuffle, par);
        self.hht_current = false;
        v
    }

    /// `inner` sweeps over W (`on_w`) or Hᵀ with the current products; returns the first
    /// sweep's violation (the one scikit-learn's stopping rule knows). Stops early once a sweep
    /// finds nothing to change.
    fn sweeps(
        &mut self,
        on_w: bool,
        mut shuffle: Option<&mut nmf_init::mt19937::RandomState>,
        par: Par,
    ) -> f64 {
        let mut first = None;
        for _ in 0..self.inner.max(1) {
            self.order(shuffle.as_deref_mut());
            let (f, r) = if on_w {
                (self.w.as_mut(), self.xht.as_ref())
            } else {
                (self.ht.as_mut(), self.xtw.as_ref())
            };
            let v = sweep(f, self.gram.as_ref(), r, &self.perm, par);
            first.get_or_insert(v);
            if v == 0.0 {
                break;
            }
        }
        first.unwrap_or(0.0)
    }

    /// ½‖X − WH‖² from the products of the last H sweep, without forming WH (Gram identity).
    /// Computes HHᵀ of the new H, which the next W sweep then reuses.
    pub fn frobenius_after_h(&mut self, x_sqnorm: f64, par: Par) -> f64 {
        let k = self.w.ncols();
        matmul(
            self.hht.as_mut(),
            Accum::Replace,
            self.ht.transpose(),
            self.ht.as_ref(),
            T::ONE,
            kpar(par, k),
        );
        self.hht_current = true;
        // gram = WᵀW + l2_H·I and xtw = XᵀW − l1_H: undo the penalties in the sums.
        use nmf_core::kernels::{frobenius_inner, sum};
        let (ht, xtw) = (self.ht.as_ref(), self.xtw.as_ref());
        let mut cross = frobenius_inner(xtw, ht).unwrap_or(f64::NAN);
        if self.l1_h != T::ZERO {
            cross += self.l1_h.to_f64() * sum(ht);
        }
        let mut quad = frobenius_inner(self.gram.as_ref(), self.hht.as_ref()).unwrap_or(f64::NAN);
        for j in 0..k {
            quad -= self.l2_h.to_f64() * self.hht[(j, j)].to_f64();
        }
        (0.5 * (x_sqnorm - 2.0 * cross + quad)).max(0.0)
    }
}

/// Parallelism of the k x k Gram products. LIMITS.md found faer's own 2-thread split halving their
/// speed; `kernels::matmul` splits them into whole sequential blocks instead, which pays from
/// k = 32 on (faces, k = 50: cd 3.6 -> 3.3-3.6 ms per iteration, within this machine's noise but
/// never slower). Below that they stay on one thread.
pub(crate) fn kpar(par: Par, k: usize) -> Par {
    if k < 32 { Par::Seq } else { par }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_coordinate_is_the_exact_minimiser() {
        // 1 x 1 problem: min ½(x − w·h)² + l1·w + ½·l2·w² has w* = max(0, (x·h − l1)/(h² + l2)).
        let (x, h, l1, l2) = (3.0f64, 2.0, 0.5, 1.0);
        let mut w = Mat::<f64>::from_fn(1, 1, |_, _| 0.7);
        let g = Mat::from_fn(1, 1, |_, _| h * h + l2);
        let r = Mat::from_fn(1, 1, |_, _| x * h - l1);
        let v = sweep(w.as_mut(), g.as_ref(), r.as_ref(), &[0], Par::Seq);
        assert!((w[(0, 0)] - (x * h - l1) / (h * h + l2)).abs() < 1e-15);
        assert!((v - ((h * h + l2) * 0.7 - (x * h - l1)).abs()).abs() < 1e-12);
    }

    #[test]
    fn blocks_and_threads_do_not_change_the_result() {
        let n = 3 * ROW_BLOCK + 17;
        let k = 5;
        let w0 = Mat::<f32>::from_fn(n, k, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
        let g = Mat::<f32>::from_fn(k, k, |i, j| if i == j { 3.0 } else { 0.3 });
        let r = Mat::<f32>::from_fn(n, k, |i, j| ((i + j) % 5) as f32);
        let perm = [3, 1, 4, 0, 2];
        let mut a = w0.clone();
        let mut b = w0.clone();
        let va = sweep(a.as_mut(), g.as_ref(), r.as_ref(), &perm, Par::Seq);
        let vb = sweep(b.as_mut(), g.as_ref(), r.as_ref(), &perm, Par::rayon(2));
        assert_eq!(a, b);
        assert_eq!(va, vb);
    }
}
