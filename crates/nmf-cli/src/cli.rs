//! The clap definitions of `nmf`: one struct per subcommand, flags named after the library's
//! builder methods (`--alpha-w` is `.alpha_w`, `--l1-ratio` is `.l1_ratio`) with the library's
//! defaults, so the command and the library cannot mean different things by one name.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use nmf::prelude::{AlphaH, Loss, SolverKind};

/// Nonnegative matrix factorization X ≈ W·H of .npy, .csv, .npz and .mtx files.
#[derive(Parser, Debug)]
#[command(name = "nmf", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors (no progress, no summary).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Print a machine-readable JSON result on stdout (progress and messages go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
}

/// `nmf`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fit W and H; write W.npy, H.npy and model.json into the output folder.
    Fit(FitArgs),
    /// W for new rows with a saved model's H fixed (a nonnegative solve, not a projection).
    Transform(TransformArgs),
    /// W·H for a W (e.g. from transform) and a saved model's H.
    InverseTransform(InverseArgs),
    /// Shape, dtype, density, range and problems of a data file (or a model folder), and what
    /// factoring it would cost.
    Info(InfoArgs),
    /// Sweep alpha_W x l1_ratio (and pg sparseness targets); write results.csv and report.html.
    GridSearch(crate::grid::Args),
    /// Which k? Consensus, dispersion, error, stability (and cross-validated error) per k.
    RankSelect(crate::rank::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or write one page per subcommand into a folder.
    Man {
        /// Folder for nmf.1 and nmf-SUBCOMMAND.1 (default: print nmf.1 on stdout).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

/// Precision of the computation.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dtype {
    /// The file's: float32 for a float32 .npy, float64 otherwise.
    #[default]
    Auto,
    /// float32.
    F32,
    /// float64.
    F64,
}

/// Initialisation (`--init`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InitArg {
    /// nndsvda when k <= min(n_samples, n_features), else random (scikit-learn's rule).
    #[default]
    Auto,
    /// Scaled half-normal entries.
    Random,
    /// NNDSVD, zeros kept.
    Nndsvd,
    /// NNDSVD, zeros filled with the mean.
    Nndsvda,
    /// NNDSVD, zeros filled with small random values.
    Nndsvdar,
    /// Start from --w0 and --h0.
    Custom,
}

/// Random streams (`--compat`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CompatArg {
    /// Exact SVD and a modern generator.
    #[default]
    Native,
    /// scikit-learn's randomized SVD and NumPy's RandomState: the same seed gives scikit-learn's
    /// random_state results.
    Sklearn,
}

/// What NaN means (`--missing`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MissingArg {
    /// NaN is an error.
    #[default]
    Error,
    /// NaN marks an unobserved entry: fit the observed ones only.
    Nan,
}

/// pg method (`--pg-variant`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PgVariantArg {
    /// Hoyer's sparseness-constrained NMF (--h-sparseness, --w-sparseness).
    #[default]
    Hoyer,
    /// scikit-learn 0.15's ProjectedGradientNMF (--legacy-sparseness, --legacy-beta, --legacy-eta).
    Legacy,
}

/// scikit-learn 0.15's `sparseness` (`--legacy-sparseness`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LegacySparsenessArg {
    /// Plain alternating NNLS.
    #[default]
    None,
    /// Sparse W.
    Data,
    /// Sparse H.
    Components,
}

/// opnmf normalisation (`--opnmf-norm`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OpnmfNormArg {
    /// Backtracking: the objective never increases.
    #[default]
    Monotone,
    /// opnmf 0.0.2's spectral-norm rule.
    Spectral,
}

