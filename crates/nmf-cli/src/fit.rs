//! `nmf fit`, `nmf transform` and `nmf inverse-transform`: the library's `fit`, `transform` and
//! `inverse_transform` between files, generic over the precision the data asks for.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use faer::Par;
use nmf::io::{self, NpyFloat};
use nmf::model_file::{self, ModelFiles};
use nmf::prelude::*;
use nmf::solvers::{LegacySparseness, OpnmfNorm, PgVariant};
use nmf::{FitWarning, NmfParams, Weights};
use serde_json::json;

use crate::cli::{
    CompatArg, Dtype, FitArgs, InitArg, InverseArgs, LegacySparsenessArg, MissingArg, OpnmfNormArg,
    PgVariantArg, TransformArgs,
};
use crate::data::{self, Matrix};
use crate::progress::{FitProgress, Output};

/// `nmf fit`.
pub fn fit(a: &FitArgs, out: Output) -> Result<()> {
    match data::resolve_dtype(&a.data, a.dtype)? {
        Dtype::F32 => fit_as::<f32>(a, out),
        _ => fit_as::<f64>(a, out),
    }
}

fn weights<T: NpyFloat>(path: &Path) -> Result<Weights<T>> {
    Ok(match data::read::<T>(path).context("--weights")? {
        Matrix::Dense(m) => Weights::Dense(m),
        Matrix::Sparse(s) => Weights::Sparse(s),
    })
}

/// The builder parameters the flags describe (every range is left to `check`, so the command
/// and the library refuse exactly the same values with the same message).
fn params<T: NpyFloat>(a: &FitArgs) -> Result<NmfParams<T>> {
    if a.init != InitArg::Custom && (a.w0.is_some() || a.h0.is_some()) {
        bail!("--w0 and --h0 are the starting factors of --init custom; add --init custom");
    }
    let init = match a.init {
        InitArg::Auto => Init::Auto,
        InitArg::Random => Init::Random,
        InitArg::Nndsvd => Init::Nndsvd,
        InitArg::Nndsvda => Init::NndsvdA,
        InitArg::Nndsvdar => Init::NndsvdAr,
        InitArg::Custom => {
            let (Some(w0), Some(h0)) = (&a.w0, &a.h0) else {
                bail!("--init custom needs --w0 FILE and --h0 FILE");
            };
            Init::Custom {
                w: data::read_dense(w0, "--w0")?,
                h: data::read_dense(h0, "--h0")?,
            }
        }
    };
    let threads = a.threads.map_or_else(crate::common::all_cores, |t| t.get());
    let mut p = Nmf::params::<T>(a.k)
        .solver(a.solver)
        .loss(a.loss)
        .init(init)
        .alpha_w(a.alpha_w)
        .alpha_h(a.alpha_h)
        .l1_ratio(a.l1_ratio)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .seed(a.seed)
        .compat(match a.compat {
            CompatArg::Native => Compat::Native,
            CompatArg::Sklearn => Compat::Sklearn,
        })
        .shuffle(a.shuffle)
        .inner_sweeps(a.inner_sweeps)
        .par(if threads <= 1 {
            Par::Seq
        } else {
            Par::rayon(threads)
        })
        .missing(match a.missing {
            MissingArg::Error => Missing::Error,
            MissingArg::Nan => Missing::Nan,
        })
        .mask_zeros(a.mask_zeros)
        .batch_size(a.batch_size)
        .forget_factor(a.forget_factor)
        .fresh_restarts(a.fresh_restarts)
        .fresh_restarts_max_iter(a.fresh_restarts_max_iter)
        .max_no_improvement(a.max_no_improvement.0)
        .opnmf_norm(match a.opnmf_norm {
            OpnmfNormArg::Monotone => OpnmfNorm::Monotone,
            OpnmfNormArg::Spectral => OpnmfNorm::Spectral,
        });
    if a.pg_variant == PgVariantArg::Legacy {
        p = p.pg_variant(PgVariant::Legacy {
            sparseness: match a.legacy_sparseness {
                LegacySparsenessArg::None => LegacySparseness::None,
                LegacySparsenessArg::Data => LegacySparseness::Data,
                LegacySparsenessArg::Components => LegacySparseness::Components,
            },
            beta: a.legacy_beta,
            eta: a.legacy_eta,
            nls_max_iter: a.nls_max_iter,
        });
    }
    if let Some(n) = a.trace_every {
        p = p.trace_every(n);
    }
    if let Some(n) = a.transform_max_iter {
        p = p.transform_max_iter(n);
    }
    if let Some(t) = a.kkt_tol {
        p = p.kkt_tol(t);
    }
    if let Some(s) = a.max_time {
        let d = std::time::Duration::try_from_secs_f64(s).map_err(|_| {
            anyhow::anyhow!("--max-time {s}: expected a finite number of seconds >= 0")
        })?;
        p = p.max_time(d);
    }
    if let Some(s) = a.h_sparseness {
        p = p.h_sparseness(s);
    }
    if let Some(s) = a.w_sparseness {
        p = p.w_sparseness(s);
    }
    if let Some(path) = &a.weights {
        p = p.weights(weights::<T>(path)?);
    }
    Ok(p)
}

