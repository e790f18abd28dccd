//! Run-time selection of the widest vector instructions for our own elementwise loops, and
//! the one kernel written in intrinsics ([`col_dots`], small-k `Xᵀ·W` with AVX-512 or AVX2).
//!
//! faer dispatches its GEMM kernels at run time, but loops written here are compiled for the
//! baseline target (SSE2 on x86-64) unless told otherwise; on the machines we measure that is a
//! quarter of the AVX-512 width. [`multiversion!`](crate::multiversion) compiles one function
//! body three times (AVX-512, AVX2, baseline) and picks the best the CPU supports on each call
//! (the feature test is a cached atomic load). Rust never fuses `a * b + c` into an FMA, so
//! every version of a `multiversion!` function computes the same bits. [`col_dots`] is
//! different: its lane sums depend on the vector width and its callers fall back to faer
//! without AVX2, so its products differ in the last bits between AVX-512, AVX2 and other
//! machines.
//!
//! This is the workspace's only `unsafe` (allowed here, denied everywhere else): calling a
//! `#[target_feature]` function is unsafe, and sound once the CPU is known to have the features;
//! [`col_dots`]'s raw loads stay within the columns its safe wrapper has checked.

/// Defines `fn name<T: Bound>(args) [-> Ret]` whose body is compiled for AVX-512, AVX2 and the
/// baseline target, the best supported one chosen at run time (see the [module docs](self)).
///
/// Arguments are plain identifiers (rebind with `let mut` inside the body).
#[macro_export]
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident<$T:ident: $bound:path>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        $body:block
    ) => {
        $(#[$meta])*
        // The workspace denies unsafe code; this call into a `target_feature` function after
        // testing the CPU is the one exception.
        #[allow(unsafe_code)]
        $vis fn $name<$T: $bound>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body<$T: $bound>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn v4<$T: $bound>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn v3<$T: $bound>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU has every feature `v4` is compiled with (tested above).
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above, for `v3`.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// Asks the CPU to start loading the cache lines of `x` (its first and last element) into L1,
/// for a gather that knows its next addresses long before it needs them. A hint only: it never
/// faults, writes or changes a result.
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch<T>(x: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        if let (Some(first), Some(last)) = (x.first(), x.last()) {
            // SAFETY: SSE is part of the x86-64 baseline, so the instruction exists; a
            // prefetch of any address is architecturally a no-op for the program's state.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>((first as *const T).cast::<i8>());
                _mm_prefetch::<_MM_HINT_T0>((last as *const T).cast::<i8>());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Most columns of `b` that [`col_dots`] takes (the components of a small-k factor).
pub const COL_DOTS_MAX_K: usize = 16;

/// The vector width [`col_dots`] runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DotsWidth {
    /// AVX-512F and AVX-512VL (as [`multiversion!`](crate::multiversion)'s widest version):
    /// 4 x 5 accumulators of 8 f64 or 16 f32.
    Avx512,
    /// AVX2 and FMA: 4 x 2 accumulators of 4 f64 or 8 f32.
    Avx2,
}

impl DotsWidth {
    /// Whether this CPU has the instructions.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                DotsWidth::Avx512 => has!("avx512f") && has!("avx512vl"),
                DotsWidth::Avx2 => has!("avx2") && has!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// The widest this CPU supports, if any.
    pub fn best() -> Option<DotsWidth> {
        [DotsWidth::Avx512, DotsWidth::Avx2]
            .into_iter()
            .find(|w| w.supported())
    }
}

/// Whether [`col_dots`] runs on this CPU (AVX-512 or AVX2 with FMA, [`DotsWidth::best`]).
pub fn col_dots_available() -> bool {
    DotsWidth::best().is_some()
}

/// Whether [`col_dots`] takes `x` and `b`: a CPU it runs on ([`col_dots_available`]),
/// `f32` or `f64`, the same row count, at most [`COL_DOTS_MAX_K`] columns in `b` and, unless
/// there is at most one row, unit strides down the columns of both.
pub fn col_dots_applies<T: crate::Float>(x: faer::MatRef<'_, T>, b: faer::MatRef<'_, T>) -> bool {
    col_dots_available() && shapes_fit(x, b)
}

fn shapes_fit<T: crate::Float>(x: faer::MatRef<'_, T>, b: faer::MatRef<'_, T>) -> bool {
    use core::any::TypeId;
    let known =
        TypeId::of::<T>() == TypeId::of::<f64>() || TypeId::of::<T>() == TypeId::of::<f32>();
    known
        && x.nrows() == b.nrows()
        && b.ncols() <= COL_DOTS_MAX_K
        && (x.nrows() <= 1 || (x.row_stride() == 1 && b.row_stride() == 1))
}

/// Calls `add(j, c, s)` with `s` a part of `Σ_i x[i, j]·b[i, c]`, for every column `j` of `x`
/// (n x m) and `c` of `b` (n x k); the parts of one `(j, c)` come in a fixed order (row tiles
/// from the top) and sum to the dot product. Returns `false`, having called nothing, when
/// [`col_dots_applies`] says no. Runs at [`DotsWidth::best`]; the lane sums differ with the
/// width, so AVX-512 and AVX2 machines get different last bits.
///
/// This is `Xᵀ·W` (and `Wᵀ·X`) for a small k without packing X: faer's GEMM transposes X
/// into its panels for every such product, a fifth of a cd fit's time at k = 10 on the faces
/// (docs/performance.md). Here each column of X is read from memory once per row tile, in
/// order, and four of them share every load of `b`'s columns. A row tile holds at most 32 KiB
/// of `b`, which stays in a 48 KiB L1 (Zen 5) together with the four columns that later
/// passes over `b` reread; with a 32 KiB L1 part of it comes from L2. Each `(j, c)` is summed
/// in the same order whichever columns of X come with it, so a caller that splits the columns
/// over threads gets the same bits for any thread count.
pub fn col_dots<T: crate::Float>(
    x: faer::MatRef<'_, T>,
    b: faer::MatRef<'_, T>,
    add: impl FnMut(usize, usize, T),
) -> bool {
    match DotsWidth::best() {
        Some(width) => col_dots_at(width, x, b, add),
        None => false,
    }
}

/// [`col_dots`] at a given width (tests run every width the CPU has); `false`, having called
/// nothing, where the CPU lacks it or the shapes do not fit.
pub fn col_dots_at<T: crate::Float>(
    width: DotsWidth,
    x: faer::MatRef<'_, T>,
    b: faer::MatRef<'_, T>,
    add: impl FnMut(usize, usize, T),
) -> bool {
    if !width.supported() || !shapes_fit(x, b) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use core::any::TypeId;
        let f64s = TypeId::of::<T>() == TypeId::of::<f64>();
        match (width, f64s) {
            (DotsWidth::Avx512, true) => dots::run::<T, dots::F64>(x, b, add),
            (DotsWidth::Avx512, false) => dots::run::<T, dots::F32>(x, b, add),
            (DotsWidth::Avx2, true) => dots::run::<T, dots::F64x4>(x, b, add),
            (DotsWidth::Avx2, false) => dots::run::<T, dots::F32x8>(x, b, add),
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = add;
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod dots {
    use core::arch::x86_64::*;

    /// Columns of X that share each load of `b`.
    const JB: usize = 4;
    /// Room for the columns of `b` of one pass (the sizes of `bs` and `out`): the widest
    /// pass of any width. Each width's own limit is `Lanes::CB` (AVX-512: 4 x 5 accumulators
    /// and 4 + 1 operands, 25 of its 32 registers; AVX2: 4 x 2 and 4 + 1, 13 of its 16).
    const CB: usize = 5;
    /// Bytes of `b` a row tile keeps in L1.
    const TILE_BYTES: usize = 32 * 1024;

    /// One element type's instructions on one vector width. `sum` adds the lanes in a fixed
    /// tree; `group` is [`v4::group`] or [`v3::group`], compiled for the features it needs.
    pub(super) trait Lanes: Sized {
        type E: Copy;
        type V: Copy;
        const LANES: usize;
        /// Columns of `b` per pass: what fits the registers with 4 x C accumulators.
        const CB: usize;
        unsafe fn group<const C: usize>(
            xs: [*const Self::E; JB],
            bs: &[*const Self::E; CB],
            n: usize,
            out: &mut [[f64; CB]; JB],
        );
        unsafe fn zero() -> Self::V;
        unsafe fn load(p: *const Self::E) -> Self::V;
        unsafe fn load_first(p: *const Self::E, count: usize) -> Self::V;
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        unsafe fn sum(a: Self::V) -> f64;
    }

    pub(super) struct F64;
    pub(super) struct F32;

    impl Lanes for F64 {
        type E = f64;
        type V = __m512d;
        const LANES: usize = 8;
        const CB: usize = 5;
        #[inline]
        unsafe fn group<const C: usize>(
            xs: [*const f64; JB],
            bs: &[*const f64; CB],
            n: usize,
            out: &mut [[f64; CB]; JB],
        ) {
            // SAFETY: as `v4::group`'s; the caller tested the CPU for AVX-512.
            unsafe { v4::group::<Self, C>(xs, bs, n, out) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn zero() -> __m512d {
            _mm512_setzero_pd()
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn load(p: *const f64) -> __m512d {
            // SAFETY: the caller passes 8 readable elements. A masked load with every lane
            // on, not `_mm512_loadu_pd`: that one is a `read_unaligned`, whose debug-build
            // checks went through the stack on every load (the dev profile ran 20-50 %
            // slower than faer); the instruction is as fast.
            unsafe { _mm512_maskz_loadu_pd(!0, p) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn load_first(p: *const f64, count: usize) -> __m512d {
            // SAFETY: the caller passes `count` (< 8) readable elements; masked-off lanes
            // are not read (AVX-512 suppresses their faults).
            unsafe { _mm512_maskz_loadu_pd(((1u32 << count) - 1) as __mmask8, p) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn fma(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            _mm512_fmadd_pd(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn sum(a: __m512d) -> f64 {
            let s4 = _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd::<1>(a));
            let s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd::<1>(s4));
            _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)))
        }
    }

    impl Lanes for F32 {
        type E = f32;
        type V = __m512;
        const LANES: usize = 16;
        const CB: usize = 5;
        #[inline]
        unsafe fn group<const C: usize>(
            xs: [*const f32; JB],
            bs: &[*const f32; CB],
            n: usize,
            out: &mut [[f64; CB]; JB],
        ) {
            // SAFETY: as for F64.
            unsafe { v4::group::<Self, C>(xs, bs, n, out) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: the caller passes 16 readable elements (a masked load, as for f64).
            unsafe { _mm512_maskz_loadu_ps(!0, p) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn load_first(p: *const f32, count: usize) -> __m512 {
            // SAFETY: as for f64, `count` < 16 readable elements, the rest masked off.
            unsafe { _mm512_maskz_loadu_ps(((1u32 << count) - 1) as __mmask16, p) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn sum(a: __m512) -> f64 {
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(a)));
            let s8 = _mm256_add_ps(_mm512_castps512_ps256(a), hi);
            let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            let s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
            f64::from(_mm_cvtss_f32(s1))
        }
    }

    pub(super) struct F64x4;
    pub(super) struct F32x8;

    impl Lanes for F64x4 {
        type E = f64;
        type V = __m256d;
        const LANES: usize = 4;
        const CB: usize = 2;
        #[inline]
        unsafe fn group<const C: usize>(
            xs: [*const f64; JB],
            bs: &[*const f64; CB],
            n: usize,
            out: &mut [[f64; CB]; JB],
        ) {
            // SAFETY: as `v3::group`'s; the caller tested the CPU for AVX2 and FMA.
            unsafe { v3::group::<Self, C>(xs, bs, n, out) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn zero() -> __m256d {
            _mm256_setzero_pd()
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load(p: *const f64) -> __m256d {
            // SAFETY: the caller passes 4 readable elements. Masked, as the AVX-512 loads
            // (no `read_unaligned` checks in debug builds).
            unsafe { _mm256_maskload_pd(p, _mm256_set1_epi64x(-1)) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load_first(p: *const f64, count: usize) -> __m256d {
            // SAFETY: the caller passes `count` (< 4) readable elements; `vmaskmovpd` does not
            // read (or fault on) the masked-off lanes.
            unsafe {
                let lane = _mm256_setr_epi64x(0, 1, 2, 3);
                let mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(count as i64), lane);
                _mm256_maskload_pd(p, mask)
            }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fma(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            _mm256_fmadd_pd(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn sum(a: __m256d) -> f64 {
            let s2 = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd::<1>(a));
            _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)))
        }
    }

    impl Lanes for F32x8 {
        type E = f32;
        type V = __m256;
        const LANES: usize = 8;
        const CB: usize = 2;
        #[inline]
        unsafe fn group<const C: usize>(
            xs: [*const f32; JB],
            bs: &[*const f32; CB],
            n: usize,
            out: &mut [[f64; CB]; JB],
        ) {
            // SAFETY: as for F64x4.
            unsafe { v3::group::<Self, C>(xs, bs, n, out) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: the caller passes 8 readable elements (masked, as for f64).
            unsafe { _mm256_maskload_ps(p, _mm256_set1_epi32(-1)) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load_first(p: *const f32, count: usize) -> __m256 {
            // SAFETY: as for f64, `count` < 8 readable elements, the rest masked off.
            unsafe {
                let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), lane);
                _mm256_maskload_ps(p, mask)
            }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn sum(a: __m256) -> f64 {
            let s4 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            let s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
            f64::from(_mm_cvtss_f32(s1))
        }
    }

    /// The loop of [`run`] compiled for one set of CPU features (`$features`): the helpers
    /// inline only into functions with the same features, so each width gets its own copy.
    macro_rules! kernels_for {
        ($name:ident, $features:literal) => {
            pub(super) mod $name {
                use super::{CB, JB, Lanes};

                /// The vector at `p + o`, or its first `count` elements (the rest zero).
                #[inline]
                #[target_feature(enable = $features)]
                unsafe fn at<L: Lanes>(p: *const L::E, o: usize, first: Option<usize>) -> L::V {
                    // SAFETY: the caller passes a readable vector (or its first `count` elements) at `p + o`.
                    unsafe {
                        match first {
                            None => L::load(p.wrapping_add(o)),
                            Some(count) => L::load_first(p.wrapping_add(o), count),
                        }
                    }
                }

                /// Adds `x_q·b` (one vector of a column of `b`) to that column's accumulators.
                #[inline]
                #[target_feature(enable = $features)]
                unsafe fn column<L: Lanes>(xv: &[L::V; JB], bv: L::V, acc: &mut [L::V; JB]) {
                    // SAFETY: register arithmetic only.
                    unsafe {
                        acc[0] = L::fma(xv[0], bv, acc[0]);
                        acc[1] = L::fma(xv[1], bv, acc[1]);
                        acc[2] = L::fma(xv[2], bv, acc[2]);
                        acc[3] = L::fma(xv[3], bv, acc[3]);
                    }
                }

                /// The `JB x C` dot products of the columns at `xs` with those at `bs`, `n` rows each.
                ///
                /// Written out without loops over the accumulators: at the dev profile's opt-level 2 LLVM
                /// does not unroll such loops and keeps the accumulators on the stack (measured 40 %
                /// slower than faer there).
                #[target_feature(enable = $features)]
                pub(in super::super) unsafe fn group<L: Lanes, const C: usize>(
                    xs: [*const L::E; JB],
                    bs: &[*const L::E; CB],
                    n: usize,
                    out: &mut [[f64; CB]; JB],
                ) {
                    // SAFETY: the caller guarantees `n` readable elements at every pointer (the first C
                    // of `bs`).
                    unsafe {
                        let z = L::zero();
                        let (mut a0, mut a1, mut a2, mut a3, mut a4) =
                            ([z; JB], [z; JB], [z; JB], [z; JB], [z; JB]);
                        let full = n / L::LANES;
                        let rest = n % L::LANES;
                        // One step of rows at offset `o`: a whole vector, or the first `count` rows.
                        macro_rules! step {
                            ($o:expr, $first:expr) => {{
                                let (o, first) = ($o, $first);
                                let xv = [
                                    at::<L>(xs[0], o, first),
                                    at::<L>(xs[1], o, first),
                                    at::<L>(xs[2], o, first),
                                    at::<L>(xs[3], o, first),
                                ];
                                column::<L>(&xv, at::<L>(bs[0], o, first), &mut a0);
                                if C > 1 {
                                    column::<L>(&xv, at::<L>(bs[1], o, first), &mut a1);
                                }
                                if C > 2 {
                                    column::<L>(&xv, at::<L>(bs[2], o, first), &mut a2);
                                }
                                if C > 3 {
                                    column::<L>(&xv, at::<L>(bs[3], o, first), &mut a3);
                                }
                                if C > 4 {
                                    column::<L>(&xv, at::<L>(bs[4], o, first), &mut a4);
                                }
                            }};
                        }
                        for v in 0..full {
                            step!(v * L::LANES, None);
                        }
                        if rest != 0 {
                            step!(full * L::LANES, Some(rest));
                        }
                        // Constant indices only (as in the loop): an accumulator indexed at run time
                        // would have its address taken and be stored on every step at opt-level 2.
                        macro_rules! reduce {
                            ($acc:ident, $c:literal) => {
                                if C > $c {
                                    out[0][$c] = L::sum($acc[0]);
                                    out[1][$c] = L::sum($acc[1]);
                                    out[2][$c] = L::sum($acc[2]);
                                    out[3][$c] = L::sum($acc[3]);
                                }
                            };
                        }
                        reduce!(a0, 0);
                        reduce!(a1, 1);
                        reduce!(a2, 2);
                        reduce!(a3, 3);
                        reduce!(a4, 4);
                    }
                }
            }
        };
    }
    kernels_for!(v4, "avx512f,avx512vl,avx2,fma");
    kernels_for!(v3, "avx2,fma");

    /// [`super::col_dots_at`] for element type `L::E` (which is `T`, tested by the caller) at
    /// `L`'s width (which the CPU has, tested by the caller).
    pub(super) fn run<T: crate::Float, L: Lanes>(
        x: faer::MatRef<'_, T>,
        b: faer::MatRef<'_, T>,
        mut add: impl FnMut(usize, usize, T),
    ) {
        debug_assert_eq!(size_of::<T>(), size_of::<L::E>());
        let (n, m, k) = (x.nrows(), x.ncols(), b.ncols());
        if n == 0 || m == 0 || k == 0 {
            return;
        }
        let lanes = L::LANES;
        let tile = (TILE_BYTES / (k * size_of::<T>()) / lanes * lanes).max(lanes);
        // `b`'s columns in passes of at most `L::CB`, as even as they go (AVX-512: 10 = 5 + 5,
        // 16 = 4 x 4).
        let passes = k.div_ceil(L::CB);
        let (base, extra) = (k / passes, k % passes);
        let mut out = [[0.0f64; CB]; JB];
        let xcol = |j: usize, i0: usize| x.get(i0.., j).as_ptr().cast::<L::E>();
        let bcol = |c: usize, i0: usize| b.get(i0.., c).as_ptr().cast::<L::E>();
        let mut i0 = 0;
        while i0 < n {
            let rows = tile.min(n - i0);
            for j0 in (0..m).step_by(JB) {
                // A short last group repeats its last column (results dropped).
                let xs = [0, 1, 2, 3].map(|q| xcol((j0 + q).min(m - 1), i0));
                // The passes over `b` reread these JB columns from L1.
                let mut c0 = 0;
                for p in 0..passes {
                    let cn = base + usize::from(p < extra);
                    debug_assert!(cn <= L::CB, "a pass wider than the width's registers");
                    let mut bs = [core::ptr::null::<L::E>(); CB];
                    for (c, slot) in bs.iter_mut().enumerate().take(cn) {
                        *slot = bcol(c0 + c, i0);
                    }
                    // SAFETY: every pointer is the start of `rows` elements of one column
                    // (unit row stride, tested by `col_dots_at`), and the CPU has the
                    // features of `L`'s width (tested by `col_dots_at`).
                    unsafe {
                        match cn {
                            1 => L::group::<1>(xs, &bs, rows, &mut out),
                            2 => L::group::<2>(xs, &bs, rows, &mut out),
                            3 => L::group::<3>(xs, &bs, rows, &mut out),
                            4 => L::group::<4>(xs, &bs, rows, &mut out),
                            _ => L::group::<5>(xs, &bs, rows, &mut out),
                        }
                    }
                    for (q, row) in out.iter().enumerate().take(JB.min(m - j0)) {
                        for (c, &s) in row.iter().enumerate().take(cn) {
                            add(j0 + q, c0 + c, T::from_f64(s));
                        }
                    }
                    c0 += cn;
                }
            }
            i0 += rows;
        }
    }
}
