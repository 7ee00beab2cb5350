package campaigns

import (
	"context"
	"embed"
	"strings"
	"sync"
	"time"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
	"golang.org/x/time/rate"
)

// migrations are the module's schema migrations (module.Module.Migrations).
//
//go:embed migrations/*.sql
var migrations embed.FS

const moduleName = "campaigns"

// Module declares the campaigns module to package crm, which wires it
// (see internal/module); hosts use c.Segments, c.Templates and
// c.Campaigns.
var Module declaration

type declaration struct{}

// Declare returns the module's contract.
func (declaration) Declare() module.Module {
	return module.Module{
		Name:        moduleName,
		Permissions: []string{"campaigns"},
		Migrations:  module.Files(migrations),
		Tables: []string{"crm_segments", "crm_segment_members", "crm_templates", "crm_template_versions", "crm_campaigns", "crm_campaign_variants",
			"crm_campaign_recipients", "crm_campaign_interactions", "crm_campaign_bounces", "crm_inbound_reports"},
		Events:          EventTypes(),
		PersonalData:    personalData(),
		OnContactMerge:  onContactMerge,
		OnContactDelete: onContactDelete,
		Actions:         actions(),
		Relations:       map[string][]filter.Relation{contacts.EntityContact: relations()},
		Periodic: []module.Periodic{{Name: "inbound_reports_purge", Every: 24 * time.Hour, Table: "crm_inbound_reports",
			Run: purgeInboundReports}, {Name: "segments", Every: 15 * time.Minute, Table: "crm_segments", Run: recomputePeriodic}},
		Hooks: hooks,
		Jobs: []module.Job{
			{Kind: jobPrepare, Work: prepare},
			{Kind: jobSendBatch, Work: sendBatch},
			{Kind: jobSendRecipient, Work: sendRecipient},
			{Kind: jobDecide, Work: decide},
			{Kind: jobRecompute, Work: recomputeJob},
		},
	}
}

// Configure gives the module its options on rt, before the runtime is
// used: the sending options, and the consent options (token keys) the
// unsubscribe links are signed with.
func (declaration) Configure(rt *store.Runtime, o Options, c consent.Options) {
	o.consent = c
	if rt.ModuleOptions == nil {
		rt.ModuleOptions = map[string]any{}
	}
	rt.ModuleOptions[moduleName] = o
	rt.ModuleOptions[moduleName+".cache"] = &templateCache{}
	rt.ModuleOptions[moduleName+".limits"] = &tenantLimits{rate: o.TenantRate, m: map[string]*rate.Limiter{}}
}

// tenantLimits are the per-tenant rate limiters of this process.
type tenantLimits struct {
	rate float64
	mu   sync.Mutex
	m    map[string]*rate.Limiter
}

// wait waits for the tenant's next message (no limit: at once).
func (l *tenantLimits) wait(ctx context.Context, tenant string) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	lim, ok := l.m[tenant]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(l.rate), 1)
		l.m[tenant] = lim
	}
	l.mu.Unlock()
	return lim.Wait(ctx)
}

func limitsOf(sc store.Scope) *tenantLimits {
	l, _ := sc.Runtime().ModuleOptions[moduleName+".limits"].(*tenantLimits)
	return l
}

func cacheOf(sc store.Scope) *templateCache {
	if c, ok := sc.Runtime().ModuleOptions[moduleName+".cache"].(*templateCache); ok {
		return c
	}
	return &templateCache{}
}

// Segments returns the segments of sc's tenant.
func (declaration) Segments(sc store.Scope) *Segments { return newSegments(sc) }

// Templates returns the templates of sc's tenant.
func (declaration) Templates(sc store.Scope) *Templates { return newTemplates(sc, cacheOf(sc)) }

// Campaigns returns the campaigns of sc's tenant.
func (declaration) Campaigns(sc store.Scope) *Campaigns { return newCampaigns(sc, cacheOf(sc)) }

// hooks queue the computation of tracked segments when contacts change.
func hooks(rt *store.Runtime) (remove func()) {
	return rt.Hooks.Before([]string{contacts.EventContactCreated, contacts.EventContactUpdated, contacts.EventContactDeleted,
		contacts.EventContactRestricted, contacts.EventContactRestrictionLifted, contacts.EventActivityTracked},
		func(ctx context.Context, tx *store.Tx, ev core.Event) error { return onContactChange(ctx, tx, ev) })
}

// onContactMerge moves the losers' recipient rows to the winner; where
// the winner was a recipient of the same campaign, the loser's row keeps
// no contact (the counts stay).
func onContactMerge(ctx context.Context, tx *store.Tx, tenant string, m module.ContactMerge) error {
	q := tx.Q()
	for _, loser := range m.LoserIDs {
		// The winner's memberships are computed anew.
		if _, err := q.Exec(ctx, `DELETE FROM crm_segment_members WHERE tenant_id = ? AND contact_id = ?`, tenant, loser); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE crm_campaign_recipients SET contact_id = NULL WHERE tenant_id = ? AND contact_id = ?
			AND campaign_id IN (SELECT w.campaign_id FROM crm_campaign_recipients w WHERE w.tenant_id = ? AND w.contact_id = ?)`,
			tenant, loser, tenant, m.WinnerID); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE crm_campaign_recipients SET contact_id = ? WHERE tenant_id = ? AND contact_id = ?`,
			m.WinnerID, tenant, loser); err != nil {
			return err
		}
	}
	return nil
}

