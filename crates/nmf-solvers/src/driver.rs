//! The one fit loop: limits, cancellation, observers, the loss trace and the report. What an
//! iteration does and when an algorithm has converged belong to the solvers ([`Solver`]).

use nmf_core::mat;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Instant;

use faer::Mat;
use nmf_core::{DataRef, Float, Observed, loss};

use crate::error::NmfError;
use crate::model::NmfModel;
use crate::params::{NmfConfig, SolverKind};
use crate::report::{FitReport, FitWarning, IterInfo, StopReason};
use crate::solver::{Problem, Solver, dispatch};
use crate::weighted::{WeightedCd, WeightedMu};

/// An observer of the iterations: returning `ControlFlow::Break` stops the fit.
pub type Observer<'o> = dyn FnMut(&IterInfo) -> ControlFlow<()> + Send + 'o;

impl<T: Float> NmfConfig<T> {
    /// Fits `X ≈ W·H`.
    ///
    /// # Errors
    /// Invalid X (empty, non-finite, negative; zeros when β <= 0), initialisation failures (see
    /// [`nmf_init::initialize`]), or a factor overflowing to non-finite values.
    pub fn fit<'a>(&self, x: impl Into<DataRef<'a, T>>) -> Result<NmfModel<T>, NmfError> {
        self.fit_with(x, &mut |_| ControlFlow::Continue(()))
    }

    /// [`Self::fit`] with an observer called after every iteration.
    ///
    /// # Errors
    /// As [`Self::fit`].
    pub fn fit_with<'a>(
        &self,
        x: impl Into<DataRef<'a, T>>,
        observer: &mut Observer<'_>,
    ) -> Result<NmfModel<T>, NmfError> {
        let x = x.into();
        let c = &self.p;
        match Observed::build(x, c.weights.as_deref(), c.missing, c.mask_zeros)? {
            None => dispatch!(self.p, fit_as::<T>(self, x, None, observer)),
            Some(obs) => match c.solver {
                SolverKind::Cd => fit_as::<T, WeightedCd<T>>(self, x, Some(&obs), observer),
                SolverKind::Mu => fit_as::<T, WeightedMu<T>>(self, x, Some(&obs), observer),
                other => Err(NmfError::WeightsUnsupported {
                    solver: other.name(),
                }),
            },
        }
    }
}

/// What the loop hands back to the report.
struct Run {
    n_iter: usize,
    reason: StopReason,
    trace: Vec<(usize, f64)>,
    seconds: f64,
}

fn fit_as<T: Float, S: Solver<T>>(
    config: &NmfConfig<T>,
    x: DataRef<'_, T>,
    obs: Option<&Observed<T>>,
    observer: &mut Observer<'_>,
) -> Result<NmfModel<T>, NmfError> {
    let start = Instant::now();
    let c = &config.p;
    let x_sqnorm = match obs {
        // Observed::build validated the observed entries (the others may hold anything).
        Some(o) => {
            o.ensure_positive_for_beta(c.loss.beta())?;
            if c.kkt_tol.is_some() {
                return Err(nmf_core::CoreError::invalid(
                    "kkt_tol",
                    c.kkt_tol.unwrap_or(0.0),
                    "unset with weights or missing values (its gradient is unweighted)",
                )
                .into());
            }
            o.weighted_sqnorm()
        }
        None => {
            x.validate("X")?;
            x.ensure_positive_for_beta(c.loss.beta())?;
            x.squared_norm()
        }
    };
    let (n, m) = x.shape();
    let pb = Problem {
        x,
        c,
        pen: c.reg.scaled(n, m),
        x_sqnorm,
        obs,
    };
    let init = S::initial(&pb)?;
    let mut warnings = Vec::new();
    let mut solver = S::new(&pb, init.w, init.h, &mut warnings)?;
    // On several threads the whole loop runs inside the pool, so the parallel pieces of every
    // product and sweep are spawned from a worker (no per-call injection, no allocation).
    let run = if c.par.degree() > 1 {
        rayon::scope(|_| iterate(&mut solver, &pb, observer))
    } else {
        iterate(&mut solver, &pb, observer)
    }?;
    if run.reason == StopReason::MaxIter && c.tol > 0.0 {
        warnings.push(FitWarning::MaxIterReached {
            max_iter: c.max_iter,
        });
    }
    let n_steps = solver.n_steps().unwrap_or(run.n_iter);
    let online = solver.online_state(&pb).map(Box::new);
    let (w, h) = solver.into_factors(&pb)?;
    let mut model = report(
        config,
        &pb,
        w,
        h,
        (run, n_steps),
        init.report,
        warnings,
        start,
    )?;
    model.online = online;
    Ok(model)
}

