//! # nmf-core
//!
//! The numerical foundation of nmf-rs: the [`Float`] scalar trait (f32 and f64), beta-divergence
//! losses evaluated with scikit-learn's numerics, scikit-learn's elastic-net penalties and their
//! scaling, the dense products every solver shares, and validation that turns bad input into a
//! typed [`CoreError`] instead of a panic.
//!
//! Nonnegative matrix factorization approximates a nonnegative `X` (n_samples x n_features) by
//! `W·H` with `W` (n x k) and `H` (k x m) nonnegative, minimising
//! `D_β(X | WH) + l1_W·ΣW + ½·l2_W·‖W‖² + l1_H·ΣH + ½·l2_H·‖H‖²`.
//!
//! ```
//! use faer::{mat, Par};
//! use nmf_core::{loss, Loss, Regularization};
//!
//! let x = mat![[1.0, 2.0], [3.0, 4.0f64]];
//! let w = mat![[1.0], [2.0f64]];
//! let h = mat![[1.0, 2.0f64]];
//! // ½‖X − WH‖² = ½(0 + 0 + 1 + 0) = 0.5
//! let d = loss::beta_divergence(x.as_ref(), w.as_ref(), h.as_ref(), Loss::Frobenius, Par::Seq)?;
//! assert!((d - 0.5).abs() < 1e-12);
//!
//! // scikit-learn's scaling: W penalties times n_features, H penalties times n_samples.
//! let p = Regularization { alpha_w: 0.1, l1_ratio: 1.0, ..Default::default() }.scaled(2, 2);
//! let obj = loss::objective(x.as_ref(), w.as_ref(), h.as_ref(), Loss::Frobenius, &p, Par::Seq)?;
//! assert!((obj - (0.5 + 0.2 * 3.0 + 0.2 * 3.0)).abs() < 1e-12);
//! # Ok::<(), nmf_core::CoreError>(())
//! ```
//!
//! Invariants: nothing here knows about iterations or initialisation; every public function
//! returns `Result` on shape problems instead of panicking; parallelism is an explicit
//! [`faer::Par`] argument; scalar reductions accumulate in f64.

pub mod check;
pub mod data;
pub mod error;
pub mod kernels;
pub mod loss;
pub mod mat;
pub mod observed;
pub mod partition;
pub mod regularization;
pub mod scalar;
pub mod simd;
pub mod sparse;
mod sparse_ops;
pub mod sparseness;
pub mod vlog;

pub use data::{Data, DataRef};
pub use error::CoreError;
pub use loss::Loss;
pub use observed::{Missing, Observed, Weights};
pub use regularization::{AlphaH, Penalties, Regularization};
pub use scalar::{Float, SKLEARN_EPS};
pub use sparse::{SparseMat, SparseRef};

/// Re-export of faer, so users of this crate alone name the same matrix types.
pub use faer;
