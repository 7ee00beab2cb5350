package campaigns

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// ActionSendEmail is the rule action the campaigns module offers: it
// sends an automated campaign's mail to the contact the rule's event is
// about, once per contact and campaign.
//
//	{"type": "send_email", "params": {"campaign": "Welcome 1"}}
//
// The mail goes after the rule's step commits (a job per message), with
// the checks of every campaign message when it goes: consent to the
// campaign's purpose over email, the suppression list, restriction and
// the frequency cap. A drip is a rule of such actions with waits between
// them:
//
//	{"name": "Welcome series", "enabled": true, "triggers": ["contact.created"],
//	 "actions": [
//	   {"type": "send_email", "params": {"campaign": "Welcome 1"}},
//	   {"type": "wait", "for": "2d"},
//	   {"type": "branch", "if": {"contact": {"field": "lifecycle_stage", "op": "ne", "value": "customer"}},
//	    "then": [{"type": "send_email", "params": {"campaign": "Welcome 2"}}]}]}
//
// A contact leaves the series when the branch says (converted), when they
// unsubscribe (the consent check skips them) or are erased. A paused
// campaign keeps what rules ask for until Resume; a cancelled one or one
// still a draft refuses the step (the run fails with the reason).
const ActionSendEmail = "send_email"

type sendEmailParams struct {
	Campaign string `json:"campaign"`
}

func actions() []module.Action {
	return []module.Action{{Name: ActionSendEmail, Doc: "sends an automated campaign's mail to the event's contact (params: campaign, by name)",
		Validate: validateSendEmail, Run: runSendEmail}}
}

func decodeSendEmail(params json.RawMessage) (sendEmailParams, error) {
	var p sendEmailParams
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if len(params) == 0 || dec.Decode(&p) != nil || strings.TrimSpace(p.Campaign) == "" {
		return p, core.Invalid("", `must be {"campaign": "<name of an automated campaign>"}`)
	}
	return p, nil
}

// automatedByName finds the tenant's automated campaign of that name.
func automatedByName(ctx context.Context, q store.Q, tenant, name string) (*Campaign, error) {
	c, err := scanCampaign(q.QueryRow(ctx, `SELECT `+campaignColumns+` FROM crm_campaigns c WHERE c.tenant_id = ? AND c.kind = ? AND c.name = ?
		ORDER BY c.created_at DESC, c.id DESC LIMIT 1`, tenant, string(Automated), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.Invalid("campaign", "no automated campaign of that name")
	}
	return c, err
}

func validateSendEmail(ctx context.Context, sc store.Scope, params json.RawMessage) error {
	p, err := decodeSendEmail(params)
	if err != nil {
		return err
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return err
	}
	c, err := automatedByName(ctx, sc.Q(), tenant, p.Campaign)
	if err != nil {
		return err
	}
	if c.Status == StatusCancelled {
		return core.Invalid("campaign", "campaign %s is cancelled", c.ID)
	}
	return nil
}

// runSendEmail queues the contact's message in the step's transaction.
func runSendEmail(ctx context.Context, sc store.Scope, call module.ActionCall) (any, error) {
	if call.ContactID == nil {
		return nil, core.Invalid("contact", "the event is about no contact: send_email needs one")
	}
	p, err := decodeSendEmail(call.Params)
	if err != nil {
		return nil, err
	}
	tenant, err := sc.Tenant()
	if err != nil {
		return nil, err
	}
	q := sc.Q()
	c, err := automatedByName(ctx, q, tenant, p.Campaign)
	if err != nil {
		return nil, err
	}
	if c.Status != StatusSending && c.Status != StatusPaused {
		return nil, core.Invalid("campaign", "campaign %s is %s: it sends nothing", c.ID, c.Status)
	}
	ct, err := contacts.Module.Contacts(sc).Get(ctx, *call.ContactID)
	if err != nil {
		return nil, err
	}
	email := ct.Email
	id := core.NewID()
	// Once per contact: the unique index of (campaign, contact) decides,
	// without an error that would abort the step's transaction.
	res, err := q.Exec(ctx, `INSERT INTO crm_campaign_recipients (tenant_id, id, campaign_id, contact_id, email, batch, state, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, 'queued', ?)
		ON CONFLICT (tenant_id, campaign_id, contact_id) WHERE contact_id IS NOT NULL DO NOTHING`,
		tenant, id, c.ID, *call.ContactID, email, sc.Runtime().Now())
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return map[string]any{"campaign_id": c.ID, "skipped": "the contact was sent this campaign before"}, nil
	}
	if c.Status == StatusSending {
		if err := enqueueRecipient(ctx, sc.Tx(), tenant, c.ID, id); err != nil {
			return nil, err
		}
	}
	return map[string]any{"campaign_id": c.ID, "recipient_id": id}, nil
}

// jobSendRecipient sends one recipient of an automated campaign.
const jobSendRecipient = "campaigns.send_recipient"

type recipientArgs struct {
	Campaign  core.ID `json:"campaign"`
	Recipient core.ID `json:"recipient"`
}

func enqueueRecipient(ctx context.Context, tx *store.Tx, tenant string, campaign, recipient core.ID) error {
	return tx.Enqueue(ctx, store.NewJob{Kind: jobSendRecipient, Tenant: tenant, Args: recipientArgs{Campaign: campaign, Recipient: recipient},
		UniqueKey: recipient.String()})
}

// enqueueWaiting queues a job for every recipient of an automated
// campaign still to be sent (Resume).
func enqueueWaiting(ctx context.Context, tx *store.Tx, tenant string, campaign core.ID) error {
	rows, err := tx.Q().Query(ctx, `SELECT id FROM crm_campaign_recipients WHERE tenant_id = ? AND campaign_id = ? AND state IN ('queued', 'sending')`,
		tenant, campaign)
	if err != nil {
		return err
	}
	ids, err := store.ScanIDs(rows)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := enqueueRecipient(ctx, tx, tenant, campaign, id); err != nil {
			return err
		}
	}
	return nil
}

// sendRecipient is the job of one automated message: the same checks
// and records as a batch's (see sendBatch).
func sendRecipient(ctx context.Context, sc store.Scope, raw json.RawMessage) error {
	var a recipientArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return core.Invalid("args", "%v", err)
	}
	s, err := newSender(ctx, sc, a.Campaign)
	if err != nil || s == nil {
		return err
	}
	tenant, _ := sc.Tenant()
	r, err := scanRecipient(sc.Q().QueryRow(ctx, `SELECT `+recipientColumns+` FROM crm_campaign_recipients r WHERE r.tenant_id = ? AND r.id = ?
		AND r.state IN ('queued', 'sending')`, tenant, a.Recipient))
	if errors.Is(err, sql.ErrNoRows) {
		return nil // sent, skipped, or gone with its campaign
	}
	if err != nil {
		return err
	}
	if err := s.sendChunk(ctx, []*Recipient{r}); err != nil {
		return err
	}
	return s.flush(ctx)
}
