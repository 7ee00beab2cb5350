package crm

import (
	"context"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// The schema Copy reads from each database: every crm_ table's columns
// with the kind of their values, primary key and foreign keys.

// colKind is how a column's values are decoded, compared and written.
type colKind int

const (
	kindText colKind = iota
	kindID
	kindTime
	kindJSON
	kindInt
	kindBool
	kindBytes
	kindFloat
)

// column is one column of a table as one database declares it.
type column struct {
	name      string
	kind      colKind
	known     bool // the type names a kind (else text)
	nullable  bool
	generated bool // computed by the database; never written
	defaulted bool // has a default (or is SQLite's rowid)
}

// tableSchema is one table as one database declares it.
type tableSchema struct {
	name    string
	columns []column
	pk      []string
	// refs are the tables its foreign keys reference, with the
	// referencing columns (tenant_id aside).
	refs []tableRef
}

type tableRef struct {
	table   string
	columns []string
}

func (t *tableSchema) column(name string) (column, bool) {
	for _, c := range t.columns {
		if c.name == name {
			return c, true
		}
	}
	return column{}, false
}

// readSchema reads the crm_ tables of rt's database: their columns with
// types, primary keys and foreign keys. SQLite's full-text tables (a
// virtual table and its shadow tables) are left out: the triggers of
// crm_search fill them.
func readSchema(ctx context.Context, rt *store.Runtime) (map[string]*tableSchema, error) {
	q := store.NewScope(rt).Q()
	out := map[string]*tableSchema{}
	if rt.Dialect.Kind == dialect.SQLite {
		rows, err := q.Query(ctx, `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' AND name LIKE 'crm\_%' ESCAPE '\'`)
		if err != nil {
			return nil, err
		}
		var names []string
		virtual := map[string]bool{}
		if err := store.EachRow(rows, func(s store.Scanner) error {
			var name, ddl string
			if err := s.Scan(&name, &ddl); err != nil {
				return err
			}
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ddl)), "CREATE VIRTUAL TABLE") {
				virtual[name] = true
			}
			names = append(names, name)
			return nil
		}); err != nil {
			return nil, err
		}
		for _, name := range names {
			shadow := false
			for v := range virtual {
				if strings.HasPrefix(name, v+"_") {
					shadow = true
				}
			}
			if virtual[name] || shadow {
				continue
			}
			t := &tableSchema{name: name}
			rows, err := q.Query(ctx, `SELECT name, type, "notnull", dflt_value IS NOT NULL, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, name)
			if err != nil {
				return nil, err
			}
			var pk [][2]any
			if err := store.EachRow(rows, func(s store.Scanner) error {
				var col, typ string
				var notNull, hasDefault bool
				var pos, hidden int
				if err := s.Scan(&col, &typ, &notNull, &hasDefault, &pos, &hidden); err != nil {
					return err
				}
				k, known := sqliteKind(typ)
				c := column{name: col, kind: k, known: known, nullable: !notNull, defaulted: hasDefault, generated: hidden == 2 || hidden == 3}
				if pos > 0 {
					pk = append(pk, [2]any{pos, col})
					if strings.EqualFold(typ, "INTEGER") {
						c.defaulted = true // the rowid
					}
				}
				t.columns = append(t.columns, c)
				return nil
			}); err != nil {
				return nil, err
			}
			slices.SortFunc(pk, func(a, b [2]any) int { return a[0].(int) - b[0].(int) })
			for _, p := range pk {
				t.pk = append(t.pk, p[1].(string))
			}
			rows, err = q.Query(ctx, `SELECT id, "table", "from" FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name)
			if err != nil {
				return nil, err
			}
			byID := map[int]*tableRef{}
			var order []int
			if err := store.EachRow(rows, func(s store.Scanner) error {
				var id int
				var ref, col string
				if err := s.Scan(&id, &ref, &col); err != nil {
					return err
				}
				r, ok := byID[id]
				if !ok {
					r = &tableRef{table: ref}
					byID[id] = r
					order = append(order, id)
				}
				if col != "tenant_id" {
					r.columns = append(r.columns, col)
				}
				return nil
			}); err != nil {
				return nil, err
			}
			for _, id := range order {
				t.refs = append(t.refs, *byID[id])
			}
			out[name] = t
		}
		return out, nil
	}

	rows, err := q.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'YES', c.column_default IS NOT NULL, c.is_generated = 'ALWAYS'
		FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name LIKE 'crm\_%'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var table, col, typ string
		var nullable, hasDefault, generated bool
		if err := s.Scan(&table, &col, &typ, &nullable, &hasDefault, &generated); err != nil {
			return err
		}
		t := out[table]
		if t == nil {
			t = &tableSchema{name: table}
			out[table] = t
		}
		k, known := postgresKind(typ)
		t.columns = append(t.columns, column{name: col, kind: k, known: known, nullable: nullable, defaulted: hasDefault, generated: generated})
		return nil
	}); err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, `SELECT cl.relname, a.attname FROM pg_index i
		JOIN pg_class cl ON cl.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) ON true
		JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = k.attnum
		WHERE i.indisprimary AND n.nspname = current_schema() AND cl.relname LIKE 'crm\_%'
		ORDER BY cl.relname, k.pos`)
	if err != nil {
		return nil, err
	}
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var table, col string
		if err := s.Scan(&table, &col); err != nil {
			return err
		}
		if t := out[table]; t != nil {
			t.pk = append(t.pk, col)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	rows, err = q.Query(ctx, `SELECT cl.relname, c.conname, rf.relname, a.attname FROM pg_constraint c
		JOIN pg_class cl ON cl.oid = c.conrelid
		JOIN pg_class rf ON rf.oid = c.confrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, pos) ON true
		JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = k.attnum
		WHERE c.contype = 'f' AND n.nspname = current_schema() AND cl.relname LIKE 'crm\_%'
		ORDER BY cl.relname, c.conname, k.pos`)
	if err != nil {
		return nil, err
	}
	last := ""
	if err := store.EachRow(rows, func(s store.Scanner) error {
		var table, name, ref, col string
		if err := s.Scan(&table, &name, &ref, &col); err != nil {
			return err
		}
		t := out[table]
		if t == nil {
			return nil
		}
		if key := table + "\x00" + name; key != last {
			last = key
			t.refs = append(t.refs, tableRef{table: ref})
		}
		if col != "tenant_id" {
			r := &t.refs[len(t.refs)-1]
			r.columns = append(r.columns, col)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

func sqliteKind(typ string) (colKind, bool) {
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "TEXT":
		return kindText, true
	case "TIMESTAMP", "DATETIME":
		return kindTime, true
	case "INTEGER", "BIGINT", "INT":
		return kindInt, true
	case "BOOLEAN":
		return kindBool, true
	case "BLOB":
		return kindBytes, true
	case "REAL", "DOUBLE":
		return kindFloat, true
	}
	return kindText, false
}

func postgresKind(typ string) (colKind, bool) {
	switch typ {
	case "text", "character varying":
		return kindText, true
	case "uuid":
		return kindID, true
	case "timestamp with time zone", "timestamp without time zone":
		return kindTime, true
	case "jsonb", "json":
		return kindJSON, true
	case "bigint", "integer", "smallint":
		return kindInt, true
	case "boolean":
		return kindBool, true
	case "bytea":
		return kindBytes, true
	case "double precision", "real":
		return kindFloat, true
	}
	return kindText, false
}
