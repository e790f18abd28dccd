//! Truncated SVDs for the NNDSVD family: exact (dense thin SVD, or Lanczos when k is small) and
//! scikit-learn's randomized SVD, driven by its `RandomState` stream.
//!
//! X is only ever seen through [`DataRef`]'s products, except by the dense thin SVD (dense X
//! only), so a sparse X runs every path without being densified.

use nmf_core::mat;
use std::sync::OnceLock;

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::matrix_free::{BiLinOp, LinOp};
use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nmf_core::kernels::matmul;
use nmf_core::{CoreError, DataRef, Float};

use crate::error::InitError;
use crate::mt19937::RandomState;

/// Which SVD an NNDSVD initialisation used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum SvdPath {
    /// faer's dense thin SVD, truncated to k.
    Full,
    /// faer's Lanczos partial SVD (restarted bidiagonalisation) of the top k triplets. It is
    /// matrix-free: on sparse X it runs on X's sparse products.
    Lanczos,
    /// scikit-learn's randomized SVD (Halko et al.), bit-compatible random test matrix; on sparse
    /// X its products are sparse.
    Randomized,
    /// Block subspace iteration on X's products with Rayleigh–Ritz, run until every one of the
    /// top k triplets has residual `‖X·v − σ·u‖ <= 1024·eps·σ₁` (exact to rounding). Used for
    /// sparse X where Lanczos cannot run (min(n, m) <= max(64, 2k)) or misses that residual.
    Subspace,
    /// The top k eigenvectors of the smaller Gram matrix (`X·Xᵀ` or `XᵀX`, formed in f64 by a
    /// SYRK) give one side's singular vectors, `Xᵀ·u / ‖Xᵀ·u‖` the other's; every triplet is
    /// checked to residual `‖X·v − σ·u‖ <= 1024·eps·σ₁` like [`SvdPath::Subspace`]. Used for
    /// dense X at least twice as wide as it is tall (or the transpose), with the thin SVD as
    /// fallback when a triplet misses that residual.
    Gram,
}

impl core::fmt::Display for SvdPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SvdPath::Full => "full thin SVD",
            SvdPath::Lanczos => "Lanczos partial SVD",
            SvdPath::Randomized => "randomized SVD (scikit-learn compatible)",
            SvdPath::Subspace => "subspace iteration to convergence",
            SvdPath::Gram => "eigendecomposition of the Gram matrix",
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
    let mut qr = mat::copy(a);
    let mut coeff = mat::zeros::<T>(bs, size);
    let req = qr_in_place_scratch::<T>(m, n, bs, par, Default::default());
    let mut mem = MemBuffer::new(req);
    qr_in_place(
        qr.as_mut(),
        coeff.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    let mut q = mat::from_fn::<T>(m, size, |i, j| if i == j { T::ONE } else { T::ZERO });
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

/// A basis of the column space of a tall `a` (m x n, m >= n) from its LU factorisation with
/// partial pivoting, `P·a = L·U`: the rows of the unit lower-trapezoidal L put back in a's
/// order span what a spans (when a has full column rank). Not orthonormal, but about a quarter
/// of [`orthonormal_basis`]'s work (no Householder vectors to apply, no Q to form): what the
/// intermediate power steps of a randomized SVD need, which keep only the subspace.
/// scikit-learn's `randomized_range_finder` normalises its power steps the same way.
pub(crate) fn lu_basis<T: Float>(a: MatRef<'_, T>) -> Mat<T> {
    use faer::linalg::lu::partial_pivoting::factor::{lu_in_place, lu_in_place_scratch};
    let (m, n) = a.shape();
    debug_assert!(m >= n);
    let mut lu = mat::copy(a);
    let mut perm = vec![0usize; m];
    let mut perm_inv = vec![0usize; m];
    let req = lu_in_place_scratch::<usize, T>(m, n, Par::Seq, Default::default());
    let mut mem = MemBuffer::new(req);
    let (_, p) = lu_in_place(
        lu.as_mut(),
        &mut perm,
        &mut perm_inv,
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    );
    // A zero pivot (a rank-deficient block: all-zero or duplicated data) leaves 0/0 in L, and
    // L's columns would no longer span a's range; Householder QR handles that case. So does a
    // pivot whose reciprocal overflows (a subnormal one, from a subnormal entry of X): faer
    // scales the column below it by 1/pivot, and 0·∞ is NaN.
    if (0..n).any(|j| {
        let p = lu[(j, j)];
        p == T::ZERO || !p.is_finite() || !(T::ONE / p).is_finite()
    }) {
        return orthonormal_basis(a);
    }
    // (P·a)[i] = a[fwd[i]]: row r of the basis is row inv[r] of L.
    let (_, inv) = p.arrays();
    mat::from_fn(m, n, |r, j| {
        let i = inv[r];
        match i.cmp(&j) {
            core::cmp::Ordering::Greater => lu[(i, j)],
            core::cmp::Ordering::Equal => T::ONE,
            core::cmp::Ordering::Less => T::ZERO,
        }
    })
}

/// Dense thin SVD `a = U diag(s) Vᵀ`, on one thread (see [`orthonormal_basis`]).
pub(crate) fn thin_svd<T: Float>(a: MatRef<'_, T>) -> Result<Truncated<T>, InitError> {
    let par = Par::Seq;
    use faer::linalg::svd::{ComputeSvdVectors, svd, svd_scratch};
    let (m, n) = a.shape();
    let size = m.min(n);
    let mut u = mat::zeros::<T>(m, size);
    let mut v = mat::zeros::<T>(n, size);
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
        u: mat::from_fn(t.u.nrows(), idx.len(), |i, j| t.u[(i, idx[j])]),
        s: idx.iter().map(|&j| t.s[j]).collect(),
        v: mat::from_fn(t.v.nrows(), idx.len(), |i, j| t.v[(i, idx[j])]),
    }
}

