-- Satisfaction surveys of solved tickets: each link sent (a signed token
-- naming the row) may be answered once before it expires; the latest
-- answer of each kind is the ticket's score (csat 1–5, nps 0–10).

ALTER TABLE crm_tickets ADD COLUMN csat {{BIGINT}};
ALTER TABLE crm_tickets ADD COLUMN nps {{BIGINT}};

CREATE TABLE crm_ticket_surveys (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	ticket_id   {{ID}} NOT NULL,
	kind        {{TEXT}} NOT NULL,
	issued_at   {{TIME}} NOT NULL,
	expires_at  {{TIME}} NOT NULL,
	answered_at {{TIME}},
	score       {{BIGINT}},
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, ticket_id) REFERENCES crm_tickets (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_ticket_surveys_ticket ON crm_ticket_surveys (tenant_id, ticket_id, kind);
