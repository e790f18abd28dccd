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

/// The Olivetti faces path, or `None` with a printed reason. Under CI (`CI` set) a missing file
/// is a failure, so the data-dependent tests can never be skipped silently there.
pub fn olivetti_path() -> Option<PathBuf> {
    let p = shared_data().join("olivetti_faces.npy");
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{} is missing under CI", p.display());
    }
    eprintln!(
        "skipped: {} not found (put ../shared beside the checkout)",
        p.display()
    );
    None
}

/// A file from the large-fixture folder (written by `scripts/make_fixtures.py --large
/// fixtures-large`), or `None` with a printed reason. Under CI a missing file is a failure.
pub fn large_fixture(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures-large")
        .join(name);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{} is missing under CI (.ci/run generates it)", p.display());
    }
    eprintln!(
        "skipped: {} not found; run `python3 scripts/make_fixtures.py --large fixtures-large` (needs scikit-learn)",
        p.display()
    );
    None
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
