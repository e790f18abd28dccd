//! Projected-gradient solvers: Hoyer's sparseness-constrained NMF (`nmfsc`, Hoyer 2004) and the
//! legacy scikit-learn 0.15 `ProjectedGradientNMF` (Lin 2007, with Kim & Park's sparse variants).
//!
//! In scikit-learn's convention (X ≈ W·H, rows of H are the components), Hoyer's constraint on
//! the columns of his W is our constraint on the rows of H (`h_sparseness`: every basis vector has
//! the target sparseness), and his constraint on the rows of his H is ours on the columns of W
//! (`w_sparseness`).

use core::marker::PhantomData;

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use nmf_core::kernels::matmul;
use nmf_core::sparseness::{l1_for_sparseness, project};
use nmf_core::{CoreError, Data, DataRef, Float, Penalties};

use crate::error::NmfError;
use crate::params::{NmfParams, PgVariant};
use crate::report::{FitWarning, StopReason};
use crate::solver::{Problem, Solver, ensure_finite};

/// Smallest step size before the constrained search gives up (Hoyer's code).
pub(crate) const STEP_FLOOR: f64 = 1e-200;

/// ⟨a, b⟩ in f64 (nmf-core's kernel; the shapes always agree here).
fn frob_inner<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    nmf_core::kernels::frobenius_inner(a, b).unwrap_or(f64::NAN)
}

/// `aᵀa`, allocated (nmf-core's kernel, one thread: k x k products are small).
fn gram_cols<T: Float>(a: MatRef<'_, T>) -> Mat<T> {
    let mut g = Mat::zeros(a.ncols(), a.ncols());
    // The destination is sized from `a`, so the shape check cannot fail.
    let _ = nmf_core::kernels::gram_cols_into(g.as_mut(), a, Par::Seq);
    g
}

/// `a·aᵀ`, allocated.
fn gram_rows<T: Float>(a: MatRef<'_, T>) -> Mat<T> {
    let mut g = Mat::zeros(a.nrows(), a.nrows());
    let _ = nmf_core::kernels::gram_rows_into(g.as_mut(), a, Par::Seq);
    g
}

/// Projects a vector to L2 norm `l2` and Hoyer sparseness `s`. A zero vector is left as it is (its sparseness is undefined).
fn project_vec(v: &[f64], s: f64, l2: f64) -> Result<Option<Vec<f64>>, CoreError> {
    if l2 == 0.0 || !l2.is_finite() {
        return Ok(None);
    }
    project(v, l1_for_sparseness(v.len(), s, l2), l2).map(Some)
}

/// ½‖X − WH‖² from the products of the fixed factor: `½(‖X‖² − 2⟨C, F⟩ + ⟨G, FᵀF or FFᵀ⟩)`.
fn half_sq(
    x_sqnorm: f64,
    cross: MatRef<'_, f64>,
    f: MatRef<'_, f64>,
    gram: MatRef<'_, f64>,
    f_gram: MatRef<'_, f64>,
) -> f64 {
    (0.5 * (x_sqnorm - 2.0 * frob_inner(cross, f) + frob_inner(gram, f_gram))).max(0.0)
}

fn project_cols(a: &mut Mat<f64>, s: f64, l2: Option<f64>) -> Result<(), CoreError> {
    for c in 0..a.ncols() {
        let col: Vec<f64> = a.col(c).iter().copied().collect();
        let target = l2.unwrap_or_else(|| col.iter().map(|v| v * v).sum::<f64>().sqrt());
        if let Some(p) = project_vec(&col, s, target)? {
            for (i, v) in p.into_iter().enumerate() {
                a[(i, c)] = v;
            }
        }
    }
    Ok(())
}

fn project_rows(a: &mut Mat<f64>, s: f64, l2: Option<f64>) -> Result<(), CoreError> {
    let mut t = a.transpose().to_owned();
    project_cols(&mut t, s, l2)?;
    *a = t.transpose().to_owned();
    Ok(())
}

