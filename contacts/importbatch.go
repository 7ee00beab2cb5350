package contacts

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// An import batch runs in one transaction, in three steps:
//
//  1. every row is checked on its own (shape, field definitions) and against
//     the earlier rows of its batch (a repeated email or external id);
//  2. three queries per batch find which of the rows' emails, external ids
//     and companies exist, and which of those contacts this import has
//     already written (their import_id): a row that repeats an earlier
//     batch's email or external id is an error, as within a batch;
//  3. rows whose keys are all new are written in bulk — contacts, external
//     ids, search documents and "contact.created" events, each as one COPY
//     (PostgreSQL) or a few multi-row INSERTs (SQLite) — and the rows that
//     match an existing contact are upserted one by one, each in a
//     savepoint, as Upsert does.
//
// When the bulk write hits a unique index or a foreign key (a concurrent
// writer took an email or external id, or deleted a company, after step 2),
// its savepoint is rolled back and those rows take the one-by-one path,
// which sorts them out. On SQLite this cannot happen: the batch holds the
// write lock from its first statement.

// importCounts is what importBatch adds to the result.
type importCounts struct {
	created, updated, unchanged int64
}

// freshRow is a row checked in step 1 and found new in step 2.
type freshRow struct {
	row   *ImportRow
	c     *Contact
	attrs []byte
}

