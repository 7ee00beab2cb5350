package campaigns

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/google/uuid"
)

// The module's jobs: prepare takes the snapshot of a campaign's
// recipients and queues their batches; send_batch sends one batch.
const (
	jobPrepare   = "campaigns.prepare"
	jobSendBatch = "campaigns.send_batch"
)

// jobArgs are the arguments of both jobs.
type jobArgs struct {
	Campaign core.ID `json:"campaign"`
	Batch    int64   `json:"batch,omitempty"`
}

// maxAttempts is how often a recipient is handed to the mail server
// before a temporary refusal counts as final.
const maxAttempts = 5

func enqueueBatch(ctx context.Context, tx *store.Tx, tenant string, campaign core.ID, batch int64) error {
	return tx.Enqueue(ctx, store.NewJob{Kind: jobSendBatch, Tenant: tenant, Args: jobArgs{Campaign: campaign, Batch: batch},
		UniqueKey: fmt.Sprintf("%s:%d", campaign, batch)})
}

// prepareRows is about how many recipients prepare takes per transaction:
// as many batches as fit (at least one). A transaction per batch of 500
// spent as much on its own reads, writes and commit as on the members.
const prepareRows = 2000

// prepare snapshots the campaign's segment into crm_campaign_recipients,
// a few batches of BatchSize contacts per transaction (prepareRows) in
// contact id order, and queues one send job per batch in the transaction
// that wrote it. It picks up where
// an earlier run stopped (after the greatest contact id taken), so a
// crash or a pause in the middle loses and repeats nothing. The snapshot
// is the segment's members as each batch is read: a contact that joins
// while it is taken is in it if its id sorts after the batches read.
func prepare(ctx context.Context, sc store.Scope, raw json.RawMessage) error {
	var a jobArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return core.Invalid("args", "%v", err)
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return err
	}
	o := optionsOf(sc)
	for {
		done := false
		err := sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			q := tx.Q()
			c, err := getCampaign(ctx, q, tenant, a.Campaign, true)
			if err != nil {
				return err
			}
			var prepared bool
			var batches int64
			var after uuid.NullUUID
			if err := q.QueryRow(ctx, `SELECT prepared_at IS NOT NULL, batches, snapshot_after FROM crm_campaigns WHERE tenant_id = ? AND id = ?`,
				tenant, c.ID).Scan(&prepared, &batches, &after); err != nil {
				return err
			}
			if prepared || c.Status != StatusSending {
				done = true // finished, or paused (Resume queues this job again) or cancelled
				return nil
			}
			seg, err := getSegment(ctx, q, tenant, c.SegmentID)
			if err != nil {
				return err
			}
			query, args, err := contacts.Module.Recipients(ctx, sc.WithTx(tx), seg.Filter)
			if err != nil {
				return err
			}
			limit := max(1, prepareRows/o.BatchSize) * o.BatchSize
			rows, err := q.PlanPerCall().Query(ctx, `SELECT r.id, r.email FROM (`+query+`) r WHERE r.id > ? ORDER BY r.id LIMIT ?`,
				append(args, core.ID(after.UUID), limit)...)
			if err != nil {
				return err
			}
			now := tx.Runtime().Now()
			var insert [][]any
			if err := store.EachRow(rows, func(r store.Scanner) error {
				var id core.ID
				var email string
				if err := r.Scan(&id, &email); err != nil {
					return err
				}
				state, variant := RecipientQueued, 0
				if c.Test != nil {
					state, variant = testGroup(id, c.Test.Share, len(c.Variants)+1)
				}
				// The batch is the one this row falls in: rows
				// [k·BatchSize, (k+1)·BatchSize) of this read are batch
				// batches+k.
				batch := batches + int64(len(insert)/o.BatchSize)
				insert = append(insert, []any{tenant, core.NewID(), c.ID, id, email, batch, variant, string(state), now})
				after = uuid.NullUUID{UUID: uuid.UUID(id), Valid: true}
				return nil
			}); err != nil {
				return err
			}
			if len(insert) > 0 {
				if err := tx.InsertRows(ctx, "crm_campaign_recipients", []string{"tenant_id", "id", "campaign_id", "contact_id", "email",
					"batch", "variant", "state", "updated_at"}, insert); err != nil {
					return err
				}
				for k := 0; k < len(insert); k += o.BatchSize {
					if err := enqueueBatch(ctx, tx, tenant, c.ID, batches); err != nil {
						return err
					}
					batches++
				}
			}
			last := len(insert) < limit
			var preparedAt any
			if last {
				preparedAt = now
				done = true
			}
			if _, err := q.Exec(ctx, `UPDATE crm_campaigns SET batches = ?, prepared_at = ?, snapshot_after = ? WHERE tenant_id = ? AND id = ?`,
				batches, preparedAt, store.NullID(idOrNil(after)), tenant, c.ID); err != nil {
				return err
			}
			if last {
				if c.Test != nil && c.Winner == nil {
					if err := enqueueDecide(ctx, tx, tenant, c); err != nil {
						return err
					}
				}
				return finishIfDone(ctx, tx, tenant, c.ID)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// idOrNil is the id of u, nil when u is not valid.
func idOrNil(u uuid.NullUUID) *core.ID {
	if !u.Valid {
		return nil
	}
	id := core.ID(u.UUID)
	return &id
}

// finishIfDone marks a prepared campaign whose every recipient is sent,
// failed or skipped as sent, and emits "campaign.finished".
func finishIfDone(ctx context.Context, tx *store.Tx, tenant string, id core.ID) error {
	q := tx.Q()
	c, err := getCampaign(ctx, q, tenant, id, true)
	if err != nil {
		return err
	}
	var prepared bool
	if err := q.QueryRow(ctx, `SELECT prepared_at IS NOT NULL FROM crm_campaigns WHERE tenant_id = ? AND id = ?`, tenant, id).Scan(&prepared); err != nil {
		return err
	}
	if !prepared || c.Status != StatusSending || c.Kind == Automated {
		return nil
	}
	// Is anyone left? From the last batch back: batches are worked in
	// about their order, so one left is found at once until the end, and
	// the batches' jobs do not each count the whole campaign.
	var left int
	err = q.QueryRow(ctx, `SELECT 1 FROM crm_campaign_recipients WHERE tenant_id = ? AND campaign_id = ? AND state IN ('queued', 'sending', 'held')
		ORDER BY batch DESC LIMIT 1`, tenant, id).Scan(&left)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	now := tx.Runtime().Now()
	c.Status, c.FinishedAt, c.UpdatedAt = StatusSent, &now, now
	c.Version++
	if _, err := q.Exec(ctx, `UPDATE crm_campaigns SET status = ?, finished_at = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND id = ?`,
		string(c.Status), now, now, c.Version, tenant, id); err != nil {
		return err
	}
	st, err := stats(ctx, q, tenant, id)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCampaignFinished, SubjectType: "campaign", SubjectID: id,
		OccurredAt: now, Data: store.JSON(CampaignFinished{Campaign: c, Stats: st})})
}