/// Hoyer's step search: from `x` along `−g`, project, and accept the first step whose objective
/// does not exceed `f_ref`, halving the step from `*mu`; an accepted step grows `*mu` by 1.2 for
/// the next call. `None` once the step falls below the floor (no acceptable step: stationary).
fn projected_step(
    x: &Mat<f64>,
    g: &Mat<f64>,
    mu: &mut f64,
    f_ref: f64,
    project: impl Fn(&mut Mat<f64>) -> Result<(), CoreError>,
    objective: impl Fn(MatRef<'_, f64>) -> f64,
) -> Result<Option<(Mat<f64>, f64)>, CoreError> {
    loop {
        let mut trial = x - faer::Scale(*mu) * g;
        project(&mut trial)?;
        let f = objective(trial.as_ref());
        if f <= f_ref {
            *mu *= 1.2;
            return Ok(Some((trial, f)));
        }
        *mu /= 2.0;
        if *mu < STEP_FLOOR {
            return Ok(None);
        }
    }
}

/// State of Hoyer's `nmfsc` on the internally rescaled data `X / max(X)`. Runs in f64 whatever
/// the data's precision, so that accepting a step ("the objective did not go up") is decided on
/// exact-enough values; the objective is evaluated from Gram products, O((n + m)k²) per trial.
struct Hoyer {
    w: Mat<f64>,
    h: Mat<f64>,
    w_sparseness: Option<f64>,
    h_sparseness: Option<f64>,
    mu_w: f64,
    mu_h: f64,
    /// ½‖X/c − WH‖² after the last iteration.
    f: f64,
    x_sqnorm: f64,
}

impl Hoyer {
    /// Hoyer's set-up: columns of W to unit L2 norm (his rows of H), then the initial projections.
    fn new(
        xs: DataRef<'_, f64>,
        mut w: Mat<f64>,
        mut h: Mat<f64>,
        w_sparseness: Option<f64>,
        h_sparseness: Option<f64>,
    ) -> Result<Self, CoreError> {
        for c in 0..w.ncols() {
            let nrm = w.col(c).norm_l2();
            if nrm > 0.0 {
                w.col_mut(c).iter_mut().for_each(|v| *v /= nrm);
            }
        }
        if let Some(s) = h_sparseness {
            project_rows(&mut h, s, Some(1.0))?;
        }
        if let Some(s) = w_sparseness {
            project_cols(&mut w, s, Some(1.0))?;
        }
        let x_sqnorm = xs.squared_norm();
        let mut st = Hoyer {
            w,
            h,
            w_sparseness,
            h_sparseness,
            mu_w: 1.0,
            mu_h: 1.0,
            f: 0.0,
            x_sqnorm,
        };
        st.f = nmf_core::loss::frobenius_direct(xs, st.w.as_ref(), st.h.as_ref(), Par::Seq)?;
        Ok(st)
    }

    /// One nmfsc iteration (W side first, as Hoyer's code updates his H first). Returns false
    /// when a step size fell below the floor (no acceptable step: converged).
    fn step(&mut self, xs: DataRef<'_, f64>, par: Par) -> Result<bool, CoreError> {
        let (n, k) = self.w.shape();
        let m = self.h.ncols();
        let eps = 1e-9;
        // --- W (Hoyer's H), H fixed: XHᵀ and HHᵀ give every trial objective. ---
        let hht = gram_rows(self.h.as_ref());
        let mut xht = Mat::<f64>::zeros(n, k);
        xs.mul_into(xht.as_mut(), self.h.transpose(), par)?;
        match self.w_sparseness {
            Some(s) => {
                let mut g = Mat::<f64>::zeros(n, k);
                matmul(
                    g.as_mut(),
                    Accum::Replace,
                    self.w.as_ref(),
                    hht.as_ref(),
                    1.0,
                    par,
                );
                g -= &xht;
                let x_sqnorm = self.x_sqnorm;
                let objective = |t: MatRef<'_, f64>| {
                    half_sq(
                        x_sqnorm,
                        xht.as_ref(),
                        t,
                        hht.as_ref(),
                        gram_cols(t).as_ref(),
                    )
                };
                let project = |t: &mut Mat<f64>| project_cols(t, s, Some(1.0));
                match projected_step(&self.w, &g, &mut self.mu_w, self.f, project, objective)? {
                    Some((w, _)) => self.w = w,
                    None => return Ok(false),
                }
            }
            None => {
                let mut den = Mat::<f64>::zeros(n, k);
                matmul(
                    den.as_mut(),
                    Accum::Replace,
                    self.w.as_ref(),
                    hht.as_ref(),
                    1.0,
                    par,
                );
                zip!(self.w.as_mut(), xht.as_ref(), den.as_ref())
                    .for_each(|unzip!(w, a, b)| *w = *w * *a / (*b + eps));
                // Unit columns of W, the norms moved into the rows of H (WH unchanged).
                for c in 0..k {
                    let nrm = self.w.col(c).norm_l2();
                    if nrm > 0.0 {
                        self.w.col_mut(c).iter_mut().for_each(|v| *v /= nrm);
                        self.h.row_mut(c).iter_mut().for_each(|v| *v *= nrm);
                    }
                }
            }
        }
        // --- H (Hoyer's W), W fixed: WᵀX and WᵀW give every trial objective. ---
        let wtw = gram_cols(self.w.as_ref());
        let mut wtx = Mat::<f64>::zeros(k, m);
        xs.lhs_t_mul_into(wtx.as_mut(), self.w.as_ref(), par)?;
        let f_of = |h: MatRef<'_, f64>| {
            half_sq(
                self.x_sqnorm,
                wtx.as_ref(),
                h,
                wtw.as_ref(),
                gram_rows(h).as_ref(),
            )
        };
        match self.h_sparseness {
            Some(s) => {
                let mut g = Mat::<f64>::zeros(k, m);
                matmul(
                    g.as_mut(),
                    Accum::Replace,
                    wtw.as_ref(),
                    self.h.as_ref(),
                    1.0,
                    par,
                );
                g -= &wtx;
                let f0 = f_of(self.h.as_ref());
                // Hoyer keeps the L2 norm the step produced and sets the L1 for the target.
                let project = |t: &mut Mat<f64>| project_rows(t, s, None);
                match projected_step(&self.h, &g, &mut self.mu_h, f0, project, f_of)? {
                    Some((h, f)) => {
                        self.h = h;
                        self.f = f;
                    }
                    None => return Ok(false),
                }
            }
            None => {
                let mut den = Mat::<f64>::zeros(k, m);
                matmul(
                    den.as_mut(),
                    Accum::Replace,
                    wtw.as_ref(),
                    self.h.as_ref(),
                    1.0,
                    par,
                );
                zip!(self.h.as_mut(), wtx.as_ref(), den.as_ref())
                    .for_each(|unzip!(h, a, b)| *h = *h * *a / (*b + eps));
                self.f = f_of(self.h.as_ref());
            }
        }
        Ok(true)
    }
}

