package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Limits of users.
const (
	MaxUserIDLen      = 200
	MaxDisplayNameLen = 200
	MaxEmailLen       = 254
	MaxUserRoles      = 20
	MaxFramesPerDay   = 6
)

// User is one of the tenant's staff: someone who acts in the CRM (an
// Actor's ID names them), owns records and works in teams. crmkit does
// no login: the host gives the id and says who is acting.
type User struct {
	// ID is the host's id for the user ("user-42"), the Actor.ID of their
	// calls.
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email,omitempty"`
	// Active users may act, be assigned roles and join teams; a user is
	// deactivated (Users.Deactivate) rather than deleted, so the records
	// they own keep their owner.
	Active bool `json:"active"`
	// TimeZone is an IANA zone name ("Europe/Berlin"); WorkingHours are in
	// it.
	TimeZone     string       `json:"time_zone"`
	WorkingHours WorkingHours `json:"working_hours,omitempty"`
	// OutOfOffice is an absence, when one is planned.
	OutOfOffice *Period `json:"out_of_office,omitempty"`
	// Roles are the names of the user's roles, sorted.
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// UserInput is what Users.Create and Users.Update take. Update replaces
// every field with the input's.
type UserInput struct {
	// ID is the host's id for the user (Create only; Update takes it
	// apart): 1 to 200 characters, no control characters.
	ID          string
	DisplayName string
	Email       string
	// TimeZone defaults to "UTC".
	TimeZone     string
	WorkingHours WorkingHours
	OutOfOffice  *Period
	// Roles names roles of the tenant.
	Roles []string
}

// Period is a span of time, From included, Until excluded.
type Period struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// Contains reports whether t lies in p.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.Until) }

// WorkingHours are the time frames a user works in, by day of the week:
// keys "mon", "tue", "wed", "thu", "fri", "sat", "sun", each with one or
// more frames in the user's time zone that do not overlap. A day without
// a key is a day off.
type WorkingHours map[string][]Frame

// Frame is one span of a working day, "09:00" to "17:00": Start before
// End, both "HH:MM" (End may be "24:00").
type Frame struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// weekdays are the keys of WorkingHours, by time.Weekday.
var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// clockMinutes parses "HH:MM" into minutes after midnight; "24:00" only
// when end.
func clockMinutes(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	var h, m int
	for _, c := range s[:2] + s[3:] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	h = int(s[0]-'0')*10 + int(s[1]-'0')
	m = int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, false
	}
	return h*60 + m, true
}

func (w WorkingHours) check(v *core.ValidationError, field string) {
	for day, frames := range w {
		f := field + "." + day
		if !slices.Contains(weekdays, day) {
			v.Add(f, "%q is not a day (one of mon, tue, wed, thu, fri, sat, sun)", day)
			continue
		}
		if len(frames) == 0 || len(frames) > MaxFramesPerDay {
			v.Add(f, "needs 1 to %d time frames (leave a day off out)", MaxFramesPerDay)
			continue
		}
		type span struct{ start, end, i int }
		var spans []span
		for i, fr := range frames {
			ff := fmt.Sprintf("%s[%d]", f, i)
			start, ok1 := clockMinutes(fr.Start, false)
			end, ok2 := clockMinutes(fr.End, true)
			switch {
			case !ok1 || !ok2:
				v.Add(ff, "must be two times HH:MM, such as 09:00 and 17:00")
			case start >= end:
				v.Add(ff, "starts at %s, not before its end %s", fr.Start, fr.End)
			default:
				spans = append(spans, span{start, end, i})
			}
		}
		slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
		for k := 1; k < len(spans); k++ {
			if spans[k].start < spans[k-1].end {
				v.Add(fmt.Sprintf("%s[%d]", f, spans[k].i), "overlaps %s[%d]", f, spans[k-1].i)
			}
		}
	}
}

