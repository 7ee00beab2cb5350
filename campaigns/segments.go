package campaigns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Segments are the tenant's saved segments (c.Segments).
type Segments struct {
	sc store.Scope
}

func newSegments(sc store.Scope) *Segments { return &Segments{sc: sc} }

// check validates a segment, its filter against the contact schema with
// the tenant's custom fields.
func (s *Segments) check(ctx context.Context, seg *Segment) error {
	v := &core.ValidationError{}
	if seg.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", seg.Name, MaxNameLen)
	v.CheckText("description", seg.Description, 2000)
	if _, _, err := contacts.Module.Recipients(ctx, s.sc, seg.Filter); err != nil {
		var ve *core.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for _, f := range ve.Fields {
			v.Add("filter."+strings.TrimPrefix(f.Field, "filter."), "%s", f.Message)
		}
	}
	return v.Err()
}

// Create saves a segment and emits "segment.created". The filter is the
// contacts' filter language (custom fields as "attributes.<key>"); a
// field that does not exist is ErrInvalid.
func (s *Segments) Create(ctx context.Context, in NewSegment) (_ *Segment, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Segments.Create")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "segment", core.NilID, access.Create)
	if err != nil {
		return nil, err
	}
	seg := &Segment{ID: core.NewID(), Name: strings.TrimSpace(in.Name), Description: in.Description, Filter: in.Filter, Tracked: in.Tracked, Version: 1}
	if err := g.checkFilter(ctx, core.NilID, access.Create, seg.Filter); err != nil {
		return nil, g.done(ctx, err)
	}
	if err := s.check(ctx, seg); err != nil {
		return nil, err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		seg.CreatedAt, seg.UpdatedAt = now, now
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_segments (tenant_id, id, name, description, filter, tracked, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, seg.ID, seg.Name, seg.Description, string(store.JSON(seg.Filter)), seg.Tracked,
			now, now, seg.Version); err != nil {
			return uniqueName(err, "segment")
		}
		if seg.Tracked {
			if err := enqueueRecompute(ctx, tx, tenant, now); err != nil {
				return err
			}
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventSegmentCreated, SubjectType: "segment", SubjectID: seg.ID,
			OccurredAt: now, Data: store.JSON(seg)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create segment")
	}
	return seg, nil
}

// uniqueName maps the unique violation of a name to ErrConflict.
func uniqueName(err error, entity string) error {
	if dialect.IsUniqueViolation(err) {
		return fmt.Errorf("%w: a %s of that name exists", core.ErrConflict, entity)
	}
	return err
}

const segmentColumns = `s.id, s.name, s.description, s.filter, s.tracked, s.computed_at, s.created_at, s.updated_at, s.version`

func scanSegment(row store.Scanner) (*Segment, error) {
	var seg Segment
	var f string
	var computed sql.NullTime
	if err := row.Scan(&seg.ID, &seg.Name, &seg.Description, &f, &seg.Tracked, &computed, &seg.CreatedAt, &seg.UpdatedAt, &seg.Version); err != nil {
		return nil, err
	}
	seg.ComputedAt = timeOrNil(computed)
	if err := json.Unmarshal([]byte(f), &seg.Filter); err != nil {
		return nil, fmt.Errorf("crm: segment %s: stored filter: %w", seg.ID, err)
	}
	seg.CreatedAt, seg.UpdatedAt = seg.CreatedAt.UTC(), seg.UpdatedAt.UTC()
	return &seg, nil
}

func getSegment(ctx context.Context, q store.Q, tenant string, id core.ID) (*Segment, error) {
	seg, err := scanSegment(q.QueryRow(ctx, `SELECT `+segmentColumns+` FROM crm_segments s WHERE s.tenant_id = ? AND s.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("segment", id)
	}
	return seg, err
}

// Get returns the segment with id.
func (s *Segments) Get(ctx context.Context, id core.ID) (_ *Segment, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Segments.Get", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "segment", id, access.Read); err != nil {
		return nil, err
	}
	return s.get(ctx, id)
}

func (s *Segments) get(ctx context.Context, id core.ID) (*Segment, error) {
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	seg, err := getSegment(ctx, s.sc.Q(), tenant, id)
	return seg, store.Wrap(err, "get segment")
}

// List returns the tenant's segments by name.
func (s *Segments) List(ctx context.Context) (_ []*Segment, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Segments.List")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "segment", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+segmentColumns+` FROM crm_segments s WHERE s.tenant_id = ? ORDER BY s.name, s.id`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list segments")
	}
	out := []*Segment{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		seg, err := scanSegment(r)
		out = append(out, seg)
		return err
	})
	return out, store.Wrap(err, "list segments")
}

// Update applies patch if patch.Version is still the segment's version
// and emits "segment.updated". A stale version is ErrConflict.
func (s *Segments) Update(ctx context.Context, id core.ID, patch SegmentPatch) (_ *Segment, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Segments.Update", id)
	defer span.End(&err)

	g, err := check(ctx, s.sc, "segment", id, access.Update)
	if err != nil {
		return nil, err
	}
	if patch.Filter != nil {
		if err := g.checkFilter(ctx, id, access.Update, *patch.Filter); err != nil {
			return nil, g.done(ctx, err)
		}
	}
	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	var out *Segment
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		seg, err := getSegment(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		if seg.Version != patch.Version {
			return fmt.Errorf("%w: segment %s is at version %d, not %d", core.ErrConflict, id, seg.Version, patch.Version)
		}
		if patch.Name != nil {
			seg.Name = strings.TrimSpace(*patch.Name)
		}
		if patch.Description != nil {
			seg.Description = *patch.Description
		}
		if patch.Filter != nil {
			seg.Filter = *patch.Filter
		}
		if patch.Tracked != nil {
			seg.Tracked = *patch.Tracked
		}
		if err := newSegments(s.sc.WithTx(tx)).check(ctx, seg); err != nil {
			return err
		}
		seg.UpdatedAt = tx.Runtime().Now()
		seg.Version++
		res, err := tx.Q().Exec(ctx, `UPDATE crm_segments SET name = ?, description = ?, filter = ?, tracked = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, seg.Name, seg.Description, string(store.JSON(seg.Filter)), seg.Tracked, seg.UpdatedAt,
			seg.Version, tenant, id, patch.Version)
		if err != nil {
			return uniqueName(err, "segment")
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("%w: segment %s changed meanwhile", core.ErrConflict, id)
		}
		if !seg.Tracked {
			// Untracked: no members kept (tracking again starts afresh).
			if _, err := tx.Q().Exec(ctx, `DELETE FROM crm_segment_members WHERE tenant_id = ? AND segment_id = ?`, tenant, id); err != nil {
				return err
			}
		} else if err := enqueueRecompute(ctx, tx, tenant, seg.UpdatedAt); err != nil {
			return err
		}
		out = seg
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventSegmentUpdated, SubjectType: "segment", SubjectID: id,
			OccurredAt: seg.UpdatedAt, Data: store.JSON(seg)})
	})
	if err != nil {
		return nil, store.Wrap(err, "update segment")
	}
	return out, nil
}

