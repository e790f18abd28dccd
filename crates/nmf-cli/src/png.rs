//! Small PNG helpers (the `image` crate encodes; nothing here needs system fonts).

use std::path::Path;

use anyhow::{Context, Result};

/// Writes an 8-bit grayscale image (row-major `pixels`, `w x h`).
pub fn save_gray(path: &Path, w: u32, h: u32, pixels: Vec<u8>) -> Result<()> {
    let img =
        image::GrayImage::from_raw(w, h, pixels).context("pixel buffer does not match the size")?;
    img.save(path)
        .with_context(|| format!("writing {}", path.display()))
}

/// A matrix of values in [0, 1] as a square heatmap, each cell `scale x scale` pixels
/// (1 = black, 0 = white).
pub fn matrix_heatmap(path: &Path, values: &[f64], n: usize, scale: usize) -> Result<()> {
    let side = n * scale;
    let mut px = vec![0u8; side * side];
    for r in 0..side {
        for c in 0..side {
            let v = values[(r / scale) * n + c / scale].clamp(0.0, 1.0);
            px[r * side + c] = (255.0 * (1.0 - v)).round() as u8;
        }
    }
    save_gray(path, side as u32, side as u32, px)
}
