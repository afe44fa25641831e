//! The booths seen: from their photos (the form's `name`, else the address) and from their
//! wrong upload passwords, one aggregated row per address and name.

use super::Store;
use crate::error::InternalError;
use std::collections::BTreeMap;

const HOUR_MS: i64 = 3_600_000;

/// What the Booths page shows of one booth.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct BoothRecord {
    /// The form's `name` (DSLR Remote Pro sends the computer's); `None` for a booth known by
    /// its address only.
    pub name: Option<String>,
    /// Where its last request came from.
    pub address: Option<String>,
    /// Milliseconds; the JSON gives it as ISO 8601 instead.
    #[serde(skip)]
    pub last_seen: i64,
    pub photos: i64,
    pub event_photos: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub last_status: Option<String>,
    pub last_reason: Option<String>,
    pub wrong_passwords_1h: i64,
}

type JobRow = (
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

impl Store {
    /// A wrong upload password: counted on its address's row (and booth name's, when the name
    /// came before the password), the hour's window restarted when it has passed.
    pub async fn record_wrong_password(
        &self,
        address: &str,
        booth_name: Option<&str>,
        slot_path: &str,
    ) -> Result<(), InternalError> {
        sqlx::query(
            "INSERT INTO wrong_passwords
                 (address, booth_name, slot_path, first_at, last_at, count, window_at, window_count)
             VALUES (?1, ?2, ?3, ?4, ?4, 1, ?4, 1)
             ON CONFLICT (address, booth_name) DO UPDATE SET
                 slot_path = excluded.slot_path, last_at = excluded.last_at, count = count + 1,
                 window_count = CASE WHEN window_at < excluded.last_at - ?5 THEN 1
                                     ELSE window_count + 1 END,
                 window_at = CASE WHEN window_at < excluded.last_at - ?5 THEN excluded.last_at
                                  ELSE window_at END",
        )
        .bind(address)
        .bind(booth_name.unwrap_or_default())
        .bind(slot_path)
        .bind(self.clock.now_ms())
        .bind(HOUR_MS)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every booth seen, by name when it sends one, else by address; `event` counts the
    /// running event's photos apart.
    pub async fn booths(&self, event: Option<i64>) -> Result<Vec<BoothRecord>, InternalError> {
        let rows: Vec<JobRow> = sqlx::query_as(
            "WITH j AS (
                 SELECT COALESCE(NULLIF(booth_name, ''), booth_address) AS booth,
                        NULLIF(booth_name, '') AS name, booth_address AS address, created_at,
                        status, reason, event_id,
                        ROW_NUMBER() OVER (PARTITION BY COALESCE(NULLIF(booth_name, ''),
                                           booth_address) ORDER BY created_at DESC) AS newest
                 FROM jobs WHERE is_test = 0 AND status != 'processing'
                   AND COALESCE(NULLIF(booth_name, ''), booth_address) IS NOT NULL)
             SELECT booth, MAX(name), MAX(CASE WHEN newest = 1 THEN address END), MAX(created_at),
                    COUNT(*), COALESCE(SUM(event_id = ?), 0),
                    COALESCE(SUM(status = 'succeeded'), 0), COALESCE(SUM(status != 'succeeded'), 0),
                    MAX(CASE WHEN newest = 1 THEN status END),
                    MAX(CASE WHEN newest = 1 THEN reason END)
             FROM j GROUP BY booth",
        )
        .bind(event)
        .fetch_all(&self.pool)
        .await?;
        let mut booths: BTreeMap<String, BoothRecord> = rows
            .into_iter()
            .map(|r| {
                let record = BoothRecord {
                    name: r.1,
                    address: r.2,
                    last_seen: r.3,
                    photos: r.4,
                    event_photos: r.5,
                    succeeded: r.6,
                    failed: r.7,
                    last_status: r.8,
                    last_reason: r.9,
                    wrong_passwords_1h: 0,
                };
                (r.0, record)
            })
            .collect();
        let wrong: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT address, booth_name, last_at, window_at, window_count FROM wrong_passwords",
        )
        .fetch_all(&self.pool)
        .await?;
        let hour_ago = self.clock.now_ms() - HOUR_MS;
        for (address, name, last_at, window_at, window_count) in wrong {
            let named = (!name.is_empty()).then_some(name);
            let key = named.clone().unwrap_or_else(|| address.clone());
            let booth = booths.entry(key).or_insert_with(|| BoothRecord {
                name: named,
                ..BoothRecord::default()
            });
            if last_at >= booth.last_seen {
                booth.last_seen = last_at;
                booth.address = Some(address);
            }
            if window_at >= hour_ago {
                booth.wrong_passwords_1h += window_count;
            }
        }
        let mut list: Vec<BoothRecord> = booths.into_values().collect();
        list.sort_by_key(|b| std::cmp::Reverse(b.last_seen));
        Ok(list)
    }
}
