//! The scalar trait every algorithm in the workspace is generic over.

use core::fmt::{Debug, Display};
use core::ops::Neg;

mod sealed {
    /// Keeps [`super::Float`] to the two types the kernels are written and tested for.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A real floating-point scalar: implemented for `f32` and `f64` only (sealed).
///
/// It bundles what faer needs for its kernels ([`faer::traits::RealField`]) with the few
/// elementary functions the NMF algorithms use, so generic code never has to name `f32`/`f64`.
pub trait Float:
    sealed::Sealed
    + faer::traits::RealField
    + Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + Neg<Output = Self>
    + 'static
{
    /// `0`.
    const ZERO: Self;
    /// `1`.
    const ONE: Self;
    /// Machine epsilon of this type.
    const EPSILON: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Type name as numpy spells it (`float32`, `float64`).
    const NAME: &'static str;

    /// Conversion from `f64` (rounds to nearest for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Conversion to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Conversion from `usize` (rounded).
    fn from_usize(v: usize) -> Self {
        Self::from_f64(v as f64)
    }
    /// Square root.
    fn sqrt(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `self` raised to a real power.
    fn powf(self, e: Self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Larger of two values (NaN-ignoring like `f64::max`).
    fn max(self, o: Self) -> Self;
    /// Smaller of two values (NaN-ignoring like `f64::min`).
    fn min(self, o: Self) -> Self;
    /// `true` unless NaN or infinite.
    fn is_finite(self) -> bool;
    /// `self · a + b` rounded once. One instruction in code compiled with the `fma` feature
    /// (the AVX2 and AVX-512 versions of [`multiversion!`](crate::multiversion)), a correctly
    /// rounded library call elsewhere: slow there, but the same bits everywhere.
    fn fma(self, a: Self, b: Self) -> Self;
}

macro_rules! impl_float {
    ($t:ident, $name:literal) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $t::EPSILON;
            const MIN_POSITIVE: Self = $t::MIN_POSITIVE;
            const MAX: Self = $t::MAX;
            const NAME: &'static str = $name;

            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn powf(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                $t::max(self, o)
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                $t::min(self, o)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn fma(self, a: Self, b: Self) -> Self {
                $t::mul_add(self, a, b)
            }
        }
    };
}

impl_float!(f32, "float32");
impl_float!(f64, "float64");

/// scikit-learn's `EPSILON`: float32 machine epsilon (2^-23), used for every dtype.
///
/// scikit-learn clips `W·H` and skips near-zero entries of `X` at this threshold in the
/// beta-divergence and in the multiplicative updates, even for float64 data; we do the same so
/// that losses and factors agree with it.
pub const SKLEARN_EPS: f64 = f32::EPSILON as f64;

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip<T: Float>() {
        assert_eq!(T::from_f64(0.5).to_f64(), 0.5);
        assert_eq!(T::from_f64(4.0).sqrt().to_f64(), 2.0);
        assert_eq!(T::ONE.ln().to_f64(), 0.0);
        assert_eq!(T::from_f64(-3.0).abs().to_f64(), 3.0);
        assert!(!T::from_f64(f64::NAN).is_finite());
        assert_eq!(T::from_f64(2.0).powf(T::from_f64(3.0)).to_f64(), 8.0);
        // Rounded once: (1 + ε)(1 − ε) − 1 = −ε² exactly, where a separate product rounds to 1.
        let (e, one) = (T::EPSILON, T::ONE);
        let fused = (one + e).fma(one - e, -one);
        assert_eq!(fused.to_f64(), -(e.to_f64() * e.to_f64()));
        assert_eq!(((one + e) * (one - e) - one).to_f64(), 0.0);
    }

    #[test]
    fn both_precisions_behave() {
        roundtrip::<f32>();
        roundtrip::<f64>();
        assert_eq!(SKLEARN_EPS, 1.1920928955078125e-7);
    }
}
