use super::Store;
use crate::domain::{Kind, Provider, Slot, SlotId};
use crate::error::InternalError;
use sqlx::AssertSqlSafe;

#[derive(sqlx::FromRow)]
struct SlotRow {
    provider: Provider,
    number: i64,
    name: String,
    enabled: bool,
    kind: Kind,
    prompt: String,
    reference: Option<String>,
    options: String,
    fallbacks: String,
    fallback_after_secs: i64,
    link_token: Option<String>,
    people_check: Option<String>,
}

impl SlotRow {
    fn into_slot(self) -> Option<Slot> {
        Some(Slot {
            id: SlotId::new(self.provider, u8::try_from(self.number).ok()?)?,
            name: self.name,
            enabled: self.enabled,
            kind: self.kind,
            prompt: self.prompt,
            reference: self.reference,
            options: serde_json::from_str(&self.options).unwrap_or_default(),
            fallbacks: serde_json::from_str::<Vec<String>>(&self.fallbacks)
                .unwrap_or_default()
                .iter()
                .filter_map(|id| SlotId::parse_joined(id))
                .collect(),
            fallback_after_secs: u32::try_from(self.fallback_after_secs).unwrap_or(0),
            link_token: self.link_token?,
            people_check: self
                .people_check
                .as_deref()
                .and_then(crate::checks::PeopleRule::parse),
        })
    }
}

const SLOT_COLUMNS: &str = "provider, number, name, enabled, kind, prompt, reference, options, \
                            fallbacks, fallback_after_secs, link_token, people_check";

/// A fresh link token: 128 random bits, URL-safe (22 characters).
pub fn new_link_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

async fn set_link_token(
    tx: &mut sqlx::SqliteConnection,
    provider: Provider,
    number: i64,
) -> Result<(), InternalError> {
    sqlx::query("UPDATE slots SET link_token = ? WHERE provider = ? AND number = ?")
        .bind(new_link_token())
        .bind(provider)
        .bind(number)
        .execute(tx)
        .await?;
    Ok(())
}

/// Writes a slot's operator fields, and with `whole` its reference and link token too.
async fn update_slot(
    executor: impl sqlx::SqliteExecutor<'_>,
    slot: &Slot,
    now_ms: i64,
    whole: bool,
) -> Result<(), InternalError> {
    let sql = if whole {
        "UPDATE slots SET name = ?, enabled = ?, kind = ?, prompt = ?, options = ?, fallbacks = ?,
                fallback_after_secs = ?, people_check = ?, updated_at = ?, reference = ?,
                link_token = ?
         WHERE provider = ? AND number = ?"
    } else {
        "UPDATE slots SET name = ?, enabled = ?, kind = ?, prompt = ?, options = ?, fallbacks = ?,
                fallback_after_secs = ?, people_check = ?, updated_at = ?
         WHERE provider = ? AND number = ?"
    };
    let fallbacks: Vec<String> = slot.fallbacks.iter().map(SlotId::to_string).collect();
    let mut query = sqlx::query(sql)
        .bind(&slot.name)
        .bind(slot.enabled)
        .bind(slot.kind)
        .bind(&slot.prompt)
        .bind(serde_json::Value::Object(slot.options.clone()).to_string())
        .bind(serde_json::json!(fallbacks).to_string())
        .bind(slot.fallback_after_secs)
        .bind(slot.people_check.map(crate::checks::PeopleRule::as_str))
        .bind(now_ms);
    if whole {
        query = query.bind(&slot.reference).bind(&slot.link_token);
    }
    query
        .bind(slot.id.provider)
        .bind(slot.id.number)
        .execute(executor)
        .await?;
    Ok(())
}