/// W ≥ 0 for new data with H fixed under the constraint of the fit: columns of W at unit L2 norm
/// and sparseness `w_sparseness` (projected gradient with Hoyer's adaptive step), or Hoyer's
/// multiplicative W update when W is unconstrained. Computed in f64.
fn transform_hoyer<T: Float>(
    x: DataRef<'_, T>,
    h: MatRef<'_, T>,
    w_sparseness: Option<f64>,
    max_iter: usize,
    tol: f64,
    par: Par,
) -> Result<Mat<T>, CoreError> {
    let (n, m) = x.shape();
    let k = h.nrows();
    let x = x.to_f64_scaled(1.0);
    let x = x.as_data_ref();
    let h = Mat::<f64>::from_fn(k, m, |i, j| h[(i, j)].to_f64());
    let x_sqnorm = x.squared_norm();
    let mean = x.sum() / (n as f64 * m as f64);
    let mut w = Mat::<f64>::from_fn(n, k, |_, _| (mean / k as f64).sqrt().max(f64::MIN_POSITIVE));
    let hht = gram_rows(h.as_ref());
    let mut xht = Mat::<f64>::zeros(n, k);
    x.mul_into(xht.as_mut(), h.transpose(), par)?;
    let f = |w: MatRef<'_, f64>| {
        half_sq(
            x_sqnorm,
            xht.as_ref(),
            w,
            hht.as_ref(),
            gram_cols(w).as_ref(),
        )
    };
    if let Some(s) = w_sparseness {
        project_cols(&mut w, s, Some(1.0))?;
    }
    let mut fw = f(w.as_ref());
    let mut mu = 1.0f64;
    for _ in 0..max_iter {
        let before = fw;
        let mut den = Mat::<f64>::zeros(n, k);
        matmul(
            den.as_mut(),
            Accum::Replace,
            w.as_ref(),
            hht.as_ref(),
            1.0,
            par,
        );
        match w_sparseness {
            Some(s) => {
                let g = &den - &xht;
                let project = |t: &mut Mat<f64>| project_cols(t, s, Some(1.0));
                match projected_step(&w, &g, &mut mu, fw, project, f)? {
                    Some((next, fnext)) => {
                        w = next;
                        fw = fnext;
                    }
                    None => return Ok(w.as_ref().map(|&v| T::from_f64(v))),
                }
            }
            None => {
                zip!(w.as_mut(), xht.as_ref(), den.as_ref())
                    .for_each(|unzip!(wv, a, b)| *wv = *wv * *a / (*b + 1e-9));
                fw = f(w.as_ref());
            }
        }
        if tol > 0.0 && before - fw <= tol * before.abs() {
            break;
        }
    }
    Ok(w.as_ref().map(|&v| T::from_f64(v)))
}

