//! The fitted model.

use faer::{Mat, MatRef};
use nmf_core::mat;
use nmf_core::observed::{Observed, ObservedKind};
use nmf_core::{CoreError, DataRef, Float, Weights, check, kernels};

use crate::error::NmfError;
use crate::params::NmfConfig;
use crate::report::FitReport;
use crate::transform::{transform_observed, transform_with_h};

/// A fitted factorization `X ≈ W·H`.
#[derive(Debug)]
pub struct NmfModel<T: Float> {
    pub(crate) w: Mat<T>,
    pub(crate) h: Mat<T>,
    pub(crate) report: FitReport,
    pub(crate) config: NmfConfig<T>,
    /// A minibatch fit's final online statistics (boxed: batch models carry only a pointer).
    pub(crate) online: Option<Box<crate::OnlineState<T>>>,
}

// By hand, so that a cloned model's factors keep zero column padding (`nmf_core::mat`): H is
// the left operand of `transform`'s Gram product.
impl<T: Float> Clone for NmfModel<T> {
    fn clone(&self) -> Self {
        NmfModel {
            w: mat::copy(self.w.as_ref()),
            h: mat::copy(self.h.as_ref()),
            report: self.report.clone(),
            config: self.config.clone(),
            online: self.online.clone(),
        }
    }
}

impl<T: Float> NmfModel<T> {
    /// Reassembles a model from its parts, e.g. a model file read back. `w` must be
    /// n_samples x k and `h` k x n_features for the config's k, both finite and nonnegative.
    ///
    /// # Errors
    /// Shapes that disagree with each other or with the config's k, negative or non-finite
    /// entries.
    pub fn from_parts(
        w: Mat<T>,
        h: Mat<T>,
        report: FitReport,
        config: NmfConfig<T>,
    ) -> Result<Self, NmfError> {
        let k = config.n_components();
        check::ensure_shape("W", w.as_ref(), w.nrows(), k)?;
        check::ensure_shape("H", h.as_ref(), k, h.ncols())?;
        for (what, a) in [("W", w.as_ref()), ("H", h.as_ref())] {
            check::ensure_finite(what, a)?;
            check::ensure_nonneg(what, a)?;
        }
        // Copied in: the caller's matrices may carry uninitialised column padding.
        Ok(NmfModel {
            w: mat::copy(w.as_ref()),
            h: mat::copy(h.as_ref()),
            report,
            config,
            online: None,
        })
    }

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
    /// After a minibatch fit (in memory, from a source, or a `partial_fit` chunk): the online
    /// statistics it ended with, so [`crate::OnlineNmf::resume`] continues the stream as
    /// scikit-learn's `partial_fit` continues after `fit`. `None` for the batch solvers.
    pub fn online_state(&self) -> Option<&crate::OnlineState<T>> {
        self.online.as_deref()
    }

    /// Takes the factors out.
    pub fn into_factors(self) -> (Mat<T>, Mat<T>) {
        (self.w, self.h)
    }

    /// W for new data with H fixed: the same nonnegative, penalised problem as `fit` solved for W
    /// only (same solver, loss, `tol`, `max_iter` and W penalties), never a pseudo-inverse.
    ///
    /// Starts from zeros (cd) or from `sqrt(mean(X)/k)` (mu), as scikit-learn does.
    ///
    /// # Errors
    /// `x_new` empty, non-finite, negative, with a different number of features, or with zeros
    /// when β <= 0.
    pub fn transform<'a>(&self, x_new: impl Into<DataRef<'a, T>>) -> Result<Mat<T>, NmfError> {
        transform_with_h(&self.config, self.h.as_ref(), x_new)
    }

    /// W for new rows observed only where `m > 0`: the weighted problem of the fit, solved for W
    /// with H fixed (cd: each row's weighted NNLS by sweeps; mu: weighted W half-steps). `m` has
    /// `x_new`'s shape, dense or sparse; the model's `missing` and `mask_zeros` apply too.
    ///
    /// # Errors
    /// As [`Self::transform`], plus weights of the wrong shape, negative or non-finite, or a
    /// model whose solver has no weighted form.
    pub fn transform_weighted<'a>(
        &self,
        x_new: impl Into<DataRef<'a, T>>,
        m: impl Into<Weights<T>>,
    ) -> Result<Mat<T>, NmfError> {
        let m = m.into();
        transform_observed(&self.config, self.h.as_ref(), x_new.into(), Some(&m))
    }

    /// X with its unobserved entries (weight 0 in the fit's weights, NaN with
    /// `Missing::Nan`, unstored with `mask_zeros`) replaced by `(WH)_ij`; observed entries keep
    /// their values. `x` is the training matrix (this model's n_samples x n_features); the
    /// result is dense.
    ///
    /// # Errors
    /// `x` of another shape than the training data, or invalid observed entries.
    pub fn impute<'a>(&self, x: impl Into<DataRef<'a, T>>) -> Result<Mat<T>, NmfError> {
        let x = x.into();
        let (n, m) = (self.w.nrows(), self.h.ncols());
        for (dim, expected, got) in [("rows", n, x.nrows()), ("columns", m, x.ncols())] {
            if expected != got {
                return Err(CoreError::ShapeMismatch {
                    what: "X (impute takes the training matrix)",
                    dim,
                    expected,
                    got,
                }
                .into());
            }
        }
        let c = &self.config.p;
        let mut out = self.inverse_transform(self.w.as_ref())?;
        match Observed::build(x, c.weights.as_deref(), c.missing, c.mask_zeros)? {
            None => {
                x.validate("X")?;
                // Everything is observed: X itself.
                match x {
                    DataRef::Dense(d) => out.copy_from(d),
                    DataRef::Sparse(s) => out = s.mat().to_dense(),
                    _ => {
                        return Err(CoreError::Unsupported {
                            operation: "impute",
                            kind: x.kind(),
                        }
                        .into());
                    }
                }
            }
            Some(obs) => match obs.kind() {
                ObservedKind::Dense { wt, x: xv, .. } => {
                    for j in 0..m {
                        for i in 0..n {
                            if wt[(i, j)] > T::ZERO {
                                out[(i, j)] = xv[(i, j)];
                            }
                        }
                    }
                }
                ObservedKind::Pattern(p) => {
                    for i in 0..n {
                        for e in p.row_ptr[i]..p.row_ptr[i + 1] {
                            out[(i, p.col_idx[e] as usize)] = p.x[e];
                        }
                    }
                }
                _ => {
                    return Err(CoreError::Unsupported {
                        operation: "impute",
                        kind: "this kind of weights",
                    }
                    .into());
                }
            },
        }
        Ok(out)
    }

    /// `W·H` for a W of this model's k (e.g. from [`Self::transform`]).
    ///
    /// # Errors
    /// `w` does not have k columns.
    pub fn inverse_transform(&self, w: MatRef<'_, T>) -> Result<Mat<T>, NmfError> {
        check::ensure_shape("W", w, w.nrows(), self.h.nrows())?;
        let mut out = mat::zeros(w.nrows(), self.h.ncols());
        kernels::wh_into(out.as_mut(), w, self.h.as_ref(), self.config.p.par)?;
        Ok(out)
    }
}
