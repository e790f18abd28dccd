//! A rank's block `X_ij` of the data, read from the shared file, and the local products over it.
//!
//! Every product sums along the fixed leaves of [`crate::tree`]: sequentially inside a leaf, in
//! index order, then pairwise over the block's leaves, so the result is one node of the global
//! tree whatever the grid. Dense and sparse blocks walk their entries in the same order (a
//! dense zero adds `+0`), so a matrix gives the same bits in either storage.

use core::ops::Range;
use std::path::Path;

use nmf::Float;
use nmf::io::{NpyRows, NpzRows};
use nmf::solvers::RowSource;

use crate::tree::{Leaves, combine};

/// Rows read from the file at a time while cutting out the block.
const SLAB_ENTRIES: usize = 1 << 22;
/// Rows (or columns) of a dense block handled together: each leaf's partial is this many
/// k-vectors.
const GROUP: usize = 16;

/// Compressed rows (or columns) with local indices.
#[derive(Debug, Clone, Default)]
pub struct Compressed<T> {
    /// `ptr[r]..ptr[r + 1]` are line `r`'s entries.
    pub ptr: Vec<usize>,
    /// Local index along the other dimension, increasing within a line.
    pub idx: Vec<u32>,
    /// Values.
    pub val: Vec<T>,
}

/// The data of one block.
#[derive(Debug, Clone)]
pub enum Storage<T> {
    /// Row-major `rows x cols`.
    Dense(Vec<T>),
    /// The stored entries, by rows and by columns.
    Sparse {
        /// By rows.
        csr: Compressed<T>,
        /// By columns.
        csc: Compressed<T>,
    },
}

/// Rank `(i, j)`'s block: global rows `rows`, global columns `cols`.
#[derive(Debug, Clone)]
pub struct Block<T> {
    /// Global row range.
    pub rows: Range<usize>,
    /// Global column range.
    pub cols: Range<usize>,
    /// The entries.
    pub data: Storage<T>,
    /// For each local row, its leaf relative to the block's first row leaf.
    pub row_leaf: Vec<u32>,
    /// For each local column, its leaf relative to the block's first column leaf.
    pub col_leaf: Vec<u32>,
    /// Number of row leaves in the block.
    pub row_leaves: usize,
    /// Number of column leaves in the block.
    pub col_leaves: usize,
}

/// What a data file holds, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// `(n_samples, n_features)`.
    pub shape: (usize, usize),
    /// A CSR `.npz`.
    pub sparse: bool,
    /// Dense float32 data.
    pub f32: bool,
}

/// Reads the header of a `.npy` (dense) or CSR `.npz` (sparse) file.
///
/// # Errors
/// Any other extension, or what the readers refuse (missing file, malformed header, ...).
pub fn probe(path: &Path) -> Result<FileInfo, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "npy" => match NpyRows::<f32>::open(path) {
            Ok(r) => Ok(FileInfo {
                shape: RowSource::<f32>::shape(&r),
                sparse: false,
                f32: true,
            }),
            Err(nmf::io::IoError::Dtype { .. }) => {
                let r = NpyRows::<f64>::open(path).map_err(|e| e.to_string())?;
                Ok(FileInfo {
                    shape: RowSource::<f64>::shape(&r),
                    sparse: false,
                    f32: false,
                })
            }
            Err(e) => Err(e.to_string()),
        },
        "npz" => {
            let r = NpzRows::<f64>::open(path).map_err(|e| e.to_string())?;
            Ok(FileInfo {
                shape: RowSource::<f64>::shape(&r),
                sparse: true,
                f32: false,
            })
        }
        _ => Err(format!(
            "{}: nmf-dist reads a dense .npy or a CSR .npz (scipy.sparse.save_npz), each rank only its block",
            path.display()
        )),
    }
}

fn bad_entry(path: &Path, r: usize, c: usize, v: f64) -> String {
    let what = if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        "infinite".to_string()
    } else {
        format!("negative ({v})")
    };
    format!(
        "{}: X[{r}, {c}] is {what}; NMF needs finite nonnegative data",
        path.display()
    )
}

