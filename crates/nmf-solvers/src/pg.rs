//! Projected-gradient solvers: Hoyer's sparseness-constrained NMF (`nmfsc`, Hoyer 2004) and the
//! legacy scikit-learn 0.15 `ProjectedGradientNMF` (Lin 2007, with Kim & Park's sparse variants).
//!
//! In scikit-learn's convention (X ≈ W·H, rows of H are the components), Hoyer's constraint on
//! the columns of his W is our constraint on the rows of H (`h_sparseness`: every basis vector has
//! the target sparseness), and his constraint on the rows of his H is ours on the columns of W
//! (`w_sparseness`).
//!
//! Both solvers size every buffer when they are built (products, gradients, step-search trial
//! points, the NNLS trials, the sparseness projection's row buffers), so an iteration of the fit
//! allocates nothing (`tests/memory.rs`); a transform sizes its own buffers once per call.

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use nmf_core::kernels::matmul;
use nmf_core::loss::LossScratch;
use nmf_core::mat;
use nmf_core::partition::{Cols, run_groups};
use nmf_core::sparseness::{ProjectScratch, l1_for_sparseness, project_into};
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

/// `dst = aᵀa` (nmf-core's kernel; on several threads from the k where that pays,
/// `partition::gram_par`: a trial point's Gram is k²·m multiply-adds, as many as `WᵀX` at
/// k = n).
fn gram_cols_to<T: Float>(dst: &mut Mat<T>, a: MatRef<'_, T>, par: Par) {
    // Every destination is sized k x k from the factor it is the Gram of, so the shape check
    // cannot fail.
    let par = nmf_core::partition::gram_par(par, a.ncols());
    let _ = nmf_core::kernels::gram_cols_into(dst.as_mut(), a, par);
}

/// `dst = a·aᵀ`.
fn gram_rows_to<T: Float>(dst: &mut Mat<T>, a: MatRef<'_, T>, par: Par) {
    let par = nmf_core::partition::gram_par(par, a.nrows());
    let _ = nmf_core::kernels::gram_rows_into(dst.as_mut(), a, par);
}

/// Buffers for projecting the rows or columns of a factor one vector at a time: the vector,
/// its projection, and the projection's own buffers, sized for the longest vector.
struct ProjectBuf {
    vec: Vec<f64>,
    out: Vec<f64>,
    scratch: ProjectScratch,
    /// The error of this buffer's group when the projections ran in parallel.
    err: Option<CoreError>,
}

impl ProjectBuf {
    fn new(len: usize) -> Self {
        ProjectBuf {
            vec: vec![0.0; len],
            out: vec![0.0; len],
            scratch: ProjectScratch::new(len),
            err: None,
        }
    }

    /// Projects `self.vec[..len]` to L2 norm `l2` (its own when `None`) and Hoyer sparseness
    /// `s` into `self.out[..len]`. False for a zero vector, left as it is (its sparseness is
    /// undefined).
    fn project(&mut self, len: usize, s: f64, l2: Option<f64>) -> Result<bool, CoreError> {
        let v = &self.vec[..len];
        let l2 = l2.unwrap_or_else(|| v.iter().map(|v| v * v).sum::<f64>().sqrt());
        if l2 == 0.0 || !l2.is_finite() {
            return Ok(false);
        }
        let l1 = l1_for_sparseness(len, s, l2);
        project_into(v, l1, l2, &mut self.out[..len], &mut self.scratch)?;
        Ok(true)
    }
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

/// Vectors times their length below which the projections of a factor run on one thread: a
/// rayon round trip costs more than projecting a few short vectors.
const PROJECT_PAR_MIN_ENTRIES: usize = 32_768;

/// The sparseness projections of the k rows or columns of a factor, one [`ProjectBuf`] per
/// thread. Each vector is projected on its own, so which thread takes it cannot change a bit;
/// the groups are fixed when the projector is built, so projecting allocates nothing.
struct Projector {
    bufs: Vec<ProjectBuf>,
    /// Group boundaries over the k vectors, one group per buffer.
    bounds: Vec<usize>,
}

impl Projector {
    /// Buffers for vectors up to `len` long, for `k` of them at a time on up to `threads`.
    fn new(len: usize, k: usize, threads: usize) -> Self {
        let parallel = threads > 1 && k > 1 && k.saturating_mul(len) >= PROJECT_PAR_MIN_ENTRIES;
        let groups = if parallel { threads.min(k) } else { 1 };
        Projector {
            bufs: (0..groups).map(|_| ProjectBuf::new(len)).collect(),
            bounds: (0..=groups).map(|g| g * k / groups).collect(),
        }
    }

