//! Weighted and masked fits: `min Σ_ij M_ij · d_β(X_ij, (WH)_ij)` plus the usual penalties, by
//! multiplicative updates for every β (Févotte–Idier majorisation with weights) and by exact
//! per-row coordinate descent (weighted HALS) for β = 2. docs/missing.md gives the updates.
//!
//! With weights the shared-Gram shortcuts of the unweighted solvers are gone: every row of W
//! sees its own Gram `Σ_j M_ij h_j h_jᵀ`. Both half-steps are the same operation on a factor
//! `F` (k x N) against the fixed factor `G` (k x M) — W's half-step has `F = Wᵀ`, `G = H` and
//! the rows of M; H's has `F = H`, `G = Wᵀ` and the columns of M — so one function per method
//! serves both, and factors are kept as k x N column-major buffers whose columns (rows of W,
//! columns of H) are contiguous and updated independently. Columns are cut into fixed blocks
//! that run in parallel, each summing in an order fixed by the problem: the bits do not depend
//! on the thread count.
//!
//! Dense weights work in GEMM tiles (MU: `G_cᵀ·F_b` tiles of WH; CD: the per-column Grams of a
//! block as one product `M_b · P` with `P_j = vec(g_j g_jᵀ)`); pattern weights (sparse weights,
//! `mask_zeros`) visit the observed entries only.

use faer::linalg::matmul::matmul as gemm;
use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nmf_core::data::np_pow;
use nmf_core::loss;
use nmf_core::mat;
use nmf_core::observed::{EvalScratch, Observed, ObservedKind};
use nmf_core::partition::{self, Cols};
use nmf_core::{Float, Penalties, SKLEARN_EPS};
use nmf_init::mt19937::RandomState;
use nmf_init::{Factors, initialize};

use crate::error::NmfError;
use crate::mu::gamma;
use crate::params::NmfParams;
use crate::report::{FitWarning, StopReason};
use crate::solver::{Problem, Solver, ensure_finite, error_rule, violation_rule};

/// Columns of F per parallel block (fixed, so the partition never depends on the threads).
const BLOCK: usize = 64;
/// Columns of the fixed factor per WH tile in the dense MU half-step.
const CHUNK: usize = 512;
/// Largest `P` (entries) the dense CD half-step forms; beyond it Grams are summed per entry.
const MAX_PAIRS: usize = 1 << 24;

/// One side of the weighted problem: the entries seen by the columns of the updated factor.
#[derive(Clone, Copy)]
pub(crate) enum Side<'a, T> {
    /// N x M views of the weights and of `M ⊙ X` (X's rows for W, its columns for H).
    Dense {
        wt: MatRef<'a, T>,
        wx: MatRef<'a, T>,
    },
    /// Entries of column `c` of F: `ptr[c]..ptr[c + 1]` into `idx` (columns of G), `wt`, `x`.
    Pattern {
        ptr: &'a [usize],
        idx: &'a [u32],
        wt: &'a [T],
        x: &'a [T],
    },
}

impl<'a, T: Float> Side<'a, T> {
    /// The entries seen by the rows of W (`on_w`) or by the columns of H.
    pub(crate) fn of(obs: &'a Observed<T>, on_w: bool) -> Self {
        match obs.kind() {
            ObservedKind::Dense { wt, wx, .. } => {
                if on_w {
                    Side::Dense {
                        wt: wt.as_ref(),
                        wx: wx.as_ref(),
                    }
                } else {
                    Side::Dense {
                        wt: wt.transpose(),
                        wx: wx.transpose(),
                    }
                }
            }
            ObservedKind::Pattern(p) => {
                if on_w {
                    Side::Pattern {
                        ptr: &p.row_ptr,
                        idx: &p.col_idx,
                        wt: &p.wt,
                        x: &p.x,
                    }
                } else {
                    Side::Pattern {
                        ptr: &p.col_ptr,
                        idx: &p.row_idx,
                        wt: &p.wt_c,
                        x: &p.x_c,
                    }
                }
            }
            _ => unreachable!("Observed has two kinds"),
        }
    }
}

/// The penalty coefficients of the updated factor, in its precision.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pen<T> {
    l1: T,
    l2: T,
}

impl<T: Float> Pen<T> {
    pub(crate) fn w(p: &Penalties) -> Self {
        Pen {
            l1: T::from_f64(p.l1_w),
            l2: T::from_f64(p.l2_w),
        }
    }
    fn h(p: &Penalties) -> Self {
        Pen {
            l1: T::from_f64(p.l1_h),
            l2: T::from_f64(p.l2_h),
        }
    }
}

