//! Fitting a matrix that is read by blocks of rows, pass after pass, instead of held in memory
//! (`docs/minibatch.md` 7): the minibatch solver's steps on batches a [`RowSource`] delivers.
//!
//! Memory is one batch of X (in the source's buffer and the solver's workspaces) plus the
//! factors: H and the two running statistics (k x n_features each) and W (n_samples x k, k
//! numbers per row of X). Nothing else grows with n_samples.
//!
//! The steps are the in-memory solver's own (`minibatch::Engine`), on the same batches, so a
//! fit from a source gives the in-memory minibatch fit's bits whenever the start is the same
//! (a custom start, or a random one from the same mean).

use core::ops::{ControlFlow, Range};
use nmf_core::mat;
use std::sync::atomic::Ordering;
use std::time::Instant;

use faer::prelude::*;
use faer::{Mat, MatRef};
use nmf_core::{CoreError, DataRef, Float, SparseMat, check, loss};
use nmf_init::{Init, InitReport, random_from_mean};

use crate::driver::{Observer, ensure_finite_error, warn_dead_components};
use crate::error::NmfError;
use crate::minibatch::{Engine, batches, solve_w_into, solve_workspace};
use crate::model::NmfModel;
use crate::mu;
use crate::online::ensure_minibatch;
use crate::params::{NmfConfig, NmfParams};
use crate::report::{FitReport, FitWarning, IterInfo, StopReason};

/// The error a [`RowSource`] reports (kept as text in [`NmfError::Source`]).
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Where [`NmfModel::transform_source`] hands each block of W, with its rows.
pub type RowSink<'s, T> = dyn FnMut(Range<usize>, MatRef<'_, T>) -> Result<(), SourceError> + 's;

/// A matrix read by blocks of rows, as often as a fit needs: a `.npy` file read in chunks
/// (`nmf::io::NpyRows`), a sparse `.npz` read by row blocks, a database cursor that can
/// restart. [`InMemoryRows`] serves a matrix already in memory the same way.
///
/// A fit asks for its batches in order, `[0, b), [b, 2b), ...`, once per pass, so a source
/// that can only read forwards restarts when asked for row 0 again.
pub trait RowSource<T: Float>: Send {
    /// `(n_samples, n_features)`.
    fn shape(&self) -> (usize, usize);

    /// Whether the blocks come as sparse matrices (the solver sizes its buffers for either).
    fn is_sparse(&self) -> bool;

    /// Rows `rows` of X (non-empty and in range). The block may borrow a buffer of the source
    /// that the next call overwrites; it is validated by the caller.
    ///
    /// # Errors
    /// Whatever keeps the source from delivering those rows.
    fn rows(&mut self, rows: Range<usize>) -> Result<DataRef<'_, T>, SourceError>;
}

/// A matrix in memory as a [`RowSource`]: dense blocks are views, sparse blocks are cut with
/// `SparseMat::row_block` (the cuts of the in-memory minibatch solver).
#[derive(Debug)]
pub struct InMemoryRows<'a, T: Float> {
    x: DataRef<'a, T>,
    block: Option<SparseMat<T>>,
}

impl<'a, T: Float> InMemoryRows<'a, T> {
    /// The rows of `x`.
    pub fn new(x: impl Into<DataRef<'a, T>>) -> Self {
        InMemoryRows {
            x: x.into(),
            block: None,
        }
    }
}

impl<T: Float> RowSource<T> for InMemoryRows<'_, T> {
    fn shape(&self) -> (usize, usize) {
        self.x.shape()
    }

    fn is_sparse(&self) -> bool {
        self.x.is_sparse()
    }

    fn rows(&mut self, rows: Range<usize>) -> Result<DataRef<'_, T>, SourceError> {
        match self.x {
            DataRef::Sparse(s) => {
                let b = self.block.insert(s.mat().row_block(rows)?);
                Ok(DataRef::from(&*b))
            }
            x => {
                let d = x.as_dense().ok_or("a data kind without row blocks")?;
                if rows.start >= rows.end || rows.end > d.nrows() {
                    return Err(format!("rows {rows:?} of {}", d.nrows()).into());
                }
                Ok(d.subrows(rows.start, rows.len()).into())
            }
        }
    }
}

