// Package access is crmkit's users, teams and roles facility: who works in
// the CRM, in which teams, and what each of them may see and change.
//
//	roles, _ := c.Access.Roles.InstallBuiltins(ctx) // admin, manager, sales, …
//	_, err := c.Access.Users.Create(ctx, access.UserInput{ID: "user-42",
//		DisplayName: "Anna", TimeZone: "Europe/Berlin", Roles: []string{"sales"}})
//	team, _ := c.Access.Teams.Create(ctx, access.TeamInput{Name: "sales-emea"})
//	team, _ = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: "user-42", Capacity: 20})
//
//	eff, _ := c.Access.Resolve(ctx, core.Actor{ID: "user-42"})
//	eff.Can("pipeline", access.Update)           // true
//	vis, ids := eff.Visibility("contacts")        // own, [user-42]
//	cond, args := eff.Condition("contacts", "c.owner_id") // SQL for a WHERE
//
// # Users
//
// crmkit does no login: a user's id is the host's (1 to 200 characters,
// no control characters), the same id the host puts in core.Actor when
// the user acts. A user has a display name, an optional email, an active
// flag, a time zone (an IANA name), working hours (per weekday "mon" …
// "sun", frames such as 09:00–17:00 that do not overlap), an optional
// out-of-office period, and roles (names of the tenant's roles). Users are
// deactivated, never deleted, so the records they own keep their owner.
//
// Users are the host's staff, not data subjects of the CRM: they are not
// contacts, are not part of a contact's subject access export or erasure,
// and the payloads of the facility's events carry their ids, names and
// emails as any change log of staff accounts does. Error messages name
// users, teams and roles by id (role names are keys), never by a display
// name or an email.
//
// # Teams
//
// A team has a name (unique in the tenant) and members. Members are users
// of the tenant, each with a lead flag, a capacity (the most open items
// the member takes from team assignment; 0: no cap) and skills: languages
// as BCP 47 tags (stored canonical, "de-CH") and product lines as the
// host's codes, kept as a small JSON object with the membership. Teams do
// not nest: a member is a user, and naming a team (its id or name) as a
// member is refused with ErrInvalid. Only active users join teams;
// deactivating a user keeps their memberships (their records stay visible
// to the team) but team assignment passes them over, as it passes over
// members out of office (Teams.AvailableMembers).
//
// # Roles and permissions
//
// A role grants, per module (Modules: access, fields, contacts, consent,
// pipeline, automation, tickets, campaigns, analytics), actions (read,
// create, update, delete, export, erase, manage — manage is the module's
// settings: rules, webhooks, custom fields, purposes, users and roles), a
// visibility (own: records whose owner or assignee is the actor; team:
// whose owner or assignee is a member of one of the actor's teams; all)
// and whether the role sees personal data. A module a role does not name
// grants nothing. A user with several roles gets the union of their
// actions, the widest visibility and personal data if any role has it.
//
// Built-in roles a host can start from, installed per tenant by
// Roles.InstallBuiltins (idempotent; a role of the same name, changed or
// not, is left alone) and then changed like any custom role:
//
//	role       contacts             pipeline             consent          tickets          campaigns   automation, fields, analytics  access
//	admin      all, every, PD       all, every, PD       all, every, PD   all, every, PD   all, every, PD  all, every, PD             all, every, PD
//	manager    team, CRUD+export,PD team, CRUD+export,PD all, read, PD    team, CRUD, PD   all, read   all, read                      all, read
//	sales      own, CRU, PD         own, CRU             all, read        —                —           —                              —
//	support    team, read+upd., PD  —                    all, read, PD    team, CRU, PD    —           —                              —
//	marketing  all, read+upd.       —                    all, read        —                all, CRUD   all, read                      —
//	read-only  all, read            all, read            all, read        all, read        all, read   all, read                      —
//
// (every: every action; CRUD: read, create, update, delete; CRU: read,
// create, update; PD: sees personal data. Only admin may erase and manage
// settings.) Builtins returns the same table as values.
//
// A role still assigned to a user is not deleted (ErrInvalid names the
// users to take it from first). Unknown modules, actions or visibilities,
// unknown roles given to a user, new roles for a deactivated user, and
// members who are not active users of the tenant are ErrInvalid with
// every problem listed (core.ValidationError), and nothing is written.
// Users, teams and roles carry a version: a change with a stale version
// is ErrConflict, with version 0 ErrInvalid.
//
// # Resolving an actor
//
// Service.Resolve turns a core.Actor into Effective permissions, which the
// modules ask before they act (Can, Require, SeesPersonalData) and with
// which they narrow their queries in SQL (Visibility, Condition), so that
// pagination and counts stay right. When the actor's id is a stored user
// of the tenant, the stored user decides: their roles and their teams (the
// Actor's Roles and Teams are ignored), and a deactivated user may do
// nothing. When it is not, the Actor's Roles name the tenant's roles that
// apply and its Teams the tenant's teams (by name or id); names the tenant
// does not have grant nothing. Service.ForContext resolves the actor in a
// context; with none, the call is the host's own trusted code and may do
// everything.
//
// # Who may change users, teams and roles
//
// With an actor in the context (core.WithActor) the facility checks its
// own permissions, "access", as the modules check theirs; without one the
// call is the host's own code and may do everything. Reading users, teams
// and roles (Users.Get, Users.List, Teams.Get, ByName, List, OfUser,
// AvailableMembers, Roles.Get, Roles.List) needs "access" read; changing
// them (Users.Create, Update, Deactivate, Activate; Teams.Create, Update,
// Delete, AddMember, UpdateMember, RemoveMember; Roles.Create, Update,
// Delete, InstallBuiltins) needs "access" manage. Visibility does not
// narrow them: an actor who reads the facility reads all of it. Lacking
// the permission is ErrForbidden, and the attempt is recorded in the
// audit log (action "access.denied", detail "access:read" or
// "access:manage", the user's, team's or role's id).
//
// An actor can never grant more than they have, to others or to
// themselves. "Within the actor's permissions" means, module by module,
// no action the actor lacks, no wider visibility than theirs (own < team
// < all) and personal data only where they see it. Then:
//
//   - a role an actor creates or changes must be within their
//     permissions, before and after the change, and so must a role they
//     delete: a lesser administrator cannot extend, weaken or remove the
//     admin role, nor install the built-in roles (admin is one of them);
//   - an actor gives users only roles within their permissions, and
//     changes, deactivates or activates only users all of whose roles are
//     within them;
//   - every change an actor makes is checked last, in its transaction,
//     by resolving the actor again: if they would then do or see anything
//     they could not before (a team of theirs joined by another user, or
//     by them, which widens "team" visibility; a team renamed to one their
//     Actor's Teams name), the change is refused and rolled back.
//
// These refusals are ErrForbidden and recorded as above ("access:manage").
// Other modules that keep a team given by id, or assign work to a team's
// members, read it through Module.Team and Module.AvailableMembers, which
// do not check the facility's permissions: their callers are checked by
// their own module.
//
// # A new module
//
// A module that guards records adds its name to the list in
// permissions.go and declares it in its module.Module.Permissions (a test
// holds every wired module to the list); roles grant on it from then on,
// and the built-in admin and read-only roles include it.
//
// # Events
//
// "user.created", "user.updated", "user.deactivated", "team.created",
// "team.updated", "team.deleted", "team.member_added",
// "team.member_removed", "role.created", "role.updated", "role.deleted"
// (EventTypes lists them with their payloads). Events about a user have
// the subject id UserSubjectID(id).
package access
