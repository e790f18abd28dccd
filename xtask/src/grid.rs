//! `cargo xtask grid-search`: the main job. Sweeps `alpha_W x l1_ratio` (and `pg` sparseness
//! targets) on a dataset, records the sparseness of the basis and the error of every point as it
//! finishes, and writes heatmaps, basis galleries, the sparseness/error Pareto front and a
//! `report.html`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use faer::{Mat, MatRef, Par};
use nmf::datasets::Dataset;
use nmf::prelude::*;
use nmf::{AlphaH, metrics};
use serde_json::json;

use crate::draw::{self, Canvas};

/// Arguments of `grid-search`.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// `swimmer` (built in, the default), `olivetti`, or a .npy/.csv file.
    #[arg(long, default_value = "swimmer")]
    pub dataset: String,
    /// Folder holding olivetti_faces.npy (default: $NMF_DATA_HOME, else ../shared/data).
    #[arg(long, env = "NMF_DATA_HOME")]
    pub data_home: Option<PathBuf>,
    /// Solvers, comma-separated: cd, mu, pg.
    #[arg(long, value_delimiter = ',', default_value = "cd,mu")]
    pub solver: Vec<String>,
    /// Number of components (default: 17 for swimmer, 50 otherwise).
    #[arg(short = 'k', long)]
    pub components: Option<usize>,
    /// alpha_W values: a list (0,0.1,1) or start:stop:step.
    #[arg(long, default_value = "0:1:0.1")]
    pub alpha_w: String,
    /// l1_ratio values: a list or start:stop:step, each in [0, 1].
    #[arg(long, default_value = "0:1:0.1")]
    pub l1_ratio: String,
    /// alpha_H: a number or `same`.
    #[arg(long, default_value = "0")]
    pub alpha_h: String,
    /// Basis sparseness targets of the pg rows (list or start:stop:step).
    #[arg(long, default_value = "0.3,0.5,0.7,0.9")]
    pub pg_sparseness: String,
    /// Loss: frobenius, kullback-leibler, itakura-saito or a number (mu only for non-Frobenius).
    #[arg(long, default_value = "frobenius")]
    pub loss: String,
    /// Initialisation: nndsvda, nndsvd, nndsvdar, random.
    #[arg(long, default_value = "nndsvda")]
    pub init: String,
    /// Iteration limit of each fit.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Stopping tolerance (scikit-learn's rule of each solver).
    #[arg(long, default_value_t = 1e-4)]
    pub tol: f64,
    /// Seed of the initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Grid points fitted at once (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "target/grid-search")]
    pub out: PathBuf,
    /// Fit each l1_ratio's alpha_W values in increasing order, each point starting from the
    /// previous point's factors (the chains run in parallel). Each point is then the optimum
    /// reached from its neighbour on the regularisation path rather than from the shared init,
    /// and usually needs far fewer iterations. A resumed chain restarts from the shared init.
    #[arg(long)]
    pub warm_start: bool,
    /// Continue an interrupted run in --out: finished points are skipped.
    #[arg(long)]
    pub resume: bool,
    /// Instead of the grid: for each l1_ratio, the smallest alpha reaching this mean basis
    /// sparseness (bracketing and bisection with warm starts).
    #[arg(long)]
    pub target_sparseness: Option<f64>,
}

/// One grid point.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    solver: SolverKind,
    alpha_w: f64,
    alpha_h: AlphaH,
    l1_ratio: f64,
    target: Option<f64>,
}

impl Point {
    fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.solver,
            self.alpha_w,
            self.alpha_h,
            self.l1_ratio,
            self.target.map_or("-".into(), |t| t.to_string())
        )
    }
}

/// A finished point.
#[derive(Clone, Debug)]
struct Row {
    point: Point,
    n_iter: usize,
    stop: String,
    err: f64,
    objective: f64,
    h_sp: metrics::sparseness::Summary,
    w_sp_mean: f64,
    w_zero: f64,
    h_zero: f64,
    collapsed: bool,
    seconds: f64,
}

const HEADER: &str = "solver,loss,k,alpha_w,alpha_h,l1_ratio,h_sparseness_target,n_iter,stop_reason,reconstruction_err,objective,basis_sparseness_mean,basis_sparseness_median,basis_sparseness_min,basis_sparseness_max,w_sparseness_mean,w_zero_fraction,h_zero_fraction,collapsed,seconds";

/// Validated settings.
struct Plan {
    data: Dataset,
    k: usize,
    loss: Loss,
    init: Init<f32>,
    alpha_w: Vec<f64>,
    l1_ratio: Vec<f64>,
    alpha_h: AlphaH,
    pg_targets: Vec<f64>,
    solvers: Vec<SolverKind>,
    hash: String,
}

/// Parses `a,b,c` or `start:stop:step` (inclusive, rounded to 12 decimals against drift).
pub fn parse_values(name: &str, s: &str) -> Result<Vec<f64>> {
    let num = |t: &str| -> Result<f64> {
        let v: f64 = t
            .trim()
            .parse()
            .map_err(|_| anyhow!("{name}: {t:?} is not a number"))?;
        if !v.is_finite() {
            bail!("{name}: {t:?} is not finite");
        }
        Ok(v)
    };
    let round = |v: f64| (v * 1e12).round() / 1e12;
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 3 {
            bail!("{name}: expected start:stop:step, got {s:?}");
        }
        let (a, b, st) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
        if st <= 0.0 || b < a {
            bail!("{name}: {s:?} needs step > 0 and stop >= start");
        }
        let n = ((b - a) / st + 1e-9).floor() as usize;
        if n > 10_000 {
            bail!("{name}: {s:?} gives more than 10000 values");
        }
        return Ok((0..=n).map(|i| round(a + i as f64 * st)).collect());
    }
    let v: Vec<f64> = s
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(num)
        .collect::<Result<_>>()?;
    if v.is_empty() {
        bail!("{name}: no values given");
    }
    Ok(v)
}

