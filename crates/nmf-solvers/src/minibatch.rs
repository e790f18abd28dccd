//! scikit-learn's `MiniBatchNMF` (Lefèvre, Bach & Févotte 2011, "Online algorithms for
//! nonnegative matrix factorization with the Itakura-Saito divergence"): H learned from
//! contiguous batches of rows with multiplicative updates whose numerators and denominators are
//! running sums decayed by a forget factor.
//!
//! One driver iteration is one pass over the batches (scikit-learn's `n_iter_` counts passes;
//! `n_steps` in the report counts batches). Each step updates the batch's rows of W (one MU
//! half-step in place, or a fresh solve with `fresh_restarts`), records the batch cost, then
//! does the online H update; the stopping rules (H change, no improvement of the smoothed cost)
//! are tested after every step, so a fit can end in the middle of a pass, as scikit-learn's
//! does. The numerics follow `docs/minibatch.md`.

use core::ops::Range;
use nmf_core::mat;

use faer::prelude::*;
use faer::{Mat, MatMut, MatRef};
use nmf_core::loss::{self, LossScratch};
use nmf_core::{DataRef, Float, Penalties, SparseMat};

use crate::error::NmfError;
use crate::mu::{self, FactorPenalty, HRole, OnlineStats, Workspace};
use crate::params::NmfParams;
use crate::report::{FitWarning, StopReason};
use crate::solver::{Problem, Solver, ensure_finite};

/// The settings of [`SolverKind::MiniBatch`](crate::SolverKind::MiniBatch), with
/// scikit-learn's `MiniBatchNMF` names, meanings and defaults. Set them through the builder
/// (`.batch_size(n)`, `.forget_factor(f)`, ...); other solvers ignore them.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct MiniBatchParams {
    /// Rows per batch (default 1024; capped at n_samples). Batches are contiguous and
    /// unshuffled: `[0, b), [b, 2b), ...`, the last one possibly shorter.
    pub batch_size: usize,
    /// How much of the past statistics a full pass keeps (default 0.7): each batch scales them
    /// by `forget_factor^(batch_size / n_samples)`. 0 forgets everything (the batch MU step).
    pub forget_factor: f64,
    /// Solve each batch's W from scratch (`fresh_restarts_max_iter` MU steps) instead of one
    /// MU step from its previous value; the final W is then solved on all of X.
    pub fresh_restarts: bool,
    /// MU steps of each fresh W solve (default 30).
    pub fresh_restarts_max_iter: usize,
    /// MU steps of `transform` and of the final W solve (default: `max_iter`).
    pub transform_max_iter: Option<usize>,
    /// Stop after this many consecutive batches without a new minimum of the smoothed batch
    /// cost (default 10; `None` disables the rule).
    pub max_no_improvement: Option<usize>,
}

impl Default for MiniBatchParams {
    fn default() -> Self {
        MiniBatchParams {
            batch_size: 1024,
            forget_factor: 0.7,
            fresh_restarts: false,
            fresh_restarts_max_iter: 30,
            transform_max_iter: None,
            max_no_improvement: Some(10),
        }
    }
}

impl MiniBatchParams {
    /// The data-free rules (scikit-learn's parameter constraints).
    pub(crate) fn validate(&self) -> Result<(), nmf_core::CoreError> {
        use nmf_core::CoreError;
        if self.batch_size == 0 {
            return Err(CoreError::invalid("batch_size", 0, "an integer >= 1"));
        }
        nmf_core::check::ensure_in_range(
            "forget_factor",
            self.forget_factor,
            0.0,
            1.0,
            "a number in [0, 1]",
        )?;
        if self.fresh_restarts_max_iter == 0 {
            return Err(CoreError::invalid(
                "fresh_restarts_max_iter",
                0,
                "an integer >= 1",
            ));
        }
        if self.transform_max_iter == Some(0) {
            return Err(CoreError::invalid(
                "transform_max_iter",
                0,
                "an integer >= 1 (or unset: max_iter)",
            ));
        }
        if self.max_no_improvement == Some(0) {
            return Err(CoreError::invalid(
                "max_no_improvement",
                0,
                "an integer >= 1 (or unset: no such rule)",
            ));
        }
        Ok(())
    }
}

