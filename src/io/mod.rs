//! Reading and writing matrices: dense `.npy` (float32/float64, C or Fortran order) and `.csv`;
//! sparse SciPy `.npz` and MatrixMarket `.mtx` ([`read_sparse`], [`write_sparse`]).
//!
//! Every reader validates before it allocates: a file whose header declares more elements than
//! it holds is refused as truncated, so a corrupt or hostile file cannot make us reserve memory
//! it does not justify. Malformed input is an [`IoError`], never a panic.
//!
//! # Sparse files
//!
//! [`read_sparse`] reads what `scipy.sparse.save_npz` writes (`csr`, `csc` and `coo`, matrix or
//! array flavour, compressed or stored, `int32`/`int64` indices, float or integer data) and
//! MatrixMarket `matrix` files (`coordinate` or `array`; `real`, `double`, `integer` or
//! `pattern`; `general` or `symmetric`, whose stored triangle, upper or lower, is mirrored).
//! The format is recognised by the file's first bytes, else by its extension. **Duplicate
//! entries are summed** in the order the file lists them, as SciPy does when it converts COO
//! data, and explicitly stored zeros are dropped; negative, NaN or infinite values, indices out
//! of range and short files are errors that say where they are. [`write_sparse`] writes
//! SciPy-compatible CSR `.npz` or `coordinate real general` `.mtx` with shortest round-trip
//! decimals, so either file reads back bit for bit.
//!
//! A sparse matrix keeps a pointer per row and per column whatever its entries, so declared
//! dimensions must be backed by the file: rows + columns beyond `2^20` are accepted only up to
//! 8 per byte of (decompressed) data, and a file claiming more is refused before anything is
//! allocated by them. Real data is far inside this; it only stops a few bytes from asking for
//! gigabytes.
//!
//! ```
//! use nmf::{SparseMat, io};
//!
//! let dir = std::env::temp_dir().join(format!("nmf-io-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! // Row 0 lists column 2 twice: the two values are summed to 3.5.
//! let x = SparseMat::<f64>::from_triplets(2, 3, &[0u32, 1, 0], &[2u32, 0, 2], &[1.0, 0.1, 2.5])?;
//! for name in ["x.npz", "x.mtx"] {
//!     let path = dir.join(name);
//!     io::write_sparse(&path, &x)?;
//!     let y: SparseMat<f64> = io::read_sparse(&path)?;
//!     assert_eq!(y, x);
//!     assert_eq!(y.row(0), (&[2u32][..], &[3.5][..]));
//! }
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod mtx;
mod npz;
mod npz_rows;
mod rows;
mod sparse;

pub use npz_rows::NpzRows;
pub use rows::{NpyRowWriter, NpyRows, transform_npy};
pub use sparse::{SparseFormat, read_sparse, read_sparse_bytes, write_sparse, write_sparse_bytes};

use nmf_core::mat;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use faer::{Mat, MatRef};
use nmf_core::{CoreError, Float};
use npyz::WriterBuilder;
use thiserror::Error;

