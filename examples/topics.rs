//! Topics of a sparse word-count corpus, with the top words of each component, as in
//! scikit-learn's topic-extraction example: `cargo run --release --example topics [FILE.npz] [k]`.
//!
//! Defaults to the Debian package-description corpus of `../shared/data` (2243 documents x
//! 4000 terms, with its vocabulary in `debian_docs_meta.json` beside it). X is never densified.

use nmf::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "../shared/data/debian_docs_counts.npz".to_string());
    let k: usize = args.next().map_or(Ok(10), |s| s.parse())?;
    let x: nmf::SparseMat<f64> = nmf::io::read_sparse(&path)?;
    let vocab = match nmf::vocab::vocabulary_beside(path.as_ref()) {
        Some(v) => nmf::vocab::read_vocabulary(v)?,
        None => Vec::new(),
    };
    let model = Nmf::params(k)
        .solver(SolverKind::Mu)
        .loss(Loss::KullbackLeibler)
        .init(Init::NndsvdA)
        .max_iter(300)
        .seed(0)
        .fit(&x)?;
    let r = model.report();
    println!(
        "{} x {}, {} stored; KL mu k = {k}: {} iterations, error {:.4}, {:.2} s",
        x.nrows(),
        x.ncols(),
        x.nnz(),
        r.n_iter,
        r.reconstruction_err,
        r.solver_seconds
    );
    for (t, words) in nmf::vocab::top_words(model.h(), &vocab, 8)
        .iter()
        .enumerate()
    {
        println!("topic {t}: {}", words.join(" "));
    }
    Ok(())
}
