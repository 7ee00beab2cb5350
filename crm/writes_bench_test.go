package crm_test

// Single writes, one transaction each, through the whole of crmkit (every
// module wired: audit, stage history, segment and scoring hooks), beside
// two hand-written baselines on the same database and driver:
//
//	raw      the same work a host would write by hand, prepared: the row,
//	         its search document (create, update) and its outbox event in
//	         one transaction (Track: the activity, the contact's last
//	         activity time and the event)
//	raw-row  the bare statement alone: one prepared INSERT or UPDATE of the
//	         row, autocommitted
//
//	CRM_TEST_POSTGRES_DSN=postgres://… go test -run XXX -bench Write -benchtime 2000x -count 5 ./crm
//
// DESIGN's budget: crmkit ≥ 70% of raw.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
)

// writeEnv is one database with crmkit on it and contacts to update.
type writeEnv struct {
	db     *bun.DB
	c      *crm.CRM
	pg     bool
	ids    []core.ID
	emails []string
	vers   []int64
	writes []int // per contact: the updates so far, which alternate its first name
}

// runID tells the runs of a benchmark apart: -count runs each sub-benchmark
// again on the same database.
func runID() string { return core.NewID().String()[24:] }

// next picks the contact of the i-th update and the first name it gets
// (always a change).
func (e *writeEnv) next(i int) (int, string) {
	k := i % writeContacts
	e.writes[k]++
	if e.writes[k]%2 == 1 {
		return k, "Grace"
	}
	return k, "Ada"
}

const writeContacts = 2000

func writeBench(b *testing.B, fn func(b *testing.B, e *writeEnv)) {
	open := map[string]func() *bun.DB{"sqlite": func() *bun.DB { return dbtest.SQLite(b) }, "postgres": func() *bun.DB { return dbtest.Postgres(b) }}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db := open[name]()
			c, err := crm.New(db, crm.Config{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			b.Cleanup(func() { _ = c.Close() })
			require.NoError(b, c.Migrate(ctx))
			e := &writeEnv{db: db, c: c, pg: db.Dialect().Name().String() == "pg", writes: make([]int, writeContacts)}
			rows := func(yield func(contacts.ImportRow) bool) {
				for i := range writeContacts {
					if !yield(contacts.ImportRow{Line: i + 1, Contact: contacts.NewContact{Email: fmt.Sprintf("w%d@example.com", i),
						FirstName: "Ada", LastName: "Lovelace", Tags: []string{"newsletter"}, Attributes: map[string]any{"plan": "pro"}}}) {
						return
					}
				}
			}
			_, err = c.Contacts.Import(ctx, rows, contacts.ImportOptions{})
			require.NoError(b, err)
			for i := range writeContacts {
				ct, err := c.Contacts.GetByEmail(ctx, fmt.Sprintf("w%d@example.com", i))
				require.NoError(b, err)
				e.ids, e.emails, e.vers = append(e.ids, ct.ID), append(e.emails, ct.Email), append(e.vers, ct.Version)
			}
			fn(b, e)
		})
	}
}

