package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Limits of teams.
const (
	MaxTeamNameLen        = 200
	MaxTeamDescriptionLen = 1000
	MaxTeams              = 1000
	MaxTeamMembers        = 1000
	MaxSkills             = 50
	MaxProductLineLen     = 63
)

// Team is a group of users: the unit of "team" visibility and of team
// assignment (round robin, least loaded). Teams hold users only: they do
// not nest.
type Team struct {
	ID          core.ID `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	// Members, by user id.
	Members   []Member  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int64     `json:"version"`
}

// Member is a user's place in a team.
type Member struct {
	// UserID is a user of the tenant.
	UserID string `json:"user_id"`
	// Lead marks a lead of the team.
	Lead bool `json:"lead"`
	// Capacity is the most open items (tasks; tickets once there are) the
	// member takes from team assignment; 0: no cap.
	Capacity int `json:"capacity"`
	// Skills route work to the member.
	Skills  Skills    `json:"skills"`
	AddedAt time.Time `json:"added_at"`
}

// Skills are what a member can handle, stored as a small JSON object with
// the membership: {"languages": ["de-CH"], "product_lines": ["pro"]}.
type Skills struct {
	// Languages are BCP 47 tags ("en", "de-CH"), stored in canonical form.
	Languages []string `json:"languages,omitempty"`
	// ProductLines are the host's codes of product lines: a lower-case
	// letter, then lower-case letters, digits and _ (at most 63).
	ProductLines []string `json:"product_lines,omitempty"`
}

// TeamInput is what Teams.Create and Teams.Update take.
type TeamInput struct {
	// Name is unique in the tenant.
	Name        string
	Description string
}

// Teams manages the tenant's teams and their members (c.Access.Teams).
type Teams struct {
	sc store.Scope
}

var productLinePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func (in *TeamInput) check() error {
	v := &core.ValidationError{}
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	if in.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", in.Name, MaxTeamNameLen)
	v.CheckText("description", in.Description, MaxTeamDescriptionLen)
	return v.Err()
}

// check adds the problems of m to v and puts its skills in canonical
// form.
func (m *Member) check(v *core.ValidationError) {
	checkUserID(v, "user_id", m.UserID)
	if m.Capacity < 0 {
		v.Add("capacity", "must be 0 (no cap) or more")
	}
	if len(m.Skills.Languages)+len(m.Skills.ProductLines) > MaxSkills {
		v.Add("skills", "at most %d in all", MaxSkills)
	}
	langs := make([]string, 0, len(m.Skills.Languages))
	for i, l := range m.Skills.Languages {
		tag, err := language.Parse(l)
		if err != nil || l == "" || len(l) > 35 {
			v.Add(fmt.Sprintf("skills.languages[%d]", i), "%q is not a BCP 47 language tag such as en or de-CH", l)
			continue
		}
		if c := tag.String(); !slices.Contains(langs, c) {
			langs = append(langs, c)
		}
	}
	m.Skills.Languages = langs
	for i, p := range m.Skills.ProductLines {
		if !productLinePattern.MatchString(p) {
			v.Add(fmt.Sprintf("skills.product_lines[%d]", i), "%q is not a product line code (a lower-case letter, then lower-case letters, digits and _)", p)
		} else if slices.Contains(m.Skills.ProductLines[:i], p) {
			v.Add(fmt.Sprintf("skills.product_lines[%d]", i), "%q is listed twice", p)
		}
	}
	if len(m.Skills.ProductLines) == 0 {
		m.Skills.ProductLines = nil
	}
	if len(m.Skills.Languages) == 0 {
		m.Skills.Languages = nil
	}
}

// Create stores a new team without members and emits "team.created". A
// name that is taken is ErrConflict.
func (s *Teams) Create(ctx context.Context, in TeamInput) (_ *Team, err error) {
	ctx, span := s.sc.Span(ctx, "access.Teams.Create")
	defer span.End(&err)

	if err := in.check(); err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "team", core.NilID, Manage)
	if err != nil {
		return nil, err
	}
	var out *Team
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		var n int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_teams WHERE tenant_id = ?`, tenant).Scan(&n); err != nil {
			return err
		}
		if n >= MaxTeams {
			return core.Invalid("teams", "a tenant has at most %d teams", MaxTeams)
		}
		if err := checkName(ctx, q, tenant, in.Name, core.NilID); err != nil {
			return err
		}
		now := tx.Runtime().Now()
		t := &Team{ID: core.NewID(), Name: in.Name, Description: in.Description, Members: []Member{}, CreatedAt: now, UpdatedAt: now, Version: 1}
		_, err := q.Exec(ctx, `INSERT INTO crm_teams (tenant_id, id, name, description, created_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, tenant, t.ID, t.Name, t.Description, now, now, t.Version)
		if dialect.IsUniqueViolation(err) {
			return errNameTaken
		}
		if err != nil {
			return err
		}
		if err := g.noWider(ctx, s.sc.WithTx(tx), "team", t.ID); err != nil {
			return err
		}
		out = t
		return tx.Emit(ctx, teamEvent(tenant, EventTeamCreated, now, t))
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, "create team"))
	}
	return out, nil
}

// checkName returns ErrConflict, naming the team by id, when another team
// than self is named name. The unique index refuses it too (a concurrent
// writer), with a message that cannot name the team: after the refusal
// PostgreSQL reads nothing more in the transaction.
func checkName(ctx context.Context, q store.Q, tenant, name string, self core.ID) error {
	var id core.ID
	err := q.QueryRow(ctx, `SELECT id FROM crm_teams WHERE tenant_id = ? AND name = ?`, tenant, name).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && id == self):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: the name is taken by team %s", core.ErrConflict, id)
}

// errNameTaken is the refusal of the unique index on team names.
var errNameTaken = fmt.Errorf("%w: the team name is taken", core.ErrConflict)

// Get returns the team with id and its members.
func (s *Teams) Get(ctx context.Context, id core.ID) (_ *Team, err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Teams.Get", id)
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "team", id, Read); err != nil {
		return nil, err
	}
	t, err := getTeam(ctx, s.sc.Q(), tenant, "id = ?", id, false)
	return t, store.Wrap(err, "get team")
}

// ByName returns the team named name and its members.
func (s *Teams) ByName(ctx context.Context, name string) (_ *Team, err error) {
	ctx, span := s.sc.Span(ctx, "access.Teams.ByName")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if !core.StorableText(name) {
		return nil, core.Invalid("name", "is not valid text")
	}
	if _, err := check(ctx, s.sc, "team", core.NilID, Read); err != nil {
		return nil, err
	}
	t, err := getTeam(ctx, s.sc.Q(), tenant, "name = ?", name, false)
	return t, store.Wrap(err, "get team")
}

// List returns the tenant's teams with their members, by name.
func (s *Teams) List(ctx context.Context) (_ []*Team, err error) {
	ctx, span := s.sc.Span(ctx, "access.Teams.List")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if _, err := check(ctx, s.sc, "team", core.NilID, Read); err != nil {
		return nil, err
	}
	out, err := listTeams(ctx, s.sc.Q(), tenant, "1 = 1")
	return out, store.Wrap(err, "list teams")
}

// OfUser returns the teams the user is a member of, by name.
func (s *Teams) OfUser(ctx context.Context, userID string) (_ []*Team, err error) {
	ctx, span := s.sc.Span(ctx, "access.Teams.OfUser")
	defer span.End(&err)

	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	if !core.StorableText(userID) {
		return nil, core.Invalid("user_id", "is not valid text")
	}
	if _, err := check(ctx, s.sc, "team", core.NilID, Read); err != nil {
		return nil, err
	}
	out, err := listTeams(ctx, s.sc.Q(), tenant,
		"EXISTS (SELECT 1 FROM crm_team_members m WHERE m.tenant_id = t.tenant_id AND m.team_id = t.id AND m.user_id = ?)", userID)
	return out, store.Wrap(err, "list teams of user")
}

// Update renames the team or changes its description if version is still
// its version, and emits "team.updated".
func (s *Teams) Update(ctx context.Context, id core.ID, version int64, in TeamInput) (_ *Team, err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Teams.Update", id)
	defer span.End(&err)

	if err := in.check(); err != nil {
		return nil, err
	}
	return s.change(ctx, id, version, "update team", func(ctx context.Context, q store.Q, tenant string, t *Team) (string, any, error) {
		changed := []string{}
		if t.Name != in.Name {
			changed = append(changed, "name")
		}
		if t.Description != in.Description {
			changed = append(changed, "description")
		}
		t.Name, t.Description = in.Name, in.Description
		return EventTeamUpdated, TeamUpdated{Team: t, Changed: changed}, nil
	})
}

// Delete removes the team and its memberships if version is still its
// version, and emits "team.deleted". Records owned by its members stay as
// they are.
func (s *Teams) Delete(ctx context.Context, id core.ID, version int64) (err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Teams.Delete", id)
	defer span.End(&err)

	if err := core.CheckVersion(version); err != nil {
		return err
	}
	g, err := check(ctx, s.sc, "team", id, Manage)
	if err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		t, err := getTeam(ctx, q, tenant, "id = ?", id, true)
		if err != nil {
			return err
		}
		if t.Version != version {
			return fmt.Errorf("%w: team %s is at version %d, not %d; read it again", core.ErrConflict, id, t.Version, version)
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_team_members WHERE tenant_id = ? AND team_id = ?`, tenant, id); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM crm_teams WHERE tenant_id = ? AND id = ?`, tenant, id); err != nil {
			return err
		}
		members := make([]string, len(t.Members))
		for i, m := range t.Members {
			members[i] = m.UserID
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventTeamDeleted, SubjectType: "team", SubjectID: id,
			Data: store.JSON(TeamDeleted{ID: id, Name: t.Name, Members: members})})
	})
	return g.done(ctx, store.Wrap(err, "delete team"))
}

// AddMember adds a user to the team if version is still the team's
// version, and emits "team.member_added". The user must be an active
// user of the tenant and not a member yet; teams do not nest, so a team's
// id or name is no member.
func (s *Teams) AddMember(ctx context.Context, teamID core.ID, version int64, m Member) (_ *Team, err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Teams.AddMember", teamID)
	defer span.End(&err)

	v := &core.ValidationError{}
	m.Skills.Languages = slices.Clone(m.Skills.Languages)
	m.Skills.ProductLines = slices.Clone(m.Skills.ProductLines)
	m.check(v)
	return s.change(ctx, teamID, version, "add team member", func(ctx context.Context, q store.Q, tenant string, t *Team) (string, any, error) {
		if err := checkMember(ctx, q, tenant, v, t, m.UserID); err != nil {
			return "", nil, err
		}
		if slices.ContainsFunc(t.Members, func(x Member) bool { return x.UserID == m.UserID }) {
			v.Add("user_id", "user %s is a member of team %s already", m.UserID, t.ID)
		}
		if len(t.Members) >= MaxTeamMembers {
			v.Add("members", "a team has at most %d members", MaxTeamMembers)
		}
		if err := v.Err(); err != nil {
			return "", nil, err
		}
		m.AddedAt = core.NormalizeTime(t.UpdatedAt)
		if _, err := q.Exec(ctx, `INSERT INTO crm_team_members (tenant_id, team_id, user_id, is_lead, capacity, skills, added_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, tenant, t.ID, m.UserID, m.Lead, m.Capacity, string(store.JSON(m.Skills)), m.AddedAt); err != nil {
			return "", nil, err
		}
		t.Members = append(t.Members, m)
		slices.SortFunc(t.Members, func(a, b Member) int { return strings.Compare(a.UserID, b.UserID) })
		return EventTeamMemberAdded, MemberChanged{TeamID: t.ID, Member: m}, nil
	})
}