// onContactDelete keeps a deleted contact's recipient rows, without the
// contact and the address: the campaigns' counts stay.
func onContactDelete(ctx context.Context, tx *store.Tx, tenant string, contactID core.ID) error {
	if _, err := tx.Q().Exec(ctx, `DELETE FROM crm_segment_members WHERE tenant_id = ? AND contact_id = ?`, tenant, contactID); err != nil {
		return err
	}
	return anonymise(ctx, tx.Q(), tenant, []core.ID{contactID})
}

// anonymise keeps the contacts' recipient rows without the contact and
// the address, and their clicks without the URL (a link may carry
// personal data).
func anonymise(ctx context.Context, q store.Q, tenant string, ids []core.ID) error {
	if _, err := q.Exec(ctx, `UPDATE crm_campaign_interactions SET url = '' WHERE tenant_id = ? AND recipient_id IN (
		SELECT r.id FROM crm_campaign_recipients r WHERE r.tenant_id = ? AND `+q.D.InList("r.contact_id", "uuid")+`)`,
		tenant, tenant, q.D.IDsArg(ids)); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE crm_campaign_recipients SET contact_id = NULL, email = '' WHERE tenant_id = ? AND `+
		q.D.InList("contact_id", "uuid"), tenant, q.D.IDsArg(ids))
	return err
}

// personalData is what campaigns keep about a person: the messages sent
// (or not) to them.
func personalData() []store.PersonalData {
	return []store.PersonalData{{Name: "segments", Tables: []string{"crm_segment_members"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT s.id, s.name, m.since FROM crm_segment_members m
				JOIN crm_segments s ON s.tenant_id = m.tenant_id AND s.id = m.segment_id
				WHERE m.tenant_id = ? AND m.contact_id = ? ORDER BY s.name, s.id`, tenant, id)
			if err != nil {
				return nil, err
			}
			type membership struct {
				SegmentID core.ID   `json:"segment_id"`
				Name      string    `json:"name"`
				Since     time.Time `json:"since"`
			}
			out := []membership{}
			err = store.EachRow(rows, func(r store.Scanner) error {
				var m membership
				err := r.Scan(&m.SegmentID, &m.Name, &m.Since)
				m.Since = m.Since.UTC()
				out = append(out, m)
				return err
			})
			return out, err
		},
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			_, err := sc.Q().Exec(ctx, `DELETE FROM crm_segment_members WHERE tenant_id = ? AND `+sc.Q().D.InList("contact_id", "uuid"),
				tenant, sc.Q().D.IDsArg(s.IDs()))
			return err
		}}, {Name: "campaign_messages", Tables: []string{"crm_campaign_recipients", "crm_campaign_interactions",
		"crm_campaign_bounces", "crm_inbound_reports"},
		Export: func(ctx context.Context, sc store.Scope, id core.ID) (any, error) {
			tenant, _ := sc.Tenant()
			rows, err := sc.Q().Query(ctx, `SELECT `+recipientColumns+` FROM crm_campaign_recipients r WHERE r.tenant_id = ? AND r.contact_id = ?
				ORDER BY r.updated_at, r.id`, tenant, id)
			if err != nil {
				return nil, err
			}
			type interaction struct {
				Kind    string    `json:"kind"`
				URL     string    `json:"url,omitempty"`
				Machine string    `json:"machine,omitempty"`
				At      time.Time `json:"at"`
			}
			type message struct {
				*Recipient
				Interactions []interaction `json:"interactions"`
			}
			out := []*message{}
			if err := store.EachRow(rows, func(r store.Scanner) error {
				x, err := scanRecipient(r)
				out = append(out, &message{Recipient: x, Interactions: []interaction{}})
				return err
			}); err != nil {
				return nil, err
			}
			for _, m := range out {
				rows, err := sc.Q().Query(ctx, `SELECT kind, url, machine, at FROM crm_campaign_interactions WHERE tenant_id = ? AND recipient_id = ?
					ORDER BY at, id`, tenant, m.ID)
				if err != nil {
					return nil, err
				}
				if err := store.EachRow(rows, func(r store.Scanner) error {
					var i interaction
					err := r.Scan(&i.Kind, &i.URL, &i.Machine, &i.At)
					i.At = i.At.UTC()
					m.Interactions = append(m.Interactions, i)
					return err
				}); err != nil {
					return nil, err
				}
			}
			return out, nil
		},
		// The rows stay for the campaigns' counts, without the person;
		// kept inbound mail that names the person goes.
		Erase: func(ctx context.Context, sc store.Scope, s store.Subject) error {
			tenant, _ := sc.Tenant()
			for _, text := range s.Texts {
				if len(text) < 3 {
					continue
				}
				// A _ or % in the text only widens the match: more kept mail
				// goes, which an inspection log can afford.
				if _, err := sc.Q().Exec(ctx, `DELETE FROM crm_inbound_reports WHERE tenant_id = ? AND lower(raw) LIKE ?`,
					tenant, "%"+strings.ToLower(text)+"%"); err != nil {
					return err
				}
			}
			return anonymise(ctx, sc.Q(), tenant, s.IDs())
		}}}
}
