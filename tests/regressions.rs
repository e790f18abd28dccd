//! One test per bug found outside the unit and property suites, named after what went wrong.

use faer::Mat;
use nmf::prelude::*;

/// A β ≠ 2 MU half-step asked for a `WH` tile larger than its scratch (found on a 20,000 x 5,000
/// f32 KL fit at k = 20: "range end index 33280 out of range for slice of length 32768"). The
/// smallest shapes whose old tile plan overflowed are 272 x 1358 (the W half-step) and
/// 1358 x 272 (the H half-step), found by replaying the old plan over all shapes up to 6,000 x
/// 25,000.
#[test]
fn mu_tile_plans_fit_their_scratch() {
    for (n, m) in [(272, 1358), (1358, 272)] {
        let x = Mat::<f32>::from_fn(n, m, |i, j| ((i * 31 + j * 17) % 23) as f32 / 23.0 + 0.05);
        for loss in [Loss::KullbackLeibler, Loss::Beta(0.5)] {
            let model = Nmf::params(5)
                .solver(SolverKind::Mu)
                .loss(loss)
                .init(Init::Random)
                .max_iter(2)
                .tol(0.0)
                .fit(x.as_ref())
                .unwrap();
            assert_eq!(model.report().n_iter, 2);
            assert!(model.report().reconstruction_err.is_finite());
        }
    }
}

/// `NpzRows` named a bad entry by its row inside the requested block, not in the file (found
/// by nmf-dist's fault test: a negative value at row 50 was reported "at row 2" for the block
/// starting at row 48).
#[test]
fn npz_rows_name_bad_entries_by_their_row_in_the_file() {
    use nmf::RowSource;
    use std::io::{Cursor, Read, Write};
    let x = Mat::<f64>::from_fn(12, 4, |i, j| {
        if (i + j) % 3 == 0 {
            0.0
        } else {
            (i * 4 + j) as f64
        }
    });
    let marker = x[(10, 1)];
    assert_eq!(marker, 41.0);
    let bytes = nmf::io::write_sparse_bytes(
        &SparseMat::from_dense(x.as_ref()).unwrap(),
        nmf::io::SparseFormat::Npz,
    )
    .unwrap();
    // Re-pack the archive with the marker's value negated (SparseMat refuses to write it).
    let mut zin = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut zout = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        let name = f.name().unwrap().to_string();
        if name == "data.npy" {
            let at = b
                .windows(8)
                .position(|w| w == marker.to_le_bytes())
                .expect("the marker is stored once");
            b[at..at + 8].copy_from_slice(&(-marker).to_le_bytes());
        }
        zout.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zout.write_all(&b).unwrap();
    }
    let path = std::env::temp_dir().join(format!("nmf-regress-npz-{}.npz", std::process::id()));
    std::fs::write(&path, zout.finish().unwrap().into_inner()).unwrap();
    let mut rows = nmf::io::NpzRows::<f64>::open(&path).unwrap();
    let e = rows.rows(8..12).map(|_| ()).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(e.contains("row 10, column 1"), "{e}");
}
