//! `report.html`: a summary (dataset, grid, the best settings and the scikit-learn call to
//! paste), then the pictures (heatmaps per solver and measure, the sparseness/error scatter
//! with its Pareto front, the chosen points' bases, their sparseness histograms and objective
//! traces), then the tables. Charts are SVG, inlined so that their hover values work and also
//! written beside the page for slides; basis images are PNG tiles with captions in the page.
//!
//! The chosen points are the unregularised fit (the baseline), the knee of the front and the
//! sparsest live point; a choice no sparser than the baseline is left out and said so, rather
//! than drawn twice.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use faer::Mat;
use nmf::metrics;
use nmf::prelude::*;

use super::args::Args;
use super::plan::Plan;
use super::plots;
use super::rows::Row;
use super::run::Outcome;
use crate::charts::{escape, fmt_num};

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;margin:0 auto;padding:1rem 1.5rem;max-width:1200px;line-height:1.45}
h1{font-size:1.6rem;margin:.3em 0}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.summary{background:#f5f7fa;border:1px solid #d8dde6;border-radius:8px;padding:.8rem 1.2rem}
.summary dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}
.summary dt{font-weight:600}.summary dd{margin:0}
pre{background:#fff;border:1px solid #ccd;border-radius:4px;padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.9rem}
nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;margin-top:.6rem}
.figs{display:flex;flex-wrap:wrap;gap:1rem 2rem}
figure{margin:0 0 1.2rem;flex:1 1 480px;min-width:0;max-width:100%}
figure svg{max-width:100%;height:auto;display:block}
figcaption{color:#444;font-size:.92rem;margin-top:.3rem}
.gallery{display:flex;flex-wrap:wrap;gap:.6rem}
.tile{margin:0;flex:none;text-align:center;font-size:.8rem}
.tile img{display:block;image-rendering:pixelated;border:1px solid #bbb;background:#000}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4rem .8rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#eef1f5}table.sortable th{cursor:pointer}
tr.dead{color:#999}td.words,td.code{text-align:left;font-family:monospace}
@media (max-width:640px){body{padding:.5rem .7rem}.summary dl{grid-template-columns:1fr}.summary dt{margin-top:.4rem}}
"#;

/// Sorts a table by the clicked column (numbers as numbers), both ways; no external script.
const SORT_SCRIPT: &str = "for(const th of document.querySelectorAll('table.sortable th')){th.title='click to sort';th.addEventListener('click',()=>{const b=th.closest('table').tBodies[0],i=th.cellIndex,up=th.dataset.dir!=='up';th.dataset.dir=up?'up':'down';const key=r=>{const t=r.cells[i].textContent,n=parseFloat(t);return isNaN(n)?t:n};const rows=[...b.rows].sort((x,y)=>{const p=key(x),q=key(y);return (p<q?-1:p>q?1:0)*(up?1:-1)});for(const r of rows)b.appendChild(r)})}";

/// Top words listed per component for sparse data.
const TOP_WORDS: usize = 10;

/// Least gain in mean basis sparseness over the unregularised fit that counts as sparser
/// (Hoyer units): smaller differences do not show in the basis.
const MIN_GAIN: f64 = 0.01;

/// How the knee is chosen, for the page.
const KNEE_RULE: &str = "among the regularised points on the Pareto front that are at least 0.01 sparser than the unregularised fit, the one farthest above the straight line from the unregularised fit to the sparsest of them (both axes scaled to that span): up to it, sparseness comes cheaper in error than on average along the front, beyond it dearer";

/// Writes `report.html` and its pictures into `--out`; returns the number of pictures.
pub fn write(a: &Args, plan: &Plan, outcome: &Outcome) -> Result<usize> {
    let rows = &outcome.rows;
    let alive: Vec<&Row> = rows.iter().filter(|r| !r.collapsed).collect();
    let front = pareto(&alive);
    let choice = choose(rows, &alive, &front);
    let mut r = Report {
        a,
        plan,
        out: &a.out,
        html: String::new(),
        pictures: 0,
    };
    let fits = choice
        .points
        .iter()
        .map(|c| Refit::new(a, plan, outcome, c))
        .collect::<Result<Vec<_>>>()?;
    r.summary(rows, &alive, &choice, outcome.seconds);
    r.heatmaps(rows)?;
    r.scatter(&alive, &front, &choice)?;
    r.bases(&choice, &fits)?;
    r.tables(&choice, rows);
    let _ = writeln!(r.html, "<script>{SORT_SCRIPT}</script>\n</body></html>");
    std::fs::write(a.out.join("report.html"), &r.html)?;
    Ok(r.pictures)
}

/// A chosen point: its name on the page, its file name part, its row.
struct Chosen<'r> {
    label: String,
    key: &'static str,
    row: &'r Row,
}

/// The chosen points, baseline first, and what the page must say about choices left out.
struct Choice<'r> {
    points: Vec<Chosen<'r>>,
    baseline: Option<&'r Row>,
    knee: Option<&'r Row>,
    sparsest: Option<&'r Row>,
}

/// No penalty and no sparseness target.
fn unregularised(r: &Row) -> bool {
    r.alpha_w == 0.0
        && r.h_sparseness_target.is_none()
        && match r.alpha_h {
            AlphaH::Same => true,
            AlphaH::Value(v) => v == 0.0,
        }
}

/// The baseline (the unregularised fit with the least error; a collapsed one only if no other
/// exists), the knee and the sparsest point, each kept only if it differs from the baseline.
fn choose<'r>(rows: &'r [Row], alive: &[&'r Row], front: &[usize]) -> Choice<'r> {
    let baseline = alive
        .iter()
        .copied()
        .filter(|r| unregularised(r))
        .min_by(|a, b| a.reconstruction_err.total_cmp(&b.reconstruction_err))
        .or_else(|| rows.iter().find(|r| unregularised(r)));
    let s0 = baseline.map_or(f64::NEG_INFINITY, |b| b.basis_sparseness_mean);
    let sparsest = alive
        .iter()
        .copied()
        .max_by(|a, b| a.basis_sparseness_mean.total_cmp(&b.basis_sparseness_mean))
        .filter(|r| r.basis_sparseness_mean >= s0 + MIN_GAIN);
    let knee = baseline.and_then(|b| knee(alive, front, b));
    let mut points = Vec::new();
    if let Some(b) = baseline {
        points.push(Chosen {
            label: "unregularised".into(),
            key: "unregularised",
            row: b,
        });
    }
    let same = |x: Option<&Row>, y: Option<&Row>| match (x, y) {
        (Some(x), Some(y)) => std::ptr::eq(x, y),
        _ => false,
    };
    if let Some(k) = knee {
        let label = if same(knee, sparsest) {
            "knee (also the sparsest)"
        } else {
            "knee"
        };
        points.push(Chosen {
            label: label.into(),
            key: "knee",
            row: k,
        });
    }
    if let Some(s) = sparsest.filter(|_| !same(knee, sparsest)) {
        points.push(Chosen {
            label: "sparsest".into(),
            key: "sparsest",
            row: s,
        });
    }
    Choice {
        points,
        baseline,
        knee,
        sparsest,
    }
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

/// The knee of the front (see [`KNEE_RULE`]), or `None` when no regularised point on it is
/// at least [`MIN_GAIN`] sparser than `base`.
fn knee<'r>(alive: &[&'r Row], front: &[usize], base: &Row) -> Option<&'r Row> {
    let (e0, s0) = (base.reconstruction_err, base.basis_sparseness_mean);
    let candidates: Vec<&Row> = front
        .iter()
        .map(|&i| alive[i])
        .filter(|r| !unregularised(r) && r.basis_sparseness_mean >= s0 + MIN_GAIN)
        .collect();
    let end = candidates
        .iter()
        .max_by(|a, b| a.basis_sparseness_mean.total_cmp(&b.basis_sparseness_mean))?;
    let (de, ds) = (end.reconstruction_err - e0, end.basis_sparseness_mean - s0);
    // Height above the chord from the baseline to the sparsest candidate, in units of the span;
    // a sparsest candidate that costs no error dominates the baseline and is the knee.
    let height = |r: &Row| {
        let cost = if de > 0.0 {
            (r.reconstruction_err - e0) / de
        } else {
            0.0
        };
        (r.basis_sparseness_mean - s0) / ds - cost
    };
    candidates
        .iter()
        .copied()
        .max_by(|a, b| height(a).total_cmp(&height(b)))
}