/// Arguments of `nmf fit`.
#[derive(clap::Args, Debug, Clone)]
pub struct FitArgs {
    /// The data: .npy (float32/float64), .csv (numbers, optional header), .npz (scipy.sparse)
    /// or .mtx (MatrixMarket).
    pub data: PathBuf,
    /// Number of components.
    #[arg(short = 'k', long = "n-components", visible_alias = "components")]
    pub k: usize,
    /// Output folder for W.npy, H.npy and model.json.
    #[arg(short, long, default_value = "nmf-model")]
    pub out: PathBuf,
    /// Solver: cd (coordinate descent), mu (multiplicative updates), pg (projected gradient:
    /// sparseness targets), opnmf (orthogonal projective), minibatch (online MU on batches of
    /// rows; scikit-learn's MiniBatchNMF).
    #[arg(long, default_value = "cd")]
    pub solver: SolverKind,
    /// Loss: frobenius, kullback-leibler, itakura-saito or a number (β).
    #[arg(long, visible_alias = "beta-loss", default_value = "frobenius")]
    pub loss: Loss,
    /// Initialisation.
    #[arg(long, value_enum, default_value_t = InitArg::Auto)]
    pub init: InitArg,
    /// W0 for --init custom (.npy, n_samples x k).
    #[arg(long, requires = "h0")]
    pub w0: Option<PathBuf>,
    /// H0 for --init custom (.npy, k x n_features).
    #[arg(long, requires = "w0")]
    pub h0: Option<PathBuf>,
    /// Penalty on W (scikit-learn's alpha_W, scaled by n_features).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub alpha_w: f64,
    /// Penalty on H: a number or `same` (use alpha_W).
    #[arg(long, allow_negative_numbers = true, default_value = "same", value_parser = crate::grid::parse_alpha_h)]
    pub alpha_h: AlphaH,
    /// L1 share of the penalties, in [0, 1].
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub l1_ratio: f64,
    /// Iteration limit.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Stopping tolerance (scikit-learn's rule of each solver); 0 runs exactly --max-iter.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-4)]
    pub tol: f64,
    /// Seed of every random draw.
    #[arg(long, visible_alias = "random-state", default_value_t = 0)]
    pub seed: u64,
    /// native, or sklearn (the same seed gives scikit-learn's random_state results).
    #[arg(long, value_enum, default_value_t = CompatArg::Native)]
    pub compat: CompatArg,
    /// cd: random coordinate order in each sweep.
    #[arg(long)]
    pub shuffle: bool,
    /// cd: sweeps per factor between products (1 = scikit-learn).
    #[arg(long, default_value_t = 1)]
    pub inner_sweeps: usize,
    /// Threads (default: every core; results do not depend on it).
    #[arg(long)]
    pub threads: Option<NonZeroUsize>,
    /// Objective evaluated every n iterations (default: 1 for Frobenius, 10 otherwise; 0 never).
    #[arg(long)]
    pub trace_every: Option<usize>,
    /// Also stop when the projected gradient falls below this fraction of its start.
    #[arg(long, allow_negative_numbers = true)]
    pub kkt_tol: Option<f64>,
    /// Wall-clock limit of the iterations, in seconds.
    #[arg(long, allow_negative_numbers = true)]
    pub max_time: Option<f64>,
    /// pg (Hoyer): sparseness of every row of H, in [0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub h_sparseness: Option<f64>,
    /// pg (Hoyer): sparseness of every column of W, in [0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub w_sparseness: Option<f64>,
    /// pg: hoyer or legacy.
    #[arg(long, value_enum, default_value_t = PgVariantArg::Hoyer)]
    pub pg_variant: PgVariantArg,
    /// pg legacy: sparseness none, data (W) or components (H).
    #[arg(long, value_enum, default_value_t = LegacySparsenessArg::None)]
    pub legacy_sparseness: LegacySparsenessArg,
    /// pg legacy: weight of the squared-L1 term (0.15's beta).
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
    pub legacy_beta: f64,
    /// pg legacy: weight of the L2 guard (0.15's eta).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    pub legacy_eta: f64,
    /// pg legacy: iteration limit of each NNLS subproblem.
    #[arg(long, default_value_t = 2000)]
    pub nls_max_iter: usize,
    /// opnmf: monotone or spectral.
    #[arg(long, value_enum, default_value_t = OpnmfNormArg::Monotone)]
    pub opnmf_norm: OpnmfNormArg,
    /// Weights of the entries (X's shape): .npy dense, or .npz/.mtx sparse (unstored: weight 0).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// error (NaN is refused) or nan (NaN entries are missing: fit the observed ones).
    #[arg(long, value_enum, default_value_t = MissingArg::Error)]
    pub missing: MissingArg,
    /// Sparse data: unstored entries are missing, not zeros (ratings).
    #[arg(long)]
    pub mask_zeros: bool,
    /// Precision of the computation.
    #[arg(long, value_enum, default_value_t = Dtype::Auto)]
    pub dtype: Dtype,
    /// minibatch: rows per batch.
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// minibatch: share of the past statistics kept per full pass, in [0, 1].
    #[arg(long, default_value_t = 0.7, allow_negative_numbers = true)]
    pub forget_factor: f64,
    /// minibatch: solve each batch's W from scratch.
    #[arg(long)]
    pub fresh_restarts: bool,
    /// minibatch: MU steps of each fresh W solve.
    #[arg(long, default_value_t = 30)]
    pub fresh_restarts_max_iter: usize,
    /// minibatch: MU steps of transform and of the final W solve (default: --max-iter).
    #[arg(long)]
    pub transform_max_iter: Option<usize>,
    /// minibatch: stop after N batches without improvement of the smoothed cost ("none": never).
    #[arg(long, default_value = "10", value_parser = parse_optional_count)]
    pub max_no_improvement: OptionalCount,
    /// minibatch on a .npy or CSR .npz file: read DATA batch by batch on every pass instead of loading it
    /// (data larger than memory; --init random or custom).
    #[arg(long)]
    pub stream: bool,
}

