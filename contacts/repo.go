package contacts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	fastjson "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// repository is the storage port of contacts: every query, each scoped to
// one tenant. sqlRepository serves SQLite and PostgreSQL alike.
type repository interface {
	getContact(ctx context.Context, q store.Q, tenant string, where string, args ...any) (*Contact, error)
	// insertContact reports false, writing nothing, when a unique index
	// refuses the row (its email is taken).
	insertContact(ctx context.Context, q store.Q, tenant string, c *Contact, attrs []byte) (bool, error)
	updateContact(ctx context.Context, q store.Q, tenant string, c *Contact, attrs []byte, oldVersion int64) error
	deleteContact(ctx context.Context, q store.Q, tenant string, id core.ID) (bool, error)
	insertExternalID(ctx context.Context, q store.Q, tenant string, id core.ID, x ExternalID, now time.Time) error
	externalIDOwner(ctx context.Context, q store.Q, tenant string, x ExternalID) (core.ID, error)
	emailOwner(ctx context.Context, q store.Q, tenant, email string) (core.ID, error)
	listContacts(ctx context.Context, q store.Q, tenant string, plan store.ListPlan) ([]*Contact, error)
	countContacts(ctx context.Context, q store.Q, tenant string, where filter.Compiled) (int64, error)

	getCompany(ctx context.Context, q store.Q, tenant string, where string, args ...any) (*Company, error)
	insertCompany(ctx context.Context, q store.Q, tenant string, c *Company, attrs []byte) error
	updateCompany(ctx context.Context, q store.Q, tenant string, c *Company, attrs []byte, oldVersion int64) error
	deleteCompany(ctx context.Context, q store.Q, tenant string, id core.ID) (bool, error)
	listCompanies(ctx context.Context, q store.Q, tenant string, plan store.ListPlan) ([]*Company, error)
}

type sqlRepository struct{}

var _ repository = sqlRepository{}

const contactColumns = `c.id, c.email, c.phone, c.first_name, c.last_name, c.company_id, c.lifecycle_stage,
	c.owner_id, c.tags, c.attributes, c.created_at, c.updated_at, c.version,
	c.last_activity_at, c.purchase_count, c.purchase_total, c.purchase_currency, c.first_purchase_at, c.last_purchase_at,
	c.score, c.scored_at, c.predicted_score, c.restricted, c.import_id,
	c.rfm_r, c.rfm_f, c.rfm_m, c.rfm_segment, c.p_alive, c.churn_overdue, c.customer_scored_at`

// selectContacts is the SELECT of whole contacts, external ids included.
func selectContacts(d *dialect.Dialect) string {
	return `SELECT ` + contactColumns + `, (SELECT ` + d.JSONPairsAgg("x.source", "x.external_id") + `
		FROM crm_contact_external_ids x WHERE x.tenant_id = c.tenant_id AND x.contact_id = c.id)
	FROM crm_contacts c `
}

// scanner is a row to scan.
type scanner = store.Scanner

