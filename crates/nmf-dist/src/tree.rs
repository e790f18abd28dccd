//! The fixed summation tree that makes every result independent of the process count.
//!
//! Each dimension (rows of X, columns of X) is cut into `2^L` *leaves* of consecutive indices,
//! `L` chosen from the length alone ([`Leaves::new`]), never from the grid. Every sum over that
//! dimension is sequential inside a leaf and pairwise over leaves along a perfect binary tree
//! ([`combine`]). A rank's share of a dimension is an aligned run of `2^L / q` leaves (the grid
//! sizes are powers of two), so its local sum is one node of the tree, and the ranks' nodes are
//! combined by the same rule once their bytes have crossed: no MPI arithmetic, whose bracketing
//! depends on the message size, the communicator size and the algorithm OpenMPI picks.

use core::ops::Range;

use nmf::Float;

/// Deepest tree: 1024 leaves per dimension, so up to 1024 ranks.
pub const MAX_LEVELS: u32 = 10;
/// Leaves of at least this many indices when the dimension is long enough (the per-leaf work
/// dwarfs the pairwise additions).
const MIN_LEAF: usize = 16;
/// Trees at least this deep when the dimension allows it (small test problems still split
/// over many ranks).
const MIN_LEVELS: u32 = 6;

/// The leaves of one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaves {
    len: usize,
    levels: u32,
    /// `starts[l]..starts[l + 1]` are leaf `l`'s indices.
    starts: Vec<usize>,
}

fn floor_log2(v: usize) -> u32 {
    if v == 0 {
        0
    } else {
        usize::BITS - 1 - v.leading_zeros()
    }
}

impl Leaves {
    /// The leaves of a dimension of length `len >= 1`: `2^L` of them with
    /// `L = min(10, max(log2(len / 16), min(log2(len), 6)))` (floors), so every leaf is
    /// non-empty; the first `len mod 2^L` leaves hold one index more (PLANC's split).
    pub fn new(len: usize) -> Self {
        let levels =
            MAX_LEVELS.min(floor_log2(len / MIN_LEAF).max(floor_log2(len).min(MIN_LEVELS)));
        let count = 1usize << levels;
        let (base, extra) = (len / count, len % count);
        let mut starts = Vec::with_capacity(count + 1);
        let mut at = 0;
        starts.push(0);
        for l in 0..count {
            at += base + usize::from(l < extra);
            starts.push(at);
        }
        Leaves {
            len,
            levels,
            starts,
        }
    }

    /// The dimension's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the dimension is empty (never, for a validated matrix).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Tree depth `L`.
    pub fn levels(&self) -> u32 {
        self.levels
    }

    /// Number of leaves, `2^L`.
    pub fn count(&self) -> usize {
        1 << self.levels
    }

    /// The indices of leaves `leaves`.
    pub fn span(&self, leaves: Range<usize>) -> Range<usize> {
        self.starts[leaves.start]..self.starts[leaves.end]
    }

    /// Leaf `l`'s indices.
    pub fn leaf(&self, l: usize) -> Range<usize> {
        self.starts[l]..self.starts[l + 1]
    }

    /// The leaves of part `idx` of `parts` equal aligned parts (`parts` a power of two
    /// dividing the leaf count).
    pub fn part(&self, parts: usize, idx: usize) -> Range<usize> {
        let per = self.count() / parts;
        idx * per..(idx + 1) * per
    }
}

/// Sums `count` vectors of length `len`, stored one after another in `buf`, that sit at the
/// strictly increasing tree positions `pos`, pairwise up the tree: a node is its left child
/// plus its right child, or the one child that holds anything. The result is in `buf[..len]`
/// (zeros when `pos` is empty). Absent leaves behave exactly as zero leaves (`x + 0 = x`), so
/// a sparse row's few leaves give the bits of the full tree.
pub fn combine<T: Float>(pos: &mut Vec<usize>, buf: &mut [T], len: usize) {
    let mut count = pos.len();
    if count == 0 {
        buf[..len].fill(T::ZERO);
        return;
    }
    while count > 1 {
        let (mut out, mut i) = (0, 0);
        while i < count {
            let parent = pos[i] >> 1;
            if i + 1 < count && pos[i + 1] >> 1 == parent {
                let (left, right) = buf.split_at_mut((i + 1) * len);
                let (dst, a) = (out * len, i * len);
                for e in 0..len {
                    // out <= i, so writing slot `out` never clobbers an unread slot.
                    left[dst + e] = left[a + e] + right[e];
                }
                i += 2;
            } else {
                if out != i {
                    buf.copy_within(i * len..(i + 1) * len, out * len);
                }
                i += 1;
            }
            pos[out] = parent;
            out += 1;
        }
        count = out;
    }
    pos.truncate(1);
}

/// Combines `parts` equal-length partials, laid out one after another in `buf`, that are the
/// consecutive nodes `0..parts` of one tree level (a power of two): the top of the tree.
pub fn combine_all<T: Float>(buf: &mut [T], len: usize, parts: usize) {
    let mut pos: Vec<usize> = (0..parts).collect();
    combine(&mut pos, buf, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_sum(v: &[f64]) -> f64 {
        if v.len() == 1 {
            v[0]
        } else {
            let h = v.len() / 2;
            tree_sum(&v[..h]) + tree_sum(&v[h..])
        }
    }

    #[test]
    fn leaves_cover_the_dimension_in_order() {
        for len in [1, 2, 5, 40, 63, 64, 100, 1000, 4096, 400_000] {
            let l = Leaves::new(len);
            assert!(l.count() <= len, "{len}");
            assert_eq!(l.span(0..l.count()), 0..len);
            for i in 0..l.count() {
                assert!(!l.leaf(i).is_empty(), "{len}: leaf {i} empty");
            }
        }
        assert_eq!(Leaves::new(40).levels(), 5);
        assert_eq!(Leaves::new(4096).levels(), 8);
        assert_eq!(Leaves::new(400_000).levels(), 10);
    }

    #[test]
    fn combine_is_the_full_pairwise_tree_with_zero_leaves() {
        // Values whose sums round differently under different bracketings.
        let full: Vec<f64> = (0..16)
            .map(|i| 1.0 + (i as f64) * 1e-16 * 3.7 + 1e10 * f64::from(i % 3 == 0))
            .collect();
        let present = [0usize, 3, 4, 5, 9, 15];
        let mut dense = vec![0.0; 16];
        for &p in &present {
            dense[p] = full[p];
        }
        let mut pos = present.to_vec();
        let mut buf: Vec<f64> = present.iter().map(|&p| full[p]).collect();
        combine(&mut pos, &mut buf, 1);
        assert_eq!(buf[0].to_bits(), tree_sum(&dense).to_bits());
        // A node of the tree, then the top: the same bits as the whole.
        let mut left: Vec<f64> = full[..8].to_vec();
        combine_all(&mut left, 1, 8);
        let mut right: Vec<f64> = full[8..].to_vec();
        combine_all(&mut right, 1, 8);
        let mut top = vec![left[0], right[0]];
        combine_all(&mut top, 1, 2);
        assert_eq!(top[0].to_bits(), tree_sum(&full).to_bits());
    }
}
