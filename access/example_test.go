package access_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
)

// openCRM opens an in-memory CRM for the examples.
func openCRM(ctx context.Context) *crm.CRM {
	c, err := crm.Open(ctx, crm.Config{DSN: ":memory:"})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	return c
}

// Install the built-in roles, add a user with one of them, and resolve
// what the user may do.
func ExampleService_Resolve() {
	ctx := context.Background()
	c := openCRM(ctx)
	defer c.Close()
	if _, err := c.Access.Roles.InstallBuiltins(ctx); err != nil {
		log.Fatal(err)
	}
	_, err := c.Access.Users.Create(ctx, access.UserInput{ID: "user-42", DisplayName: "Anna Berg",
		TimeZone: "Europe/Berlin", Roles: []string{access.RoleSales}})
	if err != nil {
		log.Fatal(err)
	}
	eff, err := c.Access.Resolve(ctx, core.Actor{ID: "user-42"})
	if err != nil {
		log.Fatal(err)
	}
	vis, ids := eff.Visibility("contacts")
	fmt.Println(eff.Can("pipeline", access.Update), eff.Can("pipeline", access.Delete))
	fmt.Println(vis, ids)
	fmt.Println(eff.SeesPersonalData("contacts"), eff.SeesPersonalData("pipeline"))
	fmt.Println(errors.Is(eff.Require("consent", access.Erase), core.ErrForbidden))
	// Output:
	// true false
	// own [user-42]
	// true false
	// true
}

// Build a team, and see a member's records through "team" visibility: the
// condition a module appends to its WHERE binds the members as one list.
func ExampleEffective_Condition() {
	ctx := context.Background()
	c := openCRM(ctx)
	defer c.Close()
	_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: "lead", Permissions: access.Permissions{
		"pipeline": {Actions: []access.Action{access.Read, access.Update}, Visibility: access.VisibilityTeam}}})
	if err != nil {
		log.Fatal(err)
	}
	for _, u := range []access.UserInput{{ID: "anna", DisplayName: "Anna", Roles: []string{"lead"}}, {ID: "ben", DisplayName: "Ben"}} {
		if _, err := c.Access.Users.Create(ctx, u); err != nil {
			log.Fatal(err)
		}
	}
	team, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: "sales-emea"})
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"anna", "ben"} {
		if team, err = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: id}); err != nil {
			log.Fatal(err)
		}
	}
	eff, err := c.Access.ForContext(core.WithActor(ctx, core.Actor{ID: "anna"}))
	if err != nil {
		log.Fatal(err)
	}
	_, ids := eff.Visibility("pipeline")
	cond, args := eff.Condition("pipeline", "d.owner_id")
	fmt.Println(ids)
	fmt.Println(cond)
	fmt.Println(args)
	// Output:
	// [anna ben]
	// (d.owner_id IN (SELECT value FROM json_each(?)))
	// [["anna","ben"]]
}

// Bad input is refused with every problem listed, and nothing is written.
func ExampleTeams_AddMember() {
	ctx := context.Background()
	c := openCRM(ctx)
	defer c.Close()
	team, err := c.Access.Teams.Create(ctx, access.TeamInput{Name: "support"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Access.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: "support", Capacity: -1,
		Skills: access.Skills{Languages: []string{"de-CH", "klingon!"}}})
	var ve *core.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Println(f.Field)
		}
	}
	// Output:
	// capacity
	// skills.languages[1]
	// user_id
}

// An actor who may manage users and roles gives no more than they have:
// a helpdesk lead with "access" manage may create a role within their own
// permissions and give it, but not give the admin role, even to
// themselves.
func ExampleRoles_Create_withinOwnPermissions() {
	ctx := context.Background()
	c := openCRM(ctx)
	defer c.Close()
	if _, err := c.Access.Roles.InstallBuiltins(ctx); err != nil {
		log.Fatal(err)
	}
	_, err := c.Access.Roles.Create(ctx, access.RoleInput{Name: "desk-lead", Permissions: access.Permissions{
		"access":   {Actions: []access.Action{access.Read, access.Manage}, Visibility: access.VisibilityAll},
		"contacts": {Actions: []access.Action{access.Read, access.Update}, Visibility: access.VisibilityTeam},
	}})
	if err != nil {
		log.Fatal(err)
	}
	lead, err := c.Access.Users.Create(ctx, access.UserInput{ID: "lena", DisplayName: "Lena", Roles: []string{"desk-lead"}})
	if err != nil {
		log.Fatal(err)
	}
	as := core.WithActor(ctx, core.Actor{ID: "lena"})

	_, err = c.Access.Roles.Create(as, access.RoleInput{Name: "desk", Permissions: access.Permissions{
		"contacts": {Actions: []access.Action{access.Read}, Visibility: access.VisibilityOwn}}})
	fmt.Println("role within her permissions:", err)
	_, err = c.Access.Users.Create(as, access.UserInput{ID: "tom", DisplayName: "Tom", Roles: []string{"desk"}})
	fmt.Println("user with it:", err)
	_, err = c.Access.Users.Update(as, "lena", lead.Version, access.UserInput{DisplayName: "Lena", Roles: []string{"desk-lead", access.RoleAdmin}})
	fmt.Println("admin for herself forbidden:", errors.Is(err, core.ErrForbidden))
	// Output:
	// role within her permissions: <nil>
	// user with it: <nil>
	// admin for herself forbidden: true
}