/// The fixed blocks of one side's columns and their grouping onto tasks.
struct Plan {
    pieces: Vec<usize>,
    groups: Vec<usize>,
}

impl Plan {
    fn new(len: usize, threads: usize) -> Self {
        let pieces: Vec<usize> = (0..len.div_ceil(BLOCK))
            .map(|b| b * BLOCK)
            .chain(std::iter::once(len))
            .collect();
        let groups = partition::groups(&pieces, threads);
        Plan { pieces, groups }
    }
}

/// One task's buffers (what a block of columns needs), sized once.
struct Scratch<T> {
    num: Vec<T>,
    den: Vec<T>,
    lam: Vec<T>,
    tile: Vec<T>,
    grams: Vec<T>,
    rhs: Vec<T>,
    full: Vec<T>,
    /// Pattern CD: one column's observed vectors of the fixed factor (k x its entry count).
    gather: Vec<T>,
}

/// Which weighted method a [`Work`] is sized for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Mu,
    Cd,
}

/// Everything the weighted half-steps need besides the factors, allocated when the solver is
/// built: iterations allocate nothing.
pub(crate) struct Work<T> {
    plan_w: Plan,
    plan_h: Plan,
    scratch: Vec<Scratch<T>>,
    /// Dense CD: the pair matrix P of the fixed factor (M x k(k+1)/2), when small enough.
    pairs: Vec<T>,
    viol: Vec<f64>,
}

impl<T: Float> Work<T> {
    pub(crate) fn new(obs: &Observed<T>, k: usize, method: Method, par: Par) -> Self {
        let (n, m) = obs.shape();
        let threads = par.degree().max(1);
        let dense = matches!(obs.kind(), ObservedKind::Dense { .. });
        let np = k * (k + 1) / 2;
        let (nb, chunk) = (BLOCK.min(n.max(m)), CHUNK.min(n.max(m)));
        let sized = |on: bool, len: usize| if on { vec![T::ZERO; len] } else { Vec::new() };
        let (mu, cd) = (method == Method::Mu, method == Method::Cd);
        // The most observed entries of any row or column (the pattern CD's gather panel).
        let max_entries = match obs.kind() {
            ObservedKind::Pattern(p) => {
                let widest = |ptr: &[usize]| ptr.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
                widest(&p.row_ptr).max(widest(&p.col_ptr))
            }
            _ => 0,
        };
        let scratch = (0..threads)
            .map(|_| Scratch {
                num: sized(mu, k * nb),
                den: sized(mu, k * nb),
                lam: sized(mu && dense, nb * chunk),
                tile: sized(mu && dense, nb * chunk),
                grams: sized(cd, nb * np),
                rhs: sized(cd, nb * k),
                full: sized(cd, k * k),
                gather: sized(cd && !dense, k * max_entries),
            })
            .collect();
        let pairs_len = n.max(m) * np;
        Work {
            plan_w: Plan::new(n, threads),
            plan_h: Plan::new(m, threads),
            scratch,
            pairs: sized(cd && dense && pairs_len <= MAX_PAIRS, pairs_len),
            viol: vec![0.0; n.max(m)],
        }
    }
}

/// `v ← v ⊙ (num / (den + l1 + l2·v))^γ` with zero denominators replaced by EPS first, then
/// (when `clip`) entries below float64 epsilon set to zero: the unweighted update's rules.
fn mu_apply<T: Float>(v: &mut [T], num: &[T], den: &[T], p: Pen<T>, gamma: f64, clip: bool) {
    let eps = T::from_f64(SKLEARN_EPS);
    let tiny = T::from_f64(f64::EPSILON);
    for ((f, &nu), &de) in v.iter_mut().zip(num).zip(den) {
        let mut d = de + p.l1 + p.l2 * *f;
        if d == T::ZERO {
            d = eps;
        }
        let r = nu / d;
        *f *= if gamma == 1.0 {
            r
        } else if gamma == 0.5 {
            r.sqrt()
        } else {
            np_pow(r, gamma)
        };
        if clip && *f < tiny {
            *f = T::ZERO;
        }
    }
}

