-- Customer scores stored on the contact (contacts.Scoring.SetCustomerScores,
-- written by analytics.Service.StoreScores): the RFM quintiles (1-5) and
-- the segment they name ('' for none), the BG/NBD probability that the
-- contact still buys (an 8-byte float: the model's value as computed),
-- whether the contact is overdue (silent for longer than its usual gap
-- between purchases), and the instant the scores describe. NULL ('' for
-- the segment) until stored, and again once cleared.
ALTER TABLE crm_contacts ADD COLUMN rfm_r {{BIGINT}};
ALTER TABLE crm_contacts ADD COLUMN rfm_f {{BIGINT}};
ALTER TABLE crm_contacts ADD COLUMN rfm_m {{BIGINT}};
ALTER TABLE crm_contacts ADD COLUMN rfm_segment {{TEXT}} NOT NULL DEFAULT '';
ALTER TABLE crm_contacts ADD COLUMN p_alive {{FLOAT}};
ALTER TABLE crm_contacts ADD COLUMN churn_overdue {{BOOL}};
ALTER TABLE crm_contacts ADD COLUMN customer_scored_at {{TIME}};
-- Segments, campaigns and lists select by segment ("rfm_segment" = …) and
-- by P(alive) (ranges, sorting).
CREATE INDEX crm_contacts_rfm_segment ON crm_contacts (tenant_id, rfm_segment, id);
CREATE INDEX crm_contacts_p_alive ON crm_contacts (tenant_id, p_alive, id);
-- An erased contact (its identity erased: the row stays, anonymous) gets
-- no customer scores again; the write that stores them checks this in
-- its own statement, so an erasure committed first always wins.
ALTER TABLE crm_contacts ADD COLUMN erased {{BOOL}} NOT NULL DEFAULT FALSE;
-- The contacts erased before: those with an erasure receipt whose
-- identity is not held (a legal hold keeps it until released, which
-- clears hold_until).
UPDATE crm_contacts SET erased = TRUE WHERE EXISTS (SELECT 1 FROM crm_erasures e
	WHERE e.tenant_id = crm_contacts.tenant_id AND e.contact_id = crm_contacts.id AND e.hold_until IS NULL);
