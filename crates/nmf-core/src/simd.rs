//! Run-time selection of the widest vector instructions for our own elementwise loops, and
//! the one kernel written in intrinsics ([`col_dots`], small-k `Xᵀ·W` with AVX-512).
//!
//! faer dispatches its GEMM kernels at run time, but loops written here are compiled for the
//! baseline target (SSE2 on x86-64) unless told otherwise; on the machines we measure that is a
//! quarter of the AVX-512 width. [`multiversion!`](crate::multiversion) compiles one function
//! body three times (AVX-512, AVX2, baseline) and picks the best the CPU supports on each call
//! (the feature test is a cached atomic load). Rust never fuses `a * b + c` into an FMA, so
//! every version of a `multiversion!` function computes the same bits. [`col_dots`] is
//! different: it runs only with AVX-512 and its callers fall back to faer elsewhere, so its
//! products differ in the last bits between AVX-512 machines and others.
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

/// Whether [`col_dots`] runs on this CPU: it needs AVX-512F (with AVX-512VL, as
/// [`multiversion!`](crate::multiversion)'s widest version, so that both start at the same CPUs).
pub fn col_dots_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether [`col_dots`] takes `x` and `b`: a CPU with AVX-512 ([`col_dots_available`]),
/// `f32` or `f64`, the same row count, at most [`COL_DOTS_MAX_K`] columns in `b` and, unless
/// there is at most one row, unit strides down the columns of both.
pub fn col_dots_applies<T: crate::Float>(x: faer::MatRef<'_, T>, b: faer::MatRef<'_, T>) -> bool {
    use core::any::TypeId;
    let known =
        TypeId::of::<T>() == TypeId::of::<f64>() || TypeId::of::<T>() == TypeId::of::<f32>();
    known
        && col_dots_available()
        && x.nrows() == b.nrows()
        && b.ncols() <= COL_DOTS_MAX_K
        && (x.nrows() <= 1 || (x.row_stride() == 1 && b.row_stride() == 1))
}

/// Calls `add(j, c, s)` with `s` a part of `Σ_i x[i, j]·b[i, c]`, for every column `j` of `x`
/// (n x m) and `c` of `b` (n x k); the parts of one `(j, c)` come in a fixed order (row tiles
/// from the top) and sum to the dot product. Returns `false`, having called nothing, when
/// [`col_dots_applies`] says no.
///
/// This is `Xᵀ·W` (and `Wᵀ·X`) for a small k without packing X: faer's GEMM transposes X
/// into its panels for every such product, a fifth of a cd fit's time at k = 10 on the faces
/// (docs/performance.md). Here each column of X is read from memory once per row tile, in
/// order, and four of them share every load of `b`'s columns. A row tile holds at most 32 KiB
/// of `b`, which stays in a 48 KiB L1 (Zen 5) together with the four columns that a second
/// pass over `b` (k > 5) rereads; with a 32 KiB L1 part of it comes from L2. Each `(j, c)` is summed in the same order whichever columns
/// of X come with it, so a caller that splits the columns over threads gets the same bits
/// for any thread count.
pub fn col_dots<T: crate::Float>(
    x: faer::MatRef<'_, T>,
    b: faer::MatRef<'_, T>,
    add: impl FnMut(usize, usize, T),
) -> bool {
    if !col_dots_applies(x, b) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use core::any::TypeId;
        if TypeId::of::<T>() == TypeId::of::<f64>() {
            dots::run::<T, dots::F64>(x, b, add);
        } else {
            dots::run::<T, dots::F32>(x, b, add);
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
    /// Most columns of `b` per pass over a group (4 x 5 accumulators, 4 + 1 operand registers:
    /// 25 of AVX-512's 32).
    const CB: usize = 5;
    /// Bytes of `b` a row tile keeps in L1.
    const TILE_BYTES: usize = 32 * 1024;

    /// One element type's instructions. `sum` adds the lanes in a fixed tree.
    pub(super) trait Lanes {
        type E: Copy;
        type V: Copy;
        const LANES: usize;
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

    /// The vector at `p + o`, or its first `count` elements (the rest zero).
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
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
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
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
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    unsafe fn group<L: Lanes, const C: usize>(
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

    /// [`super::col_dots`] for element type `L::E` (which is `T`, tested by the caller).
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
        // `b`'s columns in passes of at most CB, as even as they go (10 = 5 + 5, 16 = 4 x 4).
        let passes = k.div_ceil(CB);
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
                    let mut bs = [core::ptr::null::<L::E>(); CB];
                    for (c, slot) in bs.iter_mut().enumerate().take(cn) {
                        *slot = bcol(c0 + c, i0);
                    }
                    // SAFETY: every pointer is the start of `rows` elements of one column
                    // (unit row stride, tested by `col_dots`), and the CPU has AVX-512F
                    // and AVX-512VL (tested by `col_dots`).
                    unsafe {
                        match cn {
                            1 => group::<L, 1>(xs, &bs, rows, &mut out),
                            2 => group::<L, 2>(xs, &bs, rows, &mut out),
                            3 => group::<L, 3>(xs, &bs, rows, &mut out),
                            4 => group::<L, 4>(xs, &bs, rows, &mut out),
                            _ => group::<L, 5>(xs, &bs, rows, &mut out),
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
