//! The figures of statistics and events: counts per provider, slot and day, the AI-result
//! rate, what was paid for, and response times.

use super::Store;
use crate::domain::Provider;
use crate::error::InternalError;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use std::collections::{BTreeMap, HashMap};

/// What statistics show for a provider.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProviderCounts {
    /// Images this provider drew, as the booth's slot or as a fallback.
    pub processed: i64,
    /// Jobs of its slots that ended without an image.
    pub failed: i64,
    pub timed_out: i64,
    /// Jobs of its slots that another slot answered.
    pub rescued: i64,
}

impl ProviderCounts {
    /// The counts of several providers together.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a ProviderCounts>) -> ProviderCounts {
        all.into_iter()
            .fold(ProviderCounts::default(), |total, c| ProviderCounts {
                processed: total.processed + c.processed,
                failed: total.failed + c.failed,
                timed_out: total.timed_out + c.timed_out,
                rescued: total.rescued + c.rescued,
            })
    }
}

/// What is paid for: images returned per provider, and calls to DeepSeek's prompt writer.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct Billable {
    pub images: HashMap<Provider, i64>,
    pub writer_calls: i64,
}

impl Billable {
    /// Everything several slots' jobs paid for together.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a Billable>) -> Billable {
        let mut total = Billable::default();
        for billable in all {
            for (provider, images) in &billable.images {
                *total.images.entry(*provider).or_default() += images;
            }
            total.writer_calls += billable.writer_calls;
        }
        total
    }
}

/// What the guests of a scope got: booth photos, those answered with an AI image, those that
/// reached a model, and the rest by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub photos: i64,
    pub delivered: i64,
    pub reached: i64,
    pub misses: BTreeMap<String, i64>,
}

impl Delivery {
    /// Guests with an AI photo ÷ every booth photo; `None` before there is any.
    pub fn ai_result_rate(&self) -> Option<f64> {
        (self.photos > 0).then(|| self.delivered as f64 / self.photos as f64)
    }

    /// The same over the photos that reached a model.
    pub fn model_success_rate(&self) -> Option<f64> {
        (self.reached > 0).then(|| self.delivered as f64 / self.reached as f64)
    }
}

/// The three numbers statistics show for a slot or a day.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StatusCounts {
    pub processed: i64,
    pub failed: i64,
    pub timed_out: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SlotCount {
    pub provider: Provider,
    pub slot: i64,
    #[sqlx(flatten)]
    pub counts: StatusCounts,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    #[sqlx(flatten)]
    pub counts: StatusCounts,
}

/// What the result checks did: images rejected (by the slot that drew them), and booth photos
/// rescued by a try after a rejected image.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckCounts {
    pub rejected: i64,
    pub rejected_by_slot: BTreeMap<String, i64>,
    pub rescued: i64,
    /// Rescued ÷ every booth photo of the scope.
    pub rescued_share: Option<f64>,
}

/// Which jobs a figure counts: booth jobs or the admin's tests, of one event or of all time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub tests: bool,
    pub event: Option<i64>,
    /// Only the jobs created at or after this time (ms).
    pub since: Option<i64>,
}

impl Scope {
    pub const BOOTH: Scope = Scope {
        tests: false,
        event: None,
        since: None,
    };
    pub const TESTS: Scope = Scope {
        tests: true,
        event: None,
        since: None,
    };

    pub fn event(id: i64) -> Scope {
        Scope {
            tests: false,
            event: Some(id),
            since: None,
        }
    }

    /// The same jobs, created at or after `ms`.
    pub fn since(self, ms: i64) -> Scope {
        Scope {
            since: Some(ms),
            ..self
        }
    }

