//! The configuration as plain data, for model files (feature `serde`).
//!
//! [`ParamsRecord`] holds every parameter that shapes a fit or a `transform`, in the library's
//! names, with the enums spelled as their `Display` names (`"cd"`, `"frobenius"`, `"nndsvda"`).
//! What is not data stays out: the starting factors of `Init::Custom` and the weights are
//! matrices (a model file stores them beside the JSON; the record says which are present), and
//! the cancellation flag and the observer belong to one process.

use std::time::Duration;

use faer::Par;
use nmf_core::{Float, Loss, Missing, Regularization, Weights};
use nmf_init::{Compat, Init};
use serde::{Deserialize, Serialize};

use crate::error::NmfError;
use crate::opnmf::OpnmfNorm;
use crate::params::{Nmf, NmfConfig, NmfParams, PgVariant, SolverKind};

/// Which initialisation a record names (the factors of `Custom` are stored elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InitName {
    /// `Init::Auto`.
    Auto,
    /// `Init::Random`.
    Random,
    /// `Init::Nndsvd`.
    Nndsvd,
    /// `Init::NndsvdA`.
    #[serde(rename = "nndsvda")]
    NndsvdA,
    /// `Init::NndsvdAr`.
    #[serde(rename = "nndsvdar")]
    NndsvdAr,
    /// `Init::Custom`: W0 and H0 come with the record.
    Custom,
}

impl InitName {
    /// The name of an [`Init`].
    pub fn of<T>(init: &Init<T>) -> Self {
        match init {
            Init::Auto => InitName::Auto,
            Init::Random => InitName::Random,
            Init::Nndsvd => InitName::Nndsvd,
            Init::NndsvdA => InitName::NndsvdA,
            Init::NndsvdAr => InitName::NndsvdAr,
            Init::Custom { .. } => InitName::Custom,
            // `Init` is non-exhaustive; these are all its variants today. A new one must get
            // its own name here (the record round-trip test covers every variant).
            _ => InitName::Auto,
        }
    }
}

/// The kind of weights a fit had (their values are stored beside the record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsKind {
    /// A dense matrix of X's shape.
    Dense,
    /// A sparse matrix: unstored entries weigh 0.
    Sparse,
}

/// Every data-free parameter of an [`NmfConfig`], as plain data.
///
/// `NmfConfig::record` makes one; [`ParamsRecord::to_config`] turns one back into a checked
/// config (running `check` again, so a hand-edited record cannot smuggle in an invalid value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ParamsRecord {
    /// k.
    pub n_components: usize,
    /// The solver.
    pub solver: SolverKind,
    /// The loss (canonical: β = 2, 1, 0 are the named losses).
    pub loss: Loss,
    /// The initialisation.
    pub init: InitName,
    /// `alpha_W`, `alpha_H` and `l1_ratio`.
    pub regularization: Regularization,
    /// Iteration limit.
    pub max_iter: usize,
    /// Stopping tolerance.
    pub tol: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Native or scikit-learn-compatible numerics.
    pub compat: Compat,
    /// cd: random coordinate order.
    pub shuffle: bool,
    /// cd: sweeps per factor between products.
    pub inner_sweeps: usize,
    /// Threads (1: sequential). Results do not depend on it.
    pub threads: usize,
    /// Objective evaluated every n iterations (0: never).
    pub trace_every: usize,
    /// Optional projected-gradient stopping rule.
    pub kkt_tol: Option<f64>,
    /// Optional wall-clock limit of the loop, in seconds.
    pub max_time_seconds: Option<f64>,
    /// pg (Hoyer): sparseness of W's columns.
    pub w_sparseness: Option<f64>,
    /// pg (Hoyer): sparseness of H's rows.
    pub h_sparseness: Option<f64>,
    /// pg: which variant.
    pub pg_variant: PgVariant,
    /// opnmf: normalisation between updates.
    pub opnmf_norm: OpnmfNorm,
    /// The weights' kind, if the fit had weights.
    pub weights: Option<WeightsKind>,
    /// What a NaN in a dense X means.
    pub missing: Missing,
    /// Whether unstored entries of a sparse X are unobserved.
    pub mask_zeros: bool,
    /// minibatch settings (defaults when absent).
    #[serde(default)]
    pub minibatch: crate::MiniBatchParams,
}