/// Arguments of `nmf transform`.
#[derive(clap::Args, Debug, Clone)]
pub struct TransformArgs {
    /// Model folder written by `nmf fit`.
    #[arg(long, short)]
    pub model: PathBuf,
    /// New rows (same number of columns as the training data).
    pub data: PathBuf,
    /// Output .npy for W (rows of DATA x k).
    #[arg(short, long, default_value = "W.npy")]
    pub out: PathBuf,
    /// Weights of the new rows (DATA's shape): fit only where they are > 0.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Read DATA (.npy or CSR .npz) block by block and write W as each block is solved, never holding
    /// either whole (data larger than memory).
    #[arg(long, conflicts_with = "weights")]
    pub stream: bool,
}

/// Arguments of `nmf inverse-transform`.
#[derive(clap::Args, Debug, Clone)]
pub struct InverseArgs {
    /// Model folder written by `nmf fit`.
    #[arg(long, short)]
    pub model: PathBuf,
    /// W (.npy or .csv, rows x k).
    pub w: PathBuf,
    /// Output .npy for W·H.
    #[arg(short, long, default_value = "X.npy")]
    pub out: PathBuf,
}

/// Arguments of `nmf info`.
#[derive(clap::Args, Debug, Clone)]
pub struct InfoArgs {
    /// A data file (.npy, .csv, .npz, .mtx) or a model folder.
    pub data: PathBuf,
    /// k for the cost estimate.
    #[arg(short = 'k', long = "n-components", default_value_t = 10)]
    pub k: usize,
}

impl Cli {
    /// Runs the command.
    ///
    /// # Errors
    /// Bad input or a failed job, with a message naming the problem.
    pub fn run(self) -> Result<()> {
        let out = crate::progress::Output {
            quiet: self.quiet,
            json: self.json,
        };
        match self.command {
            Command::Fit(a) => crate::fit::fit(&a, out),
            Command::Transform(a) => crate::fit::transform(&a, out),
            Command::InverseTransform(a) => crate::fit::inverse_transform(&a, out),
            Command::Info(a) => crate::info::info(&a, out),
            Command::GridSearch(a) => crate::grid::run(a),
            Command::RankSelect(a) => crate::rank::run(a),
            Command::Completions { shell } => {
                let mut cmd = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(shell, &mut cmd, "nmf", &mut std::io::stdout());
                Ok(())
            }
            Command::Man { out } => crate::progress::man(out.as_deref()),
        }
    }
}

/// A count that may be switched off (`none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalCount(pub Option<usize>);

fn parse_optional_count(s: &str) -> Result<OptionalCount, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(OptionalCount(None));
    }
    s.parse::<usize>()
        .map(|n| OptionalCount(Some(n)))
        .map_err(|_| format!("{s:?} is neither a count nor \"none\""))
}
