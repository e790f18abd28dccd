//! The front door: `Nmf::params(k)` builds [`NmfParams`], `check()` validates them into an
//! [`NmfConfig`], and `fit` runs it.
//!
//! | name | default | meaning | range |
//! |---|---|---|---|
//! | `n_components` | (required) | k, the number of components | >= 1 |
//! | `solver` | `Cd` | `Cd` (coordinate descent, Frobenius only) or `Mu` (multiplicative updates) | |
//! | `loss` | `Frobenius` | beta-divergence | finite β |
//! | `init` | `Auto` | `Auto`, `Random`, `Nndsvd`, `NndsvdA`, `NndsvdAr`, `Custom { w, h }` | |
//! | `alpha_w` | 0 | penalty on W (scaled by n_features) | >= 0 |
//! | `alpha_h` | `Same` | penalty on H (scaled by n_samples) | >= 0 or `Same` |
//! | `l1_ratio` | 0 | L1 share of the penalties | [0, 1] |
//! | `max_iter` | 200 | iteration limit | >= 1 |
//! | `tol` | 1e-4 | scikit-learn's stopping tolerance; 0 runs exactly `max_iter` | >= 0 |
//! | `seed` | 0 | drives every random draw | any u64 (`Compat::Sklearn`: < 2^32) |
//! | `compat` | `Native` | `Sklearn` reproduces scikit-learn's random streams and SVD | |
//! | `shuffle` | false | cd: random coordinate order each sweep | |
//! | `inner_sweeps` | 1 | cd: sweeps per factor between products (1 = scikit-learn) | 1..=1000 |
//! | `par` | `Par::rayon(0)` (every core) | threads for the products and sweeps; results do not depend on it | |
//! | `trace_every` | 1 (Frobenius), 10 (other β) | objective evaluated every n iterations (0: never) | |
//! | `kkt_tol` | none | also stop when ‖min(F, ∇F)‖ falls below this fraction of its start | > 0 |
//! | `max_time` | none | wall-clock limit of the loop | |
//! | `weights` | none | M ≥ 0 (dense or sparse, X's shape): minimise `Σ M_ij d_β(X_ij, (WH)_ij)`; cd and mu | |
//! | `missing` | `Missing::Error` | `Missing::Nan`: NaN entries of a dense X are unobserved | |
//! | `mask_zeros` | false | sparse X: unstored entries are unobserved (recommender data) | |

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use faer::Par;
use nmf_core::check::ensure_in_range;
use nmf_core::{AlphaH, CoreError, DataRef, Float, Loss, Missing, Regularization, Weights};
use nmf_init::{Compat, Init};

use crate::driver::Observer;
use crate::error::NmfError;
use crate::model::NmfModel;

/// The algorithm that minimises the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum SolverKind {
    /// Coordinate descent (fast HALS), Frobenius loss only; scikit-learn's `solver="cd"`.
    #[default]
    Cd,
    /// Multiplicative updates for any β; scikit-learn's `solver="mu"`.
    Mu,
    /// Projected gradient: Hoyer's sparseness-constrained NMF (`h_sparseness`, `w_sparseness`)
    /// or, with [`PgVariant::Legacy`], scikit-learn 0.15's `ProjectedGradientNMF`. Frobenius only.
    #[cfg_attr(feature = "serde", serde(rename = "pg"))]
    ProjectedGradient,
    /// Orthogonal projective NMF (Yang & Oja 2010): `X ≈ X·Hᵀ·H`. Frobenius only.
    Opnmf,
    /// Online multiplicative updates on batches of rows (Lefèvre, Bach & Févotte 2011), any β;
    /// scikit-learn's `MiniBatchNMF`. Settings: [`MiniBatchParams`](crate::MiniBatchParams).
    #[cfg_attr(feature = "serde", serde(rename = "minibatch"))]
    MiniBatch,
}

