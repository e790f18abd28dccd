//! `nmf::io`: round trips, the Olivetti file, and malformed inputs that must be errors.

mod common;

use std::path::{Path, PathBuf};

use faer::Mat;
use nmf::io::{self, AnyMatrix, CsvHeader, IoError};
use npyz::WriterBuilder;
use proptest::prelude::*;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nmf-io-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn sample<T: nmf::Float>(n: usize, m: usize) -> Mat<T> {
    Mat::from_fn(n, m, |i, j| T::from_f64((i * m + j) as f64 * 0.37 + 1e-3))
}

/// `.npy` bytes written by npyz with the given dtype string and order.
fn npy_bytes<T: npyz::Serialize>(
    data: &[T],
    shape: &[u64],
    dtype: &str,
    order: npyz::Order,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::<T>::new()
        .dtype(npyz::DType::Plain(dtype.parse().unwrap()))
        .shape(shape)
        .order(order)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    for v in data {
        w.push(v).unwrap();
    }
    w.finish().unwrap();
    out
}

fn read_bytes(b: &[u8]) -> Result<AnyMatrix, IoError> {
    io::read_npy_any_bytes(b, Path::new("<bytes>"))
}

#[test]
fn npy_round_trip_both_dtypes() {
    let a32 = sample::<f32>(3, 5);
    let p = tmp("a32.npy");
    io::write_npy(&p, a32.as_ref()).unwrap();
    assert_eq!(io::read_npy::<f32>(&p).unwrap(), a32);
    // Widening is exact.
    let wide = io::read_npy::<f64>(&p).unwrap();
    assert!((0..3).all(|i| (0..5).all(|j| wide[(i, j)] == a32[(i, j)] as f64)));

    let a64 = sample::<f64>(4, 2);
    let p = tmp("a64.npy");
    io::write_npy(&p, a64.as_ref()).unwrap();
    assert_eq!(io::read_npy::<f64>(&p).unwrap(), a64);
    // Narrowing is refused, not silently rounded.
    assert!(matches!(
        io::read_npy::<f32>(&p),
        Err(IoError::Dtype { .. })
    ));
}

#[test]
fn npy_fortran_and_big_endian() {
    // Logical 2 x 3 matrix [[0,1,2],[3,4,5]] stored column by column.
    let fortran = [0.0f64, 3.0, 1.0, 4.0, 2.0, 5.0];
    let b = npy_bytes(&fortran, &[2, 3], "<f8", npyz::Order::Fortran);
    let AnyMatrix::F64(m) = read_bytes(&b).unwrap() else {
        panic!("expected f64")
    };
    assert_eq!(m, faer::mat![[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]);
    let c = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
    let b = npy_bytes(&c, &[2, 3], ">f4", npyz::Order::C);
    let AnyMatrix::F32(m) = read_bytes(&b).unwrap() else {
        panic!("expected f32")
    };
    assert_eq!(m, faer::mat![[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0]]);
}

#[test]
fn olivetti_loads_as_400_by_4096_f32() {
    let Some((p, targets)) = common::olivetti_with_targets() else {
        return;
    };
    let x: Mat<f32> = io::read_npy(&p).unwrap();
    assert_eq!(x.shape(), (400, 4096));
    let (mut lo, mut hi) = (f32::MAX, f32::MIN);
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            lo = lo.min(x[(i, j)]);
            hi = hi.max(x[(i, j)]);
        }
    }
    assert!(lo >= 0.0 && hi <= 1.0 && hi > 0.9, "range [{lo}, {hi}]");
    let labels = io::read_npy_labels(targets).unwrap();
    assert_eq!(labels.len(), 400);
    // 40 people with 10 images each, stored person by person (scikit-learn's
    // `fetch_olivetti_faces` documents the targets as ids 0..39 in this order).
    assert_eq!((labels[0], labels[399]), (0, 39));
}

/// Which [`IoError`] a malformed `.npy` input must give.
#[derive(Debug, PartialEq)]
enum Kind {
    /// The header or magic is malformed.
    Npy,
    /// The header declares more data than the file holds.
    Truncated,
    /// Not float32/float64.
    Dtype,
    /// Not two-dimensional.
    Dimensions,
}

