package automation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// RunStatus is where a run is.
type RunStatus string

// Run statuses.
const (
	RunRunning RunStatus = "running"
	RunWaiting RunStatus = "waiting"
	RunDone    RunStatus = "done"
	RunFailed  RunStatus = "failed"
	// RunStopped: not started, because the event came from a chain of
	// rules deeper than Options.MaxDepth.
	RunStopped RunStatus = "stopped"
)

// StepStatus is how a step ended.
type StepStatus string

// Step statuses.
const (
	StepOK      StepStatus = "ok"
	StepFailed  StepStatus = "failed"
	StepWaiting StepStatus = "waiting"
)

// Run is one execution of a rule for one event: the run log.
type Run struct {
	ID          core.ID    `json:"id"`
	RuleID      core.ID    `json:"rule_id"`
	RuleVersion int64      `json:"rule_version"`
	EventID     core.ID    `json:"event_id"`
	EventType   string     `json:"event_type"`
	ContactID   *core.ID   `json:"contact_id,omitempty"`
	Depth       int        `json:"depth"`
	Status      RunStatus  `json:"status"`
	Error       string     `json:"error,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	// Steps are filled in by Runs.Get, in the order they ran. Their
	// results are null for an actor who does not see contacts' personal
	// data.
	Steps []Step `json:"steps,omitempty"`
}

// Step is the record of one action of a run.
type Step struct {
	// Path is the action's place in the rule: "0", "2.then.1".
	Path       string          `json:"path"`
	Action     string          `json:"action"`
	Status     StepStatus      `json:"status"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error,omitempty"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

const runColumns = `r.id, r.rule_id, r.rule_version, r.event_id, r.event_type, r.contact_id, r.depth, r.status, r.error,
	r.started_at, r.updated_at, r.finished_at`

func scanRun(s store.Scanner) (*Run, error) {
	var r Run
	var contact uuid.NullUUID
	var status string
	if err := s.Scan(&r.ID, &r.RuleID, &r.RuleVersion, &r.EventID, &r.EventType, &contact, &r.Depth, &status, &r.Error,
		&r.StartedAt, &r.UpdatedAt, &r.FinishedAt); err != nil {
		return nil, err
	}
	r.Status = RunStatus(status)
	if contact.Valid {
		r.ContactID = &contact.UUID
	}
	r.StartedAt, r.UpdatedAt = r.StartedAt.UTC(), r.UpdatedAt.UTC()
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		r.FinishedAt = &t
	}
	return &r, nil
}

func insertRun(ctx context.Context, q store.Q, tenant string, r *Run) error {
	_, err := insertRunOnce(ctx, q, tenant, r)
	return err
}

