//! The k largest eigenpairs of a symmetric matrix without computing all of its eigenvectors.
//!
//! faer's full eigendecomposition reduces G to tridiagonal form `T = Qᵀ·G·Q`, finds every
//! eigenvector of T by divide and conquer and multiplies all p of them by Q: 16.4 ms for the
//! faces' 400 x 400 Gram, of which the reduction is 4.5 ms. NNDSVD needs k of the p vectors.
//! Here the reduction is faer's, and the rest is done for the top k only:
//!
//! - **Eigenvalues by bisection on Sturm counts.** The number of negative pivots of the LDLᵀ
//!   factorisation of `T − x·I` is the number of eigenvalues below x, so the i-th largest is
//!   bracketed by construction whatever its multiplicity (a Krylov method can miss a copy of a
//!   repeated eigenvalue and still return pairs that pass every residual test). Eight shifts are
//!   counted at once (independent divisions hide one another's latency), spread over the
//!   interval while several targets still share it.
//! - **Eigenvectors by inverse iteration** on `T − λ·I` (LU with partial pivoting, three
//!   solves from a seeded random start), with LAPACK dstein's treatment of clusters (but
//!   narrower ones, see [`CLUSTER`]): eigenvalues closer than `10⁻⁸·‖T‖` are one cluster, each
//!   new vector is orthogonalised against the cluster's earlier ones after every solve, and
//!   shifts closer than `10·ε·|λ|` are pulled apart so that equal eigenvalues get distinct,
//!   orthogonal vectors. One Cholesky QR of the k vectors then removes what the vectors of
//!   neighbouring clusters share.
//! - **Checks**: every residual `‖T·v − λ·v‖ <= 64·n·ε·‖T‖` and the orthogonality
//!   `max |VᵀV − I| <= 64·n·ε`; a miss returns `None` and the caller takes the full
//!   eigendecomposition.
//! - Only the k vectors are multiplied by Q (faer's blocked Householder application).
//!
//! Everything runs on one thread, so the bits do not depend on the thread count. The
//! arithmetic on T is in f64 whatever `W` is (the Gram route's working precision is f64 for
//! f32 and f64 data alike).

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::evd::tridiag::{tridiag_in_place, tridiag_in_place_scratch};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::{Accum, Conj, Mat, MatRef, Par};
use nmf_core::Float;
use nmf_core::mat;

/// Shifts counted together in the bisection.
const LANES: usize = 8;

/// Solves of inverse iteration per vector. From a random start the first solve already gains
/// a factor `gap / (ε·‖T‖)` towards the eigenvector; two more leave the residual at rounding
/// level (dstein stops two solves after its growth test passes, usually after the first).
const SOLVES: usize = 3;

/// Eigenvalues closer than this fraction of ‖T‖ are one cluster, whose vectors are
/// orthogonalised against one another after every solve. dstein's ORTOL is 10⁻³, so that its
/// vectors come out orthogonal without further work; on the faces' Gram every eigenvalue past
/// the fourth is within 10⁻³·λ₁ of the next, which made all but the top four one cluster and the
/// orthogonalisation O(n·k²) scalar work (17 ms at k = 200). Outside a cluster of this width,
/// inverse iteration's vectors lean towards a neighbour at gap g by about `ε·‖T‖/g <= 2·10⁻⁸`,
/// and the Cholesky QR at the end removes that without raising any residual above a few
/// `ε·‖T‖` (the component along a neighbour times their gap is `ε·‖T‖`).
const CLUSTER: f64 = 1e-8;

