-- The address each booth photo came from, for the Booths page.
ALTER TABLE jobs ADD COLUMN booth_address TEXT;

-- Wrong upload passwords, one row per address and booth name (empty when the name did not come
-- before the password): a flood costs one row. No photo or form field of them is kept.
CREATE TABLE wrong_passwords (
    address TEXT NOT NULL,
    booth_name TEXT NOT NULL DEFAULT '',
    slot_path TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    count INTEGER NOT NULL,
    -- The attempts since `window_at`, a window of at most an hour.
    window_at INTEGER NOT NULL,
    window_count INTEGER NOT NULL,
    PRIMARY KEY (address, booth_name)
);
