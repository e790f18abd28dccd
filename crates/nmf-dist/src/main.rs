//! `nmf-dist`: distributed NMF under `mpirun` (`mpirun -np 4 nmf-dist fit X.npy -k 10 --grid 2x2
//! -o out`). Rank 0 prints progress and writes the factors and `report.json`; every rank prints
//! the same error and exits with status 2 when any rank fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use nmf::io::write_npy;
use nmf::{AlphaH, Compat, Regularization};
use nmf_dist::comm::KINDS;
use nmf_dist::{
    DistConfig, DistFit, DistFloat, Grid, Method, Start, Traffic, block, fit, parse_grid,
};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "nmf-dist",
    version,
    about = "Distributed NMF on MPI (run it under mpirun)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit W and H to a dense .npy or a CSR .npz; each rank reads only its block.
    Fit(FitArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SolverArg {
    Cd,
    Mu,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LossArg {
    Frobenius,
    #[value(alias = "kl", alias = "kullback-leibler")]
    KullbackLeibler,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum InitArg {
    Random,
    Nndsvd,
    Nndsvda,
    Custom,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum CompatArg {
    Native,
    Sklearn,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DtypeArg {
    /// float32 for a float32 .npy, float64 otherwise.
    Auto,
    F32,
    F64,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputArg {
    /// W.npy and H.npy, gathered on rank 0.
    Gathered,
    /// W.rank<r>.npy (its rows) and H.rank<r>.npy (its columns) from every rank.
    PerRank,
}

#[derive(clap::Args)]
struct FitArgs {
    /// The data: a dense .npy (float32/float64, C or Fortran order) or a CSR .npz.
    data: PathBuf,
    /// Number of components.
    #[arg(short = 'k', long = "n-components")]
    k: usize,
    /// Output folder (W.npy, H.npy, report.json).
    #[arg(short, long, default_value = "nmf-dist-model")]
    out: PathBuf,
    /// Process grid PRxPC (powers of two whose product is the number of ranks); default: the
    /// most square one.
    #[arg(long, value_parser = parse_grid)]
    grid: Option<(usize, usize)>,
    #[arg(long, value_enum, default_value_t = SolverArg::Cd)]
    solver: SolverArg,
    #[arg(long, visible_alias = "beta-loss", value_enum, default_value_t = LossArg::Frobenius)]
    loss: LossArg,
    #[arg(long, value_enum, default_value_t = InitArg::Random)]
    init: InitArg,
    /// Starting W (n x k .npy) for --init custom.
    #[arg(long, requires = "h0")]
    w0: Option<PathBuf>,
    /// Starting H (k x m .npy) for --init custom.
    #[arg(long, requires = "w0")]
    h0: Option<PathBuf>,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    alpha_w: f64,
    /// A number, or "same" (alpha_W).
    #[arg(long, default_value = "same")]
    alpha_h: String,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    l1_ratio: f64,
    #[arg(long, default_value_t = 200)]
    max_iter: usize,
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-4)]
    tol: f64,
    #[arg(long, visible_alias = "random-state", default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = CompatArg::Native)]
    compat: CompatArg,
    /// cd: a seeded random coordinate order per sweep.
    #[arg(long)]
    shuffle: bool,
    #[arg(long, value_enum, default_value_t = DtypeArg::Auto)]
    dtype: DtypeArg,
    #[arg(long, value_enum, default_value_t = OutputArg::Gathered)]
    output: OutputArg,
    /// No progress lines.
    #[arg(long, short)]
    quiet: bool,
}

fn config(a: &FitArgs) -> anyhow::Result<DistConfig> {
    let method = match (a.solver, a.loss) {
        (SolverArg::Cd, LossArg::Frobenius) => Method::Cd,
        (SolverArg::Mu, LossArg::Frobenius) => Method::MuFrobenius,
        (SolverArg::Mu, LossArg::KullbackLeibler) => Method::MuKl,
        (SolverArg::Cd, LossArg::KullbackLeibler) => {
            anyhow::bail!("--solver cd minimises the Frobenius loss; use --solver mu for KL")
        }
    };
    let alpha_h = if a.alpha_h == "same" {
        AlphaH::Same
    } else {
        AlphaH::Value(
            a.alpha_h
                .parse()
                .with_context(|| format!("--alpha-h {:?}: a number or \"same\"", a.alpha_h))?,
        )
    };
    let start = match (a.init, &a.w0, &a.h0) {
        (InitArg::Custom, Some(w0), Some(h0)) => Start::Custom {
            w0: w0.clone(),
            h0: h0.clone(),
        },
        (InitArg::Custom, _, _) => anyhow::bail!("--init custom needs --w0 FILE --h0 FILE"),
        (InitArg::Random, None, None) => Start::Random,
        (InitArg::Nndsvd, None, None) => Start::Nndsvd,
        (InitArg::Nndsvda, None, None) => Start::NndsvdA,
        (_, _, _) => anyhow::bail!("--w0/--h0 are read with --init custom"),
    };
    Ok(DistConfig {
        k: a.k,
        method,
        reg: Regularization {
            alpha_w: a.alpha_w,
            alpha_h,
            l1_ratio: a.l1_ratio,
        },
        max_iter: a.max_iter,
        tol: a.tol,
        seed: a.seed,
        compat: match a.compat {
            CompatArg::Native => Compat::Native,
            CompatArg::Sklearn => Compat::Sklearn,
        },
        start,
        shuffle: a.shuffle,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(universe) = mpi::initialize() else {
        eprintln!("nmf-dist: error: MPI is already initialised");
        return ExitCode::from(2);
    };
    let world = universe.world();
    let rank = mpi::traits::Communicator::rank(&world);
    let Command::Fit(args) = cli.command;
    let code = match run(&world, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every rank reaches this with the same message (Grid::agree), or with the same
            // argument error, so each prints it, in one write so lines do not interleave.
            let line = format!("nmf-dist: error [rank {rank}]: {e:#}\n");
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(line.as_bytes());
            let _ = err.flush();
            ExitCode::from(2)
        }
    };
    // mpirun kills the job when the first rank exits non-zero: wait until every rank has
    // printed. All ranks get here (the errors are agreed on), so this cannot block.
    mpi::traits::CommunicatorCollectives::barrier(&world);
    drop(universe);
    code
}

fn run(world: &mpi::topology::SimpleCommunicator, a: &FitArgs) -> anyhow::Result<()> {
    let cfg = config(a)?;
    let mut grid = Grid::new(mpi::traits::Communicator::duplicate(world), a.grid)?;
    let info = grid.agree(block::probe(&a.data))?;
    let as_f32 = match a.dtype {
        DtypeArg::Auto => info.f32,
        DtypeArg::F32 => true,
        DtypeArg::F64 => false,
    };
    // Rank 0 makes the folder; the others must learn of a failure, not wait for rank 0 in
    // the fit's first collective.
    let made = if grid.rank == 0 {
        std::fs::create_dir_all(&a.out).map_err(|e| format!("creating {}: {e}", a.out.display()))
    } else {
        Ok(())
    };
    grid.agree(made)?;
    if as_f32 {
        run_typed::<f32>(&mut grid, a, info, &cfg)
    } else {
        run_typed::<f64>(&mut grid, a, info, &cfg)
    }
}

fn run_typed<T: DistFloat>(
    grid: &mut Grid,
    a: &FitArgs,
    info: block::FileInfo,
    cfg: &DistConfig,
) -> anyhow::Result<()> {
    let quiet = a.quiet;
    let fitted = fit::<T>(grid, &a.data, info, cfg, |iter, err| {
        if !quiet {
            match err {
                Some(e) => eprintln!("iteration {iter}: reconstruction error {e:.6e}"),
                None => eprintln!("iteration {iter}"),
            }
        }
    })?;
    // Per-rank figures to rank 0: nnz, compute and communication seconds, bytes per kind in
    // the last full iteration and over the whole run.
    let summary = rank_summary(&fitted);
    let mut all = Vec::new();
    let p = grid.size();
    grid.gather_to_root(Traffic::Other, &summary, &vec![summary.len(); p], &mut all);
    let written = match a.output {
        OutputArg::Gathered => {
            if grid.rank == 0 {
                let (w, h) = (fitted.w.as_ref(), fitted.h.as_ref());
                write_npy(a.out.join("W.npy"), w.expect("rank 0 gathers W").as_ref())?;
                write_npy(a.out.join("H.npy"), h.expect("rank 0 gathers H").as_ref())?;
            }
            Ok(())
        }
        OutputArg::PerRank => write_pieces(&a.out, grid.rank, &fitted),
    };
    grid.agree(written.map_err(|e: anyhow::Error| format!("{e:#}")))?;
    if grid.rank == 0 {
        let report = report(a, cfg, &fitted, &all, summary.len(), p);
        let path = a.out.join("report.json");
        let mut f =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        writeln!(f, "{}", serde_json::to_string_pretty(&report)?)?;
        if !a.quiet {
            print_summary(&fitted, &all, summary.len(), p);
        }
    }
    Ok(())
}

fn write_pieces<T: DistFloat>(out: &Path, rank: usize, f: &DistFit<T>) -> anyhow::Result<()> {
    let k = f.layout.k;
    let (rows, w) = &f.w_piece;
    let wm = nmf::faer::Mat::from_fn(rows.len(), k, |r, t| w[r * k + t]);
    write_npy(out.join(format!("W.rank{rank}.npy")), wm.as_ref())?;
    let (cols, ht) = &f.ht_piece;
    let hm = nmf::faer::Mat::from_fn(k, cols.len(), |t, c| ht[c * k + t]);
    write_npy(out.join(format!("H.rank{rank}.npy")), hm.as_ref())?;
    Ok(())
}

/// `[nnz, compute s, comm s, rows.start, rows.end, cols.start, cols.end, compute s and comm s
/// per iteration, last-iteration bytes per kind.., total bytes per kind..]`.
fn rank_summary<T>(f: &DistFit<T>) -> Vec<f64> {
    let mut v = vec![
        f.block_nnz as f64,
        f.seconds.0,
        f.seconds.1,
        f.w_piece.0.start as f64,
        f.w_piece.0.end as f64,
        f.ht_piece.0.start as f64,
        f.ht_piece.0.end as f64,
        per_iteration(f.seconds.0, f.setup_seconds.0, f.n_iter),
        per_iteration(f.seconds.1, f.setup_seconds.1, f.n_iter),
    ];
    let last = last_iteration(f);
    v.extend(last.bytes.iter().map(|&b| b as f64));
    let total = f.traffic.last().copied().unwrap_or_default();
    v.extend(total.bytes.iter().map(|&b| b as f64));
    v
}

fn per_iteration(total: f64, setup: f64, n_iter: usize) -> f64 {
    if n_iter == 0 {
        0.0
    } else {
        (total - setup) / n_iter as f64
    }
}

/// The traffic of the last iteration that ran in full (the one before the final check).
fn last_iteration<T>(f: &DistFit<T>) -> nmf_dist::Counters {
    let t = &f.traffic;
    if t.len() >= 3 {
        t[t.len() - 2].since(&t[t.len() - 3])
    } else {
        nmf_dist::Counters::default()
    }
}

fn report<T: DistFloat>(
    a: &FitArgs,
    cfg: &DistConfig,
    f: &DistFit<T>,
    all: &[f64],
    len: usize,
    p: usize,
) -> serde_json::Value {
    let lay = &f.layout;
    let (n, m, k) = (lay.n, lay.m, lay.k);
    let ranks: Vec<serde_json::Value> = (0..p)
        .map(|r| {
            let s = &all[r * len..(r + 1) * len];
            let per_kind = |off: usize| {
                Traffic::ALL
                    .iter()
                    .map(|t| (t.name().to_string(), json!(s[off + *t as usize] as u64)))
                    .collect::<serde_json::Map<_, _>>()
            };
            json!({
                "rank": r,
                "block_nnz": s[0] as u64,
                "compute_seconds": s[1],
                "comm_seconds": s[2],
                "w_rows": [s[3] as u64, s[4] as u64],
                "h_cols": [s[5] as u64, s[6] as u64],
                "compute_seconds_per_iteration": s[7],
                "comm_seconds_per_iteration": s[8],
                "bytes_last_iteration": per_kind(9),
                "bytes_total": per_kind(9 + KINDS),
            })
        })
        .collect();
    let word = size_of::<T>() as f64;
    // The communication model's leading terms (Kannan, Ballard and Park), per rank and iteration, in bytes.
    let approx = (2.0 * k as f64 * (n as f64 / lay.pr as f64 + m as f64 / lay.pc as f64)
        + 4.0 * (k * k) as f64)
        * word;
    json!({
        "data": a.data.display().to_string(),
        "shape": [n, m],
        "n_components": k,
        "dtype": T::NAME,
        "grid": [lay.pr, lay.pc],
        "method": format!("{:?}", cfg.method),
        "n_iter": f.n_iter,
        "stop": format!("{:?}", f.stop),
        "reconstruction_err": f.error,
        "bytes_per_iteration_formula_leading_terms": approx,
        "ranks": ranks,
    })
}

fn print_summary<T>(f: &DistFit<T>, all: &[f64], len: usize, p: usize) {
    eprintln!(
        "{} iterations ({:?}), reconstruction error {:.6e}",
        f.n_iter, f.stop, f.error
    );
    eprintln!("rank  stored entries  compute s/iteration  comm s/iteration  bytes sent/iteration");
    for r in 0..p {
        let s = &all[r * len..(r + 1) * len];
        let bytes: f64 = s[9..9 + KINDS].iter().sum();
        eprintln!(
            "{r:>4}  {:>14}  {:>19.4}  {:>16.4}  {:>20}",
            s[0] as u64, s[7], s[8], bytes as u64
        );
    }
}