// UpdateMember changes a member's lead flag, capacity and skills if
// version is still the team's version, and emits "team.updated" (changed:
// members).
func (s *Teams) UpdateMember(ctx context.Context, teamID core.ID, version int64, m Member) (_ *Team, err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Teams.UpdateMember", teamID)
	defer span.End(&err)

	v := &core.ValidationError{}
	m.Skills.Languages = slices.Clone(m.Skills.Languages)
	m.Skills.ProductLines = slices.Clone(m.Skills.ProductLines)
	m.check(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.change(ctx, teamID, version, "update team member", func(ctx context.Context, q store.Q, tenant string, t *Team) (string, any, error) {
		i := slices.IndexFunc(t.Members, func(x Member) bool { return x.UserID == m.UserID })
		if i < 0 {
			return "", nil, core.Invalid("user_id", "user %s is not a member of team %s", m.UserID, t.ID)
		}
		m.AddedAt = t.Members[i].AddedAt
		if _, err := q.Exec(ctx, `UPDATE crm_team_members SET is_lead = ?, capacity = ?, skills = ? WHERE tenant_id = ? AND team_id = ? AND user_id = ?`,
			m.Lead, m.Capacity, string(store.JSON(m.Skills)), tenant, t.ID, m.UserID); err != nil {
			return "", nil, err
		}
		t.Members[i] = m
		return EventTeamUpdated, TeamUpdated{Team: t, Changed: []string{"members"}}, nil
	})
}

// RemoveMember takes a user out of the team if version is still the
// team's version, and emits "team.member_removed".
func (s *Teams) RemoveMember(ctx context.Context, teamID core.ID, version int64, userID string) (_ *Team, err error) {
	ctx, span := s.sc.SpanID(ctx, "access.Teams.RemoveMember", teamID)
	defer span.End(&err)

	return s.change(ctx, teamID, version, "remove team member", func(ctx context.Context, q store.Q, tenant string, t *Team) (string, any, error) {
		i := slices.IndexFunc(t.Members, func(x Member) bool { return x.UserID == userID })
		if i < 0 {
			return "", nil, core.Invalid("user_id", "user %s is not a member of team %s", userID, t.ID)
		}
		m := t.Members[i]
		if _, err := q.Exec(ctx, `DELETE FROM crm_team_members WHERE tenant_id = ? AND team_id = ? AND user_id = ?`, tenant, t.ID, userID); err != nil {
			return "", nil, err
		}
		t.Members = slices.Delete(t.Members, i, i+1)
		return EventTeamMemberRemoved, MemberChanged{TeamID: t.ID, Member: m}, nil
	})
}

// checkMember adds to v why userID cannot join team t: not a user of the
// tenant (a team's id or name: teams do not nest), or deactivated.
func checkMember(ctx context.Context, q store.Q, tenant string, v *core.ValidationError, t *Team, userID string) error {
	if v.Has("user_id") {
		return nil
	}
	var active bool
	err := q.QueryRow(ctx, `SELECT active FROM crm_users WHERE tenant_id = ? AND id = ?`, tenant, userID).Scan(&active)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		var teams int
		if err := q.QueryRow(ctx, `SELECT count(*) FROM crm_teams WHERE tenant_id = ? AND (name = ? OR CAST(id AS TEXT) = ?)`,
			tenant, userID, userID).Scan(&teams); err != nil {
			return err
		}
		if teams > 0 {
			v.Add("user_id", "names a team, not a user: members of team %s are users (teams do not nest)", t.ID)
		} else {
			v.Add("user_id", "no such user %s in this tenant", userID)
		}
	case err != nil:
		return err
	case !active:
		v.Add("user_id", "user %s is deactivated", userID)
	}
	return nil
}