    /// The condition on a jobs table aliased `j`, its parameters bound by [`Scope::bind`].
    /// Two shapes, so that SQLite uses the event index when there is an event.
    fn condition(self) -> &'static str {
        match (self.event, self.since) {
            (Some(_), None) => "j.event_id = ? AND j.is_test = ?",
            (None, None) => "j.is_test = ?",
            (Some(_), Some(_)) => "j.event_id = ? AND j.is_test = ? AND j.created_at >= ?",
            (None, Some(_)) => "j.is_test = ? AND j.created_at >= ?",
        }
    }

    fn bind<'q, O>(
        self,
        query: sqlx::query::QueryAs<'q, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments> {
        let query = match self.event {
            Some(event) => query.bind(event).bind(self.tests),
            None => query.bind(self.tests),
        };
        match self.since {
            Some(ms) => query.bind(ms),
            None => query,
        }
    }
}

/// Interrupted and processing jobs are neither processed, failed nor timed out.
const COUNTS: &str = "COALESCE(SUM(status = 'succeeded'), 0) AS processed,
     COALESCE(SUM(status = 'failed'), 0) AS failed,
     COALESCE(SUM(status = 'timed_out'), 0) AS timed_out";

impl Store {
    /// Counts per provider in a scope: images each provider drew (for its own slots or as a
    /// fallback), and the jobs of its slots that ended without one or were rescued by another
    /// slot.
    pub async fn provider_counts(
        &self,
        scope: Scope,
    ) -> Result<HashMap<Provider, ProviderCounts>, InternalError> {
        let mut counts: HashMap<Provider, ProviderCounts> = Provider::ALL
            .into_iter()
            .map(|p| (p, ProviderCounts::default()))
            .collect();
        let sql = format!(
            "SELECT provider, COALESCE(SUM(status = 'failed'), 0),
                    COALESCE(SUM(status = 'timed_out'), 0),
                    COALESCE(SUM(status = 'succeeded' AND answered_by IS NOT NULL
                                 AND answered_by != provider || '/' || slot), 0)
             FROM jobs j WHERE {} GROUP BY provider",
            scope.condition()
        );
        let ended: Vec<(Provider, i64, i64, i64)> = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        for (provider, failed, timed_out, rescued) in ended {
            let entry = counts.entry(provider).or_default();
            (entry.failed, entry.timed_out, entry.rescued) = (failed, timed_out, rescued);
        }
        let sql = format!(
            "SELECT COALESCE(substr(answered_by, 1, instr(answered_by, '/') - 1), provider)
                    AS drawer, COUNT(*)
             FROM jobs j WHERE {} AND status = 'succeeded' GROUP BY drawer",
            scope.condition()
        );
        let drawn: Vec<(Provider, i64)> = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        for (provider, processed) in drawn {
            counts.entry(provider).or_default().processed = processed;
        }
        Ok(counts)
    }

    /// How many booth photos of a scope got an AI image, of all of them and of those that
    /// reached a model (at least one slot really tried), and why the others did not.
    pub async fn delivery(&self, scope: Scope) -> Result<Delivery, InternalError> {
        let sql = format!(
            "SELECT COALESCE(SUM(status = 'succeeded'), 0), COUNT(*),
                    COALESCE(SUM(status = 'succeeded' OR EXISTS (
                        SELECT 1 FROM attempts a WHERE a.job = j.id AND a.outcome != 'skipped'
                        AND COALESCE(a.reason, '') != 'provider_not_configured')), 0)
             FROM jobs j WHERE {} AND status != 'processing'",
            scope.condition()
        );
        let (delivered, photos, reached): (i64, i64, i64) = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_one(&self.pool)
            .await?;
        let sql = format!(
            "SELECT COALESCE(reason, status), COUNT(*) FROM jobs j
             WHERE {} AND status IN ('failed', 'timed_out', 'interrupted') GROUP BY 1",
            scope.condition()
        );
        let misses: Vec<(String, i64)> = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        Ok(Delivery {
            photos,
            delivered,
            reached,
            misses: misses.into_iter().collect(),
        })
    }

