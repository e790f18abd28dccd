//! The distributed fit: scikit-learn's cd (HALS) and mu (Frobenius, KL) on the 2-D grid.
//!
//! One iteration, W first as scikit-learn (Kannan, Ballard and Park, section 4): the pieces of H give `HHᵀ` and H's row
//! sums (one all-gather of small partials, summed by the fixed tree), the processor column
//! gathers `H_j`, every rank forms `X_ij·H_jᵀ`, the processor row exchanges the partials so
//! each rank holds its rows of `X·Hᵀ`, and each rank updates its own rows of W as the
//! single-process solver would (to rounding from k = 96 on AVX-512, where that one sums each
//! gradient in another order); then the mirror image for H. Stopping decisions come from
//! values every rank holds bit for bit, so no rank can leave the loop alone.

use core::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mpi::traits::Equivalence;
use nmf::faer::Mat;
use nmf::init::mt19937::RandomState;
use nmf::io::{NpyFloat, NpyRows};
use nmf::solvers::{RowSource, StopReason};
use nmf::{Compat, Float, Regularization, SKLEARN_EPS};

use crate::block::{Block, FileInfo, Scratch};
use crate::comm::{Counters, Grid, RankError, Scope, Traffic};
use crate::tree::{Leaves, combine, combine_all};

/// The element types a distributed fit runs in.
pub trait DistFloat: Float + NpyFloat + Equivalence + Default {}
impl DistFloat for f32 {}
impl DistFloat for f64 {}

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Coordinate descent (HALS), Frobenius loss.
    Cd,
    /// Multiplicative updates, Frobenius loss.
    MuFrobenius,
    /// Multiplicative updates, Kullback-Leibler divergence (β = 1).
    MuKl,
}

/// How the factors start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// scikit-learn's `init="random"`: `|N(0, 1)|·sqrt(mean(X)/k)` from the seeded stream (the
    /// library's `Init::Random` draws, so the same start as the single-process fit).
    Random,
    /// NNDSVD from a distributed randomized SVD (seeded); zeros stay zeros.
    Nndsvd,
    /// NNDSVD with its zeros filled with the mean of X (scikit-learn's `nndsvda`).
    NndsvdA,
    /// Given factors: `W0` (`n x k`) and `H0` (`k x m`) as `.npy`; each rank reads its pieces.
    Custom {
        /// W0.
        w0: PathBuf,
        /// H0.
        h0: PathBuf,
    },
}

/// Everything a distributed fit needs besides the data.
#[derive(Debug, Clone)]
pub struct DistConfig {
    /// Components.
    pub k: usize,
    /// Update rule.
    pub method: Method,
    /// Penalties (scaled by the data's shape as scikit-learn does).
    pub reg: Regularization,
    /// Iteration limit.
    pub max_iter: usize,
    /// scikit-learn's tolerance (cd: violation ratio; mu: error decrease per 10 iterations).
    pub tol: f64,
    /// Seed of the random start and of the cd shuffle.
    pub seed: u64,
    /// Random streams: scikit-learn's or the library's own.
    pub compat: Compat,
    /// The start.
    pub start: Start,
    /// cd: visit the coordinates in a seeded random order each sweep.
    pub shuffle: bool,
}

/// What every rank knows at the end, plus the gathered factors on rank 0.
#[derive(Debug, Clone)]
pub struct DistFit<T> {
    /// W (`n x k`) on rank 0 when gathered.
    pub w: Option<Mat<T>>,
    /// H (`k x m`) on rank 0 when gathered.
    pub h: Option<Mat<T>>,
    /// This rank's W rows and their global range (always kept).
    pub w_piece: (Range<usize>, Vec<T>),
    /// This rank's H columns as Hᵀ rows (`cols x k`) and their global range.
    pub ht_piece: (Range<usize>, Vec<T>),
    /// Iterations run.
    pub n_iter: usize,
    /// Why the loop stopped.
    pub stop: StopReason,
    /// scikit-learn's `reconstruction_err_` of the final factors.
    pub error: f64,
    /// Counters at the end of setup (reading, statistics, start), then after each iteration.
    pub traffic: Vec<Counters>,
    /// Seconds of compute (outside collectives) and in collectives, this rank, over the
    /// whole fit (reading the block excluded).
    pub seconds: (f64, f64),
    /// The same at the end of setup (statistics of X, the start), so that
    /// `(seconds − setup_seconds) / n_iter` is the cost of one iteration.
    pub setup_seconds: (f64, f64),
    /// The layout this rank used.
    pub layout: Layout,
    /// Stored entries of this rank's block.
    pub block_nnz: usize,
}

/// The shape of the problem and this rank's share of it.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Rows of X.
    pub n: usize,
    /// Columns of X.
    pub m: usize,
    /// Components.
    pub k: usize,
    /// Processor rows and columns.
    pub pr: usize,
    /// Processor columns.
    pub pc: usize,
    /// This rank's processor row and column.
    pub i: usize,
    /// This rank's processor column.
    pub j: usize,
    /// Row leaves.
    pub rl: Leaves,
    /// Column leaves.
    pub cl: Leaves,
}

impl Layout {
    /// The layout of an `n x m` problem on `grid`.
    ///
    /// # Errors
    /// A dimension too short to give every rank at least one leaf.
    pub fn new(n: usize, m: usize, k: usize, grid: &Grid) -> Result<Self, String> {
        let (rl, cl) = (Leaves::new(n), Leaves::new(m));
        let p = grid.size();
        for (what, l) in [("rows", &rl), ("columns", &cl)] {
            if l.count() < p {
                return Err(format!(
                    "X has {} {what}, cut into {} leaves of the fixed summation tree: fewer \
                     than the {p} ranks (use fewer ranks)",
                    l.len(),
                    l.count()
                ));
            }
        }
        let widest = (n.div_ceil(grid.pr).max(m.div_ceil(grid.pc)) + 1).saturating_mul(k.max(1));
        if widest > i32::MAX as usize {
            return Err(format!(
                "a block panel of {widest} values exceeds MPI's count limit (2^31 - 1); use more ranks"
            ));
        }
        Ok(Layout {
            n,
            m,
            k,
            pr: grid.pr,
            pc: grid.pc,
            i: grid.i,
            j: grid.j,
            rl,
            cl,
        })
    }