// insertRunOnce stores r unless a run of its rule for its event exists,
// and reports whether it did.
func insertRunOnce(ctx context.Context, q store.Q, tenant string, r *Run) (bool, error) {
	r.UpdatedAt = r.StartedAt
	res, err := q.Exec(ctx, `INSERT INTO crm_rule_runs (tenant_id, id, rule_id, rule_version, event_id, event_type, contact_id, depth,
		status, error, started_at, updated_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, rule_id, event_id) DO NOTHING`,
		tenant, r.ID, r.RuleID, r.RuleVersion, r.EventID, r.EventType, store.NullID(r.ContactID), r.Depth, string(r.Status), r.Error,
		r.StartedAt, r.UpdatedAt, r.FinishedAt)
	if err != nil {
		return false, fmt.Errorf("crm: record run: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func getRun(ctx context.Context, q store.Q, tenant string, id core.ID) (*Run, error) {
	return getRunWhere(ctx, q, tenant, id, "")
}

// getRunWhere reads the run with id if it also satisfies extra (" AND "
// and a condition on r, or "") with args.
func getRunWhere(ctx context.Context, q store.Q, tenant string, id core.ID, extra string, args ...any) (*Run, error) {
	r, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+` FROM crm_rule_runs r WHERE r.tenant_id = ? AND r.id = ?`+extra,
		append([]any{tenant, id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("rule run", id)
	}
	return r, err
}

// RunQuery selects runs; every field is optional.
type RunQuery struct {
	RuleID    core.ID
	ContactID core.ID
	Status    RunStatus
	// Before continues a listing: runs that started before the run with
	// this id (runs come newest first).
	Before core.ID
	// Limit defaults to 50, at most 1000.
	Limit int
}

// Runs reads the run log of one tenant (c.Automation.Runs).
type Runs struct {
	sc store.Scope
}

// List returns runs, newest first. An actor gets only the runs about
// records they see (see the package doc, Record access).
func (s *Runs) List(ctx context.Context, rq RunQuery) (_ []*Run, err error) {
	ctx, span := s.sc.Span(ctx, "automation.Runs.List")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	eff, err := checkEff(ctx, s.sc, "run", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	limit := rq.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 0 || limit > 1000 {
		return nil, core.Invalid("limit", "must be between 1 and 1000")
	}
	where := []string{"r.tenant_id = ?"}
	args := []any{tenant}
	if rq.RuleID != core.NilID {
		where, args = append(where, "r.rule_id = ?"), append(args, rq.RuleID)
	}
	if rq.ContactID != core.NilID {
		where, args = append(where, "r.contact_id = ?"), append(args, rq.ContactID)
	}
	if rq.Status != "" {
		where, args = append(where, "r.status = ?"), append(args, string(rq.Status))
	}
	if rq.Before != core.NilID {
		where = append(where, "(r.started_at, r.id) < (SELECT b.started_at, b.id FROM crm_rule_runs b WHERE b.tenant_id = r.tenant_id AND b.id = ?)")
		args = append(args, rq.Before)
	}
	vis, vargs, err := runsVisible(ctx, s.sc, eff)
	if err != nil {
		return nil, store.Wrap(err, "list runs")
	}
	if vis != "" {
		where, args = append(where, vis), append(args, vargs...)
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+runColumns+` FROM crm_rule_runs r WHERE `+strings.Join(where, " AND ")+`
		ORDER BY r.started_at DESC, r.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, store.Wrap(err, "list runs")
	}
	var out []*Run
	err = store.EachRow(rows, func(sc store.Scanner) error {
		r, err := scanRun(sc)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	return out, store.Wrap(err, "list runs")
}

// Get returns a run with its steps. A run about a record the actor does
// not see is core.ErrNotFound.
func (s *Runs) Get(ctx context.Context, id core.ID) (_ *Run, err error) {
	ctx, span := s.sc.SpanID(ctx, "automation.Runs.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	eff, err := checkEff(ctx, s.sc, "run", id, access.Read)
	if err != nil {
		return nil, err
	}
	vis, vargs, err := runsVisible(ctx, s.sc, eff)
	if err != nil {
		return nil, store.Wrap(err, "get run")
	}
	extra := ""
	if vis != "" {
		extra = " AND " + vis
	}
	r, err := getRunWhere(ctx, s.sc.Q(), tenant, id, extra, vargs...)
	if errors.Is(err, core.ErrNotFound) && extra != "" {
		// Hidden from the actor, as a missing one; an attempt on one that
		// exists is recorded.
		if _, ferr := getRun(ctx, s.sc.Q(), tenant, id); ferr == nil {
			deny(ctx, s.sc, "run", id, access.Read)
		}
	}
	if err != nil {
		return nil, store.Wrap(err, "get run")
	}
	r.Steps, err = steps(ctx, s.sc.Q(), tenant, id)
	if !eff.SeesPersonalData("contacts") {
		// What an action made can name the person (a task's title, a
		// field's new value): results are for actors who see contacts'
		// personal data.
		for i := range r.Steps {
			if len(r.Steps[i].Result) > 0 {
				r.Steps[i].Result = json.RawMessage("null")
			}
		}
	}
	return r, store.Wrap(err, "get run")
}

func steps(ctx context.Context, q store.Q, tenant string, run core.ID) ([]Step, error) {
	rows, err := q.Query(ctx, `SELECT step, action, status, result, error, started_at, finished_at FROM crm_rule_steps
		WHERE tenant_id = ? AND run_id = ? ORDER BY started_at, step`, tenant, run)
	if err != nil {
		return nil, err
	}
	var out []Step
	err = store.EachRow(rows, func(s store.Scanner) error {
		var st Step
		var status string
		var result []byte
		if err := s.Scan(&st.Path, &st.Action, &status, &result, &st.Error, &st.StartedAt, &st.FinishedAt); err != nil {
			return err
		}
		st.Status, st.Result = StepStatus(status), json.RawMessage(result)
		st.StartedAt = st.StartedAt.UTC()
		out = append(out, st)
		return nil
	})
	return out, err
}

// personalData is the run log, for subject access exports and erasure: runs about a contact (and their steps, whose results may name
// the person) are exported, and erased with the person.
func personalData() []store.PersonalData {
	var out []store.PersonalData
	out = append(out, store.PersonalData{Name: "automation_runs", Tables: []string{"crm_rule_runs", "crm_rule_steps"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT `+runColumns+` FROM crm_rule_runs r WHERE r.tenant_id = ? AND r.contact_id = ?
				ORDER BY r.started_at, r.id`, tenant, id)
			if err != nil {
				return nil, err
			}
			out := []*Run{} // an empty section, as every module's, not null
			if err := store.EachRow(rows, func(s store.Scanner) error {
				r, err := scanRun(s)
				if err == nil {
					out = append(out, r)
				}
				return err
			}); err != nil {
				return nil, err
			}
			for _, r := range out {
				if r.Steps, err = steps(ctx, sc.Q(), tenant, r.ID); err != nil {
					return nil, err
				}
			}
			return out, nil
		},
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			if _, err := sc.Q().Exec(ctx, `DELETE FROM crm_rule_steps WHERE tenant_id = ? AND run_id IN
				(SELECT id FROM crm_rule_runs WHERE tenant_id = ? AND contact_id = ?)`, tenant, tenant, s.ContactID); err != nil {
				return err
			}
			_, err := sc.Q().Exec(ctx, `DELETE FROM crm_rule_runs WHERE tenant_id = ? AND contact_id = ?`, tenant, s.ContactID)
			return err
		}})
	return out
}