/// The leaf of each index of `range`, relative to `first` (the range's first leaf).
fn leaf_map(leaves: &Leaves, leaf_range: Range<usize>) -> Vec<u32> {
    let mut out = Vec::new();
    for (rel, l) in leaf_range.enumerate() {
        out.extend(std::iter::repeat_n(rel as u32, leaves.leaf(l).len()));
    }
    out
}

impl<T: Float> Block<T> {
    /// Reads rows `rows` and columns `cols` of the file (leaf ranges `row_leaves` and
    /// `col_leaves` of `rl` and `cl`), checking every entry: only this block is ever held,
    /// the file is read in slabs of rows.
    ///
    /// # Errors
    /// The file cannot be read, or an entry is negative or not finite (named by its global
    /// position).
    pub fn read(
        path: &Path,
        info: FileInfo,
        (rl, row_leaves): (&Leaves, Range<usize>),
        (cl, col_leaves): (&Leaves, Range<usize>),
    ) -> Result<Self, String> {
        let rows = rl.span(row_leaves.clone());
        let cols = cl.span(col_leaves.clone());
        let (nr, nc) = (rows.len(), cols.len());
        let slab = (SLAB_ENTRIES / info.shape.1.max(1)).max(1);
        let data = if info.sparse {
            let mut src = NpzRows::<T>::open(path).map_err(|e| e.to_string())?;
            let mut ptr = vec![0usize];
            let (mut idx, mut val) = (Vec::new(), Vec::new());
            let mut r0 = rows.start;
            while r0 < rows.end {
                let r1 = (r0 + slab).min(rows.end);
                let part = src.rows(r0..r1).map_err(|e| e.to_string())?;
                let nmf::DataRef::Sparse(s) = part else {
                    return Err("a .npz source gave dense rows".into());
                };
                for r in 0..r1 - r0 {
                    let (ci, cv) = s.row(r);
                    for (&c, &v) in ci.iter().zip(cv) {
                        let c = c as usize;
                        if cols.contains(&c) {
                            if !(v.is_finite() && v >= T::ZERO) {
                                return Err(bad_entry(path, r0 + r, c, v.to_f64()));
                            }
                            idx.push((c - cols.start) as u32);
                            val.push(v);
                        }
                    }
                    ptr.push(idx.len());
                }
                r0 = r1;
            }
            let csr = Compressed { ptr, idx, val };
            let csc = transpose(&csr, nc);
            Storage::Sparse { csr, csc }
        } else {
            let mut x = Vec::with_capacity(nr * nc);
            let mut src = NpyRows::<T>::open(path).map_err(|e| e.to_string())?;
            let mut r0 = rows.start;
            while r0 < rows.end {
                let r1 = (r0 + slab).min(rows.end);
                let part = src.rows(r0..r1).map_err(|e| e.to_string())?;
                let d = part
                    .as_dense()
                    .ok_or_else(|| "a .npy source gave sparse rows".to_string())?;
                for r in 0..r1 - r0 {
                    for c in cols.clone() {
                        let v = d[(r, c)];
                        if !(v.is_finite() && v >= T::ZERO) {
                            return Err(bad_entry(path, r0 + r, c, v.to_f64()));
                        }
                        x.push(v);
                    }
                }
                r0 = r1;
            }
            Storage::Dense(x)
        };
        Ok(Block {
            row_leaf: leaf_map(rl, row_leaves.clone()),
            col_leaf: leaf_map(cl, col_leaves.clone()),
            row_leaves: row_leaves.len(),
            col_leaves: col_leaves.len(),
            rows,
            cols,
            data,
        })
    }

    /// Local rows.
    pub fn nrows(&self) -> usize {
        self.rows.len()
    }

    /// Local columns.
    pub fn ncols(&self) -> usize {
        self.cols.len()
    }

    /// Stored entries (every entry of a dense block).
    pub fn nnz(&self) -> usize {
        match &self.data {
            Storage::Dense(x) => x.len(),
            Storage::Sparse { csr, .. } => csr.val.len(),
        }
    }

