-- The alerts raised, newest kept (the last 100), each with how its delivery went per channel:
-- 'pending', 'sent', 'failed' or 'off'.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL,
    telegram TEXT NOT NULL,
    webhook TEXT NOT NULL
);
