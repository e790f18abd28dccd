//! `rank-select --cv FRACTION`: the cross-validation curve (`nmf::cv`), printed, written row by
//! row to `rank_cv.csv` (one line per k and replicate, so an interruption loses nothing) and
//! drawn as `rank_cv.svg` (train and test error against k, with ±1 std bars).

use std::path::Path;

use anyhow::{Context, Result};
use nmf::cv::{CvOptions, CvRow, best_k, cross_validate};
use nmf::prelude::*;

/// Runs the cross-validation for `ks` on `x` and writes its files into `out`.
pub fn run(
    x: DataRef<'_, f32>,
    ks: &[usize],
    template: &nmf::NmfParams<f32>,
    opts: &CvOptions,
    out: &Path,
) -> Result<Vec<CvRow>> {
    let csv_path = out.join("rank_cv.csv");
    let mut csv = csv::Writer::from_path(&csv_path)
        .with_context(|| format!("creating {}", csv_path.display()))?;
    csv.write_record(["k", "replicate", "held_out", "train_error", "test_error"])?;
    println!(
        "cross-validation: {:.1}% of the entries held out, {} replicates, seed {}",
        100.0 * opts.fraction,
        opts.replicates,
        opts.seed
    );
    println!(
        "{:>4} {:>12} {:>10} {:>12} {:>10} {:>8}",
        "k", "test", "test_std", "train", "train_std", "seconds"
    );
    let mut failure = None;
    let rows = cross_validate(x, ks, template, opts, |r| {
        println!(
            "{:>4} {:>12.6} {:>10.6} {:>12.6} {:>10.6} {:>8.1}",
            r.k, r.test_mean, r.test_std, r.train_mean, r.train_std, r.seconds
        );
        let mut write = || -> Result<()> {
            for (rep, (te, tr)) in r.test.iter().zip(&r.train).enumerate() {
                csv.write_record([
                    r.k.to_string(),
                    rep.to_string(),
                    r.held_out.to_string(),
                    format!("{tr:e}"),
                    format!("{te:e}"),
                ])?;
            }
            csv.flush()?;
            Ok(())
        };
        if let Err(e) = write() {
            failure.get_or_insert(e);
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some((best, one_se)) = best_k(&rows) {
        println!("lowest test error at k = {best}; smallest k within one standard error: {one_se}");
    }
    let svg = out.join("rank_cv.svg");
    std::fs::write(&svg, curve_svg(&rows)).with_context(|| format!("writing {}", svg.display()))?;
    println!("wrote {} and {}", csv_path.display(), svg.display());
    Ok(rows)
}

/// Escapes text for SVG/XML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Train and test error against k as a standalone SVG: axes with ticks and titles, one line
/// per curve with ±1 std bars, the best k marked. Text is SVG text (the viewer draws it).
pub fn curve_svg(rows: &[CvRow]) -> String {
    let (w, h) = (640.0, 400.0);
    let (l, r, t, b) = (80.0, 20.0, 40.0, 60.0);
    let ks: Vec<f64> = rows.iter().map(|r| r.k as f64).collect();
    let (kmin, kmax) = ks
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), &k| {
            (a.min(k), z.max(k))
        });
    let vals = rows.iter().flat_map(|r| {
        [
            r.test_mean + r.test_std,
            (r.test_mean - r.test_std).max(0.0),
            r.train_mean + r.train_std,
            (r.train_mean - r.train_std).max(0.0),
        ]
    });
    let (ymin, ymax) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), v| {
        (a.min(v), z.max(v))
    });
    let (ymin, ymax) = if ymax > ymin {
        (ymin, ymax)
    } else {
        (ymin - 1.0, ymin + 1.0)
    };
    let pad = 0.05 * (ymax - ymin);
    let (ymin, ymax) = ((ymin - pad).max(0.0), ymax + pad);
    let span_k = if kmax > kmin { kmax - kmin } else { 1.0 };
    let px = |k: f64| l + (k - kmin) / span_k * (w - l - r);
    let py = |v: f64| t + (ymax - v) / (ymax - ymin) * (h - t - b);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    s += &format!(
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Cross-validated error against k</text>\n",
        w / 2.0
    );
    // Axes, ticks and titles.
    s += &format!(
        "<line x1=\"{l}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n",
        h - b,
        w - r,
        h - b
    );
    s += &format!(
        "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{}\" stroke=\"black\"/>\n",
        h - b
    );
    for &k in &ks {
        s += &format!(
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/><text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
            px(k),
            h - b,
            h - b + 5.0,
            h - b + 18.0,
            k
        );
    }
    for q in 0..=5 {
        let v = ymin + (ymax - ymin) * q as f64 / 5.0;
        s += &format!(
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/><text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
            l,
            py(v),
            w - r,
            l - 6.0,
            py(v) + 4.0,
            esc(&format!("{v:.4}"))
        );
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">number of components k</text>\n",
        (l + w - r) / 2.0,
        h - 15.0
    );
    s += &format!(
        "<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">error per entry (mean over replicates)</text>\n",
        (t + h - b) / 2.0
    );
    for (name, colour, get) in [
        (
            "test (held-out entries)",
            "#d62728",
            (|r: &CvRow| (r.test_mean, r.test_std)) as fn(&CvRow) -> (f64, f64),
        ),
        ("train (observed entries)", "#1f77b4", |r: &CvRow| {
            (r.train_mean, r.train_std)
        }),
    ] {
        let pts: Vec<String> = rows
            .iter()
            .map(|r| format!("{:.2},{:.2}", px(r.k as f64), py(get(r).0)))
            .collect();
        s += &format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>\n",
            pts.join(" "),
            esc(name)
        );
        for r in rows {
            let (m, sd) = get(r);
            let x = px(r.k as f64);
            s += &format!(
                "<line x1=\"{x:.2}\" y1=\"{:.2}\" x2=\"{x:.2}\" y2=\"{:.2}\" stroke=\"{colour}\"/><circle cx=\"{x:.2}\" cy=\"{:.2}\" r=\"3.5\" fill=\"{colour}\"><title>k = {}: {} {m:.6} ± {sd:.6}</title></circle>\n",
                py((m - sd).max(ymin)),
                py(m + sd),
                py(m),
                r.k,
                esc(name)
            );
        }
    }
    if let Some((best, _)) = best_k(rows) {
        let x = px(best as f64);
        s += &format!(
            "<line x1=\"{x:.2}\" y1=\"{t}\" x2=\"{x:.2}\" y2=\"{}\" stroke=\"#2ca02c\" stroke-dasharray=\"4 3\"/><text x=\"{:.2}\" y=\"{}\" fill=\"#2ca02c\">best k = {best}</text>\n",
            h - b,
            x + 4.0,
            t + 12.0
        );
    }
    // Legend.
    s += &format!(
        "<rect x=\"{0}\" y=\"{1}\" width=\"12\" height=\"3\" fill=\"#d62728\"/><text x=\"{2}\" y=\"{3}\">test (held-out entries)</text>\n",
        w - r - 190.0,
        t + 8.0,
        w - r - 172.0,
        t + 12.0
    );
    s += &format!(
        "<rect x=\"{0}\" y=\"{1}\" width=\"12\" height=\"3\" fill=\"#1f77b4\"/><text x=\"{2}\" y=\"{3}\">train (observed entries)</text>\n",
        w - r - 190.0,
        t + 26.0,
        w - r - 172.0,
        t + 30.0
    );
    s += "</svg>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_is_well_formed_svg_with_the_best_k_marked() {
        let row = |k: usize, te: f64| CvRow {
            k,
            test_mean: te,
            test_std: 0.01,
            train_mean: te / 2.0,
            train_std: 0.0,
            test: vec![te],
            train: vec![te / 2.0],
            held_out: 10,
            seconds: 0.0,
        };
        let svg = curve_svg(&[row(2, 0.5), row(3, 0.2), row(5, 0.3)]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("best k = 3"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
    }
}
