//! scikit-learn's elastic-net penalties on W and H, with its scaling.
//!
//! The minimised objective is
//! `D_beta(X | WH) + l1_W·ΣW + ½·l2_W·‖W‖² + l1_H·ΣH + ½·l2_H·‖H‖²` with
//! `l1_W = m·alpha_W·l1_ratio`, `l2_W = m·alpha_W·(1 − l1_ratio)` (m = n_features) and the H terms
//! scaled by n = n_samples, exactly as scikit-learn ≥ 1.0, so tuned values carry over both ways.

use crate::check::ensure_in_range;
use crate::error::CoreError;

/// `alpha_H`: a number, or "the same as `alpha_W`" (scikit-learn's default `"same"`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AlphaH {
    /// Use `alpha_W` for H as well.
    #[default]
    Same,
    /// An explicit value (>= 0).
    Value(f64),
}

impl From<f64> for AlphaH {
    fn from(v: f64) -> Self {
        AlphaH::Value(v)
    }
}

impl core::fmt::Display for AlphaH {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AlphaH::Same => f.write_str("same"),
            AlphaH::Value(v) => write!(f, "{v}"),
        }
    }
}

/// Unscaled penalty parameters as the user gives them.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Regularization {
    /// Penalty strength on W (>= 0).
    pub alpha_w: f64,
    /// Penalty strength on H (>= 0 or `Same`).
    pub alpha_h: AlphaH,
    /// Share of L1 in the elastic net, in [0, 1].
    pub l1_ratio: f64,
}

impl Default for Regularization {
    fn default() -> Self {
        Regularization {
            alpha_w: 0.0,
            alpha_h: AlphaH::Same,
            l1_ratio: 0.0,
        }
    }
}

impl Regularization {
    /// Checks the ranges: alphas finite and >= 0, `l1_ratio` in [0, 1].
    pub fn validate(&self) -> Result<(), CoreError> {
        ensure_in_range(
            "alpha_w",
            self.alpha_w,
            0.0,
            f64::MAX,
            "a finite number >= 0",
        )?;
        if let AlphaH::Value(a) = self.alpha_h {
            ensure_in_range(
                "alpha_h",
                a,
                0.0,
                f64::MAX,
                "a finite number >= 0 or \"same\"",
            )?;
        }
        ensure_in_range("l1_ratio", self.l1_ratio, 0.0, 1.0, "a number in [0, 1]")
    }

    /// The effective `alpha_H`.
    pub fn alpha_h_value(&self) -> f64 {
        match self.alpha_h {
            AlphaH::Same => self.alpha_w,
            AlphaH::Value(v) => v,
        }
    }

    /// Scaled coefficients for data with `n_samples` rows and `n_features` columns.
    pub fn scaled(&self, n_samples: usize, n_features: usize) -> Penalties {
        let (m, n) = (n_features as f64, n_samples as f64);
        let ah = self.alpha_h_value();
        Penalties {
            l1_w: m * self.alpha_w * self.l1_ratio,
            l2_w: m * self.alpha_w * (1.0 - self.l1_ratio),
            l1_h: n * ah * self.l1_ratio,
            l2_h: n * ah * (1.0 - self.l1_ratio),
        }
    }
}

/// Scaled penalty coefficients (what the solvers use).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Penalties {
    /// L1 coefficient on W.
    pub l1_w: f64,
    /// L2 coefficient on W (the objective has ½·l2_w·‖W‖²).
    pub l2_w: f64,
    /// L1 coefficient on H.
    pub l1_h: f64,
    /// L2 coefficient on H.
    pub l2_h: f64,
}

impl Penalties {
    /// No penalty at all.
    pub const NONE: Penalties = Penalties {
        l1_w: 0.0,
        l2_w: 0.0,
        l1_h: 0.0,
        l2_h: 0.0,
    };

    /// `true` when every coefficient is zero.
    pub fn is_zero(&self) -> bool {
        *self == Self::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_follows_sklearn() {
        let r = Regularization {
            alpha_w: 0.5,
            alpha_h: AlphaH::Same,
            l1_ratio: 0.25,
        };
        // 4 samples, 5 features: W terms scale with 5, H terms with 4.
        let p = r.scaled(4, 5);
        assert_eq!(p.l1_w, 5.0 * 0.5 * 0.25);
        assert_eq!(p.l2_w, 5.0 * 0.5 * 0.75);
        assert_eq!(p.l1_h, 4.0 * 0.5 * 0.25);
        assert_eq!(p.l2_h, 4.0 * 0.5 * 0.75);
        let r0 = Regularization {
            alpha_h: AlphaH::Value(0.0),
            ..r
        };
        assert_eq!(r0.scaled(4, 5).l1_h, 0.0);
    }

    #[test]
    fn validation() {
        assert!(Regularization::default().validate().is_ok());
        let bad = |r: Regularization| r.validate().is_err();
        assert!(bad(Regularization {
            alpha_w: -1.0,
            ..Default::default()
        }));
        assert!(bad(Regularization {
            l1_ratio: 1.5,
            ..Default::default()
        }));
        assert!(bad(Regularization {
            alpha_h: AlphaH::Value(f64::NAN),
            ..Default::default()
        }));
        assert!(bad(Regularization {
            alpha_w: f64::INFINITY,
            ..Default::default()
        }));
    }
}
