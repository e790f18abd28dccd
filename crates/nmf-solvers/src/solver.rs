//! The contract between the driver and each algorithm.
//!
//! A solver module (cd, mu, pg, opnmf, minibatch) implements [`Solver`]: construction from the checked
//! configuration and the starting factors, one iteration per `step`, its own stopping rule, its
//! finiteness check and its `transform` solve (W for a fixed H). The driver owns everything else
//! (the loop, limits, cancellation, observers, the loss trace, the report), so adding a solver
//! is one new module, one `SolverKind` variant and one line in [`dispatch!`].

use faer::{Mat, MatRef, Par};
use nmf_core::loss::{self, LossScratch};
use nmf_core::{DataRef, Float, Penalties};
use nmf_init::{Factors, initialize};

use crate::error::NmfError;
use crate::params::NmfParams;
use crate::report::{FitWarning, StopReason};

/// What every solver call sees: the data and the checked parameters of this fit.
pub(crate) struct Problem<'a, T: Float> {
    pub x: DataRef<'a, T>,
    pub c: &'a NmfParams<T>,
    /// Penalties scaled by the data's shape (scikit-learn's scaling).
    pub pen: Penalties,
    /// ‖X‖², computed once (Σ M X² for a weighted fit).
    pub x_sqnorm: f64,
    /// The observed entries and their weights, for a weighted fit (then the solver is one of
    /// the weighted ones and never reads `x` itself).
    pub obs: Option<&'a nmf_core::Observed<T>>,
}

impl<T: Float> Problem<'_, T> {
    pub fn par(&self) -> Par {
        self.c.par
    }
}

/// One NMF algorithm. Solvers never count iterations, read clocks or call observers.
pub(crate) trait Solver<T: Float>: Sized + Send {
    /// The starting factors; the default runs the configured initialisation.
    fn initial(pb: &Problem<'_, T>) -> Result<Factors<T>, NmfError> {
        let c = pb.c;
        Ok(initialize(
            pb.x,
            c.n_components,
            &c.init,
            c.seed,
            c.compat,
            c.par,
        )?)
    }

    /// The state at the starting factors; warnings about the start go to `warnings`.
    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError>;

    /// Called once before the first iteration; a reason ends the fit with no iteration.
    fn start(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        let _ = pb;
        Ok(None)
    }

    /// A test made before each iteration (scikit-learn 0.15's legacy solver tests first and
    /// counts that iteration).
    fn stop_before_step(&self) -> Option<StopReason> {
        None
    }

    /// One iteration. A reason ends the fit at once (no acceptable step), before the
    /// finiteness check and the observers.
    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError>;

    /// A typed error when the iterate (in whatever representation the solver keeps) is no
    /// longer finite.
    fn check_finite(&self, iter: usize) -> Result<(), NmfError>;

