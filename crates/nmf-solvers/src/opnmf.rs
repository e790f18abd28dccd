//! Orthogonal projective NMF (Yang & Oja 2010), in scikit-learn's convention.
//!
//! The package `opnmf` factors a matrix whose *columns* are samples as `X ≈ W·Wᵀ·X`. With rows as
//! samples (our convention) the same model learns components `H` (k x n_features, nearly
//! orthonormal rows) and codes `W = X·Hᵀ`, so `X ≈ X·Hᵀ·H`; `transform(X_new) = X_new·Hᵀ`.
//! Fitting faces with images as rows gives basis images in H, as the opnmf faces example does with
//! pixels as samples.
//!
//! With `B = Hᵀ` (m x k) the multiplicative rule is `B ← B ⊙ (XᵀX·B) ⊘ (B·(Bᵀ·XᵀX·B))`, with
//! entries below 1e-16 raised to 1e-16. `XᵀX·B` is computed as `Xᵀ(X·B)`: O(nmk), no m x m matrix.

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use nmf_core::kernels::matmul;
use nmf_core::{CoreError, DataRef, Float, Penalties};
use nmf_init::{Factors, Init, initialize};

use crate::error::NmfError;
use crate::params::NmfParams;
use crate::report::{FitWarning, StopReason};
use crate::solver::{Problem, Solver, ensure_finite};

/// How OPNMF keeps the scale of the basis in check between updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OpnmfNorm {
    /// No normalisation; each multiplicative update is accepted through a backtracking search
    /// on the segment from the old to the new basis, so `‖X − X·B·Bᵀ‖` never increases (the
    /// segment stays nonnegative). The default.
    #[default]
    Monotone,
    /// opnmf 0.0.2's rule: divide by the spectral norm after every update. Reproduces opnmf's
    /// iterates, but the objective is not monotone (about a fifth of its iterations go up).
    Spectral,
}

pub(crate) struct Opnmf<T: Float> {
    /// B = Hᵀ, m x k.
    b: Mat<T>,
    norm: OpnmfNorm,
    /// Relative change of the last update, ‖B_old − B‖_F / ‖B_old‖_F.
    delta: f64,
    x_sqnorm: f64,
}

const FLOOR: f64 = 1e-16;

impl<T: Float> Opnmf<T> {
    /// (XB, XᵀXB) for a basis B.
    fn products(
        x: DataRef<'_, T>,
        b: MatRef<'_, T>,
        par: Par,
    ) -> Result<(Mat<T>, Mat<T>), CoreError> {
        let (n, m) = x.shape();
        let k = b.ncols();
        let mut xb = Mat::<T>::zeros(n, k);
        x.mul_into(xb.as_mut(), b, par)?;
        let mut cb = Mat::<T>::zeros(m, k);
        x.t_mul_into(cb.as_mut(), xb.as_ref(), par)?;
        Ok((xb, cb))
    }

    /// ‖X − X·B·Bᵀ‖² = ‖X‖² − 2·tr(BᵀCB) + tr((BᵀB)(BᵀCB)) with C = XᵀX.
    fn value(&self, x: DataRef<'_, T>, b: MatRef<'_, T>, par: Par) -> Result<f64, CoreError> {
        let (xb, _) = Self::products(x, b, par)?;
        let k = b.ncols();
        // tr(BᵀCB) = ‖XB‖²; tr((BᵀB)(BᵀCB)) = ⟨BᵀB, (XB)ᵀ(XB)⟩.
        let btcb = {
            let mut g = Mat::<T>::zeros(k, k);
            matmul(
                g.as_mut(),
                Accum::Replace,
                xb.transpose(),
                xb.as_ref(),
                T::ONE,
                Par::Seq,
            );
            g
        };
        let btb = {
            let mut g = Mat::<T>::zeros(k, k);
            matmul(
                g.as_mut(),
                Accum::Replace,
                b.transpose(),
                b,
                T::ONE,
                Par::Seq,
            );
            g
        };
        let tr: f64 = (0..k).map(|i| btcb[(i, i)].to_f64()).sum();
        let quad =
            nmf_core::kernels::frobenius_inner(btb.as_ref(), btcb.as_ref()).unwrap_or(f64::NAN);
        Ok((self.x_sqnorm - 2.0 * tr + quad).max(0.0))
    }

    fn update(&mut self, x: DataRef<'_, T>, par: Par) -> Result<(), CoreError> {
        let (m, k) = self.b.shape();
        let (_, cb) = Self::products(x, self.b.as_ref(), par)?;
        let mut btcb = Mat::<T>::zeros(k, k);
        matmul(
            btcb.as_mut(),
            Accum::Replace,
            self.b.transpose(),
            cb.as_ref(),
            T::ONE,
            Par::Seq,
        );
        let mut den = Mat::<T>::zeros(m, k);
        matmul(
            den.as_mut(),
            Accum::Replace,
            self.b.as_ref(),
            btcb.as_ref(),
            T::ONE,
            par,
        );
        let floor = T::from_f64(FLOOR);
        let mut new = Mat::<T>::zeros(m, k);
        zip!(new.as_mut(), self.b.as_ref(), cb.as_ref(), den.as_ref()).for_each(
            |unzip!(nv, bv, c, d)| {
                let v = *bv * *c / *d;
                *nv = if v < floor || !v.is_finite() {
                    floor
                } else {
                    v
                };
            },
        );
        match self.norm {
            OpnmfNorm::Spectral => {
                let s = spectral_norm(new.as_ref());
                if s > 0.0 {
                    let inv = T::from_f64(1.0 / s);
                    new.for_each_mut(|v| *v *= inv);
                }
            }
            OpnmfNorm::Monotone => {
                let f0 = self.value(x, self.b.as_ref(), par)?;
                let mut alpha = 1.0f64;
                let mut accepted = None;
                for _ in 0..40 {
                    let a = T::from_f64(alpha);
                    let trial = Mat::from_fn(m, k, |i, j| {
                        self.b[(i, j)] + a * (new[(i, j)] - self.b[(i, j)])
                    });
                    if self.value(x, trial.as_ref(), par)? <= f0 {
                        accepted = Some(trial);
                        break;
                    }
                    alpha *= 0.5;
                }
                new = accepted.unwrap_or_else(|| self.b.clone());
            }
        }
        let old = nmf_core::kernels::squared_norm(self.b.as_ref()).sqrt();
        let mut diff = 0.0f64;
        zip!(self.b.as_ref(), new.as_ref())
            .for_each(|unzip!(a, b)| diff += (a.to_f64() - b.to_f64()).powi(2));
        self.delta = if old > 0.0 { diff.sqrt() / old } else { 0.0 };
        self.b = new;
        Ok(())
    }

