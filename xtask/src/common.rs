//! What several commands share: the meaning of `--dataset`, `--data-home` and `--threads`, and
//! the number format of the CSV files they write.
//!
//! Every command names its data `--dataset` and its parallelism `--threads`; the data flags are
//! declared once here and flattened into each command, so the spelling and the meaning cannot
//! drift apart between commands.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use faer::Par;
use nmf::datasets::Dataset;

/// `--dataset` and `--data-home` of the commands that fit in Rust only (default: swimmer).
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct DatasetArgs {
    /// `swimmer` (built in, the default), `olivetti` (from --data-home), or a .npy/.csv file.
    #[arg(long, default_value = "swimmer")]
    pub dataset: String,
    /// Folder holding olivetti_faces.npy (default: $NMF_DATA_HOME, else ../shared/data).
    #[arg(long, env = "NMF_DATA_HOME")]
    pub data_home: Option<PathBuf>,
}

impl DatasetArgs {
    /// Loads the dataset; an unknown name that is not a file gets a one-line hint.
    pub fn load(&self) -> Result<Dataset> {
        let home = self.data_home.as_deref();
        Ok(match self.dataset.as_str() {
            name @ ("swimmer" | "olivetti") => nmf::datasets::load(name, home)?,
            p if Path::new(p).exists() => nmf::datasets::load(p, None)?,
            p => bail!(
                "--dataset: {p:?} is neither swimmer, olivetti nor an existing .npy/.csv file"
            ),
        })
    }
}

/// `--dataset` and `--data-home` of the commands that hand the data to scikit-learn as a file
/// (default: the Olivetti faces).
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct DataFileArgs {
    /// `olivetti` (olivetti_faces.npy in --data-home, the default) or a .npy file.
    // `--data` was this flag's name before every command said `--dataset`.
    #[arg(long, alias = "data", default_value = "olivetti")]
    pub dataset: String,
    /// Folder holding olivetti_faces.npy (default: $NMF_DATA_HOME, else ../shared/data).
    #[arg(long, env = "NMF_DATA_HOME")]
    pub data_home: Option<PathBuf>,
}

impl DataFileArgs {
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
pub(crate) fn par(threads: usize) -> Par {
    if threads <= 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    }
}

/// Threads when `--threads` is not given: every core.
pub(crate) fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// serde helpers for CSV fields written as Rust's `Display` writes them and read back with
/// `FromStr`.
///
/// The csv crate writes floats with ryu (`1.0`, `1e-7`); the result files have always held
/// Rust's shortest round-trip decimals (`1`, `0.0000001`), which read back to the same bits, so
/// the files stay byte-for-byte what they were and diff cleanly between versions.
pub(crate) mod text {
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
