-- Each slot's upload link ends in a random token (filled in at start for slots without one).
ALTER TABLE slots ADD COLUMN link_token TEXT;

-- An install from before link tokens keeps its booths' plain links working ("Simple links"
-- on); a new install, whose slots do not exist yet, starts with them off.
INSERT OR IGNORE INTO settings (key, value)
SELECT 'simple_links', '1' WHERE EXISTS (SELECT 1 FROM slots);
