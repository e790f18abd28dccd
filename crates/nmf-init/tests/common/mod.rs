//! Fixture access for the integration tests: `/work/shared/fixtures-scale`, found relative to
//! the crate so that any checkout next to `shared/` works.

#![allow(dead_code)] // each test binary uses part of this

use std::path::PathBuf;

use faer::Mat;

/// The fixture directory, or `None` (after a skip note) when it is missing. Under `CI=true` a
/// missing directory is a failure, so CI can never pass by skipping.
pub fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures-scale"
    ));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("fixture directory {} is missing (CI=true)", dir.display());
    }
    eprintln!("skipping: fixture directory {} not found", dir.display());
    None
}

/// A 2-D little-endian float64 `.npy` array (C or Fortran order).
pub fn load_npy(path: &std::path::Path) -> Mat<f64> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{}: not an .npy file",
        path.display()
    );
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + len]).unwrap();
    assert!(header.contains("'descr': '<f8'"), "{header}");
    let fortran = header.contains("'fortran_order': True");
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').unwrap()]
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    assert_eq!(dims.len(), 2, "{header}");
    let data: Vec<f64> = bytes[start + len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let (n, m) = (dims[0], dims[1]);
    assert_eq!(data.len(), n * m);
    Mat::from_fn(n, m, |i, j| {
        if fortran {
            data[j * n + i]
        } else {
            data[i * m + j]
        }
    })
}

/// `max |a − b| / max |b|`.
pub fn rel_diff(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let (mut d, mut s) = (0.0f64, 0.0f64);
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            d = d.max((a[(i, j)] - b[(i, j)]).abs());
            s = s.max(b[(i, j)].abs());
        }
    }
    if s == 0.0 { d } else { d / s }
}
