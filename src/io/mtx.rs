//! MatrixMarket (`.mtx`): a streaming reader for `matrix` files and a `coordinate real general`
//! writer (rules: the NIST format, with SciPy's leniencies; see the `io` module docs).

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use nmf_core::{Float, SparseMat};

use super::IoError;
use super::sparse::{check_dims, invalid};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Coordinate,
    Array,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Real,
    Integer,
    Pattern,
}

/// The file's lines, numbered from 1, without their `\n` or `\r\n`.
struct Lines<'a> {
    rest: &'a [u8],
    number: u64,
    path: &'a Path,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Result<Option<&'a str>, IoError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let end = self
            .rest
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.rest.len());
        let raw = &self.rest[..end];
        self.rest = &self.rest[(end + 1).min(self.rest.len())..];
        self.number += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        std::str::from_utf8(raw)
            .map(Some)
            .map_err(|_| self.err("not valid UTF-8 text"))
    }

    /// The next line that is neither blank nor a `%` comment (SciPy skips both anywhere).
    fn next_content(&mut self) -> Result<Option<&'a str>, IoError> {
        while let Some(line) = self.next_line()? {
            let t = line.trim();
            if !t.is_empty() && !t.starts_with('%') {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    fn err(&self, reason: impl Into<String>) -> IoError {
        IoError::MatrixMarket {
            path: self.path.to_path_buf(),
            line: self.number,
            reason: reason.into(),
        }
    }
}

fn parse_banner(lines: &mut Lines<'_>) -> Result<(Layout, Field, bool), IoError> {
    let Some(banner) = lines.next_line()? else {
        return Err(lines.err("empty file: missing the %%MatrixMarket banner"));
    };
    let words: Vec<String> = banner
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    if words.first() != Some(&"%%matrixmarket") {
        return Err(lines.err("missing the %%MatrixMarket banner"));
    }
    let [_, object, layout, field, symmetry] = words[..] else {
        return Err(lines.err(format!(
            "the banner must be `%%MatrixMarket matrix <format> <field> <symmetry>`, found {:?}",
            banner.trim()
        )));
    };
    if object != "matrix" {
        return Err(lines.err(format!(
            "object {object:?} is not supported (only `matrix`)"
        )));
    }
    let layout = match layout {
        "coordinate" => Layout::Coordinate,
        "array" => Layout::Array,
        other => return Err(lines.err(format!("unknown format {other:?}"))),
    };
    let field = match field {
        "real" | "double" => Field::Real,
        "integer" => Field::Integer,
        "pattern" if layout == Layout::Coordinate => Field::Pattern,
        "pattern" => return Err(lines.err("`pattern` is only valid with `coordinate`")),
        "complex" => {
            return Err(
                lines.err("complex matrices are not supported (NMF needs real nonnegative data)")
            );
        }
        other => return Err(lines.err(format!("unknown field {other:?}"))),
    };
    let symmetric = match symmetry {
        "general" => false,
        "symmetric" => true,
        "skew-symmetric" | "hermitian" => {
            return Err(lines.err(format!(
                "{symmetry} matrices are not supported (they imply negative or complex entries; \
                 NMF needs real nonnegative data)"
            )));
        }
        other => return Err(lines.err(format!("unknown symmetry {other:?}"))),
    };
    Ok((layout, field, symmetric))
}

/// A value token in `T`'s precision: parsed directly as f32 or f64 (correctly rounded, so a
/// shortest round-trip decimal gives back its exact bits), integers only if exact in `T`.
fn parse_value<T: Float>(tok: &str, field: Field) -> Result<T, String> {
    match field {
        Field::Pattern => Ok(T::ONE),
        Field::Real => {
            let v = if T::NAME == "float32" {
                tok.parse::<f32>().map(|v| T::from_f64(f64::from(v)))
            } else {
                tok.parse::<f64>().map(T::from_f64)
            };
            v.map_err(|_| format!("{tok:?} is not a number"))
        }
        Field::Integer => {
            let i: i64 = tok
                .parse()
                .map_err(|_| format!("{tok:?} is not an integer"))?;
            let v = T::from_f64(i as f64);
            if v.to_f64() as i128 != i128::from(i) {
                return Err(format!(
                    "integer {i} is not exactly representable in {}",
                    T::NAME
                ));
            }
            Ok(v)
        }
    }
}

fn check_entry<T: Float>(v: T, tok: &str, i: u64, j: u64) -> Result<(), String> {
    if !v.is_finite() {
        return Err(format!(
            "value {tok:?} at row {i}, column {j} is not finite in {}",
            T::NAME
        ));
    }
    if v < T::ZERO {
        return Err(format!(
            "value {tok} at row {i}, column {j} is negative (NMF needs nonnegative data)"
        ));
    }
    Ok(())
}

fn parse_size(line: &str, n: usize) -> Option<Vec<u64>> {
    let v: Vec<u64> = line
        .split_ascii_whitespace()
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    (v.len() == n).then_some(v)
}

/// Collected entries (0-based, zeros skipped: they would be dropped anyway and adding an exact
/// zero never changes a sum of nonnegative values).
struct Entries<T> {
    rows: Vec<u32>,
    cols: Vec<u32>,
    vals: Vec<T>,
}

impl<T: Float> Entries<T> {
    fn push(&mut self, i: u64, j: u64, v: T, symmetric: bool) {
        if v == T::ZERO {
            return;
        }
        // Dimensions were checked to fit u32, and i, j against them.
        self.rows.push(i as u32);
        self.cols.push(j as u32);
        self.vals.push(v);
        if symmetric && i != j {
            // One triangle is stored (lower by convention; SciPy accepts upper too): mirror it.
            self.rows.push(j as u32);
            self.cols.push(i as u32);
            self.vals.push(v);
        }
    }
}

pub(super) fn read<T: Float>(bytes: &[u8], path: &Path) -> Result<SparseMat<T>, IoError> {
    let mut lines = Lines {
        rest: bytes,
        number: 0,
        path,
    };
    let (layout, field, symmetric) = parse_banner(&mut lines)?;
    let Some(size) = lines.next_content()? else {
        return Err(lines.err("truncated file: the size line is missing"));
    };
    let want = if layout == Layout::Coordinate { 3 } else { 2 };
    let dims = parse_size(size, want).ok_or_else(|| {
        lines.err(format!(
            "the size line must hold {want} nonnegative integers ({}), found {size:?}",
            if want == 3 {
                "rows columns entries"
            } else {
                "rows columns"
            }
        ))
    })?;
    let (m, n) = (dims[0], dims[1]);
    if symmetric && m != n {
        return Err(lines.err(format!("a symmetric matrix must be square, not {m} x {n}")));
    }
    let (nrows, ncols) = check_dims(path, m, n, bytes.len())?;
    // Number of entry lines (coordinate) or values (array) the size line promises.
    // (Both dimensions are below 2^32 here, so the products fit in u64.)
    let declared = match layout {
        Layout::Coordinate => dims[2],
        Layout::Array if symmetric => n * (n + 1) / 2,
        Layout::Array => m * n,
    };
    // Never reserve by the declared count alone: an entry line takes at least 4 bytes
    // (`1 1\n`, pattern) or 6 (`1 1 1\n`), so the file's length bounds the count.
    let min_line = if field == Field::Pattern { 4 } else { 6 };
    let hint = declared.min((lines.rest.len() / min_line) as u64) as usize;
    let hint = if layout == Layout::Coordinate {
        hint
    } else {
        0
    };
    let mut e = Entries {
        rows: Vec::with_capacity(hint),
        cols: Vec::with_capacity(hint),
        vals: Vec::with_capacity(hint),
    };
    let mut seen = 0u64;
    let too_many = |lines: &Lines<'_>| {
        lines.err(format!(
            "more {} than the {declared} the size line declares",
            if layout == Layout::Coordinate {
                "entries"
            } else {
                "values"
            }
        ))
    };
    match layout {
        Layout::Coordinate => {
            let per_line = if field == Field::Pattern { 2 } else { 3 };
            while let Some(line) = lines.next_content()? {
                if seen == declared {
                    return Err(too_many(&lines));
                }
                // Up to four tokens, without collecting a line into a Vec (millions of lines).
                let mut it = line.split_ascii_whitespace();
                let toks = [it.next(), it.next(), it.next(), it.next()];
                let found = toks.iter().flatten().count();
                if found != per_line {
                    return Err(lines.err(format!(
                        "expected {per_line} fields (row column{}), found {}",
                        if per_line == 3 { " value" } else { "" },
                        if found == 4 {
                            "more".to_string()
                        } else {
                            found.to_string()
                        }
                    )));
                }
                let toks = toks.map(|t| t.unwrap_or("1"));
                let index = |tok: &str, bound: u64, what: &str| {
                    tok.parse::<u64>()
                        .ok()
                        .filter(|&v| (1..=bound).contains(&v))
                        .ok_or_else(|| {
                            lines.err(format!(
                                "{what} index {tok:?} is out of bounds (1-based, at most {bound})"
                            ))
                        })
                };
                let i = index(toks[0], m, "row")?;
                let j = index(toks[1], n, "column")?;
                let tok = toks[2];
                let v = parse_value::<T>(tok, field)
                    .and_then(|v| check_entry(v, tok, i, j).map(|()| v))
                    .map_err(|r| lines.err(r))?;
                e.push(i - 1, j - 1, v, symmetric);
                seen += 1;
            }
        }
        Layout::Array => {
            // Column-major; `symmetric` lists the lower triangle (with the diagonal) by column.
            let (mut i, mut j) = (0u64, 0u64);
            while let Some(line) = lines.next_content()? {
                for tok in line.split_ascii_whitespace() {
                    if seen == declared {
                        return Err(too_many(&lines));
                    }
                    let v = parse_value::<T>(tok, field)
                        .and_then(|v| check_entry(v, tok, i + 1, j + 1).map(|()| v))
                        .map_err(|r| lines.err(r))?;
                    e.push(i, j, v, symmetric);
                    seen += 1;
                    i += 1;
                    if i == m {
                        j += 1;
                        i = if symmetric { j } else { 0 };
                    }
                }
            }
        }
    }
    if seen < declared {
        return Err(lines.err(format!(
            "truncated file: the size line declares {declared} {} but only {seen} follow",
            if layout == Layout::Coordinate {
                "entries"
            } else {
                "values"
            }
        )));
    }
    SparseMat::from_triplets(nrows, ncols, &e.rows, &e.cols, &e.vals).map_err(invalid(path))
}

