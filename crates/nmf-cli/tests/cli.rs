//! The `nmf` binary end to end: fit and transform in separate processes give the library's
//! results bit for bit, `--json` parses back to what `model.json` says, every bad input exits 1
//! with one line naming the problem (never a panic or a backtrace), usage errors exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use faer::{Mat, Par};
use nmf::model_file::ModelFiles;
use nmf::prelude::*;
use serde_json::Value;

fn nmf_bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nmf"));
    // A backtrace would show up in stderr if anything panicked: make sure it would be printed.
    c.env("RUST_BACKTRACE", "1");
    c
}

fn run(args: &[&str]) -> Output {
    nmf_bin().args(args).output().expect("the nmf binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmf-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A positive matrix of rank about 3 plus noise, deterministic.
fn data(n: usize, m: usize, salt: usize) -> Mat<f64> {
    Mat::from_fn(n, m, |i, j| {
        let a = ((i * 7 + j * 3 + salt) % 11) as f64 / 11.0;
        let b = ((i * 5 + j * 13 + 2 * salt) % 17) as f64 / 17.0;
        let c = ((i + j * j + salt) % 5) as f64 / 5.0;
        0.1 + a + 0.5 * b + 0.25 * c
    })
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn fit_then_transform_in_two_processes_equals_the_library() {
    let dir = temp_dir("roundtrip");
    let (x, x_new) = (data(30, 12, 0), data(9, 12, 5));
    let (xp, newp, out) = (dir.join("x.npy"), dir.join("new.npy"), dir.join("model"));
    nmf::io::write_npy(&xp, x.as_ref()).unwrap();
    nmf::io::write_npy(&newp, x_new.as_ref()).unwrap();
    for (solver, extra) in [
        (
            "cd",
            vec![
                "--alpha-w",
                "0.01",
                "--l1-ratio",
                "0.5",
                "--init",
                "nndsvda",
            ],
        ),
        (
            "mu",
            vec!["--loss", "kullback-leibler", "--init", "nndsvdar"],
        ),
        (
            "minibatch",
            vec![
                "--loss",
                "kullback-leibler",
                "--batch-size",
                "7",
                "--forget-factor",
                "0.5",
                "--max-no-improvement",
                "none",
                "--transform-max-iter",
                "25",
            ],
        ),
    ] {
        let mut args = vec!["fit", s(&xp), "-k", "3", "--solver", solver, "--seed", "4"];
        args.extend([
            "--max-iter",
            "60",
            "--threads",
            "2",
            "--quiet",
            "-o",
            s(&out),
        ]);
        args.extend(extra.iter().copied());
        assert_ok(&run(&args));
        let w: Mat<f64> = nmf::io::read_npy(out.join("W.npy")).unwrap();
        let h: Mat<f64> = nmf::io::read_npy(out.join("H.npy")).unwrap();

        let mut p = Nmf::params::<f64>(3)
            .solver(solver.parse().unwrap())
            .seed(4)
            .max_iter(60)
            .par(Par::Seq);
        p = match solver {
            "cd" => p.alpha_w(0.01).l1_ratio(0.5).init(Init::NndsvdA),
            "mu" => p.loss(Loss::KullbackLeibler).init(Init::NndsvdAr),
            _ => p
                .loss(Loss::KullbackLeibler)
                .batch_size(7)
                .forget_factor(0.5)
                .max_no_improvement(None)
                .transform_max_iter(25),
        };
        let lib = p.fit(x.as_ref()).unwrap();
        assert_eq!(
            w,
            lib.w().to_owned(),
            "{solver}: W differs from the library's"
        );
        assert_eq!(
            h,
            lib.h().to_owned(),
            "{solver}: H differs from the library's"
        );

        let wn = dir.join("w_new.npy");
        assert_ok(&run(&[
            "transform",
            "--model",
            s(&out),
            s(&newp),
            "-o",
            s(&wn),
            "-q",
        ]));
        let got: Mat<f64> = nmf::io::read_npy(&wn).unwrap();
        assert_eq!(
            got,
            lib.transform(x_new.as_ref()).unwrap(),
            "{solver}: transform"
        );

        let xb = dir.join("x_back.npy");
        assert_ok(&run(&[
            "inverse-transform",
            "--model",
            s(&out),
            s(&wn),
            "-o",
            s(&xb),
            "-q",
        ]));
        let back: Mat<f64> = nmf::io::read_npy(&xb).unwrap();
        assert_eq!(back, lib.inverse_transform(got.as_ref()).unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn streamed_fit_and_transform_equal_the_library_row_source_calls() {
    let dir = temp_dir("stream");
    let x = data(40, 12, 2);
    let (xp, out, wp) = (dir.join("x.npy"), dir.join("model"), dir.join("w.npy"));
    nmf::io::write_npy(&xp, x.as_ref()).unwrap();
    let common = [
        "-k",
        "3",
        "--solver",
        "minibatch",
        "--init",
        "random",
        "--seed",
        "2",
    ];
    let mut args = vec![
        "fit",
        s(&xp),
        "--stream",
        "--batch-size",
        "9",
        "--max-iter",
        "8",
    ];
    args.extend(common);
    args.extend(["--threads", "1", "-q", "-o", s(&out)]);
    assert_ok(&run(&args));
    let config = Nmf::params::<f64>(3)
        .solver(SolverKind::MiniBatch)
        .init(Init::Random)
        .seed(2)
        .batch_size(9)
        .max_iter(8)
        .par(Par::Seq)
        .check()
        .unwrap();
    let lib = config.fit_source(&mut nmf::InMemoryRows::new(&x)).unwrap();
    let h: Mat<f64> = nmf::io::read_npy(out.join("H.npy")).unwrap();
    let w: Mat<f64> = nmf::io::read_npy(out.join("W.npy")).unwrap();
    assert_eq!(h, lib.h().to_owned(), "streamed fit: H");
    assert_eq!(w, lib.w().to_owned(), "streamed fit: W");
    let json = nmf::model_file::read_model_json(&out).unwrap();
    assert_eq!(json.extra["data"]["streamed"], true);

    assert_ok(&run(&[
        "transform",
        "--model",
        s(&out),
        s(&xp),
        "--stream",
        "-o",
        s(&wp),
        "-q",
    ]));
    let got: Mat<f64> = nmf::io::read_npy(&wp).unwrap();
    let mut want = Mat::<f64>::zeros(40, 3);
    lib.transform_source(&mut nmf::InMemoryRows::new(&x), &mut |r, b| {
        want.as_mut().subrows_mut(r.start, r.len()).copy_from(b);
        Ok(())
    })
    .unwrap();
    assert_eq!(got, want, "streamed transform");

    // A CSR .npz streams by row blocks: the library's fit from the same sparse rows.
    let sx = nmf::SparseMat::from_dense(x.as_ref()).unwrap();
    let zp = dir.join("x.npz");
    nmf::io::write_sparse(&zp, &sx).unwrap();
    let mut args = vec![
        "fit",
        s(&zp),
        "--stream",
        "--batch-size",
        "9",
        "--max-iter",
        "8",
    ];
    args.extend(common);
    args.extend(["--threads", "1", "-q", "-o", s(&out)]);
    assert_ok(&run(&args));
    let lib_sparse = config.fit_source(&mut nmf::InMemoryRows::new(&sx)).unwrap();
    let h: Mat<f64> = nmf::io::read_npy(out.join("H.npy")).unwrap();
    assert_eq!(h, lib_sparse.h().to_owned(), "streamed npz fit: H");

    // Streaming is the minibatch solver's.
    let o = run(&["fit", s(&xp), "-k", "3", "--stream", "-q", "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("minibatch"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn float32_data_stays_float32_and_custom_init_is_used() {
    let dir = temp_dir("f32");
    let x = Mat::<f32>::from_fn(20, 8, |i, j| data(20, 8, 1)[(i, j)] as f32);
    let w0 = Mat::<f32>::from_fn(20, 2, |i, j| 0.5 + ((i + j) % 3) as f32);
    let h0 = Mat::<f32>::from_fn(2, 8, |i, j| 0.25 + ((i * 3 + j) % 4) as f32);
    let (xp, w0p, h0p, out) = (
        dir.join("x.npy"),
        dir.join("w0.npy"),
        dir.join("h0.npy"),
        dir.join("m"),
    );
    nmf::io::write_npy(&xp, x.as_ref()).unwrap();
    nmf::io::write_npy(&w0p, w0.as_ref()).unwrap();
    nmf::io::write_npy(&h0p, h0.as_ref()).unwrap();
    let o = run(&[
        "fit",
        s(&xp),
        "-k",
        "2",
        "--init",
        "custom",
        "--w0",
        s(&w0p),
        "--h0",
        s(&h0p),
        "--solver",
        "mu",
        "--max-iter",
        "25",
        "--tol",
        "0",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_ok(&o);
    let j: Value = serde_json::from_slice(&o.stdout).expect("--json prints one JSON object");
    assert_eq!(j["dtype"], "float32");
    assert_eq!(j["report"]["n_iter"], 25);
    assert_eq!(j["report"]["init"]["kind"], "custom");
    let lib = Nmf::params::<f32>(2)
        .solver(SolverKind::Mu)
        .init(Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        })
        .max_iter(25)
        .tol(0.0)
        .fit(x.as_ref())
        .unwrap();
    let model = NmfModel::<f32>::load(&out).unwrap();
    assert_eq!(model.h(), lib.h());
    assert_eq!(model.w(), lib.w());
    // The starting factors travel with the model, so it can be refitted as it was.
    match model.config().init() {
        Init::Custom { w, h } => assert!(w == &w0 && h == &h0),
        other => panic!("init {other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_output_matches_model_json() {
    let dir = temp_dir("json");
    let xp = dir.join("x.csv");
    let x = data(15, 6, 2);
    nmf::io::write_csv(&xp, x.as_ref()).unwrap();
    let out = dir.join("m");
    let o = run(&[
        "fit",
        s(&xp),
        "-k",
        "2",
        "--max-iter",
        "500",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_ok(&o);
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(
        (j["n_samples"].as_u64(), j["n_features"].as_u64()),
        (Some(15), Some(6))
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    assert_eq!(j["report"], file["report"]);
    assert_eq!(
        file["extra"]["data"]["sha256"].as_str().map(str::len),
        Some(64)
    );
    assert!(j["report"]["reconstruction_err"].as_f64().unwrap() > 0.0);

    let o = run(&["info", s(&xp), "-k", "2", "--json"]);
    assert_ok(&o);
    let i: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(i["negative"], 0);
    assert_eq!(i["nonzero"], 90);
    assert!(i["seconds_per_iteration"].as_f64().unwrap() >= 0.0);
    let o = run(&["info", s(&out), "--json"]);
    assert_ok(&o);
    let i: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(i["model"]["params"]["n_components"], 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a `.npy` whose entry (0, 0) is `v`.
fn npy_with(dir: &Path, name: &str, v: f64) -> PathBuf {
    let mut x = data(6, 5, 3);
    x[(0, 0)] = v;
    let p = dir.join(name);
    nmf::io::write_npy(&p, x.as_ref()).unwrap();
    p
}

#[test]
fn bad_input_exits_1_with_one_line() {
    let dir = temp_dir("hostile");
    let good = npy_with(&dir, "good.npy", 1.0);
    let neg = npy_with(&dir, "neg.npy", -1.0);
    let nan = npy_with(&dir, "nan.npy", f64::NAN);
    let inf = npy_with(&dir, "inf.npy", f64::INFINITY);
    let zero = npy_with(&dir, "zero.npy", 0.0);
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let garbage = write("garbage.npy", b"this is not a numpy file at all");
    let mut trunc = std::fs::read(&good).unwrap();
    trunc.truncate(trunc.len() - 9);
    let truncated = write("truncated.npy", &trunc);
    let ragged = write("ragged.csv", b"1,2,3\n4,5\n");
    let text = write("text.csv", b"1,2,3\n4,five,6\n");
    let empty = write("empty.csv", b"");
    let mtx_oob = write(
        "oob.mtx",
        b"%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1.0\n",
    );
    let mtx_neg = write(
        "neg.mtx",
        b"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 -1.0\n",
    );
    let unknown = write("x.xlsx", b"PK");
    let narrow = dir.join("narrow.npy");
    nmf::io::write_npy(
        &narrow,
        Mat::<f64>::from_fn(3, 2, |i, j| (i + j) as f64 + 1.0).as_ref(),
    )
    .unwrap();
    let w0_bad = dir.join("w0.npy");
    nmf::io::write_npy(&w0_bad, Mat::<f64>::from_fn(4, 2, |_, _| 1.0).as_ref()).unwrap();
    let h0 = dir.join("h0.npy");
    nmf::io::write_npy(&h0, Mat::<f64>::from_fn(2, 5, |_, _| 1.0).as_ref()).unwrap();
    let model = dir.join("model");
    assert_ok(&run(&["fit", s(&good), "-k", "2", "-q", "-o", s(&model)]));
    let wrong_width = dir.join("wide.npy");
    nmf::io::write_npy(&wrong_width, data(3, 7, 0).as_ref()).unwrap();
    let missing = dir.join("does-not-exist.npy");
    let out = dir.join("out");
    let o = s(&out);

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["fit", s(&neg), "-k", "2", "-o", o], "negative"),
        (vec!["fit", s(&nan), "-k", "2", "-o", o], "NaN"),
        (vec!["fit", s(&inf), "-k", "2", "-o", o], "inf"),
        (
            vec![
                "fit",
                s(&zero),
                "-k",
                "2",
                "--solver",
                "mu",
                "--loss",
                "itakura-saito",
                "-o",
                o,
            ],
            "zero",
        ),
        (vec!["fit", s(&garbage), "-k", "2", "-o", o], "npy"),
        (vec!["fit", s(&truncated), "-k", "2", "-o", o], "truncated"),
        (vec!["fit", s(&ragged), "-k", "2", "-o", o], "line 2"),
        (vec!["fit", s(&text), "-k", "2", "-o", o], "line 2"),
        (vec!["fit", s(&empty), "-k", "2", "-o", o], ""),
        (
            vec!["fit", s(&mtx_oob), "-k", "1", "-o", o],
            "out of bounds",
        ),
        (vec!["fit", s(&mtx_neg), "-k", "1", "-o", o], "negative"),
        (vec!["fit", s(&unknown), "-k", "2", "-o", o], "format"),
        (vec!["fit", s(&missing), "-k", "2", "-o", o], "no such file"),
        (vec!["fit", s(&dir), "-k", "2", "-o", o], "folder"),
        (vec!["fit", s(&good), "-k", "0", "-o", o], "n_components"),
        (
            vec!["fit", s(&narrow), "-k", "3", "--init", "nndsvd", "-o", o],
            "n_components <= min",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--alpha-w", "-1", "-o", o],
            "alpha",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--l1-ratio", "2", "-o", o],
            "l1_ratio",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--tol", "nan", "-o", o],
            "tol",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--max-iter", "0", "-o", o],
            "max_iter",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--loss", "kl", "-o", o],
            "cd",
        ),
        (
            vec![
                "fit",
                s(&good),
                "-k",
                "2",
                "--compat",
                "sklearn",
                "--seed",
                "99999999999",
                "-o",
                o,
            ],
            "seed",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--h-sparseness", "0.5", "-o", o],
            "h_sparseness",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--max-time", "-3", "-o", o],
            "max-time",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--init", "custom", "-o", o],
            "--w0",
        ),
        (
            vec![
                "fit",
                s(&good),
                "-k",
                "2",
                "--init",
                "custom",
                "--w0",
                s(&w0_bad),
                "--h0",
                s(&h0),
                "-o",
                o,
            ],
            "--w0",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--weights", s(&neg), "-o", o],
            "weight",
        ),
        (
            vec!["fit", s(&good), "-k", "2", "--weights", s(&narrow), "-o", o],
            "weights",
        ),
        (
            vec![
                "fit",
                s(&good),
                "-k",
                "2",
                "--solver",
                "pg",
                "--weights",
                s(&good),
                "-o",
                o,
            ],
            "weights",
        ),
        (
            vec!["transform", "--model", s(&model), s(&wrong_width), "-o", o],
            "7 columns, expected 5",
        ),
        (
            vec!["transform", "--model", s(&model), s(&neg), "-o", o],
            "negative",
        ),
        (
            vec!["transform", "--model", s(&dir), s(&good), "-o", o],
            "model.json",
        ),
        (
            vec![
                "inverse-transform",
                "--model",
                s(&model),
                s(&wrong_width),
                "-o",
                o,
            ],
            "W",
        ),
        (
            vec!["inverse-transform", "--model", s(&model), s(&neg), "-o", o],
            "negative",
        ),
        (vec!["info", s(&garbage)], "npy"),
        (vec!["info", s(&missing)], "no such file"),
    ];
    for (args, needle) in &cases {
        let r = run(args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(
            r.status.code(),
            Some(1),
            "{args:?}: exit {:?}, stderr {err}",
            r.status.code()
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{args:?}: {err}"
        );
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line expected, got {err:?}");
        assert!(lines[0].starts_with("error: "), "{args:?}: {err}");
        assert!(
            lines[0].to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: {err:?} should mention {needle:?}"
        );
    }
    // --json also reports the failure on stdout.
    let r = run(&["fit", s(&neg), "-k", "2", "-o", o, "--json"]);
    let j: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert!(j["error"].as_str().unwrap().contains("negative"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_models_are_refused() {
    let dir = temp_dir("damaged");
    let xp = npy_with(&dir, "x.npy", 1.0);
    let model = dir.join("m");
    assert_ok(&run(&["fit", s(&xp), "-k", "2", "-q", "-o", s(&model)]));
    let transform = || {
        run(&[
            "transform",
            "--model",
            s(&model),
            s(&xp),
            "-o",
            s(&dir.join("w.npy")),
        ])
    };
    assert_ok(&transform());

    let h = model.join("H.npy");
    let original = std::fs::read(&h).unwrap();
    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    std::fs::write(&h, &flipped).unwrap();
    let r = transform();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("corrupted"));
    std::fs::write(&h, &original).unwrap();

    let json_path = model.join("model.json");
    let text = std::fs::read_to_string(&json_path).unwrap();
    std::fs::write(
        &json_path,
        text.replace("\"format_version\": 1", "\"format_version\": 7"),
    )
    .unwrap();
    let r = transform();
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("newer"),
        "{:?}",
        r
    );
    std::fs::write(&json_path, "{ truncated").unwrap();
    let r = transform();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not JSON"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2_and_generated_docs_work() {
    for args in [
        vec!["fit"],
        vec!["fit", "x.npy"],
        vec!["fit", "x.npy", "-k", "two"],
        vec!["fit", "x.npy", "-k", "2", "--solver", "svd"],
        vec!["fit", "x.npy", "-k", "2", "--w0", "a.npy"],
        vec!["frobnicate"],
    ] {
        let r = run(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {r:?}");
    }
    let r = run(&["--help"]);
    assert_ok(&r);
    assert!(String::from_utf8_lossy(&r.stdout).contains("grid-search"));
    let r = run(&["completions", "bash"]);
    assert_ok(&r);
    assert!(String::from_utf8_lossy(&r.stdout).contains("transform"));
    let r = run(&["man"]);
    assert_ok(&r);
    assert!(String::from_utf8_lossy(&r.stdout).contains(".TH nmf"));
    let dir = temp_dir("man");
    assert_ok(&run(&["man", "-o", s(&dir)]));
    assert!(dir.join("nmf-fit.1").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sparse_data_and_weights_through_the_command() {
    let dir = temp_dir("sparse");
    let x = SparseMat::<f64>::from_triplets(
        6,
        5,
        &[0u32, 0, 1, 2, 3, 3, 4, 5, 5, 2],
        &[0u32, 3, 1, 2, 0, 4, 1, 3, 2, 4],
        &[1.0, 2.0, 3.0, 1.5, 2.5, 1.0, 0.5, 2.0, 1.0, 3.0],
    )
    .unwrap();
    let xp = dir.join("x.npz");
    nmf::io::write_sparse(&xp, &x).unwrap();
    let out = dir.join("m");
    assert_ok(&run(&[
        "fit",
        s(&xp),
        "-k",
        "2",
        "--mask-zeros",
        "--init",
        "random",
        "--seed",
        "2",
        "-q",
        "-o",
        s(&out),
    ]));
    let model = NmfModel::<f64>::load(&out).unwrap();
    let lib = Nmf::params::<f64>(2)
        .mask_zeros(true)
        .init(Init::Random)
        .seed(2)
        .fit(&x)
        .unwrap();
    assert_eq!(model.h(), lib.h());
    // Imputation after loading sees the same observed pattern as before saving.
    assert_eq!(model.impute(&x).unwrap(), lib.impute(&x).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
