//! Built-in and known datasets: the procedurally generated swimmer set, the Olivetti faces
//! read from a data folder, and a synthetic sparse [`corpus`] with planted topics.
//!
//! Loading never changes precision behind the caller's back: [`load`] gives `f32` data and refuses
//! a float64 file (as [`io::read_npy`] does), and [`load_as`] reads at the precision asked for, so
//! `load_as::<f64>` keeps a float64 file exact.

use nmf_core::mat;
use std::path::{Path, PathBuf};

use faer::Mat;
use nmf_core::Float;

use crate::io::{self, IoError};

mod corpus;

pub use corpus::{Corpus, CorpusSpec, corpus};

/// A data matrix with what is known about it, in precision `T` (f32 unless asked otherwise).
#[derive(Debug, Clone)]
pub struct Dataset<T = f32> {
    /// Short name (`swimmer`, `olivetti`, or the file name).
    pub name: String,
    /// Samples as rows.
    pub x: Mat<T>,
    /// (height, width) when each row is an image stored row-major.
    pub image_shape: Option<(usize, usize)>,
    /// Ground-truth parts, as pixel index lists, when known (swimmer).
    pub parts: Vec<Vec<usize>>,
    /// Class labels of the samples, when known (olivetti: person ids).
    pub labels: Option<Vec<i64>>,
}

/// A (row, column) position or direction.
type Point = (f64, f64);

/// Side of a swimmer image.
pub const SWIMMER_SIDE: usize = 32;

/// The swimmer set (after Donoho & Stodden 2003), generated here: 256 images of 32 x 32 pixels, a
/// torso and four limbs, each limb in one of four positions, every combination once. Its 17
/// ground-truth parts (torso + 16 limb positions) are returned in `parts`, so part recovery can
/// be scored. Pixels are 0 or 1.
pub fn swimmer() -> Dataset {
    let s = SWIMMER_SIDE;
    let idx = |r: usize, c: usize| r * s + c;
    let torso: Vec<usize> = (10..22).flat_map(|r| [idx(r, 15), idx(r, 16)]).collect();
    // Pivots (row, col) and the four directions (unit steps, row down positive) of each limb.
    let d = |deg: f64| (deg.to_radians().cos(), deg.to_radians().sin());
    let limbs: [(Point, [Point; 4]); 4] = [
        // left arm: from hanging down to raised, towards the left
        (
            (10.5, 13.5),
            [d(30.0), d(75.0), d(120.0), d(165.0)].map(|(r, c)| (r, -c)),
        ),
        // right arm: mirrored
        ((10.5, 18.5), [d(30.0), d(75.0), d(120.0), d(165.0)]),
        // left leg
        (
            (22.5, 14.5),
            [d(0.0), d(20.0), d(40.0), d(60.0)].map(|(r, c)| (r, -c)),
        ),
        // right leg
        ((22.5, 17.5), [d(0.0), d(20.0), d(40.0), d(60.0)]),
    ];
    let len = 8.0;
    let segment = |(r0, c0): Point, (dr, dc): Point| -> Vec<usize> {
        let mut px: Vec<usize> = (0..=16)
            .filter_map(|t| {
                let t = t as f64 * len / 16.0;
                let (r, c) = ((r0 + t * dr).floor(), (c0 + t * dc).floor());
                (r >= 0.0 && c >= 0.0 && (r as usize) < s && (c as usize) < s)
                    .then(|| idx(r as usize, c as usize))
            })
            .collect();
        px.sort_unstable();
        px.dedup();
        px
    };
    let mut parts = vec![torso.clone()];
    for (pivot, dirs) in limbs {
        for dir in dirs {
            parts.push(segment(pivot, dir));
        }
    }
    let mut x = mat::zeros::<f32>(256, s * s);
    for img in 0..256 {
        for &p in &torso {
            x[(img, p)] = 1.0;
        }
        for limb in 0..4 {
            let pos = (img >> (2 * limb)) & 3;
            for &p in &parts[1 + 4 * limb + pos] {
                x[(img, p)] = 1.0;
            }
        }
    }
    Dataset {
        name: "swimmer".into(),
        x,
        image_shape: Some((s, s)),
        parts,
        labels: None,
    }
}

