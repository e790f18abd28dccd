//! The one fit loop (the driver), the fitted model, and `transform`.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Instant;

use faer::{Mat, MatRef, Par};
use nmf_core::{Float, Loss, Penalties, check, kernels, loss};
use nmf_init::mt19937::RandomState;
use nmf_init::{Compat, Init, initialize};

use crate::cd::CoordinateDescent;
use crate::error::NmfError;
use crate::mu::{self, FactorPenalty, Workspace};
use crate::opnmf::Opnmf;
use crate::params::{NmfConfig, PgVariant, SolverKind};
use crate::pg::{Hoyer, Legacy};
use crate::report::{FitReport, FitWarning, IterInfo, StopReason};

/// A fitted factorization `X ≈ W·H`.
#[derive(Debug, Clone)]
pub struct NmfModel<T: Float> {
    w: Mat<T>,
    h: Mat<T>,
    report: FitReport,
    config: NmfConfig<T>,
}

impl<T: Float> NmfModel<T> {
    /// W (n_samples x k): the transformed training data.
    pub fn w(&self) -> MatRef<'_, T> {
        self.w.as_ref()
    }
    /// H (k x n_features): the components (each row is a basis vector, e.g. a basis face).
    pub fn h(&self) -> MatRef<'_, T> {
        self.h.as_ref()
    }
    /// How the fit went.
    pub fn report(&self) -> &FitReport {
        &self.report
    }
    /// The configuration that produced this model.
    pub fn config(&self) -> &NmfConfig<T> {
        &self.config
    }
    /// Takes the factors out.
    pub fn into_factors(self) -> (Mat<T>, Mat<T>) {
        (self.w, self.h)
    }

    /// W for new data with H fixed: the same nonnegative, penalised problem as `fit` solved for W
    /// only (same solver, loss, `tol`, `max_iter` and W penalties), never a pseudo-inverse.
    ///
    /// Starts from zeros (cd) or from `sqrt(mean(X_new)/k)` (mu), as scikit-learn does.
    ///
    /// # Errors
    /// `x_new` empty, non-finite, negative, with a different number of features, or with zeros
    /// when β <= 0.
    pub fn transform(&self, x_new: MatRef<'_, T>) -> Result<Mat<T>, NmfError> {
        transform_with_h(&self.config, self.h.as_ref(), x_new)
    }

    /// `W·H` for a W of this model's k (e.g. from [`Self::transform`]).
    ///
    /// # Errors
    /// `w` does not have k columns.
    pub fn inverse_transform(&self, w: MatRef<'_, T>) -> Result<Mat<T>, NmfError> {
        check::ensure_shape("W", w, w.nrows(), self.h.nrows())?;
        let mut out = Mat::zeros(w.nrows(), self.h.ncols());
        kernels::wh_into(out.as_mut(), w, self.h.as_ref(), self.config.p.par)?;
        Ok(out)
    }
}

/// Solves for W ≥ 0 with `h` fixed under `config` (solver, loss, `tol`, `max_iter`, W
/// penalties): what [`NmfModel::transform`] does, for any H with the right k.
///
/// # Errors
/// As [`NmfModel::transform`], plus an `h` with a k other than the config's.
pub fn transform_with_h<T: Float>(
    config: &NmfConfig<T>,
    h: MatRef<'_, T>,
    x_new: MatRef<'_, T>,
) -> Result<Mat<T>, NmfError> {
    // One check for every solver's solve: an overflow of the data's precision is a typed error,
    // as in `fit`, never non-finite output.
    let w = solve_w(config, h, x_new)?;
    if !all_finite(w.as_ref()) {
        return Err(NmfError::NonFinite {
            what: "W (transform)",
            iter: config.p.max_iter,
        });
    }
    Ok(w)
}