// change runs fn on the team with id, locked, if version is still its
// version; fn edits t (and may write its members) and returns the event
// to emit and its payload. The team's version is bumped.
func (s *Teams) change(ctx context.Context, id core.ID, version int64, doing string,
	fn func(ctx context.Context, q store.Q, tenant string, t *Team) (string, any, error)) (*Team, error) {
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	g, err := check(ctx, s.sc, "team", id, Manage)
	if err != nil {
		return nil, err
	}
	var out *Team
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		t, err := getTeam(ctx, q, tenant, "id = ?", id, true)
		if err != nil {
			return err
		}
		if t.Version != version {
			return fmt.Errorf("%w: team %s is at version %d, not %d; read it again", core.ErrConflict, id, t.Version, version)
		}
		t.UpdatedAt = tx.Runtime().Now()
		typ, payload, err := fn(ctx, q, tenant, t)
		if err != nil {
			return err
		}
		if err := checkName(ctx, q, tenant, t.Name, t.ID); err != nil {
			return err
		}
		t.Version++
		res, err := q.Exec(ctx, `UPDATE crm_teams SET name = ?, description = ?, updated_at = ?, version = ?
			WHERE tenant_id = ? AND id = ? AND version = ?`, t.Name, t.Description, t.UpdatedAt, t.Version, tenant, id, version)
		if dialect.IsUniqueViolation(err) {
			return errNameTaken
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: team %s was changed by someone else; read it again", core.ErrConflict, id)
		}
		if err := g.noWider(ctx, s.sc.WithTx(tx), "team", id); err != nil {
			return err
		}
		out = t
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: typ, SubjectType: "team", SubjectID: id, OccurredAt: t.UpdatedAt, Data: store.JSON(payload)})
	})
	if err != nil {
		return nil, g.done(ctx, store.Wrap(err, doing))
	}
	return out, nil
}