/// The k largest eigenvalues of the symmetric `g` (from the largest down, in f64) and their
/// eigenvectors (p x k, in the same order), or `None` when a check fails or there is nothing to
/// do (k = 0, k > p, p < 2, or a non-finite or zero T).
pub(crate) fn top_k<W: Float>(g: MatRef<'_, W>, k: usize, seed: u64) -> Option<(Mat<W>, Vec<f64>)> {
    let p = g.nrows();
    if k == 0 || k > p || p < 2 || g.ncols() != p {
        return None;
    }
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<W>(p, p);
    let req = StackReq::any_of(&[
        tridiag_in_place_scratch::<W>(p, Par::Seq, Default::default()),
        apply_block_householder_sequence_on_the_left_in_place_scratch::<W>(p - 1, bs, k),
    ]);
    let mut mem = MemBuffer::new(req);
    let mut trid = mat::copy(g);
    let mut hh = mat::zeros::<W>(bs, p - 1);
    tridiag_in_place(
        trid.as_mut(),
        hh.as_mut(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    );
    let d: Vec<f64> = (0..p).map(|i| trid[(i, i)].to_f64()).collect();
    let e: Vec<f64> = (0..p - 1).map(|i| trid[(i + 1, i)].to_f64()).collect();
    let t = Tridiagonal::new(d, e)?;
    let vals = t.top_eigenvalues(k);
    let v = t.eigenvectors(&vals, seed);
    if !t.accept(v.as_ref(), &vals) {
        return None;
    }
    let mut u = mat::from_fn::<W>(p, k, |i, j| W::from_f64(v[(i, j)]));
    apply_block_householder_sequence_on_the_left_in_place_with_conj(
        trid.as_ref().submatrix(1, 0, p - 1, p - 1),
        hh.as_ref(),
        Conj::No,
        u.as_mut().subrows_mut(1, p - 1),
        Par::Seq,
        MemStack::new(&mut mem),
    );
    Some((u, vals))
}

/// Row i's off-diagonal absolute sum `|e[i − 1]| + |e[i]|` (its Gershgorin radius).
fn radius(e: &[f64], i: usize) -> f64 {
    let below = if i > 0 { e[i - 1].abs() } else { 0.0 };
    below + e.get(i).map_or(0.0, |v| v.abs())
}

/// A symmetric tridiagonal T: diagonal `d`, off-diagonal `e` (`e[i] = T[i + 1, i]`).
struct Tridiagonal {
    d: Vec<f64>,
    e: Vec<f64>,
    /// `e[i]²`, for the Sturm counts.
    e2: Vec<f64>,
    /// ‖T‖∞ (the largest absolute row sum), the scale of every tolerance.
    norm: f64,
    /// LAPACK's smallest pivot magnitude for the counts: a pivot below it is replaced by
    /// −pivmin, so a count never divides by zero and a shift at an eigenvalue counts it.
    pivmin: f64,
}

impl Tridiagonal {
    fn new(d: Vec<f64>, e: Vec<f64>) -> Option<Self> {
        if !d.iter().chain(&e).all(|v| v.is_finite()) {
            return None;
        }
        let norm = (0..d.len())
            .map(|i| d[i].abs() + radius(&e, i))
            .fold(0.0f64, f64::max);
        if !(norm > 0.0 && norm.is_finite()) {
            return None;
        }
        let e2: Vec<f64> = e.iter().map(|v| v * v).collect();
        let pivmin = f64::MIN_POSITIVE * e2.iter().copied().fold(1.0f64, f64::max);
        Some(Tridiagonal {
            d,
            e,
            e2,
            norm,
            pivmin,
        })
    }

    fn len(&self) -> usize {
        self.d.len()
    }

    /// For each shift x, how many eigenvalues of T lie below x (the negative pivots of
    /// `T − x·I = L·D·Lᵀ`). The lanes are independent, so their divisions overlap.
    fn counts(&self, x: &[f64; LANES]) -> [usize; LANES] {
        let mut q = [0.0f64; LANES];
        let mut c = [0usize; LANES];
        let pivmin = self.pivmin;
        for l in 0..LANES {
            let v = self.d[0] - x[l];
            q[l] = if v.abs() < pivmin { -pivmin } else { v };
            c[l] = usize::from(q[l] < 0.0);
        }
        for (di, e2) in self.d[1..].iter().zip(&self.e2) {
            for l in 0..LANES {
                let v = di - x[l] - e2 / q[l];
                q[l] = if v.abs() < pivmin { -pivmin } else { v };
                c[l] += usize::from(q[l] < 0.0);
            }
        }
        c
    }

    /// The k largest eigenvalues, from the largest down, each to within
    /// `max(4ε·|λ|, 2ε·‖T‖)` (inverse iteration needs no more).
    fn top_eigenvalues(&self, k: usize) -> Vec<f64> {
        let n = self.len();
        let eps = f64::EPSILON;
        // Gershgorin's interval, widened past the counts' rounding (as LAPACK's dstebz does).
        let mut lo0 = f64::INFINITY;
        let mut hi0 = f64::NEG_INFINITY;
        for i in 0..n {
            let r = radius(&self.e, i);
            lo0 = lo0.min(self.d[i] - r);
            hi0 = hi0.max(self.d[i] + r);
        }
        let pad = 2.1 * (n as f64 * eps * self.norm + self.pivmin);
        let (lo0, hi0) = (lo0 - pad, hi0 + pad);
        let width =
            |lo: f64, hi: f64| (4.0 * eps * lo.abs().max(hi.abs())).max(2.0 * eps * self.norm);
        let mut out = Vec::with_capacity(k);
        // Targets by ascending index: the j-th largest is index n − 1 − j.
        for first in (0..k).step_by(LANES) {
            let lanes = LANES.min(k - first);
            let target: [usize; LANES] =
                core::array::from_fn(|l| n - 1 - (first + l.min(lanes - 1)));
            let mut lo = [lo0; LANES];
            let mut hi = [hi0; LANES];
            // Each eigenvalue already found bounds the ones below it from above.
            if let Some(&prev) = out.last() {
                let top = prev + width(prev, prev);
                hi = [top.min(hi0); LANES];
            }
            // Bisection halves at least one interval per round; 4096 rounds is far past the
            // ~100 that f64's range allows, and only guards against a NaN slipping through.
            for _ in 0..4096 {
                if (0..lanes).all(|l| hi[l] - lo[l] <= width(lo[l], hi[l])) {
                    break;
                }
                // Lanes sharing an interval split it into equal parts instead of all probing
                // its midpoint.
                let x: [f64; LANES] = core::array::from_fn(|l| {
                    let same = |m: usize| lo[m] == lo[l] && hi[m] == hi[l];
                    let rank = (0..l).filter(|&m| same(m)).count();
                    let count = (0..LANES).filter(|&m| same(m)).count();
                    lo[l] + (hi[l] - lo[l]) * (rank + 1) as f64 / (count + 1) as f64
                });
                let c = self.counts(&x);
                for l in 0..LANES {
                    for m in 0..LANES {
                        // c[m] eigenvalues lie below x[m]: the target is above x[m] if
                        // c[m] <= target, else below it.
                        if c[m] <= target[l] {
                            lo[l] = lo[l].max(x[m]);
                        } else {
                            hi[l] = hi[l].min(x[m]);
                        }
                    }
                }
            }
            out.extend((0..lanes).map(|l| 0.5 * (lo[l] + hi[l])));
        }
        out
    }

    /// Unit eigenvectors (n x k) for eigenvalues from the largest down, by inverse iteration.
    fn eigenvectors(&self, vals: &[f64], seed: u64) -> Mat<f64> {
        use rand::{RngExt, SeedableRng};
        let n = self.len();
        let k = vals.len();
        let eps = f64::EPSILON;
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x7d1a_9c0e_3b5f_1e55);
        let mut v = mat::zeros::<f64>(n, k);
        let mut lu = Lu::new(n);
        let mut x = vec![0.0f64; n];
        let mut cluster = 0;
        let mut prev_shift = f64::INFINITY;
        for (j, &lam) in vals.iter().enumerate() {
            if j > 0 && vals[j - 1] - lam > CLUSTER * self.norm {
                cluster = j;
            }
            // Equal (or nearly equal) eigenvalues get shifts 10ε|λ| apart, so the solves do not
            // return the same vector.
            let pert = 10.0 * eps * lam.abs();
            let shift = if j > cluster && prev_shift - lam < pert {
                prev_shift - pert
            } else {
                lam
            };
            prev_shift = shift;
            lu.factor(self, shift, eps * self.norm);
            for xi in x.iter_mut() {
                *xi = rng.random_range(-1.0..1.0);
            }
            for _ in 0..SOLVES {
                lu.solve(&mut x);
                for c in cluster..j {
                    let col = v.col(c);
                    let dot: f64 = (0..n).map(|i| col[i] * x[i]).sum();
                    for (i, xi) in x.iter_mut().enumerate() {
                        *xi -= dot * col[i];
                    }
                }
                let nrm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
                if !(nrm > 0.0 && nrm.is_finite()) {
                    // Leave a zero column: the checks reject it.
                    x.iter_mut().for_each(|v| *v = 0.0);
                    break;
                }
                x.iter_mut().for_each(|v| *v /= nrm);
            }
            for (i, &xi) in x.iter().enumerate() {
                v[(i, j)] = xi;
            }
        }
        orthonormalise(v.as_mut());
        v
    }

    /// Whether every `‖T·v_j − λ_j·v_j‖ <= 64·n·ε·‖T‖` and `max |VᵀV − I| <= 64·n·ε`
    /// (inverse iteration's residuals are a few ε·‖T‖, and after the Cholesky QR its vectors
    /// are orthogonal to a few ε).
    fn accept(&self, v: MatRef<'_, f64>, vals: &[f64]) -> bool {
        let n = self.len();
        let k = vals.len();
        let bound = 64.0 * n as f64 * f64::EPSILON;
        for (j, &lam) in vals.iter().enumerate() {
            let c = v.col(j);
            let mut r2 = 0.0;
            for i in 0..n {
                let mut tv = (self.d[i] - lam) * c[i];
                if i > 0 {
                    tv += self.e[i - 1] * c[i - 1];
                }
                if i + 1 < n {
                    tv += self.e[i] * c[i + 1];
                }
                r2 += tv * tv;
            }
            let r = r2.sqrt();
            if r.is_nan() || r > bound * self.norm {
                return false;
            }
        }
        let mut vtv = mat::zeros::<f64>(k, k);
        faer::linalg::matmul::matmul(
            vtv.as_mut(),
            Accum::Replace,
            v.transpose(),
            v,
            1.0,
            Par::Seq,
        );
        (0..k).all(|j| {
            (0..k).all(|i| {
                let dev = vtv[(i, j)] - if i == j { 1.0 } else { 0.0 };
                dev.abs() <= bound
            })
        })
    }
}