/// What can go wrong reading or writing a matrix file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IoError {
    /// The operating system refused (missing file, permissions, disk full, ...).
    #[error("{path}: {source}")]
    Os {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The `.npy` header or data is malformed.
    #[error("{path}: not a valid .npy file: {reason}")]
    Npy {
        /// The file (or `<bytes>`).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file holds fewer bytes than its header declares.
    #[error("{path}: truncated: the header declares {expected} data bytes but only {found} follow")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header requires.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The element type is not supported for this read.
    #[error("{path}: unsupported dtype {found}: {expected}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The dtype found (numpy spelling).
        found: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The array does not have the required number of dimensions.
    #[error("{path}: expected a {expected}-dimensional array, found shape {shape:?}")]
    Dimensions {
        /// The file.
        path: PathBuf,
        /// Required number of dimensions.
        expected: usize,
        /// The shape found.
        shape: Vec<u64>,
    },
    /// A CSV file is malformed.
    #[error("{path}: line {line}: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file extension does not say which format to use.
    #[error("{path}: unknown matrix format (expected a .npy or .csv file)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// Neither the first bytes nor the extension say which sparse format a file is in.
    #[error("{path}: unknown sparse matrix format (expected a .npz or .mtx file)")]
    UnknownSparseFormat {
        /// The file.
        path: PathBuf,
    },
    /// A sparse file (`.npz` or `.mtx`) is malformed or of a kind we do not read.
    #[error("{path}: not a valid sparse matrix file: {reason}")]
    Sparse {
        /// The file (an `.npz` member is named as `file.npz/member.npy`).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A MatrixMarket file is malformed at a given line.
    #[error("{path}: line {line}: {reason}")]
    MatrixMarket {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file is well formed but its entries are not a valid NMF input (a negative or
    /// non-finite value, an index out of range, inconsistent index pointers).
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The validation error, naming the entry.
        source: CoreError,
    },
}

/// Element types that can be read from and written to `.npy`: `f32` and `f64`.
pub trait NpyFloat: Float + npyz::Deserialize + npyz::Serialize + npyz::AutoSerialize {}
impl NpyFloat for f32 {}
impl NpyFloat for f64 {}

/// A matrix read from a file, in the precision the file stores.
#[derive(Debug, Clone)]
pub enum AnyMatrix {
    /// float32 data.
    F32(Mat<f32>),
    /// float64 data.
    F64(Mat<f64>),
}

impl AnyMatrix {
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            AnyMatrix::F32(m) => m.shape(),
            AnyMatrix::F64(m) => m.shape(),
        }
    }
}

fn os(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError::Os {
        path: path.to_path_buf(),
        source,
    }
}

fn npy_err(path: &Path, reason: impl Into<String>) -> IoError {
    IoError::Npy {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The parts of an `.npy` preamble we check ourselves before handing bytes to npyz.
struct Preamble<'a> {
    header: &'a str,
    data_offset: usize,
}

fn preamble<'a>(bytes: &'a [u8], path: &Path) -> Result<Preamble<'a>, IoError> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(npy_err(path, "missing the \\x93NUMPY magic string"));
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(npy_err(path, "header length field is cut off"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12usize,
            )
        }
        v => return Err(npy_err(path, format!("unsupported format version {v}"))),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            npy_err(
                path,
                format!("header declares {header_len} bytes, more than the file holds"),
            )
        })?;
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| npy_err(path, "header is not valid text"))?;
    Ok(Preamble {
        header,
        data_offset: end,
    })
}

/// Extracts the `shape` tuple from the header dict without allocating by its values.
fn declared_shape(header: &str, path: &Path) -> Result<Vec<u64>, IoError> {
    let key_at = |q: &str| header.match_indices(q).map(|(i, _)| i).collect::<Vec<_>>();
    let mut hits = key_at("'shape'");
    hits.extend(key_at("\"shape\""));
    if hits.len() != 1 {
        return Err(npy_err(path, "header must name 'shape' exactly once"));
    }
    let rest = &header[hits[0] + 7..];
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or_else(|| npy_err(path, "malformed 'shape' entry"))?
        .trim_start();
    let rest = rest
        .strip_prefix('(')
        .ok_or_else(|| npy_err(path, "'shape' is not a tuple"))?;
    let close = rest
        .find(')')
        .ok_or_else(|| npy_err(path, "'shape' tuple is not closed"))?;
    let mut shape = Vec::new();
    for tok in rest[..close].split(',') {
        let tok = tok.trim();
        if tok.is_empty() {
            continue;
        }
        let v = tok.trim_end_matches('L').parse::<u64>().map_err(|_| {
            npy_err(
                path,
                format!("shape entry {tok:?} is not a nonnegative integer"),
            )
        })?;
        shape.push(v);
    }
    Ok(shape)
}

fn checked_elements(shape: &[u64], path: &Path) -> Result<u64, IoError> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| npy_err(path, format!("shape {shape:?} overflows")))
}

