//! The figures of a stretch of work (an event, the Statistics page): counts, the AI-result
//! rate, response times and what the images cost by the prices on Settings.

use crate::clock::iso_time;
use crate::config::Settings;
use crate::domain::Provider;
use crate::error::InternalError;
use crate::providers::registry::REGISTRY;
use crate::store::{Billable, CheckCounts, Delivery, EventRecord, ProviderCounts, Scope, Store};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What images cost, by the prices set on Settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    pub currency: String,
    pub total: f64,
    pub by_provider: BTreeMap<Provider, f64>,
}

impl Cost {
    /// Images × each provider's price per image, and DeepSeek's writer calls × their price
    /// (counted with DeepSeek).
    pub fn of(billable: &Billable, settings: &Settings) -> Cost {
        let by_provider: BTreeMap<Provider, f64> = REGISTRY
            .iter()
            .map(|spec| {
                let images = billable.images.get(&spec.provider).copied().unwrap_or(0) as f64;
                let writer = (spec.writer_price)(settings)
                    .map_or(0.0, |price| billable.writer_calls as f64 * price);
                (
                    spec.provider,
                    round_money(images * (spec.price)(settings) + writer),
                )
            })
            .collect();
        Cost {
            currency: settings.costs.currency.clone(),
            total: round_money(by_provider.values().sum()),
            by_provider,
        }
    }

    /// "5.42 USD".
    pub fn total_label(&self) -> String {
        format!("{} {}", money(self.total), self.currency)
    }

    /// The total without the currency, for a table whose heading names it.
    pub fn amount_label(&self) -> String {
        money(self.total)
    }

    pub fn provider_label(&self, provider: &Provider) -> String {
        money(self.by_provider.get(provider).copied().unwrap_or(0.0))
    }
}

/// "97.5 %", or a dash before there is anything to count.
pub fn percent_label(rate: Option<f64>) -> String {
    rate.map_or("—".into(), |r| format!("{:.1} %", r * 100.0))
}

fn round_money(amount: f64) -> f64 {
    (amount * 10_000.0).round() / 10_000.0
}

/// Two decimals, or up to four when the amount is smaller than a cent's worth would show.
fn money(amount: f64) -> String {
    let two = format!("{amount:.2}");
    if amount == 0.0 || (amount * 100.0).fract().abs() < 1e-9 {
        two
    } else {
        format!("{amount:.4}").trim_end_matches('0').to_owned()
    }
}

/// One slot's share of an event: the photos sent to it, and what they cost (whichever slots
/// drew them).
#[derive(Clone, Debug, Serialize)]
pub struct SlotShare {
    pub slot: String,
    pub jobs: i64,
    pub succeeded: i64,
    pub cost: f64,
}

/// Nearest-rank percentiles of the jobs' response times.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Latency {
    pub p50: Option<i64>,
    pub p95: Option<i64>,
}

impl Latency {
    fn of(sorted: &[i64]) -> Latency {
        let at = |p: f64| {
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
        };
        Latency {
            p50: at(50.0),
            p95: at(95.0),
        }
    }
}

/// An event and its figures, as its JSON and its row on the Events page give them.
#[derive(Clone, Debug)]
pub struct Report {
    pub event: EventRecord,
    pub jobs: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub timed_out: i64,
    pub rescued: i64,
    /// What the guests got: AI photos of all booth photos, and the misses by reason.
    pub delivery: Delivery,
    /// Images the result checks rejected, and photos a later try rescued.
    pub checks: CheckCounts,
    pub latency: Latency,
    pub cost: Cost,
    pub by_slot: Vec<SlotShare>,
}