// importBatch imports one batch in bsc's transaction. report records a
// failed row; it is called in the order of the rows' lines.
func (s *Service) importBatch(ctx context.Context, g *guard, bsc store.Scope, importID core.ID, batch []ImportRow, report func(...RowError)) (importCounts, error) {
	var n importCounts
	var failed [][]RowError
	fail := func(errs ...RowError) { failed = append(failed, errs) }
	defer func() {
		slices.SortStableFunc(failed, func(a, b []RowError) int { return a[0].Line - b[0].Line })
		for _, errs := range failed {
			report(errs...)
		}
	}()
	tenant, _ := bsc.Tenant()
	tx := bsc.Tx()
	q := tx.Q()
	now := tx.Runtime().Now()
	defs, err := fields.Module.List(ctx, q, tenant, EntityContact)
	if err != nil {
		return n, err
	}

	// Step 1: check each row.
	seen := map[string]int{}
	checked := make([]freshRow, 0, len(batch))
	for i := range batch {
		r := &batch[i]
		if r.Err != nil {
			fail(RowError{Line: r.Line, Message: r.Err.Error()})
			continue
		}
		if dup := duplicateIn(seen, *r); dup != "" {
			fail(RowError{Line: r.Line, Column: "email", Message: dup})
			continue
		}
		in := r.Contact
		in.ExternalIDs = append([]ExternalID(nil), in.ExternalIDs...)
		in.normalize()
		c, attrs, err := newContact(in, now, defs)
		if err != nil {
			fail(rowErrors(r.Line, err)...)
			continue
		}
		checked = append(checked, freshRow{row: r, c: c, attrs: attrs})
	}

	// Step 2: which keys exist.
	var emails, companies []string
	var extIDs []ExternalID
	for _, f := range checked {
		if f.c.Email != "" {
			emails = append(emails, f.c.Email)
		}
		extIDs = append(extIDs, f.c.ExternalIDs...)
		if f.c.CompanyID != nil {
			companies = append(companies, f.c.CompanyID.String())
		}
	}
	takenEmail, err := existingKeys(ctx, q, `SELECT email, COALESCE(import_id = ?, FALSE) FROM crm_contacts
		WHERE tenant_id = ? AND email <> '' AND `+q.D.InList("email", "text"), []any{importID, tenant}, emails)
	if err != nil {
		return n, err
	}
	takenExt, err := existingExternalIDs(ctx, q, tenant, importID, extIDs)
	if err != nil {
		return n, err
	}
	knownCompany, err := existingKeys(ctx, q, `SELECT id, FALSE FROM crm_companies WHERE tenant_id = ? AND `+q.D.InList("id", "uuid"), []any{tenant}, companies)
	if err != nil {
		return n, err
	}
	// Suppressed addresses (erased or objected people) are not imported.
	var suppressed map[string]bool
	if sup := s.sc.Runtime().ImportSuppression; sup != nil {
		var phones []string
		for _, f := range checked {
			if f.c.Phone != "" {
				phones = append(phones, f.c.Phone)
			}
		}
		if suppressed, err = sup(ctx, bsc, emails, phones); err != nil {
			return n, err
		}
	}
	var fresh []freshRow
	var oneByOne []*ImportRow
	for _, f := range checked {
		if suppressed[f.c.Email] || suppressed[f.c.Phone] {
			column := "email"
			if !suppressed[f.c.Email] {
				column = "phone"
			}
			fail(RowError{Line: f.row.Line, Column: column, Message: "is on the suppression list (an erased or objecting person); it is not imported"})
			continue
		}
		// again is the first key an earlier line of this import wrote.
		var again RowError
		mine, matched := takenEmail[f.c.Email]
		if mine {
			again = RowError{Line: f.row.Line, Column: "email", Message: "the same email as an earlier line of this import"}
		}
		for _, x := range f.c.ExternalIDs {
			mine, ok := takenExt[x]
			matched = matched || ok
			if mine && again.Column == "" {
				again = RowError{Line: f.row.Line, Column: "external_ids", Message: "the same external id as an earlier line of this import"}
			}
		}
		switch {
		case again.Column != "":
			fail(again)
		case matched:
			oneByOne = append(oneByOne, f.row)
		case f.c.CompanyID != nil && !known(knownCompany, f.c.CompanyID.String()):
			fail(RowError{Line: f.row.Line, Column: "company_id", Message: "company " + f.c.CompanyID.String() + " does not exist"})
		default:
			fresh = append(fresh, f)
		}
	}

	// Step 3: new contacts in bulk, the others one by one.
	switch {
	case len(fresh) > 0 && q.D.SerialWrites:
		// No writer can have taken a key since step 2, so no savepoint:
		// on SQLite it copied every page the batch wrote into a statement
		// journal, and an import of 200k contacts ran a third faster
		// without it.
		if err := insertContacts(ctx, tx, tenant, importID, fresh); err != nil {
			return n, err
		}
		n.created += int64(len(fresh))
	case len(fresh) > 0:
		err := bsc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			return insertContacts(ctx, tx, tenant, importID, fresh)
		})
		switch {
		case err == nil:
			n.created += int64(len(fresh))
		case dialect.IsUniqueViolation(err) || dialect.IsForeignKeyViolation(err):
			// A concurrent writer took a key or deleted a company since
			// step 2: the one-by-one path reports or updates each row.
			for _, f := range fresh {
				oneByOne = append(oneByOne, f.row)
			}
		default:
			return n, err
		}
	}
	// In the order of their keys, not of their lines: two imports (or an
	// import and a merge) that lock the same contacts then lock them in the
	// same order instead of deadlocking. Failures are reported by line all
	// the same (fail sorts them).
	slices.SortStableFunc(oneByOne, func(a, b *ImportRow) int { return strings.Compare(lockKey(a), lockKey(b)) })
	svc := &Service{sc: bsc, repo: s.repo}
	for _, r := range oneByOne {
		var o outcome
		err := bsc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			var c *Contact
			if c, o, err = svc.upsert(ctx, tx, g, r.Contact); err != nil {
				return err
			}
			// Marked as this import's, so that a later line with its
			// email or external id is reported (step 2).
			_, err = tx.Q().Exec(ctx, `UPDATE crm_contacts SET import_id = ? WHERE tenant_id = ? AND id = ?`, importID, tenant, c.ID)
			return err
		})
		err = store.Wrap(err, "import contact") // a deadlock is a conflict of this row
		switch {
		case err == nil && o == outcomeCreated:
			n.created++
		case err == nil && o == outcomeUpdated:
			n.updated++
		case err == nil:
			n.unchanged++
		case errors.Is(err, core.ErrInvalid) || errors.Is(err, core.ErrConflict):
			fail(rowErrors(r.Line, err)...)
		default:
			return n, err
		}
	}
	return n, nil
}

// lockKey is the key by which a row finds its contact (Upsert's order:
// the first external id, else the email).
func lockKey(r *ImportRow) string {
	if len(r.Contact.ExternalIDs) > 0 {
		x := slices.MinFunc(r.Contact.ExternalIDs, compareExternalIDs)
		return "x\x00" + x.Source + "\x00" + x.ID
	}
	return "e\x00" + strings.ToLower(strings.TrimSpace(r.Contact.Email))
}

