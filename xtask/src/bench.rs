//! `cargo xtask bench-compare`: our solvers next to scikit-learn's on the same data, start and
//! iteration count, printed as a table and written to `bench.csv` and `bench.json` as each row
//! finishes.
//!
//! Per-iteration times are the fastest of `--repeats` runs on each side (scikit-learn's in one
//! process after an untimed warm-up, then ours), configuration by configuration: this machine is
//! a shared VM, and the minimum is the stable statistic. The roofline fraction is the "achievable"
//! time of one iteration divided by ours: on dense data every product of the iteration timed on
//! this machine in the same run at its exact shape, by our kernels and by NumPy, the faster
//! counting (see [`achievable`]). `--equal-loss` adds the time-to-equal-loss measurement.
//!
//! Sparse data (`--dataset corpus`, the synthetic counts, or a `.npz`/`.mtx` file) is written
//! once with our `.npz` writer and loaded by scipy on the other side, so both sides factorize
//! the same CSR matrix; there the time-to-equal-loss is always measured, against scikit-learn
//! cd's error after 200 iterations (`--equal-loss-iters`), and mu-is is skipped (Itakura-Saito
//! needs X > 0, and a sparse matrix is mostly zeros).

use std::io::Write;
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use faer::{Mat, Par};
use nmf::prelude::*;
use nmf::{DataRef, Float, SparseMat};
use serde::{Deserialize, Serialize};

use nmf_cli::common::{self, DataFileArgs};

/// Arguments of `bench-compare`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    data: DataFileArgs,
    /// Numbers of components, comma-separated.
    #[arg(short = 'k', long, value_delimiter = ',', default_value = "10,50,200")]
    components: Vec<usize>,
    /// Iterations per fit (tol = 0).
    #[arg(long, default_value_t = 30)]
    iters: usize,
    /// Configurations (solver and loss): cd, mu-fro, mu-kl, mu-is (comma-separated; empty for
    /// none).
    // `--solvers` was this flag's name before every command said `--solver`.
    #[arg(
        long,
        alias = "solvers",
        value_delimiter = ',',
        default_value = "cd,mu-fro,mu-kl,mu-is"
    )]
    solver: Vec<String>,
    /// Precision of both sides: f32 or f64 (the data are cast once).
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Timed runs per side and configuration; the fastest counts.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also measure time to scikit-learn cd's error after `--equal-loss-iters` iterations
    /// (k = `--equal-loss-k`); always on for sparse data.
    #[arg(long)]
    equal_loss: bool,
    /// scikit-learn cd's iterations for `--equal-loss` (default: 50, 200 on sparse data).
    #[arg(long)]
    equal_loss_iters: Option<usize>,
    /// Components for `--equal-loss`.
    #[arg(long, default_value_t = 50)]
    equal_loss_k: usize,
    /// cd sweeps per product in our `--equal-loss` run (`NmfParams::inner_sweeps`).
    #[arg(long, default_value_t = 4)]
    equal_loss_sweeps: usize,
    /// Also measure, on the alpha_W x l1_ratio grid of this scikit-learn CSV (written by
    /// `scripts/sklearn_grid.py`, with its `objective` column), our time to reach at every point a
    /// penalised objective at least as good as scikit-learn's: warm starts along alpha_W, each
    /// fit stopped once it gets there. The solver is the CSV's (`--grid-solver`).
    #[arg(long)]
    grid_equal: Option<PathBuf>,
    /// Solver of the `--grid-equal` CSV: cd or mu.
    #[arg(long, default_value = "cd")]
    grid_solver: SolverKind,
    /// Components of the `--grid-equal` grid.
    #[arg(long, default_value_t = 50)]
    grid_k: usize,
    /// Threads for our fits (1 = sequential).
    #[arg(long, default_value = "2")]
    threads: NonZeroUsize,
    /// Python interpreter with scikit-learn (`pip install scikit-learn`).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Where to write bench.csv, bench.json and the shared starting factors.
    #[arg(long, default_value = "target/bench-compare")]
    out: PathBuf,
}

/// One configuration of `--solver`: a solver and a loss.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Config {
    Cd,
    MuFro,
    MuKl,
    MuIs,
}

impl FromStr for Config {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            "cd" => Config::Cd,
            "mu-fro" => Config::MuFro,
            "mu-kl" => Config::MuKl,
            "mu-is" => Config::MuIs,
            other => bail!("--solver: unknown configuration {other:?} (cd, mu-fro, mu-kl, mu-is)"),
        })
    }
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::Cd => "cd",
            Config::MuFro => "mu-fro",
            Config::MuKl => "mu-kl",
            Config::MuIs => "mu-is",
        }
    }

    /// Solver, loss and the offset both sides add to X.
    fn setup(self) -> (SolverKind, Loss, f64) {
        match self {
            Config::Cd => (SolverKind::Cd, Loss::Frobenius, 0.0),
            Config::MuFro => (SolverKind::Mu, Loss::Frobenius, 0.0),
            Config::MuKl => (SolverKind::Mu, Loss::KullbackLeibler, 0.0),
            // Itakura-Saito needs X > 0 (the faces contain a zero): both sides add 1e-3.
            Config::MuIs => (SolverKind::Mu, Loss::ItakuraSaito, 1e-3),
        }
    }
}

