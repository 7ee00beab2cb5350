-- The ticket classifier: each tenant's active model per target (category,
-- team), replaced by every training, with the metrics of its held-out
-- test; the tenant's settings (the confidence at which suggestions are
-- applied); and the suggestion stored on each ticket at its creation.

-- model is the naive Bayes model as JSON text (word counts per class):
-- read whole, never queried, so not JSONB.
CREATE TABLE crm_ticket_classifiers (
	tenant_id  TEXT NOT NULL,
	target     {{TEXT}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	trained_at {{TIME}} NOT NULL,
	metrics    {{JSON}} NOT NULL,
	model      TEXT NOT NULL,
	PRIMARY KEY (tenant_id, target)
);

-- One row per tenant that set them: {"threshold": 0.8}.
CREATE TABLE crm_ticket_classifier_settings (
	tenant_id  TEXT NOT NULL,
	settings   {{JSON}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id)
);

-- The classifier's category and team for a ticket when it was created,
-- with their confidences and whether they were applied; NULL when the
-- tenant had no model.
ALTER TABLE crm_tickets ADD COLUMN suggestion {{JSON}};
