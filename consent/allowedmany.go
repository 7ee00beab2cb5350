package consent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// AllowedMany is Allowed for many contacts at once, in a few queries
// whatever their number (a campaign's batch): it returns, for each
// contact that may not be contacted for purpose over channel, the reason
// (an error matching core.ErrNoConsent, as Allowed's); a contact absent
// from the map may be contacted. A purpose the tenant does not have is
// ErrInvalid, for all.
func (s *Service) AllowedMany(ctx context.Context, ids []core.ID, purpose string, channel Channel) (_ map[core.ID]error, err error) {
	ctx, span := s.sc.Span(ctx, "consent.AllowedMany")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	q := s.sc.Q()
	p, err := getPurpose(ctx, q, tenant, purpose, false)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Invalid("purpose", "%q is not a purpose of this tenant", purpose)
	}
	if err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	out := map[core.ID]error{}
	if len(ids) == 0 {
		return out, nil
	}
	// Contacts the actor does not see are not found, as missing ones.
	seen, err := g.visible(ctx, q, tenant, ids)
	if err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	if len(seen) < len(ids) {
		var shown []core.ID
		for _, id := range ids {
			if seen[id] {
				shown = append(shown, id)
			} else {
				out[id] = core.NotFound("contact", id)
			}
		}
		ids = shown
		if len(ids) == 0 {
			return out, nil
		}
	}
	if !slices.Contains(p.Channels, channel) {
		for _, id := range ids {
			out[id] = fmt.Errorf("%w: purpose %q does not use channel %q", core.ErrNoConsent, purpose, channel)
		}
		return out, nil
	}
	// Restriction and suppression (checkSuppressed, for all).
	rows, err := q.Query(ctx, `SELECT id, email, phone, restricted FROM crm_contacts WHERE tenant_id = ? AND `+q.D.InList("id", "uuid"),
		tenant, q.D.IDsArg(ids))
	if err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	type addrs struct{ email, phone string }
	of := map[core.ID]addrs{}
	var emails, phones []string
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var a addrs
		var restricted bool
		if err := r.Scan(&id, &a.email, &a.phone, &restricted); err != nil {
			return err
		}
		if restricted {
			out[id] = ErrRestricted
			return nil
		}
		of[id] = a
		emails, phones = append(emails, a.email), append(phones, a.phone)
		return nil
	}); err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	sup, err := suppressedAddresses(ctx, q, tenant, emails, phones)
	if err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	for id, a := range of {
		if sup[a.email] || sup[a.phone] {
			out[id] = ErrSuppressed
		}
	}
	// The deciding record of each: the latest of the contact's and of the
	// contacts merged into it (Status).
	owner := map[core.ID]core.ID{}
	members := slices.Clone(ids)
	for _, id := range ids {
		owner[id] = id
	}
	rows, err = q.Query(ctx, `SELECT winner_id, loser_id FROM crm_contact_merges WHERE tenant_id = ? AND `+q.D.InList("winner_id", "uuid"),
		tenant, q.D.IDsArg(ids))
	if err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var w, l core.ID
		err := r.Scan(&w, &l)
		owner[l] = w
		members = append(members, l)
		return err
	}); err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	type latest struct {
		state State
		at    time.Time
		id    core.ID
	}
	decided := map[core.ID]latest{}
	rows, err = q.Query(ctx, `SELECT contact_id, status, recorded_at, id FROM crm_consents WHERE tenant_id = ? AND purpose_key = ? AND channel = ?
		AND `+q.D.InList("contact_id", "uuid"), tenant, purpose, string(channel), q.D.IDsArg(members))
	if err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var contact, id core.ID
		var state string
		var at time.Time
		if err := r.Scan(&contact, &state, &at, &id); err != nil {
			return err
		}
		o := owner[contact]
		cur, ok := decided[o]
		if !ok || at.After(cur.at) || (at.Equal(cur.at) && id.String() > cur.id.String()) {
			decided[o] = latest{state: State(state), at: at.UTC(), id: id}
		}
		return nil
	}); err != nil {
		return nil, store.Wrap(err, "allowed")
	}
	for _, id := range ids {
		if out[id] != nil {
			continue
		}
		d, ok := decided[id]
		switch {
		case ok && (d.state == Objected || d.state == Withdrawn):
			out[id] = fmt.Errorf("%w: %s %s on %s (%s)", core.ErrNoConsent, purpose, d.state, d.at.Format(time.DateOnly), channel)
		case p.LegalBasis != BasisConsent, ok && d.state == Granted:
		case ok && d.state == Pending:
			out[id] = fmt.Errorf("%w: %s over %s awaits the double opt-in confirmation", core.ErrNoConsent, purpose, channel)
		default:
			out[id] = fmt.Errorf("%w: no consent to %s over %s", core.ErrNoConsent, purpose, channel)
		}
	}
	return out, nil
}

// UnsubscribeTokens is UnsubscribeToken for many contacts of one purpose:
// the purpose is checked once.
func (s *Service) UnsubscribeTokens(ctx context.Context, ids []core.ID, purpose string) (_ map[core.ID]string, err error) {
	ctx, span := s.sc.Span(ctx, "consent.UnsubscribeTokens")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := getPurpose(ctx, s.sc.Q(), tenant, purpose, false); err != nil {
		return nil, store.Wrap(err, "unsubscribe token")
	}
	g, err := check(ctx, s.sc, "contact", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	seen, err := g.visible(ctx, s.sc.Q(), tenant, ids)
	if err != nil {
		return nil, store.Wrap(err, "unsubscribe token")
	}
	for _, id := range ids {
		if !seen[id] {
			return nil, g.done(ctx, &denial{err: core.NotFound("contact", id), kind: "contact", id: id, action: access.Read})
		}
	}
	out := make(map[core.ID]string, len(ids))
	for _, id := range ids {
		t, err := s.sign(claims{Kind: kindUnsubscribe, Tenant: tenant, ID: id, Purpose: purpose})
		if err != nil {
			return nil, err
		}
		out[id] = t
	}
	return out, nil
}
