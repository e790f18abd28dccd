//! What a fit reports: how it stopped, its error, its loss trace and timings.

use nmf_core::Loss;
use nmf_init::InitReport;

use crate::params::SolverKind;

/// Why the iteration loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum StopReason {
    /// `max_iter` iterations were run (with `tol = 0` this is the requested outcome).
    MaxIter,
    /// The solver's scikit-learn stopping rule was met (cd: violation ratio <= tol; mu: relative
    /// error decrease over 10 iterations < tol; minibatch: relative change of H in one batch
    /// <= tol).
    Converged,
    /// The optional projected-gradient (KKT) rule was met.
    #[cfg_attr(feature = "serde", serde(rename = "kkt"))]
    KktConverged,
    /// cd: the first sweep found nothing to improve (violation 0).
    NoViolation,
    /// The starting point already fits X exactly (e.g. X = 0); nothing to iterate.
    PerfectFit,
    /// The time limit was reached.
    Timeout,
    /// The cancellation flag was raised.
    Cancelled,
    /// The observer asked to stop.
    Observer,
    /// pg (Hoyer): no step size above 1e-200 decreased the objective: a constrained stationary
    /// point.
    StepFloor,
    /// minibatch: `max_no_improvement` batches in a row without a new minimum of the smoothed
    /// batch cost.
    NoImprovement,
}

impl core::fmt::Display for StopReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StopReason::MaxIter => "max_iter",
            StopReason::Converged => "converged",
            StopReason::KktConverged => "kkt",
            StopReason::NoViolation => "no_violation",
            StopReason::PerfectFit => "perfect_fit",
            StopReason::Timeout => "timeout",
            StopReason::Cancelled => "cancelled",
            StopReason::Observer => "observer",
            StopReason::StepFloor => "step_floor",
            StopReason::NoImprovement => "no_improvement",
        })
    }
}

/// Conditions worth knowing about that are not errors (scikit-learn would warn).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum FitWarning {
    /// `max_iter` was reached with `tol > 0` before the stopping rule was met.
    MaxIterReached {
        /// The limit.
        max_iter: usize,
    },
    /// Multiplicative updates cannot move a zero: the starting factors had this many zeros,
    /// which stay zero (use `NndsvdA`/`NndsvdAr` instead of `Nndsvd` with `mu`).
    MuZerosInInit {
        /// Zero entries in W0 and H0.
        zeros: usize,
    },
    /// Components whose column of W and row of H are both zero: they contribute nothing.
    DeadComponents {
        /// Their indices.
        components: Vec<usize>,
    },
    /// Rows or columns of X with no observed entry (weights): their row of W or column of H
    /// is zero, since nothing was seen to fit them.
    Unobserved {
        /// Rows of X (of W) with no observed entry.
        rows: Vec<usize>,
        /// Columns of X (of H) with no observed entry.
        cols: Vec<usize>,
    },
}

/// The state of the loop after one iteration, given to observers.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct IterInfo {
    /// 1-based iteration number.
    pub iter: usize,
    /// Penalised objective after this iteration, when evaluated at this iteration (see
    /// `NmfParams::trace_every`).
    pub objective: Option<f64>,
    /// Relative decrease of the objective since the last evaluation.
    pub rel_change: Option<f64>,
    /// Seconds since the solver loop started.
    pub elapsed: f64,
}

/// Summary of a fit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct FitReport {
    /// The solver used.
    pub solver: SolverKind,
    /// The loss minimised.
    pub loss: Loss,
    /// Iterations run (minibatch: passes over the data, the last one possibly partial).
    pub n_iter: usize,
    /// Updates of H: one per iteration, except minibatch (one per batch; scikit-learn's
    /// `n_steps_`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub n_steps: usize,
    /// Why the loop ended.
    pub stop_reason: StopReason,
    /// `sqrt(2·D_β(X | WH))`, scikit-learn's `reconstruction_err_`.
    pub reconstruction_err: f64,
    /// The penalised objective at the returned factors.
    pub objective: f64,
    /// `(iteration, objective)` pairs at the evaluated iterations (iteration 0 = start).
    pub loss_trace: Vec<(usize, f64)>,
    /// What the initialisation did.
    pub init: InitReport,
    /// Seconds in the solver loop.
    pub solver_seconds: f64,
    /// Seconds for the whole fit (validation, init, loop, final error).
    pub seconds: f64,
    /// Non-fatal conditions.
    pub warnings: Vec<FitWarning>,
}

impl FitReport {
    /// Mean seconds per iteration of the solver loop.
    pub fn seconds_per_iter(&self) -> f64 {
        if self.n_iter == 0 {
            0.0
        } else {
            self.solver_seconds / self.n_iter as f64
        }
    }
}
