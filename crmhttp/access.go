package crmhttp

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
)

// userBody is the body that creates or replaces a user.
type userBody struct {
	DisplayName  string              `json:"display_name"`
	Email        string              `json:"email,omitempty"`
	TimeZone     string              `json:"time_zone,omitempty" doc:"An IANA zone name; default UTC."`
	WorkingHours access.WorkingHours `json:"working_hours,omitempty" doc:"Frames by day: mon … sun, each [{\"start\":\"09:00\",\"end\":\"17:00\"}]."`
	OutOfOffice  *access.Period      `json:"out_of_office,omitempty"`
	Roles        []string            `json:"roles,omitempty" doc:"Names of the tenant's roles."`
}

func (b userBody) input(id string) access.UserInput {
	return access.UserInput{ID: id, DisplayName: b.DisplayName, Email: b.Email, TimeZone: b.TimeZone, WorkingHours: b.WorkingHours,
		OutOfOffice: b.OutOfOffice, Roles: b.Roles}
}

// newUser is the body of POST /users.
type newUser struct {
	ID           string              `json:"id" doc:"The host's id for the user, the Actor id of their calls."`
	DisplayName  string              `json:"display_name"`
	Email        string              `json:"email,omitempty"`
	TimeZone     string              `json:"time_zone,omitempty" doc:"An IANA zone name; default UTC."`
	WorkingHours access.WorkingHours `json:"working_hours,omitempty" doc:"Frames by day: mon … sun, each [{\"start\":\"09:00\",\"end\":\"17:00\"}]."`
	OutOfOffice  *access.Period      `json:"out_of_office,omitempty"`
	Roles        []string            `json:"roles,omitempty" doc:"Names of the tenant's roles."`
}

// teamBody is the body that creates or changes a team.
type teamBody struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// memberBody is the body of POST /teams/{id}/members.
type memberBody struct {
	UserID   string        `json:"user_id" doc:"An active user of the tenant."`
	Lead     bool          `json:"lead,omitempty"`
	Capacity int           `json:"capacity,omitempty" doc:"The most open items the member takes from team assignment; 0: no cap."`
	Skills   access.Skills `json:"skills,omitzero"`
}

// roleBody is the body that creates or replaces a role.
type roleBody struct {
	Name        string             `json:"name"`
	Description string             `json:"description,omitempty"`
	Permissions access.Permissions `json:"permissions" doc:"By module: the actions allowed, the records seen (own, team, all), personal data."`
}

// versionedInput is a path id with If-Match.
type versionedInput struct {
	ID      string `path:"id"`
	IfMatch string `header:"If-Match" doc:"The version read (the ETag of GET)."`
}

// changeErrors are the answers of a versioned change.
var changeErrors = []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
	http.StatusPreconditionRequired, http.StatusUnprocessableEntity}

func registerAccess(api huma.API) {
	registerUsers(api)
	registerTeams(api)
	registerRoles(api)
}

