//! The natural logarithm in a form the compiler vectorises, for the divergences' `x·ln(x/y)`
//! and `x/y − ln(x/y)` terms: the C library's `log` is one opaque call per entry, and it was
//! most of the time of every KL or IS objective evaluation (42% of a KL fit with a loss trace
//! on the faces).
//!
//! The method is the classic one of Tang and of fdlibm: `v = 2^e·m` with `m` in
//! `[√2/2, √2)`, `f = m − 1`, `s = f/(2 + f)`, and `ln(1 + f) = 2·atanh(s)` from an odd
//! polynomial in `s` (degree 14 minimax coefficients), with `e·ln 2` split in a high part
//! exact in few bits and a low correction. Its error is below one unit in the last place for
//! every positive normal `v`; `ln_lanes` hands other inputs (zero, subnormal, infinite, NaN)
//! to the library `ln`, so the function is exact in its special cases too.
//!
//! Every operation is a plain `f64` operation without fused multiply-add, so the result is the
//! same bits on every instruction set and thread count.

/// Lanes per call of [`ln_lanes`]: a multiple of every vector width we compile for.
pub const LANES: usize = 8;

// The constants keep the digits they are published with (fdlibm's e_log.c, Tang 1990); clippy
// would shorten them to the same doubles.
#[allow(clippy::excessive_precision)]
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
#[allow(clippy::excessive_precision)]
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
#[allow(clippy::excessive_precision)]
const LG1: f64 = 6.666_666_666_666_735_130e-1;
#[allow(clippy::excessive_precision)]
const LG2: f64 = 3.999_999_999_940_941_908e-1;
#[allow(clippy::excessive_precision)]
const LG3: f64 = 2.857_142_874_366_239_149e-1;
#[allow(clippy::excessive_precision)]
const LG4: f64 = 2.222_219_843_214_978_396e-1;
#[allow(clippy::excessive_precision)]
const LG5: f64 = 1.818_357_216_161_805_012e-1;
#[allow(clippy::excessive_precision)]
const LG6: f64 = 1.531_383_769_920_937_332e-1;
#[allow(clippy::excessive_precision)]
const LG7: f64 = 1.479_819_860_511_658_591e-1;

/// `ln v` for a positive normal finite `v` (garbage otherwise: callers check).
#[inline(always)]
fn ln_normal(v: f64) -> f64 {
    let bits = v.to_bits();
    // v = 2^e · m with m in [1, 2); then m in [√2/2, √2) by moving one factor 2 into e.
    let e = ((bits >> 52) as i32) - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let big = m > core::f64::consts::SQRT_2;
    let m = if big { m * 0.5 } else { m };
    let k = f64::from(e + i32::from(big));
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

/// `out[l] = ln(v[l])` for every lane. Lanes that are not positive normal numbers go through
/// the library `ln` (so zero gives −∞, NaN stays NaN), the rest through the vector form.
#[inline(always)]
pub fn ln_lanes(v: &[f64; LANES]) -> [f64; LANES] {
    let mut out = [0.0; LANES];
    let mut normal = true;
    for (o, &x) in out.iter_mut().zip(v) {
        *o = ln_normal(x);
        normal &= x.is_normal() & (x > 0.0);
    }
    if !normal {
        for (o, &x) in out.iter_mut().zip(v) {
            if !(x.is_normal() && x > 0.0) {
                *o = x.ln();
            }
        }
    }
    out
}

/// `ln v` for one value, by the same method as [`ln_lanes`] (for tails shorter than a lane
/// group, so a sum does not depend on where the lane groups end).
#[inline(always)]
pub fn ln(v: f64) -> f64 {
    if v.is_normal() && v > 0.0 {
        ln_normal(v)
    } else {
        v.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance in units in the last place between two finite doubles of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        if a == b {
            return 0;
        }
        let (x, y) = (a.to_bits() as i64, b.to_bits() as i64);
        if (x < 0) != (y < 0) {
            return u64::MAX;
        }
        x.abs_diff(y)
    }

    #[test]
    fn within_one_ulp_of_the_library_log_across_the_exponent_range() {
        // A SplitMix64 stream of bit patterns: every exponent and mantissa.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut worst = 0;
        for _ in 0..200_000 {
            let v = f64::from_bits(next() & 0x7fff_ffff_ffff_ffff);
            if !v.is_normal() {
                continue;
            }
            worst = worst.max(ulps(ln(v), v.ln()));
        }
        // Near 1 (where ln is small and cancellation would show) and at the mantissa split.
        for i in 1..20_000 {
            let d = i as f64 * 1e-9;
            for v in [1.0 + d, 1.0 - d, core::f64::consts::SQRT_2 * (1.0 + d)] {
                worst = worst.max(ulps(ln(v), v.ln()));
            }
        }
        assert!(worst <= 1, "ln off by {worst} ulps");
    }

    #[test]
    fn special_inputs_follow_the_library() {
        let v = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE / 4.0,
            f64::INFINITY,
            f64::NAN,
            -1.0,
            1.0,
            2.0,
        ];
        let out = ln_lanes(&v);
        for (o, x) in out.iter().zip(v) {
            let want = x.ln();
            assert!(
                (o.is_nan() && want.is_nan()) || *o == want,
                "ln({x}) = {o}, want {want}"
            );
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(core::f64::consts::E), 1.0);
    }
}
