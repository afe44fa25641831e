-- The slot's prompt at the time of the job, and the instruction the model really got when a
-- provider wrote its own (the DeepSeek tab).
ALTER TABLE jobs ADD COLUMN prompt TEXT;
ALTER TABLE jobs ADD COLUMN prompt_used TEXT;