func teamEvent(tenant, typ string, at time.Time, t *Team) core.Event {
	return core.Event{TenantID: tenant, Type: typ, SubjectType: "team", SubjectID: t.ID, OccurredAt: at, Data: store.JSON(t)}
}

const teamColumns = `t.id, t.name, t.description, t.created_at, t.updated_at, t.version`

func scanTeam(r store.Scanner) (*Team, error) {
	var t Team
	if err := r.Scan(&t.ID, &t.Name, &t.Description, &t.CreatedAt, &t.UpdatedAt, &t.Version); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.Members = []Member{}
	return &t, nil
}

// getTeam reads the team where cond ("id = ?" or "name = ?") holds for
// arg, with its members.
func getTeam(ctx context.Context, q store.Q, tenant, cond string, arg any, lock bool) (*Team, error) {
	lockSQL := ""
	if lock {
		lockSQL = q.D.LockRows()
	}
	t, err := scanTeam(q.QueryRow(ctx, `SELECT `+teamColumns+` FROM crm_teams t WHERE t.tenant_id = ? AND t.`+cond+lockSQL, tenant, arg))
	if errors.Is(err, sql.ErrNoRows) {
		if cond == "name = ?" {
			return nil, core.NotFound("team", nil) // a name is not an id
		}
		return nil, core.NotFound("team", arg)
	}
	if err != nil {
		return nil, err
	}
	members, err := membersOf(ctx, q, tenant, "m.team_id = ?", t.ID)
	if m := members[t.ID]; m != nil {
		t.Members = m
	}
	return t, err
}

