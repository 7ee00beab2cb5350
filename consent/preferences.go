package consent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// DefaultPreferencesTTL is how long a preference centre link is valid when
// Options set no PreferencesTTL.
const DefaultPreferencesTTL = 30 * 24 * time.Hour

// MaxChoices bounds the choices of one SetPreferences call.
const MaxChoices = 1000

// PreferenceLink is a contact's link to the preference centre: the host
// puts Token in the URL of its page (crmhttp serves
// /public/preferences/{token}) and sends it to the person.
type PreferenceLink struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Preference is one purpose of the tenant as the preference centre shows
// it to the person: the purpose and, per channel, whether the person is
// in.
type Preference struct {
	Purpose  *Purpose        `json:"purpose"`
	Channels []ChannelChoice `json:"channels"`
}

// ChannelChoice is the person's state of a purpose on one channel.
type ChannelChoice struct {
	Channel Channel `json:"channel"`
	// State is the deciding record's state; "" when there is none.
	State State `json:"state,omitempty"`
	// On tells whether the purpose may reach the person over the channel
	// as far as their own choice goes: a grant on the consent basis; no
	// withdrawal or objection on legitimate interest.
	On bool `json:"on"`
}

// Choice is one change a person makes in the preference centre: in (On)
// or out of a purpose on a channel.
type Choice struct {
	Purpose string  `json:"purpose"`
	Channel Channel `json:"channel"`
	On      bool    `json:"on"`
}

// choosable tells whether a person chooses a purpose of basis b: consent
// and legitimate interest; a contract or legal obligation is not theirs
// to switch off.
func choosable(b LegalBasis) bool { return b == BasisConsent || b == BasisLegitimateInterest }

// isOn tells whether state r lets purpose p reach the person (see
// ChannelChoice.On).
func isOn(p *Purpose, r *Record) bool {
	if p.LegalBasis == BasisConsent {
		return r != nil && r.State == Granted
	}
	return r == nil || (r.State != Withdrawn && r.State != Objected)
}

// PreferencesToken returns a link to the contact's preference centre: a
// token that names the tenant and the contact (no personal data), signed
// as the other tokens, that works any number of times until it expires
// (Options.PreferencesTTL). Like UnsubscribeToken it needs "consent" read
// and a contact the actor sees.
func (s *Service) PreferencesToken(ctx context.Context, contactID core.ID) (_ *PreferenceLink, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.PreferencesToken", contactID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "contact", contactID, access.Read)
	if err != nil {
		return nil, err
	}
	if err := g.contact(ctx, s.sc.Q(), tenant, contactID, access.Read); err != nil {
		return nil, g.done(ctx, store.Wrap(err, "preferences token"))
	}
	expires := time.Unix(s.sc.Runtime().Now().Add(s.opts.PreferencesTTL).Unix(), 0).UTC()
	token, err := s.sign(claims{Kind: kindPreferences, Tenant: tenant, ID: contactID, Expires: expires.Unix()})
	if err != nil {
		return nil, err
	}
	return &PreferenceLink{Token: token, ExpiresAt: expires}, nil
}

// Preferences returns what the preference centre shows the person of a
// preference token (the service bound to the token's tenant): the
// tenant's purposes on consent or legitimate interest, by key, with the
// person's state on each channel (the records of contacts merged into
// theirs included). Purposes on contract or legal obligation are not
// listed: they are not the person's to switch off. It writes nothing and
// needs no permission (the token is the authority). A forged, expired or
// foreign token is ErrTokenInvalid, ErrTokenExpired or ErrTokenTenant, a
// token of a contact that is gone ErrTokenExpired.
func (s *Service) Preferences(ctx context.Context, token string) (_ []Preference, err error) {
	ctx, span := s.sc.Span(ctx, "consent.Preferences")
	defer span.End(&err)

	c, err := s.verify(token, kindPreferences)
	if err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	out, err := preferences(ctx, s.sc.Q(), tenant, c.ID)
	if err != nil {
		return nil, store.Wrap(err, "preferences")
	}
	return out, nil
}

