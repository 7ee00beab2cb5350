package contacts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// ActivityKind is the type of an interaction.
type ActivityKind string

// Activity kinds.
const (
	KindNote     ActivityKind = "note"
	KindCall     ActivityKind = "call"
	KindEmail    ActivityKind = "email"
	KindMeeting  ActivityKind = "meeting"
	KindWeb      ActivityKind = "web"      // a web event: page view, form, "pricing_calculator_used", …
	KindPurchase ActivityKind = "purchase" // carries a Purchase
	KindSupport  ActivityKind = "support"
	KindCustom   ActivityKind = "custom"
)

// ActivityKinds lists every kind.
var ActivityKinds = []ActivityKind{KindNote, KindCall, KindEmail, KindMeeting, KindWeb, KindPurchase, KindSupport, KindCustom}

// Activity is one interaction with a contact.
type Activity struct {
	ID        core.ID      `json:"id"`
	ContactID core.ID      `json:"contact_id"`
	CompanyID *core.ID     `json:"company_id,omitempty"`
	DealID    *core.ID     `json:"deal_id,omitempty"`
	Kind      ActivityKind `json:"kind"`
	// Name names what happened within the kind: the web event
	// ("pricing_calculator_used"), a call's outcome, an email's subject.
	Name string `json:"name,omitempty"`
	// OccurredAt is when it happened (may be in the past); CreatedAt when
	// crmkit recorded it.
	OccurredAt     time.Time      `json:"occurred_at"`
	ActorID        string         `json:"actor_id,omitempty"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	Properties     map[string]any `json:"properties"`
	Purchase       *Purchase      `json:"purchase,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
}

// Purchase is the order a purchase activity records.
type Purchase struct {
	OrderID string         `json:"order_id"`
	Total   core.Money     `json:"total"`
	Items   []PurchaseItem `json:"items,omitempty"`
}

// PurchaseItem summarises one line of an order.
type PurchaseItem struct {
	SKU      string     `json:"sku,omitempty"`
	Name     string     `json:"name"`
	Quantity int64      `json:"quantity"`
	Amount   core.Money `json:"amount"`
}

// NewActivity is the input of Track.
type NewActivity struct {
	Kind ActivityKind
	Name string
	// OccurredAt defaults to now; it must lie in years 1 to 9999 UTC
	// (core.MinYear to core.MaxYear).
	OccurredAt time.Time
	Properties map[string]any
	// IdempotencyKey makes Track safe to retry: a second Track with the
	// same key (in the tenant) records nothing and returns the first
	// activity. Use the host's event or order id.
	IdempotencyKey string
	CompanyID      *core.ID
	DealID         *core.ID
	// Purchase is required for KindPurchase and refused for other kinds.
	Purchase *Purchase
	// CreateContact, when set, creates the contact if ref finds none; the
	// ref's email and external id are added to it.
	CreateContact *NewContact
}

// ContactRef finds a contact by id, by email, or by an external id.
type ContactRef struct {
	ID         core.ID
	Email      string
	ExternalID ExternalID
}

// ByID, ByEmail and ByExternalID make a ContactRef.
func ByID(id core.ID) ContactRef      { return ContactRef{ID: id} }
func ByEmail(email string) ContactRef { return ContactRef{Email: email} }
func ByExternalID(source, id string) ContactRef {
	return ContactRef{ExternalID: ExternalID{Source: source, ID: id}}
}

// Activity input limits.
const (
	MaxActivityName   = 200
	MaxIdempotencyKey = 200
	MaxPurchaseItems  = 500
)

