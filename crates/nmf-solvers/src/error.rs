//! Errors of fitting and transforming.

use nmf_core::CoreError;
use nmf_init::InitError;
use thiserror::Error;

/// Everything that can make a fit or a transform fail.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum NmfError {
    /// Invalid data, shapes or parameter values.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The initialisation failed.
    #[error(transparent)]
    Init(#[from] InitError),
    /// The solver cannot minimise this loss.
    #[error(
        "solver {solver} does not handle beta_loss = {loss}; use SolverKind::Mu for non-Frobenius losses"
    )]
    SolverLoss {
        /// Solver name.
        solver: &'static str,
        /// The loss requested.
        loss: String,
    },
    /// The solver has no weighted form (weights, `Missing::Nan` holes, `mask_zeros`).
    #[error(
        "solver {solver} does not support weights or missing values; use SolverKind::Cd or SolverKind::Mu"
    )]
    WeightsUnsupported {
        /// Solver name.
        solver: &'static str,
    },
    /// A row source could not deliver rows (an I/O or format error of the file behind it).
    #[error("reading rows {start}..{end} of X: {message}")]
    Source {
        /// The first row asked for.
        start: usize,
        /// One past the last row asked for.
        end: usize,
        /// The source's error, as text.
        message: String,
    },
    /// A factor became NaN or infinite (overflow in the data's precision).
    #[error("{what} became non-finite at iteration {iter}; rescale X or use f64")]
    NonFinite {
        /// "W" or "H".
        what: &'static str,
        /// The iteration (1-based).
        iter: usize,
    },
}