/// Which projected-gradient method `SolverKind::ProjectedGradient` runs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum PgVariant {
    /// Hoyer's `nmfsc`: exact sparseness constraints via projection, adaptive steps. Default.
    #[default]
    Hoyer,
    /// scikit-learn 0.15's `ProjectedGradientNMF` (Lin's alternating NNLS with Armijo search,
    /// Kim & Park's augmented sparse variants).
    Legacy {
        /// `sparseness`: none, `Data` (sparse W) or `Components` (sparse H).
        sparseness: crate::pg::LegacySparseness,
        /// Weight of the squared-L1 sparseness term (0.15's `beta`, default 1).
        beta: f64,
        /// Weight of the L2 guard on the other factor (0.15's `eta`, default 0.1).
        eta: f64,
        /// Iteration limit of each NNLS subproblem (default 2000).
        nls_max_iter: usize,
    },
}

impl SolverKind {
    /// Short name (`cd`, `mu`), as scikit-learn spells it.
    pub fn name(self) -> &'static str {
        match self {
            SolverKind::Cd => "cd",
            SolverKind::Mu => "mu",
            SolverKind::ProjectedGradient => "pg",
            SolverKind::Opnmf => "opnmf",
            SolverKind::MiniBatch => "minibatch",
        }
    }
}

impl core::fmt::Display for SolverKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for SolverKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "cd" => Ok(SolverKind::Cd),
            "mu" => Ok(SolverKind::Mu),
            "pg" => Ok(SolverKind::ProjectedGradient),
            "opnmf" => Ok(SolverKind::Opnmf),
            "minibatch" => Ok(SolverKind::MiniBatch),
            other => Err(CoreError::invalid(
                "solver",
                other,
                "cd, mu, pg, opnmf or minibatch",
            )),
        }
    }
}

/// Entry point of the builder: `Nmf::params(k)`.
#[derive(Debug, Clone, Copy)]
pub struct Nmf;

impl Nmf {
    /// Parameters for a factorization with `n_components` components, all else default.
    pub fn params<T: Float>(n_components: usize) -> NmfParams<T> {
        NmfParams {
            n_components,
            solver: SolverKind::Cd,
            loss: Loss::Frobenius,
            init: Init::Auto,
            reg: Regularization::default(),
            max_iter: 200,
            tol: 1e-4,
            seed: 0,
            compat: Compat::Native,
            shuffle: false,
            inner_sweeps: 1,
            // Every core: results are bit-identical whatever the thread count, so nothing is
            // lost (and a newcomer's mu is not slower than scikit-learn's on one thread).
            par: Par::rayon(0),
            trace_every: None,
            kkt_tol: None,
            max_time: None,
            cancel: None,
            w_sparseness: None,
            h_sparseness: None,
            pg_variant: PgVariant::Hoyer,
            opnmf_norm: crate::opnmf::OpnmfNorm::Monotone,
            weights: None,
            missing: Missing::Error,
            mask_zeros: false,
            minibatch: crate::MiniBatchParams::default(),
        }
    }
}

/// Unchecked parameters (setters never fail; [`NmfParams::check`] validates them all at once).
#[derive(Debug, Clone)]
pub struct NmfParams<T: Float> {
    pub(crate) n_components: usize,
    pub(crate) solver: SolverKind,
    pub(crate) loss: Loss,
    pub(crate) init: Init<T>,
    pub(crate) reg: Regularization,
    pub(crate) max_iter: usize,
    pub(crate) tol: f64,
    pub(crate) seed: u64,
    pub(crate) compat: Compat,
    pub(crate) shuffle: bool,
    pub(crate) inner_sweeps: usize,
    pub(crate) par: Par,
    pub(crate) trace_every: Option<usize>,
    pub(crate) kkt_tol: Option<f64>,
    pub(crate) max_time: Option<Duration>,
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    pub(crate) w_sparseness: Option<f64>,
    pub(crate) h_sparseness: Option<f64>,
    pub(crate) pg_variant: PgVariant,
    pub(crate) opnmf_norm: crate::opnmf::OpnmfNorm,
    pub(crate) weights: Option<Arc<Weights<T>>>,
    pub(crate) missing: Missing,
    pub(crate) mask_zeros: bool,
    pub(crate) minibatch: crate::MiniBatchParams,
}

