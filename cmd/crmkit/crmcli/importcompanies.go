package crmcli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// The companies of a table import: looked up by name, by the vendor's id
// or by domain (cached for the run), created, or written from a row.

// company returns the id of the company named name (exactly), creating it
// when there is none and create is set.
func (ti *tableImport) company(ctx context.Context, c *crm.CRM, name string, create bool) (core.ID, error) {
	if id, ok := ti.companyByName[name]; ok {
		return id, nil
	}
	page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq("name", name), Limit: 1})
	if err != nil {
		return core.NilID, err
	}
	if len(page.Items) > 0 {
		ti.companyByName[name] = page.Items[0].ID
		return page.Items[0].ID, nil
	}
	if !create {
		return core.NilID, nil
	}
	co, err := c.Companies.Create(ctx, contacts.NewCompany{Name: name})
	if err != nil {
		return core.NilID, err
	}
	ti.newCompanies++
	ti.companyByName[name] = co.ID
	return co.ID, nil
}

// companyRef returns the id of the company a vendor's id names: the one
// imported with it (its "<vendor>_id" attribute), or the zero id.
func (ti *tableImport) companyRef(ctx context.Context, c *crm.CRM, src, ref string) (core.ID, error) {
	key := src + "\x00" + ref
	if id, ok := ti.companyByRef[key]; ok {
		return id, nil
	}
	page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq("attributes."+src+"_id", ref), Limit: 1})
	if err != nil {
		return core.NilID, err
	}
	var id core.ID
	if len(page.Items) > 0 {
		id = page.Items[0].ID
	}
	ti.companyByRef[key] = id
	return id, nil
}

// vendorKey is the attribute a row's vendor id is kept in, and the id;
// "" without a preset or an id.
func (ti *tableImport) vendorKey(rec record) (string, string) {
	if ti.vendor == "" {
		return "", ""
	}
	key := ti.vendor + "_id"
	return key, rec.get(filter.AttributePrefix + key)
}

// domainOf is a company's domain: the domain field, else the host of the
// website.
func domainOf(rec record) string {
	if d := rec.get("domain"); d != "" {
		return d
	}
	w := rec.get("website")
	if w == "" {
		return ""
	}
	if !strings.Contains(w, "://") {
		w = "https://" + w
	}
	u, err := url.Parse(w)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
}

// writeCompany creates or updates one company: found by the vendor's id,
// else its domain, else its exact name.
func (ti *tableImport) writeCompany(ctx context.Context, c *crm.CRM, rec record) (outcome, error) {
	attrs, err := ti.attributes(rec)
	if err != nil {
		return 0, err
	}
	name, domain := rec.get("name"), domainOf(rec)
	var found *contacts.Company
	if key, id := ti.vendorKey(rec); id != "" {
		page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq(filter.AttributePrefix+key, id), Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(page.Items) > 0 {
			found = page.Items[0]
		}
	}
	if found == nil && domain != "" {
		co, err := c.Companies.GetByDomain(ctx, domain)
		switch {
		case err == nil:
			found = co
		case !errors.Is(err, core.ErrNotFound):
			return 0, fieldError("domain", err)
		}
	}
	if found == nil && name != "" {
		page, err := c.Companies.List(ctx, contacts.CompanyListOptions{Filter: filter.Eq("name", name), Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(page.Items) > 0 {
			found = page.Items[0]
		}
	}
	if found == nil {
		co, err := c.Companies.Create(ctx, contacts.NewCompany{Name: name, Domain: domain, Attributes: attrs})
		if err != nil {
			return 0, err
		}
		if name != "" {
			ti.companyByName[name] = co.ID
		}
		return created, nil
	}
	patch := contacts.CompanyPatch{Version: found.Version}
	changed := false
	if name != "" && name != found.Name {
		patch.Name, changed = &name, true
	}
	if domain != "" && contacts.NormalizeDomain(domain) != found.Domain {
		patch.Domain, changed = &domain, true
	}
	for k, v := range attrs {
		if fmt.Sprint(found.Attributes[k]) != fmt.Sprint(v) {
			if patch.Attributes == nil {
				patch.Attributes = map[string]any{}
			}
			patch.Attributes[k], changed = v, true
		}
	}
	if !changed {
		return unchanged, nil
	}
	_, err = c.Companies.Update(ctx, found.ID, patch)
	return updated, err
}

// knownCompany is the company of a row among those looked up before: by
// the vendor's id, else by name; nil for none.
func (ti *tableImport) knownCompany(rec record) *core.ID {
	for f, v := range rec.values {
		if src, ok := strings.CutPrefix(f, "company_id:"); ok {
			if id := ti.companyByRef[src+"\x00"+firstOf(v)]; id != core.NilID {
				return &id
			}
		}
	}
	if id, ok := ti.companyByName[rec.get("company")]; ok && id != core.NilID {
		return &id
	}
	return nil
}
