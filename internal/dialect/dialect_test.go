package dialect_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
)

// conformance is one database with the test table loaded.
type conformance struct {
	t    *testing.T
	db   *sql.DB
	d    *dialect.Dialect
	uids []uuid.UUID
	at   time.Time
}

func (c *conformance) exec(query string, args ...any) error {
	_, err := c.db.ExecContext(context.Background(), c.d.Rebind(query), c.d.Args(args, false)...)
	return err
}

// ids runs SELECT id FROM dt WHERE pred (ordered by order, else id).
func (c *conformance) ids(pred, order string, args ...any) []int {
	c.t.Helper()
	if order == "" {
		order = "id"
	}
	rows, err := c.db.QueryContext(context.Background(), c.d.Rebind("SELECT id FROM dt WHERE "+pred+" ORDER BY "+order), c.d.Args(args, false)...)
	require.NoError(c.t, err, pred)
	defer rows.Close()
	out := []int{}
	for rows.Next() {
		var id int
		require.NoError(c.t, rows.Scan(&id))
		out = append(out, id)
	}
	require.NoError(c.t, rows.Err())
	return out
}

// value runs SELECT expr FROM dt WHERE id = row (row 0: over the whole
// table) and scans into dst.
func (c *conformance) value(expr string, row int, dst any, args ...any) {
	c.t.Helper()
	q := "SELECT " + expr + " FROM dt"
	if row != 0 {
		q += " WHERE id = ?"
		args = append(args, row)
	}
	require.NoError(c.t, c.db.QueryRowContext(context.Background(), c.d.Rebind(q), c.d.Args(args, false)...).Scan(dst), expr)
}

func (c *conformance) text(expr string, row int, args ...any) *string {
	c.t.Helper()
	var s sql.NullString
	c.value(expr, row, &s, args...)
	if !s.Valid {
		return nil
	}
	return &s.String
}

func (c *conformance) float(expr string, row int, args ...any) *float64 {
	c.t.Helper()
	var f sql.NullFloat64
	c.value(expr, row, &f, args...)
	if !f.Valid {
		return nil
	}
	return &f.Float64
}

func ptr[T any](v T) *T { return &v }

