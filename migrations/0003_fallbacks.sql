-- Fallback slots: up to two slot ids ("provider/number"), tried in order when the slot fails or
-- has not answered after fallback_after_secs (0: only on failure).
ALTER TABLE slots ADD COLUMN fallbacks TEXT NOT NULL DEFAULT '[]';
ALTER TABLE slots ADD COLUMN fallback_after_secs INTEGER NOT NULL DEFAULT 25;

-- The slot whose model drew a job's result.
ALTER TABLE jobs ADD COLUMN answered_by TEXT;

-- Every slot a job tried, in order: its times relative to the job's start, and how it ended.
CREATE TABLE attempts (
    job        TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    provider   TEXT    NOT NULL,
    slot       INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    reason     TEXT,
    message    TEXT,
    PRIMARY KEY (job, seq)
);
