package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// visibilitySize is the dataset of BenchmarkContactListVisibility:
// CRM_BENCH_VISIBILITY contacts, 50,000 unless set (1000000 for the
// issue's figure).
func visibilitySize() int {
	if n, err := strconv.Atoi(os.Getenv("CRM_BENCH_VISIBILITY")); err == nil && n > 0 {
		return n
	}
	return 50_000
}

// Listing a page of 50 contacts, newest first, with team visibility — an
// actor in 3 teams of 20 users, whose members own 15 of the dataset's 50
// owners (30% of the contacts) — beside the same list without visibility
// rules (the host's own code, no actor), on the benchmark dataset (see
// bench_test.go). "team" includes finding the actor's permissions on
// every call, as each call does — read once a second, as crm's default
// access.Options.ResolveTTL keeps them; "admin" is an actor who sees all
// (resolution, no narrowing); "resolve" times reading the actor's
// permissions from the database, what a call costs without the cache.
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench ContactListVisibility -count 5 ./contacts
func BenchmarkContactListVisibility(b *testing.B) {
	n := visibilitySize()
	for _, db := range []struct {
		name string
		env  func(b *testing.B) *benchEnv
	}{
		{"sqlite", func(b *testing.B) *benchEnv { return sqliteBenchN(b, n) }},
		{"postgres", func(b *testing.B) *benchEnv { return postgresBenchN(b, n) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			e := db.env(b)
			svc, acc := visibilityFixture(b, e)
			opts := contacts.ListOptions{Limit: 50}
			run := func(ctx context.Context, owners func(string) bool) func(b *testing.B) {
				return func(b *testing.B) {
					for b.Loop() {
						page, err := svc.List(ctx, opts)
						if err != nil || len(page.Items) != 50 {
							b.Fatal(err, len(page.Items))
						}
						if owners != nil {
							for _, c := range page.Items {
								if !owners(c.OwnerID) {
									b.Fatalf("contact %s of %s is not the team's", c.ID, c.OwnerID)
								}
							}
						}
					}
				}
			}
			team := func(owner string) bool {
				var i int
				_, err := fmt.Sscanf(owner, "user-%d", &i)
				return err == nil && i < 15
			}
			lead := core.WithActor(context.Background(), core.Actor{ID: "bench-lead"})
			b.Run("team", run(lead, team))
			b.Run("all", run(context.Background(), nil))
			b.Run("admin", run(core.WithActor(context.Background(), core.Actor{ID: "bench-admin"}), nil))
			// What reading the actor's permissions costs by itself (one
			// statement: the user, their roles and their teams' members;
			// Resolve always reads), in turns with the list without rules.
			b.Run("resolve", func(b *testing.B) {
				var resolveNs, allNs time.Duration
				for b.Loop() {
					t0 := time.Now()
					if _, err := acc.Resolve(context.Background(), core.Actor{ID: "bench-lead"}); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if _, err := svc.List(context.Background(), opts); err != nil {
						b.Fatal(err)
					}
					resolveNs, allNs = resolveNs+t1.Sub(t0), allNs+time.Since(t1)
				}
				b.ReportMetric(float64(resolveNs)/float64(b.N), "resolve-ns/op")
				b.ReportMetric(float64(allNs)/float64(b.N), "all-ns/op")
			})
			// team and all in turns, each timed: on a shared machine the
			// ratio of one run is steadier than that of runs apart.
			b.Run("interleaved", func(b *testing.B) {
				var teamNs, allNs time.Duration
				for b.Loop() {
					t0 := time.Now()
					if _, err := svc.List(lead, opts); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if _, err := svc.List(context.Background(), opts); err != nil {
						b.Fatal(err)
					}
					teamNs, allNs = teamNs+t1.Sub(t0), allNs+time.Since(t1)
				}
				b.ReportMetric(float64(teamNs)/float64(b.N), "team-ns/op")
				b.ReportMetric(float64(allNs)/float64(b.N), "all-ns/op")
				b.ReportMetric(float64(teamNs)/float64(allNs), "team/all")
			})
		})
	}
}

// visibilityFixture gives e's dataset (idempotently) the built-in roles,
// a manager "bench-lead" in 3 teams of 20 users — each team 5 owners of
// the dataset's contacts (user-0 … user-14), 14 staff without contacts
// and the lead — and an admin "bench-admin"; it returns the contact
// service of a runtime over it, and the access service.
func visibilityFixture(b *testing.B, e *benchEnv) (*contacts.Service, *access.Service) {
	ctx := context.Background()
	now := benchEpoch.Add(time.Duration(e.n) * time.Second)
	rt, err := store.NewRuntime(e.db, core.ClockFunc(func() time.Time { return now }), []byte("bench-secret-bench-secret-bench-secret"), slog.Default())
	require.NoError(b, err)
	// As crm wires it: a process keeps resolved actors for a second.
	access.Module.Configure(rt, access.Options{})
	sc := store.NewScope(rt)
	acc := access.Module.Service(sc)
	_, err = acc.Roles.InstallBuiltins(ctx)
	require.NoError(b, err)
	user := func(id, role string) {
		_, err := acc.Users.Create(ctx, access.UserInput{ID: id, DisplayName: id, TimeZone: "UTC", Roles: []string{role}})
		if !errors.Is(err, core.ErrConflict) {
			require.NoError(b, err)
		}
	}
	user("bench-lead", access.RoleManager)
	user("bench-admin", access.RoleAdmin)
	for t := range 3 {
		name := fmt.Sprintf("bench-team-%d", t)
		team, err := acc.Teams.ByName(ctx, name)
		if errors.Is(err, core.ErrNotFound) {
			team, err = acc.Teams.Create(ctx, access.TeamInput{Name: name})
		}
		require.NoError(b, err)
		if len(team.Members) == 20 {
			continue
		}
		members := []string{"bench-lead"}
		for i := range 5 {
			members = append(members, fmt.Sprintf("user-%d", 5*t+i))
		}
		for i := range 14 {
			members = append(members, fmt.Sprintf("staff-%d-%d", t, i))
		}
		for _, m := range members[1:] {
			user(m, access.RoleSales)
		}
		for _, m := range members {
			team, err = acc.Teams.AddMember(ctx, team.ID, team.Version, access.Member{UserID: m})
			require.NoError(b, err)
		}
	}
	eff, err := acc.Resolve(ctx, core.Actor{ID: "bench-lead"})
	require.NoError(b, err)
	vis, ids := eff.Visibility("contacts")
	require.Equal(b, access.VisibilityTeam, vis)
	require.Len(b, ids, 58) // 3 × 19 members and the lead
	return contacts.Module.Contacts(sc), acc
}
