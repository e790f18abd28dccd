//! Parts of faces: the Olivetti faces (400 images of 64 x 64 pixels) factored by coordinate
//! descent at k = 16, then again with scikit-learn's elastic-net penalty raised
//! (`alpha_W` with `alpha_H = "same"`, `l1_ratio`), printing the reconstruction error, how many
//! components stay live and the Hoyer sparseness of the live basis images (the rows of H): the
//! L1 penalty trades error for sparser parts, and a strong one switches components off.
//! `cargo run --release --example faces [k]`.
//!
//! Reads `olivetti_faces.npy` through `nmf::datasets::olivetti` (from `$NMF_DATA_HOME`, else
//! `../shared/data`).

use nmf::metrics::sparseness;
use nmf::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let k: usize = std::env::args().nth(1).map_or(Ok(16), |s| s.parse())?;
    let faces = nmf::datasets::olivetti(None)?;
    let (n, m) = faces.x.shape();
    println!("Olivetti faces {n} x {m}, cd, k = {k}, nndsvda start, at most 200 iterations:");
    println!(
        "  alpha_W  l1_ratio  iterations  reconstruction error  live  Hoyer sparseness of live rows of H (mean, min..max)"
    );
    for (alpha_w, l1_ratio) in [(0.0, 0.0), (0.01, 1.0), (0.05, 1.0), (0.1, 1.0)] {
        let model = Nmf::params(k)
            .solver(SolverKind::Cd)
            .init(Init::NndsvdA)
            .alpha_w(alpha_w)
            .l1_ratio(l1_ratio)
            .max_iter(200)
            .seed(0)
            .fit(faces.x.as_ref())?;
        // A strong penalty switches components off (an all-zero row of H, sparseness 0 by
        // convention): count them apart so they do not pull the mean of the live ones down.
        let h = model.h();
        let live: Vec<usize> = (0..k)
            .filter(|&t| (0..m).any(|j| h[(t, j)] > 0.0))
            .collect();
        let s: Vec<f64> = sparseness::rows(h)
            .into_iter()
            .enumerate()
            .filter(|(t, _)| live.contains(t))
            .map(|(_, v)| v)
            .collect();
        let r = model.report();
        match sparseness::summary(&s) {
            Some(sum) => println!(
                "  {alpha_w:>7}  {l1_ratio:>8}  {:>10}  {:>20.4}  {:>4}  {:.3} ({:.3}..{:.3})",
                r.n_iter,
                r.reconstruction_err,
                live.len(),
                sum.mean,
                sum.min,
                sum.max
            ),
            None => println!(
                "  {alpha_w:>7}  {l1_ratio:>8}  {:>10}  {:>20.4}  {:>4}  (every component is off)",
                r.n_iter, r.reconstruction_err, 0
            ),
        }
    }
    Ok(())
}
