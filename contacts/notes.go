package contacts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// Note is a text a user wrote about a contact.
type Note struct {
	ID        core.ID `json:"id"`
	ContactID core.ID `json:"contact_id"`
	// AuthorID is the id of the Actor who wrote it.
	AuthorID  string    `json:"author_id"`
	Body      string    `json:"body"`
	Pinned    bool      `json:"pinned"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// NewNote is the input of Notes.Create.
type NewNote struct {
	ContactID core.ID
	Body      string
	Pinned    bool
	// AuthorID defaults to the Actor in the context; one of them is required.
	AuthorID string
}

// NotePatch is the input of Notes.Update: nil fields stay as they are.
type NotePatch struct {
	Version int64
	Body    *string
	Pinned  *bool
}

// MaxNoteLen bounds a note's body, in characters.
const MaxNoteLen = 100_000

// Notes manages notes about contacts (c.Notes).
type Notes struct {
	sc   store.Scope
	repo repository
}

// newNotes returns the service for scope sc. Hosts use crm.CRM.Notes.
func newNotes(sc store.Scope) *Notes { return &Notes{sc: sc, repo: sqlRepository{}} }

const noteColumns = `n.id, n.contact_id, n.author_id, n.body, n.pinned, n.created_at, n.updated_at, n.version`

func scanNote(row scanner) (*Note, error) {
	var n Note
	if err := row.Scan(&n.ID, &n.ContactID, &n.AuthorID, &n.Body, &n.Pinned, &n.CreatedAt, &n.UpdatedAt, &n.Version); err != nil {
		return nil, err
	}
	n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	return &n, nil
}

func getNote(ctx context.Context, q store.Q, tenant string, id core.ID) (*Note, error) {
	return getNoteWhere(ctx, q, tenant, id, "", nil)
}

// visibleNote reads the note with id for action by g's actor: a note is
// visible when its contact is.
func visibleNote(ctx context.Context, g *guard, q store.Q, tenant string, id core.ID, action access.Action) (*Note, error) {
	cond, args := g.byContact("n", "n.contact_id")
	return fetch(g, "note", id, action, cond, args, func(extra string, args []any) (*Note, error) {
		return getNoteWhere(ctx, q, tenant, id, extra, args)
	})
}

// getNoteWhere reads the note with id where extra (" AND …", with args)
// holds too.
func getNoteWhere(ctx context.Context, q store.Q, tenant string, id core.ID, extra string, args []any) (*Note, error) {
	n, err := scanNote(q.QueryRow(ctx, `SELECT `+noteColumns+` FROM crm_notes n WHERE n.tenant_id = ? AND n.id = ?`+extra,
		append([]any{tenant, id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("note", id)
	}
	return n, err
}

func checkNote(v *core.ValidationError, body string) {
	if strings.TrimSpace(body) == "" {
		v.Add("body", "is required")
	}
	if !core.StorableText(body) {
		v.Add("body", "is not valid text (invalid UTF-8 or a NUL byte)")
	} else if len([]rune(body)) > MaxNoteLen {
		v.Add("body", "is longer than %d characters", MaxNoteLen)
	}
}

func noteEvent(tenant, typ string, n *Note) core.Event {
	return core.Event{TenantID: tenant, Type: typ, SubjectType: "note", SubjectID: n.ID, ContactID: core.About(n.ContactID),
		OccurredAt: n.UpdatedAt, Data: store.JSON(n)}
}

// Create stores a note about a contact and emits "note.created".
func (s *Notes) Create(ctx context.Context, in NewNote) (_ *Note, err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Notes.Create")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "note", core.NilID, access.Create)
	if err != nil {
		return nil, err
	}
	var out *Note
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		v := &core.ValidationError{}
		checkNote(v, in.Body)
		author := in.AuthorID
		if a, ok := core.ActorFrom(ctx); ok && author == "" {
			author = a.ID
		}
		if author == "" {
			v.Add("author_id", "is required (set it or put a core.Actor in the context)")
		}
		v.CheckText("author_id", author, MaxOwnerLen)
		if err := v.Err(); err != nil {
			return err
		}
		// A contact the actor does not see is one that does not exist.
		cond, cargs := g.contacts("c")
		if _, err := s.repo.getContact(ctx, tx.Q(), tenant, "c.id = ? AND "+cond, append([]any{in.ContactID}, cargs...)...); errors.Is(err, core.ErrNotFound) {
			return core.Invalid("contact_id", "contact %s does not exist", in.ContactID)
		} else if err != nil {
			return err
		}
		now := tx.Runtime().Now()
		n := &Note{ID: core.NewID(), ContactID: in.ContactID, AuthorID: author, Body: in.Body, Pinned: in.Pinned, CreatedAt: now, UpdatedAt: now, Version: 1}
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_notes (tenant_id, id, contact_id, author_id, body, pinned, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenant, n.ID, n.ContactID, n.AuthorID, n.Body, n.Pinned, n.CreatedAt, n.UpdatedAt, n.Version); err != nil {
			return err
		}
		out = n
		return tx.Emit(ctx, noteEvent(tenant, EventNoteCreated, n))
	})
	if err != nil {
		return nil, store.Wrap(err, "create note")
	}
	return out, nil
}

// Get returns the note with id.
func (s *Notes) Get(ctx context.Context, id core.ID) (_ *Note, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Notes.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	n, err := visibleNote(ctx, g, s.sc.Q(), tenant, id, access.Read)
	return n, g.done(ctx, store.Wrap(err, "get note"))
}

// Update edits a note if patch.Version is still its version (else
// ErrConflict) and emits "note.updated".
func (s *Notes) Update(ctx context.Context, id core.ID, patch NotePatch) (_ *Note, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Notes.Update", id)
	defer span.End(&err)

	if err := core.CheckVersion(patch.Version); err != nil {
		return nil, err
	}
	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return nil, err
	}
	var out *Note
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := visibleNote(ctx, g, tx.Q(), tenant, id, access.Update)
		if err != nil {
			return err
		}
		if cur.Version != patch.Version {
			return fmt.Errorf("%w: note %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, patch.Version)
		}
		next := *cur
		if patch.Body != nil {
			next.Body = *patch.Body
		}
		if patch.Pinned != nil {
			next.Pinned = *patch.Pinned
		}
		v := &core.ValidationError{}
		checkNote(v, next.Body)
		if err := v.Err(); err != nil {
			return err
		}
		if next.Body == cur.Body && next.Pinned == cur.Pinned {
			out = cur
			return nil
		}
		next.UpdatedAt = tx.Runtime().Now()
		next.Version++
		res, err := tx.Q().Exec(ctx, `UPDATE crm_notes SET body = ?, pinned = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, next.Body, next.Pinned, next.UpdatedAt, next.Version, tenant, id, cur.Version)
		if err != nil {
			return err
		}
		if err := staleIfNone(res, "note", id); err != nil {
			return err
		}
		out = &next
		return tx.Emit(ctx, noteEvent(tenant, EventNoteUpdated, out))
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "update note"))
	}
	return out, nil
}

