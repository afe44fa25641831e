//! What differs between the models of one family, known by how their IDs begin. With the
//! settings' defaults, the one place that names model IDs: everything else asks the providers'
//! own model lists.

/// One family's differences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelFamily {
    pub prefix: &'static str,
    /// Gemini: takes `imageConfig.imageSize` (1K, 2K, 4K).
    pub image_size: bool,
    /// Images endpoint: any size whose sides are multiples of 16, up to 3840×2160; otherwise
    /// only 1024×1024, 1536×1024 and 1024×1536.
    pub free_size: bool,
    /// Images endpoint: takes `input_fidelity`, which keeps faces on edits.
    pub input_fidelity: bool,
}

/// Checked in order; the first family whose prefix a model ID starts with applies.
#[rustfmt::skip]
pub const MODEL_FAMILIES: &[ModelFamily] = &[
    ModelFamily { prefix: "gemini-2.", image_size: false, free_size: false, input_fidelity: false },
    ModelFamily { prefix: "gpt-image-2", image_size: false, free_size: true, input_fidelity: false },
    ModelFamily { prefix: "gpt-image-1-mini", image_size: false, free_size: false, input_fidelity: false },
    ModelFamily { prefix: "gpt-image-1", image_size: false, free_size: false, input_fidelity: true },
];

/// A model not of a known family: Gemini's current models take an image size; an unknown
/// images model gets the three sizes every GPT-image model takes, and nothing more.
const OTHER_MODELS: ModelFamily = ModelFamily {
    prefix: "",
    image_size: true,
    free_size: false,
    input_fidelity: false,
};

pub fn model_family(model: &str) -> ModelFamily {
    MODEL_FAMILIES
        .iter()
        .copied()
        .find(|f| model.starts_with(f.prefix))
        .unwrap_or(OTHER_MODELS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_families_by_prefix() {
        assert!(!model_family("gemini-2.5-flash-image").image_size);
        assert!(model_family("gemini-3-pro-image").image_size);
        assert!(model_family("gpt-image-2").free_size);
        assert!(model_family("gpt-image-1.5").input_fidelity);
        assert!(!model_family("gpt-image-1-mini").input_fidelity);
        assert!(!model_family("flux-kontext").input_fidelity);
    }
}
