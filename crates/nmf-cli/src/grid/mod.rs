//! `cargo xtask grid-search`: the main job. Sweeps `alpha_W x l1_ratio` (and `pg` sparseness
//! targets) on a dataset, records the sparseness of the basis and the error of every point as it
//! finishes, and writes heatmaps, basis galleries, the sparseness/error Pareto front and a
//! `report.html`.
//!
//! The stages, one module each: `args` (the command line), `plan` (data, points and their
//! checks), `run` (the results folder, parallel fits, the writer), [`rows`] (the `results.csv`
//! format), `report` and `plots` (the HTML and its pictures), and `target`
//! (`--target-sparseness`, which searches alpha instead of sweeping it).

mod args;
mod plan;
mod plots;
mod report;
pub mod rows;
mod run;
mod target;

use anyhow::Result;

pub use args::{Args, parse_alpha_h};

/// Runs `grid-search`.
pub fn run(a: Args) -> Result<()> {
    let plan = plan::plan(&a)?;
    if let Some(s) = a.target_sparseness {
        return target::search(&a, &plan, s);
    }
    let outcome = run::run_grid(&a, &plan)?;
    let pictures = report::write(&a, &plan, &outcome)?;
    eprintln!(
        "done: {} points in {:.1} s; wrote {} and {} pictures; open {}",
        plan::points(&a).len(),
        outcome.seconds,
        a.out.join("results.csv").display(),
        pictures,
        a.out.join("report.html").display()
    );
    Ok(())
}
