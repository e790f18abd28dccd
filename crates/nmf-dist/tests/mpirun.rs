//! The `nmf-dist` command under `mpirun` with 1, 2 and 4 ranks on every grid: the factors are
//! the same bits for every grid, equal to the single-process library's fit from the same start
//! to 1e-10 (f64), dense and sparse storage give the same bits, the bytes each rank sends per
//! iteration match the algorithm's formula, and a bad block stops every rank with one error.
//!
//! Without `mpirun` the tests pass with a message, except under `CI=true`, where `.ci/run`
//! installs OpenMPI and a missing launcher is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nmf::faer::Mat;
use nmf::io::{read_npy, write_npy, write_sparse};
use nmf::prelude::*;

const GRIDS: [(usize, usize); 6] = [(1, 1), (1, 2), (2, 1), (1, 4), (2, 2), (4, 1)];

fn mpirun() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("mpirun"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "mpirun not found: CI installs OpenMPI (.ci/run), so this is a failure there"
        );
        eprintln!("skipped: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)");
    }
    found
}

/// A scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmf-dist-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A deterministic pseudo-random stream in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A nonnegative `n x m` matrix of rank about `r` plus noise, with about `zeros` of its entries
/// exactly zero (so its sparse form stores the rest).
fn problem(n: usize, m: usize, r: usize, zeros: f64, seed: u64) -> Mat<f64> {
    let mut g = Lcg(seed);
    let a = Mat::from_fn(n, r, |_, _| g.next());
    let b = Mat::from_fn(r, m, |_, _| g.next());
    let mut x = &a * &b;
    for j in 0..m {
        for i in 0..n {
            x[(i, j)] = if g.next() < zeros {
                0.0
            } else {
                x[(i, j)] + 0.1 * g.next()
            };
        }
    }
    x
}

fn start(n: usize, m: usize, k: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let mut g = Lcg(seed);
    let w = Mat::from_fn(n, k, |_, _| 0.1 + g.next());
    let h = Mat::from_fn(k, m, |_, _| 0.1 + g.next());
    (w, h)
}

fn launch(np: usize, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = Command::new(mpirun().expect("checked by the caller"));
    cmd.args(["-np", &np.to_string(), "--oversubscribe"])
        .arg(env!("CARGO_BIN_EXE_nmf-dist"))
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        // Containers without ptrace: shared memory without single-copy.
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("mpirun starts");
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "mpirun {args:?} did not finish within {timeout:?} (a hang):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a fit and returns (W, H, report).
fn run_fit(
    np: usize,
    grid: (usize, usize),
    data: &Path,
    out: &Path,
    extra: &[&str],
) -> (Mat<f64>, Mat<f64>, serde_json::Value) {
    let g = format!("{}x{}", grid.0, grid.1);
    let mut args = vec![
        "fit",
        data.to_str().unwrap(),
        "--grid",
        &g,
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = launch(np, &args, Duration::from_secs(120));
    assert!(
        o.status.success(),
        "nmf-dist {args:?} on {np} ranks failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let w: Mat<f64> = read_npy(out.join("W.npy")).unwrap();
    let h: Mat<f64> = read_npy(out.join("H.npy")).unwrap();
    (w, h, report)
}

fn bits(a: &Mat<f64>) -> Vec<u64> {
    let mut v = Vec::new();
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            v.push(a[(i, j)].to_bits());
        }
    }
    v
}

fn rel_diff(a: nmf::faer::MatRef<'_, f64>, b: &Mat<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let (mut d, mut s) = (0.0f64, 0.0f64);
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            d = d.max((a[(i, j)] - b[(i, j)]).abs());
            s = s.max(a[(i, j)].abs());
        }
    }
    d / s
}

/// The single-process library's fit from the same start.
fn serial(
    x: &Mat<f64>,
    w0: &Mat<f64>,
    h0: &Mat<f64>,
    solver: SolverKind,
    loss: Loss,
    alpha: f64,
    iters: usize,
    tol: f64,
) -> NmfModel<f64> {
    Nmf::params(w0.ncols())
        .solver(solver)
        .loss(loss)
        .init(Init::Custom {
            w: w0.clone(),
            h: h0.clone(),
        })
        .alpha_w(alpha)
        .regularization(Regularization {
            alpha_w: alpha,
            alpha_h: AlphaH::Same,
            l1_ratio: 0.5,
        })
        .max_iter(iters)
        .tol(tol)
        .fit(x)
        .unwrap()
}