/// The iterations: limits, the solver's step and rules, finiteness, trace and observers.
fn iterate<T: Float, S: Solver<T>>(
    s: &mut S,
    pb: &Problem<'_, T>,
    observer: &mut Observer<'_>,
) -> Result<Run, NmfError> {
    let c = pb.c;
    let trace_every = c.trace_every.unwrap_or(1);
    // Reserved up front so the loop never grows it (beyond a bound that stops a huge max_iter
    // from reserving memory it will not use).
    let points = c.max_iter.checked_div(trace_every).map_or(0, |p| p + 1);
    let mut trace = Vec::with_capacity(points.min(1 << 16));
    let mut last = None;
    if trace_every > 0 {
        let o = s.objective(pb, false)?;
        trace.push((0, o));
        last = Some(o);
    }
    let mut kkt = match c.kkt_tol {
        Some(t) => Some(Kkt::new(pb, s, t)?),
        None => None,
    };
    let loop_start = Instant::now();
    let mut run = Run {
        n_iter: 0,
        reason: StopReason::MaxIter,
        trace,
        seconds: 0.0,
    };
    if let Some(r) = s.start(pb)? {
        run.reason = r;
        return Ok(run);
    }
    for it in 1..=c.max_iter {
        if c.cancel.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
            run.reason = StopReason::Cancelled;
            break;
        }
        if c.max_time.is_some_and(|d| loop_start.elapsed() >= d) {
            run.reason = StopReason::Timeout;
            break;
        }
        if let Some(r) = s.stop_before_step() {
            (run.n_iter, run.reason) = (it, r);
            break;
        }
        let stop = s.step(pb)?;
        run.n_iter = it;
        if let Some(r) = stop {
            run.reason = r;
            break;
        }
        s.check_finite(it)?;
        let mut info = IterInfo {
            iter: it,
            objective: None,
            rel_change: None,
            elapsed: loop_start.elapsed().as_secs_f64(),
        };
        if trace_every > 0 && it % trace_every == 0 {
            let o = s.objective(pb, true)?;
            info.objective = Some(o);
            info.rel_change = last.map(|p: f64| (p - o) / p.abs().max(f64::MIN_POSITIVE));
            run.trace.push((it, o));
            last = Some(o);
        }
        if observer(&info).is_break() {
            run.reason = StopReason::Observer;
            break;
        }
        if let Some(r) = s.converged(pb, it)? {
            run.reason = r;
            break;
        }
        if let Some(k) = &mut kkt
            && k.converged(pb, s)?
        {
            run.reason = StopReason::KktConverged;
            break;
        }
    }
    run.seconds = loop_start.elapsed().as_secs_f64();
    Ok(run)
}

/// The KKT rule: stop once ‖min(F, ∇F)‖ over both factors (zero exactly at a KKT point of the
/// nonnegative problem) falls below `tol` times its value at the start. The gradient
/// evaluation allocates; the rule is opt-in.
struct Kkt<T> {
    gw: Mat<T>,
    gh: Mat<T>,
    start: f64,
    tol: f64,
}

impl<T: Float> Kkt<T> {
    fn new<S: Solver<T>>(pb: &Problem<'_, T>, s: &S, tol: f64) -> Result<Self, NmfError> {
        let (n, m) = pb.x.shape();
        let k = pb.c.n_components;
        let mut kkt = Kkt {
            gw: mat::zeros(n, k),
            gh: mat::zeros(k, m),
            start: 0.0,
            tol,
        };
        kkt.start = kkt.norm(pb, s)?;
        Ok(kkt)
    }

