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
//! The products, the updated basis and the line search's trial live in buffers sized when the
//! solver is built, so an iteration allocates nothing.

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use nmf_core::kernels::matmul;
use nmf_core::mat;
use nmf_core::{CoreError, DataRef, Float, Penalties};
use nmf_init::{Factors, Init, initialize};

use crate::error::NmfError;
use crate::params::NmfParams;
use crate::report::{FitWarning, StopReason};
use crate::solver::{Problem, Solver, ensure_finite};

/// How OPNMF keeps the scale of the basis in check between updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
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
    ws: OpnmfWork<T>,
}

/// The buffers of one update and one objective evaluation, sized when the solver is built so
/// that iterating allocates nothing.
struct OpnmfWork<T> {
    /// X·B and BᵀCB (shared by the update and the objective), BᵀB.
    val: ValueWork<T>,
    /// XᵀX·B (m x k).
    cb: Mat<T>,
    /// The update's denominator B·BᵀCB, the updated basis and the line search's trial (m x k).
    den: Mat<T>,
    new: Mat<T>,
    trial: Mat<T>,
    spectral: SpectralScratch,
}

impl<T: Float> OpnmfWork<T> {
    fn new(n: usize, m: usize, k: usize) -> Self {
        OpnmfWork {
            val: ValueWork {
                xb: mat::zeros(n, k),
                btcb: mat::zeros(k, k),
                btb: mat::zeros(k, k),
            },
            cb: mat::zeros(m, k),
            den: mat::zeros(m, k),
            new: mat::zeros(m, k),
            trial: mat::zeros(m, k),
            spectral: SpectralScratch::new(k),
        }
    }
}

/// The buffers of [`Opnmf::value`].
struct ValueWork<T> {
    /// X·B, n x k.
    xb: Mat<T>,
    /// BᵀCB = (XB)ᵀ(XB) and BᵀB, k x k.
    btcb: Mat<T>,
    btb: Mat<T>,
}

const FLOOR: f64 = 1e-16;

impl<T: Float> Opnmf<T> {
    /// ‖X − X·B·Bᵀ‖² = ‖X‖² − 2·tr(BᵀCB) + tr((BᵀB)(BᵀCB)) with C = XᵀX (only X·B is formed:
    /// O(nmk)).
    fn value(
        x_sqnorm: f64,
        ws: &mut ValueWork<T>,
        x: DataRef<'_, T>,
        b: MatRef<'_, T>,
        par: Par,
    ) -> Result<f64, CoreError> {
        let k = b.ncols();
        x.mul_into(ws.xb.as_mut(), b, par)?;
        // tr(BᵀCB) = ‖XB‖²; tr((BᵀB)(BᵀCB)) = ⟨BᵀB, (XB)ᵀ(XB)⟩.
        matmul(
            ws.btcb.as_mut(),
            Accum::Replace,
            ws.xb.transpose(),
            ws.xb.as_ref(),
            T::ONE,
            Par::Seq,
        )?;
        matmul(
            ws.btb.as_mut(),
            Accum::Replace,
            b.transpose(),
            b,
            T::ONE,
            Par::Seq,
        )?;
        let tr: f64 = (0..k).map(|i| ws.btcb[(i, i)].to_f64()).sum();
        let quad = nmf_core::kernels::frobenius_inner(ws.btb.as_ref(), ws.btcb.as_ref())
            .unwrap_or(f64::NAN);
        Ok((x_sqnorm - 2.0 * tr + quad).max(0.0))
    }