    fn p(&self) -> usize {
        self.pr * self.pc
    }

    /// Row leaves of this rank's block.
    pub fn block_row_leaves(&self) -> Range<usize> {
        self.rl.part(self.pr, self.i)
    }

    /// Column leaves of this rank's block.
    pub fn block_col_leaves(&self) -> Range<usize> {
        self.cl.part(self.pc, self.j)
    }

    /// Leaves of W piece `(i, jj)`: the `jj`-th of processor row `i`'s rows.
    pub fn w_piece_leaves(&self, i: usize, jj: usize) -> Range<usize> {
        self.rl.part(self.p(), i * self.pc + jj)
    }

    /// Leaves of H piece `(j, ii)`: the `ii`-th of processor column `j`'s columns.
    pub fn h_piece_leaves(&self, j: usize, ii: usize) -> Range<usize> {
        self.cl.part(self.p(), j * self.pr + ii)
    }

    /// Global rows of this rank's W piece.
    pub fn w_rows(&self) -> Range<usize> {
        self.rl.span(self.w_piece_leaves(self.i, self.j))
    }

    /// Global columns of this rank's H piece.
    pub fn h_cols(&self) -> Range<usize> {
        self.cl.span(self.h_piece_leaves(self.j, self.i))
    }

    /// Rows of each W piece of processor row `i`, in row-communicator order.
    pub fn w_piece_rows(&self) -> Vec<usize> {
        (0..self.pc)
            .map(|jj| self.rl.span(self.w_piece_leaves(self.i, jj)).len())
            .collect()
    }

    /// Columns of each H piece of processor column `j`, in column-communicator order.
    pub fn h_piece_cols(&self) -> Vec<usize> {
        (0..self.pr)
            .map(|ii| self.cl.span(self.h_piece_leaves(self.j, ii)).len())
            .collect()
    }
}

/// Extra scalars carried with each piece's Gram and sums.
const EXTRAS: usize = 3;
const X_VIOL: usize = 0;
const X_CROSS: usize = 1;
const X_BAD: usize = 2;

/// A factor's global statistics, identical on every rank.
#[derive(Debug, Clone)]
struct Stats<T> {
    /// `FᵀF` (k x k, row-major) of the factor (W: WᵀW; H: HHᵀ).
    gram: Vec<T>,
    /// Its sums per component (W: column sums; H: row sums), in f64.
    sums: Vec<f64>,
    /// The carried scalars: violation, cross term, non-finite count.
    extras: [f64; EXTRAS],
}

/// The per-rank state of the loop.
struct State<'a, T: DistFloat> {
    grid: &'a mut Grid,
    lay: Layout,
    x: Block<T>,
    cfg: &'a DistConfig,
    /// Own W rows (row-major, k wide) and own H columns as Hᵀ rows.
    w: Vec<T>,
    ht: Vec<T>,
    /// Processor row's W rows (`W_i`) and processor column's Hᵀ rows (`H_j`).
    wi: Vec<T>,
    htj: Vec<T>,
    /// Product partials and the reduced own slices.
    part: Vec<T>,
    recv: Vec<T>,
    own: Vec<T>,
    scratch: Scratch<T>,
    xx: f64,
    l1_w: T,
    l2_w: T,
    l1_h: T,
    l2_h: T,
    compute_start: Instant,
}

/// `(W_i H_j)[r, c]` from the gathered panels, summed over the components in order.
fn wh<T: Float>(wi: &[T], htj: &[T], k: usize, r: usize, c: usize) -> T {
    dot(&wi[r * k..(r + 1) * k], &htj[c * k..(c + 1) * k])
}

fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut s = T::ZERO;
    for (&x, &y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

impl<T: DistFloat> State<'_, T> {
    /// Gram, sums and extras of a factor piece (`f`: rows x k, row-major, over `leaves` of
    /// `tree`), `viol` and `cross` per leaf, completed across all ranks in piece order
    /// (`piece_of_rank` maps a world rank to its piece index).
    fn piece_stats(&mut self, on_w: bool, viol: &[f64], cross: &[f64]) -> Stats<T> {
        let k = self.lay.k;
        let len = k * k + k + EXTRAS;
        let (f, tree, leaves) = if on_w {
            (
                &self.w,
                &self.lay.rl,
                self.lay.w_piece_leaves(self.lay.i, self.lay.j),
            )
        } else {
            (
                &self.ht,
                &self.lay.cl,
                self.lay.h_piece_leaves(self.lay.j, self.lay.i),
            )
        };
        let first = tree.span(leaves.clone()).start;
        let nl = leaves.len();
        let mut buf = vec![0.0f64; nl * len];
        let mut g = vec![T::ZERO; k * k];
        let mut s = vec![T::ZERO; k];
        for (rel, l) in leaves.clone().enumerate() {
            g.fill(T::ZERO);
            s.fill(T::ZERO);
            let mut bad = 0usize;
            for r in tree.leaf(l) {
                let row = &f[(r - first) * k..(r - first + 1) * k];
                for a in 0..k {
                    let va = row[a];
                    s[a] += va;
                    bad += usize::from(!va.is_finite());
                    for b in 0..k {
                        g[a * k + b] += va * row[b];
                    }
                }
            }
            let out = &mut buf[rel * len..(rel + 1) * len];
            for (o, &v) in out.iter_mut().zip(g.iter().chain(&s)) {
                *o = v.to_f64();
            }
            out[k * k + k + X_VIOL] = viol.get(rel).copied().unwrap_or(0.0);
            out[k * k + k + X_CROSS] = cross.get(rel).copied().unwrap_or(0.0);
            out[k * k + k + X_BAD] = bad as f64;
        }
        let ordered = self.piece_reduce(on_w, buf, len);
        Stats {
            gram: ordered[..k * k].iter().map(|&v| T::from_f64(v)).collect(),
            sums: ordered[k * k..k * k + k].to_vec(),
            extras: [
                ordered[k * k + k + X_VIOL],
                ordered[k * k + k + X_CROSS],
                ordered[k * k + k + X_BAD],
            ],
        }
    }

    /// Per-leaf vectors (`len` each, one per leaf of this rank's W piece when `on_w`, else of
    /// its H piece, in leaf order) summed over all pieces of that factor along the tree:
    /// locally over the leaves, then across the ranks in piece order. Every rank gets the
    /// same bits.
    fn piece_reduce(&mut self, on_w: bool, mut buf: Vec<f64>, len: usize) -> Vec<f64> {
        let nl = buf.len() / len.max(1);
        let mut pos: Vec<usize> = (0..nl).collect();
        combine(&mut pos, &mut buf, len);
        buf.truncate(len);
        let p = self.grid.size();
        let mut all = Vec::new();
        self.pause();
        self.grid
            .all_gather(Scope::World, Traffic::Pieces, &buf, &vec![len; p], &mut all);
        self.resume();
        // World rank r = i·pc + j holds W piece r and H piece j·pr + i.
        let mut ordered = vec![0.0f64; p * len];
        for r in 0..p {
            let (i, j) = (r / self.lay.pc, r % self.lay.pc);
            let piece = if on_w { r } else { j * self.lay.pr + i };
            ordered[piece * len..(piece + 1) * len].copy_from_slice(&all[r * len..(r + 1) * len]);
        }
        combine_all(&mut ordered, len, p);
        ordered.truncate(len);
        ordered
    }

    fn pause(&mut self) {
        self.grid_compute_add();
    }

    fn resume(&mut self) {
        self.compute_start = Instant::now();
    }

    fn grid_compute_add(&mut self) {
        COMPUTE.with(|c| c.set(c.get() + self.compute_start.elapsed().as_secs_f64()));
    }

    /// Gathers `W_i` inside the processor row.
    fn gather_wi(&mut self) {
        let k = self.lay.k;
        let counts: Vec<usize> = self.lay.w_piece_rows().iter().map(|r| r * k).collect();
        let mut wi = std::mem::take(&mut self.wi);
        self.pause();
        self.grid
            .all_gather(Scope::Row, Traffic::GatherW, &self.w, &counts, &mut wi);
        self.resume();
        self.wi = wi;
    }

    /// Gathers `H_j` inside the processor column.
    fn gather_htj(&mut self) {
        let k = self.lay.k;
        let counts: Vec<usize> = self.lay.h_piece_cols().iter().map(|c| c * k).collect();
        let mut htj = std::mem::take(&mut self.htj);
        self.pause();
        self.grid
            .all_gather(Scope::Col, Traffic::GatherH, &self.ht, &counts, &mut htj);
        self.resume();
        self.htj = htj;
    }

    /// Sends each member its slice of `part` and sums the received slices in member order:
    /// the reduce-scatter, as an all-to-all plus the fixed tree. `lines[q]` is member `q`'s
    /// number of k-vectors.
    fn reduce_scatter(&mut self, scope: Scope, kind: Traffic, lines: &[usize], k: usize) {
        let me = if scope == Scope::Row {
            self.lay.j
        } else {
            self.lay.i
        };
        let counts: Vec<usize> = lines.iter().map(|l| l * k).collect();
        let recv_counts = vec![counts[me]; lines.len()];
        let mut recv = std::mem::take(&mut self.recv);
        self.pause();
        self.grid
            .all_to_all(scope, kind, &self.part, &counts, &recv_counts, &mut recv);
        self.resume();
        combine_all(&mut recv, counts[me], lines.len());
        self.own.clear();
        self.own.extend_from_slice(&recv[..counts[me]]);
        self.recv = recv;
    }

    /// Row-leaf partials of the block (`sums`) completed over the grid: `T_rows(T_cols(·))`.
    fn grid_sum(&mut self, kind: Traffic, parts: Vec<[f64; 2]>) -> [f64; 2] {
        let na = parts.len();
        let flat: Vec<f64> = parts.iter().flatten().copied().collect();
        let mut all = Vec::new();
        let (pr, pc) = (self.lay.pr, self.lay.pc);
        self.pause();
        self.grid
            .all_gather(Scope::Row, kind, &flat, &vec![2 * na; pc], &mut all);
        self.resume();
        // For each row leaf, the column tree's top over the processor row's members.
        let mut per_leaf = vec![0.0f64; 2 * na];
        let mut tmp = vec![0.0f64; 2 * pc];
        for a in 0..na {
            for q in 0..pc {
                tmp[2 * q..2 * q + 2]
                    .copy_from_slice(&all[q * 2 * na + 2 * a..q * 2 * na + 2 * a + 2]);
            }
            combine_all(&mut tmp, 2, pc);
            per_leaf[2 * a..2 * a + 2].copy_from_slice(&tmp[..2]);
        }
        combine_all(&mut per_leaf, 2, na);
        let mut top = Vec::new();
        self.pause();
        self.grid
            .all_gather(Scope::Col, kind, &per_leaf[..2], &vec![2; pr], &mut top);
        self.resume();
        combine_all(&mut top, 2, pr);
        [top[0], top[1]]
    }

    /// The sampled `(W_i H_j)[r, c]`.
    fn wh(&self, r: usize, c: usize) -> T {
        wh(&self.wi, &self.htj, self.lay.k, r, c)
    }

    /// scikit-learn's `reconstruction_err_` of the current factors from a pass over the block
    /// (needs current `W_i`, `H_j` and both factors' statistics).
    fn error(&mut self, kind: Traffic, sw: &Stats<T>, sh: &Stats<T>) -> f64 {
        let k = self.lay.k;
        if self.cfg.method == Method::MuKl {
            let parts = self.x.sums(&|r, c, x| {
                let xv = x.to_f64();
                if xv > SKLEARN_EPS {
                    let d = xv / self.wh(r, c).to_f64().max(SKLEARN_EPS);
                    [xv * d.ln(), xv]
                } else {
                    [0.0, 0.0]
                }
            });
            let [xlog, xs] = self.grid_sum(kind, parts);
            let mut sum_wh = 0.0;
            for t in 0..k {
                sum_wh += sw.sums[t] * sh.sums[t];
            }
            (2.0 * (xlog + sum_wh - xs).max(0.0)).sqrt()
        } else {
            let parts = self
                .x
                .sums(&|r, c, x| [x.to_f64() * self.wh(r, c).to_f64(), 0.0]);
            let [cross, _] = self.grid_sum(kind, parts);
            (self.xx - 2.0 * cross + frob_inner(&sw.gram, &sh.gram))
                .max(0.0)
                .sqrt()
        }
    }
}

