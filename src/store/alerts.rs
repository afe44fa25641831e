//! The alerts raised and how each was delivered: the last [`KEPT`], for the admin.

use super::Store;
use crate::error::InternalError;

/// How many alerts are kept.
pub const KEPT: i64 = 100;

/// One alert as kept.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRecord {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub message: String,
    /// Milliseconds.
    pub at: i64,
    /// `pending`, `sent`, `failed` or `off`.
    pub telegram: String,
    pub webhook: String,
}

impl Store {
    /// Keeps a new alert (its deliveries pending), forgetting the oldest beyond [`KEPT`].
    pub async fn insert_alert(
        &self,
        kind: &str,
        subject: &str,
        message: &str,
        at: i64,
    ) -> Result<i64, InternalError> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO alerts (kind, subject, message, at, telegram, webhook)
             VALUES (?, ?, ?, ?, 'pending', 'pending') RETURNING id",
        )
        .bind(kind)
        .bind(subject)
        .bind(message)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM alerts WHERE id <= ? - ?")
            .bind(id)
            .bind(KEPT)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// How an alert's delivery ended, per channel.
    pub async fn alert_delivered(
        &self,
        id: i64,
        telegram: &str,
        webhook: &str,
    ) -> Result<(), InternalError> {
        sqlx::query("UPDATE alerts SET telegram = ?, webhook = ? WHERE id = ?")
            .bind(telegram)
            .bind(webhook)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Newest first.
    pub async fn alerts(&self) -> Result<Vec<AlertRecord>, InternalError> {
        Ok(
            sqlx::query_as("SELECT * FROM alerts ORDER BY id DESC LIMIT ?")
                .bind(KEPT)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