fn plan(a: &Args) -> Result<Plan> {
    let solvers: Vec<SolverKind> = a
        .solver
        .iter()
        .map(|s| match s.trim() {
            "cd" => Ok(SolverKind::Cd),
            "mu" => Ok(SolverKind::Mu),
            "pg" => Ok(SolverKind::ProjectedGradient),
            o => Err(anyhow!("--solver: unknown solver {o:?} (cd, mu, pg)")),
        })
        .collect::<Result<_>>()?;
    if solvers.is_empty() {
        bail!("--solver: give at least one of cd, mu, pg");
    }
    let alpha_w = parse_values("--alpha-w", &a.alpha_w)?;
    if let Some(v) = alpha_w.iter().find(|v| **v < 0.0) {
        bail!("--alpha-w: {v} is negative; alphas must be >= 0");
    }
    let l1_ratio = parse_values("--l1-ratio", &a.l1_ratio)?;
    if let Some(v) = l1_ratio.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        bail!("--l1-ratio: {v} is outside [0, 1]");
    }
    let alpha_h = match a.alpha_h.trim() {
        "same" => AlphaH::Same,
        t => {
            let v: f64 = t
                .parse()
                .map_err(|_| anyhow!("--alpha-h: {t:?} is neither a number nor `same`"))?;
            if !(v >= 0.0 && v.is_finite()) {
                bail!("--alpha-h: {v} must be a finite number >= 0");
            }
            AlphaH::Value(v)
        }
    };
    let pg_targets = parse_values("--pg-sparseness", &a.pg_sparseness)?;
    if let Some(v) = pg_targets.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        bail!("--pg-sparseness: {v} is outside [0, 1]");
    }
    let loss: Loss = a.loss.parse().map_err(|e| anyhow!("--loss: {e}"))?;
    if loss != Loss::Frobenius && solvers.iter().any(|s| *s != SolverKind::Mu) {
        bail!("--loss {loss}: only the mu solver handles non-Frobenius losses");
    }
    let init = match a.init.as_str() {
        "nndsvda" => Init::NndsvdA,
        "nndsvd" => Init::Nndsvd,
        "nndsvdar" => Init::NndsvdAr,
        "random" => Init::Random,
        o => bail!("--init: unknown initialisation {o:?} (nndsvda, nndsvd, nndsvdar, random)"),
    };
    if a.max_iter == 0 {
        bail!("--max-iter must be at least 1");
    }
    if !(a.tol >= 0.0 && a.tol.is_finite()) {
        bail!("--tol must be a finite number >= 0");
    }
    if a.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    if let Some(s) = a.target_sparseness
        && !(0.0..=1.0).contains(&s)
    {
        bail!("--target-sparseness {s} is outside [0, 1]");
    }
    let data = match a.dataset.as_str() {
        "swimmer" | "olivetti" => nmf::datasets::load(&a.dataset, a.data_home.as_deref())?,
        p if Path::new(p).exists() => nmf::datasets::load(p, None)?,
        p => bail!("--dataset: {p:?} is neither swimmer, olivetti nor an existing .npy/.csv file"),
    };
    let k = a
        .components
        .unwrap_or(if data.name == "swimmer" { 17 } else { 50 });
    let (n, m) = data.x.shape();
    if k == 0 {
        bail!("-k must be at least 1");
    }
    if k > n.min(m) && !matches!(init, Init::Random) {
        bail!(
            "-k {k} exceeds min(n_samples, n_features) = {}: use --init random",
            n.min(m)
        );
    }
    nmf::check::ensure_data("X", data.x.as_ref()).map_err(|e| anyhow!("--dataset: {e}"))?;
    let hash = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update((n as u64).to_le_bytes());
        h.update((m as u64).to_le_bytes());
        for i in 0..n {
            for j in 0..m {
                h.update(data.x[(i, j)].to_le_bytes());
            }
        }
        h.finalize().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    Ok(Plan {
        data,
        k,
        loss,
        init,
        alpha_w,
        l1_ratio,
        alpha_h,
        pg_targets,
        solvers,
        hash,
    })
}

fn points(p: &Plan) -> Vec<Point> {
    let mut out = Vec::new();
    for &solver in &p.solvers {
        if solver == SolverKind::ProjectedGradient {
            for &t in &p.pg_targets {
                out.push(Point {
                    solver,
                    alpha_w: 0.0,
                    alpha_h: AlphaH::Value(0.0),
                    l1_ratio: 0.0,
                    target: Some(t),
                });
            }
        } else {
            for &aw in &p.alpha_w {
                for &l1 in &p.l1_ratio {
                    out.push(Point {
                        solver,
                        alpha_w: aw,
                        alpha_h: p.alpha_h,
                        l1_ratio: l1,
                        target: None,
                    });
                }
            }
        }
    }
    out
}