// sender sends one batch of one campaign.
type sender struct {
	sc       store.Scope
	tenant   string
	o        Options
	c        *Campaign
	tmpl     map[int]*compiled // by variant
	attrs    map[string]any
	consent  *consent.Service
	contacts *contacts.Service
	// answered are the outcomes of the messages the mail server answered
	// that are not recorded yet: they are written in the transaction that
	// marks the next chunk, or by flush.
	answered []outcome
}

// sendBatch sends the batch's recipients that are queued, or were handed
// to the mail server by a run that did not record the answer (sending),
// chunkSize at a time (see sendChunk).
func sendBatch(ctx context.Context, sc store.Scope, raw json.RawMessage) error {
	var a jobArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return core.Invalid("args", "%v", err)
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return err
	}
	s, err := newSender(ctx, sc, a.Campaign)
	if err != nil || s == nil {
		return err
	}
	c := s.c
	// Sorted here, not by the query: SQLite walked the primary key
	// (tenant_id, id) for the order, every recipient of the tenant's
	// campaigns for each batch, instead of the batch's index.
	rows, err := sc.Q().Query(ctx, `SELECT `+recipientColumns+` FROM crm_campaign_recipients r WHERE r.tenant_id = ? AND r.campaign_id = ?
		AND r.batch = ? AND r.state IN ('queued', 'sending')`, tenant, c.ID, a.Batch)
	if err != nil {
		return err
	}
	var todo []*Recipient
	if err := store.EachRow(rows, func(r store.Scanner) error {
		x, err := scanRecipient(r)
		todo = append(todo, x)
		return err
	}); err != nil {
		return err
	}
	slices.SortFunc(todo, func(a, b *Recipient) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for len(todo) > 0 {
		// A pause or a cancel stops the batch between chunks.
		cur, err := getCampaign(ctx, sc.Q(), tenant, c.ID, false)
		if err != nil {
			return errors.Join(err, s.flush(ctx))
		}
		if cur.Status != StatusSending {
			return s.flush(ctx)
		}
		n := min(chunkSize, len(todo))
		if err := s.sendChunk(ctx, todo[:n]); err != nil {
			return err
		}
		todo = todo[n:]
	}
	if err := sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := s.record(ctx, tx, s.answered); err != nil {
			return err
		}
		return finishIfDone(ctx, tx, tenant, c.ID)
	}); err != nil {
		return errors.Join(err, s.flush(ctx))
	}
	s.answered = nil
	return nil
}

