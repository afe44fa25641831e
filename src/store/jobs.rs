use super::Store;
use crate::domain::{Attempt, AttemptOutcome, JobStatus, Kind, Provider, SlotId};
use crate::error::InternalError;
use serde::Serialize;

/// A job as it is recorded before any model is called.
pub struct NewJob {
    pub id: String,
    pub created_at: i64,
    pub slot: SlotId,
    pub kind: Kind,
    pub is_test: bool,
    pub original_path: String,
    pub booth_name: Option<String>,
    /// Where the booth's request came from; `None` for the admin's test.
    pub booth_address: Option<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The prompt as it was sent: the slot's, its placeholders filled.
    pub prompt: String,
    /// The event running when the booth sent it.
    pub event: Option<i64>,
}

/// How a job ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The slot whose model drew the result.
    pub answered_by: Option<SlotId>,
    /// Every slot the job tried, in order.
    pub attempts: Vec<Attempt>,
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
    /// The chain met a provider under a fire drill.
    pub drill: bool,
    /// The verdict of the image answered, where the checks looked at it.
    pub check: Option<crate::checks::Verdict>,
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
    pub answered_by: Option<String>,
    pub event_id: Option<i64>,
    pub drill: bool,
    /// `passed`, or `people` for an image answered although people were missing.
    pub check_verdict: Option<String>,
}

#[derive(Default, Clone, Debug)]
pub struct JobFilter {
    /// Only this one job.
    pub id: Option<String>,
    /// Only jobs that ended without a photo (failed, timed out or interrupted).
    pub failures: bool,
    pub provider: Option<Provider>,
    pub slot: Option<u8>,
    pub status: Option<JobStatus>,
    pub event: Option<i64>,
    /// Only jobs created before this time (for paging).
    pub before: Option<i64>,
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    provider: Provider,
    slot: i64,
    started_ms: i64,
    ended_ms: i64,
    outcome: AttemptOutcome,
    reason: Option<String>,
    message: Option<String>,
    check_json: Option<String>,
}

impl AttemptRow {
    fn into_attempt(self) -> Option<Attempt> {
        Some(Attempt {
            slot: SlotId::new(self.provider, u8::try_from(self.slot).ok()?)?,
            started_ms: self.started_ms,
            ended_ms: Some(self.ended_ms),
            outcome: self.outcome,
            reason: self.reason,
            message: self.message,
            check: self
                .check_json
                .and_then(|json| serde_json::from_str(&json).ok()),
        })
    }
}

impl Store {
    pub async fn insert_job(&self, job: &NewJob) -> Result<(), InternalError> {
        sqlx::query(
            "INSERT INTO jobs (id, created_at, provider, slot, kind, status, is_test,
                               original_path, booth_name, booth_address, fields, prompt,
                               event_id)
             VALUES (?, ?, ?, ?, ?, 'processing', ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&job.id)
        .bind(job.created_at)
        .bind(job.slot.provider)
        .bind(job.slot.number)
        .bind(job.kind)
        .bind(job.is_test)
        .bind(&job.original_path)
        .bind(&job.booth_name)
        .bind(&job.booth_address)
        .bind(serde_json::Value::Object(job.fields.clone()).to_string())
        .bind(&job.prompt)
        .bind(job.event)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a job's end and its attempts, in one transaction.
    pub async fn finish_job(&self, id: &str, outcome: &Outcome) -> Result<(), InternalError> {
        let mut tx = self.pool.begin().await?;
        for (seq, attempt) in outcome.attempts.iter().enumerate() {
            sqlx::query(
                "INSERT OR REPLACE INTO attempts
                    (job, seq, provider, slot, started_ms, ended_ms, outcome, reason, message,
                     check_json)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(seq as i64)
            .bind(attempt.slot.provider)
            .bind(attempt.slot.number)
            .bind(attempt.started_ms)
            .bind(attempt.ended_ms.unwrap_or(attempt.started_ms))
            .bind(attempt.outcome)
            .bind(&attempt.reason)
            .bind(&attempt.message)
            .bind(
                attempt
                    .check
                    .as_ref()
                    .and_then(|check| serde_json::to_string(check).ok()),
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE jobs SET status = ?, reason = ?, message = ?, latency_ms = ?, model_ms = ?,
                    original_path = ?, result_path = ?, prompt_used = ?, answered_by = ?,
                    finished_at = ?, drill = ?, check_verdict = ?
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
        .bind(outcome.answered_by.map(|slot| slot.to_string()))
        .bind(self.clock.now_ms())
        .bind(outcome.drill)
        .bind(outcome.check.map(crate::checks::Verdict::as_str))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A job's attempts, in order.
    pub async fn attempts(&self, job: &str) -> Result<Vec<Attempt>, InternalError> {
        let rows: Vec<AttemptRow> = sqlx::query_as(
            "SELECT provider, slot, started_ms, ended_ms, outcome, reason, message, check_json
             FROM attempts WHERE job = ? ORDER BY seq",
        )
        .bind(job)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(AttemptRow::into_attempt)
            .collect())
    }

    /// Jobs a crash left half-way become `interrupted`; their originals stay where they are,
    /// and `locate` says where that is (a job's end may have moved one without recording it).
    pub async fn mark_interrupted(
        &self,
        locate: impl Fn(&str) -> Option<String>,
    ) -> Result<u64, InternalError> {
        let left: Vec<(String, String)> =
            sqlx::query_as("SELECT id, original_path FROM jobs WHERE status = 'processing'")
                .fetch_all(&self.pool)
                .await?;
        for (id, recorded) in &left {
            let original_path = locate(recorded).unwrap_or_else(|| recorded.clone());
            sqlx::query(
                "UPDATE jobs SET status = 'interrupted', reason = 'interrupted',
                        message = 'the server stopped while the job was running',
                        original_path = ?
                 WHERE id = ?",
            )
            .bind(original_path)
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(left.len() as u64)
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
        if let Some(id) = &filter.id {
            query.push(" AND id = ").push_bind(id.clone());
        }
        if filter.failures {
            query.push(" AND status IN ('failed', 'timed_out', 'interrupted')");
        }
        if let Some(provider) = filter.provider {
            query.push(" AND provider = ").push_bind(provider);
        }
        if let Some(slot) = filter.slot {
            query.push(" AND slot = ").push_bind(slot);
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status);
        }
        if let Some(event) = filter.event {
            query.push(" AND event_id = ").push_bind(event);
        }
        if let Some(before) = filter.before {
            query.push(" AND created_at < ").push_bind(before);
        }
        query
            .push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(filter.limit.clamp(1, 500));
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }
}
