package automation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/filter"
)

// fieldsOf lists the fields of a validation error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	require.ErrorIs(t, err, core.ErrInvalid)
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

// A bad rule is refused at save time with every problem listed, and
// nothing is stored.
func TestBadRulesAreRefused(t *testing.T) {
	// No workers: independent of the others.
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		(&mailbox{}).register(t, c)

		_, err = c.Automation.Rules.Create(ctx, automation.Rule{Name: "", Triggers: []string{"Contact Created"},
			Condition: automation.Condition{Event: filter.Eq("data.Bad Key", 1), Contact: filter.Eq("no_such_field", "x")},
			Actions: []automation.Action{
				{Type: "teleport"},
				{Type: automation.ActionWait, For: "-2h"},
				{Type: automation.ActionWait},
				{Type: automation.ActionCreateTask, Title: "x", Assignee: &automation.Assignee{User: "a", RoundRobin: []string{"b"}}, Tag: "stray"},
				{Type: automation.ActionWebhook, WebhookID: core.NewID()},
				{Type: automation.ActionSetStage, Stage: "astronaut"},
				{Type: automation.ActionAdjustScore},
				{Type: "send_mail", Params: json.RawMessage(`{}`)},
				{Type: automation.ActionBranch, Then: []automation.Action{{Type: automation.ActionAddTag}}},
			}})
		got := fieldsOf(t, err)
		for _, want := range []string{"name", "triggers[0]", "condition.event.field", "condition.contact.field", "actions[0].type",
			"actions[1].for", "actions[2]", "actions[3].assignee", "actions[3].tag", "actions[4].webhook_id", "actions[5].stage",
			"actions[6].points", "actions[7].params", "actions[8].if", "actions[8].then[0].tag"} {
			require.Contains(t, got, want)
		}
		rules, err := c.Automation.Rules.List(ctx)
		require.NoError(t, err)
		require.Empty(t, rules)

		// The JSON form refuses unknown keys.
		_, err = automation.ParseRule([]byte(`{"name":"x","triggers":["a.b"],"actions":[],"colour":"red"}`))
		require.ErrorIs(t, err, core.ErrInvalid)
		r, err := automation.ParseRule([]byte(`{"name":"x","enabled":true,"triggers":["contact.created"],
			"condition":{"event":{"field":"data.email","op":"contains","value":"@example.com"}},
			"actions":[{"type":"add_tag","tag":"example"}]}`))
		require.NoError(t, err)
		_, err = c.Automation.Rules.Create(ctx, r)
		require.NoError(t, err)
	})
}

// Webhook URLs must be http(s) and reach allowed addresses.
func TestBadWebhookURLsAreRefused(t *testing.T) {
	// No workers: independent of the others.
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		for _, u := range []string{"ftp://example.com/x", "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/x",
			"http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "http://user:pw@example.com/", "not a url", "http:///path"} {
			_, err := c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: u})
			require.Equal(t, []string{"url"}, fieldsOf(t, err), u)
		}
		_, err = c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "https://1.1.1.1/hook", EventTypes: []string{"Bad Type"}, Secret: "short"})
		require.ElementsMatch(t, []string{"event_types[0]", "secret"}, fieldsOf(t, err))
		// A public address is fine (no request is made when saving).
		_, err = c.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "https://1.1.1.1/hook"})
		require.NoError(t, err)

		// Loopback only when the host says so.
		open, err := crm.New(db, crm.Config{Automation: automation.Options{Webhooks: automation.WebhookOptions{AllowLoopback: true}}})
		require.NoError(t, err)
		_, err = open.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "http://127.0.0.1:8080/hook"})
		require.NoError(t, err)
		_, err = open.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "http://10.1.2.3/hook"})
		require.ErrorIs(t, err, core.ErrInvalid)
		// Or for named hosts the host allows.
		named, err := crm.New(db, crm.Config{Automation: automation.Options{Webhooks: automation.WebhookOptions{AllowedHosts: []string{"10.1.2.3"}}}})
		require.NoError(t, err)
		_, err = named.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "http://10.1.2.3/hook"})
		require.NoError(t, err)
		_, err = named.Automation.Webhooks.Create(ctx, automation.WebhookInput{URL: "http://127.0.0.1/hook"})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// A job whose payload no longer parses is cancelled and logged, not