fn truncate<T: Float>(t: Truncated<T>, k: usize) -> Truncated<T> {
    Truncated {
        u: mat::copy(t.u.subcols(0, k)),
        s: t.s[..k].to_vec(),
        v: mat::copy(t.v.subcols(0, k)),
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

/// Exact top-k SVD of a dense X: Lanczos when k is small against a large min(n, m); else, for X
/// at least twice as wide as tall (or the transpose), the Gram matrix's eigenvectors
/// ([`SvdPath::Gram`]); else, or when either misses its accuracy test, the dense thin SVD.
fn exact_truncated_dense<T: Float>(
    x: MatRef<'_, T>,
    k: usize,
    seed: u64,
    par: Par,
) -> Result<(Truncated<T>, SvdPath), InitError> {
    let small = x.nrows().min(x.ncols());
    let big = x.nrows().max(x.ncols());
    // The dense thin SVD beat Lanczos on the faces (400 x 4096; docs/performance.md), so
    // Lanczos is kept for large min(n, m) and small k.
    if small >= 1000 && 10 * k <= small {
        // One thread: faer's parallel matrix-free products are not thread-count stable.
        let op: &dyn BiLinOp<T> = &x;
        // faer's tolerance is absolute, so it scales with ‖X‖_F (as on the matrix-free path);
        // the residual test, the same as every exact path's, decides. A fixed tolerance
        // (√ε/100, as here before) let an X scaled by 10⁻⁶ through with residuals of 6·10⁻⁶·σ₁.
        let tol = T::from_f64(100.0 * x.norm_l2().to_f64()) * T::EPSILON;
        if let Some(t) = lanczos(op, k, seed, tol)
            && max_residual(DataRef::from(x), &t, k, par)? <= residual_tol::<T>() * t.s[0].to_f64()
        {
            let mut t = t;
            flip_signs(&mut t);
            return Ok((t, SvdPath::Lanczos));
        }
    }
    // On the faces (400 x 4096, f32) the Gram route took 15-35 ms against the thin SVD's 65-78
    // (docs/performance.md); for a square X it would cost as much and lose accuracy.
    if big >= 2 * small
        && let Some(mut t) = crate::gram::truncated(x, k, seed, residual_tol::<T>(), par)?
    {
        flip_signs(&mut t);
        return Ok((t, SvdPath::Gram));
    }
    let mut t = truncate(thin_svd(x)?, k);
    flip_signs(&mut t);
    Ok((t, SvdPath::Full))
}

/// Exact top-k SVD of any X. Dense X keeps its dense paths; other kinds never leave their
/// products: Lanczos when faer's partial SVD can run (its subspace of max(64, 2k) vectors must be
/// smaller than min(n, m)), and its result is accepted only if the true residuals pass the
/// [`subspace`] test; otherwise (or to polish Lanczos' vectors) subspace iteration.
pub(crate) fn exact_truncated<T: Float>(
    x: DataRef<'_, T>,
    k: usize,
    seed: u64,
    par: Par,
) -> Result<(Truncated<T>, SvdPath), InitError> {
    if let Some(d) = x.as_dense() {
        return exact_truncated_dense(d, k, seed, par);
    }
    let (n, m) = x.shape();
    let mut start = None;
    if 2 * k.max(LANCZOS_MIN_DIM) < n.min(m) {
        let op = DataOp::new(Oriented { x, t: false }, par);
        // faer's tolerance is absolute; ‖X‖_F bounds σ₁, so this asks for about 100 ulps of
        // σ₁ or better. The residual test below is the one that decides.
        let tol = T::from_f64(100.0 * x.squared_norm().sqrt()) * T::EPSILON;
        let t = lanczos(&op, k, seed, tol);
        op.finish()?;
        if let Some(t) = t {
            if max_residual(x, &t, k, par)? <= residual_tol::<T>() * t.s[0].to_f64() {
                let mut t = t;
                flip_signs(&mut t);
                return Ok((t, SvdPath::Lanczos));
            }
            start = Some(t.v);
        }
    }
    let mut t = subspace(x, k, start.as_ref().map(|v| v.as_ref()), seed, par)?;
    flip_signs(&mut t);
    Ok((t, SvdPath::Subspace))
}

/// faer's smallest Lanczos subspace (`MIN_DIM` in faer's partial eigensolvers): its partial SVD
/// needs `max(2·MIN_DIM, 2k) < min(n, m)`.
const LANCZOS_MIN_DIM: usize = 32;

/// At most this many power steps in [`subspace`] (each is two products of X with a thin block).
const SUBSPACE_MAX_STEPS: usize = 1000;

/// Residual accepted for a singular triplet, relative to σ₁: a few hundred ulps, which a
/// converged iteration reaches for both f32 and f64 and which is far below what NNDSVD's 1e-6
/// cut-off can see.
fn residual_tol<T: Float>() -> f64 {
    1024.0 * T::EPSILON.to_f64()
}

/// `max_j<k ‖X·v_j − σ_j·u_j‖` (the other residual, `Xᵀu − σv`, vanishes by construction in
/// [`subspace`] and is the one Lanczos drives down).
fn max_residual<T: Float>(
    x: DataRef<'_, T>,
    t: &Truncated<T>,
    k: usize,
    par: Par,
) -> Result<f64, InitError> {
    let mut y = mat::zeros::<T>(x.nrows(), k);
    x.mul_into(y.as_mut(), t.v.subcols(0, k), par)?;
    Ok(residual_of(y.as_ref(), t, k))
}

fn residual_of<T: Float>(xv: MatRef<'_, T>, t: &Truncated<T>, k: usize) -> f64 {
    let mut worst = 0.0f64;
    for j in 0..k {
        let s = t.s[j].to_f64();
        let r: f64 = (0..xv.nrows())
            .map(|i| {
                let d = xv[(i, j)].to_f64() - s * t.u[(i, j)].to_f64();
                d * d
            })
            .sum();
        worst = worst.max(r.sqrt());
    }
    worst
}

/// Top-k triplets by block subspace iteration with a Rayleigh–Ritz step, matrix-free.
///
/// With a block of `l = min(2k + 10, min(n, m))` orthonormal columns V: `Q = orth(X·V)`,
/// `Z = Xᵀ·Q = V' Σ Ŵᵀ` (thin SVD of an m x l matrix), so `X ≈ Q·Zᵀ = (QŴ) Σ V'ᵀ` gives the Ritz
/// triplets `(QŴ, Σ, V')`. The next `X·V'` is both the next power step and the residual
/// `X·v − σ·u` of the current triplets, so convergence costs no extra product. Each step gains
/// a factor `(σ_{l+1}/σ_j)²`; when `l = min(n, m)` the first step is already exact. The
/// working set is a few n x l and m x l blocks, never n x m (for `l = min(n, m)` one of them has
/// X's dense size, which only happens when min(n, m) <= 2k + 10).
///
/// `start` (m x ≤k, e.g. unconverged Lanczos vectors) seeds the first columns; the rest are
/// Gaussian from a stream fixed by `seed`.
fn subspace<T: Float>(
    x: DataRef<'_, T>,
    k: usize,
    start: Option<MatRef<'_, T>>,
    seed: u64,
    par: Par,
) -> Result<Truncated<T>, InitError> {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let (n, m) = x.shape();
    let l = (2 * k + 10).min(n.min(m));
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5ab5_9ace_17e2_a710);
    let normal = rand_distr::StandardNormal;
    let given = start.map_or(0, |s| s.ncols().min(l));
    let mut v = mat::from_fn::<T>(m, l, |_, _| {
        T::from_f64(Distribution::<f64>::sample(&normal, &mut rng))
    });
    if let Some(s) = start {
        v.subcols_mut(0, given).copy_from(s.subcols(0, given));
    }
    let v = orthonormal_basis(v.as_ref());
    let mut y = mat::zeros::<T>(n, l);
    x.mul_into(y.as_mut(), v.as_ref(), par)?;
    let mut z = mat::zeros::<T>(m, l);
    let tol = residual_tol::<T>();
    let mut last = f64::INFINITY;
    for _ in 0..SUBSPACE_MAX_STEPS {
        let q = orthonormal_basis(y.as_ref());
        x.t_mul_into(z.as_mut(), q.as_ref(), par)?;
        let r = thin_svd(z.as_ref())?;
        let mut u = mat::zeros::<T>(n, l);
        matmul(
            u.as_mut(),
            Accum::Replace,
            q.as_ref(),
            r.v.as_ref(),
            T::ONE,
            par,
        )?;
        let t = Truncated { u, s: r.s, v: r.u };
        x.mul_into(y.as_mut(), t.v.as_ref(), par)?;
        last = residual_of(y.as_ref(), &t, k);
        if last <= tol * t.s[0].to_f64() {
            return Ok(truncate(t, k));
        }
    }
    Err(InitError::Svd(format!(
        "subspace iteration did not converge in {SUBSPACE_MAX_STEPS} steps (residual {last:.3e})"
    )))
}

fn lanczos<T: Float>(op: &dyn BiLinOp<T>, k: usize, seed: u64, tol: T) -> Option<Truncated<T>> {
    use faer::matrix_free::eigen::{PartialEigenParams, partial_svd, partial_svd_scratch};
    use rand::SeedableRng;
    use rand_distr::Distribution;
    // faer's own dense work inside partial_svd runs on one thread so that its rounding does not
    // depend on the thread count; the products (a DataOp's) carry their own `par`.
    let par = Par::Seq;
    let (n, m) = (op.nrows(), op.ncols());
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
    let mut u = mat::zeros::<T>(n, k);
    let mut v = mat::zeros::<T>(m, k);
    let mut s = vec![T::ZERO; k];
    let params = PartialEigenParams::default();
    let mut mem = MemBuffer::new(partial_svd_scratch::<T>(op, k, par, params));
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

/// `A = X` or `A = Xᵀ` (a free view: `t` only swaps which [`DataRef`] product is called).
#[derive(Debug, Clone, Copy)]
struct Oriented<'a, T> {
    x: DataRef<'a, T>,
    t: bool,
}

impl<T: Float> Oriented<'_, T> {
    fn shape(&self) -> (usize, usize) {
        let (n, m) = self.x.shape();
        if self.t { (m, n) } else { (n, m) }
    }
    /// `dst = A·b`.
    fn mul(&self, dst: MatMut<'_, T>, b: MatRef<'_, T>, par: Par) -> Result<(), CoreError> {
        if self.t {
            self.x.t_mul_into(dst, b, par)
        } else {
            self.x.mul_into(dst, b, par)
        }
    }
    /// `dst = Aᵀ·b`.
    fn t_mul(&self, dst: MatMut<'_, T>, b: MatRef<'_, T>, par: Par) -> Result<(), CoreError> {
        if self.t {
            self.x.mul_into(dst, b, par)
        } else {
            self.x.t_mul_into(dst, b, par)
        }
    }
    /// `dst = qᵀ·A`.
    fn lhs_t_mul(&self, dst: MatMut<'_, T>, q: MatRef<'_, T>, par: Par) -> Result<(), CoreError> {
        if self.t {
            self.x.lhs_mul_t_into(dst, q.transpose(), par)
        } else {
            self.x.lhs_t_mul_into(dst, q, par)
        }
    }
}

