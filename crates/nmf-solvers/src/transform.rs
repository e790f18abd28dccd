//! `transform`: W ≥ 0 for new data with H fixed, by the fitted solver's own method.

use faer::{Mat, MatRef};
use nmf_core::{CoreError, DataRef, Float, Observed, Weights, check};

use crate::error::NmfError;
use crate::params::{NmfConfig, NmfParams};
use crate::solver::{Solver, dispatch, ensure_finite};
use crate::weighted::solve_w_weighted;

/// Solves for W ≥ 0 with `h` fixed under `config` (solver, loss, `tol`, `max_iter`, W
/// penalties): what [`crate::NmfModel::transform`] does, for any H with the right k.
///
/// # Errors
/// `x_new` empty, non-finite, negative, with a number of features other than H's, or with
/// zeros when β <= 0; an `h` with a k other than the config's; a solve that overflows the data's
/// precision ([`NmfError::NonFinite`]).
pub fn transform_with_h<'a, T: Float>(
    config: &NmfConfig<T>,
    h: MatRef<'_, T>,
    x_new: impl Into<DataRef<'a, T>>,
) -> Result<Mat<T>, NmfError> {
    transform_observed(config, h, x_new.into(), None)
}

/// [`transform_with_h`] with optional weights for the new rows; without them, the config's
/// `missing` and `mask_zeros` still decide what is observed.
pub(crate) fn transform_observed<T: Float>(
    config: &NmfConfig<T>,
    h: MatRef<'_, T>,
    x: DataRef<'_, T>,
    weights: Option<&Weights<T>>,
) -> Result<Mat<T>, NmfError> {
    let c = &config.p;
    check::ensure_shape("H", h, c.n_components, h.ncols())?;
    if x.ncols() != h.ncols() {
        return Err(CoreError::ShapeMismatch {
            what: "X",
            dim: "columns",
            expected: h.ncols(),
            got: x.ncols(),
        }
        .into());
    }
    let pen = c.reg.scaled(x.nrows(), h.ncols());
    let w = match Observed::build(x, weights, c.missing, c.mask_zeros)? {
        Some(obs) => {
            obs.ensure_positive_for_beta(c.loss.beta())?;
            solve_w_weighted(c, h, &obs, &pen)?
        }
        None => {
            x.validate("X")?;
            x.ensure_positive_for_beta(c.loss.beta())?;
            dispatch!(c, solve::<T>(c, h, x, &pen))?
        }
    };
    // One check for every solver's solve: an overflow of the data's precision is a typed error,
    // as in `fit`, never non-finite output.
    ensure_finite("W (transform)", w.as_ref(), c.max_iter)?;
    Ok(w)
}

fn solve<T: Float, S: Solver<T>>(
    c: &NmfParams<T>,
    h: MatRef<'_, T>,
    x: DataRef<'_, T>,
    pen: &nmf_core::Penalties,
) -> Result<Mat<T>, NmfError> {
    S::solve_w(c, h, x, pen)
}
