//! The report's charts as SVG text, drawn with `plotters`: a heatmap with a colour bar, a
//! scatter with a front and labelled points, grouped histogram bars, and line traces.
//!
//! SVG rather than raster so that the browser draws the text (titles, ticks, legends) with its
//! own fonts: no font file is needed here, and the charts stay sharp on a projector. Values a
//! reader may want exactly (a heatmap cell, a scatter point) carry an SVG `<title>`, which the
//! browser shows on hover.

use std::fmt::Write as _;
use std::ops::Range;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Categorical colours (Tableau 10's first six), for solvers and chosen points.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

const FONT: &str = "sans-serif";
// plotters writes `font-size` as the size given divided by 1.24 (its em estimate): these are
// the sizes asked for, about 16 to 11 px on the page.
const CAPTION: f64 = 20.0;
const AXIS_TITLE: f64 = 18.0;
const TICKS: f64 = 16.0;
const SMALL: f64 = 14.0;
/// Fill of collapsed cells (their hatching is drawn over it).
const COLLAPSED: RGBColor = RGBColor(215, 215, 215);
const HATCH: RGBColor = RGBColor(120, 120, 120);

/// plotters' errors carry the backend's error type; the report only needs the message.
fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// Viridis, approximated by linear interpolation between five anchors; `t` in [0, 1].
pub fn viridis(t: f64) -> RGBColor {
    const A: [[f64; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let mix = |k: usize| (A[i][k] + (A[i + 1][k] - A[i][k]) * f).round() as u8;
    RGBColor(mix(0), mix(1), mix(2))
}

/// A short number for labels: 3 significant digits, exponent outside [1e-3, 1e4).
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e4).contains(&a) {
        // 1e7 rather than 1.0e7.
        return format!("{v:.1e}").replace(".0e", "e");
    }
    let decimals = (2 - a.log10().floor() as i64).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// `text` safe inside XML and HTML text or attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Hover targets laid over a finished chart: invisible shapes whose `<title>` the browser shows.
#[derive(Default)]
struct Hover(String);

impl Hover {
    fn rect(&mut self, (x0, y0): (i32, i32), (x1, y1): (i32, i32), title: &str) {
        let _ = writeln!(
            self.0,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#000\" fill-opacity=\"0\"><title>{}</title></rect>",
            x0.min(x1),
            y0.min(y1),
            (x1 - x0).abs().max(1),
            (y1 - y0).abs().max(1),
            escape(title)
        );
    }

    fn circle(&mut self, (x, y): (i32, i32), r: i32, title: &str) {
        let _ = writeln!(
            self.0,
            "<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"#000\" fill-opacity=\"0\"><title>{}</title></circle>",
            escape(title)
        );
    }

    /// `svg` with the targets last, so that they lie on top of everything drawn.
    fn into_svg(self, mut svg: String) -> String {
        match svg.rfind("</svg>") {
            Some(at) => svg.insert_str(at, &self.0),
            None => svg.push_str(&self.0),
        }
        svg
    }
}

/// `lo..hi` widened by `pad` of its span on each side (and made non-empty).
fn padded((lo, hi): (f64, f64), pad: f64) -> Range<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        return lo - d..hi + d;
    }
    let d = (hi - lo) * pad;
    lo - d..hi + d
}

fn min_max(v: impl IntoIterator<Item = f64>) -> (f64, f64) {
    v.into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        })
}

/// A heatmap over two grid axes.
pub struct Heatmap<'a> {
    pub title: &'a str,
    pub x_title: &'a str,
    pub x_values: &'a [f64],
    pub y_title: &'a str,
    pub y_values: &'a [f64],
    /// Row-major, one row per y value (the first at the bottom): `(value, collapsed)`, or
    /// `None` where no point was run.
    pub cells: &'a [Option<(f64, bool)>],
    /// What the colour means, for the hover text.
    pub value_title: &'a str,
    /// The same in a word, above the colour bar.
    pub bar_title: &'a str,
}

/// The label of the tick at `v` (a cell centre is an integer index; other ticks get none).
fn tick_label(values: &[f64], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() > 1e-6 || i < 0.0 || i as usize >= values.len() {
        return String::new();
    }
    fmt_num(values[i as usize])
}