impl<T: Float> NmfParams<T> {
    /// The number of components k.
    pub fn n_components(mut self, k: usize) -> Self {
        self.n_components = k;
        self
    }
    /// The solver.
    pub fn solver(mut self, s: SolverKind) -> Self {
        self.solver = s;
        self
    }
    /// The beta-divergence to minimise.
    pub fn loss(mut self, l: Loss) -> Self {
        self.loss = l;
        self
    }
    /// The initialisation.
    pub fn init(mut self, i: Init<T>) -> Self {
        self.init = i;
        self
    }
    /// `alpha_W` (scikit-learn's meaning and scaling).
    pub fn alpha_w(mut self, a: f64) -> Self {
        self.reg.alpha_w = a;
        self
    }
    /// `alpha_H`: a number or [`AlphaH::Same`].
    pub fn alpha_h(mut self, a: impl Into<AlphaH>) -> Self {
        self.reg.alpha_h = a.into();
        self
    }
    /// `l1_ratio` in [0, 1].
    pub fn l1_ratio(mut self, r: f64) -> Self {
        self.reg.l1_ratio = r;
        self
    }
    /// All penalties at once.
    pub fn regularization(mut self, r: Regularization) -> Self {
        self.reg = r;
        self
    }
    /// Iteration limit.
    pub fn max_iter(mut self, n: usize) -> Self {
        self.max_iter = n;
        self
    }
    /// Stopping tolerance; 0 runs exactly `max_iter` iterations.
    pub fn tol(mut self, t: f64) -> Self {
        self.tol = t;
        self
    }
    /// Seed of every random draw.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Numerical mode (`Compat::Sklearn` for scikit-learn's random streams and SVD).
    pub fn compat(mut self, c: Compat) -> Self {
        self.compat = c;
        self
    }
    /// cd only: visit the components in a random order each sweep.
    pub fn shuffle(mut self, s: bool) -> Self {
        self.shuffle = s;
        self
    }
    /// cd only: sweeps over each factor per iteration, all with the same products (XHᵀ, HHᵀ).
    ///
    /// A sweep costs `n·k²` against `n·m·k` for the products, so repeating it is nearly free
    /// and lowers the loss reached per iteration (the inner loop of Gillis & Glineur's
    /// accelerated HALS, 2012). 1 is scikit-learn's algorithm. The stopping rule still uses the
    /// violation of each iteration's first sweep.
    pub fn inner_sweeps(mut self, n: usize) -> Self {
        self.inner_sweeps = n;
        self
    }
    /// Parallelism of the products and sweeps (results do not depend on it for cd sweeps).
    pub fn par(mut self, p: Par) -> Self {
        self.par = p;
        self
    }
    /// Evaluate the objective every `n` iterations for the loss trace and observers (0: never).
    pub fn trace_every(mut self, n: usize) -> Self {
        self.trace_every = Some(n);
        self
    }
    /// Also stop when the projected gradient falls below `t` times its starting value.
    pub fn kkt_tol(mut self, t: f64) -> Self {
        self.kkt_tol = Some(t);
        self
    }
    /// Wall-clock limit for the iteration loop.
    pub fn max_time(mut self, d: Duration) -> Self {
        self.max_time = Some(d);
        self
    }
    /// A flag that stops the loop (with `StopReason::Cancelled`) when set from another thread.
    pub fn cancel_flag(mut self, f: Arc<AtomicBool>) -> Self {
        self.cancel = Some(f);
        self
    }

