package consent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// State is what a consent record says.
type State string

// Consent states.
const (
	Granted   State = "granted"   // the person agreed
	Withdrawn State = "withdrawn" // the person took it back (Art. 7(3))
	Objected  State = "objected"  // the person objected (Art. 21)
	Pending   State = "pending"   // a double opt-in is waiting for confirmation
)

// Proof sources crmkit itself records; hosts name their own ("form",
// "checkout", "import", "api", …).
const (
	SourceDoubleOptIn      = "double_opt_in"
	SourceUnsubscribe      = "unsubscribe_link"
	SourcePreferenceCentre = "preference_centre"
)

// Proof is how a consent was given or taken back.
type Proof struct {
	// Source says where: "form", "checkout", "import", "api"; required.
	Source string `json:"source"`
	// IP and UserAgent are stored only when the service records network
	// details (Options.RecordNetwork); otherwise they are dropped.
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Record is one entry of the consent log. Records are never changed.
type Record struct {
	ID        core.ID `json:"id"`
	ContactID core.ID `json:"contact_id"`
	Purpose   string  `json:"purpose"`
	Channel   Channel `json:"channel"`
	State     State   `json:"state"`
	Source    string  `json:"source"`
	// WordingVersion is the purpose wording in force when it was recorded.
	WordingVersion int64     `json:"wording_version"`
	ActorID        string    `json:"actor_id,omitempty"`
	IP             string    `json:"ip,omitempty"`
	UserAgent      string    `json:"user_agent,omitempty"`
	RequestID      *core.ID  `json:"request_id,omitempty"`
	RecordedAt     time.Time `json:"recorded_at"`
}

// Options configure the service.
type Options struct {
	// Keys sign tokens (opt-in confirmations, unsubscribe links): the first
	// signs, every one verifies, so a key is rotated by putting the new one
	// first and dropping the old one once its tokens have expired. Each at
	// least 32 bytes.
	Keys [][]byte
	// RecordNetwork stores the IP address and user agent of proofs.
	RecordNetwork bool
	// OptInTTL is how long an opt-in confirmation link is valid (default 7
	// days).
	OptInTTL time.Duration
	// PreferencesTTL is how long a preference centre link is valid
	// (default DefaultPreferencesTTL, 30 days).
	PreferencesTTL time.Duration
}

// Service keeps one tenant's purposes and consent log (c.Consent).
type Service struct {
	sc   store.Scope
	opts Options
}

// newService returns the service for scope sc. Hosts use crm.CRM.Consent.
func newService(sc store.Scope, opts Options) *Service {
	if opts.OptInTTL == 0 {
		opts.OptInTTL = 7 * 24 * time.Hour
	}
	if opts.PreferencesTTL <= 0 {
		opts.PreferencesTTL = DefaultPreferencesTTL
	}
	return &Service{sc: sc, opts: opts}
}

// checkSubject validates what a record is about against the purpose.
func checkSubject(v *core.ValidationError, p *Purpose, channel Channel, proof Proof) {
	if channel != "" && !slices.Contains(p.Channels, channel) {
		v.Add("channel", "%q is not a channel of purpose %q (%v)", channel, p.Key, p.Channels)
	}
	if strings.TrimSpace(proof.Source) == "" {
		v.Add("proof.source", "is required: say where the consent came from")
	}
	v.CheckText("proof.source", proof.Source, 100)
	v.CheckText("proof.ip", proof.IP, 100)
	v.CheckText("proof.user_agent", proof.UserAgent, 1000)
}

// Grant records that the contact agreed to purpose over channel, and emits
// "consent.granted".
func (s *Service) Grant(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) (_ *Record, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Grant", contactID)
	defer span.End(&err)

	return s.change(ctx, access.Create, contactID, purpose, channel, Granted, proof)
}

// Withdraw records that the contact withdrew consent — for one channel, or
// with channel "" for every channel of the purpose — effective at once, and
// emits "consent.withdrawn". Withdrawing what is not granted records the
// withdrawal all the same (it is proof too).
func (s *Service) Withdraw(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) (_ []*Record, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Withdraw", contactID)
	defer span.End(&err)

	return s.changeAs(ctx, access.Update, contactID, purpose, channel, Withdrawn, proof)
}

// Object records an objection (Art. 21) — to a purpose on legitimate
// interest, typically — for one channel or, with "", all; emits
// "consent.objected".
func (s *Service) Object(ctx context.Context, contactID core.ID, purpose string, channel Channel, proof Proof) (_ []*Record, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Object", contactID)
	defer span.End(&err)

	return s.changeAs(ctx, access.Update, contactID, purpose, channel, Objected, proof)
}

func (s *Service) change(ctx context.Context, action access.Action, contactID core.ID, purpose string, channel Channel, state State, proof Proof) (*Record, error) {
	if channel == "" {
		return nil, core.Invalid("channel", "is required")
	}
	recs, err := s.changeAs(ctx, action, contactID, purpose, channel, state, proof)
	if err != nil {
		return nil, err
	}
	return recs[0], nil
}

// changeAs is changeAll for the actor in ctx, who needs action on the
// module and must see the contact.
func (s *Service) changeAs(ctx context.Context, action access.Action, contactID core.ID, purpose string, channel Channel, state State, proof Proof) ([]*Record, error) {
	g, err := check(ctx, s.sc, "contact", contactID, action)
	if err != nil {
		return nil, err
	}
	recs, err := s.changeAll(ctx, g, action, contactID, purpose, channel, state, proof)
	return g.mask(recs...), g.done(ctx, err)
}

func (s *Service) changeAll(ctx context.Context, g *guard, action access.Action, contactID core.ID, purpose string, channel Channel, state State, proof Proof) ([]*Record, error) {
	var out []*Record
	err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		if err := g.contact(ctx, tx.Q(), tenant, contactID, action); err != nil {
			return err
		}
		p, err := getPurpose(ctx, tx.Q(), tenant, purpose, false)
		if errors.Is(err, core.ErrNotFound) {
			return core.Invalid("purpose", "%q is not a purpose of this tenant", purpose)
		}
		if err != nil {
			return err
		}
		v := &core.ValidationError{}
		checkSubject(v, p, channel, proof)
		if err := v.Err(); err != nil {
			return err
		}
		if state == Granted {
			if err := checkSuppressed(ctx, tx.Q(), tenant, contactID); err != nil {
				return err
			}
		}
		channels := []Channel{channel}
		if channel == "" {
			channels = p.Channels
		}
		for _, ch := range channels {
			r, err := s.append(ctx, tx, tenant, &Record{ContactID: contactID, Purpose: p.Key, Channel: ch, State: state,
				Source: strings.TrimSpace(proof.Source), WordingVersion: p.WordingVersion, IP: proof.IP, UserAgent: proof.UserAgent})
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "record consent")
	}
	return out, nil
}