/// An [`Oriented`] X as faer's matrix-free operator. faer's `apply` cannot fail, so a product
/// error (only a shape mismatch, which faer never produces) is kept and reported by
/// [`DataOp::finish`].
#[derive(Debug)]
struct DataOp<'a, T> {
    a: Oriented<'a, T>,
    par: Par,
    err: OnceLock<CoreError>,
}

impl<'a, T: Float> DataOp<'a, T> {
    fn new(a: Oriented<'a, T>, par: Par) -> Self {
        Self {
            a,
            par,
            err: OnceLock::new(),
        }
    }
    fn keep(&self, r: Result<(), CoreError>, mut out: MatMut<'_, T>) {
        if let Err(e) = r {
            out.fill(T::ZERO);
            let _ = self.err.set(e);
        }
    }
    fn finish(self) -> Result<(), CoreError> {
        self.err.into_inner().map_or(Ok(()), Err)
    }
}

impl<T: Float> LinOp<T> for DataOp<'_, T> {
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.a.shape().0
    }
    fn ncols(&self) -> usize {
        self.a.shape().1
    }
    fn apply(&self, mut out: MatMut<'_, T>, rhs: MatRef<'_, T>, _: Par, _: &mut MemStack) {
        // The products are deterministic for any thread count, so they take the caller's
        // `par`, not the one faer passes (Seq, see `lanczos`).
        let r = self.a.mul(out.rb_mut(), rhs, self.par);
        self.keep(r, out);
    }
    fn conj_apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, st: &mut MemStack) {
        self.apply(out, rhs, par, st); // real scalars
    }
}

