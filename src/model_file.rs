//! Model files: a fitted [`NmfModel`] saved to a folder and loaded back in another process.
//!
//! A model folder holds `model.json` (format name and version, library version, dtype, shapes,
//! every parameter as a [`ParamsRecord`], the fit report, a SHA-256 of every matrix file, and
//! whatever provenance the caller adds), `W.npy` and `H.npy` in the model's own precision, and,
//! when the fit had them, `W0.npy`/`H0.npy` (custom starting factors) and `weights.npy` or
//! `weights.npz` (so `impute` works after loading). `model.json` is written last: a folder whose
//! writing was interrupted has none and is refused, never half read.
//!
//! Loading checks everything before it builds anything: the format name, a version this build
//! knows (a newer one is [`ModelFileError::TooNew`]), each file's checksum (a flipped byte is
//! [`ModelFileError::Corrupt`] naming the file), the shapes against `model.json`, and the
//! parameters through the same `check` as a fit. Factors read back bit for bit.
//!
//! ```
//! use nmf::prelude::*;
//! use nmf::model_file::ModelFiles;
//!
//! let x = faer::Mat::from_fn(6, 4, |i, j| ((i * 3 + j * 5) % 7) as f64 + 0.5);
//! let model = Nmf::params(2).seed(1).fit(x.as_ref())?;
//! let dir = std::env::temp_dir().join(format!("nmf-model-doc-{}", std::process::id()));
//! model.save(&dir)?;
//! let back = NmfModel::<f64>::load(&dir)?;
//! assert_eq!(back.h(), model.h());
//! assert_eq!(back.transform(x.as_ref())?, model.transform(x.as_ref())?);
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use nmf_core::mat;
use std::fs;
use std::path::{Path, PathBuf};

use faer::Mat;
use nmf_core::Weights;
use nmf_init::Init;
use nmf_solvers::{FitReport, NmfError, NmfModel, OnlineNmf, OnlineState, ParamsRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::io::{self, IoError, NpyFloat, SparseFormat};

/// The `format` field of every `model.json`.
pub const FORMAT_NAME: &str = "nmf-rs model";
/// The newest format version this build writes; it reads this and every older version.
/// Version 2 adds the state of an online fitter ([`OnlineRecord`], files `A.npy`, `B.npy`);
/// a folder without one is still written as version 1, so older builds read plain models.
pub const FORMAT_VERSION: u32 = 2;
/// The JSON file of a model folder.
pub const MODEL_JSON: &str = "model.json";

/// What can go wrong saving or loading a model folder.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Reading or writing a file failed, or a matrix file is malformed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// `model.json` is missing or is not a model file of this library.
    #[error("{path}: not an nmf-rs model folder: {reason}")]
    NotAModel {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The folder was written by a newer version of the format.
    #[error(
        "{path}: model format version {found} is newer than this build reads (up to {supported}); upgrade nmf-rs"
    )]
    TooNew {
        /// `model.json`.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A file's content does not match `model.json` (checksum, shape, or a field that does
    /// not parse).
    #[error("{path}: corrupted model file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// The stored parameters do not make a valid configuration.
    #[error("{path}: {source}")]
    Params {
        /// `model.json`.
        path: PathBuf,
        /// The validation error.
        source: NmfError,
    },
}

/// Shapes of a model, as `model.json` records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Rows of the training data (of W).
    pub n_samples: usize,
    /// Columns of the training data (of H).
    pub n_features: usize,
    /// k.
    pub n_components: usize,
}

/// One matrix file of the folder and its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// What it holds: `W`, `H`, `W0`, `H0` or `weights`.
    pub role: String,
    /// File name inside the folder.
    pub name: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// The content of `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelJson {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Version of the nmf-rs that wrote it.
    pub library_version: String,
    /// `float32` or `float64`.
    pub dtype: String,
    /// Shapes.
    pub shape: Shape,
    /// Every parameter of the fit.
    pub params: ParamsRecord,
    /// The fit report.
    pub report: FitReport,
    /// The matrix files and their checksums.
    pub files: Vec<FileEntry>,
    /// The caller's provenance (the command line, the data's path and hash, timings); `null`
    /// when none was given.
    #[serde(default)]
    pub extra: serde_json::Value,
    /// The state of an online fitter between `partial_fit` calls, when the folder holds one
    /// (format version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineRecord>,
}

