package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/store"
)

// AssignMode is how a team's tickets are given to its members.
type AssignMode string

// Assignment modes.
const (
	// AssignManual: routing leaves the team's tickets unassigned (the
	// default of a team without a mode).
	AssignManual AssignMode = "manual"
	// AssignRoundRobin: the members take turns, in the order of their user
	// ids, each turn going to the next member after the last one given a
	// ticket who can take it.
	AssignRoundRobin AssignMode = "round_robin"
	// AssignLeastLoaded: the member with the fewest open tickets who can
	// take it; among equals, the one whose turn comes first.
	AssignLeastLoaded AssignMode = "least_loaded"
)

// AssignModes lists the assignment modes.
var AssignModes = []AssignMode{AssignManual, AssignRoundRobin, AssignLeastLoaded}

// Limits of routing.
const (
	MaxRoutingRules = 200
	maxDrain        = 500
)

// RoutingRule sends the tickets its condition matches to a team, and may
// set their priority and category.
type RoutingRule struct {
	Name string `json:"name"`
	// Condition selects tickets (TicketSchema with custom fields); empty
	// matches every ticket.
	Condition filter.Expr `json:"condition"`
	// Team is the name of an access team of the tenant.
	Team string `json:"team"`
	// Priority and Category, when set, replace the ticket's.
	Priority Priority `json:"priority,omitempty"`
	Category string   `json:"category,omitempty"`
}

// RoutingSettings are a tenant's routing: the rules, tried in order, and
// each team's assignment mode.
type RoutingSettings struct {
	Rules []RoutingRule `json:"rules"`
	// Teams are the assignment modes by team name; a team not named is
	// AssignManual.
	Teams     map[string]AssignMode `json:"teams"`
	UpdatedAt time.Time             `json:"updated_at"`
	// Version is 0 before the first Set.
	Version int64 `json:"version"`
}

// RoutingInput is what Routing.Set takes: it replaces the settings.
type RoutingInput struct {
	Rules []RoutingRule
	Teams map[string]AssignMode
}

// Routing keeps the tenant's routing settings and serves the teams'
// queues (c.Routing).
type Routing struct {
	sc store.Scope
}

func newRouting(sc store.Scope) *Routing { return &Routing{sc: sc} }

// Get returns the tenant's routing settings (no rules, every team manual,
// version 0 before the first Set).
func (s *Routing) Get(ctx context.Context) (_ *RoutingSettings, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Routing.Get")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_routing", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, _ := s.sc.Tenant()
	r, err := readRouting(ctx, s.sc.Q(), tenant, false)
	if err != nil {
		return nil, store.Wrap(err, "get ticket routing")
	}
	if r == nil {
		return &RoutingSettings{Rules: []RoutingRule{}, Teams: map[string]AssignMode{}}, nil
	}
	return &r.settings, nil
}

// Set replaces the routing settings if version is still theirs (0 before
// the first Set; stale is ErrConflict) and emits "ticket_routing.updated".
// A rule without a name, with a condition the schema refuses, a team the
// tenant does not have, or a priority or category that is no such value,
// and a mode that is none of AssignModes, are ErrInvalid, every problem
// listed. New settings apply to the next routing; tickets waiting in the
// queue of a team that becomes manual stay there until assigned by hand
// or their team's mode assigns again.
func (s *Routing) Set(ctx context.Context, version int64, in RoutingInput) (_ *RoutingSettings, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Routing.Set")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_routing", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, core.Invalid("version", "must be 0 (no settings yet) or the version read")
	}
	var out *RoutingSettings
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		q := tx.Q()
		now := tx.Runtime().Now()
		set := RoutingSettings{Rules: slices.Clone(in.Rules), Teams: map[string]AssignMode{}, UpdatedAt: now, Version: version + 1}
		if set.Rules == nil {
			set.Rules = []RoutingRule{}
		}
		for k, m := range in.Teams {
			set.Teams[strings.TrimSpace(k)] = m
		}
		if err := checkRouting(ctx, s.sc.WithTx(tx), &set); err != nil {
			return err
		}
		cur, err := readRouting(ctx, q, tenant, true)
		if err != nil {
			return err
		}
		have := int64(0)
		if cur != nil {
			have = cur.settings.Version
		}
		if have != version {
			return fmt.Errorf("%w: the ticket routing is at version %d, not %d; read it again", core.ErrConflict, have, version)
		}
		if cur == nil {
			_, err = q.Exec(ctx, `INSERT INTO crm_ticket_routing (tenant_id, rules, teams, turns, updated_at, version) VALUES (?, ?, ?, ?, ?, ?)`,
				tenant, string(store.JSON(set.Rules)), string(store.JSON(set.Teams)), "{}", now, set.Version)
		} else {
			_, err = q.Exec(ctx, `UPDATE crm_ticket_routing SET rules = ?, teams = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND version = ?`,
				string(store.JSON(set.Rules)), string(store.JSON(set.Teams)), now, set.Version, tenant, version)
		}
		if err != nil {
			return err
		}
		out = &set
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventRoutingUpdated, SubjectType: "ticket_routing",
			SubjectID: core.NilID, OccurredAt: now, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "set ticket routing")
	}
	return out, nil
}