/// The weighted-MU numerator and denominator factors of one entry with `λ = (WH)_ij`:
/// `(M·X·λs^(β−2), M·λd^(β−1))`, λs (λd) clipped at EPS for β < 2 (β < 1).
#[inline(always)]
fn mu_terms<T: Float>(wt: T, wx: T, lam: T, beta: f64) -> (T, T) {
    let eps = T::from_f64(SKLEARN_EPS);
    let clip = |y: T| if y < eps { eps } else { y };
    if beta == 2.0 {
        (wx, wt * lam)
    } else if beta == 1.0 {
        (wx / clip(lam), wt)
    } else if beta == 0.0 {
        let r = T::ONE / clip(lam);
        (wx * r * r, wt * r)
    } else {
        let ls = if beta < 2.0 { clip(lam) } else { lam };
        let ld = if beta < 1.0 { clip(lam) } else { lam };
        (wx * np_pow(ls, beta - 2.0), wt * np_pow(ld, beta - 1.0))
    }
}

/// One weighted multiplicative half-step on the columns of `f` (k x N) with `g` (k x M) fixed,
/// on the side `on_w` (W's half-step) or H's.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mu_half_step<T: Float>(
    f: &mut [T],
    g: MatRef<'_, T>,
    side: Side<'_, T>,
    beta: f64,
    p: Pen<T>,
    clip: bool,
    on_w: bool,
    work: &mut Work<T>,
) {
    let k = g.nrows();
    let gm = gamma(beta);
    let nf = f.len() / k;
    let plan = if on_w { &work.plan_w } else { &work.plan_h };
    let fm = MatMut::from_column_major_slice_mut(f, k, nf);
    let run = |Cols(fm): Cols<'_, T>, s: &mut Scratch<T>, range: core::ops::Range<usize>| {
        partition::for_each_piece(Cols(fm), &plan.pieces, range, |Cols(mut fb), cols| {
            let (c0, nb) = (cols.start, cols.len());
            let (num, den) = (&mut s.num[..k * nb], &mut s.den[..k * nb]);
            match side {
                Side::Dense { wt, wx } => {
                    let mmax = g.ncols();
                    let mut numm = MatMut::from_column_major_slice_mut(num, k, nb);
                    let mut denm = MatMut::from_column_major_slice_mut(den, k, nb);
                    let mut j0 = 0;
                    while j0 < mmax {
                        let cb = CHUNK.min(mmax - j0);
                        let gc = g.subcols(j0, cb);
                        let mut l =
                            MatMut::from_column_major_slice_mut(&mut s.lam[..nb * cb], nb, cb);
                        let mut am =
                            MatMut::from_column_major_slice_mut(&mut s.tile[..nb * cb], nb, cb);
                        gemm(
                            l.rb_mut(),
                            Accum::Replace,
                            fb.rb().transpose(),
                            gc,
                            T::ONE,
                            Par::Seq,
                        );
                        let (wtb, wxb) =
                            (wt.submatrix(c0, j0, nb, cb), wx.submatrix(c0, j0, nb, cb));
                        for j in 0..cb {
                            for i in 0..nb {
                                let (nu, de) = mu_terms(wtb[(i, j)], wxb[(i, j)], l[(i, j)], beta);
                                am[(i, j)] = nu;
                                l[(i, j)] = de;
                            }
                        }
                        let acc = if j0 == 0 { Accum::Replace } else { Accum::Add };
                        gemm(
                            numm.rb_mut(),
                            acc,
                            gc,
                            am.rb().transpose(),
                            T::ONE,
                            Par::Seq,
                        );
                        gemm(denm.rb_mut(), acc, gc, l.rb().transpose(), T::ONE, Par::Seq);
                        j0 += cb;
                    }
                }
                Side::Pattern { ptr, idx, wt, x } => {
                    num.fill(T::ZERO);
                    den.fill(T::ZERO);
                    for c in 0..nb {
                        let fc = col(fb.rb(), c);
                        let (nu, de) = (&mut num[c * k..(c + 1) * k], &mut den[c * k..(c + 1) * k]);
                        for e in ptr[c0 + c]..ptr[c0 + c + 1] {
                            let gj = col(g, idx[e] as usize);
                            let lam = dot(fc, gj);
                            let (a, b) = mu_terms(wt[e], wt[e] * x[e], lam, beta);
                            for t in 0..k {
                                nu[t] += a * gj[t];
                                de[t] += b * gj[t];
                            }
                        }
                    }
                }
            }
            for c in 0..nb {
                let r = c * k..(c + 1) * k;
                let fc = col_mut(fb.rb_mut(), c);
                mu_apply(fc, &num[r.clone()], &den[r], p, gm, clip);
            }
        });
    };
    partition::run_groups(Cols(fm), &plan.groups, &mut work.scratch, &run);
}

