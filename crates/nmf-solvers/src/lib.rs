//! # nmf-solvers
//!
//! The NMF fit loop and its solvers. Filled by the solvers issue; nothing is exported yet.
