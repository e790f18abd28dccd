//! `report.html` and its pictures: a heatmap per solver and measure, the chosen points (the
//! sparsest, the unregularised one, the Pareto knee) refitted for their basis galleries (image
//! data) or top words (sparse count data) and sparseness histogram, and a table of every point.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use nmf::metrics;
use nmf::prelude::*;

use super::args::Args;
use super::plan::Plan;
use super::plots;
use super::rows::Row;
use super::run::{self, Outcome};
use crate::draw;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{image-rendering:pixelated;margin:4px;border:1px solid #ddd}.dead{color:#999}td.words{text-align:left;font-family:monospace}";

/// Top words listed per component for sparse data.
const TOP_WORDS: usize = 10;

/// Writes `report.html` and its pictures into `--out`; returns the number of pictures.
pub(crate) fn write(a: &Args, plan: &Plan, outcome: &Outcome) -> Result<usize> {
    let rows = &outcome.rows;
    let mut r = Report {
        a,
        plan,
        out: &a.out,
        html: String::new(),
        pictures: 0,
    };
    let alive: Vec<&Row> = rows.iter().filter(|r| !r.collapsed).collect();
    r.head(rows.len(), rows.len() - alive.len());
    for &solver in a
        .solver
        .iter()
        .filter(|s| **s != SolverKind::ProjectedGradient)
    {
        r.heatmaps(rows, solver)?;
    }
    let mut chosen = chosen(rows, &alive);
    if let Some(knee) = r.pareto(&alive)? {
        chosen.push(("pareto_best", knee));
    }
    r.chosen(&chosen, outcome)?;
    r.all_points(rows);
    let _ = writeln!(r.html, "</table></body></html>");
    std::fs::write(a.out.join("report.html"), &r.html)?;
    Ok(r.pictures)
}

/// The sparsest live point and the unregularised one (alpha_W = 0 and alpha_H 0 or `same`).
fn chosen<'r>(rows: &'r [Row], alive: &[&'r Row]) -> Vec<(&'static str, &'r Row)> {
    let mut out = Vec::new();
    if let Some(r) = alive
        .iter()
        .max_by(|a, b| a.basis_sparseness_mean.total_cmp(&b.basis_sparseness_mean))
    {
        out.push(("sparsest", *r));
    }
    let unregularised = |r: &&Row| {
        r.alpha_w == 0.0
            && r.h_sparseness_target.is_none()
            && match r.alpha_h {
                AlphaH::Same => true,
                AlphaH::Value(v) => v == 0.0,
            }
    };
    if let Some(r) = rows.iter().find(unregularised) {
        out.push(("unregularised", r));
    }
    out
}

/// Points on the sparseness-vs-error Pareto front (max sparseness, min error), by error.
fn pareto(rows: &[&Row]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&a, &b| {
        rows[a]
            .reconstruction_err
            .total_cmp(&rows[b].reconstruction_err)
            .then(
                rows[b]
                    .basis_sparseness_mean
                    .total_cmp(&rows[a].basis_sparseness_mean),
            )
    });
    let mut front = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for i in idx {
        if rows[i].basis_sparseness_mean > best {
            best = rows[i].basis_sparseness_mean;
            front.push(i);
        }
    }
    front
}

/// Range of `f` over `rows`.
fn range(rows: &[&Row], f: impl Fn(&Row) -> f64) -> (f64, f64) {
    rows.iter()
        .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(f(r)), h.max(f(r))))
}

/// scikit-learn's spelling of alpha_H.
fn sklearn_alpha_h(a: AlphaH) -> String {
    match a {
        AlphaH::Same => "\"same\"".into(),
        AlphaH::Value(v) => v.to_string(),
    }
}

/// A heatmap's file name part, its caption, and the value it shows.
type Measure = (&'static str, &'static str, fn(&Row) -> f64);

/// The report being written.
struct Report<'a> {
    a: &'a Args,
    plan: &'a Plan,
    out: &'a Path,
    html: String,
    pictures: usize,
}

