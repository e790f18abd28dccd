//! SciPy `.npz` sparse matrices (`scipy.sparse.save_npz` / `load_npz` layout): a ZIP archive
//! of `.npy` members, read with the `zip` crate (DEFLATE only) and the `.npy` checks of the
//! parent module.

use std::io::{BufWriter, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

use nmf_core::sparse::SparseIndex;
use nmf_core::{Float, SparseMat};
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::sparse::{check_dims, invalid, sparse_err};
use super::{IoError, ParsedNpy, parse_npy};

/// DEFLATE cannot expand data by more than about 1032:1, so a member claiming more than this
/// many bytes per compressed byte is lying and is not read past that bound.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The archive, with the path for messages and the number of member bytes read so far.
struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    path: &'a Path,
    bytes_read: usize,
}

/// A member's bytes and its name for messages (`file.npz/member.npy`).
pub(super) struct Member {
    pub(super) bytes: Vec<u8>,
    pub(super) path: PathBuf,
}

impl Member {
    fn parse(&self) -> Result<ParsedNpy<'_>, IoError> {
        parse_npy(&self.bytes, &self.path)
    }
}

impl<'a> Archive<'a> {
    fn has(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    fn member(&mut self, name: &str) -> Result<Member, IoError> {
        let path = self.path.join(name);
        let mut file = match self.zip.by_name(name) {
            Ok(f) => f,
            Err(ZipError::FileNotFound) => {
                return Err(sparse_err(self.path, format!("missing member {name}")));
            }
            Err(e) => return Err(sparse_err(&path, format!("unreadable ZIP member: {e}"))),
        };
        let declared = file.size();
        let bound = match file.compression() {
            CompressionMethod::Stored => file.compressed_size(),
            _ => file
                .compressed_size()
                .saturating_mul(MAX_DEFLATE_RATIO)
                .saturating_add(64),
        };
        if declared > bound {
            return Err(sparse_err(
                &path,
                format!(
                    "declares {declared} bytes uncompressed, impossible from {} compressed bytes",
                    file.compressed_size()
                ),
            ));
        }
        // Grow with what the stream really yields (no reservation by the declared size); one
        // byte past the declared size shows a member that is longer than it says.
        let mut bytes = Vec::new();
        (&mut file)
            .take(declared.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| sparse_err(&path, format!("corrupt ZIP member: {e}")))?;
        if bytes.len() as u64 != declared {
            return Err(sparse_err(
                &path,
                format!(
                    "holds {} bytes, its ZIP header declares {declared}",
                    bytes.len()
                ),
            ));
        }
        self.bytes_read = self.bytes_read.saturating_add(bytes.len());
        Ok(Member { bytes, path })
    }
}

fn one_dim(p: &ParsedNpy<'_>, path: &Path) -> Result<(), IoError> {
    if p.shape.len() != 1 {
        return Err(IoError::Dimensions {
            path: path.to_path_buf(),
            expected: 1,
            shape: p.shape.clone(),
        });
    }
    Ok(())
}

/// An index array in its stored integer type (kept as is to avoid a widened copy).
pub(super) enum Ix {
    I32(Vec<i32>),
    I64(Vec<i64>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

impl Ix {
    fn len(&self) -> usize {
        match self {
            Ix::I32(v) => v.len(),
            Ix::I64(v) => v.len(),
            Ix::U32(v) => v.len(),
            Ix::U64(v) => v.len(),
        }
    }

    /// As i64 (only when two arrays of one matrix differ in type); a u64 beyond i64 is out of
    /// range anyway and becomes `i64::MAX`, which the constructor reports as such.
    fn into_i64(self) -> Vec<i64> {
        match self {
            Ix::I32(v) => v.into_iter().map(i64::from).collect(),
            Ix::I64(v) => v,
            Ix::U32(v) => v.into_iter().map(i64::from).collect(),
            Ix::U64(v) => v
                .into_iter()
                .map(|x| i64::try_from(x).unwrap_or(i64::MAX))
                .collect(),
        }
    }

    /// Index pointers as `usize`; a negative pointer is an error naming its position.
    pub(super) fn into_ptr(self, path: &Path) -> Result<Vec<usize>, IoError> {
        fn conv<I: SparseIndex>(v: Vec<I>, path: &Path) -> Result<Vec<usize>, IoError> {
            v.into_iter()
                .enumerate()
                .map(|(k, p)| {
                    p.to_index().ok_or_else(|| {
                        sparse_err(path, format!("index pointer {k} is {}", p.to_i128()))
                    })
                })
                .collect()
        }
        match self {
            Ix::I32(v) => conv(v, path),
            Ix::I64(v) => conv(v, path),
            Ix::U32(v) => conv(v, path),
            Ix::U64(v) => conv(v, path),
        }
    }
}

/// Runs `$body` with `$v` bound to the index vector, whatever its type.
macro_rules! with_ix {
    ($ix:expr, $v:ident => $body:expr) => {
        match $ix {
            Ix::I32($v) => $body,
            Ix::I64($v) => $body,
            Ix::U32($v) => $body,
            Ix::U64($v) => $body,
        }
    };
}

fn npy_read_err(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |e| IoError::Npy {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

pub(super) fn read_index(m: &Member) -> Result<Ix, IoError> {
    let p = m.parse()?;
    one_dim(&p, &m.path)?;
    let err = npy_read_err(&m.path);
    match (p.type_char, p.item_size) {
        (npyz::TypeChar::Int, 4) => p.file.into_vec().map(Ix::I32).map_err(err),
        (npyz::TypeChar::Int, 8) => p.file.into_vec().map(Ix::I64).map_err(err),
        (npyz::TypeChar::Uint, 4) => p.file.into_vec().map(Ix::U32).map_err(err),
        (npyz::TypeChar::Uint, 8) => p.file.into_vec().map(Ix::U64).map_err(err),
        _ => Err(IoError::Dtype {
            path: m.path.clone(),
            found: p.dtype_str,
            expected: "int32 or int64 indices",
        }),
    }
}

/// An integer value in `T`, if `T` holds it exactly.
fn exact_int<T: Float>(v: i128) -> Option<T> {
    let t = T::from_f64(v as f64);
    (t.to_f64() as i128 == v).then_some(t)
}

fn read_values<T: Float>(m: &Member) -> Result<Vec<T>, IoError> {
    let p = m.parse()?;
    one_dim(&p, &m.path)?;
    let err = npy_read_err(&m.path);
    macro_rules! int {
        ($t:ty) => {{
            let v: Vec<$t> = p.file.into_vec().map_err(err)?;
            v.into_iter()
                .enumerate()
                .map(|(k, x)| {
                    exact_int(i128::from(x)).ok_or_else(|| {
                        sparse_err(
                            &m.path,
                            format!(
                                "value {k} ({x}) is not exactly representable in {}",
                                T::NAME
                            ),
                        )
                    })
                })
                .collect()
        }};
    }
    match (p.type_char, p.item_size) {
        (npyz::TypeChar::Float, 8) if T::NAME == "float32" => Err(IoError::Dtype {
            path: m.path.clone(),
            found: p.dtype_str,
            expected: "float32 or integer data for a SparseMat<f32> (read float64 data as f64, \
                       then convert with map_values)",
        }),
        (npyz::TypeChar::Float, 8) => {
            let v: Vec<f64> = p.file.into_vec().map_err(err)?;
            Ok(v.into_iter().map(T::from_f64).collect())
        }
        (npyz::TypeChar::Float, 4) => {
            let v: Vec<f32> = p.file.into_vec().map_err(err)?;
            Ok(v.into_iter().map(|x| T::from_f64(f64::from(x))).collect())
        }
        (npyz::TypeChar::Int, 1) => int!(i8),
        (npyz::TypeChar::Int, 2) => int!(i16),
        (npyz::TypeChar::Int, 4) => int!(i32),
        (npyz::TypeChar::Int, 8) => int!(i64),
        (npyz::TypeChar::Uint, 1) => int!(u8),
        (npyz::TypeChar::Uint, 2) => int!(u16),
        (npyz::TypeChar::Uint, 4) => int!(u32),
        (npyz::TypeChar::Uint, 8) => int!(u64),
        _ => Err(IoError::Dtype {
            path: m.path.clone(),
            found: p.dtype_str,
            expected: "float64, float32 or integer data",
        }),
    }
}

/// `format.npy`: a 0-d byte string (`|S3`, what SciPy writes) or unicode string.
pub(super) fn read_format(m: &Member) -> Result<String, IoError> {
    let p = m.parse()?;
    let bad = || sparse_err(&m.path, "must be a 0-d string such as b'csr'");
    if !p.shape.is_empty() {
        return Err(bad());
    }
    let size = usize::try_from(p.item_size).map_err(|_| bad())?;
    let text = match p.type_char {
        npyz::TypeChar::ByteStr => {
            let raw = p.data.get(..size).ok_or_else(bad)?;
            String::from_utf8_lossy(raw).into_owned()
        }
        npyz::TypeChar::UnicodeStr => {
            let raw = p
                .data
                .get(..size.checked_mul(4).ok_or_else(bad)?)
                .ok_or_else(bad)?;
            let big = p.dtype_str.starts_with('>');
            raw.chunks_exact(4)
                .map(|c| {
                    let c = [c[0], c[1], c[2], c[3]];
                    let u = if big {
                        u32::from_be_bytes(c)
                    } else {
                        u32::from_le_bytes(c)
                    };
                    char::from_u32(u).unwrap_or('\u{fffd}')
                })
                .collect()
        }
        _ => return Err(bad()),
    };
    // NumPy pads short strings with NULs.
    Ok(text.trim_end_matches('\0').to_string())
}

/// `shape.npy`: two nonnegative integers.
pub(super) fn read_shape(m: &Member) -> Result<(u64, u64), IoError> {
    let ix = read_index(m)?;
    let v = ix.into_i64();
    match v[..] {
        [r, c] if r >= 0 && c >= 0 => Ok((r as u64, c as u64)),
        _ => Err(sparse_err(
            &m.path,
            format!("must hold two nonnegative integers, found {v:?}"),
        )),
    }
}

pub(super) fn read<T: Float>(bytes: &[u8], path: &Path) -> Result<SparseMat<T>, IoError> {
    let zip = ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| sparse_err(path, format!("not a valid .npz (ZIP) archive: {e}")))?;
    let mut a = Archive {
        zip,
        path,
        bytes_read: 0,
    };
    let format = read_format(&a.member("format.npy")?)?;
    let shape_member = a.member("shape.npy")?;
    let (m, n) = read_shape(&shape_member)?;
    let is_csr = match format.as_str() {
        "csr" => true,
        "csc" => false,
        "coo" => return read_coo(a, m, n),
        other => {
            return Err(sparse_err(
                path,
                format!("sparse format {other:?} is not supported (csr, csc or coo)"),
            ));
        }
    };
    let indices = read_index(&a.member("indices.npy")?)?;
    let indptr = a.member("indptr.npy")?;
    let indptr = read_index(&indptr)?.into_ptr(&indptr.path)?;
    let values = read_values::<T>(&a.member("data.npy")?)?;
    let (nrows, ncols) = check_dims(path, m, n, a.bytes_read)?;
    if indices.len() != values.len() {
        return Err(sparse_err(
            path,
            format!(
                "indices.npy holds {} entries but data.npy {}",
                indices.len(),
                values.len()
            ),
        ));
    }
    with_ix!(indices, idx => if is_csr {
        SparseMat::from_csr(nrows, ncols, &indptr, &idx, &values)
    } else {
        SparseMat::from_csc(nrows, ncols, &indptr, &idx, &values)
    })
    .map_err(invalid(path))
}

fn read_coo<T: Float>(mut a: Archive<'_>, m: u64, n: u64) -> Result<SparseMat<T>, IoError> {
    let path = a.path;
    if a.has("coords.npy") && !a.has("row.npy") {
        return Err(sparse_err(
            path,
            "n-dimensional COO (coords.npy) is not supported; a matrix has row.npy and col.npy",
        ));
    }
    let rows = read_index(&a.member("row.npy")?)?;
    let cols = read_index(&a.member("col.npy")?)?;
    let values = read_values::<T>(&a.member("data.npy")?)?;
    let (nrows, ncols) = check_dims(path, m, n, a.bytes_read)?;
    if rows.len() != values.len() || cols.len() != values.len() {
        return Err(sparse_err(
            path,
            format!(
                "row.npy, col.npy and data.npy hold {}, {} and {} entries",
                rows.len(),
                cols.len(),
                values.len()
            ),
        ));
    }
    let built = match (rows, cols) {
        (Ix::I32(r), Ix::I32(c)) => SparseMat::from_triplets(nrows, ncols, &r, &c, &values),
        (Ix::I64(r), Ix::I64(c)) => SparseMat::from_triplets(nrows, ncols, &r, &c, &values),
        (Ix::U32(r), Ix::U32(c)) => SparseMat::from_triplets(nrows, ncols, &r, &c, &values),
        (Ix::U64(r), Ix::U64(c)) => SparseMat::from_triplets(nrows, ncols, &r, &c, &values),
        // SciPy writes both with one dtype; a file that does not is still one matrix.
        (r, c) => SparseMat::from_triplets(nrows, ncols, &r.into_i64(), &c.into_i64(), &values),
    };
    built.map_err(invalid(path))
}

/// One `.npy` member: a version 1.0 header padded with spaces to a multiple of 64 bytes (as
/// NumPy writes it), then the raw little-endian data written by `data`.
fn write_member<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    name: &str,
    descr: &str,
    shape: &str,
    data: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), ZipError> {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    zip.start_file(name, options)?;
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.extend(std::iter::repeat_n(' ', (64 - unpadded % 64) % 64));
    header.push('\n');
    let mut w = BufWriter::new(zip);
    w.write_all(b"\x93NUMPY\x01\x00")?;
    // The header is a few dozen bytes, far below the u16 limit of format 1.0.
    w.write_all(&(header.len() as u16).to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    data(&mut w)?;
    w.flush()?;
    Ok(())
}

/// Writes `x` in SciPy's `csr_matrix` layout: members `indices`, `indptr`, `format`, `shape`,
/// `data` in that order, int32 indices when the sizes allow (as SciPy picks them), else int64.
pub(super) fn write<T: Float, W: Write + Seek>(
    w: W,
    x: &SparseMat<T>,
    path: &Path,
) -> Result<W, IoError> {
    let zip_err = |e: ZipError| match e {
        ZipError::Io(source) => IoError::Os {
            path: path.to_path_buf(),
            source,
        },
        other => sparse_err(path, format!("writing the ZIP archive: {other}")),
    };
    let (m, n) = x.shape();
    let nnz = x.nnz();
    let small = [m, n, nnz].iter().all(|&v| v <= i32::MAX as usize);
    let idx_descr = if small { "<i4" } else { "<i8" };
    let put_index = |w: &mut dyn Write, v: usize| {
        if small {
            w.write_all(&(v as i32).to_le_bytes())
        } else {
            w.write_all(&(v as i64).to_le_bytes())
        }
    };
    let mut zip = ZipWriter::new(w);
    write_member(
        &mut zip,
        "indices.npy",
        idx_descr,
        &format!("({nnz},)"),
        |w| {
            x.col_indices()
                .iter()
                .try_for_each(|&j| put_index(w, j as usize))
        },
    )
    .map_err(zip_err)?;
    write_member(
        &mut zip,
        "indptr.npy",
        idx_descr,
        &format!("({},)", m + 1),
        |w| x.row_ptr().iter().try_for_each(|&p| put_index(w, p)),
    )
    .map_err(zip_err)?;
    write_member(&mut zip, "format.npy", "|S3", "()", |w| w.write_all(b"csr")).map_err(zip_err)?;
    write_member(&mut zip, "shape.npy", "<i8", "(2,)", |w| {
        w.write_all(&(m as i64).to_le_bytes())?;
        w.write_all(&(n as i64).to_le_bytes())
    })
    .map_err(zip_err)?;
    let f32_data = T::NAME == "float32";
    let descr = if f32_data { "<f4" } else { "<f8" };
    write_member(&mut zip, "data.npy", descr, &format!("({nnz},)"), |w| {
        x.values().iter().try_for_each(|&v| {
            if f32_data {
                w.write_all(&(v.to_f64() as f32).to_le_bytes())
            } else {
                w.write_all(&v.to_f64().to_le_bytes())
            }
        })
    })
    .map_err(zip_err)?;
    zip.finish().map_err(zip_err)
}
