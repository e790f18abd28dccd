//! A SciPy CSR `.npz` read by blocks of rows ([`NpzRows`], a `RowSource`): the index
//! pointers are read once (one number per row), `indices.npy` and `data.npy` are streamed
//! from the archive, decompressed on the fly when they are deflated (SciPy's default), so a
//! block costs its own stored entries whatever the file's size.
//!
//! The members are read forwards; a fit asks for its batches in order on every pass, and a
//! request behind the current position (the next pass) reopens the member and starts again.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use nmf_core::{CoreError, DataRef, Float, SparseMat};
use nmf_solvers::{RowSource, SourceError};
use zip::{CompressionMethod, ZipArchive};

use super::IoError;
use super::npz::{Member, read_format, read_index, read_shape};
use super::sparse::{check_dims, invalid, sparse_err};

/// The element types a streamed member may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    F32,
    F64,
    Int(u8),
    Uint(u8),
}

/// One member of the archive read forwards, element by element.
struct Stream {
    path: PathBuf,
    file: PathBuf,
    data_start: u64,
    compressed: u64,
    deflated: bool,
    /// Set once the member's own `.npy` header has been read.
    reader: Option<Box<dyn Read + Send>>,
    kind: Kind,
    big_endian: bool,
    len: usize,
    /// Elements consumed so far.
    pos: usize,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("path", &self.path)
            .field("pos", &self.pos)
            .finish()
    }
}

impl Stream {
    fn size(&self) -> usize {
        match self.kind {
            Kind::F32 => 4,
            Kind::F64 => 8,
            Kind::Int(s) | Kind::Uint(s) => usize::from(s),
        }
    }

