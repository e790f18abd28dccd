//! Truncated SVDs for the NNDSVD family: exact (dense thin SVD, or Lanczos when k is small) and
//! scikit-learn's randomized SVD, driven by its `RandomState` stream.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par};
use nmf_core::Float;
use nmf_core::kernels::matmul;

use crate::error::InitError;
use crate::mt19937::RandomState;

/// Which SVD an NNDSVD initialisation used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SvdPath {
    /// faer's dense thin SVD, truncated to k.
    Full,
    /// faer's Lanczos partial SVD (restarted bidiagonalisation) of the top k triplets.
    Lanczos,
    /// scikit-learn's randomized SVD (Halko et al.), bit-compatible random test matrix.
    Randomized,
}

impl core::fmt::Display for SvdPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SvdPath::Full => "full thin SVD",
            SvdPath::Lanczos => "Lanczos partial SVD",
            SvdPath::Randomized => "randomized SVD (scikit-learn compatible)",
        })
    }
}

/// The top k singular triplets: `X ≈ U·diag(s)·Vᵀ`, U n x k, V m x k, s nonincreasing.
pub(crate) struct Truncated<T> {
    pub u: Mat<T>,
    pub s: Vec<T>,
    pub v: Mat<T>,
}

/// Orthonormal basis of the column space of `a` (thin Householder QR).
///
/// Decompositions always run on one thread: faer's parallel QR/SVD change their rounding with
/// the thread count (results must not), and at the sizes NMF initialisation meets they were also
/// slower on two threads (docs/performance.md). The products around them are parallel and
/// thread-independent.
pub(crate) fn orthonormal_basis<T: Float>(a: MatRef<'_, T>) -> Mat<T> {
    let par = Par::Seq;
    use faer::linalg::householder::{
        apply_block_householder_sequence_on_the_left_in_place_scratch,
        apply_block_householder_sequence_on_the_left_in_place_with_conj,
    };
    use faer::linalg::qr::no_pivoting::factor::{
        qr_in_place, qr_in_place_scratch, recommended_block_size,
    };
    let (m, n) = a.shape();
    let size = m.min(n);
    let bs = recommended_block_size::<T>(m, n);
    let mut qr = a.to_owned();
    let mut coeff = Mat::<T>::zeros(bs, size);
    let req = qr_in_place_scratch::<T>(m, n, bs, par, Default::default());
    let mut mem = MemBuffer::new(req);
    qr_in_place(
        qr.as_mut(),
        coeff.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    let mut q = Mat::<T>::identity(m, size);
    let req = apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, bs, size);
    let mut mem = MemBuffer::new(req);
    apply_block_householder_sequence_on_the_left_in_place_with_conj(
        qr.as_ref().subcols(0, size),
        coeff.as_ref(),
        faer::Conj::No,
        q.as_mut(),
        par,
        MemStack::new(&mut mem),
    );
    q
}