/// `V ← V·R⁻¹` with `VᵀV = RᵀR` (Cholesky QR): column j becomes v_j orthogonalised against
/// the columns before it, in GEMM-speed products. V is orthonormal to about 10⁻⁸ on entry,
/// where one pass is as stable as Householder QR; a failed factorisation (a zero or repeated
/// column) leaves V as it is for the checks to reject.
fn orthonormalise(v: faer::MatMut<'_, f64>) {
    let k = v.ncols();
    let mut vtv = mat::zeros::<f64>(k, k);
    faer::linalg::matmul::matmul(
        vtv.as_mut(),
        Accum::Replace,
        v.as_ref().transpose(),
        v.as_ref(),
        1.0,
        Par::Seq,
    );
    let Ok(llt) = vtv.llt(faer::Side::Lower) else {
        return;
    };
    // X·Lᵀ = V, i.e. L·Xᵀ = Vᵀ.
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        llt.L(),
        v.transpose_mut(),
        Par::Seq,
    );
}

/// `T − σ·I = P·L·U` for a tridiagonal T (partial pivoting, as LAPACK's dgttrf): U has two
/// superdiagonals, L one multiplier per column.
struct Lu {
    /// U's diagonal.
    u0: Vec<f64>,
    /// U's first and second superdiagonals.
    u1: Vec<f64>,
    u2: Vec<f64>,
    /// L's multipliers.
    l: Vec<f64>,
    /// Whether rows i and i + 1 were swapped at step i.
    swap: Vec<bool>,
    /// `1 / u0[i]`, with pivots below the tolerance replaced (see [`Lu::factor`]): the
    /// solves multiply, so the divisions are done once per shift and not in a dependent chain.
    inv: Vec<f64>,
}

