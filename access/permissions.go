package access

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/core"
)

// Action is what a permission allows on a module's records.
type Action string

// The actions a role grants per module.
const (
	// Read: get, list, search, count, boards, reports.
	Read Action = "read"
	// Create new records.
	Create Action = "create"
	// Update existing records.
	Update Action = "update"
	// Delete records.
	Delete Action = "delete"
	// Export records (CSV export, subject access export).
	Export Action = "export"
	// Erase a person's data (erasure, anonymisation).
	Erase Action = "erase"
	// Manage the module's settings: rules, webhooks, custom fields,
	// purposes, pipelines, users and roles.
	Manage Action = "manage"
)

// Actions lists every action, in this order.
var Actions = []Action{Read, Create, Update, Delete, Export, Erase, Manage}

// Visibility is which records of a module a role sees.
type Visibility string

// Visibilities, from the narrowest to the widest. A role's grant names one
// of VisibilityOwn, VisibilityTeam and VisibilityAll; VisibilityNone is
// what Effective.Visibility reports for a module the actor may not read.
const (
	// VisibilityNone: no record (the actor may not read the module).
	VisibilityNone Visibility = "none"
	// VisibilityOwn: records whose owner or assignee is the actor.
	VisibilityOwn Visibility = "own"
	// VisibilityTeam: records whose owner or assignee is a member of one
	// of the actor's teams (the actor included).
	VisibilityTeam Visibility = "team"
	// VisibilityAll: every record of the tenant.
	VisibilityAll Visibility = "all"
)

// rank orders visibilities: a user with several roles sees the widest.
func (v Visibility) rank() int {
	switch v {
	case VisibilityOwn:
		return 1
	case VisibilityTeam:
		return 2
	case VisibilityAll:
		return 3
	}
	return 0
}

// modules are the names of the modules roles grant permissions on (see
// Modules).
var modules = []string{
	"access",     // users, teams and roles (manage: change them)
	"fields",     // custom field definitions (manage: define, remove)
	"contacts",   // contacts, companies, activities, tasks, notes
	"consent",    // purposes, the consent log, erasure
	"pipeline",   // pipelines, deals, products
	"automation", // rules, runs, webhooks
	"tickets",    // support tickets, SLAs, the knowledge base
	"campaigns",  // segments, templates, campaigns
	"analytics",  // KPIs and reports
}

// Modules returns the names of the modules roles grant permissions on:
// the crmkit modules that guard records or settings, those to come
// included. A new module adds its name to this package's list (one line in
// permissions.go) and declares it in its module.Module.Permissions, which
// a test holds to the list; roles that do not name it grant nothing on it.
func Modules() []string { return slices.Clone(modules) }

// Grant is what a role allows on one module.
type Grant struct {
	// Actions are the allowed actions.
	Actions []Action `json:"actions"`
	// Visibility is which records the role sees: own, team or all.
	// Required.
	Visibility Visibility `json:"visibility"`
	// PersonalData: the role sees personal fields (email, phone,
	// addresses, custom fields marked personal); without it they are
	// masked.
	PersonalData bool `json:"personal_data"`
}

// Allows reports whether g allows a.
func (g Grant) Allows(a Action) bool { return slices.Contains(g.Actions, a) }

// Permissions are a role's grants, by module name (see Modules).
type Permissions map[string]Grant

// rolePattern is a role's name: lower-case letters, digits, _ and -.
var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// ValidRoleName reports whether s can name a role: a lower-case letter,
// then lower-case letters, digits, _ and -, at most 63 in all.
func ValidRoleName(s string) bool { return rolePattern.MatchString(s) }

// check adds every problem of p to v, under field.
func (p Permissions) check(v *core.ValidationError, field string) {
	for _, module := range slices.Sorted(maps.Keys(p)) {
		g := p[module]
		f := field + "." + module
		if !slices.Contains(modules, module) {
			v.Add(f, "%q is not a module (one of %s)", module, strings.Join(modules, ", "))
			continue
		}
		for i, a := range g.Actions {
			switch {
			case !slices.Contains(Actions, a):
				v.Add(fmt.Sprintf("%s.actions[%d]", f, i), "%q is not an action (one of %s)", a, joinActions(Actions))
			case slices.Contains(g.Actions[:i], a):
				v.Add(fmt.Sprintf("%s.actions[%d]", f, i), "%q is listed twice", a)
			}
		}
		switch g.Visibility {
		case VisibilityOwn, VisibilityTeam, VisibilityAll:
		default:
			v.Add(f+".visibility", "%q is not one of own, team, all", g.Visibility)
		}
	}
}

