//! The initialisation methods and the one entry point, [`initialize`].

use nmf_core::mat;
use std::time::Instant;

use faer::{Mat, MatRef, Par};
use nmf_core::{DataRef, Float, check};
use rand::SeedableRng;
use rand_distr::Distribution;

use crate::error::InitError;
use crate::mt19937::RandomState;
use crate::svd::{self, SvdPath, Truncated};

/// How to compute the starting factors `W0`, `H0`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Init<T> {
    /// scikit-learn's default rule: `NndsvdA` when k <= min(n, m), otherwise `Random`.
    #[default]
    Auto,
    /// `|N(0, 1)|·sqrt(mean(X)/k)` entries, H drawn before W (as scikit-learn).
    Random,
    /// Nonnegative double SVD (Boutsidis & Gallopoulos 2008); keeps its zeros (good for sparse
    /// factors, but multiplicative updates can never move a zero).
    Nndsvd,
    /// NNDSVD with zeros filled by mean(X) (good when sparseness is not wanted).
    NndsvdA,
    /// NNDSVD with zeros filled by small random values `|mean(X)·N(0,1)/100|`.
    NndsvdAr,
    /// Caller-supplied factors (checked: shapes, finite, nonnegative, not all zero).
    Custom {
        /// W0, n_samples x k.
        w: Mat<T>,
        /// H0, k x n_features.
        h: Mat<T>,
    },
}

/// The method an [`Init`] resolved to (after the `Auto` rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum InitKind {
    /// Scaled half-normal entries.
    Random,
    /// NNDSVD.
    Nndsvd,
    /// NNDSVD, zeros filled with the mean.
    #[cfg_attr(feature = "serde", serde(rename = "nndsvda"))]
    NndsvdA,
    /// NNDSVD, zeros filled with small random values.
    #[cfg_attr(feature = "serde", serde(rename = "nndsvdar"))]
    NndsvdAr,
    /// Caller-supplied factors.
    Custom,
}

impl InitKind {
    /// scikit-learn's name for it.
    pub fn name(self) -> &'static str {
        match self {
            InitKind::Random => "random",
            InitKind::Nndsvd => "nndsvd",
            InitKind::NndsvdA => "nndsvda",
            InitKind::NndsvdAr => "nndsvdar",
            InitKind::Custom => "custom",
        }
    }
}

impl core::fmt::Display for InitKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Native numerics, or scikit-learn's stream and randomized SVD for identical results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Compat {
    /// Exact truncated SVD for NNDSVD and a modern RNG (xoshiro256++) for random draws.
    #[default]
    Native,
    /// scikit-learn's randomized SVD and NumPy's `RandomState(seed)` stream, so the same integer
    /// seed gives scikit-learn's `random_state` results.
    Sklearn,
}

/// What the initialisation did, for the fit report.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct InitReport {
    /// The method used.
    pub kind: InitKind,
    /// The SVD used (NNDSVD family only).
    pub svd: Option<SvdPath>,
    /// Seconds spent in the SVD.
    pub svd_seconds: f64,
    /// Seconds for the whole initialisation.
    pub seconds: f64,
}

impl InitReport {
    /// The report of a start the caller supplied (a resumed online state, say): kind
    /// `Custom`, no SVD, nothing timed.
    pub fn supplied() -> Self {
        InitReport {
            kind: InitKind::Custom,
            svd: None,
            svd_seconds: 0.0,
            seconds: 0.0,
        }
    }
}

/// Starting factors and how they were made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Factors<T> {
    /// W0 (n_samples x k).
    pub w: Mat<T>,
    /// H0 (k x n_features).
    pub h: Mat<T>,
    /// What was done.
    pub report: InitReport,
}

/// scikit-learn drops NNDSVD entries below this to exact zero.
const NNDSVD_EPS: f64 = 1e-6;