impl Report {
    pub async fn build(
        store: &Store,
        settings: &Settings,
        event: EventRecord,
    ) -> Result<Report, InternalError> {
        let scope = Scope::event(event.id);
        let providers = store.provider_counts(scope).await?;
        let slots = store.slot_counts(scope).await?;
        let billable = store.billable(scope).await?;
        let by_slot: Vec<SlotShare> = slots
            .iter()
            .map(|s| SlotShare {
                slot: format!("{}/{}", s.provider, s.slot),
                jobs: s.counts.processed + s.counts.failed + s.counts.timed_out,
                succeeded: s.counts.processed,
                cost: billable
                    .get(&(s.provider, s.slot))
                    .map_or(0.0, |b| Cost::of(b, settings).total),
            })
            .collect();
        let total = ProviderCounts::sum(providers.values());
        Ok(Report {
            jobs: by_slot.iter().map(|s| s.jobs).sum(),
            succeeded: total.processed,
            failed: total.failed,
            timed_out: total.timed_out,
            rescued: total.rescued,
            delivery: store.delivery(scope).await?,
            checks: store.checks(scope).await?,
            latency: Latency::of(&store.latencies(scope).await?),
            cost: Cost::of(&Billable::sum(billable.values()), settings),
            by_slot,
            event,
        })
    }

    pub fn json(&self) -> Value {
        json!({
            "id": self.event.id,
            "name": self.event.name,
            "started_at": iso_time(self.event.started_at),
            "ended_at": self.event.ended_at.map(iso_time),
            "jobs": self.jobs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "timed_out": self.timed_out,
            "rescued": self.rescued,
            "ai_result_rate": self.delivery.ai_result_rate(),
            "model_success_rate": self.delivery.model_success_rate(),
            "misses": self.delivery.misses,
            "checks": self.checks,
            "latency_ms": self.latency,
            "cost": self.cost,
            "by_slot": self.by_slot,
        })
    }

    /// "97.5 %", or a dash before any job reached a model.
    pub fn rate_label(&self) -> String {
        percent_label(self.delivery.ai_result_rate())
    }

    pub fn latency_label(&self) -> String {
        let seconds =
            |ms: Option<i64>| ms.map_or("—".into(), |ms| format!("{:.1}", ms as f64 / 1000.0));
        format!(
            "{} / {}",
            seconds(self.latency.p50),
            seconds(self.latency.p95)
        )
    }

    pub fn started_label(&self) -> String {
        iso_time(self.event.started_at)
    }

    pub fn ended_label(&self) -> Option<String> {
        self.event.ended_at.map(iso_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let latency = Latency::of(&(1..=100).collect::<Vec<_>>());
        assert_eq!((latency.p50, latency.p95), (Some(50), Some(95)));
        let one = Latency::of(&[700]);
        assert_eq!((one.p50, one.p95), (Some(700), Some(700)));
        assert_eq!(Latency::of(&[]).p50, None);
    }

    #[test]
    fn cost_prices_images_and_the_writer_s_calls_when_it_runs() {
        let stored = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let billable = Billable {
            images: [(Provider::Nanobanana, 3), (Provider::Deepseek, 2)].into(),
            writer_calls: 4,
        };
        let prices = [
            ("price_nanobanana", "0.039"),
            ("price_deepseek", "0.04"),
            ("price_deepseek_writer", "0.001"),
            ("currency", "EUR"),
        ];
        let without_key = Settings::resolve(&Default::default(), &stored(&prices));
        let cost = Cost::of(&billable, &without_key);
        assert_eq!(cost.by_provider[&Provider::Nanobanana], 0.117);
        assert_eq!(cost.by_provider[&Provider::Deepseek], 0.08);
        assert_eq!(cost.total, 0.197);
        assert_eq!(cost.total_label(), "0.197 EUR");
        let mut with_key = prices.to_vec();
        with_key.push(("deepseek_api_key", "sk-1"));
        let cost = Cost::of(
            &billable,
            &Settings::resolve(&Default::default(), &stored(&with_key)),
        );
        assert_eq!(cost.by_provider[&Provider::Deepseek], 0.084);
    }

    #[test]
    fn money_shows_cents_or_the_fraction_that_matters() {
        assert_eq!(money(5.42), "5.42");
        assert_eq!(money(0.039), "0.039");
        assert_eq!(money(0.0), "0.00");
    }
}
