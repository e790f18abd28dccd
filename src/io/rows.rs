//! `.npy` files read and written by blocks of rows, for matrices larger than memory: a
//! [`NpyRows`] is a [`RowSource`] (`NmfConfig::fit_source`, `NmfModel::transform_source`),
//! a [`NpyRowWriter`] takes W block by block as `transform_source` solves it.
//!
//! Only the block asked for is read (one run of the file in C order, one run per column in
//! Fortran order), through a 1 MiB staging buffer into a block reused from call to call, so
//! memory is one block plus 1 MiB whatever the file's size.

use nmf_core::mat;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use faer::{Mat, MatRef};
use nmf_core::{DataRef, Float};
use nmf_solvers::{RowSource, SourceError};
use npyz::WriterBuilder;

use super::{IoError, NpyFloat, npy_err, os};

/// The element type of a `.npy` file we read by rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    F32,
    F64,
}

/// A 2-D float32 or float64 `.npy` file (C or Fortran order, either byte order) read by
/// blocks of rows.
///
/// ```
/// use nmf::io::{self, NpyRows};
/// use nmf::solvers::RowSource;
///
/// let path = std::env::temp_dir().join(format!("nmf-rows-doc-{}.npy", std::process::id()));
/// let x = faer::Mat::from_fn(5, 3, |i, j| (i * 3 + j) as f64);
/// io::write_npy(&path, x.as_ref())?;
/// let mut rows = NpyRows::<f64>::open(&path)?;
/// assert_eq!(rows.shape(), (5, 3));
/// let block = rows.rows(2..4)?;
/// assert_eq!(block.as_dense().unwrap()[(1, 2)], 11.0);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Debug)]
pub struct NpyRows<T: Float> {
    file: BufReader<File>,
    path: PathBuf,
    n: usize,
    m: usize,
    data_offset: u64,
    elem: Elem,
    big_endian: bool,
    fortran: bool,
    bytes: Vec<u8>,
    block: Mat<T>,
}