impl<T: Float> BiLinOp<T> for DataOp<'_, T> {
    fn transpose_apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn transpose_apply(
        &self,
        mut out: MatMut<'_, T>,
        rhs: MatRef<'_, T>,
        _: Par,
        _: &mut MemStack,
    ) {
        let r = self.a.t_mul(out.rb_mut(), rhs, self.par);
        self.keep(r, out);
    }
    fn adjoint_apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, st: &mut MemStack) {
        self.transpose_apply(out, rhs, par, st); // real scalars
    }
}

/// The basis an intermediate power step keeps: LU (scikit-learn's normaliser for these steps)
/// when the block is tall enough to have full column rank, else an orthonormal basis.
fn power_basis<T: Float>(a: MatRef<'_, T>) -> Mat<T> {
    if a.nrows() >= a.ncols() {
        lu_basis(a)
    } else {
        orthonormal_basis(a)
    }
}

/// scikit-learn's `_randomized_svd(X, k, random_state=seed)` with its defaults: 10 oversamples,
/// 7 power iterations if k < 0.1·min(n, m) else 4, transpose when n < m, sign flip on the left
/// vectors of X. Like scikit-learn, the power steps keep an LU basis ([`lu_basis`]) and only
/// the last range is orthonormalised by QR; the subspaces agree, so the results agree to
/// rounding. Arithmetic runs in `T`, as scikit-learn keeps float32 data in float32.
pub(crate) fn randomized_sklearn<T: Float>(
    x: DataRef<'_, T>,
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
    // Every product with A goes through X's own products (sparse X stays sparse); on dense X
    // they are the same matmul calls, in the same order, as a dense implementation would make.
    let a = Oriented { x, t: n < m };
    let (ra, ca) = a.shape();
    // The test matrix is drawn row-major, float64, then cast to T.
    let mut omega = mat::zeros::<T>(ca, l);
    for i in 0..ca {
        for j in 0..l {
            omega[(i, j)] = T::from_f64(rng.standard_normal());
        }
    }
    let mut q = omega;
    let mut buf;
    for _ in 0..n_iter {
        buf = mat::zeros::<T>(ra, q.ncols());
        a.mul(buf.as_mut(), q.as_ref(), par)?;
        q = power_basis(buf.as_ref());
        buf = mat::zeros::<T>(ca, q.ncols());
        a.t_mul(buf.as_mut(), q.as_ref(), par)?;
        q = power_basis(buf.as_ref());
    }
    buf = mat::zeros::<T>(ra, q.ncols());
    a.mul(buf.as_mut(), q.as_ref(), par)?;
    let q = orthonormal_basis(buf.as_ref());
    let mut b = mat::zeros::<T>(q.ncols(), ca);
    a.lhs_t_mul(b.as_mut(), q.as_ref(), par)?;
    let small = thin_svd(b.as_ref())?;
    let mut ua = mat::zeros::<T>(ra, small.u.ncols());
    matmul(
        ua.as_mut(),
        Accum::Replace,
        q.as_ref(),
        small.u.as_ref(),
        T::ONE,
        par,
    )?;
    let mut t = if a.t {
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
    fn lu_basis_spans_the_columns_and_has_a_unit_row_per_column() {
        for (m, n) in [(9, 4), (40, 7), (5, 5)] {
            let a = test_matrix(m, n);
            let b = lu_basis(a.as_ref());
            // span(B) = span(A): projecting A onto an orthonormal basis of B reproduces it.
            let q = orthonormal_basis(b.as_ref());
            let proj = &q * (q.transpose() * &a);
            assert!((&proj - &a).norm_max() < 1e-10, "{m} x {n}");
            // Pivoting puts one exact 1 per column on a row of its own, every entry |.| <= 1.
            let ones = (0..m).filter(|&r| (0..n).any(|j| b[(r, j)] == 1.0)).count();
            assert_eq!(ones, n);
            assert!(b.norm_max() <= 1.0);
        }
        // Rank-deficient blocks fall back to an orthonormal basis instead of dividing by a
        // zero pivot (regression: NaN in the NNDSVD of an all-zero X).
        for a in [Mat::<f64>::zeros(8, 3), Mat::from_fn(8, 3, |i, _| i as f64)] {
            let b = lu_basis(a.as_ref());
            b.for_each(|v| assert!(v.is_finite()));
            // a = Pᵀ·L·U, so range(a) lies in span(B) even when U is singular.
            let q = orthonormal_basis(b.as_ref());
            let proj = &q * (q.transpose() * &a);
            assert!((&proj - &a).norm_max() < 1e-10);
        }
    }

    /// Regression (the hostile-input property test, CI of fb39b0e): a column whose only nonzero
    /// is subnormal makes a pivot whose reciprocal overflows, and L got 0·∞ = NaN, which the SVD
    /// of the randomized NNDSVD then refused. Both precisions, a lone subnormal column and one
    /// beside normal columns: the basis is finite and of full rank, and spans the normal columns.
    /// (The subnormal column itself is numerically zero; Householder QR, the fallback, treats it
    /// as such, which is what the power steps need.)
    #[test]
    fn lu_basis_survives_subnormal_pivots() {
        fn check<T: Float>(tiny: T) {
            let cases = [
                Mat::from_fn(6, 1, |i, _| if i == 3 { tiny } else { T::ZERO }),
                Mat::from_fn(6, 3, |i, j| match j {
                    0 => T::from_f64(1.0 + i as f64),
                    1 => T::from_f64((i * i) as f64),
                    _ if i == 3 => tiny,
                    _ => T::ZERO,
                }),
            ];
            for a in cases {
                let b = lu_basis(a.as_ref());
                b.for_each(|&v| assert!(v.is_finite(), "{v:?} in the basis"));
                assert_eq!(b.shape(), a.shape());
                let s = thin_svd(b.as_ref()).unwrap().s;
                assert!(s[s.len() - 1].to_f64() > 0.1, "rank-deficient basis: {s:?}");
                let q = orthonormal_basis(b.as_ref());
                for j in 0..a.ncols() - 1 {
                    let col = a.col(j);
                    let r = col.to_owned() - &q * (q.transpose() * col);
                    assert!(
                        r.norm_max().to_f64() <= 1e-5 * col.norm_max().to_f64(),
                        "column {j}"
                    );
                }
            }
        }
        check::<f32>(1e-45);
        check::<f64>(5e-324);
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
        let (t, path) = exact_truncated(DataRef::from(&a), 3, 0, Par::Seq).unwrap();
        assert_eq!(path, SvdPath::Lanczos);
        for j in 0..3 {
            assert!((t.s[j] - dense.s[j]).abs() < 1e-8 * dense.s[0], "sigma {j}");
        }
    }

    /// The dense Lanczos path's result is held to the same residual bound as every exact path,
    /// whatever X's scale (faer's tolerance is absolute): X and X·10⁻⁸ give the same triplets
    /// up to the scale, each within `1024·ε·σ₁` of being exact.
    #[test]
    fn dense_lanczos_meets_the_residual_bound_at_any_scale() {
        let a = Mat::from_fn(1100, 1000, |i, j| {
            (((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0).powi(2)
        });
        let dense = thin_svd(a.as_ref()).unwrap();
        for scale in [1.0, 1e-8, 1e8] {
            let x = Mat::from_fn(1100, 1000, |i, j| a[(i, j)] * scale);
            let (t, _) = exact_truncated(DataRef::from(&x), 4, 0, Par::Seq).unwrap();
            let r = max_residual(DataRef::from(&x), &t, 4, Par::Seq).unwrap();
            assert!(
                r <= residual_tol::<f64>() * t.s[0],
                "scale {scale:e}: residual {r:e}, σ₁ {:e}",
                t.s[0]
            );
            for j in 0..4 {
                let want = dense.s[j] * scale;
                assert!(
                    (t.s[j] - want).abs() <= 1e-12 * want.max(dense.s[0] * scale),
                    "σ{j} at {scale:e}"
                );
            }
        }
    }

    /// Slowly decaying singular values (1 down to 0.5, linearly; gaps of 5·10⁻⁴) with X scaled
    /// down: Lanczos converges slowly here, so an absolute tolerance would stop it early.
    #[test]
    fn dense_lanczos_on_a_flat_spectrum_at_a_small_scale() {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let (n, m) = (1000, 1100);
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(5);
        let normal = rand_distr::StandardNormal;
        let g1 = Mat::<f64>::from_fn(n, n, |_, _| Distribution::<f64>::sample(&normal, &mut rng));
        let g2 = Mat::<f64>::from_fn(m, n, |_, _| Distribution::<f64>::sample(&normal, &mut rng));
        let (u, v) = (g1.qr().compute_thin_Q(), g2.qr().compute_thin_Q());
        for scale in [1.0, 1e-6] {
            let s: Vec<f64> = (0..n)
                .map(|i| scale * (1.0 - 0.5 * i as f64 / n as f64))
                .collect();
            let us = Mat::from_fn(n, n, |i, j| u[(i, j)] * s[j]);
            let x = &us * v.transpose();
            let (t, path) = exact_truncated(DataRef::from(&x), 4, 0, Par::Seq).unwrap();
            assert_eq!(path, SvdPath::Lanczos, "scale {scale:e}");
            let r = max_residual(DataRef::from(&x), &t, 4, Par::Seq).unwrap();
            assert!(
                r <= residual_tol::<f64>() * t.s[0],
                "scale {scale:e}: residual {r:e}"
            );
            for j in 0..4 {
                assert!((t.s[j] - s[j]).abs() <= 1e-12 * s[0], "σ{j} at {scale:e}");
            }
        }
    }

    #[test]
    fn randomized_is_exact_when_oversampling_covers_the_rank() {
        let a = test_matrix(6, 8);
        let mut rng = RandomState::new(0);
        let t = randomized_sklearn(DataRef::from(&a), 3, &mut rng, Par::Seq).unwrap();
        let dense = thin_svd(a.as_ref()).unwrap();
        for j in 0..3 {
            assert!((t.s[j] - dense.s[j]).abs() < 1e-10 * dense.s[0]);
        }
    }

    /// A matrix with well-separated singular values (so vectors are unique up to sign).
    fn separated(n: usize, m: usize) -> Mat<f64> {
        Mat::from_fn(n, m, |i, j| {
            let (a, b) = (i as f64 / n as f64, j as f64 / m as f64);
            3.0 * (1.0 + a) * (1.0 + b) + (a * b * 7.0).sin() + 0.3 * (a * 11.0 + b * 5.0).cos()
        })
    }

    fn assert_same_triplets(t: &Truncated<f64>, d: &Truncated<f64>, k: usize, tol: f64) {
        for j in 0..k {
            assert!((t.s[j] - d.s[j]).abs() <= tol * d.s[0], "sigma {j}");
            let du = (0..t.u.nrows()).map(|i| (t.u[(i, j)] - d.u[(i, j)]).abs());
            let dv = (0..t.v.nrows()).map(|i| (t.v[(i, j)] - d.v[(i, j)]).abs());
            assert!(du.chain(dv).fold(0.0, f64::max) <= tol, "vectors {j}");
        }
    }

    #[test]
    fn subspace_iteration_matches_the_dense_svd() {
        // Both orientations, and a block that covers min(n, m) (exact in one step).
        for (n, m, k) in [(40, 90, 4), (120, 50, 3), (12, 30, 5)] {
            let a = separated(n, m);
            let mut d = truncate(thin_svd(a.as_ref()).unwrap(), k);
            flip_signs(&mut d);
            for par in [Par::Seq, Par::rayon(2)] {
                let mut t = subspace(DataRef::from(&a), k, None, 7, par).unwrap();
                flip_signs(&mut t);
                assert_same_triplets(&t, &d, k, 1e-10);
            }
        }
    }

    #[test]
    fn matrix_free_lanczos_runs_on_data_products() {
        let a = separated(150, 120);
        let x = DataRef::from(&a);
        let op = DataOp::new(Oriented { x, t: false }, Par::Seq);
        let t = lanczos(&op, 3, 0, 1e-13).expect("converges");
        op.finish().unwrap();
        let mut t = t;
        flip_signs(&mut t);
        let mut d = truncate(thin_svd(a.as_ref()).unwrap(), 3);
        flip_signs(&mut d);
        assert_same_triplets(&t, &d, 3, 1e-9);
        assert!(max_residual(x, &t, 3, Par::Seq).unwrap() < 1e-9 * t.s[0]);
    }

    #[test]
    fn oriented_products_are_the_transposed_ones() {
        let a = test_matrix(5, 7);
        let at = Oriented {
            x: DataRef::from(&a),
            t: true,
        };
        assert_eq!(at.shape(), (7, 5));
        let q = test_matrix(7, 2);
        let mut out = Mat::zeros(5, 2);
        at.t_mul(out.as_mut(), q.as_ref(), Par::Seq).unwrap();
        assert_eq!(out, &a * &q);
        let mut out = Mat::zeros(2, 5);
        at.lhs_t_mul(out.as_mut(), q.as_ref(), Par::Seq).unwrap();
        assert_eq!(out, q.transpose() * a.transpose());
    }
}
