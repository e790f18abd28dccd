//! Top-k SVD of a dense X from the eigendecomposition of its smaller Gram matrix.
//!
//! For X n x m with n much smaller than m (the faces: 400 x 4096), `G = X·Xᵀ` is n x n and its
//! top eigenvectors are X's left singular vectors. Forming G costs n²·m/2 multiply-adds (a
//! SYRK) and its eigendecomposition about 9n³, against roughly 4n²·m + 8n³ for the
//! bidiagonalisation and vectors of a thin SVD, so the Gram route is 2-5x faster when
//! m >= 2n. Squaring X squares its condition: an eigenvector of G computed in precision ε has a
//! residual `‖X·v − σ·u‖` of about `ε·σ₁²/σ_j` instead of the SVD's `ε·σ₁`, so it meets the
//! bound every exact path is held to, `1024·ε·σ₁`, only while σ_k stays within about σ₁/250.
//!
//! So the route always works in f64. For f32 data X is converted block by block and the
//! residual is about 5·10⁸ times below f32's bound: only a (numerically) rank-deficient X
//! misses it, and the vectors come out more accurate than an f32 thin SVD's (faces, top 50:
//! the f32 thin SVD's vectors are within 1.7e-5 of the f64 SVD's). Running the route in f32
//! instead was 2x faster at k = 50 on the faces but left NNDSVD's factors 3e-4 from the f64
//! SVD's (the bound allows that much for σ_j far below σ₁), so it is not used. f64 data is used
//! in place and declined for k > min(n, m)/4, where its bound rarely holds (the faces at
//! k = 200 of 400 miss it by 4 %) and the failed attempt would cost a third of the thin SVD it
//! falls back to. Every accepted triplet has been checked against the bound; `None` sends the
//! caller to the thin SVD.
//!
//! G's top k eigenpairs come from faer's Lanczos when its subspace is small against p, else
//! from [`crate::tridiag`] (only the top k vectors of G's tridiagonal form) up to k = p/2, else
//! from the full eigendecomposition.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::{Accum, Col, Mat, MatRef, Par};
use nmf_core::Float;
use nmf_core::kernels::{matmul, mirror_lower, syrk_lower_into};
use nmf_core::mat;

use crate::error::InitError;
use crate::svd::Truncated;

/// Entries of A converted to f64 at a time (16 MB): the f64 working copy is a block of whole
/// columns of about this size, never X's size when X is larger, and its width is a function of
/// the shape only (so are the bits). Blocks much narrower than this made each SYRK too thin to
/// run at GEMM speed (256 columns: twice the time on the faces).
const CHUNK_ENTRIES: usize = 1 << 21;

/// Use faer's Lanczos on G (top k only) when its subspace, `max(64, 2k)`, is at most a fifth of
/// G's order: there it was 4x faster than the full eigendecomposition on the faces (k = 10;
/// at k = 50 of 400 the two took the same time).
const LANCZOS_FRACTION: usize = 5;

/// The top k triplets of a dense X through its Gram matrix, or `None` when any of them misses
/// the residual bound `tol·σ₁` or the route is declined (the caller then takes the thin SVD).
/// Nothing here depends on the thread count: the products have fixed blocks and the
/// eigensolvers run on one thread.
pub(crate) fn truncated<T: Float>(
    x: MatRef<'_, T>,
    k: usize,
    seed: u64,
    tol: f64,
    par: Par,
) -> Result<Option<Truncated<T>>, InitError> {
    // A is X or Xᵀ, whichever is wide (p <= q): G = A·Aᵀ is the small Gram.
    let wide = x.nrows() <= x.ncols();
    let a = if wide { x } else { x.transpose() };
    let p = a.nrows();
    if k == 0 || k > p {
        return Ok(None);
    }
    // f64 data is its own working precision (the route in `T` is the route in f64).
    let f64_data = T::EPSILON.to_f64() <= f64::EPSILON;
    let t = if !f64_data {
        route::<T, f64, _>(&Widened::new(a), k, seed, tol, par)?
    } else if 4 * k <= p {
        route::<T, T, _>(&Own(a), k, seed, tol, par)?
    } else {
        None
    };
    Ok(t.map(|t| {
        if wide {
            t
        } else {
            Truncated {
                u: t.v,
                s: t.s,
                v: t.u,
            }
        }
    }))
}