#[derive(Serialize)]
struct Row {
    config: String,
    dtype: String,
    k: usize,
    iters: usize,
    sklearn_s_per_iter: f64,
    ours_s_per_iter: f64,
    speedup: f64,
    /// Achievable seconds per iteration (see [`achievable`]) and where the figure comes from
    /// ("measured" on this machine in this run, or "model (nnz)" for sparse data).
    achievable_s_per_iter: f64,
    achievable_source: &'static str,
    /// `achievable / ours`: 1 means at the roofline.
    roofline_fraction: f64,
    sklearn_err: f64,
    ours_err: f64,
}

#[derive(Serialize)]
struct EqualLoss {
    k: usize,
    dtype: String,
    target_err: f64,
    sklearn_cd_iters: usize,
    sklearn_cd_seconds: f64,
    sklearn_mu_seconds: Option<f64>,
    sklearn_mu_iters: usize,
    sklearn_best_seconds: f64,
    ours_config: String,
    ours_iters: usize,
    ours_err: f64,
    ours_seconds: f64,
    speedup: f64,
}

#[derive(Serialize)]
struct GridEqual {
    solver: String,
    k: usize,
    points: usize,
    reached: usize,
    sklearn_seconds: f64,
    ours_seconds: f64,
    speedup: f64,
    ours_iterations: usize,
}

/// The sparse products of one iteration (`X·Hᵀ`, `Xᵀ·W`) timed alone, against the issue's
/// bandwidth target: every stored entry's value and `u32` index read once per product, at the
/// machine's DRAM read rate measured in the run (see [`sparse_products`]).
#[derive(Serialize)]
struct SparseProducts {
    k: usize,
    dtype: String,
    nnz: usize,
    xht_s: f64,
    xtw_s: f64,
    /// `size_of::<T>() + 4`: 12 for f64, 8 for f32.
    bytes_per_entry: usize,
    /// Stream read of a 512 MiB array on the benchmark's threads.
    dram_read_gb_s: f64,
    /// `nnz · bytes_per_entry` per product over the mean of the two times.
    rate_gb_s: f64,
    /// `rate_gb_s / dram_read_gb_s` (the issue asks for 0.6).
    fraction_of_dram: f64,
    /// Counting also the operand row each stored entry gathers (its padded panel row; for
    /// k = 1 the one value of the vector).
    with_gathers_gb_s: f64,
}

#[derive(Serialize, Default)]
struct Results {
    data: String,
    /// Stored entries when the data is sparse.
    nnz: Option<usize>,
    threads: usize,
    repeats: usize,
    rows: Vec<Row>,
    sparse_products: Vec<SparseProducts>,
    equal_loss: Option<EqualLoss>,
    grid_equal: Option<GridEqual>,
}

/// The settings every measurement needs, resolved from the command line.
struct Setup<'a> {
    a: &'a Args,
    /// The file scikit-learn reads (for sparse data, the `.npz` we wrote).
    data: PathBuf,
    par: Par,
}

/// The data matrix of both sides, in the benchmark's precision.
enum Input<T> {
    Dense(Mat<T>),
    Sparse(SparseMat<T>),
}

impl<T: Float> Input<T> {
    fn shape(&self) -> (usize, usize) {
        match self {
            Input::Dense(x) => x.shape(),
            Input::Sparse(x) => x.shape(),
        }
    }

    fn data(&self) -> DataRef<'_, T> {
        match self {
            Input::Dense(x) => x.as_ref().into(),
            Input::Sparse(x) => x.as_ref().into(),
        }
    }

    /// Entries the products touch: every one when dense, the stored ones when sparse.
    fn work(&self) -> usize {
        match self {
            Input::Dense(x) => x.nrows() * x.ncols(),
            Input::Sparse(x) => x.nnz(),
        }
    }
}

/// Reads `--dataset` in precision `T`. Sparse data is written to `OUT/x.npz` with our writer,
/// which is the file scikit-learn then reads: the same canonical CSR matrix on both sides.
fn load<T: Float>(a: &Args) -> Result<(Input<T>, PathBuf)> {
    if !a.data.is_sparse() {
        let path = a.data.path()?;
        return Ok((Input::Dense(nmf::io::read_npy(&path)?), path));
    }
    let x: SparseMat<T> = if a.data.dataset == "corpus" {
        nmf::datasets::corpus().x.map_values(T::from_f64)
    } else {
        common::read_sparse_exact(Path::new(&a.data.dataset))?
    };
    let path = a.out.join("x.npz");
    nmf::io::write_sparse(&path, &x)?;
    Ok((Input::Sparse(x), path))
}