impl Lu {
    fn new(n: usize) -> Self {
        Lu {
            u0: vec![0.0; n],
            u1: vec![0.0; n],
            u2: vec![0.0; n],
            l: vec![0.0; n],
            swap: vec![false; n],
            inv: vec![0.0; n],
        }
    }

    /// Factors `T − σ·I`. Pivots smaller than `tiny` are replaced by `±tiny` in the solves (an
    /// exact shift would otherwise make U singular; inverse iteration wants the huge,
    /// well-directed solution that a tiny pivot gives).
    fn factor(&mut self, t: &Tridiagonal, sigma: f64, tiny: f64) {
        let n = t.len();
        for i in 0..n {
            self.u0[i] = t.d[i] - sigma;
            self.u1[i] = if i + 1 < n { t.e[i] } else { 0.0 };
            self.u2[i] = 0.0;
        }
        for i in 0..n - 1 {
            let sub = t.e[i];
            if self.u0[i].abs() >= sub.abs() {
                // No swap; a zero column (both entries zero) needs no elimination.
                let f = if sub == 0.0 { 0.0 } else { sub / self.u0[i] };
                self.l[i] = f;
                self.swap[i] = false;
                self.u0[i + 1] -= f * self.u1[i];
            } else {
                // Swap rows i and i + 1: row i + 1 is (sub, u0[i+1], u1[i+1]).
                let f = self.u0[i] / sub;
                self.l[i] = f;
                self.swap[i] = true;
                self.u0[i] = sub;
                let old_u1 = self.u1[i];
                self.u1[i] = self.u0[i + 1];
                self.u0[i + 1] = old_u1 - f * self.u0[i + 1];
                if i + 2 < n {
                    self.u2[i] = self.u1[i + 1];
                    self.u1[i + 1] *= -f;
                }
            }
        }
        for (inv, &u) in self.inv.iter_mut().zip(&self.u0) {
            let u = if u.abs() >= tiny {
                u
            } else if u < 0.0 {
                -tiny
            } else {
                tiny
            };
            *inv = 1.0 / u;
        }
    }

