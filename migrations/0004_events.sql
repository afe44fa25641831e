-- Events: an evening's work (a wedding, a party). Booth jobs made while one runs belong to it.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER
);

-- At most one event runs at a time.
CREATE UNIQUE INDEX events_running ON events ((ended_at IS NULL)) WHERE ended_at IS NULL;

ALTER TABLE jobs ADD COLUMN event_id INTEGER REFERENCES events (id);
CREATE INDEX jobs_by_event ON jobs (event_id, created_at);
