package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Deals manages the deals of one tenant (c.Deals).
type Deals struct {
	sc store.Scope
}

// newDeals returns the service for scope sc. Hosts use crm.CRM.Deals.
func newDeals(sc store.Scope) *Deals { return &Deals{sc: sc} }

const dealColumns = `d.id, d.title, d.amount, d.currency, d.contact_id, d.company_id, d.owner_id, d.pipeline_id, d.stage_id,
	d.status, d.expected_close, d.closed_on, d.closed_at, d.lost_reason, d.source, d.forecast_commit, d.line_items,
	d.attributes, d.stage_entered_at, d.created_at, d.updated_at, d.version`

func scanDeal(r store.Scanner) (*Deal, error) {
	var (
		d                Deal
		amount           int64
		currency, status string
		contact, company uuid.NullUUID
		closedAt         sql.NullTime
		attrs            []byte
	)
	if err := r.Scan(&d.ID, &d.Title, &amount, &currency, &contact, &company, &d.OwnerID, &d.PipelineID, &d.StageID,
		&status, &d.ExpectedClose, &d.ClosedOn, &closedAt, &d.LostReason, &d.Source, &d.Commit, &d.LineItems,
		&attrs, &d.StageEnteredAt, &d.CreatedAt, &d.UpdatedAt, &d.Version); err != nil {
		return nil, err
	}
	d.Amount = store.MoneyFromStorage(amount, currency)
	d.Status = DealStatus(status)
	if contact.Valid {
		id := core.ID(contact.UUID)
		d.ContactID = &id
	}
	if company.Valid {
		id := core.ID(company.UUID)
		d.CompanyID = &id
	}
	if closedAt.Valid {
		t := closedAt.Time.UTC()
		d.ClosedAt = &t
	}
	d.StageEnteredAt, d.CreatedAt, d.UpdatedAt = d.StageEnteredAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if err := json.Unmarshal(attrs, &d.Attributes); err != nil {
		return nil, fmt.Errorf("decode deal attributes: %w", err)
	}
	if d.Attributes == nil {
		d.Attributes = map[string]any{}
	}
	return &d, nil
}

func getDeal(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool) (*Deal, error) {
	return getDealWhere(ctx, q, tenant, id, lock, "", nil)
}