/// The scalar part of an [`OnlineState`] as `model.json` records it; its matrices are the
/// files `H.npy`, `A.npy` and `B.npy`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OnlineRecord {
    /// The decay per chunk.
    pub rho: f64,
    /// Chunks learned so far.
    pub n_steps: usize,
}

/// `save`/`load` for [`NmfModel`]: `model.save(dir)?`, `NmfModel::<f64>::load(dir)?`.
pub trait ModelFiles: Sized {
    /// Writes the model folder `dir` (created if needed; files of a previous model there are
    /// replaced).
    ///
    /// # Errors
    /// A file cannot be written.
    fn save(&self, dir: impl AsRef<Path>) -> Result<(), ModelFileError> {
        self.save_with(dir, serde_json::Value::Null)
    }
    /// [`Self::save`] with provenance stored under `extra` in `model.json`.
    ///
    /// # Errors
    /// A file cannot be written.
    fn save_with(
        &self,
        dir: impl AsRef<Path>,
        extra: serde_json::Value,
    ) -> Result<(), ModelFileError>;
    /// Reads a model folder written by [`Self::save`]. A float32 model loads into f64
    /// exactly; a float64 model does not load as f32 (that would round silently).
    ///
    /// # Errors
    /// See [`ModelFileError`].
    fn load(dir: impl AsRef<Path>) -> Result<Self, ModelFileError>;
}

/// Writes the folder of `model`, with an online fitter's running statistics when given.
fn save_folder<T: NpyFloat>(
    model: &NmfModel<T>,
    online: Option<&OnlineState<T>>,
    dir: &Path,
    extra: serde_json::Value,
) -> Result<(), ModelFileError> {
    fs::create_dir_all(dir).map_err(|source| IoError::Os {
        path: dir.to_path_buf(),
        source,
    })?;
    // An interrupted save must not leave an old model.json describing new factors.
    let json_path = dir.join(MODEL_JSON);
    if json_path.exists() {
        fs::remove_file(&json_path).map_err(|source| IoError::Os {
            path: json_path.clone(),
            source,
        })?;
    }
    let config = model.config();
    let mut files = Vec::new();
    let mut put = |role: &str, name: &str, bytes: Vec<u8>| -> Result<(), ModelFileError> {
        let path = dir.join(name);
        files.push(FileEntry {
            role: role.into(),
            name: name.into(),
            sha256: sha256_hex(&bytes),
        });
        fs::write(&path, bytes).map_err(|source| IoError::Os { path, source }.into())
    };
    put("W", "W.npy", io::write_npy_bytes(model.w())?)?;
    put("H", "H.npy", io::write_npy_bytes(model.h())?)?;
    if let Init::Custom { w, h } = config.init() {
        put("W0", "W0.npy", io::write_npy_bytes(w.as_ref())?)?;
        put("H0", "H0.npy", io::write_npy_bytes(h.as_ref())?)?;
    }
    match config.weights() {
        None => {}
        Some(Weights::Sparse(s)) => put(
            "weights",
            "weights.npz",
            io::write_sparse_bytes(s, SparseFormat::Npz)?,
        )?,
        Some(Weights::Dense(m)) => put("weights", "weights.npy", io::write_npy_bytes(m.as_ref())?)?,
        Some(_) => {
            return Err(ModelFileError::NotAModel {
                path: dir.to_path_buf(),
                reason: "this kind of weights has no file format".into(),
            });
        }
    }
    if let Some(st) = online {
        put("A", "A.npy", io::write_npy_bytes(st.a.as_ref())?)?;
        put("B", "B.npy", io::write_npy_bytes(st.b.as_ref())?)?;
    }
    let json = ModelJson {
        format: FORMAT_NAME.into(),
        format_version: if online.is_some() { FORMAT_VERSION } else { 1 },
        library_version: env!("CARGO_PKG_VERSION").into(),
        dtype: T::NAME.into(),
        shape: Shape {
            n_samples: model.w().nrows(),
            n_features: model.h().ncols(),
            n_components: model.h().nrows(),
        },
        params: config.record(),
        report: model.report().clone(),
        files,
        extra,
        online: online.map(|st| OnlineRecord {
            rho: st.rho,
            n_steps: st.n_steps,
        }),
    };
    let text = serde_json::to_string_pretty(&json).map_err(|e| ModelFileError::Corrupt {
        path: json_path.clone(),
        reason: format!("cannot encode: {e}"),
    })?;
    fs::write(&json_path, text + "\n").map_err(|source| IoError::Os {
        path: json_path,
        source,
    })?;
    Ok(())
}

