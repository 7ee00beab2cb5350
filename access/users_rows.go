package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// The rows of crm_users and crm_user_roles: users read with their roles,
// roles looked up by name, a user's roles written.

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
