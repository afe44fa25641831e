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
        /// Images the result checks rejected on the way.
        rejected: usize,
        /// The image answered failed its check (people missing).
        check_failed: bool,
    },
}

#[derive(Clone)]
pub struct Feed(broadcast::Sender<LiveEvent>);

impl Default for Feed {
    fn default() -> Feed {
        Feed(broadcast::channel(BACKLOG).0)
    }
}

impl Feed {
    /// Sends to the pages open now; with none open, the message is dropped.
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.0.subscribe()
    }
}
