package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// The sender of an inbound mail: their contact, found by address or
// created with the name the mail gives, if the actor may.

// mayTakeSender checks that the actor of g may find the sender's contact
// (contacts read, with personal data: the lookup is by address) and, when
// there is none, create it (contacts create); refusals are recorded.
func (s *Tickets) mayTakeSender(ctx context.Context, g *guard, email string) error {
	_, err := contacts.Module.Contacts(s.sc).GetByEmail(ctx, email)
	if err == nil || !errors.Is(err, core.ErrNotFound) {
		return senderError(err)
	}
	if rerr := g.eff.Require("contacts", access.Create); rerr != nil {
		return s.deniedOnContacts(ctx, rerr)
	}
	if !g.eff.SeesPersonalData("contacts") {
		return s.deniedOnContacts(ctx, fmt.Errorf("%w: user %s may not create a contact with an email in contacts", core.ErrForbidden, g.eff.Actor()))
	}
	return nil
}

// deniedOnContacts records the actor's refused attempt to create the
// sender's contact as the contacts module records its own, and returns
// err.
func (s *Tickets) deniedOnContacts(ctx context.Context, err error) error {
	if audit := s.sc.Runtime().Audit; audit != nil {
		e := store.AuditEntry{Action: AuditDenied, SubjectType: "contact", SubjectID: core.NilID, Detail: "contacts:create"}
		if aerr := audit(ctx, s.sc, e); aerr != nil {
			s.sc.Runtime().Logger.WarnContext(ctx, "crm: audit of a denied attempt failed", "subject_type", "contact", "error", aerr)
		}
	}
	return err
}

// senderContact finds the contact with email or creates one with the
// name the mail gives; created reports which.
func senderContact(ctx context.Context, sc store.Scope, email, name string) (id core.ID, created bool, err error) {
	cs := contacts.Module.Contacts(sc)
	for range 2 {
		c, err := cs.GetByEmail(ctx, email)
		if err == nil {
			return c.ID, false, nil
		}
		if !errors.Is(err, core.ErrNotFound) {
			return core.NilID, false, senderError(err)
		}
		first, last := splitName(name, email)
		c, err = cs.Create(ctx, contacts.NewContact{Email: email, FirstName: first, LastName: last})
		if err == nil {
			return c.ID, true, nil
		}
		if !errors.Is(err, core.ErrConflict) {
			return core.NilID, false, senderError(err)
		}
		// Created meanwhile by a concurrent delivery: read it.
	}
	return core.NilID, false, fmt.Errorf("%w: the sender's contact could not be found or created (is it one the actor does not see?)", core.ErrConflict)
}

// senderError names the sender as "from" in a validation error of the
// contacts module (its address is not repeated).
func senderError(err error) error {
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		return core.Invalid("from", "the sender's address is not one a contact can have")
	}
	return err
}

// splitName splits a display name into first and last name: "Ada
// Lovelace", "Lovelace, Ada"; a name that is the address itself is none.
func splitName(name, email string) (first, last string) {
	name = strings.Trim(oneLine(name, contacts.MaxNameLen), `"' `)
	if name == "" || strings.EqualFold(name, email) || strings.Contains(name, "@") {
		return "", ""
	}
	if l, f, ok := strings.Cut(name, ","); ok {
		return strings.TrimSpace(f), strings.TrimSpace(l)
	}
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}