fn solve_w<T: Float>(
    config: &NmfConfig<T>,
    h: MatRef<'_, T>,
    x_new: MatRef<'_, T>,
) -> Result<Mat<T>, NmfError> {
    let c = &config.p;
    check::ensure_shape("H", h, c.n_components, h.ncols())?;
    check::ensure_data("X", x_new)?;
    check::ensure_shape("X", x_new, x_new.nrows(), h.ncols())?;
    check::ensure_positive_for_beta(x_new, c.loss.beta())?;
    let (n, k) = (x_new.nrows(), h.nrows());
    let pen = c.reg.scaled(n, h.ncols());
    let par = c.par;
    match c.solver {
        SolverKind::Cd => {
            let mut cd = CoordinateDescent::new(Mat::zeros(n, k), h, &pen);
            cd.inner = c.inner_sweeps;
            let mut rng = shuffle_rng(c.shuffle, c.seed, c.compat);
            let mut v_init = None;
            for _ in 0..c.max_iter {
                let v = cd.update_w(x_new, true, rng.as_deref_mut(), par);
                let v0 = *v_init.get_or_insert(v);
                if v0 == 0.0 || v / v0 <= c.tol {
                    break;
                }
            }
            Ok(cd.w)
        }
        SolverKind::Opnmf => {
            let mut out = Mat::zeros(n, k);
            nmf_core::kernels::matmul(
                out.as_mut(),
                faer::Accum::Replace,
                x_new,
                h.transpose(),
                T::ONE,
                par,
            );
            Ok(out)
        }
        SolverKind::ProjectedGradient => match c.pg_variant {
            PgVariant::Legacy { nls_max_iter, .. } => {
                // scikit-learn 0.15 solved each row exactly (NNLS); Lin's solver to a tight
                // projected-gradient tolerance does the same.
                let mut g = Mat::<T>::zeros(k, k);
                kernels::gram_rows_into(g.as_mut(), h, par)?;
                let mut b = Mat::<T>::zeros(k, n);
                nmf_core::kernels::matmul(
                    b.as_mut(),
                    faer::Accum::Replace,
                    h,
                    x_new.transpose(),
                    T::ONE,
                    par,
                );
                let mut wt = Mat::<T>::zeros(k, n);
                let tol = 1e-10
                    * kernels::squared_norm(b.as_ref())
                        .sqrt()
                        .max(f64::MIN_POSITIVE);
                crate::pg::nls(
                    g.as_ref(),
                    b.as_ref(),
                    &mut wt,
                    tol,
                    nls_max_iter.max(10_000),
                );
                Ok(wt.transpose().to_owned())
            }
            PgVariant::Hoyer => Ok(crate::pg::transform_hoyer(
                x_new,
                h,
                c.w_sparseness,
                c.max_iter,
                c.tol,
                par,
            )?),
        },
        SolverKind::Mu => {
            let beta = c.loss.beta();
            let avg = (T::from_f64(kernels::sum(x_new) / (n as f64 * x_new.ncols() as f64))
                / T::from_usize(k))
            .sqrt();
            let mut w = Mat::from_fn(n, k, |_, _| avg);
            let mut ws = Workspace::new(n, x_new.ncols(), k);
            let pw = FactorPenalty {
                l1: T::from_f64(pen.l1_w),
                l2: T::from_f64(pen.l2_w),
            };
            let err = |w: &Mat<T>| loss::reconstruction_err(x_new, w.as_ref(), h, c.loss, par);
            let e0 = if c.tol > 0.0 { err(&w)? } else { 0.0 };
            let mut prev = e0;
            for it in 1..=c.max_iter {
                mu::update_w(w.as_mut(), h, x_new, beta, pw, &mut ws, true, par);
                if c.tol > 0.0 && it % 10 == 0 {
                    let e = err(&w)?;
                    if e0 == 0.0 || (prev - e) / e0 < c.tol {
                        break;
                    }
                    prev = e;
                }
            }
            Ok(w)
        }
    }
}

/// The coordinate shuffle stream: NumPy's `RandomState(seed)` (a separate instance from the
/// init's, as in scikit-learn). Native mode folds a 64-bit seed into the 32 bits it takes.
fn shuffle_rng(shuffle: bool, seed: u64, compat: Compat) -> Option<Box<RandomState>> {
    if !shuffle {
        return None;
    }
    let s = match compat {
        Compat::Sklearn => seed as u32,
        Compat::Native => (seed ^ (seed >> 32)) as u32,
    };
    Some(Box::new(RandomState::new(s)))
}

