-- A custom field may hold personal data: its values are then masked, and
-- refused in filters and sorts, for actors who do not see the module's
-- personal data.
ALTER TABLE crm_field_definitions ADD COLUMN personal {{BOOL}} NOT NULL DEFAULT FALSE;
