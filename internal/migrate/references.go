package migrate

// Unreferenced lists the id columns of crm_ tables that have no composite
// foreign key to (tenant_id, id) of another table, each with the reason.
// Every other column named *_id (except tenant_id) has one, so the database
// itself refuses a reference to another tenant's row or to a row that does
// not exist; TestEveryReferenceHasATenantForeignKey holds the schema to
// this list. A key "*.column" applies to every table.
var Unreferenced = map[string]string{
	// Ids of the host's users: crmkit has no table of them.
	"*.actor_id":    "the host's user who acted",
	"*.author_id":   "the host's user who wrote a note",
	"*.assignee_id": "the host's user a task is assigned to",
	"*.owner_id":    "the host's user who owns a record",
	// The host's own keys.
	"crm_contact_external_ids.external_id": "the host's id of the contact in source",
	"crm_activities.order_id":              "the host's order number",
	// Not a reference: a value of the protocol.
	"crm_campaign_recipients.message_id": "the Message-ID header of the mail sent (RFC 5322)",
	// Polymorphic subjects: an id of a contact, deal, task, rule … named by
	// subject_type (entity).
	"crm_events.subject_id": "polymorphic: the subject_type's id",
	// The outbox outlives what it records.
	"crm_events.contact_id": "events keep the contact they were about after it is deleted, so erasure still finds them",
	"crm_audit.subject_id":  "polymorphic: the subject_type's id",
	"crm_search.entity_id":  "polymorphic: the entity's id",
	// Records about rows that are gone, by design.
	"crm_contact_merges.loser_id":     "the merged contact, deleted by the merge",
	"crm_erasures.contact_id":         "the receipt outlives the erased contact",
	"crm_consents.contact_id":         "the consent log keeps a merged contact's records under its old id",
	"crm_consents.request_id":         "proof of the opt-in request; unconfirmed requests are purged, the log stays",
	"crm_deal_stage_history.stage_id": "a deal's history keeps the stages it was in after a stage is deleted",
	// Logs that outlive what they logged (Rules.Delete, Webhooks.Delete keep
	// them; retention removes them by age).
	"crm_rule_versions.rule_id":           "versions of a deleted rule finish its waiting runs",
	"crm_rule_runs.rule_id":               "the run log outlives the rule",
	"crm_rule_runs.event_id":              "the run log names the event that started the run",
	"crm_rule_runs.contact_id":            "the run log names the contact the event was about",
	"crm_webhook_deliveries.webhook_id":   "the delivery log outlives the webhook",
	"crm_webhook_deliveries.event_id":     "the delivery log names the event delivered",
	"crm_automation_sweeps.last_event_id": "a position in the event log",
	// No table of imports: the id only groups the contacts one import
	// touched.
	"crm_contacts.import_id": "the import run, which has no table",
}