func (a *NewActivity) validate(v *core.ValidationError) (props, items []byte, amount int64) {
	if !slices.Contains(ActivityKinds, a.Kind) {
		v.Add("kind", "%q is not one of note, call, email, meeting, web, purchase, support, custom", a.Kind)
	}
	v.CheckText("name", a.Name, MaxActivityName)
	v.CheckTime("occurred_at", a.OccurredAt)
	if !core.StorableText(a.IdempotencyKey) || len(a.IdempotencyKey) > MaxIdempotencyKey {
		v.Add("idempotency_key", "must be at most %d characters of valid text", MaxIdempotencyKey)
	}
	props = fields.Module.CheckMap(v, "properties", a.Properties)
	switch {
	case a.Kind == KindPurchase && a.Purchase == nil:
		v.Add("purchase", "is required for a purchase")
	case a.Kind != KindPurchase && a.Purchase != nil:
		v.Add("purchase", "is only for kind purchase")
	case a.Purchase != nil:
		p := a.Purchase
		v.CheckText("purchase.order_id", p.OrderID, MaxExternalIDLen)
		var err error
		if amount, err = store.MoneyToStorage(p.Total); err != nil {
			v.Add("purchase.total", "%v", strings.TrimPrefix(err.Error(), core.ErrInvalid.Error()+": "))
		}
		if len(p.Items) > MaxPurchaseItems {
			v.Add("purchase.items", "has more than %d items", MaxPurchaseItems)
		}
		for i, it := range p.Items {
			v.CheckText(fmt.Sprintf("purchase.items[%d].name", i), it.Name, MaxNameLen)
			v.CheckText(fmt.Sprintf("purchase.items[%d].sku", i), it.SKU, MaxExternalIDLen)
			if _, err := store.MoneyToStorage(it.Amount); err != nil || it.Amount.Currency != p.Total.Currency {
				v.Add(fmt.Sprintf("purchase.items[%d].amount", i), "must be a valid amount in %s", p.Total.Currency)
			}
		}
		if len(p.Items) > 0 {
			items, _ = json.Marshal(p.Items)
		}
	}
	return props, items, amount
}

// Track records an activity of the contact ref finds — or, with
// a.CreateContact, of a contact it creates — keeps the contact's facts
// current, and emits "activity.tracked". With an IdempotencyKey, a retried
// Track returns the activity recorded first and changes nothing.
func (s *Service) Track(ctx context.Context, ref ContactRef, a NewActivity) (_ *Activity, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Track")
	defer span.End(&err)

	v := &core.ValidationError{}
	props, items, amount := a.validate(v)
	refWhere, refArgs := refQuery(v, ref)
	if err := v.Err(); err != nil {
		return nil, err
	}
	// Tracking changes the contact's facts: it takes the update
	// permission, and create too when it may create the contact.
	need := []access.Action{access.Update}
	if a.CreateContact != nil {
		need = append(need, access.Create)
	}
	g, err := check(ctx, s.sc, "contact", ref.ID, need...)
	if err != nil {
		return nil, err
	}
	if ref.ID == core.NilID && ref.Email != "" && !g.pd() {
		return nil, g.done(ctx, g.forbid("contact", core.NilID, access.Update, "find a contact by a personal field (email)"))
	}
	var out *Activity
	for attempt := 0; attempt < 3; attempt++ {
		err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			out, err = s.track(ctx, tx, g, ref, refWhere, refArgs, a, props, items, amount)
			return err
		})
		if !errors.Is(err, errRace) {
			break
		}
	}
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "track activity"))
	}
	return out, nil
}

// refQuery is the WHERE clause finding ref's contact.
func refQuery(v *core.ValidationError, ref ContactRef) (string, []any) {
	switch {
	case ref.ID != core.NilID:
		return "c.id = ?", []any{ref.ID}
	case ref.Email != "":
		if err := checkKey("email", ref.Email); err != nil {
			v.Add("email", "is not valid text")
			return "", nil
		}
		return "c.email = ? AND c.email <> ''", []any{NormalizeEmail(ref.Email)}
	case ref.ExternalID.Source != "" && ref.ExternalID.ID != "":
		if !core.StorableText(ref.ExternalID.Source + ref.ExternalID.ID) {
			v.Add("external_id", "is not valid text")
			return "", nil
		}
		return "c.id = (SELECT x.contact_id FROM crm_contact_external_ids x WHERE x.tenant_id = c.tenant_id AND x.source = ? AND x.external_id = ?)",
			[]any{ref.ExternalID.Source, ref.ExternalID.ID}
	}
	v.Add("contact", "needs an id, an email or an external id to find it")
	return "", nil
}