/// scikit-learn's spelling of alpha_H.
fn sklearn_alpha_h(a: AlphaH) -> String {
    match a {
        AlphaH::Same => "\"same\"".into(),
        AlphaH::Value(v) => v.to_string(),
    }
}

/// The scikit-learn call that fits `r`, or why there is none.
fn sklearn_call(a: &Args, k: usize, r: &Row) -> Option<String> {
    if r.h_sparseness_target.is_some() {
        return None;
    }
    let loss = if a.loss == Loss::Frobenius {
        String::new()
    } else {
        format!(", beta_loss=\"{}\"", a.loss)
    };
    let seed = match a.init.init() {
        Init::Random | Init::NndsvdAr => format!(", random_state={}", a.seed),
        _ => String::new(),
    };
    Some(format!(
        "NMF(n_components={k}, solver=\"{}\"{loss}, alpha_W={}, alpha_H={}, l1_ratio={}, init=\"{}\"{seed}, max_iter={}, tol={})",
        r.solver,
        r.alpha_w,
        sklearn_alpha_h(r.alpha_h),
        r.l1_ratio,
        a.init.name(),
        a.max_iter,
        a.tol
    ))
}

/// A chosen point refitted from the shared start with its objective traced: its basis and the
/// trace (the grid's own fits keep neither).
struct Refit {
    h: Mat<f32>,
    sparseness: Vec<f64>,
    trace: Vec<(usize, f64)>,
}

