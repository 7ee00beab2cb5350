package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Limits of pipelines.
const (
	MaxNameLen        = 200
	MaxStages         = 50
	MaxPipelines      = 100
	MaxLineItems      = 500
	maxLostReasonLen  = 2000
	maxSourceLen      = 200
	maxOwnerLen       = 200
	maxTitleLen       = 500
	maxDescriptionLen = 10000
	maxSKULen         = 100
	maxProductNameLen = 500
)

// Pipelines manages the sales pipelines of one tenant (c.Pipelines).
type Pipelines struct {
	sc store.Scope
}

// newPipelines returns the service for scope sc. Hosts use crm.CRM.Pipelines.
func newPipelines(sc store.Scope) *Pipelines { return &Pipelines{sc: sc} }

func checkStages(v *core.ValidationError, stages []Stage) {
	if len(stages) > MaxStages {
		v.Add("stages", "has more than %d stages", MaxStages)
	}
	names := map[string]bool{}
	kinds := map[StageKind]int{}
	for i, st := range stages {
		f := fmt.Sprintf("stages[%d]", i)
		st.Name = strings.TrimSpace(st.Name)
		if st.Name == "" {
			v.Add(f+".name", "is required")
		}
		v.CheckText(f+".name", st.Name, MaxNameLen)
		if names[strings.ToLower(st.Name)] {
			v.Add(f+".name", "%q is used by another stage of the pipeline", st.Name)
		}
		names[strings.ToLower(st.Name)] = true
		switch st.Kind {
		case StageOpen:
			if st.Probability < 0 || st.Probability > 100 {
				v.Add(f+".probability", "must be between 0 and 100")
			}
		case StageWon:
			if st.Probability != 100 {
				v.Add(f+".probability", "must be 100 for a won stage")
			}
		case StageLost:
			if st.Probability != 0 {
				v.Add(f+".probability", "must be 0 for a lost stage")
			}
		default:
			v.Add(f+".kind", "%q is not one of open, won, lost", st.Kind)
		}
		if !st.Archived {
			kinds[st.Kind]++
		}
	}
	for _, k := range []StageKind{StageOpen, StageWon, StageLost} {
		if kinds[k] == 0 {
			v.Add("stages", "needs a %s stage that is not archived", k)
		}
	}
}

// Create stores a new pipeline, after the existing ones, and emits
// "pipeline.created". Its stages must include at least one open, one won
// and one lost stage; won stages have probability 100, lost ones 0.
func (s *Pipelines) Create(ctx context.Context, in NewPipeline) (_ *Pipeline, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Pipelines.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "pipeline", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	var out *Pipeline
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		p, err := s.create(ctx, tx, in)
		out = p
		return err
	})
	return out, store.Wrap(err, "create pipeline")
}

func (s *Pipelines) create(ctx context.Context, tx *store.Tx, in NewPipeline) (*Pipeline, error) {
	tenant, _ := s.sc.Tenant()
	now := tx.Runtime().Now()
	if in.Stages == nil {
		in.Stages = DefaultStages
	}
	p := &Pipeline{ID: core.NewID(), Name: strings.TrimSpace(in.Name), CreatedAt: now, UpdatedAt: now, Version: 1}
	for i, ns := range in.Stages {
		p.Stages = append(p.Stages, Stage{ID: core.NewID(), PipelineID: p.ID, Name: strings.TrimSpace(ns.Name), Position: i,
			Probability: ns.Probability, Kind: ns.Kind})
	}
	v := &core.ValidationError{}
	if p.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", p.Name, MaxNameLen)
	checkStages(v, p.Stages)
	if err := v.Err(); err != nil {
		return nil, err
	}
	q := tx.Q()
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*), COALESCE(max(position) + 1, 0) FROM crm_pipelines WHERE tenant_id = ?`, tenant).Scan(&n, &p.Position); err != nil {
		return nil, err
	}
	if n >= MaxPipelines {
		return nil, core.Invalid("pipelines", "a tenant has at most %d pipelines", MaxPipelines)
	}
	if _, err := q.Exec(ctx, `INSERT INTO crm_pipelines (tenant_id, id, name, position, archived, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, p.ID, p.Name, p.Position, false, now, now, p.Version); err != nil {
		if dialect.IsUniqueViolation(err) {
			return nil, fmt.Errorf("%w: a pipeline named %q exists", core.ErrConflict, p.Name)
		}
		return nil, err
	}
	if err := insertStages(ctx, q, tenant, p.Stages); err != nil {
		return nil, err
	}
	return p, tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventPipelineCreated, SubjectType: "pipeline", SubjectID: p.ID, OccurredAt: now, Data: store.JSON(p)})
}