// getDealWhere is getDeal with extra (" AND " and a condition on "d", or
// "") appended to the WHERE, with its args.
func getDealWhere(ctx context.Context, q store.Q, tenant string, id core.ID, lock bool, extra string, args []any) (*Deal, error) {
	query := `SELECT ` + dealColumns + ` FROM crm_deals d WHERE d.tenant_id = ? AND d.id = ?` + extra
	if lock {
		query += q.D.LockRows()
	}
	d, err := scanDeal(q.QueryRow(ctx, query, append([]any{tenant, id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("deal", id)
	}
	return d, err
}

// checkDeal validates the fields of d the caller sets, and returns its
// amount in storage units and its attributes as JSON.
func (s *Deals) checkDeal(ctx context.Context, tx *store.Tx, v *core.ValidationError, d *Deal) (int64, []byte, error) {
	tenant, _ := s.sc.Tenant()
	d.Title = strings.TrimSpace(d.Title)
	d.OwnerID = strings.TrimSpace(d.OwnerID)
	d.Source = strings.TrimSpace(d.Source)
	if d.Title == "" {
		v.Add("title", "is required")
	}
	v.CheckText("title", d.Title, maxTitleLen)
	v.CheckText("owner_id", d.OwnerID, maxOwnerLen)
	v.CheckText("source", d.Source, maxSourceLen)
	v.CheckText("lost_reason", d.LostReason, maxLostReasonLen)
	v.CheckDate("expected_close", d.ExpectedClose)
	amount, err := store.MoneyToStorage(d.Amount)
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			name := "amount"
			if f.Field == "currency" {
				name = "amount.currency"
			}
			v.Add(name, "%s", f.Message)
		}
	}
	attrs, err := fields.Module.Service(s.sc.WithTx(tx)).CheckAttributes(ctx, v, EntityDeal, d.Attributes)
	if err != nil {
		return 0, nil, err
	}
	q := tx.Q()
	for _, ref := range []struct {
		field, table string
		id           *core.ID
	}{{"contact_id", "crm_contacts", d.ContactID}, {"company_id", "crm_companies", d.CompanyID}} {
		if ref.id == nil {
			continue
		}
		var n int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM `+ref.table+` WHERE tenant_id = ? AND id = ?`, tenant, *ref.id).Scan(&n); err != nil {
			return 0, nil, err
		}
		if n == 0 {
			v.Add(ref.field, "%s does not exist", *ref.id)
		}
	}
	return amount, attrs, nil
}

// Create stores a new deal in its pipeline's stage (by default the default
// pipeline's first open stage), records its first stage visit, and emits
// "deal.created". An actor needs the pipeline create permission and may
// only create deals they will see (with own or team visibility, an owner
// who is themselves or of their teams; an empty owner becomes the actor).
func (s *Deals) Create(ctx context.Context, in NewDeal) (_ *Deal, err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.Create")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "deal", core.NilID, access.Create)
	if err != nil {
		return nil, err
	}
	if err := g.checkOwner(core.NilID, access.Create, &in.OwnerID); err != nil {
		return nil, g.done(ctx, err)
	}
	var out *Deal
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		q := tx.Q()
		var p *Pipeline
		var err error
		if in.PipelineID == core.NilID {
			p, err = newPipelines(s.sc.WithTx(tx)).defaultPipeline(ctx, tx)
		} else {
			p, err = getPipeline(ctx, q, tenant, in.PipelineID, false)
			if errors.Is(err, core.ErrNotFound) {
				return core.Invalid("pipeline_id", "pipeline %s does not exist", in.PipelineID)
			}
		}
		if err != nil {
			return err
		}
		v := &core.ValidationError{}
		st := p.FirstStage(StageOpen)
		if in.StageID != core.NilID {
			st = p.Stage(in.StageID)
			switch {
			case st == nil:
				v.Add("stage_id", "stage %s is not a stage of pipeline %q", in.StageID, p.Name)
			case st.Archived:
				v.Add("stage_id", "stage %q is archived", st.Name)
			}
		}
		if p.Archived {
			v.Add("pipeline_id", "pipeline %q is archived", p.Name)
		}
		d := &Deal{ID: core.NewID(), Title: in.Title, Amount: in.Amount, ContactID: in.ContactID, CompanyID: in.CompanyID,
			OwnerID: in.OwnerID, PipelineID: p.ID, ExpectedClose: in.ExpectedClose, Source: in.Source, Commit: in.Commit,
			Attributes: maps.Clone(in.Attributes), StageEnteredAt: now, CreatedAt: now, UpdatedAt: now, Version: 1}
		if d.Attributes == nil {
			d.Attributes = map[string]any{}
		}
		amount, attrs, err := s.checkDeal(ctx, tx, v, d)
		if err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		enter(d, st, now)
		if _, err := q.Exec(ctx, `INSERT INTO crm_deals (tenant_id, id, title, amount, currency, contact_id, company_id, owner_id,
			pipeline_id, stage_id, status, expected_close, closed_on, closed_at, lost_reason, source, forecast_commit, line_items,
			attributes, stage_entered_at, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, d.ID, d.Title, amount, d.Amount.Currency, store.NullID(d.ContactID), store.NullID(d.CompanyID), d.OwnerID,
			d.PipelineID, d.StageID, string(d.Status), d.ExpectedClose, d.ClosedOn, d.ClosedAt, d.LostReason, d.Source, d.Commit, 0,
			string(attrs), d.StageEnteredAt, d.CreatedAt, d.UpdatedAt, d.Version); err != nil {
			return translate(err)
		}
		if err := recordVisit(ctx, q, tenant, d.ID, d.StageID, now); err != nil {
			return err
		}
		out = d
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventDealCreated, SubjectType: "deal", SubjectID: d.ID, ContactID: d.ContactID, OccurredAt: now, Data: store.JSON(d)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create deal")
	}
	return out, nil
}

// enter puts d in stage st at now: its status follows the stage's kind, and
// a won or lost deal is closed now.
func enter(d *Deal, st *Stage, now time.Time) {
	d.StageID = st.ID
	d.StageEnteredAt = now
	d.Status = DealStatus(st.Kind)
	if st.Kind == StageOpen {
		d.ClosedAt, d.ClosedOn, d.LostReason = nil, core.Date{}, ""
		return
	}
	if d.ClosedAt == nil {
		d.ClosedAt = &now
		d.ClosedOn = core.DateOf(now.UTC())
	}
	if st.Kind == StageWon {
		d.LostReason = ""
	}
}

func recordVisit(ctx context.Context, q store.Q, tenant string, dealID, stageID core.ID, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE crm_deal_stage_history SET left_at = ? WHERE tenant_id = ? AND deal_id = ? AND left_at IS NULL`,
		now, tenant, dealID); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `INSERT INTO crm_deal_stage_history (tenant_id, id, deal_id, stage_id, entered_at) VALUES (?, ?, ?, ?, ?)`,
		tenant, core.NewID(), dealID, stageID, now)
	return err
}

func translate(err error) error {
	if dialect.IsForeignKeyViolation(err) {
		return core.Invalid("deal", "a linked contact, company, pipeline or stage does not exist (any more)")
	}
	return err
}

// Get returns the deal with id. A deal the actor may not see is
// ErrNotFound.
func (s *Deals) Get(ctx context.Context, id core.ID) (_ *Deal, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	d, err := g.deal(ctx, s.sc.Q(), tenant, id, access.Read, false)
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "get deal"))
	}
	return d, nil
}

// Update applies patch if patch.Version is still the deal's version and
// emits "deal.updated" with the fields that changed. A stale version is
// ErrConflict; a patch that changes nothing writes nothing. A deal the
// actor may not see is ErrNotFound, one they may not update ErrForbidden;
// with own or team visibility the new owner must be one whose deals they
// see.
func (s *Deals) Update(ctx context.Context, id core.ID, patch DealPatch) (_ *Deal, err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Deal
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		cur, err := g.lockDeal(ctx, q, tenant, id, patch.Version, access.Update)
		if err != nil {
			return err
		}
		if patch.OwnerID != nil {
			if err := g.checkOwner(id, access.Update, patch.OwnerID); err != nil {
				return err
			}
		}
		next := *cur
		next.Attributes = maps.Clone(cur.Attributes)
		v := &core.ValidationError{}
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&next.Title, patch.Title)
		set(&next.OwnerID, patch.OwnerID)
		if patch.ExpectedClose != nil {
			next.ExpectedClose = *patch.ExpectedClose
		}
		set(&next.Source, patch.Source)
		if patch.Commit != nil {
			next.Commit = *patch.Commit
		}
		if patch.Amount != nil {
			if cur.LineItems > 0 {
				v.Add("amount", "is computed from the deal's %d line items", cur.LineItems)
			}
			next.Amount = *patch.Amount
		}
		for _, ref := range []struct {
			dst **core.ID
			src *core.ID
		}{{&next.ContactID, patch.ContactID}, {&next.CompanyID, patch.CompanyID}} {
			switch {
			case ref.src == nil:
			case *ref.src == core.NilID:
				*ref.dst = nil
			default:
				id := *ref.src
				*ref.dst = &id
			}
		}
		for k, val := range patch.Attributes {
			if val == nil {
				delete(next.Attributes, k)
			} else {
				next.Attributes[k] = val
			}
		}
		amount, attrs, err := s.checkDeal(ctx, tx, v, &next)
		if err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		changed := changedFields(cur, &next)
		if len(changed) == 0 {
			out = cur
			return nil
		}
		next.UpdatedAt = tx.Runtime().Now()
		next.Version++
		if err := updateDeal(ctx, q, tenant, &next, amount, attrs, cur.Version); err != nil {
			return err
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventDealUpdated, SubjectType: "deal", SubjectID: id, ContactID: out.ContactID, OccurredAt: next.UpdatedAt,
			Data: store.JSON(DealUpdated{Deal: out, Changed: changed})})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "update deal"))
	}
	return out, nil
}

func updateDeal(ctx context.Context, q store.Q, tenant string, d *Deal, amount int64, attrs []byte, oldVersion int64) error {
	res, err := q.Exec(ctx, `UPDATE crm_deals SET title = ?, amount = ?, currency = ?, contact_id = ?, company_id = ?, owner_id = ?,
		stage_id = ?, status = ?, expected_close = ?, closed_on = ?, closed_at = ?, lost_reason = ?, source = ?, forecast_commit = ?,
		line_items = ?, attributes = ?, stage_entered_at = ?, updated_at = ?, version = ?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		d.Title, amount, d.Amount.Currency, store.NullID(d.ContactID), store.NullID(d.CompanyID), d.OwnerID, d.StageID, string(d.Status),
		d.ExpectedClose, d.ClosedOn, d.ClosedAt, d.LostReason, d.Source, d.Commit, d.LineItems, string(attrs),
		d.StageEnteredAt, d.UpdatedAt, d.Version, tenant, d.ID, oldVersion)
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%w: deal %s was changed by someone else; read it again", core.ErrConflict, d.ID)
	}
	return nil
}

