package crm

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/riverqueue/river/riverdriver"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/trace"

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