/// Kim & Park's sparse variants of the legacy solver (scikit-learn 0.15's `sparseness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LegacySparseness {
    /// Plain alternating nonnegative least squares.
    #[default]
    None,
    /// Sparse W (`"data"`): β·Σ_i ‖W_i,:‖₁² with an η·‖H‖² guard.
    Data,
    /// Sparse H (`"components"`): β·Σ_j ‖H_:,j‖₁² with an η·‖W‖² guard.
    Components,
}

/// Lin's projected-gradient NNLS: `min_{H ≥ 0} ½‖V − WH‖²` given `G = WᵀW` (possibly augmented)
/// and `B = WᵀV`, from `h`, to projected-gradient norm `tol` or `max_iter` iterations, with his
/// Armijo search (σ = 0.01, β = 0.1, 19 trials). Returns (gradient, iterations).
fn nls<T: Float>(
    g: MatRef<'_, T>,
    b: MatRef<'_, T>,
    h: &mut Mat<T>,
    tol: f64,
    max_iter: usize,
) -> (Mat<T>, usize) {
    let (k, p) = h.shape();
    let mut alpha = 1.0f64;
    let mut grad = Mat::<T>::zeros(k, p);
    let mut n_iter = 0;
    for it in 1..=max_iter {
        n_iter = it;
        matmul(
            grad.as_mut(),
            Accum::Replace,
            g,
            h.as_ref(),
            T::ONE,
            Par::Seq,
        );
        zip!(grad.as_mut(), b).for_each(|unzip!(gr, bv)| *gr -= *bv);
        let mut pg = 0.0f64;
        zip!(grad.as_ref(), h.as_ref()).for_each(|unzip!(gr, hv)| {
            if *gr < T::ZERO || *hv > T::ZERO {
                pg += gr.to_f64() * gr.to_f64();
            }
        });
        if pg.sqrt() < tol {
            break;
        }
        let mut hp = h.clone();
        let mut decr_alpha = false;
        let mut d = Mat::<T>::zeros(k, p);
        let mut gd = Mat::<T>::zeros(k, p);
        for inner in 1..20 {
            let a = T::from_f64(alpha);
            let hn = Mat::from_fn(k, p, |i, j| (h[(i, j)] - a * grad[(i, j)]).max(T::ZERO));
            zip!(d.as_mut(), hn.as_ref(), h.as_ref()).for_each(|unzip!(dv, n, o)| *dv = *n - *o);
            let gradd = frob_inner(grad.as_ref(), d.as_ref());
            matmul(gd.as_mut(), Accum::Replace, g, d.as_ref(), T::ONE, Par::Seq);
            let dqd = frob_inner(gd.as_ref(), d.as_ref());
            let suff = 0.99 * gradd + 0.5 * dqd < 0.0;
            if inner == 1 {
                decr_alpha = !suff;
                hp = h.clone();
            }
            if decr_alpha {
                if suff {
                    *h = hn;
                    break;
                }
                alpha *= 0.1;
            } else if !suff || hp == hn {
                *h = hp.clone();
                break;
            } else {
                alpha /= 0.1;
                hp = hn;
            }
        }
    }
    (grad, n_iter)
}

