CREATE TABLE slots (
    provider   TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    enabled    INTEGER NOT NULL DEFAULT 1,
    kind       TEXT    NOT NULL DEFAULT 'prompt',
    prompt     TEXT    NOT NULL DEFAULT '',
    reference  TEXT,
    options    TEXT    NOT NULL DEFAULT '{}',
    updated_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, number)
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per upload. Times are Unix milliseconds (UTC).
CREATE TABLE jobs (
    id            TEXT    PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    provider      TEXT    NOT NULL,
    slot          INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    is_test       INTEGER NOT NULL DEFAULT 0,
    reason        TEXT,
    message       TEXT,
    latency_ms    INTEGER,
    model_ms      INTEGER,
    original_path TEXT    NOT NULL,
    result_path   TEXT,
    booth_name    TEXT,
    fields        TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX jobs_by_time ON jobs (created_at);
CREATE INDEX jobs_by_slot ON jobs (provider, slot, created_at);
CREATE INDEX jobs_processing ON jobs (status) WHERE status = 'processing';
