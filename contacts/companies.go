package contacts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// CompanySchema is the filter allowlist of companies.
var CompanySchema = filter.NewSchema("company", "co.attributes",
	filter.Field{Name: "name", Column: "co.name", Type: filter.String, Sortable: true},
	filter.Field{Name: "domain", Column: "co.domain", Type: filter.String},
	filter.Field{Name: "created_at", Column: "co.created_at", Type: filter.Time},
	filter.Field{Name: "updated_at", Column: "co.updated_at", Type: filter.Time},
)

// Companies manages the companies of one tenant (c.Companies).
type Companies struct {
	sc   store.Scope
	repo repository
}

// newCompanies returns the service for scope sc. Hosts use crm.CRM.Companies.
func newCompanies(sc store.Scope) *Companies {
	return &Companies{sc: sc, repo: sqlRepository{}}
}

// Get returns the company with id.
func (s *Companies) Get(ctx context.Context, id core.ID) (_ *Company, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Companies.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := checkCompany(ctx, s.sc, id, access.Read)
	if err != nil {
		return nil, err
	}
	c, err := s.repo.getCompany(ctx, s.sc.Q(), tenant, "co.id = ?", id)
	return g.maskCompany(c), store.Wrap(err, "get company")
}

// GetByDomain returns the company with domain (normalised first).
func (s *Companies) GetByDomain(ctx context.Context, domain string) (_ *Company, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Companies.GetByDomain")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if err := checkKey("domain", domain); err != nil {
		return nil, err
	}
	domain = NormalizeDomain(domain)
	if domain == "" {
		return nil, core.Invalid("domain", "is required")
	}
	g, err := checkCompany(ctx, s.sc, core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	c, err := s.repo.getCompany(ctx, s.sc.Q(), tenant, "co.domain = ? AND co.domain <> ''", domain)
	return g.maskCompany(c), store.Wrap(err, "get company by domain")
}

// Create stores a new company and emits "company.created".
func (s *Companies) Create(ctx context.Context, in NewCompany) (_ *Company, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Companies.Create")
	defer span.End(&err)

	g, err := checkCompany(ctx, s.sc, core.NilID, access.Create)
	if err != nil {
		return nil, err
	}
	if err := g.checkCompanyWrite(core.NilID, access.Create, in.Attributes); err != nil {
		return nil, g.done(ctx, err)
	}
	var out *Company
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		c := &Company{ID: core.NewID(), Name: strings.TrimSpace(in.Name), Domain: NormalizeDomain(in.Domain),
			Attributes: maps.Clone(in.Attributes), CreatedAt: now, UpdatedAt: now, Version: 1}
		if c.Attributes == nil {
			c.Attributes = map[string]any{}
		}
		defs, err := fields.Module.List(ctx, tx.Q(), tenant, EntityCompany)
		if err != nil {
			return err
		}
		attrs, err := validateCompany(c, defs)
		if err != nil {
			return err
		}
		if err := s.checkDomain(ctx, tx.Q(), tenant, c); err != nil {
			return err
		}
		if err := s.repo.insertCompany(ctx, tx.Q(), tenant, c, attrs); err != nil {
			return translateCompany(err, c)
		}
		if err := indexCompany(ctx, tx.Q(), tenant, c.ID); err != nil {
			return err
		}
		out = c
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCompanyCreated, SubjectType: "company", SubjectID: c.ID, OccurredAt: now, Data: store.JSON(c)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create company")
	}
	return g.maskCompany(out), nil
}

func (s *Companies) checkDomain(ctx context.Context, q store.Q, tenant string, c *Company) error {
	if c.Domain == "" {
		return nil
	}
	other, err := s.repo.getCompany(ctx, q, tenant, "co.domain = ? AND co.domain <> ''", c.Domain)
	switch {
	case err == nil && other.ID != c.ID:
		return fmt.Errorf("%w: domain already belongs to company %s", core.ErrConflict, other.ID)
	case err != nil && !errors.Is(err, core.ErrNotFound):
		return err
	}
	return nil
}

func translateCompany(err error, c *Company) error {
	if dialect.IsUniqueViolation(err) {
		return fmt.Errorf("%w: domain was taken concurrently", core.ErrConflict)
	}
	return err
}