impl Refit {
    fn new(a: &Args, plan: &Plan, outcome: &Outcome, c: &Chosen<'_>) -> Result<Refit> {
        let model = c
            .row
            .point()
            .params(a, plan.k)
            .trace_every(1)
            .init(Init::Custom {
                w: outcome.start.w.clone(),
                h: outcome.start.h.clone(),
            })
            .fit(plan.x())?;
        let h = model.h().to_owned();
        Ok(Refit {
            sparseness: metrics::sparseness::rows(h.as_ref()),
            trace: model.report().loss_trace.clone(),
            h,
        })
    }
}

/// A list of grid values in a few words.
fn values(v: &[f64]) -> String {
    match v {
        [] => "none".into(),
        [x] => format!("{x}"),
        [first, .., last] if v.len() > 4 => format!("{} values from {first} to {last}", v.len()),
        _ => v.iter().map(f64::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// The report being written.
struct Report<'a> {
    a: &'a Args,
    plan: &'a Plan,
    out: &'a Path,
    html: String,
    pictures: usize,
}

impl Report<'_> {
    /// Writes `svg` beside the page as `name` and inlines it (hover values need it inline).
    fn chart(&mut self, name: &str, svg: &str, alt: &str, caption: &str) -> Result<()> {
        std::fs::write(self.out.join(name), svg)?;
        self.pictures += 1;
        let svg = svg.replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(alt)),
            1,
        );
        let _ = writeln!(
            self.html,
            "<figure>{svg}<figcaption>{caption} <a href=\"{name}\">SVG</a></figcaption></figure>"
        );
        Ok(())
    }

    /// The title and the summary: dataset, grid, best settings and their scikit-learn call.
    fn summary(&mut self, rows: &[Row], alive: &[&Row], c: &Choice<'_>, seconds: f64) {
        let (a, plan) = (self.a, self.plan);
        let data = &plan.data;
        let name = escape(&data.name);
        let _ = writeln!(
            self.html,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Grid search: {name}</title><style>{STYLE}</style></head><body>"
        );
        let _ = writeln!(
            self.html,
            "<h1>Grid search: {name} ({} x {}), k = {}</h1><section class=\"summary\"><dl>",
            data.nrows(),
            data.ncols(),
            plan.k,
        );
        let kind = match (data.image_shape, data.is_sparse()) {
            (Some((h, w)), _) => format!("images of {h} x {w} pixels"),
            (None, true) => "sparse counts (documents x terms)".into(),
            (None, false) => "dense".into(),
        };
        let _ = writeln!(
            self.html,
            "<dt>Dataset</dt><dd><b>{name}</b>: {} samples x {} features, {kind}; k = {} components.</dd>",
            data.nrows(),
            data.ncols(),
            plan.k
        );
        let solvers: Vec<String> = a.solver.iter().map(|s| s.to_string()).collect();
        let pg = if a.solver.contains(&SolverKind::ProjectedGradient) {
            format!("; pg sparseness targets {}", values(&a.pg_sparseness.0))
        } else {
            String::new()
        };
        let collapsed = rows.len() - alive.len();
        let _ = writeln!(
            self.html,
            "<dt>Grid</dt><dd>solvers {}; alpha_W {}; l1_ratio {}; alpha_H {}{pg}: <b>{} points</b>, {collapsed} collapsed (a factor driven to zero; hatched in the heatmaps, left out of the choices); this run took {:.1} s.</dd>",
            solvers.join(", "),
            values(&self.a.alpha_w.0),
            values(&self.a.l1_ratio.0),
            escape(&a.alpha_h.to_string()),
            rows.len(),
            seconds
        );
        let _ = writeln!(
            self.html,
            "<dt>Each fit</dt><dd>loss {}, init {}, max_iter {}, tol {}, seed {}; every point starts from the same initialisation.</dd>",
            escape(&a.loss.to_string()),
            a.init.name(),
            a.max_iter,
            a.tol,
            a.seed
        );
        let describe = |r: &Row| {
            let mut s = format!(
                "<b>{}</b>: mean basis sparseness {:.3}, error {}",
                plots::settings(r),
                r.basis_sparseness_mean,
                fmt_num(r.reconstruction_err)
            );
            if let Some(b) = c.baseline.filter(|b| !std::ptr::eq(*b, r)) {
                let _ = write!(
                    s,
                    " (unregularised: {:.3} and {}; {:+.3} sparseness for {:+.1}% error)",
                    b.basis_sparseness_mean,
                    fmt_num(b.reconstruction_err),
                    r.basis_sparseness_mean - b.basis_sparseness_mean,
                    100.0 * (r.reconstruction_err / b.reconstruction_err - 1.0)
                );
            }
            s
        };
        let best = c.knee.or(c.baseline);
        match (c.knee, c.baseline) {
            (Some(k), _) => {
                let _ = writeln!(
                    self.html,
                    "<dt>Best settings</dt><dd>the knee of the front, {}.</dd><dt>How the knee is chosen</dt><dd>{KNEE_RULE}.</dd>",
                    describe(k)
                );
            }
            (None, Some(b)) => {
                let _ = writeln!(
                    self.html,
                    "<dt>Best settings</dt><dd>the unregularised fit, {}. {}</dd>",
                    describe(b),
                    no_gain_sentence(b)
                );
            }
            (None, None) => {
                let _ = writeln!(
                    self.html,
                    "<dt>Best settings</dt><dd>none: the grid has no unregularised point to compare with (add 0 to --alpha-w).</dd>"
                );
            }
        }
        if let Some(s) = c
            .sparsest
            .filter(|s| c.knee.is_none_or(|k| !std::ptr::eq(*s, k)))
        {
            let _ = writeln!(self.html, "<dt>Sparsest</dt><dd>{}.</dd>", describe(s));
        }
        if let Some(b) = best {
            let code = match sklearn_call(a, plan.k, b) {
                Some(call) => format!(
                    "<pre><code>from sklearn.decomposition import NMF\nmodel = {}</code></pre>",
                    escape(&call)
                ),
                None => "no equivalent: a pg sparseness target is Hoyer's constraint, which scikit-learn does not have.".into(),
            };
            let _ = writeln!(self.html, "<dt>scikit-learn</dt><dd>{code}</dd>");
        }
        let _ = writeln!(
            self.html,
            "</dl></section>\n<nav><a href=\"#grid\">Heatmaps</a><a href=\"#front\">Trade-off</a><a href=\"#bases\">Bases</a><a href=\"#tables\">Tables</a><a href=\"results.csv\">results.csv</a><a href=\"summary.json\">summary.json</a></nav>"
        );
    }

    /// Sparseness and error of every solver's points over alpha_W x l1_ratio.
    fn heatmaps(&mut self, rows: &[Row]) -> Result<()> {
        let _ = writeln!(
            self.html,
            "<h2 id=\"grid\">Sparseness and error over the grid</h2><p>One cell per grid point: alpha_W upwards, l1_ratio to the right, colour (and the number in the cell) the value, from dark (low) to yellow (high) on the scale at the right. Hover over a cell for its exact value. Hatched grey cells collapsed.</p>"
        );
        let (aws, l1s) = (self.a.alpha_w.0.clone(), self.a.l1_ratio.0.clone());
        let solvers: Vec<SolverKind> = self
            .a
            .solver
            .iter()
            .copied()
            .filter(|s| *s != SolverKind::ProjectedGradient)
            .collect();
        for solver in solvers {
            let _ = writeln!(self.html, "<div class=\"figs\">");
            for m in plots::MEASURES {
                let svg = plots::heatmap(rows, solver, m, &aws, &l1s)?;
                let caption = match m.0 {
                    "sparseness" => format!(
                        "<b>{solver}, mean basis sparseness</b> (Hoyer, of the rows of H): yellow cells give sparser parts."
                    ),
                    _ => format!(
                        "<b>{solver}, reconstruction error</b> ‖X − WH‖: dark cells fit the data best."
                    ),
                };
                self.chart(
                    &format!("heatmap_{}_{solver}.svg", m.0),
                    &svg,
                    &format!("{solver} {} over alpha_W and l1_ratio", m.1),
                    &caption,
                )?;
            }
            let _ = writeln!(self.html, "</div>");
        }
        Ok(())
    }

    /// The scatter of every live point with its front and the chosen points labelled.
    fn scatter(&mut self, alive: &[&Row], front: &[usize], c: &Choice<'_>) -> Result<()> {
        if alive.is_empty() {
            let _ = writeln!(
                self.html,
                "<h2 id=\"front\">Sparseness against error</h2><p class=\"note\">Every point collapsed: nothing to compare.</p>"
            );
            return Ok(());
        }
        let marks: Vec<(String, &Row)> =
            c.points.iter().map(|p| (p.label.clone(), p.row)).collect();
        let svg = plots::pareto(alive, front, &marks)?;
        let _ = writeln!(self.html, "<h2 id=\"front\">Sparseness against error</h2>");
        self.chart(
            "pareto.svg",
            &svg,
            "mean basis sparseness against reconstruction error",
            "<b>The trade-off.</b> Each dot is a live grid point (colour: solver); up is sparser, left fits better. The red line is the Pareto front: no point is both sparser and more accurate than a point on it. Circled: the chosen points. Hover over a dot for its settings.",
        )
    }

    /// The chosen points' bases (image tiles or top words), sparseness histograms and traces.
    fn bases(&mut self, c: &Choice<'_>, fits: &[Refit]) -> Result<()> {
        let _ = writeln!(
            self.html,
            "<h2 id=\"bases\">The chosen bases</h2><p>The chosen points refitted from the shared start: the unregularised fit (the baseline){}.</p>",
            match (c.knee.is_some(), c.sparsest.is_some()) {
                (true, true) if c.points.len() == 3 =>
                    ", the knee of the front and the sparsest point",
                (true, _) => " and the knee of the front",
                (false, true) => " and the sparsest point",
                (false, false) => "",
            }
        );
        if c.knee.is_none()
            && let Some(b) = c.baseline
        {
            let _ = writeln!(self.html, "<p class=\"note\">{}</p>", no_gain_sentence(b));
        }
        if self.plan.data.image_shape.is_none() && !self.plan.data.is_sparse() {
            let _ = writeln!(
                self.html,
                "<p>The data are neither images nor counts with words, so the bases are shown by their sparseness only.</p>"
            );
        }
        for (p, fit) in c.points.iter().zip(fits) {
            if let Some(shape) = self.plan.data.image_shape {
                self.gallery(p, fit, shape)?;
            } else if self.plan.data.is_sparse() {
                let html = self.top_words(p, fit)?;
                self.html.push_str(&html);
            }
        }
        if fits.is_empty() {
            return Ok(());
        }
        let sets: Vec<(String, Vec<f64>)> = c
            .points
            .iter()
            .zip(fits)
            .map(|(p, f)| (p.label.clone(), f.sparseness.clone()))
            .collect();
        let traces: Vec<(String, Vec<(usize, f64)>)> = c
            .points
            .iter()
            .zip(fits)
            .map(|(p, f)| (p.label.clone(), f.trace.clone()))
            .collect();
        let _ = writeln!(self.html, "<div class=\"figs\">");
        self.chart(
            "histogram.svg",
            &plots::histogram(&sets)?,
            "histogram of the components' sparseness per chosen point",
            "<b>Per-component sparseness.</b> How many basis vectors fall in each sparseness bin, per chosen point: a sparser setting moves the bars right; a bar at 0 or 1 can be a dead (all-zero) or one-pixel component.",
        )?;
        self.chart(
            "trace.svg",
            &plots::traces(&traces)?,
            "objective per iteration of the chosen fits",
            "<b>Convergence.</b> The objective each chosen fit minimises (its loss plus its penalties), per iteration: flat at the end means converged; the penalised fits sit higher because their penalty is included.",
        )?;
        let _ = writeln!(self.html, "</div>");
        Ok(())
    }

    /// One chosen point's basis images, one captioned tile per component.
    fn gallery(&mut self, p: &Chosen<'_>, fit: &Refit, (ih, iw): (usize, usize)) -> Result<()> {
        // Small images (swimmer's 32 x 32) are shown enlarged to stay legible.
        let scale = (96 / ih.max(iw)).clamp(1, 3);
        let _ = writeln!(
            self.html,
            "<h3>Basis images: {}</h3><p>{}. Each row of H as an image (white = its largest entry, each scaled to its own range), its Hoyer sparseness below.</p><div class=\"gallery\">",
            p.label,
            plots::settings(p.row)
        );
        for t in 0..fit.h.nrows() {
            let name = format!("basis_{}_{t:02}.png", p.key);
            plots::basis_image(&self.out.join(&name), fit.h.as_ref(), t, (ih, iw))?;
            self.pictures += 1;
            let dead = fit.h.row(t).iter().all(|&v| v == 0.0);
            let _ = writeln!(
                self.html,
                "<figure class=\"tile\"><img src=\"{name}\" width=\"{}\" height=\"{}\" alt=\"component {t} of {}\"><figcaption>#{t} · {}</figcaption></figure>",
                iw * scale,
                ih * scale,
                p.label,
                if dead {
                    "dead".to_string()
                } else {
                    format!("{:.2}", fit.sparseness[t])
                }
            );
        }
        let _ = writeln!(self.html, "</div>");
        Ok(())
    }

    /// The top words of every component of one chosen point, as an HTML section and as
    /// `top_words_KEY.csv`; with planted topics (the synthetic corpus), how well they are
    /// recovered.
    fn top_words(&self, p: &Chosen<'_>, fit: &Refit) -> Result<String> {
        let data = &self.plan.data;
        let (h, sp) = (fit.h.as_ref(), &fit.sparseness);
        // Without a vocabulary the columns are named by number.
        let vocab = data.vocabulary.as_deref().unwrap_or(&[]);
        let words = nmf::vocab::top_words(h, vocab, TOP_WORDS);
        let csv_name = format!("top_words_{}.csv", p.key);
        let mut csv = csv::Writer::from_path(self.out.join(&csv_name))?;
        csv.write_record(["component", "sparseness", "top_words"])?;
        let mut html = format!(
            "<h3>Top words: {}</h3><p>{}. The {TOP_WORDS} largest entries of each row of H{}, largest first; the component's sparseness beside it. Also in <a href=\"{csv_name}\">{csv_name}</a>.</p>",
            p.label,
            plots::settings(p.row),
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
        html.push_str("<div class=\"scroll\"><table><tr><th>component</th><th>sparseness</th><th>top words</th></tr>");
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
        html.push_str("</table></div>\n");
        Ok(html)
    }

    /// The chosen points with their scikit-learn calls, then every point (sortable).
    fn tables(&mut self, c: &Choice<'_>, rows: &[Row]) {
        let _ = writeln!(
            self.html,
            "<h2 id=\"tables\">Tables</h2><h3>Chosen points</h3><div class=\"scroll\"><table><tr><th>point</th><th>solver</th><th>alpha_W</th><th>alpha_H</th><th>l1_ratio</th><th>pg target</th><th>error</th><th>basis sparseness mean / min / max</th><th>scikit-learn</th></tr>"
        );
        for p in &c.points {
            let r = p.row;
            let sk = sklearn_call(self.a, self.plan.k, r)
                .unwrap_or_else(|| "(no equivalent: Hoyer's constraint)".into());
            let _ = writeln!(
                self.html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.3} / {:.3} / {:.3}</td><td class=\"code\">{}</td></tr>",
                p.label,
                r.solver,
                r.alpha_w,
                r.alpha_h,
                r.l1_ratio,
                r.h_sparseness_target.map_or("-".into(), |t| t.to_string()),
                r.reconstruction_err,
                r.basis_sparseness_mean,
                r.basis_sparseness_min,
                r.basis_sparseness_max,
                escape(&sk)
            );
        }
        let _ = writeln!(
            self.html,
            "</table></div><h3>All points</h3><p>Click a column title to sort; greyed rows collapsed.</p><div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>solver</th><th>alpha_W</th><th>alpha_H</th><th>l1_ratio</th><th>pg target</th><th>n_iter</th><th>stop</th><th>error</th><th>sparseness mean</th><th>min</th><th>max</th><th>W sparseness</th><th>zeros W</th><th>zeros H</th><th>seconds</th></tr></thead><tbody>"
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
                escape(&r.stop_reason),
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
        let _ = writeln!(self.html, "</tbody></table></div>");
    }
}