func preferences(ctx context.Context, q store.Q, tenant string, contactID core.ID) ([]Preference, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_contacts WHERE tenant_id = ? AND id = ?`, tenant, contactID).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrTokenExpired // its contact is gone
	}
	purposes, err := listPurposes(ctx, q, tenant)
	if err != nil {
		return nil, err
	}
	out := []Preference{}
	for _, p := range purposes {
		if !choosable(p.LegalBasis) {
			continue
		}
		pref := Preference{Purpose: p, Channels: make([]ChannelChoice, 0, len(p.Channels))}
		for _, ch := range p.Channels {
			r, err := statusIn(ctx, q, tenant, contactID, p.Key, ch)
			if err != nil {
				return nil, err
			}
			cc := ChannelChoice{Channel: ch, On: isOn(p, r)}
			if r != nil {
				cc.State = r.State
			}
			pref.Channels = append(pref.Channels, cc)
		}
		out = append(out, pref)
	}
	return out, nil
}

// SetPreferences records the person's choices from the preference centre
// (the service bound to the token's tenant): a grant where a choice is on
// and the purpose is not on for the person, a withdrawal where it is off
// and the purpose is on (source "preference_centre", the proof's IP and
// user agent when Options.RecordNetwork is set), all in one transaction;
// choices that change nothing record nothing, so the same form sent twice
// writes once. It returns the records written. Each choice must name a
// purpose Preferences lists and one of its channels, once; a bad one is
// ErrInvalid (a *core.ValidationError listing every problem under
// "choices.<i>") and nothing is written. A grant for a suppressed or
// restricted contact is ErrSuppressed or ErrRestricted, and nothing is
// written. It needs no permission: the token is the authority, whatever
// actor the context carries. Tokens are refused as by Preferences.
func (s *Service) SetPreferences(ctx context.Context, token string, choices []Choice, proof Proof) (_ []*Record, err error) {
	ctx, span := s.sc.Span(ctx, "consent.SetPreferences")
	defer span.End(&err)

	c, err := s.verify(token, kindPreferences)
	if err != nil {
		return nil, err
	}
	v := &core.ValidationError{}
	if len(choices) == 0 {
		v.Add("choices", "are required")
	}
	if len(choices) > MaxChoices {
		v.Add("choices", "are more than %d", MaxChoices)
	}
	v.CheckText("proof.ip", proof.IP, 100)
	v.CheckText("proof.user_agent", proof.UserAgent, 1000)
	if err := v.Err(); err != nil {
		return nil, err
	}
	proof.Source = SourcePreferenceCentre
	out := []*Record{}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		current, err := preferences(ctx, q, tenant, c.ID)
		if err != nil {
			return err
		}
		type key struct {
			purpose string
			channel Channel
		}
		now := map[key]bool{}
		purposes := map[string]*Purpose{}
		for _, p := range current {
			purposes[p.Purpose.Key] = p.Purpose
			for _, ch := range p.Channels {
				now[key{p.Purpose.Key, ch.Channel}] = ch.On
			}
		}
		v := &core.ValidationError{}
		seen := map[key]bool{}
		var changes []Choice
		for i, ch := range choices {
			f := fmt.Sprintf("choices.%d.", i)
			p, ok := purposes[ch.Purpose]
			switch {
			case !ok:
				v.Add(f+"purpose", "%q is not a purpose the person chooses", ch.Purpose)
				continue
			case !slices.Contains(p.Channels, ch.Channel):
				v.Add(f+"channel", "%q is not a channel of purpose %q (%v)", ch.Channel, p.Key, p.Channels)
				continue
			case seen[key{ch.Purpose, ch.Channel}]:
				v.Add(f+"channel", "%s on %s is chosen twice", ch.Purpose, ch.Channel)
				continue
			}
			seen[key{ch.Purpose, ch.Channel}] = true
			if ch.On != now[key{ch.Purpose, ch.Channel}] {
				changes = append(changes, ch)
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		for _, ch := range changes {
			if ch.On {
				if err := checkSuppressed(ctx, q, tenant, c.ID); err != nil {
					return err
				}
				break
			}
		}
		for _, ch := range changes {
			p := purposes[ch.Purpose]
			state := Withdrawn
			if ch.On {
				state = Granted
			}
			r, err := s.append(ctx, tx, tenant, &Record{ContactID: c.ID, Purpose: p.Key, Channel: ch.Channel, State: state,
				Source: proof.Source, WordingVersion: p.WordingVersion, IP: strings.TrimSpace(proof.IP), UserAgent: proof.UserAgent})
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "set preferences")
	}
	return out, nil
}
