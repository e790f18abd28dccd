//! From the command line to the work: the dataset, the grid points, the shared start, and the
//! configuration a results folder belongs to.
//!
//! Validation is the library's: every point's `NmfParams` (the very builder its fit will use)
//! goes through `check()` before anything is written, and the shared initialisation, which
//! knows the data-dependent rules (k against the shape), runs before the output folder is
//! touched too. An error names the flag to fix.

use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use faer::{MatRef, Par};
use nmf::init::Factors;
use nmf::prelude::*;
use nmf::{CoreError, NmfError, NmfParams};
use serde_json::json;

use super::args::Args;
use crate::common::{self, Input, Matrix};

/// One grid point.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub solver: SolverKind,
    pub alpha_w: f64,
    pub alpha_h: AlphaH,
    pub l1_ratio: f64,
    /// pg's basis sparseness target (the pg rows replace the penalties by it).
    pub target: Option<f64>,
}

impl Point {
    /// Identity of the point, for skipping finished ones on `--resume`.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.solver,
            self.alpha_w,
            self.alpha_h,
            self.l1_ratio,
            self.target.map_or("-".into(), |t| t.to_string())
        )
    }

    /// The fit of this point, without its start: shared by the up-front check and the fit, so
    /// what is checked is what runs.
    pub fn params(&self, a: &Args, k: usize) -> NmfParams<f32> {
        let params = Nmf::params::<f32>(k)
            .solver(self.solver)
            .loss(a.loss)
            .max_iter(a.max_iter)
            .tol(a.tol)
            .seed(a.seed)
            .trace_every(0)
            .batch_size(a.batch_size)
            .par(Par::Seq);
        match self.target {
            Some(t) => params.h_sparseness(t),
            None => params
                .alpha_w(self.alpha_w)
                .alpha_h(self.alpha_h)
                .l1_ratio(self.l1_ratio),
        }
    }
}

/// Validated settings.
pub struct Plan {
    pub data: Input,
    pub k: usize,
    /// Threads: grid points fitted at once.
    pub threads: usize,
    /// SHA-256 of the data matrix, so a resumed run refuses other data of the same name.
    pub hash: String,
}

impl Plan {
    pub fn x(&self) -> DataRef<'_, f32> {
        self.data.data()
    }

    /// The shared start of every point (and of every chain with `--warm-start`). Its errors
    /// are the data-dependent rules `check()` cannot know (k against the shape).
    pub fn initialize(&self, a: &Args, par: Par) -> Result<Factors<f32>> {
        nmf::init::initialize(
            self.x(),
            self.k,
            &a.init.init(),
            a.seed,
            Compat::Native,
            par,
        )
        .map_err(|e| anyhow!("-k {} / --init {}: {e}", self.k, a.init.name()))
    }
}

/// Loads the data and checks every point: the argument errors `check()` knows fail here,
/// before the output folder is touched.
pub fn plan(a: &Args) -> Result<Plan> {
    if let Some(s) = a.solver.iter().find(|s| **s == SolverKind::Opnmf) {
        // The grid sweeps penalties (or pg's targets); opnmf takes neither.
        bail!("--solver {s}: the grid runs cd, mu and pg");
    }
    if let Some(s) = a.target_sparseness {
        nmf::check::ensure_in_range("target_sparseness", s, 0.0, 1.0, "a number in [0, 1]")
            .map_err(|e| anyhow!("--target-sparseness: {e}"))?;
    }
    let data = a.data.load()?;
    // Swimmer has 17 parts and the synthetic corpus its planted topics.
    let k = a.components.unwrap_or(match &data.topics {
        Some(t) => t.nrows(),
        None if data.name == "swimmer" => 17,
        None => 50,
    });
    // (A sparse matrix was validated when it was built.)
    if let Matrix::Dense(x) = &data.x {
        nmf::check::ensure_data("X", x.as_ref()).map_err(|e| anyhow!("--dataset: {e}"))?;
    }
    for pt in points(a) {
        pt.params(a, k)
            .check()
            .map_err(|e| anyhow!("{}: {e}", flag_of(&e)))?;
    }
    Ok(Plan {
        hash: match &data.x {
            Matrix::Dense(x) => sha256(x.as_ref()),
            Matrix::Sparse(x) => sha256_sparse(x),
        },
        data,
        k,
        threads: a.threads.map_or_else(common::all_cores, |n| n.get()),
    })
}

/// The flag that sets the parameter a `check()` error names.
fn flag_of(e: &NmfError) -> &'static str {
    let name = match e {
        NmfError::Core(CoreError::InvalidParam { name, .. }) => *name,
        NmfError::SolverLoss { .. } => "beta_loss",
        _ => "",
    };
    match name {
        "alpha_w" => "--alpha-w",
        "alpha_h" => "--alpha-h",
        "l1_ratio" => "--l1-ratio",
        "h_sparseness" => "--pg-sparseness",
        "beta_loss" => "--loss",
        "max_iter" => "--max-iter",
        "tol" => "--tol",
        "n_components" => "-k",
        _ => "grid point",
    }
}

