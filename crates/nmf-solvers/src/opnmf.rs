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
use nmf_core::Float;
use nmf_core::kernels::matmul;

/// How OPNMF keeps the scale of the basis in check between updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    pub b: Mat<T>,
    pub norm: OpnmfNorm,
    /// Relative change of the last update, ‖B_old − B‖_F / ‖B_old‖_F.
    pub delta: f64,
    x_sqnorm: f64,
}

const FLOOR: f64 = 1e-16;

impl<T: Float> Opnmf<T> {
    pub fn new(x: MatRef<'_, T>, h0: MatRef<'_, T>, norm: OpnmfNorm) -> Self {
        Opnmf {
            b: h0.transpose().to_owned(),
            norm,
            delta: f64::INFINITY,
            x_sqnorm: nmf_core::kernels::squared_norm(x),
        }
    }

    /// (XB, XᵀXB) for a basis B.
    fn products(x: MatRef<'_, T>, b: MatRef<'_, T>, par: Par) -> (Mat<T>, Mat<T>) {
        let (n, m) = x.shape();
        let k = b.ncols();
        let mut xb = Mat::<T>::zeros(n, k);
        matmul(xb.as_mut(), Accum::Replace, x, b, T::ONE, par);
        let mut cb = Mat::<T>::zeros(m, k);
        matmul(
            cb.as_mut(),
            Accum::Replace,
            x.transpose(),
            xb.as_ref(),
            T::ONE,
            par,
        );
        (xb, cb)
    }

    /// ‖X − X·B·Bᵀ‖² = ‖X‖² − 2·tr(BᵀCB) + tr((BᵀB)(BᵀCB)) with C = XᵀX.
    pub fn objective(&self, x: MatRef<'_, T>, b: MatRef<'_, T>, par: Par) -> f64 {
        let (xb, _) = Self::products(x, b, par);
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
        (self.x_sqnorm - 2.0 * tr + quad).max(0.0)
    }

    pub fn step(&mut self, x: MatRef<'_, T>, par: Par) {
        let (m, k) = self.b.shape();
        let (_, cb) = Self::products(x, self.b.as_ref(), par);
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
                let f0 = self.objective(x, self.b.as_ref(), par);
                let mut alpha = 1.0f64;
                let mut accepted = None;
                for _ in 0..40 {
                    let a = T::from_f64(alpha);
                    let trial = Mat::from_fn(m, k, |i, j| {
                        self.b[(i, j)] + a * (new[(i, j)] - self.b[(i, j)])
                    });
                    if self.objective(x, trial.as_ref(), par) <= f0 {
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
    }

    /// opnmf's post-processing: codes W = X·B, components ordered by ‖B_r‖·‖W_:,r‖ descending.
    pub fn finish(self, x: MatRef<'_, T>, par: Par) -> (Mat<T>, Mat<T>) {
        let k = self.b.ncols();
        let (xb, _) = Self::products(x, self.b.as_ref(), par);
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
        (w, h)
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
