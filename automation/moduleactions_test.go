package automation_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/pipeline"
)

// demoRule opens a deal when a contact asks for a demo, unless one is
// open already: an action the pipeline module declares (create_deal).
func demoRule(params string) automation.Rule {
	return automation.Rule{
		Name:      "Open a deal for demo requests",
		Enabled:   true,
		Triggers:  []string{contacts.EventActivityTracked},
		Condition: automation.Condition{Event: filter.Eq("data.name", "demo_requested")},
		Actions:   []automation.Action{{Type: pipeline.RuleActionCreateDeal, Params: json.RawMessage(params)}},
	}
}

// A module's action runs like a built-in: the rule opens one deal for
// the contact, in the stage it names, owned by the contact's owner; a
// second request finds the deal open and opens none.
func TestModuleActionOpensADeal(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := idle(t, db, crm.Config{})
		sales, err := c.Pipelines.Create(ctx, pipeline.NewPipeline{Name: "Sales", Stages: []pipeline.NewStage{
			{Name: "New", Probability: 10, Kind: pipeline.StageOpen}, {Name: "Demo", Probability: 40, Kind: pipeline.StageOpen},
			{Name: "Won", Kind: pipeline.StageWon, Probability: 100}, {Name: "Lost", Kind: pipeline.StageLost}}})
		require.NoError(t, err)
		_, err = c.Automation.Rules.Create(ctx, demoRule(`{"title": "Demo", "amount": "1200", "currency": "EUR",
			"pipeline": "Sales", "stage": "Demo", "expected_close_in": "30d", "unless_open": true}`))
		require.NoError(t, err)
		lead, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "ines@example.com", OwnerID: "anna"})
		require.NoError(t, err)

		deals := func() []*pipeline.Deal {
			page, err := c.Deals.List(ctx, pipeline.DealListOptions{Filter: filter.Eq("contact_id", lead.ID.String())})
			require.NoError(t, err)
			return page.Items
		}
		for i := 1; i <= 2; i++ {
			_, err = c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "demo_requested"})
			require.NoError(t, err)
			require.Equal(t, 1, automation.WorkQueued(t, c.Automation))
			runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{Status: automation.RunDone})
			require.NoError(t, err)
			require.Len(t, runs, i)
		}
		got := deals()
		require.Len(t, got, 1)
		d := got[0]
		require.Equal(t, "Demo", d.Title)
		require.Equal(t, "1200 EUR", d.Amount.String())
		require.Equal(t, sales.ID, d.PipelineID)
		require.Equal(t, sales.Stages[1].ID, d.StageID)
		require.Equal(t, "anna", d.OwnerID)
		require.Equal(t, "rule", d.Source)
		require.False(t, d.ExpectedClose.IsZero())

		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{})
		require.NoError(t, err)
		var skipped int
		for _, r := range runs {
			run, err := c.Automation.Runs.Get(ctx, r.ID)
			require.NoError(t, err)
			require.Len(t, run.Steps, 1)
			require.Equal(t, automation.StepOK, run.Steps[0].Status)
			require.Contains(t, string(run.Steps[0].Result), d.ID.String())
			if string(run.Steps[0].Result) != "" && json.Valid(run.Steps[0].Result) {
				var res struct{ Skipped bool }
				require.NoError(t, json.Unmarshal(run.Steps[0].Result, &res))
				if res.Skipped {
					skipped++
				}
			}
		}
		require.Equal(t, 1, skipped)
	})
}

// A module's action checks its params at save time, in the rule's
// tenant, every problem listed under the action; the host cannot take
// its name.
func TestModuleActionParamsAreChecked(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))

		_, err = c.Automation.Rules.Create(ctx, demoRule(`{"amount": "twelve", "currency": "EUR", "expected_close_in": "soon"}`))
		require.ElementsMatch(t, []string{"actions[0].params.title", "actions[0].params.amount", "actions[0].params.expected_close_in"},
			fieldsOf(t, err))
		_, err = c.Automation.Rules.Create(ctx, demoRule(`{"title": "Demo", "currency": "EUR", "pipeline": "Nope"}`))
		require.Equal(t, []string{"actions[0].params.pipeline"}, fieldsOf(t, err))
		_, err = c.Automation.Rules.Create(ctx, demoRule(`{"title": "Demo", "currency": "EUR", "stage": "Nope"}`))
		require.Equal(t, []string{"actions[0].params.stage"}, fieldsOf(t, err))
		_, err = c.Automation.Rules.Create(ctx, demoRule(`{"title": "Demo", "currency": "EUR", "colour": "red"}`))
		require.Equal(t, []string{"actions[0].params"}, fieldsOf(t, err))

		// A pipeline of another tenant is not one of this tenant's.
		other := c.Tenant("other")
		_, err = other.Pipelines.Create(ctx, pipeline.NewPipeline{Name: "Elsewhere", Stages: []pipeline.NewStage{{Name: "New", Kind: pipeline.StageOpen},
			{Name: "Won", Kind: pipeline.StageWon, Probability: 100}, {Name: "Lost", Kind: pipeline.StageLost}}})
		require.NoError(t, err)
		_, err = c.Automation.Rules.Create(ctx, demoRule(`{"title": "Demo", "currency": "EUR", "pipeline": "Elsewhere"}`))
		require.Equal(t, []string{"actions[0].params.pipeline"}, fieldsOf(t, err))
		_, err = other.Automation.Rules.Create(ctx, demoRule(`{"title": "Demo", "currency": "EUR", "pipeline": "Elsewhere"}`))
		require.NoError(t, err)

		err = c.RegisterAction(pipeline.RuleActionCreateDeal, func(ctx context.Context, tx *crm.CRM, call automation.Call) (any, error) {
			return nil, nil
		}, nil)
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
