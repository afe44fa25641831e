//! Plain types of the model: providers, slots, kinds and jobs. No I/O here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Slots per provider; all of them exist from the first start.
pub const SLOTS_PER_PROVIDER: u8 = 20;

/// One AI back-end, one admin tab.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum Provider {
    Turbotext,
    Deepseek,
    Nanobanana,
}

impl Provider {
    /// In the order of the admin tabs.
    pub const ALL: [Provider; 3] = [
        Provider::Turbotext,
        Provider::Deepseek,
        Provider::Nanobanana,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Turbotext => "turbotext",
            Provider::Deepseek => "deepseek",
            Provider::Nanobanana => "nanobanana",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Turbotext => "Turbotext",
            Provider::Deepseek => "DeepSeek",
            Provider::Nanobanana => "NanoBanana",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Provider, String> {
        Provider::parse(s).ok_or_else(|| format!("no provider is called '{s}'"))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The processing type of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum Kind {
    FaceSwap,
    Background,
    Prompt,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::FaceSwap, Kind::Background, Kind::Prompt];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::FaceSwap => "face_swap",
            Kind::Background => "background",
            Kind::Prompt => "prompt",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Face swap and background need the slot's reference image.
    pub fn needs_reference(self) -> bool {
        matches!(self, Kind::FaceSwap | Kind::Background)
    }

    /// Editing by prompt is meaningless without one.
    pub fn needs_prompt(self) -> bool {
        matches!(self, Kind::Prompt)
    }
}

/// A slot's address: provider and number `1..=20`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotId {
    pub provider: Provider,
    pub number: u8,
}

impl SlotId {
    pub fn new(provider: Provider, number: u8) -> Option<SlotId> {
        (1..=SLOTS_PER_PROVIDER)
            .contains(&number)
            .then_some(SlotId { provider, number })
    }

    /// Parses the two path segments of `/…/{provider}/{slot}`.
    pub fn parse(provider: &str, number: &str) -> Option<SlotId> {
        SlotId::new(Provider::parse(provider)?, number.parse().ok()?)
    }

    /// Every slot of every provider, tab by tab.
    pub fn all() -> impl Iterator<Item = SlotId> {
        Provider::ALL.into_iter().flat_map(|provider| {
            (1..=SLOTS_PER_PROVIDER).map(move |number| SlotId { provider, number })
        })
    }

    /// The plain upload path, answered only with "Simple links" on.
    pub fn upload_path(self) -> String {
        format!("/upload/{}/{}", self.provider, self.number)
    }

    /// How the admin names it: "NanoBanana 1".
    pub fn label(self) -> String {
        format!("{} {}", self.provider.display_name(), self.number)
    }

    /// Reads `provider/number`, as slot ids are written in fallback lists and job attempts.
    pub fn parse_joined(s: &str) -> Option<SlotId> {
        let (provider, number) = s.split_once('/')?;
        SlotId::parse(provider, number)
    }
}

impl fmt::Display for SlotId {
    /// `provider/number`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.number)
    }
}

/// At most this many fallback slots a slot may name.
pub const MAX_FALLBACKS: usize = 2;
/// Seconds a slot may take before its first fallback starts as well, unless set.
pub const DEFAULT_FALLBACK_AFTER_SECS: u32 = 25;

/// One preset as the operator configured it.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub id: SlotId,
    pub name: String,
    pub enabled: bool,
    pub kind: Kind,
    pub prompt: String,
    /// File name of the reference image inside the media references folder.
    pub reference: Option<String>,
    /// Provider options (model, strength, …), a JSON object.
    pub options: serde_json::Map<String, serde_json::Value>,
    /// Slots tried in order when this one fails or is slow (the "B plan").
    pub fallbacks: Vec<SlotId>,
    /// Seconds without an answer before the next slot starts as well; 0: only on failure.
    pub fallback_after_secs: u32,
    /// The random last segment of the slot's upload link.
    pub link_token: String,
    /// How its results are checked for people; `None`: its type's default.
    pub people_check: Option<crate::checks::PeopleRule>,
}

impl Slot {
    /// The rule its results are checked by: its own, or its type's.
    pub fn people_rule(&self) -> crate::checks::PeopleRule {
        self.people_check
            .unwrap_or_else(|| crate::checks::PeopleRule::default_for(self.kind))
    }

    /// How the admin names it: "NanoBanana 1 «Wedding»", or only the label when unnamed.
    pub fn title(&self) -> String {
        match self.name.trim() {
            "" => self.id.label(),
            name => format!("{} «{name}»", self.id.label()),
        }
    }

    /// Nothing about it was ever set: the tab shows it folded, as one line.
    pub fn is_blank(&self) -> bool {
        self.name.is_empty()
            && self.prompt.is_empty()
            && self.reference.is_none()
            && self.options.is_empty()
            && self.fallbacks.is_empty()
            && self.people_check.is_none()
            && self.kind == Kind::Prompt
    }

