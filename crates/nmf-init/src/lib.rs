//! # nmf-init
//!
//! Starting factors for NMF. Filled by the initialisation issue; nothing is exported yet.