/// Warm-start chains: the points sharing solver, alpha_H, l1_ratio and target, by increasing
/// alpha_W (the order in which sparser solutions grow out of denser ones).
fn chains(todo: &[Point]) -> Vec<Vec<Point>> {
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
fn config_json(a: &Args, p: &Plan) -> serde_json::Value {
    json!({
        "dataset": p.data.name, "dataset_sha256": p.hash, "shape": [p.data.x.nrows(), p.data.x.ncols()],
        "k": p.k, "solvers": p.solvers.iter().map(|s| s.name()).collect::<Vec<_>>(),
        "loss": p.loss.to_string(), "init": a.init, "alpha_w": p.alpha_w, "l1_ratio": p.l1_ratio,
        "alpha_h": p.alpha_h.to_string(), "pg_sparseness": p.pg_targets, "max_iter": a.max_iter,
        "tol": a.tol, "seed": a.seed, "warm_start": a.warm_start,
    })
}

fn fit_point(
    x: MatRef<'_, f32>,
    p: &Plan,
    a: &Args,
    w0: &Mat<f32>,
    h0: &Mat<f32>,
    pt: &Point,
) -> Result<(Row, Mat<f32>, Mat<f32>)> {
    let start = Instant::now();
    let mut params = Nmf::params::<f32>(p.k)
        .solver(pt.solver)
        .loss(p.loss)
        .init(Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        })
        .max_iter(a.max_iter)
        .tol(a.tol)
        .seed(a.seed)
        .trace_every(0)
        .par(Par::Seq);
    if let Some(t) = pt.target {
        params = params.h_sparseness(t);
    } else {
        params = params
            .alpha_w(pt.alpha_w)
            .alpha_h(pt.alpha_h)
            .l1_ratio(pt.l1_ratio);
    }
    let model = params.fit(x)?;
    let (w, h) = (model.w(), model.h());
    let h_rows = metrics::sparseness::rows(h);
    let h_sp = metrics::sparseness::summary(&h_rows).context("no components")?;
    let w_cols = metrics::sparseness::cols(w);
    let zero_frac = |f: MatRef<'_, f32>| {
        let mut mx = 0.0f32;
        f.for_each(|&v| mx = mx.max(v));
        let mut z = 0usize;
        f.for_each(|&v| z += usize::from(v <= 1e-12 * mx || v == 0.0));
        z as f64 / (f.nrows() * f.ncols()) as f64
    };
    // Collapsed: the fit died — W·H is negligible next to X, or every component is dead.
    let wh = {
        let wtw = w.transpose() * w;
        let hht = h * h.transpose();
        nmf::kernels::frobenius_inner(wtw.as_ref(), hht.as_ref())
            .unwrap_or(0.0)
            .max(0.0)
            .sqrt()
    };
    let xn = nmf::kernels::squared_norm(x).sqrt();
    let all_dead =
        (0..p.k).all(|t| w.col(t).iter().all(|&v| v == 0.0) || h.row(t).iter().all(|&v| v == 0.0));
    let r = model.report();
    let row = Row {
        point: pt.clone(),
        n_iter: r.n_iter,
        stop: r.stop_reason.to_string(),
        err: r.reconstruction_err,
        objective: r.objective,
        h_sp,
        w_sp_mean: w_cols.iter().sum::<f64>() / w_cols.len() as f64,
        w_zero: zero_frac(w),
        h_zero: zero_frac(h),
        collapsed: wh < 1e-3 * xn || all_dead,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((row, model.w().to_owned(), model.h().to_owned()))
}

fn csv_line(r: &Row, p: &Plan) -> String {
    let pt = &r.point;
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6}\n",
        pt.solver,
        p.loss,
        p.k,
        pt.alpha_w,
        pt.alpha_h,
        pt.l1_ratio,
        pt.target.map_or(String::new(), |t| t.to_string()),
        r.n_iter,
        r.stop,
        r.err,
        r.objective,
        r.h_sp.mean,
        r.h_sp.median,
        r.h_sp.min,
        r.h_sp.max,
        r.w_sp_mean,
        r.w_zero,
        r.h_zero,
        r.collapsed,
        r.seconds
    )
}

fn parse_row(line: &str) -> Option<Row> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 20 {
        return None;
    }
    let num = |i: usize| f[i].parse::<f64>().ok();
    let solver: SolverKind = f[0].parse().ok()?;
    let alpha_h = if f[4] == "same" {
        AlphaH::Same
    } else {
        AlphaH::Value(num(4)?)
    };
    let point = Point {
        solver,
        alpha_w: num(3)?,
        alpha_h,
        l1_ratio: num(5)?,
        target: if f[6].is_empty() { None } else { Some(num(6)?) },
    };
    Some(Row {
        point,
        n_iter: f[7].parse().ok()?,
        stop: f[8].to_string(),
        err: num(9)?,
        objective: num(10)?,
        h_sp: metrics::sparseness::Summary {
            mean: num(11)?,
            median: num(12)?,
            min: num(13)?,
            max: num(14)?,
            histogram: [0; 10],
        },
        w_sp_mean: num(15)?,
        w_zero: num(16)?,
        h_zero: num(17)?,
        collapsed: f[18] == "true",
        seconds: num(19)?,
    })
}