/// The bytes rank `r` must send in one iteration (tol = 0, so no loss traffic): two
/// all-gathers of the pieces' Gram, sums and 3 scalars (f64) to the p − 1 others, its H piece
/// to the pr − 1 others of its processor column, its W piece to the pc − 1 others of its
/// row, and the other ranks' slices of its `X·Hᵀ` (rows) and `Wᵀ·X` (columns) partials.
fn formula_bytes(report: &serde_json::Value, r: usize, word: u64) -> u64 {
    let g = report["grid"].as_array().unwrap();
    let (pr, pc) = (g[0].as_u64().unwrap(), g[1].as_u64().unwrap());
    let k = report["n_components"].as_u64().unwrap();
    let p = pr * pc;
    let ranks = report["ranks"].as_array().unwrap();
    let span = |r: usize, key: &str| {
        let v = ranks[r][key].as_array().unwrap();
        v[1].as_u64().unwrap() - v[0].as_u64().unwrap()
    };
    let (i, j) = (r as u64 / pc, r as u64 % pc);
    let n_own = span(r, "w_rows");
    let m_own = span(r, "h_cols");
    let n_i: u64 = (0..pc)
        .map(|jj| span((i * pc + jj) as usize, "w_rows"))
        .sum();
    let m_j: u64 = (0..pr)
        .map(|ii| span((ii * pc + j) as usize, "h_cols"))
        .sum();
    2 * (k * k + k + 3) * 8 * (p - 1)
        + m_own * k * word * (pr - 1)
        + n_own * k * word * (pc - 1)
        + (n_i - n_own) * k * word
        + (m_j - m_own) * k * word
}