    fn norm<S: Solver<T>>(&mut self, pb: &Problem<'_, T>, s: &S) -> Result<f64, NmfError> {
        // `check` allows kkt_tol only for solvers that expose their factors.
        let Some((w, h)) = s.factors() else {
            return Ok(f64::INFINITY);
        };
        loss::gradient_into(
            self.gw.as_mut(),
            self.gh.as_mut(),
            pb.x,
            w,
            h,
            pb.c.loss,
            &pb.pen,
            pb.par(),
        )?;
        let mut sum = 0.0f64;
        for (f, g) in [(w, self.gw.as_ref()), (h, self.gh.as_ref())] {
            for j in 0..f.ncols() {
                for i in 0..f.nrows() {
                    let v = f[(i, j)].min(g[(i, j)]).to_f64();
                    sum += v * v;
                }
            }
        }
        Ok(sum.sqrt())
    }

    fn converged<S: Solver<T>>(&mut self, pb: &Problem<'_, T>, s: &S) -> Result<bool, NmfError> {
        Ok(self.norm(pb, s)? <= self.tol * self.start)
    }
}

/// The model and its report from the final factors.
#[allow(clippy::too_many_arguments)]
fn report<T: Float>(
    config: &NmfConfig<T>,
    pb: &Problem<'_, T>,
    w: Mat<T>,
    h: Mat<T>,
    (run, n_steps): (Run, usize),
    init: nmf_init::InitReport,
    mut warnings: Vec<FitWarning>,
    start: Instant,
) -> Result<NmfModel<T>, NmfError> {
    let c = pb.c;
    // Checked in the data's precision: solvers that iterate on another representation (pg in
    // f64, opnmf on Hᵀ) would show an overflow only here.
    for (what, f) in [("W", w.as_ref()), ("H", h.as_ref())] {
        crate::solver::ensure_finite(what, f, run.n_iter)?;
    }
    warn_dead_components(w.as_ref(), h.as_ref(), &mut warnings);
    let d = match pb.obs {
        Some(o) => o.divergence(w.as_ref(), h.as_ref(), c.loss.beta(), c.par)?,
        None => loss::beta_divergence(pb.x, w.as_ref(), h.as_ref(), c.loss, c.par)?,
    };
    ensure_finite_error(d, c.loss.beta(), run.n_iter)?;
    let report = FitReport {
        solver: c.solver,
        loss: c.loss,
        n_iter: run.n_iter,
        n_steps,
        stop_reason: run.reason,
        reconstruction_err: (2.0 * d.max(0.0)).sqrt(),
        objective: d + loss::penalty_value(w.as_ref(), h.as_ref(), &pb.pen),
        loss_trace: run.trace,
        init,
        solver_seconds: run.seconds,
        seconds: start.elapsed().as_secs_f64(),
        warnings,
    };
    Ok(NmfModel {
        w,
        h,
        report,
        config: config.clone(),
        online: None,
    })
}

/// Components zero in both final factors (`FitWarning::DeadComponents`).
pub(crate) fn warn_dead_components<T: Float>(
    w: faer::MatRef<'_, T>,
    h: faer::MatRef<'_, T>,
    warnings: &mut Vec<FitWarning>,
) {
    let dead: Vec<usize> = (0..h.nrows())
        .filter(|&t| {
            (0..w.nrows()).all(|i| w[(i, t)] == T::ZERO)
                && (0..h.ncols()).all(|j| h[(t, j)] == T::ZERO)
        })
        .collect();
    if !dead.is_empty() {
        warnings.push(FitWarning::DeadComponents { components: dead });
    }
}

/// The final divergence `d` is a number. For β < 0 an exact zero of WH makes it +∞ honestly
/// (Σ (WH)^β); any other non-finite value is an overflow of the data's precision.
pub(crate) fn ensure_finite_error(d: f64, beta: f64, iter: usize) -> Result<(), NmfError> {
    if d.is_nan() || (d.is_infinite() && beta >= 0.0) {
        return Err(NmfError::NonFinite {
            what: "the reconstruction error",
            iter,
        });
    }
    Ok(())
}