/// One NMF algorithm as the driver sees it: it performs a single iteration per `step`; the
/// driver (`NmfConfig::fit_with`) owns the loop, the stopping rules, observers and limits.
trait Solver<T: Float> {
    /// One iteration.
    fn step(&mut self, x: MatRef<'_, T>, par: Par) -> Result<Outcome, NmfError>;

    /// The current factors, for the checks that read them (empty for solvers that keep their
    /// own representation: pg runs in f64, opnmf does not materialise W).
    fn factors(&self) -> (MatRef<'_, T>, MatRef<'_, T>);

    /// The penalised objective at the current iterate. `after_step` says the products of the
    /// last step are still current, which lets Frobenius solvers skip forming W·H.
    fn objective(
        &mut self,
        x: MatRef<'_, T>,
        ctx: &ObjectiveCtx<'_>,
        after_step: bool,
    ) -> Result<f64, NmfError> {
        let _ = after_step;
        let (w, h) = self.factors();
        Ok(loss::objective(x, w, h, ctx.loss, ctx.pen, ctx.par)?)
    }

    /// `reconstruction_err` right after a step when the step's products give it cheaply (mu
    /// with Frobenius: the Gram identity on WᵀX, WᵀW of this W and HHᵀ of the new H), for
    /// scikit-learn's every-10-iterations mu rule. `None`: evaluate it from the factors.
    fn error_after_step(
        &mut self,
        x: MatRef<'_, T>,
        ctx: &ObjectiveCtx<'_>,
    ) -> Result<Option<f64>, NmfError> {
        let _ = (x, ctx);
        Ok(None)
    }

    /// scikit-learn 0.15's legacy solver tests convergence before updating.
    fn converged_before_step(&self) -> bool {
        false
    }

    /// The final factors in the user's scale.
    fn into_factors(self: Box<Self>, x: MatRef<'_, T>, par: Par) -> (Mat<T>, Mat<T>);
}

/// What the objective evaluation needs besides the data.
struct ObjectiveCtx<'a> {
    x_sqnorm: f64,
    loss: Loss,
    pen: &'a Penalties,
    par: Par,
}

/// A Frobenius value from the Gram identity, unless cancellation would dominate it.
fn gram_or_exact<T: Float>(
    d: f64,
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    ctx: &ObjectiveCtx<'_>,
) -> Result<f64, NmfError> {
    Ok(gram_or_exact_divergence(d, x, w, h, ctx)? + loss::penalty_value(w, h, ctx.pen))
}

/// The divergence part of [`gram_or_exact`].
fn gram_or_exact_divergence<T: Float>(
    d: f64,
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    ctx: &ObjectiveCtx<'_>,
) -> Result<f64, NmfError> {
    Ok(if d > 1e3 * T::EPSILON.to_f64() * 0.5 * ctx.x_sqnorm {
        d
    } else {
        loss::beta_divergence(x, w, h, ctx.loss, ctx.par)?
    })
}

struct CdSolver<T: Float> {
    cd: Box<CoordinateDescent<T>>,
    rng: Option<Box<RandomState>>,
}

impl<T: Float> Solver<T> for CdSolver<T> {
    fn step(&mut self, x: MatRef<'_, T>, par: Par) -> Result<Outcome, NmfError> {
        let mut v = self.cd.update_w(x, false, self.rng.as_deref_mut(), par);
        v += self.cd.update_h(x, self.rng.as_deref_mut(), par);
        Ok(Outcome::Violation(v))
    }
    fn factors(&self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        (self.cd.w.as_ref(), self.cd.ht.transpose())
    }
    fn objective(
        &mut self,
        x: MatRef<'_, T>,
        ctx: &ObjectiveCtx<'_>,
        after_step: bool,
    ) -> Result<f64, NmfError> {
        if !after_step {
            let (w, h) = self.factors();
            return Ok(loss::objective(x, w, h, ctx.loss, ctx.pen, ctx.par)?);
        }
        let d = self.cd.frobenius_after_h(ctx.x_sqnorm, ctx.par);
        let (w, h) = self.factors();
        gram_or_exact(d, x, w, h, ctx)
    }
    fn into_factors(self: Box<Self>, _x: MatRef<'_, T>, _par: Par) -> (Mat<T>, Mat<T>) {
        let h = self.cd.ht.transpose().to_owned();
        (self.cd.w, h)
    }
}

struct MuSolver<T: Float> {
    w: Mat<T>,
    h: Mat<T>,
    ws: Box<Workspace<T>>,
    pw: FactorPenalty<T>,
    ph: FactorPenalty<T>,
    beta: f64,
}

impl<T: Float> Solver<T> for MuSolver<T> {
    fn step(&mut self, x: MatRef<'_, T>, par: Par) -> Result<Outcome, NmfError> {
        mu::update_w(
            self.w.as_mut(),
            self.h.as_ref(),
            x,
            self.beta,
            self.pw,
            &mut self.ws,
            false,
            par,
        );
        mu::update_h(
            self.w.as_ref(),
            self.h.as_mut(),
            x,
            self.beta,
            self.ph,
            &mut self.ws,
            par,
        );
        Ok(Outcome::Done)
    }
    fn factors(&self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        (self.w.as_ref(), self.h.as_ref())
    }
    fn objective(
        &mut self,
        x: MatRef<'_, T>,
        ctx: &ObjectiveCtx<'_>,
        after_step: bool,
    ) -> Result<f64, NmfError> {
        if !(after_step && ctx.loss == Loss::Frobenius) {
            return Ok(loss::objective(
                x,
                self.w.as_ref(),
                self.h.as_ref(),
                ctx.loss,
                ctx.pen,
                ctx.par,
            )?);
        }
        let d = mu::frobenius_after_h(&mut self.ws, self.h.as_ref(), ctx.x_sqnorm, ctx.par);
        gram_or_exact(d, x, self.w.as_ref(), self.h.as_ref(), ctx)
    }
    fn error_after_step(
        &mut self,
        x: MatRef<'_, T>,
        ctx: &ObjectiveCtx<'_>,
    ) -> Result<Option<f64>, NmfError> {
        if ctx.loss != Loss::Frobenius {
            return Ok(None);
        }
        let d = mu::frobenius_after_h(&mut self.ws, self.h.as_ref(), ctx.x_sqnorm, ctx.par);
        let d = gram_or_exact_divergence(d, x, self.w.as_ref(), self.h.as_ref(), ctx)?;
        Ok(Some((2.0 * d.max(0.0)).sqrt()))
    }
    fn into_factors(self: Box<Self>, _x: MatRef<'_, T>, _par: Par) -> (Mat<T>, Mat<T>) {
        (self.w, self.h)
    }
}

/// nmfsc on `xs = X / scale`, in f64.
struct HoyerSolver {
    st: Box<Hoyer>,
    xs: Mat<f64>,
    scale: f64,
}

fn empty<'a, T: Float>() -> MatRef<'a, T> {
    MatRef::from_column_major_slice(&[], 0, 0)
}

impl<T: Float> Solver<T> for HoyerSolver {
    fn step(&mut self, _x: MatRef<'_, T>, par: Par) -> Result<Outcome, NmfError> {
        let before = self.st.f;
        Ok(if self.st.step(self.xs.as_ref(), par)? {
            Outcome::Objective {
                before,
                after: self.st.f,
            }
        } else {
            Outcome::NoStep
        })
    }
    fn factors(&self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        (empty(), empty())
    }
    fn objective(
        &mut self,
        _x: MatRef<'_, T>,
        _ctx: &ObjectiveCtx<'_>,
        _after_step: bool,
    ) -> Result<f64, NmfError> {
        Ok(self.st.f * self.scale * self.scale)
    }
    fn into_factors(self: Box<Self>, _x: MatRef<'_, T>, _par: Par) -> (Mat<T>, Mat<T>) {
        // Back to the user's scale: the factor without a fixed norm carries it.
        let (cw, ch) = if self.st.w_sparseness.is_some() {
            (1.0, self.scale)
        } else {
            (self.scale, 1.0)
        };
        (
            self.st.w.as_ref().map(|&v| T::from_f64(v * cw)),
            self.st.h.as_ref().map(|&v| T::from_f64(v * ch)),
        )
    }
}

impl<T: Float> Solver<T> for Legacy<T> {
    fn step(&mut self, x: MatRef<'_, T>, par: Par) -> Result<Outcome, NmfError> {
        Legacy::step(self, x, par);
        Ok(Outcome::Done)
    }
    fn factors(&self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        (self.w.as_ref(), self.h.as_ref())
    }
    fn converged_before_step(&self) -> bool {
        self.converged()
    }
    fn into_factors(self: Box<Self>, _x: MatRef<'_, T>, _par: Par) -> (Mat<T>, Mat<T>) {
        (self.w, self.h)
    }
}

impl<T: Float> Solver<T> for Opnmf<T> {
    fn step(&mut self, x: MatRef<'_, T>, par: Par) -> Result<Outcome, NmfError> {
        Opnmf::step(self, x, par);
        Ok(Outcome::Delta(self.delta))
    }
    fn factors(&self) -> (MatRef<'_, T>, MatRef<'_, T>) {
        (empty(), self.b.transpose())
    }
    fn objective(
        &mut self,
        x: MatRef<'_, T>,
        ctx: &ObjectiveCtx<'_>,
        _after_step: bool,
    ) -> Result<f64, NmfError> {
        Ok(0.5 * Opnmf::objective(self, x, self.b.as_ref(), ctx.par))
    }
    fn into_factors(self: Box<Self>, x: MatRef<'_, T>, par: Par) -> (Mat<T>, Mat<T>) {
        self.finish(x, par)
    }
}

/// What one iteration reports to the driver's stopping rules.
enum Outcome {
    Done,
    /// cd: scikit-learn's violation.
    Violation(f64),
    /// pg: objective before and after.
    Objective {
        before: f64,
        after: f64,
    },
    /// pg: no acceptable step.
    NoStep,
    /// opnmf: relative change of the basis.
    Delta(f64),
}

fn all_finite<T: Float>(a: MatRef<'_, T>) -> bool {
    kernels::all_finite(a)
}

fn count_zeros<T: Float>(a: MatRef<'_, T>) -> usize {
    (0..a.ncols())
        .map(|j| (0..a.nrows()).filter(|&i| a[(i, j)] == T::ZERO).count())
        .sum()
}

/// ‖min(F, ∇F)‖ over both factors: zero exactly at a KKT point of the nonnegative problem.
fn kkt_norm<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
    l: Loss,
    p: &Penalties,
    par: Par,
) -> Result<f64, NmfError> {
    let mut gw = Mat::<T>::zeros(w.nrows(), w.ncols());
    let mut gh = Mat::<T>::zeros(h.nrows(), h.ncols());
    loss::gradient_into(gw.as_mut(), gh.as_mut(), x, w, h, l, p, par)?;
    let mut s = 0.0f64;
    for (f, g) in [(w, gw.as_ref()), (h, gh.as_ref())] {
        for j in 0..f.ncols() {
            for i in 0..f.nrows() {
                let v = f[(i, j)].min(g[(i, j)]).to_f64();
                s += v * v;
            }
        }
    }
    Ok(s.sqrt())
}

