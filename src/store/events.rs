use super::Store;
use crate::error::InternalError;
use serde::Serialize;

/// Longest event name, in characters.
pub const MAX_EVENT_NAME: usize = 120;

#[derive(sqlx::FromRow, Clone, Debug, Serialize)]
pub struct EventRecord {
    pub id: i64,
    pub name: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

impl Store {
    /// Starts an event, ending the one that was running.
    pub async fn start_event(&self, name: &str, now: i64) -> Result<EventRecord, InternalError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE events SET ended_at = ? WHERE ended_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let event =
            sqlx::query_as("INSERT INTO events (name, started_at) VALUES (?, ?) RETURNING *")
                .bind(name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Ends an event; one that has ended stays as it was. `None` when there is no such event.
    pub async fn end_event(&self, id: i64, now: i64) -> Result<Option<EventRecord>, InternalError> {
        sqlx::query("UPDATE events SET ended_at = ? WHERE id = ? AND ended_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.event(id).await
    }

    pub async fn event(&self, id: i64) -> Result<Option<EventRecord>, InternalError> {
        Ok(sqlx::query_as("SELECT * FROM events WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The event running now, if any.
    pub async fn running_event(&self) -> Result<Option<EventRecord>, InternalError> {
        Ok(
            sqlx::query_as("SELECT * FROM events WHERE ended_at IS NULL")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Newest first.
    pub async fn events(&self) -> Result<Vec<EventRecord>, InternalError> {
        Ok(
            sqlx::query_as("SELECT * FROM events ORDER BY started_at DESC, id DESC")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A page of an event's ended jobs, oldest first, after the given (time, id): an export
    /// reads them page by page, never holding a connection or every row.
    pub async fn event_jobs_page(
        &self,
        id: i64,
        after: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<super::JobRecord>, InternalError> {
        let (time, job) = after.unwrap_or((i64::MIN, ""));
        Ok(sqlx::query_as(
            "SELECT * FROM jobs WHERE event_id = ? AND status != 'processing'
               AND (created_at, id) > (?, ?)
             ORDER BY created_at, id LIMIT ?",
        )
        .bind(id)
        .bind(time)
        .bind(job)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
