package crmhttp

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// contactSections is how many deals and tickets the contact page lists,
// and the timeline's page size.
const contactSections = 50

// contactData is the contact's 360° page: every part read through its
// module's Go API with the actor in the context, so the contact's personal
// fields are as that API gives them to the actor (masked when their roles
// do not grant personal data), and a part the actor may not read says so
// instead of failing the page.
type contactData struct {
	Contact *contacts.Contact
	Company *contacts.Company
	// Attributes are the contact's custom fields, by key.
	Attributes []attribute
	Deals      section[dealRow]
	Tickets    section[*tickets.Ticket]
	Consent    section[*consent.Record]
	Timeline   section[contacts.TimelineItem]
	// Older is the query of the timeline's next page ("" on the last).
	Older template.URL
}

type attribute struct{ Key, Value string }

// section is one part of the contact page: its rows, or that the actor
// may not read them.
type section[T any] struct {
	Items     []T
	Forbidden bool
	More      bool // there are more than the page shows
}

type dealRow struct {
	Deal     *pipeline.Deal
	Pipeline string
	Stage    string
}

func (d *dashboard) contact(ctx context.Context, r *http.Request, v *view) error {
	v.Page, v.Title = "contact", "Contact"
	id, err := core.ParseID(r.PathValue("id"))
	if err != nil {
		return core.NotFound("contact", r.PathValue("id"))
	}
	c := crmOf(ctx)
	ct, err := c.Contacts.Get(ctx, id)
	if err != nil {
		return err
	}
	data := &contactData{Contact: ct}
	if name := ct.Name(); name != "" {
		v.Title = name
	}
	keys := make([]string, 0, len(ct.Attributes))
	for k := range ct.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		data.Attributes = append(data.Attributes, attribute{Key: k, Value: fmt.Sprint(ct.Attributes[k])})
	}
	if ct.CompanyID != nil {
		co, err := c.Companies.Get(ctx, *ct.CompanyID)
		switch {
		case err == nil:
			data.Company = co
		case !errors.Is(err, core.ErrNotFound) && !errors.Is(err, core.ErrForbidden):
			return err
		}
	}

	byContact := filter.Eq("contact_id", ct.ID.String())
	deals, err := c.Deals.List(ctx, pipeline.DealListOptions{Filter: byContact, Limit: contactSections})
	if err = data.Deals.fill(err, func() error {
		names := map[core.ID]*pipeline.Pipeline{}
		for _, dl := range deals.Items {
			row := dealRow{Deal: dl}
			pl, ok := names[dl.PipelineID]
			if !ok {
				p, err := c.Pipelines.Get(ctx, dl.PipelineID)
				if err != nil {
					return err
				}
				pl, names[dl.PipelineID] = p, p
			}
			row.Pipeline = pl.Name
			if st := pl.Stage(dl.StageID); st != nil {
				row.Stage = st.Name
			}
			data.Deals.Items = append(data.Deals.Items, row)
		}
		data.Deals.More = deals.Next != ""
		return nil
	}); err != nil {
		return err
	}

	ts, err := c.Tickets.List(ctx, tickets.ListOptions{Filter: byContact, Limit: contactSections})
	if err = data.Tickets.fill(err, func() error {
		data.Tickets.Items, data.Tickets.More = ts.Items, ts.Next != ""
		return nil
	}); err != nil {
		return err
	}

	log, err := c.Consent.History(ctx, ct.ID)
	if err = data.Consent.fill(err, func() error {
		data.Consent.Items = consentState(log)
		return nil
	}); err != nil {
		return err
	}

	tl, err := c.Contacts.Timeline(ctx, ct.ID, contacts.TimelineOptions{Limit: contactSections, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		return err // the contact is visible, so this is a bad cursor (422) or a failure
	}
	data.Timeline.Items = tl.Items
	if tl.Next != "" {
		data.Older = template.URL(url.Values{"cursor": {tl.Next}}.Encode())
	}
	v.Data = data
	return nil
}

// fill runs ok when the section's read succeeded, marks the section
// forbidden when the actor may not read it (the module's ErrForbidden),
// and returns any other error.
func (s *section[T]) fill(err error, ok func() error) error {
	switch {
	case err == nil:
		return ok()
	case errors.Is(err, core.ErrForbidden):
		s.Forbidden = true
		return nil
	}
	return err
}

// consentState is the record that decides each purpose and channel: the
// latest of the log (which is oldest first), by purpose then channel.
func consentState(log []*consent.Record) []*consent.Record {
	type key struct {
		purpose string
		channel consent.Channel
	}
	latest := map[key]*consent.Record{}
	for _, rec := range log {
		latest[key{rec.Purpose, rec.Channel}] = rec
	}
	out := make([]*consent.Record, 0, len(latest))
	for _, rec := range latest {
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Purpose != out[j].Purpose {
			return out[i].Purpose < out[j].Purpose
		}
		return out[i].Channel < out[j].Channel
	})
	return out
}
