//! Every way the workspace cuts work into pieces, in one place.
//!
//! The determinism invariant (same bits for any thread count) rests on one rule: the pieces a
//! computation is cut into, and the order their partial results are combined in, depend on the
//! problem's shape only. Threads then decide how many pieces run at once, never where a sum is
//! split. The functions here are those shape-only policies; each constant says why it has its
//! value. `tests/partition.rs` checks every plan for shapes up to 10⁶ x 10⁶: pieces cover their
//! range exactly, in order, and no tile exceeds the scratch it is given.
//!
//! [`run_groups`] is the one parallel driver over such pieces: it hands contiguous runs of pieces
//! to at most `threads` tasks through nested `rayon::join`, without allocating, so the solvers'
//! iterations allocate nothing.

use core::ops::Range;

use faer::{MatMut, Par};

/// Pieces start on multiples of this many rows/columns when the pieces are long enough: whole
/// SIMD registers (16 f32 lanes of AVX-512) for faer's kernels and our own loops.
pub const ALIGN: usize = 16;

/// Entries of one scratch tile of `WH` (and of `X ⊙ …` beside it): 128 KiB in f32, so both
/// tiles and the factor panels they meet stay in one core's L2 cache.
pub const TILE: usize = 32 * 1024;

/// Products with fewer multiply-adds than this run as one sequential call: parallel tasks cost
/// more than they save there (faer's k x k products lose half their speed on two threads,
/// docs/limits.md 5).
pub const SPLIT_MIN_MACS: usize = 2_000_000;

/// The k x k Gram products (`HHᵀ`, `WᵀW`) split into parallel blocks from this k on; below it
/// one sequential call is faster (measured on the faces: docs/performance.md).
pub const GRAM_PAR_MIN_K: usize = 32;

/// `W·(HHᵀ)` (n x k x k) runs on one thread below this many flops (docs/limits.md 5: at k = 50 it
/// runs at 99 GFLOP/s on one thread and 58 on two).
pub const SMALL_PRODUCT_FLOPS: usize = 16_000_000;

/// Typical rows per block of a cd sweep. Larger blocks amortise the per-coordinate loop set-up
/// (64 against 128 rows at k = 200: docs/performance.md).
pub const SWEEP_ROWS: usize = 128;

/// Typical rows (W) or columns (H) per independent piece of a β ≠ 2 MU half-step.
pub const MU_PIECE: usize = 256;

/// Pieces come in multiples of this count so 1, 2, 4 or 8 threads share them evenly.
pub const PIECE_MULTIPLE: usize = 8;

/// A sweep over fewer than this many multiply-adds (rows x k x k) runs on one thread: a rayon
/// round trip costs more than it saves on tiny problems.
pub const SWEEP_PAR_MIN_MACS: usize = 65_536;

/// Boundaries `0 = b_0 < b_1 < … < b_p = d` of `parts` near-equal pieces of `0..d`, on
/// multiples of [`ALIGN`] where every piece can be that long. A function of `d` and `parts`
/// only. `d = 0` gives `[0]`.
pub fn even(d: usize, parts: usize) -> Vec<usize> {
    let parts = parts.clamp(1, d.max(1));
    let align = if d >= ALIGN * parts { ALIGN } else { 1 };
    let mut b: Vec<usize> = (0..=parts)
        .map(|i| ((i * d / parts + align / 2) / align * align).min(d))
        .collect();
    b[parts] = d;
    b.dedup();
    b
}

/// Like [`even`], but with as few pieces as make every piece at most `max_len` long
/// (`max_len >= 1`).
///
/// [`even`] rounds boundaries to [`ALIGN`], so `d.div_ceil(max_len)` pieces can leave one up
/// to `ALIGN - 1` longer than `max_len`: that overran the MU tile scratch (a 20,000 x 5,000 KL
/// fit at k = 20 asked for a 208 x 160 tile of a 32,768-entry buffer). The count grows until
/// the bound holds, which it does at the latest once the pieces are too short to align.
pub fn bounded(d: usize, max_len: usize) -> Vec<usize> {
    let max_len = max_len.max(1);
    let mut parts = d.div_ceil(max_len).max(1);
    loop {
        let b = even(d, parts);
        if widest(&b) <= max_len {
            return b;
        }
        parts += 1;
    }
}

/// The longest piece of a boundary list (0 for none).
pub fn widest(bounds: &[usize]) -> usize {
    bounds.windows(2).map(|c| c[1] - c[0]).max().unwrap_or(0)
}