    /// `pg` (Hoyer): every row of H (every component, e.g. every basis face) gets Hoyer
    /// sparseness `s` in [0, 1], exactly, at every iterate.
    ///
    /// This is the one that makes *basis faces* sparse: with the Olivetti faces as rows of X,
    /// `.h_sparseness(0.75)` gives localised, parts-based basis images (`w_sparseness` instead
    /// makes each face use few components, leaving the basis images whole).
    ///
    /// ```
    /// use nmf_solvers::{Nmf, SolverKind};
    /// let x = faer::Mat::<f64>::from_fn(12, 16, |i, j| ((i * 7 + j * 3) % 5) as f64 + 0.5);
    /// let model = Nmf::params(3).solver(SolverKind::ProjectedGradient).h_sparseness(0.6).fit(x.as_ref())?;
    /// for r in 0..3 {
    ///     let s = nmf_core::sparseness::hoyer(model.h().row(r).iter().copied());
    ///     assert!((s - 0.6).abs() < 1e-9);
    /// }
    /// # Ok::<(), nmf_solvers::NmfError>(())
    /// ```
    pub fn h_sparseness(mut self, s: f64) -> Self {
        self.h_sparseness = Some(s);
        self
    }
    /// `pg` (Hoyer): every column of W gets Hoyer sparseness `s` in [0, 1] (sparse codes: each
    /// component used by few samples).
    pub fn w_sparseness(mut self, s: f64) -> Self {
        self.w_sparseness = Some(s);
        self
    }
    /// `pg`: Hoyer's method (default) or the legacy scikit-learn 0.15 solver.
    pub fn pg_variant(mut self, v: PgVariant) -> Self {
        self.pg_variant = v;
        self
    }
    /// `pg`: the legacy scikit-learn 0.15 solver with its defaults (`beta = 1`, `eta = 0.1`,
    /// `nls_max_iter = 2000`) and the given `sparseness`.
    pub fn legacy_pg(self, sparseness: crate::pg::LegacySparseness) -> Self {
        self.pg_variant(PgVariant::Legacy {
            sparseness,
            beta: 1.0,
            eta: 0.1,
            nls_max_iter: 2000,
        })
    }
    /// `opnmf`: the normalisation between updates (monotone by default; `Spectral` as opnmf).
    pub fn opnmf_norm(mut self, n: crate::opnmf::OpnmfNorm) -> Self {
        self.opnmf_norm = n;
        self
    }

    /// Weights `M ≥ 0` of the same shape as X, dense (`MatRef`, `Mat`) or sparse
    /// ([`nmf_core::SparseMat`]: unstored entries weigh zero): the fit minimises
    /// `Σ_ij M_ij · d_β(X_ij, (WH)_ij)` plus the penalties (scaled as without weights). A weight
    /// of zero makes an entry unobserved: its value is never read. `cd` and `mu` only
    /// (`fit` returns [`NmfError::WeightsUnsupported`] for the others). The matrix is copied
    /// into the parameters (shared by clones of them and by the model).
    ///
    /// ```
    /// use nmf_solvers::{Nmf, SolverKind};
    /// let x = faer::Mat::<f64>::from_fn(8, 6, |i, j| ((i + 1) * (j + 2)) as f64);
    /// let mut m = faer::Mat::<f64>::ones(8, 6);
    /// m[(2, 3)] = 0.0; // held out: X[2, 3] could be anything
    /// let model = Nmf::params(1).solver(SolverKind::Cd).weights(m.as_ref()).tol(1e-10).max_iter(2000).fit(x.as_ref())?;
    /// let imputed = model.impute(x.as_ref())?;
    /// assert!((imputed[(2, 3)] - 15.0).abs() < 1e-6, "{}", imputed[(2, 3)]); // rank 1: (2 + 1)(3 + 2)
    /// # Ok::<(), nmf_solvers::NmfError>(())
    /// ```
    pub fn weights(mut self, m: impl Into<Weights<T>>) -> Self {
        self.weights = Some(Arc::new(m.into()));
        self
    }
    /// No weights (undoes [`Self::weights`]).
    pub fn no_weights(mut self) -> Self {
        self.weights = None;
        self
    }
    /// What a NaN in a dense X means: an error (default) or an unobserved entry.
    pub fn missing(mut self, m: Missing) -> Self {
        self.missing = m;
        self
    }
    /// Sparse X: unstored entries are unobserved instead of zeros (ratings, where an unrated
    /// item is unknown, not disliked). Combined with `weights`, only stored entries count.
    pub fn mask_zeros(mut self, on: bool) -> Self {
        self.mask_zeros = on;
        self
    }