// Delete removes a note and emits "note.deleted".
func (s *Notes) Delete(ctx context.Context, id core.ID) (err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Notes.Delete", id)
	defer span.End(&err)

	g, err := guardOf(ctx, s.sc)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		n, err := visibleNote(ctx, g, tx.Q(), tenant, id, access.Delete)
		if err != nil {
			return err
		}
		if _, err := tx.Q().Exec(ctx, `DELETE FROM crm_notes WHERE tenant_id = ? AND id = ?`, tenant, id); err != nil {
			return err
		}
		n.UpdatedAt = tx.Runtime().Now()
		return tx.Emit(ctx, noteEvent(tenant, EventNoteDeleted, n))
	})
	return g.done(ctx, store.Wrap(err, "delete note"))
}

// NoteSchema is the filter allowlist of notes.
var NoteSchema = filter.NewSchema("note", "",
	filter.Field{Name: "contact_id", Column: "n.contact_id", Type: filter.ID},
	filter.Field{Name: "author_id", Column: "n.author_id", Type: filter.String},
	filter.Field{Name: "created_at", Column: "n.created_at", Type: filter.Time, Sortable: true},
	filter.Field{Name: "updated_at", Column: "n.updated_at", Type: filter.Time, Sortable: true},
)

// FilterValue implements filter.Record.
func (n *Note) FilterValue(field string) any {
	switch field {
	case "contact_id":
		return n.ContactID
	case "author_id":
		return n.AuthorID
	case "created_at":
		return n.CreatedAt
	case "updated_at":
		return n.UpdatedAt
	}
	return nil
}

