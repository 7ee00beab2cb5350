-- Sales: pipelines of ordered stages, deals moving through them (with the
-- history of the stages they were in), a product catalogue and the line
-- items of deals. Money is BIGINT in 1/10,000 units plus a currency, as
-- everywhere; dates a deal is expected to close or closed on are
-- 'YYYY-MM-DD' text on both databases, so forecasts group them alike.

CREATE TABLE crm_pipelines (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	name       {{TEXT}} NOT NULL,
	position   {{BIGINT}} NOT NULL,
	archived   {{BOOL}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	updated_at {{TIME}} NOT NULL,
	version    {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_pipelines_name ON crm_pipelines (tenant_id, name);

-- probability is a whole percentage; kind is open, won or lost.
CREATE TABLE crm_stages (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	pipeline_id {{ID}} NOT NULL,
	name        {{TEXT}} NOT NULL,
	position    {{BIGINT}} NOT NULL,
	probability {{BIGINT}} NOT NULL,
	kind        {{TEXT}} NOT NULL,
	archived    {{BOOL}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, pipeline_id) REFERENCES crm_pipelines (tenant_id, id)
);
CREATE INDEX crm_stages_pipeline ON crm_stages (tenant_id, pipeline_id, position);

CREATE TABLE crm_deals (
	tenant_id        TEXT NOT NULL,
	id               {{ID}} NOT NULL,
	title            {{TEXT}} NOT NULL,
	amount           {{BIGINT}} NOT NULL,
	currency         {{TEXT}} NOT NULL,
	contact_id       {{ID}},
	company_id       {{ID}},
	owner_id         {{TEXT}} NOT NULL DEFAULT '',
	pipeline_id      {{ID}} NOT NULL,
	stage_id         {{ID}} NOT NULL,
	status           {{TEXT}} NOT NULL,
	expected_close   {{TEXT}} NOT NULL DEFAULT '',
	closed_on        {{TEXT}} NOT NULL DEFAULT '',
	closed_at        {{TIME}},
	lost_reason      TEXT NOT NULL DEFAULT '',
	source           {{TEXT}} NOT NULL DEFAULT '',
	forecast_commit  {{BOOL}} NOT NULL,
	line_items       {{BIGINT}} NOT NULL,
	attributes       {{JSON}} NOT NULL,
	stage_entered_at {{TIME}} NOT NULL,
	created_at       {{TIME}} NOT NULL,
	updated_at       {{TIME}} NOT NULL,
	version          {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, contact_id) REFERENCES crm_contacts (tenant_id, id),
	FOREIGN KEY (tenant_id, company_id) REFERENCES crm_companies (tenant_id, id),
	FOREIGN KEY (tenant_id, pipeline_id) REFERENCES crm_pipelines (tenant_id, id),
	FOREIGN KEY (tenant_id, stage_id) REFERENCES crm_stages (tenant_id, id)
);
-- The board: counts and sums per stage, from the index alone.
CREATE INDEX crm_deals_board ON crm_deals (tenant_id, pipeline_id, status, stage_id, currency, amount);
-- Forecasts: open deals by expected close, closed deals by close date.
CREATE INDEX crm_deals_expected ON crm_deals (tenant_id, status, expected_close);
CREATE INDEX crm_deals_closed ON crm_deals (tenant_id, status, closed_on);
CREATE INDEX crm_deals_created ON crm_deals (tenant_id, created_at, id);
CREATE INDEX crm_deals_owner ON crm_deals (tenant_id, owner_id, status);
CREATE INDEX crm_deals_contact ON crm_deals (tenant_id, contact_id);
CREATE INDEX crm_deals_company ON crm_deals (tenant_id, company_id);
CREATE INDEX crm_deals_stage ON crm_deals (tenant_id, stage_id);

-- Every stage a deal was in: entered, and left (NULL while it is there).
CREATE TABLE crm_deal_stage_history (
	tenant_id  TEXT NOT NULL,
	id         {{ID}} NOT NULL,
	deal_id    {{ID}} NOT NULL,
	stage_id   {{ID}} NOT NULL,
	entered_at {{TIME}} NOT NULL,
	left_at    {{TIME}},
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_deal_stage_history_deal ON crm_deal_stage_history (tenant_id, deal_id, entered_at);
CREATE INDEX crm_deal_stage_history_stage ON crm_deal_stage_history (tenant_id, stage_id);

CREATE TABLE crm_products (
	tenant_id   TEXT NOT NULL,
	id          {{ID}} NOT NULL,
	sku         {{TEXT}} NOT NULL,
	name        {{TEXT}} NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	unit_price  {{BIGINT}} NOT NULL,
	currency    {{TEXT}} NOT NULL,
	tax_rate    TEXT NOT NULL,
	active      {{BOOL}} NOT NULL,
	created_at  {{TIME}} NOT NULL,
	updated_at  {{TIME}} NOT NULL,
	version     {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX crm_products_sku ON crm_products (tenant_id, sku);
CREATE INDEX crm_products_name ON crm_products (tenant_id, name, id);

-- quantity, discount_percent and tax_rate are exact decimals as text; the
-- money columns are computed by crmkit, rounded to the currency's minor unit.
CREATE TABLE crm_line_items (
	tenant_id        TEXT NOT NULL,
	id               {{ID}} NOT NULL,
	deal_id          {{ID}} NOT NULL,
	position         {{BIGINT}} NOT NULL,
	product_id       {{ID}},
	name             TEXT NOT NULL,
	quantity         TEXT NOT NULL,
	unit_price       {{BIGINT}} NOT NULL,
	discount_percent TEXT NOT NULL,
	discount_amount  {{BIGINT}} NOT NULL,
	tax_rate         TEXT NOT NULL,
	net              {{BIGINT}} NOT NULL,
	tax              {{BIGINT}} NOT NULL,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, deal_id) REFERENCES crm_deals (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, product_id) REFERENCES crm_products (tenant_id, id)
);
CREATE INDEX crm_line_items_deal ON crm_line_items (tenant_id, deal_id, position);
CREATE INDEX crm_line_items_product ON crm_line_items (tenant_id, product_id);