/// State of the legacy solver (scikit-learn 0.15 `ProjectedGradientNMF`).
pub(crate) struct Legacy<T: Float> {
    w: Mat<T>,
    h: Mat<T>,
    grad_w: Mat<T>,
    grad_h: Mat<T>,
    tol_w: f64,
    tol_h: f64,
    tol: f64,
    sparseness: LegacySparseness,
    beta: f64,
    eta: f64,
    nls_max_iter: usize,
}

fn proj_norm<T: Float>(g: MatRef<'_, T>, f: MatRef<'_, T>) -> f64 {
    let mut s = 0.0f64;
    zip!(g, f).for_each(|unzip!(gv, fv)| {
        if *gv < T::ZERO || *fv > T::ZERO {
            s += gv.to_f64() * gv.to_f64();
        }
    });
    s
}

impl<T: Float> Legacy<T> {
    fn new_state(
        x: DataRef<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        tol: f64,
        sparseness: LegacySparseness,
        beta: f64,
        eta: f64,
        nls_max_iter: usize,
        par: Par,
    ) -> Result<Self, CoreError> {
        let (n, k) = w.shape();
        let m = h.ncols();
        let hht = gram_rows(h.as_ref());
        let mut grad_w = Mat::<T>::zeros(n, k);
        matmul(
            grad_w.as_mut(),
            Accum::Replace,
            w.as_ref(),
            hht.as_ref(),
            T::ONE,
            par,
        );
        let mut xht = Mat::<T>::zeros(n, k);
        x.mul_into(xht.as_mut(), h.transpose(), par)?;
        grad_w -= &xht;
        let wtw = gram_cols(w.as_ref());
        let mut grad_h = Mat::<T>::zeros(k, m);
        matmul(
            grad_h.as_mut(),
            Accum::Replace,
            wtw.as_ref(),
            h.as_ref(),
            T::ONE,
            par,
        );
        let mut wtx = Mat::<T>::zeros(k, m);
        x.lhs_t_mul_into(wtx.as_mut(), w.as_ref(), par)?;
        grad_h -= &wtx;
        let init_grad = (nmf_core::kernels::squared_norm(grad_w.as_ref())
            + nmf_core::kernels::squared_norm(grad_h.as_ref()))
        .sqrt();
        let tol_w = tol.max(1e-3) * init_grad;
        Ok(Legacy {
            w,
            h,
            grad_w,
            grad_h,
            tol_w,
            tol_h: tol_w,
            tol: tol * init_grad,
            sparseness,
            beta,
            eta,
            nls_max_iter,
        })
    }

    /// scikit-learn 0.15's stopping test, evaluated before each iteration.
    fn converged(&self) -> bool {
        let s = proj_norm(self.grad_w.as_ref(), self.w.as_ref())
            + proj_norm(self.grad_h.as_ref(), self.h.as_ref());
        s.sqrt() < self.tol
    }