// saveStages writes the stages of a pipeline that changed from before to
// after: updated in place (their ids stay), added, or deleted.
func saveStages(ctx context.Context, q store.Q, tenant string, before, after []Stage) error {
	kept := map[core.ID]bool{}
	var added []Stage
	for _, st := range after {
		kept[st.ID] = true
		if !slices.ContainsFunc(before, func(b Stage) bool { return b.ID == st.ID }) {
			added = append(added, st)
			continue
		}
		if _, err := q.Exec(ctx, `UPDATE crm_stages SET name = ?, position = ?, probability = ?, archived = ?
			WHERE tenant_id = ? AND id = ?`, st.Name, st.Position, st.Probability, st.Archived, tenant, st.ID); err != nil {
			return err
		}
	}
	for _, st := range before {
		if kept[st.ID] {
			continue
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_stages WHERE tenant_id = ? AND id = ?`, tenant, st.ID); err != nil {
			if dialect.IsForeignKeyViolation(err) {
				return fmt.Errorf("%w: stage %q still holds deals", core.ErrConflict, st.Name)
			}
			return err
		}
	}
	return insertStages(ctx, q, tenant, added)
}

func insertStages(ctx context.Context, q store.Q, tenant string, stages []Stage) error {
	for _, st := range stages {
		if _, err := q.Exec(ctx, `INSERT INTO crm_stages (tenant_id, id, pipeline_id, name, position, probability, kind, archived)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, st.ID, st.PipelineID, st.Name, st.Position, st.Probability, string(st.Kind), st.Archived); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the pipeline with id and its stages.
func (s *Pipelines) Get(ctx context.Context, id core.ID) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "pipeline", id, access.Read); err != nil {
		return nil, err
	}
	p, err := getPipeline(ctx, s.sc.Q(), tenant, id, false)
	return p, store.Wrap(err, "get pipeline")
}

// List returns every pipeline of the tenant, archived ones included, in
// order.
func (s *Pipelines) List(ctx context.Context) (_ []*Pipeline, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Pipelines.List")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "pipeline", core.NilID, access.Read); err != nil {
		return nil, err
	}
	out, err := listPipelines(ctx, s.sc.Q(), tenant)
	return out, store.Wrap(err, "list pipelines")
}

// Default returns the first pipeline that is not archived. A tenant without
// any pipeline gets one, named "Sales", with DefaultStages: hosts can create
// deals without setting anything up.
//
// An actor needs the pipeline read permission: making the first pipeline
// is part of reading the default, as it is of creating a deal.
func (s *Pipelines) Default(ctx context.Context) (_ *Pipeline, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Pipelines.Default")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "pipeline", core.NilID, access.Read); err != nil {
		return nil, err
	}
	var out *Pipeline
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		p, err := s.defaultPipeline(ctx, tx)
		out = p
		return err
	})
	return out, store.Wrap(err, "default pipeline")
}