/// Reads and validates one block (finite, nonnegative, no zeros where β <= 0 needs them
/// positive), naming the rows in the error.
fn read<'s, T: Float>(
    src: &'s mut dyn RowSource<T>,
    r: Range<usize>,
    beta: f64,
) -> Result<DataRef<'s, T>, NmfError> {
    let (start, end) = (r.start, r.end);
    let m = src.shape().1;
    let x = src.rows(r).map_err(|e| NmfError::Source {
        start,
        end,
        message: e.to_string(),
    })?;
    if x.shape() != (end - start, m) {
        return Err(NmfError::Source {
            start,
            end,
            message: format!(
                "the source returned a {} x {} block, not {} x {m}",
                x.nrows(),
                x.ncols(),
                end - start
            ),
        });
    }
    x.validate("X")?;
    x.ensure_positive_for_beta(beta)?;
    Ok(x)
}

/// The starting factors without holding X: a custom start as given, or the random start from
/// X's mean (one pass). Every block is validated on that pass.
fn start<T: Float>(
    c: &NmfParams<T>,
    src: &mut dyn RowSource<T>,
    cuts: &[Range<usize>],
) -> Result<(Mat<T>, Mat<T>, InitReport), NmfError> {
    let (n, m) = src.shape();
    let k = c.n_components;
    match &c.init {
        Init::Custom { w, h } => {
            for (what, a, rows, cols) in [("W", w, n, k), ("H", h, k, m)] {
                check::ensure_shape(what, a.as_ref(), rows, cols)?;
                check::ensure_finite(what, a.as_ref())?;
                check::ensure_nonneg(what, a.as_ref())?;
            }
            Ok((
                mat::copy(w.as_ref()),
                mat::copy(h.as_ref()),
                InitReport::supplied(),
            ))
        }
        Init::Random | Init::Auto => {
            let mut sum = 0.0f64;
            for r in cuts {
                sum += read(src, r.clone(), c.loss.beta())?.sum();
            }
            let mean = T::from_f64(sum / (n as f64 * m as f64));
            let f = random_from_mean(mean, (n, m), k, c.seed, c.compat)?;
            Ok((f.w, f.h, f.report))
        }
        other => Err(CoreError::invalid(
            "init",
            format!("{other:?}"),
            "random or custom for a fit from a row source (an SVD start reads all of X at once)",
        )
        .into()),
    }
}

impl<T: Float> NmfConfig<T> {
    /// Fits a minibatch model to the matrix `src` delivers, reading it batch by batch on every
    /// pass: for data larger than memory. The steps, batches and stopping rules are those of
    /// [`fit`](Self::fit) with [`SolverKind::MiniBatch`](crate::SolverKind::MiniBatch), so
    /// with the same start the factors are the same bits.
    ///
    /// What differs from `fit`, and why:
    /// - the start is `Init::Random` (from X's mean, one extra pass; also what `Init::Auto`
    ///   means here, since its NNDSVD needs all of X) or `Init::Custom`;
    /// - no loss trace (each point would cost a pass over the file);
    /// - with `fresh_restarts`, the final W is solved batch by batch (each batch as
    ///   `transform` would solve it alone) instead of on all of X at once;
    /// - the report's error comes from one more pass, summed over the batches.
    ///
    /// ```
    /// use nmf_solvers::{InMemoryRows, Nmf, SolverKind};
    /// let x = faer::Mat::from_fn(90, 12, |i, j| ((i * 5 + j * 3) % 7) as f64 + 0.5);
    /// let config = Nmf::params(3).solver(SolverKind::MiniBatch).batch_size(30).max_iter(5).check()?;
    /// let streamed = config.fit_source(&mut InMemoryRows::new(x.as_ref()))?;
    /// assert_eq!(streamed.report().n_steps, 15);
    /// # Ok::<(), nmf_solvers::NmfError>(())
    /// ```
    ///
    /// # Errors
    /// A config for another solver, weights or missing values, an SVD start, a source that
    /// fails ([`NmfError::Source`]) or delivers invalid rows, an overflow.
    pub fn fit_source(&self, src: &mut dyn RowSource<T>) -> Result<NmfModel<T>, NmfError> {
        self.fit_source_with(src, &mut |_| ControlFlow::Continue(()))
    }