impl Report<'_> {
    fn head(&mut self, points: usize, collapsed: usize) {
        let (a, plan) = (self.a, self.plan);
        let _ = writeln!(
            self.html,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>nmf-rs grid search</title><style>{STYLE}</style></head><body>"
        );
        let _ = writeln!(
            self.html,
            "<h1>Grid search: {} ({} x {}), k = {}</h1><p>loss {}, init {}, max_iter {}, tol {}, seed {}, alpha_H {}. {points} points, {collapsed} collapsed (a factor driven to zero; greyed out and excluded from the choices below). Raw data: <a href=\"results.csv\">results.csv</a>, manifest: <a href=\"summary.json\">summary.json</a>.</p>",
            plan.data.name,
            plan.data.nrows(),
            plan.data.ncols(),
            plan.k,
            a.loss,
            a.init.name(),
            a.max_iter,
            a.tol,
            a.seed,
            a.alpha_h,
        );
    }

    /// Sparseness and error of `solver`'s points over alpha_W (rows) x l1_ratio (columns).
    fn heatmaps(&mut self, rows: &[Row], solver: SolverKind) -> Result<()> {
        let (aws, l1s) = (&self.a.alpha_w.0, &self.a.l1_ratio.0);
        let find = |aw: f64, l1: f64| {
            rows.iter()
                .find(|r| r.solver == solver && r.alpha_w == aw && r.l1_ratio == l1)
        };
        let measures: [Measure; 2] = [
            ("sparseness", "mean basis sparseness", |r| {
                r.basis_sparseness_mean
            }),
            ("error", "reconstruction error", |r| r.reconstruction_err),
        ];
        for (what, label, value) in measures {
            let vals: Vec<Option<(f64, bool)>> = aws
                .iter()
                .flat_map(|&aw| l1s.iter().map(move |&l1| (aw, l1)))
                .map(|(aw, l1)| find(aw, l1).map(|r| (value(r), r.collapsed)))
                .collect();
            let name = format!("heatmap_{what}_{solver}.png");
            plots::heatmap(&self.out.join(&name), &vals, aws, l1s)?;
            self.pictures += 1;
            let (lo, hi) = plots::live_range(&vals);
            let _ = writeln!(
                self.html,
                "<h3>{solver}: {label}</h3><p>rows: alpha_W (top = {}), columns: l1_ratio (left = {}); colour from {} (dark) to {} (yellow); grey = collapsed.</p><img src=\"{name}\">",
                aws[0],
                l1s[0],
                draw::fmt_num(lo),
                draw::fmt_num(hi)
            );
        }
        Ok(())
    }

    /// The scatter with its front; returns the knee, the front point with the best sparseness
    /// gained per error paid (both normalised to their ranges).
    fn pareto<'r>(&mut self, alive: &[&'r Row]) -> Result<Option<&'r Row>> {
        let front = pareto(alive);
        if front.is_empty() {
            return Ok(None);
        }
        let (el, eh) = range(alive, |r| r.reconstruction_err);
        let (sl, sh) = range(alive, |r| r.basis_sparseness_mean);
        let norm = |v: f64, l: f64, h: f64| if h > l { (v - l) / (h - l) } else { 0.0 };
        let gain =
            |r: &Row| norm(r.basis_sparseness_mean, sl, sh) - norm(r.reconstruction_err, el, eh);
        let best = front
            .iter()
            .copied()
            .max_by(|&i, &j| gain(alive[i]).total_cmp(&gain(alive[j])))
            .unwrap_or(front[0]);
        plots::pareto_plot(&self.out.join("pareto.png"), alive, &front)?;
        self.pictures += 1;
        let _ = writeln!(
            self.html,
            "<h2>Sparseness vs error</h2><p>Every live point (blue), the Pareto front (red): error on the x axis (from {} to {}), mean basis sparseness on the y axis (from {} to {}).</p><img src=\"pareto.png\">",
            draw::fmt_num(el),
            draw::fmt_num(eh),
            draw::fmt_num(sl),
            draw::fmt_num(sh)
        );
        Ok(Some(alive[best]))
    }

    /// The chosen points' table, refitting each from the shared start for its basis: the
    /// galleries (image data only) and the sparseness histogram.
    fn chosen(&mut self, chosen: &[(&str, &Row)], outcome: &Outcome) -> Result<()> {
        let _ = writeln!(
            self.html,
            "<h2>Chosen points</h2><table><tr><th>point</th><th>solver</th><th>alpha_W</th><th>alpha_H</th><th>l1_ratio</th><th>pg target</th><th>error</th><th>basis sparseness mean/min/max</th><th>scikit-learn</th></tr>"
        );
        let mut hists = Vec::new();
        let mut words = Vec::new();
        for (label, r) in chosen {
            let (w0, h0) = (&outcome.start.w, &outcome.start.h);
            let (_, (_, h)) = run::fit_point(self.a, self.plan, w0, h0, &r.point())?;
            let sp = metrics::sparseness::rows(h.as_ref());
            if let Some((ih, iw)) = self.plan.data.image_shape {
                let name = format!("gallery_{label}.png");
                plots::gallery(&self.out.join(&name), h.as_ref(), ih, iw, &sp)?;
                self.pictures += 1;
                let _ = writeln!(self.html, "<!-- gallery {label} -->");
            } else if self.plan.data.is_sparse() {
                words.push(self.top_words(label, h.as_ref(), &sp)?);
            }
            hists.push(sp);
            self.chosen_row(label, r);
        }
        let _ = writeln!(self.html, "</table>");
        if self.plan.data.image_shape.is_some() {
            for (label, _) in chosen {
                let _ = writeln!(
                    self.html,
                    "<h3>Basis images: {label}</h3><p>Rows of H as images, each scaled to its own range; its sparseness under it.</p><img src=\"gallery_{label}.png\">"
                );
            }
        }
        for w in words {
            self.html.push_str(&w);
        }
        if !hists.is_empty() {
            plots::histogram(&self.out.join("histogram.png"), &hists)?;
            self.pictures += 1;
            let names: Vec<&str> = chosen.iter().map(|c| c.0).collect();
            let _ = writeln!(
                self.html,
                "<h3>Per-component sparseness</h3><p>Histogram over 10 bins from 0 to 1; bars per point: {} (blue, orange, green).</p><img src=\"histogram.png\">",
                names.join(", ")
            );
        }
        Ok(())
    }

    /// The top words of every component of one chosen point, as an HTML section (returned, to
    /// follow the chosen points' table) and as `top_words_LABEL.csv`; with planted topics
    /// (the synthetic corpus), how well they are recovered.
    fn top_words(&self, label: &str, h: faer::MatRef<'_, f32>, sp: &[f64]) -> Result<String> {
        let data = &self.plan.data;
        // Without a vocabulary the columns are named by number.
        let vocab = data.vocabulary.as_deref().unwrap_or(&[]);
        let words = nmf::vocab::top_words(h, vocab, TOP_WORDS);
        let mut csv = csv::Writer::from_path(self.out.join(format!("top_words_{label}.csv")))?;
        csv.write_record(["component", "sparseness", "top_words"])?;
        let mut html = format!(
            "<h3>Top words: {label}</h3><p>The {TOP_WORDS} largest entries of each row of H{}, largest first; the component's sparseness beside it. Also in <a href=\"top_words_{label}.csv\">top_words_{label}.csv</a>.</p>",
            if data.vocabulary.is_some() {
                ""
            } else {
                " (no vocabulary: columns by number; pass --vocab)"
            }
        );
        if let Some(topics) = &data.topics {
            let m = metrics::topic_recovery(h, topics.as_ref())?;
            let _ = write!(
                html,
                "<p>Topic recovery: mean matched cosine with the {} planted topics {:.3} (per topic: {}).</p>",
                topics.nrows(),
                m.mean,
                m.cosines
                    .iter()
                    .map(|c| format!("{c:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        html.push_str("<table><tr><th>component</th><th>sparseness</th><th>top words</th></tr>");
        for (t, w) in words.iter().enumerate() {
            let list = if w.is_empty() {
                "(dead: all zero)".to_string()
            } else {
                w.join(" ")
            };
            let _ = write!(
                html,
                "<tr><td>{t}</td><td>{:.3}</td><td class=\"words\">{}</td></tr>",
                sp[t],
                escape(&list)
            );
            csv.write_record([t.to_string(), format!("{:.3}", sp[t]), list])?;
        }
        csv.flush()?;
        html.push_str("</table>\n");
        Ok(html)
    }

    /// One chosen point, with the scikit-learn call that reproduces it.
    fn chosen_row(&mut self, label: &str, r: &Row) {
        let a = self.a;
        let sk = match r.h_sparseness_target {
            Some(_) => "(no equivalent: Hoyer's constraint)".to_string(),
            None => format!(
                "NMF(n_components={}, solver=\"{}\", alpha_W={}, alpha_H={}, l1_ratio={}, init=\"{}\", max_iter={}, tol={})",
                self.plan.k,
                r.solver,
                r.alpha_w,
                sklearn_alpha_h(r.alpha_h),
                r.l1_ratio,
                a.init.name(),
                a.max_iter,
                a.tol
            ),
        };
        let _ = writeln!(
            self.html,
            "<tr><td>{label}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.3} / {:.3} / {:.3}</td><td style=\"text-align:left\"><code>{sk}</code></td></tr>",
            r.solver,
            r.alpha_w,
            r.alpha_h,
            r.l1_ratio,
            r.h_sparseness_target.map_or("-".into(), |t| t.to_string()),
            r.reconstruction_err,
            r.basis_sparseness_mean,
            r.basis_sparseness_min,
            r.basis_sparseness_max
        );
    }

    /// Every point, by solver, alpha_W, l1_ratio and target.
    fn all_points(&mut self, rows: &[Row]) {
        let _ = writeln!(
            self.html,
            "<h2>All points</h2><table><tr><th>solver</th><th>alpha_W</th><th>alpha_H</th><th>l1_ratio</th><th>pg target</th><th>n_iter</th><th>stop</th><th>error</th><th>sparseness mean</th><th>min</th><th>max</th><th>W sparseness</th><th>zeros W</th><th>zeros H</th><th>seconds</th></tr>"
        );
        let order = |r: &Row| {
            (
                r.solver.name(),
                r.alpha_w,
                r.l1_ratio,
                r.h_sparseness_target.unwrap_or(0.0),
            )
        };
        let mut sorted: Vec<&Row> = rows.iter().collect();
        sorted.sort_by(|a, b| {
            order(a)
                .partial_cmp(&order(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for r in sorted {
            let _ = writeln!(
                self.html,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td></tr>",
                if r.collapsed { " class=\"dead\"" } else { "" },
                r.solver,
                r.alpha_w,
                r.alpha_h,
                r.l1_ratio,
                r.h_sparseness_target.map_or("-".into(), |t| t.to_string()),
                r.n_iter,
                r.stop_reason,
                r.reconstruction_err,
                r.basis_sparseness_mean,
                r.basis_sparseness_min,
                r.basis_sparseness_max,
                r.w_sparseness_mean,
                r.w_zero_fraction,
                r.h_zero_fraction,
                r.seconds
            );
        }
    }
}

/// `text` safe inside HTML (vocabularies are data: a term may hold `<` or `&`).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
