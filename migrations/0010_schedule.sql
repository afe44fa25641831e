-- Events planned ahead: each starts and ends by itself. `event_id` is the event it started;
-- `done` is set once it has ended (or its time passed while the server was off).
CREATE TABLE scheduled_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    event_id INTEGER REFERENCES events (id),
    done INTEGER NOT NULL DEFAULT 0
);
