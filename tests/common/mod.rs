//! Shared helpers for the integration tests: fixture loading and the shared data folder.
#![allow(dead_code)]

use std::path::PathBuf;

use faer::Mat;
use serde_json::Value;

/// Loads `tests/fixtures/NAME` (written by `scripts/make_fixtures.py`).
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is valid JSON")
}

/// A nested JSON list as a `Mat<f64>`.
pub fn mat(v: &Value) -> Mat<f64> {
    let rows = v.as_array().expect("matrix is a list of rows");
    let n = rows.len();
    let m = rows
        .first()
        .and_then(|r| r.as_array())
        .map_or(0, |r| r.len());
    Mat::from_fn(n, m, |i, j| rows[i][j].as_f64().expect("number"))
}

/// `../shared/data` beside the checkout (CI puts it there).
pub fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// True when the tests run under CI (`CI=true`, as CI sets it; `1` counts too).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `Some(path)` when `path` exists. Otherwise a data-dependent test cannot run: under CI that
/// is a failure (a missing file must never turn into a silent pass there); elsewhere the test
/// says it skipped, on the real stderr so the line shows in `cargo test` output (libtest
/// captures `eprintln!` of passing tests), and the caller returns.
pub fn require(path: PathBuf, how_to_get_it: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    if under_ci() {
        panic!("{} is missing under CI ({how_to_get_it})", path.display());
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {} not found ({how_to_get_it})",
        path.display()
    );
    None
}

/// A file of `../shared/data` (see [`require`]).
pub fn shared_file(name: &str) -> Option<PathBuf> {
    require(
        shared_data().join(name),
        "put the shared folder beside the checkout as ../shared",
    )
}

/// The Olivetti faces (see [`require`]).
pub fn olivetti_path() -> Option<PathBuf> {
    shared_file("olivetti_faces.npy")
}

/// The Olivetti faces and their person labels, both or neither (see [`require`]).
pub fn olivetti_with_targets() -> Option<(PathBuf, PathBuf)> {
    let faces = olivetti_path();
    let targets = shared_file("olivetti_targets.npy");
    faces.zip(targets)
}

/// A file from the large-fixture folder, written by `scripts/make_fixtures.py --large
/// fixtures-large` (see [`require`]).
pub fn large_fixture(name: &str) -> Option<PathBuf> {
    require(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures-large")
            .join(name),
        "run `python3 scripts/make_fixtures.py --large fixtures-large`; needs scikit-learn",
    )
}

/// Max |a - b| / max|b|, the relative difference used by the parity tests.
pub fn rel_diff(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>) -> f64 {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    let mut num = 0.0f64;
    let mut den = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            num = num.max((a[(i, j)] - b[(i, j)]).abs());
            den = den.max(b[(i, j)].abs());
        }
    }
    num / den.max(f64::MIN_POSITIVE)
}

/// ‖a − b‖_F / ‖b‖_F.
pub fn rel_fro(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>) -> f64 {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    let mut num = 0.0f64;
    let mut den = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            num += (a[(i, j)] - b[(i, j)]).powi(2);
            den += b[(i, j)].powi(2);
        }
    }
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

/// A `Mat<f32>` widened to f64.
pub fn widen(a: faer::MatRef<'_, f32>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] as f64)
}

/// Property-test case count: `PROPTEST_CASES` when set (for a longer local soak), else `default`
/// (sized so CI stays fast).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A file of `../shared/fixtures-scale` (see [`require`]).
pub fn scale_fixture(name: &str) -> Option<PathBuf> {
    require(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures-scale")
            .join(name),
        "put the shared folder beside the checkout as ../shared",
    )
}

/// An f64 `.npy` of `../shared/fixtures-scale` (see [`require`]).
pub fn scale_npy(name: &str) -> Option<Mat<f64>> {
    scale_fixture(name).map(|p| nmf::io::read_npy::<f64>(p).expect("fixture reads"))
}
