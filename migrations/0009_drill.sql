-- A job whose chain met a provider under a fire drill.
ALTER TABLE jobs ADD COLUMN drill INTEGER NOT NULL DEFAULT 0;