func changedFields(a, b *Deal) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("title", a.Title != b.Title)
	add("amount", !a.Amount.Amount.Equal(b.Amount.Amount) || a.Amount.Currency != b.Amount.Currency)
	add("contact_id", idOrNil(a.ContactID) != idOrNil(b.ContactID))
	add("company_id", idOrNil(a.CompanyID) != idOrNil(b.CompanyID))
	add("owner_id", a.OwnerID != b.OwnerID)
	add("expected_close", a.ExpectedClose != b.ExpectedClose)
	add("source", a.Source != b.Source)
	add("commit", a.Commit != b.Commit)
	add("attributes", string(store.JSON(a.Attributes)) != string(store.JSON(b.Attributes)))
	return out
}

// Delete removes the deal, its stage history and line items, and emits
// "deal.deleted". A deal the actor may not see is ErrNotFound, one they
// may not delete ErrForbidden.
func (s *Deals) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "pipeline.Deals.Delete", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if _, err := g.deal(ctx, tx.Q(), tenant, id, access.Delete, true); err != nil {
			return err
		}
		// The deal's tasks and activities stay, without the link (the
		// contacts module changes them, with their events).
		if err := contacts.Module.UnlinkDeal(ctx, s.sc.WithTx(tx), id); err != nil {
			return err
		}
		var contact uuid.NullUUID
		err := tx.Q().QueryRow(ctx, `DELETE FROM crm_deals WHERE tenant_id = ? AND id = ? RETURNING contact_id`, tenant, id).Scan(&contact)
		if errors.Is(err, sql.ErrNoRows) {
			return core.NotFound("deal", id)
		}
		if err != nil {
			return err
		}
		ev := core.Event{TenantID: tenant, Type: EventDealDeleted, SubjectType: "deal", SubjectID: id, Data: store.JSON(DealDeleted{ID: id})}
		if contact.Valid {
			ev.ContactID = &contact.UUID
		}
		return tx.Emit(ctx, ev)
	})
	return g.done(ctx, store.Wrap(err, "delete deal"))
}