    /// Projects every column of `a` (sparseness `s`, L2 norm `l2` or the column's own).
    fn cols(
        &mut self,
        a: &mut Mat<f64>,
        s: f64,
        l2: Option<f64>,
        par: Par,
    ) -> Result<(), CoreError> {
        self.columns_of(a.as_mut(), s, l2, par)
    }

    /// Projects every row of `a`: the columns of its transposed view.
    fn rows(
        &mut self,
        a: &mut Mat<f64>,
        s: f64,
        l2: Option<f64>,
        par: Par,
    ) -> Result<(), CoreError> {
        self.columns_of(a.as_mut().transpose_mut(), s, l2, par)
    }

    fn columns_of(
        &mut self,
        a: faer::MatMut<'_, f64>,
        s: f64,
        l2: Option<f64>,
        par: Par,
    ) -> Result<(), CoreError> {
        if par.degree() <= 1
            || self.bufs.len() == 1
            || *self.bounds.last().unwrap_or(&0) != a.ncols()
        {
            return project_columns_of(a, s, l2, &mut self.bufs[0]);
        }
        let work = |part: Cols<'_, f64>, buf: &mut ProjectBuf, _: core::ops::Range<usize>| {
            buf.err = project_columns_of(part.0, s, l2, buf).err();
        };
        run_groups(Cols(a), &self.bounds, &mut self.bufs, &work);
        // The first group's error, as the sequential loop would have met it first.
        match self.bufs.iter_mut().find_map(|b| b.err.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The projection of each column of a view, copied through `buf` in index order.
fn project_columns_of(
    mut a: faer::MatMut<'_, f64>,
    s: f64,
    l2: Option<f64>,
    buf: &mut ProjectBuf,
) -> Result<(), CoreError> {
    let n = a.nrows();
    for c in 0..a.ncols() {
        for (d, v) in buf.vec[..n].iter_mut().zip(a.rb().col(c).iter()) {
            *d = *v;
        }
        if buf.project(n, s, l2)? {
            for (v, p) in a.rb_mut().col_mut(c).iter_mut().zip(&buf.out[..n]) {
                *v = *p;
            }
        }
    }
    Ok(())
}

/// Hoyer's step search: from `x` along `−g`, project, and accept the first step whose objective
/// does not exceed `f_ref`, halving the step from `*mu`; an accepted step grows `*mu` by 1.2 for
/// the next call. The trial point is built in `trial` (x's shape), which holds the accepted
/// point on return (the caller swaps it in). `None` once the step falls below the floor (no
/// acceptable step: stationary). The accepted trial is the last one `objective` saw (callers
/// take the Gram it computed as the new factor's).
fn projected_step(
    x: &Mat<f64>,
    g: &Mat<f64>,
    trial: &mut Mat<f64>,
    mu: &mut f64,
    f_ref: f64,
    mut project: impl FnMut(&mut Mat<f64>) -> Result<(), CoreError>,
    mut objective: impl FnMut(MatRef<'_, f64>) -> f64,
) -> Result<Option<f64>, CoreError> {
    loop {
        let step = *mu;
        zip!(trial.as_mut(), x.as_ref(), g.as_ref())
            .for_each(|unzip!(t, xv, gv)| *t = *xv - step * *gv);
        project(trial)?;
        let f = objective(trial.as_ref());
        if f <= f_ref {
            *mu *= 1.2;
            return Ok(Some(f));
        }
        *mu /= 2.0;
        if *mu < STEP_FLOOR {
            return Ok(None);
        }
    }
}

/// The buffers of one Hoyer iteration, sized when the solver is built (n x k and k x m
/// factors), so that `step` allocates nothing.
struct HoyerWork<T> {
    /// The factor multiplying X and the product, in the data's precision (see [`cross`]).
    h_t: Mat<T>,
    w_t: Mat<T>,
    xht_t: Mat<T>,
    wtx_t: Mat<T>,
    /// HHᵀ and XHᵀ (the W side's fixed products), WᵀW and WᵀX (the H side's).
    hht: Mat<f64>,
    xht: Mat<f64>,
    wtw: Mat<f64>,
    wtx: Mat<f64>,
    /// The gradient or the multiplicative update's denominator, for W (n x k) and H (k x m).
    g_w: Mat<f64>,
    g_h: Mat<f64>,
    /// The step search's trial points.
    trial_w: Mat<f64>,
    trial_h: Mat<f64>,
    /// The Gram of a trial point (k x k), for its objective.
    trial_gram: Mat<f64>,
    /// Whether `hht` and `wtw` are the Grams of the current H and W (`hht` to rounding after
    /// a rescaling of H's rows).
    hht_fresh: bool,
    wtw_fresh: bool,
    proj: Projector,
}

impl<T: Float> HoyerWork<T> {
    fn new(n: usize, m: usize, k: usize, threads: usize) -> Self {
        HoyerWork {
            h_t: mat::zeros(k, m),
            w_t: mat::zeros(n, k),
            xht_t: mat::zeros(n, k),
            wtx_t: mat::zeros(k, m),
            hht: mat::zeros(k, k),
            xht: mat::zeros(n, k),
            wtw: mat::zeros(k, k),
            wtx: mat::zeros(k, m),
            g_w: mat::zeros(n, k),
            g_h: mat::zeros(k, m),
            trial_w: mat::zeros(n, k),
            trial_h: mat::zeros(k, m),
            trial_gram: mat::zeros(k, k),
            hht_fresh: false,
            wtw_fresh: false,
            proj: Projector::new(n.max(m), k, threads),
        }
    }
}

/// `dst = X·Fᵀ` (`rows`, F = H) or `Fᵀ·X` (F = W), computed in the data's precision
/// and widened: the iterate is f64, and for f32 data these two products (2·n·m·k of an
/// iteration's multiply-adds) then run at the f32 rate. Their rounding (that of an f32 solver's
/// gradient) is harmless to the step search, which compares trial points only against the
/// current point evaluated with the same product, so the error enters a comparison scaled by
/// the step taken, not by the objective. The objective reported from one iteration to the
/// next does carry it (the f32 rounding of ⟨X, WH⟩, a term of the size of ‖X‖²), and so does
/// the `tol` test on it.
fn cross<T: Float>(
    x: DataRef<'_, T>,
    f: MatRef<'_, f64>,
    f_t: &mut Mat<T>,
    out_t: &mut Mat<T>,
    dst: &mut Mat<f64>,
    rows: bool,
    par: Par,
) -> Result<(), CoreError> {
    zip!(f_t.as_mut(), f).for_each(|unzip!(a, b)| *a = T::from_f64(*b));
    if rows {
        x.mul_into(out_t.as_mut(), f_t.transpose(), par)?;
    } else {
        x.lhs_t_mul_into(out_t.as_mut(), f_t.as_ref(), par)?;
    }
    zip!(dst.as_mut(), out_t.as_ref()).for_each(|unzip!(d, v)| *d = v.to_f64());
    Ok(())
}

/// State of Hoyer's `nmfsc` on the internally rescaled data `X / max(X)`. The iterate is f64
/// whatever the data's precision, so that accepting a step ("the objective did not go up") is
/// decided on exact-enough Gram products; only the products with X run in the data's precision
/// ([`cross`]). The objective is evaluated from Gram products, O((n + m)k²) per trial.
struct Hoyer<T> {
    w: Mat<f64>,
    h: Mat<f64>,
    w_sparseness: Option<f64>,
    h_sparseness: Option<f64>,
    mu_w: f64,
    mu_h: f64,
    /// ½‖X/c − WH‖² after the last iteration.
    f: f64,
    x_sqnorm: f64,
    ws: HoyerWork<T>,
}

impl<T: Float> Hoyer<T> {
    /// Hoyer's set-up: columns of W to unit L2 norm (his rows of H), then the initial projections.
    fn new(
        xs: DataRef<'_, T>,
        mut w: Mat<f64>,
        mut h: Mat<f64>,
        w_sparseness: Option<f64>,
        h_sparseness: Option<f64>,
        par: Par,
    ) -> Result<Self, CoreError> {
        let (n, k) = w.shape();
        let mut ws = HoyerWork::new(n, h.ncols(), k, par.degree());
        for c in 0..k {
            let nrm = w.col(c).norm_l2();
            if nrm > 0.0 {
                w.col_mut(c).iter_mut().for_each(|v| *v /= nrm);
            }
        }
        if let Some(s) = h_sparseness {
            ws.proj.rows(&mut h, s, Some(1.0), par)?;
        }
        if let Some(s) = w_sparseness {
            ws.proj.cols(&mut w, s, Some(1.0), par)?;
        }
        let x_sqnorm = xs.squared_norm();
        // The objective at the start, from the factors in the data's precision (an f64 copy
        // of f32 data would double its memory for this one evaluation); it is only the
        // "before" of the first convergence test, every step search evaluates its own.
        let (w_t, h_t) = (
            mat::map(w.as_ref(), T::from_f64),
            mat::map(h.as_ref(), T::from_f64),
        );
        let f = nmf_core::loss::frobenius_direct(xs, w_t.as_ref(), h_t.as_ref(), Par::Seq)?;
        Ok(Hoyer {
            w,
            h,
            w_sparseness,
            h_sparseness,
            mu_w: 1.0,
            mu_h: 1.0,
            f,
            x_sqnorm,
            ws,
        })
    }

    /// One nmfsc iteration (W side first, as Hoyer's code updates his H first). Returns false
    /// when a step size fell below the floor (no acceptable step: converged).
    ///
    /// A Gram is computed once per factor value: an accepted trial's Gram (its objective
    /// needed it) becomes the factor's, and the current point's objective reuses it (the same
    /// function on the same factor: the same bits). These k²·m products are half as large as
    /// `WᵀX` at k = n/2 (k = 200 on the faces). The one Gram not recomputed exactly is HHᵀ
    /// after mu's W half-step rescales H's rows (see there).
    fn step(&mut self, xs: DataRef<'_, T>, par: Par) -> Result<bool, CoreError> {
        let k = self.w.ncols();
        let eps = 1e-9;
        let x_sqnorm = self.x_sqnorm;
        let ws = &mut self.ws;
        // --- W (Hoyer's H), H fixed: XHᵀ and HHᵀ give every trial objective. ---
        if !ws.hht_fresh {
            gram_rows_to(&mut ws.hht, self.h.as_ref(), par);
            ws.hht_fresh = true;
        }
        let (h_t, xht_t) = (&mut ws.h_t, &mut ws.xht_t);
        cross(xs, self.h.as_ref(), h_t, xht_t, &mut ws.xht, true, par)?;
        match self.w_sparseness {
            Some(s) => {
                matmul(
                    ws.g_w.as_mut(),
                    Accum::Replace,
                    self.w.as_ref(),
                    ws.hht.as_ref(),
                    1.0,
                    par,
                )?;
                zip!(ws.g_w.as_mut(), ws.xht.as_ref()).for_each(|unzip!(g, c)| *g -= *c);
                if !ws.wtw_fresh {
                    gram_cols_to(&mut ws.wtw, self.w.as_ref(), par);
                    ws.wtw_fresh = true;
                }
                // The current point through the same products as its trials (not the H
                // side's value of the same objective, whose products with X round otherwise).
                let (xht, hht) = (ws.xht.as_ref(), ws.hht.as_ref());
                let f0 = half_sq(x_sqnorm, xht, self.w.as_ref(), hht, ws.wtw.as_ref());
                let gram = &mut ws.trial_gram;
                let objective = |t: MatRef<'_, f64>| {
                    gram_cols_to(gram, t, par);
                    half_sq(x_sqnorm, xht, t, hht, gram.as_ref())
                };
                let proj = &mut ws.proj;
                let project = |t: &mut Mat<f64>| proj.cols(t, s, Some(1.0), par);
                let (w, trial) = (&mut self.w, &mut ws.trial_w);
                match projected_step(w, &ws.g_w, trial, &mut self.mu_w, f0, project, objective)? {
                    Some(_) => {
                        core::mem::swap(w, trial);
                        // The last trial evaluated is the one accepted.
                        core::mem::swap(&mut ws.wtw, &mut ws.trial_gram);
                    }
                    None => return Ok(false),
                }
            }
            None => {
                let den = &mut ws.g_w;
                matmul(
                    den.as_mut(),
                    Accum::Replace,
                    self.w.as_ref(),
                    ws.hht.as_ref(),
                    1.0,
                    par,
                )?;
                zip!(self.w.as_mut(), ws.xht.as_ref(), den.as_ref())
                    .for_each(|unzip!(w, a, b)| *w = *w * *a / (*b + eps));
                // Unit columns of W, the norms moved into the rows of H (WH unchanged). H
                // becomes DH, whose Gram D·HHᵀ·D is scaled here in k² operations instead of
                // recomputed in k²·m (equal to rounding, and an f64 rounding is what the step
                // search tolerates anyway).
                for c in 0..k {
                    let nrm = self.w.col(c).norm_l2();
                    if nrm > 0.0 {
                        self.w.col_mut(c).iter_mut().for_each(|v| *v /= nrm);
                        self.h.row_mut(c).iter_mut().for_each(|v| *v *= nrm);
                        ws.hht.row_mut(c).iter_mut().for_each(|v| *v *= nrm);
                        ws.hht.col_mut(c).iter_mut().for_each(|v| *v *= nrm);
                    }
                }
                ws.wtw_fresh = false;
            }
        }
        // --- H (Hoyer's W), W fixed: WᵀX and WᵀW give every trial objective. ---
        if !ws.wtw_fresh {
            gram_cols_to(&mut ws.wtw, self.w.as_ref(), par);
            ws.wtw_fresh = true;
        }
        let (w_t, wtx_t) = (&mut ws.w_t, &mut ws.wtx_t);
        cross(xs, self.w.as_ref(), w_t, wtx_t, &mut ws.wtx, false, par)?;
        let (wtx, wtw, gram) = (ws.wtx.as_ref(), ws.wtw.as_ref(), &mut ws.trial_gram);
        let f_of = |h: MatRef<'_, f64>| {
            gram_rows_to(gram, h, par);
            half_sq(x_sqnorm, wtx, h, wtw, gram.as_ref())
        };
        match self.h_sparseness {
            Some(s) => {
                matmul(
                    ws.g_h.as_mut(),
                    Accum::Replace,
                    wtw,
                    self.h.as_ref(),
                    1.0,
                    par,
                )?;
                zip!(ws.g_h.as_mut(), wtx).for_each(|unzip!(g, c)| *g -= *c);
                if !ws.hht_fresh {
                    gram_rows_to(&mut ws.hht, self.h.as_ref(), par);
                    ws.hht_fresh = true;
                }
                let f0 = half_sq(x_sqnorm, wtx, self.h.as_ref(), wtw, ws.hht.as_ref());
                // Hoyer keeps the L2 norm the step produced and sets the L1 for the target.
                let proj = &mut ws.proj;
                let project = |t: &mut Mat<f64>| proj.rows(t, s, None, par);
                let (h, trial) = (&mut self.h, &mut ws.trial_h);
                match projected_step(h, &ws.g_h, trial, &mut self.mu_h, f0, project, f_of)? {
                    Some(f) => {
                        core::mem::swap(h, trial);
                        core::mem::swap(&mut ws.hht, &mut ws.trial_gram);
                        self.f = f;
                    }
                    None => return Ok(false),
                }
            }
            None => {
                let den = &mut ws.g_h;
                matmul(den.as_mut(), Accum::Replace, wtw, self.h.as_ref(), 1.0, par)?;
                zip!(self.h.as_mut(), wtx, den.as_ref())
                    .for_each(|unzip!(h, a, b)| *h = *h * *a / (*b + eps));
                let mut f_of = f_of;
                self.f = f_of(self.h.as_ref());
                core::mem::swap(&mut ws.hht, &mut ws.trial_gram);
                ws.hht_fresh = true;
            }
        }
        Ok(true)
    }
}

/// W ≥ 0 for new data with H fixed under the constraint of the fit: columns of W at unit L2 norm
/// and sparseness `w_sparseness` (projected gradient with Hoyer's adaptive step), or Hoyer's
/// multiplicative W update when W is unconstrained. Computed in f64; runs once per `transform`,
/// its buffers sized up front like the fit's.
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
    let h = mat::from_fn::<f64>(k, m, |i, j| h[(i, j)].to_f64());
    let x_sqnorm = x.squared_norm();
    let mean = x.sum() / (n as f64 * m as f64);
    let mut w = mat::from_fn::<f64>(n, k, |_, _| (mean / k as f64).sqrt().max(f64::MIN_POSITIVE));
    let mut hht = mat::zeros::<f64>(k, k);
    gram_rows_to(&mut hht, h.as_ref(), par);
    let mut xht = mat::zeros::<f64>(n, k);
    x.mul_into(xht.as_mut(), h.transpose(), par)?;
    let (mut gram, mut den, mut g, mut trial) = (
        mat::zeros::<f64>(k, k),
        mat::zeros::<f64>(n, k),
        mat::zeros::<f64>(n, k),
        mat::zeros::<f64>(n, k),
    );
    let mut proj = Projector::new(n, k, par.degree());
    let mut f = |w: MatRef<'_, f64>| {
        gram_cols_to(&mut gram, w, par);
        half_sq(x_sqnorm, xht.as_ref(), w, hht.as_ref(), gram.as_ref())
    };
    if let Some(s) = w_sparseness {
        proj.cols(&mut w, s, Some(1.0), par)?;
    }
    let mut fw = f(w.as_ref());
    let mut mu = 1.0f64;
    for _ in 0..max_iter {
        let before = fw;
        matmul(
            den.as_mut(),
            Accum::Replace,
            w.as_ref(),
            hht.as_ref(),
            1.0,
            par,
        )?;
        match w_sparseness {
            Some(s) => {
                zip!(g.as_mut(), den.as_ref(), xht.as_ref())
                    .for_each(|unzip!(gv, d, c)| *gv = *d - *c);
                let project = |t: &mut Mat<f64>| proj.cols(t, s, Some(1.0), par);
                match projected_step(&w, &g, &mut trial, &mut mu, fw, project, &mut f)? {
                    Some(fnext) => {
                        core::mem::swap(&mut w, &mut trial);
                        fw = fnext;
                    }
                    None => return Ok(mat::map(w.as_ref(), T::from_f64)),
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
    Ok(mat::map(w.as_ref(), T::from_f64))
}

/// Kim & Park's sparse variants of the legacy solver (scikit-learn 0.15's `sparseness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
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

/// The buffers of one [`nls`] solve for a k x p unknown: the best point so far, the trial
/// point, the step and `G·d`.
struct NlsWork<T> {
    hp: Mat<T>,
    hn: Mat<T>,
    d: Mat<T>,
    gd: Mat<T>,
}

impl<T: Float> NlsWork<T> {
    fn new(k: usize, p: usize) -> Self {
        NlsWork {
            hp: mat::zeros(k, p),
            hn: mat::zeros(k, p),
            d: mat::zeros(k, p),
            gd: mat::zeros(k, p),
        }
    }
}

/// Lin's projected-gradient NNLS: `min_{H ≥ 0} ½‖V − WH‖²` given `G = WᵀW` (possibly augmented)
/// and `B = WᵀV`, from `h`, to projected-gradient norm `tol` or `max_iter` iterations, with his
/// Armijo search (σ = 0.01, β = 0.1, 19 trials). Leaves the last gradient in `grad` (h's shape;
/// zeros when `max_iter` is 0) and returns the number of iterations. Allocates nothing: the
/// trial points live in `ws`, sized for h.
fn nls<T: Float>(
    g: MatRef<'_, T>,
    b: MatRef<'_, T>,
    h: &mut Mat<T>,
    grad: &mut Mat<T>,
    ws: &mut NlsWork<T>,
    tol: f64,
    max_iter: usize,
) -> Result<usize, CoreError> {
    let NlsWork { hp, hn, d, gd } = ws;
    let mut alpha = 1.0f64;
    if max_iter == 0 {
        grad.fill(T::ZERO);
    }
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
        )?;
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
        let mut decr_alpha = false;
        for inner in 1..20 {
            let a = T::from_f64(alpha);
            zip!(hn.as_mut(), h.as_ref(), grad.as_ref())
                .for_each(|unzip!(n, hv, gr)| *n = (*hv - a * *gr).max(T::ZERO));
            zip!(d.as_mut(), hn.as_ref(), h.as_ref()).for_each(|unzip!(dv, n, o)| *dv = *n - *o);
            let gradd = frob_inner(grad.as_ref(), d.as_ref());
            matmul(gd.as_mut(), Accum::Replace, g, d.as_ref(), T::ONE, Par::Seq)?;
            let dqd = frob_inner(gd.as_ref(), d.as_ref());
            let suff = 0.99 * gradd + 0.5 * dqd < 0.0;
            if inner == 1 {
                decr_alpha = !suff;
                hp.copy_from(&*h);
            }
            if decr_alpha {
                if suff {
                    h.copy_from(&*hn);
                    break;
                }
                alpha *= 0.1;
            } else if !suff || *hp == *hn {
                h.copy_from(&*hp);
                break;
            } else {
                alpha /= 0.1;
                // The trial becomes the best point; the old best's buffer takes the next trial.
                core::mem::swap(hp, hn);
            }
        }
    }
    Ok(n_iter)
}

/// The buffers of one legacy iteration, sized when the solver is built.
struct LegacyWork<T: Float> {
    /// The k x k Gram of the fixed factor, augmented (both half-steps in turn).
    g: Mat<T>,
    /// HXᵀ (k x n) and WᵀX (k x m).
    b_w: Mat<T>,
    b_h: Mat<T>,
    /// Wᵀ and its gradient: the W half-step solves the transposed problem Xᵀ ≈ HᵀWᵀ.
    wt: Mat<T>,
    grad_wt: Mat<T>,
    nls_w: NlsWork<T>,
    nls_h: NlsWork<T>,
    /// For the objective.
    loss: LossScratch<T>,
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
    ws: LegacyWork<T>,
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

/// Kim & Park's augmentation of the Gram `g` of the fixed factor, in place: `β·11ᵀ` when `ones`
/// (it penalises the squared L1 norm of each column of the solved factor), else the `η·I` L2
/// guard; nothing without sparseness.
fn augment<T: Float>(
    g: &mut Mat<T>,
    sparseness: LegacySparseness,
    beta: f64,
    eta: f64,
    ones: bool,
) {
    let k = g.nrows();
    match (sparseness, ones) {
        (LegacySparseness::None, _) => {}
        (_, true) => {
            let b = T::from_f64(beta);
            g.for_each_mut(|v| *v += b);
        }
        (_, false) => {
            let e = T::from_f64(eta);
            for i in 0..k {
                g[(i, i)] += e;
            }
        }
    }
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
        let mut ws = LegacyWork {
            g: mat::zeros(k, k),
            b_w: mat::zeros(k, n),
            b_h: mat::zeros(k, m),
            wt: mat::zeros(k, n),
            grad_wt: mat::zeros(k, n),
            nls_w: NlsWork::new(k, n),
            nls_h: NlsWork::new(k, m),
            loss: LossScratch::new(n, m, k, par),
        };
        // The initial gradients W·HHᵀ − XHᵀ and WᵀW·H − WᵀX (once, so allocated here).
        gram_rows_to(&mut ws.g, h.as_ref(), par);
        let mut grad_w = mat::zeros::<T>(n, k);
        matmul(
            grad_w.as_mut(),
            Accum::Replace,
            w.as_ref(),
            ws.g.as_ref(),
            T::ONE,
            par,
        )?;
        let mut xht = mat::zeros::<T>(n, k);
        x.mul_into(xht.as_mut(), h.transpose(), par)?;
        grad_w -= &xht;
        gram_cols_to(&mut ws.g, w.as_ref(), par);
        let mut grad_h = mat::zeros::<T>(k, m);
        matmul(
            grad_h.as_mut(),
            Accum::Replace,
            ws.g.as_ref(),
            h.as_ref(),
            T::ONE,
            par,
        )?;
        x.lhs_t_mul_into(ws.b_h.as_mut(), w.as_ref(), par)?;
        grad_h -= &ws.b_h;
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
            ws,
        })
    }