// chunkSize is how many recipients are checked, marked, sent and
// recorded together.
const chunkSize = 50

// newSender prepares the sending of the campaign's messages; nil when the
// campaign is not sending (paused: Resume queues its work again; or
// cancelled).
func newSender(ctx context.Context, sc store.Scope, id core.ID) (*sender, error) {
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	o := optionsOf(sc)
	if o.Mailer == nil {
		return nil, errors.New("crm: campaigns: no mailer is configured in this process")
	}
	c, err := getCampaign(ctx, sc.Q(), tenant, id, false)
	if err != nil {
		return nil, err
	}
	if c.Status != StatusSending {
		return nil, nil
	}
	tmpl := map[int]*compiled{}
	versions := []Variant{{TemplateID: c.TemplateID, TemplateVersion: c.TemplateVersion}}
	for i, v := range append(versions, c.Variants...) {
		t, err := getTemplateVersion(ctx, sc.Q(), tenant, v.TemplateID, v.TemplateVersion)
		if err != nil {
			return nil, err
		}
		if tmpl[i], err = cacheOf(sc).get(tenant, t); err != nil {
			return nil, err
		}
	}
	attrs, err := attributeKeys(ctx, sc)
	if err != nil {
		return nil, err
	}
	return &sender{sc: sc, tenant: tenant, o: o, c: c, tmpl: tmpl, attrs: attrs, consent: consent.Module.Service(sc, o.consent),
		contacts: contacts.Module.Contacts(sc)}, nil
}

// outcome is what became of one recipient.
type outcome struct {
	r         *Recipient
	state     RecipientState
	reason    string
	messageID string
}

// outgoing is a message about to go.
type outgoing struct {
	r   *Recipient
	m   *Message
	err error
}

// sendChunk sends a chunk of recipients: it checks them all at once
// (contacts, consent and suppression, the frequency cap), and in one
// transaction records the answers of the chunk before (s.answered), the
// recipients skipped, and marks the others sending; it hands their
// messages to the mailer Options.Concurrency at a time and keeps the
// answers in s.answered, for the next chunk's transaction (or flush).
//
// So a crash leaves at most one chunk's answers unrecorded: those
// recipients are still "sending" and are sent again when the job is
// retried, with the same Message-ID — the one window where a person can
// get a second copy: between the server's acceptance of their message
// and the commit of the transaction that records it (the time to send at
// most chunkSize messages and to check the next chunk). A temporary
// refusal (4xx, or no answer) leaves the recipient to the job's retry;
// after maxAttempts it fails for good.
func (s *sender) sendChunk(ctx context.Context, rs []*Recipient) error {
	if err := s.sendChunkChecked(ctx, rs); err != nil {
		// What the server accepted is recorded whatever went wrong since.
		return errors.Join(err, s.flush(ctx))
	}
	return nil
}

