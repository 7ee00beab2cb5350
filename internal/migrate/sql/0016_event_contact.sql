-- Every event names the contact it is about (core.Event.ContactID): the
-- subject of a contact's event, the contact of a deal, task, note,
-- activity or consent record. Consumers no longer guess it from payload
-- keys, and erasure finds every event about a person, those of records
-- deleted long before included, by one index.
ALTER TABLE crm_events ADD COLUMN contact_id {{ID}};

UPDATE crm_events SET contact_id = subject_id WHERE subject_type = 'contact';

-- postgres only
UPDATE crm_events SET contact_id = (data->>'contact_id')::uuid
WHERE contact_id IS NULL AND jsonb_typeof(data->'contact_id') = 'string'
	AND data->>'contact_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
-- postgres only
UPDATE crm_events SET contact_id = (data->'task'->>'contact_id')::uuid
WHERE contact_id IS NULL AND jsonb_typeof(data->'task'->'contact_id') = 'string'
	AND data->'task'->>'contact_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

-- postgres only
UPDATE crm_events SET contact_id = (data->'deal'->>'contact_id')::uuid
WHERE contact_id IS NULL AND jsonb_typeof(data->'deal'->'contact_id') = 'string'
	AND data->'deal'->>'contact_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

-- sqlite only
UPDATE crm_events SET contact_id = json_extract(data, '$.contact_id')
WHERE contact_id IS NULL AND json_type(data, '$.contact_id') = 'text' AND length(json_extract(data, '$.contact_id')) = 36;
-- sqlite only
UPDATE crm_events SET contact_id = json_extract(data, '$.task.contact_id')
WHERE contact_id IS NULL AND json_type(data, '$.task.contact_id') = 'text' AND length(json_extract(data, '$.task.contact_id')) = 36;

-- sqlite only
UPDATE crm_events SET contact_id = json_extract(data, '$.deal.contact_id')
WHERE contact_id IS NULL AND json_type(data, '$.deal.contact_id') = 'text' AND length(json_extract(data, '$.deal.contact_id')) = 36;

CREATE INDEX crm_events_contact ON crm_events (tenant_id, contact_id, id) WHERE contact_id IS NOT NULL;