func (s *Pipelines) defaultPipeline(ctx context.Context, tx *store.Tx) (*Pipeline, error) {
	tenant, _ := s.sc.Tenant()
	all, err := listPipelines(ctx, tx.Q(), tenant)
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		if !p.Archived {
			return p, nil
		}
	}
	if len(all) > 0 {
		return nil, fmt.Errorf("%w: every pipeline is archived", core.ErrNotFound)
	}
	// Two callers at once: one creates it, the other's insert hits the
	// unique name and reads the winner's.
	var p *Pipeline
	err = s.sc.WithTx(tx).Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		p, err = s.create(ctx, tx, NewPipeline{Name: DefaultPipelineName})
		return err
	})
	if errors.Is(err, core.ErrConflict) {
		all, err := listPipelines(ctx, tx.Q(), tenant)
		if err != nil || len(all) == 0 {
			return nil, fmt.Errorf("%w: default pipeline created concurrently", core.ErrConflict)
		}
		return all[0], nil
	}
	return p, err
}

const pipelineColumns = `p.id, p.name, p.position, p.archived, p.created_at, p.updated_at, p.version`

func scanPipeline(r store.Scanner) (*Pipeline, error) {
	var p Pipeline
	err := r.Scan(&p.ID, &p.Name, &p.Position, &p.Archived, &p.CreatedAt, &p.UpdatedAt, &p.Version)
	return &p, err
}

