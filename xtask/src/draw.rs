//! A tiny raster canvas for the report's pictures: rectangles, lines, a colour map and a 3 x 5
//! pixel font for numbers, so no system font library is ever needed.

use std::path::Path;

use anyhow::{Context, Result};

/// An RGB image being drawn.
pub struct Canvas {
    pub w: usize,
    pub h: usize,
    px: Vec<u8>,
}

pub type Rgb = [u8; 3];
pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];
pub const GREY: Rgb = [170, 170, 170];
pub const RED: Rgb = [214, 39, 40];
pub const BLUE: Rgb = [31, 119, 180];
pub const GREEN: Rgb = [44, 160, 44];
pub const ORANGE: Rgb = [255, 127, 14];

impl Canvas {
    pub fn new(w: usize, h: usize) -> Self {
        Canvas {
            w,
            h,
            px: vec![255; w * h * 3],
        }
    }

    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    pub fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        let n = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
        for t in 0..=n {
            let x = x0 + (x1 - x0) * t / n;
            let y = y0 + (y1 - y0) * t / n;
            self.set(x, y, c);
        }
    }

    /// Draws `text` (digits, '.', '-', 'e', 'x', ' ') with its top-left at (x, y), each font
    /// pixel `scale x scale`. Returns the width drawn.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: Rgb) -> i64 {
        let mut cx = x;
        for ch in text.chars() {
            if let Some(rows) = glyph(ch) {
                for (r, bits) in rows.iter().enumerate() {
                    for col in 0..3 {
                        if bits & (4 >> col) != 0 {
                            self.rect(cx + col * scale, y + r as i64 * scale, scale, scale, c);
                        }
                    }
                }
            }
            cx += 4 * scale;
        }
        cx - x
    }

    pub fn save(self, path: &Path) -> Result<()> {
        let img = image::RgbImage::from_raw(self.w as u32, self.h as u32, self.px)
            .context("canvas size")?;
        img.save(path)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Width in pixels of `text` at `scale`.
pub fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().count() as i64 * 4 * scale
}

fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        'e' => [0, 7, 7, 4, 7],
        'x' => [0, 5, 2, 5, 0],
        ' ' => [0, 0, 0, 0, 0],
        _ => return None,
    })
}

/// Viridis, approximated by linear interpolation between five anchors; `t` in [0, 1].
pub fn viridis(t: f64) -> Rgb {
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
    [mix(0), mix(1), mix(2)]
}

/// Short number for labels: 3 significant digits.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e4).contains(&a) {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    if s.is_empty() { "0".into() } else { s }
}