func registerUsers(api huma.API) {
	tags := []string{"users"}
	huma.Register(api, common(huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: "/users", Tags: tags,
		Summary: "List users", Description: "One page of the tenant's users, by id.", Errors: []int{http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ActiveOnly bool   `query:"active_only" doc:"Leave out deactivated users."`
			Limit      int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 100)."`
			Cursor     string `query:"cursor" doc:"The next of the previous page."`
		}) (*listPage[*access.User], error) {
			p, err := crmOf(ctx).Access.Users.List(ctx, access.UserListOptions{ActiveOnly: in.ActiveOnly, Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, problem(err, false)
			}
			out := &listPage[*access.User]{}
			out.Body.Items, out.Body.Next = p.Items, p.Next
			if out.Body.Items == nil {
				out.Body.Items = []*access.User{}
			}
			return out, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "create-user", Method: http.MethodPost, Path: "/users", Tags: tags,
		Summary: "Create a user", Description: "A member of the tenant's staff, with their roles.", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the create answers as the first time (kept 24 hours)."`
			Body           newUser
		}) (*one[*access.User], error) {
			b := in.Body
			u, err := crmOf(ctx).Access.Users.Create(ctx, userBody{DisplayName: b.DisplayName, Email: b.Email, TimeZone: b.TimeZone,
				WorkingHours: b.WorkingHours, OutOfOffice: b.OutOfOffice, Roles: b.Roles}.input(b.ID))
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*access.User]{ETag: etag(u.Version), Body: u}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-user", Method: http.MethodGet, Path: "/users/{id}", Tags: tags,
		Summary: "Get a user", Description: "The user, with their version as ETag.", Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			ID string `path:"id"`
		}) (*one[*access.User], error) {
			u, err := crmOf(ctx).Access.Users.Get(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*access.User]{ETag: etag(u.Version), Body: u}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "replace-user", Method: http.MethodPut, Path: "/users/{id}", Tags: tags,
		Summary:     "Replace a user",
		Description: "Replaces every field of the user (roles included), if If-Match still names their version (else 412).",
		Errors:      changeErrors}),
		func(ctx context.Context, in *struct {
			ID      string `path:"id"`
			IfMatch string `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    userBody
		}) (*one[*access.User], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			u, err := crmOf(ctx).Access.Users.Update(ctx, in.ID, v, in.Body.input(""))
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*access.User]{ETag: etag(u.Version), Body: u}, nil
		})
	for _, op := range []struct {
		verb, doc string
		active    bool
	}{{"deactivate", "Deactivates the user: they may not act any more, and keep the records they own (users are not deleted).", false},
		{"activate", "Activates a deactivated user again.", true}} {
		huma.Register(api, common(huma.Operation{OperationID: op.verb + "-user", Method: http.MethodPost, Path: "/users/{id}/" + op.verb, Tags: tags,
			Summary: op.doc, Description: op.doc + " If-Match must still name the user's version.", Errors: changeErrors}),
			func(ctx context.Context, in *versionedInput) (*one[*access.User], error) {
				v, err := versionOf(in.IfMatch)
				if err != nil {
					return nil, err
				}
				users := crmOf(ctx).Access.Users
				change := users.Deactivate
				if op.active {
					change = users.Activate
				}
				u, err := change(ctx, in.ID, v)
				if err != nil {
					return nil, problem(err, true)
				}
				return &one[*access.User]{ETag: etag(u.Version), Body: u}, nil
			})
	}
}

func registerTeams(api huma.API) {
	tags := []string{"teams"}
	huma.Register(api, common(huma.Operation{OperationID: "list-teams", Method: http.MethodGet, Path: "/teams", Tags: tags,
		Summary: "List teams", Description: "The tenant's teams with their members, by name."}),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []*access.Team }, error) {
			ts, err := crmOf(ctx).Access.Teams.List(ctx)
			if err != nil {
				return nil, problem(err, false)
			}
			if ts == nil {
				ts = []*access.Team{}
			}
			return &struct{ Body []*access.Team }{Body: ts}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "create-team", Method: http.MethodPost, Path: "/teams", Tags: tags,
		Summary: "Create a team", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the create answers as the first time (kept 24 hours)."`
			Body           teamBody
		}) (*one[*access.Team], error) {
			t, err := crmOf(ctx).Access.Teams.Create(ctx, access.TeamInput{Name: in.Body.Name, Description: in.Body.Description})
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*access.Team]{ETag: etag(t.Version), Body: t}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-team", Method: http.MethodGet, Path: "/teams/{id}", Tags: tags,
		Summary: "Get a team", Description: "The team with its members, with its version as ETag.", Errors: []int{http.StatusNotFound}}),
		func(ctx context.Context, in *idInput) (*one[*access.Team], error) {
			t, err := crmOf(ctx).Access.Teams.Get(ctx, in.ID)
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*access.Team]{ETag: etag(t.Version), Body: t}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "update-team", Method: http.MethodPut, Path: "/teams/{id}", Tags: tags,
		Summary: "Change a team", Description: "Replaces the team's name and description, if If-Match still names its version (else 412).",
		Errors: changeErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id"`
			IfMatch string  `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    teamBody
		}) (*one[*access.Team], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			t, err := crmOf(ctx).Access.Teams.Update(ctx, in.ID, v, access.TeamInput{Name: in.Body.Name, Description: in.Body.Description})
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*access.Team]{ETag: etag(t.Version), Body: t}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "delete-team", Method: http.MethodDelete, Path: "/teams/{id}", Tags: tags,
		Summary: "Delete a team", Description: "Removes the team and its memberships, if If-Match still names its version (else 412).",
		DefaultStatus: http.StatusNoContent, Errors: changeErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id"`
			IfMatch string  `header:"If-Match" doc:"The version read (the ETag of GET)."`
		}) (*struct{}, error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			return nil, problem(crmOf(ctx).Access.Teams.Delete(ctx, in.ID, v), true)
		})
	huma.Register(api, common(huma.Operation{OperationID: "add-team-member", Method: http.MethodPost, Path: "/teams/{id}/members", Tags: tags,
		Summary: "Add a member", Description: "Adds an active user to the team, if If-Match still names the team's version (else 412).",
		Errors: changeErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id"`
			IfMatch string  `header:"If-Match" doc:"The team's version read (the ETag of GET)."`
			Body    memberBody
		}) (*one[*access.Team], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			t, err := crmOf(ctx).Access.Teams.AddMember(ctx, in.ID, v, access.Member{UserID: in.Body.UserID, Lead: in.Body.Lead,
				Capacity: in.Body.Capacity, Skills: in.Body.Skills})
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*access.Team]{ETag: etag(t.Version), Body: t}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "remove-team-member", Method: http.MethodDelete, Path: "/teams/{id}/members/{user}",
		Tags: tags, Summary: "Remove a member", Description: "Takes the user out of the team, if If-Match still names the team's version (else 412).",
		Errors: changeErrors}),
		func(ctx context.Context, in *struct {
			ID      core.ID `path:"id"`
			User    string  `path:"user" doc:"The member's user id."`
			IfMatch string  `header:"If-Match" doc:"The team's version read (the ETag of GET)."`
		}) (*one[*access.Team], error) {
			v, err := versionOf(in.IfMatch)
			if err != nil {
				return nil, err
			}
			t, err := crmOf(ctx).Access.Teams.RemoveMember(ctx, in.ID, v, in.User)
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*access.Team]{ETag: etag(t.Version), Body: t}, nil
		})
}

