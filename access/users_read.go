package access

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// Reading users: one by id, a page of them.

// Get returns the user with the host's id.
func (s *Users) Get(ctx context.Context, id string) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Get")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if !core.StorableText(id) {
		return nil, core.Invalid("id", "is not valid text")
	}
	if _, err := check(ctx, s.sc, "user", UserSubjectID(id), Read); err != nil {
		return nil, err
	}
	u, err := getUser(ctx, s.sc.Q(), tenant, id, false)
	return u, store.Wrap(err, "get user")
}

// UserListOptions select a page of users.
type UserListOptions struct {
	// ActiveOnly leaves out deactivated users.
	ActiveOnly bool
	// Limit is 1 to 1000; 0 means 100.
	Limit int
	// Cursor continues a previous page (Page.Next).
	Cursor string
}

// List returns a page of the tenant's users, by id.
func (s *Users) List(ctx context.Context, opts UserListOptions) (_ core.Page[*User], err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.List")
	defer span.End(&err)

	var page core.Page[*User]
	tenant, err := s.sc.Tenant()
	if err != nil {
		return page, err
	}
	limit := opts.Limit
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return page, core.Invalid("limit", "must be between 1 and 1000")
	}
	if _, err := check(ctx, s.sc, "user", core.NilID, Read); err != nil {
		return page, err
	}
	cursors := s.sc.Runtime().Cursors
	scope := "access.users:" + tenant + ":" + fmt.Sprint(opts.ActiveOnly)
	after := ""
	if opts.Cursor != "" {
		vals, err := cursors.Decode(scope, opts.Cursor)
		if err != nil || len(vals) != 1 || json.Unmarshal(vals[0], &after) != nil {
			return page, core.Invalid("cursor", "is not a cursor of this list")
		}
	}
	where := "u.tenant_id = ? AND u.id > ?"
	if opts.ActiveOnly {
		where += " AND u.active = " + s.sc.Runtime().Dialect.True()
	}
	users, err := listUsers(ctx, s.sc.Q(), tenant, where+" ORDER BY u.id LIMIT ?", tenant, after, limit+1)
	if err != nil {
		return page, store.Wrap(err, "list users")
	}
	if len(users) > limit {
		users = users[:limit]
		if page.Next, err = cursors.Encode(scope, users[limit-1].ID); err != nil {
			return page, err
		}
	}
	page.Items = users
	return page, nil
}
