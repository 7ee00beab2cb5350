package pipeline

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/store"
)

// RuleActionCreateDeal ("create_deal") is the rule action the pipeline module offers to
// automation: it opens a deal for the contact the rule's event is about.
//
//	{"type": "create_deal", "params": {"title": "Upgrade", "amount": "1200", "currency": "EUR",
//	  "pipeline": "Sales", "stage": "Qualified", "expected_close_in": "30d", "unless_open": true}}
//
// Params: title (required), currency (required; amount defaults to 0),
// pipeline and stage by name (default: the default pipeline and its first
// open stage), expected_close_in (a duration: "30d", "2w"; the day in
// UTC), source (default "rule"), unless_open (do nothing when the contact
// already has an open deal in that pipeline). The deal's owner is the
// contact's owner. The step's result names the deal ({"deal_id": …}, and
// "skipped": true when unless_open held).
const RuleActionCreateDeal = string(ActionCreateDeal)

// createDealParams are the params of RuleActionCreateDeal.
type createDealParams struct {
	Title           string `json:"title"`
	Amount          string `json:"amount"`
	Currency        string `json:"currency"`
	Pipeline        string `json:"pipeline"`
	Stage           string `json:"stage"`
	ExpectedCloseIn string `json:"expected_close_in"`
	Source          string `json:"source"`
	UnlessOpen      bool   `json:"unless_open"`
}

func actions() []module.Action {
	return []module.Action{{
		Name:     RuleActionCreateDeal,
		Doc:      "opens a deal for the event's contact (params: title, amount, currency, pipeline, stage, expected_close_in, source, unless_open)",
		Validate: validateCreateDeal,
		Run:      runCreateDeal,
	}}
}

// decode reads the params, every problem listed; p.resolve then finds the
// pipeline and stage in sc's tenant.
func decodeCreateDeal(params json.RawMessage) (createDealParams, core.Money, time.Duration, *core.ValidationError) {
	var p createDealParams
	v := &core.ValidationError{}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if len(params) == 0 || dec.Decode(&p) != nil {
		v.Add("", `must be an object like {"title": "…", "currency": "EUR"} with only the documented keys`)
		return p, core.Money{}, 0, v
	}
	if p.Title == "" {
		v.Add("title", "is required")
	}
	v.CheckText("title", p.Title, maxTitleLen)
	v.CheckText("source", p.Source, 100)
	amount := p.Amount
	if amount == "" {
		amount = "0"
	}
	var money core.Money
	if p.Currency == "" {
		v.Add("currency", "is required")
	} else if m, err := core.NewMoney(amount, p.Currency); err != nil {
		v.Add("amount", "%v", err)
	} else {
		money = m
	}
	var closeIn time.Duration
	if p.ExpectedCloseIn != "" {
		d, err := filter.ParseDuration(p.ExpectedCloseIn)
		if err != nil {
			v.Add("expected_close_in", "%v", err)
		}
		closeIn = d
	}
	return p, money, closeIn, v
}

// resolve finds the pipeline and stage p names in sc's tenant, adding a
// problem to v when one does not exist (or is archived).
func (p createDealParams) resolve(ctx context.Context, sc store.Scope, v *core.ValidationError) (*Pipeline, *Stage, error) {
	svc := newPipelines(sc)
	var pl *Pipeline
	if p.Pipeline == "" {
		d, err := svc.Default(ctx)
		if err != nil {
			return nil, nil, err
		}
		pl = d
	} else {
		all, err := svc.List(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, x := range all {
			if x.Name == p.Pipeline {
				pl = x
			}
		}
		if pl == nil {
			v.Add("pipeline", "no pipeline of that name")
			return nil, nil, nil
		}
	}
	if pl.Archived {
		v.Add("pipeline", "pipeline %s is archived", pl.ID)
	}
	if p.Stage == "" {
		return pl, nil, nil
	}
	for i := range pl.Stages {
		if st := &pl.Stages[i]; st.Name == p.Stage {
			if st.Archived || st.Kind != StageOpen {
				v.Add("stage", "stage %s of pipeline %s is archived or not an open stage", st.ID, pl.ID)
			}
			return pl, st, nil
		}
	}
	v.Add("stage", "pipeline %s has no stage of that name", pl.ID)
	return pl, nil, nil
}

func validateCreateDeal(ctx context.Context, sc store.Scope, params json.RawMessage) error {
	p, _, _, v := decodeCreateDeal(params)
	if len(v.Fields) == 0 {
		if _, _, err := p.resolve(ctx, sc, v); err != nil {
			return err
		}
	}
	return v.Err()
}

func runCreateDeal(ctx context.Context, sc store.Scope, call module.ActionCall) (any, error) {
	if call.ContactID == nil {
		return nil, core.Invalid("contact", "the event is about no contact: create_deal needs one")
	}
	p, money, closeIn, v := decodeCreateDeal(call.Params)
	if len(v.Fields) > 0 {
		return nil, v
	}
	pl, st, err := p.resolve(ctx, sc, v)
	if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := contacts.Module.Contacts(sc).Get(ctx, *call.ContactID)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Invalid("contact", "contact %s no longer exists", *call.ContactID)
	}
	if err != nil {
		return nil, err
	}
	if p.UnlessOpen {
		tenant, _ := sc.Tenant()
		var open core.ID
		err := sc.Q().QueryRow(ctx, `SELECT id FROM crm_deals WHERE tenant_id = ? AND contact_id = ? AND pipeline_id = ? AND status = ?
			ORDER BY created_at, id LIMIT 1`, tenant, c.ID, pl.ID, string(DealOpen)).Scan(&open)
		switch {
		case err == nil:
			return map[string]any{"deal_id": open, "skipped": true}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
	}
	in := NewDeal{Title: p.Title, Amount: money, ContactID: &c.ID, CompanyID: c.CompanyID, OwnerID: c.OwnerID,
		PipelineID: pl.ID, Source: p.Source}
	if in.Source == "" {
		in.Source = "rule"
	}
	if st != nil {
		in.StageID = st.ID
	}
	if closeIn > 0 {
		in.ExpectedClose = core.DateOf(sc.Runtime().Now().Add(closeIn))
	}
	d, err := newDeals(sc).Create(ctx, in)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deal_id": d.ID}, nil
}