// Drain serves the queues of every team with an assignment mode: the
// waiting tickets, oldest first, each to a member who can take it now.
// Routing drains when a ticket frees capacity (solved, closed, merged,
// reassigned); the module's periodic work drains every minute, for what
// frees capacity without a ticket changing (a shift starts, someone comes
// back, a capacity is raised); a host may call it too. It returns the
// number of tickets assigned. It needs "tickets" update.
func (s *Routing) Drain(ctx context.Context) (_ int, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Routing.Drain")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "ticket_routing", core.NilID, access.Update); err != nil {
		return 0, err
	}
	n := 0
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		r, err := lockRouter(ctx, s.sc.WithTx(tx), tx, tenant)
		if err != nil || r == nil {
			return err
		}
		n, err = r.drain(ctx)
		if err != nil {
			return err
		}
		return r.save(ctx)
	})
	return n, store.Wrap(err, "drain ticket queues")
}

// drainPeriodic is Drain for the module's periodic work.
func drainPeriodic(ctx context.Context, sc store.Scope) error {
	_, err := newRouting(sc).Drain(ctx)
	return err
}

// checkRouting validates set, every problem listed.
func checkRouting(ctx context.Context, sc store.Scope, set *RoutingSettings) error {
	tenant, _ := sc.Tenant()
	q := sc.Q()
	v := &core.ValidationError{}
	if len(set.Rules) > MaxRoutingRules {
		v.Add("rules", "has more than %d rules", MaxRoutingRules)
	}
	schema, err := ticketSchema(ctx, sc)
	if err != nil {
		return err
	}
	teamExists := func(field, name string) error {
		ok, err := access.Module.TeamExists(ctx, q, tenant, name)
		if err == nil && !ok {
			v.Add(field, "%q is not a team of this tenant", name)
		}
		return err
	}
	for i := range set.Rules {
		r := &set.Rules[i]
		f := fmt.Sprintf("rules[%d].", i)
		r.Name, r.Team, r.Category = strings.TrimSpace(r.Name), strings.TrimSpace(r.Team), strings.TrimSpace(r.Category)
		if r.Name == "" {
			v.Add(f+"name", "is required")
		}
		v.CheckText(f+"name", r.Name, MaxNameLen)
		if err := schema.Check(r.Condition); err != nil {
			var ve *core.ValidationError
			if !errors.As(err, &ve) {
				return err
			}
			for _, fe := range ve.Fields {
				v.Add(f+"condition", "%s %s", fe.Field, fe.Message)
			}
		}
		if r.Team == "" {
			v.Add(f+"team", "is required")
		} else if err := teamExists(f+"team", r.Team); err != nil {
			return err
		}
		if r.Priority != "" && !slices.Contains(Priorities, r.Priority) {
			v.Add(f+"priority", "%q is not one of %s", r.Priority, strings.Join(enumValues(Priorities), ", "))
		}
		if r.Category != "" && !core.ValidCode(r.Category) {
			v.Add(f+"category", "%q is not a code (lower-case letters, digits and _)", r.Category)
		}
	}
	names := make([]string, 0, len(set.Teams))
	for k := range set.Teams {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f := "teams." + k
		if !slices.Contains(AssignModes, set.Teams[k]) {
			v.Add(f, "%q is not one of %s", set.Teams[k], strings.Join(enumValues(AssignModes), ", "))
		}
		if k == "" {
			v.Add("teams", "a team name is empty")
		} else if err := teamExists(f, k); err != nil {
			return err
		}
	}
	return v.Err()
}

// routingRow is the tenant's stored routing.
type routingRow struct {
	settings RoutingSettings
	turns    map[string]string
}