/// Dense thin SVD `a = U diag(s) Vᵀ`, on one thread (see [`orthonormal_basis`]).
pub(crate) fn thin_svd<T: Float>(a: MatRef<'_, T>) -> Result<Truncated<T>, InitError> {
    let par = Par::Seq;
    use faer::linalg::svd::{ComputeSvdVectors, svd, svd_scratch};
    let (m, n) = a.shape();
    let size = m.min(n);
    let mut u = Mat::<T>::zeros(m, size);
    let mut v = Mat::<T>::zeros(n, size);
    let mut s = faer::diag::Diag::<T>::zeros(size);
    let req = svd_scratch::<T>(
        m,
        n,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        par,
        Default::default(),
    );
    let mut mem = MemBuffer::new(req);
    svd(
        a,
        s.as_mut(),
        Some(u.as_mut()),
        Some(v.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| InitError::Svd(format!("{e:?}")))?;
    let s: Vec<T> = (0..size).map(|i| s.column_vector()[i]).collect();
    Ok(sorted(Truncated { u, s, v }))
}

/// Puts triplets in nonincreasing singular-value order (stable, so ties keep their order).
fn sorted<T: Float>(t: Truncated<T>) -> Truncated<T> {
    let mut idx: Vec<usize> = (0..t.s.len()).collect();
    idx.sort_by(|&a, &b| {
        t.s[b]
            .partial_cmp(&t.s[a])
            .unwrap_or(core::cmp::Ordering::Equal)
    });
    if idx.iter().enumerate().all(|(i, &j)| i == j) {
        return t;
    }
    Truncated {
        u: Mat::from_fn(t.u.nrows(), idx.len(), |i, j| t.u[(i, idx[j])]),
        s: idx.iter().map(|&j| t.s[j]).collect(),
        v: Mat::from_fn(t.v.nrows(), idx.len(), |i, j| t.v[(i, idx[j])]),
    }
}

fn truncate<T: Float>(t: Truncated<T>, k: usize) -> Truncated<T> {
    Truncated {
        u: t.u.subcols(0, k).to_owned(),
        s: t.s[..k].to_vec(),
        v: t.v.subcols(0, k).to_owned(),
    }
}

/// scikit-learn's `svd_flip`: the largest-magnitude entry of each left singular vector (first
/// index on ties) is made positive, flipping the matching right vector with it.
pub(crate) fn flip_signs<T: Float>(t: &mut Truncated<T>) {
    for j in 0..t.u.ncols() {
        let mut best = 0;
        let mut best_abs = T::ZERO;
        for i in 0..t.u.nrows() {
            let a = t.u[(i, j)].abs();
            if a > best_abs {
                best_abs = a;
                best = i;
            }
        }
        if t.u.nrows() > 0 && t.u[(best, j)] < T::ZERO {
            t.u.col_mut(j).iter_mut().for_each(|x| *x = -*x);
            t.v.col_mut(j).iter_mut().for_each(|x| *x = -*x);
        }
    }
}

/// Exact top-k SVD: Lanczos when k is small against min(n, m), else the dense thin SVD.
/// Falls back to the dense SVD if Lanczos does not converge on all k triplets.
pub(crate) fn exact_truncated<T: Float>(
    x: MatRef<'_, T>,
    k: usize,
    seed: u64,
) -> Result<(Truncated<T>, SvdPath), InitError> {
    let small = x.nrows().min(x.ncols());
    // The dense thin SVD beat Lanczos on the faces (400 x 4096; docs/performance.md), so
    // Lanczos is kept for large min(n, m) and small k.
    if small >= 1000
        && 10 * k <= small
        // One thread: faer's parallel matrix-free products are not thread-count stable.
        && let Some(t) = lanczos(x, k, seed, Par::Seq)
    {
        let mut t = t;
        flip_signs(&mut t);
        return Ok((t, SvdPath::Lanczos));
    }
    let mut t = truncate(thin_svd(x)?, k);
    flip_signs(&mut t);
    Ok((t, SvdPath::Full))
}

fn lanczos<T: Float>(x: MatRef<'_, T>, k: usize, seed: u64, par: Par) -> Option<Truncated<T>> {
    use faer::matrix_free::eigen::{PartialEigenParams, partial_svd, partial_svd_scratch};
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let (n, m) = x.shape();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed_1a2c_205e_ed00);
    let normal = rand_distr::StandardNormal;
    let mut v0 = Col::<T>::from_fn(m, |_| {
        T::from_f64(Distribution::<f64>::sample(&normal, &mut rng))
    });
    let nrm = v0.norm_l2();
    if nrm == T::ZERO || !nrm.is_finite() {
        return None;
    }
    v0.iter_mut().for_each(|v| *v /= nrm);
    let mut u = Mat::<T>::zeros(n, k);
    let mut v = Mat::<T>::zeros(m, k);
    let mut s = vec![T::ZERO; k];
    let params = PartialEigenParams::default();
    let op: &dyn faer::matrix_free::BiLinOp<T> = &x;
    let mut mem = MemBuffer::new(partial_svd_scratch::<T>(op, k, par, params));
    let tol = T::EPSILON.sqrt() * T::from_f64(1e-2);
    let info = partial_svd(
        u.as_mut(),
        v.as_mut(),
        &mut s,
        op,
        v0.as_ref(),
        tol,
        par,
        MemStack::new(&mut mem),
        params,
    );
    let ok = info.n_converged_eigen >= k && s.iter().all(|v| v.is_finite());
    ok.then(|| sorted(Truncated { u, s, v }))
}

