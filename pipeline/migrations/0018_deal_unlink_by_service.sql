-- Deleting a deal no longer clears the links of tasks and activities in the
-- database: Deals.Delete asks the contacts module to (contacts'
-- UnlinkDeal), so each changed task gets its version and "task.updated".
-- sqlite only
DROP TRIGGER IF EXISTS crm_deals_unlink;
