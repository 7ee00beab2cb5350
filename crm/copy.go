package crm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivershared/uniquestates"
	"github.com/riverqueue/river/rivertype"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/trace"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/migrate"
	"github.com/crmkit/crmkit/internal/store"
	crmtrace "github.com/crmkit/crmkit/internal/trace"
)

// CopyOptions tune Copy.
type CopyOptions struct {
	// BatchSize is how many rows are written at a time: one COPY on
	// PostgreSQL, multi-row INSERTs on SQLite. Default 1000, at most
	// 10,000.
	BatchSize int
	// Progress, when set, is called after each table is copied and
	// checked, with its name and number of rows.
	Progress func(table string, rows int64)
	// TracerProvider receives the span of the copy ("crm.Copy").
	// Defaults to the global provider.
	TracerProvider trace.TracerProvider
}

// CopiedTable is one table Copy copied: its rows, and the checksum of
// their content, the same in the source and the destination.
type CopiedTable struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
	// Checksum sums a hash of every row's values, each in one canonical
	// form on both databases (ids as UUID text, times in UTC, JSON with
	// sorted keys and plain numbers, booleans as true or false), so row
	// order and storage types do not change it.
	Checksum string `json:"checksum"`
}

// CopyResult tells what Copy copied.
type CopyResult struct {
	// Tenants are the tenants with rows in the source.
	Tenants []string `json:"tenants"`
	// Tables are crmkit's tables in the order they were copied: a table
	// after those it references.
	Tables []CopiedTable `json:"tables"`
	// Jobs are crmkit's River jobs not yet finished (available,
	// scheduled, retryable, pending, running; in crmkit's queues), as
	// "river_job".
	Jobs CopiedTable `json:"jobs"`
}

// copyBookkeeping are crm_ tables Copy leaves alone: the destination's
// migrations write their own.
var copyBookkeeping = map[string]bool{"crm_migrations": true, "crm_migration_locks": true}

// unfinishedJobs are the River job states Copy copies.
var unfinishedJobs = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled}

// crmQueues are the River queues of crmkit's jobs: a host's own River
// jobs in the same database are the host's to move.
var crmQueues = []string{automation.QueueRules, automation.QueueWebhooks, automation.QueueJobs}

// jobList lists the unfinished jobs of crmkit's queues, by id.
func jobList(batchSize int) *river.JobListParams {
	return river.NewJobListParams().States(unfinishedJobs...).Queues(crmQueues...).OrderBy(river.JobListOrderByID, river.SortOrderAsc).
		First(min(batchSize, 10000))
}