// now is the time argument of a raw statement: SQLite stores crmkit's
// fixed text form.
func (e *writeEnv) now() any {
	t := time.Now().UTC()
	if e.pg {
		return t
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}

// prepare prepares q (written with ? placeholders) on the pool.
func (e *writeEnv) prepare(b *testing.B, q string) *sql.Stmt {
	d, err := dialect.For(e.db)
	require.NoError(b, err)
	st, err := e.db.DB.PrepareContext(context.Background(), d.Rebind(q))
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// inTx runs the statements of one raw write in a transaction.
func (e *writeEnv) inTx(b *testing.B, fn func(tx *sql.Tx)) {
	ctx := context.Background()
	tx, err := e.db.DB.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	fn(tx)
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func execRaw(b *testing.B, tx *sql.Tx, st *sql.Stmt, args ...any) sql.Result {
	res, err := tx.Stmt(st).Exec(args...)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

const (
	rawInsertContact = `INSERT INTO crm_contacts (tenant_id, id, email, phone, first_name, last_name, company_id, lifecycle_stage,
		owner_id, tags, attributes, created_at, updated_at, version) VALUES (?, ?, ?, '', ?, ?, NULL, 'lead', '', ?, ?, ?, ?, 1)`
	rawUpdateContact = `UPDATE crm_contacts SET first_name = ?, updated_at = ?, version = version + 1
		WHERE tenant_id = ? AND id = ? AND version = ?`
	rawUpsertSearch = `INSERT INTO crm_search (tenant_id, entity, entity_id, title, body) VALUES (?, 'contact', ?, ?, ?)
		ON CONFLICT (tenant_id, entity, entity_id) DO UPDATE SET title = excluded.title, body = excluded.body`
	rawInsertEvent = `INSERT INTO crm_events (tenant_id, id, type, subject_type, subject_id, contact_id, actor_id, occurred_at, data)
		VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)`
	rawInsertActivity = `INSERT INTO crm_activities (tenant_id, id, contact_id, company_id, deal_id, kind, name, occurred_at,
		actor_id, idempotency_key, properties, order_id, amount, currency, items, created_at)
		VALUES (?, ?, ?, NULL, NULL, 'web', ?, ?, '', '', '{}', '', NULL, '', NULL, ?)`
	rawTouchContact = `UPDATE crm_contacts SET last_activity_at = ? WHERE tenant_id = ? AND id = ?`
	rawFindByEmail  = `SELECT id, version FROM crm_contacts WHERE tenant_id = ? AND email = ?`
)

// searchDoc is the search document's title and body of a contact, as the
// raw baselines write it.
func searchDoc(first, last, email string) (string, string) {
	return first + " " + last, first + " " + last + " " + email + " " + strings.NewReplacer("@", " ", ".", " ").Replace(email) + " newsletter"
}

func contactJSON(id core.ID, email, first string, version int64) string {
	j, _ := json.Marshal(map[string]any{"id": id, "email": email, "first_name": first, "last_name": "Lovelace", "lifecycle_stage": "lead",
		"tags": []string{"newsletter"}, "attributes": map[string]any{"plan": "pro"}, "version": version})
	return string(j)
}

// writeOps are the three ways of doing one write, each called with a
// sequence number unique in its benchmark.
type writeOps struct {
	crmkit, raw, rawRow func(b *testing.B, i int)
}

// runOps runs the ops as the leaves crmkit, raw and raw-row, and all
// three in turns as "interleaved", which reports each one's rate and
// crmkit's share of raw: a load that changes during the run changes all
// three alike.
func runOps(b *testing.B, ops func(b *testing.B) writeOps) {
	seq := 0
	leaf := func(name string, pick func(o writeOps) func(b *testing.B, i int)) {
		b.Run(name, func(b *testing.B) {
			op := pick(ops(b))
			for b.Loop() {
				seq++
				op(b, seq)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
	leaf("crmkit", func(o writeOps) func(*testing.B, int) { return o.crmkit })
	leaf("raw", func(o writeOps) func(*testing.B, int) { return o.raw })
	leaf("raw-row", func(o writeOps) func(*testing.B, int) { return o.rawRow })
	b.Run("interleaved", func(b *testing.B) {
		o := ops(b)
		fns := []func(*testing.B, int){o.crmkit, o.raw, o.rawRow}
		var spent [3]time.Duration
		for b.Loop() {
			for k, fn := range fns {
				seq++
				start := time.Now()
				fn(b, seq)
				spent[k] += time.Since(start)
			}
		}
		rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
		b.ReportMetric(rate(spent[0]), "crmkit-writes/s")
		b.ReportMetric(rate(spent[1]), "raw-writes/s")
		b.ReportMetric(rate(spent[2]), "raw-row-writes/s")
		b.ReportMetric(100*spent[1].Seconds()/spent[0].Seconds(), "%-of-raw")
	})
}

func BenchmarkWriteCreate(b *testing.B) {
	writeBench(b, func(b *testing.B, e *writeEnv) {
		ctx := context.Background()
		run := runID()
		runOps(b, func(b *testing.B) writeOps {
			ins, doc, ev := e.prepare(b, rawInsertContact), e.prepare(b, rawUpsertSearch), e.prepare(b, rawInsertEvent)
			return writeOps{
				crmkit: func(b *testing.B, i int) {
					if _, err := e.c.Contacts.Create(ctx, contacts.NewContact{Email: fmt.Sprintf("k%d-%s@example.com", i, run), FirstName: "Ada",
						LastName: "Lovelace", Tags: []string{"newsletter"}, Attributes: map[string]any{"plan": "pro"}}); err != nil {
						b.Fatal(err)
					}
				},
				raw: func(b *testing.B, i int) {
					id, email, now := core.NewID(), fmt.Sprintf("r%d-%s@example.com", i, run), e.now()
					title, body := searchDoc("Ada", "Lovelace", email)
					e.inTx(b, func(tx *sql.Tx) {
						execRaw(b, tx, ins, "default", id.String(), email, "Ada", "Lovelace", `["newsletter"]`, `{"plan":"pro"}`, now, now)
						execRaw(b, tx, doc, "default", id.String(), title, body)
						execRaw(b, tx, ev, "default", core.NewID().String(), "contact.created", "contact", id.String(), id.String(), now, contactJSON(id, email, "Ada", 1))
					})
				},
				rawRow: func(b *testing.B, i int) {
					now := e.now()
					if _, err := ins.Exec("default", core.NewID().String(), fmt.Sprintf("b%d-%s@example.com", i, run), "Ada", "Lovelace",
						`["newsletter"]`, `{"plan":"pro"}`, now, now); err != nil {
						b.Fatal(err)
					}
				},
			}
		})
	})
}

// updated is the event data of the raw baselines' updates.
func updated(name string) string {
	return `{"changes":{"first_name":{"from":"Ada","to":"` + name + `"}}}`
}

func BenchmarkWriteUpdate(b *testing.B) {
	writeBench(b, func(b *testing.B, e *writeEnv) {
		ctx := context.Background()
		runOps(b, func(b *testing.B) writeOps {
			upd, doc, ev := e.prepare(b, rawUpdateContact), e.prepare(b, rawUpsertSearch), e.prepare(b, rawInsertEvent)
			return writeOps{
				crmkit: func(b *testing.B, i int) {
					k, name := e.next(i)
					ct, err := e.c.Contacts.Update(ctx, e.ids[k], contacts.ContactPatch{Version: e.vers[k], FirstName: &name})
					if err != nil {
						b.Fatal(err)
					}
					e.vers[k] = ct.Version
				},
				raw: func(b *testing.B, i int) {
					k, name := e.next(i)
					id, now := e.ids[k].String(), e.now()
					title, body := searchDoc(name, "Lovelace", e.emails[k])
					e.inTx(b, func(tx *sql.Tx) {
						if n, _ := execRaw(b, tx, upd, name, now, "default", id, e.vers[k]).RowsAffected(); n != 1 {
							b.Fatalf("contact %s: stale version", id)
						}
						execRaw(b, tx, doc, "default", id, title, body)
						execRaw(b, tx, ev, "default", core.NewID().String(), "contact.updated", "contact", id, id, now, updated(name))
					})
					e.vers[k]++
				},
				rawRow: func(b *testing.B, i int) {
					k, name := e.next(i)
					res, err := upd.Exec(name, e.now(), "default", e.ids[k].String(), e.vers[k])
					if err != nil {
						b.Fatal(err)
					}
					if n, _ := res.RowsAffected(); n != 1 {
						b.Fatalf("contact %s: stale version", e.ids[k])
					}
					e.vers[k]++
				},
			}
		})
	})
}

// Upserts of known customers by email (a shop's order of a returning
// customer), each changing the first name.
func BenchmarkWriteUpsert(b *testing.B) {
	writeBench(b, func(b *testing.B, e *writeEnv) {
		ctx := context.Background()
		runOps(b, func(b *testing.B) writeOps {
			find, upd := e.prepare(b, rawFindByEmail), e.prepare(b, rawUpdateContact)
			doc, ev := e.prepare(b, rawUpsertSearch), e.prepare(b, rawInsertEvent)
			up := e.prepare(b, `INSERT INTO crm_contacts (tenant_id, id, email, phone, first_name, last_name, company_id, lifecycle_stage,
				owner_id, tags, attributes, created_at, updated_at, version) VALUES (?, ?, ?, '', ?, 'Lovelace', NULL, 'lead', '', '["newsletter"]', '{}', ?, ?, 1)
				ON CONFLICT (tenant_id, email) WHERE email <> '' DO UPDATE SET first_name = excluded.first_name, updated_at = excluded.updated_at,
				version = crm_contacts.version + 1`)
			return writeOps{
				crmkit: func(b *testing.B, i int) {
					k, name := e.next(i)
					ct, _, err := e.c.Contacts.Upsert(ctx, contacts.NewContact{Email: e.emails[k], FirstName: name,
						LastName: "Lovelace", Tags: []string{"newsletter"}, Attributes: map[string]any{"plan": "pro"}})
					if err != nil {
						b.Fatal(err)
					}
					e.vers[k] = ct.Version
				},
				raw: func(b *testing.B, i int) {
					k, name := e.next(i)
					now := e.now()
					title, body := searchDoc(name, "Lovelace", e.emails[k])
					e.inTx(b, func(tx *sql.Tx) {
						var id string
						var v int64
						if err := tx.Stmt(find).QueryRow("default", e.emails[k]).Scan(&id, &v); err != nil {
							b.Fatal(err)
						}
						if n, _ := execRaw(b, tx, upd, name, now, "default", id, v).RowsAffected(); n != 1 {
							b.Fatalf("contact %s: stale version", id)
						}
						execRaw(b, tx, doc, "default", id, title, body)
						execRaw(b, tx, ev, "default", core.NewID().String(), "contact.updated", "contact", id, id, now, updated(name))
					})
					e.vers[k]++
				},
				rawRow: func(b *testing.B, i int) {
					k, name := e.next(i)
					now := e.now()
					if _, err := up.Exec("default", core.NewID().String(), e.emails[k], name, now, now); err != nil {
						b.Fatal(err)
					}
					e.vers[k]++
				},
			}
		})
	})
}

func BenchmarkWriteTrack(b *testing.B) {
	writeBench(b, func(b *testing.B, e *writeEnv) {
		ctx := context.Background()
		runOps(b, func(b *testing.B) writeOps {
			ins, touch, ev := e.prepare(b, rawInsertActivity), e.prepare(b, rawTouchContact), e.prepare(b, rawInsertEvent)
			return writeOps{
				crmkit: func(b *testing.B, i int) {
					if _, err := e.c.Contacts.Track(ctx, contacts.ByID(e.ids[i%writeContacts]), contacts.NewActivity{Kind: contacts.KindWeb, Name: "/pricing"}); err != nil {
						b.Fatal(err)
					}
				},
				raw: func(b *testing.B, i int) {
					id, contact, now := core.NewID(), e.ids[i%writeContacts].String(), e.now()
					e.inTx(b, func(tx *sql.Tx) {
						execRaw(b, tx, ins, "default", id.String(), contact, "/pricing", now, now)
						execRaw(b, tx, touch, now, "default", contact)
						execRaw(b, tx, ev, "default", core.NewID().String(), "activity.tracked", "activity", id.String(), contact, now,
							`{"id":"`+id.String()+`","contact_id":"`+contact+`","kind":"web","name":"/pricing"}`)
					})
				},
				rawRow: func(b *testing.B, i int) {
					now := e.now()
					if _, err := ins.Exec("default", core.NewID().String(), e.ids[i%writeContacts].String(), "/pricing", now, now); err != nil {
						b.Fatal(err)
					}
				},
			}
		})
	})
}