    fn update(&mut self, x: DataRef<'_, T>, par: Par) -> Result<(), CoreError> {
        let ws = &mut self.ws;
        // XᵀX·B as Xᵀ(X·B).
        x.mul_into(ws.val.xb.as_mut(), self.b.as_ref(), par)?;
        x.t_mul_into(ws.cb.as_mut(), ws.val.xb.as_ref(), par)?;
        matmul(
            ws.val.btcb.as_mut(),
            Accum::Replace,
            self.b.transpose(),
            ws.cb.as_ref(),
            T::ONE,
            Par::Seq,
        )?;
        matmul(
            ws.den.as_mut(),
            Accum::Replace,
            self.b.as_ref(),
            ws.val.btcb.as_ref(),
            T::ONE,
            par,
        )?;
        let floor = T::from_f64(FLOOR);
        zip!(
            ws.new.as_mut(),
            self.b.as_ref(),
            ws.cb.as_ref(),
            ws.den.as_ref()
        )
        .for_each(|unzip!(nv, bv, c, d)| {
            let v = *bv * *c / *d;
            *nv = if v < floor || !v.is_finite() {
                floor
            } else {
                v
            };
        });
        match self.norm {
            OpnmfNorm::Spectral => {
                let s = spectral_norm(ws.new.as_ref(), &mut ws.spectral);
                if s > 0.0 {
                    let inv = T::from_f64(1.0 / s);
                    ws.new.for_each_mut(|v| *v *= inv);
                }
            }
            OpnmfNorm::Monotone => {
                let f0 = Self::value(self.x_sqnorm, &mut ws.val, x, self.b.as_ref(), par)?;
                let mut alpha = 1.0f64;
                let mut accepted = false;
                for _ in 0..40 {
                    let a = T::from_f64(alpha);
                    zip!(ws.trial.as_mut(), self.b.as_ref(), ws.new.as_ref())
                        .for_each(|unzip!(t, bv, nv)| *t = *bv + a * (*nv - *bv));
                    if Self::value(self.x_sqnorm, &mut ws.val, x, ws.trial.as_ref(), par)? <= f0 {
                        accepted = true;
                        break;
                    }
                    alpha *= 0.5;
                }
                if accepted {
                    core::mem::swap(&mut ws.new, &mut ws.trial);
                } else {
                    ws.new.copy_from(&self.b);
                }
            }
        }
        let old = nmf_core::kernels::squared_norm(self.b.as_ref()).sqrt();
        let mut diff = 0.0f64;
        zip!(self.b.as_ref(), ws.new.as_ref())
            .for_each(|unzip!(a, b)| diff += (a.to_f64() - b.to_f64()).powi(2));
        self.delta = if old > 0.0 { diff.sqrt() / old } else { 0.0 };
        // The old basis's buffer takes the next update.
        core::mem::swap(&mut self.b, &mut ws.new);
        Ok(())
    }

    /// opnmf's post-processing: codes W = X·B, components ordered by ‖B_r‖·‖W_:,r‖ descending.
    fn finish(self, x: DataRef<'_, T>, par: Par) -> Result<(Mat<T>, Mat<T>), CoreError> {
        let k = self.b.ncols();
        let mut xb = self.ws.val.xb;
        x.mul_into(xb.as_mut(), self.b.as_ref(), par)?;
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
        let h = mat::from_fn(k, self.b.nrows(), |r, j| self.b[(j, order[r])]);
        let w = mat::from_fn(x.nrows(), k, |i, r| xb[(i, order[r])]);
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
        let (n, m) = pb.x.shape();
        Ok(Opnmf {
            b: mat::copy(h.transpose()),
            norm: pb.c.opnmf_norm,
            delta: f64::INFINITY,
            x_sqnorm: pb.x_sqnorm,
            ws: OpnmfWork::new(n, m, h.nrows()),
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
        let v = Self::value(
            self.x_sqnorm,
            &mut self.ws.val,
            pb.x,
            self.b.as_ref(),
            pb.par(),
        )?;
        Ok(0.5 * v)
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
        let mut out = mat::zeros(x.nrows(), h.nrows());
        x.mul_into(out.as_mut(), h.transpose(), c.par)?;
        Ok(out)
    }
}

/// The buffers of [`spectral_norm`] for k columns: the k x k Gram and the power iteration's
/// two vectors.
struct SpectralScratch {
    g: Mat<f64>,
    v: Vec<f64>,
    gv: Vec<f64>,
}

impl SpectralScratch {
    fn new(k: usize) -> Self {
        SpectralScratch {
            g: mat::zeros(k, k),
            v: vec![0.0; k],
            gv: vec![0.0; k],
        }
    }
}

/// Largest singular value of a tall matrix (k columns, `ws` made for k): power iteration on its
/// k x k Gram (f64), with the Rayleigh quotient as the estimate (accurate even when the top
/// eigenvalues are close).
fn spectral_norm<T: Float>(a: MatRef<'_, T>, ws: &mut SpectralScratch) -> f64 {
    let k = a.ncols();
    let SpectralScratch { g, v, gv } = ws;
    for j in 0..k {
        for i in 0..k {
            g[(i, j)] = (0..a.nrows())
                .map(|r| a[(r, i)].to_f64() * a[(r, j)].to_f64())
                .sum();
        }
    }
    v.fill(1.0 / (k as f64).sqrt());
    let mut lambda = 0.0f64;
    for _ in 0..2000 {
        for (i, gvi) in gv.iter_mut().enumerate() {
            *gvi = (0..k).map(|j| g[(i, j)] * v[j]).sum();
        }
        let nrm = gv.iter().map(|x| x * x).sum::<f64>().sqrt();
        if nrm == 0.0 {
            return 0.0;
        }
        let next: f64 = gv.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
        for (vi, gvi) in v.iter_mut().zip(gv.iter()) {
            *vi = gvi / nrm;
        }
        if (next - lambda).abs() <= 1e-15 * next.abs() {
            lambda = next;
            break;
        }
        lambda = next;
    }
    lambda.max(0.0).sqrt()
}
