//! `results.csv`: one [`Row`] per finished grid point, appended and flushed as each point
//! finishes, so a killed run loses at most the line being written.
//!
//! [`Row`] is the file's format. It is written and read with the `csv` crate, by column name, so
//! the header, the writer and the reader cannot disagree (`tests/results_header.rs` also pins
//! [`HEADER`] to the struct). Numbers are written as Rust's `Display` writes them (see
//! `common::text`), which is what the file has always held.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use nmf::prelude::{AlphaH, Loss, SolverKind};
use serde::{Deserialize, Serialize};

use super::plan::Point;
use crate::common::text;

/// The header line of `results.csv`: [`Row`]'s fields, in order. Readers of the file
/// (`scripts/compare_grid.py`) go by these names.
pub const HEADER: &str = "solver,loss,k,alpha_w,alpha_h,l1_ratio,h_sparseness_target,n_iter,stop_reason,reconstruction_err,objective,basis_sparseness_mean,basis_sparseness_median,basis_sparseness_min,basis_sparseness_max,w_sparseness_mean,w_zero_fraction,h_zero_fraction,collapsed,seconds";

/// One finished grid point: its parameters and what its fit reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `cd`, `mu` or `pg`.
    #[serde(with = "text")]
    pub solver: SolverKind,
    /// The beta-divergence (`frobenius`, `kullback-leibler`, `itakura-saito` or β).
    #[serde(with = "text")]
    pub loss: Loss,
    /// Number of components.
    pub k: usize,
    /// scikit-learn's `alpha_W` (0 on pg rows).
    #[serde(with = "text")]
    pub alpha_w: f64,
    /// scikit-learn's `alpha_H`: a number or `same`.
    #[serde(with = "alpha_h_text")]
    pub alpha_h: AlphaH,
    /// scikit-learn's `l1_ratio` (0 on pg rows).
    #[serde(with = "text")]
    pub l1_ratio: f64,
    /// pg's Hoyer sparseness target for every row of H; empty on cd and mu rows.
    #[serde(with = "text::opt")]
    pub h_sparseness_target: Option<f64>,
    /// Iterations run.
    pub n_iter: usize,
    /// Why the fit stopped (`converged`, `max_iter`, ...).
    pub stop_reason: String,
    /// ‖X − WH‖ in scikit-learn's sense (`reconstruction_err_`).
    #[serde(with = "text")]
    pub reconstruction_err: f64,
    /// The penalised objective the solver minimised.
    #[serde(with = "text")]
    pub objective: f64,
    /// Mean Hoyer sparseness of the basis (the rows of H).
    #[serde(with = "text")]
    pub basis_sparseness_mean: f64,
    /// Median of the same.
    #[serde(with = "text")]
    pub basis_sparseness_median: f64,
    /// Least sparse basis vector.
    #[serde(with = "text")]
    pub basis_sparseness_min: f64,
    /// Sparsest basis vector.
    #[serde(with = "text")]
    pub basis_sparseness_max: f64,
    /// Mean Hoyer sparseness of the columns of W.
    #[serde(with = "text")]
    pub w_sparseness_mean: f64,
    /// Share of (relatively) zero entries of W.
    #[serde(with = "text")]
    pub w_zero_fraction: f64,
    /// Share of (relatively) zero entries of H.
    #[serde(with = "text")]
    pub h_zero_fraction: f64,
    /// The fit died: W·H negligible next to X, or every component dead.
    pub collapsed: bool,
    /// Wall time of the fit (the one column that changes between identical runs).
    #[serde(serialize_with = "microseconds")]
    pub seconds: f64,
}

impl Row {
    /// The grid point this row belongs to.
    pub fn point(&self) -> Point {
        Point {
            solver: self.solver,
            alpha_w: self.alpha_w,
            alpha_h: self.alpha_h,
            l1_ratio: self.l1_ratio,
            target: self.h_sparseness_target,
        }
    }
}

/// Seconds to the microsecond: finer digits are noise.
fn microseconds<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:.6}"))
}

/// `alpha_H` as the command line spells it: a number or `same`.
mod alpha_h_text {
    use nmf::AlphaH;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(v: &AlphaH, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AlphaH, D::Error> {
        let s = String::deserialize(d)?;
        crate::grid::args::parse_alpha_h(&s).map_err(D::Error::custom)
    }
}

/// `row` as one CSV line, terminator included.
pub fn line(row: &Row) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(row)?;
    w.into_inner().context("formatting a results row")
}

/// Appends `row` to the open results file in one write and flushes it, so that a kill leaves
/// either the whole line or a torn last line that [`read_finished`] drops.
pub fn append(file: &mut File, row: &Row) -> Result<()> {
    let bytes = line(row)?;
    file.write_all(&bytes)?;
    file.flush()?;
    Ok(())
}

/// Creates `path` holding just the header.
pub fn create(path: &Path) -> Result<()> {
    std::fs::write(path, format!("{HEADER}\n"))
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads the finished rows of an interrupted run: drops a torn last line (a kill mid-write)
/// from the file, refuses a file with another header, and keeps the first row of each point.
pub fn read_finished(path: &Path) -> Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    if complete.is_empty() {
        // Killed while the header was written: start the file again.
        create(path)?;
        return Ok(Vec::new());
    }
    if complete.len() != text.len() {
        std::fs::write(path, complete).with_context(|| format!("repairing {}", path.display()))?;
    }
    if complete.lines().next() != Some(HEADER) {
        bail!(
            "{} has another header than this version writes: refusing to append to it",
            path.display()
        );
    }
    let mut seen = HashSet::new();
    let rows = csv::Reader::from_reader(complete.as_bytes())
        .into_deserialize::<Row>()
        // A line that does not parse is refitted rather than trusted.
        .filter_map(Result::ok)
        .filter(|r| seen.insert(r.point().key()))
        .collect();
    Ok(rows)
}
