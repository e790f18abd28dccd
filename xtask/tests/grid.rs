//! The main job end to end: files, interrupt and resume, and bad arguments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    c.stdin(Stdio::null());
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmf-grid-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(args: &[&str]) -> Output {
    xtask().args(args).output().expect("xtask runs")
}

/// Rows of results.csv keyed by point, without the timing column (read by column name).
fn rows(dir: &Path) -> BTreeMap<String, String> {
    let mut csv = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let key_cols = [
        "solver",
        "alpha_w",
        "alpha_h",
        "l1_ratio",
        "h_sparseness_target",
    ]
    .map(col);
    let seconds = col("seconds");
    let mut out = BTreeMap::new();
    for record in csv.records() {
        let record = record.expect("torn or malformed row");
        let key: Vec<&str> = key_cols.iter().map(|&i| &record[i]).collect();
        let key = key.join("|");
        let value: Vec<&str> = (0..record.len())
            .filter(|&i| i != seconds)
            .map(|i| &record[i])
            .collect();
        assert!(
            out.insert(key.clone(), value.join(",")).is_none(),
            "duplicate row for {key}"
        );
    }
    out
}

#[test]
fn tiny_grid_writes_every_file() {
    let out = tmp("tiny");
    let o = run(&[
        "grid-search",
        "--alpha-w",
        "0,0.1",
        "--l1-ratio",
        "0,0.5",
        "--solver",
        "cd,mu,pg",
        "--pg-sparseness",
        "0.6",
        "--max-iter",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(rows(&out).len(), 2 * 4 + 1);
    for f in [
        "results.csv",
        "summary.json",
        "grid.json",
        "report.html",
        "pareto.svg",
        "histogram.svg",
        "trace.svg",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // Heatmaps are SVG charts whose text the browser draws: titles, ticks, a colour bar, and
    // one hover value per cell of the 2 x 2 grid.
    for name in ["heatmap_sparseness_cd.svg", "heatmap_error_mu.svg"] {
        let svg = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        for text in [">\nalpha_W\n<", ">\nl1_ratio\n<", ">\n0.5\n<"] {
            assert!(svg.contains(text), "{name} lacks {text:?}");
        }
        assert_eq!(svg.matches("<title>").count(), 4, "{name}");
    }
    // Basis images: one 32 x 32 PNG per swimmer component (17), captioned in the page.
    let tiles: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("basis_unregularised_") && n.ends_with(".png"))
        .collect();
    assert_eq!(tiles.len(), 17, "{tiles:?}");
    for t in &tiles {
        let img = image::open(out.join(t)).unwrap();
        assert_eq!((img.width(), img.height()), (32, 32), "{t}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["points"], 9);
    assert_eq!(summary["config"]["dataset"], "swimmer");
    assert!(summary["config"]["dataset_sha256"].as_str().unwrap().len() == 64);
    // Every file the report links to exists.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let mut n = 0;
    for part in html
        .split("src=\"")
        .skip(1)
        .chain(html.split("href=\"").skip(1))
    {
        let target = &part[..part.find('"').unwrap()];
        if target.starts_with('#') {
            continue;
        }
        assert!(
            out.join(target).exists(),
            "report.html links to missing {target}"
        );
        n += 1;
    }
    assert!(n >= 17 + 7, "only {n} links");
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<h3>Basis images: unregularised</h3>"));
    assert!(
        html.contains("<figcaption>#0 · "),
        "tiles captioned in the page"
    );
    // The summary names the best settings and the scikit-learn call to paste.
    assert!(html.contains("<dt>Best settings</dt>"));
    assert!(html.contains("<dt>scikit-learn</dt>"));
    // A second run into the same folder without --resume is refused.
    let o = run(&[
        "grid-search",
        "--alpha-w",
        "0",
        "--l1-ratio",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    // With --resume but another configuration: refused, not mixed.
    let o = run(&[
        "grid-search",
        "--alpha-w",
        "0,0.1",
        "--l1-ratio",
        "0,0.5",
        "--max-iter",
        "21",
        "--resume",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("different configuration"));
}

#[test]
fn a_file_name_is_escaped_in_the_page() {
    let dir = tmp("odd-name");
    std::fs::create_dir_all(&dir).unwrap();
    // A file name a browser would otherwise read as markup.
    let data = dir.join("a<b>&\"c\".npy");
    let x = faer::Mat::<f32>::from_fn(30, 12, |i, j| ((i * 7 + j * 3) % 11) as f32 + 0.5);
    nmf::io::write_npy(&data, x.as_ref()).unwrap();
    let out = dir.join("out");
    let o = run(&[
        "grid-search",
        "--dataset",
        data.to_str().unwrap(),
        "-k",
        "3",
        "--alpha-w",
        "0,0.1",
        "--l1-ratio",
        "0,1",
        "--max-iter",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Grid search: a&lt;b&gt;&amp;&quot;c&quot; (30 x 12), k = 3"),
        "{html}"
    );
    assert!(!html.contains("a<b>"), "raw file name in the page");
}

#[test]
fn killed_run_resumes_to_the_same_rows() {
    let args = [
        "grid-search",
        "--alpha-w",
        "0:0.6:0.1",
        "--l1-ratio",
        "0:1:0.25",
        "--max-iter",
        "300",
        "--tol",
        "0",
        "--threads",
        "2",
    ];
    let full = tmp("full");
    let o = run(&[&args[..], &["--out", full.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = rows(&full);
    assert_eq!(reference.len(), 2 * 7 * 5);

    let out = tmp("killed");
    let mut kills = 0;
    // Kill at a few different moments, resuming each time, then finish.
    for wait_rows in [3usize, 20, 45] {
        let mut resume: Vec<&str> = args.to_vec();
        resume.extend(["--out", out.to_str().unwrap()]);
        if out.join("results.csv").exists() {
            resume.push("--resume");
        }
        let mut child = xtask()
            .args(&resume)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        loop {
            let n = std::fs::read_to_string(out.join("results.csv"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if n > wait_rows || start.elapsed() > Duration::from_secs(120) {
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    let o = run(&[&args[..], &["--out", out.to_str().unwrap(), "--resume"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(kills >= 1, "the run finished before it could be killed");
    assert_eq!(
        rows(&out),
        reference,
        "resumed rows differ from an uninterrupted run"
    );
}

#[test]
fn bad_arguments_fail_with_one_line() {
    let garbage = tmp("garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    let bad_file = garbage.join("bad.npy");
    std::fs::write(&bad_file, b"not an npy file").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--alpha-w", "-1"],
        vec!["--l1-ratio", "0:2:0.5"],
        vec!["--l1-ratio", "1.5"],
        vec!["--alpha-h", "lots"],
        vec!["--dataset", "nope"],
        vec!["--dataset", "/definitely/missing.npy"],
        vec!["--dataset", bad_file.to_str().unwrap()],
        vec!["--solver", "xx"],
        vec!["--loss", "kl"],
        vec!["--max-iter", "0"],
        vec!["--init", "magic"],
        vec!["-k", "5000"],
    ];
    for c in cases {
        let out = tmp("bad");
        let o = run(&[&["grid-search", "--out", out.to_str().unwrap()], &c[..]].concat());
        assert!(!o.status.success(), "{c:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty() && lines.len() <= 3, "{c:?}: {err}");
        assert!(!out.join("results.csv").exists(), "{c:?} started work");
    }
}
