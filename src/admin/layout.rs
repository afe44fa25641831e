//! The frame every admin page shares, and small view pieces the pages have in common.

use super::Ctx;
use super::i18n::Strings;
use crate::domain::Provider;
use crate::providers::health::Status;

/// The frame around every page: top bar, tabs, language switch, demo banner.
pub struct Layout {
    pub t: &'static Strings,
    pub csrf: String,
    pub demo: bool,
    /// The tab or page to highlight.
    pub active: Page,
    /// Where the language switch comes back to.
    pub here: String,
    pub other_lang: &'static str,
    /// Why new photos are refused now (the disk floor), in the page's language.
    pub disk_low: Option<String>,
    /// The fire drills on, in the page's language.
    pub drills: Vec<String>,
    /// Each provider's health, in [`Provider::ALL`]'s order.
    health: Vec<Status>,
}

/// The admin's pages, as the top bar highlights them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Tab(Provider),
    Live,
    Booths,
    Events,
    Jobs,
    Settings,
    Stats,
}

pub struct Tab {
    pub provider: Provider,
    pub name: &'static str,
    pub active: bool,
    /// `ok`, `degraded` or `down`, and its words.
    pub health: &'static str,
    pub health_words: &'static str,
}

impl Layout {
    pub fn new(ctx: &Ctx, active: Page, here: String) -> Layout {
        Layout {
            t: ctx.t,
            csrf: ctx.csrf.clone(),
            demo: ctx.demo,
            active,
            here,
            other_lang: ctx.lang.other().code(),
            disk_low: ctx.disk_low.map(|low| {
                ctx.t
                    .disk_low_banner
                    .replace("{free}", &(low.free_bytes >> 20).to_string())
                    .replace("{reserve}", &(low.reserve_bytes >> 20).to_string())
            }),
            drills: ctx
                .drills
                .iter()
                .map(|(provider, until)| {
                    ctx.t
                        .drill_banner
                        .replace("{provider}", provider.display_name())
                        .replace("{until}", until)
                })
                .collect(),
            health: ctx.health.clone(),
        }
    }

    pub fn tabs(&self) -> Vec<Tab> {
        Provider::ALL
            .into_iter()
            .zip(&self.health)
            .map(|(p, &status)| Tab {
                provider: p,
                name: p.display_name(),
                active: self.active == Page::Tab(p),
                health: status.as_str(),
                health_words: self.t.health(status),
            })
            .collect()
    }

    /// ` active` on the link of the page shown.
    pub fn active_class(&self, page: Page) -> &'static str {
        if self.active == page { " active" } else { "" }
    }
}

/// One option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    /// The options of a `<select>`, the one whose value is `selected` marked.
    pub fn list(options: impl Iterator<Item = (String, String)>, selected: &str) -> Vec<Choice> {
        options
            .map(|(value, label)| Choice {
                selected: value == selected,
                value,
                label,
            })
            .collect()
    }
}
