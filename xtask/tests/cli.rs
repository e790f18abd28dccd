//! Flag names: every command says `--dataset`, `--solver` and `--threads`, and the spellings
//! they replaced still parse (hidden aliases), so old command lines keep working.

use clap::Parser;
use xtask::Cli;

fn parses(args: &[&str]) -> bool {
    let argv = std::iter::once("cargo xtask").chain(args.iter().copied());
    match Cli::try_parse_from(argv) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("{args:?}: {e}");
            false
        }
    }
}

#[test]
fn every_command_takes_the_shared_names() {
    for cmd in ["grid-search", "rank-select"] {
        assert!(parses(&[
            cmd,
            "--dataset",
            "swimmer",
            "--threads",
            "2",
            "--solver",
            "mu"
        ]));
    }
    assert!(parses(&["grid-search", "--solver", "cd,mu,pg"]));
    for cmd in ["bench-compare", "init-compare", "sparse-compare"] {
        assert!(
            parses(&[cmd, "--dataset", "olivetti", "--threads", "2"]),
            "{cmd}"
        );
    }
    assert!(parses(&["bench-compare", "--solver", "cd,mu-kl"]));
    // Sparse data and its vocabulary.
    assert!(parses(&[
        "bench-compare",
        "--dataset",
        "corpus",
        "--equal-loss-iters",
        "200"
    ]));
    for cmd in ["grid-search", "rank-select"] {
        assert!(
            parses(&[cmd, "--dataset", "x.npz", "--vocab", "v.txt"]),
            "{cmd}"
        );
    }
}

#[test]
fn old_spellings_still_parse() {
    assert!(parses(&["grid-search", "--jobs", "2"]));
    assert!(parses(&[
        "bench-compare",
        "--data",
        "x.npy",
        "--solvers",
        "cd"
    ]));
    assert!(parses(&["init-compare", "--data", "x.npy"]));
    assert!(parses(&["sparse-compare", "--data", "x.npy"]));
}

#[test]
fn names_are_checked_by_the_librarys_parsers() {
    assert!(!parses(&["grid-search", "--solver", "xx"]));
    assert!(!parses(&["grid-search", "--loss", "nope"]));
    assert!(!parses(&["grid-search", "--init", "magic"]));
    assert!(!parses(&["rank-select", "--solver", "xx"]));
    assert!(!parses(&["grid-search", "--threads", "0"]));
}
