//! DATA as the commands read it: dense `.npy`/`.csv` or sparse `.npz`/`.mtx`, in the precision
//! the command computes in (the file's own for `.npy`, float64 for text formats, unless
//! `--dtype` says otherwise).

use std::path::Path;

use anyhow::{Context, Result, bail};
use faer::Mat;
use nmf::io::{self, AnyMatrix, NpyFloat};
use nmf::{DataRef, SparseMat};

use crate::cli::Dtype;
use crate::common::{is_sparse_file, read_sparse_exact};

/// A data matrix in precision `T`.
pub enum Matrix<T> {
    /// `.npy` or `.csv`.
    Dense(Mat<T>),
    /// `.npz` or `.mtx`.
    Sparse(SparseMat<T>),
}

impl<T: NpyFloat> Matrix<T> {
    /// The matrix as the library takes it.
    pub fn data(&self) -> DataRef<'_, T> {
        match self {
            Matrix::Dense(m) => m.as_ref().into(),
            Matrix::Sparse(s) => s.as_ref().into(),
        }
    }

    pub fn shape(&self) -> (usize, usize) {
        match self {
            Matrix::Dense(m) => m.shape(),
            Matrix::Sparse(s) => s.shape(),
        }
    }

    pub fn is_sparse(&self) -> bool {
        matches!(self, Matrix::Sparse(_))
    }
}

/// The precision a file asks for under `--dtype auto`: float32 only for a float32 `.npy`.
pub fn resolve_dtype(path: &Path, dtype: Dtype) -> Result<Dtype> {
    Ok(match dtype {
        Dtype::Auto => {
            if is_npy(path) && npy_is_f32(path)? {
                Dtype::F32
            } else {
                Dtype::F64
            }
        }
        d => d,
    })
}

fn is_npy(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Whether a `.npy` file stores float32, from its header alone.
fn npy_is_f32(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let mut f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("{}", path.display()))?;
    let text = String::from_utf8_lossy(&head[..n]);
    Ok(text.contains("'<f4'") || text.contains("'f4'"))
}

/// Reads a data file in precision `T`.
pub fn read<T: NpyFloat>(path: &Path) -> Result<Matrix<T>> {
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    if path.is_dir() {
        bail!("{}: is a folder, not a data file", path.display());
    }
    if is_sparse_file(path) {
        return Ok(Matrix::Sparse(read_sparse_exact::<T>(path)?));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("npy") => Ok(Matrix::Dense(match io::read_npy_any(path)? {
            // A float64 file is narrowed only under an explicit --dtype f32.
            AnyMatrix::F64(m) => {
                nmf::mat::from_fn(m.nrows(), m.ncols(), |i, j| T::from_f64(m[(i, j)]))
            }
            AnyMatrix::F32(m) => nmf::mat::from_fn(m.nrows(), m.ncols(), |i, j| {
                T::from_f64(f64::from(m[(i, j)]))
            }),
        })),
        Some("csv") | Some("txt") => {
            let m: Mat<f64> = io::read_csv(path, io::CsvHeader::Auto)?;
            Ok(Matrix::Dense(nmf::mat::from_fn(
                m.nrows(),
                m.ncols(),
                |i, j| T::from_f64(m[(i, j)]),
            )))
        }
        _ => bail!(
            "{}: unknown format (expected .npy, .csv, .npz or .mtx)",
            path.display()
        ),
    }
}

/// Reads a dense factor (`.npy` or `.csv`) in precision `T`.
pub fn read_dense<T: NpyFloat>(path: &Path, what: &str) -> Result<Mat<T>> {
    match read::<T>(path).context(what.to_string())? {
        Matrix::Dense(m) => Ok(m),
        Matrix::Sparse(_) => bail!(
            "{what}: {} is sparse; a dense .npy or .csv is needed",
            path.display()
        ),
    }
}
