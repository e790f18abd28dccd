//! The report's pictures from the grid's rows: heatmaps over alpha_W x l1_ratio, the
//! sparseness/error scatter with its Pareto front, per-component sparseness histograms and the
//! objective traces (SVG charts, see [`crate::charts`]), and basis images (PNG, one per
//! component, so that the page can caption each with real text).

use std::path::Path;

use anyhow::Result;
use faer::MatRef;
use nmf::prelude::SolverKind;

use super::rows::Row;
use crate::charts::{self, Bars, Heatmap, Lines, Mark, Scatter};

/// A heatmap's measure: file name part, title, and the value it shows.
pub type Measure = (&'static str, &'static str, fn(&Row) -> f64);

/// The two measures every solver gets a heatmap of.
pub const MEASURES: [Measure; 2] = [
    ("sparseness", "mean basis sparseness", |r| {
        r.basis_sparseness_mean
    }),
    ("error", "reconstruction error", |r| r.reconstruction_err),
];

/// `solver`'s points over alpha_W (rows, bottom up) x l1_ratio (columns), as SVG.
pub fn heatmap(
    rows: &[Row],
    solver: SolverKind,
    (what, title, value): Measure,
    aws: &[f64],
    l1s: &[f64],
) -> Result<String> {
    let find = |aw: f64, l1: f64| {
        rows.iter().find(|r| {
            r.solver == solver
                && r.alpha_w == aw
                && r.l1_ratio == l1
                && r.h_sparseness_target.is_none()
        })
    };
    let cells: Vec<Option<(f64, bool)>> = aws
        .iter()
        .flat_map(|&aw| l1s.iter().map(move |&l1| (aw, l1)))
        .map(|(aw, l1)| find(aw, l1).map(|r| (value(r), r.collapsed)))
        .collect();
    charts::heatmap(&Heatmap {
        title: &format!("{solver}: {title}"),
        x_title: "l1_ratio",
        x_values: l1s,
        y_title: "alpha_W",
        y_values: aws,
        cells: &cells,
        value_title: title,
        bar_title: what,
    })
}

/// A point's settings in a few words, for hover texts and legends.
pub fn settings(r: &Row) -> String {
    match r.h_sparseness_target {
        Some(t) => format!("{} target {t}", r.solver),
        None => format!(
            "{} alpha_W = {}, l1_ratio = {}",
            r.solver, r.alpha_w, r.l1_ratio
        ),
    }
}

/// Every live point by error (x) and mean basis sparseness (y), one colour per solver, the
/// Pareto front `front` (indices into `alive`, by error) and the chosen points labelled.
pub fn pareto(alive: &[&Row], front: &[usize], chosen: &[(String, &Row)]) -> Result<String> {
    let mut solvers: Vec<SolverKind> = Vec::new();
    for r in alive {
        if !solvers.contains(&r.solver) {
            solvers.push(r.solver);
        }
    }
    // By name, so that a solver keeps its colour from one report to the next.
    solvers.sort_by_key(|s| s.name());
    let groups = solvers
        .iter()
        .map(|&s| {
            let pts = alive
                .iter()
                .filter(|r| r.solver == s)
                .map(|r| {
                    let hover = format!(
                        "{}: error {}, sparseness {}",
                        settings(r),
                        charts::fmt_num(r.reconstruction_err),
                        charts::fmt_num(r.basis_sparseness_mean)
                    );
                    (r.reconstruction_err, r.basis_sparseness_mean, hover)
                })
                .collect();
            (format!("{s} points"), pts)
        })
        .collect();
    let front_pts = front
        .iter()
        .map(|&i| (alive[i].reconstruction_err, alive[i].basis_sparseness_mean))
        .collect();
    charts::scatter(&Scatter {
        title: "Sparseness against error, every live point",
        x_title: "reconstruction error ‖X − WH‖ (lower is better)",
        y_title: "mean basis sparseness (Hoyer)",
        groups,
        front: ("Pareto front".into(), front_pts),
        marks: chosen
            .iter()
            .map(|(label, r)| Mark {
                label: label.clone(),
                x: r.reconstruction_err,
                y: r.basis_sparseness_mean,
            })
            .collect(),
    })
}

/// Histograms of the components' sparseness, one series per chosen point.
pub fn histogram(sets: &[(String, Vec<f64>)]) -> Result<String> {
    charts::bars(&Bars {
        title: "Sparseness of each basis vector",
        x_title: "Hoyer sparseness of a row of H (0 = flat, 1 = a single nonzero)",
        y_title: "components",
        bins: 10,
        series: sets.to_vec(),
    })
}

/// The objective per iteration of each chosen fit.
pub fn traces(traces: &[(String, Vec<(usize, f64)>)]) -> Result<String> {
    charts::lines(&Lines {
        title: "Objective per iteration of the chosen fits",
        x_title: "iteration",
        y_title: "objective: loss + penalties (log scale)",
        series: traces
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    t.iter().map(|&(i, o)| (i as f64, o)).collect(),
                )
            })
            .collect(),
    })
}

/// Row `t` of `h` as an `ih x iw` grey PNG, scaled to its own range (white = largest), so that
/// every part is visible whatever its scale.
pub fn basis_image(
    path: &Path,
    h: MatRef<'_, f32>,
    t: usize,
    (ih, iw): (usize, usize),
) -> Result<()> {
    let (mut lo, mut hi) = (f32::MAX, f32::MIN);
    h.row(t).iter().for_each(|&v| {
        lo = lo.min(v);
        hi = hi.max(v);
    });
    let px = (0..ih * iw)
        .map(|p| {
            let v = h[(t, p)];
            if hi > lo {
                ((v - lo) / (hi - lo) * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect();
    crate::png::save_gray(path, iw as u32, ih as u32, px)
}
