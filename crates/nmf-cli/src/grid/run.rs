//! Running the grid: the results folder (fresh, or resumed with the same configuration), the
//! parallel fits, the writer that appends one flushed row per finished point, and the summary.

use std::collections::HashSet;
use std::fs::File;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use faer::{Mat, MatRef, Par};
use nmf::metrics;
use nmf::prelude::*;
use serde_json::json;

use super::args::Args;
use super::plan::{self, Plan, Point};
use super::rows::{self, Row};

/// (W, H).
pub type Factors = (Mat<f32>, Mat<f32>);

/// The grid: fits every point not yet in `results.csv`, then writes `summary.json`.
pub fn run_grid(a: &Args, plan: &Plan) -> Result<Outcome> {
    let started = Instant::now();
    let start_time = SystemTime::now();
    // Before the folder is opened, so that a k the data cannot take leaves nothing behind.
    let start = plan.initialize(a, Par::rayon(plan.threads))?;
    let folder = Folder::open(a, plan)?;
    let all = plan::points(a);
    let finished: HashSet<String> = folder.done.iter().map(|r| r.point().key()).collect();
    let todo: Vec<Point> = all
        .iter()
        .filter(|p| !finished.contains(&p.key()))
        .cloned()
        .collect();
    eprintln!(
        "grid-search: {} ({} x {}), k = {}, {} points ({} already done), {} job(s), output {}",
        plan.data.name,
        plan.data.nrows(),
        plan.data.ncols(),
        plan.k,
        all.len(),
        all.len() - todo.len(),
        plan.threads,
        a.out.display()
    );
    let rows = fit_all(a, plan, &start, &todo, folder, all.len())?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = json!({
        "version": env!("CARGO_PKG_VERSION"), "config": plan::config_json(a, plan), "threads": plan.threads,
        "start_unix": unix(start_time), "end_unix": unix(SystemTime::now()), "total_seconds": seconds,
        "points": all.len(), "init": { "kind": start.report.kind.name(), "seconds": start.report.seconds },
    });
    std::fs::write(
        a.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    Ok(Outcome {
        rows,
        start,
        seconds,
    })
}

/// What a finished grid leaves for the report.
pub struct Outcome {
    /// Every row, earlier runs' first.
    pub rows: Vec<Row>,
    /// The shared start (the report refits its chosen points from it).
    pub start: nmf::init::Factors<f32>,
    /// Wall time of the grid, initialisation included.
    pub seconds: f64,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The output folder, ready for appending: `results.csv` open, earlier rows read.
struct Folder {
    file: File,
    done: Vec<Row>,
}

impl Folder {
    /// Starts a fresh folder, or with `--resume` continues one written with the same
    /// configuration (anything else is refused rather than mixed).
    fn open(a: &Args, plan: &Plan) -> Result<Folder> {
        std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        let config = plan::config_json(a, plan);
        let config_path = a.out.join("grid.json");
        let results = a.out.join("results.csv");
        let mut done = Vec::new();
        if results.exists() || config_path.exists() {
            check_resumable(a, &config_path, &config)?;
            if results.exists() {
                done = rows::read_finished(&results)?;
            }
        }
        std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)?;
        if !results.exists() {
            rows::create(&results)?;
        }
        let file = std::fs::OpenOptions::new().append(true).open(&results)?;
        Ok(Folder { file, done })
    }
}

fn check_resumable(a: &Args, config_path: &Path, config: &serde_json::Value) -> Result<()> {
    if !a.resume {
        bail!(
            "{} already holds a grid search: pass --resume to continue it, or choose another --out",
            a.out.display()
        );
    }
    let old: serde_json::Value = std::fs::read_to_string(config_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| {
            anyhow!(
                "{} has results but no readable grid.json: refusing to mix runs",
                a.out.display()
            )
        })?;
    if old != *config {
        bail!(
            "{} holds a grid search with a different configuration: refusing to mix results (use another --out)",
            a.out.display()
        );
    }
    Ok(())
}

/// Fits `todo` on `plan.threads` threads while this thread appends each finished row.
fn fit_all(
    a: &Args,
    plan: &Plan,
    start: &nmf::init::Factors<f32>,
    todo: &[Point],
    folder: Folder,
    total: usize,
) -> Result<Vec<Row>> {
    let (tx, rx) = std::sync::mpsc::channel::<Result<Row>>();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.threads)
        .build()?;
    let mut progress = Progress::new(total, total - todo.len());
    let written = std::thread::scope(|s| {
        s.spawn(|| pool.install(|| fit_points(a, plan, (&start.w, &start.h), todo, tx)));
        write_rows(rx, folder, &mut progress)
    });
    progress.finish();
    Ok(written?.done)
}