/// Draws the heatmap: viridis over the range of the live cells, collapsed cells grey and
/// hatched, each value printed in its cell when the cells are large enough, and on hover.
pub fn heatmap(h: &Heatmap<'_>) -> Result<String> {
    let (nx, ny) = (h.x_values.len(), h.y_values.len());
    let cell = (440 / nx.max(ny).max(1)).clamp(14, 48) as u32;
    let (left, bottom, top, bar) = (70u32, 56u32, 40u32, 120u32);
    let width = left + cell * nx as u32 + 16 + bar;
    let height = top + cell * ny as u32 + bottom;
    let (lo, hi) = min_max(h.cells.iter().flatten().filter(|c| !c.1).map(|c| c.0));
    let scale = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let any_collapsed = h.cells.iter().flatten().any(|c| c.1);
    let mut svg = String::new();
    let mut hover = Hover::default();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (main, side) = root.split_horizontally(width - bar);
        let mut chart = ChartBuilder::on(&main)
            .caption(h.title, (FONT, CAPTION))
            .margin_top(6)
            .margin_right(16)
            .x_label_area_size(bottom - 8)
            .y_label_area_size(left)
            .build_cartesian_2d(-0.5..nx as f64 - 0.5, -0.5..ny as f64 - 0.5)
            .map_err(draw_err)?;
        let (xf, yf) = (
            |v: &f64| tick_label(h.x_values, *v),
            |v: &f64| tick_label(h.y_values, *v),
        );
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nx.min(12))
            .y_labels(ny.min(12))
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .x_desc(h.x_title)
            .y_desc(h.y_title)
            .axis_desc_style((FONT, AXIS_TITLE))
            .label_style((FONT, TICKS))
            .draw()
            .map_err(draw_err)?;
        let show_values = cell >= 34;
        for (i, c) in h.cells.iter().enumerate() {
            let Some((v, collapsed)) = *c else { continue };
            let (q, r) = ((i % nx) as f64, (i / nx) as f64);
            let (a, b) = ((q - 0.5, r + 0.5), (q + 0.5, r - 0.5));
            let fill = if collapsed {
                COLLAPSED
            } else {
                viridis(scale(v))
            };
            chart
                .draw_series([Rectangle::new([a, b], fill.filled())])
                .map_err(draw_err)?;
            if collapsed {
                // Diagonal hatching, clipped to the cell by construction.
                let lines = [0.25, 0.5, 0.75].into_iter().flat_map(|t| {
                    [
                        vec![(q - 0.5, r - 0.5 + t), (q - 0.5 + t, r - 0.5)],
                        vec![(q - 0.5 + t, r + 0.5), (q + 0.5, r - 0.5 + t)],
                    ]
                });
                chart
                    .draw_series(lines.map(|l| PathElement::new(l, HATCH.stroke_width(1))))
                    .map_err(draw_err)?;
            } else if show_values {
                let ink = if scale(v) < 0.6 { WHITE } else { BLACK };
                let style = (FONT, SMALL)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart
                    .draw_series([Text::new(fmt_num(v), (q, r), style)])
                    .map_err(draw_err)?;
            }
            let title = format!(
                "{} = {}, {} = {}: {} {}{}",
                h.y_title,
                h.y_values[i / nx],
                h.x_title,
                h.x_values[i % nx],
                h.value_title,
                fmt_num(v),
                if collapsed { " (collapsed)" } else { "" }
            );
            hover.rect(chart.backend_coord(&a), chart.backend_coord(&b), &title);
        }
        colour_bar(&side, top, bottom, (lo, hi), h.bar_title, any_collapsed)?;
        root.present().map_err(draw_err)?;
    }
    Ok(hover.into_svg(svg))
}