func scanContact(row scanner) (*Contact, error) {
	var (
		c                         Contact
		company, importID         uuid.NullUUID
		stage, currency           string
		tags, attrs, ext          []byte
		lastActivity, first, last sql.NullTime
		scoredAt                  sql.NullTime
		predicted                 sql.NullInt64
		total                     int64
		cust                      customerColumns
	)
	if err := row.Scan(&c.ID, &c.Email, &c.Phone, &c.FirstName, &c.LastName, &company, &stage,
		&c.OwnerID, &tags, &attrs, &c.CreatedAt, &c.UpdatedAt, &c.Version,
		&lastActivity, &c.Facts.PurchaseCount, &total, &currency, &first, &last,
		&c.Facts.Score, &scoredAt, &predicted, &c.Restricted, &importID,
		&cust.r, &cust.f, &cust.m, &cust.segment, &cust.pAlive, &cust.overdue, &cust.scoredAt, &ext); err != nil {
		return nil, err
	}
	c.Facts.Customer = cust.facts()
	c.Facts.LastActivityAt = nullTime(lastActivity)
	c.Facts.FirstPurchaseAt = nullTime(first)
	c.Facts.LastPurchaseAt = nullTime(last)
	c.Facts.ScoredAt = nullTime(scoredAt)
	if predicted.Valid {
		c.Facts.PredictedScore = &predicted.Int64
	}
	if currency != "" {
		m := store.MoneyFromStorage(total, currency)
		c.Facts.PurchaseTotal = &m
	}
	c.LifecycleStage = Stage(stage)
	if company.Valid {
		id := company.UUID
		c.CompanyID = &id
	}
	if importID.Valid {
		id := importID.UUID
		c.ImportID = &id
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if err := decodeTags(tags, &c.Tags); err != nil {
		return nil, fmt.Errorf("crm: contact %s: decode tags: %w", c.ID, err)
	}
	if err := decodeJSON(attrs, &c.Attributes); err != nil {
		return nil, fmt.Errorf("crm: contact %s: decode attributes: %w", c.ID, err)
	}
	var pairs [][2]string
	if err := decodeJSON(ext, &pairs); err != nil {
		return nil, fmt.Errorf("crm: contact %s: decode external ids: %w", c.ID, err)
	}
	c.ExternalIDs = make([]ExternalID, len(pairs))
	for i, p := range pairs {
		c.ExternalIDs[i] = ExternalID{Source: p[0], ID: p[1]}
	}
	slices.SortFunc(c.ExternalIDs, func(a, b ExternalID) int {
		return strings.Compare(a.Source+"\x00"+a.ID, b.Source+"\x00"+b.ID)
	})
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	return &c, nil
}

// customerColumns are the stored customer scores of a contact row.
type customerColumns struct {
	r, f, m  sql.NullInt64
	segment  string
	pAlive   sql.NullFloat64
	overdue  sql.NullBool
	scoredAt sql.NullTime
}

// facts are the scores, nil when none are stored (customer_scored_at is
// set with them and cleared with them).
func (c *customerColumns) facts() *CustomerFacts {
	if !c.scoredAt.Valid {
		return nil
	}
	f := &CustomerFacts{R: int(c.r.Int64), F: int(c.f.Int64), M: int(c.m.Int64), Segment: c.segment,
		Overdue: c.overdue.Bool, ScoredAt: c.scoredAt.Time.UTC()}
	if c.pAlive.Valid {
		p := c.pAlive.Float64
		f.PAlive = &p
	}
	return f
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// decodeJSON decodes a JSON column, skipping the decoder for the empty
// array and object most rows hold.
func decodeJSON(b []byte, v any) error {
	if string(b) == "[]" || string(b) == "{}" {
		return nil
	}
	return fastjson.Unmarshal(b, v)
}

// decodeTags decodes the tags column. Tags are usually plain words, so a
// JSON array of strings without escapes is split directly; anything else
// goes through encoding/json.
func decodeTags(b []byte, out *[]string) error {
	s := string(b)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' || strings.ContainsRune(s, '\\') {
		return json.Unmarshal(b, out)
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	if body == "" {
		return nil
	}
	tags := make([]string, 0, strings.Count(body, ",")+1)
	for _, part := range strings.Split(body, ",") {
		part = strings.TrimSpace(part)
		if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' || strings.Contains(part[1:len(part)-1], `"`) {
			// A comma inside a tag, or not a plain string: decode properly.
			return json.Unmarshal(b, out)
		}
		tags = append(tags, part[1:len(part)-1])
	}
	*out = tags
	return nil
}

func (sqlRepository) getContact(ctx context.Context, q store.Q, tenant string, where string, args ...any) (*Contact, error) {
	c, err := scanContact(q.QueryRow(ctx, selectContacts(q.D)+`WHERE c.tenant_id = ? AND `+where, append([]any{tenant}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("contact", store.LookedUpID(args))
	}
	return c, err
}

func tagsJSON(tags []string) string {
	if tags == nil {
		tags = []string{}
	}
	b, _ := json.Marshal(tags)
	return string(b)
}

func (sqlRepository) insertContact(ctx context.Context, q store.Q, tenant string, c *Contact, attrs []byte) (bool, error) {
	// DO NOTHING rather than a unique violation: the transaction stays
	// usable (PostgreSQL aborts it on an error) to tell whose the email is,
	// and the server's log does not get the address.
	res, err := q.Exec(ctx, `INSERT INTO crm_contacts (tenant_id, id, email, phone, first_name, last_name, company_id,
		lifecycle_stage, owner_id, tags, attributes, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		tenant, c.ID, c.Email, c.Phone, c.FirstName, c.LastName, store.NullID(c.CompanyID),
		string(c.LifecycleStage), c.OwnerID, tagsJSON(c.Tags), string(attrs), c.CreatedAt, c.UpdatedAt, c.Version)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (sqlRepository) updateContact(ctx context.Context, q store.Q, tenant string, c *Contact, attrs []byte, oldVersion int64) error {
	res, err := q.Exec(ctx, `UPDATE crm_contacts SET email = ?, phone = ?, first_name = ?, last_name = ?, company_id = ?,
		lifecycle_stage = ?, owner_id = ?, tags = ?, attributes = ?, updated_at = ?, version = ?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		c.Email, c.Phone, c.FirstName, c.LastName, store.NullID(c.CompanyID), string(c.LifecycleStage), c.OwnerID,
		tagsJSON(c.Tags), string(attrs), c.UpdatedAt, c.Version, tenant, c.ID, oldVersion)
	if err != nil {
		return err
	}
	return staleIfNone(res, "contact", c.ID)
}

// staleIfNone turns "no row updated" into ErrConflict: the caller read the
// row in this transaction, so it exists, and its version moved.
func staleIfNone(res sql.Result, what string, id core.ID) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s %s was changed by someone else; read it again", core.ErrConflict, what, id)
	}
	return nil
}

func (sqlRepository) deleteContact(ctx context.Context, q store.Q, tenant string, id core.ID) (bool, error) {
	// Tasks outlive the contact they were about.
	if _, err := q.Exec(ctx, `UPDATE crm_tasks SET contact_id = NULL WHERE tenant_id = ? AND contact_id = ?`, tenant, id); err != nil {
		return false, err
	}
	res, err := q.Exec(ctx, `DELETE FROM crm_contacts WHERE tenant_id = ? AND id = ?`, tenant, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (sqlRepository) insertExternalID(ctx context.Context, q store.Q, tenant string, id core.ID, x ExternalID, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO crm_contact_external_ids (tenant_id, source, external_id, contact_id, created_at)
		VALUES (?, ?, ?, ?, ?)`, tenant, x.Source, x.ID, id, now)
	return err
}

func (sqlRepository) externalIDOwner(ctx context.Context, q store.Q, tenant string, x ExternalID) (core.ID, error) {
	var id core.ID
	err := q.QueryRow(ctx, `SELECT contact_id FROM crm_contact_external_ids WHERE tenant_id = ? AND source = ? AND external_id = ?`,
		tenant, x.Source, x.ID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return core.NilID, nil
	}
	return id, err
}

func (sqlRepository) emailOwner(ctx context.Context, q store.Q, tenant, email string) (core.ID, error) {
	var id core.ID
	// email <> '' lets PostgreSQL use the partial unique index in a generic plan.
	err := q.QueryRow(ctx, `SELECT id FROM crm_contacts WHERE tenant_id = ? AND email = ? AND email <> ''`, tenant, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return core.NilID, nil
	}
	return id, err
}

func (sqlRepository) listContacts(ctx context.Context, q store.Q, tenant string, plan store.ListPlan) ([]*Contact, error) {
	return store.ListPage(ctx, q, tenant, selectContacts(q.D), "c", plan, scanContact)
}

func (sqlRepository) countContacts(ctx context.Context, q store.Q, tenant string, where filter.Compiled) (int64, error) {
	var n int64
	err := q.PlanPerCall().QueryRow(ctx, `SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = ? AND `+where.Where,
		append([]any{tenant}, where.Args...)...).Scan(&n)
	return n, err
}

const selectCompanies = `SELECT co.id, co.name, co.domain, co.attributes, co.created_at, co.updated_at, co.version FROM crm_companies co `

func scanCompany(row scanner) (*Company, error) {
	var c Company
	var attrs []byte
	if err := row.Scan(&c.ID, &c.Name, &c.Domain, &attrs, &c.CreatedAt, &c.UpdatedAt, &c.Version); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if err := decodeJSON(attrs, &c.Attributes); err != nil {
		return nil, fmt.Errorf("crm: company %s: decode attributes: %w", c.ID, err)
	}
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	return &c, nil
}

func (sqlRepository) getCompany(ctx context.Context, q store.Q, tenant string, where string, args ...any) (*Company, error) {
	c, err := scanCompany(q.QueryRow(ctx, selectCompanies+`WHERE co.tenant_id = ? AND `+where, append([]any{tenant}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("company", store.LookedUpID(args))
	}
	return c, err
}

func (sqlRepository) insertCompany(ctx context.Context, q store.Q, tenant string, c *Company, attrs []byte) error {
	_, err := q.Exec(ctx, `INSERT INTO crm_companies (tenant_id, id, name, domain, attributes, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenant, c.ID, c.Name, c.Domain, string(attrs), c.CreatedAt, c.UpdatedAt, c.Version)
	return err
}

func (sqlRepository) updateCompany(ctx context.Context, q store.Q, tenant string, c *Company, attrs []byte, oldVersion int64) error {
	res, err := q.Exec(ctx, `UPDATE crm_companies SET name = ?, domain = ?, attributes = ?, updated_at = ?, version = ?
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		c.Name, c.Domain, string(attrs), c.UpdatedAt, c.Version, tenant, c.ID, oldVersion)
	if err != nil {
		return err
	}
	return staleIfNone(res, "company", c.ID)
}

func (sqlRepository) deleteCompany(ctx context.Context, q store.Q, tenant string, id core.ID) (bool, error) {
	// Activities keep existing without their company (Companies.Delete
	// unlinked the contacts and tasks, with their events).
	if _, err := q.Exec(ctx, `UPDATE crm_activities SET company_id = NULL WHERE tenant_id = ? AND company_id = ?`, tenant, id); err != nil {
		return false, err
	}
	res, err := q.Exec(ctx, `DELETE FROM crm_companies WHERE tenant_id = ? AND id = ?`, tenant, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (sqlRepository) listCompanies(ctx context.Context, q store.Q, tenant string, plan store.ListPlan) ([]*Company, error) {
	return store.ListPage(ctx, q, tenant, selectCompanies, "co", plan, scanCompany)
}
