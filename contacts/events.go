package contacts

import "github.com/crmkit/crmkit/core"

// Event types the contacts module emits. The payload of each (Event.Data)
// is the type named in its comment; EventTypes lists them with their
// payloads for the catalogue.
const (
	EventContactCreated           = "contact.created"                 // Contact
	EventContactUpdated           = "contact.updated"                 // ContactUpdated
	EventContactDeleted           = "contact.deleted"                 // ContactDeleted
	EventContactMerged            = "contact.merged"                  // Merged
	EventContactRestricted        = "contact.restricted"              // RestrictionChanged
	EventContactRestrictionLifted = "contact.restriction_lifted"      // RestrictionChanged
	EventContactScoreAdjusted     = "contact.score_adjusted"          // ScoreAdjusted
	EventContactThresholdCrossed  = "contact.score_threshold_crossed" // ThresholdCrossed
	EventCompanyCreated           = "company.created"                 // Company
	EventCompanyUpdated           = "company.updated"                 // Company
	EventCompanyDeleted           = "company.deleted"                 // Deleted
	EventActivityTracked          = "activity.tracked"                // Activity
	EventNoteCreated              = "note.created"                    // Note
	EventNoteUpdated              = "note.updated"                    // Note
	EventNoteDeleted              = "note.deleted"                    // Note
	EventTaskCreated              = "task.created"                    // TaskChanged
	EventTaskUpdated              = "task.updated"                    // TaskChanged
	EventTaskCompleted            = "task.completed"                  // TaskChanged
	EventTaskCancelled            = "task.cancelled"                  // TaskChanged
	EventTaskReopened             = "task.reopened"                   // TaskChanged
	EventTaskReassigned           = "task.reassigned"                 // TaskChanged
	EventTaskDeleted              = "task.deleted"                    // TaskChanged
	EventScoringModelChanged      = "scoring.model_changed"           // ScoringModel
)

// ContactUpdated is the payload of "contact.updated": the contact after the
// change and the names of the fields that changed.
type ContactUpdated struct {
	Contact *Contact `json:"contact"`
	Changed []string `json:"changed"`
}

// ContactDeleted is the payload of "contact.deleted". MergedInto is set
// when the contact was merged into another (Merge), not deleted.
type ContactDeleted struct {
	ID         core.ID  `json:"id"`
	MergedInto *core.ID `json:"merged_into,omitempty"`
}

// Deleted is the payload of deletions that carry only the record's id.
type Deleted struct {
	ID core.ID `json:"id"`
}

// RestrictionChanged is the payload of "contact.restricted" and
// "contact.restriction_lifted".
type RestrictionChanged struct {
	Reason string `json:"reason"`
}

// ScoreAdjusted is the payload of "contact.score_adjusted".
type ScoreAdjusted struct {
	ContactID core.ID `json:"contact_id"`
	Points    int64   `json:"points"`
	Reason    string  `json:"reason"`
	Score     int64   `json:"score"`
}

// ThresholdCrossed is the payload of "contact.score_threshold_crossed":
// the score that crossed a threshold and the lifecycle stages before and
// after.
type ThresholdCrossed struct {
	Score     int64 `json:"score"`
	FromStage Stage `json:"from_stage"`
	ToStage   Stage `json:"to_stage"`
}

// TaskChanged is the payload of the "task.*" events: the task after the
// change; "task.reassigned" adds the previous assignee.
type TaskChanged struct {
	Task               *Task   `json:"task"`
	PreviousAssigneeID *string `json:"previous_assignee_id,omitempty"`
}

// EventTypes is the contacts module's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventContactCreated, Subject: "contact", Payload: Contact{}, Doc: "a contact was created (Create, Upsert, Track, Import)"},
		{Type: EventContactUpdated, Subject: "contact", Payload: ContactUpdated{}, Doc: "a contact's fields changed"},
		{Type: EventContactDeleted, Subject: "contact", Payload: ContactDeleted{}, Doc: "a contact was deleted, or merged into another"},
		{Type: EventContactMerged, Subject: "contact", Payload: Merged{}, Doc: "contacts were merged into the subject"},
		{Type: EventContactRestricted, Subject: "contact", Payload: RestrictionChanged{}, Doc: "processing of the contact was restricted (Art. 18)"},
		{Type: EventContactRestrictionLifted, Subject: "contact", Payload: RestrictionChanged{}, Doc: "a restriction of processing ended"},
		{Type: EventContactScoreAdjusted, Subject: "contact", Payload: ScoreAdjusted{}, Doc: "points were added to or taken from a lead score"},
		{Type: EventContactThresholdCrossed, Subject: "contact", Payload: ThresholdCrossed{}, Doc: "a lead score crossed a threshold and moved the lifecycle stage"},
		{Type: EventCompanyCreated, Subject: "company", Payload: Company{}, Doc: "a company was created"},
		{Type: EventCompanyUpdated, Subject: "company", Payload: Company{}, Doc: "a company changed"},
		{Type: EventCompanyDeleted, Subject: "company", Payload: Deleted{}, Doc: "a company was deleted"},
		{Type: EventActivityTracked, Subject: "activity", Payload: Activity{}, Doc: "an activity (call, mail, web event, purchase, …) was tracked"},
		{Type: EventNoteCreated, Subject: "note", Payload: Note{}, Doc: "a note was written"},
		{Type: EventNoteUpdated, Subject: "note", Payload: Note{}, Doc: "a note was edited"},
		{Type: EventNoteDeleted, Subject: "note", Payload: Note{}, Doc: "a note was deleted"},
		{Type: EventTaskCreated, Subject: "task", Payload: TaskChanged{}, Doc: "a task was created"},
		{Type: EventTaskUpdated, Subject: "task", Payload: TaskChanged{}, Doc: "a task's fields changed"},
		{Type: EventTaskCompleted, Subject: "task", Payload: TaskChanged{}, Doc: "a task was done"},
		{Type: EventTaskCancelled, Subject: "task", Payload: TaskChanged{}, Doc: "a task was cancelled"},
		{Type: EventTaskReopened, Subject: "task", Payload: TaskChanged{}, Doc: "a done or cancelled task was opened again"},
		{Type: EventTaskReassigned, Subject: "task", Payload: TaskChanged{}, Doc: "a task was given to another assignee"},
		{Type: EventTaskDeleted, Subject: "task", Payload: TaskChanged{}, Doc: "a task was deleted"},
		{Type: EventScoringModelChanged, Subject: "scoring_model", Payload: ScoringModel{}, Doc: "the tenant's lead scoring rules changed"},
	}
}