impl<T: Float> NpyRows<T> {
    /// Opens `path` and checks its header, and that the file holds all the data it declares;
    /// no data is read yet.
    ///
    /// # Errors
    /// The file cannot be opened, its header is malformed, it is not 2-D float32/float64,
    /// it is shorter than its header says, or it is float64 and `T` is `f32` (reading it would
    /// round every entry; read it as `f64`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, IoError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(os(path))?;
        let len = file.metadata().map_err(os(path))?.len();
        let mut reader = BufReader::new(file);
        let npy = npyz::NpyFile::new(&mut reader).map_err(|e| npy_err(path, e.to_string()))?;
        let shape = npy.shape().to_vec();
        if shape.len() != 2 {
            return Err(IoError::Dimensions {
                path: path.to_path_buf(),
                expected: 2,
                shape,
            });
        }
        let (elem, big_endian) = match npy.dtype() {
            npyz::DType::Plain(ts) => match (ts.type_char(), ts.size_field()) {
                (npyz::TypeChar::Float, 4) => (Elem::F32, ts.endianness() == npyz::Endianness::Big),
                (npyz::TypeChar::Float, 8) => (Elem::F64, ts.endianness() == npyz::Endianness::Big),
                _ => {
                    return Err(IoError::Dtype {
                        path: path.to_path_buf(),
                        found: ts.to_string(),
                        expected: "float32 (<f4) or float64 (<f8)",
                    });
                }
            },
            other => {
                return Err(IoError::Dtype {
                    path: path.to_path_buf(),
                    found: format!("{other:?}"),
                    expected: "a plain numeric dtype",
                });
            }
        };
        if elem == Elem::F64 && T::NAME == "float32" {
            return Err(IoError::Dtype {
                path: path.to_path_buf(),
                found: "float64".into(),
                expected: "float32 for rows of f32 (read it as f64, or convert the file)",
            });
        }
        let fortran = npy.order() == npyz::Order::Fortran;
        let data_offset = reader.stream_position().map_err(os(path))?;
        let size = if elem == Elem::F32 { 4 } else { 8 };
        let need = shape[0]
            .checked_mul(shape[1])
            .and_then(|e| e.checked_mul(size))
            .ok_or_else(|| npy_err(path, format!("shape {shape:?} overflows")))?;
        let found = len.saturating_sub(data_offset);
        if found < need {
            return Err(IoError::Truncated {
                path: path.to_path_buf(),
                expected: need,
                found,
            });
        }
        let dim = |v: u64| {
            usize::try_from(v).map_err(|_| npy_err(path, "dimension too large for this platform"))
        };
        Ok(NpyRows {
            file: reader,
            path: path.to_path_buf(),
            n: dim(shape[0])?,
            m: dim(shape[1])?,
            data_offset,
            elem,
            big_endian,
            fortran,
            bytes: Vec::new(),
            block: mat::zeros(0, 0),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn elem_size(&self) -> usize {
        if self.elem == Elem::F32 { 4 } else { 8 }
    }

    /// Reads `len` elements from element offset `at` of the data through the staging buffer
    /// (at most [`STAGING`] bytes at a time) and hands each to `put` with its index from 0.
    fn read_run(
        &mut self,
        at: usize,
        len: usize,
        mut put: impl FnMut(&mut Mat<T>, usize, T),
    ) -> std::io::Result<()> {
        let size = self.elem_size();
        self.file
            .seek(SeekFrom::Start(self.data_offset + (at * size) as u64))?;
        let per = (STAGING / size).max(1);
        let mut done = 0;
        while done < len {
            let take = per.min(len - done);
            let buf = &mut self.bytes[..take * size];
            self.file.read_exact(buf)?;
            for (e, b) in buf.chunks_exact(size).enumerate() {
                let v = match (self.elem, self.big_endian) {
                    (Elem::F32, big) => {
                        let a = [b[0], b[1], b[2], b[3]];
                        f64::from(if big {
                            f32::from_be_bytes(a)
                        } else {
                            f32::from_le_bytes(a)
                        })
                    }
                    (Elem::F64, big) => {
                        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                        if big {
                            f64::from_be_bytes(a)
                        } else {
                            f64::from_le_bytes(a)
                        }
                    }
                };
                put(&mut self.block, done + e, T::from_f64(v));
            }
            done += take;
        }
        Ok(())
    }
}

/// Bytes read from the file at a time: the staging buffer between the file and the block, so
/// a block costs its own size plus this, not twice its size.
const STAGING: usize = 1 << 20;

impl<T: Float> RowSource<T> for NpyRows<T> {
    fn shape(&self) -> (usize, usize) {
        (self.n, self.m)
    }

    fn is_sparse(&self) -> bool {
        false
    }

    fn rows(&mut self, rows: Range<usize>) -> Result<DataRef<'_, T>, SourceError> {
        if rows.start >= rows.end || rows.end > self.n {
            return Err(format!("rows {rows:?} of {}", self.n).into());
        }
        let (r, m, n) = (rows.len(), self.m, self.n);
        self.bytes
            .resize(STAGING.min(r * m * self.elem_size()).max(8), 0);
        if self.block.shape() != (r, m) {
            self.block = mat::zeros(r, m);
        }
        let path = self.path.clone();
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        if self.fortran {
            // Column j's rows are one run of the file.
            for j in 0..m {
                self.read_run(j * n + rows.start, r, |b, i, v| b[(i, j)] = v)
                    .map_err(io)?;
            }
        } else {
            // The block's rows are one run, row after row.
            self.read_run(rows.start * m, r * m, |b, e, v| b[(e / m, e % m)] = v)
                .map_err(io)?;
        }
        Ok(self.block.as_ref().into())
    }
}

/// A C-order `.npy` file written by blocks of rows, e.g. W as
/// `NmfModel::transform_source` solves it: the header (with the final shape) first, then
/// each block as it comes; [`finish`](Self::finish) checks that every row arrived.
///
/// ```
/// use nmf::io::{self, NpyRowWriter};
/// let path = std::env::temp_dir().join(format!("nmf-roww-doc-{}.npy", std::process::id()));
/// let x = faer::Mat::from_fn(5, 2, |i, j| (i * 2 + j) as f32);
/// let mut out = NpyRowWriter::<f32>::create(&path, 5, 2)?;
/// out.write_rows(x.as_ref().subrows(0, 3))?;
/// out.write_rows(x.as_ref().subrows(3, 2))?;
/// out.finish()?;
/// assert_eq!(io::read_npy::<f32>(&path)?, x);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct NpyRowWriter<T: NpyFloat> {
    out: Option<npyz::NpyWriter<T, BufWriter<File>>>,
    path: PathBuf,
    n: usize,
    m: usize,
    written: usize,
}

