//! The command line of `grid-search`.
//!
//! Solver, loss and initialisation are parsed by clap through the library's `FromStr` (or a
//! value enum where the library has none), so a typo fails before any work with the list of
//! valid names. Ranges are not checked here: the plan hands every point to `NmfParams::check`.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Error, Result, anyhow, bail};
use nmf::prelude::{AlphaH, Init, Loss, SolverKind};

use crate::common::DatasetArgs;

/// Arguments of `grid-search`.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The data (`--dataset`, `--data-home`, `--vocab`).
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Solvers, comma-separated: cd, mu, pg, opnmf, minibatch.
    #[arg(long, value_delimiter = ',', default_value = "cd,mu")]
    pub solver: Vec<SolverKind>,
    /// Rows per batch of the minibatch rows (scikit-learn's default, 1024; capped at the data's rows).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Number of components (default: 17 for swimmer, 50 otherwise).
    #[arg(short = 'k', long)]
    pub components: Option<usize>,
    /// alpha_W values: a list (0,0.1,1) or start:stop:step.
    #[arg(long, default_value = "0:1:0.1")]
    pub alpha_w: Values,
    /// l1_ratio values: a list or start:stop:step, each in [0, 1].
    #[arg(long, default_value = "0:1:0.1")]
    pub l1_ratio: Values,
    /// alpha_H: a number or `same`.
    #[arg(long, default_value = "0", value_parser = parse_alpha_h)]
    pub alpha_h: AlphaH,
    /// Basis sparseness targets of the pg rows (list or start:stop:step).
    #[arg(long, default_value = "0.3,0.5,0.7,0.9")]
    pub pg_sparseness: Values,
    /// Loss: frobenius, kullback-leibler, itakura-saito or a number (mu only for non-Frobenius).
    #[arg(long, default_value = "frobenius")]
    pub loss: Loss,
    /// Initialisation.
    #[arg(long, value_enum, default_value_t = InitName::Nndsvda)]
    pub init: InitName,
    /// Iteration limit of each fit.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Stopping tolerance (scikit-learn's rule of each solver).
    #[arg(long, default_value_t = 1e-4)]
    pub tol: f64,
    /// Seed of the initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Grid points fitted at once, one thread each (default: all cores).
    // `--jobs` was this flag's name before every command said `--threads`.
    #[arg(long, alias = "jobs")]
    pub threads: Option<NonZeroUsize>,
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

/// The initialisations the grid offers (the library's `Init` has no `FromStr`: it also holds
/// caller-supplied factors).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitName {
    /// NNDSVD with zeros filled by mean(X).
    Nndsvda,
    /// NNDSVD, zeros kept.
    Nndsvd,
    /// NNDSVD with zeros filled by small random values.
    Nndsvdar,
    /// Scaled half-normal entries.
    Random,
}

impl InitName {
    /// The library's initialisation.
    pub fn init(self) -> Init<f32> {
        match self {
            InitName::Nndsvda => Init::NndsvdA,
            InitName::Nndsvd => Init::Nndsvd,
            InitName::Nndsvdar => Init::NndsvdAr,
            InitName::Random => Init::Random,
        }
    }

    /// scikit-learn's name (the command line's), for grid.json and the report.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map_or_else(String::new, |v| v.get_name().to_owned())
    }
}

/// `same` or a number; the range is `NmfParams::check`'s business.
pub fn parse_alpha_h(s: &str) -> Result<AlphaH> {
    match s.trim() {
        "same" => Ok(AlphaH::Same),
        t => t
            .parse()
            .map(AlphaH::Value)
            .map_err(|_| anyhow!("{t:?} is neither a number nor `same`")),
    }
}

/// A list of values, given as `a,b,c` or `start:stop:step` (inclusive).
#[derive(Clone, Debug, PartialEq)]
pub struct Values(pub Vec<f64>);

impl FromStr for Values {
    type Err = Error;

    /// Ranges are rounded to 12 decimals so that `0:1:0.1` gives 0.3, not 0.30000000000000004.
    fn from_str(s: &str) -> Result<Self> {
        if s.contains(':') {
            return range(s).map(Values);
        }
        let v: Vec<f64> = s
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .map(number)
            .collect::<Result<_>>()?;
        if v.is_empty() {
            bail!("no values given");
        }
        Ok(Values(v))
    }
}

fn number(t: &str) -> Result<f64> {
    let v: f64 = t
        .trim()
        .parse()
        .map_err(|_| anyhow!("{t:?} is not a number"))?;
    // The range arithmetic below needs finite ends; `check` sees every value afterwards anyway.
    if !v.is_finite() {
        bail!("{t:?} is not finite");
    }
    Ok(v)
}

fn range(s: &str) -> Result<Vec<f64>> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 3 {
        bail!("expected start:stop:step, got {s:?}");
    }
    let (a, b, st) = (number(parts[0])?, number(parts[1])?, number(parts[2])?);
    if st <= 0.0 || b < a {
        bail!("{s:?} needs step > 0 and stop >= start");
    }
    let n = ((b - a) / st + 1e-9).floor() as usize;
    if n > 10_000 {
        bail!("{s:?} gives more than 10000 values");
    }
    let round = |v: f64| (v * 1e12).round() / 1e12;
    Ok((0..=n).map(|i| round(a + i as f64 * st)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_free_of_drift() {
        let v: Values = "0:1:0.1".parse().unwrap();
        assert_eq!(v.0.len(), 11);
        assert_eq!((v.0[3], v.0[10]), (0.3, 1.0));
        assert_eq!("0, 0.5,1".parse::<Values>().unwrap().0, vec![0.0, 0.5, 1.0]);
        for bad in ["", "a", "1:0:0.1", "0:1", "0:1:0", "inf", "0:1e9:1e-9"] {
            assert!(bad.parse::<Values>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn init_names_are_scikit_learns() {
        assert_eq!(InitName::Nndsvda.name(), "nndsvda");
        assert_eq!(InitName::Nndsvdar.name(), "nndsvdar");
    }
}
