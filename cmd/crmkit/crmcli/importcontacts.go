package crmcli

import (
	"context"
	"errors"
	"iter"
	"strings"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// Importing contacts through the contacts module's bulk import, with the
// companies the rows name.

// importContacts imports contacts through the contacts module's bulk
// import (Contacts.Import), with the companies the rows name linked — and
// created first when the tenant has none of that name. A dry run and an
// all-or-nothing import do it all in one transaction (rolled back for the
// dry run, and when a row of an all-or-nothing import fails), so the
// companies come and go with the contacts.
func (ti *tableImport) importContacts(ctx context.Context, t *table, r refs, o contacts.ImportOptions, progress func(contacts.ImportProgress)) (contacts.ImportResult, error) {
	var res contacts.ImportResult
	apply := func(ctx context.Context, c *crm.CRM) error {
		ti.companyErr = map[string]error{}
		for _, name := range r.companies {
			if _, err := ti.company(ctx, c, name, true); err != nil {
				if !rowFailure(err) {
					return err
				}
				ti.companyErr[name] = fieldError("company", err)
			}
		}
		for _, ref := range r.companyRefs {
			if _, err := ti.companyRef(ctx, c, ref[0], ref[1]); err != nil {
				return err
			}
		}
		// The rows are read while the import writes (in its
		// transaction, for a dry run): they query nothing, the companies
		// are known.
		rows := func(yield func(contacts.ImportRow) bool) {
			for rec := range t.rows() {
				row := contacts.ImportRow{Line: rec.line, Err: rec.err}
				if rec.err == nil {
					row.Contact, row.Err = ti.contact(rec, ti.companyErr)
				}
				if !yield(row) {
					return
				}
			}
		}
		io := o
		io.Progress = progress
		if o.DryRun {
			// Batches in savepoints of the transaction that is rolled
			// back below: the counts are those of a real import.
			io.DryRun, io.AllOrNothing = false, false
		}
		var err error
		res, err = c.Contacts.Import(ctx, iter.Seq[contacts.ImportRow](rows), io)
		return err
	}
	var err error
	switch {
	case o.DryRun:
		err = ti.run(ctx, true, apply)
		res.DryRun = true
	case o.AllOrNothing:
		err = ti.c.InTx(ctx, apply)
	default:
		err = apply(ctx, ti.c)
	}
	return res, err
}

// contact builds the contact of one row.
func (ti *tableImport) contact(rec record, companyErr map[string]error) (contacts.NewContact, error) {
	var c contacts.NewContact
	v := &core.ValidationError{}
	c.Email = firstOf(rec.get("email"))
	c.Phone = firstOf(rec.get("phone"))
	c.FirstName, c.LastName = rec.get("first_name"), rec.get("last_name")
	if full := rec.get("name"); full != "" && c.FirstName == "" && c.LastName == "" {
		if i := strings.LastIndex(full, " "); i > 0 {
			c.FirstName, c.LastName = strings.TrimSpace(full[:i]), strings.TrimSpace(full[i+1:])
		} else {
			c.FirstName = full
		}
	}
	if s := rec.get("lifecycle_stage"); s != "" {
		st, ok := lifecycleStages[stageKey(s)]
		if !ok {
			v.Add("lifecycle_stage", "%q is not a lifecycle stage crmkit knows (subscriber, lead, MQL, SQL, opportunity, customer, evangelist, other): map the column to an attribute", s)
		}
		c.LifecycleStage = st
	}
	c.OwnerID = rec.get("owner_id")
	if tags := rec.get("tags"); tags != "" {
		for _, tg := range strings.FieldsFunc(tags, func(r rune) bool { return r == '|' || r == ',' || r == ';' }) {
			c.Tags = append(c.Tags, strings.TrimSpace(tg))
		}
	}
	for f, val := range rec.values {
		if src, ok := strings.CutPrefix(f, "external_id:"); ok {
			c.ExternalIDs = append(c.ExternalIDs, contacts.ExternalID{Source: src, ID: val})
		}
	}
	attrs, err := ti.attributes(rec)
	if ve := (*core.ValidationError)(nil); errors.As(err, &ve) {
		v.Fields = append(v.Fields, ve.Fields...)
	}
	c.Attributes = attrs
	if name := rec.get("company"); name != "" && companyErr[name] != nil {
		return c, companyErr[name]
	}
	if err := v.Err(); err != nil {
		return c, err
	}
	c.CompanyID = ti.knownCompany(rec)
	return c, nil
}
