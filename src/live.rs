//! What the Live page shows as it happens: booth jobs starting and ending, sent to every open
//! page. Nothing waits for a slow page: one that falls behind skips what it missed.

use serde::Serialize;
use tokio::sync::broadcast;

/// How many messages a page may fall behind before it skips some.
const BACKLOG: usize = 256;

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    Started {
        job: String,
        slot: String,
        /// Unix milliseconds.
        started_at: i64,
    },
    Ended {
        job: String,
        slot: String,
        status: &'static str,
        latency_ms: i64,
        answered_by: Option<String>,
        /// Why it failed (a reason code), when it did.
        reason: Option<String>,
        /// Images the result checks rejected on the way.
        rejected: usize,
        /// The image answered failed its check (people missing).
        check_failed: bool,
    },
}

impl LiveEvent {
    /// Whether the message is about this slot (`provider/number`).
    pub fn names(&self, slot_id: &str) -> bool {
        match self {
            LiveEvent::Started { slot, .. } => slot == slot_id,
            LiveEvent::Ended {
                slot, answered_by, ..
            } => slot == slot_id || answered_by.as_deref() == Some(slot_id),
        }
    }
}

#[derive(Clone)]
pub struct Feed {
    jobs: broadcast::Sender<LiveEvent>,
    /// Set when the server stops: the open streams end, so that a stop does not wait for the
    /// tablets (only uploads in flight are worth waiting for).
    stopping: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            jobs: broadcast::channel(BACKLOG).0,
            stopping: std::sync::Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl Feed {
    /// Sends to the pages open now; with none open, the message is dropped.
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.jobs.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.jobs.subscribe()
    }

    /// Ends every open stream.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once the server stops.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut stopping = self.stopping.subscribe();
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    }
}