impl Store {
    pub(super) async fn create_missing_slots(&self) -> Result<(), InternalError> {
        let mut tx = self.pool.begin().await?;
        for id in SlotId::all() {
            sqlx::query("INSERT OR IGNORE INTO slots (provider, number) VALUES (?, ?)")
                .bind(id.provider)
                .bind(id.number)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE slots SET link_token = NULL WHERE link_token = ''")
            .execute(&mut *tx)
            .await?;
        let tokenless: Vec<(Provider, i64)> =
            sqlx::query_as("SELECT provider, number FROM slots WHERE link_token IS NULL")
                .fetch_all(&mut *tx)
                .await?;
        for (provider, number) in tokenless {
            set_link_token(&mut tx, provider, number).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives a slot a new upload link; the old one stops working at once.
    pub async fn renew_link(&self, id: SlotId) -> Result<(), InternalError> {
        let mut tx = self.pool.begin().await?;
        set_link_token(&mut tx, id.provider, i64::from(id.number)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives every slot a new upload link, in one transaction.
    pub async fn renew_all_links(&self) -> Result<(), InternalError> {
        let mut tx = self.pool.begin().await?;
        for id in SlotId::all() {
            set_link_token(&mut tx, id.provider, i64::from(id.number)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn slot(&self, id: SlotId) -> Result<Slot, InternalError> {
        let row: SlotRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SLOT_COLUMNS} FROM slots WHERE provider = ? AND number = ?"
        )))
        .bind(id.provider)
        .bind(id.number)
        .fetch_one(&self.pool)
        .await?;
        row.into_slot()
            .ok_or_else(|| InternalError::Other(format!("corrupt slot row {id:?}")))
    }

    /// The token of a slot's upload link.
    pub async fn link_token(&self, id: SlotId) -> Result<String, InternalError> {
        let token: Option<String> =
            sqlx::query_scalar("SELECT link_token FROM slots WHERE provider = ? AND number = ?")
                .bind(id.provider)
                .bind(id.number)
                .fetch_one(&self.pool)
                .await?;
        Ok(token.unwrap_or_default())
    }

    /// All 60 slots, tab by tab.
    pub async fn all_slots(&self) -> Result<Vec<Slot>, InternalError> {
        let mut all = Vec::new();
        for provider in Provider::ALL {
            all.extend(self.slots(provider).await?);
        }
        Ok(all)
    }

    /// The 20 slots of one tab, in order.
    pub async fn slots(&self, provider: Provider) -> Result<Vec<Slot>, InternalError> {
        let rows: Vec<SlotRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SLOT_COLUMNS} FROM slots WHERE provider = ? ORDER BY number"
        )))
        .bind(provider)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter_map(SlotRow::into_slot).collect())
    }

    /// Saves the operator's fields of one slot; the reference image has its own call.
    pub async fn save_slot(&self, slot: &Slot) -> Result<(), InternalError> {
        update_slot(&self.pool, slot, self.clock.now_ms(), false).await
    }

    /// Replaces the given slots whole — fields, reference and link token — in one
    /// transaction; the reference files they pointed at before.
    pub async fn replace_slots(&self, slots: &[Slot]) -> Result<Vec<String>, InternalError> {
        let mut tx = self.pool.begin().await?;
        let mut previous = Vec::new();
        for slot in slots {
            let reference: Option<String> =
                sqlx::query_scalar("SELECT reference FROM slots WHERE provider = ? AND number = ?")
                    .bind(slot.id.provider)
                    .bind(slot.id.number)
                    .fetch_one(&mut *tx)
                    .await?;
            previous.extend(reference);
            update_slot(&mut *tx, slot, self.clock.now_ms(), true).await?;
        }
        tx.commit().await?;
        Ok(previous)
    }

    /// Points the slot at a new reference file (or none) and gives back the one it replaced.
    pub async fn set_reference(
        &self,
        id: SlotId,
        reference: Option<&str>,
    ) -> Result<Option<String>, InternalError> {
        let mut tx = self.pool.begin().await?;
        let previous: Option<String> =
            sqlx::query_scalar("SELECT reference FROM slots WHERE provider = ? AND number = ?")
                .bind(id.provider)
                .bind(id.number)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE slots SET reference = ?, updated_at = ? WHERE provider = ? AND number = ?",
        )
        .bind(reference)
        .bind(self.clock.now_ms())
        .bind(id.provider)
        .bind(id.number)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(previous)
    }
}