    /// [`Self::fit_source`] with an observer called after every pass (progress, cancellation;
    /// its `objective` is `None`).
    ///
    /// # Errors
    /// As [`Self::fit_source`].
    pub fn fit_source_with(
        &self,
        src: &mut dyn RowSource<T>,
        observer: &mut Observer<'_>,
    ) -> Result<NmfModel<T>, NmfError> {
        let t0 = Instant::now();
        ensure_minibatch(self)?;
        let c = &self.p;
        if c.weights.is_some() || c.mask_zeros || c.missing != nmf_core::Missing::Error {
            return Err(NmfError::WeightsUnsupported {
                solver: "minibatch from a row source",
            });
        }
        let (n, m) = src.shape();
        if n == 0 || m == 0 {
            return Err(CoreError::Empty {
                what: "X",
                rows: n,
                cols: m,
            }
            .into());
        }
        let cuts = batches(n, c.minibatch.batch_size.min(n));
        let (w, h, init) = start(c, src, &cuts)?;
        let mut warnings = Vec::new();
        let mut e = Engine::new(c, (n, m), src.is_sparse(), &cuts, w, h, &mut warnings);
        let loop_start = Instant::now();
        let (n_iter, reason) = if c.par.degree() > 1 {
            rayon::scope(|_| passes(c, &mut e, src, &cuts, observer, loop_start))
        } else {
            passes(c, &mut e, src, &cuts, observer, loop_start)
        }?;
        let solver_seconds = loop_start.elapsed().as_secs_f64();
        if reason == StopReason::MaxIter && c.tol > 0.0 {
            warnings.push(FitWarning::MaxIterReached {
                max_iter: c.max_iter,
            });
        }
        let steps = e.steps;
        let online = Some(Box::new(e.online_state(c)));
        let Engine { mut w, h, .. } = e;
        let d = final_pass(c, src, &cuts, &mut w, h.as_ref())?;
        ensure_finite_error(d, c.loss.beta(), n_iter)?;
        warn_dead_components(w.as_ref(), h.as_ref(), &mut warnings);
        let pen = c.reg.scaled(n, m);
        let report = FitReport {
            solver: c.solver,
            loss: c.loss,
            n_iter,
            n_steps: steps,
            stop_reason: reason,
            reconstruction_err: (2.0 * d.max(0.0)).sqrt(),
            objective: d + loss::penalty_value(w.as_ref(), h.as_ref(), &pen),
            loss_trace: Vec::new(),
            init,
            solver_seconds,
            seconds: t0.elapsed().as_secs_f64(),
            warnings,
        };
        Ok(NmfModel {
            w,
            h,
            report,
            config: self.clone(),
            online,
        })
    }
}

/// The passes of the driver's loop (limits, cancellation, observer), each a walk over the
/// batches; returns the passes run and why they stopped.
fn passes<T: Float>(
    c: &NmfParams<T>,
    e: &mut Engine<T>,
    src: &mut dyn RowSource<T>,
    cuts: &[Range<usize>],
    observer: &mut Observer<'_>,
    loop_start: Instant,
) -> Result<(usize, StopReason), NmfError> {
    let beta = c.loss.beta();
    for it in 1..=c.max_iter {
        if c.cancel.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
            return Ok((it - 1, StopReason::Cancelled));
        }
        if c.max_time.is_some_and(|d| loop_start.elapsed() >= d) {
            return Ok((it - 1, StopReason::Timeout));
        }
        for r in cuts {
            let xb = read(src, r.clone(), beta)?;
            if let Some(stop) = e.batch(c, r.clone(), xb)? {
                return Ok((it, stop));
            }
        }
        e.check_finite(it)?;
        let info = IterInfo {
            iter: it,
            objective: None,
            rel_change: None,
            elapsed: loop_start.elapsed().as_secs_f64(),
        };
        if observer(&info).is_break() {
            return Ok((it, StopReason::Observer));
        }
    }
    Ok((c.max_iter, StopReason::MaxIter))
}