impl<T: Float> NmfConfig<T> {
    /// Fits `X ≈ W·H`.
    ///
    /// # Errors
    /// Invalid X (empty, non-finite, negative; zeros when β <= 0), initialisation failures (see
    /// [`nmf_init::initialize`]), or a factor overflowing to non-finite values.
    pub fn fit(&self, x: MatRef<'_, T>) -> Result<NmfModel<T>, NmfError> {
        self.fit_with(x, &mut |_| ControlFlow::Continue(()))
    }

    /// [`Self::fit`] with an observer called after every iteration.
    pub fn fit_with(
        &self,
        x: MatRef<'_, T>,
        observer: &mut dyn FnMut(&IterInfo) -> ControlFlow<()>,
    ) -> Result<NmfModel<T>, NmfError> {
        let start = Instant::now();
        let c = &self.p;
        check::ensure_data("X", x)?;
        let beta = c.loss.beta();
        check::ensure_positive_for_beta(x, beta)?;
        let (n, m) = x.shape();
        let k = c.n_components;
        let pen = c.reg.scaled(n, m);
        let par = c.par;
        // opnmf's own default start is NNDSVD (its zeros are lifted by the 1e-16 floor).
        let init = match (&c.init, c.solver) {
            (Init::Auto, SolverKind::Opnmf) if k <= n.min(m) => {
                initialize(x, k, &Init::Nndsvd, c.seed, c.compat, par)?
            }
            (i, _) => initialize(x, k, i, c.seed, c.compat, par)?,
        };
        let mut warnings = Vec::new();
        if c.solver == SolverKind::Mu {
            let zeros = count_zeros(init.w.as_ref()) + count_zeros(init.h.as_ref());
            if zeros > 0 {
                warnings.push(FitWarning::MuZerosInInit { zeros });
            }
        }
        let init_report = init.report;
        let mut state: Box<dyn Solver<T>> = match c.solver {
            SolverKind::Cd => Box::new(CdSolver {
                cd: Box::new({
                    let mut cd = CoordinateDescent::new(init.w, init.h.as_ref(), &pen);
                    cd.inner = c.inner_sweeps;
                    cd
                }),
                rng: shuffle_rng(c.shuffle, c.seed, c.compat),
            }),
            SolverKind::ProjectedGradient => match c.pg_variant {
                PgVariant::Hoyer => {
                    let mut xmax = 0.0f64;
                    x.for_each(|&v| xmax = xmax.max(v.to_f64()));
                    // Hoyer rescales X by its maximum; the factors are scaled back at the end.
                    let scale = if xmax > 0.0 { xmax } else { 1.0 };
                    let xs = Mat::from_fn(n, m, |i, j| x[(i, j)].to_f64() / scale);
                    let f64_of = |a: &Mat<T>| a.as_ref().map(|v| v.to_f64());
                    let st = Hoyer::new(
                        xs.as_ref(),
                        f64_of(&init.w),
                        f64_of(&init.h),
                        c.w_sparseness,
                        c.h_sparseness,
                    )?;
                    Box::new(HoyerSolver {
                        st: Box::new(st),
                        xs,
                        scale,
                    })
                }
                PgVariant::Legacy {
                    sparseness,
                    beta,
                    eta,
                    nls_max_iter,
                } => Box::new(Legacy::new(
                    x,
                    init.w,
                    init.h,
                    c.tol,
                    sparseness,
                    beta,
                    eta,
                    nls_max_iter,
                    par,
                )),
            },
            SolverKind::Opnmf => Box::new(Opnmf::new(x, init.h.as_ref(), c.opnmf_norm)),
            SolverKind::Mu => Box::new(MuSolver {
                beta,
                ws: Box::new(Workspace::new(n, m, k)),
                w: init.w,
                h: init.h,
                pw: FactorPenalty {
                    l1: T::from_f64(pen.l1_w),
                    l2: T::from_f64(pen.l2_w),
                },
                ph: FactorPenalty {
                    l1: T::from_f64(pen.l1_h),
                    l2: T::from_f64(pen.l2_h),
                },
            }),
        };
        let trace_every = c.trace_every.unwrap_or(1);
        let ctx = ObjectiveCtx {
            x_sqnorm: kernels::squared_norm(x),
            loss: c.loss,
            pen: &pen,
            par,
        };
        let mut trace = Vec::new();
        let mut last_obj = None;
        if trace_every > 0 {
            let o = state.objective(x, &ctx, false)?;
            trace.push((0, o));
            last_obj = Some(o);
        }
        // scikit-learn's mu rule compares errors to the error at the start.
        let err = |st: &dyn Solver<T>| -> Result<f64, NmfError> {
            let (w, h) = st.factors();
            Ok(loss::reconstruction_err(x, w, h, c.loss, par)?)
        };
        let mu_rule = c.solver == SolverKind::Mu && c.tol > 0.0;
        let e0 = if mu_rule { err(state.as_ref())? } else { 0.0 };
        let mut prev_err = e0;
        let kkt0 = match c.kkt_tol {
            Some(_) => {
                let (w, h) = state.factors();
                Some(kkt_norm(x, w, h, c.loss, &pen, par)?)
            }
            None => None,
        };
        let loop_start = Instant::now();
        let mut n_iter = 0;
        let mut v_init: Option<f64> = None;
        let mut reason = StopReason::MaxIter;
        if mu_rule && e0 == 0.0 {
            reason = StopReason::PerfectFit;
        } else {
            for it in 1..=c.max_iter {
                if c.cancel.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
                    reason = StopReason::Cancelled;
                    break;
                }
                if c.max_time.is_some_and(|d| loop_start.elapsed() >= d) {
                    reason = StopReason::Timeout;
                    break;
                }
                if state.converged_before_step() {
                    // scikit-learn 0.15 tests before updating and counts that iteration.
                    n_iter = it;
                    reason = StopReason::Converged;
                    break;
                }
                let step = state.step(x, par)?;
                n_iter = it;
                if matches!(step, Outcome::NoStep) {
                    reason = StopReason::StepFloor;
                    break;
                }
                let (w, h) = state.factors();
                if !all_finite(w) {
                    return Err(NmfError::NonFinite {
                        what: "W",
                        iter: it,
                    });
                }
                if !all_finite(h) {
                    return Err(NmfError::NonFinite {
                        what: "H",
                        iter: it,
                    });
                }
                let mut info = IterInfo {
                    iter: it,
                    objective: None,
                    rel_change: None,
                    elapsed: loop_start.elapsed().as_secs_f64(),
                };
                if trace_every > 0 && it % trace_every == 0 {
                    let o = state.objective(x, &ctx, true)?;
                    info.objective = Some(o);
                    info.rel_change =
                        last_obj.map(|p: f64| (p - o) / p.abs().max(f64::MIN_POSITIVE));
                    trace.push((it, o));
                    last_obj = Some(o);
                }
                if observer(&info).is_break() {
                    reason = StopReason::Observer;
                    break;
                }
                if let Outcome::Objective { before, after } = step
                    && c.tol > 0.0
                    && (before - after) <= c.tol * before.abs()
                {
                    reason = StopReason::Converged;
                    break;
                }
                if let Outcome::Delta(delta) = step
                    && delta < c.tol
                {
                    reason = StopReason::Converged;
                    break;
                }
                if let Outcome::Violation(v) = step {
                    let v0 = *v_init.get_or_insert(v);
                    if v0 == 0.0 {
                        reason = StopReason::NoViolation;
                        break;
                    }
                    if v / v0 <= c.tol {
                        reason = StopReason::Converged;
                        break;
                    }
                }
                if mu_rule && it % 10 == 0 {
                    let e = match state.error_after_step(x, &ctx)? {
                        Some(e) => e,
                        None => err(state.as_ref())?,
                    };
                    if (prev_err - e) / e0 < c.tol {
                        reason = StopReason::Converged;
                        break;
                    }
                    prev_err = e;
                }
                if let (Some(t), Some(k0)) = (c.kkt_tol, kkt0) {
                    let (w, h) = state.factors();
                    if kkt_norm(x, w, h, c.loss, &pen, par)? <= t * k0 {
                        reason = StopReason::KktConverged;
                        break;
                    }
                }
            }
        }
        let solver_seconds = loop_start.elapsed().as_secs_f64();
        if reason == StopReason::MaxIter && c.tol > 0.0 {
            warnings.push(FitWarning::MaxIterReached {
                max_iter: c.max_iter,
            });
        }
        let (w, h) = state.into_factors(x, par);
        // Solvers that iterate on their own representation (pg in f64, opnmf on Hᵀ) are checked
        // here, after the conversion to the data's precision, where an overflow would show.
        for (what, f) in [("W", w.as_ref()), ("H", h.as_ref())] {
            if !all_finite(f) {
                return Err(NmfError::NonFinite { what, iter: n_iter });
            }
        }
        let dead: Vec<usize> = (0..k)
            .filter(|&t| {
                (0..n).all(|i| w[(i, t)] == T::ZERO) && (0..m).all(|j| h[(t, j)] == T::ZERO)
            })
            .collect();
        if !dead.is_empty() {
            warnings.push(FitWarning::DeadComponents { components: dead });
        }
        let d = loss::beta_divergence(x, w.as_ref(), h.as_ref(), c.loss, par)?;
        // For β < 0 an exact zero of WH makes the divergence +∞ honestly (Σ (WH)^β); any other
        // non-finite value is an overflow of the data's precision.
        if d.is_nan() || (d.is_infinite() && c.loss.beta() >= 0.0) {
            return Err(NmfError::NonFinite {
                what: "the reconstruction error",
                iter: n_iter,
            });
        }
        let report = FitReport {
            solver: c.solver,
            loss: c.loss,
            n_iter,
            stop_reason: reason,
            reconstruction_err: (2.0 * d.max(0.0)).sqrt(),
            objective: d + loss::penalty_value(w.as_ref(), h.as_ref(), &pen),
            loss_trace: trace,
            init: init_report,
            solver_seconds,
            seconds: start.elapsed().as_secs_f64(),
            warnings,
        };
        Ok(NmfModel {
            w,
            h,
            report,
            config: self.clone(),
        })
    }
}
