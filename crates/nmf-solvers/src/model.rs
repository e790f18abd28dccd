//! The fitted model.

use faer::{Mat, MatRef};
use nmf_core::{DataRef, Float, check, kernels};

use crate::error::NmfError;
use crate::params::NmfConfig;
use crate::report::FitReport;
use crate::transform::transform_with_h;

/// A fitted factorization `X ≈ W·H`.
#[derive(Debug, Clone)]
pub struct NmfModel<T: Float> {
    pub(crate) w: Mat<T>,
    pub(crate) h: Mat<T>,
    pub(crate) report: FitReport,
    pub(crate) config: NmfConfig<T>,
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
    /// Starts from zeros (cd) or from `sqrt(mean(X)/k)` (mu), as scikit-learn does.
    ///
    /// # Errors
    /// `x_new` empty, non-finite, negative, with a different number of features, or with zeros
    /// when β <= 0.
    pub fn transform<'a>(&self, x_new: impl Into<DataRef<'a, T>>) -> Result<Mat<T>, NmfError> {
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