    /// minibatch: rows per batch (scikit-learn's `batch_size`, default 1024).
    ///
    /// ```
    /// use nmf_solvers::{Nmf, SolverKind};
    /// use nmf_core::Loss;
    /// let x = faer::Mat::from_fn(300, 20, |i, j| ((i * 7 + j * 3) % 11) as f64 + 0.1);
    /// let model = Nmf::params(4)
    ///     .solver(SolverKind::MiniBatch)
    ///     .batch_size(64)
    ///     .forget_factor(0.7)
    ///     .loss(Loss::KullbackLeibler)
    ///     .fit(&x)?;
    /// // Passes over the data, and batches: 5 per pass, the last one 44 rows.
    /// let r = model.report();
    /// assert!(r.n_steps > r.n_iter && r.n_steps <= 5 * r.n_iter);
    /// # Ok::<(), nmf_solvers::NmfError>(())
    /// ```
    pub fn batch_size(mut self, n: usize) -> Self {
        self.minibatch.batch_size = n;
        self
    }
    /// minibatch: the share of the past statistics kept per full pass (`forget_factor`,
    /// default 0.7).
    pub fn forget_factor(mut self, f: f64) -> Self {
        self.minibatch.forget_factor = f;
        self
    }
    /// minibatch: solve each batch's W from scratch (`fresh_restarts`, default false).
    pub fn fresh_restarts(mut self, on: bool) -> Self {
        self.minibatch.fresh_restarts = on;
        self
    }
    /// minibatch: MU steps of each fresh W solve (`fresh_restarts_max_iter`, default 30).
    pub fn fresh_restarts_max_iter(mut self, n: usize) -> Self {
        self.minibatch.fresh_restarts_max_iter = n;
        self
    }
    /// minibatch: MU steps of `transform` (`transform_max_iter`, default `max_iter`).
    pub fn transform_max_iter(mut self, n: usize) -> Self {
        self.minibatch.transform_max_iter = Some(n);
        self
    }
    /// minibatch: stop after `n` batches without improvement of the smoothed cost
    /// (`max_no_improvement`, default `Some(10)`; `None` disables the rule).
    pub fn max_no_improvement(mut self, n: Option<usize>) -> Self {
        self.minibatch.max_no_improvement = n;
        self
    }
    /// Every minibatch setting at once.
    pub fn minibatch(mut self, p: crate::MiniBatchParams) -> Self {
        self.minibatch = p;
        self
    }

