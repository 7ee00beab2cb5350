package campaigns

import (
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// Limits of the module's records.
const (
	MaxNameLen     = 200
	MaxSubjectLen  = 998 // RFC 5322's line limit
	MaxTemplateLen = 512 << 10
	MaxAddressLen  = 254
)

// Segment is a saved filter over contacts: its members are the contacts
// that match it now (Count, Members); a campaign sends to the members a
// segment had when the campaign started.
type Segment struct {
	ID          core.ID     `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Filter      filter.Expr `json:"filter"`
	// Tracked segments keep their members and emit "segment.entered" and
	// "segment.left" when they change: recomputed soon after contacts
	// change, every 15 minutes, and on Recompute.
	Tracked bool `json:"tracked,omitempty"`
	// ComputedAt is when a tracked segment's members were last computed.
	ComputedAt *time.Time `json:"computed_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	Version    int64      `json:"version"`
}

// NewSegment is the input of Segments.Create.
type NewSegment struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Filter      filter.Expr `json:"filter"`
	Tracked     bool        `json:"tracked,omitempty"`
}

// SegmentPatch is the input of Segments.Update: nil fields stay.
type SegmentPatch struct {
	// Version is the version the caller read; required.
	Version     int64
	Name        *string
	Description *string
	Filter      *filter.Expr
	Tracked     *bool
}

// Template is a mail: a subject and an HTML body (Go's html/template),
// with a text part (text/template) written or made from the HTML. Every
// save is a new version; a campaign sends the version it started with.
type Template struct {
	ID      core.ID `json:"id"`
	Name    string  `json:"name"`
	Subject string  `json:"subject"`
	HTML    string  `json:"html"`
	// Text is the plain-text part; empty makes it from the HTML.
	Text      string    `json:"text,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// NewTemplate is the input of Templates.Create.
type NewTemplate struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text,omitempty"`
}

// TemplatePatch is the input of Templates.Update: nil fields stay.
type TemplatePatch struct {
	// Version is the version the caller read; required.
	Version int64
	Name    *string
	Subject *string
	HTML    *string
	Text    *string
}

// Status is where a campaign is in its life.
type Status string

// Campaign statuses: draft → sending (Start) ⇄ paused (Pause, Resume) →
// sent; draft, sending or paused → cancelled (Cancel).
const (
	StatusDraft     Status = "draft"
	StatusSending   Status = "sending"
	StatusPaused    Status = "paused"
	StatusSent      Status = "sent"
	StatusCancelled Status = "cancelled"
)

// CampaignKind says whom a campaign sends to.
type CampaignKind string

// Campaign kinds: a broadcast sends once to the members of a segment; an
// automated campaign sends to each contact a rule's "send_email" action
// names (a drip's step, a welcome mail), once per contact.
const (
	Broadcast CampaignKind = "broadcast"
	Automated CampaignKind = "automated"
)

