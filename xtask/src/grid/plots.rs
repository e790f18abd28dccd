//! The report's pictures: heatmaps over the grid, basis galleries, the sparseness/error scatter
//! with its Pareto front, and the per-component sparseness histogram.

use std::path::Path;

use anyhow::Result;
use faer::MatRef;
use nmf::metrics;

use super::rows::Row;
use crate::draw::{self, Canvas};

/// Side of a heatmap cell in pixels.
const CELL: i64 = 28;

/// Range of the values of the points that did not collapse.
pub(crate) fn live_range(vals: &[Option<(f64, bool)>]) -> (f64, f64) {
    vals.iter()
        .flatten()
        .filter(|v| !v.1)
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v.0), h.max(v.0)))
}

/// A `rows x cols` heatmap of (value, collapsed) cells, row-major; missing cells are white,
/// collapsed ones grey, the rest on viridis over the live range.
pub(crate) fn heatmap(
    path: &Path,
    vals: &[Option<(f64, bool)>],
    ylab: &[f64],
    xlab: &[f64],
) -> Result<()> {
    let (rows, cols) = (ylab.len(), xlab.len());
    let left = 44;
    let bottom = 20;
    let mut c = Canvas::new(
        (left + CELL * cols as i64 + 8) as usize,
        (CELL * rows as i64 + bottom + 8) as usize,
    );
    let (lo, hi) = live_range(vals);
    for r in 0..rows {
        for q in 0..cols {
            let color = match vals[r * cols + q] {
                Some((_, true)) => draw::GREY,
                Some((v, false)) => draw::viridis(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }),
                None => draw::WHITE,
            };
            let (x, y) = (left + q as i64 * CELL, 4 + r as i64 * CELL);
            c.rect(x, y, CELL - 1, CELL - 1, color);
        }
        let t = draw::fmt_num(ylab[r]);
        let y = 4 + r as i64 * CELL + 8;
        c.text(left - 4 - draw::text_width(&t, 2), y, &t, 2, draw::BLACK);
    }
    for (q, v) in xlab.iter().enumerate() {
        // Every other label when they would overlap.
        if cols <= 12 || q % 2 == 0 {
            let (x, y) = (left + q as i64 * CELL + 2, 8 + rows as i64 * CELL);
            c.text(x, y, &draw::fmt_num(*v), 1, draw::BLACK);
        }
    }
    c.save(path)
}

/// The rows of `h` as `ih x iw` images, each scaled to its own range, its sparseness under it.
pub(crate) fn gallery(
    path: &Path,
    h: MatRef<'_, f32>,
    ih: usize,
    iw: usize,
    sp: &[f64],
) -> Result<()> {
    let k = h.nrows();
    let cols = (k as f64).sqrt().ceil() as usize;
    let rows = k.div_ceil(cols);
    // Small images (swimmer's 32 x 32) are blown up to stay legible.
    let scale = if ih <= 32 { 3 } else { 1 };
    let (tw, th) = ((iw * scale) as i64, (ih * scale) as i64);
    let cap = 14;
    let mut c = Canvas::new(
        cols * (tw as usize + 6) + 6,
        rows * (th as usize + cap + 6) + 6,
    );
    for (t, s) in sp.iter().enumerate().take(k) {
        let gx = 6 + (t % cols) as i64 * (tw + 6);
        let gy = 6 + (t / cols) as i64 * (th + cap as i64 + 6);
        tile(&mut c, h, t, (ih, iw), (gx, gy), scale);
        let label = format!("{s:.2}");
        let x = gx + (tw - draw::text_width(&label, 2)) / 2;
        c.text(x, gy + th + 3, &label, 2, draw::BLACK);
    }
    c.save(path)
}

/// Row `t` of `h` as a grey image with its top-left corner at `at`.
fn tile(
    c: &mut Canvas,
    h: MatRef<'_, f32>,
    t: usize,
    (ih, iw): (usize, usize),
    (gx, gy): (i64, i64),
    scale: usize,
) {
    let (mut lo, mut hi) = (f32::MAX, f32::MIN);
    h.row(t).iter().for_each(|&v| {
        lo = lo.min(v);
        hi = hi.max(v);
    });
    for y in 0..ih {
        for x in 0..iw {
            let v = h[(t, y * iw + x)];
            let g = if hi > lo {
                ((v - lo) / (hi - lo) * 255.0) as u8
            } else {
                0
            };
            let (px, py) = (gx + (x * scale) as i64, gy + (y * scale) as i64);
            c.rect(px, py, scale as i64, scale as i64, [g, g, g]);
        }
    }
}