    /// Validates every data-free rule and returns the checked configuration.
    ///
    /// # Errors
    /// `n_components = 0`, `max_iter = 0`, negative or non-finite `tol`, penalties out of range,
    /// a non-finite β, `Cd` with a loss other than Frobenius, a non-positive `kkt_tol`, a seed
    /// beyond 32 bits with `Compat::Sklearn`.
    pub fn check(self) -> Result<NmfConfig<T>, NmfError> {
        if self.n_components == 0 {
            return Err(CoreError::invalid("n_components", 0, "an integer >= 1").into());
        }
        if self.max_iter == 0 {
            return Err(CoreError::invalid("max_iter", 0, "an integer >= 1").into());
        }
        ensure_in_range("tol", self.tol, 0.0, f64::MAX, "a finite number >= 0")?;
        if let Some(t) = self.kkt_tol
            && !(t > 0.0 && t.is_finite())
        {
            return Err(CoreError::invalid("kkt_tol", t, "a finite number > 0").into());
        }
        if !(1..=1000).contains(&self.inner_sweeps) {
            return Err(CoreError::invalid(
                "inner_sweeps",
                self.inner_sweeps,
                "an integer in 1..=1000",
            )
            .into());
        }
        if self.inner_sweeps > 1 && self.solver != SolverKind::Cd {
            return Err(CoreError::invalid(
                "inner_sweeps",
                self.inner_sweeps,
                "1 except with SolverKind::Cd",
            )
            .into());
        }
        self.reg.validate()?;
        self.loss.validate()?;
        let loss = self.loss.canonical();
        if self.solver == SolverKind::Cd && loss != Loss::Frobenius {
            return Err(NmfError::SolverLoss {
                solver: "cd",
                loss: loss.to_string(),
            });
        }
        if self.compat == Compat::Sklearn {
            nmf_init::sklearn_seed(self.seed)?;
        }
        let constrained =
            self.solver == SolverKind::ProjectedGradient && self.pg_variant == PgVariant::Hoyer;
        for (name, v) in [
            ("h_sparseness", self.h_sparseness),
            ("w_sparseness", self.w_sparseness),
        ] {
            if let Some(s) = v {
                ensure_in_range(name, s, 0.0, 1.0, "a number in [0, 1]")?;
                if !constrained {
                    return Err(CoreError::invalid(
                        name,
                        s,
                        "only with SolverKind::ProjectedGradient (Hoyer variant)",
                    )
                    .into());
                }
            }
        }
        if matches!(
            self.solver,
            SolverKind::ProjectedGradient | SolverKind::Opnmf
        ) {
            if loss != Loss::Frobenius {
                return Err(NmfError::SolverLoss {
                    solver: self.solver.name(),
                    loss: loss.to_string(),
                });
            }
            if self.reg.alpha_w != 0.0 || self.reg.alpha_h_value() != 0.0 {
                return Err(CoreError::invalid(
                    "alpha_w/alpha_h",
                    self.reg.alpha_w,
                    "0 with pg and opnmf (use h_sparseness/w_sparseness, or the legacy sparseness)",
                )
                .into());
            }
            if self.kkt_tol.is_some() {
                return Err(CoreError::invalid(
                    "kkt_tol",
                    self.kkt_tol.unwrap_or(0.0),
                    "only with cd and mu",
                )
                .into());
            }
        }
        if (self.weights.is_some() || self.mask_zeros)
            && !matches!(self.solver, SolverKind::Cd | SolverKind::Mu)
        {
            return Err(NmfError::WeightsUnsupported {
                solver: self.solver.name(),
            });
        }
        if self.weights.is_some() && self.kkt_tol.is_some() {
            return Err(CoreError::invalid(
                "kkt_tol",
                self.kkt_tol.unwrap_or(0.0),
                "unset with weights (its gradient is unweighted)",
            )
            .into());
        }
        if let PgVariant::Legacy {
            beta,
            eta,
            nls_max_iter,
            ..
        } = self.pg_variant
        {
            ensure_in_range("beta", beta, 0.0, f64::MAX, "a finite number >= 0")?;
            ensure_in_range("eta", eta, 0.0, f64::MAX, "a finite number >= 0")?;
            if nls_max_iter == 0 {
                return Err(CoreError::invalid("nls_max_iter", 0, "an integer >= 1").into());
            }
        }
        self.minibatch.validate()?;
        if self.solver == SolverKind::MiniBatch && self.kkt_tol.is_some() {
            return Err(CoreError::invalid(
                "kkt_tol",
                self.kkt_tol.unwrap_or(0.0),
                "unset with minibatch (its W rows date from different H)",
            )
            .into());
        }
        // An objective is a full pass over X: minibatch traces only on request.
        let trace_every = self
            .trace_every
            .unwrap_or(if self.solver == SolverKind::MiniBatch {
                0
            } else if loss == Loss::Frobenius {
                1
            } else {
                10
            });
        Ok(NmfConfig {
            p: NmfParams {
                loss,
                trace_every: Some(trace_every),
                ..self
            },
        })
    }

