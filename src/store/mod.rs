//! SQLite through sqlx: slots, settings, jobs and events. WAL mode, migrations embedded in the binary.

mod alerts;
mod booths;
mod events;
mod jobs;
mod models;
mod settings;
mod slots;
mod stats;

pub use alerts::AlertRecord;
pub use booths::BoothRecord;
pub use events::{EventRecord, MAX_EVENT_NAME, ScheduledEvent};
pub use jobs::{JobFilter, JobRecord, NewJob, Outcome};
pub use slots::new_link_token;
pub use stats::{
    Billable, CheckCounts, DayCount, Delivery, ProviderCounts, Scope, SlotCount, StatusCounts,
};

use crate::clock::Clock;
use crate::error::InternalError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Dates the rows it writes.
    clock: Clock,
}

impl Store {
    /// Opens (or creates) `boothgate.db` in the data folder and brings its schema up to date.
    pub async fn open(data_dir: &Path, clock: Clock) -> Result<Store, InternalError> {
        let database = data_dir.join("boothgate.db");
        make_private(data_dir, &database)?;
        let options = SqliteConnectOptions::new()
            .filename(&database)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let store = Store { pool, clock };
        store.create_missing_slots().await?;
        Ok(store)
    }

    /// True when the database answers a query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The data folder is the owner's alone (0700) and so is the database, which holds the API
/// keys and the upload password (0600; SQLite gives its WAL and SHM files the database's
/// mode). An existing install is tightened too.
fn make_private(data_dir: &Path, database: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(database)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = database.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}