    /// Solves `(T − σ·I)·y = x` in place.
    fn solve(&self, x: &mut [f64]) {
        let n = x.len();
        for i in 0..n - 1 {
            if self.swap[i] {
                let xi = x[i];
                x[i] = x[i + 1];
                x[i + 1] = xi - self.l[i] * x[i];
            } else {
                x[i + 1] -= self.l[i] * x[i];
            }
        }
        x[n - 1] *= self.inv[n - 1];
        if n >= 2 {
            x[n - 2] = (x[n - 2] - self.u1[n - 2] * x[n - 1]) * self.inv[n - 2];
        }
        for i in (0..n.saturating_sub(2)).rev() {
            x[i] = (x[i] - self.u1[i] * x[i + 1] - self.u2[i] * x[i + 2]) * self.inv[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full eigendecomposition's top k, from the largest down.
    fn full(g: MatRef<'_, f64>, k: usize) -> (Mat<f64>, Vec<f64>) {
        let evd = g.self_adjoint_eigen(faer::Side::Lower).unwrap();
        let p = g.nrows();
        let s = evd.S().column_vector();
        let mut idx: Vec<usize> = (0..p).collect();
        idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        (
            Mat::from_fn(p, k, |i, j| evd.U()[(i, idx[j])]),
            idx[..k].iter().map(|&i| s[i]).collect(),
        )
    }

    fn check(g: MatRef<'_, f64>, k: usize) {
        let (u, vals) = top_k(g, k, 7).expect("accepted");
        let (_, want) = full(g, k);
        let scale = want[0].abs();
        for j in 0..k {
            assert!(
                (vals[j] - want[j]).abs() <= 1e-12 * scale,
                "λ_{j}: {} vs {}",
                vals[j],
                want[j]
            );
        }
        // G·U = U·Λ and UᵀU = I hold for the whole set, whatever the multiplicities.
        let gu = g * &u;
        for j in 0..k {
            for i in 0..g.nrows() {
                let r = gu[(i, j)] - vals[j] * u[(i, j)];
                assert!(r.abs() <= 1e-11 * scale, "residual {r} at ({i}, {j})");
            }
        }
        let utu = u.transpose() * &u;
        for j in 0..k {
            for i in 0..k {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (utu[(i, j)] - want).abs() <= 1e-11,
                    "UᵀU[{i}, {j}] = {}",
                    utu[(i, j)]
                );
            }
        }
    }

    fn random_gram(p: usize, q: usize, seed: u64) -> Mat<f64> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let a = Mat::<f64>::from_fn(p, q, |_, _| rng.random_range(0.0..1.0));
        &a * a.transpose()
    }

    /// `Q·diag(λ)·Qᵀ` for a random orthogonal Q (from the QR of a seeded uniform matrix).
    fn with_spectrum(lam: &[f64], seed: u64) -> Mat<f64> {
        use rand::{RngExt, SeedableRng};
        let p = lam.len();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let m = Mat::<f64>::from_fn(p, p, |_, _| rng.random_range(-1.0..1.0));
        let q = m.qr().compute_Q();
        Mat::<f64>::from_fn(p, p, |i, j| {
            (0..p).map(|l| q[(i, l)] * lam[l] * q[(j, l)]).sum()
        })
    }

    #[test]
    fn matches_the_full_eigendecomposition() {
        for (p, q, k) in [
            (2, 3, 1),
            (2, 3, 2),
            (9, 20, 9),
            (60, 200, 10),
            (120, 90, 40),
        ] {
            check(random_gram(p, q, p as u64).as_ref(), k);
        }
    }

    #[test]
    fn repeated_and_clustered_eigenvalues_get_orthogonal_vectors() {
        // Q·diag(λ)·Qᵀ with λ = 5 (three times), 4, 4 + 1e-13, 3, 2 − 1e-7·j (j < 4), 1e-9 ... :
        // the bisection must find every copy and the inverse iteration distinct vectors for
        // them; the eigenvalues 1e-7 apart are outside any cluster, and their vectors are
        // orthogonal to 64·n·ε only after the Cholesky QR.
        let lam: Vec<f64> = (0..40)
            .map(|i| match i {
                0..=2 => 5.0,
                3 => 4.0,
                4 => 4.0 + 1e-13,
                5 => 3.0,
                6..=9 => 2.0 - 1e-7 * (i - 6) as f64,
                _ => 1e-9 * i as f64,
            })
            .collect();
        let g = with_spectrum(&lam, 3);
        for k in [1, 2, 3, 4, 5, 6, 10, 12] {
            check(g.as_ref(), k);
        }
    }

    /// Eigenvalues spread over 20 orders of magnitude (λ_i = 10^(−i/2)): the small ones are at
    /// rounding level against ‖T‖ and still come with orthonormal vectors.
    #[test]
    fn graded_spectrum() {
        let lam: Vec<f64> = (0..40).map(|l| 10f64.powf(-(l as f64) / 2.0)).collect();
        let g = with_spectrum(&lam, 9);
        for k in [1, 5, 20, 40] {
            check(g.as_ref(), k);
        }
    }

    #[test]
    fn block_diagonal_and_already_tridiagonal_inputs() {
        // diag(B, B): T splits (off-diagonals exactly zero) with every eigenvalue twice.
        let b = random_gram(15, 30, 11);
        let mut g = Mat::<f64>::zeros(30, 30);
        g.as_mut().submatrix_mut(0, 0, 15, 15).copy_from(&b);
        g.as_mut().submatrix_mut(15, 15, 15, 15).copy_from(&b);
        check(g.as_ref(), 8);
        // The identity: one eigenvalue, p copies.
        check(Mat::<f64>::identity(12, 12).as_ref(), 12);
        // A tridiagonal matrix with tiny off-diagonals (Wilkinson-like).
        let w = Mat::<f64>::from_fn(21, 21, |i, j| {
            if i == j {
                (10.0 - i as f64).abs()
            } else if i.abs_diff(j) == 1 {
                1e-12
            } else {
                0.0
            }
        });
        check(w.as_ref(), 6);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any Gram of a random A (p x q, rank-deficient when q < p) at any scale, with any k:
        /// the top k pairs are accepted and are the full eigendecomposition's.
        #[test]
        fn any_gram_and_k(
            p in 2usize..48,
            q in 1usize..64,
            kf in 0.0f64..1.0,
            scale in -30i32..30,
            seed in 0u64..1000,
        ) {
            let k = 1 + ((p - 1) as f64 * kf) as usize;
            let g = random_gram(p, q, seed);
            let s = 10f64.powi(scale);
            check(Mat::<f64>::from_fn(p, p, |i, j| g[(i, j)] * s).as_ref(), k);
        }
    }

    #[test]
    fn declines_what_it_cannot_do() {
        assert!(top_k(Mat::<f64>::zeros(5, 5).as_ref(), 2, 0).is_none());
        assert!(top_k(Mat::<f64>::identity(1, 1).as_ref(), 1, 0).is_none());
        assert!(top_k(Mat::<f64>::identity(3, 3).as_ref(), 4, 0).is_none());
        let mut g = Mat::<f64>::identity(4, 4);
        g[(2, 2)] = f64::NAN;
        assert!(top_k(g.as_ref(), 2, 0).is_none());
    }
}