/// The colour bar of a heatmap, values on its right, and the legend of collapsed cells.
fn colour_bar(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    top: u32,
    bottom: u32,
    (lo, hi): (f64, f64),
    title: &str,
    collapsed_legend: bool,
) -> Result<()> {
    let range = padded((lo, hi), 0.0);
    let mut bar = ChartBuilder::on(area)
        .margin_top(top)
        .margin_bottom(bottom)
        .margin_left(6)
        .right_y_label_area_size(52)
        .build_cartesian_2d(0.0..1.0, range.clone())
        .map_err(draw_err)?;
    const STEPS: usize = 64;
    let span = range.end - range.start;
    bar.draw_series((0..STEPS).map(|i| {
        let (a, b) = (i as f64 / STEPS as f64, (i + 1) as f64 / STEPS as f64);
        // Each band overlaps the next by half a band, so anti-aliasing leaves no seams.
        let top = (b + 0.5 / STEPS as f64).min(1.0);
        Rectangle::new(
            [
                (0.0, range.start + a * span),
                (1.0, range.start + top * span),
            ],
            viridis((a + b) / 2.0).filled(),
        )
    }))
    .map_err(draw_err)?;
    let yf = |v: &f64| fmt_num(*v);
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&yf)
        .label_style((FONT, SMALL))
        .draw()
        .map_err(draw_err)?;
    area.draw(&Text::new(
        title.to_string(),
        (4, top as i32 - 24),
        (FONT, SMALL).into_font().color(&BLACK),
    ))
    .map_err(draw_err)?;
    if collapsed_legend {
        let (_, h) = area.dim_in_pixel();
        let y = h as i32 - bottom as i32 + 18;
        area.draw(&Rectangle::new([(6, y), (20, y + 14)], COLLAPSED.filled()))
            .map_err(draw_err)?;
        for t in [4, 8, 12] {
            area.draw(&PathElement::new(
                vec![(6, y + t), (6 + t, y)],
                HATCH.stroke_width(1),
            ))
            .map_err(draw_err)?;
        }
        area.draw(&Text::new(
            "collapsed",
            (24, y + 1),
            (FONT, SMALL).into_font().color(&BLACK),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

/// One labelled point of a scatter (a chosen fit).
pub struct Mark {
    pub label: String,
    pub x: f64,
    pub y: f64,
}

/// Points of one colour: (x, y, hover text).
pub type Group = Vec<(f64, f64, String)>;

/// A scatter plot: groups of points (one colour each, in the legend), a front joined by a
/// line, and marked points with their labels beside them.
pub struct Scatter<'a> {
    pub title: &'a str,
    pub x_title: &'a str,
    pub y_title: &'a str,
    /// (legend name, points as (x, y, hover text)).
    pub groups: Vec<(String, Group)>,
    /// (legend name, points by x).
    pub front: (String, Vec<(f64, f64)>),
    pub marks: Vec<Mark>,
}

/// Draws the scatter.
/// Draws the scatter; x is logarithmic when it spans more than a factor of 4 (a few fits far
/// off would otherwise squeeze the front into a vertical line).
pub fn scatter(s: &Scatter<'_>) -> Result<String> {
    let (width, height) = (760u32, 480u32);
    let xs = min_max(s.groups.iter().flat_map(|g| g.1.iter().map(|p| p.0)));
    let ys = padded(
        min_max(s.groups.iter().flat_map(|g| g.1.iter().map(|p| p.1))),
        0.08,
    );
    let mut svg = String::new();
    let hover = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let hover = if xs.0 > 0.0 && xs.1 > 4.0 * xs.0 {
            let title = format!("{} (log scale)", s.x_title);
            draw_scatter(&root, s, &title, (xs.0 / 1.15..xs.1 * 1.15).log_scale(), ys)?
        } else {
            draw_scatter(&root, s, s.x_title, padded(xs, 0.06), ys)?
        };
        root.present().map_err(draw_err)?;
        hover
    };
    Ok(hover.into_svg(svg))
}

/// The body of [`scatter`], for either kind of x axis.
fn draw_scatter<X>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    s: &Scatter<'_>,
    x_title: &str,
    x: X,
    y: Range<f64>,
) -> Result<Hover>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    const LEGEND: u32 = 150;
    let (width, _) = root.dim_in_pixel();
    let mut hover = Hover::default();
    {
        let mut chart = ChartBuilder::on(root)
            .caption(s.title, (FONT, CAPTION))
            .margin(12)
            .margin_right(LEGEND)
            .x_label_area_size(50)
            .y_label_area_size(66)
            .build_cartesian_2d(x, y)
            .map_err(draw_err)?;
        let right = chart.plotting_area().get_pixel_range().0.end;
        let (xf, yf) = (|v: &f64| fmt_num(*v), |v: &f64| fmt_num(*v));
        chart
            .configure_mesh()
            .x_desc(x_title)
            .y_desc(s.y_title)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .axis_desc_style((FONT, AXIS_TITLE))
            .label_style((FONT, TICKS))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(draw_err)?;
        for (gi, (_, pts)) in s.groups.iter().enumerate() {
            let c = PALETTE[gi % PALETTE.len()];
            chart
                .draw_series(
                    pts.iter()
                        .map(|p| Circle::new((p.0, p.1), 3, c.mix(0.75).filled())),
                )
                .map_err(draw_err)?;
            for p in pts {
                hover.circle(chart.backend_coord(&(p.0, p.1)), 5, &p.2);
            }
        }
        let red = PALETTE[3];
        if !s.front.1.is_empty() {
            chart
                .draw_series(LineSeries::new(
                    s.front.1.iter().copied(),
                    red.stroke_width(2),
                ))
                .map_err(draw_err)?;
            chart
                .draw_series(s.front.1.iter().map(|p| Circle::new(*p, 3, red.filled())))
                .map_err(draw_err)?;
        }
        for m in &s.marks {
            chart
                .draw_series([Circle::new((m.x, m.y), 8, BLACK.stroke_width(2))])
                .map_err(draw_err)?;
            // Labels go right of their point, or left of it near the right edge.
            let px = chart.backend_coord(&(m.x, m.y)).0;
            let (dx, h) = if right - px < 150 {
                (-12, HPos::Right)
            } else {
                (12, HPos::Left)
            };
            let (p, q) = chart.backend_coord(&(m.x, m.y));
            root.draw(&Text::new(
                m.label.clone(),
                (p + dx, q - 10),
                (FONT, TICKS)
                    .into_font()
                    .style(FontStyle::Bold)
                    .color(&BLACK)
                    .pos(Pos::new(h, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        // The legend sits right of the plot: points can fill any corner of it.
        let x = (width - LEGEND + 10) as i32;
        let ink = (FONT, TICKS)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let mut y = 70;
        for (gi, (name, _)) in s.groups.iter().enumerate() {
            let c = PALETTE[gi % PALETTE.len()];
            root.draw(&Circle::new((x + 6, y), 4, c.filled()))
                .map_err(draw_err)?;
            root.draw(&Text::new(name.clone(), (x + 18, y), ink.clone()))
                .map_err(draw_err)?;
            y += 24;
        }
        if !s.front.1.is_empty() {
            root.draw(&PathElement::new(
                vec![(x, y), (x + 12, y)],
                red.stroke_width(2),
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(s.front.0.clone(), (x + 18, y), ink.clone()))
                .map_err(draw_err)?;
            y += 24;
        }
        if !s.marks.is_empty() {
            root.draw(&Circle::new((x + 6, y), 7, BLACK.stroke_width(2)))
                .map_err(draw_err)?;
            root.draw(&Text::new("chosen point", (x + 18, y), ink))
                .map_err(draw_err)?;
        }
    }
    Ok(hover)
}

/// Side-by-side histograms of values in [0, 1]: `bins` equal bins, one bar per series in each.
pub struct Bars<'a> {
    pub title: &'a str,
    pub x_title: &'a str,
    pub y_title: &'a str,
    pub bins: usize,
    /// (legend name, values).
    pub series: Vec<(String, Vec<f64>)>,
}

/// Draws the histograms.
pub fn bars(b: &Bars<'_>) -> Result<String> {
    let (width, height) = (720u32, 380u32);
    let bins = b.bins.max(1);
    let counts: Vec<Vec<usize>> = b
        .series
        .iter()
        .map(|(_, vals)| {
            let mut c = vec![0usize; bins];
            for v in vals.iter().filter(|v| v.is_finite()) {
                c[((v.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1)] += 1;
            }
            c
        })
        .collect();
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1);
    let mut svg = String::new();
    let mut hover = Hover::default();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(b.title, (FONT, CAPTION))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..(max as f64 * 1.15).ceil())
            .map_err(draw_err)?;
        let (xf, yf) = (|v: &f64| fmt_num(*v), |v: &f64| fmt_num(*v));
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bins + 1)
            .y_labels(max.min(8) + 1)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .x_desc(b.x_title)
            .y_desc(b.y_title)
            .axis_desc_style((FONT, AXIS_TITLE))
            .label_style((FONT, TICKS))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(draw_err)?;
        let n = b.series.len().max(1) as f64;
        let bw = 1.0 / bins as f64;
        let sub = bw * 0.84 / n;
        for (si, ((name, _), cnt)) in b.series.iter().zip(&counts).enumerate() {
            let c = PALETTE[si % PALETTE.len()];
            let rect = |k: usize| {
                let x0 = k as f64 * bw + bw * 0.08 + si as f64 * sub;
                [(x0, 0.0), (x0 + sub, cnt[k] as f64)]
            };
            chart
                .draw_series((0..bins).map(|k| Rectangle::new(rect(k), c.filled())))
                .map_err(draw_err)?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            for (k, n) in cnt.iter().enumerate() {
                let [p, q] = rect(k);
                let title = format!(
                    "{name}: {n} component(s) with sparseness in [{}, {})",
                    fmt_num(k as f64 * bw),
                    fmt_num((k + 1) as f64 * bw)
                );
                let top = (p.0, q.1.max(max as f64 * 0.02));
                hover.rect(
                    chart.backend_coord(&top),
                    chart.backend_coord(&(q.0, 0.0)),
                    &title,
                );
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FONT, TICKS))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(hover.into_svg(svg))
}

/// Line traces on a logarithmic y axis (objective values span decades).
pub struct Lines<'a> {
    pub title: &'a str,
    pub x_title: &'a str,
    pub y_title: &'a str,
    /// (legend name, points by x); y must be positive.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// Draws the traces.
pub fn lines(l: &Lines<'_>) -> Result<String> {
    let (width, height) = (720u32, 380u32);
    let positive = |p: &&(f64, f64)| p.1 > 0.0 && p.1.is_finite();
    let xs = min_max(l.series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
    let ys = min_max(
        l.series
            .iter()
            .flat_map(|s| s.1.iter().filter(positive).map(|p| p.1)),
    );
    let (ylo, yhi) = if ys.0.is_finite() && ys.1 > ys.0 {
        (ys.0 / 1.1, ys.1 * 1.1)
    } else if ys.0.is_finite() {
        (ys.0 / 2.0, ys.0 * 2.0)
    } else {
        (1.0, 10.0)
    };
    let xr = if xs.1 > xs.0 { xs.0..xs.1 } else { 0.0..1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(l.title, (FONT, CAPTION))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(66)
            .build_cartesian_2d(xr, (ylo..yhi).log_scale())
            .map_err(draw_err)?;
        let (xf, yf) = (|v: &f64| fmt_num(*v), |v: &f64| fmt_num(*v));
        chart
            .configure_mesh()
            .x_desc(l.x_title)
            .y_desc(l.y_title)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .axis_desc_style((FONT, AXIS_TITLE))
            .label_style((FONT, TICKS))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(draw_err)?;
        for (si, (name, pts)) in l.series.iter().enumerate() {
            let c = PALETTE[si % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    pts.iter().filter(positive).copied(),
                    c.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FONT, TICKS))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.1), "0.1");
        assert_eq!(fmt_num(0.6123), "0.612");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(1e-5), "1e-5");
        assert_eq!(fmt_num(2.5e7), "2.5e7");
    }

    #[test]
    fn a_heatmap_has_titles_ticks_a_colour_bar_and_hover_values() {
        let cells = [
            Some((0.2, false)),
            Some((0.4, false)),
            Some((0.9, true)),
            None,
        ];
        let svg = heatmap(&Heatmap {
            title: "cd: sparseness",
            x_title: "l1_ratio",
            x_values: &[0.0, 0.5],
            y_title: "alpha_W",
            y_values: &[0.0, 0.1],
            cells: &cells,
            value_title: "mean basis sparseness",
            bar_title: "sparseness",
        })
        .unwrap();
        for text in [
            ">\ncd: sparseness\n<",
            ">\nl1_ratio\n<",
            ">\nalpha_W\n<",
            ">\n0.5\n<",
            ">\ncollapsed\n<",
            "<title>alpha_W = 0.1, l1_ratio = 0: mean basis sparseness 0.9 (collapsed)</title>",
        ] {
            assert!(svg.contains(text), "{text:?} missing from\n{svg}");
        }
        // Three cells with a value, three hover targets.
        assert_eq!(svg.matches("<title>").count(), 3);
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