    fn augmented(&self, mut g: Mat<T>, ones: bool) -> Mat<T> {
        let k = g.nrows();
        match (self.sparseness, ones) {
            (LegacySparseness::None, _) => {}
            // β·11ᵀ penalises the squared L1 norm of each column of the solved factor.
            (_, true) => {
                let b = T::from_f64(self.beta);
                g.for_each_mut(|v| *v += b);
            }
            // η·I is the L2 guard.
            (_, false) => {
                let e = T::from_f64(self.eta);
                for i in 0..k {
                    g[(i, i)] += e;
                }
            }
        }
        g
    }

    fn legacy_step(&mut self, x: DataRef<'_, T>, par: Par) -> Result<(), CoreError> {
        let (n, k) = self.w.shape();
        let m = self.h.ncols();
        // W-step: the transposed problem Xᵀ ≈ HᵀWᵀ.
        let g = self.augmented(
            gram_rows(self.h.as_ref()),
            self.sparseness == LegacySparseness::Data,
        );
        let mut b = Mat::<T>::zeros(k, n);
        x.lhs_mul_t_into(b.as_mut(), self.h.as_ref(), par)?;
        let mut wt = self.w.transpose().to_owned();
        let (gw, iters) = nls(
            g.as_ref(),
            b.as_ref(),
            &mut wt,
            self.tol_w,
            self.nls_max_iter,
        );
        self.w = wt.transpose().to_owned();
        self.grad_w = gw.transpose().to_owned();
        if iters == 1 {
            self.tol_w *= 0.1;
        }
        // H-step.
        let g = self.augmented(
            gram_cols(self.w.as_ref()),
            self.sparseness == LegacySparseness::Components,
        );
        let mut b = Mat::<T>::zeros(k, m);
        x.lhs_t_mul_into(b.as_mut(), self.w.as_ref(), par)?;
        let (gh, iters) = nls(
            g.as_ref(),
            b.as_ref(),
            &mut self.h,
            self.tol_h,
            self.nls_max_iter,
        );
        self.grad_h = gh;
        if iters == 1 {
            self.tol_h *= 0.1;
        }
        Ok(())
    }
}

/// Hoyer's nmfsc as a solver: runs on `X / max(X)` in f64 (see [`Hoyer`]); the factors are
/// scaled back at the end.
pub(crate) struct HoyerSolver<T> {
    st: Box<Hoyer>,
    xs: Data<f64>,
    scale: f64,
    /// The objective before and after the last iteration.
    before: f64,
    after: f64,
    _data: PhantomData<fn() -> T>,
}

impl<T: Float> Solver<T> for HoyerSolver<T> {
    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        _warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        let c = pb.c;
        // Hoyer rescales X by its maximum; the factors are scaled back at the end.
        let xmax = pb.x.max();
        let scale = if xmax > 0.0 { xmax } else { 1.0 };
        let xs = pb.x.to_f64_scaled(scale);
        let f64_of = |a: &Mat<T>| a.as_ref().map(|v| v.to_f64());
        let st = Hoyer::new(
            xs.as_data_ref(),
            f64_of(&w),
            f64_of(&h),
            c.w_sparseness,
            c.h_sparseness,
        )?;
        Ok(HoyerSolver {
            before: st.f,
            after: st.f,
            st: Box::new(st),
            xs,
            scale,
            _data: PhantomData,
        })
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        self.before = self.st.f;
        let moved = self.st.step(self.xs.as_data_ref(), pb.par())?;
        self.after = self.st.f;
        Ok((!moved).then_some(StopReason::StepFloor))
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        ensure_finite("W", self.st.w.as_ref(), iter)?;
        ensure_finite("H", self.st.h.as_ref(), iter)
    }

    fn objective(&mut self, _pb: &Problem<'_, T>, _after_step: bool) -> Result<f64, NmfError> {
        Ok(self.st.f * self.scale * self.scale)
    }

    fn converged(
        &mut self,
        pb: &Problem<'_, T>,
        _iter: usize,
    ) -> Result<Option<StopReason>, NmfError> {
        let tol = pb.c.tol;
        Ok(
            (tol > 0.0 && (self.before - self.after) <= tol * self.before.abs())
                .then_some(StopReason::Converged),
        )
    }

    fn into_factors(self, _pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        // Back to the user's scale: the factor without a fixed norm carries it.
        let (cw, ch) = if self.st.w_sparseness.is_some() {
            (1.0, self.scale)
        } else {
            (self.scale, 1.0)
        };
        Ok((
            self.st.w.as_ref().map(|&v| T::from_f64(v * cw)),
            self.st.h.as_ref().map(|&v| T::from_f64(v * ch)),
        ))
    }

    fn solve_w(
        c: &NmfParams<T>,
        h: MatRef<'_, T>,
        x: DataRef<'_, T>,
        _pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        Ok(transform_hoyer(
            x,
            h,
            c.w_sparseness,
            c.max_iter,
            c.tol,
            c.par,
        )?)
    }
}