// Every helper of the dialect, run on both databases against the same
// rows, gives the same answer.
func TestDialectConformance(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		d, err := dialect.For(db)
		require.NoError(t, err)
		require.Equal(t, dialect.Kind(strings.TrimPrefix(t.Name(), "TestDialectConformance/")), d.Kind)
		c := &conformance{t: t, db: db.DB, d: d, at: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)}

		// Column types by token (Types) make the table.
		ddl := `CREATE TABLE dt (id {{BIGINT}} PRIMARY KEY, uid {{ID}} NOT NULL, name {{TEXT}} NOT NULL,
			doc {{JSON}} NOT NULL, a {{TIME}} NOT NULL, b {{TIME}} NOT NULL, n {{BIGINT}}, flag {{BOOL}} NOT NULL)`
		for token, typ := range d.Types() {
			ddl = strings.ReplaceAll(ddl, "{{"+token+"}}", typ)
		}
		require.NotContains(t, ddl, "{{")
		require.NoError(t, c.exec(ddl))
		rows := []struct {
			name, doc string
			b         time.Duration
			n         any
			flag      bool
		}{
			{"Alpha", `{"s": "x", "n": 2.5, "b": true, "d": "12.50", "arr": ["a", "b"], "o": {"k": "v"}, "key.dot": "dot", "nul": null,
				"objs": [{"sku": "A"}, {"sku": "B", "n": 1}]}`, 90 * time.Second, 5, true},
			{"beta", `{"s": 3, "n": "7", "b": "true", "d": "1e5", "arr": [], "o": {"k": 1}, "objs": [{"sku": 1}, "B"]}`, 500 * time.Millisecond, 7, false},
			{"alphabet", `{"b": false, "d": "-3", "n": -1}`, 0, nil, false},
		}
		for i, r := range rows {
			u := uuid.Must(uuid.NewV7())
			c.uids = append(c.uids, u)
			// Value/Args: a uuid.UUID, a time and a bool bind on both.
			require.NoError(t, c.exec("INSERT INTO dt (id, uid, name, doc, a, b, n, flag) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				i+1, u, r.name, r.doc, c.at, c.at.Add(r.b), r.n, r.flag))
		}

		// run runs fn as a subtest with c failing that subtest.
		run := func(name string, fn func(t *testing.T, c *conformance)) {
			t.Run(name, func(t *testing.T) {
				sub := *c
				sub.t = t
				fn(t, &sub)
			})
		}
		run("Rebind", func(t *testing.T, c *conformance) {
			q := d.Rebind("a = ? AND b = '?' AND c = ?")
			if d.NumberedParams {
				require.Equal(t, "a = $1 AND b = '?' AND c = $2", q)
			} else {
				require.Equal(t, "a = ? AND b = '?' AND c = ?", q)
			}
		})
		run("Time", func(t *testing.T, c *conformance) {
			// A time passed through Args finds the stored one, at
			// microsecond precision, from any time zone.
			local := c.at.Add(789 * time.Nanosecond).In(time.FixedZone("x", 3600))
			require.Equal(t, []int{1, 2, 3}, c.ids("a = ?", "", local))
			require.Equal(t, []int{1}, c.ids("b > ?", "", c.at.Add(time.Second)))
			if d.TimeAsText {
				require.Equal(t, "2026-01-02T03:04:05.123456Z", d.Time(local))
			} else {
				require.True(t, c.at.Equal(d.Time(local).(time.Time)))
			}
		})
		run("TimeParam", func(t *testing.T, c *conformance) {
			require.Equal(t, []int{1, 2}, c.ids(d.SecondsBetween(d.TimeParam(), "b")+" > ?", "", c.at, 0.1))
		})
		run("StoredTime", func(t *testing.T, c *conformance) {
			// A time column read as stored scans into NullTime on both,
			// as does the column itself and NULL.
			var stored, plain, null dialect.NullTime
			err := c.db.QueryRowContext(context.Background(), d.Rebind(`SELECT `+d.StoredTime("a")+`, a, NULL FROM dt WHERE id = ?`), 1).
				Scan(&stored, &plain, &null)
			require.NoError(t, err)
			require.True(t, stored.Valid && plain.Valid)
			require.True(t, c.at.Equal(stored.Time), "%v", stored.Time)
			require.True(t, c.at.Equal(plain.Time), "%v", plain.Time)
			require.False(t, null.Valid)
		})
		run("SecondsBetween", func(t *testing.T, c *conformance) {
			require.InDelta(t, 90.0, *c.float(d.SecondsBetween("a", "b"), 1), 1e-3)
			require.InDelta(t, 0.5, *c.float(d.SecondsBetween("a", "b"), 2), 1e-3)
			require.InDelta(t, -90.0, *c.float(d.SecondsBetween("b", "a"), 1), 1e-3)
		})
		run("JSONText", func(t *testing.T, c *conformance) {
			require.Equal(t, ptr("x"), c.text(d.JSONText("doc", "s"), 1))
			require.Nil(t, c.text(d.JSONText("doc", "s"), 2), "a number is not text")
			require.Nil(t, c.text(d.JSONText("doc", "s"), 3), "missing")
			require.Equal(t, ptr("v"), c.text(d.JSONText("doc", "o", "k"), 1), "nested")
			require.Nil(t, c.text(d.JSONText("doc", "o", "k"), 2))
			require.Equal(t, ptr("dot"), c.text(d.JSONText("doc", "key.dot"), 1), "a key with a dot is one key")
			require.Nil(t, c.text(d.JSONText("doc", "nul"), 1))
			require.Nil(t, c.text(d.JSONText("doc", "it's"), 1), "a quote in a key is quoted")
		})
		run("JSONDecimal", func(t *testing.T, c *conformance) {
			require.Equal(t, ptr(12.5), c.float(d.JSONDecimal("doc", "d"), 1))
			require.Nil(t, c.float(d.JSONDecimal("doc", "d"), 2), "1e5 is not a decimal string")
			require.Equal(t, ptr(-3.0), c.float(d.JSONDecimal("doc", "d"), 3))
		})
		run("JSONNumber", func(t *testing.T, c *conformance) {
			require.Equal(t, ptr(2.5), c.float(d.JSONNumber("doc", "n"), 1))
			require.Nil(t, c.float(d.JSONNumber("doc", "n"), 2), "a string is not a number")
			require.Equal(t, ptr(-1.0), c.float(d.JSONNumber("doc", "n"), 3))
		})
		run("JSONBool", func(t *testing.T, c *conformance) {
			require.Equal(t, []int{1}, c.ids(d.JSONBool("doc", "b")+" = "+d.True(), ""))
			require.Equal(t, []int{3}, c.ids(d.JSONBool("doc", "b")+" = "+d.False(), ""))
			require.Equal(t, []int{2}, c.ids(d.JSONBool("doc", "b")+" IS NULL", ""), `"true" is a string`)
		})
		run("JSONHas", func(t *testing.T, c *conformance) {
			require.Equal(t, []int{1, 2}, c.ids(d.JSONHas("doc", "s"), ""))
			require.Equal(t, []int{}, c.ids(d.JSONHas("doc", "nul"), ""), "null is no value")
			require.Equal(t, []int{1, 2}, c.ids(d.JSONHas("doc", "o", "k"), ""))
			require.Equal(t, []int{}, c.ids(d.JSONHas("doc", "o", "missing"), ""))
		})
		run("JSONArray", func(t *testing.T, c *conformance) {
			arr := d.JSONArray("doc", "arr")
			require.Equal(t, []int{1}, c.ids(d.ArrayContains(arr), "", "b"))
			require.Equal(t, []int{}, c.ids(d.ArrayContains(arr), "", "c"))
			require.Equal(t, []int{1}, c.ids(d.ArrayNotEmpty(arr), ""))
			require.Equal(t, []int{3}, c.ids(arr+" IS NULL", ""))
			require.Equal(t, ptr("a b"), c.text(d.JSONArrayJoin(arr), 1))
			require.Equal(t, ptr(""), c.text(d.JSONArrayJoin(arr), 2))
			require.Equal(t, []int{}, c.ids(d.JSONArray("doc", "s")+" IS NOT NULL", ""), "a string is not an array")
		})
		run("ArrayHasObject", func(t *testing.T, c *conformance) {
			objs := d.JSONArray("doc", "objs")
			require.Equal(t, []int{1}, c.ids(d.ArrayHasObject(objs, "sku"), "", "B"))
			require.Equal(t, []int{}, c.ids(d.ArrayHasObject(objs, "sku"), "", "1"), "a number is not the string")
			require.Equal(t, []int{}, c.ids(d.ArrayHasObject(objs, "sku"), "", "C"))
		})
		run("StringCompare", func(t *testing.T, c *conformance) {
			// Byte order: upper case before lower case.
			require.Equal(t, []int{1, 3, 2}, c.ids(d.True(), d.StringCompare("name")))
			require.Equal(t, []int{1}, c.ids(d.StringCompare("name")+" < ?", "", "a"))
		})
		run("Contains", func(t *testing.T, c *conformance) {
			require.Equal(t, []int{1, 3}, c.ids(d.Contains("name"), "", "pha"))
			require.Equal(t, []int{}, c.ids(d.Contains("name"), "", "PHA"), "case-sensitive")
			require.Equal(t, []int{1, 2, 3}, c.ids(d.Contains("name"), "", ""))
		})
		run("HasPrefix", func(t *testing.T, c *conformance) {
			expr, n := d.HasPrefix("name")
			args := func(v string) []any {
				out := make([]any, n)
				for i := range out {
					out[i] = v
				}
				return out
			}
			require.Equal(t, []int{3}, c.ids(expr, "", args("alpha")...), "case-sensitive")
			require.Equal(t, []int{1}, c.ids(expr, "", args("Al")...))
			require.Equal(t, []int{}, c.ids(expr, "", args("Alphabetical")...))
		})
		run("Instr", func(t *testing.T, c *conformance) {
			var pos int64
			c.value(d.Instr("name", "'ph'"), 1, &pos)
			require.Equal(t, int64(3), pos)
			c.value(d.Instr("name", "'ph'"), 2, &pos)
			require.Equal(t, int64(0), pos)
		})
		run("InList", func(t *testing.T, c *conformance) {
			require.Equal(t, []int{1, 2}, c.ids(d.InList("name", "text"), "", d.ListArg([]string{"beta", "Alpha", "zzz"})))
			require.Equal(t, []int{}, c.ids(d.InList("name", "text"), "", d.ListArg([]string{})))
			require.Equal(t, []int{}, c.ids(d.InList("name", "text"), "", d.ListArg(nil)))
			require.Equal(t, []int{1, 3}, c.ids(d.InList("uid", "uuid"), "", d.ListArg([]string{c.uids[2].String(), c.uids[0].String()})))
			require.Equal(t, []int{1, 3}, c.ids(d.InList("uid", "uuid"), "", d.IDsArg([]uuid.UUID{c.uids[2], c.uids[0]})))
			require.Equal(t, []int{}, c.ids(d.InList("uid", "uuid"), "", d.IDsArg(nil)))
			many := make([]string, 5000)
			for i := range many {
				many[i] = fmt.Sprintf("name-%d", i)
			}
			many[4999] = "beta"
			require.Equal(t, []int{2}, c.ids(d.InList("name", "text"), "", d.ListArg(many)), "one parameter for any number of values")
		})
		run("Records", func(t *testing.T, c *conformance) {
			// One UPDATE writes a value of its own to each row named, in a
			// table keyed like crmkit's (tenant, id).
			ctx := context.Background()
			tx, err := c.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback() }()
			ddl := `CREATE TABLE rt (tenant {{TEXT}} NOT NULL, id {{ID}} NOT NULL, name {{TEXT}} NOT NULL, n {{BIGINT}}, PRIMARY KEY (tenant, id))`
			for token, typ := range d.Types() {
				ddl = strings.ReplaceAll(ddl, "{{"+token+"}}", typ)
			}
			_, err = tx.ExecContext(ctx, ddl)
			require.NoError(t, err)
			var ids []uuid.UUID
			for i := range 200 {
				id := uuid.Must(uuid.NewV7())
				ids = append(ids, id)
				_, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO rt (tenant, id, name, n) VALUES (?, ?, ?, ?)"),
					d.Args([]any{[]string{"a", "b"}[i%2], id, fmt.Sprint(i), i}, false)...)
				require.NoError(t, err)
			}
			type rec struct {
				ID   uuid.UUID `json:"id"`
				Name string    `json:"name"`
				N    *int64    `json:"n"`
			}
			seventy := int64(70)
			arg, err := d.RecordsArg([]rec{{ID: ids[0], Name: "zero", N: &seventy}, {ID: ids[2], Name: `it's "2" ü`},
				{ID: ids[1], Name: "another tenant's"}, {ID: uuid.Must(uuid.NewV7()), Name: "nobody"}})
			require.NoError(t, err)
			update := d.Rebind(`UPDATE rt SET name = r.name, n = r.n FROM ` + d.Records("r", "id uuid", "name text", "n bigint") +
				` WHERE rt.tenant = ? AND rt.id = r.id`)
			res, err := tx.ExecContext(ctx, update, d.Args([]any{arg, "a"}, false)...)
			require.NoError(t, err)
			affected, err := res.RowsAffected()
			require.NoError(t, err)
			require.EqualValues(t, 2, affected)
			got := map[int]string{}
			for i := range 4 {
				var name string
				var n int64
				require.NoError(t, tx.QueryRowContext(ctx, d.Rebind("SELECT name, coalesce(n, -1) FROM rt WHERE id = ?"), d.Args([]any{ids[i]}, false)...).
					Scan(&name, &n))
				got[i] = fmt.Sprintf("%s/%d", name, n)
			}
			require.Equal(t, map[int]string{0: "zero/70", 1: "1/1", 2: `it's "2" ü/-1`, 3: "3/3"}, got)
			empty, err := d.RecordsArg([]rec(nil))
			require.NoError(t, err)
			require.Equal(t, "[]", empty)
			if d.Kind == dialect.SQLite {
				// Each record's row is found by its key, not by a walk of
				// the tenant's rows.
				rows, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+update, d.Args([]any{arg, "a"}, false)...)
				require.NoError(t, err)
				var plan []string
				for rows.Next() {
					var id, parent, unused int
					var detail string
					require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
					plan = append(plan, detail)
				}
				require.NoError(t, rows.Err())
				require.Contains(t, strings.Join(plan, "\n"), "(tenant=? AND id=?)")
			}
		})
		run("SumInt", func(t *testing.T, c *conformance) {
			var sum int64
			c.value(d.SumInt("n"), 0, &sum)
			require.Equal(t, int64(12), sum)
			require.NoError(t, c.db.QueryRowContext(context.Background(), "SELECT "+d.SumInt("n")+" FROM dt WHERE id > 99").Scan(&sum))
			require.Equal(t, int64(0), sum, "0 over no rows")
		})
		run("JSONPairsAgg", func(t *testing.T, c *conformance) {
			pairs := func(where string) [][]any {
				var s string
				require.NoError(t, c.db.QueryRowContext(context.Background(), "SELECT "+d.JSONPairsAgg("name", "n")+" FROM dt WHERE "+where).Scan(&s))
				var out [][]any
				require.NoError(t, json.Unmarshal([]byte(s), &out), s)
				return out
			}
			require.Equal(t, [][]any{{"Alpha", 5.0}}, pairs("id = 1"))
			require.Equal(t, [][]any{{"alphabet", nil}}, pairs("id = 3"))
			require.Equal(t, [][]any{}, pairs("id > 99"))
		})
		run("TrueFalse", func(t *testing.T, c *conformance) {
			require.Equal(t, []int{1, 2, 3}, c.ids(d.True(), ""))
			require.Equal(t, []int{}, c.ids(d.False(), ""))
			require.Equal(t, []int{1}, c.ids("flag = "+d.True(), ""))
			require.Equal(t, []int{2, 3}, c.ids("flag = "+d.False(), ""))
		})
		run("LockRows", func(t *testing.T, c *conformance) {
			ctx := context.Background()
			tx, err := c.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() //nolint:errcheck
			var id int
			require.NoError(t, tx.QueryRowContext(ctx, "SELECT id FROM dt WHERE id = 2"+d.LockRows()).Scan(&id))
			require.Equal(t, 2, id)
			_, err = tx.ExecContext(ctx, "UPDATE dt SET n = 8 WHERE id = 2")
			require.NoError(t, err)
		})
		run("Violations", func(t *testing.T, c *conformance) {
			require.NoError(t, c.exec("CREATE TABLE dt_child (id BIGINT PRIMARY KEY, parent BIGINT NOT NULL REFERENCES dt (id))"))
			require.NoError(t, c.exec("CREATE UNIQUE INDEX dt_uid ON dt (uid)"))
			require.NoError(t, c.exec("INSERT INTO dt_child (id, parent) VALUES (1, 1)"))
			dup := c.exec("INSERT INTO dt_child (id, parent) VALUES (1, 2)")
			require.Error(t, dup)
			require.True(t, dialect.IsUniqueViolation(dup))
			require.False(t, dialect.IsForeignKeyViolation(dup))
			dupIndex := c.exec("INSERT INTO dt (id, uid, name, doc, a, b, flag) VALUES (?, ?, ?, ?, ?, ?, ?)", 9, c.uids[0], "x", "{}", c.at, c.at, false)
			require.Error(t, dupIndex)
			require.True(t, dialect.IsUniqueViolation(dupIndex), "a unique index, not only a primary key")
			fk := c.exec("INSERT INTO dt_child (id, parent) VALUES (2, 99)")
			require.Error(t, fk)
			require.True(t, dialect.IsForeignKeyViolation(fk))
			require.False(t, dialect.IsUniqueViolation(fk))
			require.False(t, dialect.IsUniqueViolation(fmt.Errorf("crm: other")))
			require.False(t, dialect.IsForeignKeyViolation(nil))
		})
	})
}
