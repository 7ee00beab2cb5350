-- The import that last had a row for a contact (contacts.Import): it is how
-- an import recognises an email or external id that an earlier line of the
-- same file already imported, however far apart the lines are, without
-- holding the file's keys in memory. NULL for contacts no import touched.
ALTER TABLE crm_contacts ADD COLUMN import_id {{ID}};