/// Where `olivetti` is looked up: `data_home`, else `$NMF_DATA_HOME`, else `../shared/data`.
pub fn data_home(data_home: Option<&Path>) -> PathBuf {
    data_home
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("NMF_DATA_HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

/// The Olivetti faces (400 x 4096, 64 x 64 images) and person labels from a data folder holding
/// `olivetti_faces.npy` and `olivetti_targets.npy` (scikit-learn's scaling to [0, 1]).
pub fn olivetti(data_home_dir: Option<&Path>) -> Result<Dataset, IoError> {
    let dir = data_home(data_home_dir);
    let x: Mat<f32> = io::read_npy(dir.join("olivetti_faces.npy"))?;
    let labels = io::read_npy_labels(dir.join("olivetti_targets.npy")).ok();
    Ok(Dataset {
        name: "olivetti".into(),
        x,
        image_shape: Some((64, 64)),
        parts: Vec::new(),
        labels,
    })
}

/// `swimmer`, `olivetti`, or a `.npy`/`.csv` path, as `f32`.
///
/// # Errors
/// As [`load_as`]; in particular a float64 `.npy` file is refused with [`IoError::Dtype`] rather
/// than rounded to f32 (use `load_as::<f64>` to keep its precision, or convert the file).
pub fn load(name_or_path: &str, data_home_dir: Option<&Path>) -> Result<Dataset, IoError> {
    load_as::<f32>(name_or_path, data_home_dir).map_err(|e| match e {
        IoError::Dtype { path, found, .. } if found == "float64" => IoError::Dtype {
            path,
            found,
            expected: "float32 for datasets::load (datasets::load_as::<f64> keeps float64 data)",
        },
        other => other,
    })
}

/// `swimmer`, `olivetti`, or a `.npy`/`.csv` path, in precision `T`.
///
/// The built-in sets are f32 and widen exactly to f64. A `.npy` file is read in `T` as
/// [`io::read_npy`] reads it: float32 files widen exactly, float64 files cannot be read as f32.
/// A `.csv` file's decimal text is parsed directly in `T`.
///
/// # Errors
/// The file is missing or malformed, or holds float64 data and `T` is f32.
pub fn load_as<T: Float>(
    name_or_path: &str,
    data_home_dir: Option<&Path>,
) -> Result<Dataset<T>, IoError> {
    let widen = |d: Dataset| Dataset {
        x: mat::from_fn(d.x.nrows(), d.x.ncols(), |i, j| {
            T::from_f64(f64::from(d.x[(i, j)]))
        }),
        name: d.name,
        image_shape: d.image_shape,
        parts: d.parts,
        labels: d.labels,
    };
    match name_or_path {
        "swimmer" => Ok(widen(swimmer())),
        "olivetti" => olivetti(data_home_dir).map(widen),
        path => {
            let p = Path::new(path);
            let x: Mat<T> = io::read_matrix::<T>(p)?;
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("data")
                .to_string();
            let side = (x.ncols() as f64).sqrt() as usize;
            Ok(Dataset {
                name,
                image_shape: (side * side == x.ncols() && side > 1).then_some((side, side)),
                x,
                parts: Vec::new(),
                labels: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh file path under the system temp folder, unique to this process and test.
    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nmf-datasets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn float64_files_keep_their_precision_or_are_refused() {
        // 0.1 and 1/3 are not representable in f32: narrowing would change them.
        let x64 = faer::mat![[0.1, 1.0 / 3.0], [2.0, 1e-9f64]];
        let p = tmp("f64.npy");
        io::write_npy(&p, x64.as_ref()).unwrap();
        let path = p.to_str().unwrap();
        match load(path, None) {
            Err(IoError::Dtype {
                found, expected, ..
            }) => {
                assert_eq!(found, "float64");
                assert!(expected.contains("load_as::<f64>"), "{expected}");
            }
            other => panic!("a float64 file must not load as f32: {other:?}"),
        }
        let d = load_as::<f64>(path, None).unwrap();
        assert_eq!(d.x, x64, "float64 data kept bit for bit");
        assert_eq!(d.name, "f64");
        // A float32 file loads as f32 unchanged, and widens exactly to f64.
        let x32 = faer::mat![[0.1f32, 3.0], [0.5, 7.25]];
        let p = tmp("f32.npy");
        io::write_npy(&p, x32.as_ref()).unwrap();
        let path = p.to_str().unwrap();
        assert_eq!(load(path, None).unwrap().x, x32);
        let wide = load_as::<f64>(path, None).unwrap().x;
        assert_eq!(wide, Mat::from_fn(2, 2, |i, j| f64::from(x32[(i, j)])));
    }

    #[test]
    fn csv_text_is_parsed_in_the_requested_precision() {
        let p = tmp("x.csv");
        std::fs::write(&p, "0.1,0.2\n0.3,0.4\n").unwrap();
        let path = p.to_str().unwrap();
        // Parsing the text as f32 directly, not rounding an f64 parse, and f64 keeps it all.
        assert_eq!(
            load(path, None).unwrap().x,
            faer::mat![[0.1f32, 0.2], [0.3, 0.4]]
        );
        assert_eq!(
            load_as::<f64>(path, None).unwrap().x,
            faer::mat![[0.1f64, 0.2], [0.3, 0.4]]
        );
    }

    #[test]
    fn built_in_sets_widen_exactly() {
        let a = load("swimmer", None).unwrap();
        let b = load_as::<f64>("swimmer", None).unwrap();
        assert_eq!(b.x, Mat::from_fn(256, 1024, |i, j| f64::from(a.x[(i, j)])));
        assert_eq!((b.parts, b.image_shape), (a.parts, a.image_shape));
    }

    #[test]
    fn swimmer_is_every_combination_of_17_parts() {
        let d = swimmer();
        assert_eq!(d.x.shape(), (256, 1024));
        assert_eq!(d.parts.len(), 17);
        // Every image: torso + exactly one position per limb, no two images alike.
        let mut rows: Vec<Vec<u8>> = (0..256)
            .map(|i| (0..1024).map(|j| d.x[(i, j)] as u8).collect())
            .collect();
        rows.sort();
        rows.dedup();
        assert_eq!(rows.len(), 256);
        for p in &d.parts {
            assert!(!p.is_empty());
        }
    }
}