// Working reports whether t falls in u's working hours, in u's time zone.
// A user without working hours counts as always working.
func (u *User) Working(t time.Time) bool {
	if len(u.WorkingHours) == 0 {
		return true
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	local := t.In(loc)
	minute := local.Hour()*60 + local.Minute()
	for _, fr := range u.WorkingHours[weekdays[local.Weekday()]] {
		start, _ := clockMinutes(fr.Start, false)
		end, _ := clockMinutes(fr.End, true)
		if minute >= start && minute < end {
			return true
		}
	}
	return false
}

// Away reports whether u is out of office at t.
func (u *User) Away(t time.Time) bool { return u.OutOfOffice != nil && u.OutOfOffice.Contains(t) }

// Available reports whether u can take work at t: active and not out of
// office.
func (u *User) Available(t time.Time) bool { return u.Active && !u.Away(t) }

// UserSubjectID is the Event.SubjectID of the events about the user with
// the host's id (user ids are the host's strings, event subjects are
// ids): a name-based UUID of it.
func UserSubjectID(id string) core.ID {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("crmkit-user\x00"+id))
}

// checkUserID adds a problem for field unless id can be a user's id.
func checkUserID(v *core.ValidationError, field, id string) {
	if strings.TrimSpace(id) == "" {
		v.Add(field, "is required")
		return
	}
	v.CheckText(field, id, MaxUserIDLen)
}

// Users manages the tenant's users (c.Access.Users).
type Users struct {
	sc store.Scope
}

// normalize trims in and checks it; the problems are added to v.
func (in *UserInput) normalize(v *core.ValidationError) {
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	in.Email = strings.TrimSpace(in.Email)
	in.TimeZone = strings.TrimSpace(in.TimeZone)
	if in.TimeZone == "" {
		in.TimeZone = "UTC"
	}
	if in.DisplayName == "" {
		v.Add("display_name", "is required")
	}
	v.CheckText("display_name", in.DisplayName, MaxDisplayNameLen)
	if in.Email != "" {
		a, err := mail.ParseAddress(in.Email)
		if err != nil || a.Address != in.Email || len(in.Email) > MaxEmailLen || !core.StorableText(in.Email) {
			v.Add("email", "is not a valid address")
		}
	}
	if _, err := time.LoadLocation(in.TimeZone); err != nil || !core.StorableText(in.TimeZone) || strings.EqualFold(in.TimeZone, "local") {
		v.Add("time_zone", "is not an IANA time zone name such as Europe/Berlin")
	}
	in.WorkingHours.check(v, "working_hours")
	if p := in.OutOfOffice; p != nil {
		v.CheckTime("out_of_office.from", p.From)
		v.CheckTime("out_of_office.until", p.Until)
		if !p.From.Before(p.Until) {
			v.Add("out_of_office", "from must be before until")
		}
		p.From, p.Until = core.NormalizeTime(p.From), core.NormalizeTime(p.Until)
	}
	if len(in.Roles) > MaxUserRoles {
		v.Add("roles", "at most %d", MaxUserRoles)
	}
	for i, r := range in.Roles {
		if !ValidRoleName(r) {
			v.Add(fmt.Sprintf("roles[%d]", i), "%q is not a role name", r)
		} else if slices.Contains(in.Roles[:i], r) {
			v.Add(fmt.Sprintf("roles[%d]", i), "%q is listed twice", r)
		}
	}
}

