//! # nmf-solvers
//!
//! Fits `X ≈ W·H` (X n_samples x n_features, W n x k, H k x n_features, all nonnegative) by
//! minimising `D_β(X | WH) + l1_W·ΣW + ½·l2_W·‖W‖² + l1_H·ΣH + ½·l2_H·‖H‖²` with scikit-learn's
//! meaning and scaling of every parameter:
//!
//! - [`SolverKind::Cd`]: coordinate descent (fast HALS), Frobenius loss, violation-based stopping;
//!   rows are swept in fixed blocks, vectorised, optionally on several threads, with results
//!   that do not depend on the thread count;
//! - [`SolverKind::Mu`]: multiplicative updates for any β with the MM exponent γ(β); `W·H` is
//!   recomputed between the two half-steps, so the objective never goes up.
//!
//! ```
//! use faer::mat;
//! use nmf_solvers::{Nmf, SolverKind};
//! use nmf_core::Loss;
//!
//! let x = mat![[1.0, 1.0], [2.0, 1.0], [3.0, 1.2], [4.0, 1.0], [5.0, 0.8], [6.0, 1.0f64]];
//! let model = Nmf::params(2).solver(SolverKind::Cd).fit(x.as_ref())?;
//! assert!(model.report().reconstruction_err < 0.01);
//! let w_new = model.transform(x.as_ref())?;          // a nonnegative solve with H fixed
//! w_new.for_each(|&v| assert!(v >= 0.0));
//! let x_kl = Nmf::params(2).solver(SolverKind::Mu).loss(Loss::KullbackLeibler).fit(x.as_ref())?;
//! assert!(x_kl.report().n_iter % 10 == 0 || x_kl.report().n_iter == 200);
//! # Ok::<(), nmf_solvers::NmfError>(())
//! ```
//!
//! Where scikit-learn has a bug we do not copy it: its KL `transform` with an L1 penalty adds the
//! penalty to cached sums once per iteration; here the penalty is applied once. Where it lacks a
//! check (negative X with custom init, NaN in custom factors, negative X in `transform`) we
//! return an error. An all-zero start error stops `mu` at once instead of iterating on NaN.

mod cd;
mod driver;
mod error;
mod minibatch;
mod model;
mod mu;
mod online;
mod opnmf;
mod outofcore;
mod params;
mod pg;
#[cfg(feature = "serde")]
mod record;
mod report;
mod solver;
#[cfg(test)]
mod test_support;
mod transform;
mod weighted;

pub use driver::Observer;
pub use error::NmfError;
pub use minibatch::MiniBatchParams;
pub use model::NmfModel;
pub use nmf_core::{Missing, Weights};
pub use online::{OnlineNmf, OnlineState};
pub use opnmf::OpnmfNorm;
pub use outofcore::{InMemoryRows, RowSink, RowSource, SourceError};
pub use params::{Nmf, NmfConfig, NmfParams, PgVariant, SolverKind};
pub use pg::LegacySparseness;
#[cfg(feature = "serde")]
pub use record::{InitName, ParamsRecord, WeightsKind};
pub use report::{FitReport, FitWarning, IterInfo, StopReason};
pub use transform::transform_with_h;