impl<T: NpyFloat> ModelFiles for NmfModel<T> {
    fn save_with(
        &self,
        dir: impl AsRef<Path>,
        extra: serde_json::Value,
    ) -> Result<(), ModelFileError> {
        save_folder(self, None, dir.as_ref(), extra)
    }

    fn load(dir: impl AsRef<Path>) -> Result<Self, ModelFileError> {
        Ok(load_folder(dir.as_ref())?.0)
    }
}

/// `save`/`load` for an online fitter: the model after its last chunk plus what `partial_fit`
/// keeps ([`OnlineState`]), so a stream can stop in one process and go on in another.
/// Loading gives a fitter that continues with the same bits as one never stopped (its
/// `model()` is `None` until the next chunk). `NmfModel::load` reads the same folder as the
/// plain model.
impl<T: NpyFloat> ModelFiles for OnlineNmf<T> {
    fn save_with(
        &self,
        dir: impl AsRef<Path>,
        extra: serde_json::Value,
    ) -> Result<(), ModelFileError> {
        let dir = dir.as_ref();
        let (Some(model), Some(state)) = (self.model(), self.state()) else {
            return Err(ModelFileError::NotAModel {
                path: dir.to_path_buf(),
                reason: "nothing to save: partial_fit has not run since this fitter was made \
                         or resumed"
                    .into(),
            });
        };
        save_folder(model, Some(state), dir, extra)
    }

    fn load(dir: impl AsRef<Path>) -> Result<Self, ModelFileError> {
        let dir = dir.as_ref();
        let (model, online) = load_folder::<T>(dir)?;
        let Some(state) = online else {
            return Err(ModelFileError::NotAModel {
                path: dir.to_path_buf(),
                reason: "it holds a fitted model but no online state (A.npy, B.npy)".into(),
            });
        };
        OnlineNmf::resume(model.config(), state).map_err(|source| ModelFileError::Params {
            path: dir.join(MODEL_JSON),
            source,
        })
    }
}

