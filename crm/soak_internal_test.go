package crm

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/opendb"
	"github.com/crmkit/crmkit/pipeline"
)

// soakDuration is how long TestSoak loads each database: CRM_TEST_SOAK
// (a Go duration, e.g. "3m") overrides the short default CI runs.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("CRM_TEST_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err)
		return d
	}
	return 4 * time.Second
}

// soakRule gives every new contact a welcome task: its runs show whether
// each rule effect happened exactly once.
var soakRule = automation.Rule{Name: "Welcome", Enabled: true, Triggers: []string{contacts.EventContactCreated},
	Actions: []automation.Action{{Type: automation.ActionCreateTask, Title: "Welcome call", Assignee: &automation.Assignee{User: "team"}}}}

// soak is the shared state of one soak run.
type soak struct {
	crms []*CRM
	pool []core.ID // contacts every worker updates, tracks and upserts

	mu     sync.Mutex
	erased []string // personal values of erased people, lower case
	ops    map[string]int64
	errs   []string
	stop   atomic.Bool
}

func (s *soak) count(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.ops[op]++
	case errors.Is(err, core.ErrConflict):
		s.ops[op+" (conflict)"]++
	default:
		s.errs = append(s.errs, fmt.Sprintf("%s: %v", op, err))
	}
}

