//! `grid-search` on sparse count data: the built-in synthetic corpus and a `.npz` file with its
//! vocabulary beside it; the report names each component's top words instead of drawing it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmf-sparse-grid-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::null())
        .args(args)
        .output()
        .expect("xtask runs")
}

fn grid(dataset: &str, out: &Path, extra: &[&str]) -> String {
    let base = [
        "grid-search",
        "--dataset",
        dataset,
        "--alpha-w",
        "0,0.01",
        "--l1-ratio",
        "0,1",
        "--max-iter",
        "30",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = run(&[&base[..], extra].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out.join("report.html")).unwrap()
}

#[test]
fn the_corpus_report_lists_top_words_and_topic_recovery() {
    let out = tmp("corpus");
    let html = grid("corpus", &out, &[]);
    assert!(
        html.contains("Grid search: corpus (2000 x 1000), k = 8"),
        "{html}"
    );
    assert!(html.contains("<h3>Top words: unregularised</h3>"));
    assert!(
        !html.contains("gallery_"),
        "no image galleries for count data"
    );
    // The unregularised fit finds the planted topics: each component's words are one topic's.
    let csv = std::fs::read_to_string(out.join("top_words_unregularised.csv")).unwrap();
    let mut rows = csv.lines().skip(1).peekable();
    assert!(rows.peek().is_some());
    for line in rows {
        let words = line.rsplit(',').next().unwrap();
        let tags: Vec<&str> = words
            .split(' ')
            .filter(|w| !w.starts_with("c_"))
            .map(|w| &w[..w.find('_').unwrap()])
            .collect();
        assert!(
            !tags.is_empty() && tags.iter().all(|t| *t == tags[0]),
            "{line}"
        );
    }
    let section = &html[html.find("<h3>Top words: unregularised</h3>").unwrap()..];
    let at = section
        .find("Topic recovery: mean matched cosine with the 8 planted topics ")
        .unwrap();
    let score: f64 = section[at..]
        .split_whitespace()
        .nth(10)
        .unwrap()
        .parse()
        .unwrap();
    assert!(score > 0.95, "{score}");
}

#[test]
fn a_npz_file_takes_the_vocabulary_beside_it() {
    let dir = tmp("file");
    std::fs::create_dir_all(&dir).unwrap();
    let c = nmf::datasets::CorpusSpec {
        n_docs: 200,
        n_terms: 120,
        n_topics: 3,
        doc_len: 40,
        ..Default::default()
    }
    .generate()
    .unwrap();
    let data = dir.join("tiny_counts.npz");
    nmf::io::write_sparse(&data, &c.x).unwrap();
    let vocab = serde_json::json!({ "vocabulary": c.vocabulary });
    std::fs::write(dir.join("tiny_meta.json"), vocab.to_string()).unwrap();
    let out = dir.join("out");
    let html = grid(
        data.to_str().unwrap(),
        &out,
        &["-k", "3", "--solver", "mu", "--loss", "kullback-leibler"],
    );
    assert!(html.contains("tiny_counts (200 x 120), k = 3"), "{html}");
    assert!(html.contains("t0_") && html.contains("t2_"), "words named");
    assert!(
        !html.contains("Topic recovery"),
        "no planted topics in a file"
    );
    // A vocabulary of the wrong length is refused before any work.
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "a\nb\n").unwrap();
    let o = run(&[
        "grid-search",
        "--dataset",
        data.to_str().unwrap(),
        "--vocab",
        bad.to_str().unwrap(),
        "--out",
        dir.join("bad-out").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 terms for 120 columns"));
}