/// Reads and checks a model folder: the model, and the online state when it holds one.
fn load_folder<T: NpyFloat>(
    dir: &Path,
) -> Result<(NmfModel<T>, Option<OnlineState<T>>), ModelFileError> {
    let json = read_model_json(dir)?;
    let json_path = dir.join(MODEL_JSON);
    let corrupt = |path: &Path, reason: String| ModelFileError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let s = json.shape;
    if s.n_components != json.params.n_components {
        return Err(corrupt(
            &json_path,
            format!(
                "shape says k = {} but the parameters say n_components = {}",
                s.n_components, json.params.n_components
            ),
        ));
    }
    let mut w = None;
    let mut h = None;
    let mut w0 = None;
    let mut h0 = None;
    let mut weights = None;
    let mut a = None;
    let mut b = None;
    for f in &json.files {
        if f.name.contains(['/', '\\']) || f.name.starts_with('.') {
            return Err(corrupt(
                &json_path,
                format!("file name {:?} leaves the folder", f.name),
            ));
        }
        let path = dir.join(&f.name);
        let bytes = fs::read(&path).map_err(|source| IoError::Os {
            path: path.clone(),
            source,
        })?;
        let sum = sha256_hex(&bytes);
        if sum != f.sha256 {
            return Err(corrupt(
                &path,
                format!("SHA-256 {sum} differs from {} in model.json", f.sha256),
            ));
        }
        let (rows, cols) = match f.role.as_str() {
            "W" | "W0" => (s.n_samples, s.n_components),
            "H" | "H0" | "A" | "B" => (s.n_components, s.n_features),
            "weights" => (s.n_samples, s.n_features),
            other => return Err(corrupt(&json_path, format!("unknown file role {other:?}"))),
        };
        let shape_err = |got: (usize, usize)| {
            corrupt(
                &path,
                format!(
                    "{} is {}x{}, model.json says {rows}x{cols}",
                    f.role, got.0, got.1
                ),
            )
        };
        if f.role == "weights" && f.name.ends_with(".npz") {
            let m = io::read_sparse_bytes::<T>(&bytes, &path)?;
            if m.shape() != (rows, cols) {
                return Err(shape_err(m.shape()));
            }
            weights = Some(Weights::Sparse(m));
            continue;
        }
        let m: Mat<T> = io::read_npy_bytes(&bytes, &path)?;
        if m.shape() != (rows, cols) {
            return Err(shape_err(m.shape()));
        }
        let slot = match f.role.as_str() {
            "W" => &mut w,
            "H" => &mut h,
            "W0" => &mut w0,
            "H0" => &mut h0,
            "A" => &mut a,
            "B" => &mut b,
            _ => {
                weights = Some(Weights::Dense(m));
                continue;
            }
        };
        if slot.replace(m).is_some() {
            return Err(corrupt(&json_path, format!("{} is listed twice", f.role)));
        }
    }
    let (Some(w), Some(h)) = (w, h) else {
        return Err(corrupt(&json_path, "W.npy or H.npy is not listed".into()));
    };
    let custom = match (w0, h0) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        _ => {
            return Err(corrupt(
                &json_path,
                "W0 without H0 (or H0 without W0)".into(),
            ));
        }
    };
    let params_err = |source| ModelFileError::Params {
        path: json_path.clone(),
        source,
    };
    let online = match (json.online, a, b) {
        (None, None, None) => None,
        (Some(r), Some(a), Some(b)) => Some(OnlineState {
            h: mat::copy(h.as_ref()),
            a,
            b,
            rho: r.rho,
            n_steps: r.n_steps,
        }),
        _ => {
            return Err(corrupt(
                &json_path,
                "an online state needs its record and both A.npy and B.npy".into(),
            ));
        }
    };
    let config = json.params.to_config(custom, weights).map_err(params_err)?;
    let model = NmfModel::from_parts(w, h, json.report, config).map_err(params_err)?;
    Ok((model, online))
}

/// Reads and checks `model.json` of a folder (format name and version) without loading the
/// matrices: what `nmf info` and tools that only need the parameters or report use.
///
/// # Errors
/// Missing or unreadable file, another format, a newer version, fields that do not parse.
pub fn read_model_json(dir: impl AsRef<Path>) -> Result<ModelJson, ModelFileError> {
    let dir = dir.as_ref();
    let path = dir.join(MODEL_JSON);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelFileError::NotAModel {
                path: dir.to_path_buf(),
                reason: format!("it has no {MODEL_JSON}"),
            });
        }
        Err(source) => return Err(IoError::Os { path, source }.into()),
    };
    let corrupt = |reason: String| ModelFileError::Corrupt {
        path: path.clone(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| corrupt(format!("not JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
        return Err(ModelFileError::NotAModel {
            path: path.clone(),
            reason: format!("its \"format\" is not {FORMAT_NAME:?}"),
        });
    }
    let version = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| corrupt("no integer \"format_version\"".into()))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(ModelFileError::TooNew {
            path,
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(2 * digest.len());
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 of a file's bytes, lowercase hex (the data hash the command records).
///
/// # Errors
/// The file cannot be read.
pub fn file_sha256(path: impl AsRef<Path>) -> Result<String, IoError> {
    let path = path.as_ref();
    let os = |source| IoError::Os {
        path: path.to_path_buf(),
        source,
    };
    // Streamed: the data file may be far larger than what is worth holding twice.
    let mut file = fs::File::open(path).map_err(os)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).map_err(os)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}