impl Setup<'_> {
    /// One call of `scripts/bench_sklearn.py`, which prints one JSON object.
    fn sklearn(&self, args: &[String]) -> Result<serde_json::Value> {
        let out = crate::python::run(&self.a.python, "bench_sklearn.py", args)?;
        Ok(serde_json::from_str(&out)?)
    }
}

/// One product of an iteration, `count` times: a `rows x inner` matrix by an `inner x cols` one,
/// or (`syrk`) the lower triangle of `a·aᵀ` for a `rows x inner` a.
#[derive(Debug, Clone, Copy)]
struct Product {
    rows: usize,
    inner: usize,
    cols: usize,
    syrk: bool,
    count: usize,
}

impl Product {
    fn flops(&self) -> f64 {
        let (r, s, c) = (self.rows as f64, self.inner as f64, self.cols as f64);
        if self.syrk {
            r * (r + 1.0) * s
        } else {
            2.0 * r * s * c
        }
    }
}

/// The products one iteration of `config` needs on dense n x m data (docs/limits.md 2), the
/// Grams as SYRK.
fn products(config: &str, n: usize, m: usize, k: usize) -> Vec<Product> {
    let p = |rows, inner, cols, count| Product {
        rows,
        inner,
        cols,
        syrk: false,
        count,
    };
    let gram = |rows, inner| Product {
        rows,
        inner,
        cols: rows,
        syrk: true,
        count: 1,
    };
    match config {
        // X·Hᵀ, Wᵀ·X, H·Hᵀ, Wᵀ·W.
        "cd" => vec![p(n, m, k, 1), p(k, n, m, 1), gram(k, m), gram(k, n)],
        // and W·(H·Hᵀ), (Wᵀ·W)·H.
        "mu-fro" => vec![
            p(n, m, k, 1),
            gram(k, m),
            p(n, k, k, 1),
            p(k, n, m, 1),
            gram(k, n),
            p(k, k, m, 1),
        ],
        // W·H before each half-step and one numerator product in each.
        "mu-kl" => vec![p(n, k, m, 2), p(n, m, k, 1), p(k, n, m, 1)],
        // and one denominator product in each.
        _ => vec![p(n, k, m, 2), p(n, m, k, 2), p(k, n, m, 2)],
    }
}