// Copy moves a whole CRM — every tenant's rows of every crm_ table, and
// crmkit's River jobs not yet finished — from the database src to dst: SQLite
// to PostgreSQL when a host grows, or back. Open both with OpenDB.
//
// Copy migrates dst first; dst must then hold no crmkit data (else
// ErrInvalid), and src must be migrated to this version of crmkit (else
// ErrNotMigrated: run Migrate on it first). Tables are copied in the
// order of their foreign keys, read in one transaction of src (a
// consistent snapshot; on SQLite it holds the write lock, so stop the
// source's writers first) and written in one transaction of dst, in
// batches (COPY on PostgreSQL). Rows are copied as they are — ids, times,
// versions, counters such as the next ticket number — so the copy goes
// on where the source stopped; no event is emitted and no hook runs. A
// job that was running when the source stopped is copied as available:
// it runs again, as crmkit's jobs may. River's other tables (queues,
// leaders) are not copied.
//
// Before it commits, Copy reads every table back from dst and compares
// its row count and checksum (CopiedTable) with the source's: a
// difference is an error, and dst keeps nothing of the copy.
//
// On PostgreSQL the new tables have no planner statistics until
// autovacuum gathers them; run ANALYZE after a large copy.
//
// Copy works below the modules, as migrations do: it is the one place
// that writes every module's tables without going through their services.
func Copy(ctx context.Context, src, dst *bun.DB, opts CopyOptions) (_ *CopyResult, err error) {
	ctx, span := crmtrace.Start(ctx, crmtrace.Tracer(opts.TracerProvider), "crm.Copy", "", core.NilID)
	defer span.End(&err)
	if opts.BatchSize == 0 {
		opts.BatchSize = 1000
	}
	if opts.BatchSize < 0 || opts.BatchSize > 10000 {
		return nil, core.Invalid("BatchSize", "must be 1-10000")
	}
	if src == nil || dst == nil {
		return nil, core.Invalid("db", "src and dst are required")
	}
	if src.DB == dst.DB {
		return nil, core.Invalid("dst", "is the source database")
	}
	from, err := New(src, Config{TracerProvider: opts.TracerProvider})
	if err != nil {
		return nil, fmt.Errorf("crm: copy: the source: %w", err)
	}
	defer from.Close()
	to, err := New(dst, Config{TracerProvider: opts.TracerProvider})
	if err != nil {
		return nil, fmt.Errorf("crm: copy: the destination: %w", err)
	}
	defer to.Close()

	applied, err := migrate.Applied(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("%w: the source holds no crmkit schema: %v", core.ErrNotMigrated, err)
	}
	if err := to.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("crm: copy: migrate the destination: %w", err)
	}
	want, err := migrate.Applied(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("crm: copy: %w", err)
	}
	for _, v := range applied {
		if !slices.Contains(want, v) {
			return nil, core.Invalid("src", "was migrated by a newer crmkit (migration %d): copy with that version", v)
		}
	}
	for _, v := range want {
		if !slices.Contains(applied, v) {
			return nil, fmt.Errorf("%w: the source lacks migration %d: migrate it first", core.ErrNotMigrated, v)
		}
	}

	fromRT, toRT := from.shared.rt, to.shared.rt
	srcSchema, err := readSchema(ctx, fromRT)
	if err != nil {
		return nil, fmt.Errorf("crm: copy: read the source's schema: %w", err)
	}
	dstSchema, err := readSchema(ctx, toRT)
	if err != nil {
		return nil, fmt.Errorf("crm: copy: read the destination's schema: %w", err)
	}
	plans, err := planCopy(srcSchema, dstSchema, fromRT.Dialect.Kind, toRT.Dialect.Kind)
	if err != nil {
		return nil, err
	}

	// One read transaction of the source: a consistent snapshot.
	txOpts := &sql.TxOptions{}
	if fromRT.Dialect.Kind == dialect.Postgres {
		txOpts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	stx, err := src.BeginTx(ctx, txOpts)
	if err != nil {
		return nil, fmt.Errorf("crm: copy: begin reading the source: %w", err)
	}
	defer func() { _ = stx.Rollback() }()
	sq := from.sc.Join(stx).Q()

	res := &CopyResult{Tables: []CopiedTable{}, Tenants: []string{}}
	err = to.sc.InTx(ctx, func(ctx context.Context, dsc store.Scope) error {
		dtx := dsc.Tx()
		dq := dtx.Q()
		for _, p := range plans {
			tenants, err := tenantsOf(ctx, dq, p.name)
			if err != nil {
				return err
			}
			if len(tenants) > 0 {
				return core.Invalid("dst", "holds crmkit data already (table %s): copy into an empty database", p.name)
			}
		}
		exec := to.River().Driver().UnwrapExecutor(dtx.Bun().Tx)
		if jobs, err := to.River().JobListTx(ctx, dtx.Bun().Tx, jobList(1)); err != nil {
			return fmt.Errorf("list the destination's jobs: %w", err)
		} else if len(jobs.Jobs) > 0 {
			return core.Invalid("dst", "holds unfinished jobs already: copy into an empty database")
		}
		seen := map[string]bool{}
		for _, p := range plans {
			t, tenants, err := copyTable(ctx, sq, dtx, p, opts.BatchSize)
			if err != nil {
				return err
			}
			for _, tn := range tenants {
				if !seen[tn] {
					seen[tn] = true
					res.Tenants = append(res.Tenants, tn)
				}
			}
			res.Tables = append(res.Tables, t)
			if opts.Progress != nil {
				opts.Progress(t.Name, t.Rows)
			}
		}
		insert := func(ctx context.Context, jobs []*riverdriver.JobInsertFullParams) error {
			for _, j := range jobs {
				if _, err := exec.JobInsertFull(ctx, j); err != nil {
					return err
				}
			}
			return nil
		}
		if toRT.Dialect.Kind == dialect.Postgres {
			insert = func(ctx context.Context, jobs []*riverdriver.JobInsertFullParams) error {
				return insertJobsPostgres(ctx, dq, jobs)
			}
		}
		res.Jobs, err = copyJobs(ctx, from.River(), stx.Tx, to.River(), insert, dtx.Bun().Tx, opts.BatchSize)
		if err != nil {
			return err
		}
		if opts.Progress != nil {
			opts.Progress(res.Jobs.Name, res.Jobs.Rows)
		}
		return nil
	})
	if err != nil {
		return nil, store.Wrap(err, "copy")
	}
	slices.Sort(res.Tenants)
	return res, nil
}

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

