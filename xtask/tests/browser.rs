//! The grid-search report in a real browser: headless Chromium opens `report.html`, and every
//! image and chart must load, the console must stay silent, the page must fit a phone's width
//! without sideways scrolling, and its screenshot must show charts and images, not a blank page.
//!
//! Chromium is the Debian package `chromium` (`.ci/run` installs it). Without it the test fails
//! under CI (`CI=true`) and elsewhere says that it skipped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmf-browser-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The browser: `$CHROMIUM`, or the first of the usual names that runs.
fn chromium() -> Option<String> {
    let names = std::env::var("CHROMIUM").into_iter().chain(
        [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .map(String::from),
    );
    for name in names {
        let ok = Command::new(&name)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(name);
        }
    }
    None
}

/// What a browser run left: its exit status, stdout and stderr.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end, or kills it after `limit` (a wedged browser must not hang CI). Its
/// output goes to files under `logs`: the dumped page outgrows a pipe that nobody reads yet.
fn run_with_limit(mut cmd: Command, logs: &Path, limit: Duration) -> Run {
    std::fs::create_dir_all(logs).unwrap();
    let (out, err) = (logs.join("stdout"), logs.join("stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("starting the browser");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for the browser") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser ran longer than {limit:?}: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Run {
        ok: status.success(),
        stdout: read(&out),
        stderr: read(&err),
    }
}

/// Headless Chromium on `page` at `width x height`, its profile and logs in `work`, plus
/// `extra`.
fn browse(browser: &str, work: &Path, page: &Path, (w, h): (u32, u32), extra: &[&str]) -> Run {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        // Lets the page's load handlers finish before the DOM is dumped.
        "--virtual-time-budget=10000",
    ])
    .arg(format!(
        "--user-data-dir={}",
        work.join("profile").display()
    ))
    .arg(format!("--window-size={w},{h}"))
    .args(extra)
    .arg(format!("file://{}", page.display()));
    let o = run_with_limit(c, work, Duration::from_secs(120));
    assert!(o.ok, "chromium failed: {}", o.stderr);
    o
}

/// The console messages Chromium logged for the page (`--enable-logging=stderr`).
fn console(o: &Run) -> Vec<String> {
    o.stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect()
}

/// Injected into a copy of the page (the report itself stays script-free but for its table
/// sorter): records resource and script errors from the first moment, then on `load` checks
/// every image, every chart and the page width, and leaves the verdict as JSON in the DOM.
const PROBE: &str = r#"<script>
window.nmfFailures = [];
addEventListener('error', e => {
  const t = e.target;
  nmfFailures.push(t && t !== window ? 'resource ' + (t.currentSrc || t.src || t.href || t.tagName) : 'script ' + e.message);
}, true);
addEventListener('load', () => {
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => 'image ' + i.getAttribute('src'));
  const charts = [...document.querySelectorAll('svg')];
  const empty = charts.filter(s => { const r = s.getBoundingClientRect(); return !(r.width > 100 && r.height > 100) || s.querySelectorAll('text').length < 4; }).map(s => 'chart ' + s.getAttribute('aria-label'));
  const verdict = {
    images: images.length, charts: charts.length,
    failures: nmfFailures.concat(broken, empty),
    width: innerWidth, scrollWidth: document.documentElement.scrollWidth,
    // What sticks out on the right, outside the scrolling boxes meant for wide tables.
    wide: [...document.querySelectorAll('body *')]
      .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.scroll') && !(e.closest('svg') && e.tagName !== 'svg'))
      .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)),
  };
  if (parent !== window) {
    parent.postMessage(JSON.stringify(verdict), '*');
    return;
  }
  const out = document.createElement('script');
  out.type = 'application/json';
  out.id = 'nmf-verdict';
  out.textContent = JSON.stringify(verdict);
  document.body.appendChild(out);
});
</script>"#;

/// A phone's screen (375 CSS px) for the probed page: headless Chromium's window is at least
/// 500 px wide, a frame can be narrower. The probe inside posts its verdict up to here.
const PHONE: &str = r#"<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe src="probed.html" style="width:375px;height:812px;border:0"></iframe>
<script>
addEventListener('message', e => {
  const out = document.createElement('script');
  out.type = 'application/json';
  out.id = 'nmf-verdict';
  out.textContent = e.data;
  document.body.appendChild(out);
});
</script></body></html>"#;