// readRouting reads tenant's routing (locked when lock is set), or nil
// when the tenant has none.
func readRouting(ctx context.Context, q store.Q, tenant string, lock bool) (*routingRow, error) {
	query := `SELECT rules, teams, turns, updated_at, version FROM crm_ticket_routing WHERE tenant_id = ?`
	if lock {
		query += q.D.LockRows()
	}
	var rules, teams, turns []byte
	r := &routingRow{}
	err := q.QueryRow(ctx, query, tenant).Scan(&rules, &teams, &turns, &r.settings.UpdatedAt, &r.settings.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.settings.UpdatedAt = r.settings.UpdatedAt.UTC()
	if err := json.Unmarshal(rules, &r.settings.Rules); err != nil {
		return nil, fmt.Errorf("decode routing rules: %w", err)
	}
	if err := json.Unmarshal(teams, &r.settings.Teams); err != nil {
		return nil, fmt.Errorf("decode routing teams: %w", err)
	}
	if err := json.Unmarshal(turns, &r.turns); err != nil {
		return nil, fmt.Errorf("decode routing turns: %w", err)
	}
	if r.settings.Rules == nil {
		r.settings.Rules = []RoutingRule{}
	}
	if r.settings.Teams == nil {
		r.settings.Teams = map[string]AssignMode{}
	}
	if r.turns == nil {
		r.turns = map[string]string{}
	}
	return r, nil
}

var productLineCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// checkSkills validates t's language (kept in canonical form) and product
// line, problems added to v.
func checkSkills(v *core.ValidationError, t *Ticket) {
	t.Language, t.ProductLine = strings.TrimSpace(t.Language), strings.TrimSpace(t.ProductLine)
	if t.Language != "" {
		tag, err := language.Parse(t.Language)
		if err != nil || len(t.Language) > 35 {
			v.Add("language", "%q is not a BCP 47 language tag such as en or de-CH", t.Language)
		} else {
			t.Language = tag.String()
		}
	}
	if t.ProductLine != "" && !productLineCode.MatchString(t.ProductLine) {
		v.Add("product_line", "%q is not a product line code (a lower-case letter, then lower-case letters, digits and _)", t.ProductLine)
	}
}

// candidate is a team member as routing sees them.
type candidate struct {
	user     access.User
	capacity int
	skills   access.Skills
}

// covers reports whether c's skills cover t: a member who lists languages
// takes tickets in those (by base language: "de" and "de-CH" are one) or
// without a language; one who lists none takes every language; product
// lines likewise.
func (c *candidate) covers(t *Ticket) bool {
	if t.Language != "" && len(c.skills.Languages) > 0 {
		want, _ := language.Parse(t.Language)
		wb, _ := want.Base()
		if !slices.ContainsFunc(c.skills.Languages, func(l string) bool {
			tag, err := language.Parse(l)
			if err != nil {
				return false
			}
			b, _ := tag.Base()
			return b == wb
		}) {
			return false
		}
	}
	if t.ProductLine != "" && len(c.skills.ProductLines) > 0 && !slices.Contains(c.skills.ProductLines, t.ProductLine) {
		return false
	}
	return true
}

// router is the tenant's routing within one transaction, its row locked:
// no other transaction routes in the tenant until this one ends, so the
// loads it counts stay true and no member gets more than their capacity.
type router struct {
	sc     store.Scope
	tx     *store.Tx
	tenant string
	now    time.Time
	row    *routingRow
	// members are the candidates of each team, by user id; loads the open
	// tickets assigned per user, counted when first needed.
	members map[string][]*candidate
	loads   map[string]int
	// exclude is the ticket a change is routing: its loads leave it out,
	// as it is being given anew.
	exclude core.ID
	turned  bool
	env     *slaEnv
	// matchers are the rules' compiled conditions.
	matchers []*filter.Matcher
}

// lockRouter locks tenant's routing for tx, or returns nil when the
// tenant has none (nothing routes).
func lockRouter(ctx context.Context, sc store.Scope, tx *store.Tx, tenant string) (*router, error) {
	row, err := readRouting(ctx, tx.Q(), tenant, true)
	if err != nil || row == nil {
		return nil, err
	}
	return &router{sc: sc, tx: tx, tenant: tenant, now: tx.Runtime().Now(), row: row,
		members: map[string][]*candidate{}, loads: map[string]int{}}, nil
}

// mode returns team's assignment mode.
func (r *router) mode(team string) AssignMode {
	if m, ok := r.row.settings.Teams[team]; ok && m != "" {
		return m
	}
	return AssignManual
}

// rule returns the first rule whose condition matches t and whose team
// still exists, or nil.
func (r *router) rule(ctx context.Context, t *Ticket) (*RoutingRule, error) {
	if r.matchers == nil {
		schema, err := ticketSchema(ctx, r.sc)
		if err != nil {
			return nil, err
		}
		r.matchers = make([]*filter.Matcher, len(r.row.settings.Rules))
		for i, rule := range r.row.settings.Rules {
			// A custom field the condition names was removed since: the
			// rule matches nothing until it is fixed.
			r.matchers[i], _ = schema.Matcher(rule.Condition, r.now)
		}
	}
	for i := range r.row.settings.Rules {
		rule := &r.row.settings.Rules[i]
		if m := r.matchers[i]; m == nil || !m.Match(t) {
			continue
		}
		// A team deleted or renamed since: the rule is passed over.
		ok, err := access.Module.TeamExists(ctx, r.tx.Q(), r.tenant, rule.Team)
		if err != nil {
			return nil, err
		}
		if ok {
			return rule, nil
		}
	}
	return nil, nil
}

// candidates reads team's members with their users, by user id.
func (r *router) candidates(ctx context.Context, team string) ([]*candidate, error) {
	if c, ok := r.members[team]; ok {
		return c, nil
	}
	q := r.tx.Q()
	rows, err := q.Query(ctx, `SELECT m.user_id, m.capacity, m.skills, u.active, u.time_zone, u.working_hours, u.away_from, u.away_until
		FROM crm_teams t
		JOIN crm_team_members m ON m.tenant_id = t.tenant_id AND m.team_id = t.id
		JOIN crm_users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
		WHERE t.tenant_id = ? AND t.name = ? ORDER BY m.user_id`, r.tenant, team)
	if err != nil {
		return nil, err
	}
	out := []*candidate{}
	err = store.EachRow(rows, func(row store.Scanner) error {
		c := &candidate{}
		var skills, hours []byte
		var from, until sql.NullTime
		if err := row.Scan(&c.user.ID, &c.capacity, &skills, &c.user.Active, &c.user.TimeZone, &hours, &from, &until); err != nil {
			return err
		}
		if err := json.Unmarshal(skills, &c.skills); err != nil {
			return fmt.Errorf("decode skills of %s: %w", c.user.ID, err)
		}
		if err := json.Unmarshal(hours, &c.user.WorkingHours); err != nil {
			return fmt.Errorf("decode working hours of %s: %w", c.user.ID, err)
		}
		if from.Valid && until.Valid {
			c.user.OutOfOffice = &access.Period{From: from.Time.UTC(), Until: until.Time.UTC()}
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var need []string
	for _, c := range out {
		if _, ok := r.loads[c.user.ID]; !ok {
			need = append(need, c.user.ID)
		}
	}
	if len(need) > 0 {
		rows, err := q.Query(ctx, `SELECT assignee_id, count(*) FROM crm_tickets WHERE tenant_id = ? AND `+q.D.InList("assignee_id", "text")+`
			AND status NOT IN ('solved', 'closed') AND id <> ? GROUP BY assignee_id`, r.tenant, q.D.ListArg(need), r.exclude)
		if err != nil {
			return nil, err
		}
		for _, id := range need {
			r.loads[id] = 0
		}
		if err := store.EachRow(rows, func(row store.Scanner) error {
			var id string
			var n int
			err := row.Scan(&id, &n)
			r.loads[id] = n
			return err
		}); err != nil {
			return nil, err
		}
	}
	r.members[team] = out
	return out, nil
}

// pick chooses the member of t's team who takes t now, by the team's
// mode, or "" when the team is manual or no member can take it: a member
// takes it when they are active, not out of office, within their working
// hours, their skills cover t, and they have fewer open tickets than
// their capacity (0: no cap). The choice counts towards their load.
func (r *router) pick(ctx context.Context, t *Ticket) (string, AssignMode, error) {
	mode := r.mode(t.Team)
	if t.Team == "" || mode == AssignManual {
		return "", mode, nil
	}
	members, err := r.candidates(ctx, t.Team)
	if err != nil {
		return "", mode, err
	}
	// Turn order: the members after the last one given a ticket, then the
	// others, by user id.
	last := r.row.turns[t.Team]
	start := sort.Search(len(members), func(i int) bool { return members[i].user.ID > last })
	var best *candidate
	for k := range members {
		c := members[(start+k)%len(members)]
		if !c.user.Available(r.now) || !c.user.Working(r.now) || !c.covers(t) {
			continue
		}
		if c.capacity > 0 && r.loads[c.user.ID] >= c.capacity {
			continue
		}
		if mode == AssignRoundRobin {
			best = c
			break
		}
		if best == nil || r.loads[c.user.ID] < r.loads[best.user.ID] {
			best = c
		}
	}
	if best == nil {
		return "", mode, nil
	}
	r.loads[best.user.ID]++
	r.row.turns[t.Team] = best.user.ID
	r.turned = true
	return best.user.ID, mode, nil
}

// route routes t (not yet stored, or being changed) within its team: it
// gives it to the member pick chooses (and returns the team's mode), or
// queues it (queued) when the team's mode assigns but no member can take
// it now. A ticket with an assignee, or without a team, leaves any queue.
func (r *router) route(ctx context.Context, t *Ticket) (picked AssignMode, queued bool, err error) {
	if t.Team == "" || t.AssigneeID != "" {
		t.QueuedAt = nil
		return "", false, nil
	}
	user, mode, err := r.pick(ctx, t)
	if err != nil || mode == AssignManual {
		t.QueuedAt = nil
		return "", false, err
	}
	if user == "" {
		if t.QueuedAt == nil {
			at := r.now
			t.QueuedAt = &at
		}
		return "", true, nil
	}
	t.AssigneeID, t.QueuedAt = user, nil
	return mode, false, nil
}

// stored is called once a change is written: the loads are counted
// again from the tickets as they now are.
func (r *router) stored() {
	r.loads, r.exclude = map[string]int{}, core.NilID
}

// freed is called when a written change of a ticket freed capacity of its
// assignee (solved, closed, or given to someone else): it drains the
// queues.
func (r *router) freed(ctx context.Context) error {
	r.stored()
	_, err := r.drain(ctx)
	return err
}

// frees reports whether a change from cur to next frees capacity of cur's
// assignee.
func frees(cur, next *Ticket) bool {
	if cur.AssigneeID == "" || cur.Status.done() {
		return false
	}
	return next.Status.done() || next.AssigneeID != cur.AssigneeID
}

// drain assigns the tickets waiting in the queues of the teams with a
// mode, each team's oldest first (at most maxDrain a team and call): each
// goes to a member who can take it now, and one nobody can take keeps its
// place for the next drain, so a ticket is never passed over by a younger
// one that the same members could take.
func (r *router) drain(ctx context.Context) (int, error) {
	var teams []string
	for team, m := range r.row.settings.Teams {
		if m != AssignManual {
			teams = append(teams, team)
		}
	}
	sort.Strings(teams)
	q := r.tx.Q()
	n := 0
	for _, team := range teams {
		rows, err := q.Query(ctx, `SELECT `+ticketColumns(q.D)+` FROM crm_tickets t WHERE t.tenant_id = ? AND t.team = ?
			AND t.queued_at IS NOT NULL AND t.assignee_id = '' AND t.status NOT IN ('solved', 'closed')
			ORDER BY t.queued_at, t.id LIMIT `+fmt.Sprint(maxDrain)+q.D.LockRows(), r.tenant, team)
		if err != nil {
			return n, err
		}
		var waiting []*Ticket
		if err := store.EachRow(rows, func(row store.Scanner) error {
			t, err := scanTicket(row)
			waiting = append(waiting, t)
			return err
		}); err != nil {
			return n, err
		}
		for _, cur := range waiting {
			next := cur.clone()
			user, mode, err := r.pick(ctx, next)
			if err != nil {
				return n, err
			}
			if user == "" {
				continue
			}
			next.AssigneeID, next.QueuedAt = user, nil
			if err := r.write(ctx, cur, next, Assigned{FromTeam: cur.Team, Mode: mode}); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// write stores next, the queued ticket cur given to a member, with its SLA
// brought up to date, and emits "ticket.assigned".
func (r *router) write(ctx context.Context, cur, next *Ticket, a Assigned) error {
	if r.env == nil {
		env, err := loadSLA(ctx, r.sc, r.now)
		if err != nil {
			return err
		}
		r.env = env
	}
	if err := r.env.apply(ctx, next, r.now); err != nil {
		return err
	}
	next.UpdatedAt, next.Version = r.now, cur.Version+1
	if err := updateTicket(ctx, r.tx.Q(), r.tenant, next, cur.Version); err != nil {
		return err
	}
	if err := schedule(ctx, r.tx, r.tenant, next, r.env.policy(next.clock.policyID)); err != nil {
		return err
	}
	if err := r.env.fill(ctx, next, r.now); err != nil {
		return err
	}
	a.Ticket = next
	return r.tx.Emit(ctx, ticketEvent(r.tenant, EventTicketAssigned, next, r.now, a))
}

// save stores the teams' turns when they moved.
func (r *router) save(ctx context.Context) error {
	if !r.turned {
		return nil
	}
	_, err := r.tx.Q().Exec(ctx, `UPDATE crm_ticket_routing SET turns = ? WHERE tenant_id = ?`, string(store.JSON(r.row.turns)), r.tenant)
	r.turned = false
	return err
}