/// Output rows (or columns) per block of `kernels::matmul` along an output side of length
/// `dim`: about an eighth of it (so two to eight threads share the blocks), at least 16 and at
/// most 256 (a block's operand panels stay in cache).
pub fn matmul_block_len(dim: usize) -> usize {
    dim.div_ceil(8).next_multiple_of(16).clamp(16, 256)
}

/// Whether a `rows x cols` product with inner dimension `inner` is one sequential call.
pub fn matmul_is_single(rows: usize, cols: usize, inner: usize) -> bool {
    rows.saturating_mul(cols).saturating_mul(inner) < SPLIT_MIN_MACS || rows.max(cols) <= 16
}

/// Boundaries of the blocks of `kernels::matmul` along its split side of length `dim`.
pub fn matmul_blocks(dim: usize) -> Vec<usize> {
    let len = matmul_block_len(dim);
    let mut b: Vec<usize> = (0..dim).step_by(len).collect();
    b.push(dim);
    b
}

/// The parallelism of a k x k Gram product.
pub fn gram_par(par: Par, k: usize) -> Par {
    if k < GRAM_PAR_MIN_K { Par::Seq } else { par }
}

/// The parallelism of `W·(HHᵀ)`-like n x k x k products.
pub fn small_product_par(par: Par, n: usize, k: usize) -> Par {
    if 2 * n * k * k < SMALL_PRODUCT_FLOPS {
        Par::Seq
    } else {
        par
    }
}

/// Row blocks of a cd sweep over `n` rows: a multiple of [`PIECE_MULTIPLE`] near-equal blocks
/// of about [`SWEEP_ROWS`] rows.
pub fn sweep_blocks(n: usize) -> Vec<usize> {
    even(n, n.div_ceil(SWEEP_ROWS).next_multiple_of(PIECE_MULTIPLE))
}

/// The parallelism of a cd sweep over `n` rows with `k` components.
pub fn sweep_par(par: Par, n: usize, k: usize) -> Par {
    if n.saturating_mul(k).saturating_mul(k) < SWEEP_PAR_MIN_MACS {
        Par::Seq
    } else {
        par
    }
}

/// The plan of a blockwise β ≠ 2 MU half-step: independent pieces along the updated factor's
/// axis (`along`: rows of W or columns of H), each walking the other axis (`across`) in chunks
/// so that one piece-by-chunk tile fits [`TILE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TilePlan {
    /// Boundaries of the pieces along the updated axis.
    pub pieces: Vec<usize>,
    /// Boundaries of the chunks across.
    pub chunks: Vec<usize>,
}

impl TilePlan {
    /// The plan for an `along x across` tile grid.
    pub fn new(along: usize, across: usize) -> Self {
        let pieces = even(
            along,
            along.div_ceil(MU_PIECE).next_multiple_of(PIECE_MULTIPLE),
        );
        let chunk = (TILE / widest(&pieces).max(1)).max(1);
        TilePlan {
            pieces,
            chunks: bounded(across, chunk),
        }
    }

    /// Entries of the largest tile: at most [`TILE`] unless one piece alone is wider.
    pub fn tile_len(&self) -> usize {
        widest(&self.pieces) * widest(&self.chunks)
    }
}

/// Column blocks of a loss evaluated entry by entry on an `n x m` matrix: blocks of `width`
/// columns so one `n x width` block of `WH` has about [`TILE`] entries (at least one column).
pub fn fold_width(n: usize, m: usize) -> usize {
    (TILE / n.max(1)).clamp(1, m.max(1))
}

/// Boundaries of the groups of pieces run by one task each: `pieces` (a boundary list) cut into
/// at most `threads` contiguous runs of near-equal piece counts. Grouping never changes a
/// result, only which task runs a piece.
pub fn groups(pieces: &[usize], threads: usize) -> Vec<usize> {
    let count = pieces.len().saturating_sub(1);
    let threads = threads.clamp(1, count.max(1));
    (0..=threads).map(|g| pieces[g * count / threads]).collect()
}

/// Something that can be cut in two at an offset along the axis its pieces follow (rows of a
/// factor block and its products, a slice of per-row scratch, ...).
pub trait Split: Sized + Send {
    /// The first `at` units and the rest.
    fn split_at(self, at: usize) -> (Self, Self);
}

impl<T: Send> Split for &mut [T] {
    fn split_at(self, at: usize) -> (Self, Self) {
        self.split_at_mut(at)
    }
}