/// scikit-learn's `gen_batches(n, b)`: `[0, b), [b, 2b), ...`, the last one short when `b`
/// does not divide `n`, never empty.
pub(crate) fn batches(n: usize, b: usize) -> Vec<Range<usize>> {
    (0..n.div_ceil(b))
        .map(|i| i * b..((i + 1) * b).min(n))
        .collect()
}

/// The decay of the statistics per batch, `forget_factor^(b / n)`, so they decay by
/// `forget_factor` per full pass (`b` the nominal batch size, also for a short last batch).
pub(crate) fn rho(forget_factor: f64, b: usize, n: usize) -> f64 {
    forget_factor.powf(b as f64 / n as f64)
}

/// Buffers for batches of one size (the nominal one, and the short last batch if any).
struct Lane<T: Float> {
    ws: Box<Workspace<T>>,
    /// A fresh solve's W and its previous iterate (empty without fresh restarts).
    w_fresh: Mat<T>,
    w_prev: Mat<T>,
    /// Penalties scaled by this batch's rows (scikit-learn rescales them per batch).
    pen: Penalties,
}

/// The smoothed-cost and H-change rules, tested after every step.
#[derive(Debug, Clone, Default)]
pub(crate) struct Monitor {
    pub ewa: Option<f64>,
    pub ewa_min: Option<f64>,
    pub no_improvement: usize,
}

impl Monitor {
    /// After step `step` (counted from 1) on a batch of `rows` of `n` rows with cost
    /// `batch_cost`: scikit-learn's `_minibatch_convergence`. `h_diff` is evaluated only when
    /// `tol > 0`.
    pub(crate) fn after_step(
        &mut self,
        step: usize,
        rows: usize,
        n: usize,
        batch_cost: f64,
        tol: f64,
        max_no_improvement: Option<usize>,
        h_diff: impl FnOnce() -> f64,
    ) -> Option<StopReason> {
        // The first step is ignored: its cost comes from the starting H.
        if step == 1 {
            return None;
        }
        self.ewa = Some(match self.ewa {
            None => batch_cost,
            Some(e) => {
                let a = (rows as f64 / (n as f64 + 1.0)).min(1.0);
                e * (1.0 - a) + batch_cost * a
            }
        });
        let ewa = self.ewa.unwrap_or(batch_cost);
        if tol > 0.0 && h_diff() <= tol {
            return Some(StopReason::Converged);
        }
        if self.ewa_min.is_none_or(|m| ewa < m) {
            self.no_improvement = 0;
            self.ewa_min = Some(ewa);
        } else {
            self.no_improvement += 1;
        }
        if max_no_improvement.is_some_and(|m| self.no_improvement >= m) {
            return Some(StopReason::NoImprovement);
        }
        None
    }
}

/// `‖A − B‖_F / ‖A‖_F`, accumulated in f64.
pub(crate) fn rel_change<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    let (mut d, mut s) = (0.0f64, 0.0f64);
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let (x, y) = (a[(i, j)].to_f64(), b[(i, j)].to_f64());
            d += (x - y) * (x - y);
            s += x * x;
        }
    }
    d.sqrt() / s.sqrt()
}

/// The batch cost scikit-learn monitors: `[D_β(X_b | W_b H) + l1_W ΣW_b + l1_H ΣH +
/// l2_W ‖W_b‖² + l2_H ‖H‖²] / rows` (its L2 terms carry no ½).
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_cost<T: Float>(
    ls: &mut LossScratch<T>,
    xb: DataRef<'_, T>,
    wb: MatRef<'_, T>,
    h: MatRef<'_, T>,
    xht: Option<MatRef<'_, T>>,
    pb_loss: nmf_core::Loss,
    pen: &Penalties,
    par: faer::Par,
) -> Result<f64, NmfError> {
    let d = match (xht, xb.as_dense()) {
        // Frobenius on a dense batch: the W step's X_b·Hᵀ (H has not moved since), same bits.
        (Some(p), Some(x)) if pb_loss.beta() == 2.0 => {
            loss::frobenius_with_xht(ls, x, wb, h, p, par)?
        }
        _ => loss::beta_divergence_with(ls, xb, wb, h, pb_loss, par)?,
    };
    let (s1w, s2w) = sums(wb);
    let (s1h, s2h) = sums(h);
    let cost = d + pen.l1_w * s1w + pen.l1_h * s1h + pen.l2_w * s2w + pen.l2_h * s2h;
    Ok(cost / wb.nrows() as f64)
}