/// Column `j` of a column-major mutable view with unit row stride, as a slice.
fn col_mut<'a, T: Float>(g: MatMut<'a, T>, j: usize) -> &'a mut [T] {
    g.col_mut(j)
        .try_as_col_major_mut()
        .expect("weighted factors are contiguous k x N buffers")
        .as_slice_mut()
}

/// Column `j` of a column-major view with unit row stride, as a slice.
fn col<'a, T: Float>(g: MatRef<'a, T>, j: usize) -> &'a [T] {
    g.col(j)
        .try_as_col_major()
        .expect("weighted factors are contiguous k x N buffers")
        .as_slice()
}

#[inline(always)]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut s = T::ZERO;
    for (&x, &y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// Position of `(s, t)`, `s <= t`, in the packed upper triangle of a k x k matrix.
#[inline(always)]
fn packed(s: usize, t: usize, k: usize) -> usize {
    s * k - s * (s + 1) / 2 + t
}

/// Coordinate-descent sweeps on one column `f` for `min ½ fᵀGf − bᵀf` over `f ≥ 0` with `gram`
/// (k x k, row-major, penalties included) and `b` (l1 subtracted), in the orders `perms`
/// (one per sweep; scikit-learn's arithmetic for each coordinate). Returns the first sweep's
/// violation (Σ |projected gradient|) and stops early once a sweep changes nothing or the
/// violation falls below `tol` times the first.
fn cd_sweeps<T: Float>(f: &mut [T], gram: &[T], b: &[T], perms: &[Vec<usize>], tol: f64) -> f64 {
    let k = f.len();
    let mut first = None;
    for perm in perms {
        let mut viol = 0.0f64;
        for &t in perm {
            let row = &gram[t * k..(t + 1) * k];
            let mut grad = -b[t];
            for q in 0..k {
                grad += row[q] * f[q];
            }
            let pg = if f[t] == T::ZERO {
                grad.min(T::ZERO)
            } else {
                grad
            };
            viol += pg.abs().to_f64();
            let hess = row[t];
            if hess != T::ZERO {
                f[t] = (f[t] - grad / hess).max(T::ZERO);
            }
        }
        let v0 = *first.get_or_insert(viol);
        if viol == 0.0 || viol <= tol * v0 {
            break;
        }
    }
    first.unwrap_or(0.0)
}

/// One weighted coordinate-descent half-step on the columns of `f` (k x N) with `g` fixed:
/// each column's exact Gram `Σ_j M_cj g_j g_jᵀ + l2·I` and right side `Σ_j M_cj X_cj g_j − l1`,
/// then the sweeps. Returns the sum over columns (in order) of the first sweep's violation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cd_half_step<T: Float>(
    f: &mut [T],
    g: MatRef<'_, T>,
    side: Side<'_, T>,
    p: Pen<T>,
    perms: &[Vec<usize>],
    tol: f64,
    on_w: bool,
    work: &mut Work<T>,
) -> f64 {
    let (k, mg) = g.shape();
    let np = k * (k + 1) / 2;
    let nf = f.len() / k;
    // Dense weights: the Grams of a block come from one product with the pair matrix P
    // (M x k(k+1)/2), formed once per half-step when the buffer for it exists.
    let use_pairs = matches!(side, Side::Dense { .. }) && !work.pairs.is_empty();
    if use_pairs {
        let mut pm = MatMut::from_column_major_slice_mut(&mut work.pairs[..mg * np], mg, np);
        for s in 0..k {
            for t in s..k {
                let mut pc = pm.rb_mut().col_mut(packed(s, t, k));
                for j in 0..mg {
                    pc[j] = g[(s, j)] * g[(t, j)];
                }
            }
        }
    }
    let pairs = MatRef::from_column_major_slice(
        &work.pairs[..if use_pairs { mg * np } else { 0 }],
        if use_pairs { mg } else { 0 },
        np,
    );
    let plan = if on_w { &work.plan_w } else { &work.plan_h };
    let fm = MatMut::from_column_major_slice_mut(f, k, nf);
    let viol = &mut work.viol[..nf];
    let run = |(Cols(fm), vi): (Cols<'_, T>, &mut [f64]),
               s: &mut Scratch<T>,
               range: core::ops::Range<usize>| {
        partition::for_each_piece(
            (Cols(fm), vi),
            &plan.pieces,
            range,
            |(Cols(mut fb), vb), cols| {
                let (c0, nb) = (cols.start, cols.len());
                let (grams, rhs) = (&mut s.grams[..nb * np], &mut s.rhs[..nb * k]);
                match side {
                    Side::Dense { wt, wx } => {
                        let bm = MatMut::from_column_major_slice_mut(&mut *rhs, k, nb);
                        gemm(
                            bm,
                            Accum::Replace,
                            g,
                            wx.subrows(c0, nb).transpose(),
                            T::ONE,
                            Par::Seq,
                        );
                        if use_pairs {
                            let gm = MatMut::from_column_major_slice_mut(&mut *grams, np, nb);
                            gemm(
                                gm,
                                Accum::Replace,
                                pairs.transpose(),
                                wt.subrows(c0, nb).transpose(),
                                T::ONE,
                                Par::Seq,
                            );
                        } else {
                            grams.fill(T::ZERO);
                            for c in 0..nb {
                                let gr = &mut grams[c * np..(c + 1) * np];
                                for j in 0..mg {
                                    let v = wt[(c0 + c, j)];
                                    if v > T::ZERO {
                                        rank_one(gr, v, col(g, j));
                                    }
                                }
                            }
                        }
                    }
                    Side::Pattern { ptr, idx, wt, x } => {
                        rhs.fill(T::ZERO);
                        for c in 0..nb {
                            let br = &mut rhs[c * k..(c + 1) * k];
                            let (e0, e1) = (ptr[c0 + c], ptr[c0 + c + 1]);
                            let z = e1 - e0;
                            // The column's observed g_j, scaled by √w, gathered into a k x z
                            // panel: its Gram is then one GEMM (A·Aᵀ) instead of z rank-one
                            // updates of a packed triangle, which do not vectorise.
                            let a = &mut s.gather[..k * z];
                            for (q, e) in (e0..e1).enumerate() {
                                let gj = col(g, idx[e] as usize);
                                let r = wt[e].sqrt();
                                let wx = wt[e] * x[e];
                                for t in 0..k {
                                    a[q * k + t] = r * gj[t];
                                    br[t] += wx * gj[t];
                                }
                            }
                            let am = MatRef::from_column_major_slice(&*a, k, z);
                            let mut gm =
                                MatMut::from_column_major_slice_mut(&mut s.full[..k * k], k, k);
                            gemm(
                                gm.rb_mut(),
                                Accum::Replace,
                                am,
                                am.transpose(),
                                T::ONE,
                                Par::Seq,
                            );
                            let gr = &mut grams[c * np..(c + 1) * np];
                            for t in 0..k {
                                for s_ in 0..=t {
                                    gr[packed(s_, t, k)] = gm[(s_, t)];
                                }
                            }
                        }
                    }
                }
                let full = &mut s.full[..k * k];
                for c in 0..nb {
                    let gp = &grams[c * np..(c + 1) * np];
                    for s_ in 0..k {
                        for t in s_..k {
                            let v = gp[packed(s_, t, k)];
                            full[s_ * k + t] = v;
                            full[t * k + s_] = v;
                        }
                        full[s_ * k + s_] += p.l2;
                    }
                    let br = &mut rhs[c * k..(c + 1) * k];
                    for v in br.iter_mut() {
                        *v -= p.l1;
                    }
                    vb[c] = cd_sweeps(col_mut(fb.rb_mut(), c), full, br, perms, tol);
                }
            },
        );
    };
    partition::run_groups(
        (Cols(fm), &mut *viol),
        &plan.groups,
        &mut work.scratch,
        &run,
    );
    viol.iter().sum()
}

/// `gram += v · g gᵀ` on the packed upper triangle.
#[inline(always)]
fn rank_one<T: Float>(gram: &mut [T], v: T, g: &[T]) {
    let k = g.len();
    let mut o = 0;
    for s in 0..k {
        let a = v * g[s];
        for t in s..k {
            gram[o + t - s] += a * g[t];
        }
        o += k - s;
    }
}

/// What both weighted solvers keep: Wᵀ and H as contiguous k x N buffers.
struct State<T> {
    k: usize,
    n: usize,
    m: usize,
    /// Wᵀ (k x n, column-major: row i of W is `wt[i*k..(i+1)*k]`).
    wt: Vec<T>,
    /// H (k x m, column-major).
    h: Vec<T>,
    eval: EvalScratch<T>,
}

impl<T: Float> State<T> {
    fn new(
        w: Mat<T>,
        h: Mat<T>,
        obs: &Observed<T>,
        par: Par,
        warnings: &mut Vec<FitWarning>,
    ) -> Self {
        let (n, k) = w.shape();
        let m = h.ncols();
        let mut wt = vec![T::ZERO; k * n];
        for i in 0..n {
            for t in 0..k {
                wt[i * k + t] = w[(i, t)];
            }
        }
        let mut hv = vec![T::ZERO; k * m];
        for j in 0..m {
            for t in 0..k {
                hv[j * k + t] = h[(t, j)];
            }
        }
        // A row (column) with no observed entry carries no information: its factor is zero,
        // not whatever the start put there.
        for &i in obs.empty_rows() {
            wt[i * k..(i + 1) * k].fill(T::ZERO);
        }
        for &j in obs.empty_cols() {
            hv[j * k..(j + 1) * k].fill(T::ZERO);
        }
        if !obs.empty_rows().is_empty() || !obs.empty_cols().is_empty() {
            warnings.push(FitWarning::Unobserved {
                rows: obs.empty_rows().to_vec(),
                cols: obs.empty_cols().to_vec(),
            });
        }
        State {
            k,
            n,
            m,
            wt,
            h: hv,
            eval: EvalScratch::new(obs, par),
        }
    }

    fn w(&self) -> MatRef<'_, T> {
        MatRef::from_column_major_slice(&self.wt, self.k, self.n).transpose()
    }
    fn wt_ref(&self) -> MatRef<'_, T> {
        MatRef::from_column_major_slice(&self.wt, self.k, self.n)
    }
    fn h(&self) -> MatRef<'_, T> {
        MatRef::from_column_major_slice(&self.h, self.k, self.m)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        ensure_finite("W", self.wt_ref(), iter)?;
        ensure_finite("H", self.h(), iter)
    }

    fn divergence(&mut self, pb: &Problem<'_, T>) -> Result<f64, NmfError> {
        let obs = pb.obs.expect("weighted solvers run with weights");
        let w = MatRef::from_column_major_slice(&self.wt, self.k, self.n).transpose();
        let h = MatRef::from_column_major_slice(&self.h, self.k, self.m);
        Ok(obs.divergence_with(&mut self.eval, w, h, pb.c.loss.beta())?)
    }

    fn objective(&mut self, pb: &Problem<'_, T>) -> Result<f64, NmfError> {
        let d = self.divergence(pb)?;
        Ok(d + loss::penalty_value(self.w(), self.h(), &pb.pen))
    }

    fn error(&mut self, pb: &Problem<'_, T>) -> Result<f64, NmfError> {
        Ok((2.0 * self.divergence(pb)?.max(0.0)).sqrt())
    }

    fn into_factors(self) -> (Mat<T>, Mat<T>) {
        (mat::copy(self.w()), mat::copy(self.h()))
    }
}

