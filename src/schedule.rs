//! Events on a schedule: a planned event starts at its time (ending the one running) and ends at
//! its end, checked by a loop on the shared clock. One whose end passed while the server was off
//! is let go.

use crate::AppState;
use crate::error::InternalError;
use std::time::Duration;

pub async fn run_forever(state: AppState, every: Duration) {
    loop {
        if let Err(e) = tick(&state).await {
            tracing::warn!(error = %e, "the event schedule could not be followed");
        }
        tokio::time::sleep(every).await;
    }
}

/// Starts and ends the planned events whose time has come.
pub async fn tick(state: &AppState) -> Result<(), InternalError> {
    let now = state.clock.now_ms();
    for planned in state.store.scheduled_events().await? {
        match planned.event_id {
            Some(event) if planned.ends_at <= now => {
                state.store.end_event(event, now).await?;
                state.store.schedule_done(planned.id).await?;
                tracing::info!(event, "a scheduled event ended");
            }
            None if planned.ends_at <= now => {
                tracing::warn!(
                    name = planned.name,
                    "a scheduled event's time passed unstarted"
                );
                state.store.schedule_done(planned.id).await?;
            }
            None if planned.starts_at <= now => {
                let event = state.store.start_event(&planned.name, now).await?;
                state.store.schedule_started(planned.id, event.id).await?;
                tracing::info!(event = event.id, "a scheduled event started");
            }
            _ => {}
        }
    }
    Ok(())
}
