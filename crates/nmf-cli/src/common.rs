//! What several commands share: the meaning of `--dataset`, `--data-home`, `--vocab` and
//! `--threads`, the loaded data (dense images or sparse counts, [`Input`]), and the number
//! format of the CSV files they write.
//!
//! Every command names its data `--dataset` and its parallelism `--threads`; the data flags are
//! declared once here and flattened into each command, so the spelling and the meaning cannot
//! drift apart between commands.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use faer::{Mat, Par};
use nmf::datasets::Dataset;
use nmf::{DataRef, Float, SparseMat};

/// `--dataset`, `--data-home` and `--vocab` of the commands that fit in Rust only (default:
/// swimmer).
#[derive(clap::Args, Clone, Debug)]
pub struct DatasetArgs {
    /// `swimmer` (built in, the default), `olivetti` (from --data-home), `corpus` (built in:
    /// synthetic word counts with 8 planted topics, sparse), a dense .npy/.csv file, or a
    /// sparse .npz (scipy) / .mtx (MatrixMarket) file of counts.
    #[arg(long, default_value = "swimmer")]
    pub dataset: String,
    /// Folder holding olivetti_faces.npy (default: $NMF_DATA_HOME, else ../shared/data).
    #[arg(long, env = "NMF_DATA_HOME")]
    pub data_home: Option<PathBuf>,
    /// Vocabulary of sparse data (one term per line, or JSON): names the top words of each
    /// component. Default: the file beside the data (NAME_meta.json for NAME_counts.npz).
    #[arg(long)]
    pub vocab: Option<PathBuf>,
}

/// A command's data matrix: dense (images, .npy/.csv) or sparse (counts, .npz/.mtx).
pub enum Matrix {
    Dense(Mat<f32>),
    Sparse(SparseMat<f32>),
}

/// A loaded dataset with what is known about it.
pub struct Input {
    /// Short name (`swimmer`, `corpus`, or the file stem).
    pub name: String,
    pub x: Matrix,
    /// (height, width) when each row is an image.
    pub image_shape: Option<(usize, usize)>,
    /// Class labels of the samples, when known.
    pub labels: Option<Vec<i64>>,
    /// The term of every column, for sparse count data with a vocabulary.
    pub vocabulary: Option<Vec<String>>,
    /// Planted topics (topics x terms) when known: the synthetic corpus.
    pub topics: Option<Mat<f64>>,
}

impl Input {
    pub fn shape(&self) -> (usize, usize) {
        match &self.x {
            Matrix::Dense(m) => m.shape(),
            Matrix::Sparse(s) => s.shape(),
        }
    }

    pub fn nrows(&self) -> usize {
        self.shape().0
    }

    pub fn ncols(&self) -> usize {
        self.shape().1
    }

    pub fn is_sparse(&self) -> bool {
        matches!(self.x, Matrix::Sparse(_))
    }

    /// The matrix as the library's fits take it.
    pub fn data(&self) -> DataRef<'_, f32> {
        match &self.x {
            Matrix::Dense(m) => m.as_ref().into(),
            Matrix::Sparse(s) => s.as_ref().into(),
        }
    }
}

impl From<Dataset> for Input {
    fn from(d: Dataset) -> Self {
        Input {
            name: d.name,
            x: Matrix::Dense(d.x),
            image_shape: d.image_shape,
            labels: d.labels,
            vocabulary: None,
            topics: None,
        }
    }
}

/// Whether `p` names a sparse matrix file (by extension, as the reader decides too).
pub fn is_sparse_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npz") || e.eq_ignore_ascii_case("mtx"))
}

/// The built-in synthetic corpus, as f32 counts (integers, so exact), with its vocabulary and
/// planted topics.
pub fn corpus_input() -> Input {
    let c = nmf::datasets::corpus();
    Input {
        name: "corpus".into(),
        x: Matrix::Sparse(c.x.map_values(|v| v as f32)),
        image_shape: None,
        labels: None,
        vocabulary: Some(c.vocabulary),
        topics: Some(c.topics),
    }
}

