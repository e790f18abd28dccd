//! `--target-sparseness S`: instead of the grid, for each l1_ratio the smallest alpha_W
//! (alpha_H as given) whose fit reaches mean basis sparseness S, by bracketing (x4) then 12
//! bisection steps, each fit warm-started along the regularisation path. Prints the matching
//! scikit-learn call and writes `target_sparseness.csv`.

use anyhow::{Context, Result};
use faer::Par;
use nmf::metrics;
use nmf::prelude::*;
use serde::Serialize;

use super::args::Args;
use super::plan::{Plan, Point};
use super::run::Factors;
use crate::common::text;

/// One line of `target_sparseness.csv`; the measured fields are empty when unreachable.
#[derive(Serialize)]
struct TargetRow {
    #[serde(with = "text")]
    solver: SolverKind,
    #[serde(with = "text")]
    l1_ratio: f64,
    #[serde(with = "text::opt")]
    alpha: Option<f64>,
    #[serde(with = "text::opt")]
    basis_sparseness_mean: Option<f64>,
    #[serde(with = "text::opt")]
    reconstruction_err: Option<f64>,
    reached: bool,
}

/// A fit at one alpha: mean basis sparseness (NaN if it collapsed), error, factors.
struct Trial {
    sparseness: f64,
    err: f64,
    factors: Factors,
}

/// The smallest alpha found to reach the target, and its fit's sparseness and error.
struct Found {
    alpha: f64,
    sparseness: f64,
    err: f64,
}

/// Runs the search for every l1_ratio of the plan.
pub fn search(a: &Args, plan: &Plan, target: f64) -> Result<()> {
    let solver = *a
        .solver
        .iter()
        .find(|s| **s != SolverKind::ProjectedGradient)
        .context("--target-sparseness needs cd or mu in --solver (pg takes the target directly)")?;
    let init = plan.initialize(a, Par::Seq)?;
    std::fs::create_dir_all(&a.out)?;
    let mut csv = csv::Writer::from_path(a.out.join("target_sparseness.csv"))?;
    println!(
        "smallest alpha reaching mean basis sparseness {target} ({solver}, {}, k = {}):",
        plan.data.name, plan.k
    );
    for &l1 in &a.l1_ratio.0 {
        let fit = |alpha: f64, start: &Factors| trial(a, plan, solver, alpha, l1, start);
        let found = bisect(target, (init.w.clone(), init.h.clone()), fit)?;
        match &found {
            Ok(f) => print_found(a, plan, solver, l1, f),
            Err(hi) => println!(
                "  l1_ratio {l1}: not reachable up to alpha {hi} (the fit collapses or saturates)"
            ),
        }
        let f = found.as_ref().ok();
        csv.serialize(TargetRow {
            solver,
            l1_ratio: l1,
            alpha: f.map(|f| f.alpha),
            basis_sparseness_mean: f.map(|f| f.sparseness),
            reconstruction_err: f.map(|f| f.err),
            reached: f.is_some(),
        })?;
    }
    csv.flush()?;
    Ok(())
}

/// One fit at `alpha` from `start`.
fn trial(
    a: &Args,
    plan: &Plan,
    solver: SolverKind,
    alpha: f64,
    l1_ratio: f64,
    start: &Factors,
) -> Result<Trial> {
    let pt = Point {
        solver,
        alpha_w: alpha,
        alpha_h: a.alpha_h,
        l1_ratio,
        target: None,
    };
    let m = pt
        .params(a, plan.k)
        .init(Init::Custom {
            w: start.0.clone(),
            h: start.1.clone(),
        })
        .fit(plan.x())?;
    let s = metrics::sparseness::rows(m.h());
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    let alive = m.h().norm_l2() > 0.0 && m.w().norm_l2() > 0.0;
    Ok(Trial {
        sparseness: if alive { mean } else { f64::NAN },
        err: m.report().reconstruction_err,
        factors: (m.w().to_owned(), m.h().to_owned()),
    })
}

/// Brackets then bisects the smallest alpha whose fit reaches `target`. Every trial starts from
/// the solution at the largest alpha known to fall short (`lo`), so the warm starts move along
/// the regularisation path. `Err(alpha)`: not reached up to that alpha.
fn bisect(
    target: f64,
    start: Factors,
    mut fit: impl FnMut(f64, &Factors) -> Result<Trial>,
) -> Result<Result<Found, f64>> {
    // NaN (a collapsed fit) never counts as reaching the target.
    let reached = |s: f64| s >= target;
    let zero = fit(0.0, &start)?;
    if reached(zero.sparseness) {
        return Ok(Ok(Found {
            alpha: 0.0,
            sparseness: zero.sparseness,
            err: zero.err,
        }));
    }
    let (mut lo, mut hi) = (0.0f64, 1e-3f64);
    let mut at_lo = zero.factors;
    let mut r = fit(hi, &at_lo)?;
    while !reached(r.sparseness) && !r.sparseness.is_nan() && hi < 1e3 {
        lo = hi;
        at_lo = r.factors;
        hi *= 4.0;
        r = fit(hi, &at_lo)?;
    }
    if !reached(r.sparseness) {
        return Ok(Err(hi));
    }
    let mut best = Found {
        alpha: hi,
        sparseness: r.sparseness,
        err: r.err,
    };
    for _ in 0..12 {
        let mid = 0.5 * (lo + hi);
        let r = fit(mid, &at_lo)?;
        if reached(r.sparseness) {
            hi = mid;
            best = Found {
                alpha: mid,
                sparseness: r.sparseness,
                err: r.err,
            };
        } else if r.sparseness.is_nan() {
            // Collapsed: past the useful range.
            hi = mid;
        } else {
            lo = mid;
            at_lo = r.factors;
        }
    }
    Ok(Ok(best))
}

fn print_found(a: &Args, plan: &Plan, solver: SolverKind, l1: f64, f: &Found) {
    let alpha_h = match a.alpha_h {
        AlphaH::Same => "\"same\"".to_string(),
        AlphaH::Value(v) => v.to_string(),
    };
    println!(
        "  l1_ratio {l1}: alpha {:.4e} -> sparseness {:.4}, error {:.4}   scikit-learn: NMF(n_components={}, solver=\"{solver}\", alpha_W={:.6e}, alpha_H={alpha_h}, l1_ratio={l1}, init=\"{}\")",
        f.alpha,
        f.sparseness,
        f.err,
        plan.k,
        f.alpha,
        a.init.name()
    );
}