/// Reads finished rows of an interrupted run, dropping a torn last line (a kill mid-write).
fn read_finished(path: &Path) -> Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    if complete.len() != text.len() {
        std::fs::write(path, complete).with_context(|| format!("repairing {}", path.display()))?;
    }
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for line in complete.lines().skip(1) {
        if let Some(r) = parse_row(line)
            && seen.insert(r.point.key())
        {
            rows.push(r);
        }
    }
    Ok(rows)
}

pub fn run(a: Args) -> Result<()> {
    let plan = plan(&a)?;
    if let Some(s) = a.target_sparseness {
        return target_search(&a, &plan, s);
    }
    let started = Instant::now();
    let start_time = std::time::SystemTime::now();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let config = config_json(&a, &plan);
    let config_path = a.out.join("grid.json");
    let results_path = a.out.join("results.csv");
    let mut done: Vec<Row> = Vec::new();
    if results_path.exists() || config_path.exists() {
        if !a.resume {
            bail!(
                "{} already holds a grid search: pass --resume to continue it, or choose another --out",
                a.out.display()
            );
        }
        let old: serde_json::Value = std::fs::read_to_string(&config_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| {
                anyhow!(
                    "{} has results but no readable grid.json: refusing to mix runs",
                    a.out.display()
                )
            })?;
        if old != config {
            bail!(
                "{} holds a grid search with a different configuration: refusing to mix results (use another --out)",
                a.out.display()
            );
        }
        if results_path.exists() {
            done = read_finished(&results_path)?;
        }
    }
    std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)?;
    if !results_path.exists() {
        std::fs::write(&results_path, format!("{HEADER}\n"))?;
    }
    let all = points(&plan);
    let finished: HashSet<String> = done.iter().map(|r| r.point.key()).collect();
    let todo: Vec<Point> = all
        .iter()
        .filter(|p| !finished.contains(&p.key()))
        .cloned()
        .collect();
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let x = plan.data.x.as_ref();
    eprintln!(
        "grid-search: {} ({} x {}), k = {}, {} points ({} already done), {} job(s), output {}",
        plan.data.name,
        x.nrows(),
        x.ncols(),
        plan.k,
        all.len(),
        all.len() - todo.len(),
        jobs,
        a.out.display()
    );
    // One initialisation shared by every point.
    let init = nmf::init::initialize(
        x,
        plan.k,
        &plan.init,
        a.seed,
        Compat::Native,
        Par::rayon(jobs),
    )?;
    let (w0, h0) = (init.w, init.h);
    let pb = indicatif::ProgressBar::new(all.len() as u64);
    let tty = std::io::stderr().is_terminal();
    if tty {
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} points, {elapsed} elapsed, ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.set_position((all.len() - todo.len()) as u64);
    } else {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&results_path)?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<Row>>();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let total = all.len();
    let mut count = total - todo.len();
    let mut first_err = None;
    std::thread::scope(|s| {
        s.spawn(|| {
            use rayon::prelude::*;
            pool.install(|| {
                if a.warm_start {
                    chains(&todo).par_iter().for_each_with(tx, |tx, chain| {
                        let mut start = (w0.clone(), h0.clone());
                        for pt in chain {
                            match fit_point(x, &plan, &a, &start.0, &start.1, pt) {
                                Ok((r, w, h)) => {
                                    start = (w, h);
                                    let _ = tx.send(Ok(r));
                                }
                                Err(e) => {
                                    let _ = tx.send(Err(e));
                                    return;
                                }
                            }
                        }
                    });
                } else {
                    todo.par_iter().for_each_with(tx, |tx, pt| {
                        let _ = tx.send(fit_point(x, &plan, &a, &w0, &h0, pt).map(|(r, _, _)| r));
                    });
                }
            });
        });
        // The writer: one flushed line per finished point, so a kill loses nothing.
        for res in rx {
            match res {
                Ok(row) => {
                    let line = csv_line(&row, &plan);
                    if let Err(e) = file.write_all(line.as_bytes()).and_then(|_| file.flush()) {
                        first_err.get_or_insert(anyhow!(e));
                    }
                    count += 1;
                    let msg = format!(
                        "{} alpha_w={} l1={}{} err={:.4} basis sparseness={:.3}{}",
                        row.point.solver,
                        row.point.alpha_w,
                        row.point.l1_ratio,
                        row.point
                            .target
                            .map_or(String::new(), |t| format!(" target={t}")),
                        row.err,
                        row.h_sp.mean,
                        if row.collapsed { " (collapsed)" } else { "" }
                    );
                    if tty {
                        pb.set_position(count as u64);
                        pb.set_message(msg);
                    } else {
                        eprintln!("[{count}/{total}] {msg}");
                    }
                    done.push(row);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
    });
    pb.finish_and_clear();
    if let Some(e) = first_err {
        return Err(e);
    }
    let total_seconds = started.elapsed().as_secs_f64();
    let end_time = std::time::SystemTime::now();
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let summary = json!({
        "version": env!("CARGO_PKG_VERSION"), "config": config, "threads": jobs,
        "start_unix": secs(start_time), "end_unix": secs(end_time), "total_seconds": total_seconds,
        "points": total, "init": { "kind": init.report.kind.name(), "seconds": init.report.seconds },
    });
    std::fs::write(
        a.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    let pictures = report(&a, &plan, &done, &w0, &h0)?;
    eprintln!(
        "done: {} points in {:.1} s; wrote {} and {} pictures; open {}",
        total,
        total_seconds,
        results_path.display(),
        pictures,
        a.out.join("report.html").display()
    );
    Ok(())
}

/// Points on the sparseness-vs-error Pareto front (max sparseness, min error), by error.
fn pareto(rows: &[&Row]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&a, &b| {
        rows[a]
            .err
            .total_cmp(&rows[b].err)
            .then(rows[b].h_sp.mean.total_cmp(&rows[a].h_sp.mean))
    });
    let mut front = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for i in idx {
        if rows[i].h_sp.mean > best {
            best = rows[i].h_sp.mean;
            front.push(i);
        }
    }
    front
}

fn report(a: &Args, plan: &Plan, rows: &[Row], w0: &Mat<f32>, h0: &Mat<f32>) -> Result<usize> {
    let out = &a.out;
    let mut pictures = 0;
    let mut html = String::new();
    let alive: Vec<&Row> = rows.iter().filter(|r| !r.collapsed).collect();
    let _ = writeln!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>nmf-rs grid search</title><style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}img{{image-rendering:pixelated;margin:4px;border:1px solid #ddd}}.dead{{color:#999}}</style></head><body>"
    );
    let _ = writeln!(
        html,
        "<h1>Grid search: {} ({} x {}), k = {}</h1><p>loss {}, init {}, max_iter {}, tol {}, seed {}, alpha_H {}. {} points, {} collapsed (a factor driven to zero; greyed out and excluded from the choices below). Raw data: <a href=\"results.csv\">results.csv</a>, manifest: <a href=\"summary.json\">summary.json</a>.</p>",
        plan.data.name,
        plan.data.x.nrows(),
        plan.data.x.ncols(),
        plan.k,
        plan.loss,
        a.init,
        a.max_iter,
        a.tol,
        a.seed,
        plan.alpha_h,
        rows.len(),
        rows.len() - alive.len()
    );
    // Heatmaps per solver over alpha_W (rows) x l1_ratio (columns).
    for &solver in plan
        .solvers
        .iter()
        .filter(|s| **s != SolverKind::ProjectedGradient)
    {
        let find = |aw: f64, l1: f64| {
            rows.iter().find(|r| {
                r.point.solver == solver && r.point.alpha_w == aw && r.point.l1_ratio == l1
            })
        };
        for (what, label) in [
            ("sparseness", "mean basis sparseness"),
            ("error", "reconstruction error"),
        ] {
            let vals: Vec<Option<(f64, bool)>> = plan
                .alpha_w
                .iter()
                .flat_map(|&aw| plan.l1_ratio.iter().map(move |&l1| (aw, l1)))
                .map(|(aw, l1)| {
                    find(aw, l1).map(|r| {
                        (
                            if what == "sparseness" {
                                r.h_sp.mean
                            } else {
                                r.err
                            },
                            r.collapsed,
                        )
                    })
                })
                .collect();
            let name = format!("heatmap_{what}_{solver}.png");
            heatmap(
                &out.join(&name),
                &vals,
                plan.alpha_w.len(),
                plan.l1_ratio.len(),
                &plan.alpha_w,
                &plan.l1_ratio,
            )?;
            pictures += 1;
            let (lo, hi) = live_range(&vals);
            let _ = writeln!(
                html,
                "<h3>{solver}: {label}</h3><p>rows: alpha_W (top = {}), columns: l1_ratio (left = {}); colour from {} (dark) to {} (yellow); grey = collapsed.</p><img src=\"{name}\">",
                plan.alpha_w[0],
                plan.l1_ratio[0],
                draw::fmt_num(lo),
                draw::fmt_num(hi)
            );
        }
    }
    // The chosen points.
    let mut chosen: Vec<(&str, &Row)> = Vec::new();
    if let Some(r) = alive
        .iter()
        .max_by(|a, b| a.h_sp.mean.total_cmp(&b.h_sp.mean))
    {
        chosen.push(("sparsest", r));
    }
    if let Some(r) = rows.iter().find(|r| {
        r.point.alpha_w == 0.0
            && r.point.target.is_none()
            && matches!(r.point.alpha_h, AlphaH::Value(v) if v == 0.0)
            || (r.point.alpha_w == 0.0
                && r.point.target.is_none()
                && r.point.alpha_h == AlphaH::Same)
    }) {
        chosen.push(("unregularised", r));
    }
    let front = pareto(&alive);
    if !front.is_empty() {
        let (el, eh) = alive.iter().fold((f64::MAX, f64::MIN), |(l, h), r| {
            (l.min(r.err), h.max(r.err))
        });
        let (sl, sh) = alive.iter().fold((f64::MAX, f64::MIN), |(l, h), r| {
            (l.min(r.h_sp.mean), h.max(r.h_sp.mean))
        });
        let norm = |v: f64, l: f64, h: f64| if h > l { (v - l) / (h - l) } else { 0.0 };
        // The knee: the front point with the best sparseness gained per error paid.
        let best = front
            .iter()
            .copied()
            .max_by(|&i, &j| {
                let s = |r: &Row| norm(r.h_sp.mean, sl, sh) - norm(r.err, el, eh);
                s(alive[i]).total_cmp(&s(alive[j]))
            })
            .unwrap_or(front[0]);
        chosen.push(("pareto_best", alive[best]));
        pareto_plot(&out.join("pareto.png"), &alive, &front)?;
        pictures += 1;
        let _ = writeln!(
            html,
            "<h2>Sparseness vs error</h2><p>Every live point (blue), the Pareto front (red): error on the x axis (from {} to {}), mean basis sparseness on the y axis (from {} to {}).</p><img src=\"pareto.png\">",
            draw::fmt_num(el),
            draw::fmt_num(eh),
            draw::fmt_num(sl),
            draw::fmt_num(sh)
        );
    }
    let _ = writeln!(
        html,
        "<h2>Chosen points</h2><table><tr><th>point</th><th>solver</th><th>alpha_W</th><th>alpha_H</th><th>l1_ratio</th><th>pg target</th><th>error</th><th>basis sparseness mean/min/max</th><th>scikit-learn</th></tr>"
    );
    let mut hists = Vec::new();
    for (label, r) in &chosen {
        let (_, _, h) = fit_point(plan.data.x.as_ref(), plan, a, w0, h0, &r.point)?;
        let sp = metrics::sparseness::rows(h.as_ref());
        if let Some((ih, iw)) = plan.data.image_shape {
            let name = format!("gallery_{label}.png");
            gallery(&out.join(&name), h.as_ref(), ih, iw, &sp)?;
            pictures += 1;
            let _ = writeln!(html, "<!-- gallery {label} -->");
        }
        hists.push(sp);
        let sk = match r.point.target {
            Some(_) => "(no equivalent: Hoyer's constraint)".to_string(),
            None => format!(
                "NMF(n_components={}, solver=\"{}\", alpha_W={}, alpha_H={}, l1_ratio={}, init=\"{}\", max_iter={}, tol={})",
                plan.k,
                r.point.solver,
                r.point.alpha_w,
                match r.point.alpha_h {
                    AlphaH::Same => "\"same\"".into(),
                    AlphaH::Value(v) => v.to_string(),
                },
                r.point.l1_ratio,
                a.init,
                a.max_iter,
                a.tol
            ),
        };
        let _ = writeln!(
            html,
            "<tr><td>{label}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.3} / {:.3} / {:.3}</td><td style=\"text-align:left\"><code>{sk}</code></td></tr>",
            r.point.solver,
            r.point.alpha_w,
            r.point.alpha_h,
            r.point.l1_ratio,
            r.point.target.map_or("-".into(), |t| t.to_string()),
            r.err,
            r.h_sp.mean,
            r.h_sp.min,
            r.h_sp.max
        );
    }
    let _ = writeln!(html, "</table>");
    if plan.data.image_shape.is_some() {
        for (label, _) in &chosen {
            let _ = writeln!(
                html,
                "<h3>Basis images: {label}</h3><p>Rows of H as images, each scaled to its own range; its sparseness under it.</p><img src=\"gallery_{label}.png\">"
            );
        }
    }
    if !hists.is_empty() {
        histogram(&out.join("histogram.png"), &hists)?;
        pictures += 1;
        let names: Vec<&str> = chosen.iter().map(|c| c.0).collect();
        let _ = writeln!(
            html,
            "<h3>Per-component sparseness</h3><p>Histogram over 10 bins from 0 to 1; bars per point: {} (blue, orange, green).</p><img src=\"histogram.png\">",
            names.join(", ")
        );
    }
    // All rows.
    let _ = writeln!(
        html,
        "<h2>All points</h2><table><tr><th>solver</th><th>alpha_W</th><th>alpha_H</th><th>l1_ratio</th><th>pg target</th><th>n_iter</th><th>stop</th><th>error</th><th>sparseness mean</th><th>min</th><th>max</th><th>W sparseness</th><th>zeros W</th><th>zeros H</th><th>seconds</th></tr>"
    );
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        (
            a.point.solver.name(),
            a.point.alpha_w,
            a.point.l1_ratio,
            a.point.target.unwrap_or(0.0),
        )
            .partial_cmp(&(
                b.point.solver.name(),
                b.point.alpha_w,
                b.point.l1_ratio,
                b.point.target.unwrap_or(0.0),
            ))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for r in sorted {
        let _ = writeln!(
            html,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            if r.collapsed { " class=\"dead\"" } else { "" },
            r.point.solver,
            r.point.alpha_w,
            r.point.alpha_h,
            r.point.l1_ratio,
            r.point.target.map_or("-".into(), |t| t.to_string()),
            r.n_iter,
            r.stop,
            r.err,
            r.h_sp.mean,
            r.h_sp.min,
            r.h_sp.max,
            r.w_sp_mean,
            r.w_zero,
            r.h_zero,
            r.seconds
        );
    }
    let _ = writeln!(html, "</table></body></html>");
    std::fs::write(out.join("report.html"), html)?;
    Ok(pictures)
}

const CELL: i64 = 28;

/// Range of the values of the points that did not collapse.
fn live_range(vals: &[Option<(f64, bool)>]) -> (f64, f64) {
    vals.iter()
        .flatten()
        .filter(|v| !v.1)
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v.0), h.max(v.0)))
}

