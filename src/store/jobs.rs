use super::Store;
use crate::domain::{JobStatus, Kind, Provider, SlotId};
use crate::error::InternalError;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use std::collections::HashMap;

/// A job as it is recorded before any model is called.
pub struct NewJob {
    pub id: String,
    pub created_at: i64,
    pub slot: SlotId,
    pub kind: Kind,
    pub is_test: bool,
    pub original_path: String,
    pub booth_name: Option<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The slot's prompt as it was when the job started.
    pub prompt: String,
}

/// How a job ended.
pub struct Outcome {
    pub status: JobStatus,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub latency_ms: i64,
    pub model_ms: Option<i64>,
    /// Where the original lies now (it may have moved to the trash); empty when deleted.
    pub original_path: String,
    pub result_path: Option<String>,
    /// The instruction the model got, when the provider wrote it.
    pub prompt_used: Option<String>,
}

#[derive(sqlx::FromRow, Clone, Debug, Serialize)]
pub struct JobRecord {
    pub id: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub provider: Provider,
    pub slot: i64,
    pub kind: Kind,
    pub status: JobStatus,
    pub is_test: bool,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub latency_ms: Option<i64>,
    pub model_ms: Option<i64>,
    pub original_path: String,
    pub result_path: Option<String>,
    pub booth_name: Option<String>,
    pub fields: String,
    pub prompt: Option<String>,
    pub prompt_used: Option<String>,
}

#[derive(Default, Clone, Debug)]
pub struct JobFilter {
    pub provider: Option<Provider>,
    pub slot: Option<u8>,
    pub status: Option<JobStatus>,
    /// Only jobs created before this time (for paging).
    pub before: Option<i64>,
    pub limit: u32,
}

/// The three numbers statistics show for a provider, a slot or a day.
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

/// Interrupted and processing jobs are neither processed, failed nor timed out.
const COUNTS: &str = "COALESCE(SUM(status = 'succeeded'), 0) AS processed,
     COALESCE(SUM(status = 'failed'), 0) AS failed,
     COALESCE(SUM(status = 'timed_out'), 0) AS timed_out";

impl Store {
    pub async fn insert_job(&self, job: &NewJob) -> Result<(), InternalError> {
        sqlx::query(
            "INSERT INTO jobs (id, created_at, provider, slot, kind, status, is_test,
                               original_path, booth_name, fields, prompt)
             VALUES (?, ?, ?, ?, ?, 'processing', ?, ?, ?, ?, ?)",
        )
        .bind(&job.id)
        .bind(job.created_at)
        .bind(job.slot.provider)
        .bind(job.slot.number)
        .bind(job.kind)
        .bind(job.is_test)
        .bind(&job.original_path)
        .bind(&job.booth_name)
        .bind(serde_json::Value::Object(job.fields.clone()).to_string())
        .bind(&job.prompt)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_job(&self, id: &str, outcome: &Outcome) -> Result<(), InternalError> {
        sqlx::query(
            "UPDATE jobs SET status = ?, reason = ?, message = ?, latency_ms = ?, model_ms = ?,
                    original_path = ?, result_path = ?, prompt_used = ?, finished_at = ?
             WHERE id = ?",
        )
        .bind(outcome.status)
        .bind(&outcome.reason)
        .bind(&outcome.message)
        .bind(outcome.latency_ms)
        .bind(outcome.model_ms)
        .bind(&outcome.original_path)
        .bind(&outcome.result_path)
        .bind(&outcome.prompt_used)
        .bind(crate::now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Jobs a crash left half-way become `interrupted`; their originals stay where they are.
    pub async fn mark_interrupted(&self) -> Result<u64, InternalError> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'interrupted', reason = 'interrupted',
                    message = 'the server stopped while the job was running'
             WHERE status = 'processing'",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, InternalError> {
        Ok(sqlx::query_as("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Newest first.
    pub async fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, InternalError> {
        let mut query = sqlx::QueryBuilder::new("SELECT * FROM jobs WHERE 1 = 1");
        if let Some(provider) = filter.provider {
            query.push(" AND provider = ").push_bind(provider);
        }
        if let Some(slot) = filter.slot {
            query.push(" AND slot = ").push_bind(slot);
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status);
        }
        if let Some(before) = filter.before {
            query.push(" AND created_at < ").push_bind(before);
        }
        query
            .push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(filter.limit.clamp(1, 500));
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    /// Counts per provider, either of booth jobs or of the admin's test jobs.
    pub async fn provider_counts(
        &self,
        tests: bool,
    ) -> Result<HashMap<Provider, StatusCounts>, InternalError> {
        let rows: Vec<(Provider, i64, i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT provider, {COUNTS} FROM jobs WHERE is_test = ? GROUP BY provider"
        )))
        .bind(tests)
        .fetch_all(&self.pool)
        .await?;
        let mut counts: HashMap<Provider, StatusCounts> = Provider::ALL
            .into_iter()
            .map(|p| (p, StatusCounts::default()))
            .collect();
        for (provider, processed, failed, timed_out) in rows {
            counts.insert(
                provider,
                StatusCounts {
                    processed,
                    failed,
                    timed_out,
                },
            );
        }
        Ok(counts)
    }

    /// Booth jobs per slot that had any.
    pub async fn slot_counts(&self) -> Result<Vec<SlotCount>, InternalError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT provider, slot, {COUNTS} FROM jobs WHERE is_test = 0
             GROUP BY provider, slot ORDER BY provider, slot"
        )))
        .fetch_all(&self.pool)
        .await?)
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
