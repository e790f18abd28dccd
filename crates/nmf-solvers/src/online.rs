//! `partial_fit`: scikit-learn's `MiniBatchNMF.partial_fit`, H learned one chunk of rows at a
//! time from data that arrives as a stream (`docs/minibatch.md` 6).
//!
//! The first chunk initialises H (with the configured `init`, on that chunk) and fixes the
//! decay ρ from that chunk's size; every chunk then gets a fresh W solve and one online H update.
//! What is kept between calls is [`OnlineState`], plain matrices and two numbers, so a stream
//! can be stopped, saved and resumed with [`OnlineNmf::resume`].

use faer::Mat;
use nmf_core::loss::{self, LossScratch};
use nmf_core::mat;
use nmf_core::{CoreError, DataRef, Float, check};
use nmf_init::{InitReport, initialize};

use crate::error::NmfError;
use crate::minibatch::{rho, solve_w_into};
use crate::model::NmfModel;
use crate::mu::{self, FactorPenalty, OnlineStats, Workspace};
use crate::params::{NmfConfig, SolverKind};
use crate::report::{FitReport, StopReason};

/// What `partial_fit` keeps between calls: scikit-learn's `components_`,
/// `_components_numerator`, `_components_denominator`, `_rho` and `n_steps_`.
#[derive(Debug, PartialEq)]
pub struct OnlineState<T> {
    /// The components (k x n_features).
    pub h: Mat<T>,
    /// The running numerator of the online H update (k x n_features).
    pub a: Mat<T>,
    /// The running denominator (k x n_features).
    pub b: Mat<T>,
    /// The decay per chunk, fixed by the first chunk: `forget_factor^(min(batch_size, c)/c)`.
    pub rho: f64,
    /// Chunks learned so far.
    pub n_steps: usize,
}

// By hand: faer's `Clone` leaves the column padding uninitialised (`nmf_core::mat`), and the
// cloned H is the left operand of every later call's Gram product.
impl<T: Float> Clone for OnlineState<T> {
    fn clone(&self) -> Self {
        OnlineState {
            h: mat::copy(self.h.as_ref()),
            a: mat::copy(self.a.as_ref()),
            b: mat::copy(self.b.as_ref()),
            rho: self.rho,
            n_steps: self.n_steps,
        }
    }
}

/// An online fitter made from a checked minibatch config (`config.online()`): call
/// [`partial_fit`](Self::partial_fit) with each chunk of rows as it arrives.
///
/// ```
/// use nmf_solvers::{Nmf, SolverKind};
/// let x = faer::Mat::from_fn(90, 12, |i, j| ((i * 5 + j * 3) % 7) as f64 + 0.5);
/// let mut online = Nmf::params(3).solver(SolverKind::MiniBatch).check()?.online()?;
/// for start in (0..90).step_by(30) {
///     let model = online.partial_fit(x.as_ref().subrows(start, 30))?;
///     assert_eq!(model.w().nrows(), 30); // the codes of this chunk
/// }
/// assert_eq!(online.state().unwrap().n_steps, 3);
/// # Ok::<(), nmf_solvers::NmfError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnlineNmf<T: Float> {
    config: NmfConfig<T>,
    state: Option<OnlineState<T>>,
    init: Option<InitReport>,
    model: Option<NmfModel<T>>,
}

impl<T: Float> NmfConfig<T> {
    /// An online fitter with this configuration (scikit-learn's `partial_fit`).
    ///
    /// # Errors
    /// The solver is not [`SolverKind::MiniBatch`].
    pub fn online(&self) -> Result<OnlineNmf<T>, NmfError> {
        ensure_minibatch(self)?;
        Ok(OnlineNmf {
            config: self.clone(),
            state: None,
            init: None,
            model: None,
        })
    }
}

pub(crate) fn ensure_minibatch<T: Float>(c: &NmfConfig<T>) -> Result<(), NmfError> {
    if c.solver() != SolverKind::MiniBatch {
        return Err(CoreError::invalid(
            "solver",
            c.solver(),
            "minibatch (partial_fit learns with MiniBatchNMF's online updates)",
        )
        .into());
    }
    Ok(())
}

