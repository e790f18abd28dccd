//! # nmf-metrics
//!
//! Quality measures of a factorization. Filled by the metrics issue; nothing is exported yet.