/// Rows of a matrix view.
pub struct Rows<'a, T>(pub MatMut<'a, T>);
/// Columns of a matrix view.
pub struct Cols<'a, T>(pub MatMut<'a, T>);

impl<T: Send> Split for Rows<'_, T> {
    fn split_at(self, at: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at_row_mut(at);
        (Rows(a), Rows(b))
    }
}

impl<T: Send> Split for Cols<'_, T> {
    fn split_at(self, at: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at_col_mut(at);
        (Cols(a), Cols(b))
    }
}

impl<A: Split, B: Split> Split for (A, B) {
    fn split_at(self, at: usize) -> (Self, Self) {
        let (a0, a1) = self.0.split_at(at);
        let (b0, b1) = self.1.split_at(at);
        ((a0, b0), (a1, b1))
    }
}

impl<A: Split, B: Split, C: Split> Split for (A, B, C) {
    fn split_at(self, at: usize) -> (Self, Self) {
        let (a0, a1) = self.0.split_at(at);
        let (b0, b1) = self.1.split_at(at);
        let (c0, c1) = self.2.split_at(at);
        ((a0, b0, c0), (a1, b1, c1))
    }
}

/// Runs `work(part, scratch, range)` for each group of `bounds` (see [`groups`]): `state`
/// covers `bounds[0]..bounds[last]` and is cut at the group boundaries, group `g` gets
/// `scratch[g]`. Two or more groups run through nested `rayon::join`; nothing is allocated.
///
/// # Panics
/// If `scratch` has fewer entries than there are groups (a caller's sizing bug).
pub fn run_groups<S: Split, C: Send>(
    state: S,
    bounds: &[usize],
    scratch: &mut [C],
    work: &(impl Fn(S, &mut C, Range<usize>) + Sync),
) {
    let n_groups = bounds.len().saturating_sub(1);
    if n_groups == 0 {
        return;
    }
    if n_groups == 1 {
        work(state, &mut scratch[0], bounds[0]..bounds[1]);
        return;
    }
    let mid = n_groups / 2;
    let (left, right) = state.split_at(bounds[mid] - bounds[0]);
    let (s_left, s_right) = scratch.split_at_mut(mid);
    rayon::join(
        || run_groups(left, &bounds[..=mid], s_left, work),
        || run_groups(right, &bounds[mid..], s_right, work),
    );
}

/// Calls `f(part, range)` for each piece of `pieces` that lies in `range`, cutting `state`
/// (which starts at `range.start`) as it goes: the sequential walk inside one group.
pub fn for_each_piece<S: Split>(
    state: S,
    pieces: &[usize],
    range: Range<usize>,
    mut f: impl FnMut(S, Range<usize>),
) {
    let mut rest = state;
    let start = pieces.partition_point(|&b| b < range.start);
    for c in pieces[start..].windows(2) {
        if c[0] >= range.end {
            break;
        }
        let (part, tail) = rest.split_at(c[1] - c[0]);
        f(part, c[0]..c[1]);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reported_tile_overflow_is_gone() {
        // 20,000 x 5,000 at k = 20: the H half-step's pieces run along the 5,000 columns and
        // chunk the 20,000 rows; the old plan asked for 208 x 160 = 33,280 entries.
        for (along, across) in [(5000, 20_000), (20_000, 5000)] {
            let p = TilePlan::new(along, across);
            assert!(p.tile_len() <= TILE, "{along} x {across}: {}", p.tile_len());
        }
    }

    #[test]
    fn groups_cut_at_piece_boundaries() {
        let pieces = even(1000, 16);
        for t in 1..=20 {
            let g = groups(&pieces, t);
            assert_eq!((g[0], *g.last().unwrap()), (0, 1000));
            assert!(g.iter().all(|b| pieces.contains(b)));
            assert!(g.len() - 1 <= t);
        }
    }

    #[test]
    fn run_groups_visits_every_piece_once() {
        let pieces = even(100, 8);
        for t in 1..=5 {
            let mut data = vec![0usize; 100];
            let g = groups(&pieces, t);
            let mut scratch = vec![0usize; g.len() - 1];
            run_groups(data.as_mut_slice(), &g, &mut scratch, &|part, s, range| {
                for_each_piece(part, &pieces, range, |p: &mut [usize], r| {
                    assert_eq!(p.len(), r.len());
                    for (v, i) in p.iter_mut().zip(r) {
                        *v += i;
                    }
                });
                *s += 1;
            });
            assert!(data.iter().enumerate().all(|(i, &v)| v == i));
            assert!(scratch.iter().all(|&s| s == 1));
        }
    }
}