// Delete removes a segment no campaign uses and emits "segment.deleted";
// a segment a campaign was made from is ErrConflict.
func (s *Segments) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Segments.Delete", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "segment", id, access.Delete); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		res, err := tx.Q().Exec(ctx, `DELETE FROM crm_segments WHERE tenant_id = ? AND id = ?`, tenant, id)
		if dialect.IsForeignKeyViolation(err) {
			return fmt.Errorf("%w: segment %s is used by a campaign", core.ErrConflict, id)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return core.NotFound("segment", id)
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventSegmentDeleted, SubjectType: "segment", SubjectID: id,
			Data: store.JSON(Deleted{ID: id})})
	})
	return store.Wrap(err, "delete segment")
}

// Count returns how many contacts the segment holds now: those matching
// its filter that have an email and are not restricted (consent is
// checked when a message goes, not here). An actor counts only the
// members they see in the contacts module.
func (s *Segments) Count(ctx context.Context, id core.ID) (_ int64, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Segments.Count", id)
	defer span.End(&err)

	g, err := check(ctx, s.sc, "segment", id, access.Read)
	if err != nil {
		return 0, err
	}
	seg, err := s.get(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := g.checkFilter(ctx, id, access.Read, seg.Filter); err != nil {
		return 0, g.done(ctx, err)
	}
	query, args, err := contacts.Module.Recipients(ctx, s.sc, seg.Filter)
	if err != nil {
		return 0, err
	}
	vis, vargs, err := g.people("r.id")
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.sc.Q().PlanPerCall().QueryRow(ctx, `SELECT count(*) FROM (`+query+`) r WHERE 1 = 1`+vis, append(args, vargs...)...).Scan(&n)
	return n, store.Wrap(err, "count segment")
}

// Member is one contact of a segment.
type Member struct {
	ContactID core.ID `json:"contact_id"`
	// Email is the member's address; empty for an actor who does not see
	// the contacts' personal data.
	Email string `json:"email"`
}

// Members returns a page of the segment's members in contact id order,
// after the contact id after (the zero id starts at the beginning), at
// most limit (1 to 1000; 0 means 100). An actor is shown only the
// members they see in the contacts module, without their addresses when
// they do not see its personal data.
func (s *Segments) Members(ctx context.Context, id core.ID, after core.ID, limit int) (_ []Member, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Segments.Members", id)
	defer span.End(&err)

	g, err := check(ctx, s.sc, "segment", id, access.Read)
	if err != nil {
		return nil, err
	}
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return nil, core.Invalid("limit", "must be between 1 and 1000")
	}
	seg, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := g.checkFilter(ctx, id, access.Read, seg.Filter); err != nil {
		return nil, g.done(ctx, err)
	}
	query, args, err := contacts.Module.Recipients(ctx, s.sc, seg.Filter)
	if err != nil {
		return nil, err
	}
	vis, vargs, err := g.people("r.id")
	if err != nil {
		return nil, err
	}
	args = append(append(args, after), vargs...)
	rows, err := s.sc.Q().PlanPerCall().Query(ctx, `SELECT r.id, r.email FROM (`+query+`) r WHERE r.id > ?`+vis+` ORDER BY r.id LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, store.Wrap(err, "segment members")
	}
	out := []Member{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var m Member
		err := r.Scan(&m.ContactID, &m.Email)
		if !g.pd() {
			m.Email = ""
		}
		out = append(out, m)
		return err
	})
	return out, store.Wrap(err, "segment members")
}

// timeOrNil is t as a pointer, nil for the zero time.
func timeOrNil(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