fn sums<T: Float>(a: MatRef<'_, T>) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let v = a[(i, j)].to_f64();
            s1 += v;
            s2 += v * v;
        }
    }
    (s1, s2)
}

/// scikit-learn's `_solve_W`: W from the constant `sqrt(mean(X)/k)`, then at most `max_iter`
/// MU half-steps with H fixed (no clipping), stopping once `‖W − W_prev‖/‖W‖ <= tol`.
/// `ws` must be sized for `x` and have `clip_w` off.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_w_into<T: Float>(
    mut w: MatMut<'_, T>,
    mut w_prev: MatMut<'_, T>,
    h: MatRef<'_, T>,
    x: DataRef<'_, T>,
    c: &NmfParams<T>,
    pen: &Penalties,
    ws: &mut Workspace<T>,
    max_iter: usize,
) -> Result<(), NmfError> {
    let (n, m) = x.shape();
    let k = h.nrows();
    let avg = (T::from_f64(x.sum() / (n as f64 * m as f64)) / T::from_usize(k)).sqrt();
    w.fill(avg);
    w_prev.fill(avg);
    ws.h_changed();
    let pw = FactorPenalty::w(pen);
    for _ in 0..max_iter {
        mu::update_w(w.rb_mut(), h, x, c.loss.beta(), pw, ws, HRole::Fixed, c.par)?;
        if c.tol > 0.0 && rel_change(w.rb(), w_prev.rb()) <= c.tol {
            break;
        }
        w_prev.copy_from(w.rb());
    }
    Ok(())
}

/// A workspace for W solves on `x` (no β < 1 clipping, as in scikit-learn's `_solve_W`).
pub(crate) fn solve_workspace<T: Float>(
    n: usize,
    m: usize,
    k: usize,
    c: &NmfParams<T>,
    sparse: bool,
) -> Box<Workspace<T>> {
    let mut ws = Box::new(Workspace::new(n, m, k, c.loss.beta(), sparse, c.par));
    ws.clip_w = false;
    ws
}

/// The state of a minibatch fit between batches, whatever holds X: the in-memory solver
/// below and the row-source fit of `outofcore.rs` drive the same steps, so the two give the
/// same bits on the same batches.
pub(crate) struct Engine<T: Float> {
    pub(crate) w: Mat<T>,
    pub(crate) h: Mat<T>,
    /// The running numerator and denominator of the online H update.
    a: Mat<T>,
    b: Mat<T>,
    /// H before the last step (the H-change rule).
    h_buf: Mat<T>,
    /// Buffers for the nominal batch size and (if any) the short last batch.
    lanes: Vec<Lane<T>>,
    loss_ws: LossScratch<T>,
    rho: T,
    pub(crate) steps: usize,
    monitor: Monitor,
    n: usize,
    nominal: usize,
}

impl<T: Float> Engine<T> {
    /// The state before the first batch of an `n x m` X cut into `batches`, from the starting
    /// factors.
    pub(crate) fn new(
        c: &NmfParams<T>,
        (n, m): (usize, usize),
        sparse: bool,
        batches: &[Range<usize>],
        w: Mat<T>,
        h: Mat<T>,
        warnings: &mut Vec<FitWarning>,
    ) -> Self {
        let mb = &c.minibatch;
        let k = c.n_components;
        let zeros = mu::count_zeros(w.as_ref()) + mu::count_zeros(h.as_ref());
        if zeros > 0 {
            warnings.push(FitWarning::MuZerosInInit { zeros });
        }
        let b = batches.first().map_or(1, |r| r.len());
        let mut sizes = vec![b];
        let last = batches.last().map_or(b, |r| r.len());
        if last != b {
            sizes.push(last);
        }
        let beta = c.loss.beta();
        let fresh = mb.fresh_restarts;
        let lanes = sizes
            .iter()
            .map(|&rows| {
                let mut ws = Box::new(Workspace::new(rows, m, k, beta, sparse, c.par));
                // A fresh solve does not clip inside; the step clips its result (β < 1).
                ws.clip_w = !fresh;
                let fw = if fresh { rows } else { 0 };
                Lane {
                    ws,
                    w_fresh: mat::zeros(fw, k),
                    w_prev: mat::zeros(fw, k),
                    pen: c.reg.scaled(rows, m),
                }
            })
            .collect();
        Engine {
            a: mat::copy(h.as_ref()),
            b: mat::from_fn(k, m, |_, _| T::ONE),
            h_buf: mat::copy(h.as_ref()),
            w,
            h,
            lanes,
            loss_ws: LossScratch::for_shape(b, m, k, sparse, c.par),
            rho: T::from_f64(rho(mb.forget_factor, b, n)),
            steps: 0,
            monitor: Monitor::default(),
            n,
            nominal: b,
        }
    }