/// A (p x q) seen in the working precision `W`, one block of whole columns at a time. The
/// blocks' widths depend on the shape only.
trait Columns<W: Float> {
    fn shape(&self) -> (usize, usize);
    /// Columns per block.
    fn width(&self) -> usize;
    /// Columns `c0..c0 + w` (w = the width or what is left) in `W`; `buf` is p x width scratch.
    fn block<'s>(&'s self, c0: usize, buf: &'s mut Mat<W>) -> MatRef<'s, W>;
    /// Scratch for [`Columns::block`] (empty when blocks are views).
    fn scratch(&self) -> Mat<W>;
}

/// A in its own precision (f64 data): the blocks are views, all of A at once.
struct Own<'a, T>(MatRef<'a, T>);

impl<T: Float> Columns<T> for Own<'_, T> {
    fn shape(&self) -> (usize, usize) {
        self.0.shape()
    }
    fn width(&self) -> usize {
        self.0.ncols().max(1)
    }
    fn block<'s>(&'s self, c0: usize, _: &'s mut Mat<T>) -> MatRef<'s, T> {
        self.0.subcols(c0, self.width().min(self.0.ncols() - c0))
    }
    fn scratch(&self) -> Mat<T> {
        mat::zeros(0, 0)
    }
}

/// A converted to f64 block by block (f32 data). With one block (A under 16 MB in f64) it is
/// converted once and kept: `last` remembers which block the scratch holds.
struct Widened<'a, T> {
    a: MatRef<'a, T>,
    width: usize,
    last: core::cell::Cell<Option<usize>>,
}

impl<'a, T: Float> Widened<'a, T> {
    fn new(a: MatRef<'a, T>) -> Self {
        Self::with_entries(a, CHUNK_ENTRIES)
    }

    /// Blocks of about `entries` entries (at least 256 columns unless A has fewer).
    fn with_entries(a: MatRef<'a, T>, entries: usize) -> Self {
        let (p, q) = a.shape();
        let width = (entries / p.max(1)).max(256).min(q).max(1);
        Widened {
            a,
            width,
            last: core::cell::Cell::new(None),
        }
    }
}

impl<T: Float> Columns<f64> for Widened<'_, T> {
    fn shape(&self) -> (usize, usize) {
        self.a.shape()
    }
    fn width(&self) -> usize {
        self.width
    }
    fn block<'s>(&'s self, c0: usize, buf: &'s mut Mat<f64>) -> MatRef<'s, f64> {
        let w = self.width.min(self.a.ncols() - c0);
        if self.last.get() != Some(c0) {
            let src = self.a.subcols(c0, w);
            for j in 0..w {
                for i in 0..self.a.nrows() {
                    buf[(i, j)] = src[(i, j)].to_f64();
                }
            }
            self.last.set(Some(c0));
        }
        buf.as_ref().subcols(0, w)
    }
    fn scratch(&self) -> Mat<f64> {
        // A new buffer holds no block yet.
        self.last.set(None);
        mat::zeros(self.a.nrows(), self.width)
    }
}