// Create stores a new, active user and emits "user.created". The id is
// the host's; one that is taken is ErrConflict. Every role must exist in
// the tenant.
func (s *Users) Create(ctx context.Context, in UserInput) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Create")
	defer span.End(&err)

	v := &core.ValidationError{}
	checkUserID(v, "id", in.ID)
	in.normalize(v)
	in.Roles = slices.Clone(in.Roles)
	if in.OutOfOffice != nil {
		p := *in.OutOfOffice
		in.OutOfOffice = &p
	}
	g, err := check(ctx, s.sc, "user", UserSubjectID(in.ID), Manage)
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		roleIDs, err := roleIDsByName(ctx, q, tenant, v, in.Roles)
		if err != nil {
			return err
		}
		if err := v.Err(); err != nil {
			return err
		}
		if beyond, err := g.rolesWithin(ctx, q, tenant, in.Roles); err != nil || beyond != "" {
			if err != nil {
				return err
			}
			return g.forbid("user", UserSubjectID(in.ID), "role "+beyond+" grants more than the actor has")
		}
		now := tx.Runtime().Now()
		u := &User{ID: in.ID, DisplayName: in.DisplayName, Email: in.Email, Active: true, TimeZone: in.TimeZone,
			WorkingHours: in.WorkingHours, OutOfOffice: in.OutOfOffice, Roles: sortedRoles(in.Roles), CreatedAt: now, UpdatedAt: now, Version: 1}
		from, until := u.away()
		_, err = q.Exec(ctx, `INSERT INTO crm_users (tenant_id, id, display_name, email, active, time_zone, working_hours,
			away_from, away_until, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, u.ID, u.DisplayName, u.Email, true, u.TimeZone, hoursJSON(u.WorkingHours), from, until, now, now, u.Version)
		if dialect.IsUniqueViolation(err) {
			return fmt.Errorf("%w: user %s exists", core.ErrConflict, u.ID)
		}
		if err != nil {
			return err
		}
		if err := setUserRoles(ctx, q, tenant, u.ID, roleIDs); err != nil {
			return err
		}
		if err := g.noWider(ctx, s.sc.WithTx(tx), "user", UserSubjectID(u.ID)); err != nil {
			return err
		}
		out = u
		return tx.Emit(ctx, userEvent(tenant, EventUserCreated, now, u))
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "create user"))
	}
	return out, nil
}

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

// Update replaces the user's fields with in's (its ID may be "" or the
// user's) if version is still the user's, and emits "user.updated" with
// the names of the fields that changed. A deactivated user gets no new
// roles.
func (s *Users) Update(ctx context.Context, id string, version int64, in UserInput) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Update")
	defer span.End(&err)

	v := &core.ValidationError{}
	if in.ID != "" && in.ID != id {
		v.Add("id", "cannot change (it is the host's id of the user)")
	}
	in.normalize(v)
	in.Roles = slices.Clone(in.Roles)
	if in.OutOfOffice != nil {
		p := *in.OutOfOffice
		in.OutOfOffice = &p
	}
	return s.change(ctx, id, version, "update user", func(ctx context.Context, q store.Q, tenant string, u *User) ([]core.ID, error) {
		roleIDs, err := roleIDsByName(ctx, q, tenant, v, in.Roles)
		if err != nil {
			return nil, err
		}
		if !u.Active {
			for i, r := range in.Roles {
				if !slices.Contains(u.Roles, r) {
					v.Add(fmt.Sprintf("roles[%d]", i), "cannot be assigned: user %s is deactivated", id)
				}
			}
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		u.DisplayName, u.Email, u.TimeZone, u.WorkingHours, u.OutOfOffice = in.DisplayName, in.Email, in.TimeZone, in.WorkingHours, in.OutOfOffice
		u.Roles = sortedRoles(in.Roles)
		return roleIDs, nil
	})
}

// Deactivate marks the user inactive and emits "user.deactivated". The
// user keeps their roles and team memberships (records stay visible to
// their teams), but resolves to no permission and is passed over by team
// assignment; they get no new roles or memberships until activated.
func (s *Users) Deactivate(ctx context.Context, id string, version int64) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Deactivate")
	defer span.End(&err)

	return s.setActive(ctx, id, version, false)
}

// Activate marks a deactivated user active again and emits "user.updated"
// (changed: active).
func (s *Users) Activate(ctx context.Context, id string, version int64) (_ *User, err error) {
	ctx, span := s.sc.Span(ctx, "access.Users.Activate")
	defer span.End(&err)

	return s.setActive(ctx, id, version, true)
}

func (s *Users) setActive(ctx context.Context, id string, version int64, active bool) (*User, error) {
	doing := "deactivate user"
	if active {
		doing = "activate user"
	}
	return s.change(ctx, id, version, doing, func(ctx context.Context, q store.Q, tenant string, u *User) ([]core.ID, error) {
		if u.Active == active {
			return nil, core.Invalid("active", "user %s is %s already", id, map[bool]string{true: "active", false: "deactivated"}[active])
		}
		u.Active = active
		return nil, nil
	})
}

// change runs fn on the user with id, locked, if version is still its
// version; fn edits u and returns the ids of its new roles (nil: the
// roles stay). The user is then written, the version bumped and the event
// emitted.
func (s *Users) change(ctx context.Context, id string, version int64, doing string,
	fn func(ctx context.Context, q store.Q, tenant string, u *User) ([]core.ID, error)) (*User, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	if !core.StorableText(id) {
		return nil, core.Invalid("id", "is not valid text")
	}
	g, err := check(ctx, s.sc, "user", UserSubjectID(id), Manage)
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		u, err := getUser(ctx, q, tenant, id, true)
		if err != nil {
			return err
		}
		if u.Version != version {
			return fmt.Errorf("%w: user %s is at version %d, not %d; read it again", core.ErrConflict, id, u.Version, version)
		}
		// An actor changes only users whose roles lie within their own
		// permissions, and gives only such roles.
		if beyond, err := g.rolesWithin(ctx, q, tenant, u.Roles); err != nil || beyond != "" {
			if err != nil {
				return err
			}
			return g.forbid("user", UserSubjectID(id), "the user holds role "+beyond+", which grants more than the actor has")
		}
		before := *u
		roleIDs, err := fn(ctx, q, tenant, u)
		if err != nil {
			return err
		}
		if beyond, err := g.rolesWithin(ctx, q, tenant, u.Roles); err != nil || beyond != "" {
			if err != nil {
				return err
			}
			return g.forbid("user", UserSubjectID(id), "role "+beyond+" grants more than the actor has")
		}
		u.UpdatedAt = tx.Runtime().Now()
		u.Version++
		from, until := u.away()
		res, err := q.Exec(ctx, `UPDATE crm_users SET display_name = ?, email = ?, active = ?, time_zone = ?, working_hours = ?,
			away_from = ?, away_until = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND id = ? AND version = ?`,
			u.DisplayName, u.Email, u.Active, u.TimeZone, hoursJSON(u.WorkingHours), from, until, u.UpdatedAt, u.Version, tenant, id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: user %s was changed by someone else; read it again", core.ErrConflict, id)
		}
		if roleIDs != nil {
			if err := setUserRoles(ctx, q, tenant, id, roleIDs); err != nil {
				return err
			}
		}
		if err := g.noWider(ctx, s.sc.WithTx(tx), "user", UserSubjectID(id)); err != nil {
			return err
		}
		out = u
		if before.Active && !u.Active {
			return tx.Emit(ctx, userEvent(tenant, EventUserDeactivated, u.UpdatedAt, u))
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventUserUpdated, SubjectType: "user", SubjectID: UserSubjectID(id),
			OccurredAt: u.UpdatedAt, Data: store.JSON(UserUpdated{User: u, Changed: userChanges(&before, u)})})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, doing))
	}
	return out, nil
}

// userChanges names the fields that differ between a and b.
func userChanges(a, b *User) []string {
	changed := []string{}
	add := func(name string, differ bool) {
		if differ {
			changed = append(changed, name)
		}
	}
	add("display_name", a.DisplayName != b.DisplayName)
	add("email", a.Email != b.Email)
	add("active", a.Active != b.Active)
	add("time_zone", a.TimeZone != b.TimeZone)
	add("working_hours", hoursJSON(a.WorkingHours) != hoursJSON(b.WorkingHours))
	add("out_of_office", string(store.JSON(a.OutOfOffice)) != string(store.JSON(b.OutOfOffice)))
	add("roles", !slices.Equal(a.Roles, b.Roles))
	return changed
}

func userEvent(tenant, typ string, at time.Time, u *User) core.Event {
	return core.Event{TenantID: tenant, Type: typ, SubjectType: "user", SubjectID: UserSubjectID(u.ID), OccurredAt: at, Data: store.JSON(u)}
}

func (u *User) away() (from, until any) {
	if u.OutOfOffice == nil {
		return nil, nil
	}
	return u.OutOfOffice.From, u.OutOfOffice.Until
}

func hoursJSON(w WorkingHours) string {
	if len(w) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(w) // map keys sorted: equal hours, equal text
	return string(b)
}

func sortedRoles(names []string) []string {
	out := slices.Clone(names)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

// roleIDsByName returns the ids of the roles named names (in their
// order), adding "no such role" to v for each that does not exist in
// tenant; one query.
func roleIDsByName(ctx context.Context, q store.Q, tenant string, v *core.ValidationError, names []string) ([]core.ID, error) {
	if len(names) == 0 {
		return []core.ID{}, nil
	}
	rows, err := q.Query(ctx, `SELECT name, id FROM crm_roles WHERE tenant_id = ? AND `+q.D.InList("name", "text"), tenant, q.D.ListArg(names))
	if err != nil {
		return nil, err
	}
	byName := map[string]core.ID{}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		var name string
		var id core.ID
		err := r.Scan(&name, &id)
		byName[name] = id
		return err
	}); err != nil {
		return nil, err
	}
	ids := make([]core.ID, 0, len(names))
	for i, n := range names {
		id, ok := byName[n]
		if !ok {
			if !v.Has(fmt.Sprintf("roles[%d]", i)) {
				v.Add(fmt.Sprintf("roles[%d]", i), "no such role %q in this tenant", n)
			}
			continue
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// setUserRoles makes roleIDs the user's roles.
func setUserRoles(ctx context.Context, q store.Q, tenant, userID string, roleIDs []core.ID) error {
	if _, err := q.Exec(ctx, `DELETE FROM crm_user_roles WHERE tenant_id = ? AND user_id = ?`, tenant, userID); err != nil {
		return err
	}
	for _, id := range roleIDs {
		if _, err := q.Exec(ctx, `INSERT INTO crm_user_roles (tenant_id, user_id, role_id) VALUES (?, ?, ?)`, tenant, userID, id); err != nil {
			return err
		}
	}
	return nil
}

const userColumns = `u.id, u.display_name, u.email, u.active, u.time_zone, u.working_hours, u.away_from, u.away_until,
	u.created_at, u.updated_at, u.version`

func scanUser(r store.Scanner) (*User, error) {
	var u User
	var hours []byte
	var from, until sql.NullTime
	if err := r.Scan(&u.ID, &u.DisplayName, &u.Email, &u.Active, &u.TimeZone, &hours, &from, &until,
		&u.CreatedAt, &u.UpdatedAt, &u.Version); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if err := json.Unmarshal(hours, &u.WorkingHours); err != nil {
		return nil, fmt.Errorf("crm: user %s: decode working hours: %w", u.ID, err)
	}
	if len(u.WorkingHours) == 0 {
		u.WorkingHours = nil
	}
	if from.Valid && until.Valid {
		u.OutOfOffice = &Period{From: from.Time.UTC(), Until: until.Time.UTC()}
	}
	u.Roles = []string{}
	return &u, nil
}

// getUser reads a user and their roles; lock takes a row lock (for a
// change) on PostgreSQL.
func getUser(ctx context.Context, q store.Q, tenant, id string, lock bool) (*User, error) {
	lockSQL := ""
	if lock {
		lockSQL = q.D.LockRows()
	}
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM crm_users u WHERE u.tenant_id = ? AND u.id = ?`+lockSQL, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("user", id)
	}
	if err != nil {
		return nil, err
	}
	roles, err := rolesOfUsers(ctx, q, tenant, []string{id})
	u.Roles = roles[id]
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u, err
}

