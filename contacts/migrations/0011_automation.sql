-- Points added by hand or by rules ("adjust score"): part of the score,
-- kept when the scoring rules recompute it.
ALTER TABLE crm_contacts ADD COLUMN score_adjustment {{BIGINT}} NOT NULL DEFAULT 0;