    /// Jobs per slot that had any, in a scope.
    pub async fn slot_counts(&self, scope: Scope) -> Result<Vec<SlotCount>, InternalError> {
        let sql = format!(
            "SELECT provider, slot, {COUNTS} FROM jobs j WHERE {}
             GROUP BY provider, slot ORDER BY provider, slot",
            scope.condition()
        );
        Ok(scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?)
    }

    /// What the result checks did in a scope: images rejected, by the slot that drew them, and
    /// the booth photos whose AI image came from a try after a rejected one.
    pub async fn checks(&self, scope: Scope) -> Result<CheckCounts, InternalError> {
        let sql = format!(
            "SELECT a.provider || '/' || a.slot, COUNT(*) FROM attempts a JOIN jobs j ON j.id = a.job
             WHERE {} AND a.outcome = 'rejected' GROUP BY 1",
            scope.condition()
        );
        let by_slot: Vec<(String, i64)> = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        let sql = format!(
            "SELECT COALESCE(SUM(status = 'succeeded' AND check_verdict = 'passed' AND EXISTS (
                        SELECT 1 FROM attempts a WHERE a.job = j.id AND a.outcome = 'rejected')), 0),
                    COUNT(*)
             FROM jobs j WHERE {} AND status != 'processing'",
            scope.condition()
        );
        let (rescued, photos): (i64, i64) = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_one(&self.pool)
            .await?;
        Ok(CheckCounts {
            rejected: by_slot.iter().map(|(_, n)| n).sum(),
            rejected_by_slot: by_slot.into_iter().collect(),
            rescued,
            rescued_share: (photos > 0).then(|| rescued as f64 / photos as f64),
        })
    }

    /// What a scope's jobs cost: images each provider returned (every attempt that ended with
    /// an image, rejected ones included, fallbacks and hedged attempts too), and the calls DeepSeek's writer got
    /// (one for each DeepSeek attempt that ran).
    ///
    /// Per booth slot (the slot the photo was sent to, whichever slots drew for it).
    pub async fn billable(
        &self,
        scope: Scope,
    ) -> Result<BTreeMap<(Provider, i64), Billable>, InternalError> {
        let sql = format!(
            "SELECT j.provider, j.slot, a.provider,
                    COALESCE(SUM(a.outcome IN ('succeeded', 'rejected')), 0),
                    COALESCE(SUM(a.outcome != 'skipped'
                                 AND COALESCE(a.reason, '') != 'provider_not_configured'), 0)
             FROM attempts a JOIN jobs j ON j.id = a.job WHERE {}
             GROUP BY j.provider, j.slot, a.provider",
            scope.condition()
        );
        let rows: Vec<(Provider, i64, Provider, i64, i64)> = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        let mut by_slot: BTreeMap<(Provider, i64), Billable> = BTreeMap::new();
        for (provider, slot, drawer, images, ran) in rows {
            let billable = by_slot.entry((provider, slot)).or_default();
            billable.images.insert(drawer, images);
            if drawer == Provider::Deepseek {
                billable.writer_calls = ran;
            }
        }
        Ok(by_slot)
    }

    /// Latencies of a scope's ended jobs, fastest first.
    pub async fn latencies(&self, scope: Scope) -> Result<Vec<i64>, InternalError> {
        let sql = format!(
            "SELECT latency_ms FROM jobs j WHERE {} AND latency_ms IS NOT NULL
             AND status != 'processing' ORDER BY latency_ms",
            scope.condition()
        );
        let rows: Vec<(i64,)> = scope
            .bind(sqlx::query_as(AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(ms,)| ms).collect())
    }

    /// Booth jobs per UTC day since the given time, days without jobs left out.
    pub async fn daily_counts(&self, since_ms: i64) -> Result<Vec<DayCount>, InternalError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT date(created_at / 1000, 'unixepoch') AS day, {COUNTS}
             FROM jobs WHERE is_test = 0 AND created_at >= ? GROUP BY day ORDER BY day"
        )))
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?)
    }
}
