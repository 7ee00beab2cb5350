package analytics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/analytics"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
	"github.com/crmkit/crmkit/pipeline"
)

// bundle is what an analytics test works with.
type bundle struct {
	db        *bun.DB
	rt        *store.Runtime
	sc        store.Scope
	svc       *analytics.Service
	pipelines *pipeline.Pipelines
	clock     *dbtest.Clock
}

// migrated is the template database of these tests: crmkit's migrations,
// run once per test binary (see dbtest.Template).
var migrated = &dbtest.Template{Name: "store", Sources: modules.Migrations(), Migrate: func(ctx context.Context, db *bun.DB) error {
	_, err := migrate.Up(ctx, db, modules.Migrations())
	return err
}}

// now is the tests' clock.
var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

func setup(t testing.TB, db *bun.DB) *bundle {
	t.Helper()
	_, err := migrate.Up(context.Background(), db, modules.Migrations())
	require.NoError(t, err)
	clock := dbtest.NewClock(now)
	rt, err := store.NewRuntime(db, clock, []byte("test-secret-test-secret-test-secret!"), slog.Default())
	require.NoError(t, err)
	module.Wire(rt, []module.Module{contacts.Module.Declare(), pipeline.Module.Declare(), analytics.Module.Declare()})
	sc := store.NewScope(rt)
	return &bundle{db: db, rt: rt, sc: sc, svc: analytics.Module.Service(sc), pipelines: pipeline.Module.Pipelines(sc), clock: clock}
}

// each runs fn on SQLite and PostgreSQL with a fresh bundle.
func each(t *testing.T, fn func(t *testing.T, b *bundle)) {
	migrated.Run(t, func(t *testing.T, db *bun.DB) { fn(t, setup(t, db)) })
}

// The rows a test loads, kept in memory for the reference computations.
type (
	contactRow struct {
		id      core.ID
		created time.Time
		stage   contacts.Stage // the last of its stage history
	}
	stageRow struct {
		id      core.ID
		contact core.ID
		stage   contacts.Stage
		entered time.Time
		left    *time.Time
	}
	activityRow struct {
		id       core.ID
		contact  core.ID
		kind     string
		at       time.Time
		props    map[string]any
		amount   *int64 // storage units (1/10,000)
		currency string
	}
	dealRow struct {
		id       core.ID
		contact  *core.ID
		pipeline core.ID
		stage    core.ID
		status   string
		amount   int64 // storage units
		currency string
		created  time.Time
		closedAt *time.Time
	}
	historyRow struct {
		id      core.ID
		deal    core.ID
		stage   core.ID
		entered time.Time
	}
	data struct {
		pipelines  []*pipeline.Pipeline
		contacts   []contactRow
		activities []activityRow
		deals      []dealRow
		history    []historyRow
		stages     []stageRow
	}
)

func (d dealRow) closedOn() string {
	if d.closedAt == nil {
		return ""
	}
	return d.closedAt.UTC().Format(time.DateOnly)
}

