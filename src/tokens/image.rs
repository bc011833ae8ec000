//! Image input tokens, by the rules the vendors publish.
//!
//! - OpenAI tile-based models (gpt-4o, gpt-4.1, gpt-4.5, o1, o3, ...): `detail="low"` costs a fixed base; otherwise
//!   the image is scaled to fit 2048×2048, then (if larger) so that its short side is 768 px, and each 512 px tile
//!   costs a per-model amount on top of the base (OpenAI, "Images and vision → Calculating costs").
//! - OpenAI patch-based models (gpt-4.1-mini, gpt-4.1-nano, o4-mini): 32 px patches, at most 1536 (larger images
//!   are scaled down to fit), times a per-model multiplier, rounded up.
//! - Anthropic: about width × height / 750 tokens after scaling the long edge to at most 1568 px and the area to
//!   at most ~1,600 tokens' worth (1568×784 pixels) (Anthropic, "Vision → Calculate image costs"); Anthropic calls this an estimate.

use crate::error::{Error, Result};
use crate::tokens::models::normalize_model;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The model chooses; estimated as `high`, the larger of the two.
    Auto,
    Low,
    High,
}

impl Detail {
    pub fn parse(s: &str) -> Result<Detail> {
        match s {
            "auto" => Ok(Detail::Auto),
            "low" => Ok(Detail::Low),
            "high" => Ok(Detail::High),
            other => Err(Error::InvalidArgument(format!("detail={other:?}: expected \"auto\", \"low\" or \"high\""))),
        }
    }
}

/// How one model family prices images.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    Tiles { base: u64, per_tile: u64 },
    Patches { multiplier_pct: u64 },
    Anthropic,
}

/// Model prefix → rule, most specific first. Figures from OpenAI's vision guide (checked 2026-11-28).
const RULES: &[(&str, Rule)] = &[
    ("gpt-4.1-mini", Rule::Patches { multiplier_pct: 162 }),
    ("gpt-4.1-nano", Rule::Patches { multiplier_pct: 246 }),
    ("o4-mini", Rule::Patches { multiplier_pct: 172 }),
    ("gpt-4o-mini", Rule::Tiles { base: 2833, per_tile: 5667 }),
    ("computer-use-preview", Rule::Tiles { base: 65, per_tile: 129 }),
    ("gpt-4o", Rule::Tiles { base: 85, per_tile: 170 }),
    ("chatgpt-4o", Rule::Tiles { base: 85, per_tile: 170 }),
    ("gpt-4.1", Rule::Tiles { base: 85, per_tile: 170 }),
    ("gpt-4.5", Rule::Tiles { base: 85, per_tile: 170 }),
    ("gpt-4-turbo", Rule::Tiles { base: 85, per_tile: 170 }),
    ("o1", Rule::Tiles { base: 75, per_tile: 150 }),
    ("o3", Rule::Tiles { base: 75, per_tile: 150 }),
];

fn rule_for(model: &str) -> Result<Rule> {
    let m = normalize_model(model);
    if m.contains("claude") {
        return Ok(Rule::Anthropic);
    }
    // "o3-mini" has no vision; "o1-mini" neither: only exact families or their dated snapshots match.
    RULES
        .iter()
        .find(|(prefix, _)| {
            m == *prefix
                || m.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('-') && !rest.starts_with("-mini"))
        })
        .map(|(_, rule)| *rule)
        .ok_or_else(|| {
            let known: Vec<&str> = RULES.iter().map(|(p, _)| *p).collect();
            Error::InvalidArgument(format!(
                "no published image-token rule for model {model:?}; known: {}, and Claude models",
                known.join(", ")
            ))
        })
}

/// Scales (w, h) by `factor` (< 1) to whole pixels (rounding off float noise such as 1023.9999), at least 1.
fn scale(w: f64, h: f64, factor: f64) -> (f64, f64) {
    let px = |x: f64| (x * factor + 1e-6).floor().max(1.0);
    (px(w), px(h))
}