/// Fastest of `repeats` calls of `f` (after two untimed ones), in seconds.
fn fastest(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for i in 0..repeats + 2 {
        let t0 = Instant::now();
        f()?;
        if i >= 2 {
            best = best.min(t0.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}

/// The operands' entries of the timed products: fixed, nonnegative, not all equal.
fn pattern<T: Float>(i: usize, j: usize) -> T {
    T::from_f64(((i * 7 + j * 3) % 11) as f64 / 11.0)
}

/// Fastest of `repeats` reads of `a` (every entry summed), its columns cut into `parts` that
/// run on rayon's threads at once.
fn read_seconds<T: Float>(a: faer::MatRef<'_, T>, parts: usize, repeats: usize) -> Result<f64> {
    use rayon::prelude::*;
    let m = a.ncols();
    let cols = m.div_ceil(parts.max(1)).max(1);
    fastest(repeats, || {
        let total: f64 = (0..m)
            .step_by(cols)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|j| nmf_core::kernels::sum(a.subcols(j, cols.min(m - j))))
            .sum();
        std::hint::black_box(total);
        Ok(())
    })
}

/// Our kernels' best time for one product (`nmf_core::kernels`, the ones the solvers call): a
/// product and its transpose are the same work, and the left operand may be stored either way,
/// so all four are timed (a solver can pick any; at k = 10 they differed by 1.6x), and with a
/// row-major left operand also `xt_b_into` (`Xᵀ·W` at k <= 10, which declines other shapes).
fn time_product<T: Float>(p: &Product, par: Par, repeats: usize) -> Result<f64> {
    use nmf_core::kernels::{matmul, syrk_lower_into};
    let fill = pattern::<T>;
    if p.syrk {
        let a = Mat::<T>::from_fn(p.rows, p.inner, fill);
        let mut c = Mat::<T>::zeros(p.rows, p.rows);
        return fastest(repeats, || {
            Ok(syrk_lower_into(
                c.as_mut(),
                faer::Accum::Replace,
                a.as_ref(),
                par,
            )?)
        });
    }
    let mut best = f64::INFINITY;
    // A square product's transpose has the same shape: time it once.
    let turns = if p.rows == p.cols { 1 } else { 2 };
    for &(rows, cols) in [(p.rows, p.cols), (p.cols, p.rows)].iter().take(turns) {
        let a = Mat::<T>::from_fn(rows, p.inner, fill);
        // The same matrix stored row-major: the transpose of a column-major copy.
        let a_rows = Mat::<T>::from_fn(p.inner, rows, |i, j| fill(j, i));
        let b = Mat::<T>::from_fn(p.inner, cols, fill);
        let mut c = Mat::<T>::zeros(rows, cols);
        for lhs in [a.as_ref(), a_rows.transpose()] {
            let t = fastest(repeats, || {
                Ok(matmul(
                    c.as_mut(),
                    faer::Accum::Replace,
                    lhs,
                    b.as_ref(),
                    T::ONE,
                    par,
                )?)
            })?;
            best = best.min(t);
        }
        // `Xᵀ·b` for X = a_rows (inner x rows, column-major), where it applies.
        if nmf_core::kernels::xt_b_into(c.as_mut(), false, a_rows.as_ref(), b.as_ref(), par)? {
            let t = fastest(repeats, || {
                nmf_core::kernels::xt_b_into(c.as_mut(), false, a_rows.as_ref(), b.as_ref(), par)?;
                Ok(())
            })?;
            best = best.min(t);
        }
    }
    Ok(best)
}

/// The "achievable" time of one iteration, measured on this machine now, and its source.
///
/// Dense data: every product of [`products`] at the best rate measured for its exact shape,
/// by our kernels or NumPy's BLAS (the scikit-learn side's), whichever is faster; plus, for cd,
/// the sweeps' `2(n + m)k²` flops at half the rate of a 1024³ product (vectorised over rows, as
/// docs/limits.md 3 counts them), and for KL and IS one read of X per half-step at the measured
/// read rate (the elementwise work runs fused in cache-sized tiles; X has to be read). Measured
/// on every run because the CPU behind this VM changes (docs/limits.md holds Zen 4's figures;
/// they read over 100 % on a Zen 5).
///
/// Sparse data: a model, the iteration's multiply-adds at 85% of a 2-thread Zen 4 FMA peak
/// (`work` = nnz); sparse products are bound by memory, not arithmetic, so it is a loose bound
/// and the table leaves it out. What bounds them is printed after the table instead
/// ([`sparse_products`]: the products against the DRAM read rate measured in the run).
fn achievable<T: Float>(
    s: &Setup<'_>,
    config: &str,
    x: &Input<T>,
    k: usize,
) -> Result<(f64, &'static str)> {
    let (n, m) = x.shape();
    let Input::Dense(xd) = x else {
        let (z, k) = (x.work() as f64, k as f64);
        let macs = match config {
            "mu-fro" | "cd" => 2.0 * z * k + 2.0 * (n + m) as f64 * k * k,
            "mu-kl" => 4.0 * z * k,
            _ => 6.0 * z * k,
        };
        let peak = if T::NAME == "float64" {
            114.5e9
        } else {
            229.5e9
        };
        return Ok((2.0 * macs / (0.85 * peak), "model (nnz)"));
    };
    let repeats = s.a.repeats.max(5);
    let list = products(config, n, m, k);
    let shapes: Vec<[serde_json::Value; 4]> = list
        .iter()
        .map(|p| [p.rows.into(), p.inner.into(), p.cols.into(), p.syrk.into()])
        .collect();
    let numpy = s.sklearn(&[
        "gemm".into(),
        s.a.dtype.clone(),
        repeats.to_string(),
        serde_json::to_string(&shapes)?,
    ])?;
    let numpy = numpy["seconds"]
        .as_array()
        .context("bench_sklearn.py gemm printed no seconds")?;
    let mut total = 0.0;
    for (p, np) in list.iter().zip(numpy) {
        let ours = time_product::<T>(p, s.par, repeats)?;
        let theirs = np.as_f64().unwrap_or(f64::INFINITY);
        total += p.count as f64 * ours.min(theirs);
    }
    if config == "cd" {
        let square = Product {
            rows: 1024,
            inner: 1024,
            cols: 1024,
            syrk: false,
            count: 1,
        };
        let rate = square.flops() / time_product::<T>(&square, s.par, 3)?;
        total += 2.0 * (n + m) as f64 * (k * k) as f64 / (0.5 * rate);
    }
    if config == "mu-kl" || config == "mu-is" {
        total += 2.0 * read_seconds(xd.as_ref(), 2, repeats)?;
    }
    Ok((total, "measured"))
}

/// The machine's DRAM read rate in GB/s: the fastest of `repeats` sums of a 512 MiB array
/// (16 times a 32 MiB L3), cut into `threads` parts on rayon's threads.
fn dram_read_rate(threads: usize, repeats: usize) -> Result<f64> {
    let a = Mat::<f64>::full(8192, 8192, 1.0);
    let t = read_seconds(a.as_ref(), threads, repeats.max(3))?;
    Ok((a.nrows() * a.ncols() * 8) as f64 / t / 1e9)
}

/// Times the two sparse products of a cd or mu-Frobenius iteration at k, as the solvers call
/// them (through [`DataRef`], on the benchmark's threads), against the DRAM read rate `dram`.
///
/// The target counts only the stored entries' bytes. A gather also reads, per stored
/// entry, the operand's row (k > 1 values padded to a multiple of 8) from wherever the operand's
/// panel lives: L2 for small operands, L3 or DRAM for large ones. That second rate is printed
/// too: it says which of the two the kernel is bound by. The repeats do not flush the caches:
/// an X smaller than L3 (the Debian corpus, 8.4 MB a copy) is read from L3 after the first.
fn sparse_products<T: Float>(
    s: &Setup<'_>,
    x: &SparseMat<T>,
    k: usize,
    dram: f64,
) -> Result<SparseProducts> {
    let (n, m) = x.shape();
    let fill = pattern::<T>;
    let (w, ht) = (Mat::<T>::from_fn(n, k, fill), Mat::<T>::from_fn(m, k, fill));
    let (mut xht, mut xtw) = (Mat::<T>::zeros(n, k), Mat::<T>::zeros(m, k));
    let d: DataRef<'_, T> = x.as_ref().into();
    let repeats = s.a.repeats.max(5);
    let xht_s = fastest(repeats, || {
        Ok(d.mul_into(xht.as_mut(), ht.as_ref(), s.par)?)
    })?;
    let xtw_s = fastest(repeats, || {
        Ok(d.t_mul_into(xtw.as_mut(), w.as_ref(), s.par)?)
    })?;
    let size = std::mem::size_of::<T>();
    let bytes_per_entry = size + 4;
    let z = x.nnz() as f64;
    let mean = 0.5 * (xht_s + xtw_s);
    let rate = z * bytes_per_entry as f64 / mean / 1e9;
    // A product with one vector reads the vector itself, not a padded panel.
    let row_bytes = if k == 1 {
        size
    } else {
        k.div_ceil(8) * 8 * size
    } as f64;
    Ok(SparseProducts {
        k,
        dtype: s.a.dtype.clone(),
        nnz: x.nnz(),
        xht_s,
        xtw_s,
        bytes_per_entry,
        dram_read_gb_s: dram,
        rate_gb_s: rate,
        fraction_of_dram: rate / dram,
        with_gathers_gb_s: z * (bytes_per_entry as f64 + row_bytes) / mean / 1e9,
    })
}

/// Rewrites bench.csv (with the csv crate, from [`Row`]) and bench.json.
fn write_outputs(dir: &Path, res: &Results) -> Result<()> {
    let mut csv = csv::Writer::from_path(dir.join("bench.csv"))?;
    for r in &res.rows {
        csv.serialize(r)?;
    }
    csv.flush()?;
    std::fs::write(
        dir.join("bench.json"),
        serde_json::to_string_pretty(res)? + "\n",
    )?;
    Ok(())
}

pub(crate) fn run(a: Args) -> Result<()> {
    if a.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    match a.dtype.as_str() {
        "f32" => run_typed::<f32>(a),
        "f64" => run_typed::<f64>(a),
        other => bail!("--dtype must be f32 or f64, not {other:?}"),
    }
}

fn run_typed<T: Float>(a: Args) -> Result<()> {
    // Parsed before any measurement, so that a typo does not surface after minutes of work.
    let mut configs: Vec<Config> = a
        .solver
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse())
        .collect::<Result<_>>()?;
    let sparse = a.data.is_sparse();
    if sparse && configs.contains(&Config::MuIs) {
        eprintln!("note: mu-is skipped on sparse data (Itakura-Saito needs X > 0)");
        configs.retain(|c| *c != Config::MuIs);
    }
    if !matches!(a.grid_solver, SolverKind::Cd | SolverKind::Mu) {
        bail!("--grid-solver must be cd or mu, not {}", a.grid_solver);
    }
    std::fs::create_dir_all(&a.out)?;
    let (x0, data) = load::<T>(&a)?;
    let s = Setup {
        a: &a,
        data,
        par: common::par(a.threads.get()),
    };
    let mut res = Results {
        data: s.data.display().to_string(),
        nnz: match &x0 {
            Input::Sparse(x) => Some(x.nnz()),
            Input::Dense(_) => None,
        },
        threads: a.threads.get(),
        repeats: a.repeats,
        ..Default::default()
    };
    print_header(&s, &x0);
    for &k in &a.components {
        for &cfg in &configs {
            let row = per_iteration(&s, &x0, cfg, k)?;
            print_row(&row)?;
            res.rows.push(row);
            write_outputs(&a.out, &res)?;
        }
    }
    if let Input::Sparse(x) = &x0 {
        let dram = dram_read_rate(a.threads.get(), a.repeats)?;
        for &k in &a.components {
            let p = sparse_products(&s, x, k, dram)?;
            println!(
                "sparse products, k = {k}: X·Hᵀ {:.3} ms, Xᵀ·W {:.3} ms; {:.1} GB/s at {} B per \
                 stored entry = {:.0} % of the DRAM read rate measured now ({:.1} GB/s); {:.0} \
                 GB/s counting the operand rows gathered",
                p.xht_s * 1e3,
                p.xtw_s * 1e3,
                p.rate_gb_s,
                p.bytes_per_entry,
                p.fraction_of_dram * 100.0,
                p.dram_read_gb_s,
                p.with_gathers_gb_s
            );
            res.sparse_products.push(p);
            write_outputs(&a.out, &res)?;
        }
    }
    if a.equal_loss || sparse {
        res.equal_loss = Some(equal_loss::<T>(&s, &x0)?);
    }
    if let Some(csv) = &a.grid_equal {
        let Input::Dense(x0) = &x0 else {
            bail!("--grid-equal takes dense data (its CSV comes from scripts/sklearn_grid.py)");
        };
        res.grid_equal = Some(grid_equal::<T>(&s, csv, x0)?);
    }
    write_outputs(&a.out, &res)?;
    println!(
        "wrote {} and {}",
        a.out.join("bench.csv").display(),
        a.out.join("bench.json").display()
    );
    Ok(())
}

fn print_header<T: Float>(s: &Setup<'_>, x: &Input<T>) {
    let a = s.a;
    let (n, m) = x.shape();
    let sparse = match x {
        Input::Sparse(x) => format!(
            ", sparse: {} stored, density {:.4}, CSR shared as .npz",
            x.nnz(),
            x.density()
        ),
        Input::Dense(_) => String::new(),
    };
    println!(
        "data {} ({n} x {m}, {}{sparse}), {} iterations, tol 0, nndsvda start shared; ours on {} \
         thread(s); fastest of {} runs per side",
        s.data.display(),
        a.dtype,
        a.iters,
        a.threads,
        a.repeats
    );
    println!(
        "{:<7} {:>4} {:>13} {:>11} {:>8} {:>11} {:>9} {:>12} {:>12}",
        "config",
        "k",
        "sklearn s/it",
        "ours s/it",
        "ratio",
        "achievable",
        "roofline",
        "sklearn err",
        "ours err"
    );
}

fn print_row(row: &Row) -> Result<()> {
    // The FMA-peak model says little about sparse products, which memory bounds: it stays in
    // bench.csv (marked "model (nnz)") but the table does not suggest a roofline.
    let (ach, roof) = if row.achievable_source == "model (nnz)" {
        ("-".to_string(), "-".to_string())
    } else {
        (
            format!("{:.3}ms", row.achievable_s_per_iter * 1e3),
            format!("{:.0}%", row.roofline_fraction * 100.0),
        )
    };
    println!(
        "{:<7} {:>4} {:>11.3}ms {:>9.3}ms {:>7.2}x {:>11} {:>9} {:>12.4} {:>12.4}",
        row.config,
        row.k,
        row.sklearn_s_per_iter * 1e3,
        row.ours_s_per_iter * 1e3,
        row.speedup,
        ach,
        roof,
        row.sklearn_err,
        row.ours_err
    );
    std::io::stdout().flush()?;
    Ok(())
}

/// Seconds per iteration of both sides for one configuration and k, from scikit-learn's
/// nndsvda start (written by the script, read here, so both start from the same factors).
fn per_iteration<T: Float>(s: &Setup<'_>, x0: &Input<T>, cfg: Config, k: usize) -> Result<Row> {
    let a = s.a;
    let (solver, loss, offset) = cfg.setup();
    let dir = a.out.join(format!("{}-k{k}-{}", cfg.name(), a.dtype));
    // scikit-learn's `repeats` runs in one warm process, then ours; the fastest of each
    // side counts. (One fresh Python process per run, interleaved with ours, charged
    // scikit-learn for start-up effects at small k (docs/performance.md), so the warm
    // in-process minimum is the fairer and more conservative figure.)
    let sk = s.sklearn(&[
        "iter".into(),
        s.data.display().to_string(),
        k.to_string(),
        a.iters.to_string(),
        solver.name().into(),
        loss.beta().to_string(),
        offset.to_string(),
        a.dtype.clone(),
        a.repeats.to_string(),
        dir.display().to_string(),
    ])?;
    let sk_iter = sk["seconds_per_iter"].as_f64().unwrap_or(f64::NAN);
    let sk_err = sk["reconstruction_err"].as_f64().unwrap_or(f64::NAN);
    let w0: Mat<T> = nmf::io::read_npy(dir.join("W0.npy"))?;
    let h0: Mat<T> = nmf::io::read_npy(dir.join("H0.npy"))?;
    let (n, m) = x0.shape();
    // Only dense data takes an offset (mu-is was dropped for sparse data).
    let shifted = match x0 {
        Input::Dense(x0) if offset != 0.0 => {
            Some(Mat::from_fn(n, m, |i, j| x0[(i, j)] + T::from_f64(offset)))
        }
        _ => None,
    };
    let x = match &shifted {
        Some(x) => x.as_ref().into(),
        None => x0.data(),
    };
    let params = Nmf::params(k)
        .solver(solver)
        .loss(loss)
        .init(Init::Custom { w: w0, h: h0 })
        .tol(0.0)
        .max_iter(a.iters)
        .trace_every(0)
        .par(s.par);
    let (mut best, mut err) = (f64::INFINITY, f64::NAN);
    for _ in 0..a.repeats {
        let model = params.fit(x)?;
        best = best.min(model.report().seconds_per_iter());
        err = model.report().reconstruction_err;
    }
    let (ach, source) = achievable(s, cfg.name(), x0, k)?;
    Ok(Row {
        config: cfg.name().to_string(),
        dtype: a.dtype.clone(),
        k,
        iters: a.iters,
        sklearn_s_per_iter: sk_iter,
        ours_s_per_iter: best,
        speedup: sk_iter / best,
        achievable_s_per_iter: ach,
        achievable_source: source,
        roofline_fraction: ach / best,
        sklearn_err: sk_err,
        ours_err: err,
    })
}

/// Our time to scikit-learn cd's error after `--equal-loss-iters` iterations (default 50, 200
/// on sparse data): our NNDSVDa and cd (with extra
/// sweeps per product, see `NmfParams::inner_sweeps`), stopped by an observer at the target,
/// timed from the call to `fit` (validation, init, loop and final error included).
fn equal_loss<T: Float>(s: &Setup<'_>, x: &Input<T>) -> Result<EqualLoss> {
    let a = s.a;
    let k = a.equal_loss_k;
    let cd_iters = a.equal_loss_iters.unwrap_or(match x {
        Input::Dense(_) => 50,
        Input::Sparse(_) => 200,
    });
    let sk = s.sklearn(&[
        "equal-loss".into(),
        s.data.display().to_string(),
        k.to_string(),
        cd_iters.to_string(),
        "2000".into(),
        a.dtype.clone(),
        a.repeats.to_string(),
    ])?;
    let target = sk["target_err"].as_f64().context("target_err")?;
    let sk_cd = sk["cd_seconds"].as_f64().context("cd_seconds")?;
    let sk_mu = sk["mu_seconds"].as_f64();
    let sk_best = sk_mu.map_or(sk_cd, |s| s.min(sk_cd));
    let inner = a.equal_loss_sweeps;
    let params = Nmf::params(k)
        .solver(SolverKind::Cd)
        .init(Init::NndsvdA)
        // The randomized SVD (scikit-learn's) is the faster of our two NNDSVD paths here.
        .compat(Compat::Sklearn)
        .inner_sweeps(inner)
        .tol(0.0)
        .max_iter(1000)
        .par(s.par);
    let (mut best, mut iters, mut err) = (f64::INFINITY, 0, f64::NAN);
    for _ in 0..a.repeats {
        let t0 = Instant::now();
        let model = params.fit_with(x.data(), &mut |info| match info.objective {
            Some(o) if (2.0 * o.max(0.0)).sqrt() <= target => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })?;
        best = best.min(t0.elapsed().as_secs_f64());
        iters = model.report().n_iter;
        err = model.report().reconstruction_err;
    }
    if err > target * (1.0 + 1e-6) {
        bail!("ours did not reach the target error {target} (got {err} in {iters} iterations)");
    }
    let e = EqualLoss {
        k,
        dtype: a.dtype.clone(),
        target_err: target,
        sklearn_cd_iters: cd_iters,
        sklearn_cd_seconds: sk_cd,
        sklearn_mu_seconds: sk_mu,
        sklearn_mu_iters: sk["mu_iters"].as_u64().unwrap_or(0) as usize,
        sklearn_best_seconds: sk_best,
        ours_config: format!("cd, nndsvda (randomized SVD), {inner} sweeps per product"),
        ours_iters: iters,
        ours_err: err,
        ours_seconds: best,
        speedup: sk_best / best,
    };
    print_equal_loss(&e);
    Ok(e)
}

fn print_equal_loss(e: &EqualLoss) {
    println!(
        "time to scikit-learn cd's error after {} iterations (k = {}, nndsvda, init included): \
         target {:.4}; scikit-learn cd {:.3} s, mu {}; ours ({}, {} iterations, err {:.4}) \
         {:.3} s: {:.2}x faster than scikit-learn's fastest",
        e.sklearn_cd_iters,
        e.k,
        e.target_err,
        e.sklearn_cd_seconds,
        match e.sklearn_mu_seconds {
            Some(s) => format!("{s:.3} s ({} iterations)", e.sklearn_mu_iters),
            None => format!("not reached in {} iterations", e.sklearn_mu_iters),
        },
        e.ours_config,
        e.ours_iters,
        e.ours_err,
        e.ours_seconds,
        e.speedup
    );
}

/// The columns of `scripts/sklearn_grid.py`'s CSV that `--grid-equal` uses (read by name; the
/// others are ignored).
#[derive(Deserialize, Clone, Copy)]
struct SklearnPoint {
    alpha_w: f64,
    l1_ratio: f64,
    /// scikit-learn's penalised objective there: ours must get at least as low.
    objective: f64,
    seconds: f64,
}

/// The points of `csv` in chains, one per l1_ratio, each by increasing alpha_W.
fn read_chains(csv: &Path) -> Result<(Vec<Vec<SklearnPoint>>, usize, f64)> {
    let points: Vec<SklearnPoint> = csv::Reader::from_path(csv)
        .with_context(|| format!("reading {}", csv.display()))?
        .into_deserialize()
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", csv.display()))?;
    let sk_seconds = points.iter().map(|p| p.seconds).sum();
    let mut l1s: Vec<f64> = points.iter().map(|p| p.l1_ratio).collect();
    l1s.sort_by(f64::total_cmp);
    l1s.dedup();
    let chains = l1s
        .iter()
        .map(|&l1| {
            let mut c: Vec<_> = points
                .iter()
                .copied()
                .filter(|p| p.l1_ratio == l1)
                .collect();
            c.sort_by(|p, q| p.alpha_w.total_cmp(&q.alpha_w));
            c
        })
        .collect();
    Ok((chains, points.len(), sk_seconds))
}

/// `--grid-equal`: our time to reach scikit-learn's objective at every point of its grid.
///
/// One shared NNDSVDa start (randomized SVD); the points of each l1_ratio form a chain by
/// increasing alpha_W, each fit warm-started from the previous point and stopped by an observer
/// as soon as its penalised objective is at most scikit-learn's there (at most 2000 iterations);
/// chains run in parallel, one thread per fit. The wall time includes the initialisation.
fn grid_equal<T: Float>(s: &Setup<'_>, csv: &Path, x: &Mat<T>) -> Result<GridEqual> {
    use rayon::prelude::*;
    let a = s.a;
    let (chains, points, sk_seconds) = read_chains(csv)?;
    let k = a.grid_k;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.get())
        .build()?;
    let t0 = Instant::now();
    let init = nmf::init::initialize(x.as_ref(), k, &Init::NndsvdA, 0, Compat::Sklearn, Par::Seq)?;
    let results: Vec<Result<(usize, usize)>> = pool.install(|| {
        chains
            .par_iter()
            .map(|chain| run_chain(a.grid_solver, k, x, (init.w.clone(), init.h.clone()), chain))
            .collect()
    });
    let ours = t0.elapsed().as_secs_f64();
    let (mut reached, mut iters) = (0, 0);
    for r in results {
        let (a, b) = r?;
        reached += a;
        iters += b;
    }
    let g = GridEqual {
        solver: a.grid_solver.to_string(),
        k,
        points,
        reached,
        sklearn_seconds: sk_seconds,
        ours_seconds: ours,
        speedup: sk_seconds / ours,
        ours_iterations: iters,
    };
    println!(
        "grid ({} points, {}, k = {}): scikit-learn {:.1} s; ours reached scikit-learn's \
         objective at {}/{} points in {:.1} s ({} iterations in all): {:.2}x",
        g.points,
        g.solver,
        g.k,
        g.sklearn_seconds,
        g.reached,
        g.points,
        g.ours_seconds,
        g.ours_iterations,
        g.speedup
    );
    Ok(g)
}