// load inserts d's rows in one transaction of the default tenant.
func (b *bundle) load(t testing.TB, d *data) {
	t.Helper()
	ctx := context.Background()
	err := b.sc.InTx(ctx, func(ctx context.Context, sc store.Scope) error {
		tx := sc.Tx()
		var rows [][]any
		for _, c := range d.contacts {
			rows = append(rows, []any{"default", c.id, c.stage, "[]", "{}", c.created, c.created, 1})
		}
		if err := tx.InsertRows(ctx, "crm_contacts", []string{"tenant_id", "id", "lifecycle_stage", "tags", "attributes", "created_at", "updated_at", "version"}, rows); err != nil {
			return err
		}
		rows = nil
		for _, a := range d.activities {
			props, _ := json.Marshal(a.props)
			var amount any
			if a.amount != nil {
				amount = *a.amount
			}
			rows = append(rows, []any{"default", a.id, a.contact, a.kind, "", a.at, string(props), amount, a.currency, a.at})
		}
		if err := tx.InsertRows(ctx, "crm_activities", []string{"tenant_id", "id", "contact_id", "kind", "name", "occurred_at", "properties", "amount", "currency", "created_at"}, rows); err != nil {
			return err
		}
		rows = nil
		for _, dl := range d.deals {
			var contact, closedAt any
			if dl.contact != nil {
				contact = *dl.contact
			}
			if dl.closedAt != nil {
				closedAt = *dl.closedAt
			}
			rows = append(rows, []any{"default", dl.id, "deal", dl.amount, dl.currency, contact, dl.pipeline, dl.stage, dl.status,
				dl.closedOn(), closedAt, false, 0, "{}", dl.created, dl.created, dl.created, 1})
		}
		if err := tx.InsertRows(ctx, "crm_deals", []string{"tenant_id", "id", "title", "amount", "currency", "contact_id", "pipeline_id", "stage_id", "status",
			"closed_on", "closed_at", "forecast_commit", "line_items", "attributes", "stage_entered_at", "created_at", "updated_at", "version"}, rows); err != nil {
			return err
		}
		rows = nil
		for _, h := range d.history {
			rows = append(rows, []any{"default", h.id, h.deal, h.stage, h.entered})
		}
		if err := tx.InsertRows(ctx, "crm_deal_stage_history", []string{"tenant_id", "id", "deal_id", "stage_id", "entered_at"}, rows); err != nil {
			return err
		}
		rows = nil
		for _, st := range d.stages {
			var left any
			if st.left != nil {
				left = *st.left
			}
			rows = append(rows, []any{"default", st.id, st.contact, st.stage, st.entered, left})
		}
		return tx.InsertRows(ctx, "crm_contact_stages", []string{"tenant_id", "id", "contact_id", "stage", "entered_at", "left_at"}, rows)
	})
	require.NoError(t, err)
}

var (
	channels  = []string{"ads", "email", "organic", "partner", "social"}
	campaigns = []string{"", "spring", "summer", "launch"}
)

func ptr[T any](v T) *T { return &v }

// randomData makes a tenant's worth of random rows: contacts created over
// July 2024 – June 2026 with their lifecycle stage histories, their activities (web
// and email touches with channels and campaigns under every property name
// analytics reads, purchases in the contact's currency), and deals in two
// new pipelines with their stage histories.
func randomData(t testing.TB, b *bundle, rng *rand.Rand, nContacts, nDeals int) *data {
	t.Helper()
	return generate(rng, newPipelines(t, b), nContacts, nDeals)
}

// newPipelines creates randomData's two pipelines.
func newPipelines(t testing.TB, b *bundle) []*pipeline.Pipeline {
	t.Helper()
	var out []*pipeline.Pipeline
	for i := range 2 {
		p, err := b.pipelines.Create(context.Background(), pipeline.NewPipeline{Name: fmt.Sprint("P", i)})
		require.NoError(t, err)
		out = append(out, p)
	}
	return out
}