impl<T: NpyFloat> std::fmt::Debug for NpyRowWriter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpyRowWriter")
            .field("path", &self.path)
            .field("shape", &(self.n, self.m))
            .field("written", &self.written)
            .finish()
    }
}

impl<T: NpyFloat> NpyRowWriter<T> {
    /// Creates (or truncates) `path` for an `n x m` matrix and writes its header.
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn create(path: impl AsRef<Path>, n: usize, m: usize) -> Result<Self, IoError> {
        let path = path.as_ref();
        let file = File::create(path).map_err(os(path))?;
        let out = npyz::WriteOptions::<T>::new()
            .default_dtype()
            .shape(&[n as u64, m as u64])
            .writer(BufWriter::new(file))
            .begin_nd()
            .map_err(os(path))?;
        Ok(NpyRowWriter {
            out: Some(out),
            path: path.to_path_buf(),
            n,
            m,
            written: 0,
        })
    }

    /// Appends the rows of `block` (m columns).
    ///
    /// # Errors
    /// A block of the wrong width, more rows than declared, or a failed write.
    pub fn write_rows(&mut self, block: MatRef<'_, T>) -> Result<(), IoError> {
        if block.ncols() != self.m || self.written + block.nrows() > self.n {
            return Err(npy_err(
                &self.path,
                format!(
                    "a {} x {} block after {} of {} x {} rows",
                    block.nrows(),
                    block.ncols(),
                    self.written,
                    self.n,
                    self.m
                ),
            ));
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| npy_err(&self.path, "written to after finish"))?;
        for i in 0..block.nrows() {
            for j in 0..block.ncols() {
                out.push(&block[(i, j)]).map_err(os(&self.path))?;
            }
        }
        self.written += block.nrows();
        Ok(())
    }

    /// Rows written so far.
    pub fn rows_written(&self) -> usize {
        self.written
    }

    /// Flushes the file.
    ///
    /// # Errors
    /// Fewer rows than declared (the file would be truncated), or a failed write.
    pub fn finish(mut self) -> Result<(), IoError> {
        if self.written != self.n {
            return Err(npy_err(
                &self.path,
                format!(
                    "{} of the {} declared rows were written",
                    self.written, self.n
                ),
            ));
        }
        match self.out.take() {
            Some(out) => out.finish().map_err(os(&self.path)),
            None => Ok(()),
        }
    }
}

/// Solves W for every row of the `.npy` file `input` with the model's H fixed
/// ([`NmfModel::transform_source`](nmf_solvers::NmfModel::transform_source)) and writes it to
/// `output` block by block: W for a matrix larger than memory. Returns the divergence
/// `D_β(X | WH)` summed over the blocks.
///
/// # Errors
/// Either file, or the transform of a block.
pub fn transform_npy<T: NpyFloat>(
    model: &nmf_solvers::NmfModel<T>,
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
) -> Result<f64, Box<dyn std::error::Error + Send + Sync>> {
    let mut src = NpyRows::<T>::open(input)?;
    let (n, _) = src.shape();
    let mut out = NpyRowWriter::<T>::create(output, n, model.h().nrows())?;
    let d = model.transform_source(&mut src, &mut |_, w| Ok(out.write_rows(w)?))?;
    out.finish()?;
    Ok(d)
}