// getPipeline reads a pipeline and its stages; lock takes a row lock (for
// a change) on PostgreSQL.
func getPipeline(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool) (*Pipeline, error) {
	if lock {
		// Lock the pipeline row first; its stages are read after.
		var one int
		err := q.QueryRow(ctx, `SELECT 1 FROM crm_pipelines p WHERE p.tenant_id = ? AND p.id = ?`+q.D.LockRows(), tenant, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, core.NotFound("pipeline", id)
		}
		if err != nil {
			return nil, err
		}
	}
	// The pipeline and its stages in one round trip.
	rows, err := q.Query(ctx, `SELECT `+pipelineColumns+`, s.id, s.name, s.position, s.probability, s.kind, s.archived
		FROM crm_pipelines p LEFT JOIN crm_stages s ON s.tenant_id = p.tenant_id AND s.pipeline_id = p.id
		WHERE p.tenant_id = ? AND p.id = ? ORDER BY s.position`, tenant, id)
	if err != nil {
		return nil, err
	}
	var p *Pipeline
	err = store.EachRow(rows, func(r store.Scanner) error {
		var cur Pipeline
		var sid uuid.NullUUID
		var name, kind sql.NullString
		var pos, prob sql.NullInt64
		var archived sql.NullBool
		if err := r.Scan(&cur.ID, &cur.Name, &cur.Position, &cur.Archived, &cur.CreatedAt, &cur.UpdatedAt, &cur.Version,
			&sid, &name, &pos, &prob, &kind, &archived); err != nil {
			return err
		}
		if p == nil {
			p = &cur
		}
		if sid.Valid {
			p.Stages = append(p.Stages, Stage{ID: core.ID(sid.UUID), PipelineID: p.ID, Name: name.String, Position: int(pos.Int64),
				Probability: int(prob.Int64), Kind: StageKind(kind.String), Archived: archived.Bool})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, core.NotFound("pipeline", id)
	}
	return p, nil
}

func listPipelines(ctx context.Context, q store.Q, tenant string) ([]*Pipeline, error) {
	rows, err := q.Query(ctx, `SELECT `+pipelineColumns+` FROM crm_pipelines p WHERE p.tenant_id = ? ORDER BY p.position, p.id`, tenant)
	if err != nil {
		return nil, err
	}
	var out []*Pipeline
	if err := store.EachRow(rows, func(r store.Scanner) error {
		p, err := scanPipeline(r)
		out = append(out, p)
		return err
	}); err != nil {
		return nil, err
	}
	stages, err := readStages(ctx, q, tenant, "1 = 1")
	for _, p := range out {
		p.Stages = stages[p.ID]
	}
	return out, err
}

// readStages returns the stages where holds, by pipeline, in order.
func readStages(ctx context.Context, q store.Q, tenant, where string, args ...any) (map[core.ID][]Stage, error) {
	rows, err := q.Query(ctx, `SELECT s.id, s.pipeline_id, s.name, s.position, s.probability, s.kind, s.archived
		FROM crm_stages s WHERE s.tenant_id = ? AND `+where+` ORDER BY s.pipeline_id, s.position`, append([]any{tenant}, args...)...)
	if err != nil {
		return nil, err
	}
	out := map[core.ID][]Stage{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var st Stage
		var kind string
		if err := r.Scan(&st.ID, &st.PipelineID, &st.Name, &st.Position, &st.Probability, &kind, &st.Archived); err != nil {
			return err
		}
		st.Kind = StageKind(kind)
		out[st.PipelineID] = append(out[st.PipelineID], st)
		return nil
	})
	return out, err
}

// change runs fn on the pipeline with id, locked, if version is still its
// version; fn edits p (and may write); the stages are then checked and
// rewritten, the version bumped, and "pipeline.updated" emitted.
func (s *Pipelines) change(ctx context.Context, id core.ID, version int64, doing string, fn func(ctx context.Context, tx *store.Tx, p *Pipeline) error) (*Pipeline, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "pipeline", id, access.Manage); err != nil {
		return nil, err
	}
	var out *Pipeline
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		p, err := getPipeline(ctx, q, tenant, id, true)
		if err != nil {
			return err
		}
		if p.Version != version {
			return fmt.Errorf("%w: pipeline %s is at version %d, not %d; read it again", core.ErrConflict, id, p.Version, version)
		}
		before := append([]Stage(nil), p.Stages...)
		if err := fn(ctx, tx, p); err != nil {
			return err
		}
		v := &core.ValidationError{}
		p.Name = strings.TrimSpace(p.Name)
		if p.Name == "" {
			v.Add("name", "is required")
		}
		v.CheckText("name", p.Name, MaxNameLen)
		for i := range p.Stages {
			p.Stages[i].Position = i
			p.Stages[i].Name = strings.TrimSpace(p.Stages[i].Name)
		}
		checkStages(v, p.Stages)
		if err := v.Err(); err != nil {
			return err
		}
		p.UpdatedAt = tx.Runtime().Now()
		p.Version++
		res, err := q.Exec(ctx, `UPDATE crm_pipelines SET name = ?, archived = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, p.Name, p.Archived, p.UpdatedAt, p.Version, tenant, id, version)
		if dialect.IsUniqueViolation(err) {
			return fmt.Errorf("%w: a pipeline named %q exists", core.ErrConflict, p.Name)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: pipeline %s was changed by someone else; read it again", core.ErrConflict, id)
		}
		if err := saveStages(ctx, q, tenant, before, p.Stages); err != nil {
			return err
		}
		out = p
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventPipelineUpdated, SubjectType: "pipeline", SubjectID: id, OccurredAt: p.UpdatedAt, Data: store.JSON(p)})
	})
	return out, store.Wrap(err, doing)
}

// Rename renames the pipeline.
func (s *Pipelines) Rename(ctx context.Context, id core.ID, version int64, name string) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.Rename", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "rename pipeline", func(_ context.Context, _ *store.Tx, p *Pipeline) error {
		p.Name = name
		return nil
	})
}

// Archive archives (or, with archived false, restores) the pipeline: its
// deals stay, and it is no longer the default.
func (s *Pipelines) Archive(ctx context.Context, id core.ID, version int64, archived bool) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.Archive", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "archive pipeline", func(_ context.Context, _ *store.Tx, p *Pipeline) error {
		p.Archived = archived
		return nil
	})
}

// AddStage inserts a stage at position at (0 = first; len(stages) or more
// = last).
func (s *Pipelines) AddStage(ctx context.Context, id core.ID, version int64, st NewStage, at int) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.AddStage", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "add stage", func(_ context.Context, _ *store.Tx, p *Pipeline) error {
		at = max(0, min(at, len(p.Stages)))
		ns := Stage{ID: core.NewID(), PipelineID: p.ID, Name: st.Name, Probability: st.Probability, Kind: st.Kind}
		p.Stages = append(p.Stages[:at], append([]Stage{ns}, p.Stages[at:]...)...)
		return nil
	})
}

// UpdateStage renames a stage or changes its probability. A stage's kind
// does not change: deals in it have the status it gave them.
func (s *Pipelines) UpdateStage(ctx context.Context, id core.ID, version int64, stageID core.ID, patch StagePatch) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.UpdateStage", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "update stage", func(_ context.Context, _ *store.Tx, p *Pipeline) error {
		st := p.Stage(stageID)
		if st == nil {
			return core.Invalid("stage_id", "stage %s is not a stage of pipeline %s", stageID, id)
		}
		if patch.Name != nil {
			st.Name = *patch.Name
		}
		if patch.Probability != nil {
			st.Probability = *patch.Probability
		}
		return nil
	})
}

// ReorderStages puts the stages in the order of stageIDs, which must name
// every stage of the pipeline once.
func (s *Pipelines) ReorderStages(ctx context.Context, id core.ID, version int64, stageIDs []core.ID) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.ReorderStages", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "reorder stages", func(_ context.Context, _ *store.Tx, p *Pipeline) error {
		if len(stageIDs) != len(p.Stages) {
			return core.Invalid("stage_ids", "must name all %d stages of the pipeline once", len(p.Stages))
		}
		next := make([]Stage, 0, len(p.Stages))
		seen := map[core.ID]bool{}
		for _, sid := range stageIDs {
			st := p.Stage(sid)
			if st == nil || seen[sid] {
				return core.Invalid("stage_ids", "must name all %d stages of the pipeline once (%s)", len(p.Stages), sid)
			}
			seen[sid] = true
			next = append(next, *st)
		}
		p.Stages = next
		return nil
	})
}

// ArchiveStage archives (or restores) a stage: its deals stay in it, and no
// deal is created in or moved to it.
func (s *Pipelines) ArchiveStage(ctx context.Context, id core.ID, version int64, stageID core.ID, archived bool) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.ArchiveStage", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "archive stage", func(_ context.Context, _ *store.Tx, p *Pipeline) error {
		st := p.Stage(stageID)
		if st == nil {
			return core.Invalid("stage_id", "stage %s is not a stage of pipeline %s", stageID, id)
		}
		st.Archived = archived
		return nil
	})
}

// DeleteStage deletes a stage. A stage that holds deals is deleted only with
// moveTo, another stage of the pipeline of the same kind, where its deals
// go (each gets a stage visit and "deal.stage_changed"); without it the
// call fails with ErrConflict.
func (s *Pipelines) DeleteStage(ctx context.Context, id core.ID, version int64, stageID, moveTo core.ID) (_ *Pipeline, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Pipelines.DeleteStage", id)
	defer span.End(&err)

	return s.change(ctx, id, version, "delete stage", func(ctx context.Context, tx *store.Tx, p *Pipeline) error {
		tenant, _ := s.sc.Tenant()
		st := p.Stage(stageID)
		if st == nil {
			return core.Invalid("stage_id", "stage %s is not a stage of pipeline %s", stageID, id)
		}
		var n int64
		if err := tx.Q().QueryRow(ctx, `SELECT count(*) FROM crm_deals WHERE tenant_id = ? AND stage_id = ?`, tenant, stageID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			if moveTo == core.NilID {
				return fmt.Errorf("%w: stage %q holds %d deals; give a stage to move them to", core.ErrConflict, st.Name, n)
			}
			target := p.Stage(moveTo)
			switch {
			case target == nil || moveTo == stageID:
				return core.Invalid("move_to", "must be another stage of pipeline %s", id)
			case target.Kind != st.Kind:
				return core.Invalid("move_to", "must be a %s stage like the deleted one", st.Kind)
			case target.Archived:
				return core.Invalid("move_to", "stage %q is archived", target.Name)
			}
			if err := moveAllDeals(ctx, tx, tenant, stageID, moveTo); err != nil {
				return err
			}
		}
		kept := p.Stages[:0]
		for _, x := range p.Stages {
			if x.ID != stageID {
				kept = append(kept, x)
			}
		}
		p.Stages = kept
		return nil
	})
}