// generate is randomData on pipelines that exist.
func generate(rng *rand.Rand, pipelines []*pipeline.Pipeline, nContacts, nDeals int) *data {
	d := &data{pipelines: pipelines}
	start := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	span := now.Sub(start)
	at := func() time.Time {
		return start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond)
	}
	for range nContacts {
		c := contactRow{id: core.NewID(), created: at()}
		d.contacts = append(d.contacts, c)
		currency := []string{"EUR", "USD", "JPY"}[rng.IntN(3)]
		for range rng.IntN(12) {
			a := activityRow{id: core.NewID(), contact: c.id, at: c.created.Add(time.Duration(rng.Int64N(int64(now.Sub(c.created))))).Truncate(time.Millisecond), props: map[string]any{}}
			switch rng.IntN(4) {
			case 0:
				a.kind = "purchase"
				units := int64(1 + rng.IntN(50000))
				if currency != "JPY" {
					units = int64(1+rng.IntN(500000)) * 100 // cents
				} else {
					units *= 10000 // whole yen
				}
				a.amount, a.currency = &units, currency
			case 1:
				a.kind = "note" // no channel: never a touchpoint
			default:
				a.kind = []string{"web", "email"}[rng.IntN(2)]
				ch := channels[rng.IntN(len(channels))]
				switch rng.IntN(4) {
				case 0:
					a.props["channel"] = ch
				case 1:
					a.props["utm_source"] = ch
				case 2:
					a.props["channel"] = ch
					a.props["utm_source"] = "ignored"
				case 3:
					a.props["channel"] = "" // empty: utm_source counts
					a.props["utm_source"] = ch
				}
				camp := campaigns[rng.IntN(len(campaigns))]
				switch rng.IntN(3) {
				case 0:
					a.props["campaign"] = camp
				case 1:
					a.props["utm_campaign"] = camp
				case 2:
					a.props["campaign"] = camp
					a.props["utm_campaign"] = "ignored"
				}
				if rng.IntN(10) == 0 {
					a.props["channel"] = 7 // not a string: ignored
					delete(a.props, "utm_source")
				}
			}
			d.activities = append(d.activities, a)
		}
	}
	for range nDeals {
		p := d.pipelines[rng.IntN(2)]
		dl := dealRow{id: core.NewID(), pipeline: p.ID, currency: []string{"EUR", "USD"}[rng.IntN(2)],
			amount: int64(rng.IntN(10_000_00)+1) * 100, created: at()}
		if rng.IntN(5) == 0 {
			dl.amount += int64(rng.IntN(100)) // finer than a cent
		}
		if rng.IntN(6) > 0 {
			c := d.contacts[rng.IntN(len(d.contacts))]
			dl.contact = &c.id
		}
		// A walk through the open stages, maybe skipping some, then won,
		// lost, or still open.
		entered := dl.created
		stage := 0
		for {
			d.history = append(d.history, historyRow{id: core.NewID(), deal: dl.id, stage: p.Stages[stage].ID, entered: entered})
			entered = entered.Add(time.Duration(1+rng.IntN(20*24)) * time.Hour)
			if entered.After(now) {
				break
			}
			next := stage + 1 + rng.IntN(2)
			if rng.IntN(4) == 0 {
				next = 5 // lost
			}
			if next > 5 {
				next = 4
			}
			stage = next
			if stage >= 4 {
				d.history = append(d.history, historyRow{id: core.NewID(), deal: dl.id, stage: p.Stages[stage].ID, entered: entered})
				break
			}
		}
		dl.stage = p.Stages[stage].ID
		switch p.Stages[stage].Kind {
		case pipeline.StageWon:
			dl.status, dl.closedAt = "won", ptr(entered)
		case pipeline.StageLost:
			dl.status, dl.closedAt = "lost", ptr(entered)
		default:
			dl.status = "open"
		}
		d.deals = append(d.deals, dl)
	}
	// Each contact's lifecycle: from a random first stage of the default
	// funnel onwards, a stage at a time or skipping one, stopping at
	// random.
	for i := range d.contacts {
		c := &d.contacts[i]
		stage := rng.IntN(3)
		entered := c.created
		prev := -1
		for {
			row := stageRow{id: core.NewID(), contact: c.id, stage: analytics.DefaultFunnel[stage], entered: entered}
			if prev >= 0 {
				d.stages[prev].left = ptr(entered)
			}
			prev = len(d.stages)
			d.stages = append(d.stages, row)
			c.stage = row.stage
			entered = entered.Add(time.Duration(1+rng.IntN(60*24)) * time.Hour)
			stage += 1 + rng.IntN(2)
			if entered.After(now) || stage >= len(analytics.DefaultFunnel) || rng.IntN(3) == 0 {
				break
			}
		}
	}
	return d
}

// requireFinite fails unless every float64 in v (walked through structs,
// slices, maps and pointers) is finite.
func requireFinite(t testing.TB, v any) {
	t.Helper()
	var walk func(path string, x reflect.Value)
	walk = func(path string, x reflect.Value) {
		switch x.Kind() {
		case reflect.Float64, reflect.Float32:
			f := x.Float()
			require.False(t, math.IsNaN(f) || math.IsInf(f, 0), "%s is %v", path, f)
		case reflect.Pointer, reflect.Interface:
			if !x.IsNil() {
				walk(path, x.Elem())
			}
		case reflect.Struct:
			for i := range x.NumField() {
				if x.Type().Field(i).IsExported() {
					walk(path+"."+x.Type().Field(i).Name, x.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range x.Len() {
				walk(fmt.Sprintf("%s[%d]", path, i), x.Index(i))
			}
		case reflect.Map:
			for _, k := range x.MapKeys() {
				walk(fmt.Sprintf("%s[%v]", path, k), x.MapIndex(k))
			}
		}
	}
	walk("result", reflect.ValueOf(v))
}