func (s *sender) sendChunkChecked(ctx context.Context, rs []*Recipient) error {
	var ids []core.ID
	for _, r := range rs {
		if r.ContactID != nil {
			ids = append(ids, *r.ContactID)
		}
	}
	cts, err := contacts.Module.GetMany(ctx, s.sc, ids)
	if err != nil {
		return err
	}
	allowed, err := s.consent.AllowedMany(ctx, ids, s.c.Purpose, consent.Email)
	if errors.Is(err, core.ErrInvalid) {
		allowed, err = map[core.ID]error{}, nil
		for _, id := range ids {
			allowed[id] = fmt.Errorf("%w: purpose %q is gone", core.ErrNoConsent, s.c.Purpose)
		}
	}
	if err != nil {
		return err
	}
	capped, err := s.capped(ctx, ids)
	if err != nil {
		return err
	}
	tokens, err := s.consent.UnsubscribeTokens(ctx, ids, s.c.Purpose)
	if err != nil {
		return err
	}
	var done []outcome
	var goes []*outgoing
	for _, r := range rs {
		skip := func(reason string) { done = append(done, outcome{r: r, state: RecipientSkipped, reason: reason}) }
		var ct *contacts.Contact
		if r.ContactID != nil {
			ct = cts[*r.ContactID]
		}
		switch {
		case r.Attempts >= maxAttempts:
			done = append(done, outcome{r: r, state: RecipientFailed, reason: fmt.Sprintf("gave up after %d temporary failures", r.Attempts)})
		case ct == nil:
			skip("contact deleted")
		case ct.Restricted:
			skip("processing restricted")
		case ct.Email == "":
			skip("no email address")
		case allowed[ct.ID] != nil:
			skip("no consent: " + strings.TrimPrefix(allowed[ct.ID].Error(), core.ErrNoConsent.Error()+": "))
		case capped[ct.ID]:
			skip("frequency cap")
		default:
			m, err := s.build(r, ct, tokens[ct.ID])
			if err != nil {
				done = append(done, outcome{r: r, state: RecipientFailed, reason: err.Error()})
				continue
			}
			goes = append(goes, &outgoing{r: r, m: m})
		}
	}
	if err := s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := s.markSending(ctx, tx, goes); err != nil {
			return err
		}
		return s.record(ctx, tx, slices.Concat(s.answered, done))
	}); err != nil {
		return err
	}
	s.answered = nil
	// Hand the messages over, Concurrency at a time.
	work := make(chan *outgoing)
	var wg sync.WaitGroup
	for range min(s.o.Concurrency, len(goes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				if g.err = limitsOf(s.sc).wait(ctx, s.tenant); g.err == nil {
					g.err = s.o.Mailer.Send(ctx, g.m)
				}
			}
		}()
	}
	for _, g := range goes {
		work <- g
	}
	close(work)
	wg.Wait()
	var retry error
	for _, g := range goes {
		var se *SendError
		switch {
		case g.err == nil:
			s.answered = append(s.answered, outcome{r: g.r, state: RecipientSent, messageID: g.m.MessageID})
		case errors.As(g.err, &se) && se.Permanent:
			s.answered = append(s.answered, outcome{r: g.r, state: RecipientFailed, reason: se.Error()})
		case retry == nil:
			retry = fmt.Errorf("crm: campaign %s: recipient %s: %w", s.c.ID, g.r.ID, g.err)
		}
	}
	return retry
}

// flush records the answers not recorded yet (s.answered) in a
// transaction of their own.
func (s *sender) flush(ctx context.Context) error {
	if len(s.answered) == 0 {
		return nil
	}
	if err := s.sc.Write(context.WithoutCancel(ctx), func(ctx context.Context, tx *store.Tx) error {
		return s.record(ctx, tx, s.answered)
	}); err != nil {
		return err
	}
	s.answered = nil
	return nil
}

// build renders the recipient's message.
func (s *sender) build(r *Recipient, ct *contacts.Contact, token string) (*Message, error) {
	unsubscribe := strings.TrimSuffix(s.o.UnsubscribeURL, "/") + "/" + url.PathEscape(token)
	d := &Data{Contact: contactData(ct, s.attrs), Campaign: CampaignData{Name: s.c.Name}, UnsubscribeURL: unsubscribe}
	tmpl := s.tmpl[r.Variant]
	if tmpl == nil {
		return nil, fmt.Errorf("variant %d does not exist", r.Variant)
	}
	out, err := tmpl.render(d)
	if err != nil {
		return nil, fmt.Errorf("template: %v", err)
	}
	if s.o.TrackingURL != "" {
		if out.HTML, err = track(out.HTML, s.o.TrackingURL, s.o.consent.Keys[0], s.tenant, r.ID, unsubscribe); err != nil {
			return nil, fmt.Errorf("tracking links: %v", err)
		}
	}
	return s.message(r, ct.Email, out, unsubscribe), nil
}

// capped returns the contacts that got FrequencyCap.Max campaign
// messages within FrequencyCap.Per.
func (s *sender) capped(ctx context.Context, ids []core.ID) (map[core.ID]bool, error) {
	out := map[core.ID]bool{}
	fc := s.o.FrequencyCap
	if fc.Max <= 0 || fc.Per <= 0 || len(ids) == 0 {
		return out, nil
	}
	q := s.sc.Q()
	rows, err := q.Query(ctx, `SELECT contact_id, count(*) FROM crm_campaign_recipients WHERE tenant_id = ? AND state = 'sent' AND sent_at > ?
		AND `+q.D.InList("contact_id", "uuid")+` GROUP BY contact_id`, s.tenant, s.sc.Runtime().Now().Add(-fc.Per), q.D.IDsArg(ids))
	if err != nil {
		return nil, err
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var id core.ID
		var n int
		err := r.Scan(&id, &n)
		out[id] = n >= fc.Max
		return err
	})
	return out, err
}