fn measured_bytes(report: &serde_json::Value, r: usize) -> u64 {
    report["ranks"][r]["bytes_last_iteration"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

#[test]
fn every_grid_gives_the_same_bits_and_the_serial_fit() {
    if mpirun().is_none() {
        return;
    }
    let dir = scratch("grids");
    let (n, m, k) = (70, 52, 4);
    let x = problem(n, m, 5, 0.6, 7);
    let (w0, h0) = start(n, m, k, 11);
    let dense = dir.join("X.npy");
    let sparse = dir.join("X.npz");
    write_npy(&dense, x.as_ref()).unwrap();
    write_sparse(&sparse, &SparseMat::from_dense(x.as_ref()).unwrap()).unwrap();
    let (w0p, h0p) = (dir.join("W0.npy"), dir.join("H0.npy"));
    write_npy(&w0p, w0.as_ref()).unwrap();
    write_npy(&h0p, h0.as_ref()).unwrap();
    let iters = 25;
    let it = iters.to_string();
    for (solver, loss, sname, lname, alpha) in [
        (SolverKind::Cd, Loss::Frobenius, "cd", "frobenius", 0.0),
        (SolverKind::Cd, Loss::Frobenius, "cd", "frobenius", 0.02),
        (SolverKind::Mu, Loss::Frobenius, "mu", "frobenius", 0.0),
        (SolverKind::Mu, Loss::KullbackLeibler, "mu", "kl", 0.01),
    ] {
        let reference = serial(&x, &w0, &h0, solver, loss, alpha, iters, 0.0);
        let a = alpha.to_string();
        let args = [
            "-k",
            "4",
            "--solver",
            sname,
            "--loss",
            lname,
            "--max-iter",
            &it,
            "--tol",
            "0",
            "--alpha-w",
            &a,
            "--l1-ratio",
            "0.5",
            "--init",
            "custom",
            "--w0",
            w0p.to_str().unwrap(),
            "--h0",
            h0p.to_str().unwrap(),
        ];
        let mut first: Option<(Vec<u64>, Vec<u64>)> = None;
        for (storage, data) in [("dense", &dense), ("sparse", &sparse)] {
            for grid in GRIDS {
                let np = grid.0 * grid.1;
                let out = dir.join(format!(
                    "{sname}-{lname}-{alpha}-{storage}-{}x{}",
                    grid.0, grid.1
                ));
                let (w, h, report) = run_fit(np, grid, data, &out, &args);
                let what = format!("{sname}/{lname} alpha {alpha} {storage} grid {grid:?}");
                assert_eq!(report["n_iter"].as_u64(), Some(iters as u64), "{what}");
                let dw = rel_diff(reference.w(), &w);
                let dh = rel_diff(reference.h(), &h);
                eprintln!("{what}: relative difference to the serial fit W {dw:.2e}, H {dh:.2e}");
                assert!(
                    dw <= 1e-10 && dh <= 1e-10,
                    "{what}: W {dw:e}, H {dh:e} from the serial fit"
                );
                let e_ref = reference.report().reconstruction_err;
                let e = report["reconstruction_err"].as_f64().unwrap();
                assert!(
                    (e - e_ref).abs() <= 1e-9 * e_ref,
                    "{what}: error {e} vs {e_ref}"
                );
                match &first {
                    None => first = Some((bits(&w), bits(&h))),
                    Some((bw, bh)) => {
                        assert!(
                            bw == &bits(&w) && bh == &bits(&h),
                            "{what}: not the bits of the 1x1 dense run"
                        );
                    }
                }
                for r in 0..np {
                    assert_eq!(
                        measured_bytes(&report, r),
                        formula_bytes(&report, r, 8),
                        "{what}: rank {r}'s bytes in one iteration"
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stopping_rules_and_random_start_match_the_serial_fit() {
    if mpirun().is_none() {
        return;
    }
    let dir = scratch("stop");
    let (n, m, k) = (64, 80, 3);
    let x = problem(n, m, 3, 0.3, 3);
    let data = dir.join("X.npy");
    write_npy(&data, x.as_ref()).unwrap();
    for (solver, loss, sname, lname) in [
        (SolverKind::Cd, Loss::Frobenius, "cd", "frobenius"),
        (SolverKind::Mu, Loss::Frobenius, "mu", "frobenius"),
        (SolverKind::Mu, Loss::KullbackLeibler, "mu", "kl"),
    ] {
        let reference = Nmf::params::<f64>(k)
            .solver(solver)
            .loss(loss)
            .init(Init::Random)
            .seed(5)
            .compat(Compat::Sklearn)
            .max_iter(400)
            .tol(1e-4)
            .fit(&x)
            .unwrap();
        let mut iters = Vec::new();
        for grid in [(1, 1), (2, 2), (4, 1)] {
            let out = dir.join(format!("{sname}-{lname}-{}x{}", grid.0, grid.1));
            let (w, h, report) = run_fit(
                grid.0 * grid.1,
                grid,
                &data,
                &out,
                &[
                    "-k",
                    "3",
                    "--solver",
                    sname,
                    "--loss",
                    lname,
                    "--max-iter",
                    "400",
                    "--tol",
                    "1e-4",
                    "--seed",
                    "5",
                    "--compat",
                    "sklearn",
                ],
            );
            let what = format!("{sname}/{lname} grid {grid:?}");
            let ni = report["n_iter"].as_u64().unwrap() as usize;
            assert_eq!(ni, reference.report().n_iter, "{what}: iterations");
            assert_eq!(report["stop"].as_str(), Some("Converged"), "{what}");
            let (dw, dh) = (rel_diff(reference.w(), &w), rel_diff(reference.h(), &h));
            eprintln!("{what}: {ni} iterations, W {dw:.2e}, H {dh:.2e} from the serial fit");
            assert!(dw <= 1e-9 && dh <= 1e-9, "{what}: W {dw:e}, H {dh:e}");
            iters.push(ni);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn float32_runs_agree_across_grids() {
    if mpirun().is_none() {
        return;
    }
    let dir = scratch("f32");
    let (n, m, k) = (66, 40, 3);
    let x = problem(n, m, 3, 0.0, 9);
    let x32 = Mat::<f32>::from_fn(n, m, |i, j| x[(i, j)] as f32);
    let data = dir.join("X32.npy");
    write_npy(&data, x32.as_ref()).unwrap();
    let mut first = None;
    for grid in GRIDS {
        let g = format!("{}x{}", grid.0, grid.1);
        let out = dir.join(&g);
        let o = launch(
            grid.0 * grid.1,
            &[
                "fit",
                data.to_str().unwrap(),
                "-k",
                "3",
                "--grid",
                &g,
                "-o",
                out.to_str().unwrap(),
                "--max-iter",
                "30",
                "--tol",
                "0",
                "--quiet",
            ],
            Duration::from_secs(120),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let w: Mat<f32> = read_npy(out.join("W.npy")).unwrap();
        let h: Mat<f32> = read_npy(out.join("H.npy")).unwrap();
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["dtype"], "float32");
        for r in 0..grid.0 * grid.1 {
            assert_eq!(
                measured_bytes(&report, r),
                formula_bytes(&report, r, 4),
                "f32 grid {g} rank {r}"
            );
        }
        let b: Vec<u32> = w
            .col_iter()
            .chain(h.col_iter())
            .flat_map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect();
        match &first {
            None => first = Some(b),
            Some(f) => assert!(f == &b, "f32 grid {g}: not the bits of the 1x1 run"),
        }
    }
    assert!(k > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One `.npy` member: a 1-D array of `descr` elements, or a 0-d one when `shape` is `()`.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// `x`'s nonzero entries (NaN and negative ones included, which `SparseMat` refuses) as SciPy's
/// CSR `.npz`.
fn write_raw_csr(path: &Path, x: &Mat<f64>) {
    let (mut ptr, mut idx, mut val) = (vec![0i32], Vec::new(), Vec::new());
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            if v != 0.0 {
                idx.extend_from_slice(&(j as i32).to_le_bytes());
                val.extend_from_slice(&v.to_le_bytes());
            }
        }
        ptr.push((val.len() / 8) as i32);
    }
    let ptr: Vec<u8> = ptr.iter().flat_map(|p| p.to_le_bytes()).collect();
    let shape: Vec<u8> = [x.nrows() as i64, x.ncols() as i64]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let file = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(file);
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    use std::io::Write;
    for (name, bytes) in [
        (
            "indices.npy",
            npy("<i4", &format!("({},)", idx.len() / 4), &idx),
        ),
        (
            "indptr.npy",
            npy("<i4", &format!("({},)", ptr.len() / 4), &ptr),
        ),
        ("format.npy", npy("|S3", "()", b"csr")),
        ("shape.npy", npy("<i8", "(2,)", &shape)),
        (
            "data.npy",
            npy("<f8", &format!("({},)", val.len() / 8), &val),
        ),
    ] {
        z.start_file(name, opts).unwrap();
        z.write_all(&bytes).unwrap();
    }
    z.finish().unwrap();
}

/// Runs a failing command and checks that every rank printed the same error naming `needle`.
fn all_ranks_fail_alike(np: usize, args: &[&str], needle: &str) {
    let t = Instant::now();
    let o = launch(np, args, Duration::from_secs(60));
    assert!(!o.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("nmf-dist: error [rank "))
        .collect();
    assert_eq!(lines.len(), np, "every rank reports the error:\n{err}");
    let msg = |l: &str| l.split_once("]: ").map(|(_, m)| m.to_string()).unwrap();
    let first = msg(lines[0]);
    for l in &lines {
        assert_eq!(msg(l), first, "ranks disagree:\n{err}");
    }
    assert!(
        first.contains(needle),
        "{first:?} should mention {needle:?}"
    );
    eprintln!(
        "{np} ranks stopped in {:.2} s with: {first}",
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn a_bad_block_stops_every_rank_with_one_error() {
    if mpirun().is_none() {
        return;
    }
    let dir = scratch("faults");
    let (n, m) = (64, 64);
    let mut x = problem(n, m, 3, 0.2, 1);
    // In the block of rank 3 (processor (1, 1)) of a 2x2 grid only.
    x[(50, 60)] = f64::NAN;
    let data = dir.join("X.npy");
    write_npy(&data, x.as_ref()).unwrap();
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    all_ranks_fail_alike(
        4,
        &[
            "fit",
            data.to_str().unwrap(),
            "-k",
            "2",
            "--grid",
            "2x2",
            "-o",
            o,
        ],
        "X[50, 60] is NaN",
    );
    // A negative entry in a sparse file.
    x[(50, 60)] = -1.0;
    let sp = dir.join("X.npz");
    write_raw_csr(&sp, &x);
    all_ranks_fail_alike(
        4,
        &[
            "fit",
            sp.to_str().unwrap(),
            "-k",
            "2",
            "--grid",
            "4x1",
            "-o",
            o,
        ],
        "negative value -1 at row 50, column 60",
    );
    // An unreadable file, a grid that does not fit the ranks, a truncated file.
    let missing = dir.join("missing.npy");
    all_ranks_fail_alike(
        2,
        &["fit", missing.to_str().unwrap(), "-k", "2", "-o", o],
        "missing.npy",
    );
    all_ranks_fail_alike(
        4,
        &[
            "fit",
            data.to_str().unwrap(),
            "-k",
            "2",
            "--grid",
            "3x1",
            "-o",
            o,
        ],
        "needs 3 ranks",
    );
    let bytes = std::fs::read(&data).unwrap();
    let cut = dir.join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    all_ranks_fail_alike(
        2,
        &["fit", cut.to_str().unwrap(), "-k", "2", "-o", o],
        "cut.npy",
    );
    // An output folder that cannot be made (under a regular file): rank 0 alone sees it.
    let under_file = data.join("out");
    all_ranks_fail_alike(
        2,
        &[
            "fit",
            data.to_str().unwrap(),
            "-k",
            "2",
            "-o",
            under_file.to_str().unwrap(),
        ],
        "creating",
    );
    // A custom start of the wrong shape.
    let w0 = dir.join("W0.npy");
    write_npy(&w0, Mat::<f64>::from_fn(n + 1, 2, |_, _| 1.0).as_ref()).unwrap();
    let h0 = dir.join("H0.npy");
    write_npy(&h0, Mat::<f64>::from_fn(2, m, |_, _| 1.0).as_ref()).unwrap();
    x[(50, 60)] = 1.0;
    write_npy(&data, x.as_ref()).unwrap();
    all_ranks_fail_alike(
        2,
        &[
            "fit",
            data.to_str().unwrap(),
            "-k",
            "2",
            "-o",
            o,
            "--init",
            "custom",
            "--w0",
            w0.to_str().unwrap(),
            "--h0",
            h0.to_str().unwrap(),
        ],
        "W0 is (65, 2), expected (64, 2)",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nndsvd_starts_are_the_same_on_every_grid_and_match_the_serial_one() {
    if mpirun().is_none() {
        return;
    }
    let dir = scratch("nndsvd");
    let (n, m, k) = (72, 64, 4);
    // Exactly rank 4 with well-separated singular values: the randomized SVD recovers the
    // exact singular vectors, so the start is the serial NNDSVD's up to rounding.
    let mut g = Lcg(21);
    let a = Mat::from_fn(n, k, |_, t| g.next() * (4 - t) as f64);
    let b = Mat::from_fn(k, m, |t, _| g.next() * (4 - t) as f64);
    let x = &a * &b;
    let data = dir.join("X.npy");
    write_npy(&data, x.as_ref()).unwrap();
    for (init, serial_init) in [("nndsvd", Init::Nndsvd), ("nndsvda", Init::NndsvdA)] {
        let reference = nmf::init::initialize(
            x.as_ref(),
            k,
            &serial_init,
            0,
            Compat::Native,
            nmf::faer::Par::Seq,
        )
        .unwrap();
        let mut first = None;
        for grid in [(1, 1), (1, 2), (2, 2), (4, 1)] {
            let out = dir.join(format!("{init}-{}x{}", grid.0, grid.1));
            let (w, h, report) = run_fit(
                grid.0 * grid.1,
                grid,
                &data,
                &out,
                &["-k", "4", "--init", init, "--max-iter", "0", "--seed", "3"],
            );
            assert_eq!(report["n_iter"].as_u64(), Some(0));
            let what = format!("{init} grid {grid:?}");
            let (dw, dh) = (
                rel_diff(reference.w.as_ref(), &w),
                rel_diff(reference.h.as_ref(), &h),
            );
            eprintln!("{what}: start within W {dw:.2e}, H {dh:.2e} of the serial one");
            assert!(dw <= 1e-9 && dh <= 1e-9, "{what}: W {dw:e}, H {dh:e}");
            let b = (bits(&w), bits(&h));
            match &first {
                None => first = Some(b),
                Some(f) => assert!(f == &b, "{what}: not the bits of the 1x1 start"),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