/// (W, H).
type Factors = (Mat<f32>, Mat<f32>);

fn heatmap(
    path: &Path,
    vals: &[Option<(f64, bool)>],
    rows: usize,
    cols: usize,
    ylab: &[f64],
    xlab: &[f64],
) -> Result<()> {
    let left = 44;
    let bottom = 20;
    let mut c = Canvas::new(
        (left + CELL * cols as i64 + 8) as usize,
        (CELL * rows as i64 + bottom + 8) as usize,
    );
    let (lo, hi) = live_range(vals);
    for r in 0..rows {
        for q in 0..cols {
            let color = match vals[r * cols + q] {
                Some((_, true)) => draw::GREY,
                Some((v, false)) => draw::viridis(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }),
                None => draw::WHITE,
            };
            c.rect(
                left + q as i64 * CELL,
                4 + r as i64 * CELL,
                CELL - 1,
                CELL - 1,
                color,
            );
        }
        let t = draw::fmt_num(ylab[r]);
        c.text(
            left - 4 - draw::text_width(&t, 2),
            4 + r as i64 * CELL + 8,
            &t,
            2,
            draw::BLACK,
        );
    }
    for (q, v) in xlab.iter().enumerate() {
        if cols <= 12 || q % 2 == 0 {
            let t = draw::fmt_num(*v);
            c.text(
                left + q as i64 * CELL + 2,
                8 + rows as i64 * CELL,
                &t,
                1,
                draw::BLACK,
            );
        }
    }
    c.save(path)
}