func (s *Service) track(ctx context.Context, tx *store.Tx, g *guard, ref ContactRef, refWhere string, refArgs []any,
	a NewActivity, props, items []byte, amount int64) (*Activity, error) {
	tenant, _ := s.sc.Tenant()
	q := tx.Q()
	if a.IdempotencyKey != "" {
		prev, err := getActivity(ctx, q, tenant, "a.idempotency_key = ? AND a.idempotency_key <> ''", a.IdempotencyKey)
		if err == nil {
			// The activity recorded first is the actor's only if its
			// contact is one they see.
			if _, err := s.visibleContact(ctx, g, q, tenant, access.Update, false, "c.id = ?", prev.ContactID); err != nil {
				return nil, err
			}
			return prev, nil
		}
		if !errors.Is(err, core.ErrNotFound) {
			return nil, err
		}
	}
	// Lock the contact: its facts are updated below.
	c, err := s.visibleContact(ctx, g, q, tenant, access.Update, true, refWhere, refArgs...)
	var d *denial
	if errors.Is(err, core.ErrNotFound) && a.CreateContact != nil && !errors.As(err, &d) {
		in := *a.CreateContact
		if ref.Email != "" && in.Email == "" {
			in.Email = ref.Email
		}
		if ref.ExternalID.Source != "" && !slices.Contains(in.ExternalIDs, ref.ExternalID) {
			in.ExternalIDs = append(slices.Clone(in.ExternalIDs), ref.ExternalID)
		}
		if err := s.checkCreate(g, &in); err != nil {
			return nil, err
		}
		c, err = s.create(ctx, tx, in)
		if errors.Is(err, core.ErrConflict) {
			return nil, errRace // created concurrently: the next attempt finds it
		}
	}
	if err != nil {
		return nil, err
	}

	refs := &core.ValidationError{}
	if err := store.CheckRefs(ctx, q, tenant, refs,
		store.Ref{Field: "company_id", Table: "crm_companies", What: "company", ID: a.CompanyID},
		store.Ref{Field: "deal_id", Table: "crm_deals", What: "deal", ID: a.DealID}); err != nil {
		return nil, err
	}
	if err := refs.Err(); err != nil {
		return nil, err
	}

	now := tx.Runtime().Now()
	act := &Activity{
		ID: core.NewID(), ContactID: c.ID, CompanyID: a.CompanyID, DealID: a.DealID, Kind: a.Kind, Name: a.Name,
		OccurredAt: core.NormalizeTime(a.OccurredAt), IdempotencyKey: a.IdempotencyKey,
		Properties: maps.Clone(a.Properties), Purchase: a.Purchase, CreatedAt: now,
	}
	if act.OccurredAt.IsZero() {
		act.OccurredAt = now
	}
	if actor, ok := core.ActorFrom(ctx); ok {
		act.ActorID = actor.ID
	}
	if act.Properties == nil {
		act.Properties = map[string]any{}
	}
	facts := c.Facts
	if p := a.Purchase; p != nil {
		if facts.PurchaseTotal != nil && facts.PurchaseTotal.Currency != p.Total.Currency {
			return nil, core.Invalid("purchase.total", "is in %s, but this contact's purchases are in %s", p.Total.Currency, facts.PurchaseTotal.Currency)
		}
	}
	var orderID, currency string
	var amountArg any
	if p := a.Purchase; p != nil {
		orderID, currency, amountArg = p.OrderID, p.Total.Currency, amount
	}
	var itemsArg any
	if items != nil {
		itemsArg = string(items)
	}
	_, err = q.Exec(ctx, `INSERT INTO crm_activities (tenant_id, id, contact_id, company_id, deal_id, kind, name, occurred_at,
		actor_id, idempotency_key, properties, order_id, amount, currency, items, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenant, act.ID, act.ContactID, store.NullID(act.CompanyID), store.NullID(act.DealID), string(act.Kind), act.Name, act.OccurredAt,
		act.ActorID, act.IdempotencyKey, string(props), orderID, amountArg, currency, itemsArg, now)
	if dialect.IsUniqueViolation(err) {
		return nil, errRace // the same idempotency key, concurrently: the next attempt returns that one
	}
	if err != nil {
		return nil, err
	}

	// The contact's facts: the latest activity, and the purchase sums.
	later := func(cur *time.Time, t time.Time) any {
		if cur == nil || t.After(*cur) {
			return t
		}
		return *cur
	}
	earlier := func(cur *time.Time, t time.Time) any {
		if cur == nil || t.Before(*cur) {
			return t
		}
		return *cur
	}
	if a.Purchase == nil {
		_, err = q.Exec(ctx, `UPDATE crm_contacts SET last_activity_at = ? WHERE tenant_id = ? AND id = ?`,
			later(facts.LastActivityAt, act.OccurredAt), tenant, c.ID)
	} else {
		_, err = q.Exec(ctx, `UPDATE crm_contacts SET last_activity_at = ?, purchase_count = purchase_count + 1,
			purchase_total = purchase_total + ?, purchase_currency = ?, first_purchase_at = ?, last_purchase_at = ?
			WHERE tenant_id = ? AND id = ?`,
			later(facts.LastActivityAt, act.OccurredAt), amount, currency,
			earlier(facts.FirstPurchaseAt, act.OccurredAt), later(facts.LastPurchaseAt, act.OccurredAt), tenant, c.ID)
	}
	if err != nil {
		return nil, err
	}
	if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventActivityTracked, SubjectType: "activity", SubjectID: act.ID, ContactID: core.About(act.ContactID),
		OccurredAt: now, Data: store.JSON(act)}); err != nil {
		return nil, err
	}
	// The contact's lead score follows its activities.
	m, err := cachedModel(ctx, tx, tenant)
	if err != nil {
		return nil, err
	}
	sc := s.sc.WithTx(tx)
	if _, _, err := newScoring(sc).score(ctx, sc, m, "c.id = ?", c.ID); err != nil {
		return nil, err
	}
	return act, nil
}

const activityColumns = `a.id, a.contact_id, a.company_id, a.deal_id, a.kind, a.name, a.occurred_at, a.actor_id,
	a.idempotency_key, a.properties, a.order_id, a.amount, a.currency, a.items, a.created_at`

func scanActivity(row scanner) (*Activity, error) {
	var (
		a                Activity
		company, deal    uuid.NullUUID
		kind, orderID    string
		currency         string
		amount           sql.NullInt64
		props, itemsJSON []byte
	)
	if err := row.Scan(&a.ID, &a.ContactID, &company, &deal, &kind, &a.Name, &a.OccurredAt, &a.ActorID,
		&a.IdempotencyKey, &props, &orderID, &amount, &currency, &itemsJSON, &a.CreatedAt); err != nil {
		return nil, err
	}
	a.Kind = ActivityKind(kind)
	a.OccurredAt, a.CreatedAt = a.OccurredAt.UTC(), a.CreatedAt.UTC()
	if company.Valid {
		a.CompanyID = &company.UUID
	}
	if deal.Valid {
		a.DealID = &deal.UUID
	}
	if err := decodeJSON(props, &a.Properties); err != nil {
		return nil, fmt.Errorf("crm: activity %s: decode properties: %w", a.ID, err)
	}
	if a.Properties == nil {
		a.Properties = map[string]any{}
	}
	if amount.Valid {
		a.Purchase = &Purchase{OrderID: orderID, Total: store.MoneyFromStorage(amount.Int64, currency)}
		if len(itemsJSON) > 0 {
			if err := decodeJSON(itemsJSON, &a.Purchase.Items); err != nil {
				return nil, fmt.Errorf("crm: activity %s: decode items: %w", a.ID, err)
			}
		}
	}
	return &a, nil
}

func getActivity(ctx context.Context, q store.Q, tenant, where string, args ...any) (*Activity, error) {
	a, err := scanActivity(q.QueryRow(ctx, `SELECT `+activityColumns+` FROM crm_activities a WHERE a.tenant_id = ? AND `+where,
		append([]any{tenant}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("activity", store.LookedUpID(args))
	}
	return a, err
}

// GetActivity returns the activity with id.
func (s *Service) GetActivity(ctx context.Context, id core.ID) (_ *Activity, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.GetActivity", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	cond, cargs := g.byContact("a", "a.contact_id")
	a, err := fetch(g, "activity", id, access.Read, cond, cargs, func(extra string, args []any) (*Activity, error) {
		return getActivity(ctx, s.sc.Q(), tenant, "a.id = ?"+extra, append([]any{id}, args...)...)
	})
	return a, g.done(ctx, store.Wrap(err, "get activity"))
}