/// The Gram route in working precision `W`, triplets in A's orientation.
fn route<T: Float, W: Float, C: Columns<W>>(
    a: &C,
    k: usize,
    seed: u64,
    tol: f64,
    par: Par,
) -> Result<Option<Truncated<T>>, InitError> {
    let (p, q) = a.shape();
    let mut buf = a.scratch();
    let mut g = mat::zeros::<W>(p, p);
    for (i, c0) in (0..q).step_by(a.width()).enumerate() {
        let ac = a.block(c0, &mut buf);
        let accum = if i == 0 { Accum::Replace } else { Accum::Add };
        syrk_lower_into(g.as_mut(), accum, ac, par)?;
    }
    mirror_lower(g.as_mut());
    if !g.is_all_finite() {
        return Ok(None);
    }
    // faer's partial eigensolver panics when its subspace, max(64, 2k), is not smaller than
    // G's order; this gate keeps it at a fifth of it at most.
    let lanczos_first = LANCZOS_FRACTION * (2 * k).max(64) <= p;
    for use_lanczos in [true, false] {
        if use_lanczos && !lanczos_first {
            continue;
        }
        let (u, vals) = if use_lanczos {
            match top_lanczos(g.as_ref(), k, seed) {
                Some(e) if complete(g.as_ref(), e.0.as_ref(), e.1[k - 1]) => e,
                _ => continue,
            }
        } else {
            // Bisection and inverse iteration on G's tridiagonal form for k <= p/2 (complete
            // by construction; faces: 4.7 ms at k = 50 against 9.9 ms for all 400 vectors, the
            // same time at k = 200); the full eigendecomposition above that, or when the
            // tridiagonal path declines or its checks fail.
            let top = if 2 * k <= p {
                crate::tridiag::top_k(g.as_ref(), k, seed)
            } else {
                None
            };
            match top {
                Some(e) => e,
                None => top_full(g.as_ref(), k)?,
            }
        };
        // G's rounding bounds the residual by a small multiple of ε·λ₁/σ_k (often it is well
        // below that). A σ_k 64 times below what that bound allows (or a zero one: k beyond
        // X's rank) is declined without the pass over X.
        let (l1, lk) = (vals[0], vals[k - 1]);
        let eps = W::EPSILON.to_f64();
        if lk <= 0.0 || lk.is_nan() || eps * l1 / lk.sqrt() > 64.0 * tol * l1.sqrt() {
            return Ok(None);
        }
        if let Some(t) = triplets(a, g.as_ref(), u, &mut buf, tol, par)? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// The k eigenvectors of G with the largest eigenvalues (and those eigenvalues, from the
/// largest down, in f64), from the full eigendecomposition.
fn top_full<W: Float>(g: MatRef<'_, W>, k: usize) -> Result<(Mat<W>, Vec<f64>), InitError> {
    use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
    let p = g.nrows();
    let mut vecs = mat::zeros::<W>(p, p);
    let mut vals = faer::diag::Diag::<W>::zeros(p);
    let req =
        self_adjoint_evd_scratch::<W>(p, ComputeEigenvectors::Yes, Par::Seq, Default::default());
    let mut mem = MemBuffer::new(req);
    self_adjoint_evd(
        g,
        vals.as_mut(),
        Some(vecs.as_mut()),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| InitError::Svd(format!("{e:?}")))?;
    let vals: Vec<f64> = (0..p).map(|i| vals.column_vector()[i].to_f64()).collect();
    let order = descending(&vals);
    Ok((
        mat::from_fn(p, k, |i, j| vecs[(i, order[j])]),
        order[..k].iter().map(|&i| vals[i]).collect(),
    ))
}

/// The top k eigenvectors of G by faer's restarted Lanczos (G is positive semidefinite, so
/// its largest-magnitude eigenvalues are its largest), with their eigenvalues from the
/// largest down, or `None` if it does not converge.
fn top_lanczos<W: Float>(g: MatRef<'_, W>, k: usize, seed: u64) -> Option<(Mat<W>, Vec<f64>)> {
    use faer::matrix_free::LinOp;
    use faer::matrix_free::eigen::{
        PartialEigenParams, partial_self_adjoint_eigen, partial_self_adjoint_eigen_scratch,
    };
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let p = g.nrows();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6a2a_e16e_4c0d_5eed);
    let normal = rand_distr::StandardNormal;
    let v0: Vec<f64> = (0..p)
        .map(|_| Distribution::<f64>::sample(&normal, &mut rng))
        .collect();
    let nrm = v0.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !(nrm > 0.0 && nrm.is_finite()) {
        return None;
    }
    let v0 = Col::<W>::from_fn(p, |i| W::from_f64(v0[i] / nrm));
    let op: &dyn LinOp<W> = &g;
    // faer's tolerance is absolute on ‖G·u − λ·u‖; trace(G) >= λ₁. The residual test on X's
    // triplets afterwards is the one that decides.
    let trace: f64 = (0..p).map(|i| g[(i, i)].to_f64()).sum();
    let tol = W::from_f64(8.0 * W::EPSILON.to_f64() * trace);
    let params = PartialEigenParams::default();
    let mut mem = MemBuffer::new(partial_self_adjoint_eigen_scratch::<W>(
        op,
        k,
        Par::Seq,
        params,
    ));
    let mut vecs = mat::zeros::<W>(p, k);
    let mut vals = vec![W::ZERO; k];
    let info = partial_self_adjoint_eigen(
        vecs.as_mut(),
        &mut vals,
        op,
        v0.as_ref(),
        tol,
        Par::Seq,
        MemStack::new(&mut mem),
        params,
    );
    let vals: Vec<f64> = vals.iter().map(|v| v.to_f64()).collect();
    if info.n_converged_eigen < k || !vals.iter().all(|v| v.is_finite()) {
        return None;
    }
    let order = descending(&vals);
    Some((
        mat::from_fn(p, k, |i, j| vecs[(i, order[j])]),
        order.iter().map(|&i| vals[i]).collect(),
    ))
}

/// Whether k eigenpairs found by Lanczos are G's top k: no eigenvalue of G outside span(U)
/// reaches `τ = λ_k − m`. Lanczos from one start vector can miss a copy of a repeated
/// eigenvalue (its Krylov space holds one direction of the eigenspace, up to rounding), and
/// every pair it does return still passes any residual test, so this is checked apart. With
/// `P = I − UUᵀ`, `M = τI − P·G·P` is τ on span(U) and `τ − λ` on each eigenvector left out, so
/// it is positive definite exactly when every eigenvalue left out is below τ; a Cholesky
/// factorisation (p³/3, a millisecond at p = 400) says which. The margin m (at least 10⁻⁶·λ_k,
/// and far above the factorisation's rounding) makes a near-tie at λ_k count as incomplete,
/// which only sends the caller to the full eigendecomposition.
fn complete<W: Float>(g: MatRef<'_, W>, u: MatRef<'_, W>, lk: f64) -> bool {
    use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
    let (p, k) = u.shape();
    let trace: f64 = (0..p).map(|i| g[(i, i)].to_f64()).sum();
    let m = (1e-6 * lk).max(1e3 * p as f64 * W::EPSILON.to_f64() * trace);
    if m >= 0.5 * lk {
        return false;
    }
    let tau = W::from_f64(lk - m);
    // P·G·P = G − U·Bᵀ − B·Uᵀ + U·C·Uᵀ with B = G·U, C = Uᵀ·B, so with D = B − U·C/2,
    // M = τI − G + U·Dᵀ + D·Uᵀ. Sequential products: only whether M factors is used, and that
    // must not depend on the thread count.
    let mut d = mat::zeros::<W>(p, k);
    faer::linalg::matmul::matmul(d.as_mut(), Accum::Replace, g, u, W::ONE, Par::Seq);
    let mut c = mat::zeros::<W>(k, k);
    faer::linalg::matmul::matmul(
        c.as_mut(),
        Accum::Replace,
        u.transpose(),
        d.as_ref(),
        W::ONE,
        Par::Seq,
    );
    faer::linalg::matmul::matmul(
        d.as_mut(),
        Accum::Add,
        u,
        c.as_ref(),
        -W::from_f64(0.5),
        Par::Seq,
    );
    let mut mm = mat::from_fn::<W>(
        p,
        p,
        |i, j| if i == j { tau - g[(i, j)] } else { -g[(i, j)] },
    );
    faer::linalg::matmul::matmul(mm.as_mut(), Accum::Add, u, d.transpose(), W::ONE, Par::Seq);
    faer::linalg::matmul::matmul(
        mm.as_mut(),
        Accum::Add,
        d.as_ref(),
        u.transpose(),
        W::ONE,
        Par::Seq,
    );
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<W>(
        p,
        Par::Seq,
        Default::default(),
    ));
    cholesky_in_place(
        mm.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .is_ok()
}

/// Indices of `vals` from the largest value down (stable on ties).
fn descending(vals: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..vals.len()).collect();
    idx.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    idx
}