fn gallery(path: &Path, h: MatRef<'_, f32>, ih: usize, iw: usize, sp: &[f64]) -> Result<()> {
    let k = h.nrows();
    let cols = (k as f64).sqrt().ceil() as usize;
    let rows = k.div_ceil(cols);
    let scale = if ih <= 32 { 3 } else { 1 };
    let (tw, th) = ((iw * scale) as i64, (ih * scale) as i64);
    let cap = 14;
    let mut c = Canvas::new(
        cols * (tw as usize + 6) + 6,
        rows * (th as usize + cap + 6) + 6,
    );
    for t in 0..k {
        let (gx, gy) = (
            6 + (t % cols) as i64 * (tw + 6),
            6 + (t / cols) as i64 * (th + cap as i64 + 6),
        );
        let (mut lo, mut hi) = (f32::MAX, f32::MIN);
        h.row(t).iter().for_each(|&v| {
            lo = lo.min(v);
            hi = hi.max(v);
        });
        for y in 0..ih {
            for x in 0..iw {
                let v = h[(t, y * iw + x)];
                let g = if hi > lo {
                    ((v - lo) / (hi - lo) * 255.0) as u8
                } else {
                    0
                };
                c.rect(
                    gx + (x * scale) as i64,
                    gy + (y * scale) as i64,
                    scale as i64,
                    scale as i64,
                    [g, g, g],
                );
            }
        }
        let label = format!("{:.2}", sp[t]);
        c.text(
            gx + (tw - draw::text_width(&label, 2)) / 2,
            gy + th + 3,
            &label,
            2,
            draw::BLACK,
        );
    }
    c.save(path)
}

