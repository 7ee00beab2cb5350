package crmcli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// Importing companies or deals row by row, each row in a savepoint of its
// own, and what a failed row reports.

// fieldError names field in err when err does not name one.
func fieldError(field string, err error) error {
	var ve *core.ValidationError
	if errors.As(err, &ve) || !errors.Is(err, core.ErrInvalid) {
		return err
	}
	return core.Invalid(field, "%s", strings.TrimPrefix(err.Error(), "crm: invalid input: "))
}

// rowError turns a refused row's error into its RowErrors.
func rowError(line int, err error) []contacts.RowError {
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		out := make([]contacts.RowError, len(ve.Fields))
		for i, f := range ve.Fields {
			out[i] = contacts.RowError{Line: line, Column: f.Field, Message: f.Message}
		}
		return out
	}
	return []contacts.RowError{{Line: line, Message: strings.TrimPrefix(err.Error(), "crm: ")}}
}

// rowFailure reports whether err fails only its row (bad input, a
// conflict, a record that is not there): others end the import.
func rowFailure(err error) bool {
	for _, e := range []error{core.ErrInvalid, core.ErrConflict, core.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// outcome is what one row did.
type outcome int

const (
	created outcome = iota
	updated
	unchanged
)

// importRecords imports companies or deals row by row through the Go
// API: rows in transactions of BatchSize (one for a dry run or
// all-or-nothing), each row in a savepoint of its own, so that a failed
// row leaves nothing behind and the others are written.
func (ti *tableImport) importRecords(ctx context.Context, t *table, r refs, o contacts.ImportOptions, progress func(contacts.ImportProgress)) (contacts.ImportResult, error) {
	res := contacts.ImportResult{ImportID: core.NewID(), DryRun: o.DryRun, Errors: []contacts.RowError{}}
	if o.BatchSize == 0 {
		o.BatchSize = 1000
	}
	if o.BatchSize < 0 || o.BatchSize > 10000 {
		return res, core.Invalid("batch-size", "must be 1-10000")
	}
	fail := func(errs []contacts.RowError) {
		res.Failed++
		for _, e := range errs {
			if len(res.Errors) < 1000 {
				res.Errors = append(res.Errors, e)
			}
		}
	}
	write := ti.writeCompany
	if ti.object == objectDeals {
		write = ti.writeDeal
	}
	apply := func(ctx context.Context, c *crm.CRM) error {
		if ti.object == objectDeals {
			if err := ti.preparePipelines(ctx, c, r); err != nil {
				return err
			}
			var err error
			if ti.companyErr, err = ti.prepareCompanies(ctx, c, r); err != nil {
				return err
			}
		}
		body := func(ctx context.Context, c *crm.CRM) error {
			var batch []record
			flush := func() error {
				if len(batch) == 0 {
					return nil
				}
				var n contacts.ImportProgress
				var failed [][]contacts.RowError
				err := c.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
					n, failed = contacts.ImportProgress{}, nil
					for _, rec := range batch {
						n.Rows++
						if rec.err != nil {
							var se *contacts.SourceError
							if errors.As(rec.err, &se) {
								return se
							}
							failed = append(failed, rowError(rec.line, rec.err))
							continue
						}
						var out outcome
						err := tx.InTx(ctx, func(ctx context.Context, tx *crm.CRM) error {
							var err error
							out, err = write(ctx, tx, rec)
							return err
						})
						switch {
						case err != nil && rowFailure(err):
							failed = append(failed, rowError(rec.line, err))
						case err != nil:
							return fmt.Errorf("line %d: %w", rec.line, err)
						case out == created:
							n.Created++
						case out == updated:
							n.Updated++
						default:
							n.Unchanged++
						}
					}
					return nil
				})
				batch = batch[:0]
				if err != nil {
					return err
				}
				res.Rows += n.Rows
				res.Created += n.Created
				res.Updated += n.Updated
				res.Unchanged += n.Unchanged
				for _, f := range failed {
					fail(f)
				}
				if progress != nil {
					progress(res.ImportProgress)
				}
				return nil
			}
			for rec := range t.rows() {
				if err := ctx.Err(); err != nil {
					return err
				}
				batch = append(batch, rec)
				if len(batch) == o.BatchSize {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			if err := flush(); err != nil {
				return err
			}
			if o.AllOrNothing && res.Failed > 0 {
				return errAllOrNothing
			}
			return nil
		}
		return body(ctx, c)
	}
	var err error
	switch {
	case o.DryRun:
		err = ti.run(ctx, true, apply)
	case o.AllOrNothing:
		// Pipelines and companies the rows name, with the rows.
		err = ti.c.InTx(ctx, apply)
	default:
		err = apply(ctx, ti.c)
	}
	if errors.Is(err, errAllOrNothing) {
		res.Created, res.Updated, res.Unchanged = 0, 0, 0
		return res, fmt.Errorf("%w: %d of %d rows failed; nothing was imported", core.ErrInvalid, res.Failed, res.Rows)
	}
	return res, err
}