    /// The slot's upload link path: the plain path and its token.
    pub fn upload_path(&self) -> String {
        format!("{}/{}", self.id.upload_path(), self.link_token)
    }
}

/// Why a slot cannot take an upload right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotUnavailable {
    Disabled,
    MissingReference,
    MissingPrompt,
}

impl Slot {
    pub fn check_ready(&self) -> Result<(), SlotUnavailable> {
        if !self.enabled {
            Err(SlotUnavailable::Disabled)
        } else if self.kind.needs_reference() && self.reference.is_none() {
            Err(SlotUnavailable::MissingReference)
        } else if self.kind.needs_prompt() && self.prompt.trim().is_empty() {
            Err(SlotUnavailable::MissingPrompt)
        } else {
            Ok(())
        }
    }
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum JobStatus {
    Processing,
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Processing,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::TimedOut,
        JobStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Processing => "processing",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::TimedOut => "timed_out",
            JobStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<JobStatus, String> {
        JobStatus::parse(s).ok_or_else(|| format!("no job status is called '{s}'"))
    }
}

/// How one slot's attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum AttemptOutcome {
    Running,
    Succeeded,
    Failed,
    /// Not tried: off, not ready, or its provider down.
    Skipped,
    /// Another slot's image came first.
    Abandoned,
    /// Still running at the deadline.
    TimedOut,
    /// Drew an image that failed the result checks.
    Rejected,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Skipped => "skipped",
            AttemptOutcome::Abandoned => "abandoned",
            AttemptOutcome::TimedOut => "timed_out",
            AttemptOutcome::Rejected => "rejected",
        }
    }
}

/// One slot's attempt at a job, its times relative to the job's start.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub slot: SlotId,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub outcome: AttemptOutcome,
    pub reason: Option<String>,
    pub message: Option<String>,
    /// What the result checks made of its image; `None` where no check ran.
    pub check: Option<crate::checks::Check>,
}

/// What a provider's answer says of a model's life (Gemini's `modelStatus`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ModelStatus {
    pub model: String,
    /// `STABLE`, `PREVIEW`, `DEPRECATED`, `RETIRED`, …
    pub stage: String,
    /// When the model stops answering (ms since the epoch).
    pub retirement_ms: Option<i64>,
    pub message: Option<String>,
}

impl ModelStatus {
    /// The stage that says the model no longer answers.
    pub const RETIRED: &'static str = "RETIRED";

    pub fn is_retired(&self, now_ms: i64) -> bool {
        self.stage == ModelStatus::RETIRED || self.retirement_ms.is_some_and(|at| at <= now_ms)
    }
}

/// An image format the server accepts and answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// Recognises the format by its magic bytes, never by a client's label.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageFormat::Webp)
        } else {
            None
        }
    }

    /// The format the booth gets back: PNG keeps a transparent flow, all else is JPEG.
    pub fn result_format(self) -> ImageFormat {
        match self {
            ImageFormat::Png => ImageFormat::Png,
            _ => ImageFormat::Jpeg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_ids_cover_three_tabs_of_twenty() {
        let all: Vec<_> = SlotId::all().collect();
        assert_eq!(all.len(), 60);
        assert_eq!(all[0], SlotId::new(Provider::Turbotext, 1).unwrap());
        assert_eq!(all[59], SlotId::new(Provider::Nanobanana, 20).unwrap());
    }

    #[test]
    fn slot_id_parse_rejects_out_of_range() {
        assert!(SlotId::parse("deepseek", "0").is_none());
        assert!(SlotId::parse("deepseek", "21").is_none());
        assert!(SlotId::parse("openai", "1").is_none());
        assert!(SlotId::parse("deepseek", "x").is_none());
        assert_eq!(SlotId::parse("deepseek", "20").unwrap().number, 20);
    }

    #[test]
    fn sniff_reads_magic_bytes() {
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\nxxxx"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(ImageFormat::sniff(b"<html>"), None);
    }

    #[test]
    fn readiness_follows_kind() {
        let mut slot = Slot {
            id: SlotId::new(Provider::Deepseek, 1).unwrap(),
            name: String::new(),
            enabled: true,
            kind: Kind::Prompt,
            prompt: " ".into(),
            reference: None,
            options: Default::default(),
            fallbacks: Vec::new(),
            fallback_after_secs: DEFAULT_FALLBACK_AFTER_SECS,
            link_token: "t".into(),
            people_check: None,
        };
        assert_eq!(slot.check_ready(), Err(SlotUnavailable::MissingPrompt));
        slot.kind = Kind::FaceSwap;
        assert_eq!(slot.check_ready(), Err(SlotUnavailable::MissingReference));
        slot.reference = Some("r.jpg".into());
        assert_eq!(slot.check_ready(), Ok(()));
        slot.enabled = false;
        assert_eq!(slot.check_ready(), Err(SlotUnavailable::Disabled));
    }
}