// worker runs random operations until the soak stops. It owns the
// contacts it creates: only it merges and erases them, so that the
// erased people's values are known.
func (s *soak) worker(g int, seed uint64) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, uint64(g)))
	c := s.crms[g%len(s.crms)]
	type own struct {
		id     core.ID
		values []string
		merged bool
	}
	var mine []own
	var deals []core.ID
	// 16 hex digits: a needle of the leftover scan keeps ten or more of
	// them after any prefix FTS5 shares with a neighbouring term.
	token := func() string {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return hex.EncodeToString(b)
	}
	poolEmail := func() string { return fmt.Sprintf("pool%d@example.com", r.IntN(len(s.pool))) }
	for i := 0; !s.stop.Load(); i++ {
		switch k := r.IntN(100); {
		case k < 18: // create
			tok := token()
			email, name := "soak"+tok+"@example.com", "Name"+tok
			p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: email, FirstName: name, Tags: []string{"soak"}})
			s.count("create", err)
			if err == nil {
				mine = append(mine, own{id: p.ID, values: []string{email, strings.ToLower(name)}})
			}
		case k < 38: // update a shared contact
			id := s.pool[r.IntN(len(s.pool))]
			p, err := c.Contacts.Get(ctx, id)
			if err != nil {
				s.count("update", err)
				continue
			}
			name := fmt.Sprintf("Shared%d", r.IntN(1000))
			_, err = c.Contacts.Update(ctx, id, contacts.ContactPatch{Version: p.Version, LastName: &name})
			s.count("update", err)
		case k < 46: // upsert a shared contact by email
			name := fmt.Sprintf("Upserted%d", r.IntN(1000))
			_, _, err := c.Contacts.Upsert(ctx, contacts.NewContact{Email: poolEmail(), LastName: name})
			s.count("upsert", err)
		case k < 64: // track a purchase
			id := s.pool[r.IntN(len(s.pool))]
			if len(mine) > 0 && r.IntN(2) == 0 {
				if o := mine[r.IntN(len(mine))]; o.id != core.NilID {
					id = o.id
				}
			}
			amount := core.MustMoney(fmt.Sprintf("%d.%02d", r.IntN(500), r.IntN(100)), "EUR")
			_, err := c.Contacts.Track(ctx, contacts.ByID(id), contacts.NewActivity{Kind: contacts.KindPurchase, Name: "order",
				IdempotencyKey: fmt.Sprintf("o-%d-%d-%s", g, i, token()), Purchase: &contacts.Purchase{OrderID: fmt.Sprint(i), Total: amount}})
			if errors.Is(err, core.ErrNotFound) {
				err = nil // one of the worker's own contacts, merged or erased meanwhile
			}
			s.count("track", err)
		case k < 67: // merge two of the worker's own contacts
			var live []int
			for j, o := range mine {
				if o.id != core.NilID {
					live = append(live, j)
				}
			}
			if len(live) < 2 {
				continue
			}
			w, l := live[r.IntN(len(live))], live[r.IntN(len(live))]
			if w == l {
				continue
			}
			_, err := c.Contacts.Merge(ctx, mine[w].id, mine[l].id)
			s.count("merge", err)
			if err == nil {
				mine[w].merged = true
				mine[l].id = core.NilID
			}
		case k < 75: // a deal: create, or move one along
			if len(deals) == 0 || r.IntN(3) == 0 {
				cid := s.pool[r.IntN(len(s.pool))]
				d, err := c.Deals.Create(ctx, pipeline.NewDeal{Title: "Soak deal", Amount: core.MustMoney(fmt.Sprint(r.IntN(10000)), "EUR"), ContactID: &cid})
				s.count("deal create", err)
				if err == nil {
					deals = append(deals, d.ID)
				}
				continue
			}
			id := deals[r.IntN(len(deals))]
			d, err := c.Deals.Get(ctx, id)
			if err != nil {
				s.count("deal move", err)
				continue
			}
			pl, err := c.Pipelines.Get(ctx, d.PipelineID)
			if err != nil {
				s.count("deal move", err)
				continue
			}
			_, err = c.Deals.MoveStage(ctx, id, d.Version, pl.Stages[r.IntN(len(pl.Stages))].ID)
			if errors.Is(err, core.ErrInvalid) {
				err = nil // a move the stage rules refuse (e.g. out of a closed stage)
			}
			s.count("deal move", err)
		case k < 85: // consent given or withdrawn
			id := s.pool[r.IntN(len(s.pool))]
			var err error
			if r.IntN(2) == 0 {
				_, err = c.Consent.Grant(ctx, id, "newsletter", consent.Email, consent.Proof{Source: "soak"})
				s.count("consent grant", err)
			} else {
				_, err = c.Consent.Withdraw(ctx, id, "newsletter", consent.Email, consent.Proof{Source: "soak"})
				s.count("consent withdraw", err)
			}
		case k < 88: // erase one of the worker's own, never merged, contacts
			for j := len(mine) - 1; j >= 0; j-- {
				o := mine[j]
				if o.id == core.NilID || o.merged {
					continue
				}
				_, err := c.Consent.Erase(ctx, o.id, "request")
				s.count("erase", err)
				if err == nil {
					s.mu.Lock()
					s.erased = append(s.erased, o.values...)
					s.mu.Unlock()
					mine[j].id = core.NilID
				}
				break
			}
		default: // a small import: shared emails and new ones
			var b strings.Builder
			b.WriteString("email,last_name,tags\n")
			seen := map[string]bool{}
			for range 20 {
				email := "import" + token() + "@example.com"
				if r.IntN(2) == 0 {
					email = poolEmail()
				}
				if seen[email] {
					continue
				}
				seen[email] = true
				fmt.Fprintf(&b, "%s,Imported%d,imported\n", email, r.IntN(1000))
			}
			res, err := c.Contacts.ImportCSV(ctx, strings.NewReader(b.String()), contacts.CSVImportOptions{})
			if err == nil && res.Failed > 0 {
				// A row that lost a race with a concurrent write of the same
				// contact is reported as a conflict, by line.
				for _, e := range res.Errors {
					if !strings.Contains(e.Message, "conflict") {
						err = fmt.Errorf("import row: %s", e)
					}
				}
				s.count("import row (conflict)", nil)
			}
			s.count("import", err)
		}
	}
}

