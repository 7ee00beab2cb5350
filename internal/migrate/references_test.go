package migrate_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

// fk is one foreign key: its columns, and the referenced column of each.
type fk struct {
	table string
	from  []string
	to    []string
}

// TestEveryReferenceHasATenantForeignKey reads the migrated schema: every
// column named *_id of every crm_ table (other than tenant_id and the
// documented exceptions of migrate.Unreferenced) is part of a foreign key
// that also maps tenant_id to tenant_id.
func TestEveryReferenceHasATenantForeignKey(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		_, err := migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		d, err := dialect.For(db)
		require.NoError(t, err)

		columns := map[string][]string{} // table → columns
		var fks []fk
		if d.Kind == dialect.SQLite {
			rows, err := db.DB.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
				WHERE m.type = 'table' AND m.name LIKE 'crm\_%' ESCAPE '\' AND m.name NOT LIKE 'crm\_search\_fts%' ESCAPE '\'`)
			require.NoError(t, err)
			for rows.Next() {
				var table, col string
				require.NoError(t, rows.Scan(&table, &col))
				columns[table] = append(columns[table], col)
			}
			require.NoError(t, rows.Err())
			rows, err = db.DB.QueryContext(ctx, `SELECT m.name, f.id, f."from", COALESCE(f."to", '') FROM sqlite_master m, pragma_foreign_key_list(m.name) f
				WHERE m.type = 'table' AND m.name LIKE 'crm\_%' ESCAPE '\' ORDER BY m.name, f.id, f.seq`)
			require.NoError(t, err)
			byID := map[string]*fk{}
			var order []string
			for rows.Next() {
				var table, from, to string
				var id int
				require.NoError(t, rows.Scan(&table, &id, &from, &to))
				key := table + "#" + string(rune('0'+id))
				if byID[key] == nil {
					byID[key] = &fk{table: table}
					order = append(order, key)
				}
				byID[key].from = append(byID[key].from, from)
				byID[key].to = append(byID[key].to, to)
			}
			require.NoError(t, rows.Err())
			for _, k := range order {
				fks = append(fks, *byID[k])
			}
		} else {
			rows, err := db.DB.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name LIKE 'crm\_%'`)
			require.NoError(t, err)
			for rows.Next() {
				var table, col string
				require.NoError(t, rows.Scan(&table, &col))
				columns[table] = append(columns[table], col)
			}
			require.NoError(t, rows.Err())
			rows, err = db.DB.QueryContext(ctx, `SELECT cl.relname, c.conname, fa.attname, ta.attname
				FROM pg_constraint c
				JOIN pg_class cl ON cl.oid = c.conrelid
				JOIN pg_namespace n ON n.oid = cl.relnamespace
				CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(fnum, tnum, ord)
				JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = k.fnum
				JOIN pg_attribute ta ON ta.attrelid = c.confrelid AND ta.attnum = k.tnum
				WHERE c.contype = 'f' AND n.nspname = current_schema() AND cl.relname LIKE 'crm\_%'
				ORDER BY cl.relname, c.conname, k.ord`)
			require.NoError(t, err)
			byName := map[string]*fk{}
			var order []string
			for rows.Next() {
				var table, name, from, to string
				require.NoError(t, rows.Scan(&table, &name, &from, &to))
				if byName[name] == nil {
					byName[name] = &fk{table: table}
					order = append(order, name)
				}
				byName[name].from = append(byName[name].from, from)
				byName[name].to = append(byName[name].to, to)
			}
			require.NoError(t, rows.Err())
			for _, k := range order {
				fks = append(fks, *byName[k])
			}
		}
		require.NotEmpty(t, columns["crm_tasks"], "the schema was read")

		covered := func(table, col string) bool {
			for _, f := range fks {
				if f.table != table {
					continue
				}
				tenant, has := false, false
				for i, c := range f.from {
					tenant = tenant || (c == "tenant_id" && f.to[i] == "tenant_id")
					has = has || c == col
				}
				if tenant && has {
					return true
				}
			}
			return false
		}
		var missing []string
		for table, cols := range columns {
			for _, col := range cols {
				if !strings.HasSuffix(col, "_id") || col == "tenant_id" {
					continue
				}
				if _, ok := migrate.Unreferenced[table+"."+col]; ok {
					continue
				}
				if _, ok := migrate.Unreferenced["*."+col]; ok {
					continue
				}
				if !covered(table, col) {
					missing = append(missing, table+"."+col)
				}
			}
		}
		sort.Strings(missing)
		require.Empty(t, missing, "id columns without a foreign key including tenant_id (add one, or document the exception in migrate.Unreferenced)")

		// The exceptions name columns that exist.
		for key := range migrate.Unreferenced {
			table, col, _ := strings.Cut(key, ".")
			if table == "*" {
				continue
			}
			require.Contains(t, columns[table], col, "migrate.Unreferenced names %s, which does not exist", key)
		}
	})
}

// A database migrated before 0014 may hold references the new keys refuse
// (another tenant's company, a deal that is gone, a merge whose winner was
// deleted): 0014 unlinks them instead of failing, and keeps sound links.
func TestTenantReferencesUpgrade(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		d, err := dialect.For(db)
		require.NoError(t, err)
		migrateBelow(t, db, d, 14) // the schema as 0013 left it
		now := d.Time(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		exec := func(q string, args ...any) {
			t.Helper()
			_, err := db.DB.ExecContext(ctx, d.Rebind(q), args...)
			require.NoError(t, err, q)
		}
		id := func() string { return core.NewID().String() }
		contact, company, otherCompany, nowhere := id(), id(), id(), id()
		exec(`INSERT INTO crm_companies (tenant_id, id, name, attributes, created_at, updated_at, version) VALUES ('a', ?, 'A', '{}', ?, ?, 1)`, company, now, now)
		exec(`INSERT INTO crm_companies (tenant_id, id, name, attributes, created_at, updated_at, version) VALUES ('b', ?, 'B', '{}', ?, ?, 1)`, otherCompany, now, now)
		exec(`INSERT INTO crm_contacts (tenant_id, id, lifecycle_stage, tags, attributes, created_at, updated_at, version) VALUES ('a', ?, 'lead', '[]', '{}', ?, ?, 1)`, contact, now, now)
		sound, crossed, gone := id(), id(), id()
		for act, co := range map[string]string{sound: company, crossed: otherCompany} {
			exec(`INSERT INTO crm_activities (tenant_id, id, contact_id, company_id, kind, occurred_at, properties, created_at) VALUES ('a', ?, ?, ?, 'call', ?, '{}', ?)`, act, contact, co, now, now)
		}
		exec(`INSERT INTO crm_activities (tenant_id, id, contact_id, deal_id, kind, occurred_at, properties, created_at) VALUES ('a', ?, ?, ?, 'call', ?, '{}', ?)`, gone, contact, nowhere, now, now)
		task := id()
		exec(`INSERT INTO crm_tasks (tenant_id, id, title, due_key, deal_id, contact_id, priority, status, created_at, updated_at, version) VALUES ('a', ?, 't', ?, ?, ?, 'normal', 'open', ?, ?, 1)`, task, now, nowhere, contact, now, now)
		exec(`INSERT INTO crm_contact_merges (tenant_id, loser_id, winner_id, merged_at, snapshot) VALUES ('a', ?, ?, ?, '{}')`, id(), nowhere, now)
		exec(`INSERT INTO crm_contact_merges (tenant_id, loser_id, winner_id, merged_at, snapshot) VALUES ('a', ?, ?, ?, '{}')`, id(), contact, now)

		done, err := migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		require.Equal(t, "0014_tenant_references", done[0])

		link := func(q string, args ...any) *string {
			t.Helper()
			var s *string
			require.NoError(t, db.DB.QueryRowContext(ctx, d.Rebind(q), args...).Scan(&s))
			return s
		}
		require.NotNil(t, link(`SELECT CAST(company_id AS TEXT) FROM crm_activities WHERE id = ?`, sound), "a sound link stays")
		require.Nil(t, link(`SELECT CAST(company_id AS TEXT) FROM crm_activities WHERE id = ?`, crossed), "another tenant's company is unlinked")
		require.Nil(t, link(`SELECT CAST(deal_id AS TEXT) FROM crm_activities WHERE id = ?`, gone))
		require.Nil(t, link(`SELECT CAST(deal_id AS TEXT) FROM crm_tasks WHERE id = ?`, task))
		require.NotNil(t, link(`SELECT CAST(contact_id AS TEXT) FROM crm_tasks WHERE id = ?`, task))
		var merges int
		require.NoError(t, db.DB.QueryRowContext(ctx, `SELECT count(*) FROM crm_contact_merges`).Scan(&merges))
		require.Equal(t, 1, merges, "the merge into a deleted contact is gone")
		var acts int
		require.NoError(t, db.DB.QueryRowContext(ctx, `SELECT count(*) FROM crm_activities`).Scan(&acts))
		require.Equal(t, 3, acts, "no activity is lost")
	})
}

// A foreign key refusal that reaches store.Wrap is ErrInvalid, naming the
// column where the database names the constraint (PostgreSQL).
func TestForeignKeyRefusalIsInvalid(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		_, err := migrate.Up(ctx, db, modules.Migrations())
		require.NoError(t, err)
		d, err := dialect.For(db)
		require.NoError(t, err)
		now := d.Time(time.Now())
		_, err = db.DB.ExecContext(ctx, d.Rebind(`INSERT INTO crm_tasks (tenant_id, id, title, due_key, deal_id, priority, status, created_at, updated_at, version)
			VALUES ('a', ?, 't', ?, ?, 'normal', 'open', ?, ?, 1)`), core.NewID().String(), now, core.NewID().String(), now, now)
		require.True(t, dialect.IsForeignKeyViolation(err), "%v", err)
		wrapped := store.Wrap(err, "create task")
		require.ErrorIs(t, wrapped, core.ErrInvalid)
		var v *core.ValidationError
		require.ErrorAs(t, wrapped, &v)
		if d.Kind == dialect.Postgres {
			require.True(t, v.Has("deal_id"), "%v", wrapped)
		}
		require.NotContains(t, wrapped.Error(), "FOREIGN KEY")
		require.NotContains(t, wrapped.Error(), "SQLSTATE")
	})
}

// migrateBelow applies the migrations before version below to db, as an
// older crmkit did, so a test can load data the next migration must carry.
func migrateBelow(t *testing.T, db *bun.DB, d *dialect.Dialect, below int) {
	t.Helper()
	ctx := context.Background()
	all, err := migrate.Collect(modules.Migrations())
	require.NoError(t, err)
	_, err = db.DB.ExecContext(ctx, `CREATE TABLE crm_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	require.NoError(t, err)
	for _, m := range all {
		if m.Version >= below {
			break
		}
		for _, stmt := range m.Statements(d) {
			_, err := db.DB.ExecContext(ctx, stmt)
			require.NoError(t, err, stmt)
		}
		_, err = db.DB.ExecContext(ctx, d.Rebind(`INSERT INTO crm_migrations (version, name, applied_at) VALUES (?, ?, ?)`), m.Version, m.Name, "2026-01-01")
		require.NoError(t, err)
	}
}