/// The start from X with its unobserved entries zeroed (an SVD start never sees held-out
/// values; a random start is scaled by that matrix's mean).
fn weighted_initial<T: Float>(pb: &Problem<'_, T>) -> Result<Factors<T>, NmfError> {
    let c = pb.c;
    let obs = pb.obs.expect("weighted solvers run with weights");
    let filled = obs.filled();
    Ok(initialize(
        filled.as_data_ref(),
        c.n_components,
        &c.init,
        c.seed,
        c.compat,
        c.par,
    )?)
}

/// The transform entry point of the trait is not used with weights (the weighted transform
/// takes the observed entries, not a `DataRef`); see [`solve_w_weighted`].
fn no_plain_transform() -> NmfError {
    nmf_core::CoreError::Unsupported {
        operation: "a transform without the observed entries",
        kind: "weighted",
    }
    .into()
}

/// Weighted multiplicative updates (every β): W then H, WH recomputed between the half-steps,
/// scikit-learn's every-10-iterations error rule on the weighted error.
pub(crate) struct WeightedMu<T: Float> {
    s: State<T>,
    work: Work<T>,
    e0: f64,
    prev_err: f64,
}

impl<T: Float> Solver<T> for WeightedMu<T> {
    fn initial(pb: &Problem<'_, T>) -> Result<Factors<T>, NmfError> {
        weighted_initial(pb)
    }

    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        let mut zeros = 0;
        w.as_ref().for_each(|&v| zeros += usize::from(v == T::ZERO));
        h.as_ref().for_each(|&v| zeros += usize::from(v == T::ZERO));
        if zeros > 0 {
            warnings.push(FitWarning::MuZerosInInit { zeros });
        }
        let obs = pb.obs.expect("weighted solvers run with weights");
        let s = State::new(w, h, obs, pb.par(), warnings);
        Ok(WeightedMu {
            work: Work::new(obs, s.k, Method::Mu, pb.par()),
            s,
            e0: 0.0,
            prev_err: 0.0,
        })
    }

    fn start(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        if pb.c.tol <= 0.0 {
            return Ok(None);
        }
        self.e0 = self.s.error(pb)?;
        self.prev_err = self.e0;
        Ok((self.e0 == 0.0).then_some(StopReason::PerfectFit))
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        let obs = pb.obs.expect("weighted solvers run with weights");
        let beta = pb.c.loss.beta();
        let s = &mut self.s;
        let (k, m) = (s.k, s.m);
        let h = MatRef::from_column_major_slice(&s.h, k, m);
        let work = &mut self.work;
        mu_half_step(
            &mut s.wt,
            h,
            Side::of(obs, true),
            beta,
            Pen::w(&pb.pen),
            beta < 1.0,
            true,
            work,
        );
        let wt = MatRef::from_column_major_slice(&s.wt, k, s.n);
        mu_half_step(
            &mut s.h,
            wt,
            Side::of(obs, false),
            beta,
            Pen::h(&pb.pen),
            beta <= 1.0,
            false,
            work,
        );
        Ok(None)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        self.s.check_finite(iter)
    }

    fn objective(&mut self, pb: &Problem<'_, T>, _after_step: bool) -> Result<f64, NmfError> {
        self.s.objective(pb)
    }

    fn converged(
        &mut self,
        pb: &Problem<'_, T>,
        iter: usize,
    ) -> Result<Option<StopReason>, NmfError> {
        if pb.c.tol <= 0.0 || !iter.is_multiple_of(10) {
            return Ok(None);
        }
        let e = self.s.error(pb)?;
        Ok(error_rule(&mut self.prev_err, self.e0, e, pb.c.tol))
    }

    fn into_factors(self, _pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        Ok(self.s.into_factors())
    }

    fn solve_w(
        _c: &NmfParams<T>,
        _h: MatRef<'_, T>,
        _x: nmf_core::DataRef<'_, T>,
        _pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        Err(no_plain_transform())
    }
}