// tablePlan is how one table is copied.
type tablePlan struct {
	name    string
	columns []string
	kinds   []colKind
	pk      []int // indexes into columns
	// selfRefs are the columns of foreign keys to the table itself: they
	// are written NULL, then set once every row is in.
	selfRefs []int
}

// planCopy decides which tables and columns are copied, in which order.
func planCopy(src, dst map[string]*tableSchema, srcKind, dstKind dialect.Kind) ([]tablePlan, error) {
	var names []string
	for name := range dst {
		if copyBookkeeping[name] {
			continue
		}
		if _, ok := src[name]; !ok {
			return nil, fmt.Errorf("%w: the source has no table %s", core.ErrNotMigrated, name)
		}
		names = append(names, name)
	}
	for name := range src {
		if _, ok := dst[name]; !ok && !copyBookkeeping[name] {
			return nil, core.Invalid("src", "has a table %s that this crmkit does not know", name)
		}
	}
	slices.Sort(names)
	// Referenced tables first (Kahn's algorithm, by name among equals).
	deps := map[string]map[string]bool{}
	for _, name := range names {
		deps[name] = map[string]bool{}
		for _, r := range dst[name].refs {
			if r.table != name {
				deps[name][r.table] = true
			}
		}
	}
	var order []string
	done := map[string]bool{}
	for len(order) < len(names) {
		progress := false
		for _, name := range names {
			if done[name] {
				continue
			}
			ready := true
			for d := range deps[name] {
				if !done[d] {
					ready = false
				}
			}
			if ready {
				done[name] = true
				order = append(order, name)
				progress = true
			}
		}
		if !progress {
			return nil, fmt.Errorf("crm: copy: the foreign keys of the tables form a cycle")
		}
	}

	plans := make([]tablePlan, 0, len(order))
	for _, name := range order {
		s, d := src[name], dst[name]
		if _, ok := d.column("tenant_id"); !ok {
			return nil, fmt.Errorf("crm: copy: table %s has no tenant_id", name)
		}
		p := tablePlan{name: name}
		for _, dc := range d.columns {
			sc, ok := s.column(dc.name)
			switch {
			case dc.generated:
				continue
			case !ok || sc.generated:
				if !dc.nullable && !dc.defaulted {
					return nil, fmt.Errorf("crm: copy: the source's %s has no column %s", name, dc.name)
				}
				continue
			}
			k := dc.kind
			switch {
			case srcKind == dialect.Postgres && dstKind != dialect.Postgres && sc.known:
				k = sc.kind
			case !dc.known && sc.known:
				k = sc.kind
			}
			p.columns = append(p.columns, dc.name)
			p.kinds = append(p.kinds, k)
		}
		for _, sc := range s.columns {
			if _, ok := d.column(sc.name); !ok && !sc.generated && !sc.defaulted {
				return nil, core.Invalid("src", "table %s has a column %s that this crmkit does not know", name, sc.name)
			}
		}
		for _, k := range d.pk {
			i := slices.Index(p.columns, k)
			if i < 0 {
				p.pk = nil // a rowid key, not copied: no order
				break
			}
			p.pk = append(p.pk, i)
		}
		for _, r := range d.refs {
			if r.table != name {
				continue
			}
			for _, c := range r.columns {
				i := slices.Index(p.columns, c)
				if i < 0 {
					continue
				}
				if col, _ := d.column(c); !col.nullable || len(p.pk) == 0 {
					return nil, fmt.Errorf("crm: copy: cannot order the rows of %s (column %s)", name, c)
				}
				if !slices.Contains(p.selfRefs, i) {
					p.selfRefs = append(p.selfRefs, i)
				}
			}
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// tenantsOf lists the tenants with rows in table.
func tenantsOf(ctx context.Context, q store.Q, table string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT tenant_id FROM `+table+` ORDER BY tenant_id /* crm:tenant-listing */`)
	if err != nil {
		return nil, fmt.Errorf("list the tenants of %s: %w", table, err)
	}
	var out []string
	err = store.EachRow(rows, func(s store.Scanner) error {
		var t string
		err := s.Scan(&t)
		out = append(out, t)
		return err
	})
	return out, err
}

// checksum sums the hashes of rows: the same rows give the same sum in
// any order.
type checksum struct {
	rows   int64
	hi, lo uint64
}

func (c *checksum) add(h [sha256.Size]byte) {
	c.rows++
	c.hi += binary.BigEndian.Uint64(h[0:8])
	c.lo += binary.BigEndian.Uint64(h[8:16])
}

func (c checksum) String() string { return fmt.Sprintf("%016x%016x", c.hi, c.lo) }

// copyTable copies one table, tenant by tenant, and checks the copy: the
// rows read back from the destination must sum to the source's checksum.
func copyTable(ctx context.Context, sq store.Q, dtx *store.Tx, p tablePlan, batchSize int) (CopiedTable, []string, error) {
	tenants, err := tenantsOf(ctx, sq, p.name)
	if err != nil {
		return CopiedTable{}, nil, err
	}
	var order []string
	for _, i := range p.pk {
		order = append(order, p.columns[i])
	}
	query := `SELECT ` + strings.Join(p.columns, ", ") + ` FROM ` + p.name + ` WHERE tenant_id = ?`
	if len(order) > 0 {
		query += ` ORDER BY ` + strings.Join(order, ", ")
	}
	var sum checksum
	type selfRef struct{ key, vals []any }
	for _, tenant := range tenants {
		rows, err := sq.Query(ctx, query, tenant)
		if err != nil {
			return CopiedTable{}, nil, fmt.Errorf("read %s: %w", p.name, err)
		}
		var batch [][]any
		var later []selfRef
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := dtx.InsertRows(ctx, p.name, p.columns, batch)
			batch = batch[:0]
			return err
		}
		err = store.EachRow(rows, func(s store.Scanner) error {
			vals, h, err := scanRow(s, p)
			if err != nil {
				return err
			}
			sum.add(h)
			if len(p.selfRefs) > 0 {
				r := selfRef{}
				for _, i := range p.pk {
					r.key = append(r.key, vals[i])
				}
				for _, i := range p.selfRefs {
					r.vals = append(r.vals, vals[i])
					vals[i] = nil
				}
				if slices.ContainsFunc(r.vals, func(v any) bool { return v != nil }) {
					later = append(later, r)
				}
			}
			batch = append(batch, vals)
			if len(batch) >= batchSize {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return writeFailed(p.name, err)
		}
		if len(later) > 0 {
			set := make([]string, len(p.selfRefs))
			for j, i := range p.selfRefs {
				set[j] = p.columns[i] + " = ?"
			}
			where := []string{"tenant_id = ?"}
			for _, i := range p.pk {
				if p.columns[i] != "tenant_id" {
					where = append(where, p.columns[i]+" = ?")
				}
			}
			update := `UPDATE ` + p.name + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + strings.Join(where, " AND ")
			for _, r := range later {
				args := append([]any{}, r.vals...)
				args = append(args, tenant)
				for j, i := range p.pk {
					if p.columns[i] != "tenant_id" {
						args = append(args, r.key[j])
					}
				}
				if _, err := dtx.Q().Exec(ctx, update, args...); err != nil {
					return writeFailed(p.name, err)
				}
			}
		}
	}

	// Read the copy back.
	dq := dtx.Q()
	got, err := tenantsOf(ctx, dq, p.name)
	if err != nil {
		return CopiedTable{}, nil, err
	}
	if !slices.Equal(got, tenants) {
		return CopiedTable{}, nil, fmt.Errorf("%s: the destination has rows of tenants %v, the source of %v", p.name, got, tenants)
	}
	var back checksum
	for _, tenant := range got {
		rows, err := dq.Query(ctx, query, tenant)
		if err != nil {
			return CopiedTable{}, nil, fmt.Errorf("read %s back: %w", p.name, err)
		}
		if err := store.EachRow(rows, func(s store.Scanner) error {
			_, h, err := scanRow(s, p)
			if err == nil {
				back.add(h)
			}
			return err
		}); err != nil {
			return CopiedTable{}, nil, fmt.Errorf("read %s back: %w", p.name, err)
		}
	}
	if back != sum {
		return CopiedTable{}, nil, fmt.Errorf("%s does not match: %d rows, checksum %s in the source; %d rows, checksum %s in the destination",
			p.name, sum.rows, sum, back.rows, back)
	}
	return CopiedTable{Name: p.name, Rows: sum.rows, Checksum: sum.String()}, tenants, nil
}

// writeFailed is the error of writing a table's rows.
func writeFailed(table string, err error) (CopiedTable, []string, error) {
	return CopiedTable{}, nil, fmt.Errorf("write %s: %w", table, err)
}

// scanRow reads one row of p, decodes its values into the Go values the
// destination is written with, and hashes their canonical forms.
func scanRow(s store.Scanner, p tablePlan) ([]any, [sha256.Size]byte, error) {
	raw := make([]any, len(p.columns))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := s.Scan(ptrs...); err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	h := sha256.New()
	var buf []byte
	for i, v := range raw {
		val, text, err := decodeValue(p.kinds[i], v)
		if err != nil {
			return nil, [sha256.Size]byte{}, fmt.Errorf("column %s: %w", p.columns[i], err)
		}
		raw[i] = val
		buf = buf[:0]
		buf = append(buf, p.columns[i]...)
		if val == nil {
			buf = append(buf, 0, 'N')
		} else {
			buf = append(buf, 0, 'V')
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(text)))
			buf = append(buf, text...)
		}
		h.Write(buf)
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return raw, out, nil
}

// decodeValue turns a value as a driver returned it into the Go value
// the destination is written with, and its canonical text.
func decodeValue(k colKind, v any) (any, string, error) {
	if v == nil {
		return nil, "", nil
	}
	switch k {
	case kindID:
		var id uuid.UUID
		var err error
		switch x := v.(type) {
		case string:
			id, err = uuid.Parse(x)
		case []byte:
			if len(x) == 16 {
				id, err = uuid.FromBytes(x)
			} else {
				id, err = uuid.ParseBytes(x)
			}
		case [16]byte:
			id = x
		default:
			err = fmt.Errorf("unexpected %T", v)
		}
		if err != nil {
			return nil, "", fmt.Errorf("not an id: %w", err)
		}
		return id, id.String(), nil
	case kindTime:
		t, err := decodeTime(v)
		if err != nil {
			return nil, "", err
		}
		t = t.UTC().Truncate(time.Microsecond)
		return t, t.Format(time.RFC3339Nano), nil
	case kindJSON:
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = x
		default:
			return nil, "", fmt.Errorf("unexpected %T for JSON", v)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			return nil, "", fmt.Errorf("not JSON: %w", err)
		}
		c, err := canonicalJSON(b)
		if err != nil {
			return nil, "", err
		}
		return compact.String(), c, nil
	case kindInt:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int:
			n = int64(x)
		case bool:
			if x {
				n = 1
			}
		case string:
			var err error
			if n, err = strconv.ParseInt(x, 10, 64); err != nil {
				return nil, "", fmt.Errorf("not an integer: %w", err)
			}
		case []byte:
			var err error
			if n, err = strconv.ParseInt(string(x), 10, 64); err != nil {
				return nil, "", fmt.Errorf("not an integer: %w", err)
			}
		default:
			return nil, "", fmt.Errorf("unexpected %T for an integer", v)
		}
		return n, strconv.FormatInt(n, 10), nil
	case kindBool:
		var b bool
		switch x := v.(type) {
		case bool:
			b = x
		case int64:
			b = x != 0
		case string:
			var err error
			if b, err = strconv.ParseBool(x); err != nil {
				return nil, "", fmt.Errorf("not a boolean: %w", err)
			}
		default:
			return nil, "", fmt.Errorf("unexpected %T for a boolean", v)
		}
		return b, strconv.FormatBool(b), nil
	case kindBytes:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = slices.Clone(x)
		case string:
			b = []byte(x)
		default:
			return nil, "", fmt.Errorf("unexpected %T for bytes", v)
		}
		return b, hex.EncodeToString(b), nil
	case kindFloat:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		default:
			return nil, "", fmt.Errorf("unexpected %T for a number", v)
		}
		return f, strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	switch x := v.(type) {
	case string:
		return x, x, nil
	case []byte:
		return string(x), string(x), nil
	case time.Time:
		// A text column SQLite's driver read as a time: keep the text
		// crmkit wrote.
		s := x.UTC().Format(dialect.TimeLayout)
		return s, s, nil
	case int64:
		s := strconv.FormatInt(x, 10)
		return s, s, nil
	}
	return nil, "", fmt.Errorf("unexpected %T for text", v)
}

// timeLayouts are the texts of times SQLite may hold: crmkit's own, and
// those of other writers (River, SQLite's CURRENT_TIMESTAMP).
var timeLayouts = []string{dialect.TimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"}

func decodeTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("not a time: %q", x)
	case []byte:
		return decodeTime(string(x))
	}
	return time.Time{}, fmt.Errorf("unexpected %T for a time", v)
}

// canonicalJSON is JSON text in one form: keys sorted, no spaces, numbers
// in plain decimal notation without trailing zeros (PostgreSQL's jsonb
// rewrites 1e2 as 100), strings escaped as encoding/json does.
func canonicalJSON(b []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	v, err := normalizeNumbers(v)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}

func normalizeNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		d, err := decimal.NewFromString(x.String())
		if err != nil {
			return nil, fmt.Errorf("not a JSON number: %q", x)
		}
		return json.Number(d.String()), nil
	case map[string]any:
		for k, e := range x {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

// copyJobs copies the source's unfinished River jobs into the
// destination's transaction and checks them as copyTable does.
func copyJobs(ctx context.Context, from *river.Client[*sql.Tx], stx *sql.Tx, to *river.Client[*sql.Tx],
	insertJobs func(context.Context, []*riverdriver.JobInsertFullParams) error, dtx *sql.Tx, batchSize int) (CopiedTable, error) {
	var sum checksum
	params := jobList(batchSize)
	for {
		res, err := from.JobListTx(ctx, stx, params)
		if err != nil {
			return CopiedTable{}, fmt.Errorf("list the source's jobs: %w", err)
		}
		if len(res.Jobs) == 0 {
			break
		}
		insert := make([]*riverdriver.JobInsertFullParams, 0, len(res.Jobs))
		for _, j := range res.Jobs {
			if j.State == rivertype.JobStateRunning {
				// Its worker is gone with the source: it runs again.
				j.State = rivertype.JobStateAvailable
			}
			h, err := jobHash(j)
			if err != nil {
				return CopiedTable{}, err
			}
			sum.add(h)
			p := &riverdriver.JobInsertFullParams{Attempt: j.Attempt, AttemptedAt: j.AttemptedAt, AttemptedBy: j.AttemptedBy,
				CreatedAt: &j.CreatedAt, EncodedArgs: j.EncodedArgs, FinalizedAt: j.FinalizedAt, Kind: j.Kind, MaxAttempts: j.MaxAttempts,
				Metadata: j.Metadata, Priority: j.Priority, Queue: j.Queue, ScheduledAt: &j.ScheduledAt, State: j.State, Tags: j.Tags,
				UniqueKey: j.UniqueKey}
			if len(j.UniqueStates) > 0 {
				p.UniqueStates = uniquestates.UniqueStatesToBitmask(j.UniqueStates)
			}
			for _, e := range j.Errors {
				b, err := json.Marshal(e)
				if err != nil {
					return CopiedTable{}, err
				}
				p.Errors = append(p.Errors, b)
			}
			insert = append(insert, p)
		}
		if err := insertJobs(ctx, insert); err != nil {
			return CopiedTable{}, fmt.Errorf("write jobs: %w", err)
		}
		params = params.After(river.JobListCursorFromJob(res.Jobs[len(res.Jobs)-1]))
	}

	var back checksum
	params = jobList(batchSize)
	for {
		res, err := to.JobListTx(ctx, dtx, params)
		if err != nil {
			return CopiedTable{}, fmt.Errorf("read the jobs back: %w", err)
		}
		if len(res.Jobs) == 0 {
			break
		}
		for _, j := range res.Jobs {
			h, err := jobHash(j)
			if err != nil {
				return CopiedTable{}, err
			}
			back.add(h)
		}
		params = params.After(river.JobListCursorFromJob(res.Jobs[len(res.Jobs)-1]))
	}
	if back != sum {
		return CopiedTable{}, fmt.Errorf("the jobs do not match: %d jobs, checksum %s in the source; %d jobs, checksum %s in the destination",
			sum.rows, sum, back.rows, back)
	}
	return CopiedTable{Name: "river_job", Rows: sum.rows, Checksum: sum.String()}, nil
}

// jobHash hashes what a job is, its id aside (the destination numbers
// jobs anew). Times count to the millisecond, River's precision on
// SQLite.
func jobHash(j *rivertype.JobRow) ([sha256.Size]byte, error) {
	args, err := canonicalJSON(orEmpty(j.EncodedArgs))
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("job %d: args: %w", j.ID, err)
	}
	meta, err := canonicalJSON(orEmpty(j.Metadata))
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("job %d: metadata: %w", j.ID, err)
	}
	ms := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
	}
	errs := make([]string, len(j.Errors))
	for i, e := range j.Errors {
		errs[i] = fmt.Sprintf("%d|%s|%s|%s", e.Attempt, ms(&e.At), e.Error, e.Trace)
	}
	states := make([]string, len(j.UniqueStates))
	for i, s := range j.UniqueStates {
		states[i] = string(s)
	}
	slices.Sort(states)
	fields := []string{j.Kind, j.Queue, string(j.State), strconv.Itoa(j.Priority), strconv.Itoa(j.Attempt), strconv.Itoa(j.MaxAttempts),
		args, meta, strings.Join(j.Tags, ","), strings.Join(j.AttemptedBy, ","), ms(&j.CreatedAt), ms(&j.ScheduledAt), ms(j.AttemptedAt),
		ms(j.FinalizedAt), hex.EncodeToString(j.UniqueKey), strings.Join(states, ","), strings.Join(errs, "\x1e")}
	h := sha256.New()
	for _, f := range fields {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(f))))
		h.Write([]byte(f))
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// insertJobsPostgres writes jobs into River's table on PostgreSQL as
// River's own JobInsertFull does, but with the unique key bound as bytes:
// River's database/sql driver passes it as text, which a binary key (a
// SHA-256) does not survive.
func insertJobsPostgres(ctx context.Context, q store.Q, jobs []*riverdriver.JobInsertFullParams) error {
	for _, j := range jobs {
		var errs []string
		for _, e := range j.Errors {
			errs = append(errs, string(e))
		}
		var key any
		if len(j.UniqueKey) > 0 {
			key = j.UniqueKey
		}
		if _, err := q.Exec(ctx, `INSERT INTO river_job (args, attempt, attempted_at, attempted_by, created_at, errors, finalized_at, kind,
			max_attempts, metadata, priority, queue, scheduled_at, state, tags, unique_key, unique_states)
			VALUES (CAST(? AS jsonb), ?, ?, CAST(? AS text[]), ?, CAST(CAST(? AS text[]) AS jsonb[]), ?, ?, ?, CAST(? AS jsonb), ?, ?, ?,
			CAST(? AS river_job_state), coalesce(CAST(? AS varchar(255)[]), '{}'), CAST(? AS bytea), CAST(nullif(CAST(? AS integer), 0) AS bit(8)))`,
			string(orEmpty(j.EncodedArgs)), j.Attempt, j.AttemptedAt, j.AttemptedBy, j.CreatedAt, errs, j.FinalizedAt, j.Kind,
			j.MaxAttempts, string(orEmpty(j.Metadata)), j.Priority, j.Queue, j.ScheduledAt, string(j.State), j.Tags, key, int(j.UniqueStates)); err != nil {
			return err
		}
	}
	return nil
}

func orEmpty(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}
