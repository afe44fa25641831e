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

/// An event planned ahead.
#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScheduledEvent {
    pub id: i64,
    pub name: String,
    /// Milliseconds.
    pub starts_at: i64,
    pub ends_at: i64,
    /// The event it started, once it has.
    pub event_id: Option<i64>,
    pub done: bool,
}

impl Store {
    pub async fn schedule_event(
        &self,
        name: &str,
        starts_at: i64,
        ends_at: i64,
    ) -> Result<ScheduledEvent, InternalError> {
        Ok(sqlx::query_as(
            "INSERT INTO scheduled_events (name, starts_at, ends_at) VALUES (?, ?, ?) RETURNING *",
        )
        .bind(name)
        .bind(starts_at)
        .bind(ends_at)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The planned events not yet over, soonest first.
    pub async fn scheduled_events(&self) -> Result<Vec<ScheduledEvent>, InternalError> {
        Ok(
            sqlx::query_as("SELECT * FROM scheduled_events WHERE done = 0 ORDER BY starts_at, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Forgets a planned event; one it started is ended. Whether there was one.
    pub async fn unschedule_event(&self, id: i64, now: i64) -> Result<bool, InternalError> {
        let planned: Option<ScheduledEvent> =
            sqlx::query_as("SELECT * FROM scheduled_events WHERE id = ? AND done = 0")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(planned) = planned else {
            return Ok(false);
        };
        if let Some(event) = planned.event_id {
            self.end_event(event, now).await?;
        }
        self.schedule_done(id).await?;
        Ok(true)
    }

    /// A planned event has started `event`.
    pub async fn schedule_started(&self, id: i64, event: i64) -> Result<(), InternalError> {
        sqlx::query("UPDATE scheduled_events SET event_id = ? WHERE id = ?")
            .bind(event)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn schedule_done(&self, id: i64) -> Result<(), InternalError> {
        sqlx::query("UPDATE scheduled_events SET done = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