/// Weighted coordinate descent (exact per row, β = 2): scikit-learn's cd arithmetic per
/// coordinate with each row's own Gram, and its violation-based stopping rule.
pub(crate) struct WeightedCd<T: Float> {
    s: State<T>,
    rng: Option<Box<RandomState>>,
    perms: Vec<Vec<usize>>,
    work: Work<T>,
    v_init: Option<f64>,
    v_last: f64,
}

impl<T: Float> WeightedCd<T> {
    /// The coordinate orders of this half-step's sweeps (fixed, or drawn like cd's shuffle).
    fn draw(&mut self) {
        for p in &mut self.perms {
            match self.rng.as_deref_mut() {
                Some(rng) => rng.permutation_into(p),
                None => p.iter_mut().enumerate().for_each(|(i, v)| *v = i),
            }
        }
    }
}

impl<T: Float> Solver<T> for WeightedCd<T> {
    fn initial(pb: &Problem<'_, T>) -> Result<Factors<T>, NmfError> {
        weighted_initial(pb)
    }

    fn new(
        pb: &Problem<'_, T>,
        w: Mat<T>,
        h: Mat<T>,
        warnings: &mut Vec<FitWarning>,
    ) -> Result<Self, NmfError> {
        let obs = pb.obs.expect("weighted solvers run with weights");
        let c = pb.c;
        let k = c.n_components;
        let s = State::new(w, h, obs, c.par, warnings);
        Ok(WeightedCd {
            s,
            rng: crate::cd::shuffle_rng(c.shuffle, c.seed, c.compat),
            perms: vec![(0..k).collect(); c.inner_sweeps],
            work: Work::new(obs, k, Method::Cd, c.par),
            v_init: None,
            v_last: 0.0,
        })
    }