/// A source of standard normals: NumPy's legacy stream or xoshiro256++.
enum Normals {
    Numpy(Box<RandomState>),
    Native(rand::rngs::Xoshiro256PlusPlus),
}

impl Normals {
    fn new(seed: u64, compat: Compat) -> Result<Self, InitError> {
        Ok(match compat {
            Compat::Sklearn => Normals::Numpy(Box::new(RandomState::new(sklearn_seed(seed)?))),
            Compat::Native => Normals::Native(rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed)),
        })
    }
    fn next(&mut self) -> f64 {
        match self {
            Normals::Numpy(r) => r.standard_normal(),
            Normals::Native(r) => Distribution::<f64>::sample(&rand_distr::StandardNormal, r),
        }
    }
}

/// Checks a seed fits NumPy's `RandomState` (0..2^32).
pub fn sklearn_seed(seed: u64) -> Result<u32, InitError> {
    u32::try_from(seed).map_err(|_| InitError::SeedOutOfRange { seed })
}

fn mean<T: Float>(x: DataRef<'_, T>) -> f64 {
    x.sum() / (x.nrows() as f64 * x.ncols() as f64)
}

/// `mean(X)` in X's precision: the fill value of `NndsvdA`/`NndsvdAr` and the scale of `Random`.
///
/// scikit-learn takes `X.mean()`, whose rounding depends on X's kind: SciPy's sparse mean is
/// `Σ x·(1/(nm))` over the stored values (reciprocal rounded first, each product rounded in X's
/// dtype, then NumPy's pairwise sum over the value array, in that dtype), which can differ in the
/// last bit from the dense `sum/(nm)`. `Compat::Sklearn` on sparse X follows that rule; everything
/// else uses the f64-accumulated `sum/(nm)`.
fn data_mean<T: Float>(x: DataRef<'_, T>, compat: Compat) -> T {
    match (compat, x) {
        (Compat::Sklearn, DataRef::Sparse(s)) => {
            let (n, m) = s.shape();
            scipy_sparse_mean(s.values(), n, m)
        }
        _ => T::from_f64(mean(x)),
    }
}

/// SciPy's `mean()` of an n x m sparse matrix with stored values `values` (CSR order, which is
/// the order of SciPy's canonical `data`; see [`data_mean`]).
pub(crate) fn scipy_sparse_mean<T: Float>(values: &[T], n: usize, m: usize) -> T {
    // 1/(nm) as Python computes `1. / (n*m)`: the integer converted to float64, then divided,
    // then (for float32 data) the scalar cast to float32.
    let r = T::from_f64(1.0 / ((n as u128 * m as u128) as f64));
    numpy_pairwise_sum(values, &|v| v * r)
}