/// Input tokens for one image of `width` × `height` pixels sent to `model`.
pub fn image_tokens(width: u32, height: u32, model: &str, detail: Detail) -> Result<u64> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidArgument(format!(
            "image size {width}x{height}: both sides must be at least 1 pixel"
        )));
    }
    let (w, h) = (width as f64, height as f64);
    Ok(match rule_for(model)? {
        Rule::Tiles { base, per_tile } => {
            if detail == Detail::Low {
                return Ok(base);
            }
            let (mut w, mut h) = (w, h);
            if w.max(h) > 2048.0 {
                (w, h) = scale(w, h, 2048.0 / w.max(h));
            }
            if w.min(h) > 768.0 {
                (w, h) = scale(w, h, 768.0 / w.min(h));
            }
            let tiles = (w / 512.0).ceil() as u64 * (h / 512.0).ceil() as u64;
            base + per_tile * tiles
        }
        Rule::Patches { multiplier_pct } => {
            const MAX_PATCHES: f64 = 1536.0;
            let mut patches = (w / 32.0).ceil() * (h / 32.0).ceil();
            if patches > MAX_PATCHES {
                // Shrink so the area fits 1536 patches, then shrink again so whole patches fit each side.
                let r = (32.0 * 32.0 * MAX_PATCHES / (w * h)).sqrt();
                let fit = ((w * r / 32.0).floor() / (w * r / 32.0)).min((h * r / 32.0).floor() / (h * r / 32.0));
                let (sw, sh) = scale(w, h, r * fit);
                patches = ((sw / 32.0).ceil() * (sh / 32.0).ceil()).min(MAX_PATCHES);
            }
            // tokens = ceil(patches × multiplier), in integers: multiplier is given in hundredths.
            (patches as u64 * multiplier_pct).div_ceil(100)
        }
        Rule::Anthropic => {
            let (mut w, mut h) = (w, h);
            if w.max(h) > 1568.0 {
                (w, h) = scale(w, h, 1568.0 / w.max(h));
            }
            // Images of "more than ~1,600 tokens" are scaled down; the largest size Anthropic's table lists as kept
            // as is, 1568×784, sets the cap (1092×1092, 951×1268, ... all fit under it).
            const MAX_PIXELS: f64 = 1568.0 * 784.0;
            if w * h > MAX_PIXELS {
                (w, h) = scale(w, h, (MAX_PIXELS / (w * h)).sqrt());
            }
            ((w * h) / 750.0).ceil() as u64
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_tile_examples_from_the_docs() {
        // The vision guide's worked examples for gpt-4o.
        assert_eq!(image_tokens(1024, 1024, "gpt-4o", Detail::High).unwrap(), 765);
        assert_eq!(image_tokens(2048, 4096, "gpt-4o", Detail::High).unwrap(), 1105);
        assert_eq!(image_tokens(4096, 8192, "gpt-4o-2024-08-06", Detail::Low).unwrap(), 85);
        assert_eq!(image_tokens(1024, 1024, "gpt-4o-mini", Detail::High).unwrap(), 2833 + 4 * 5667);
        assert_eq!(image_tokens(1024, 1024, "o1", Detail::High).unwrap(), 75 + 4 * 150);
        assert_eq!(image_tokens(512, 512, "gpt-4.1", Detail::Auto).unwrap(), 85 + 170);
    }

    #[test]
    fn openai_patch_examples_from_the_docs() {
        // 1024×1024 is 32×32 = 1024 patches; 1800×2400 scales to 1452 patches (the guide's example).
        assert_eq!(image_tokens(1024, 1024, "gpt-4.1-mini", Detail::Auto).unwrap(), (1024u64 * 162).div_ceil(100));
        assert_eq!(image_tokens(1800, 2400, "gpt-4.1-nano", Detail::Auto).unwrap(), (1452u64 * 246).div_ceil(100));
        // 4000×1474: 5875 patches, scaled by the documented steps to 1997×736 → 63 × 23 = 1449 patches.
        assert_eq!(image_tokens(4000, 1474, "gpt-4.1-mini", Detail::High).unwrap(), (1449u64 * 162).div_ceil(100));
        assert_eq!(image_tokens(100, 100, "o4-mini-2025-04-16", Detail::High).unwrap(), (16u64 * 172).div_ceil(100));
    }

    #[test]
    fn anthropic_estimate() {
        // Anthropic's table: 1092×1092 ≈ 1590 tokens; 200×200 ≈ 54.
        assert_eq!(image_tokens(1092, 1092, "claude-sonnet-4-5", Detail::Auto).unwrap(), 1590);
        assert_eq!(image_tokens(200, 200, "anthropic/claude-3-5-haiku", Detail::Auto).unwrap(), 54);
        assert!(image_tokens(5000, 5000, "claude-opus-4-1", Detail::Auto).unwrap() <= 1640);
        assert_eq!(image_tokens(1568, 784, "claude-opus-4-1", Detail::Auto).unwrap(), (1568u64 * 784).div_ceil(750));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(image_tokens(0, 10, "gpt-4o", Detail::High).unwrap_err().to_string().contains("0x10"));
        assert!(image_tokens(10, 10, "o3-mini", Detail::High).unwrap_err().to_string().contains("no published"));
        assert!(Detail::parse("medium").unwrap_err().to_string().contains("\"medium\""));
    }
}
