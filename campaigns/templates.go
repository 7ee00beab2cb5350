package campaigns

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/access"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/store"
)

// Templates are the tenant's mail templates (c.Templates).
type Templates struct {
	sc    store.Scope
	cache *templateCache
}

func newTemplates(sc store.Scope, cache *templateCache) *Templates {
	return &Templates{sc: sc, cache: cache}
}

// check parses t's parts and executes them for a sample contact: a
// template that does not parse, names a field that does not exist or
// fails to run is ErrInvalid here, when it is saved, not when it is sent.
func (s *Templates) check(ctx context.Context, t *Template) (*compiled, error) {
	v := &core.ValidationError{}
	if t.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", t.Name, MaxNameLen)
	if strings.TrimSpace(t.Subject) == "" {
		v.Add("subject", "is required")
	}
	if len(t.Subject) > MaxSubjectLen {
		v.Add("subject", "is longer than %d bytes", MaxSubjectLen)
	}
	if strings.TrimSpace(t.HTML) == "" {
		v.Add("html", "is required")
	}
	for field, s := range map[string]string{"html": t.HTML, "text": t.Text} {
		if len(s) > MaxTemplateLen {
			v.Add(field, "is longer than %d bytes", MaxTemplateLen)
		}
	}
	if v.Has("html") || v.Has("text") || len(t.Subject) > MaxSubjectLen {
		return nil, v // too long to parse
	}
	c := compile(t.Subject, t.HTML, t.Text, v.Add)
	if len(v.Fields) > 0 {
		return nil, v
	}
	sample, err := s.sampleData(ctx)
	if err != nil {
		return nil, err
	}
	for _, key := range c.attributesNamed() {
		if _, ok := sample.Contact.Attributes[key]; !ok {
			v.Add("attributes", "the template names attributes.%s, which is not a custom field of contacts", key)
		}
	}
	if len(v.Fields) == 0 {
		if _, err := c.render(sample); err != nil {
			part, msg, _ := strings.Cut(err.Error(), ": ")
			v.Add(part, "%s", msg)
		}
	}
	return c, v.Err()
}

// sampleData is a recipient with every field set, for checks and the
// preview of a template without a contact.
func (s *Templates) sampleData(ctx context.Context) (*Data, error) {
	attrs, err := attributeKeys(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	for k := range attrs {
		attrs[k] = "sample"
	}
	return &Data{Contact: ContactData{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Phone: "+441234567890",
		Attributes: attrs}, Campaign: CampaignData{Name: "Sample"}, UnsubscribeURL: "https://example.com/unsubscribe"}, nil
}

// attributeKeys returns the tenant's custom fields of contacts, each
// mapped to "".
func attributeKeys(ctx context.Context, sc store.Scope) (map[string]any, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	defs, err := fields.Module.List(ctx, sc.Q(), tenant, contacts.EntityContact)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(defs))
	for _, d := range defs {
		out[d.Key] = ""
	}
	return out, nil
}

// Create saves a template (version 1) and emits "template.created".
func (s *Templates) Create(ctx context.Context, in NewTemplate) (_ *Template, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Templates.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "template", core.NilID, access.Create); err != nil {
		return nil, err
	}
	t := &Template{ID: core.NewID(), Name: strings.TrimSpace(in.Name), Subject: in.Subject, HTML: in.HTML, Text: in.Text, Version: 1}
	if _, err := s.check(ctx, t); err != nil {
		return nil, store.Wrap(err, "create template")
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		t.CreatedAt, t.UpdatedAt = now, now
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_templates (tenant_id, id, name, subject, html, text, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, t.ID, t.Name, t.Subject, t.HTML, t.Text, now, now, t.Version); err != nil {
			return uniqueName(err, "template")
		}
		if err := insertTemplateVersion(ctx, tx, tenant, t); err != nil {
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventTemplateCreated, SubjectType: "template", SubjectID: t.ID,
			OccurredAt: now, Data: store.JSON(t)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create template")
	}
	return t, nil
}

