//! The one model table: every model ID the server knows by name, what each takes (image sizes,
//! thinking levels, free sizes and their pixel bounds), which model follows a
//! retired one, and the built-in defaults. Everything else asks the providers' own model lists.

/// NanoBanana's built-in model (Google's recommended image model).
pub const DEFAULT_NANOBANANA: &str = "gemini-nano-banana-2.1";
/// The DeepSeek tab's built-in writer.
pub const DEFAULT_DEEPSEEK: &str = "deepseek-flash";
/// The images endpoint's built-in model.
pub const DEFAULT_IMAGES: &str = "gpt-image-2";

/// Built-in defaults of earlier versions: a stored model equal to one of these was written by
/// a Settings save, not chosen, so it is not pinned.
pub const OLD_DEFAULTS: &[&str] = &["gemini-3.1-flash-image"];

/// Any size whose sides are multiples of 16, within these bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreeSize {
    pub min_pixels: u64,
    pub max_pixels: u64,
    /// The longest side, and the longest the shorter side may be.
    pub max_side: u32,
    pub max_short_side: u32,
}

/// What one model takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelFacts {
    pub id: &'static str,
    /// Gemini's `imageConfig.imageSize` values, smallest first, with the long side each gives;
    /// none: the field is not sent.
    pub image_sizes: &'static [(&'static str, u32)],
    /// Gemini's `thinkingConfig.thinkingLevel` values it accepts; none: never sent.
    pub thinking_levels: &'static [&'static str],
    /// Images endpoint: any size within bounds; `None`: only 1024×1024, 1536×1024, 1024×1536.
    pub free_size: Option<FreeSize>,
    /// The model that takes over when this one is retired.
    pub successor: Option<&'static str>,
}

const K1: (&str, u32) = ("1K", 1024);
const K2: (&str, u32) = ("2K", 2048);
const K4: (&str, u32) = ("4K", 4096);

const fn model(id: &'static str) -> ModelFacts {
    ModelFacts {
        id,
        image_sizes: &[],
        thinking_levels: &[],
        free_size: None,
        successor: None,
    }
}

/// The models known by name. A model not listed takes only what every model of its API takes.
pub const MODELS: &[ModelFacts] = &[
    ModelFacts {
        image_sizes: &[K1, K2, K4],
        thinking_levels: &["minimal", "medium", "high"],
        ..model(DEFAULT_NANOBANANA)
    },
    ModelFacts {
        image_sizes: &[("512", 512), K1, K2, K4],
        thinking_levels: &["minimal", "high"],
        successor: Some(DEFAULT_NANOBANANA),
        ..model("gemini-3.1-flash-image")
    },
    ModelFacts {
        image_sizes: &[K1],
        thinking_levels: &["minimal", "high"],
        ..model("gemini-3.1-flash-lite-image")
    },
    ModelFacts {
        image_sizes: &[K1, K2, K4],
        ..model("gemini-3-pro-image")
    },
    ModelFacts {
        free_size: Some(FreeSize {
            min_pixels: 655_360,
            max_pixels: 3840 * 2160,
            max_side: 3840,
            max_short_side: 2160,
        }),
        ..model(DEFAULT_IMAGES)
    },
    model(DEFAULT_DEEPSEEK),
];

/// What a model takes; an unknown one, nothing beyond its API's basics.
pub fn model_facts(id: &str) -> ModelFacts {
    MODELS
        .iter()
        .copied()
        .find(|m| m.id == id)
        .unwrap_or(ModelFacts { ..model("") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_by_id_and_unknown_ones_take_nothing_extra() {
        assert_eq!(model_facts(DEFAULT_NANOBANANA).image_sizes.len(), 3);
        assert_eq!(
            model_facts("gemini-3.1-flash-lite-image").image_sizes,
            &[("1K", 1024)]
        );
        assert_eq!(
            model_facts("gemini-3.1-flash-image").successor,
            Some(DEFAULT_NANOBANANA)
        );
        assert_eq!(
            model_facts(DEFAULT_IMAGES).free_size.unwrap().min_pixels,
            655_360
        );
        let unknown = model_facts("flux-kontext");
        assert!(unknown.image_sizes.is_empty() && unknown.free_size.is_none());
        assert!(unknown.successor.is_none());
    }

    #[test]
    fn every_successor_and_old_default_is_in_the_table() {
        for m in MODELS {
            if let Some(next) = m.successor {
                assert!(MODELS.iter().any(|n| n.id == next), "{next}");
            }
        }
        for old in OLD_DEFAULTS {
            assert!(model_facts(old).successor.is_some(), "{old}");
        }
    }
}