/// scikit-learn's `_randomized_svd(X, k, random_state=seed)` with its defaults: 10 oversamples,
/// 7 power iterations if k < 0.1·min(n, m) else 4, transpose when n < m, sign flip on the left
/// vectors of X. Orthonormalisation uses QR where scikit-learn's power steps use LU; only the
/// spanned subspace matters, so the results agree to rounding. Arithmetic runs in `T`, as
/// scikit-learn keeps float32 data in float32.
pub(crate) fn randomized_sklearn<T: Float>(
    x: MatRef<'_, T>,
    k: usize,
    rng: &mut RandomState,
    par: Par,
) -> Result<Truncated<T>, InitError> {
    let (n, m) = x.shape();
    let l = k + 10;
    let n_iter = if (k as f64) < 0.1 * (n.min(m) as f64) {
        7
    } else {
        4
    };
    let transpose = n < m;
    let a = if transpose { x.transpose() } else { x };
    let (ra, ca) = a.shape();
    // The test matrix is drawn row-major, float64, then cast to T.
    let mut omega = Mat::<T>::zeros(ca, l);
    for i in 0..ca {
        for j in 0..l {
            omega[(i, j)] = T::from_f64(rng.standard_normal());
        }
    }
    let mut q = omega;
    let mut buf;
    for _ in 0..n_iter {
        buf = Mat::<T>::zeros(ra, q.ncols());
        matmul(buf.as_mut(), Accum::Replace, a, q.as_ref(), T::ONE, par)?;
        q = orthonormal_basis(buf.as_ref());
        buf = Mat::<T>::zeros(ca, q.ncols());
        matmul(
            buf.as_mut(),
            Accum::Replace,
            a.transpose(),
            q.as_ref(),
            T::ONE,
            par,
        )?;
        q = orthonormal_basis(buf.as_ref());
    }
    buf = Mat::<T>::zeros(ra, q.ncols());
    matmul(buf.as_mut(), Accum::Replace, a, q.as_ref(), T::ONE, par)?;
    let q = orthonormal_basis(buf.as_ref());
    let mut b = Mat::<T>::zeros(q.ncols(), ca);
    matmul(b.as_mut(), Accum::Replace, q.transpose(), a, T::ONE, par)?;
    let small = thin_svd(b.as_ref())?;
    let mut ua = Mat::<T>::zeros(ra, small.u.ncols());
    matmul(
        ua.as_mut(),
        Accum::Replace,
        q.as_ref(),
        small.u.as_ref(),
        T::ONE,
        par,
    )?;
    let mut t = if transpose {
        Truncated {
            u: small.v,
            s: small.s,
            v: ua,
        }
    } else {
        Truncated {
            u: ua,
            s: small.s,
            v: small.v,
        }
    };
    flip_signs(&mut t);
    Ok(truncate(t, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_matrix(n: usize, m: usize) -> Mat<f64> {
        Mat::from_fn(n, m, |i, j| {
            ((i * 31 + j * 17) % 13) as f64 / 13.0 + ((i + 2 * j) % 5) as f64
        })
    }

    fn reconstruct(t: &Truncated<f64>) -> Mat<f64> {
        let k = t.s.len();
        let us = Mat::from_fn(t.u.nrows(), k, |i, j| t.u[(i, j)] * t.s[j]);
        &us * t.v.transpose()
    }

    #[test]
    fn qr_basis_is_orthonormal_and_spans() {
        let a = test_matrix(9, 4);
        let q = orthonormal_basis(a.as_ref());
        let qtq = q.transpose() * &q;
        assert!((&qtq - Mat::<f64>::identity(4, 4)).norm_max() < 1e-12);
        // Projection onto span(Q) reproduces A.
        let proj = &q * (q.transpose() * &a);
        assert!((&proj - &a).norm_max() < 1e-10);
    }

    #[test]
    fn thin_svd_reconstructs_and_is_sorted() {
        let a = test_matrix(7, 5);
        let t = thin_svd(a.as_ref()).unwrap();
        assert!(t.s.windows(2).all(|w| w[0] >= w[1]));
        assert!((reconstruct(&t) - &a).norm_max() < 1e-10);
    }

    #[test]
    fn lanczos_agrees_with_dense() {
        let a = Mat::from_fn(1100, 1000, |i, j| {
            (((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0).powi(2)
        });
        let dense = thin_svd(a.as_ref()).unwrap();
        let (t, path) = exact_truncated(a.as_ref(), 3, 0).unwrap();
        assert_eq!(path, SvdPath::Lanczos);
        for j in 0..3 {
            assert!((t.s[j] - dense.s[j]).abs() < 1e-8 * dense.s[0], "sigma {j}");
        }
    }

    #[test]
    fn randomized_is_exact_when_oversampling_covers_the_rank() {
        let a = test_matrix(6, 8);
        let mut rng = RandomState::new(0);
        let t = randomized_sklearn(a.as_ref(), 3, &mut rng, Par::Seq).unwrap();
        let dense = thin_svd(a.as_ref()).unwrap();
        for j in 0..3 {
            assert!((t.s[j] - dense.s[j]).abs() < 1e-10 * dense.s[0]);
        }
    }
}
