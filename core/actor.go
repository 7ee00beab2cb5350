package core

import "context"

// Actor is the user (or system component) on whose behalf a call runs. It
// travels in the context, is written to every event and audit entry, and is
// what record-level access rules look at.
type Actor struct {
	// ID is the host's id for the user, e.g. "user-42" or "system:import".
	ID string `json:"id"`
	// Roles and Teams are the host's names; crmkit only compares them.
	Roles []string `json:"roles,omitempty"`
	Teams []string `json:"teams,omitempty"`
}

type actorKey struct{}

// WithActor returns a context that carries a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx and whether there is one.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// HasRole reports whether the actor has role r.
func (a Actor) HasRole(r string) bool {
	for _, x := range a.Roles {
		if x == r {
			return true
		}
	}
	return false
}