impl DatasetArgs {
    /// Loads the dataset; an unknown name that is not a file gets a one-line hint.
    pub fn load(&self) -> Result<Input> {
        let home = self.data_home.as_deref();
        let mut input = match self.dataset.as_str() {
            name @ ("swimmer" | "olivetti") => nmf::datasets::load(name, home)?.into(),
            "corpus" => corpus_input(),
            p if Path::new(p).exists() && is_sparse_file(Path::new(p)) => {
                let path = Path::new(p);
                let x = read_sparse_exact::<f32>(path)?;
                Input {
                    name: stem(path),
                    x: Matrix::Sparse(x),
                    image_shape: None,
                    labels: None,
                    vocabulary: match nmf::vocab::vocabulary_beside(path) {
                        Some(v) if self.vocab.is_none() => Some(read_vocab(&v)?),
                        _ => None,
                    },
                    topics: None,
                }
            }
            p if Path::new(p).exists() => nmf::datasets::load(p, None)?.into(),
            p => bail!(
                "--dataset: {p:?} is neither swimmer, olivetti, corpus nor an existing .npy/.csv/.npz/.mtx file"
            ),
        };
        if let Some(v) = &self.vocab {
            input.vocabulary = Some(read_vocab(v)?);
        }
        if let Some(v) = &input.vocabulary
            && v.len() != input.ncols()
        {
            bail!(
                "--vocab: {} terms for {} columns of {}",
                v.len(),
                input.ncols(),
                input.name
            );
        }
        Ok(input)
    }
}

/// A sparse file in precision `T`. Count files are often stored as float64 although every
/// value is a small integer: those are narrowed, since no value changes; a float64 file with a
/// value `T` cannot hold exactly is refused, as the reader refuses it.
pub fn read_sparse_exact<T: Float>(path: &Path) -> Result<SparseMat<T>> {
    match nmf::io::read_sparse::<T>(path) {
        Err(nmf::io::IoError::Dtype { .. }) => {
            let x = nmf::io::read_sparse::<f64>(path)?;
            if let Some(v) = x.values().iter().find(|&&v| T::from_f64(v).to_f64() != v) {
                bail!(
                    "{}: float64 value {v} is not exactly a {} (only exact values, such as counts, are narrowed)",
                    path.display(),
                    T::NAME
                );
            }
            Ok(x.map_values(T::from_f64))
        }
        other => Ok(other?),
    }
}

fn read_vocab(p: &Path) -> Result<Vec<String>> {
    nmf::vocab::read_vocabulary(p)
        .with_context(|| format!("reading the vocabulary {}", p.display()))
}

/// A file's stem, as dataset names are.
pub fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("data")
        .to_string()
}

/// `--dataset` and `--data-home` of the commands that hand the data to scikit-learn as a file
/// (default: the Olivetti faces).
#[derive(clap::Args, Clone, Debug)]
pub struct DataFileArgs {
    /// `olivetti` (olivetti_faces.npy in --data-home, the default) or a .npy file;
    /// bench-compare also takes sparse data: `corpus` (built in) or a .npz/.mtx file.
    // `--data` was this flag's name before every command said `--dataset`.
    #[arg(long, alias = "data", default_value = "olivetti")]
    pub dataset: String,
    /// Folder holding olivetti_faces.npy (default: $NMF_DATA_HOME, else ../shared/data).
    #[arg(long, env = "NMF_DATA_HOME")]
    pub data_home: Option<PathBuf>,
}

impl DataFileArgs {
    /// Whether `--dataset` is sparse: the built-in corpus or a .npz/.mtx file.
    pub fn is_sparse(&self) -> bool {
        self.dataset == "corpus" || is_sparse_file(Path::new(&self.dataset))
    }

    /// The .npy file behind `--dataset`.
    pub fn path(&self) -> Result<PathBuf> {
        Ok(match self.dataset.as_str() {
            "olivetti" => {
                nmf::datasets::data_home(self.data_home.as_deref()).join("olivetti_faces.npy")
            }
            // The Python side reads a file, and swimmer only exists in Rust.
            "swimmer" => bail!(
                "--dataset swimmer is generated in Rust, not a file: this command needs olivetti or a .npy path"
            ),
            p => PathBuf::from(p),
        })
    }
}

/// faer's parallelism for `threads` threads (one thread runs sequentially, without rayon).
pub fn par(threads: usize) -> Par {
    if threads <= 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    }
}

/// Threads when `--threads` is not given: every core.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// serde helpers for CSV fields written as Rust's `Display` writes them and read back with
/// `FromStr`.
///
/// The csv crate writes floats with ryu (`1.0`, `1e-7`); the result files have always held
/// Rust's shortest round-trip decimals (`1`, `0.0000001`), which read back to the same bits, so
/// the files stay byte-for-byte what they were and diff cleanly between versions.
pub mod text {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Writes `v` with `Display`.
    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads a field with `FromStr`.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }

    /// The same for optional fields: `None` is an empty field.
    pub mod opt {
        use super::*;

        /// Writes `Some(v)` with `Display`, `None` as an empty field.
        pub fn serialize<T: Display, S: Serializer>(
            v: &Option<T>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_str(""),
            }
        }

        /// Reads an empty field as `None`, anything else with `FromStr`.
        pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            let s = String::deserialize(d)?;
            if s.is_empty() {
                return Ok(None);
            }
            s.parse().map(Some).map_err(D::Error::custom)
        }
    }
}