    /// scikit-learn 0.15's stopping test, evaluated before each iteration.
    fn converged(&self) -> bool {
        let s = proj_norm(self.grad_w.as_ref(), self.w.as_ref())
            + proj_norm(self.grad_h.as_ref(), self.h.as_ref());
        s.sqrt() < self.tol
    }

    fn legacy_step(&mut self, x: DataRef<'_, T>, par: Par) -> Result<(), CoreError> {
        let ws = &mut self.ws;
        // W-step: the transposed problem Xᵀ ≈ HᵀWᵀ.
        gram_rows_to(&mut ws.g, self.h.as_ref(), par);
        let data = self.sparseness == LegacySparseness::Data;
        augment(&mut ws.g, self.sparseness, self.beta, self.eta, data);
        x.lhs_mul_t_into(ws.b_w.as_mut(), self.h.as_ref(), par)?;
        ws.wt.copy_from(self.w.transpose());
        let iters = nls(
            ws.g.as_ref(),
            ws.b_w.as_ref(),
            &mut ws.wt,
            &mut ws.grad_wt,
            &mut ws.nls_w,
            self.tol_w,
            self.nls_max_iter,
        )?;
        self.w.copy_from(ws.wt.transpose());
        self.grad_w.copy_from(ws.grad_wt.transpose());
        if iters == 1 {
            self.tol_w *= 0.1;
        }
        // H-step.
        gram_cols_to(&mut ws.g, self.w.as_ref(), par);
        let components = self.sparseness == LegacySparseness::Components;
        augment(&mut ws.g, self.sparseness, self.beta, self.eta, components);
        x.lhs_t_mul_into(ws.b_h.as_mut(), self.w.as_ref(), par)?;
        let iters = nls(
            ws.g.as_ref(),
            ws.b_h.as_ref(),
            &mut self.h,
            &mut self.grad_h,
            &mut ws.nls_h,
            self.tol_h,
            self.nls_max_iter,
        )?;
        if iters == 1 {
            self.tol_h *= 0.1;
        }
        Ok(())
    }
}