    /// `out (rows x k) = f(X)·Hᵀ` over the block, `ht` the block's columns of H as Hᵀ
    /// (`cols x k`, row-major), `f(r, c, x)` the value used for entry `(r, c)` (X itself, or
    /// KL's `x / WH`). Entries with `x = 0` are skipped (they add `+0`).
    pub fn times_ht(
        &self,
        ht: &[T],
        k: usize,
        out: &mut [T],
        f: &(impl Fn(usize, usize, T) -> T + Sync),
        scratch: &mut Scratch<T>,
    ) {
        let nc = self.ncols();
        match &self.data {
            Storage::Dense(x) => {
                let nb = self.col_leaves;
                let mut r0 = 0;
                while r0 < self.nrows() {
                    let g = GROUP.min(self.nrows() - r0);
                    let len = g * k;
                    scratch.buf.clear();
                    scratch.buf.resize(nb * len, T::ZERO);
                    for rr in 0..g {
                        let r = r0 + rr;
                        let row = &x[r * nc..(r + 1) * nc];
                        for (c, &v) in row.iter().enumerate() {
                            if v == T::ZERO {
                                continue;
                            }
                            let v = f(r, c, v);
                            let b = self.col_leaf[c] as usize;
                            let dst = &mut scratch.buf[b * len + rr * k..b * len + (rr + 1) * k];
                            axpy(dst, v, &ht[c * k..(c + 1) * k]);
                        }
                    }
                    scratch.pos.clear();
                    scratch.pos.extend(0..nb);
                    combine(&mut scratch.pos, &mut scratch.buf, len);
                    out[r0 * k..(r0 + g) * k].copy_from_slice(&scratch.buf[..len]);
                    r0 += g;
                }
            }
            Storage::Sparse { csr, .. } => {
                for r in 0..self.nrows() {
                    let span = csr.ptr[r]..csr.ptr[r + 1];
                    leafwise(
                        &csr.idx[span.clone()],
                        &csr.val[span],
                        &self.col_leaf,
                        k,
                        &mut out[r * k..(r + 1) * k],
                        scratch,
                        |c, v, dst| axpy(dst, f(r, c, v), &ht[c * k..(c + 1) * k]),
                    );
                }
            }
        }
    }

    /// `out (cols x k) = (Wᵀ·f(X))ᵀ` over the block, `w` the block's rows of W (`rows x k`,
    /// row-major); see [`times_ht`](Self::times_ht).
    pub fn wt_times(
        &self,
        w: &[T],
        k: usize,
        out: &mut [T],
        f: &(impl Fn(usize, usize, T) -> T + Sync),
        scratch: &mut Scratch<T>,
    ) {
        let (nr, nc) = (self.nrows(), self.ncols());
        match &self.data {
            Storage::Dense(x) => {
                let na = self.row_leaves;
                let mut c0 = 0;
                while c0 < nc {
                    let g = GROUP.min(nc - c0);
                    let len = g * k;
                    scratch.buf.clear();
                    scratch.buf.resize(na * len, T::ZERO);
                    for r in 0..nr {
                        let a = self.row_leaf[r] as usize;
                        let wr = &w[r * k..(r + 1) * k];
                        for cc in 0..g {
                            let c = c0 + cc;
                            let v = x[r * nc + c];
                            if v == T::ZERO {
                                continue;
                            }
                            let v = f(r, c, v);
                            let dst = &mut scratch.buf[a * len + cc * k..a * len + (cc + 1) * k];
                            axpy(dst, v, wr);
                        }
                    }
                    scratch.pos.clear();
                    scratch.pos.extend(0..na);
                    combine(&mut scratch.pos, &mut scratch.buf, len);
                    out[c0 * k..(c0 + g) * k].copy_from_slice(&scratch.buf[..len]);
                    c0 += g;
                }
            }
            Storage::Sparse { csc, .. } => {
                for c in 0..nc {
                    let span = csc.ptr[c]..csc.ptr[c + 1];
                    leafwise(
                        &csc.idx[span.clone()],
                        &csc.val[span],
                        &self.row_leaf,
                        k,
                        &mut out[c * k..(c + 1) * k],
                        scratch,
                        |r, v, dst| axpy(dst, f(r, c, v), &w[r * k..(r + 1) * k]),
                    );
                }
            }
        }
    }