/// The data of `nmf fit`: loaded, or (`--stream`) a `.npy` file read batch by batch.
enum Input<T: NpyFloat> {
    Loaded(Matrix<T>),
    Streamed(Box<dyn nmf::RowSource<T>>),
}

/// DATA read by rows: a CSR `.npz` by row blocks, a `.npy` by rows.
fn open_rows<T: NpyFloat>(path: &Path) -> Result<Box<dyn nmf::RowSource<T>>> {
    let npz = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let what = || {
        format!(
            "--stream reads a .npy or CSR .npz file by rows: {}",
            path.display()
        )
    };
    Ok(if npz {
        Box::new(io::NpzRows::<T>::open(path).with_context(what)?)
    } else {
        Box::new(io::NpyRows::<T>::open(path).with_context(what)?)
    })
}

fn fit_as<T: NpyFloat>(a: &FitArgs, out: Output) -> Result<()> {
    let t0 = Instant::now();
    // Parameters first: a typo in a flag should not wait for a large file to load.
    let config = params::<T>(a)?.check()?;
    let mut input = if a.stream {
        if a.solver != SolverKind::MiniBatch {
            bail!("--stream reads the data batch by batch, which only --solver minibatch does");
        }
        Input::Streamed(open_rows::<T>(&a.data)?)
    } else {
        Input::Loaded(data::read::<T>(&a.data)?)
    };
    let read_seconds = t0.elapsed().as_secs_f64();
    let (n, m, sparse, stored) = match &input {
        Input::Loaded(x) => {
            let (n, m) = x.shape();
            let stored = match x {
                Matrix::Sparse(s) => s.nnz(),
                Matrix::Dense(_) => n * m,
            };
            (n, m, x.is_sparse(), stored)
        }
        Input::Streamed(src) => {
            let (n, m) = src.shape();
            (n, m, src.is_sparse(), n * m)
        }
    };
    if let Init::Custom { w, h } = config.init() {
        for (flag, got, want) in [("--w0", w.shape(), (n, a.k)), ("--h0", h.shape(), (a.k, m))] {
            if got != want {
                bail!(
                    "{flag}: the starting factor is {} x {}, the data and -k need {} x {}",
                    got.0,
                    got.1,
                    want.0,
                    want.1
                );
            }
        }
    }
    let mut progress = FitProgress::new(out, a.max_iter);
    let t1 = Instant::now();
    let fitted = match &mut input {
        Input::Loaded(x) => config.fit_with(x.data(), &mut |i| progress.observe(i)),
        Input::Streamed(src) => config.fit_source_with(src.as_mut(), &mut |i| progress.observe(i)),
    };
    progress.finish();
    let model = fitted?;
    let fit_seconds = t1.elapsed().as_secs_f64();
    let r = model.report();
    for w in &r.warnings {
        if !out.quiet {
            eprintln!("warning: {}", warning_text(w));
        }
    }
    let data_info = json!({
        "path": a.data.display().to_string(),
        "sha256": model_file::file_sha256(&a.data)?,
        "n_samples": n,
        "n_features": m,
        "sparse": sparse,
        "stored": stored,
        "streamed": a.stream,
        "dtype": T::NAME,
    });
    let extra = json!({
        "command": std::env::args().collect::<Vec<_>>(),
        "nmf_cli_version": env!("CARGO_PKG_VERSION"),
        "data": data_info,
        "timings": { "read_seconds": read_seconds, "fit_seconds": fit_seconds },
    });
    let t2 = Instant::now();
    model
        .save_with(&a.out, extra)
        .with_context(|| format!("writing the model into {}", a.out.display()))?;
    let write_seconds = t2.elapsed().as_secs_f64();
    out.say(&format!(
        "{} x {} ({}{}), k = {}: {} {} stopped after {} iterations ({}), reconstruction_err {:.6e}, {:.2} s; wrote {}",
        n,
        m,
        T::NAME,
        if sparse { ", sparse" } else if a.stream { ", streamed" } else { "" },
        a.k,
        r.solver,
        r.loss,
        r.n_iter,
        r.stop_reason,
        r.reconstruction_err,
        fit_seconds,
        a.out.display()
    ));
    out.result(&json!({
        "ok": true,
        "command": "fit",
        "out": a.out.display().to_string(),
        "files": ["W.npy", "H.npy", model_file::MODEL_JSON],
        "n_samples": n,
        "n_features": m,
        "n_components": a.k,
        "dtype": T::NAME,
        "report": r,
        "timings": { "read_seconds": read_seconds, "fit_seconds": fit_seconds, "write_seconds": write_seconds },
    }));
    Ok(())
}