func listTeams(ctx context.Context, q store.Q, tenant, where string, args ...any) ([]*Team, error) {
	rows, err := q.Query(ctx, `SELECT `+teamColumns+` FROM crm_teams t WHERE t.tenant_id = ? AND `+where+` ORDER BY t.name`,
		append([]any{tenant}, args...)...)
	if err != nil {
		return nil, err
	}
	out := []*Team{}
	if err := store.EachRow(rows, func(r store.Scanner) error {
		t, err := scanTeam(r)
		if err == nil {
			out = append(out, t)
		}
		return err
	}); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]core.ID, len(out))
	for i, t := range out {
		ids[i] = t.ID
	}
	members, err := membersOf(ctx, q, tenant, q.D.InList("m.team_id", "uuid"), q.D.IDsArg(ids))
	for _, t := range out {
		if m := members[t.ID]; m != nil {
			t.Members = m
		}
	}
	return out, err
}

// membersOf reads the members of the teams where cond holds, by team, each
// team's by user id.
func membersOf(ctx context.Context, q store.Q, tenant, cond string, args ...any) (map[core.ID][]Member, error) {
	rows, err := q.Query(ctx, `SELECT m.team_id, m.user_id, m.is_lead, m.capacity, m.skills, m.added_at FROM crm_team_members m
		WHERE m.tenant_id = ? AND `+cond+` ORDER BY m.team_id, m.user_id`, append([]any{tenant}, args...)...)
	if err != nil {
		return nil, err
	}
	out := map[core.ID][]Member{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		var team core.ID
		var m Member
		var skills []byte
		if err := r.Scan(&team, &m.UserID, &m.Lead, &m.Capacity, &skills, &m.AddedAt); err != nil {
			return err
		}
		m.AddedAt = m.AddedAt.UTC()
		if err := json.Unmarshal(skills, &m.Skills); err != nil {
			return fmt.Errorf("crm: team %s: decode skills: %w", team, err)
		}
		out[team] = append(out[team], m)
		return nil
	})
	return out, err
}