    /// The penalised objective at the current iterate. `after_step` says the products of the
    /// last step are still current (Frobenius solvers then skip forming anything of X's size).
    fn objective(&mut self, pb: &Problem<'_, T>, after_step: bool) -> Result<f64, NmfError>;

    /// The solver's own stopping rule after iteration `iter` (after the observers).
    fn converged(
        &mut self,
        pb: &Problem<'_, T>,
        iter: usize,
    ) -> Result<Option<StopReason>, NmfError> {
        let _ = (pb, iter);
        Ok(None)
    }

    /// Updates of H done, when they differ from the iterations (minibatch: one per batch).
    fn n_steps(&self) -> Option<usize> {
        None
    }

    /// The iterate in the data's precision and scale, for the driver's KKT rule. `None` for
    /// solvers that keep another representation (they refuse `kkt_tol` in `check`).
    fn factors(&self) -> Option<(MatRef<'_, T>, MatRef<'_, T>)> {
        None
    }

    /// The online statistics a minibatch fit ends with ([`crate::NmfModel::online_state`]);
    /// `None` for the batch solvers.
    fn online_state(&self, pb: &Problem<'_, T>) -> Option<crate::OnlineState<T>> {
        let _ = pb;
        None
    }

    /// The final factors in the user's scale.
    fn into_factors(self, pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError>;

    /// `transform`: W ≥ 0 for `x` with `h` fixed, under the same rules as the fit (validated
    /// input; `pen` scaled by `x`'s shape).
    fn solve_w(
        c: &NmfParams<T>,
        h: MatRef<'_, T>,
        x: DataRef<'_, T>,
        pen: &Penalties,
    ) -> Result<Mat<T>, NmfError>;
}

/// Calls `f::<T, S>(args)` with `S` the solver type the parameters select: the one place that
/// maps `SolverKind` (and the pg variant) to code.
macro_rules! dispatch {
    ($c:expr, $f:ident::<$T:ty>($($arg:expr),* $(,)?)) => {
        match ($c.solver, $c.pg_variant) {
            ($crate::params::SolverKind::Cd, _) => $f::<$T, $crate::cd::Cd<$T>>($($arg),*),
            ($crate::params::SolverKind::Mu, _) => $f::<$T, $crate::mu::Mu<$T>>($($arg),*),
            ($crate::params::SolverKind::ProjectedGradient, $crate::params::PgVariant::Hoyer) => {
                $f::<$T, $crate::pg::HoyerSolver<$T>>($($arg),*)
            }
            ($crate::params::SolverKind::ProjectedGradient, $crate::params::PgVariant::Legacy { .. }) => {
                $f::<$T, $crate::pg::Legacy<$T>>($($arg),*)
            }
            ($crate::params::SolverKind::MiniBatch, _) => {
                $f::<$T, $crate::minibatch::MiniBatch<$T>>($($arg),*)
            }
            ($crate::params::SolverKind::Opnmf, _) => {
                $f::<$T, $crate::opnmf::Opnmf<$T>>($($arg),*)
            }
        }
    };
}
pub(crate) use dispatch;

/// The divergence part of a Frobenius objective from the Gram identity (`d`, cheap after a
/// step), unless cancellation would dominate it; then evaluated entry by entry.
pub(crate) fn gram_or_exact_divergence<T: Float>(
    d: f64,
    ws: &mut LossScratch<T>,
    pb: &Problem<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
) -> Result<f64, NmfError> {
    Ok(if d > 1e3 * T::EPSILON.to_f64() * 0.5 * pb.x_sqnorm {
        d
    } else {
        loss::beta_divergence_with(ws, pb.x, w, h, pb.c.loss, pb.par())?
    })
}

/// [`gram_or_exact_divergence`] plus the penalties.
pub(crate) fn gram_or_exact<T: Float>(
    d: f64,
    ws: &mut LossScratch<T>,
    pb: &Problem<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
) -> Result<f64, NmfError> {
    Ok(gram_or_exact_divergence(d, ws, pb, w, h)? + loss::penalty_value(w, h, &pb.pen))
}

/// scikit-learn's cd rule: stop once the violation falls below `tol` times the first
/// iteration's (recorded in `v_init` on the first call); a zero first violation stops at once.
pub(crate) fn violation_rule(
    v_init: &mut Option<f64>,
    v_last: f64,
    tol: f64,
) -> Option<StopReason> {
    let v0 = *v_init.get_or_insert(v_last);
    if v0 == 0.0 {
        Some(StopReason::NoViolation)
    } else if v_last / v0 <= tol {
        Some(StopReason::Converged)
    } else {
        None
    }
}

/// scikit-learn's mu rule, checked every 10 iterations: stop once the error decreased by less
/// than `tol` times the starting error `e0` since the last check (`prev`, updated otherwise).
pub(crate) fn error_rule(prev: &mut f64, e0: f64, e: f64, tol: f64) -> Option<StopReason> {
    if (*prev - e) / e0 < tol {
        return Some(StopReason::Converged);
    }
    *prev = e;
    None
}

/// A typed error naming the factor when `a` has a non-finite entry.
pub(crate) fn ensure_finite<T: Float>(
    what: &'static str,
    a: MatRef<'_, T>,
    iter: usize,
) -> Result<(), NmfError> {
    if nmf_core::kernels::all_finite(a) {
        Ok(())
    } else {
        Err(NmfError::NonFinite { what, iter })
    }
}