    /// Per row leaf of the block, `Σ term(r, c, x)` over the stored entries, summed in row
    /// then column order inside each (row leaf, column leaf) cell and pairwise over the
    /// block's column leaves: the row-leaf partials that [`mod@crate::fit`] completes across
    /// the grid. Returns `row_leaves` pairs.
    pub fn sums(&self, term: &impl Fn(usize, usize, T) -> [f64; 2]) -> Vec<[f64; 2]> {
        let nb = self.col_leaves;
        let mut out = vec![[0.0; 2]; self.row_leaves];
        let mut cells = vec![0.0f64; 2 * nb];
        let mut pos = Vec::with_capacity(nb);
        let mut r = 0;
        for (a, slot) in out.iter_mut().enumerate() {
            cells.fill(0.0);
            while r < self.nrows() && self.row_leaf[r] as usize == a {
                let mut add = |c: usize, v: T| {
                    let t = term(r, c, v);
                    let b = self.col_leaf[c] as usize;
                    cells[2 * b] += t[0];
                    cells[2 * b + 1] += t[1];
                };
                match &self.data {
                    Storage::Dense(x) => {
                        let nc = self.ncols();
                        for (c, &v) in x[r * nc..(r + 1) * nc].iter().enumerate() {
                            if v != T::ZERO {
                                add(c, v);
                            }
                        }
                    }
                    Storage::Sparse { csr, .. } => {
                        for e in csr.ptr[r]..csr.ptr[r + 1] {
                            add(csr.idx[e] as usize, csr.val[e]);
                        }
                    }
                }
                r += 1;
            }
            pos.clear();
            pos.extend(0..nb);
            combine(&mut pos, &mut cells, 2);
            *slot = [cells[0], cells[1]];
        }
        out
    }
}

/// Reusable buffers of the leafwise sums.
#[derive(Debug, Default)]
pub struct Scratch<T> {
    buf: Vec<T>,
    pos: Vec<usize>,
}

/// One line's entries (`idx` increasing, with leaf `leaf_of[idx]`) summed leaf by leaf into
/// k-vectors by `add`, then combined pairwise into `out`.
fn leafwise<T: Float>(
    idx: &[u32],
    val: &[T],
    leaf_of: &[u32],
    k: usize,
    out: &mut [T],
    s: &mut Scratch<T>,
    add: impl Fn(usize, T, &mut [T]),
) {
    s.buf.clear();
    s.pos.clear();
    for (&i, &v) in idx.iter().zip(val) {
        let i = i as usize;
        let l = leaf_of[i] as usize;
        if s.pos.last() != Some(&l) {
            s.pos.push(l);
            s.buf.resize(s.pos.len() * k, T::ZERO);
        }
        let at = (s.pos.len() - 1) * k;
        add(i, v, &mut s.buf[at..at + k]);
    }
    if s.pos.is_empty() {
        out.fill(T::ZERO);
        return;
    }
    combine(&mut s.pos, &mut s.buf, k);
    out.copy_from_slice(&s.buf[..k]);
}

/// `dst += a·x`, element by element (one rounding per product and one per sum, as
/// `x·Hᵀ` sums in order).
#[inline]
fn axpy<T: Float>(dst: &mut [T], a: T, x: &[T]) {
    for (d, &v) in dst.iter_mut().zip(x) {
        *d += a * v;
    }
}

/// The same entries by columns (indices increasing within each column).
fn transpose<T: Float>(csr: &Compressed<T>, ncols: usize) -> Compressed<T> {
    let nnz = csr.val.len();
    let mut count = vec![0usize; ncols + 1];
    for &c in &csr.idx {
        count[c as usize + 1] += 1;
    }
    for c in 0..ncols {
        count[c + 1] += count[c];
    }
    let ptr = count.clone();
    let mut next = count;
    let mut idx = vec![0u32; nnz];
    let mut val = vec![T::ZERO; nnz];
    for r in 0..csr.ptr.len() - 1 {
        for e in csr.ptr[r]..csr.ptr[r + 1] {
            let c = csr.idx[e] as usize;
            idx[next[c]] = r as u32;
            val[next[c]] = csr.val[e];
            next[c] += 1;
        }
    }
    Compressed { ptr, idx, val }
}