// Update applies patch if patch.Version is still the company's version and
// emits "company.updated". A stale version is ErrConflict.
func (s *Companies) Update(ctx context.Context, id core.ID, patch CompanyPatch) (_ *Company, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Companies.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	g, err := checkCompany(ctx, s.sc, id, access.Read, access.Update)
	if err != nil {
		return nil, err
	}
	if err := g.checkCompanyWrite(id, access.Update, patch.Attributes); err != nil {
		return nil, g.done(ctx, err)
	}
	var out *Company
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := s.repo.getCompany(ctx, tx.Q(), tenant, "co.id = ?", id)
		if err != nil {
			return err
		}
		if patch.Version != cur.Version {
			return fmt.Errorf("%w: company %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, patch.Version)
		}
		next := *cur
		next.Attributes = maps.Clone(cur.Attributes)
		if patch.Name != nil {
			next.Name = strings.TrimSpace(*patch.Name)
		}
		if patch.Domain != nil {
			next.Domain = NormalizeDomain(*patch.Domain)
		}
		mergeAttributes(next.Attributes, patch.Attributes)
		defs, err := fields.Module.List(ctx, tx.Q(), tenant, EntityCompany)
		if err != nil {
			return err
		}
		attrs, err := validateCompany(&next, defs)
		if err != nil {
			return err
		}
		if next.Name == cur.Name && next.Domain == cur.Domain && string(store.JSON(next.Attributes)) == string(store.JSON(cur.Attributes)) {
			out = cur
			return nil
		}
		if err := s.checkDomain(ctx, tx.Q(), tenant, &next); err != nil {
			return err
		}
		next.UpdatedAt = tx.Runtime().Now()
		next.Version = cur.Version + 1
		if err := s.repo.updateCompany(ctx, tx.Q(), tenant, &next, attrs, cur.Version); err != nil {
			return translateCompany(err, &next)
		}
		if err := indexCompany(ctx, tx.Q(), tenant, id); err != nil {
			return err
		}
		if next.Name != cur.Name { // its contacts are found by its name
			if err := indexCompanyContacts(ctx, tx.Q(), tenant, id, false); err != nil {
				return err
			}
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCompanyUpdated, SubjectType: "company", SubjectID: id, OccurredAt: next.UpdatedAt, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "update company")
	}
	return g.maskCompany(out), nil
}

// Delete removes the company with id; its contacts stay, without a company.
// Emits "company.deleted".
func (s *Companies) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Companies.Delete", id)
	defer span.End(&err)

	g, err := check(ctx, s.sc, "company", id, access.Read, access.Delete)
	if err != nil {
		return err
	}
	if !g.all() {
		// Deleting a company unlinks its contacts, those the actor does
		// not see included.
		return g.done(ctx, g.forbid("company", id, access.Delete, "delete a company without seeing all contacts"))
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if _, err := s.repo.getCompany(ctx, tx.Q(), tenant, "co.id = ?"+tx.Q().D.LockRows(), id); err != nil {
			return err
		}
		// The event comes first: before hooks detach other modules' rows
		// (deals) while the company still exists.
		if err := tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCompanyDeleted, SubjectType: "company", SubjectID: id,
			Data: store.JSON(Deleted{ID: id})}); err != nil {
			return err
		}
		// Its contacts stop being found by its name; it stops being found.
		if err := indexCompanyContacts(ctx, tx.Q(), tenant, id, true); err != nil {
			return err
		}
		if err := unindex(ctx, tx.Q(), tenant, EntityCompany, id); err != nil {
			return err
		}
		if err := s.unlinkContacts(ctx, tx, tenant, id); err != nil {
			return err
		}
		if err := unlinkTasks(ctx, tx, tenant, "company_id", id); err != nil {
			return err
		}
		ok, err := s.repo.deleteCompany(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		if !ok {
			return core.NotFound("company", id)
		}
		return nil
	})
	return store.Wrap(err, "delete company")
}

// CompanyListOptions select, order and page a list of companies.
type CompanyListOptions struct {
	Filter filter.Expr
	// Sort is "name" (default) or "-name".
	Sort   string
	Limit  int
	Cursor string
}

// List returns one page of companies.
func (s *Companies) List(ctx context.Context, opts CompanyListOptions) (_ core.Page[*Company], err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Companies.List")
	defer span.End(&err)

	g, err := checkCompany(ctx, s.sc, core.NilID, access.Read)
	if err != nil {
		return core.Page[*Company]{}, err
	}
	if err := g.checkCompanyQuery(opts.Filter, opts.Sort); err != nil {
		return core.Page[*Company]{}, g.done(ctx, err)
	}
	schema, err := fields.Module.SchemaFor(ctx, s.sc, CompanySchema, EntityCompany, "co.attributes", opts.Filter, opts.Sort)
	if err != nil {
		return core.Page[*Company]{}, err
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: schema, Filter: opts.Filter, Sort: opts.Sort,
		DefaultSort: "name", Limit: opts.Limit, Cursor: opts.Cursor, Visible: g.visible("1 = 1", nil)})
	if err != nil {
		return core.Page[*Company]{}, err
	}
	tenant, _ := s.sc.Tenant()
	rows, err := s.repo.listCompanies(ctx, s.sc.Q(), tenant, plan)
	if err != nil {
		return core.Page[*Company]{}, store.Wrap(err, "list companies")
	}
	for _, c := range rows {
		g.maskCompany(c)
	}
	return store.PageOf(s.sc, plan, rows, func(c *Company) (any, core.ID) { return plan.Sort.Field.SortKey(c), c.ID })
}

// FilterValue implements filter.Record.
func (c *Company) FilterValue(field string) any {
	switch field {
	case "name":
		return c.Name
	case "domain":
		return c.Domain
	case "created_at":
		return c.CreatedAt
	case "updated_at":
		return c.UpdatedAt
	}
	if key, ok := cutAttr(field); ok {
		return attrValue(c.Attributes, key)
	}
	return nil
}