    fn step(&mut self, pb: &Problem<'_, T>) -> Result<Option<StopReason>, NmfError> {
        let obs = pb.obs.expect("weighted solvers run with weights");
        let (k, n, m) = (self.s.k, self.s.n, self.s.m);
        self.draw();
        let h = MatRef::from_column_major_slice(&self.s.h, k, m);
        // Inner sweeps run to the end (tol 0), as the unweighted cd's do.
        let mut v = cd_half_step(
            &mut self.s.wt,
            h,
            Side::of(obs, true),
            Pen::w(&pb.pen),
            &self.perms,
            0.0,
            true,
            &mut self.work,
        );
        self.draw();
        let wt = MatRef::from_column_major_slice(&self.s.wt, k, n);
        v += cd_half_step(
            &mut self.s.h,
            wt,
            Side::of(obs, false),
            Pen::h(&pb.pen),
            &self.perms,
            0.0,
            false,
            &mut self.work,
        );
        self.v_last = v;
        Ok(None)
    }

    fn check_finite(&self, iter: usize) -> Result<(), NmfError> {
        self.s.check_finite(iter)
    }

    fn objective(&mut self, pb: &Problem<'_, T>, _after_step: bool) -> Result<f64, NmfError> {
        self.s.objective(pb)
    }

    fn converged(
        &mut self,
        pb: &Problem<'_, T>,
        _iter: usize,
    ) -> Result<Option<StopReason>, NmfError> {
        Ok(violation_rule(&mut self.v_init, self.v_last, pb.c.tol))
    }