// Campaign sends one template to the members of one segment (or, when
// automated, to the contacts rules name), for one consent purpose: each
// recipient is checked against consent (the purpose over email) and the
// suppression list when their message goes.
type Campaign struct {
	ID   core.ID      `json:"id"`
	Name string       `json:"name"`
	Kind CampaignKind `json:"kind"`
	// SegmentID is the segment a broadcast sends to (zero for an
	// automated campaign).
	SegmentID  core.ID `json:"segment_id,omitzero"`
	TemplateID core.ID `json:"template_id"`
	// TemplateVersion is the template's version the campaign sends (set by
	// Start).
	TemplateVersion int64 `json:"template_version,omitempty"`
	// Variants are alternatives to the template for an A/B test (variant
	// 0 is TemplateID, these are 1, 2, …).
	Variants []Variant `json:"variants,omitempty"`
	// Test, when set, sends the variants to a share of the segment first,
	// and the winner to the rest.
	Test *ABTest `json:"test,omitempty"`
	// Winner is the variant the test picked (nil before).
	Winner *int `json:"winner,omitempty"`
	// Purpose is the consent purpose the mail serves ("newsletter").
	Purpose     string     `json:"purpose"`
	FromName    string     `json:"from_name,omitempty"`
	FromAddress string     `json:"from_address"`
	ReplyTo     string     `json:"reply_to,omitempty"`
	Status      Status     `json:"status"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Version     int64      `json:"version"`
}

// Variant is an alternative content of a campaign.
type Variant struct {
	Name       string  `json:"name"`
	TemplateID core.ID `json:"template_id"`
	// TemplateVersion is the version sent (set by Start).
	TemplateVersion int64 `json:"template_version,omitempty"`
}

// ABTest sends each variant (the campaign's template and its Variants) to
// an equal part of Share percent of the segment; after Wait, the variant
// with the highest rate of Metric among its recipients (people who opened
// or clicked, over those sent; ties: the lower variant) goes to the rest.
type ABTest struct {
	// Share is the percentage of the segment in the test (1 to 50).
	Share int `json:"share"`
	// Metric is "opens" or "clicks".
	Metric string `json:"metric"`
	// Wait is how long after Start the winner is picked (at least a
	// minute).
	Wait time.Duration `json:"wait"`
}

// A/B test metrics.
const (
	MetricOpens  = "opens"
	MetricClicks = "clicks"
)

// NewCampaign is the input of Campaigns.Create.
type NewCampaign struct {
	Name string `json:"name"`
	// Kind defaults to Broadcast, which needs SegmentID; an Automated
	// campaign has none.
	Kind        CampaignKind `json:"kind,omitempty"`
	SegmentID   core.ID      `json:"segment_id,omitzero"`
	TemplateID  core.ID      `json:"template_id"`
	Purpose     string       `json:"purpose"`
	FromName    string       `json:"from_name,omitempty"`
	FromAddress string       `json:"from_address"`
	ReplyTo     string       `json:"reply_to,omitempty"`
	// Variants and Test make a broadcast an A/B test: TemplateID is
	// variant 0, Variants are 1, 2, ….
	Variants []Variant `json:"variants,omitempty"`
	Test     *ABTest   `json:"test,omitempty"`
}

// RecipientState is where one recipient's message is.
type RecipientState string

// Recipient states: queued → sending → sent or failed; queued → skipped
// (with the reason: no consent, suppressed, frequency cap, cancelled);
// held (the rest of an A/B test) → queued when the winner is picked.
const (
	RecipientQueued  RecipientState = "queued"
	RecipientHeld    RecipientState = "held"
	RecipientSending RecipientState = "sending"
	RecipientSent    RecipientState = "sent"
	RecipientFailed  RecipientState = "failed"
	RecipientSkipped RecipientState = "skipped"
)

// Recipient is one member of a campaign's snapshot.
type Recipient struct {
	ID         core.ID `json:"id"`
	CampaignID core.ID `json:"campaign_id"`
	// ContactID is nil once the contact was deleted or erased.
	ContactID *core.ID       `json:"contact_id,omitempty"`
	Email     string         `json:"email,omitempty"`
	State     RecipientState `json:"state"`
	// Variant is the content the recipient gets (0: the campaign's
	// template).
	Variant int `json:"variant"`
	// Reason says why a recipient was skipped or failed.
	Reason    string     `json:"reason,omitempty"`
	MessageID string     `json:"message_id,omitempty"`
	Attempts  int64      `json:"attempts"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Stats counts a campaign's recipients by state, and those who opened
// and clicked (people, not programs; each recipient once; a click counts
// as an opening too, as mail clients may block the images).
type Stats struct {
	Recipients int64 `json:"recipients"`
	Queued     int64 `json:"queued"`
	Held       int64 `json:"held"`
	Sending    int64 `json:"sending"`
	Sent       int64 `json:"sent"`
	Failed     int64 `json:"failed"`
	Skipped    int64 `json:"skipped"`
	Opened     int64 `json:"opened"`
	Clicked    int64 `json:"clicked"`
	// Bounced counts recipients whose message bounced (hard or soft),
	// Complained those who marked it as spam.
	Bounced    int64 `json:"bounced"`
	Complained int64 `json:"complained"`
	// Variants are the counts of each variant of an A/B test.
	Variants []VariantStats `json:"variants,omitempty"`
}

// VariantStats are one variant's sent messages and the people who opened
// and clicked them.
type VariantStats struct {
	Variant int    `json:"variant"`
	Name    string `json:"name"`
	Sent    int64  `json:"sent"`
	Opened  int64  `json:"opened"`
	Clicked int64  `json:"clicked"`
}