struct ParsedNpy<'a> {
    file: npyz::NpyFile<&'a [u8]>,
    /// The bytes after the header (for dtypes npyz is not asked to decode, e.g. `|S3`).
    data: &'a [u8],
    shape: Vec<u64>,
    fortran: bool,
    type_char: npyz::TypeChar,
    item_size: u64,
    dtype_str: String,
}

fn parse_npy<'a>(bytes: &'a [u8], path: &Path) -> Result<ParsedNpy<'a>, IoError> {
    let pre = preamble(bytes, path)?;
    let shape = declared_shape(pre.header, path)?;
    let n_elem = checked_elements(&shape, path)?;
    let data_len = (bytes.len() - pre.data_offset) as u64;
    // Any supported dtype needs >= 1 byte per element: refuse absurd shapes before npyz sees them.
    if n_elem > data_len {
        return Err(IoError::Truncated {
            path: path.to_path_buf(),
            expected: n_elem,
            found: data_len,
        });
    }
    let file = npyz::NpyFile::new(bytes).map_err(|e| npy_err(path, e.to_string()))?;
    if file.shape() != shape.as_slice() {
        return Err(npy_err(path, "inconsistent 'shape' entry"));
    }
    let dtype = file.dtype();
    let (type_char, item_size, dtype_str) = match &dtype {
        npyz::DType::Plain(ts) => (ts.type_char(), ts.size_field(), ts.to_string()),
        other => {
            return Err(IoError::Dtype {
                path: path.to_path_buf(),
                found: format!("{other:?}"),
                expected: "a plain numeric dtype",
            });
        }
    };
    let fortran = file.order() == npyz::Order::Fortran;
    let need = n_elem.saturating_mul(item_size.max(1));
    if need > data_len {
        return Err(IoError::Truncated {
            path: path.to_path_buf(),
            expected: need,
            found: data_len,
        });
    }
    Ok(ParsedNpy {
        file,
        data: &bytes[pre.data_offset..],
        shape,
        fortran,
        type_char,
        item_size,
        dtype_str,
    })
}

fn to_usize(v: u64, path: &Path) -> Result<usize, IoError> {
    usize::try_from(v).map_err(|_| npy_err(path, "dimension too large for this platform"))
}

fn build_mat<T: Float, S: Copy>(
    data: &[S],
    n: usize,
    m: usize,
    fortran: bool,
    conv: impl Fn(S) -> T,
) -> Mat<T> {
    if fortran {
        mat::from_fn(n, m, |i, j| conv(data[j * n + i]))
    } else {
        mat::from_fn(n, m, |i, j| conv(data[i * m + j]))
    }
}

/// Reads a 2-D float32 or float64 `.npy` array from memory, in its stored precision.
pub fn read_npy_any_bytes(bytes: &[u8], path: &Path) -> Result<AnyMatrix, IoError> {
    let p = parse_npy(bytes, path)?;
    if p.shape.len() != 2 {
        return Err(IoError::Dimensions {
            path: path.to_path_buf(),
            expected: 2,
            shape: p.shape,
        });
    }
    let (n, m) = (to_usize(p.shape[0], path)?, to_usize(p.shape[1], path)?);
    let fortran = p.fortran;
    let bad_dtype = |found: String| IoError::Dtype {
        path: path.to_path_buf(),
        found,
        expected: "float32 (<f4) or float64 (<f8)",
    };
    match (p.type_char, p.item_size) {
        (npyz::TypeChar::Float, 4) => {
            let v: Vec<f32> = p
                .file
                .into_vec()
                .map_err(|e| npy_err(path, e.to_string()))?;
            Ok(AnyMatrix::F32(build_mat(&v, n, m, fortran, |x| x)))
        }
        (npyz::TypeChar::Float, 8) => {
            let v: Vec<f64> = p
                .file
                .into_vec()
                .map_err(|e| npy_err(path, e.to_string()))?;
            Ok(AnyMatrix::F64(build_mat(&v, n, m, fortran, |x| x)))
        }
        _ => Err(bad_dtype(p.dtype_str)),
    }
}