// message builds the recipient's message: RFC 8058 one-click
// unsubscribe, a Message-ID of the recipient (the same on every attempt),
// and a return path tagged with the recipient.
func (s *sender) message(r *Recipient, to string, out Rendered, unsubscribe string) *Message {
	_, fromDomain, _ := strings.Cut(s.c.FromAddress, "@")
	idDomain := s.o.MessageIDDomain
	if idDomain == "" {
		idDomain = fromDomain
	}
	list := "<" + unsubscribe + ">"
	if s.o.UnsubscribeMailto != "" {
		list += ", <mailto:" + s.o.UnsubscribeMailto + "?subject=unsubscribe>"
	}
	returnPath := s.o.ReturnPath
	if returnPath == "" {
		returnPath = s.c.FromAddress
	}
	if local, domain, ok := strings.Cut(returnPath, "@"); ok {
		returnPath = local + "+" + r.ID.String() + "@" + domain
	}
	return &Message{FromName: s.c.FromName, FromAddress: s.c.FromAddress, ReplyTo: s.c.ReplyTo, To: to, Subject: out.Subject,
		HTML: out.HTML, Text: out.Text, MessageID: r.ID.String() + "@" + idDomain, ReturnPath: returnPath,
		Headers: map[string]string{"List-Unsubscribe": list, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			"X-Crm-Campaign": s.c.ID.String()}}
}

// markSending marks the recipients whose messages are about to go as
// sending, one attempt more, with the address they go to: one statement.
func (s *sender) markSending(ctx context.Context, tx *store.Tx, goes []*outgoing) error {
	if len(goes) == 0 {
		return nil
	}
	type mark struct {
		ID    core.ID `json:"id"`
		Email string  `json:"email"`
	}
	marks := make([]mark, len(goes))
	for i, g := range goes {
		marks[i] = mark{ID: g.r.ID, Email: g.m.To}
	}
	q := tx.Q()
	arg, err := q.D.RecordsArg(marks)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `UPDATE crm_campaign_recipients SET state = 'sending', attempts = attempts + 1, email = m.email, updated_at = ?
		FROM `+q.D.Records("m", "id uuid", "email text")+` WHERE crm_campaign_recipients.tenant_id = ? AND crm_campaign_recipients.id = m.id`,
		tx.Runtime().Now(), arg, s.tenant)
	return err
}

// record writes the recipients' outcomes in tx (one statement), with an
// event for each message sent or refused.
func (s *sender) record(ctx context.Context, tx *store.Tx, done []outcome) error {
	if len(done) == 0 {
		return nil
	}
	now := tx.Runtime().Now()
	type result struct {
		ID        core.ID `json:"id"`
		State     string  `json:"state"`
		Reason    string  `json:"reason"`
		MessageID string  `json:"message_id"`
	}
	results := make([]result, len(done))
	var evs []core.Event
	for i, o := range done {
		results[i] = result{ID: o.r.ID, State: string(o.state), Reason: o.reason, MessageID: o.messageID}
		if o.r.ContactID == nil {
			continue
		}
		switch o.state {
		case RecipientSent:
			evs = append(evs, core.Event{TenantID: s.tenant, Type: EventEmailSent, SubjectType: "contact", SubjectID: *o.r.ContactID,
				OccurredAt: now, Data: store.JSON(EmailSent{CampaignID: s.c.ID, RecipientID: o.r.ID, MessageID: o.messageID})})
		case RecipientFailed:
			evs = append(evs, core.Event{TenantID: s.tenant, Type: EventEmailFailed, SubjectType: "contact", SubjectID: *o.r.ContactID,
				OccurredAt: now, Data: store.JSON(EmailFailed{CampaignID: s.c.ID, RecipientID: o.r.ID, Reason: o.reason})})
		}
	}
	q := tx.Q()
	arg, err := q.D.RecordsArg(results)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `UPDATE crm_campaign_recipients SET state = o.state, reason = o.reason, message_id = o.message_id,
		sent_at = CASE WHEN o.state = 'sent' THEN `+q.D.TimeParam()+` END, updated_at = ?
		FROM `+q.D.Records("o", "id uuid", "state text", "reason text", "message_id text")+`
		WHERE crm_campaign_recipients.tenant_id = ? AND crm_campaign_recipients.id = o.id`, now, now, arg, s.tenant); err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	return tx.EmitAll(ctx, evs)
}
