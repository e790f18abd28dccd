//! # nmf-init
//!
//! Starting factors for nonnegative matrix factorization: scaled random, NNDSVD and its `a`/`ar`
//! variants (Boutsidis & Gallopoulos 2008), or custom factors, in two numerical modes:
//!
//! - [`Compat::Native`] (default): NNDSVD from an exact truncated SVD, random draws from
//!   xoshiro256++. For dense X: faer's Lanczos partial SVD when min(n, m) >= 1000 and
//!   k <= min(n, m)/10; else, for X at least twice as wide as tall (or tall as wide), the top
//!   eigenvectors of the smaller Gram matrix formed in f64 ([`SvdPath::Gram`]; 1.5-9x faster
//!   than the thin SVD on the faces); else, or when a Lanczos or Gram triplet misses the
//!   residual bound every exact path meets (`‖X·v − σ·u‖ <= 1024·eps·σ₁`), faer's dense thin
//!   SVD. For other kinds of X see below.
//! - [`Compat::Sklearn`]: scikit-learn's randomized SVD and NumPy's `RandomState(seed)` stream,
//!   bit for bit ([`mt19937::RandomState`]), so the same integer seed reproduces scikit-learn's
//!   `_initialize_nmf(X, k, init, random_state=seed)`.
//!
//! ## Any kind of X
//!
//! Every initialisation takes any [`nmf_core::DataRef`] and sees X only through its products
//! (`X·B`, `Xᵀ·B`, `Aᵀ·X`, `A·Xᵀ`) and reductions, so non-dense X is never densified:
//!
//! - `Compat::Sklearn`: the randomized SVD runs unchanged on X's products, with the same
//!   Gaussian test matrix as for dense input.
//! - `Compat::Native`: the exact truncated SVD is matrix-free — faer's Lanczos partial SVD when
//!   min(n, m) > max(64, 2k), else (or when its residuals are not at rounding level) block
//!   subspace iteration run to convergence ([`SvdPath::Subspace`]). The working set is a few
//!   n x (2k+10) and m x (2k+10) blocks.
//!
//! [`InitReport::svd`] says which SVD ran.
//!
//! ```
//! use faer::{mat, Par};
//! use nmf_init::{initialize, Compat, Init};
//!
//! let x = mat![[1.0, 2.0, 0.0, 3.0, 1.0], [0.0, 1.0, 4.0, 1.0, 2.0],
//!              [3.0, 0.0, 1.0, 2.0, 0.0], [2.0, 2.0, 2.0, 0.0, 1.0f64]];
//! let f = initialize(x.as_ref(), 3, &Init::Nndsvd, 0, Compat::Sklearn, Par::Seq)?;
//! // scikit-learn: W[0, 0] = 1.12706 (docs/algorithms.md 12.2)
//! assert!((f.w[(0, 0)] - 1.12706).abs() < 1e-5);
//! f.w.for_each(|&v| assert!(v >= 0.0));
//! f.h.for_each(|&v| assert!(v >= 0.0));
//! # Ok::<(), nmf_init::InitError>(())
//! ```

pub mod error;
mod gram;
mod init;
pub mod mt19937;
mod svd;
mod tridiag;

pub use error::InitError;
pub use init::{
    Compat, Factors, Init, InitKind, InitReport, initialize, random_from_mean, sklearn_seed,
};
pub use svd::SvdPath;
