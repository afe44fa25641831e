use super::Store;
use crate::error::InternalError;
use std::collections::HashMap;

impl Store {
    pub async fn stored_settings(&self) -> Result<HashMap<String, String>, InternalError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM settings")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    pub async fn stored_setting(&self, key: &str) -> Result<Option<String>, InternalError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Writes several values in one transaction, so a page save is all or nothing.
    pub async fn save_settings(&self, values: &[(&str, String)]) -> Result<(), InternalError> {
        let mut tx = self.pool.begin().await?;
        for (key, value) in values {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES (?, ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
