//! Distributed nonnegative matrix factorization on MPI: the communication-optimal 2-D algorithm
//! of Kannan, Ballard and Park (PLANC's), with nmf-rs's scikit-learn numerics, and results that
//! are the same bits for any number of processes.
//!
//! ```no_run
//! // Run under `mpirun -np 4 ...`: every rank reads only its block of X.
//! use nmf_dist::{DistConfig, Grid, Method, Start, block, fit};
//! let universe = mpi::initialize().expect("MPI");
//! let mut grid = Grid::new(universe.world(), Some((2, 2)))?;
//! let path = std::path::Path::new("X.npy");
//! let info = block::probe(path)?;
//! let cfg = DistConfig {
//!     k: 10,
//!     method: Method::Cd,
//!     reg: nmf::Regularization::default(),
//!     max_iter: 200,
//!     tol: 1e-4,
//!     seed: 0,
//!     compat: nmf::Compat::Native,
//!     start: Start::Random,
//!     shuffle: false,
//! };
//! let fitted = fit::<f64>(&mut grid, path, info, &cfg, |_, _| {})?;
//! if let Some(w) = &fitted.w {
//!     println!("W is {} x {}, error {}", w.nrows(), w.ncols(), fitted.error);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (The example needs an MPI launcher, so it is compiled, not run, by `cargo test --doc`; the
//! integration tests in `tests/mpirun.rs` run the `nmf-dist` command under `mpirun`.)
//!
//! # How results stay independent of the process count
//! Every sum (Grams, `X·Hᵀ`, `Wᵀ·X`, losses) runs along a summation tree fixed by the matrix's
//! shape alone ([`tree`]): sequential inside leaves of consecutive indices, pairwise above.
//! Ranks own aligned subtrees, exchange their partial sums as values (all-gather, all-to-all:
//! no MPI reduction, whose bracketing OpenMPI picks by message size and communicator size)
//! and finish the tree themselves. So `-np 1, 2, 4` on grids `1x4, 2x2, 4x1` give the same W
//! and H bit for bit, and the same iterations.
//!
//! # Failures
//! Each fallible step ends with [`Grid::agree`]: every rank learns whether any rank failed and
//! all return the lowest failing rank's message, so a bad block on one rank stops every rank
//! with the same error instead of leaving the others blocked in a collective.

pub mod block;
pub mod comm;
pub mod fit;
pub mod tree;

pub use comm::{Counters, Grid, GridError, RankError, Traffic, parse_grid};
pub use fit::{DistConfig, DistFit, DistFloat, Layout, Method, Start, fit};
