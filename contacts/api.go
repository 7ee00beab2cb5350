package contacts

import (
	"context"
	"io"
	"iter"
	"time"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

// ContactsAPI is what *Service (c.Contacts) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Service for each method.
type ContactsAPI interface {
	Count(ctx context.Context, f filter.Expr) (int64, error)
	Create(ctx context.Context, in NewContact) (*Contact, error)
	Delete(ctx context.Context, id core.ID) error
	DeleteActivities(ctx context.Context, kind ActivityKind, cutoff time.Time) (int64, error)
	ExportCSV(ctx context.Context, w io.Writer, opts ExportOptions) (int64, error)
	ExportJSONL(ctx context.Context, w io.Writer, opts ExportOptions) (int64, error)
	FindDuplicates(ctx context.Context, opts DuplicateOptions) ([]DuplicateGroup, error)
	Get(ctx context.Context, id core.ID) (*Contact, error)
	GetActivity(ctx context.Context, id core.ID) (*Activity, error)
	GetByEmail(ctx context.Context, email string) (*Contact, error)
	GetByExternalID(ctx context.Context, source, id string) (*Contact, error)
	Import(ctx context.Context, rows iter.Seq[ImportRow], opts ImportOptions) (ImportResult, error)
	ImportCSV(ctx context.Context, r io.Reader, opts CSVImportOptions) (ImportResult, error)
	InactiveLeads(ctx context.Context, cutoff time.Time, after core.ID, limit int) ([]core.ID, error)
	LiftRestriction(ctx context.Context, id core.ID, reason string) error
	LinkExternalID(ctx context.Context, id core.ID, x ExternalID) (*Contact, error)
	List(ctx context.Context, opts ListOptions) (core.Page[*Contact], error)
	Merge(ctx context.Context, winner core.ID, losers ...core.ID) (*Contact, error)
	MergedInto(ctx context.Context, id core.ID) (core.ID, error)
	RebuildSearchIndex(ctx context.Context) (int64, error)
	Restrict(ctx context.Context, id core.ID, reason string) error
	Search(ctx context.Context, query string, opts SearchOptions) ([]SearchHit, error)
	Timeline(ctx context.Context, contactID core.ID, opts TimelineOptions) (core.Page[TimelineItem], error)
	Track(ctx context.Context, ref ContactRef, a NewActivity) (*Activity, error)
	Update(ctx context.Context, id core.ID, patch ContactPatch) (*Contact, error)
	Upsert(ctx context.Context, in NewContact) (c *Contact, created bool, err error)
}

// CompaniesAPI is what *Companies (c.Companies) does, as an interface, for
// hosts that substitute it: a fake in their tests, a wrapper that adds
// caching or metrics. See *Companies for each method.
type CompaniesAPI interface {
	Create(ctx context.Context, in NewCompany) (*Company, error)
	Delete(ctx context.Context, id core.ID) error
	Get(ctx context.Context, id core.ID) (*Company, error)
	GetByDomain(ctx context.Context, domain string) (*Company, error)
	List(ctx context.Context, opts CompanyListOptions) (core.Page[*Company], error)
	Update(ctx context.Context, id core.ID, patch CompanyPatch) (*Company, error)
}

// NotesAPI is what *Notes (c.Notes) does, as an interface, for hosts that
// substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Notes for each method.
type NotesAPI interface {
	Create(ctx context.Context, in NewNote) (*Note, error)
	Delete(ctx context.Context, id core.ID) error
	Get(ctx context.Context, id core.ID) (*Note, error)
	List(ctx context.Context, opts NoteListOptions) (core.Page[*Note], error)
	Pinned(ctx context.Context, contactID core.ID) ([]*Note, error)
	Update(ctx context.Context, id core.ID, patch NotePatch) (*Note, error)
}

// TasksAPI is what *Tasks (c.Tasks) does, as an interface, for hosts that
// substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Tasks for each method.
type TasksAPI interface {
	Cancel(ctx context.Context, id core.ID, version int64) (*Task, error)
	Complete(ctx context.Context, id core.ID, version int64) (*Task, error)
	Create(ctx context.Context, in NewTask) (*Task, error)
	Delete(ctx context.Context, id core.ID) error
	DueWithin(ctx context.Context, d time.Duration, page TaskListOptions) (core.Page[*Task], error)
	Get(ctx context.Context, id core.ID) (*Task, error)
	List(ctx context.Context, opts TaskListOptions) (core.Page[*Task], error)
	Open(ctx context.Context, assignee string, page TaskListOptions) (core.Page[*Task], error)
	Overdue(ctx context.Context, page TaskListOptions) (core.Page[*Task], error)
	Reassign(ctx context.Context, id core.ID, version int64, assignee string) (*Task, error)
	Reopen(ctx context.Context, id core.ID, version int64) (*Task, error)
	Update(ctx context.Context, id core.ID, patch TaskPatch) (*Task, error)
}

// ScoringAPI is what *Scoring (c.Scoring) does, as an interface, for hosts
// that substitute it: a fake in their tests, a wrapper that adds caching or
// metrics. See *Scoring for each method.
type ScoringAPI interface {
	Adjust(ctx context.Context, id core.ID, points int64, reason string) (*Contact, error)
	Model(ctx context.Context) (*ScoringModel, error)
	Rescore(ctx context.Context) (ScoreResult, error)
	ScoreContact(ctx context.Context, id core.ID) (*Contact, error)
	SetCustomerScores(ctx context.Context, asOf time.Time, scores []CustomerScore) (CustomerScoresResult, error)
	SetModel(ctx context.Context, version int64, m ScoringModel) (*ScoringModel, error)
	SetPredictedScores(ctx context.Context, scores []PredictedScore) error
}

// The services satisfy their interfaces.
var (
	_ ContactsAPI  = (*Service)(nil)
	_ CompaniesAPI = (*Companies)(nil)
	_ NotesAPI     = (*Notes)(nil)
	_ TasksAPI     = (*Tasks)(nil)
	_ ScoringAPI   = (*Scoring)(nil)
)