// A bounded mixed load — creates, updates, upserts, purchases, merges,
// deals moved, consent given and withdrawn, erasures, imports, a rule
// firing on every new contact — from 8 goroutines on SQLite and from two
// crmkit instances (each its own pool and River client) on PostgreSQL,
// then the invariants: each contact's version counts its updates, the
// derived purchase facts equal a recomputation, no orphan rows, every
// contact event's subject exists or was deleted or erased, every rule
// effect ran exactly once, and nothing of an erased person is left in any
// column. CRM_TEST_SOAK sets the length (a short run by default).
func TestSoak(t *testing.T) {
	run := func(t *testing.T, dbs []*bun.DB, listeners []*pgxpool.Pool) {
		ctx := context.Background()
		s := &soak{ops: map[string]int64{}}
		for i, db := range dbs {
			opts := automation.Options{Workers: 4, RateLimit: 1_000_000}
			if listeners != nil {
				opts.Listener = listeners[i]
			}
			c, err := New(db, Config{Automation: opts})
			require.NoError(t, err)
			require.NoError(t, c.Migrate(ctx))
			s.crms = append(s.crms, c)
		}
		c := s.crms[0]
		_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me news."})
		require.NoError(t, err)
		rule, err := c.Automation.Rules.Create(ctx, soakRule)
		require.NoError(t, err)
		for i := range 50 {
			p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("pool%d@example.com", i)})
			require.NoError(t, err)
			s.pool = append(s.pool, p.ID)
		}
		// The other instance trusts its copy of the rules for
		// RuleCacheTTL (1 s); events it records before then are left to
		// the sweep, a minute later (see automation's doc).
		time.Sleep(1100 * time.Millisecond)
		for _, c := range s.crms {
			require.NoError(t, c.Start(ctx))
			t.Cleanup(func() { _ = c.Close() })
		}

		d := soakDuration(t)
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d, %v", seed, d)
		var wg sync.WaitGroup
		start := time.Now()
		for g := range 8 {
			wg.Go(func() { s.worker(g, seed) })
		}
		time.Sleep(d)
		s.stop.Store(true)
		wg.Wait()
		elapsed := time.Since(start)
		var total int64
		var names []string
		for op, n := range s.ops {
			total += n
			names = append(names, fmt.Sprintf("%s %d", op, n))
		}
		sort.Strings(names)
		t.Logf("%d operations in %v: %.0f/s (%s)", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), strings.Join(names, ", "))
		require.Empty(t, s.errs, "unexpected errors")

		db := dbs[0]
		tenant := c.TenantID()
		scalar := func(q string, args ...any) int64 {
			t.Helper()
			var n int64
			require.NoError(t, db.NewRaw(q, args...).Scan(ctx, &n))
			return n
		}
		// Every rule effect, exactly once, once the workers are done.
		// (An erasure deletes the person's runs, and no rule acts on an
		// erased person's events again.)
		createdEvents := scalar(`SELECT count(*) FROM crm_events e WHERE e.tenant_id = ? AND e.type = ?
			AND NOT EXISTS (SELECT 1 FROM crm_erasures x WHERE x.tenant_id = e.tenant_id AND x.contact_id = e.subject_id)`, tenant, contacts.EventContactCreated)
		require.Eventually(t, func() bool {
			return scalar("SELECT count(*) FROM crm_rule_runs WHERE tenant_id = ? AND rule_id = ? AND status = 'done'", tenant, rule.ID) >= createdEvents
		}, 2*time.Minute, 50*time.Millisecond, "the rule's runs catch up with %d new contacts", createdEvents)
		require.Equal(t, createdEvents, scalar("SELECT count(*) FROM crm_rule_runs WHERE tenant_id = ? AND rule_id = ?", tenant, rule.ID), "one run per new contact not erased")
		require.Equal(t, createdEvents, scalar("SELECT count(DISTINCT event_id) FROM crm_rule_runs WHERE tenant_id = ? AND rule_id = ?", tenant, rule.ID))
		require.Zero(t, scalar("SELECT count(*) FROM crm_rule_runs WHERE tenant_id = ? AND status <> 'done'", tenant))

		for _, c := range s.crms {
			require.NoError(t, c.Stop(ctx))
		}
		// Versions count the changes: each update, and an erasure (which
		// keeps the anonymised row).
		require.Zero(t, scalar(`SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = ? AND c.version <> 1 +
			(SELECT count(*) FROM crm_events e WHERE e.tenant_id = c.tenant_id AND e.subject_id = c.id AND e.type IN (?, ?))`,
			tenant, contacts.EventContactUpdated, consent.EventContactErased),
			"a contact whose version is not 1 + its updates")
		// Derived facts equal a recomputation.
		distinct := "IS NOT"
		if db.Dialect().Name().String() == "pg" {
			distinct = "IS DISTINCT FROM"
		}
		require.Zero(t, scalar(`SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = ? AND (
			c.purchase_count <> (SELECT count(*) FROM crm_activities a WHERE a.tenant_id = c.tenant_id AND a.contact_id = c.id AND a.kind = 'purchase')
			OR c.purchase_total <> (SELECT coalesce(sum(a.amount), 0) FROM crm_activities a WHERE a.tenant_id = c.tenant_id AND a.contact_id = c.id AND a.kind = 'purchase')
			OR c.last_activity_at `+distinct+` (SELECT max(a.occurred_at) FROM crm_activities a WHERE a.tenant_id = c.tenant_id AND a.contact_id = c.id))`,
			tenant), "a contact whose purchase count, total or last activity differs from its activities")
		// No orphans: search documents and contacts match one to one.
		require.Zero(t, scalar(`SELECT count(*) FROM crm_search s WHERE s.tenant_id = ? AND s.entity = 'contact'
			AND NOT EXISTS (SELECT 1 FROM crm_contacts c WHERE c.tenant_id = s.tenant_id AND c.id = s.entity_id)`, tenant), "search documents of no contact")
		require.Zero(t, scalar(`SELECT count(*) FROM crm_contacts c WHERE c.tenant_id = ?
			AND NOT EXISTS (SELECT 1 FROM crm_search s WHERE s.tenant_id = c.tenant_id AND s.entity = 'contact' AND s.entity_id = c.id)
			AND NOT EXISTS (SELECT 1 FROM crm_events e WHERE e.tenant_id = c.tenant_id AND e.subject_id = c.id AND e.type = ?)`,
			tenant, consent.EventContactErased), "contacts (not erased: their rows stay, anonymised and unsearchable) without a search document")
		// Every contact event's subject exists, or was deleted or erased.
		require.Zero(t, scalar(`SELECT count(*) FROM crm_events e WHERE e.tenant_id = ? AND e.subject_type = 'contact'
			AND NOT EXISTS (SELECT 1 FROM crm_contacts c WHERE c.tenant_id = e.tenant_id AND c.id = e.subject_id)
			AND NOT EXISTS (SELECT 1 FROM crm_events d WHERE d.tenant_id = e.tenant_id AND d.subject_id = e.subject_id AND d.type IN (?, ?))`,
			tenant, contacts.EventContactDeleted, consent.EventContactErased), "events of contacts that neither exist nor were deleted or erased")
		// Nothing of an erased person anywhere.
		s.mu.Lock()
		erased := s.erased
		s.mu.Unlock()
		if len(erased) > 0 {
			requireNothingOf(t, db, erased...)
		}
		t.Logf("invariants hold: %d new contacts, %d rule runs, %d erased people scanned for", createdEvents, createdEvents, len(erased)/2)
	}
	t.Run("sqlite", func(t *testing.T) {
		db := dbtest.SQLiteWith(t, opendb.Options{BusyTimeout: time.Minute})
		run(t, []*bun.DB{db}, nil)
	})
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		dsn, schema := dbtest.PostgresSchema(t)
		dsn = dbtest.WithSearchPath(dsn, schema)
		var dbs []*bun.DB
		var listeners []*pgxpool.Pool
		for range 2 {
			db, err := opendb.OpenPostgres(ctx, dsn, opendb.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			l, err := pgxpool.New(ctx, dsn)
			require.NoError(t, err)
			t.Cleanup(l.Close)
			dbs, listeners = append(dbs, db), append(listeners, l)
		}
		run(t, dbs, listeners)
	})
}
