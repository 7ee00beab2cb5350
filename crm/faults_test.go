package crm_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	bundialect "github.com/uptrace/bun/dialect"

	"github.com/crmkit/crmkit/consent"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/faultdb"
	"github.com/crmkit/crmkit/internal/opendb"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/tickets"
)

// A public write under fault injection: prepare makes what the write
// needs (with nothing armed) and returns the write itself, which must be
// safe to call again after a failure.
type faultWrite struct {
	name    string
	prepare func(ctx context.Context, t *testing.T, c *crm.CRM, i int) (run func(ctx context.Context) error)
}

func faultWrites() []faultWrite {
	newContact := func(ctx context.Context, t *testing.T, c *crm.CRM, i int) *contacts.Contact {
		p, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("fixture%d@example.com", i), FirstName: "Fixture"})
		require.NoError(t, err)
		return p
	}
	return []faultWrite{
		{"contacts.Create", func(_ context.Context, _ *testing.T, c *crm.CRM, i int) func(context.Context) error {
			return func(ctx context.Context) error {
				_, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("new%d@example.com", i), FirstName: "Ada",
					Tags: []string{"vip"}, ExternalIDs: []contacts.ExternalID{{Source: "shop", ID: fmt.Sprint("c-", i)}}})
				return err
			}
		}},
		{"contacts.Update", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			return func(ctx context.Context) error {
				name, stage := "Grace", contacts.StageCustomer
				_, err := c.Contacts.Update(ctx, p.ID, contacts.ContactPatch{Version: p.Version, FirstName: &name, LifecycleStage: &stage})
				return err
			}
		}},
		{"contacts.Upsert", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			newContact(ctx, t, c, i)
			return func(ctx context.Context) error {
				_, _, err := c.Contacts.Upsert(ctx, contacts.NewContact{Email: fmt.Sprintf("fixture%d@example.com", i), LastName: "Hopper"})
				return err
			}
		}},
		{"contacts.Track purchase", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			return func(ctx context.Context) error {
				_, err := c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindPurchase, Name: "order",
					IdempotencyKey: fmt.Sprint("order-", i), Purchase: &contacts.Purchase{OrderID: fmt.Sprint("o-", i), Total: core.MustMoney("49.90", "EUR")}})
				return err
			}
		}},
		{"contacts.Track creating the contact", func(_ context.Context, _ *testing.T, c *crm.CRM, i int) func(context.Context) error {
			return func(ctx context.Context) error {
				email := fmt.Sprintf("visitor%d@example.com", i)
				_, err := c.Contacts.Track(ctx, contacts.ByEmail(email), contacts.NewActivity{Kind: contacts.KindWeb, Name: "signup",
					CreateContact: &contacts.NewContact{FirstName: "Visitor"}})
				return err
			}
		}},
		{"contacts.Merge", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			winner := newContact(ctx, t, c, i)
			loser, err := c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("loser%d@example.com", i), Phone: "+4930123456"})
			require.NoError(t, err)
			_, err = c.Notes.Create(ctx, contacts.NewNote{ContactID: loser.ID, Body: "a note", AuthorID: "rep"})
			require.NoError(t, err)
			return func(ctx context.Context) error {
				_, err := c.Contacts.Merge(ctx, winner.ID, loser.ID)
				return err
			}
		}},
		{"contacts.Delete", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			_, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "call back", ContactID: &p.ID})
			require.NoError(t, err)
			return func(ctx context.Context) error { return c.Contacts.Delete(ctx, p.ID) }
		}},
		{"tasks.Create", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			return func(ctx context.Context) error {
				_, err := c.Tasks.Create(ctx, contacts.NewTask{Title: "call back", ContactID: &p.ID})
				return err
			}
		}},
		{"deals.Create and MoveStage", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			return func(ctx context.Context) error {
				return c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
					d, err := tx.Deals.Create(ctx, pipeline.NewDeal{Title: "renewal", Amount: core.MustMoney("5000", "EUR"), ContactID: &p.ID})
					if err != nil {
						return err
					}
					pl, err := tx.Pipelines.Get(ctx, d.PipelineID)
					if err != nil {
						return err
					}
					_, err = tx.Deals.MoveStage(ctx, d.ID, d.Version, pl.Stages[1].ID)
					return err
				})
			}
		}},
		{"consent.Grant", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			return func(ctx context.Context) error {
				_, err := c.Consent.Grant(ctx, p.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
				return err
			}
		}},
		{"consent.Erase", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			_, err := c.Consent.Grant(ctx, p.ID, "newsletter", consent.Email, consent.Proof{Source: "form"})
			require.NoError(t, err)
			_, err = c.Contacts.Track(ctx, contacts.ByID(p.ID), contacts.NewActivity{Kind: contacts.KindPurchase, Name: "order",
				Purchase: &contacts.Purchase{OrderID: fmt.Sprint("e-", i), Total: core.MustMoney("10", "EUR")}})
			require.NoError(t, err)
			return func(ctx context.Context) error {
				_, err := c.Consent.Erase(ctx, p.ID, "request")
				return err
			}
		}},
		{"tickets.Create", func(ctx context.Context, t *testing.T, c *crm.CRM, i int) func(context.Context) error {
			p := newContact(ctx, t, c, i)
			return func(ctx context.Context) error {
				_, err := c.Tickets.Create(ctx, tickets.NewTicket{Subject: "cannot log in", ContactID: p.ID,
					Message: &tickets.NewMessage{Public: true, AuthorKind: tickets.AuthorCustomer, Body: "help"}})
				return err
			}
		}},
	}
}

