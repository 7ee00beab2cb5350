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

	"github.com/crmkit/crmkit/access"
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
		c := idle(t, db, crm.Config{})
		for _, args := range []river.JobArgs{brokenDispatch{Events: "not a list"}, brokenDispatch{V: 99, Tenant: "default"}} {
			res, err := c.River().Insert(ctx, args, &river.InsertOpts{Queue: automation.QueueRules})
			require.NoError(t, err)
			require.Equal(t, 1, automation.WorkQueued(t, c.Automation), "tried once, not retried")
			j, err := c.River().JobGet(ctx, res.Job.ID)
			require.NoError(t, err)
			require.Equal(t, rivertype.JobStateCancelled, j.State)
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
		require.Equal(t, 1, automation.WorkQueued(t, c.Automation))
		require.Len(t, openTasks(t, c, "anna"), 1)
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
		c := idle(t, db, crm.Config{})
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

		require.Equal(t, 3, automation.WorkQueued(t, c.Automation))
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{})
		require.NoError(t, err)
		require.Len(t, runs, 2)
		for _, r := range runs {
			require.Equal(t, automation.RunDone, r.Status, r.Error)
		}
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

		runs, err = c.Automation.Runs.List(ctx, automation.RunQuery{ContactID: vip.ID})
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
		c := idle(t, db, crm.Config{})
		_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Owner task", Enabled: true, Triggers: []string{"contact.created"},
			Actions: []automation.Action{{Type: automation.ActionAddTag, Tag: "seen"}, {Type: automation.ActionCreateTask, Title: "Call"},
				{Type: automation.ActionAddTag, Tag: "called"}}})
		require.NoError(t, err)
		who, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "nobody-owns-me@example.com"})
		require.NoError(t, err)
		require.Equal(t, 1, automation.WorkQueued(t, c.Automation))
		runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, automation.RunFailed, runs[0].Status)
		run, err := c.Automation.Runs.Get(ctx, runs[0].ID)
		require.NoError(t, err)
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
		c := idle(t, db, crm.Config{})
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
		require.Equal(t, 5, automation.WorkQueued(t, c.Automation))
		require.Equal(t, []int{2, 1, 1}, []int{count("a", "rr"), count("b", "rr"), count("c", "rr")})
		require.Zero(t, count("x", "ll"))
		require.Equal(t, 1, count("y", "ll"))
	})
}

// A rule that triggers itself stops at the depth limit, logged.
func TestSelfTriggeringRuleStops(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := idle(t, db, crm.Config{})
		rule, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: "Echo", Enabled: true, Triggers: []string{"contact.score_adjusted"},
			Actions: []automation.Action{{Type: automation.ActionAdjustScore, Points: 1}}})
		require.NoError(t, err)
		who, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "echo@example.com"})
		require.NoError(t, err)
		_, err = c.Scoring.Adjust(ctx, who.ID, 1, "start")
		require.NoError(t, err)
		// One dispatch job per link of the chain, depths 0 to 5; the run
		// of depth 6 is logged as stopped when its event is appended and
		// gets no job (no webhook of the tenant wants the event either).
		require.Equal(t, 6, automation.WorkQueued(t, c.Automation))
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