/// One axis of a scatter plot: values in [lo, hi] onto `len` pixels (the middle if lo = hi).
struct Axis {
    lo: f64,
    hi: f64,
    len: i64,
}

impl Axis {
    fn over(values: impl Iterator<Item = f64>, len: i64) -> Axis {
        let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(l, u), v| (l.min(v), u.max(v)));
        Axis { lo, hi, len }
    }

    fn offset(&self, v: f64) -> i64 {
        if self.hi > self.lo {
            ((v - self.lo) / (self.hi - self.lo) * self.len as f64) as i64
        } else {
            self.len / 2
        }
    }
}

/// Every row by error (x) and mean basis sparseness (y), the Pareto front `front` (indices
/// into `rows`, by error) joined in red.
pub(crate) fn pareto_plot(path: &Path, rows: &[&Row], front: &[usize]) -> Result<()> {
    let (w, h, m) = (420i64, 300i64, 30i64);
    let mut c = Canvas::new(w as usize, h as usize);
    let ex = Axis::over(rows.iter().map(|r| r.reconstruction_err), w - 2 * m);
    let sy = Axis::over(rows.iter().map(|r| r.basis_sparseness_mean), h - 2 * m);
    let at = |r: &Row| {
        (
            m + ex.offset(r.reconstruction_err),
            h - m - sy.offset(r.basis_sparseness_mean),
        )
    };
    c.line(m, h - m, w - m, h - m, draw::BLACK);
    c.line(m, m, m, h - m, draw::BLACK);
    for r in rows {
        let (x, y) = at(r);
        c.rect(x - 1, y - 1, 3, 3, draw::BLUE);
    }
    for win in front.windows(2) {
        let ((x0, y0), (x1, y1)) = (at(rows[win[0]]), at(rows[win[1]]));
        c.line(x0, y0, x1, y1, draw::RED);
    }
    for &i in front {
        let (x, y) = at(rows[i]);
        c.rect(x - 2, y - 2, 5, 5, draw::RED);
    }
    c.text(m, h - m + 6, &draw::fmt_num(ex.lo), 2, draw::BLACK);
    let t = draw::fmt_num(ex.hi);
    c.text(
        w - m - draw::text_width(&t, 2),
        h - m + 6,
        &t,
        2,
        draw::BLACK,
    );
    c.text(2, m - 12, &draw::fmt_num(sy.hi), 2, draw::BLACK);
    c.text(2, h - m - 12, &draw::fmt_num(sy.lo), 2, draw::BLACK);
    c.save(path)
}

/// Histograms (10 bins over [0, 1]) of several sets of sparseness values, bars side by side.
pub(crate) fn histogram(path: &Path, sets: &[Vec<f64>]) -> Result<()> {
    let (w, h, m) = (420i64, 220i64, 24i64);
    let mut c = Canvas::new(w as usize, h as usize);
    let colors = [draw::BLUE, draw::ORANGE, draw::GREEN];
    let counts: Vec<[usize; 10]> = sets
        .iter()
        .map(|s| metrics::sparseness::summary(s).map_or([0; 10], |x| x.histogram))
        .collect();
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1);
    let bw = (w - 2 * m) / 10;
    let sub = (bw - 4) / sets.len().max(1) as i64;
    for (si, cnt) in counts.iter().enumerate() {
        for (b, &n) in cnt.iter().enumerate() {
            let bh = (n as f64 / max as f64 * (h - 2 * m) as f64) as i64;
            let x = m + b as i64 * bw + 2 + si as i64 * sub;
            c.rect(x, h - m - bh, sub.max(1), bh, colors[si % 3]);
        }
    }
    c.line(m, h - m, w - m, h - m, draw::BLACK);
    c.text(m, h - m + 6, "0", 2, draw::BLACK);
    c.text(w - m - 8, h - m + 6, "1", 2, draw::BLACK);
    c.text(2, m - 14, &max.to_string(), 2, draw::BLACK);
    c.save(path)
}