/// The one sentence that replaces the knee's gallery when no penalty helps.
fn no_gain_sentence(b: &Row) -> String {
    format!(
        "No regularised point is sparser than the unregularised fit (mean basis sparseness {:.3}) by at least {MIN_GAIN}, so there is no knee to show.",
        b.basis_sparseness_mean
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(alpha_w: f64, err: f64, sparseness: f64) -> Row {
        Row {
            solver: SolverKind::Cd,
            loss: Loss::Frobenius,
            k: 2,
            alpha_w,
            alpha_h: AlphaH::Value(0.0),
            l1_ratio: 0.5,
            h_sparseness_target: None,
            n_iter: 10,
            stop_reason: "converged".into(),
            reconstruction_err: err,
            objective: err,
            basis_sparseness_mean: sparseness,
            basis_sparseness_median: sparseness,
            basis_sparseness_min: sparseness,
            basis_sparseness_max: sparseness,
            w_sparseness_mean: 0.0,
            w_zero_fraction: 0.0,
            h_zero_fraction: 0.0,
            collapsed: false,
            seconds: 0.0,
        }
    }

    fn pick(rows: &[Row]) -> (Option<f64>, Option<f64>, usize) {
        let alive: Vec<&Row> = rows.iter().filter(|r| !r.collapsed).collect();
        let front = pareto(&alive);
        let c = choose(rows, &alive, &front);
        (
            c.knee.map(|r| r.alpha_w),
            c.sparsest.map(|r| r.alpha_w),
            c.points.len(),
        )
    }

    #[test]
    fn the_knee_is_where_the_front_bends_never_the_unregularised_fit() {
        // A front that gains quickly up to alpha 0.3 and slowly after; 0.2 is dominated.
        let rows = [
            row(0.0, 10.0, 0.40),
            row(0.1, 10.1, 0.50),
            row(0.2, 10.5, 0.45),
            row(0.3, 10.3, 0.60),
            row(0.6, 12.0, 0.65),
            row(1.0, 15.0, 0.70),
        ];
        assert_eq!(pick(&rows), (Some(0.3), Some(1.0), 3));
    }

    #[test]
    fn without_a_sparser_regularised_point_there_is_no_knee_and_no_duplicate() {
        let rows = [
            row(0.0, 10.0, 0.40),
            row(0.1, 10.5, 0.405),
            row(0.2, 11.0, 0.30),
        ];
        assert_eq!(pick(&rows), (None, None, 1));
        // A collapsed point is never chosen, however sparse.
        let mut dead = row(1.0, 1e3, 1.0);
        dead.collapsed = true;
        let rows = [row(0.0, 10.0, 0.40), dead];
        assert_eq!(pick(&rows), (None, None, 1));
    }

    #[test]
    fn a_lone_sparser_point_is_both_knee_and_sparsest_shown_once() {
        let rows = [row(0.0, 10.0, 0.40), row(0.5, 11.0, 0.55)];
        let alive: Vec<&Row> = rows.iter().collect();
        let front = pareto(&alive);
        let c = choose(&rows, &alive, &front);
        let labels: Vec<&str> = c.points.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["unregularised", "knee (also the sparsest)"]);
    }
}