// Team assignment takes the team's members who are available when the
// step runs (active, not out of office): in turn, by user id, or the least
// loaded below their capacity. A team with nobody available, or everyone
// at capacity, fails the run.
func TestTeamAssignee(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := started(t, db, crm.Config{})
		now := time.Now().UTC()
		away := &access.Period{From: now.Add(-time.Hour), Until: now.Add(24 * time.Hour)}
		for _, u := range []access.UserInput{{ID: "anna"}, {ID: "ben"}, {ID: "carl"}, {ID: "dora", OutOfOffice: away}, {ID: "emil"},
			{ID: "frank"}, {ID: "gina"}, {ID: "hugo"}, {ID: "ivan", OutOfOffice: away}} {
			u.DisplayName = "User " + u.ID
			_, err := c.Access.Users.Create(ctx, u)
			require.NoError(t, err)
		}
		emil, err := c.Access.Users.Get(ctx, "emil")
		require.NoError(t, err)
		team := func(name string, members ...access.Member) {
			tm, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: name})
			require.NoError(t, err)
			for _, m := range members {
				tm, err = c.Access.Teams.AddMember(ctx, tm.ID, tm.Version, m)
				require.NoError(t, err)
			}
		}
		team("rr-desk", access.Member{UserID: "carl"}, access.Member{UserID: "anna"}, access.Member{UserID: "dora"},
			access.Member{UserID: "emil"}, access.Member{UserID: "ben"})
		_, err = c.Access.Users.Deactivate(ctx, "emil", emil.Version)
		require.NoError(t, err)
		team("ll-desk", access.Member{UserID: "frank", Capacity: 1}, access.Member{UserID: "gina"},
			access.Member{UserID: "hugo", Capacity: 4}, access.Member{UserID: "ivan"})
		team("away-desk", access.Member{UserID: "dora"})
		team("full-desk", access.Member{UserID: "frank", Capacity: 1})
		for user, n := range map[string]int{"frank": 1, "gina": 3, "hugo": 4} {
			for range n {
				_, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "busy", AssigneeID: user})
				require.NoError(t, err)
			}
		}

		rule := func(prefix string, as automation.Assignee) {
			_, err := c.Automation.Rules.Create(ctx, automation.Rule{Name: prefix, Enabled: true, Triggers: []string{"contact.created"},
				Condition: automation.Condition{Event: filter.Prefix("data.email", prefix+"-")},
				Actions:   []automation.Action{{Type: automation.ActionCreateTask, Title: prefix, Assignee: &as}}})
			require.NoError(t, err)
		}
		rule("rr", automation.Assignee{Team: "rr-desk", Strategy: automation.StrategyRoundRobin})
		rule("ll", automation.Assignee{Team: "ll-desk", Strategy: automation.StrategyLeastLoaded})
		rule("away", automation.Assignee{Team: "away-desk", Strategy: automation.StrategyRoundRobin})
		rule("full", automation.Assignee{Team: "full-desk", Strategy: automation.StrategyLeastLoaded})

		for i := range 4 {
			_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("rr-%d@example.com", i)})
			require.NoError(t, err)
		}
		for _, email := range []string{"ll-0@example.com", "away-0@example.com", "full-0@example.com"} {
			_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email})
			require.NoError(t, err)
		}
		count := func(user, title string) int {
			n := 0
			for _, task := range openTasks(t, c, user) {
				if task.Title == title {
					n++
				}
			}
			return n
		}
		var failed []*automation.Run
		require.Eventually(t, func() bool {
			runs, err := c.Automation.Runs.List(ctx, automation.RunQuery{Status: automation.RunFailed})
			require.NoError(t, err)
			failed = runs
			return count("anna", "rr")+count("ben", "rr")+count("carl", "rr") == 4 && count("gina", "ll") == 1 && len(runs) == 2
		}, 20*time.Second, 10*time.Millisecond)
		// Turns in user id order over the available: anna, ben, carl, anna;
		// dora is out of office, emil deactivated.
		require.Equal(t, []int{2, 1, 1, 0, 0}, []int{count("anna", "rr"), count("ben", "rr"), count("carl", "rr"), count("dora", "rr"), count("emil", "rr")})
		// frank (1 open, capacity 1) and hugo (4 of 4) are full; ivan is
		// away: gina takes it with 3 open.
		require.Equal(t, []int{0, 1, 0, 0}, []int{count("frank", "ll"), count("gina", "ll"), count("hugo", "ll"), count("ivan", "ll")})
		var errs []string
		for _, r := range failed {
			run, err := c.Automation.Runs.Get(ctx, r.ID)
			require.NoError(t, err)
			errs = append(errs, run.Error)
		}
		require.ElementsMatch(t, []string{
			"step 0 (create_task): crm: invalid input: no member of the assignee team is available (active and not out of office)",
			"step 0 (create_task): crm: invalid input: every available member of the assignee team is at capacity",
		}, errs)
	})
}

// A team assignee names a team of the tenant and a strategy, and nothing
// else; rules of list assignees keep their JSON and meaning.
func TestTeamAssigneeValidation(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		_, err = c.Access.Teams.Create(ctx, access.TeamInput{Name: "desk"})
		require.NoError(t, err)
		task := func(as automation.Assignee) automation.Rule {
			return automation.Rule{Name: "t", Triggers: []string{"contact.created"},
				Actions: []automation.Action{{Type: automation.ActionCreateTask, Title: "x", Assignee: &as}}}
		}
		cases := map[string]struct {
			as   automation.Assignee
			want []string
		}{
			"unknown team":          {automation.Assignee{Team: "nowhere", Strategy: automation.StrategyRoundRobin}, []string{"actions[0].assignee.team"}},
			"no strategy":           {automation.Assignee{Team: "desk"}, []string{"actions[0].assignee.strategy"}},
			"unknown strategy":      {automation.Assignee{Team: "desk", Strategy: "random"}, []string{"actions[0].assignee.strategy"}},
			"strategy without team": {automation.Assignee{User: "anna", Strategy: automation.StrategyLeastLoaded}, []string{"actions[0].assignee.strategy"}},
			"team and user": {automation.Assignee{Team: "desk", Strategy: automation.StrategyRoundRobin, User: "anna"},
				[]string{"actions[0].assignee"}},
		}
		for name, cs := range cases {
			_, err := c.Automation.Rules.Create(ctx, task(cs.as))
			require.Equal(t, cs.want, fieldsOf(t, err), name)
		}
		// Another tenant's team is no team of this one.
		_, err = c.Tenant("other").Automation.Rules.Create(ctx, task(automation.Assignee{Team: "desk", Strategy: automation.StrategyRoundRobin}))
		require.Equal(t, []string{"actions[0].assignee.team"}, fieldsOf(t, err))

		r, err := automation.ParseRule([]byte(`{"name": "t", "triggers": ["contact.created"], "actions": [
			{"type": "create_task", "title": "a", "assignee": {"team": "desk", "strategy": "least_loaded"}},
			{"type": "create_task", "title": "b", "assignee": {"round_robin": ["anna", "ben"]}},
			{"type": "create_task", "title": "c", "assignee": {"least_loaded": ["anna"]}}]}`))
		require.NoError(t, err)
		saved, err := c.Automation.Rules.Create(ctx, r)
		require.NoError(t, err)
		require.Equal(t, &automation.Assignee{Team: "desk", Strategy: automation.StrategyLeastLoaded}, saved.Actions[0].Assignee)
		require.Equal(t, &automation.Assignee{RoundRobin: []string{"anna", "ben"}}, saved.Actions[1].Assignee)
		require.Equal(t, &automation.Assignee{LeastLoaded: []string{"anna"}}, saved.Actions[2].Assignee)
	})
}