/// The last pass: with fresh restarts, each batch's final W (solved as `transform` solves
/// it); then the divergence of every batch at the final factors, summed.
fn final_pass<T: Float>(
    c: &NmfParams<T>,
    src: &mut dyn RowSource<T>,
    cuts: &[Range<usize>],
    w: &mut Mat<T>,
    h: MatRef<'_, T>,
) -> Result<f64, NmfError> {
    let (n, m) = src.shape();
    let k = c.n_components;
    let beta = c.loss.beta();
    let sparse = src.is_sparse();
    let fresh = c.minibatch.fresh_restarts;
    let it = c.minibatch.transform_max_iter.unwrap_or(c.max_iter);
    let b = cuts.first().map_or(n, |r| r.len());
    let mut ls = loss::LossScratch::for_shape(b, m, k, sparse, c.par);
    let mut solver_ws = None;
    let mut w_prev = mat::zeros(if fresh { b } else { 0 }, k);
    let mut d = 0.0f64;
    for r in cuts {
        let xb = read(src, r.clone(), beta)?;
        let mut wb = w.as_mut().subrows_mut(r.start, r.len());
        if fresh {
            let ws = match &mut solver_ws {
                Some((rows, ws)) if *rows == r.len() => ws,
                slot => {
                    let ws = solve_workspace(r.len(), m, k, c, sparse);
                    w_prev = mat::zeros(r.len(), k);
                    &mut slot.insert((r.len(), ws)).1
                }
            };
            let pen = c.reg.scaled(r.len(), m);
            solve_w_into(wb.rb_mut(), w_prev.as_mut(), h, xb, c, &pen, ws, it)?;
            if beta < 1.0 {
                mu::clip_tiny(wb.rb_mut());
            }
        }
        d += loss::beta_divergence_with(&mut ls, xb, wb.rb(), h, c.loss, c.par)?;
    }
    Ok(d)
}

impl<T: Float> NmfModel<T> {
    /// W for every row `src` delivers, solved block by block with H fixed (as
    /// [`transform`](Self::transform) solves each block) and handed to `sink` with its rows as
    /// it is solved, so W need never be held whole: write it to a file as it comes
    /// (`nmf::io::NpyRowWriter`). Blocks have the config's `batch_size` rows for a minibatch
    /// model, 4096 otherwise. Returns the divergence `D_β(X | WH)` summed over the blocks.
    ///
    /// ```
    /// use nmf_solvers::{InMemoryRows, Nmf, SolverKind};
    /// let x = faer::Mat::from_fn(90, 12, |i, j| ((i * 5 + j * 3) % 7) as f64 + 0.5);
    /// let model = Nmf::params(3).solver(SolverKind::MiniBatch).batch_size(40).fit(x.as_ref())?;
    /// let mut rows = Vec::new();
    /// model.transform_source(&mut InMemoryRows::new(x.as_ref()), &mut |r, w| {
    ///     assert_eq!(w.nrows(), r.len());
    ///     rows.push(r);
    ///     Ok(())
    /// })?;
    /// assert_eq!(rows, vec![0..40, 40..80, 80..90]);
    /// # Ok::<(), nmf_solvers::NmfError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Self::transform`] for each block, a failing source, or a failing `sink`
    /// ([`NmfError::Source`] with its message).
    pub fn transform_source(
        &self,
        src: &mut dyn RowSource<T>,
        sink: &mut RowSink<'_, T>,
    ) -> Result<f64, NmfError> {
        let c = &self.config.p;
        let (n, m) = src.shape();
        if m != self.h.ncols() {
            return Err(CoreError::ShapeMismatch {
                what: "X",
                dim: "columns",
                expected: self.h.ncols(),
                got: m,
            }
            .into());
        }
        let b = if c.solver == crate::params::SolverKind::MiniBatch {
            c.minibatch.batch_size
        } else {
            4096
        };
        let mut ls = None;
        let mut d = 0.0f64;
        for r in batches(n, b.min(n)) {
            let xb = read(src, r.clone(), c.loss.beta())?;
            let w = self.transform(xb)?;
            let ls = ls.get_or_insert_with(|| {
                loss::LossScratch::for_shape(r.len(), m, c.n_components, xb.is_sparse(), c.par)
            });
            d += loss::beta_divergence_with(ls, xb, w.as_ref(), self.h.as_ref(), c.loss, c.par)?;
            sink(r.clone(), w.as_ref()).map_err(|e| NmfError::Source {
                start: r.start,
                end: r.end,
                message: format!("the sink refused W: {e}"),
            })?;
        }
        Ok(d)
    }
}