    /// `self.clone().check()?.fit(x)`.
    ///
    /// # Errors
    /// As [`Self::check`] and [`NmfConfig::fit`].
    pub fn fit<'a>(&self, x: impl Into<DataRef<'a, T>>) -> Result<NmfModel<T>, NmfError> {
        self.clone().check()?.fit(x)
    }

    /// Fit with an observer called after every iteration; returning `ControlFlow::Break` stops.
    ///
    /// # Errors
    /// As [`Self::check`] and [`NmfConfig::fit`].
    pub fn fit_with<'a>(
        &self,
        x: impl Into<DataRef<'a, T>>,
        observer: &mut Observer<'_>,
    ) -> Result<NmfModel<T>, NmfError> {
        self.clone().check()?.fit_with(x, observer)
    }
}

/// Checked parameters: holding one proves every data-free rule holds.
#[derive(Debug, Clone)]
pub struct NmfConfig<T: Float> {
    pub(crate) p: NmfParams<T>,
}

impl<T: Float> NmfConfig<T> {
    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.p.n_components
    }
    /// The solver.
    pub fn solver(&self) -> SolverKind {
        self.p.solver
    }
    /// The loss (canonical: `Beta(2)` reads as `Frobenius`).
    pub fn loss(&self) -> Loss {
        self.p.loss
    }
    /// The initialisation.
    pub fn init(&self) -> &Init<T> {
        &self.p.init
    }
    /// The penalties as given (unscaled).
    pub fn regularization(&self) -> Regularization {
        self.p.reg
    }
    /// Iteration limit.
    pub fn max_iter(&self) -> usize {
        self.p.max_iter
    }
    /// Stopping tolerance.
    pub fn tol(&self) -> f64 {
        self.p.tol
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.p.seed
    }
    /// Numerical mode.
    pub fn compat(&self) -> Compat {
        self.p.compat
    }
    /// cd: random coordinate order.
    pub fn shuffle(&self) -> bool {
        self.p.shuffle
    }
    /// cd: sweeps per factor and iteration.
    pub fn inner_sweeps(&self) -> usize {
        self.p.inner_sweeps
    }
    /// Parallelism.
    pub fn par(&self) -> Par {
        self.p.par
    }
    /// Objective evaluated every this many iterations (0: never); resolved by `check`.
    pub fn trace_every(&self) -> usize {
        self.p.trace_every.unwrap_or(1)
    }
    /// The KKT stopping tolerance, if any.
    pub fn kkt_tol(&self) -> Option<f64> {
        self.p.kkt_tol
    }
    /// Wall-clock limit of the loop, if any.
    pub fn max_time(&self) -> Option<Duration> {
        self.p.max_time
    }
    /// The cancellation flag, if any.
    pub fn cancel_flag(&self) -> Option<&Arc<AtomicBool>> {
        self.p.cancel.as_ref()
    }
    /// pg (Hoyer): the sparseness of every column of W, if constrained.
    pub fn w_sparseness(&self) -> Option<f64> {
        self.p.w_sparseness
    }
    /// pg (Hoyer): the sparseness of every row of H, if constrained.
    pub fn h_sparseness(&self) -> Option<f64> {
        self.p.h_sparseness
    }
    /// pg: which variant.
    pub fn pg_variant(&self) -> PgVariant {
        self.p.pg_variant
    }
    /// opnmf: the normalisation between updates.
    pub fn opnmf_norm(&self) -> crate::opnmf::OpnmfNorm {
        self.p.opnmf_norm
    }
    /// The weights, if any.
    pub fn weights(&self) -> Option<&Weights<T>> {
        self.p.weights.as_deref()
    }
    /// What a NaN in a dense X means.
    pub fn missing(&self) -> Missing {
        self.p.missing
    }
    /// Whether unstored entries of a sparse X are unobserved.
    pub fn mask_zeros(&self) -> bool {
        self.p.mask_zeros
    }
    /// The minibatch settings.
    pub fn minibatch(&self) -> crate::MiniBatchParams {
        self.p.minibatch
    }
    /// Back to builder parameters (to change one and `check` again; scikit-learn's
    /// `get_params`/`set_params` round trip). `check` of the result gives this config again.
    pub fn to_params(&self) -> NmfParams<T> {
        self.p.clone()
    }
}