/// Hoyer's nmfsc as a solver: runs on `X / max(X)` with an f64 iterate (see [`Hoyer`]); the
/// factors are scaled back at the end.
pub(crate) struct HoyerSolver<T> {
    st: Box<Hoyer<T>>,
    xs: Data<T>,
    scale: f64,
    /// The objective before and after the last iteration.
    before: f64,
    after: f64,
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
        let xs = pb.x.to_scaled(scale);
        let f64_of = |a: &Mat<T>| mat::map(a.as_ref(), |v| v.to_f64());
        let st = Hoyer::new(
            xs.as_data_ref(),
            f64_of(&w),
            f64_of(&h),
            c.w_sparseness,
            c.h_sparseness,
            pb.par(),
        )?;
        Ok(HoyerSolver {
            before: st.f,
            after: st.f,
            st: Box::new(st),
            xs,
            scale,
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
            mat::map(self.st.w.as_ref(), |v| T::from_f64(v * cw)),
            mat::map(self.st.h.as_ref(), |v| T::from_f64(v * ch)),
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
        Ok(nmf_core::loss::objective_with(
            &mut self.ws.loss,
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
        let mut g = mat::zeros::<T>(k, k);
        gram_rows_to(&mut g, h, c.par);
        let mut b = mat::zeros::<T>(k, n);
        x.lhs_mul_t_into(b.as_mut(), h, c.par)?;
        let mut wt = mat::zeros::<T>(k, n);
        let mut grad = mat::zeros::<T>(k, n);
        let tol = 1e-10
            * nmf_core::kernels::squared_norm(b.as_ref())
                .sqrt()
                .max(f64::MIN_POSITIVE);
        nls(
            g.as_ref(),
            b.as_ref(),
            &mut wt,
            &mut grad,
            &mut NlsWork::new(k, n),
            tol,
            nls_max_iter.max(10_000),
        )?;
        Ok(mat::copy(wt.transpose()))
    }
}