/// The legacy variant's parameters (`check` guarantees the variant).
fn legacy_params<T: Float>(c: &NmfParams<T>) -> (LegacySparseness, f64, f64, usize) {
    match c.pg_variant {
        PgVariant::Legacy {
            sparseness,
            beta,
            eta,
            nls_max_iter,
        } => (sparseness, beta, eta, nls_max_iter),
        PgVariant::Hoyer => (LegacySparseness::None, 1.0, 0.1, 2000),
    }
}

impl<T: Float> Solver<T> for Legacy<T> {
    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        _warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        let c = pb.c;
        let (sparseness, beta, eta, nls_max_iter) = legacy_params(c);
        Ok(Legacy::new_state(
            pb.x,
            w,
            h,
            c.tol,
            sparseness,
            beta,
            eta,
            nls_max_iter,
            c.par,
        )?)
    }

    fn stop_before_step(&self) -> Option<StopReason> {
        // scikit-learn 0.15 tests before updating and counts that iteration.
        self.converged().then_some(StopReason::Converged)
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        self.legacy_step(pb.x, pb.par())?;
        Ok(None)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        ensure_finite("W", self.w.as_ref(), iter)?;
        ensure_finite("H", self.h.as_ref(), iter)
    }

    fn objective(&mut self, pb: &Problem<'_, T>, _after_step: bool) -> Result<f64, NmfError> {
        let c = pb.c;
        Ok(nmf_core::loss::objective(
            pb.x,
            self.w.as_ref(),
            self.h.as_ref(),
            c.loss,
            &pb.pen,
            c.par,
        )?)
    }

    fn factors(&self) -> Option<(MatRef<'_, T>, MatRef<'_, T>)> {
        Some((self.w.as_ref(), self.h.as_ref()))
    }

    fn into_factors(self, _pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        Ok((self.w, self.h))
    }

    /// scikit-learn 0.15 solved each row exactly (NNLS); Lin's solver to a tight
    /// projected-gradient tolerance does the same.
    fn solve_w(
        c: &NmfParams<T>,
        h: MatRef<'_, T>,
        x: DataRef<'_, T>,
        _pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        let (_, _, _, nls_max_iter) = legacy_params(c);
        let (n, k) = (x.nrows(), h.nrows());
        let g = gram_rows(h);
        let mut b = Mat::<T>::zeros(k, n);
        x.lhs_mul_t_into(b.as_mut(), h, c.par)?;
        let mut wt = Mat::<T>::zeros(k, n);
        let tol = 1e-10
            * nmf_core::kernels::squared_norm(b.as_ref())
                .sqrt()
                .max(f64::MIN_POSITIVE);
        nls(
            g.as_ref(),
            b.as_ref(),
            &mut wt,
            tol,
            nls_max_iter.max(10_000),
        );
        Ok(wt.transpose().to_owned())
    }
}
