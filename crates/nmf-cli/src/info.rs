//! `nmf info`: what a data file holds and what factoring it would cost, or what a model folder
//! holds. The cost is measured, not guessed: the two products with X that dominate a cd or
//! mu-Frobenius iteration are timed once on the actual data at the requested k.

use std::time::Instant;

use anyhow::Result;
use faer::{Mat, Par};
use nmf::io::NpyFloat;
use nmf::model_file;
use serde_json::json;

use crate::cli::{Dtype, InfoArgs};
use crate::data::{self, Matrix};
use crate::progress::Output;

/// `nmf info`.
pub fn info(a: &InfoArgs, out: Output) -> Result<()> {
    if a.data.is_dir() {
        return model_info(a, out);
    }
    match data::resolve_dtype(&a.data, Dtype::Auto)? {
        Dtype::F32 => info_as::<f32>(a, out),
        _ => info_as::<f64>(a, out),
    }
}

fn model_info(a: &InfoArgs, out: Output) -> Result<()> {
    let j = model_file::read_model_json(&a.data)?;
    let s = j.shape;
    out.say(&format!(
        "model {}: {} x {} data, k = {}, {}, solver {}, loss {}, {} iterations ({}), reconstruction_err {:.6e}; format {} written by nmf-rs {}",
        a.data.display(),
        s.n_samples,
        s.n_features,
        s.n_components,
        j.dtype,
        j.params.solver,
        j.params.loss,
        j.report.n_iter,
        j.report.stop_reason,
        j.report.reconstruction_err,
        j.format_version,
        j.library_version
    ));
    out.result(&json!({ "ok": true, "command": "info", "model": j }));
    Ok(())
}

/// Counts over the entries of X (stored ones for sparse data).
#[derive(Default)]
struct Stats {
    min: f64,
    max: f64,
    sum: f64,
    zeros: usize,
    negative: usize,
    nan: usize,
    infinite: usize,
}

impl Stats {
    fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut s = Stats {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..Stats::default()
        };
        for v in values {
            if v.is_nan() {
                s.nan += 1;
                continue;
            }
            if v.is_infinite() {
                s.infinite += 1;
                continue;
            }
            s.min = s.min.min(v);
            s.max = s.max.max(v);
            s.sum += v;
            s.zeros += usize::from(v == 0.0);
            s.negative += usize::from(v < 0.0);
        }
        s
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn info_as<T: NpyFloat>(a: &InfoArgs, out: Output) -> Result<()> {
    let x = data::read::<T>(&a.data)?;
    let (n, m) = x.shape();
    let total = n * m;
    let (stats, stored) = match &x {
        Matrix::Dense(d) => {
            let mut v = Vec::with_capacity(total);
            d.as_ref().for_each(|&e| v.push(e.to_f64()));
            (Stats::of(v.into_iter()), total)
        }
        Matrix::Sparse(s) => (Stats::of(s.values().iter().map(|v| v.to_f64())), s.nnz()),
    };
    let zeros = stats.zeros + (total - stored);
    let nonzero = total - zeros;
    let density = if total == 0 {
        0.0
    } else {
        nonzero as f64 / total as f64
    };
    let size = std::mem::size_of::<T>();
    let dense_bytes = total * size;
    // CSR + CSC copies (values and u32 indices) plus both pointer arrays.
    let sparse_bytes = 2 * nonzero * (size + 4) + (n + m + 2) * 8;
    let k = a.k.max(1);
    let factor_bytes = (n + m) * k * size;
    let mut problems = Vec::new();
    if total == 0 {
        problems.push("the matrix is empty".to_string());
    }
    if stats.negative > 0 {
        problems.push(format!(
            "{} negative entries (NMF needs X >= 0)",
            stats.negative
        ));
    }
    if stats.nan > 0 {
        problems.push(format!(
            "{} NaN entries (fit them as missing with --missing nan)",
            stats.nan
        ));
    }
    if stats.infinite > 0 {
        problems.push(format!("{} infinite entries", stats.infinite));
    }
    if k > n.min(m) && total > 0 {
        problems.push(format!(
            "k = {k} > min(n_samples, n_features) = {}: NNDSVD cannot start it (--init random)",
            n.min(m)
        ));
    }
    let timing = if problems.is_empty() {
        Some(time_products(&x, k)?)
    } else {
        None
    };
    let mean = if total == 0 {
        0.0
    } else {
        stats.sum / total as f64
    };
    let kind = if x.is_sparse() { "sparse" } else { "dense" };
    out.say(&format!(
        "{}: {n} x {m} {kind} {}",
        a.data.display(),
        T::NAME
    ));
    out.say(&format!(
        "  nonzero {nonzero} of {total} ({:.3}% dense); min {}, max {}, mean {:.6e}",
        100.0 * density,
        fmt_extreme(stats.min),
        fmt_extreme(stats.max),
        mean
    ));
    out.say(&format!(
        "  negative {}, NaN {}, infinite {}",
        stats.negative, stats.nan, stats.infinite
    ));
    out.say(&format!(
        "  memory: X dense {:.1} MiB, X sparse (CSR + CSC) {:.1} MiB, W + H at k = {k} {:.1} MiB",
        mib(dense_bytes),
        mib(sparse_bytes),
        mib(factor_bytes)
    ));
    if let Some(t) = timing {
        out.say(&format!(
            "  cost at k = {k}: X·Hᵀ and Xᵀ·W take {:.3} s on {} threads; a cd or mu-Frobenius iteration needs about that, 200 iterations about {:.1} s",
            t,
            rayon::current_num_threads(),
            200.0 * t
        ));
    }
    for p in &problems {
        out.say(&format!("  problem: {p}"));
    }
    out.result(&json!({
        "ok": true,
        "command": "info",
        "path": a.data.display().to_string(),
        "n_samples": n,
        "n_features": m,
        "sparse": x.is_sparse(),
        "dtype": T::NAME,
        "stored": stored,
        "nonzero": nonzero,
        "density": density,
        "min": finite_or_null(stats.min),
        "max": finite_or_null(stats.max),
        "mean": mean,
        "negative": stats.negative,
        "nan": stats.nan,
        "infinite": stats.infinite,
        "memory_bytes": { "dense": dense_bytes, "sparse": sparse_bytes, "factors": factor_bytes },
        "k": k,
        "seconds_per_iteration": timing,
        "problems": problems,
    }));
    Ok(())
}

fn fmt_extreme(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "-".into()
    }
}

fn finite_or_null(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// Seconds for `X·Hᵀ` plus `Xᵀ·W` with positive factors of rank `k`, on every core.
fn time_products<T: NpyFloat>(x: &Matrix<T>, k: usize) -> Result<f64> {
    let (n, m) = x.shape();
    let par = Par::rayon(0);
    let h = Mat::<T>::from_fn(m, k, |i, j| T::from_f64(1.0 + ((i + j) % 7) as f64));
    let w = Mat::<T>::from_fn(n, k, |i, j| T::from_f64(1.0 + ((i + 2 * j) % 5) as f64));
    let mut xh = Mat::<T>::zeros(n, k);
    let mut xw = Mat::<T>::zeros(m, k);
    let d = x.data();
    let t = Instant::now();
    d.mul_into(xh.as_mut(), h.as_ref(), par)?;
    d.t_mul_into(xw.as_mut(), w.as_ref(), par)?;
    Ok(t.elapsed().as_secs_f64())
}