/// The shorter of the plain and the exponent spelling; Rust prints both as the shortest digits
/// that round-trip, so either parses back to the same bits.
fn shortest<T: Float>(buf: &mut String, v: T) {
    buf.clear();
    let (plain, exp) = if T::NAME == "float32" {
        let f = v.to_f64() as f32;
        (format!("{f}"), format!("{f:e}"))
    } else {
        let f = v.to_f64();
        (format!("{f}"), format!("{f:e}"))
    };
    let _ = buf.write_str(if exp.len() < plain.len() {
        &exp
    } else {
        &plain
    });
}

/// Writes `coordinate real general`, entries row by row, 1-based.
pub(super) fn write<T: Float, W: Write>(w: &mut W, x: &SparseMat<T>) -> std::io::Result<()> {
    let (m, n) = x.shape();
    writeln!(w, "%%MatrixMarket matrix coordinate real general")?;
    writeln!(w, "% written by nmf-rs ({})", T::NAME)?;
    writeln!(w, "{m} {n} {}", x.nnz())?;
    let mut buf = String::new();
    for i in 0..m {
        let (cols, vals) = x.row(i);
        for (&j, &v) in cols.iter().zip(vals) {
            shortest(&mut buf, v);
            writeln!(w, "{} {} {buf}", i + 1, j + 1)?;
        }
    }
    Ok(())
}