func insertTemplateVersion(ctx context.Context, tx *store.Tx, tenant string, t *Template) error {
	_, err := tx.Q().Exec(ctx, `INSERT INTO crm_template_versions (tenant_id, template_id, version, subject, html, text, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, tenant, t.ID, t.Version, t.Subject, t.HTML, t.Text, t.UpdatedAt)
	return err
}

const templateColumns = `t.id, t.name, t.subject, t.html, t.text, t.created_at, t.updated_at, t.version`

func scanTemplate(row store.Scanner) (*Template, error) {
	var t Template
	if err := row.Scan(&t.ID, &t.Name, &t.Subject, &t.HTML, &t.Text, &t.CreatedAt, &t.UpdatedAt, &t.Version); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return &t, nil
}

func getTemplate(ctx context.Context, q store.Q, tenant string, id core.ID) (*Template, error) {
	t, err := scanTemplate(q.QueryRow(ctx, `SELECT `+templateColumns+` FROM crm_templates t WHERE t.tenant_id = ? AND t.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("template", id)
	}
	return t, err
}

// Get returns the template's latest version.
func (s *Templates) Get(ctx context.Context, id core.ID) (_ *Template, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Templates.Get", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "template", id, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	t, err := getTemplate(ctx, s.sc.Q(), tenant, id)
	return t, store.Wrap(err, "get template")
}

// Version returns one saved version of the template.
func (s *Templates) Version(ctx context.Context, id core.ID, version int64) (_ *Template, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Templates.Version", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "template", id, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	t, err := getTemplateVersion(ctx, s.sc.Q(), tenant, id, version)
	return t, store.Wrap(err, "get template version")
}

func getTemplateVersion(ctx context.Context, q store.Q, tenant string, id core.ID, version int64) (*Template, error) {
	t, err := scanTemplate(q.QueryRow(ctx, `SELECT t.id, t.name, v.subject, v.html, v.text, t.created_at, v.created_at, v.version
		FROM crm_template_versions v JOIN crm_templates t ON t.tenant_id = v.tenant_id AND t.id = v.template_id
		WHERE v.tenant_id = ? AND v.template_id = ? AND v.version = ?`, tenant, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("template version", fmt.Sprintf("%s/%d", id, version))
	}
	return t, err
}

// List returns the tenant's templates (latest versions) by name.
func (s *Templates) List(ctx context.Context) (_ []*Template, err error) {
	ctx, span := s.sc.Span(ctx, "campaigns.Templates.List")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "template", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+templateColumns+` FROM crm_templates t WHERE t.tenant_id = ? ORDER BY t.name, t.id`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list templates")
	}
	out := []*Template{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		t, err := scanTemplate(r)
		out = append(out, t)
		return err
	})
	return out, store.Wrap(err, "list templates")
}