/// Reads a 2-D `.npy` array in its stored precision (float32 or float64).
pub fn read_npy_any(path: impl AsRef<Path>) -> Result<AnyMatrix, IoError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(os(path))?;
    read_npy_any_bytes(&bytes, path)
}

/// Converts to `T`: widening (f32 -> f64) is exact and allowed; narrowing would silently lose
/// precision and is refused.
fn into_precision<T: Float>(a: AnyMatrix, path: &Path) -> Result<Mat<T>, IoError> {
    match a {
        AnyMatrix::F32(m) => Ok(mat::from_fn(m.nrows(), m.ncols(), |i, j| {
            T::from_f64(m[(i, j)] as f64)
        })),
        AnyMatrix::F64(m) => {
            if T::NAME == "float32" {
                return Err(IoError::Dtype {
                    path: path.to_path_buf(),
                    found: "float64".into(),
                    expected: "float32 for a Mat<f32> (read it as f64, or convert the file)",
                });
            }
            Ok(mat::from_fn(m.nrows(), m.ncols(), |i, j| {
                T::from_f64(m[(i, j)])
            }))
        }
    }
}

/// Reads a 2-D `.npy` file (float32 or float64, C or Fortran order) into a `Mat<T>`.
///
/// float32 files read into `Mat<f64>` are widened exactly; float64 files cannot be read into
/// `Mat<f32>` (that would silently round) and give [`IoError::Dtype`].
///
/// ```no_run
/// let x: faer::Mat<f32> = nmf::io::read_npy("../shared/data/olivetti_faces.npy")?;
/// assert_eq!(x.shape(), (400, 4096));
/// # Ok::<(), nmf::io::IoError>(())
/// ```
pub fn read_npy<T: Float>(path: impl AsRef<Path>) -> Result<Mat<T>, IoError> {
    let path = path.as_ref();
    into_precision(read_npy_any(path)?, path)
}

/// Reads a 1-D integer `.npy` array (e.g. class labels) as `i64`.
pub fn read_npy_labels(path: impl AsRef<Path>) -> Result<Vec<i64>, IoError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(os(path))?;
    let p = parse_npy(&bytes, path)?;
    if p.shape.len() != 1 {
        return Err(IoError::Dimensions {
            path: path.to_path_buf(),
            expected: 1,
            shape: p.shape,
        });
    }
    let err = |e: std::io::Error| npy_err(path, e.to_string());
    match (p.type_char, p.item_size) {
        (npyz::TypeChar::Int, 8) => p.file.into_vec::<i64>().map_err(err),
        (npyz::TypeChar::Int, 4) => Ok(p
            .file
            .into_vec::<i32>()
            .map_err(err)?
            .into_iter()
            .map(i64::from)
            .collect()),
        (npyz::TypeChar::Uint, 1) => Ok(p
            .file
            .into_vec::<u8>()
            .map_err(err)?
            .into_iter()
            .map(i64::from)
            .collect()),
        _ => Err(IoError::Dtype {
            path: path.to_path_buf(),
            found: p.dtype_str,
            expected: "int64, int32 or uint8 labels",
        }),
    }
}

/// Writes a matrix as a C-order `.npy` file of its own precision (`<f4` or `<f8`).
pub fn write_npy<T: NpyFloat>(path: impl AsRef<Path>, a: MatRef<'_, T>) -> Result<(), IoError> {
    let path = path.as_ref();
    let file = fs::File::create(path).map_err(os(path))?;
    let mut out = BufWriter::new(file);
    write_npy_to(&mut out, a).map_err(os(path))?;
    out.flush().map_err(os(path))
}

/// [`write_npy`] into memory: the bytes of the `.npy` file.
pub fn write_npy_bytes<T: NpyFloat>(a: MatRef<'_, T>) -> Result<Vec<u8>, IoError> {
    let mut out = Vec::with_capacity(128 + a.nrows() * a.ncols() * core::mem::size_of::<T>());
    write_npy_to(&mut out, a).map_err(os(Path::new("<bytes>")))?;
    Ok(out)
}