// retried, and the worker goes on working.
func TestUnparsableJobIsCancelled(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := started(t, db, crm.Config{})
		for _, args := range []river.JobArgs{brokenDispatch{Events: "not a list"}, brokenDispatch{V: 99, Tenant: "default"}} {
			res, err := c.River().Insert(ctx, args, &river.InsertOpts{Queue: automation.QueueRules})
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				j, err := c.River().JobGet(ctx, res.Job.ID)
				require.NoError(t, err)
				return j.State == rivertype.JobStateCancelled
			}, 10*time.Second, 10*time.Millisecond)
			j, err := c.River().JobGet(ctx, res.Job.ID)
			require.NoError(t, err)
			require.Equal(t, 1, j.Attempt)
			require.Contains(t, j.Errors[0].Error, "payload")
		}
		// Still working.
		_, err := c.Automation.Rules.Create(ctx, calculatorRule)
		require.NoError(t, err)
		lead, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "lea@example.com", OwnerID: "anna"})
		require.NoError(t, err)
		_, err = c.Contacts.Track(ctx, contacts.ByID(lead.ID), contacts.NewActivity{Kind: contacts.KindWeb, Name: "pricing_calculator_used"})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(openTasks(t, c, "anna")) == 1 }, 10*time.Second, 5*time.Millisecond)
	})
}

// brokenDispatch is a dispatch job as another (imaginary) version wrote it.
type brokenDispatch struct {
	V      int    `json:"v"`
	Tenant string `json:"tenant,omitempty"`
	Events string `json:"events,omitempty"`
}

func (brokenDispatch) Kind() string { return "crm.dispatch" }

// The actions change the contact as told; a branch picks its way by the
// contact; the run log shows each step.
func TestContactActionsAndBranch(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := started(t, db, crm.Config{})
		_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Qualify", Enabled: true, Triggers: []string{"contact.created"},
			Condition: automation.Condition{Contact: filter.Eq("lifecycle_stage", "lead")},
			Actions: []automation.Action{
				{Type: automation.ActionAddTag, Tag: "new"},
				{Type: automation.ActionSetStage, Stage: "mql"},
				{Type: automation.ActionSetField, Field: "owner_id", Value: "ben"},
				{Type: automation.ActionAdjustScore, Points: 5},
				{Type: automation.ActionBranch, If: &automation.Condition{Contact: filter.Contains("tags", "vip")},
					Then: []automation.Action{{Type: automation.ActionAddTag, Tag: "vip_welcome"}},
					Else: []automation.Action{{Type: automation.ActionCreateTask, Title: "Qualify {{contact.email}}"}}},
				{Type: automation.ActionRemoveTag, Tag: "new"},
			}})
		require.NoError(t, err)
		vip, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "vip@example.com", Tags: []string{"vip"}})
		require.NoError(t, err)
		plain, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "plain@example.com"})
		require.NoError(t, err)
		customer, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "old@example.com", LifecycleStage: contacts.StageCustomer})
		require.NoError(t, err)

		require.Eventually(t, func() bool {
			runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{})
			require.NoError(t, err)
			done := 0
			for _, r := range runs {
				require.NotEqual(t, automation.RunFailed, r.Status, r.Error)
				if r.Status == automation.RunDone {
					done++
				}
			}
			return done == 2
		}, 10*time.Second, 10*time.Millisecond)
		vip, err = c.Contacts.Get(ctx, vip.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"vip", "vip_welcome"}, vip.Tags)
		require.Equal(t, contacts.StageMQL, vip.LifecycleStage)
		require.Equal(t, "ben", vip.OwnerID)
		require.Equal(t, int64(5), vip.Facts.Score)
		plain, err = c.Contacts.Get(ctx, plain.ID)
		require.NoError(t, err)
		require.Empty(t, plain.Tags)
		tasks := openTasks(t, c, "ben")
		require.Len(t, tasks, 1)
		require.Equal(t, "Qualify plain@example.com", tasks[0].Title)
		customer, err = c.Contacts.Get(ctx, customer.ID)
		require.NoError(t, err)
		require.Empty(t, customer.Tags, "the contact condition kept the rule off customers")

		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{ContactID: vip.ID})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		run, err := c.Automation.Runs.Get(ctx, runs[0].ID)
		require.NoError(t, err)
		var paths []string
		for _, s := range run.Steps {
			paths = append(paths, s.Path)
			require.Equal(t, automation.StepOK, s.Status)
		}
		require.ElementsMatch(t, []string{"0", "1", "2", "3", "4", "4.then.0", "5"}, paths)
	})
}

