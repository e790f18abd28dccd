//! Errors of the initialisation step.

use nmf_core::CoreError;
use thiserror::Error;

/// What can go wrong computing starting factors.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum InitError {
    /// Invalid data, shapes or parameter values.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The NNDSVD family needs k <= min(n_samples, n_features).
    #[error(
        "init = {init} can only be used when n_components <= min(n_samples, n_features): got k = {k}, min = {max}; use Init::Random for a larger k"
    )]
    RankTooLarge {
        /// The initialisation requested.
        init: &'static str,
        /// The requested number of components.
        k: usize,
        /// min(n_samples, n_features).
        max: usize,
    },
    /// scikit-learn's `RandomState` takes seeds in 0..2^32.
    #[error(
        "seed {seed} is out of range for Compat::Sklearn (numpy's RandomState takes 0..=4294967295)"
    )]
    SeedOutOfRange {
        /// The seed given.
        seed: u64,
    },
    /// The SVD did not converge.
    #[error("SVD failed: {0}")]
    Svd(String),
}