fn write_npy_to<T: NpyFloat, W: Write>(out: W, a: MatRef<'_, T>) -> std::io::Result<()> {
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(&[a.nrows() as u64, a.ncols() as u64])
        .writer(out)
        .begin_nd()?;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            w.push(&a[(i, j)])?;
        }
    }
    w.finish()
}

/// [`read_npy`] from memory; `path` names the source in errors.
pub fn read_npy_bytes<T: Float>(bytes: &[u8], path: &Path) -> Result<Mat<T>, IoError> {
    into_precision(read_npy_any_bytes(bytes, path)?, path)
}

/// Whether the first CSV row is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvHeader {
    /// A header if any field of the first row is not a number.
    #[default]
    Auto,
    /// The first row is a header.
    Yes,
    /// Every row is data.
    No,
}

/// Reads a numeric CSV file (comma-separated; optional header) into a `Mat<T>`.
///
/// Every row must have the same number of fields and every field must parse as a number;
/// otherwise the error names the line.
pub fn read_csv<T: Float>(path: impl AsRef<Path>, header: CsvHeader) -> Result<Mat<T>, IoError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(os(path))?;
    read_csv_bytes(&bytes, path, header)
}

/// [`read_csv`] from memory.
pub fn read_csv_bytes<T: Float>(
    bytes: &[u8],
    path: &Path,
    header: CsvHeader,
) -> Result<Mat<T>, IoError> {
    let csv_err = |line: u64, reason: String| IoError::Csv {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut values: Vec<T> = Vec::new();
    let mut ncols: Option<usize> = None;
    let mut nrows = 0usize;
    let mut first = true;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            csv_err(line, e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() == 1 && rec[0].is_empty() {
            continue; // blank line
        }
        let parsed: Vec<Option<f64>> = rec.iter().map(|f| f.parse::<f64>().ok()).collect();
        if first {
            first = false;
            let is_header = match header {
                CsvHeader::Yes => true,
                CsvHeader::No => false,
                CsvHeader::Auto => parsed.iter().any(Option::is_none),
            };
            if is_header {
                ncols = Some(rec.len());
                continue;
            }
        }
        let expected = *ncols.get_or_insert(rec.len());
        if rec.len() != expected {
            return Err(csv_err(
                line,
                format!("{} fields, expected {expected}", rec.len()),
            ));
        }
        for (c, v) in parsed.into_iter().enumerate() {
            match v {
                Some(v) => values.push(T::from_f64(v)),
                None => {
                    return Err(csv_err(
                        line,
                        format!("field {} ({:?}) is not a number", c + 1, &rec[c]),
                    ));
                }
            }
        }
        nrows += 1;
    }
    let m = ncols.unwrap_or(0);
    Ok(mat::from_fn(nrows, m, |i, j| values[i * m + j]))
}

/// Writes a matrix as CSV, one row per line, with shortest round-trip number formatting.
pub fn write_csv<T: Float>(path: impl AsRef<Path>, a: MatRef<'_, T>) -> Result<(), IoError> {
    let path = path.as_ref();
    let file = fs::File::create(path).map_err(os(path))?;
    let mut w = BufWriter::new(file);
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            if j > 0 {
                w.write_all(b",").map_err(os(path))?;
            }
            write!(w, "{}", a[(i, j)]).map_err(os(path))?;
        }
        w.write_all(b"\n").map_err(os(path))?;
    }
    w.flush().map_err(os(path))
}

/// Reads `.npy` or `.csv` by extension into a `Mat<T>`.
pub fn read_matrix<T: Float>(path: impl AsRef<Path>) -> Result<Mat<T>, IoError> {
    let path = path.as_ref();
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("npy") => read_npy(path),
        Some("csv") | Some("txt") => read_csv(path, CsvHeader::Auto),
        _ => Err(IoError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}
