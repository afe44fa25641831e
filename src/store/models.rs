use super::Store;
use crate::domain::ModelStatus;
use crate::error::InternalError;

impl Store {
    /// Keeps the latest word on a model's life.
    pub async fn save_model_status(&self, status: &ModelStatus) -> Result<(), InternalError> {
        sqlx::query(
            "INSERT INTO model_status (model, stage, retirement_ms, message, seen_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (model) DO UPDATE SET stage = excluded.stage,
                 retirement_ms = excluded.retirement_ms, message = excluded.message,
                 seen_at = excluded.seen_at",
        )
        .bind(&status.model)
        .bind(&status.stage)
        .bind(status.retirement_ms)
        .bind(&status.message)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn model_statuses(&self) -> Result<Vec<ModelStatus>, InternalError> {
        Ok(
            sqlx::query_as("SELECT model, stage, retirement_ms, message FROM model_status")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