impl<T: Float> OnlineNmf<T> {
    /// Continues from a saved [`OnlineState`].
    ///
    /// # Errors
    /// Not a minibatch config; shapes that disagree with each other or with the config's k;
    /// non-finite or negative matrices; `rho` outside [0, 1].
    pub fn resume(config: &NmfConfig<T>, state: OnlineState<T>) -> Result<Self, NmfError> {
        ensure_minibatch(config)?;
        let (k, m) = (config.n_components(), state.h.ncols());
        for (what, a) in [("H", &state.h), ("A", &state.a), ("B", &state.b)] {
            check::ensure_shape(what, a.as_ref(), k, m)?;
            check::ensure_finite(what, a.as_ref())?;
            check::ensure_nonneg(what, a.as_ref())?;
        }
        check::ensure_in_range("rho", state.rho, 0.0, 1.0, "a number in [0, 1]")?;
        Ok(OnlineNmf {
            config: config.clone(),
            state: Some(state),
            init: None,
            model: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NmfConfig<T> {
        &self.config
    }

    /// What is kept between calls (`None` before the first chunk).
    pub fn state(&self) -> Option<&OnlineState<T>> {
        self.state.as_ref()
    }

    /// The model after the last chunk (`None` before the first): that chunk's W, the current H.
    pub fn model(&self) -> Option<&NmfModel<T>> {
        self.model.as_ref()
    }

    /// Learns from one chunk of rows and returns the current model: W is this chunk's codes
    /// (solved with the H it met), H the updated components, and the report counts chunks
    /// (`n_iter` and `n_steps`) and gives the chunk's reconstruction error at the new H.
    ///
    /// Unlike scikit-learn's, every call validates the chunk fully (negative, non-finite
    /// entries, zeros with β <= 0), not only the first.
    ///
    /// # Errors
    /// Invalid chunk, a feature count other than the first chunk's, an initialisation failure
    /// on the first chunk, or an overflow of the data's precision.
    pub fn partial_fit<'a>(
        &mut self,
        chunk: impl Into<DataRef<'a, T>>,
    ) -> Result<&NmfModel<T>, NmfError> {
        let x = chunk.into();
        let c = &self.config.p;
        x.validate("X")?;
        x.ensure_positive_for_beta(c.loss.beta())?;
        let (rows, m) = x.shape();
        let k = c.n_components;
        let start = std::time::Instant::now();
        let mut state = match &self.state {
            Some(s) if s.h.ncols() != m => {
                return Err(CoreError::ShapeMismatch {
                    what: "X",
                    dim: "columns",
                    expected: s.h.ncols(),
                    got: m,
                }
                .into());
            }
            // Updated on a copy (k x m, small beside the chunk), so a chunk that fails leaves
            // the fitter as it was.
            Some(s) => s.clone(),
            None => {
                let f = initialize(x, k, &c.init, c.seed, c.compat, c.par)?;
                self.init = Some(f.report);
                let b = c.minibatch.batch_size.min(rows);
                OnlineState {
                    a: mat::copy(f.h.as_ref()),
                    b: mat::from_fn(k, m, |_, _| T::ONE),
                    h: f.h,
                    rho: rho(c.minibatch.forget_factor, b, rows),
                    n_steps: 0,
                }
            }
        };
        let (w, d) = step(c, x, &mut state)?;
        let pen = c.reg.scaled(rows, m);
        let report = FitReport {
            solver: SolverKind::MiniBatch,
            loss: c.loss,
            n_iter: state.n_steps,
            n_steps: state.n_steps,
            stop_reason: StopReason::MaxIter,
            reconstruction_err: (2.0 * d.max(0.0)).sqrt(),
            objective: d + loss::penalty_value(w.as_ref(), state.h.as_ref(), &pen),
            loss_trace: Vec::new(),
            // A resumed stream did not initialise here.
            init: self.init.unwrap_or_else(InitReport::supplied),
            solver_seconds: start.elapsed().as_secs_f64(),
            seconds: start.elapsed().as_secs_f64(),
            warnings: Vec::new(),
        };
        let h = mat::copy(state.h.as_ref());
        let online = Some(Box::new(state.clone()));
        self.state = Some(state);
        self.model = Some(NmfModel {
            w,
            h,
            report,
            config: self.config.clone(),
            online,
        });
        Ok(self.model.as_ref().expect("just set"))
    }
}

/// One `partial_fit` step: a fresh W solve on the chunk (scikit-learn always solves afresh
/// here), the β < 1 clipping, the online H update. Returns W and the chunk's divergence at the
/// new H.
fn step<T: Float>(
    c: &crate::params::NmfParams<T>,
    x: DataRef<'_, T>,
    s: &mut OnlineState<T>,
) -> Result<(Mat<T>, f64), NmfError> {
    let (rows, m) = x.shape();
    let k = c.n_components;
    let beta = c.loss.beta();
    let pen = c.reg.scaled(rows, m);
    let mut ws = Box::new(Workspace::new(rows, m, k, beta, x.is_sparse(), c.par));
    ws.clip_w = false;
    let (mut w, mut w_prev) = (mat::zeros(rows, k), mat::zeros(rows, k));
    solve_w_into(
        w.as_mut(),
        w_prev.as_mut(),
        s.h.as_ref(),
        x,
        c,
        &pen,
        &mut ws,
        c.minibatch.fresh_restarts_max_iter,
    )?;
    if beta < 1.0 {
        mu::clip_tiny(w.as_mut());
    }
    mu::update_h_online(
        w.as_ref(),
        s.h.as_mut(),
        x,
        beta,
        FactorPenalty::h(&pen),
        &mut ws,
        OnlineStats {
            a: s.a.as_mut(),
            b: s.b.as_mut(),
            rho: T::from_f64(s.rho),
        },
        c.par,
    )?;
    s.n_steps += 1;
    crate::solver::ensure_finite("H", s.h.as_ref(), s.n_steps)?;
    crate::solver::ensure_finite("W", w.as_ref(), s.n_steps)?;
    let mut ls = LossScratch::for_data(&x, k, c.par);
    let d = loss::beta_divergence_with(&mut ls, x, w.as_ref(), s.h.as_ref(), c.loss, c.par)?;
    Ok((w, d))
}