    /// One step on the batch `xb` holding rows `r` of X: its W, its cost, the online H update,
    /// then the stopping rules.
    pub(crate) fn batch(
        &mut self,
        c: &NmfParams<T>,
        r: Range<usize>,
        xb: DataRef<'_, T>,
    ) -> Result<Option<StopReason>, NmfError> {
        let mb = &c.minibatch;
        let beta = c.loss.beta();
        let rows = r.len();
        let lane = &mut self.lanes[usize::from(rows != self.nominal)];
        lane.ws.h_changed();
        let mut wb = if mb.fresh_restarts {
            solve_w_into(
                lane.w_fresh.as_mut(),
                lane.w_prev.as_mut(),
                self.h.as_ref(),
                xb,
                c,
                &lane.pen,
                &mut lane.ws,
                mb.fresh_restarts_max_iter,
            )?;
            lane.w_fresh.as_mut()
        } else {
            let mut wb = self.w.as_mut().subrows_mut(r.start, rows);
            mu::update_w(
                wb.rb_mut(),
                self.h.as_ref(),
                xb,
                beta,
                FactorPenalty::w(&lane.pen),
                &mut lane.ws,
                HRole::Updated,
                c.par,
            )?;
            wb
        };
        if beta < 1.0 {
            mu::clip_tiny(wb.rb_mut());
        }
        // The cost feeds only the no-improvement rule; without it, skip the pass over the
        // batch (for β ≠ 2 its logarithms or powers cost more than the updates).
        let cost = if mb.max_no_improvement.is_some() {
            batch_cost(
                &mut self.loss_ws,
                xb,
                wb.rb(),
                self.h.as_ref(),
                Some(lane.ws.xht()),
                c.loss,
                &lane.pen,
                c.par,
            )?
        } else {
            0.0
        };
        mu::update_h_online(
            wb.rb(),
            self.h.as_mut(),
            xb,
            beta,
            FactorPenalty::h(&lane.pen),
            &mut lane.ws,
            OnlineStats {
                a: self.a.as_mut(),
                b: self.b.as_mut(),
                rho: self.rho,
            },
            c.par,
        )?;
        self.steps += 1;
        let (h, h_buf) = (self.h.as_ref(), self.h_buf.as_ref());
        let stop = self.monitor.after_step(
            self.steps,
            rows,
            self.n,
            cost,
            c.tol,
            mb.max_no_improvement,
            || rel_change(h, h_buf),
        );
        if stop.is_none() {
            self.h_buf.copy_from(self.h.as_ref());
        }
        Ok(stop)
    }

    /// What `partial_fit` would keep after these steps: H, the running numerator and
    /// denominator, the decay (in f64, as `OnlineState` keeps it) and the steps.
    pub(crate) fn online_state(&self, c: &NmfParams<T>) -> crate::OnlineState<T> {
        crate::OnlineState {
            h: mat::copy(self.h.as_ref()),
            a: mat::copy(self.a.as_ref()),
            b: mat::copy(self.b.as_ref()),
            rho: rho(c.minibatch.forget_factor, self.nominal, self.n),
            n_steps: self.steps,
        }
    }

    /// Every factor entry finite after pass `iter`.
    pub(crate) fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        ensure_finite("W", self.w.as_ref(), iter)?;
        ensure_finite("H", self.h.as_ref(), iter)
    }
}

/// The in-memory minibatch solver: the engine and the batches of X.
pub(crate) struct MiniBatch<T: Float> {
    e: Engine<T>,
    batches: Vec<Range<usize>>,
    /// Sparse X: the batches cut once (a dense batch is a view of X).
    blocks: Vec<SparseMat<T>>,
}