fn pareto_plot(path: &Path, rows: &[&Row], front: &[usize]) -> Result<()> {
    let (w, h, m) = (420i64, 300i64, 30i64);
    let mut c = Canvas::new(w as usize, h as usize);
    let (el, eh) = rows.iter().fold((f64::MAX, f64::MIN), |(l, u), r| {
        (l.min(r.err), u.max(r.err))
    });
    let (sl, sh) = rows.iter().fold((f64::MAX, f64::MIN), |(l, u), r| {
        (l.min(r.h_sp.mean), u.max(r.h_sp.mean))
    });
    let px = |e: f64| {
        m + if eh > el {
            ((e - el) / (eh - el) * (w - 2 * m) as f64) as i64
        } else {
            (w - 2 * m) / 2
        }
    };
    let py = |s: f64| {
        h - m
            - if sh > sl {
                ((s - sl) / (sh - sl) * (h - 2 * m) as f64) as i64
            } else {
                (h - 2 * m) / 2
            }
    };
    c.line(m, h - m, w - m, h - m, draw::BLACK);
    c.line(m, m, m, h - m, draw::BLACK);
    for r in rows {
        c.rect(px(r.err) - 1, py(r.h_sp.mean) - 1, 3, 3, draw::BLUE);
    }
    for win in front.windows(2) {
        let (a, b) = (rows[win[0]], rows[win[1]]);
        c.line(
            px(a.err),
            py(a.h_sp.mean),
            px(b.err),
            py(b.h_sp.mean),
            draw::RED,
        );
    }
    for &i in front {
        c.rect(
            px(rows[i].err) - 2,
            py(rows[i].h_sp.mean) - 2,
            5,
            5,
            draw::RED,
        );
    }
    c.text(m, h - m + 6, &draw::fmt_num(el), 2, draw::BLACK);
    let t = draw::fmt_num(eh);
    c.text(
        w - m - draw::text_width(&t, 2),
        h - m + 6,
        &t,
        2,
        draw::BLACK,
    );
    c.text(2, m - 12, &draw::fmt_num(sh), 2, draw::BLACK);
    c.text(2, h - m - 12, &draw::fmt_num(sl), 2, draw::BLACK);
    c.save(path)
}