    /// Opens the member at its start and reads its `.npy` header.
    fn open(&mut self) -> Result<(), IoError> {
        let os = |source| IoError::Os {
            path: self.path.clone(),
            source,
        };
        let mut f = File::open(&self.file).map_err(os)?;
        f.seek(SeekFrom::Start(self.data_start)).map_err(os)?;
        let raw = BufReader::with_capacity(1 << 16, f).take(self.compressed);
        let mut reader: Box<dyn Read + Send> = if self.deflated {
            Box::new(flate2::read::DeflateDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let npy = npyz::NpyFile::new(&mut reader).map_err(|e| IoError::Npy {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let (kind, big) = match npy.dtype() {
            npyz::DType::Plain(ts) => {
                let s = ts.size_field();
                let kind = match (ts.type_char(), s) {
                    (npyz::TypeChar::Float, 4) => Kind::F32,
                    (npyz::TypeChar::Float, 8) => Kind::F64,
                    (npyz::TypeChar::Int, 1 | 2 | 4 | 8) => Kind::Int(s as u8),
                    (npyz::TypeChar::Uint, 1 | 2 | 4 | 8) => Kind::Uint(s as u8),
                    _ => {
                        return Err(IoError::Dtype {
                            path: self.path.clone(),
                            found: ts.to_string(),
                            expected: "float or integer",
                        });
                    }
                };
                (kind, ts.endianness() == npyz::Endianness::Big)
            }
            other => {
                return Err(IoError::Dtype {
                    path: self.path.clone(),
                    found: format!("{other:?}"),
                    expected: "a plain numeric dtype",
                });
            }
        };
        let shape = npy.shape().to_vec();
        if shape.len() != 1 {
            return Err(IoError::Dimensions {
                path: self.path.clone(),
                expected: 1,
                shape,
            });
        }
        self.kind = kind;
        self.big_endian = big;
        self.len = usize::try_from(shape[0]).map_err(|_| sparse_err(&self.path, "too long"))?;
        self.reader = Some(reader);
        self.pos = 0;
        Ok(())
    }

    /// Elements `r` as `f64` (exact for every float and every integer below 2^53), each
    /// handed to `put` in order.
    fn read(&mut self, r: Range<usize>, mut put: impl FnMut(f64)) -> Result<(), IoError> {
        if r.start < self.pos || self.reader.is_none() {
            self.open()?;
        }
        if r.end > self.len {
            return Err(sparse_err(
                &self.path,
                format!(
                    "holds {} entries, the index pointers need {}",
                    self.len, r.end
                ),
            ));
        }
        let size = self.size();
        let (big, kind) = (self.big_endian, self.kind);
        let path = self.path.clone();
        let reader = self
            .reader
            .as_mut()
            .ok_or_else(|| sparse_err(&path, "not open"))?;
        let err = |e: std::io::Error| sparse_err(&path, format!("corrupt member: {e}"));
        const PIECE: usize = 1 << 16;
        // Skip to r.start, then read r in pieces.
        let mut at = self.pos;
        let end = r.end;
        while at < end {
            let take = PIECE.min(end - at);
            self.bytes.resize(take * size, 0);
            reader.read_exact(&mut self.bytes).map_err(err)?;
            if at + take > r.start {
                let from = r.start.saturating_sub(at);
                for c in self.bytes[from * size..].chunks_exact(size) {
                    put(decode(c, kind, big));
                }
            }
            at += take;
        }
        self.pos = end;
        Ok(())
    }
}

/// One element's bytes as `f64`.
fn decode(c: &[u8], kind: Kind, big: bool) -> f64 {
    let mut b = [0u8; 8];
    let n = c.len();
    if big {
        // Most significant first: reverse into little-endian order.
        for (d, s) in b.iter_mut().zip(c.iter().rev()) {
            *d = *s;
        }
    } else {
        b[..n].copy_from_slice(c);
    }
    match kind {
        Kind::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        Kind::F64 => f64::from_le_bytes(b),
        Kind::Uint(_) => u64::from_le_bytes(b) as f64,
        Kind::Int(s) => {
            // Sign-extend from s bytes.
            let shift = 64 - 8 * u32::from(s);
            ((i64::from_le_bytes(b) << shift) >> shift) as f64
        }
    }
}

/// A SciPy CSR `.npz` file (what `scipy.sparse.save_npz` writes, compressed or not) read by
/// blocks of rows: a sparse matrix larger than memory as a [`RowSource`].
///
/// Each block is validated as [`SparseMat::from_csr`] validates a whole matrix (duplicates
/// summed, stored zeros dropped, indices in range), so a block is the same as the rows of
/// [`read_sparse`](super::read_sparse)'s matrix. float64 data read as `f32` is refused
/// (it would round); integer data must be exact in `T`.
#[derive(Debug)]
pub struct NpzRows<T: Float> {
    path: PathBuf,
    n: usize,
    m: usize,
    indptr: Vec<usize>,
    indices: Stream,
    data: Stream,
    idx: Vec<u32>,
    val: Vec<T>,
    block: Option<SparseMat<T>>,
}

impl<T: Float> NpzRows<T> {
    /// Opens `path`, reads its format, shape and index pointers, and checks the two streamed
    /// members' headers; no entry is read yet.
    ///
    /// # Errors
    /// Not a ZIP archive, a format other than `csr` (a CSC or COO file has no row blocks:
    /// convert it with SciPy's `tocsr()`), malformed members, pointers that are not
    /// nondecreasing from 0, data of a type that does not read into `T` exactly.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, IoError> {
        let path = path.as_ref();
        let os = |source| IoError::Os {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(os)?;
        let mut zip = ZipArchive::new(BufReader::new(file))
            .map_err(|e| sparse_err(path, format!("not a valid .npz (ZIP) archive: {e}")))?;
        let mut small = |name: &str| -> Result<Member, IoError> {
            let member = path.join(name);
            let mut f = zip
                .by_name(name)
                .map_err(|e| sparse_err(path, format!("member {name}: {e}")))?;
            // Pointers are 8 bytes per row at most; refuse a member claiming far more than
            // its compressed size can hold before reading it.
            let declared = f.size();
            if declared > f.compressed_size().saturating_mul(1032).saturating_add(64) {
                return Err(sparse_err(&member, "declares more bytes than it can hold"));
            }
            let mut bytes = Vec::new();
            (&mut f)
                .take(declared.saturating_add(1))
                .read_to_end(&mut bytes)
                .map_err(|e| sparse_err(&member, format!("corrupt ZIP member: {e}")))?;
            Ok(Member {
                bytes,
                path: member,
            })
        };
        let format = read_format(&small("format.npy")?)?;
        if format != "csr" {
            return Err(sparse_err(
                path,
                format!(
                    "a {format} matrix has no row blocks; save it as CSR (scipy: X.tocsr()) to \
                     read it by rows"
                ),
            ));
        }
        let (rows, cols) = read_shape(&small("shape.npy")?)?;
        let ptr_member = small("indptr.npy")?;
        let ptr_bytes = ptr_member.bytes.len();
        let indptr = read_index(&ptr_member)?.into_ptr(&ptr_member.path)?;
        let (n, m) = check_dims(path, rows, cols, ptr_bytes)?;
        if indptr.len() != n + 1 || indptr.first() != Some(&0) {
            return Err(sparse_err(
                &ptr_member.path,
                format!(
                    "must hold {} pointers from 0, holds {}",
                    n + 1,
                    indptr.len()
                ),
            ));
        }
        if let Some(k) = indptr.windows(2).position(|w| w[1] < w[0]) {
            return Err(sparse_err(
                &ptr_member.path,
                format!("pointer {} is below pointer {k}", k + 1),
            ));
        }
        let mut stream = |name: &str| -> Result<Stream, IoError> {
            let f = zip
                .by_name(name)
                .map_err(|e| sparse_err(path, format!("member {name}: {e}")))?;
            let deflated = match f.compression() {
                CompressionMethod::Stored => false,
                CompressionMethod::Deflated => true,
                other => {
                    return Err(sparse_err(
                        path,
                        format!("member {name} is compressed with {other}, not deflate"),
                    ));
                }
            };
            let mut s = Stream {
                path: path.join(name),
                file: path.to_path_buf(),
                data_start: f
                    .data_start()
                    .ok_or_else(|| sparse_err(path, format!("member {name} has no data")))?,
                compressed: f.compressed_size(),
                deflated,
                reader: None,
                kind: Kind::F64,
                big_endian: false,
                len: 0,
                pos: 0,
                bytes: Vec::new(),
            };
            drop(f);
            s.open()?;
            Ok(s)
        };
        let indices = stream("indices.npy")?;
        let data = stream("data.npy")?;
        let nnz = indptr[n];
        for s in [&indices, &data] {
            if s.len != nnz {
                return Err(sparse_err(
                    &s.path,
                    format!("holds {} entries, indptr.npy says {nnz}", s.len),
                ));
            }
        }
        if matches!(indices.kind, Kind::F32 | Kind::F64) {
            return Err(IoError::Dtype {
                path: indices.path.clone(),
                found: "a float dtype".into(),
                expected: "integer indices",
            });
        }
        if data.kind == Kind::F64 && T::NAME == "float32" {
            return Err(IoError::Dtype {
                path: data.path.clone(),
                found: "float64".into(),
                expected: "float32 or integer data for rows of f32 (read float64 data as f64)",
            });
        }
        Ok(NpzRows {
            path: path.to_path_buf(),
            n,
            m,
            indptr,
            indices,
            data,
            idx: Vec::new(),
            val: Vec::new(),
            block: None,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stored entries in the whole file.
    pub fn nnz(&self) -> usize {
        self.indptr[self.n]
    }
}

impl<T: Float> RowSource<T> for NpzRows<T> {
    fn shape(&self) -> (usize, usize) {
        (self.n, self.m)
    }

    fn is_sparse(&self) -> bool {
        true
    }

    fn rows(&mut self, rows: Range<usize>) -> Result<DataRef<'_, T>, SourceError> {
        if rows.start >= rows.end || rows.end > self.n {
            return Err(format!("rows {rows:?} of {}", self.n).into());
        }
        let (lo, hi) = (self.indptr[rows.start], self.indptr[rows.end]);
        let m = self.m as f64;
        self.idx.clear();
        let mut bad = None;
        let idx = &mut self.idx;
        self.indices.read(lo..hi, |v| {
            if v >= 0.0 && v < m {
                idx.push(v as u32);
            } else {
                bad.get_or_insert(v);
                idx.push(u32::MAX);
            }
        })?;
        if let Some(v) = bad {
            return Err(format!(
                "{}: a column index {v} outside 0..{} in rows {rows:?}",
                self.indices.path.display(),
                self.m
            )
            .into());
        }
        self.val.clear();
        let val = &mut self.val;
        let mut inexact = None;
        self.data.read(lo..hi, |v| {
            let t = T::from_f64(v);
            if t.to_f64() != v {
                inexact.get_or_insert(v);
            }
            val.push(t);
        })?;
        if let Some(v) = inexact {
            return Err(format!(
                "{}: value {v} is not exactly representable in {}",
                self.data.path.display(),
                T::NAME
            )
            .into());
        }
        let ptr: Vec<usize> = self.indptr[rows.start..=rows.end]
            .iter()
            .map(|p| p - lo)
            .collect();
        // The block's first row is row `rows.start` of the file: name bad entries by their
        // row in the file, not in the block.
        let shift = |e| match e {
            CoreError::NonFinite {
                what,
                row,
                col,
                value,
            } => CoreError::NonFinite {
                what,
                row: row + rows.start,
                col,
                value,
            },
            CoreError::Negative {
                what,
                row,
                col,
                value,
            } => CoreError::Negative {
                what,
                row: row + rows.start,
                col,
                value,
            },
            other => other,
        };
        let b = SparseMat::from_csr(rows.len(), self.m, &ptr, &self.idx, &self.val)
            .map_err(|e| invalid(&self.path)(shift(e)))?;
        Ok(DataRef::from(&*self.block.insert(b)))
    }
}
