//! A matrix with holes: the Olivetti faces with 30% of each image's pixels missing at random.
//! Fits the observed pixels only (masked NMF), imputes the rest, and compares the imputed
//! pixels with their true values against zero-filling, per-pixel means and an NMF fitted to the
//! zero-filled images: `cargo run --release --example impute_faces [k,k,...] [missing fraction]`.
//!
//! The holes are a seeded draw per image (`nmf::cv::position_uniform`), so runs are repeatable.

use faer::Mat;
use nmf::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let ks: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "10,20,40".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let frac: f64 = args.next().map_or(Ok(0.3), |s| s.parse())?;
    // A small ridge (alpha_W = alpha_H, l1_ratio = 0) for the masked fits: without it, large k
    // can put arbitrary mass on pixels no neighbouring observation constrains.
    let alpha: f64 = args.next().map_or(Ok(0.0), |s| s.parse())?;
    let x: Mat<f64> = nmf::io::read_npy("../shared/data/olivetti_faces.npy")?;
    let (n, m) = x.shape();
    let mask = Mat::from_fn(n, m, |i, j| {
        if nmf::cv::position_uniform(2024, i, j) < frac {
            0.0
        } else {
            1.0
        }
    });
    let holes: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (0..m).map(move |j| (i, j)))
        .filter(|&(i, j)| mask[(i, j)] == 0.0)
        .collect();
    let rmse = |guess: &dyn Fn(usize, usize) -> f64| {
        let s: f64 = holes
            .iter()
            .map(|&(i, j)| (guess(i, j) - x[(i, j)]).powi(2))
            .sum();
        (s / holes.len() as f64).sqrt()
    };
    let zero_filled = Mat::from_fn(n, m, |i, j| x[(i, j)] * mask[(i, j)]);
    let col_mean: Vec<f64> = (0..m)
        .map(|j| {
            let (s, c) = (0..n).fold((0.0, 0.0), |(s, c), i| {
                (s + zero_filled[(i, j)], c + mask[(i, j)])
            });
            if c > 0.0 { s / c } else { 0.0 }
        })
        .collect();
    println!(
        "Olivetti faces {n} x {m}, {} of {} pixels missing ({:.1}%), RMSE of the imputed pixels (pixel values in [0, 1]):",
        holes.len(),
        n * m,
        100.0 * holes.len() as f64 / (n * m) as f64
    );
    println!(
        "  zero-filling                       {:.4}",
        rmse(&|_, _| 0.0)
    );
    println!(
        "  per-pixel mean of observed images  {:.4}",
        rmse(&|_, j| col_mean[j])
    );
    for &k in &ks {
        let base = Nmf::params(k)
            .solver(SolverKind::Cd)
            .init(Init::NndsvdA)
            .max_iter(400)
            .tol(1e-5);
        let t = std::time::Instant::now();
        let naive = base.fit(zero_filled.as_ref())?;
        let t_naive = t.elapsed().as_secs_f64();
        let wh = naive.w() * naive.h();
        let e_naive = rmse(&|i, j| wh[(i, j)]);
        let t = std::time::Instant::now();
        let masked = base
            .clone()
            .alpha_w(alpha)
            .weights(mask.as_ref())
            .fit(x.as_ref())?;
        let t_masked = t.elapsed().as_secs_f64();
        let imputed = masked.impute(x.as_ref())?;
        let e_masked = rmse(&|i, j| imputed[(i, j)]);
        let mu = base
            .clone()
            .solver(SolverKind::Mu)
            .alpha_w(alpha)
            .weights(mask.as_ref())
            .fit(x.as_ref())?;
        let imputed_mu = mu.impute(x.as_ref())?;
        let e_mu = rmse(&|i, j| imputed_mu[(i, j)]);
        let max_hole = |m: &Mat<f64>| holes.iter().map(|&(i, j)| m[(i, j)]).fold(0.0f64, f64::max);
        println!(
            "  k = {k:>3}: NMF of the zero-filled images {e_naive:.4} ({:>3} it, {t_naive:.1} s) | masked cd {e_masked:.4} ({:>3} it, {t_masked:.1} s, objective {:.2}, largest imputed {:.2}) | masked mu {e_mu:.4} ({:>3} it, objective {:.2}, largest imputed {:.2})",
            naive.report().n_iter,
            masked.report().n_iter,
            masked.report().objective,
            max_hole(&imputed),
            mu.report().n_iter,
            mu.report().objective,
            max_hole(&imputed_mu),
        );
    }
    Ok(())
}
