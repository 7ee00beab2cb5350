package campaigns

import (
	"github.com/crmkit/crmkit/core"
)

// Event types of the campaigns module, with their payloads. The email.*
// events are about the contact (subject "contact"): they are on the
// contact's timeline, and rules and scoring can follow them.
const (
	EventSegmentCreated       = "segment.created"        // Segment
	EventSegmentUpdated       = "segment.updated"        // Segment
	EventSegmentDeleted       = "segment.deleted"        // Deleted
	EventSegmentEntered       = "segment.entered"        // SegmentChanged: the contact joined a tracked segment
	EventSegmentLeft          = "segment.left"           // SegmentChanged: the contact left a tracked segment
	EventTemplateCreated      = "template.created"       // Template
	EventTemplateUpdated      = "template.updated"       // Template
	EventTemplateDeleted      = "template.deleted"       // Deleted
	EventCampaignCreated      = "campaign.created"       // Campaign
	EventCampaignStarted      = "campaign.started"       // Campaign
	EventCampaignPaused       = "campaign.paused"        // Campaign
	EventCampaignResumed      = "campaign.resumed"       // Campaign
	EventCampaignCancelled    = "campaign.cancelled"     // Campaign
	EventCampaignFinished     = "campaign.finished"      // CampaignFinished
	EventCampaignWinnerPicked = "campaign.winner_picked" // WinnerPicked
	EventEmailSent            = "email.sent"             // EmailSent
	EventEmailFailed          = "email.failed"           // EmailFailed
	EventEmailOpened          = "email.opened"           // EmailOpened
	EventEmailClicked         = "email.clicked"          // EmailClicked
	EventEmailBounced         = "email.bounced"          // EmailBounced
	EventEmailComplained      = "email.complained"       // EmailBounced
)

// Deleted is the payload of deletions: the record's id.
type Deleted struct {
	ID core.ID `json:"id"`
}

// CampaignFinished is the payload of "campaign.finished": the campaign
// and its counts.
type CampaignFinished struct {
	Campaign *Campaign `json:"campaign"`
	Stats    Stats     `json:"stats"`
}

// WinnerPicked is the payload of "campaign.winner_picked": the A/B test's
// counts per variant; Campaign.Winner names the winner.
type WinnerPicked struct {
	Campaign *Campaign      `json:"campaign"`
	Variants []VariantStats `json:"variants"`
}

// EmailSent is the payload of "email.sent": the mail server accepted the
// campaign's message to the contact.
type EmailSent struct {
	CampaignID  core.ID `json:"campaign_id"`
	RecipientID core.ID `json:"recipient_id"`
	MessageID   string  `json:"message_id"`
}

// EmailFailed is the payload of "email.failed": the mail server refused
// the message for good (a 5xx reply).
type EmailFailed struct {
	CampaignID  core.ID `json:"campaign_id"`
	RecipientID core.ID `json:"recipient_id"`
	Reason      string  `json:"reason"`
}

// EmailOpened is the payload of "email.opened": a person opened the
// campaign's message (its images loaded; programs that fetch images in
// advance are left out).
type EmailOpened struct {
	CampaignID  core.ID `json:"campaign_id"`
	RecipientID core.ID `json:"recipient_id"`
}

// EmailClicked is the payload of "email.clicked": a person followed a
// link of the campaign's message (link scanners are left out).
type EmailClicked struct {
	CampaignID  core.ID `json:"campaign_id"`
	RecipientID core.ID `json:"recipient_id"`
	URL         string  `json:"url"`
}

// EmailBounced is the payload of "email.bounced" and "email.complained":
// a delivery failure (hard or soft) or a complaint about the message.
type EmailBounced struct {
	CampaignID  core.ID    `json:"campaign_id"`
	RecipientID core.ID    `json:"recipient_id"`
	Kind        BounceKind `json:"kind"`
	Status      string     `json:"status,omitempty"`
}

// EventTypes is the campaigns module's event catalogue.
func EventTypes() []core.EventType {
	return []core.EventType{
		{Type: EventSegmentCreated, Subject: "segment", Payload: Segment{}, Doc: "a segment was saved"},
		{Type: EventSegmentUpdated, Subject: "segment", Payload: Segment{}, Doc: "a segment's name or filter changed"},
		{Type: EventSegmentDeleted, Subject: "segment", Payload: Deleted{}, Doc: "a segment was deleted"},
		{Type: EventSegmentEntered, Subject: "contact", Payload: SegmentChanged{}, Doc: "the contact joined a tracked segment"},
		{Type: EventSegmentLeft, Subject: "contact", Payload: SegmentChanged{}, Doc: "the contact left a tracked segment"},
		{Type: EventTemplateCreated, Subject: "template", Payload: Template{}, Doc: "a mail template was saved"},
		{Type: EventTemplateUpdated, Subject: "template", Payload: Template{}, Doc: "a mail template got a new version"},
		{Type: EventTemplateDeleted, Subject: "template", Payload: Deleted{}, Doc: "a mail template was deleted"},
		{Type: EventCampaignCreated, Subject: "campaign", Payload: Campaign{}, Doc: "a campaign was drafted"},
		{Type: EventCampaignStarted, Subject: "campaign", Payload: Campaign{}, Doc: "a campaign started sending"},
		{Type: EventCampaignPaused, Subject: "campaign", Payload: Campaign{}, Doc: "a campaign was paused"},
		{Type: EventCampaignResumed, Subject: "campaign", Payload: Campaign{}, Doc: "a paused campaign goes on"},
		{Type: EventCampaignCancelled, Subject: "campaign", Payload: Campaign{}, Doc: "a campaign was cancelled"},
		{Type: EventCampaignFinished, Subject: "campaign", Payload: CampaignFinished{}, Doc: "every recipient of a campaign was sent, failed or skipped"},
		{Type: EventCampaignWinnerPicked, Subject: "campaign", Payload: WinnerPicked{}, Doc: "an A/B test picked the variant the rest of the segment gets"},
		{Type: EventEmailSent, Subject: "contact", Payload: EmailSent{}, Doc: "a campaign's mail to the contact was accepted by the mail server"},
		{Type: EventEmailFailed, Subject: "contact", Payload: EmailFailed{}, Doc: "the mail server refused a campaign's mail to the contact for good"},
		{Type: EventEmailOpened, Subject: "contact", Payload: EmailOpened{}, Doc: "the contact opened a campaign's mail"},
		{Type: EventEmailClicked, Subject: "contact", Payload: EmailClicked{}, Doc: "the contact followed a link of a campaign's mail"},
		{Type: EventEmailBounced, Subject: "contact", Payload: EmailBounced{}, Doc: "a campaign's mail to the contact bounced (hard or soft)"},
		{Type: EventEmailComplained, Subject: "contact", Payload: EmailBounced{}, Doc: "the contact marked a campaign's mail as spam"},
	}
}
