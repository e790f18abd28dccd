//! Model folders: save then load gives the same factors, report and parameters bit for bit for
//! every solver, precision, initialisation and kind of weights; damaged, foreign or newer
//! folders are typed errors.

use std::path::PathBuf;

use faer::Mat;
use nmf::NmfParams;
use nmf::model_file::{self, ModelFileError, ModelFiles};
use nmf::prelude::*;
use nmf::solvers::{LegacySparseness, OpnmfNorm};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmf-model-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn data(n: usize, m: usize) -> Mat<f64> {
    Mat::from_fn(n, m, |i, j| {
        0.2 + ((i * 7 + j * 3) % 11) as f64 / 11.0 + ((i * j + 1) % 5) as f64 / 10.0
    })
}

fn roundtrip<T: nmf::io::NpyFloat>(name: &str, model: &NmfModel<T>) -> NmfModel<T> {
    let dir = temp_dir(name);
    model.save(&dir).unwrap();
    let back = NmfModel::<T>::load(&dir).unwrap();
    assert_eq!(back.w(), model.w(), "{name}: W");
    assert_eq!(back.h(), model.h(), "{name}: H");
    assert_eq!(back.report(), model.report(), "{name}: report");
    assert_eq!(
        back.config().record(),
        model.config().record(),
        "{name}: parameters"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    back
}

#[test]
fn every_solver_round_trips_bit_for_bit() {
    let x = data(24, 10);
    let cases: Vec<(&str, NmfParams<f64>)> = vec![
        (
            "cd",
            Nmf::params(3)
                .alpha_w(0.01)
                .l1_ratio(0.3)
                .shuffle(true)
                .inner_sweeps(3),
        ),
        (
            "mu-kl",
            Nmf::params(3)
                .solver(SolverKind::Mu)
                .loss(Loss::KullbackLeibler)
                .alpha_h(0.02),
        ),
        (
            "mu-beta",
            Nmf::params(2)
                .solver(SolverKind::Mu)
                .loss(Loss::Beta(1.5))
                .init(Init::Random),
        ),
        (
            "pg",
            Nmf::params(3)
                .solver(SolverKind::ProjectedGradient)
                .h_sparseness(0.6)
                .max_iter(20),
        ),
        (
            "pg-legacy",
            Nmf::params(3)
                .solver(SolverKind::ProjectedGradient)
                .legacy_pg(LegacySparseness::Components)
                .max_iter(10),
        ),
        (
            "opnmf",
            Nmf::params(3)
                .solver(SolverKind::Opnmf)
                .opnmf_norm(OpnmfNorm::Spectral)
                .max_iter(20),
        ),
        (
            "sklearn",
            Nmf::params(3)
                .compat(Compat::Sklearn)
                .seed(42)
                .init(Init::NndsvdAr)
                .kkt_tol(1e-3),
        ),
    ];
    for (name, p) in cases {
        let model = p.fit(x.as_ref()).unwrap();
        let back = roundtrip(name, &model);
        let x_new = data(5, 10);
        assert_eq!(
            back.transform(x_new.as_ref()).unwrap(),
            model.transform(x_new.as_ref()).unwrap()
        );
    }
}

#[test]
fn float32_custom_init_and_weights_round_trip() {
    let x32 = Mat::<f32>::from_fn(12, 7, |i, j| data(12, 7)[(i, j)] as f32);
    let w0 = Mat::<f32>::from_fn(12, 2, |i, j| 0.5 + ((i + 2 * j) % 3) as f32);
    let h0 = Mat::<f32>::from_fn(2, 7, |i, j| 0.5 + ((i + j) % 4) as f32);
    let m = Mat::<f32>::from_fn(12, 7, |i, j| {
        if (i + j) % 4 == 0 {
            0.0
        } else {
            1.0 + (i % 2) as f32
        }
    });
    let model = Nmf::params(2)
        .init(Init::Custom { w: w0, h: h0 })
        .weights(m)
        .solver(SolverKind::Mu)
        .fit(x32.as_ref())
        .unwrap();
    let back = roundtrip("f32-custom-weights", &model);
    assert_eq!(back.config().weights(), model.config().weights());
    assert_eq!(
        back.impute(x32.as_ref()).unwrap(),
        model.impute(x32.as_ref()).unwrap()
    );

    // A float32 model widens exactly into f64; a float64 one is not silently narrowed.
    let dir = temp_dir("widen");
    model.save(&dir).unwrap();
    let wide = NmfModel::<f64>::load(&dir).unwrap();
    assert_eq!(wide.h()[(1, 3)], f64::from(model.h()[(1, 3)]));
    let m64 = Nmf::params(2).fit(data(6, 4).as_ref()).unwrap();
    m64.save(&dir).unwrap();
    assert!(matches!(
        NmfModel::<f32>::load(&dir),
        Err(ModelFileError::Io(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();

    let xs = SparseMat::<f64>::from_triplets(
        4,
        3,
        &[0u32, 1, 2, 3, 0],
        &[0u32, 1, 2, 0, 2],
        &[1.0, 2.0, 3.0, 4.0, 0.5],
    )
    .unwrap();
    let ws = SparseMat::<f64>::from_triplets(
        4,
        3,
        &[0u32, 1, 2, 3],
        &[0u32, 1, 2, 0],
        &[1.0, 2.0, 1.0, 0.5],
    )
    .unwrap();
    let sparse = Nmf::params(1)
        .weights(ws)
        .init(Init::Random)
        .fit(&xs)
        .unwrap();
    let back = roundtrip("sparse-weights", &sparse);
    assert_eq!(back.impute(&xs).unwrap(), sparse.impute(&xs).unwrap());
}

#[test]
fn damaged_foreign_and_newer_folders_are_typed_errors() {
    let model = Nmf::params(2).fit(data(8, 5).as_ref()).unwrap();
    let dir = temp_dir("damaged");
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::NotAModel { .. })
    ));
    model
        .save_with(&dir, serde_json::json!({"note": "kept"}))
        .unwrap();
    let json = model_file::read_model_json(&dir).unwrap();
    assert_eq!(json.extra["note"], "kept");
    // A plain model is written as version 1 (older builds read it); version 2 adds the
    // online state.
    assert_eq!(json.format_version, 1);
    let text = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let put = |t: &str| std::fs::write(dir.join("model.json"), t).unwrap();

    let newer = model_file::FORMAT_VERSION + 1;
    put(&text.replace(
        "\"format_version\": 1",
        &format!("\"format_version\": {newer}"),
    ));
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::TooNew { found, .. }) if found == u64::from(newer)
    ));
    put(&text.replace("nmf-rs model", "something else"));
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::NotAModel { .. })
    ));
    put(&text.replace("\"n_samples\": 8", "\"n_samples\": 9"));
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::Corrupt { .. })
    ));
    put(&text.replace("\"max_iter\": 200", "\"max_iter\": 0"));
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::Params { .. })
    ));
    put(&text.replace("\"W.npy\"", "\"../W.npy\""));
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::Corrupt { .. })
    ));
    put(&text.replace("\"solver\": \"cd\"", "\"solver\": \"svd\""));
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::Corrupt { .. })
    ));
    put(&text);
    NmfModel::<f64>::load(&dir).unwrap();

    let w = dir.join("W.npy");
    let mut bytes = std::fs::read(&w).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    std::fs::write(&w, &bytes).unwrap();
    let err = NmfModel::<f64>::load(&dir).unwrap_err();
    assert!(matches!(err, ModelFileError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("W.npy"), "{err}");
    std::fs::remove_file(&w).unwrap();
    assert!(matches!(
        NmfModel::<f64>::load(&dir),
        Err(ModelFileError::Io(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