fn histogram(path: &Path, sets: &[Vec<f64>]) -> Result<()> {
    let (w, h, m) = (420i64, 220i64, 24i64);
    let mut c = Canvas::new(w as usize, h as usize);
    let colors = [draw::BLUE, draw::ORANGE, draw::GREEN];
    let counts: Vec<[usize; 10]> = sets
        .iter()
        .map(|s| metrics::sparseness::summary(s).map_or([0; 10], |x| x.histogram))
        .collect();
    let max = counts
        .iter()
        .flat_map(|c| c.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let bw = (w - 2 * m) / 10;
    let sub = (bw - 4) / sets.len().max(1) as i64;
    for (si, cnt) in counts.iter().enumerate() {
        for (b, &n) in cnt.iter().enumerate() {
            let bh = (n as f64 / max as f64 * (h - 2 * m) as f64) as i64;
            c.rect(
                m + b as i64 * bw + 2 + si as i64 * sub,
                h - m - bh,
                sub.max(1),
                bh,
                colors[si % 3],
            );
        }
    }
    c.line(m, h - m, w - m, h - m, draw::BLACK);
    c.text(m, h - m + 6, "0", 2, draw::BLACK);
    c.text(w - m - 8, h - m + 6, "1", 2, draw::BLACK);
    c.text(2, m - 14, &max.to_string(), 2, draw::BLACK);
    c.save(path)
}

/// `--target-sparseness S`: for each l1_ratio, the smallest alpha_W (alpha_H as given) whose fit
/// reaches mean basis sparseness S, by bracketing (x4) then 12 bisection steps, each fit
/// warm-started along the regularisation path.
fn target_search(a: &Args, plan: &Plan, target: f64) -> Result<()> {
    let solver = *plan
        .solvers
        .iter()
        .find(|s| **s != SolverKind::ProjectedGradient)
        .ok_or_else(|| {
            anyhow!("--target-sparseness needs cd or mu in --solver (pg takes the target directly)")
        })?;
    let x = plan.data.x.as_ref();
    let init = nmf::init::initialize(x, plan.k, &plan.init, a.seed, Compat::Native, Par::Seq)?;
    std::fs::create_dir_all(&a.out)?;
    let mut csv =
        String::from("solver,l1_ratio,alpha,basis_sparseness_mean,reconstruction_err,reached\n");
    println!(
        "smallest alpha reaching mean basis sparseness {target} ({solver}, {}, k = {}):",
        plan.data.name, plan.k
    );
    for &l1 in &plan.l1_ratio {
        // One fit at `alpha` from `start`; returns (mean basis sparseness or NaN if collapsed,
        // error, factors).
        let fit = |alpha: f64, start: &(Mat<f32>, Mat<f32>)| -> Result<(f64, f64, Factors)> {
            let m = Nmf::params::<f32>(plan.k)
                .solver(solver)
                .loss(plan.loss)
                .init(Init::Custom {
                    w: start.0.clone(),
                    h: start.1.clone(),
                })
                .alpha_w(alpha)
                .alpha_h(plan.alpha_h)
                .l1_ratio(l1)
                .max_iter(a.max_iter)
                .tol(a.tol)
                .trace_every(0)
                .fit(x)?;
            let s = metrics::sparseness::rows(m.h());
            let mean = s.iter().sum::<f64>() / s.len() as f64;
            let alive = m.h().norm_l2() > 0.0 && m.w().norm_l2() > 0.0;
            Ok((
                if alive { mean } else { f64::NAN },
                m.report().reconstruction_err,
                (m.w().to_owned(), m.h().to_owned()),
            ))
        };
        // NaN (a collapsed fit) never counts as reaching the target.
        let reached = |s: f64| s >= target;
        // Path following: every trial starts from the solution at the largest alpha known to
        // fall short (`lo`), so the warm starts move along the regularisation path.
        let zero = fit(0.0, &(init.w.clone(), init.h.clone()))?;
        let (mut lo, mut hi) = (0.0f64, 1e-3f64);
        let mut at_lo = zero.2.clone();
        let mut best = (zero.0, zero.1);
        let mut best_alpha = 0.0;
        if !reached(zero.0) {
            let mut r = fit(hi, &at_lo)?;
            while !reached(r.0) && !r.0.is_nan() && hi < 1e3 {
                lo = hi;
                at_lo = r.2;
                hi *= 4.0;
                r = fit(hi, &at_lo)?;
            }
            if !reached(r.0) {
                println!(
                    "  l1_ratio {l1}: not reachable up to alpha {hi} (the fit collapses or saturates)"
                );
                let _ = writeln!(csv, "{solver},{l1},,,,false");
                continue;
            }
            best = (r.0, r.1);
            best_alpha = hi;
            for _ in 0..12 {
                let mid = 0.5 * (lo + hi);
                let r = fit(mid, &at_lo)?;
                if reached(r.0) {
                    hi = mid;
                    best = (r.0, r.1);
                    best_alpha = mid;
                } else if r.0.is_nan() {
                    // Collapsed: past the useful range.
                    hi = mid;
                } else {
                    lo = mid;
                    at_lo = r.2;
                }
            }
        }
        let hi = best_alpha;
        println!(
            "  l1_ratio {l1}: alpha {hi:.4e} -> sparseness {:.4}, error {:.4}   scikit-learn: NMF(n_components={}, solver=\"{solver}\", alpha_W={hi:.6e}, alpha_H={}, l1_ratio={l1}, init=\"{}\")",
            best.0,
            best.1,
            plan.k,
            match plan.alpha_h {
                AlphaH::Same => "\"same\"".to_string(),
                AlphaH::Value(v) => v.to_string(),
            },
            a.init
        );
        let _ = writeln!(csv, "{solver},{l1},{hi},{},{},true", best.0, best.1);
    }
    std::fs::write(a.out.join("target_sparseness.csv"), csv)?;
    Ok(())
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