// insertContacts writes new contacts, their external ids, search documents
// and events in bulk. The contacts' ids are UUIDv7, made in order by this
// process, so one id range selects them for indexing.
func insertContacts(ctx context.Context, tx *store.Tx, tenant string, importID core.ID, fresh []freshRow) error {
	rows := make([][]any, len(fresh))
	var extRows [][]any
	events := make([]core.Event, len(fresh))
	lo, hi := fresh[0].c.ID, fresh[0].c.ID
	for i, f := range fresh {
		c := f.c
		c.ImportID = &importID
		rows[i] = []any{tenant, c.ID, c.Email, c.Phone, c.FirstName, c.LastName, store.NullID(c.CompanyID),
			string(c.LifecycleStage), c.OwnerID, tagsJSON(c.Tags), string(f.attrs), c.CreatedAt, c.UpdatedAt, c.Version, importID}
		for _, x := range c.ExternalIDs {
			extRows = append(extRows, []any{tenant, x.Source, x.ID, c.ID, c.CreatedAt})
		}
		if bytes.Compare(c.ID[:], lo[:]) < 0 {
			lo = c.ID
		}
		if bytes.Compare(c.ID[:], hi[:]) > 0 {
			hi = c.ID
		}
		slices.SortFunc(c.ExternalIDs, compareExternalIDs)
		events[i] = core.Event{TenantID: tenant, Type: EventContactCreated, SubjectType: "contact", SubjectID: c.ID,
			OccurredAt: c.CreatedAt, Data: store.JSON(c)}
	}
	if err := tx.InsertRows(ctx, "crm_contacts", contactInsertColumns, rows); err != nil {
		return err
	}
	if err := tx.InsertRows(ctx, "crm_contact_external_ids", externalIDInsertColumns, extRows); err != nil {
		return err
	}
	q := tx.Q()
	if _, err := q.Exec(ctx, contactDocSQL(q.D, "c.id >= ? AND c.id <= ?"), core.NilID, tenant, lo, hi); err != nil {
		return err
	}
	return tx.EmitAll(ctx, events)
}

var (
	contactInsertColumns = []string{"tenant_id", "id", "email", "phone", "first_name", "last_name", "company_id",
		"lifecycle_stage", "owner_id", "tags", "attributes", "created_at", "updated_at", "version", "import_id"}
	externalIDInsertColumns = []string{"tenant_id", "source", "external_id", "contact_id", "created_at"}
)

// existingKeys runs sel, a query of two columns (a key, and whether this
// import wrote its contact) whose last parameter is the list of keys (see
// dialect.InList), and returns the keys found, as text, each with its flag.
func existingKeys(ctx context.Context, q store.Q, sel string, params []any, keys []string) (map[string]bool, error) {
	found := map[string]bool{}
	if len(keys) == 0 {
		return found, nil
	}
	// Planned per call: a cached plan made while the table was small (at
	// the start of an import) would scan it.
	rows, err := q.PlanPerCall().Query(ctx, sel, append(params, q.D.ListArg(keys))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var mine bool
		if err := rows.Scan(&k, &mine); err != nil {
			return nil, err
		}
		found[k] = mine
	}
	return found, rows.Err()
}

// existingExternalIDs returns which of ids are linked to a contact, each
// with whether this import wrote that contact.
//
// Each id is looked up on its own, by the whole primary key, in a subquery
// per element of the list: not as x.external_id = ANY(list) with tenant_id
// and source, which PostgreSQL, with no statistics on a table an import is
// filling (autovacuum had not analysed it), estimated at one row for the
// key's first two columns and ran as a scan of the source's every id,
// filtered by the list — 1 s per batch at 100k ids, an import quadratic in
// the table. A probe by the whole key has no cheaper-looking plan to lose
// to. It is still planned per call: a plan cached while the table was
// empty may scan it.
func existingExternalIDs(ctx context.Context, q store.Q, tenant string, importID core.ID, ids []ExternalID) (map[ExternalID]bool, error) {
	bySource := map[string][]string{}
	for _, x := range ids {
		bySource[x.Source] = append(bySource[x.Source], x.ID)
	}
	sel := externalIDLookup(q.D)
	found := map[ExternalID]bool{}
	for source, keys := range bySource {
		rows, err := q.PlanPerCall().Query(ctx, sel, importID, tenant, source, q.D.ListArg(keys))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var mine sql.NullBool
			if err := rows.Scan(&id, &mine); err != nil {
				rows.Close()
				return nil, err
			}
			if mine.Valid {
				found[ExternalID{Source: source, ID: id}] = mine.Bool
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// externalIDLookup is existingExternalIDs' query: parameters the import's
// id, the tenant, a source and the list of ids (ListArg); one row per id of
// the list, with NULL when no contact has it.
func externalIDLookup(d *dialect.Dialect) string {
	list := "json_each(?)"
	if d.Kind == dialect.Postgres {
		list = "jsonb_array_elements_text(?::jsonb)"
	}
	return `SELECT k.value, (SELECT COALESCE(c.import_id = ?, FALSE)
			FROM crm_contact_external_ids x JOIN crm_contacts c ON c.tenant_id = x.tenant_id AND c.id = x.contact_id
			WHERE x.tenant_id = ? AND x.source = ? AND x.external_id = k.value)
		FROM ` + list + ` k`
}

// known reports whether existingKeys found key.
func known(found map[string]bool, key string) bool {
	_, ok := found[key]
	return ok
}
