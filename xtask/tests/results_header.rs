//! The grid's `results.csv` format: the header it writes is the serde row struct's fields, rows
//! round-trip through the csv crate, and a resumed run's reader drops a torn last line.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use nmf::prelude::{AlphaH, Loss, SolverKind};
use xtask::grid::rows::{self, HEADER, Row};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmf-rows-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn row() -> Row {
    Row {
        solver: SolverKind::Mu,
        loss: Loss::Frobenius,
        k: 17,
        alpha_w: 0.1,
        alpha_h: AlphaH::Same,
        l1_ratio: 1.0,
        h_sparseness_target: None,
        n_iter: 42,
        stop_reason: "converged".into(),
        reconstruction_err: 12.5,
        objective: 80.25,
        basis_sparseness_mean: 0.5,
        basis_sparseness_median: 0.25,
        basis_sparseness_min: 0.0000001,
        basis_sparseness_max: 0.75,
        w_sparseness_mean: 0.125,
        w_zero_fraction: 0.0,
        h_zero_fraction: 1.0,
        collapsed: false,
        seconds: 0.0123456789,
    }
}

#[test]
fn header_is_the_row_structs_fields() {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row()).unwrap();
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    assert_eq!(text.lines().next(), Some(HEADER));
}

#[test]
fn rows_keep_the_files_number_format_and_read_back() {
    let line = String::from_utf8(rows::line(&row()).unwrap()).unwrap();
    // Rust's Display (1, not 1.0; no exponent), seconds to the microsecond, empty target.
    assert_eq!(
        line,
        "mu,frobenius,17,0.1,same,1,,42,converged,12.5,80.25,0.5,0.25,0.0000001,0.75,0.125,0,1,false,0.012346\n"
    );
    let dir = tmp("roundtrip");
    let path = dir.join("results.csv");
    let mut pg = row();
    pg.solver = SolverKind::ProjectedGradient;
    pg.alpha_h = AlphaH::Value(0.0);
    pg.h_sparseness_target = Some(0.6);
    let pg_line = String::from_utf8(rows::line(&pg).unwrap()).unwrap();
    // A second copy of a point is ignored, and a kill mid-write leaves a torn last line.
    let torn = &pg_line[..pg_line.len() / 2];
    std::fs::write(&path, format!("{HEADER}\n{line}{pg_line}{line}{torn}")).unwrap();
    let read = rows::read_finished(&path).unwrap();
    let mut mu = row();
    mu.seconds = 0.012346;
    pg.seconds = 0.012346;
    assert_eq!(read, vec![mu, pg]);
    let repaired = std::fs::read_to_string(&path).unwrap();
    assert_eq!(repaired, format!("{HEADER}\n{line}{pg_line}{line}"));
}

#[test]
fn a_file_with_another_header_is_not_resumed() {
    let path = tmp("header").join("results.csv");
    std::fs::write(&path, "solver,alpha_w\ncd,0\n").unwrap();
    let err = rows::read_finished(&path).unwrap_err().to_string();
    assert!(err.contains("another header"), "{err}");
}

#[test]
fn the_grid_writes_this_header() {
    let out = tmp("grid");
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::null())
        .args([
            "grid-search",
            "--solver",
            "cd",
            "--alpha-w",
            "0",
            "--l1-ratio",
            "0",
        ])
        .args(["--max-iter", "3", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = out.join("results.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().next(), Some(HEADER));
    let read = rows::read_finished(&path).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].solver, SolverKind::Cd);
    assert!(read[0].n_iter <= 3);
}