impl<T: Float> Solver<T> for MiniBatch<T> {
    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        let c = pb.c;
        let n = pb.x.nrows();
        let batches = batches(n, c.minibatch.batch_size.min(n));
        let blocks = match pb.x {
            DataRef::Sparse(s) => batches
                .iter()
                .map(|r| s.mat().row_block(r.clone()))
                .collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        let e = Engine::new(c, pb.x.shape(), pb.x.is_sparse(), &batches, w, h, warnings);
        Ok(MiniBatch { e, batches, blocks })
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        for (i, r) in self.batches.iter().enumerate() {
            let xb = match pb.x.as_dense() {
                Some(d) => d.subrows(r.start, r.len()).into(),
                None => DataRef::from(&self.blocks[i]),
            };
            if let Some(stop) = self.e.batch(pb.c, r.clone(), xb)? {
                return Ok(Some(stop));
            }
        }
        Ok(None)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        self.e.check_finite(iter)
    }

    /// The penalised objective on all of X at the current factors (a full pass over X; with
    /// `fresh_restarts` W is the starting W until the final solve).
    fn objective(&mut self, pb: &Problem<'_, T>, _after_step: bool) -> Result<f64, NmfError> {
        let c = pb.c;
        Ok(loss::objective_with(
            &mut self.e.loss_ws,
            pb.x,
            self.e.w.as_ref(),
            self.e.h.as_ref(),
            c.loss,
            &pb.pen,
            c.par,
        )?)
    }

    fn n_steps(&self) -> Option<usize> {
        Some(self.e.steps)
    }

    fn online_state(&self, pb: &Problem<'_, T>) -> Option<crate::OnlineState<T>> {
        Some(self.e.online_state(pb.c))
    }

    fn into_factors(self, pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        let c = pb.c;
        let Engine { w, h, .. } = self.e;
        if !c.minibatch.fresh_restarts {
            return Ok((w, h));
        }
        let w = Self::solve_w(c, h.as_ref(), pb.x, &pb.pen)?;
        Ok((w, h))
    }

    /// scikit-learn's `MiniBatchNMF.transform`: `_solve_W` with `transform_max_iter` steps.
    fn solve_w(
        c: &NmfParams<T>,
        h: MatRef<'_, T>,
        x: DataRef<'_, T>,
        pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        let (n, m) = x.shape();
        let k = h.nrows();
        let mut ws = solve_workspace(n, m, k, c, x.is_sparse());
        let (mut w, mut w_prev) = (mat::zeros(n, k), mat::zeros(n, k));
        let it = c.minibatch.transform_max_iter.unwrap_or(c.max_iter);
        solve_w_into(w.as_mut(), w_prev.as_mut(), h, x, c, pen, &mut ws, it)?;
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_scikit_learns() {
        assert_eq!(batches(60, 23), vec![0..23, 23..46, 46..60]);
        assert_eq!(batches(60, 30), vec![0..30, 30..60]);
        assert_eq!(batches(5, 5), vec![0..5]);
        assert_eq!(batches(1, 7), vec![0..1]);
    }

    #[test]
    fn rho_decays_by_the_forget_factor_per_pass() {
        let r = rho(0.7, 16, 60);
        assert!((r.powf(60.0 / 16.0) - 0.7).abs() < 1e-15);
        assert_eq!(rho(0.0, 3, 6), 0.0);
        assert_eq!(rho(0.7, 60, 60), 0.7);
    }

    #[test]
    fn the_monitor_ignores_step_one_and_counts_steps_without_improvement() {
        let mut m = Monitor::default();
        assert_eq!(m.after_step(1, 10, 100, 5.0, 0.0, Some(2), || 1.0), None);
        assert_eq!(m.ewa, None);
        assert_eq!(m.after_step(2, 10, 100, 4.0, 0.0, Some(2), || 1.0), None);
        assert_eq!(m.ewa, Some(4.0));
        // Higher costs: the average rises, two steps without a new minimum stop.
        assert_eq!(m.after_step(3, 10, 100, 9.0, 0.0, Some(2), || 1.0), None);
        assert_eq!(
            m.after_step(4, 10, 100, 9.0, 0.0, Some(2), || 1.0),
            Some(StopReason::NoImprovement)
        );
        // The H-change rule is tested first, only with tol > 0.
        let mut m = Monitor::default();
        m.after_step(1, 10, 100, 5.0, 0.1, None, || 0.0);
        assert_eq!(
            m.after_step(2, 10, 100, 5.0, 0.1, None, || 0.05),
            Some(StopReason::Converged)
        );
    }
}