thread_local! {
    static COMPUTE: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

fn frob_inner<T: Float>(a: &[T], b: &[T]) -> f64 {
    let mut s = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        s += x.to_f64() * y.to_f64();
    }
    s
}

/// One coordinate-descent sweep over `f`'s rows (row-major, k wide) in leaves `leaf_rows`
/// (local row ranges), with `g = Gram + l2·I` and `r = product`, subtracting `l1` from `r` as
/// it is read. The gradient of each coordinate is summed over q in increasing order, as
/// scikit-learn's Cython loop does (and the single-process solver below 96 components; from
/// there, on AVX-512, it sums the same gradient in another order: equal to rounding). Returns each leaf's
/// violation (per row over the coordinates, then over the leaf's rows in order).
fn sweep<T: Float>(
    f: &mut [T],
    g: &[T],
    r: &[T],
    l1: T,
    k: usize,
    perm: &[usize],
    leaf_rows: &[Range<usize>],
) -> Vec<f64> {
    let mut out = Vec::with_capacity(leaf_rows.len());
    let mut viol = Vec::new();
    for rows in leaf_rows {
        viol.clear();
        viol.resize(rows.len(), 0.0f64);
        for &t in perm {
            let hess = g[t * k + t];
            for (vi, row) in viol.iter_mut().zip(rows.clone()) {
                let fr = &mut f[row * k..(row + 1) * k];
                let mut grad = -(r[row * k + t] - l1);
                for q in 0..k {
                    grad += g[t * k + q] * fr[q];
                }
                let wv = fr[t];
                let pg = if wv == T::ZERO {
                    grad.min(T::ZERO)
                } else {
                    grad
                };
                *vi += pg.abs().to_f64();
                if hess != T::ZERO {
                    fr[t] = (wv - grad / hess).max(T::ZERO);
                }
            }
        }
        out.push(viol.iter().sum());
    }
    out
}

/// The multiplicative update of `f`'s rows: `f ← f·num/(den + l1 + l2·f)` with a zero
/// denominator replaced by EPS (scikit-learn's order of operations); `den(row, t)` gives the
/// unpenalised denominator.
fn mu_apply<T: Float>(
    f: &mut [T],
    num: &[T],
    k: usize,
    l1: T,
    l2: T,
    den: impl Fn(usize, usize) -> T,
) {
    let eps = T::from_f64(SKLEARN_EPS);
    for row in 0..f.len() / k {
        for t in 0..k {
            let v = f[row * k + t];
            let mut d = den(row, t) + l1 + l2 * v;
            if d == T::ZERO {
                d = eps;
            }
            f[row * k + t] = v * (num[row * k + t] / d);
        }
    }
}

/// Local row ranges of the leaves of a piece.
fn leaf_rows(tree: &Leaves, leaves: Range<usize>) -> Vec<Range<usize>> {
    let first = tree.span(leaves.clone()).start;
    leaves
        .map(|l| {
            let r = tree.leaf(l);
            r.start - first..r.end - first
        })
        .collect()
}

/// Reads this rank's pieces of the custom start.
fn read_custom<T: DistFloat>(
    w0: &Path,
    h0: &Path,
    lay: &Layout,
) -> Result<(Vec<T>, Vec<T>), String> {
    let k = lay.k;
    let mut ws = NpyRows::<T>::open(w0).map_err(|e| e.to_string())?;
    let mut hs = NpyRows::<T>::open(h0).map_err(|e| e.to_string())?;
    if ws.shape() != (lay.n, k) {
        return Err(format!(
            "{}: W0 is {:?}, expected ({}, {k})",
            w0.display(),
            ws.shape(),
            lay.n
        ));
    }
    if hs.shape() != (k, lay.m) {
        return Err(format!(
            "{}: H0 is {:?}, expected ({k}, {})",
            h0.display(),
            hs.shape(),
            lay.m
        ));
    }
    let check = |v: T, what: &str, r: usize, c: usize, path: &Path| {
        if v.is_finite() && v >= T::ZERO {
            Ok(v)
        } else {
            Err(format!(
                "{}: {what}[{r}, {c}] = {v} is not a finite nonnegative number",
                path.display()
            ))
        }
    };
    let rows = lay.w_rows();
    let mut w = Vec::with_capacity(rows.len() * k);
    let block = ws.rows(rows.clone()).map_err(|e| e.to_string())?;
    let d = block.as_dense().ok_or("W0 is not dense")?;
    for r in 0..rows.len() {
        for t in 0..k {
            w.push(check(d[(r, t)], "W0", rows.start + r, t, w0)?);
        }
    }
    let cols = lay.h_cols();
    let block = hs.rows(0..k).map_err(|e| e.to_string())?;
    let d = block.as_dense().ok_or("H0 is not dense")?;
    let mut ht = Vec::with_capacity(cols.len() * k);
    for c in cols.clone() {
        for t in 0..k {
            ht.push(check(d[(t, c)], "H0", t, c, h0)?);
        }
    }
    Ok((w, ht))
}