/// The fits, in parallel: independent points, or with `--warm-start` one chain per
/// (solver, alpha_H, l1_ratio) where each point starts from the previous one's factors.
fn fit_points(
    a: &Args,
    plan: &Plan,
    (w0, h0): (&Mat<f32>, &Mat<f32>),
    todo: &[Point],
    tx: Sender<Result<Row>>,
) {
    use rayon::prelude::*;
    if !a.warm_start {
        todo.par_iter().for_each_with(tx, |tx, pt| {
            let _ = tx.send(fit_point(a, plan, w0, h0, pt).map(|(r, _)| r));
        });
        return;
    }
    plan::chains(todo)
        .par_iter()
        .for_each_with(tx, |tx, chain| {
            let mut start = (w0.clone(), h0.clone());
            for pt in chain {
                match fit_point(a, plan, &start.0, &start.1, pt) {
                    Ok((r, factors)) => {
                        start = factors;
                        let _ = tx.send(Ok(r));
                    }
                    Err(e) => {
                        // The rest of the chain would start from nowhere.
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
}

/// The writer: one flushed line per finished point, so a kill loses nothing. Keeps going after
/// an error so that every point already fitted is saved; returns the first error.
fn write_rows(
    rx: Receiver<Result<Row>>,
    mut folder: Folder,
    progress: &mut Progress,
) -> Result<Folder> {
    let mut first_err = None;
    for res in rx {
        match res.and_then(|row| rows::append(&mut folder.file, &row).map(|()| row)) {
            Ok(row) => {
                progress.row(&row);
                folder.done.push(row);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(folder),
    }
}

/// A progress bar on a terminal, one line per point otherwise (logs, CI).
struct Progress {
    pb: indicatif::ProgressBar,
    tty: bool,
    count: usize,
    total: usize,
}

impl Progress {
    fn new(total: usize, done: usize) -> Progress {
        let pb = indicatif::ProgressBar::new(total as u64);
        let tty = std::io::stderr().is_terminal();
        if tty {
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} points, {elapsed} elapsed, ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb.set_position(done as u64);
        } else {
            pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        Progress {
            pb,
            tty,
            count: done,
            total,
        }
    }

    fn row(&mut self, row: &Row) {
        self.count += 1;
        let msg = format!(
            "{} alpha_w={} l1={}{} err={:.4} basis sparseness={:.3}{}",
            row.solver,
            row.alpha_w,
            row.l1_ratio,
            row.h_sparseness_target
                .map_or(String::new(), |t| format!(" target={t}")),
            row.reconstruction_err,
            row.basis_sparseness_mean,
            if row.collapsed { " (collapsed)" } else { "" }
        );
        if self.tty {
            self.pb.set_position(self.count as u64);
            self.pb.set_message(msg);
        } else {
            eprintln!("[{}/{}] {msg}", self.count, self.total);
        }
    }

    fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

/// Fits one point from (w0, h0); returns its row and its factors (the next warm start).
pub fn fit_point(
    a: &Args,
    plan: &Plan,
    w0: &Mat<f32>,
    h0: &Mat<f32>,
    pt: &Point,
) -> Result<(Row, Factors)> {
    let start = Instant::now();
    let model = pt
        .params(a, plan.k)
        .init(Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        })
        .fit(plan.x())?;
    let (w, h) = (model.w(), model.h());
    let h_sp =
        metrics::sparseness::summary(&metrics::sparseness::rows(h)).context("no components")?;
    let w_cols = metrics::sparseness::cols(w);
    let r = model.report();
    let row = Row {
        solver: pt.solver,
        loss: a.loss,
        k: plan.k,
        alpha_w: pt.alpha_w,
        alpha_h: pt.alpha_h,
        l1_ratio: pt.l1_ratio,
        h_sparseness_target: pt.target,
        n_iter: r.n_iter,
        stop_reason: r.stop_reason.to_string(),
        reconstruction_err: r.reconstruction_err,
        objective: r.objective,
        basis_sparseness_mean: h_sp.mean,
        basis_sparseness_median: h_sp.median,
        basis_sparseness_min: h_sp.min,
        basis_sparseness_max: h_sp.max,
        w_sparseness_mean: w_cols.iter().sum::<f64>() / w_cols.len() as f64,
        w_zero_fraction: zero_fraction(w),
        h_zero_fraction: zero_fraction(h),
        collapsed: collapsed(plan.x(), w, h),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((row, (w.to_owned(), h.to_owned())))
}

/// Share of entries that are zero, or negligible (1e-12) next to the factor's largest.
fn zero_fraction(f: MatRef<'_, f32>) -> f64 {
    let mut mx = 0.0f32;
    f.for_each(|&v| mx = mx.max(v));
    let mut z = 0usize;
    f.for_each(|&v| z += usize::from(v <= 1e-12 * mx || v == 0.0));
    z as f64 / (f.nrows() * f.ncols()) as f64
}

/// The fit died: ‖W·H‖ is negligible next to ‖X‖, or every component is dead.
fn collapsed(x: DataRef<'_, f32>, w: MatRef<'_, f32>, h: MatRef<'_, f32>) -> bool {
    // ‖WH‖² = <WᵀW, HHᵀ>: k x k products instead of the n x m one.
    let wh = {
        let wtw = w.transpose() * w;
        let hht = h * h.transpose();
        nmf::kernels::frobenius_inner(wtw.as_ref(), hht.as_ref())
            .unwrap_or(0.0)
            .max(0.0)
            .sqrt()
    };
    let xn = x.squared_norm().sqrt();
    let all_dead = (0..w.ncols())
        .all(|t| w.col(t).iter().all(|&v| v == 0.0) || h.row(t).iter().all(|&v| v == 0.0));
    wh < 1e-3 * xn || all_dead
}
