//! `cargo xtask init-compare`: time and starting error of each initialisation, exact vs
//! scikit-learn-compatible NNDSVD, next to scikit-learn's own `_initialize_nmf`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;
use faer::{Mat, Par};
use nmf::init::{Compat, Init, initialize};

/// Arguments of `init-compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Data matrix (.npy).
    #[arg(long, default_value = "../shared/data/olivetti_faces.npy")]
    data: PathBuf,
    /// Numbers of components.
    #[arg(short = 'k', long, value_delimiter = ',', default_value = "20,50,200")]
    components: Vec<usize>,
    /// Threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Python with scikit-learn (skipped if it fails).
    #[arg(long, default_value = "python3")]
    python: String,
}

pub fn run(a: Args) -> Result<()> {
    let x: Mat<f32> = nmf::io::read_npy(&a.data)?;
    let par = if a.threads <= 1 {
        Par::Seq
    } else {
        Par::rayon(a.threads)
    };
    println!(
        "{} ({} x {}), {} thread(s); error = ‖X − W0·H0‖_F before any iteration",
        a.data.display(),
        x.nrows(),
        x.ncols(),
        a.threads
    );
    println!(
        "{:>5} {:<10} {:<9} {:<38} {:>9} {:>12}",
        "k", "init", "mode", "svd", "seconds", "error"
    );
    for &k in &a.components {
        for (init, name) in [
            (Init::NndsvdA, "nndsvda"),
            (Init::Nndsvd, "nndsvd"),
            (Init::Random, "random"),
        ] {
            for compat in [Compat::Native, Compat::Sklearn] {
                // Best of 3 to damp the noise of a shared machine.
                let mut best = f64::MAX;
                let mut f = None;
                for _ in 0..3 {
                    let r = initialize(x.as_ref(), k, &init, 0, compat, par)?;
                    best = best.min(r.report.seconds);
                    f = Some(r);
                }
                let Some(f) = f else { continue };
                let err = nmf::loss::reconstruction_err(
                    x.as_ref(),
                    f.w.as_ref(),
                    f.h.as_ref(),
                    nmf::Loss::Frobenius,
                    par,
                )?;
                println!(
                    "{k:>5} {name:<10} {:<9} {:<38} {best:>9.4} {err:>12.4}",
                    format!("{compat:?}"),
                    f.report.svd.map_or("-".to_string(), |s| s.to_string()),
                );
            }
        }
        let script = format!(
            "import time, numpy as np\nfrom sklearn.decomposition import _nmf\nx=np.load('{}')\nfor init in ('nndsvda','nndsvd','random'):\n  b=1e9\n  for _ in range(3):\n    t=time.perf_counter(); w,h=_nmf._initialize_nmf(x,{k},init=init,random_state=0); b=min(b,time.perf_counter()-t)\n  print(init, b, float(np.linalg.norm(x-w@h)))\n",
            a.data.display()
        );
        if let Ok(out) = Command::new(&a.python).arg("-c").arg(&script).output()
            && out.status.success()
        {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() == 3 {
                    println!(
                        "{k:>5} {:<10} {:<9} {:<38} {:>9.4} {:>12.4}",
                        f[0],
                        "sklearn",
                        "scikit-learn 1.x _initialize_nmf",
                        f[1].parse::<f64>().unwrap_or(f64::NAN),
                        f[2].parse::<f64>().unwrap_or(f64::NAN)
                    );
                }
            }
        }
    }
    Ok(())
}