func registerRoles(api huma.API) {
	tags := []string{"roles"}
	huma.Register(api, common(huma.Operation{OperationID: "list-roles", Method: http.MethodGet, Path: "/roles", Tags: tags,
		Summary: "List roles", Description: "The tenant's roles with their permissions, by name."}),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []*access.Role }, error) {
			rs, err := crmOf(ctx).Access.Roles.List(ctx)
			if err != nil {
				return nil, problem(err, false)
			}
			if rs == nil {
				rs = []*access.Role{}
			}
			return &struct{ Body []*access.Role }{Body: rs}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "create-role", Method: http.MethodPost, Path: "/roles", Tags: tags,
		Summary: "Create a role", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			IdempotencyKey string `header:"Idempotency-Key" maxLength:"200" doc:"Sent again with the same key and body, the create answers as the first time (kept 24 hours)."`
			Body           roleBody
		}) (*one[*access.Role], error) {
			r, err := crmOf(ctx).Access.Roles.Create(ctx, access.RoleInput{Name: in.Body.Name, Description: in.Body.Description,
				Permissions: in.Body.Permissions})
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*access.Role]{ETag: etag(r.Version), Body: r}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "get-role", Method: http.MethodGet, Path: "/roles/{name}", Tags: tags,
		Summary: "Get a role", Description: "The role, with its version as ETag.", Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity}}),
		func(ctx context.Context, in *struct {
			Name string `path:"name"`
		}) (*one[*access.Role], error) {
			r, err := crmOf(ctx).Access.Roles.Get(ctx, in.Name)
			if err != nil {
				return nil, problem(err, false)
			}
			return &one[*access.Role]{ETag: etag(r.Version), Body: r}, nil
		})
	// roleAt reads the role named in a path for a change.
	roleAt := func(ctx context.Context, name, ifMatch string) (*access.Role, int64, error) {
		v, err := versionOf(ifMatch)
		if err != nil {
			return nil, 0, err
		}
		r, err := crmOf(ctx).Access.Roles.Get(ctx, name)
		if err != nil {
			return nil, 0, problem(err, false)
		}
		return r, v, nil
	}
	huma.Register(api, common(huma.Operation{OperationID: "replace-role", Method: http.MethodPut, Path: "/roles/{name}", Tags: tags,
		Summary:     "Replace a role",
		Description: "Replaces the role's name, description and permissions, if If-Match still names its version (else 412). Its users keep it.",
		Errors:      changeErrors}),
		func(ctx context.Context, in *struct {
			Name    string `path:"name"`
			IfMatch string `header:"If-Match" doc:"The version read (the ETag of GET)."`
			Body    roleBody
		}) (*one[*access.Role], error) {
			cur, v, err := roleAt(ctx, in.Name, in.IfMatch)
			if err != nil {
				return nil, err
			}
			r, err := crmOf(ctx).Access.Roles.Update(ctx, cur.ID, v, access.RoleInput{Name: in.Body.Name, Description: in.Body.Description,
				Permissions: in.Body.Permissions})
			if err != nil {
				return nil, problem(err, true)
			}
			return &one[*access.Role]{ETag: etag(r.Version), Body: r}, nil
		})
	huma.Register(api, common(huma.Operation{OperationID: "delete-role", Method: http.MethodDelete, Path: "/roles/{name}", Tags: tags,
		Summary:       "Delete a role",
		Description:   "Deletes the role, if If-Match still names its version (else 412); a role a user holds is refused (422).",
		DefaultStatus: http.StatusNoContent, Errors: changeErrors}),
		func(ctx context.Context, in *struct {
			Name    string `path:"name"`
			IfMatch string `header:"If-Match" doc:"The version read (the ETag of GET)."`
		}) (*struct{}, error) {
			cur, v, err := roleAt(ctx, in.Name, in.IfMatch)
			if err != nil {
				return nil, err
			}
			return nil, problem(crmOf(ctx).Access.Roles.Delete(ctx, cur.ID, v), true)
		})
}