/// The probe's verdict from a `--dump-dom` output.
fn verdict(o: &Run) -> serde_json::Value {
    let dom = &o.stdout;
    let open = "<script type=\"application/json\" id=\"nmf-verdict\">";
    let at = dom
        .find(open)
        .unwrap_or_else(|| panic!("no verdict in the dumped page (did load fire?):\n{dom}"))
        + open.len();
    let end = at + dom[at..].find("</script>").expect("verdict end");
    serde_json::from_str(&dom[at..end]).expect("verdict is JSON")
}

#[test]
fn the_report_loads_cleanly_in_headless_chromium() {
    let Some(browser) = chromium() else {
        if under_ci() {
            panic!("chromium is missing under CI (.ci/run installs the Debian package `chromium`)");
        }
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no chromium found (apt-get install chromium, or set CHROMIUM)"
        );
        return;
    };
    let dir = tmp("report");
    let out = dir.join("grid");
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::null())
        .args([
            "grid-search",
            "--alpha-w",
            "0,0.1,0.3,1",
            "--l1-ratio",
            "0,0.5,1",
            "--max-iter",
            "80",
            "--threads",
            "2",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("xtask runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();

    // The page itself: a silent console, and a screenshot with something on it.
    let shot = dir.join("report.png");
    let o = browse(
        &browser,
        &dir.join("shot"),
        &page,
        (1280, 2000),
        &[&format!("--screenshot={}", shot.display())],
    );
    assert_eq!(console(&o), Vec::<String>::new(), "console messages");
    let img = image::open(&shot)
        .expect("the screenshot decodes")
        .to_rgb8();
    assert_eq!(img.dimensions(), (1280, 2000));
    let pixels = img.pixels().count() as f64;
    let inked = img
        .pixels()
        .filter(|p| p.0.iter().any(|&c| c < 200))
        .count() as f64;
    let coloured = img
        .pixels()
        .filter(|p| {
            let (lo, hi) = (p.0.iter().min().unwrap(), p.0.iter().max().unwrap());
            hi - lo > 60
        })
        .count() as f64;
    eprintln!(
        "screenshot: {:.1}% inked, {:.1}% coloured",
        100.0 * inked / pixels,
        100.0 * coloured / pixels
    );
    assert!(inked / pixels > 0.03, "the screenshot is nearly blank");
    assert!(
        coloured / pixels > 0.01,
        "no coloured charts in the first screen"
    );

    // A probed copy beside it (same folder, so the same relative links), on a desktop and in a
    // phone-sized frame: every resource loads, every chart has a size and text, and nothing
    // scrolls sideways.
    let probed = out.join("probed.html");
    std::fs::write(
        &probed,
        html.replacen("<head>", &format!("<head>{PROBE}"), 1),
    )
    .unwrap();
    let phone = out.join("phone.html");
    std::fs::write(&phone, PHONE).unwrap();
    for (name, page, width) in [("desktop", &probed, 1280), ("phone", &phone, 375)] {
        let o = browse(
            &browser,
            &dir.join(name),
            page,
            (1280, 900),
            &["--dump-dom"],
        );
        let v = verdict(&o);
        eprintln!("{name}: {v}");
        assert_eq!(v["failures"], serde_json::json!([]), "{name}: {v}");
        // 17 tiles per gallery (swimmer has 17 parts), at least the unregularised one.
        assert!(v["images"].as_u64().unwrap() >= 17, "{name}: {v}");
        // Two heatmaps per solver, the scatter, the histogram and the trace.
        assert!(v["charts"].as_u64().unwrap() >= 7, "{name}: {v}");
        assert_eq!(v["width"], width, "{name}: {v}");
        assert!(
            v["scrollWidth"].as_u64() <= v["width"].as_u64(),
            "{name}: the page scrolls sideways: {v}"
        );
        assert_eq!(
            console(&o),
            Vec::<String>::new(),
            "{name}: console messages"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