// Update saves a new version of the template if patch.Version is still
// its version, and emits "template.updated". Campaigns started from an
// earlier version keep sending that one.
func (s *Templates) Update(ctx context.Context, id core.ID, patch TemplatePatch) (_ *Template, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Templates.Update", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "template", id, access.Update); err != nil {
		return nil, err
	}
	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	var out *Template
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		t, err := getTemplate(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		if t.Version != patch.Version {
			return fmt.Errorf("%w: template %s is at version %d, not %d", core.ErrConflict, id, t.Version, patch.Version)
		}
		for _, p := range []struct {
			to   *string
			from *string
		}{{&t.Name, patch.Name}, {&t.Subject, patch.Subject}, {&t.HTML, patch.HTML}, {&t.Text, patch.Text}} {
			if p.from != nil {
				*p.to = *p.from
			}
		}
		t.Name = strings.TrimSpace(t.Name)
		if _, err := newTemplates(s.sc.WithTx(tx), s.cache).check(ctx, t); err != nil {
			return err
		}
		t.UpdatedAt = tx.Runtime().Now()
		t.Version++
		res, err := tx.Q().Exec(ctx, `UPDATE crm_templates SET name = ?, subject = ?, html = ?, text = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, t.Name, t.Subject, t.HTML, t.Text, t.UpdatedAt, t.Version, tenant, id, patch.Version)
		if err != nil {
			return uniqueName(err, "template")
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("%w: template %s changed meanwhile", core.ErrConflict, id)
		}
		if err := insertTemplateVersion(ctx, tx, tenant, t); err != nil {
			return err
		}
		out = t
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventTemplateUpdated, SubjectType: "template", SubjectID: id,
			OccurredAt: t.UpdatedAt, Data: store.JSON(t)})
	})
	if err != nil {
		return nil, store.Wrap(err, "update template")
	}
	return out, nil
}

// Delete removes a template no campaign uses, with its versions, and
// emits "template.deleted"; one a campaign was made from is ErrConflict.
func (s *Templates) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Templates.Delete", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "template", id, access.Delete); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		var n int
		if err := tx.Q().QueryRow(ctx, `SELECT (SELECT count(*) FROM crm_campaigns WHERE tenant_id = ? AND template_id = ?)
			+ (SELECT count(*) FROM crm_campaign_variants WHERE tenant_id = ? AND template_id = ?)`, tenant, id, tenant, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: template %s is used by %d campaigns", core.ErrConflict, id, n)
		}
		res, err := tx.Q().Exec(ctx, `DELETE FROM crm_templates WHERE tenant_id = ? AND id = ?`, tenant, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return core.NotFound("template", id)
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventTemplateDeleted, SubjectType: "template", SubjectID: id,
			Data: store.JSON(Deleted{ID: id})})
	})
	return store.Wrap(err, "delete template")
}

// Preview renders the template's latest version for a contact of the
// tenant (the zero id: a sample contact), as it would be sent. An actor
// previews only for a contact the contacts module shows them (another is
// ErrNotFound), and sees it as that module shows it: without its email
// and phone when they do not see personal data.
func (s *Templates) Preview(ctx context.Context, id core.ID, contactID core.ID) (_ Rendered, err error) {
	ctx, span := s.sc.SpanID(ctx, "campaigns.Templates.Preview", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "template", id, access.Read); err != nil {
		return Rendered{}, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return Rendered{}, err
	}
	t, err := getTemplate(ctx, s.sc.Q(), tenant, id)
	if err != nil {
		return Rendered{}, store.Wrap(err, "preview template")
	}
	c, err := s.cache.get(tenant, t)
	if err != nil {
		return Rendered{}, err
	}
	d, err := s.sampleData(ctx)
	if err != nil {
		return Rendered{}, err
	}
	if contactID != core.NilID {
		ct, err := contacts.Module.Contacts(s.sc).Get(ctx, contactID)
		if err != nil {
			return Rendered{}, err
		}
		d.Contact = contactData(ct, d.Contact.Attributes)
	}
	r, err := c.render(d)
	if err != nil {
		return Rendered{}, fmt.Errorf("%w: template %s: %v", core.ErrInvalid, id, err)
	}
	return r, nil
}

// contactData is what a template sees of c: every defined attribute,
// c's value or "".
func contactData(c *contacts.Contact, defined map[string]any) ContactData {
	attrs := make(map[string]any, len(defined))
	for k := range defined {
		attrs[k] = ""
		if v, ok := c.Attributes[k]; ok && v != nil {
			attrs[k] = v
		}
	}
	return ContactData{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone, Attributes: attrs}
}

// templateCache keeps compiled template versions (a version never
// changes), at most templateCacheSize of them per process.
type templateCache struct {
	mu   sync.Mutex
	m    map[string]*compiled
	keys []string
}

const templateCacheSize = 256

func (c *templateCache) get(tenant string, t *Template) (*compiled, error) {
	key := fmt.Sprintf("%s\x00%s\x00%d", tenant, t.ID, t.Version)
	c.mu.Lock()
	if x, ok := c.m[key]; ok {
		c.mu.Unlock()
		return x, nil
	}
	c.mu.Unlock()
	v := &core.ValidationError{}
	x := compile(t.Subject, t.HTML, t.Text, v.Add)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("template %s version %d: %w", t.ID, t.Version, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*compiled{}
	}
	if _, ok := c.m[key]; !ok {
		if len(c.keys) >= templateCacheSize {
			delete(c.m, c.keys[0])
			c.keys = slices.Delete(c.keys, 0, 1)
		}
		c.m[key] = x
		c.keys = append(c.keys, key)
	}
	return x, nil
}
