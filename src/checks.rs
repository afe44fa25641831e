//! What a model's image must pass before the booth prints it: not blank, not the guest's photo
//! handed back, and — by the slot's rule — with the people in it. Each check reads the reduced
//! copies of [`Glance`], so the whole verdict costs milliseconds.

pub mod faces;

use crate::domain::Kind;
use crate::imaging::Glance;
use serde::{Deserialize, Serialize};

/// A colour channel's spread (standard deviation, 0–255) below which the frame is one colour.
const BLANK_SPREAD: f64 = 6.0;
/// Luma below which a cell is black, and the share of black cells that make a black frame.
const BLACK_LUMA: u8 = 24;
const BLACK_SHARE: f64 = 0.98;
/// How far (the largest channel difference) a cell of the comparison square may move and still
/// count as the same pixel; a JPEG re-encode or a rescale moves cells by 1–4, a colour grade or
/// any visible edit by far more. Chosen from the measurements in BENCHMARKS.md.
const SAME_CELL: u8 = 10;
/// The share of cells allowed to differ by more than [`SAME_CELL`] in an unchanged image.
const UNCHANGED_SHARE: f64 = 0.002;

/// How a slot's result is checked for the people in the guest's photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeopleRule {
    Off,
    /// At least one face in the result.
    AtLeastOne,
    /// At least as many faces as the guest's photo had.
    AsManyAsGuest,
}

impl PeopleRule {
    pub const ALL: [PeopleRule; 3] = [
        PeopleRule::Off,
        PeopleRule::AtLeastOne,
        PeopleRule::AsManyAsGuest,
    ];

    /// A face swap must show a face; a new background must keep everyone; an edit by prompt
    /// is not checked, as styles such as comics or paintings defeat the detector.
    pub fn default_for(kind: Kind) -> PeopleRule {
        match kind {
            Kind::FaceSwap => PeopleRule::AtLeastOne,
            Kind::Background => PeopleRule::AsManyAsGuest,
            Kind::Prompt => PeopleRule::Off,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PeopleRule::Off => "off",
            PeopleRule::AtLeastOne => "at_least_one",
            PeopleRule::AsManyAsGuest => "as_many_as_guest",
        }
    }

    pub fn parse(s: &str) -> Option<PeopleRule> {
        PeopleRule::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What the checks made of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Blank,
    Unchanged,
    People,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Blank => "blank",
            Verdict::Unchanged => "unchanged",
            Verdict::People => "people",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        [
            Verdict::Passed,
            Verdict::Blank,
            Verdict::Unchanged,
            Verdict::People,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// One result's check, as the jobs JSON shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Faces in the guest's photo, where the rule needed them.
    pub faces_in: Option<u32>,
    /// Faces in the result, where the rule looked.
    pub faces_out: Option<u32>,
    pub verdict: Verdict,
    /// The verdict in words, for a failed check.
    pub reason: Option<String>,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }
}

/// Checks a result against the guest's photo: blank, then unchanged, then the people.
/// `faces_in` is the guest photo's count, needed by [`PeopleRule::AsManyAsGuest`] only;
/// `closer` makes a larger copy of the result, looked at when its faces seem too few (the
/// detector misses small faces more often than it imagines them).
pub fn judge(
    guest: &Glance,
    faces_in: Option<u32>,
    result: &Glance,
    rule: PeopleRule,
    closer: impl FnOnce() -> Option<Glance>,
) -> Check {
    let failed = |verdict: Verdict, reason: String, faces_out: Option<u32>| Check {
        faces_in,
        faces_out,
        verdict,
        reason: Some(reason),
    };
    if is_blank(result) {
        return failed(Verdict::Blank, "blank image".into(), None);
    }
    if is_unchanged(guest, result) {
        return failed(
            Verdict::Unchanged,
            "the photo came back unchanged".into(),
            None,
        );
    }
    let needed = match rule {
        PeopleRule::Off => None,
        PeopleRule::AtLeastOne => Some(1),
        PeopleRule::AsManyAsGuest => Some(faces_in.unwrap_or(0)),
    };
    let faces_out = needed.map(|needed| count_people(result, needed, closer));
    let missing = match (rule, faces_out) {
        (PeopleRule::AtLeastOne, Some(0)) => Some("no face in the result".to_owned()),
        (PeopleRule::AsManyAsGuest, Some(out)) => match faces_in {
            Some(people) if out < people => {
                Some(format!("{} of {people} people missing", people - out))
            }
            _ => None,
        },
        _ => None,
    };
    match missing {
        Some(reason) => failed(Verdict::People, reason, faces_out),
        None => Check {
            faces_in,
            faces_out,
            verdict: Verdict::Passed,
            reason: None,
        },
    }
}

/// Faces in a result, looked at again more closely when fewer than `needed` were seen.
pub fn count_people(result: &Glance, needed: u32, closer: impl FnOnce() -> Option<Glance>) -> u32 {
    let seen = faces::count(result);
    if seen >= needed {
        return seen;
    }
    closer().map_or(seen, |closer| seen.max(faces::count(&closer)))
}

/// Nearly one colour, or nearly all black.
pub fn is_blank(image: &Glance) -> bool {
    let cells = image.signature.len() / 3;
    if cells == 0 {
        return true;
    }
    let spread = (0..3)
        .map(|channel| {
            let values = image.signature.iter().skip(channel).step_by(3);
            let mean = values.clone().map(|&v| f64::from(v)).sum::<f64>() / cells as f64;
            let variance =
                values.map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / cells as f64;
            variance.sqrt()
        })
        .fold(0.0, f64::max);
    let black = image
        .signature
        .chunks_exact(3)
        .filter(|px| px.iter().all(|&c| c < BLACK_LUMA))
        .count();
    spread < BLANK_SPREAD || black as f64 >= BLACK_SHARE * cells as f64
}

/// The share of comparison cells that differ by more than a re-encode would move them.
pub fn changed_share(before: &Glance, after: &Glance) -> f64 {
    let cells = before.signature.len() / 3;
    if cells == 0 || before.signature.len() != after.signature.len() {
        return 1.0;
    }
    let changed = before
        .signature
        .chunks_exact(3)
        .zip(after.signature.chunks_exact(3))
        .filter(|(a, b)| {
            a.iter()
                .zip(b.iter())
                .any(|(x, y)| x.abs_diff(*y) > SAME_CELL)
        })
        .count();
    changed as f64 / cells as f64
}

/// The guest's photo handed back: nearly every cell where it was.
pub fn is_unchanged(guest: &Glance, result: &Glance) -> bool {
    changed_share(guest, result) <= UNCHANGED_SHARE
}
