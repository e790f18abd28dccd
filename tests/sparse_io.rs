//! Sparse file IO (`nmf::io::read_sparse` / `write_sparse`): SciPy's and MatrixMarket's files
//! read bit for bit as SciPy reads them, our files read back bit for bit, and malformed or
//! hostile bytes give typed errors, never a panic or an allocation the file does not justify.

mod common;

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use faer::{Mat, MatRef};
use nmf::io::{self, IoError, SparseFormat};
use nmf::{CoreError, Float, SparseMat};
use proptest::prelude::*;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// The scale fixtures beside the checkout (`None`, with a skip note, when absent outside CI).
fn scale_fixture(name: &str) -> Option<PathBuf> {
    common::require(
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures-scale"
        ))
        .join(name),
        "put the shared folder beside the checkout as ../shared",
    )
}

/// Our own small fixtures, written by `scripts/make_sparse_fixtures.py`.
fn local(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sparse")
        .join(name)
}

/// Same shape and the same bits in every entry (f32 compared through its exact widening).
fn assert_bitwise<T: Float, U: Float>(got: MatRef<'_, T>, want: MatRef<'_, U>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for j in 0..got.ncols() {
        for i in 0..got.nrows() {
            let (g, w) = (got[(i, j)].to_f64(), want[(i, j)].to_f64());
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{what}: ({i}, {j}) is {g:e}, want {w:e}"
            );
        }
    }
}

const SCALE_PAIRS: [(&str, &str); 12] = [
    ("g_X.mtx", "g_X_dense.npy"),
    ("g_X_csr.npz", "g_X_dense.npy"),
    ("g_X_csr_stored.npz", "g_X_dense.npy"),
    ("g_X_csc.npz", "g_X_dense.npy"),
    ("g_X_coo.npz", "g_X_dense.npy"),
    ("mm_general_real.mtx", "mm_general_real_dense.npy"),
    ("mm_symmetric_real.mtx", "mm_symmetric_real_dense.npy"),
    ("mm_pattern.mtx", "mm_pattern_dense.npy"),
    ("mm_integer.mtx", "mm_integer_dense.npy"),
    ("mm_duplicates.mtx", "mm_duplicates_dense.npy"),
    ("mm_array_real.mtx", "mm_array_real_dense.npy"),
    (
        "mm_uppercase_blankline.mtx",
        "mm_uppercase_blankline_dense.npy",
    ),
];