/// X's triplets from G's eigenvectors U (p x k): `Z = Aᵀ·U`, `σ_j = ‖z_j‖`, `v_j = z_j/σ_j`
/// (so `Aᵀ·u_j = σ_j·v_j` holds by construction), checked on the other residual
/// `‖A·v_j − σ_j·u_j‖ = ‖A·z_j/σ_j − σ_j·u_j‖ <= tol·σ₁`, evaluated in f64 from the products in
/// `W` (whose own rounding, about `ε_W·√p·σ₁`, is far inside f32's bound).
///
/// `A·z_j` is `G·u_j` in exact arithmetic. The computed G, Z and `Ĝ·U` carry rounding of at
/// most `q·ε_W·trace(G)`, `p·ε_W·‖A‖_F` and `p·ε_W·trace(G)` (entries are sums of q, p and p
/// products; `‖G‖_F <= trace(G)`), so to first order
/// `‖A·v_j − σ_j·u_j‖ <= ‖Ĝ·u_j − σ_j²·u_j‖/σ_j + (q + 2p)·ε_W·trace(G)/σ_j`. Where that second
/// term is below a sixteenth of the bound for every j (f32 data, whose bound is 5·10⁸ times
/// f64's rounding, unless σ_k is near zero), the residual is checked from `Ĝ·U` (p²k
/// multiply-adds) with the term added, instead of from a second pass over A (pqk, ten times as
/// many on the faces). f64 data, whose bound is at that rounding level, takes the pass (unless
/// q is a few dozen; the bound holds either way).
fn triplets<T: Float, W: Float, C: Columns<W>>(
    a: &C,
    g: MatRef<'_, W>,
    u: Mat<W>,
    buf: &mut Mat<W>,
    tol: f64,
    par: Par,
) -> Result<Option<Truncated<T>>, InitError> {
    let (p, q) = a.shape();
    let k = u.ncols();
    let mut z = mat::zeros::<W>(q, k);
    for c0 in (0..q).step_by(a.width()) {
        let ac = a.block(c0, buf);
        let w = ac.ncols();
        matmul(
            z.subrows_mut(c0, w),
            Accum::Replace,
            ac.transpose(),
            u.as_ref(),
            W::ONE,
            par,
        )?;
    }
    let s: Vec<f64> = (0..k)
        .map(|j| {
            z.col(j)
                .iter()
                .map(|v| v.to_f64() * v.to_f64())
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let s1 = s.iter().copied().fold(0.0f64, f64::max);
    if !s.iter().all(|&v| v > 0.0 && v.is_finite()) {
        return Ok(None);
    }
    let trace: f64 = (0..p).map(|i| g[(i, i)].to_f64()).sum();
    let gram_term = |sj: f64| (q + 2 * p) as f64 * W::EPSILON.to_f64() * trace / sj;
    let from_gram = s.iter().all(|&sj| gram_term(sj) <= tol * s1 / 16.0);
    // A·Z (p x k): from G where the bound above allows it, else from the pass over A's blocks.
    let mut az = mat::zeros::<W>(p, k);
    if from_gram {
        matmul(az.as_mut(), Accum::Replace, g, u.as_ref(), W::ONE, par)?;
    } else {
        for (i, c0) in (0..q).step_by(a.width()).enumerate() {
            let ac = a.block(c0, buf);
            let w = ac.ncols();
            let accum = if i == 0 { Accum::Replace } else { Accum::Add };
            matmul(az.as_mut(), accum, ac, z.subrows(c0, w), W::ONE, par)?;
        }
    }
    for (j, &sj) in s.iter().enumerate() {
        // (Ĝ·u_j or A·z_j)/σ_j − σ_j·u_j.
        let r: f64 = (0..p)
            .map(|i| {
                let d = az[(i, j)].to_f64() / sj - sj * u[(i, j)].to_f64();
                d * d
            })
            .sum();
        let r = r.sqrt() + if from_gram { gram_term(sj) } else { 0.0 };
        if r.is_nan() || r > tol * s1 {
            return Ok(None);
        }
    }
    let order = descending(&s);
    Ok(Some(Truncated {
        u: mat::from_fn(p, k, |i, j| T::from_f64(u[(i, order[j])].to_f64())),
        s: order.iter().map(|&j| T::from_f64(s[j])).collect(),
        v: mat::from_fn(q, k, |i, j| {
            T::from_f64(z[(i, order[j])].to_f64() / s[order[j]])
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::svd::{flip_signs, thin_svd};

    /// `Σ_r 0.7^r · a_r(i) · b_r(j)` for smooth a_r, b_r plus a small pseudo-random floor: a
    /// nonnegative-ish matrix with a geometric spectrum (separated singular values, so the
    /// vectors are determined up to sign).
    fn decaying(n: usize, m: usize, rank: usize) -> Mat<f64> {
        Mat::from_fn(n, m, |i, j| {
            let (a, b) = (i as f64 / n as f64, j as f64 / m as f64);
            let mut v: f64 = (0..rank)
                .map(|r| {
                    let r = r as f64;
                    0.7f64.powf(r)
                        * (1.5 + (2.0 * a * (r + 1.0) + r).sin())
                        * (1.5 + (3.0 * b * (r + 1.0) + 0.5 * r).cos())
                })
                .sum();
            if rank > 8 {
                v += (((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0) * 1e-3;
            }
            v
        })
    }

    fn reference(x: MatRef<'_, f64>, k: usize) -> Truncated<f64> {
        let t = thin_svd(x).unwrap();
        let mut t = Truncated {
            u: t.u.subcols(0, k).to_owned(),
            s: t.s[..k].to_vec(),
            v: t.v.subcols(0, k).to_owned(),
        };
        flip_signs(&mut t);
        t
    }

    fn max_diff<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, f64>) -> f64 {
        let mut d = 0.0f64;
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                d = d.max((a[(i, j)].to_f64() - b[(i, j)]).abs());
            }
        }
        d
    }

    /// Wide and tall, the full eigendecomposition (small G) and Lanczos (G of order >= 320 with
    /// a small k), f64 and f32 data: the triplets are the thin SVD's to rounding.
    #[test]
    fn gram_triplets_match_the_thin_svd() {
        for (n, m, k) in [(30, 200, 6), (200, 30, 6), (340, 700, 5), (700, 340, 12)] {
            let x = decaying(n, m, 20);
            let want = reference(x.as_ref(), k);
            let tol = 1024.0 * f64::EPSILON;
            let mut got = truncated(x.as_ref(), k, 7, tol, Par::Seq)
                .unwrap()
                .expect("accepted");
            flip_signs(&mut got);
            for j in 0..k {
                let rel = (got.s[j] - want.s[j]).abs() / want.s[j];
                assert!(rel < 1e-12, "{n}x{m} σ{j}: {} vs {}", got.s[j], want.s[j]);
            }
            // Vector accuracy is about ε·σ₁/gap; these spectra have gaps of 30% or more.
            let (du, dv) = (
                max_diff(got.u.as_ref(), want.u.as_ref()),
                max_diff(got.v.as_ref(), want.v.as_ref()),
            );
            assert!(du < 1e-9 && dv < 1e-9, "{n}x{m}: U {du:e}, V {dv:e}");
            // f32 data: the route runs in f64, so the result is the f64 SVD rounded to f32,
            // and the triplets meet f32's bound on both residuals (from the data, in f64).
            let x32 = Mat::<f32>::from_fn(n, m, |i, j| x[(i, j)] as f32);
            let x32_64 = Mat::<f64>::from_fn(n, m, |i, j| x32[(i, j)] as f64);
            let want = reference(x32_64.as_ref(), k);
            let tol32 = 1024.0 * f32::EPSILON as f64;
            let mut got = truncated(x32.as_ref(), k, 7, tol32, Par::Seq)
                .unwrap()
                .expect("accepted");
            flip_signs(&mut got);
            let (du, dv) = (
                max_diff(got.u.as_ref(), want.u.as_ref()),
                max_diff(got.v.as_ref(), want.v.as_ref()),
            );
            assert!(du < 1e-6 && dv < 1e-6, "f32 {n}x{m}: U {du:e}, V {dv:e}");
            for j in 0..k {
                let u = Col::<f64>::from_fn(n, |i| got.u[(i, j)] as f64);
                let v = Col::<f64>::from_fn(m, |i| got.v[(i, j)] as f64);
                let sj = got.s[j] as f64;
                let r1 = (&x32_64 * &v - &u * sj).norm_l2();
                let r2 = (x32_64.transpose() * &u - &v * sj).norm_l2();
                assert!(
                    r1.max(r2) <= tol32 * want.s[0],
                    "f32 {n}x{m} triplet {j}: {r1:e} {r2:e}"
                );
            }
        }
    }

    /// f32 data is converted to f64 at every k (k = 12 of 40 included); f64 data is used in
    /// place up to k = min(n, m)/4 and declined above.
    #[test]
    fn the_working_precision_follows_the_data() {
        let x = decaying(40, 300, 20);
        let x32 = Mat::<f32>::from_fn(40, 300, |i, j| x[(i, j)] as f32);
        let tol32 = 1024.0 * f32::EPSILON as f64;
        for k in [10, 12] {
            let got = truncated(x32.as_ref(), k, 1, tol32, Par::Seq)
                .unwrap()
                .unwrap();
            let wide = route::<f32, f64, _>(&Widened::new(x32.as_ref()), k, 1, tol32, Par::Seq);
            let wide = wide.unwrap().unwrap();
            assert!(
                got.u == wide.u && got.s == wide.s && got.v == wide.v,
                "k = {k}"
            );
        }
        let tol = 1024.0 * f64::EPSILON;
        let got = truncated(x.as_ref(), 10, 1, tol, Par::Seq)
            .unwrap()
            .unwrap();
        let own = route::<f64, f64, _>(&Own(x.as_ref()), 10, 1, tol, Par::Seq)
            .unwrap()
            .unwrap();
        assert!(got.u == own.u && got.s == own.s && got.v == own.v);
        assert!(
            truncated(x.as_ref(), 11, 1, tol, Par::Seq)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn gram_results_do_not_depend_on_the_thread_count() {
        for (n, m, k) in [(340, 900, 5), (120, 700, 10)] {
            let x = decaying(n, m, 20);
            let tol = 1024.0 * f64::EPSILON;
            let a = truncated(x.as_ref(), k, 3, tol, Par::Seq).unwrap().unwrap();
            let b = truncated(x.as_ref(), k, 3, tol, Par::rayon(2))
                .unwrap()
                .unwrap();
            assert_eq!((a.u, a.s, a.v), (b.u, b.s, b.v), "{n}x{m} k={k}");
        }
    }

    /// k beyond X's rank (σ_k at rounding level), σ_k far below σ₁ in f64 (the residual grows
    /// as ε·σ₁²/σ_k; σ₁/σ_k = 970 still passes here, 6e5 does not), a zero X, and k = 0 or larger than the small side: no
    /// triplets, so the caller takes the thin SVD.
    #[test]
    fn gram_declines_what_it_cannot_resolve() {
        let accepts = |x: MatRef<'_, f64>, k: usize| {
            let tol = 1024.0 * f64::EPSILON;
            truncated(x, k, 0, tol, Par::Seq).unwrap().is_some()
        };
        let steep = decaying(200, 900, 20);
        assert!(accepts(steep.as_ref(), 10));
        let s = thin_svd(steep.as_ref()).unwrap().s;
        assert!(
            s[39] < s[0] / 1e5 && s[9] > s[0] / 2000.0,
            "{} {} {}",
            s[0],
            s[9],
            s[39]
        );
        assert!(!accepts(steep.as_ref(), 40), "σ₁/σ_40 is above 1e5");
        assert!(!accepts(steep.as_ref(), 51), "k > min(n, m)/4 in f64");
        // The same matrix in f32, at f32's bound: the f64 Gram resolves it.
        let s32 = Mat::<f32>::from_fn(200, 900, |i, j| steep[(i, j)] as f32);
        let tol32 = 1024.0 * f32::EPSILON as f64;
        assert!(
            truncated(s32.as_ref(), 40, 0, tol32, Par::Seq)
                .unwrap()
                .is_some()
        );
        let low = decaying(40, 300, 3);
        assert!(accepts(low.as_ref(), 3));
        assert!(!accepts(low.as_ref(), 5), "k beyond the rank");
        assert!(!accepts(Mat::<f64>::zeros(10, 50).as_ref(), 2));
        assert!(!accepts(low.as_ref(), 0));
        assert!(!accepts(low.as_ref(), 41));
    }

    /// Several blocks (the last narrower) give the single block's result to rounding, and the
    /// same bits for any thread count.
    #[test]
    fn blocks_of_columns_agree_with_one_block() {
        let x = decaying(50, 3000, 20);
        let x32 = Mat::<f32>::from_fn(50, 3000, |i, j| x[(i, j)] as f32);
        let tol32 = 1024.0 * f32::EPSILON as f64;
        let small = Widened::with_entries(x32.as_ref(), 50 * 256);
        assert_eq!(small.width(), 256, "12 blocks, the last 184 wide");
        let many = route::<f32, f64, _>(&small, 6, 2, tol32, Par::Seq)
            .unwrap()
            .unwrap();
        let one = route::<f32, f64, _>(&Widened::new(x32.as_ref()), 6, 2, tol32, Par::Seq);
        let mut one = one.unwrap().unwrap();
        // Signs are the caller's (svd_flip): inverse iteration's follow the tridiagonal basis,
        // whose Householder signs the blocks' rounding can change.
        let mut many_flipped = Truncated {
            u: many.u.clone(),
            s: many.s.clone(),
            v: many.v.clone(),
        };
        flip_signs(&mut many_flipped);
        flip_signs(&mut one);
        for j in 0..6 {
            assert!((many.s[j] - one.s[j]).abs() <= 1e-6 * one.s[0], "σ{j}");
        }
        let (mu, mv) = (&many_flipped.u, &many_flipped.v);
        assert!(max_diff(mu.as_ref(), one.u.map(|&v| v as f64).as_ref()) < 1e-6);
        assert!(max_diff(mv.as_ref(), one.v.map(|&v| v as f64).as_ref()) < 1e-6);
        let par = route::<f32, f64, _>(&small, 6, 2, tol32, Par::rayon(2))
            .unwrap()
            .unwrap();
        assert!(par.u == many.u && par.s == many.s && par.v == many.v);
    }

    /// Every singular value twice (X = diag(Y, Y)). At k = 5 of 340 the route takes Lanczos,
    /// which from one start vector may find one copy only (here rounding let it find both), so
    /// its pairs are accepted only when the completeness check finds nothing left out; the top
    /// k come out with their copies, the check rejects a set with a copy missing, and the
    /// tridiagonal path (complete by construction: Sturm counts) finds both copies too.
    #[test]
    fn repeated_singular_values_are_all_found() {
        let y = decaying(170, 1000, 20);
        let x = Mat::<f64>::from_fn(340, 2000, |i, j| match (i < 170, j < 1000) {
            (true, true) => y[(i, j)],
            (false, false) => y[(i - 170, j - 1000)],
            _ => 0.0,
        });
        let want = thin_svd(x.as_ref()).unwrap().s;
        let tol = 1024.0 * f64::EPSILON;
        let got = truncated(x.as_ref(), 5, 4, tol, Par::Seq)
            .unwrap()
            .expect("accepted");
        for j in 0..5 {
            assert!(
                (got.s[j] - want[j]).abs() <= 1e-12 * want[0],
                "σ{j}: {:?} vs {:?}",
                got.s,
                &want[..5]
            );
        }
        // The check itself: the top four are complete; with one copy of σ₂ left out they are
        // not.
        let g = &x * x.transpose();
        let (u, vals) = top_full(g.as_ref(), 5).unwrap();
        assert!(complete(g.as_ref(), u.subcols(0, 4), vals[3]));
        let gap = Mat::from_fn(340, 3, |i, j| u[(i, [0, 1, 3][j])]);
        assert!(
            !complete(g.as_ref(), gap.as_ref(), vals[3]),
            "σ₂'s second copy is missing"
        );
        let (_, tvals) = crate::tridiag::top_k(g.as_ref(), 5, 4).expect("no fallback");
        for j in 0..5 {
            assert!((tvals[j] - vals[j]).abs() <= 1e-12 * vals[0], "λ{j}");
        }
    }

    /// Lanczos and the full eigendecomposition agree on a Gram matrix where the gate picks
    /// Lanczos.
    #[test]
    fn lanczos_on_the_gram_matches_the_full_eigendecomposition() {
        let x = decaying(340, 700, 20);
        let g = &x * x.transpose();
        let (ul, vl) = top_lanczos(g.as_ref(), 5, 9).expect("converges");
        let (uf, vf) = top_full(g.as_ref(), 5).unwrap();
        for j in 0..5 {
            assert!((vl[j] - vf[j]).abs() <= 1e-12 * vf[0]);
            let dot: f64 = (0..340).map(|i| ul[(i, j)] * uf[(i, j)]).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-10, "vector {j}: |cos| {dot}");
        }
        assert!(complete(g.as_ref(), ul.as_ref(), vl[4]));
    }
}