fn sha256(x: MatRef<'_, f32>) -> String {
    use sha2::Digest;
    let (n, m) = x.shape();
    let mut h = sha2::Sha256::new();
    h.update((n as u64).to_le_bytes());
    h.update((m as u64).to_le_bytes());
    for i in 0..n {
        for j in 0..m {
            h.update(x[(i, j)].to_le_bytes());
        }
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The same for sparse data: shape, then the canonical CSR arrays (a different stream from the
/// dense one, so the same matrix stored both ways does not resume the other's run).
fn sha256_sparse(x: &nmf::SparseMat<f32>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"csr");
    h.update((x.nrows() as u64).to_le_bytes());
    h.update((x.ncols() as u64).to_le_bytes());
    for &p in x.row_ptr() {
        h.update((p as u64).to_le_bytes());
    }
    for &j in x.col_indices() {
        h.update(j.to_le_bytes());
    }
    for &v in x.values() {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Every point of the grid: per solver, alpha_W x l1_ratio, or pg's targets.
pub fn points(a: &Args) -> Vec<Point> {
    let mut out = Vec::new();
    for &solver in &a.solver {
        if solver == SolverKind::ProjectedGradient {
            out.extend(a.pg_sparseness.0.iter().map(|&t| Point {
                solver,
                alpha_w: 0.0,
                alpha_h: AlphaH::Value(0.0),
                l1_ratio: 0.0,
                target: Some(t),
            }));
            continue;
        }
        for &alpha_w in &a.alpha_w.0 {
            out.extend(a.l1_ratio.0.iter().map(|&l1_ratio| Point {
                solver,
                alpha_w,
                alpha_h: a.alpha_h,
                l1_ratio,
                target: None,
            }));
        }
    }
    out
}

/// Warm-start chains: the points sharing solver, alpha_H, l1_ratio and target, by increasing
/// alpha_W (the order in which sparser solutions grow out of denser ones).
pub fn chains(todo: &[Point]) -> Vec<Vec<Point>> {
    let mut out: Vec<Vec<Point>> = Vec::new();
    for pt in todo {
        let same = |c: &Vec<Point>| {
            let q = &c[0];
            q.solver == pt.solver
                && q.alpha_h == pt.alpha_h
                && q.l1_ratio == pt.l1_ratio
                && q.target == pt.target
        };
        match out.iter_mut().find(|c| same(c)) {
            Some(c) => c.push(pt.clone()),
            None => out.push(vec![pt.clone()]),
        }
    }
    for c in &mut out {
        c.sort_by(|p, q| p.alpha_w.total_cmp(&q.alpha_w));
    }
    out
}

/// The configuration a results folder belongs to (everything that changes a row).
pub fn config_json(a: &Args, p: &Plan) -> serde_json::Value {
    json!({
        "dataset": p.data.name, "dataset_sha256": p.hash, "shape": [p.data.nrows(), p.data.ncols()],
        "k": p.k, "solvers": a.solver.iter().map(|s| s.name()).collect::<Vec<_>>(),
        "loss": a.loss.to_string(), "init": a.init.name(), "alpha_w": a.alpha_w.0, "l1_ratio": a.l1_ratio.0,
        "alpha_h": a.alpha_h.to_string(), "pg_sparseness": a.pg_sparseness.0, "max_iter": a.max_iter,
        "tol": a.tol, "seed": a.seed, "warm_start": a.warm_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_start_chains_group_by_l1_ratio_and_climb_alpha() {
        let pt = |solver, alpha_w: f64, l1_ratio: f64| Point {
            solver,
            alpha_w,
            alpha_h: AlphaH::Value(0.0),
            l1_ratio,
            target: None,
        };
        let todo = vec![
            pt(SolverKind::Cd, 0.5, 0.0),
            pt(SolverKind::Cd, 0.1, 1.0),
            pt(SolverKind::Mu, 0.3, 0.0),
            pt(SolverKind::Cd, 0.0, 0.0),
            pt(SolverKind::Cd, 0.2, 0.0),
        ];
        let c = chains(&todo);
        assert_eq!(c.len(), 3);
        let cd0: Vec<f64> = c[0].iter().map(|p| p.alpha_w).collect();
        assert_eq!(cd0, vec![0.0, 0.2, 0.5]);
        assert!(
            c[0].iter()
                .all(|p| p.solver == SolverKind::Cd && p.l1_ratio == 0.0)
        );
        assert_eq!((c[1].len(), c[1][0].l1_ratio), (1, 1.0));
        assert_eq!((c[2].len(), c[2][0].solver), (1, SolverKind::Mu));
        // Every point lands in exactly one chain.
        assert_eq!(c.iter().map(Vec::len).sum::<usize>(), todo.len());
    }
}