#[test]
fn scale_fixtures_read_bitwise_as_scipy_reads_them() {
    for (file, dense) in SCALE_PAIRS {
        let (Some(file), Some(dense)) = (scale_fixture(file), scale_fixture(dense)) else {
            return;
        };
        let want: Mat<f64> = io::read_npy(&dense).unwrap();
        let x: SparseMat<f64> =
            io::read_sparse(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_bitwise(
            x.to_dense().as_ref(),
            want.as_ref(),
            &file.display().to_string(),
        );
    }
    // The five spellings of g_X are one matrix, layouts included.
    let Some(mtx) = scale_fixture("g_X.mtx") else {
        return;
    };
    let a: SparseMat<f64> = io::read_sparse(mtx).unwrap();
    for f in [
        "g_X_csr.npz",
        "g_X_csr_stored.npz",
        "g_X_csc.npz",
        "g_X_coo.npz",
    ] {
        let b: SparseMat<f64> = io::read_sparse(scale_fixture(f).unwrap()).unwrap();
        assert_eq!(a, b, "{f}");
    }
    // mm_duplicates: 1.0 + 2.5 at (1, 1).
    let d: SparseMat<f64> = io::read_sparse(scale_fixture("mm_duplicates.mtx").unwrap()).unwrap();
    assert_eq!(d.row(0), (&[0u32][..], &[3.5][..]));
}

/// `(file, dense, data is float32)` for the fixtures of `scripts/make_sparse_fixtures.py`.
const LOCAL: [(&str, bool); 11] = [
    ("csr_i8.npz", false),
    ("csr_f32.npz", true),
    ("csc_f32_stored.npz", true),
    ("csr_array.npz", false),
    ("coo_array.npz", false),
    ("csr_int64_data.npz", false),
    ("csc_int32_data.npz", false),
    ("coo_dups.npz", false),
    ("mm_symmetric_upper.mtx", false),
    ("mm_array_symmetric.mtx", false),
    ("mm_double_crlf.mtx", false),
];

fn dense_of(file: &str) -> PathBuf {
    let stem = file.rsplit_once('.').unwrap().0;
    local(&format!("{stem}_dense.npy"))
}

#[test]
fn generated_fixtures_read_bitwise_as_scipy_reads_them() {
    for (file, is_f32) in LOCAL {
        let path = local(file);
        if is_f32 {
            let want: Mat<f32> = io::read_npy(dense_of(file)).unwrap();
            let x: SparseMat<f32> = io::read_sparse(&path).unwrap();
            assert_bitwise(x.to_dense().as_ref(), want.as_ref(), file);
            // float32 data widens exactly.
            let y: SparseMat<f64> = io::read_sparse(&path).unwrap();
            assert_bitwise(y.to_dense().as_ref(), want.as_ref(), file);
        } else {
            let want: Mat<f64> = io::read_npy(dense_of(file)).unwrap();
            let x: SparseMat<f64> =
                io::read_sparse(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_bitwise(x.to_dense().as_ref(), want.as_ref(), file);
        }
    }
    // Integer data is exact in f32 too (small integers).
    let x: SparseMat<f32> = io::read_sparse(local("csr_int64_data.npz")).unwrap();
    let want: Mat<f64> = io::read_npy(dense_of("csr_int64_data.npz")).unwrap();
    assert_bitwise(x.to_dense().as_ref(), want.as_ref(), "int64 data as f32");
    // Duplicates (halves) summed and explicit zeros dropped: the same matrix as the array file.
    let a: SparseMat<f64> = io::read_sparse(local("coo_dups.npz")).unwrap();
    let b: SparseMat<f64> = io::read_sparse(local("coo_array.npz")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn float64_npz_is_not_narrowed_to_f32() {
    let e = io::read_sparse::<f32>(local("csr_i8.npz")).unwrap_err();
    assert!(matches!(e, IoError::Dtype { .. }), "{e}");
    assert!(e.to_string().contains("data.npy"), "{e}");
}

/// A matrix with awkward values: subnormal, tiny, huge, non-terminating decimals, duplicates
/// of nothing, an empty row and column.
fn awkward<T: Float>() -> SparseMat<T> {
    let vals: Vec<T> = [
        0.1,
        1.0 / 3.0,
        5e-324,
        2.5e-310,
        1e300,
        123456789.0,
        f64::from(f32::MAX),
        f64::from(f32::MIN_POSITIVE) / 4.0,
        7.0,
        2f64.powi(-60),
    ]
    .iter()
    .map(|&v| T::from_f64(v))
    .collect();
    let vals: Vec<T> = vals
        .into_iter()
        .filter(|v| v.is_finite() && *v > T::ZERO)
        .collect();
    let rows: Vec<u32> = (0..vals.len() as u32).map(|e| (e * 3) % 5).collect();
    let cols: Vec<u32> = (0..vals.len() as u32).map(|e| (e * 7 + 1) % 6).collect();
    SparseMat::from_triplets(6, 7, &rows, &cols, &vals).unwrap()
}

fn round_trip<T: Float>(x: &SparseMat<T>, dir: &Path) {
    for format in [SparseFormat::Npz, SparseFormat::MatrixMarket] {
        let bytes = io::write_sparse_bytes(x, format).unwrap();
        let name = if format == SparseFormat::Npz {
            "x.npz"
        } else {
            "x.mtx"
        };
        let y: SparseMat<T> = io::read_sparse_bytes(&bytes, Path::new(name)).unwrap();
        assert_eq!(&y, x, "{format:?} {}", T::NAME);
        assert_bitwise(y.to_dense().as_ref(), x.to_dense().as_ref(), name);
        let path = dir.join(format!("{}-{name}", T::NAME));
        io::write_sparse(&path, x).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "file and bytes agree");
        let z: SparseMat<T> = io::read_sparse(&path).unwrap();
        assert_eq!(&z, x);
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nmf-sparse-io-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn write_then_read_is_bitwise_for_both_formats_and_precisions() {
    let dir = temp_dir("rt");
    round_trip(&awkward::<f64>(), &dir);
    round_trip(&awkward::<f32>(), &dir);
    // Empty and 0 x 0 matrices.
    round_trip(
        &SparseMat::<f64>::from_triplets::<u32>(3, 2, &[], &[], &[]).unwrap(),
        &dir,
    );
    round_trip(
        &SparseMat::<f32>::from_triplets::<u32>(0, 0, &[], &[], &[]).unwrap(),
        &dir,
    );
    if let Some(p) = scale_fixture("g_X_csr.npz") {
        round_trip(&io::read_sparse::<f64>(p).unwrap(), &dir);
    }
    assert!(matches!(
        io::write_sparse(dir.join("x.parquet"), &awkward::<f64>()),
        Err(IoError::UnknownSparseFormat { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Member names in archive order, and each member's bytes.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

fn zip_of(members: &[(String, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in members {
        z.start_file(
            name,
            SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn written_npz_has_scipys_layout() {
    let bytes = io::write_sparse_bytes(&awkward::<f64>(), SparseFormat::Npz).unwrap();
    let members = unzip(&bytes);
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "indices.npy",
            "indptr.npy",
            "format.npy",
            "shape.npy",
            "data.npy"
        ]
    );
    let header = |b: &[u8]| {
        let len = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + len) % 64, 0, "data starts 64-byte aligned");
        String::from_utf8(b[10..10 + len].to_vec()).unwrap()
    };
    assert!(header(&members[0].1).contains("'descr': '<i4'"));
    assert!(header(&members[2].1).contains("'descr': '|S3'") && members[2].1.ends_with(b"csr"));
    assert!(header(&members[3].1).contains("'shape': (2,)"));
    assert!(header(&members[4].1).contains("'descr': '<f8'"));
    let f32_bytes = io::write_sparse_bytes(&awkward::<f32>(), SparseFormat::Npz).unwrap();
    assert!(header(&unzip(&f32_bytes)[4].1).contains("'descr': '<f4'"));
    let mtx = io::write_sparse_bytes(&awkward::<f64>(), SparseFormat::MatrixMarket).unwrap();
    let text = String::from_utf8(mtx).unwrap();
    assert!(text.starts_with("%%MatrixMarket matrix coordinate real general\n"));
    assert!(text.contains("\n6 7 10\n"), "{text}");
    assert!(
        text.contains(" 5e-324\n") && text.contains(" 0.1\n"),
        "{text}"
    );
}

#[derive(Debug, PartialEq)]
enum Kind {
    Sparse,
    MatrixMarket(u64),
    Invalid,
    Npy,
    Truncated,
    Dtype,
    Dimensions,
    Unknown,
}

fn kind(e: &IoError) -> Kind {
    match e {
        IoError::Sparse { .. } => Kind::Sparse,
        IoError::MatrixMarket { line, .. } => Kind::MatrixMarket(*line),
        IoError::Invalid { .. } => Kind::Invalid,
        IoError::Npy { .. } => Kind::Npy,
        IoError::Truncated { .. } => Kind::Truncated,
        IoError::Dtype { .. } => Kind::Dtype,
        IoError::Dimensions { .. } => Kind::Dimensions,
        IoError::UnknownSparseFormat { .. } => Kind::Unknown,
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn malformed_mtx_files_are_typed_errors() {
    let coo = "%%MatrixMarket matrix coordinate real general\n";
    let cases: Vec<(&str, String, Kind, &str)> = vec![
        (
            "index 0",
            format!("{coo}2 2 1\n0 1 1.0\n"),
            Kind::MatrixMarket(3),
            "out of bounds",
        ),
        (
            "row > M",
            format!("{coo}2 2 1\n3 1 1.0\n"),
            Kind::MatrixMarket(3),
            "out of bounds",
        ),
        (
            "col > N",
            format!("{coo}2 2 1\n1 3 1.0\n"),
            Kind::MatrixMarket(3),
            "out of bounds",
        ),
        (
            "truncated",
            format!("{coo}2 2 3\n1 1 1\n2 2 1\n"),
            Kind::MatrixMarket(4),
            "truncated",
        ),
        (
            "no size line",
            coo.to_string(),
            Kind::MatrixMarket(1),
            "truncated",
        ),
        (
            "extra entry",
            format!("{coo}2 2 1\n1 1 1\n2 2 1\n"),
            Kind::MatrixMarket(4),
            "more",
        ),
        (
            "no banner",
            "2 2 1\n1 1 1\n".into(),
            Kind::MatrixMarket(1),
            "banner",
        ),
        ("empty", String::new(), Kind::MatrixMarket(0), "banner"),
        (
            "short banner",
            "%%MatrixMarket matrix coordinate\n1 1 0\n".into(),
            Kind::MatrixMarket(1),
            "banner",
        ),
        (
            "garbled format",
            "%%MatrixMarket matrix coordinat real general\n".into(),
            Kind::MatrixMarket(1),
            "format",
        ),
        (
            "vector",
            "%%MatrixMarket vector coordinate real general\n".into(),
            Kind::MatrixMarket(1),
            "object",
        ),
        (
            "nan",
            format!("{coo}2 2 1\n1 1 nan\n"),
            Kind::MatrixMarket(3),
            "not finite",
        ),
        (
            "inf",
            format!("{coo}2 2 1\n1 1 -inf\n"),
            Kind::MatrixMarket(3),
            "not finite",
        ),
        (
            "negative",
            format!("{coo}2 2 1\n2 1 -1.5\n"),
            Kind::MatrixMarket(3),
            "negative",
        ),
        (
            "not a number",
            format!("{coo}2 2 1\n2 1 x\n"),
            Kind::MatrixMarket(3),
            "not a number",
        ),
        (
            "missing value",
            format!("{coo}2 2 1\n2 1\n"),
            Kind::MatrixMarket(3),
            "fields",
        ),
        (
            "integer field, real value",
            "%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 1.5\n".into(),
            Kind::MatrixMarket(3),
            "integer",
        ),
        (
            "complex",
            "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n".into(),
            Kind::MatrixMarket(1),
            "complex",
        ),
        (
            "hermitian",
            "%%MatrixMarket matrix coordinate real hermitian\n1 1 1\n1 1 1\n".into(),
            Kind::MatrixMarket(1),
            "hermitian",
        ),
        (
            "skew",
            "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 1\n".into(),
            Kind::MatrixMarket(1),
            "skew-symmetric",
        ),
        (
            "pattern array",
            "%%MatrixMarket matrix array pattern general\n1 1\n".into(),
            Kind::MatrixMarket(1),
            "pattern",
        ),
        (
            "symmetric not square",
            "%%MatrixMarket matrix coordinate real symmetric\n2 3 0\n".into(),
            Kind::MatrixMarket(2),
            "square",
        ),
        (
            "bad size line",
            format!("{coo}2 2\n"),
            Kind::MatrixMarket(2),
            "size line",
        ),
        (
            "negative size",
            format!("{coo}-2 2 0\n"),
            Kind::MatrixMarket(2),
            "size line",
        ),
        (
            "array too short",
            "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n".into(),
            Kind::MatrixMarket(5),
            "truncated",
        ),
        (
            "array too long",
            "%%MatrixMarket matrix array real general\n1 2\n1\n2\n3\n".into(),
            Kind::MatrixMarket(5),
            "more",
        ),
        // 10^12 declared entries: refused as truncated after the one line there is.
        (
            "huge entry count",
            format!("{coo}2 2 1000000000000\n1 1 1\n"),
            Kind::MatrixMarket(3),
            "truncated",
        ),
        (
            "huge array",
            "%%MatrixMarket matrix array real general\n500000 500000\n1\n".into(),
            Kind::MatrixMarket(3),
            "truncated",
        ),
        // Dimensions a 60-byte file cannot justify are refused before any pointer array exists.
        (
            "huge dims",
            format!("{coo}3000000000 3000000000 0\n"),
            Kind::Sparse,
            "holds only",
        ),
        (
            "dims beyond u32",
            format!("{coo}5000000000 1 0\n"),
            Kind::Invalid,
            "limited to 2^32",
        ),
        (
            "replacement char",
            format!("{coo}1 1 1\n1 1 \u{fffd}\n"),
            Kind::MatrixMarket(3),
            "not a number",
        ),
    ];
    for (name, text, want, needle) in cases {
        let e =
            io::read_sparse_bytes::<f64>(text.as_bytes(), Path::new("bad.mtx")).expect_err(name);
        assert_eq!(kind(&e), want, "{name}: {e}");
        let msg = e.to_string();
        assert!(msg.starts_with("bad.mtx: "), "{name}: {msg}");
        assert!(msg.contains(needle), "{name}: {msg:?} lacks {needle:?}");
    }
    let e = io::read_sparse_bytes::<f64>(
        b"%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 \xff\n",
        Path::new("bad.mtx"),
    )
    .unwrap_err();
    assert_eq!(kind(&e), Kind::MatrixMarket(3), "{e}");
    // An integer beyond 2^24 is not exact in f32 but is in f64.
    let big = b"%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 16777217\n";
    assert!(io::read_sparse_bytes::<f64>(big, Path::new("b.mtx")).is_ok());
    let e = io::read_sparse_bytes::<f32>(big, Path::new("b.mtx")).unwrap_err();
    assert!(e.to_string().contains("exactly"), "{e}");
    // Neither the bytes nor the name say what it is.
    let e = io::read_sparse_bytes::<f64>(b"1 2 3", Path::new("x.bin")).unwrap_err();
    assert_eq!(kind(&e), Kind::Unknown);
}

/// A `.npy` member from a header dict body and raw data.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h.as_bytes());
    out.extend(data);
    out
}

fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

/// A 2 x 3 CSR `.npz` with members replaced by `edit`.
fn npz_with(edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    let mut m: Vec<(String, Vec<u8>)> = vec![
        (
            "indices.npy".into(),
            npy("<i4", "(3,)", &le(&[0i32, 2, 1], i32::to_le_bytes)),
        ),
        (
            "indptr.npy".into(),
            npy("<i4", "(3,)", &le(&[0i32, 2, 3], i32::to_le_bytes)),
        ),
        ("format.npy".into(), npy("|S3", "()", b"csr")),
        (
            "shape.npy".into(),
            npy("<i8", "(2,)", &le(&[2i64, 3], i64::to_le_bytes)),
        ),
        (
            "data.npy".into(),
            npy("<f8", "(3,)", &le(&[1.0f64, 2.0, 3.0], f64::to_le_bytes)),
        ),
    ];
    edit(&mut m);
    zip_of(&m, CompressionMethod::Deflated)
}

fn set(m: &mut [(String, Vec<u8>)], name: &str, bytes: Vec<u8>) {
    m.iter_mut().find(|(n, _)| n == name).unwrap().1 = bytes;
}

#[test]
fn malformed_npz_files_are_typed_errors() {
    let ok: SparseMat<f64> = io::read_sparse_bytes(&npz_with(|_| {}), Path::new("x.npz")).unwrap();
    assert_eq!(ok.row(0), (&[0u32, 2][..], &[1.0, 2.0][..]));
    let f64s = |v: &[f64]| le(v, f64::to_le_bytes);
    let i4 = |v: &[i32]| le(v, i32::to_le_bytes);
    type Edit = Box<dyn FnOnce(&mut Vec<(String, Vec<u8>)>)>;
    let cases: Vec<(&str, Edit, Kind, &str)> = vec![
        (
            "missing data",
            Box::new(|m| m.retain(|(n, _)| n != "data.npy")),
            Kind::Sparse,
            "missing member data.npy",
        ),
        (
            "bsr",
            Box::new(|m| set(m, "format.npy", npy("|S3", "()", b"bsr"))),
            Kind::Sparse,
            "not supported",
        ),
        (
            "format not a string",
            Box::new(|m| set(m, "format.npy", npy("<i8", "()", &[0; 8]))),
            Kind::Sparse,
            "format.npy",
        ),
        (
            "negative shape",
            Box::new(|m| {
                set(
                    m,
                    "shape.npy",
                    npy("<i8", "(2,)", &le(&[-2i64, 3], i64::to_le_bytes)),
                )
            }),
            Kind::Sparse,
            "nonnegative",
        ),
        (
            "shape of 3",
            Box::new(|m| {
                set(
                    m,
                    "shape.npy",
                    npy("<i8", "(3,)", &le(&[2i64, 3, 1], i64::to_le_bytes)),
                )
            }),
            Kind::Sparse,
            "two",
        ),
        (
            "length mismatch",
            Box::new(move |m| set(m, "data.npy", npy("<f8", "(2,)", &f64s(&[1.0, 2.0])))),
            Kind::Sparse,
            "entries",
        ),
        (
            "index out of range",
            Box::new(move |m| set(m, "indices.npy", npy("<i4", "(3,)", &i4(&[0, 3, 1])))),
            Kind::Invalid,
            "outside 0..3",
        ),
        (
            "indptr decreasing",
            Box::new(move |m| set(m, "indptr.npy", npy("<i4", "(3,)", &i4(&[0, 3, 2])))),
            Kind::Invalid,
            "decreases",
        ),
        (
            "indptr negative",
            Box::new(move |m| set(m, "indptr.npy", npy("<i4", "(3,)", &i4(&[0, -1, 3])))),
            Kind::Sparse,
            "index pointer 1",
        ),
        (
            "indptr short",
            Box::new(move |m| set(m, "indptr.npy", npy("<i4", "(2,)", &i4(&[0, 3])))),
            Kind::Invalid,
            "pointers",
        ),
        (
            "negative value",
            Box::new(move |m| set(m, "data.npy", npy("<f8", "(3,)", &f64s(&[1.0, -2.0, 3.0])))),
            Kind::Invalid,
            "negative",
        ),
        (
            "nan value",
            Box::new(move |m| {
                set(
                    m,
                    "data.npy",
                    npy("<f8", "(3,)", &f64s(&[1.0, f64::NAN, 3.0])),
                )
            }),
            Kind::Invalid,
            "non-finite",
        ),
        (
            "complex data",
            Box::new(|m| set(m, "data.npy", npy("<c16", "(3,)", &[0; 48]))),
            Kind::Dtype,
            "data.npy",
        ),
        (
            "float16 indices",
            Box::new(|m| set(m, "indices.npy", npy("<f2", "(3,)", &[0; 6]))),
            Kind::Dtype,
            "indices.npy",
        ),
        (
            "2-D data",
            Box::new(move |m| set(m, "data.npy", npy("<f8", "(3, 1)", &f64s(&[1.0, 2.0, 3.0])))),
            Kind::Dimensions,
            "data.npy",
        ),
        (
            "int64 beyond 2^53",
            Box::new(|m| {
                set(
                    m,
                    "data.npy",
                    npy(
                        "<i8",
                        "(3,)",
                        &le(&[1i64, (1 << 53) + 1, 3], i64::to_le_bytes),
                    ),
                )
            }),
            Kind::Sparse,
            "exactly",
        ),
        // A member header declaring a huge shape is compared with the bytes there are first.
        (
            "huge npy shape",
            Box::new(|m| set(m, "data.npy", npy("<f8", "(1000000000000,)", &[0; 24]))),
            Kind::Truncated,
            "truncated",
        ),
        (
            "huge shape member",
            Box::new(|m| {
                set(
                    m,
                    "shape.npy",
                    npy(
                        "<i8",
                        "(2,)",
                        &le(&[4_000_000_000i64, 4_000_000_000], i64::to_le_bytes),
                    ),
                )
            }),
            Kind::Sparse,
            "holds only",
        ),
        (
            "garbled npy",
            Box::new(|m| set(m, "indices.npy", b"\x93NUMPX".to_vec())),
            Kind::Npy,
            "indices.npy",
        ),
    ];
    for (name, edit, want, needle) in cases {
        let bytes = npz_with(edit);
        let e = io::read_sparse_bytes::<f64>(&bytes, Path::new("bad.npz")).expect_err(name);
        assert_eq!(kind(&e), want, "{name}: {e}");
        let msg = e.to_string();
        assert!(msg.starts_with("bad.npz"), "{name}: {msg}");
        assert!(msg.contains(needle), "{name}: {msg:?} lacks {needle:?}");
    }
    // Not a ZIP archive at all, though named and sniffed as one.
    for bytes in [&b"PK\x03\x04garbage"[..], b"", b"hello"] {
        let e = io::read_sparse_bytes::<f64>(bytes, Path::new("bad.npz")).unwrap_err();
        assert_eq!(kind(&e), Kind::Sparse, "{e}");
    }
}

/// A ZIP whose member claims a huge uncompressed size is refused, not reserved for.
#[test]
fn npz_member_lying_about_its_size_is_refused() {
    let good = npz_with(|_| {});
    // Patch every "uncompressed size" field (local header offset 22, central offset 24).
    let mut bad = good.clone();
    let mut patched = 0;
    for i in 0..bad.len().saturating_sub(4) {
        let sig = &good[i..i + 4];
        let at = if sig == b"PK\x03\x04" {
            i + 22
        } else if sig == b"PK\x01\x02" {
            i + 24
        } else {
            continue;
        };
        bad[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        patched += 1;
    }
    assert!(patched >= 2);
    let e = io::read_sparse_bytes::<f64>(&bad, Path::new("bad.npz")).unwrap_err();
    assert!(matches!(e, IoError::Sparse { .. }), "{e}");
}

/// Every fixture's bytes, for mutation: ours always, the shared ones when present.
fn fixture_bytes() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = LOCAL
        .iter()
        .map(|(f, _)| (f.to_string(), std::fs::read(local(f)).unwrap()))
        .collect();
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures-scale"
    ));
    for (f, _) in SCALE_PAIRS {
        if let Ok(b) = std::fs::read(dir.join(f)) {
            out.push((f.to_string(), b));
        }
    }
    out
}

fn read_both(bytes: &[u8], name: &str) {
    let path = Path::new(name);
    // Errors are fine; panics and aborts are not. A success must be a valid matrix.
    if let Ok(x) = io::read_sparse_bytes::<f64>(bytes, path) {
        assert!(x.values().iter().all(|v| v.is_finite() && *v > 0.0));
    }
    let _ = io::read_sparse_bytes::<f32>(bytes, path);
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        // Digits are what turn a size line or shape into a huge one.
        (any::<usize>(), prop::collection::vec(b'0'..=b'9', 1..12))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, ms: &[Mutation]) {
    for m in ms {
        let n = bytes.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % n] ^= b;
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % n),
            Mutation::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Remove(i, k) => {
                let at = i % n;
                let end = (at + k).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::cases(512)))]

    #[test]
    fn arbitrary_bytes_never_panic(
        prefix in prop_oneof![Just(&b""[..]), Just(&b"PK\x03\x04"[..]), Just(&b"%%MatrixMarket "[..])],
        body in prop::collection::vec(any::<u8>(), 0..512),
        ext in prop_oneof![Just("x.npz"), Just("x.mtx"), Just("x")],
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend(body);
        read_both(&bytes, ext);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        ms in prop::collection::vec(mutation(), 1..4),
    ) {
        let all = fixture_bytes();
        let (name, mut bytes) = all[which.index(all.len())].clone();
        apply(&mut bytes, &ms);
        read_both(&bytes, &name);
    }

    /// Mutations inside one `.npy` member of a re-zipped archive with valid checksums, so they
    /// reach the member parsing instead of the ZIP checksum.
    #[test]
    fn mutated_npz_members_never_panic(
        which in any::<prop::sample::Index>(),
        member in any::<prop::sample::Index>(),
        ms in prop::collection::vec(mutation(), 1..4),
        stored in any::<bool>(),
    ) {
        let all: Vec<_> = fixture_bytes().into_iter().filter(|(n, _)| n.ends_with(".npz")).collect();
        let (name, bytes) = &all[which.index(all.len())];
        let mut members = unzip(bytes);
        let k = member.index(members.len());
        apply(&mut members[k].1, &ms);
        let method = if stored { CompressionMethod::Stored } else { CompressionMethod::Deflated };
        read_both(&zip_of(&members, method), name);
    }

    #[test]
    fn round_trip_of_arbitrary_matrices_is_bitwise(
        n in 0usize..6,
        m in 0usize..6,
        entries in prop::collection::vec((0usize..6, 0usize..6, any::<u64>()), 0..20),
        f32_too in any::<bool>(),
    ) {
        // Arbitrary finite nonnegative bit patterns (exponents across the whole range).
        let (mut r, mut c, mut v) = (vec![], vec![], vec![]);
        for (i, j, bits) in entries {
            let x = f64::from_bits(bits & !(1 << 63));
            if n > 0 && m > 0 && x.is_finite() {
                r.push((i % n) as u32);
                c.push((j % m) as u32);
                v.push(x / 64.0); // headroom so that duplicates cannot sum to infinity
            }
        }
        let x = SparseMat::<f64>::from_triplets(n, m, &r, &c, &v).unwrap();
        for format in [SparseFormat::Npz, SparseFormat::MatrixMarket] {
            let bytes = io::write_sparse_bytes(&x, format).unwrap();
            let name = if format == SparseFormat::Npz { "x.npz" } else { "x.mtx" };
            let y: SparseMat<f64> = io::read_sparse_bytes(&bytes, Path::new(name)).unwrap();
            prop_assert_eq!(&y, &x);
            if f32_too {
                // The same positions with arbitrary float32 bit patterns.
                let v32: Vec<f32> = v.iter().map(|x| {
                    let b = (x.to_bits() as u32) & !(1 << 31);
                    let f = f32::from_bits(b);
                    if f.is_finite() { f / 64.0 } else { 1.0 }
                }).collect();
                let x32 = SparseMat::<f32>::from_triplets(n, m, &r, &c, &v32).unwrap();
                let b = io::write_sparse_bytes(&x32, format).unwrap();
                let y32: SparseMat<f32> = io::read_sparse_bytes(&b, Path::new(name)).unwrap();
                prop_assert_eq!(&y32, &x32);
            }
        }
    }
}

#[test]
fn core_errors_are_wrapped_with_the_path() {
    let text = b"%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1e308\n1 1 1e308\n";
    let e = io::read_sparse_bytes::<f64>(text, Path::new("dup.mtx")).unwrap_err();
    match &e {
        IoError::Invalid {
            path,
            source: CoreError::NonFinite { row: 0, col: 0, .. },
        } => {
            assert_eq!(path, Path::new("dup.mtx"));
        }
        other => panic!("{other:?}"),
    }
}