// normalized returns p with each grant's actions in the order of Actions.
func (p Permissions) normalized() Permissions {
	out := make(Permissions, len(p))
	for m, g := range p {
		acts := make([]Action, 0, len(g.Actions))
		for _, a := range Actions {
			if g.Allows(a) {
				acts = append(acts, a)
			}
		}
		g.Actions = acts
		out[m] = g
	}
	return out
}

func joinActions(as []Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// Names of the built-in roles.
const (
	RoleAdmin     = "admin"
	RoleManager   = "manager"
	RoleSales     = "sales"
	RoleSupport   = "support"
	RoleMarketing = "marketing"
	RoleReadOnly  = "read-only"
)

// BuiltinRole is one role a host can start from (Roles.InstallBuiltins).
type BuiltinRole struct {
	Name        string
	Description string
	Permissions Permissions
}

// Builtins returns the built-in roles, as the package documentation
// tables them: admin (everything), manager (their teams' records; reads
// the rest), sales (their own contacts and deals), support (their teams'
// tickets and contacts; no revenue), marketing (campaigns; no personal
// data), read-only (reads every module but access; no personal data).
// Only admin may erase and manage settings. Each call returns a fresh
// copy.
func Builtins() []BuiltinRole {
	every := func(v Visibility) Grant {
		return Grant{Actions: slices.Clone(Actions), Visibility: v, PersonalData: true}
	}
	grant := func(v Visibility, pd bool, acts ...Action) Grant {
		return Grant{Actions: acts, Visibility: v, PersonalData: pd}
	}
	crud := []Action{Read, Create, Update, Delete}
	admin := Permissions{}
	readOnly := Permissions{}
	for _, m := range modules {
		admin[m] = every(VisibilityAll)
		if m != "access" {
			readOnly[m] = grant(VisibilityAll, false, Read)
		}
	}
	return []BuiltinRole{
		{Name: RoleAdmin, Description: "Everything, settings and erasure included", Permissions: admin},
		{Name: RoleManager, Description: "Their teams' records; reads the rest", Permissions: Permissions{
			"contacts":   grant(VisibilityTeam, true, append(slices.Clone(crud), Export)...),
			"pipeline":   grant(VisibilityTeam, true, append(slices.Clone(crud), Export)...),
			"consent":    grant(VisibilityAll, true, Read),
			"tickets":    grant(VisibilityTeam, true, crud...),
			"campaigns":  grant(VisibilityAll, false, Read),
			"automation": grant(VisibilityAll, false, Read),
			"fields":     grant(VisibilityAll, false, Read),
			"analytics":  grant(VisibilityAll, false, Read),
			"access":     grant(VisibilityAll, false, Read),
		}},
		{Name: RoleSales, Description: "Their own contacts and deals", Permissions: Permissions{
			"contacts": grant(VisibilityOwn, true, Read, Create, Update),
			"pipeline": grant(VisibilityOwn, false, Read, Create, Update),
			"consent":  grant(VisibilityAll, false, Read),
		}},
		{Name: RoleSupport, Description: "Their teams' tickets; no revenue", Permissions: Permissions{
			"contacts": grant(VisibilityTeam, true, Read, Update),
			"consent":  grant(VisibilityAll, true, Read),
			"tickets":  grant(VisibilityTeam, true, Read, Create, Update),
		}},
		{Name: RoleMarketing, Description: "Campaigns and segments; no personal data", Permissions: Permissions{
			"contacts":   grant(VisibilityAll, false, Read, Update),
			"consent":    grant(VisibilityAll, false, Read),
			"campaigns":  grant(VisibilityAll, false, crud...),
			"automation": grant(VisibilityAll, false, Read),
			"fields":     grant(VisibilityAll, false, Read),
			"analytics":  grant(VisibilityAll, false, Read),
		}},
		{Name: RoleReadOnly, Description: "Reads every module; no personal data", Permissions: readOnly},
	}
}