// Every public write above, with its n-th statement failing for every n
// and then with its commit failing, on both databases: the call returns
// the failure, nothing is half-written (every crm_ table and River's job
// table hold what they held before), and the same call then succeeds.
func TestFaultInjectedWrites(t *testing.T) {
	t.Parallel()
	in := &faultdb.Injector{}
	migrated.RunWith(t, opendb.Options{Wrap: in.Wrap}, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCRM(t, db)
		_, err := c.Consent.DefinePurpose(ctx, consent.NewPurpose{Key: "newsletter", Label: "Newsletter", LegalBasis: consent.BasisConsent,
			Channels: []consent.Channel{consent.Email}, Wording: "Send me news."})
		require.NoError(t, err)
		fixture := 0
		for _, w := range faultWrites() {
			statements := 0
			for n := 1; ; n++ {
				fixture++
				run := w.prepare(ctx, t, c, fixture)
				before := snapshot(t, db)
				in.Arm(n)
				err := run(ctx)
				fired := in.Fired()
				in.Disarm()
				if !fired {
					require.NoError(t, err, "%s with no fault", w.name)
					statements = n - 1
					break
				}
				require.Error(t, err, "%s: statement %d failed but the call reported success", w.name, n)
				require.ErrorIs(t, err, faultdb.ErrInjected, "%s: statement %d", w.name, n)
				requireSame(t, before, snapshot(t, db), fmt.Sprintf("%s after its statement %d failed", w.name, n))
				require.NoError(t, run(ctx), "%s again after its statement %d failed", w.name, n)
			}
			fixture++
			run := w.prepare(ctx, t, c, fixture)
			before := snapshot(t, db)
			in.ArmCommit()
			err := run(ctx)
			fired := in.Fired()
			in.Disarm()
			require.True(t, fired, "%s commits", w.name)
			require.ErrorIs(t, err, faultdb.ErrInjected, "%s with its commit failing", w.name)
			requireSame(t, before, snapshot(t, db), w.name+" after its commit failed")
			require.NoError(t, run(ctx), "%s again after its commit failed", w.name)
			t.Logf("%s: %d statements, each failed once, then the commit", w.name, statements)
		}
	})
}

// snapshot is a digest of every row of every crm_ table and of River's
// job table, by table.
func snapshot(t *testing.T, db *bun.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	var tables []string
	q := "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	if db.Dialect().Name() == bundialect.SQLite {
		q = "SELECT name FROM sqlite_master WHERE type = 'table'"
	}
	rows, err := db.QueryContext(ctx, q)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		if strings.HasPrefix(name, "crm_") || name == "river_job" {
			tables = append(tables, name)
		}
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.NotEmpty(t, tables)
	out := map[string]string{}
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var b strings.Builder
			for i, v := range vals {
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v;", cols[i], v)
			}
			lines = append(lines, b.String())
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		slices.Sort(lines)
		sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		out[table] = fmt.Sprintf("%d rows %x", len(lines), sum[:8])
	}
	return out
}

func requireSame(t *testing.T, before, after map[string]string, what string) {
	t.Helper()
	var diff []string
	for table, b := range before {
		if a := after[table]; a != b {
			diff = append(diff, fmt.Sprintf("%s: %s → %s", table, b, a))
		}
	}
	slices.Sort(diff)
	if len(diff) > 0 {
		t.Fatal(errors.New(what + ": half-written: " + strings.Join(diff, "; ")))
	}
}
