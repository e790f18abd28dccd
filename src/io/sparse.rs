//! Sparse files: format detection, the public read/write entry points and the checks both
//! formats share (see the `io` module docs for what is read and how).

use std::fs;
use std::io::{BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};

use nmf_core::{CoreError, Float, SparseMat};

use super::{IoError, mtx, npz, os};

/// A sparse file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SparseFormat {
    /// SciPy's `save_npz` layout: a ZIP archive of `.npy` members.
    Npz,
    /// The NIST MatrixMarket exchange format (`.mtx`).
    MatrixMarket,
}

impl SparseFormat {
    /// The format an extension names (`npz`, `mtx`; any case), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("npz") => Some(SparseFormat::Npz),
            Some("mtx") => Some(SparseFormat::MatrixMarket),
            _ => None,
        }
    }

    /// The format the first bytes announce: a ZIP local header (`PK\x03\x04`, or the end record
    /// of an empty archive) or a MatrixMarket banner.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            Some(SparseFormat::Npz)
        } else if bytes.len() >= 14 && bytes[..14].eq_ignore_ascii_case(b"%%MatrixMarket") {
            Some(SparseFormat::MatrixMarket)
        } else {
            None
        }
    }
}

pub(super) fn sparse_err(path: &Path, reason: impl Into<String>) -> IoError {
    IoError::Sparse {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(super) fn invalid(path: &Path) -> impl FnOnce(CoreError) -> IoError + '_ {
    move |source| IoError::Invalid {
        path: path.to_path_buf(),
        source,
    }
}

/// Rows + columns a file may declare without holding data for them (the pointer arrays of
/// that many cost about 25 MB).
const FREE_DIMS: u64 = 1 << 20;

/// A `SparseMat` holds `nrows + ncols + 2` pointers whatever its entries, so a size line or
/// `shape` member is the one place where a few bytes could ask for gigabytes. Dimensions are
/// accepted up to `2^20` in total, or up to 8 per byte of (decompressed) data the file holds;
/// beyond that the file is refused before anything is allocated by them. Dimensions beyond
/// `u32::MAX` are refused as too large for the `u32` indices.
pub(super) fn check_dims(
    path: &Path,
    nrows: u64,
    ncols: u64,
    data_bytes: usize,
) -> Result<(usize, usize), IoError> {
    if nrows > u64::from(u32::MAX) || ncols > u64::from(u32::MAX) {
        return Err(IoError::Invalid {
            path: path.to_path_buf(),
            source: CoreError::SparseTooLarge {
                what: "X",
                rows: usize::try_from(nrows).unwrap_or(usize::MAX),
                cols: usize::try_from(ncols).unwrap_or(usize::MAX),
            },
        });
    }
    let justified = FREE_DIMS.max((data_bytes as u64).saturating_mul(8));
    if nrows + ncols > justified {
        return Err(sparse_err(
            path,
            format!(
                "declares a {nrows} x {ncols} matrix but holds only {data_bytes} bytes of data \
                 (at most {justified} rows + columns are accepted for that much data)"
            ),
        ));
    }
    let usize_of = |v: u64| usize::try_from(v).map_err(|_| sparse_err(path, "dimension too large"));
    Ok((usize_of(nrows)?, usize_of(ncols)?))
}

/// Reads a sparse matrix from a SciPy `.npz` or MatrixMarket `.mtx` file.
///
/// The format is taken from the first bytes (`PK\x03\x04` or `%%MatrixMarket`), else from the
/// extension. Duplicate entries are summed in file order and stored zeros dropped. `.mtx`
/// values are parsed directly in `T`'s precision (correctly rounded); `.npz` float32 data reads
/// exactly into either precision, float64 data only into `SparseMat<f64>` (narrowing would
/// round silently: read as f64 and use [`SparseMat::map_values`]), integer data exactly where
/// the integer is representable in `T`.
///
/// # Errors
/// [`IoError::Os`] if the file cannot be read; [`IoError::Sparse`], [`IoError::MatrixMarket`],
/// [`IoError::Npy`], [`IoError::Truncated`] or [`IoError::Dtype`] if it is malformed or
/// unsupported; [`IoError::Invalid`] if its entries are not a valid NMF input (negative,
/// non-finite, out of range); [`IoError::UnknownSparseFormat`] if the format is not recognised.
pub fn read_sparse<T: Float>(path: impl AsRef<Path>) -> Result<SparseMat<T>, IoError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(os(path))?;
    read_sparse_bytes(&bytes, path)
}

/// [`read_sparse`] from memory; `path` is used for format detection by extension (when the
/// bytes do not tell) and in error messages.
pub fn read_sparse_bytes<T: Float>(bytes: &[u8], path: &Path) -> Result<SparseMat<T>, IoError> {
    match SparseFormat::sniff(bytes).or_else(|| SparseFormat::from_path(path)) {
        Some(SparseFormat::Npz) => npz::read(bytes, path),
        Some(SparseFormat::MatrixMarket) => mtx::read(bytes, path),
        None => Err(IoError::UnknownSparseFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Writes a sparse matrix as `.npz` (SciPy `csr_matrix` layout, DEFLATE-compressed, readable by
/// `scipy.sparse.load_npz`) or `.mtx` (`coordinate real general`, shortest round-trip
/// decimals), chosen by the extension. Either file reads back bit for bit with
/// [`read_sparse`] in the same precision.
///
/// # Errors
/// [`IoError::UnknownSparseFormat`] for another extension; [`IoError::Os`] if writing fails.
pub fn write_sparse<T: Float>(path: impl AsRef<Path>, x: &SparseMat<T>) -> Result<(), IoError> {
    let path = path.as_ref();
    let format = SparseFormat::from_path(path).ok_or_else(|| IoError::UnknownSparseFormat {
        path: path.to_path_buf(),
    })?;
    let file = fs::File::create(path).map_err(os(path))?;
    let w = BufWriter::new(file);
    let mut w = match format {
        SparseFormat::Npz => npz::write(w, x, path)?,
        SparseFormat::MatrixMarket => {
            let mut w = w;
            mtx::write(&mut w, x).map_err(os(path))?;
            w
        }
    };
    w.flush().map_err(os(path))
}

/// [`write_sparse`] into memory, in the given format.
///
/// # Errors
/// Only if the ZIP writer fails ([`IoError::Sparse`]), which it does not for in-memory output.
pub fn write_sparse_bytes<T: Float>(
    x: &SparseMat<T>,
    format: SparseFormat,
) -> Result<Vec<u8>, IoError> {
    let path = PathBuf::from("<bytes>");
    match format {
        SparseFormat::Npz => Ok(npz::write(Cursor::new(Vec::new()), x, &path)?.into_inner()),
        SparseFormat::MatrixMarket => {
            let mut out = Vec::new();
            mtx::write(&mut out, x).map_err(os(&path))?;
            Ok(out)
        }
    }
}
