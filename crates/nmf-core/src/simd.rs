//! Run-time selection of the widest vector instructions for our own elementwise loops.
//!
//! faer dispatches its GEMM kernels at run time, but loops written here are compiled for the
//! baseline target (SSE2 on x86-64) unless told otherwise; on the machines we measure that is a
//! quarter of the AVX-512 width. [`multiversion!`](crate::multiversion) compiles one function
//! body three times (AVX-512, AVX2, baseline) and picks the best the CPU supports on each call
//! (the feature test is a cached atomic load). Rust never fuses `a * b + c` into an FMA, so
//! every version computes the same bits.
//!
//! This is the workspace's only `unsafe` (allowed here, denied everywhere else): calling a
//! `#[target_feature]` function is unsafe, and sound once the CPU is known to have the features.

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