// A failing action fails its run, logged with the error, and undoes
// nothing else the change did; later steps do not run.
func TestFailingActionFailsTheRun(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := started(t, db, crm.Config{})
		_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Owner task", Enabled: true, Triggers: []string{"contact.created"},
			Actions: []automation.Action{{Type: automation.ActionAddTag, Tag: "seen"}, {Type: automation.ActionCreateTask, Title: "Call"},
				{Type: automation.ActionAddTag, Tag: "called"}}})
		require.NoError(t, err)
		who, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "nobody-owns-me@example.com"})
		require.NoError(t, err)
		var run *automation.Run
		require.Eventually(t, func() bool {
			runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{Status: automation.RunFailed})
			require.NoError(t, err)
			if len(runs) == 1 {
				run, err = c.Automation.Runs.Get(ctx, runs[0].ID)
				require.NoError(t, err)
			}
			return run != nil
		}, 10*time.Second, 10*time.Millisecond)
		require.Contains(t, run.Error, "has no owner")
		require.Len(t, run.Steps, 2)
		require.Equal(t, automation.StepFailed, run.Steps[1].Status)
		who, err = c.Contacts.Get(ctx, who.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"seen"}, who.Tags)
	})
}

// Tasks go round the team in turn, or to whoever has the fewest open.
func TestAssigneeStrategies(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := started(t, db, crm.Config{})
		_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Round robin", Enabled: true, Triggers: []string{"contact.created"},
			Condition: automation.Condition{Event: filter.Prefix("data.email", "rr")},
			Actions:   []automation.Action{{Type: automation.ActionCreateTask, Title: "rr", Assignee: &automation.Assignee{RoundRobin: []string{"a", "b", "c"}}}}})
		require.NoError(t, err)
		_, err = c.Automation.Rules.Create(ctx, automation.Rule{Name: "Least loaded", Enabled: true, Triggers: []string{"contact.created"},
			Condition: automation.Condition{Event: filter.Prefix("data.email", "ll")},
			Actions:   []automation.Action{{Type: automation.ActionCreateTask, Title: "ll", Assignee: &automation.Assignee{LeastLoaded: []string{"x", "y"}}}}})
		require.NoError(t, err)
		for i := 0; i < 2; i++ {
			_, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "busy", AssigneeID: "x"})
			require.NoError(t, err)
		}
		for i := 0; i < 4; i++ {
			_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("rr%d@example.com", i)})
			require.NoError(t, err)
		}
		_, err = c.Contacts.Create(ctx, contacts.NewContact{Email: "ll0@example.com"})
		require.NoError(t, err)
		count := func(user, title string) int {
			n := 0
			for _, task := range openTasks(t, c, user) {
				if task.Title == title {
					n++
				}
			}
			return n
		}
		require.Eventually(t, func() bool {
			return count("a", "rr")+count("b", "rr")+count("c", "rr") == 4 && count("y", "ll") == 1
		}, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, []int{2, 1, 1}, []int{count("a", "rr"), count("b", "rr"), count("c", "rr")})
		require.Zero(t, count("x", "ll"))
	})
}

// A rule that triggers itself stops at the depth limit, logged.
func TestSelfTriggeringRuleStops(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := started(t, db, crm.Config{})
		rule, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Echo", Enabled: true, Triggers: []string{"contact.score_adjusted"},
			Actions: []automation.Action{{Type: automation.ActionAdjustScore, Points: 1}}})
		require.NoError(t, err)
		who, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "echo@example.com"})
		require.NoError(t, err)
		_, err = c.Scoring.Adjust(ctx, who.ID, 1, "start")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{RuleID: rule.ID, Status: automation.RunStopped})
			require.NoError(t, err)
			return len(runs) == 1
		}, 20*time.Second, 10*time.Millisecond)
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{RuleID: rule.ID})
		require.NoError(t, err)
		require.Len(t, runs, 7) // depths 0-5 ran, depth 6 stopped
		stopped := runs[0]
		require.Equal(t, automation.RunStopped, stopped.Status)
		require.Equal(t, 6, stopped.Depth)
		require.True(t, strings.Contains(stopped.Error, "depth"), stopped.Error)
		who, err = c.Contacts.Get(ctx, who.ID)
		require.NoError(t, err)
		require.Equal(t, int64(7), who.Facts.Score)
	})
}