    fn into_factors(self, _pb: &Problem<'_, T>) -> Result<(Mat<T>, Mat<T>), NmfError> {
        Ok(self.s.into_factors())
    }

    fn solve_w(
        _c: &NmfParams<T>,
        _h: MatRef<'_, T>,
        _x: nmf_core::DataRef<'_, T>,
        _pen: &Penalties,
    ) -> Result<Mat<T>, NmfError> {
        Err(no_plain_transform())
    }
}

/// W ≥ 0 for the observed entries `obs` of new rows with `h` fixed, by the configured solver:
/// cd solves each row's penalised weighted NNLS by sweeps from zero until its violation falls
/// below `tol` times its first (at most `max_iter` sweeps); mu runs W half-steps from
/// `sqrt(mean/k)` (mean over the observed entries) with scikit-learn's error rule.
///
/// # Errors
/// A solver other than cd and mu; a solve that overflows.
pub(crate) fn solve_w_weighted<T: Float>(
    c: &NmfParams<T>,
    h: MatRef<'_, T>,
    obs: &Observed<T>,
    pen: &Penalties,
) -> Result<Mat<T>, NmfError> {
    let (n, m) = obs.shape();
    let k = h.nrows();
    let hv: Vec<T> = (0..m)
        .flat_map(|j| (0..k).map(move |t| h[(t, j)]))
        .collect();
    let hm = MatRef::from_column_major_slice(&hv, k, m);
    let side = Side::of(obs, true);
    let pw = Pen::w(pen);
    let mut wt = vec![T::ZERO; k * n];
    match c.solver {
        crate::params::SolverKind::Cd => {
            let mut rng = crate::cd::shuffle_rng(c.shuffle, c.seed, c.compat);
            let mut perms = vec![(0..k).collect::<Vec<_>>(); c.max_iter];
            if let Some(r) = rng.as_deref_mut() {
                for p in &mut perms {
                    r.permutation_into(p);
                }
            }
            let mut work = Work::new(obs, k, Method::Cd, c.par);
            cd_half_step(&mut wt, hm, side, pw, &perms, c.tol, true, &mut work);
        }
        crate::params::SolverKind::Mu => {
            let beta = c.loss.beta();
            let avg = T::from_f64((obs.weighted_mean() / k as f64).sqrt());
            wt.fill(avg);
            for &i in obs.empty_rows() {
                wt[i * k..(i + 1) * k].fill(T::ZERO);
            }
            let err = |wt: &[T]| -> Result<f64, NmfError> {
                let w = MatRef::from_column_major_slice(wt, k, n).transpose();
                Ok((2.0 * obs.divergence(w, h, beta, c.par)?.max(0.0)).sqrt())
            };
            let e0 = if c.tol > 0.0 { err(&wt)? } else { 0.0 };
            let mut prev = e0;
            let mut work = Work::new(obs, k, Method::Mu, c.par);
            for it in 1..=c.max_iter {
                mu_half_step(&mut wt, hm, side, beta, pw, beta < 1.0, true, &mut work);
                if c.tol > 0.0 && it % 10 == 0 {
                    let e = err(&wt)?;
                    if e0 == 0.0 || (prev - e) / e0 < c.tol {
                        break;
                    }
                    prev = e;
                }
            }
        }
        other => {
            return Err(NmfError::WeightsUnsupported {
                solver: other.name(),
            });
        }
    }
    Ok(mat::copy(
        MatRef::from_column_major_slice(&wt, k, n).transpose(),
    ))
}