    /// opnmf's post-processing: codes W = X·B, components ordered by ‖B_r‖·‖W_:,r‖ descending.
    fn finish(self, x: DataRef<'_, T>, par: Par) -> Result<(Mat<T>, Mat<T>), CoreError> {
        let k = self.b.ncols();
        let (xb, _) = Self::products(x, self.b.as_ref(), par)?;
        let col_norm = |a: MatRef<'_, T>, j: usize| {
            (0..a.nrows())
                .map(|i| a[(i, j)].to_f64().powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let mut order: Vec<usize> = (0..k).collect();
        let score: Vec<f64> = (0..k)
            .map(|r| {
                let h = col_norm(xb.as_ref(), r);
                col_norm(self.b.as_ref(), r) * if h == 0.0 { 1.0 } else { h }
            })
            .collect();
        order.sort_by(|&a, &b| {
            score[b]
                .partial_cmp(&score[a])
                .unwrap_or(core::cmp::Ordering::Equal)
        });
        let h = Mat::from_fn(k, self.b.nrows(), |r, j| self.b[(j, order[r])]);
        let w = Mat::from_fn(x.nrows(), k, |i, r| xb[(i, order[r])]);
        Ok((w, h))
    }
}

impl<T: Float> Solver<T> for Opnmf<T> {
    /// opnmf's own default start is NNDSVD (its zeros are lifted by the 1e-16 floor).
    fn initial(pb: &Problem<'_, T>) -> Result<Factors<T>, NmfError> {
        let c = pb.c;
        let (n, m) = pb.x.shape();
        let init = match &c.init {
            Init::Auto if c.n_components <= n.min(m) => &Init::Nndsvd,
            i => i,
        };
        Ok(initialize(
            pb.x,
            c.n_components,
            init,
            c.seed,
            c.compat,
            c.par,
        )?)
    }

    fn new(
        pb: &Problem<'_, T>,
        _w: Mat<T>,
        h: Mat<T>,
        _warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        Ok(Opnmf {
            b: h.transpose().to_owned(),
            norm: pb.c.opnmf_norm,
            delta: f64::INFINITY,
            x_sqnorm: pb.x_sqnorm,
        })
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        self.update(pb.x, pb.par())?;
        Ok(None)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        ensure_finite("H", self.b.as_ref(), iter)
    }

    fn objective(&mut self, pb: &Problem<'_, T>, _after_step: bool) -> Result<f64, NmfError> {
        Ok(0.5 * self.value(pb.x, self.b.as_ref(), pb.par())?)
    }

    fn converged(
        &mut self,
        pb: &Problem<'_, T>,
        _iter: usize,
    ) -> Result<Option<StopReason>, NmfError> {
        Ok((self.delta < pb.c.tol).then_some(StopReason::Converged))
    }

    fn into_factors(self, pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        Ok(self.finish(pb.x, pb.par())?)
    }

    /// The codes of new data: `X_new·Hᵀ` (no iterations).
    fn solve_w(
        c: &NmfParams<T>,
        h: MatRef<'_, T>,
        x: DataRef<'_, T>,
        _pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        let mut out = Mat::zeros(x.nrows(), h.nrows());
        x.mul_into(out.as_mut(), h.transpose(), c.par)?;
        Ok(out)
    }
}

/// Largest singular value of a tall matrix: power iteration on its k x k Gram (f64), with the
/// Rayleigh quotient as the estimate (accurate even when the top eigenvalues are close).
fn spectral_norm<T: Float>(a: MatRef<'_, T>) -> f64 {
    let k = a.ncols();
    let g = Mat::<f64>::from_fn(k, k, |i, j| {
        (0..a.nrows())
            .map(|r| a[(r, i)].to_f64() * a[(r, j)].to_f64())
            .sum()
    });
    let mut v = vec![1.0 / (k as f64).sqrt(); k];
    let mut lambda = 0.0f64;
    for _ in 0..2000 {
        let gv: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| g[(i, j)] * v[j]).sum())
            .collect();
        let nrm = gv.iter().map(|x| x * x).sum::<f64>().sqrt();
        if nrm == 0.0 {
            return 0.0;
        }
        let next: f64 = gv.iter().zip(&v).map(|(a, b)| a * b).sum();
        v = gv.into_iter().map(|x| x / nrm).collect();
        if (next - lambda).abs() <= 1e-15 * next.abs() {
            lambda = next;
            break;
        }
        lambda = next;
    }
    lambda.max(0.0).sqrt()
}