/// Fits on every rank of `grid`; every rank returns the same outcome (the same error when any
/// rank fails). `progress(iter, error)` is called on rank 0 at each stopping check.
///
/// # Errors
/// [`RankError`]: the lowest failing rank's message (unreadable file, bad entry in its block,
/// bad start, non-finite factors, ...).
pub fn fit<T: DistFloat>(
    grid: &mut Grid,
    data: &Path,
    info: FileInfo,
    cfg: &DistConfig,
    mut progress: impl FnMut(usize, Option<f64>),
) -> Result<DistFit<T>, RankError> {
    let t0 = Instant::now();
    COMPUTE.with(|c| c.set(0.0));
    let (n, m) = info.shape;
    let k = cfg.k;
    let checked = (|| {
        if k == 0 {
            return Err("n_components must be >= 1".to_string());
        }
        cfg.reg.validate().map_err(|e| e.to_string())?;
        if cfg.tol.is_nan() || cfg.tol < 0.0 {
            return Err(format!("tol = {}: expected a number >= 0", cfg.tol));
        }
        Layout::new(n, m, k, grid)
    })();
    let lay = grid.agree(checked)?;
    let block = Block::<T>::read(
        data,
        info,
        (&lay.rl, lay.block_row_leaves()),
        (&lay.cl, lay.block_col_leaves()),
    )
    .map_err(|e| format!("block ({}, {}): {e}", lay.i, lay.j));
    let x = grid.agree(block)?;
    let pen = cfg.reg.scaled(n, m);
    let mut st = State {
        grid,
        x,
        cfg,
        w: Vec::new(),
        ht: Vec::new(),
        wi: Vec::new(),
        htj: Vec::new(),
        part: Vec::new(),
        recv: Vec::new(),
        own: Vec::new(),
        scratch: Scratch::default(),
        xx: 0.0,
        l1_w: T::from_f64(pen.l1_w),
        l2_w: T::from_f64(pen.l2_w),
        l1_h: T::from_f64(pen.l1_h),
        l2_h: T::from_f64(pen.l2_h),
        compute_start: Instant::now(),
        lay,
    };
    // ‖X‖² and ΣX once.
    let parts = st.x.sums(&|_, _, v| {
        let v = v.to_f64();
        [v * v, v]
    });
    let [xx, xsum] = st.grid_sum(Traffic::Other, parts);
    st.xx = xx;
    let start = match &cfg.start {
        Start::Custom { w0, h0 } => read_custom::<T>(w0, h0, &st.lay),
        Start::Nndsvd | Start::NndsvdA => Ok((Vec::new(), Vec::new())),
        Start::Random => {
            let mean = T::from_f64(xsum / (n as f64 * m as f64));
            nmf::init::random_from_mean(mean, (n, m), k, cfg.seed, cfg.compat)
                .map_err(|e| e.to_string())
                .map(|f| {
                    let rows = st.lay.w_rows();
                    let cols = st.lay.h_cols();
                    let w = rows
                        .flat_map(|r| (0..k).map(move |t| (r, t)))
                        .map(|(r, t)| f.w[(r, t)])
                        .collect();
                    let ht = cols
                        .flat_map(|c| (0..k).map(move |t| (c, t)))
                        .map(|(c, t)| f.h[(t, c)])
                        .collect();
                    (w, ht)
                })
        }
    };
    let start = match &cfg.start {
        Start::Nndsvd | Start::NndsvdA => {
            let fill =
                (cfg.start == Start::NndsvdA).then(|| T::from_f64(xsum / (n as f64 * m as f64)));
            Ok(st.nndsvd(cfg.seed, fill))
        }
        _ => start,
    };
    let (w, ht) = st.grid.agree(start)?;
    st.w = w;
    st.ht = ht;

    let is_kl = cfg.method == Method::MuKl;
    let is_mu = cfg.method != Method::Cd;
    let mut rng = (cfg.method == Method::Cd && cfg.shuffle).then(|| {
        let s = match cfg.compat {
            Compat::Sklearn => cfg.seed as u32,
            Compat::Native => (cfg.seed ^ (cfg.seed >> 32)) as u32,
        };
        RandomState::new(s)
    });
    let mut perm: Vec<usize> = (0..k).collect();
    let w_leaves = leaf_rows(&st.lay.rl, st.lay.w_piece_leaves(st.lay.i, st.lay.j));
    let h_leaves = leaf_rows(&st.lay.cl, st.lay.h_piece_leaves(st.lay.j, st.lay.i));
    let (w_rows, h_cols) = (st.lay.w_piece_rows(), st.lay.h_piece_cols());
    let (ni, mj) = (st.x.nrows(), st.x.ncols());

    // The W side's statistics and W_i are always current from here on.
    let mut sw = st.piece_stats(true, &[], &[]);
    st.gather_wi();
    let mut traffic = vec![st.grid.counters()];
    st.pause();
    st.resume();
    let setup_seconds = (COMPUTE.with(|c| c.get()), st.grid.counters().comm_seconds);
    let mut iter = 0usize;
    let (mut v0, mut e0, mut prev_err) = (None::<f64>, 0.0, 0.0);
    let mut v_w = 0.0;
    // The last H sweep's violation and cross term per leaf, reduced with H's statistics.
    let mut carry: (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let (stop, error) = loop {
        // Start of an iteration (or the end): H's statistics, carrying the last H sweep's
        // violation and cross term, and H_j.
        let sh = st.piece_stats(false, &carry.0, &carry.1);
        if sw.extras[X_BAD] > 0.0 || sh.extras[X_BAD] > 0.0 {
            let what = if sw.extras[X_BAD] > 0.0 { "W" } else { "H" };
            return Err(RankError {
                rank: 0,
                failed: st.grid.size(),
                message: format!("{what} has non-finite entries after iteration {iter} (diverged)"),
            });
        }
        st.gather_htj();
        let mut verdict = None;
        if iter == 0 && is_mu && cfg.tol > 0.0 {
            e0 = st.error(Traffic::Loss, &sw, &sh);
            prev_err = e0;
            if e0 == 0.0 {
                verdict = Some(StopReason::PerfectFit);
            }
        }
        if iter > 0 && verdict.is_none() {
            if is_mu {
                if cfg.tol > 0.0 && iter.is_multiple_of(10) {
                    let e = if is_kl {
                        st.error(Traffic::Loss, &sw, &sh)
                    } else {
                        let d = st.xx - 2.0 * sh.extras[X_CROSS] + frob_inner(&sw.gram, &sh.gram);
                        d.max(0.0).sqrt()
                    };
                    if st.grid.rank == 0 {
                        progress(iter, Some(e));
                    }
                    if (prev_err - e) / e0 < cfg.tol {
                        verdict = Some(StopReason::Converged);
                    } else {
                        prev_err = e;
                    }
                }
            } else {
                let v = v_w + sh.extras[X_VIOL];
                let first = *v0.get_or_insert(v);
                if st.grid.rank == 0 {
                    progress(iter, None);
                }
                if first == 0.0 {
                    verdict = Some(StopReason::NoViolation);
                } else if v / first <= cfg.tol {
                    verdict = Some(StopReason::Converged);
                }
            }
        }
        if verdict.is_none() && iter == cfg.max_iter {
            verdict = Some(StopReason::MaxIter);
        }
        if let Some(v) = verdict {
            let error = st.error(Traffic::Other, &sw, &sh);
            traffic.push(st.grid.counters());
            break (v, error);
        }
        iter += 1;

        // W half-step.
        st.part.clear();
        st.part.resize(ni * k, T::ZERO);
        let mut part = std::mem::take(&mut st.part);
        if is_kl {
            let eps = T::from_f64(SKLEARN_EPS);
            let (wi, htj) = (&st.wi, &st.htj);
            let f = |r: usize, c: usize, x: T| {
                let mut y = wh(wi, htj, k, r, c);
                if y < eps {
                    y = eps;
                }
                x / y
            };
            st.x.times_ht(&st.htj, k, &mut part, &f, &mut st.scratch);
        } else {
            st.x.times_ht(&st.htj, k, &mut part, &|_, _, x| x, &mut st.scratch);
        }
        st.part = part;
        st.reduce_scatter(Scope::Row, Traffic::ReduceW, &w_rows, k);
        let mut w = std::mem::take(&mut st.w);
        match cfg.method {
            Method::Cd => {
                let mut g = sh.gram.clone();
                for t in 0..k {
                    g[t * k + t] += st.l2_w;
                }
                if let Some(r) = rng.as_mut() {
                    r.permutation_into(&mut perm);
                }
                let viol = sweep(&mut w, &g, &st.own, st.l1_w, k, &perm, &w_leaves);
                st.w = w;
                sw = st.piece_stats(true, &viol, &[]);
            }
            Method::MuFrobenius => {
                let g = &sh.gram;
                let old = w.clone();
                mu_apply(&mut w, &st.own, k, st.l1_w, st.l2_w, |row, t| {
                    let mut d = T::ZERO;
                    for q in 0..k {
                        d += old[row * k + q] * g[q * k + t];
                    }
                    d
                });
                st.w = w;
                sw = st.piece_stats(true, &[], &[]);
            }
            Method::MuKl => {
                let sums: Vec<T> = sh.sums.iter().map(|&v| T::from_f64(v)).collect();
                mu_apply(&mut w, &st.own, k, st.l1_w, st.l2_w, |_, t| sums[t]);
                st.w = w;
                sw = st.piece_stats(true, &[], &[]);
            }
        }
        v_w = sw.extras[X_VIOL];
        st.gather_wi();

        // H half-step.
        st.part.clear();
        st.part.resize(mj * k, T::ZERO);
        let mut part = std::mem::take(&mut st.part);
        if is_kl {
            let eps = T::from_f64(SKLEARN_EPS);
            let (wi, htj) = (&st.wi, &st.htj);
            let f = |r: usize, c: usize, x: T| {
                let mut y = wh(wi, htj, k, r, c);
                if y < eps {
                    y = eps;
                }
                x / y
            };
            st.x.wt_times(&st.wi, k, &mut part, &f, &mut st.scratch);
        } else {
            st.x.wt_times(&st.wi, k, &mut part, &|_, _, x| x, &mut st.scratch);
        }
        st.part = part;
        st.reduce_scatter(Scope::Col, Traffic::ReduceH, &h_cols, k);
        let mut ht = std::mem::take(&mut st.ht);
        let mut viol = Vec::new();
        match cfg.method {
            Method::Cd => {
                let mut g = sw.gram.clone();
                for t in 0..k {
                    g[t * k + t] += st.l2_h;
                }
                if let Some(r) = rng.as_mut() {
                    r.permutation_into(&mut perm);
                }
                viol = sweep(&mut ht, &g, &st.own, st.l1_h, k, &perm, &h_leaves);
            }
            Method::MuFrobenius => {
                let g = &sw.gram;
                let old = ht.clone();
                mu_apply(&mut ht, &st.own, k, st.l1_h, st.l2_h, |c, t| {
                    let mut d = T::ZERO;
                    for q in 0..k {
                        d += g[t * k + q] * old[c * k + q];
                    }
                    d
                });
            }
            Method::MuKl => {
                let sums: Vec<T> = sw.sums.iter().map(|&v| T::from_f64(v)).collect();
                mu_apply(&mut ht, &st.own, k, st.l1_h, st.l2_h, |_, t| sums[t]);
                let tiny = T::from_f64(f64::EPSILON);
                for v in ht.iter_mut() {
                    if *v < tiny {
                        *v = T::ZERO;
                    }
                }
            }
        }
        // ⟨(WᵀX)_cols, H_cols⟩ per leaf, for the Gram-identity error.
        let cross: Vec<f64> = h_leaves
            .iter()
            .map(|rows| {
                let mut s = 0.0;
                for c in rows.clone() {
                    for t in 0..k {
                        s += st.own[c * k + t].to_f64() * ht[c * k + t].to_f64();
                    }
                }
                s
            })
            .collect();
        st.ht = ht;
        carry = (viol, cross);
        traffic.push(st.grid.counters());
    };
    st.pause();
    let seconds = (COMPUTE.with(|c| c.get()), st.grid.counters().comm_seconds);
    let _ = t0;
    let (w, h) = gather_factors(&mut st);
    Ok(DistFit {
        w,
        h,
        w_piece: (st.lay.w_rows(), st.w),
        ht_piece: (st.lay.h_cols(), st.ht),
        n_iter: iter,
        stop,
        error,
        traffic,
        seconds,
        setup_seconds,
        block_nnz: st.x.nnz(),
        layout: st.lay,
    })
}

/// W and H assembled on rank 0 (`None` elsewhere).
fn gather_factors<T: DistFloat>(st: &mut State<'_, T>) -> (Option<Mat<T>>, Option<Mat<T>>) {
    let (k, p) = (st.lay.k, st.grid.size());
    let (pr, pc) = (st.lay.pr, st.lay.pc);
    let lay = &st.lay;
    let w_counts: Vec<usize> = (0..p)
        .map(|r| lay.rl.span(lay.rl.part(p, r)).len() * k)
        .collect();
    // World rank r = i·pc + j holds H piece j·pr + i.
    let h_range = |r: usize| lay.cl.span(lay.cl.part(p, (r % pc) * pr + r / pc));
    let h_counts: Vec<usize> = (0..p).map(|r| h_range(r).len() * k).collect();
    let h_ranges: Vec<Range<usize>> = (0..p).map(h_range).collect();
    let (mut wall, mut hall) = (Vec::new(), Vec::new());
    st.grid
        .gather_to_root(Traffic::Other, &st.w, &w_counts, &mut wall);
    st.grid
        .gather_to_root(Traffic::Other, &st.ht, &h_counts, &mut hall);
    if st.grid.rank != 0 {
        return (None, None);
    }
    let (n, m) = (st.lay.n, st.lay.m);
    let w = Mat::from_fn(n, k, |r, t| wall[r * k + t]);
    let mut h = Mat::<T>::zeros(k, m);
    let mut at = 0;
    for range in h_ranges {
        for c in range {
            for t in 0..k {
                h[(t, c)] = hall[at];
                at += 1;
            }
        }
    }
    (Some(w), Some(h))
}

/// A standard normal indexed by `(seed, index)`: a counter-based stream, so each rank draws
/// its own rows of the random test matrix without drawing anyone else's (splitmix64 twice,
/// then Box–Muller).
fn normal_at(seed: u64, index: u64) -> f64 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = mix(seed ^ mix(index.wrapping_mul(2)));
    let b = mix(seed ^ mix(index.wrapping_mul(2) + 1));
    let u1 = ((a >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = (b >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `G = RᵀR` for symmetric positive definite `g` (l x l, row-major); `None` when a pivot is
/// not positive.
fn cholesky(g: &[f64], l: usize) -> Option<Vec<f64>> {
    let mut r = vec![0.0; l * l];
    for j in 0..l {
        let mut d = g[j * l + j];
        for q in 0..j {
            d -= r[q * l + j] * r[q * l + j];
        }
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        r[j * l + j] = d;
        for c in j + 1..l {
            let mut v = g[j * l + c];
            for q in 0..j {
                v -= r[q * l + j] * r[q * l + c];
            }
            r[j * l + c] = v / d;
        }
    }
    Some(r)
}

/// Eigenvalues (descending) and eigenvectors (columns of the row-major `l x l` result) of a
/// symmetric matrix by cyclic Jacobi rotations: small, deterministic, the same bits on every
/// rank given the same input.
fn sym_eigen(a: &[f64], l: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; l * l];
    for i in 0..l {
        v[i * l + i] = 1.0;
    }
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..l {
            for q in p + 1..l {
                off += a[p * l + q] * a[p * l + q];
            }
        }
        let scale: f64 = (0..l).map(|i| a[i * l + i] * a[i * l + i]).sum();
        if off <= 1e-30 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..l {
            for q in p + 1..l {
                let apq = a[p * l + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * l + q] - a[p * l + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..l {
                    let (akp, akq) = (a[k * l + p], a[k * l + q]);
                    a[k * l + p] = c * akp - s * akq;
                    a[k * l + q] = s * akp + c * akq;
                }
                for k in 0..l {
                    let (apk, aqk) = (a[p * l + k], a[q * l + k]);
                    a[p * l + k] = c * apk - s * aqk;
                    a[q * l + k] = s * apk + c * aqk;
                }
                for k in 0..l {
                    let (vkp, vkq) = (v[k * l + p], v[k * l + q]);
                    v[k * l + p] = c * vkp - s * vkq;
                    v[k * l + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&x, &y| a[y * l + y].total_cmp(&a[x * l + x]));
    let vals = order.iter().map(|&i| a[i * l + i]).collect();
    let mut vecs = vec![0.0; l * l];
    for (new, &old) in order.iter().enumerate() {
        for r in 0..l {
            vecs[r * l + new] = v[r * l + old];
        }
    }
    (vals, vecs)
}

impl<T: DistFloat> State<'_, T> {
    /// Leaves of this rank's piece of W (`on_w`) or H, as local line ranges.
    fn piece_leaf_lines(&self, on_w: bool) -> Vec<Range<usize>> {
        if on_w {
            leaf_rows(
                &self.lay.rl,
                self.lay.w_piece_leaves(self.lay.i, self.lay.j),
            )
        } else {
            leaf_rows(
                &self.lay.cl,
                self.lay.h_piece_leaves(self.lay.j, self.lay.i),
            )
        }
    }

    /// `FᵀF` (l x l) of a piece `f` (lines x l) summed over the factor's pieces.
    fn panel_gram(&mut self, on_w: bool, f: &[T], l: usize) -> Vec<f64> {
        let leaves = self.piece_leaf_lines(on_w);
        let mut buf = vec![0.0f64; leaves.len() * l * l];
        for (rel, lines) in leaves.iter().enumerate() {
            let g = &mut buf[rel * l * l..(rel + 1) * l * l];
            for r in lines.clone() {
                let row = &f[r * l..(r + 1) * l];
                for a in 0..l {
                    for b in 0..l {
                        g[a * l + b] += row[a].to_f64() * row[b].to_f64();
                    }
                }
            }
        }
        self.piece_reduce(on_w, buf, l * l)
    }

    /// Orthonormalises the columns of the distributed panel `f` (lines x l) by CholeskyQR
    /// twice (a small diagonal shift when the Gram is singular).
    fn orthonormalise(&mut self, on_w: bool, f: &mut [T], l: usize) {
        for _ in 0..2 {
            let mut g = self.panel_gram(on_w, f, l);
            let tr: f64 = (0..l).map(|i| g[i * l + i]).sum();
            let mut r = cholesky(&g, l);
            let mut shift = 1e-14 * tr.max(f64::MIN_POSITIVE);
            while r.is_none() {
                for i in 0..l {
                    g[i * l + i] += shift;
                }
                shift *= 10.0;
                r = cholesky(&g, l);
            }
            let r = r.expect("a shifted Gram is positive definite");
            for row in f.chunks_exact_mut(l) {
                let y: Vec<f64> = row.iter().map(|v| v.to_f64()).collect();
                let mut q = vec![0.0f64; l];
                for j in 0..l {
                    let mut v = y[j];
                    for i in 0..j {
                        v -= q[i] * r[i * l + j];
                    }
                    q[j] = v / r[j * l + j];
                }
                for (o, v) in row.iter_mut().zip(q) {
                    *o = T::from_f64(v);
                }
            }
        }
    }

    /// `X·Z` for the distributed column panel `z` (own H columns x l): this rank's rows.
    fn x_times(&mut self, z: &[T], l: usize) -> Vec<T> {
        let counts: Vec<usize> = self.lay.h_piece_cols().iter().map(|c| c * l).collect();
        let mut zj = Vec::new();
        self.pause();
        self.grid
            .all_gather(Scope::Col, Traffic::Other, z, &counts, &mut zj);
        self.resume();
        let mut part = vec![T::ZERO; self.x.nrows() * l];
        self.x
            .times_ht(&zj, l, &mut part, &|_, _, x| x, &mut self.scratch);
        self.part = part;
        let lines = self.lay.w_piece_rows();
        self.reduce_scatter(Scope::Row, Traffic::Other, &lines, l);
        self.own.clone()
    }

    /// `Xᵀ·Y` for the distributed row panel `y` (own W rows x l): this rank's columns.
    fn xt_times(&mut self, y: &[T], l: usize) -> Vec<T> {
        let counts: Vec<usize> = self.lay.w_piece_rows().iter().map(|r| r * l).collect();
        let mut yi = Vec::new();
        self.pause();
        self.grid
            .all_gather(Scope::Row, Traffic::Other, y, &counts, &mut yi);
        self.resume();
        let mut part = vec![T::ZERO; self.x.ncols() * l];
        self.x
            .wt_times(&yi, l, &mut part, &|_, _, x| x, &mut self.scratch);
        self.part = part;
        let lines = self.lay.h_piece_cols();
        self.reduce_scatter(Scope::Col, Traffic::Other, &lines, l);
        self.own.clone()
    }

    /// NNDSVD (Boutsidis & Gallopoulos) from a distributed randomized SVD (Halko, Martinsson
    /// and Tropp: `k + 10` columns, scikit-learn's number of power iterations, CholeskyQR for
    /// the orthonormalisations, the small SVD from the eigenvectors of `B·Bᵀ`); `fill` is the
    /// NNDSVDa fill value for the zeros (X's mean), or `None`.
    fn nndsvd(&mut self, seed: u64, fill: Option<T>) -> (Vec<T>, Vec<T>) {
        let (n, m, k) = (self.lay.n, self.lay.m, self.lay.k);
        let l = (k + 10).min(n).min(m);
        let power = if (k as f64) < 0.1 * n.min(m) as f64 {
            7
        } else {
            4
        };
        let cols = self.lay.h_cols();
        let mut z: Vec<T> = cols
            .clone()
            .flat_map(|c| (0..l).map(move |t| (c * l + t) as u64))
            .map(|i| T::from_f64(normal_at(seed, i)))
            .collect();
        for _ in 0..power {
            let mut y = self.x_times(&z, l);
            self.orthonormalise(true, &mut y, l);
            z = self.xt_times(&y, l);
            self.orthonormalise(false, &mut z, l);
        }
        let mut q = self.x_times(&z, l);
        self.orthonormalise(true, &mut q, l);
        // Bᵀ = Xᵀ·Q (own columns x l); B·Bᵀ = (Bᵀ)ᵀ·Bᵀ.
        let bt = self.xt_times(&q, l);
        let bbt = self.panel_gram(false, &bt, l);
        let (lam, ub) = sym_eigen(&bbt, l);
        let s: Vec<f64> = lam.iter().take(k).map(|&v| v.max(0.0).sqrt()).collect();
        // U = Q·U_B and V = Bᵀ·U_B / s, first k columns, in f64.
        let mul = |panel: &[T], div: bool| -> Vec<f64> {
            let lines = panel.len() / l;
            let mut out = vec![0.0f64; lines * k];
            for r in 0..lines {
                for j in 0..k {
                    let mut v = 0.0;
                    for t in 0..l {
                        v += panel[r * l + t].to_f64() * ub[t * l + j];
                    }
                    out[r * k + j] = if div {
                        if s[j] > 0.0 { v / s[j] } else { 0.0 }
                    } else {
                        v
                    };
                }
            }
            out
        };
        let u = mul(&q, false);
        let v = mul(&bt, true);
        // Norms of the positive and negative parts of each singular vector.
        let part_norms = |st: &mut Self, on_w: bool, f: &[f64]| -> Vec<f64> {
            let leaves = st.piece_leaf_lines(on_w);
            let mut buf = vec![0.0f64; leaves.len() * 2 * k];
            for (rel, lines) in leaves.iter().enumerate() {
                let b = &mut buf[rel * 2 * k..(rel + 1) * 2 * k];
                for r in lines.clone() {
                    for j in 0..k {
                        let x = f[r * k + j];
                        if x > 0.0 {
                            b[2 * j] += x * x;
                        } else {
                            b[2 * j + 1] += x * x;
                        }
                    }
                }
            }
            st.piece_reduce(on_w, buf, 2 * k)
        };
        let un = part_norms(self, true, &u);
        let vn = part_norms(self, false, &v);
        let mut w = vec![T::ZERO; u.len()];
        let mut ht = vec![T::ZERO; v.len()];
        let eps = 1e-6;
        for j in 0..k {
            // (use positive parts, scale of u's part, scale of v's part, lambda)
            let (pos, su, sv, lbd) = if j == 0 {
                (None, 1.0, 1.0, s[0].sqrt())
            } else {
                let (xp, xn) = (un[2 * j].sqrt(), un[2 * j + 1].sqrt());
                let (yp, yn) = (vn[2 * j].sqrt(), vn[2 * j + 1].sqrt());
                let (mp, mn) = (xp * yp, xn * yn);
                if mp > mn {
                    (Some(true), xp, yp, (s[j] * mp).sqrt())
                } else {
                    (Some(false), xn, yn, (s[j] * mn).sqrt())
                }
            };
            let take = |x: f64, scale: f64| -> f64 {
                let part = match pos {
                    None => x.abs(),
                    Some(true) => x.max(0.0),
                    Some(false) => (-x).max(0.0),
                };
                if scale > 0.0 { lbd * part / scale } else { 0.0 }
            };
            for r in 0..u.len() / k {
                w[r * k + j] = T::from_f64(take(u[r * k + j], su));
            }
            for c in 0..v.len() / k {
                ht[c * k + j] = T::from_f64(take(v[c * k + j], sv));
            }
        }
        for f in [&mut w, &mut ht] {
            for x in f.iter_mut() {
                if x.to_f64() < eps {
                    *x = T::ZERO;
                }
                if let (true, Some(a)) = (*x == T::ZERO, fill) {
                    *x = a;
                }
            }
        }
        (w, ht)
    }
}
