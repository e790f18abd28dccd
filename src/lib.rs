//! # nmf
//!
//! Nonnegative matrix factorization for Rust: `X ≈ W·H` with `X` (n_samples x n_features),
//! `W` (n_samples x k) and `H` (k x n_features) nonnegative, with scikit-learn's conventions and
//! numerics. This facade re-exports the workspace crates and adds matrix IO.
//!
//! ```
//! use faer::{mat, Par};
//! use nmf::prelude::*;
//!
//! let x = mat![[1.0, 2.0], [2.0, 4.0f64]];
//! let w = mat![[1.0], [2.0f64]];
//! let h = mat![[1.0, 2.0f64]];
//! let err = nmf::loss::reconstruction_err(x.as_ref(), w.as_ref(), h.as_ref(), Loss::Frobenius, Par::Seq)?;
//! assert!(err < 1e-12);
//! # Ok::<(), nmf::CoreError>(())
//! ```
//!
//! [`io`] reads and writes dense `.npy`/`.csv` and sparse SciPy `.npz`/MatrixMarket `.mtx` files
//! ([`io::read_sparse`] returns a validated [`SparseMat`]; duplicate entries are summed, as SciPy
//! does, and stored zeros dropped).
//!
//! Crates: [`nmf_core`] (losses, penalties, kernels, validation), [`init`] (initialisations),
//! [`solvers`] (fit loops), [`metrics`] (quality measures).

pub mod cv;
pub mod datasets;
pub mod io;
pub mod model_file;
#[cfg(feature = "ndarray")]
pub mod nd;
pub mod rank;
pub mod vocab;

pub use rank::{RankRow, select_rank};

pub use nmf_core::{
    AlphaH, CoreError, Data, DataRef, Float, Loss, Missing, Observed, Penalties, Regularization,
    SKLEARN_EPS, SparseMat, SparseRef, Weights, check, data, kernels, loss, mat, observed,
    partition, regularization, scalar, sparse, sparseness,
};
pub use nmf_init as init;
pub use nmf_metrics as metrics;
pub use nmf_solvers as solvers;

/// Re-export of faer, the matrix library every signature uses.
pub use faer;

/// The names most programs need: `use nmf::prelude::*;`.
pub mod prelude {
    pub use crate::model_file::ModelFiles;
    pub use nmf_core::{AlphaH, DataRef, Float, Loss, Missing, Regularization, SparseMat, Weights};
    pub use nmf_init::{Compat, Init};
    pub use nmf_solvers::{FitReport, Nmf, NmfModel, SolverKind, StopReason};
}

pub use nmf_init::{Compat, Init};
pub use nmf_solvers::{
    FitReport, FitWarning, InMemoryRows, IterInfo, MiniBatchParams, Nmf, NmfConfig, NmfError,
    NmfModel, NmfParams, OnlineNmf, OnlineState, RowSource, SolverKind, StopReason,
};