// DealListOptions select, order and page a list of deals.
type DealListOptions struct {
	// Filter selects deals (see DealSchema; custom fields as
	// "attributes.<key>").
	Filter filter.Expr
	// Sort is one of DealSchema's sortable fields, "-" for descending;
	// default "-created_at".
	Sort   string
	Limit  int
	Cursor string
}

// List returns one page of deals. With an actor, the page holds only the
// deals they see (in SQL, so pages agree) and its cursor is bound to the
// actor.
func (s *Deals) List(ctx context.Context, opts DealListOptions) (_ core.Page[*Deal], err error) {
	ctx, span := s.sc.Span(ctx, "pipeline.Deals.List")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "deal", core.NilID, access.Read)
	if err != nil {
		return core.Page[*Deal]{}, err
	}
	schema, err := fields.Module.SchemaFor(ctx, s.sc, DealSchema, EntityDeal, "d.attributes", opts.Filter, opts.Sort)
	if err != nil {
		return core.Page[*Deal]{}, err
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: schema, Filter: opts.Filter, Sort: opts.Sort,
		DefaultSort: "-created_at", Limit: opts.Limit, Cursor: opts.Cursor, Visible: g.visible("d")})
	if err != nil {
		return core.Page[*Deal]{}, err
	}
	tenant, _ := s.sc.Tenant()
	rows, err := store.ListPage(ctx, s.sc.Q(), tenant, `SELECT `+dealColumns+` FROM crm_deals d `, "d", plan, scanDeal)
	if err != nil {
		return core.Page[*Deal]{}, store.Wrap(err, "list deals")
	}
	return store.PageOf(s.sc, plan, rows, func(d *Deal) (any, core.ID) { return plan.Sort.Field.SortKey(d), d.ID })
}