/// One readable line per warning (the report keeps the structured form).
fn warning_text(w: &FitWarning) -> String {
    match w {
        FitWarning::MaxIterReached { max_iter } => format!(
            "max_iter = {max_iter} reached before the stopping rule was met; raise --max-iter or --tol"
        ),
        FitWarning::MuZerosInInit { zeros } => {
            format!("{zeros} zeros in the starting factors stay zero under mu; use --init nndsvda")
        }
        FitWarning::DeadComponents { components } => {
            format!("components {components:?} are zero in both W and H")
        }
        FitWarning::Unobserved { rows, cols } => format!(
            "{} rows and {} columns have no observed entry; their factors are zero",
            rows.len(),
            cols.len()
        ),
        other => format!("{other:?}"),
    }
}

/// The precision of a saved model (from its `model.json`).
fn model_dtype(dir: &Path) -> Result<Dtype> {
    let j = model_file::read_model_json(dir)?;
    Ok(match j.dtype.as_str() {
        "float32" => Dtype::F32,
        "float64" => Dtype::F64,
        other => bail!("{}: unknown dtype {other:?} in model.json", dir.display()),
    })
}

/// `nmf transform`.
pub fn transform(a: &TransformArgs, out: Output) -> Result<()> {
    match model_dtype(&a.model)? {
        Dtype::F32 => transform_as::<f32>(a, out),
        _ => transform_as::<f64>(a, out),
    }
}

fn transform_as<T: NpyFloat>(a: &TransformArgs, out: Output) -> Result<()> {
    let model = NmfModel::<T>::load(&a.model)?;
    if a.stream {
        let t = Instant::now();
        let mut src = open_rows::<T>(&a.data)?;
        let (n, _) = src.shape();
        let k = model.h().nrows();
        let mut w_out = io::NpyRowWriter::<T>::create(&a.out, n, k)?;
        let d = model.transform_source(src.as_mut(), &mut |_, w| Ok(w_out.write_rows(w)?))?;
        w_out.finish()?;
        let seconds = t.elapsed().as_secs_f64();
        out.say(&format!(
            "W of {n} rows x {k} components, streamed, in {seconds:.2} s; wrote {}",
            a.out.display()
        ));
        out.result(&json!({
            "ok": true,
            "command": "transform",
            "out": a.out.display().to_string(),
            "shape": [n, k],
            "dtype": T::NAME,
            "seconds": seconds,
            "divergence": d,
        }));
        return Ok(());
    }
    let x = data::read::<T>(&a.data)?;
    let t = Instant::now();
    let w = match &a.weights {
        None => model.transform(x.data())?,
        Some(p) => model.transform_weighted(x.data(), weights::<T>(p)?)?,
    };
    let seconds = t.elapsed().as_secs_f64();
    io::write_npy(&a.out, w.as_ref())?;
    out.say(&format!(
        "W of {} rows x {} components in {:.2} s; wrote {}",
        w.nrows(),
        w.ncols(),
        seconds,
        a.out.display()
    ));
    out.result(&json!({
        "ok": true,
        "command": "transform",
        "out": a.out.display().to_string(),
        "shape": [w.nrows(), w.ncols()],
        "dtype": T::NAME,
        "seconds": seconds,
    }));
    Ok(())
}

/// `nmf inverse-transform`.
pub fn inverse_transform(a: &InverseArgs, out: Output) -> Result<()> {
    match model_dtype(&a.model)? {
        Dtype::F32 => inverse_as::<f32>(a, out),
        _ => inverse_as::<f64>(a, out),
    }
}

fn inverse_as<T: NpyFloat>(a: &InverseArgs, out: Output) -> Result<()> {
    let model = NmfModel::<T>::load(&a.model)?;
    let w = data::read_dense::<T>(&a.w, "W")?;
    nmf::check::ensure_data("W", w.as_ref())?;
    let x = model.inverse_transform(w.as_ref())?;
    io::write_npy(&a.out, x.as_ref())?;
    out.say(&format!(
        "W·H: {} x {}; wrote {}",
        x.nrows(),
        x.ncols(),
        a.out.display()
    ));
    out.result(&json!({
        "ok": true,
        "command": "inverse-transform",
        "out": a.out.display().to_string(),
        "shape": [x.nrows(), x.ncols()],
        "dtype": T::NAME,
    }));
    Ok(())
}
