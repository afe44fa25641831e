-- What the providers' answers say of each model's life (Gemini's modelStatus), kept across
-- restarts: its stage, when it retires, and the provider's message.
CREATE TABLE model_status (
    model TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    retirement_ms INTEGER,
    message TEXT,
    seen_at INTEGER NOT NULL
);