impl<T: Float> NmfConfig<T> {
    /// This configuration as plain data (see [`ParamsRecord`]).
    pub fn record(&self) -> ParamsRecord {
        let p = &self.p;
        ParamsRecord {
            n_components: p.n_components,
            solver: p.solver,
            loss: p.loss,
            init: InitName::of(&p.init),
            regularization: p.reg,
            max_iter: p.max_iter,
            tol: p.tol,
            seed: p.seed,
            compat: p.compat,
            shuffle: p.shuffle,
            inner_sweeps: p.inner_sweeps,
            threads: p.par.degree(),
            trace_every: self.trace_every(),
            kkt_tol: p.kkt_tol,
            max_time_seconds: p.max_time.map(|d| d.as_secs_f64()),
            w_sparseness: p.w_sparseness,
            h_sparseness: p.h_sparseness,
            pg_variant: p.pg_variant,
            opnmf_norm: p.opnmf_norm,
            weights: p.weights.as_deref().map(|w| match w {
                Weights::Sparse(_) => WeightsKind::Sparse,
                _ => WeightsKind::Dense,
            }),
            missing: p.missing,
            mask_zeros: p.mask_zeros,
            minibatch: p.minibatch,
        }
    }
}

impl ParamsRecord {
    /// Builder parameters holding this record, with the matrices it leaves out: the
    /// starting factors (`Some` exactly when `init` is `Custom`) and the weights (`Some`
    /// exactly when `weights` is set).
    ///
    /// # Errors
    /// The matrices do not match what the record says is present, or a value is out of range
    /// (`max_time_seconds` negative or not finite).
    pub fn to_params<T: Float>(
        &self,
        custom_init: Option<(faer::Mat<T>, faer::Mat<T>)>,
        weights: Option<Weights<T>>,
    ) -> Result<NmfParams<T>, NmfError> {
        let init = match (self.init, custom_init) {
            (InitName::Auto, None) => Init::Auto,
            (InitName::Random, None) => Init::Random,
            (InitName::Nndsvd, None) => Init::Nndsvd,
            (InitName::NndsvdA, None) => Init::NndsvdA,
            (InitName::NndsvdAr, None) => Init::NndsvdAr,
            (InitName::Custom, Some((w, h))) => Init::Custom { w, h },
            (name, got) => {
                return Err(nmf_core::CoreError::invalid(
                    "init",
                    format!(
                        "{name:?} with{} starting factors",
                        if got.is_some() { "" } else { "out" }
                    ),
                    "custom with W0 and H0, any other init without",
                )
                .into());
            }
        };
        if self.weights.is_some() != weights.is_some() {
            return Err(nmf_core::CoreError::invalid(
                "weights",
                if weights.is_some() {
                    "given"
                } else {
                    "missing"
                },
                "present exactly when the record says the fit had weights",
            )
            .into());
        }
        let mut p = Nmf::params(self.n_components)
            .solver(self.solver)
            .loss(self.loss)
            .init(init)
            .regularization(self.regularization)
            .max_iter(self.max_iter)
            .tol(self.tol)
            .seed(self.seed)
            .compat(self.compat)
            .shuffle(self.shuffle)
            .inner_sweeps(self.inner_sweeps)
            .par(if self.threads <= 1 {
                Par::Seq
            } else {
                Par::rayon(self.threads)
            })
            .trace_every(self.trace_every)
            .pg_variant(self.pg_variant)
            .opnmf_norm(self.opnmf_norm)
            .missing(self.missing)
            .mask_zeros(self.mask_zeros)
            .minibatch(self.minibatch);
        p.kkt_tol = self.kkt_tol;
        p.w_sparseness = self.w_sparseness;
        p.h_sparseness = self.h_sparseness;
        if let Some(s) = self.max_time_seconds {
            let d = Duration::try_from_secs_f64(s).map_err(|_| {
                nmf_core::CoreError::invalid("max_time_seconds", s, "a finite number >= 0")
            })?;
            p = p.max_time(d);
        }
        if let Some(m) = weights {
            p = p.weights(m);
        }
        Ok(p)
    }

    /// [`Self::to_params`] followed by `check`.
    ///
    /// # Errors
    /// As [`Self::to_params`] and [`NmfParams::check`].
    pub fn to_config<T: Float>(
        &self,
        custom_init: Option<(faer::Mat<T>, faer::Mat<T>)>,
        weights: Option<Weights<T>>,
    ) -> Result<NmfConfig<T>, NmfError> {
        self.to_params(custom_init, weights)?.check()
    }
}