// NoteListOptions select, order and page notes.
type NoteListOptions struct {
	// ContactID selects one contact's notes; NilID selects all.
	ContactID core.ID
	Filter    filter.Expr
	// Sort is "created_at" or "updated_at", "-" for descending; default
	// "-created_at".
	Sort   string
	Limit  int
	Cursor string
}

// List returns one page of notes.
func (s *Notes) List(ctx context.Context, opts NoteListOptions) (_ core.Page[*Note], err error) {
	ctx, span := s.sc.Span(ctx, "contacts.Notes.List")
	defer span.End(&err)

	g, err := check(ctx, s.sc, "note", core.NilID, access.Read)
	if err != nil {
		return core.Page[*Note]{}, err
	}
	f := opts.Filter
	if opts.ContactID != core.NilID {
		f = filter.And(f, filter.Eq("contact_id", opts.ContactID.String()))
	}
	plan, err := s.sc.PlanList(store.ListRequest{Schema: NoteSchema, Filter: f, Sort: opts.Sort, DefaultSort: "-created_at",
		Limit: opts.Limit, Cursor: opts.Cursor, Visible: g.visible(g.byContact("n", "n.contact_id"))})
	if err != nil {
		return core.Page[*Note]{}, err
	}
	tenant, _ := s.sc.Tenant()
	notes, err := store.ListPage(ctx, s.sc.Q(), tenant, `SELECT `+noteColumns+` FROM crm_notes n `, "n", plan, scanNote)
	if err != nil {
		return core.Page[*Note]{}, store.Wrap(err, "list notes")
	}
	return store.PageOf(s.sc, plan, notes, func(n *Note) (any, core.ID) { return plan.Sort.Field.SortKey(n), n.ID })
}

// MaxPinned bounds how many pinned notes Pinned returns.
const MaxPinned = 100

// Pinned returns a contact's pinned notes, newest first (at most
// MaxPinned), for the top of a contact view.
func (s *Notes) Pinned(ctx context.Context, contactID core.ID) (_ []*Note, err error) {
	ctx, span := s.sc.SpanID(ctx, "contacts.Notes.Pinned", contactID)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "note", core.NilID, access.Read)
	if err != nil {
		return nil, err
	}
	cond, cargs := g.byContact("n", "n.contact_id")
	rows, err := s.sc.Q().Query(ctx, `SELECT `+noteColumns+` FROM crm_notes n WHERE n.tenant_id = ? AND n.contact_id = ? AND n.pinned = ?
		AND `+cond+` ORDER BY n.created_at DESC, n.id DESC LIMIT ?`, append(append([]any{tenant, contactID, true}, cargs...), MaxPinned)...)
	if err != nil {
		return nil, store.Wrap(err, "pinned notes")
	}
	notes := []*Note{}
	err = store.EachRow(rows, func(r scanner) error {
		n, err := scanNote(r)
		if err == nil {
			notes = append(notes, n)
		}
		return err
	})
	return notes, store.Wrap(err, "pinned notes")
}