// listUsers reads the users where holds (after "WHERE "), with their
// roles.
func listUsers(ctx context.Context, q store.Q, tenant, where string, args ...any) ([]*User, error) {
	rows, err := q.Query(ctx, `SELECT `+userColumns+` FROM crm_users u WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	out := []*User{}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		u, err := scanUser(r)
		if err == nil {
			out = append(out, u)
		}
		return err
	}); err != nil {
		return nil, err
	}
	ids := make([]string, len(out))
	for i, u := range out {
		ids[i] = u.ID
	}
	roles, err := rolesOfUsers(ctx, q, tenant, ids)
	for _, u := range out {
		if r := roles[u.ID]; r != nil {
			u.Roles = r
		}
	}
	return out, err
}

// rolesOfUsers returns the role names of the users with ids, sorted, in
// one query.
func rolesOfUsers(ctx context.Context, q store.Q, tenant string, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT ur.user_id, r.name FROM crm_user_roles ur
		JOIN crm_roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
		WHERE ur.tenant_id = ? AND `+q.D.InList("ur.user_id", "text")+` ORDER BY ur.user_id, r.name`, tenant, q.D.ListArg(ids))
	if err != nil {
		return nil, err
	}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var user, role string
		err := r.Scan(&user, &role)
		out[user] = append(out[user], role)
		return err
	})
	return out, err
}