// append writes r to the log (filling id, actor and time) and emits
// "consent.<state>".
func (s *Service) append(ctx context.Context, tx *store.Tx, tenant string, r *Record) (*Record, error) {
	r.ID = core.NewID()
	r.RecordedAt = tx.Runtime().Now()
	if a, ok := core.ActorFrom(ctx); ok {
		r.ActorID = a.ID
	}
	if !s.opts.RecordNetwork {
		r.IP, r.UserAgent = "", ""
	}
	var exists int
	if err := tx.Q().QueryRow(ctx, `SELECT count(*) FROM crm_contacts WHERE tenant_id = ? AND id = ?`, tenant, r.ContactID).Scan(&exists); err != nil {
		return nil, err
	}
	if exists == 0 {
		return nil, core.Invalid("contact_id", "contact %s does not exist", r.ContactID)
	}
	var req any
	if r.RequestID != nil {
		req = *r.RequestID
	}
	_, err := tx.Q().Exec(ctx, `INSERT INTO crm_consents (tenant_id, id, contact_id, purpose_key, channel, status, source, wording_version,
		actor_id, ip, user_agent, request_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenant, r.ID, r.ContactID, r.Purpose, string(r.Channel), string(r.State), r.Source, r.WordingVersion,
		r.ActorID, r.IP, r.UserAgent, req, r.RecordedAt)
	if err != nil {
		return nil, err
	}
	return r, tx.Emit(ctx, core.Event{TenantID: tenant, Type: "consent." + string(r.State), SubjectType: "contact", SubjectID: r.ContactID,
		OccurredAt: r.RecordedAt, Data: store.JSON(r)})
}

const recordColumns = `id, contact_id, purpose_key, channel, status, source, wording_version, actor_id, ip, user_agent, request_id, recorded_at`

func scanRecord(r store.Scanner) (*Record, error) {
	var rec Record
	var channel, state string
	var req uuid.NullUUID
	if err := r.Scan(&rec.ID, &rec.ContactID, &rec.Purpose, &channel, &state, &rec.Source, &rec.WordingVersion,
		&rec.ActorID, &rec.IP, &rec.UserAgent, &req, &rec.RecordedAt); err != nil {
		return nil, err
	}
	rec.Channel, rec.State = Channel(channel), State(state)
	rec.RecordedAt = rec.RecordedAt.UTC()
	if req.Valid {
		id := core.ID(req.UUID)
		rec.RequestID = &id
	}
	return &rec, nil
}

// mergedIDs is the SQL list of a contact and the contacts merged into it
// (parameters: contact id, tenant, contact id): their records are the
// contact's.
const mergedIDs = `(SELECT ? UNION ALL SELECT m.loser_id FROM crm_contact_merges m WHERE m.tenant_id = ? AND m.winner_id = ?)`

// Status returns the record that decides the contact's consent for purpose
// over channel — the latest, the records of contacts merged into it
// included — or nil when there is none.
func (s *Service) Status(ctx context.Context, contactID core.ID, purpose string, channel Channel) (_ *Record, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Status", contactID)
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
		return nil, g.done(ctx, store.Wrap(err, "consent status"))
	}
	r, err := s.status(ctx, tenant, contactID, purpose, channel)
	if r != nil {
		g.mask(r)
	}
	return r, err
}

// status is Status, unchecked.
func (s *Service) status(ctx context.Context, tenant string, contactID core.ID, purpose string, channel Channel) (*Record, error) {
	return statusIn(ctx, s.sc.Q(), tenant, contactID, purpose, channel)
}

// statusIn is status on q (a transaction's, inside one).
func statusIn(ctx context.Context, q store.Q, tenant string, contactID core.ID, purpose string, channel Channel) (*Record, error) {
	r, err := scanRecord(q.QueryRow(ctx, `SELECT `+recordColumns+` FROM crm_consents
		WHERE tenant_id = ? AND contact_id IN `+mergedIDs+` AND purpose_key = ? AND channel = ? ORDER BY recorded_at DESC, id DESC LIMIT 1`,
		tenant, contactID, tenant, contactID, purpose, string(channel)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, store.Wrap(err, "consent status")
}

// Allowed reports whether the contact may be contacted for purpose over
// channel now; every marketing send must ask. It returns nil, or an error
// matching core.ErrNoConsent that says why: on the consent basis the latest
// record must be a grant; on legitimate interest an objection or withdrawal
// forbids; contract and legal obligation are allowed.
func (s *Service) Allowed(ctx context.Context, contactID core.ID, purpose string, channel Channel) (err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.Allowed", contactID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return err
	}
	p, err := getPurpose(ctx, s.sc.Q(), tenant, purpose, false)
	if errors.Is(err, core.ErrNotFound) {
		return core.Invalid("purpose", "%q is not a purpose of this tenant", purpose)
	}
	if err != nil {
		return store.Wrap(err, "allowed")
	}
	g, err := check(ctx, s.sc, "contact", contactID, access.Read)
	if err != nil {
		return err
	}
	if err := g.contact(ctx, s.sc.Q(), tenant, contactID, access.Read); err != nil {
		return g.done(ctx, store.Wrap(err, "allowed"))
	}
	if !slices.Contains(p.Channels, channel) {
		return fmt.Errorf("%w: purpose %q does not use channel %q", core.ErrNoConsent, purpose, channel)
	}
	if err := checkSuppressed(ctx, s.sc.Q(), tenant, contactID); err != nil {
		return store.Wrap(err, "allowed")
	}
	r, err := s.status(ctx, tenant, contactID, purpose, channel)
	if err != nil {
		return err
	}
	state := State("")
	if r != nil {
		state = r.State
	}
	switch {
	case state == Objected || state == Withdrawn:
		return fmt.Errorf("%w: %s %s on %s (%s)", core.ErrNoConsent, purpose, state, r.RecordedAt.Format(time.DateOnly), channel)
	case p.LegalBasis != BasisConsent:
		return nil
	case state == Granted:
		return nil
	case state == Pending:
		return fmt.Errorf("%w: %s over %s awaits the double opt-in confirmation", core.ErrNoConsent, purpose, channel)
	}
	return fmt.Errorf("%w: no consent to %s over %s", core.ErrNoConsent, purpose, channel)
}

// History returns the contact's consent log, with the records of contacts
// merged into it, oldest first.
func (s *Service) History(ctx context.Context, contactID core.ID) (_ []*Record, err error) {
	ctx, span := s.sc.SpanID(ctx, "consent.History", contactID)
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
		return nil, g.done(ctx, store.Wrap(err, "consent history"))
	}
	out, err := history(ctx, s.sc.Q(), tenant, contactID)
	return g.mask(out...), err
}

// history is History, unchecked and unmasked, read through q.
func history(ctx context.Context, q store.Q, tenant string, contactID core.ID) ([]*Record, error) {
	rows, err := q.Query(ctx, `SELECT `+recordColumns+` FROM crm_consents WHERE tenant_id = ? AND contact_id IN `+mergedIDs+`
		ORDER BY recorded_at, id`, tenant, contactID, tenant, contactID)
	if err != nil {
		return nil, store.Wrap(err, "consent history")
	}
	out := []*Record{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		rec, err := scanRecord(r)
		out = append(out, rec)
		return err
	})
	return out, store.Wrap(err, "consent history")
}

// registerHooks records audited changes in the audit log, sets the
// contact import's suppression check and the runtime's audit hook (through
// which other modules record, for example, the attempts their record
// access refused).
func registerHooks(rt *store.Runtime) (remove func()) {
	rt.ImportSuppression = importSuppression
	rt.Audit = auditEntry
	return rt.Hooks.Before(auditedEvents, auditHook)
}

// onContactMerge points the losers' pending opt-in requests at the winner
// (their consent records are read through the merge table).
func onContactMerge(ctx context.Context, tx *store.Tx, tenant string, m module.ContactMerge) error {
	for _, l := range m.LoserIDs {
		if _, err := tx.Q().Exec(ctx, `UPDATE crm_optin_requests SET contact_id = ? WHERE tenant_id = ? AND contact_id = ?`, m.WinnerID, tenant, l); err != nil {
			return err
		}
	}
	return nil
}

// onContactDelete makes a deletion keep nothing personal: every module's
// eraser runs, as for an erasure, while the contact still exists.
func onContactDelete(ctx context.Context, tx *store.Tx, tenant string, contactID core.ID) error {
	sc := store.NewScope(tx.Runtime()).WithTenant(tenant).WithTx(tx)
	subject, _, _, _, err := subjectOf(ctx, tx.Q(), tenant, contactID)
	if err != nil {
		return err
	}
	_, _, err = forget(ctx, sc, subject, nil)
	return err
}

// deleteLog deletes the consent log and opt-in requests of a contact and of
// the contacts merged into it.
func deleteLog(ctx context.Context, q store.Q, tenant string, id core.ID) error {
	if _, err := q.Exec(ctx, `DELETE FROM crm_consents WHERE tenant_id = ? AND contact_id IN `+mergedIDs, tenant, id, tenant, id); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM crm_optin_requests WHERE tenant_id = ? AND contact_id = ?`, tenant, id)
	return err
}