/// One chain of `--grid-equal`; returns (points reached, iterations).
fn run_chain<T: Float>(
    solver: SolverKind,
    k: usize,
    x: &Mat<T>,
    (mut w, mut h): (Mat<T>, Mat<T>),
    chain: &[SklearnPoint],
) -> Result<(usize, usize)> {
    let (mut reached, mut iters) = (0, 0);
    for p in chain {
        let mut params = Nmf::params(k)
            .solver(solver)
            .init(Init::Custom { w, h })
            .alpha_w(p.alpha_w)
            .alpha_h(0.0)
            .l1_ratio(p.l1_ratio)
            .tol(0.0)
            .max_iter(2000)
            .par(Par::Seq);
        if solver == SolverKind::Cd {
            params = params.inner_sweeps(4);
        }
        let model = params.fit_with(x.as_ref(), &mut |info| match info.objective {
            Some(o) if o <= p.objective => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })?;
        reached += usize::from(model.report().objective <= p.objective * (1.0 + 1e-9));
        iters += model.report().n_iter;
        (w, h) = (model.w().to_owned(), model.h().to_owned());
    }
    Ok((reached, iters))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product lists add up to docs/limits.md 2's flops per iteration on the faces (the
    /// Grams as SYRK; cd's sweeps, `2(n + m)k²`, come on top).
    #[test]
    fn products_count_the_flops_of_limits_md() {
        let (n, m) = (400, 4096);
        let total = |config: &str, k: usize| -> f64 {
            products(config, n, m, k)
                .iter()
                .map(|p| p.count as f64 * p.flops())
                .sum()
        };
        let sweeps = |k: usize| 2.0 * (n + m) as f64 * (k * k) as f64;
        // (config, k, limits.md's Mflop per iteration)
        for (config, k, mflop) in [
            ("mu-fro", 50, 361.4),
            ("mu-fro", 200, 1850.2),
            ("cd", 10, 66.9),
            ("cd", 200, 1850.2),
            ("mu-kl", 50, 655.4),
            ("mu-kl", 200, 2621.4),
            ("mu-is", 10, 196.6),
            ("mu-is", 50, 983.0),
        ] {
            let ours = total(config, k) + if config == "cd" { sweeps(k) } else { 0.0 };
            let rel = (ours / 1e6 - mflop).abs() / mflop;
            assert!(rel < 2e-3, "{config} k = {k}: {:.1} Mflop", ours / 1e6);
        }
    }
}