/// NumPy's pairwise summation of `f(a_i)` in `T` (its `add.reduce` on a contiguous array):
/// fewer than 8 terms are summed in order from 0; up to 128 terms go into 8 interleaved
/// accumulators combined as `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`, then the remainder in order;
/// longer runs split at half rounded down to a multiple of 8 and add the two halves.
/// (NumPy starts the reduction from the identity 0, which leaves the sum unchanged.)
pub(crate) fn numpy_pairwise_sum<T: Float>(a: &[T], f: &dyn Fn(T) -> T) -> T {
    let n = a.len();
    if n < 8 {
        let mut res = T::ZERO;
        for &v in a {
            res += f(v);
        }
        res
    } else if n <= 128 {
        let mut r = [T::ZERO; 8];
        for (ri, &v) in r.iter_mut().zip(a) {
            *ri = f(v);
        }
        let full = n - n % 8;
        for c in a[8..full].chunks_exact(8) {
            for (ri, &v) in r.iter_mut().zip(c) {
                *ri += f(v);
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[full..] {
            res += f(v);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&a[..n2], f) + numpy_pairwise_sum(&a[n2..], f)
    }
}

/// Computes starting factors for `X ≈ W·H` with `k` components.
///
/// `seed` drives every random draw (`Random`, `NndsvdAr`, the randomized SVD and the Lanczos
/// start vector). With `Compat::Sklearn` the result equals scikit-learn's
/// `_initialize_nmf(X, k, init, random_state=seed)` to rounding.
///
/// # Errors
/// Invalid `X` (empty, non-finite, negative), `k = 0`, `k > min(n, m)` for the NNDSVD family, a
/// custom factor of the wrong shape or with invalid values, a seed beyond 32 bits in
/// `Compat::Sklearn`, or an SVD that does not converge.
pub fn initialize<'a, T: Float>(
    x: impl Into<DataRef<'a, T>>,
    k: usize,
    init: &Init<T>,
    seed: u64,
    compat: Compat,
    par: Par,
) -> Result<Factors<T>, InitError> {
    let start = Instant::now();
    let x = x.into();
    x.validate("X")?;
    if k == 0 {
        return Err(nmf_core::CoreError::invalid("n_components", k, "an integer >= 1").into());
    }
    let (n, m) = x.shape();
    let kind = match init {
        Init::Auto if k <= n.min(m) => InitKind::NndsvdA,
        Init::Auto => InitKind::Random,
        Init::Random => InitKind::Random,
        Init::Nndsvd => InitKind::Nndsvd,
        Init::NndsvdA => InitKind::NndsvdA,
        Init::NndsvdAr => InitKind::NndsvdAr,
        Init::Custom { .. } => InitKind::Custom,
    };
    if compat == Compat::Sklearn {
        sklearn_seed(seed)?;
    }
    let mut report = InitReport {
        kind,
        svd: None,
        svd_seconds: 0.0,
        seconds: 0.0,
    };
    let (w, h) = match (kind, init) {
        (InitKind::Custom, Init::Custom { w, h }) => {
            check_custom("W", w.as_ref(), n, k)?;
            check_custom("H", h.as_ref(), k, m)?;
            (mat::copy(w.as_ref()), mat::copy(h.as_ref()))
        }
        (InitKind::Random, _) => random(x, k, seed, compat)?,
        _ => {
            if k > n.min(m) {
                return Err(InitError::RankTooLarge {
                    init: kind.name(),
                    k,
                    max: n.min(m),
                });
            }
            let t0 = Instant::now();
            // Both SVDs see X only through its products, so sparse X is never densified.
            let (t, path) = match compat {
                Compat::Sklearn => {
                    let mut rng = RandomState::new(sklearn_seed(seed)?);
                    (
                        svd::randomized_sklearn(x, k, &mut rng, par)?,
                        SvdPath::Randomized,
                    )
                }
                Compat::Native => svd::exact_truncated(x, k, seed, par)?,
            };
            report.svd = Some(path);
            report.svd_seconds = t0.elapsed().as_secs_f64();
            let (mut w, mut h) = nndsvd(&t);
            match kind {
                InitKind::NndsvdA => {
                    let avg = data_mean(x, compat);
                    fill_zeros(&mut w, |_| avg);
                    fill_zeros(&mut h, |_| avg);
                }
                InitKind::NndsvdAr => {
                    let avg = data_mean(x, compat).to_f64();
                    let mut rng = Normals::new(seed, compat)?;
                    fill_zeros(&mut w, |_| T::from_f64((avg * rng.next() / 100.0).abs()));
                    fill_zeros(&mut h, |_| T::from_f64((avg * rng.next() / 100.0).abs()));
                }
                _ => {}
            }
            (w, h)
        }
    };
    report.seconds = start.elapsed().as_secs_f64();
    Ok(Factors { w, h, report })
}

fn check_custom<T: Float>(
    what: &'static str,
    a: MatRef<'_, T>,
    rows: usize,
    cols: usize,
) -> Result<(), InitError> {
    check::ensure_shape(what, a, rows, cols)?;
    check::ensure_finite(what, a)?;
    check::ensure_nonneg(what, a)?;
    check::ensure_not_all_zero(what, a)?;
    Ok(())
}

/// `|N(0,1)|·sqrt(mean(X)/k)`, H (k x m) drawn first then W (n x k), each row-major.
fn random<T: Float>(
    x: DataRef<'_, T>,
    k: usize,
    seed: u64,
    compat: Compat,
) -> Result<(Mat<T>, Mat<T>), InitError> {
    let (n, m) = x.shape();
    random_draws(data_mean(x, compat), n, m, k, seed, compat)
}

/// The `Random` start of an `n x m` matrix whose mean is `mean`, for data that cannot be read
/// whole (a matrix streamed by rows: its mean comes from one pass). With the mean
/// [`initialize`] would compute, the factors are the same bits as its `Init::Random`.
///
/// # Errors
/// `k = 0`, a mean that is negative or not finite, a seed beyond 32 bits in `Compat::Sklearn`.
pub fn random_from_mean<T: Float>(
    mean: T,
    (n, m): (usize, usize),
    k: usize,
    seed: u64,
    compat: Compat,
) -> Result<Factors<T>, InitError> {
    let start = Instant::now();
    if k == 0 {
        return Err(nmf_core::CoreError::invalid("n_components", k, "an integer >= 1").into());
    }
    if !(mean.is_finite() && mean >= T::ZERO) {
        return Err(nmf_core::CoreError::invalid(
            "mean",
            mean.to_f64(),
            "a finite number >= 0 (the mean of a nonnegative X)",
        )
        .into());
    }
    let (w, h) = random_draws(mean, n, m, k, seed, compat)?;
    Ok(Factors {
        w,
        h,
        report: InitReport {
            kind: InitKind::Random,
            svd: None,
            svd_seconds: 0.0,
            seconds: start.elapsed().as_secs_f64(),
        },
    })
}

fn random_draws<T: Float>(
    mean: T,
    n: usize,
    m: usize,
    k: usize,
    seed: u64,
    compat: Compat,
) -> Result<(Mat<T>, Mat<T>), InitError> {
    // As scikit-learn: the scale is computed in the data's precision.
    let avg = (mean / T::from_usize(k)).sqrt();
    let mut rng = Normals::new(seed, compat)?;
    let mut h = mat::zeros::<T>(k, m);
    for i in 0..k {
        for j in 0..m {
            h[(i, j)] = (avg * T::from_f64(rng.next())).abs();
        }
    }
    let mut w = mat::zeros::<T>(n, k);
    for i in 0..n {
        for j in 0..k {
            w[(i, j)] = (avg * T::from_f64(rng.next())).abs();
        }
    }
    Ok((w, h))
}

/// The NNDSVD construction from the top-k triplets, with entries below 1e-6 set to zero.
///
/// Where scikit-learn would divide by a zero norm (a singular pair whose chosen positive or
/// negative parts vanish), the component is set to zero instead of NaN.
fn nndsvd<T: Float>(t: &Truncated<T>) -> (Mat<T>, Mat<T>) {
    let (n, k) = t.u.shape();
    let m = t.v.nrows();
    let mut w = mat::zeros::<T>(n, k);
    let mut h = mat::zeros::<T>(k, m);
    let norm =
        |it: &mut dyn Iterator<Item = T>| it.map(|v| v.to_f64() * v.to_f64()).sum::<f64>().sqrt();
    for j in 0..k {
        let sj = t.s[j].max(T::ZERO);
        let (u, v) = (t.u.col(j), t.v.col(j));
        if j == 0 {
            let r = sj.sqrt();
            for i in 0..n {
                w[(i, 0)] = r * u[i].abs();
            }
            for i in 0..m {
                h[(0, i)] = r * v[i].abs();
            }
            continue;
        }
        let pos = |a: T| a.max(T::ZERO);
        let neg = |a: T| (-a).max(T::ZERO);
        let (xp, yp) = (
            norm(&mut u.iter().map(|&a| pos(a))),
            norm(&mut v.iter().map(|&a| pos(a))),
        );
        let (xn, yn) = (
            norm(&mut u.iter().map(|&a| neg(a))),
            norm(&mut v.iter().map(|&a| neg(a))),
        );
        let (mp, mn) = (xp * yp, xn * yn);
        let (part, xnrm, ynrm, sigma): (&dyn Fn(T) -> T, f64, f64, f64) = if mp > mn {
            (&pos, xp, yp, mp)
        } else {
            (&neg, xn, yn, mn)
        };
        if xnrm == 0.0 || ynrm == 0.0 {
            continue; // a dead component: zeros, never 0/0
        }
        let lbd = T::from_f64((sj.to_f64() * sigma).sqrt());
        let (xnrm, ynrm) = (T::from_f64(xnrm), T::from_f64(ynrm));
        for i in 0..n {
            w[(i, j)] = lbd * (part(u[i]) / xnrm);
        }
        for i in 0..m {
            h[(j, i)] = lbd * (part(v[i]) / ynrm);
        }
    }
    let eps = T::from_f64(NNDSVD_EPS);
    for a in [&mut w, &mut h] {
        a.for_each_mut(|v| {
            if *v < eps {
                *v = T::ZERO
            }
        });
    }
    (w, h)
}

/// Replaces each exact zero, in row-major order, by `f(())` (the order scikit-learn fills in).
fn fill_zeros<T: Float>(a: &mut Mat<T>, mut f: impl FnMut(()) -> T) {
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            if a[(i, j)] == T::ZERO {
                a[(i, j)] = f(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_is_numpys() {
        // np.array([((i*7919) % 1000)/997.0 for i in range(20000)]).sum() (NumPy 2.4.6) and the
        // same array as float32: lengths over 128 and over 8192 exercise the splits.
        let a: Vec<f64> = (0..20000)
            .map(|i| ((i * 7919) % 1000) as f64 / 997.0)
            .collect();
        let s = numpy_pairwise_sum(&a, &|v| v);
        assert_eq!(s.to_bits(), 4666734200668223761);
        let b: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        assert_eq!(numpy_pairwise_sum(&b, &|v| v).to_bits(), 1176277054);
        // Short runs: in order from 0.
        assert_eq!(
            numpy_pairwise_sum(&[0.1, 0.2, 0.3], &|v| v),
            (0.0 + 0.1) + 0.2 + 0.3
        );
    }

    #[test]
    fn sparse_mean_is_scipys_on_the_g_matrix() {
        // docs/sparse.md 4: SciPy's mean of G is 0.30353233333333335 (f64) and 0.30353236 (f32),
        // NumPy's dense mean 0.3035323333333333.
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures-scale"
        );
        let Ok(bytes) = std::fs::read(format!("{dir}/g_X_dense.npy")) else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "fixtures missing"
            );
            eprintln!("skipping: {dir} not found");
            return;
        };
        // A 60 x 40 C-order float64 .npy: the data start after the 128-byte header.
        let vals: Vec<f64> = bytes[128..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(vals.len(), 2400);
        let x = Mat::from_fn(60, 40, |i, j| vals[i * 40 + j]);
        let s = nmf_core::SparseMat::from_dense(x.as_ref()).unwrap();
        let m = data_mean(DataRef::from(&s), Compat::Sklearn);
        assert_eq!(m, 0.30353233333333335);
        let s32 = s.map_values(|v| v as f32);
        let m32 = data_mean(DataRef::from(&s32), Compat::Sklearn);
        assert_eq!(m32.to_bits(), 1050372248);
        // Native and dense keep the f64-accumulated sum / (nm).
        let native: f64 = data_mean(DataRef::from(&s), Compat::Native);
        assert!((native - mean(DataRef::from(&x))).abs() <= 1e-15);
    }
}