#[test]
fn malformed_npy_files_are_errors() {
    let good = npy_bytes(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], "<f4", npyz::Order::C);
    assert!(read_bytes(&good).is_ok());
    let header_end = good.len() - 16;
    let mut cases: Vec<(&str, Kind, Vec<u8>)> = vec![
        ("empty", Kind::Npy, vec![]),
        (
            "bad magic",
            Kind::Npy,
            b"\x93NUMPZ\x01\x00\x10\x00".to_vec(),
        ),
        ("magic only", Kind::Npy, b"\x93NUMPY".to_vec()),
        ("truncated header", Kind::Npy, good[..20].to_vec()),
        (
            "truncated data",
            Kind::Truncated,
            good[..good.len() - 3].to_vec(),
        ),
        ("header only", Kind::Truncated, good[..header_end].to_vec()),
        ("version 9", Kind::Npy, {
            let mut b = good.clone();
            b[6] = 9;
            b
        }),
        ("header length beyond file", Kind::Npy, {
            let mut b = good.clone();
            b[8] = 0xff;
            b[9] = 0xff;
            b
        }),
    ];
    let with_header = |h: &str| {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let mut text = h.to_string();
        while !(10 + text.len() + 1).is_multiple_of(64) {
            text.push(' ');
        }
        text.push('\n');
        b.extend_from_slice(&(text.len() as u16).to_le_bytes());
        b.extend_from_slice(text.as_bytes());
        b.extend_from_slice(&[0u8; 32]);
        b
    };
    cases.push((
        "huge shape",
        Kind::Truncated,
        with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }",
        ),
    ));
    cases.push((
        "overflowing shape",
        Kind::Npy,
        with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 2), }",
        ),
    ));
    cases.push((
        "negative shape",
        Kind::Npy,
        with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 2), }"),
    ));
    cases.push((
        "no shape",
        Kind::Npy,
        with_header("{'descr': '<f4', 'fortran_order': False, }"),
    ));
    cases.push((
        "two shapes",
        Kind::Npy,
        with_header("{'descr': '<f4', 'shape': (2, 2), 'fortran_order': False, 'shape': (1, 1), }"),
    ));
    cases.push((
        "int dtype",
        Kind::Dtype,
        with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }"),
    ));
    cases.push((
        "complex dtype",
        Kind::Dtype,
        with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }"),
    ));
    cases.push((
        "float16",
        Kind::Dtype,
        with_header("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }"),
    ));
    cases.push((
        "object dtype",
        Kind::Dtype,
        with_header("{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }"),
    ));
    cases.push((
        "1-D",
        Kind::Dimensions,
        with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"),
    ));
    cases.push((
        "3-D",
        Kind::Dimensions,
        with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 1), }"),
    ));
    cases.push((
        "not a dict",
        Kind::Npy,
        with_header("[1, 2, 3] 'shape': (2, 2)"),
    ));
    cases.push(("non-UTF-8 header", Kind::Npy, {
        let mut b = with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }");
        b[12] = 0xff;
        b
    }));
    for (name, kind, bytes) in cases {
        let e = read_bytes(&bytes).expect_err(name);
        let got = match &e {
            IoError::Npy { .. } => Kind::Npy,
            IoError::Truncated { .. } => Kind::Truncated,
            IoError::Dtype { .. } => Kind::Dtype,
            IoError::Dimensions { .. } => Kind::Dimensions,
            other => panic!("{name}: unexpected error {other:?}"),
        };
        assert_eq!(got, kind, "{name}: {e}");
        // Every message names the file it is about.
        assert!(e.to_string().starts_with("<bytes>: "), "{name}: {e}");
    }
}

#[test]
fn missing_file_names_the_path() {
    let e = io::read_npy::<f32>("/definitely/not/here.npy").unwrap_err();
    assert!(e.to_string().contains("/definitely/not/here.npy"), "{e}");
    assert!(matches!(
        io::read_matrix::<f32>("x.parquet"),
        Err(IoError::UnknownFormat { .. })
    ));
}

#[test]
fn csv_round_trip_and_header() {
    let a = sample::<f64>(3, 4);
    let p = tmp("a.csv");
    io::write_csv(&p, a.as_ref()).unwrap();
    assert_eq!(io::read_csv::<f64>(&p, CsvHeader::Auto).unwrap(), a);
    assert_eq!(io::read_matrix::<f64>(&p).unwrap(), a);
    let with_header = b"a,b\n1, 2\n\n3,4.5\n";
    let m = io::read_csv_bytes::<f32>(with_header, Path::new("<csv>"), CsvHeader::Auto).unwrap();
    assert_eq!(m, faer::mat![[1.0f32, 2.0], [3.0, 4.5]]);
    let numeric_header = b"1,2\n3,4\n";
    let m = io::read_csv_bytes::<f64>(numeric_header, Path::new("<csv>"), CsvHeader::Yes).unwrap();
    assert_eq!(m.shape(), (1, 2));
}

#[test]
fn malformed_csv_files_are_errors() {
    let cases: [(&str, &[u8]); 4] = [
        ("ragged", b"1,2,3\n4,5\n"),
        ("non-numeric", b"1,2\n3,x\n"),
        ("non-UTF-8", b"1,2\n3,\xff\n"),
        ("empty field", b"1,2\n3,\n"),
    ];
    for (name, bytes) in cases {
        let r = io::read_csv_bytes::<f64>(bytes, Path::new("<csv>"), CsvHeader::No);
        let e = r.expect_err(name);
        assert!(e.to_string().contains("line"), "{name}: {e}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        // Whatever parses holds no more values than its bytes can carry (the readers size their
        // buffers from the data present, never from a declared shape alone).
        if let Ok(a) = read_bytes(&bytes) {
            let (n, m) = a.shape();
            prop_assert!(4 * n * m <= bytes.len());
        }
        if let Ok(a) = io::read_csv_bytes::<f64>(&bytes, Path::new("<csv>"), CsvHeader::Auto) {
            prop_assert!(a.nrows() * a.ncols() <= bytes.len());
        }
    }

    #[test]
    fn mutated_npy_never_panics(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = npy_bytes(&[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], "<f8", npyz::Order::C);
        for (i, v) in flips {
            let at = i.index(b.len());
            b[at] = v;
        }
        let len = cut.index(b.len() + 1);
        for bytes in [&b[..], &b[..len]] {
            if let Ok(a) = read_bytes(bytes) {
                let (n, m) = a.shape();
                prop_assert!(4 * n * m <= bytes.len());
            }
        }
    }
}
