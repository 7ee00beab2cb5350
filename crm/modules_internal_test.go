package crm

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/fields"
	"github.com/crmkit/crmkit/internal/module"
	"github.com/crmkit/crmkit/internal/modules"
	"github.com/crmkit/crmkit/internal/store"
)

// tablesOfPlumbing are the crm_ tables that belong to no module: the
// outbox (internal/store) and the migration bookkeeping.
var tablesOfPlumbing = map[string]string{"crm_events": "internal/store", "crm_idempotency_keys": "internal/store", "crm_migrations": "internal/migrate", "crm_migration_locks": "internal/migrate"}

// Every crm_ table the migrations create has exactly one owner.
func TestEveryTableHasOneOwner(t *testing.T) {
	owner := map[string]string{}
	for _, m := range modules.All() {
		for _, table := range m.Tables {
			require.NotContains(t, owner, table, "%s is claimed by %s and %s", table, owner[table], m.Name)
			owner[table] = m.Name
		}
	}
	files, err := filepath.Glob("../*/migrations/*.sql")
	require.NoError(t, err)
	store, err := filepath.Glob("../internal/migrate/sql/*.sql")
	files = append(files, store...)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	created := regexp.MustCompile(`(?i)CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(crm_\w+)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range created.FindAllStringSubmatch(string(b), -1) {
			table := m[1]
			if strings.HasSuffix(table, "_new") || strings.HasSuffix(table, "_old") {
				continue // a rebuild's temporary copy
			}
			_, plumbing := tablesOfPlumbing[table]
			require.True(t, owner[table] != "" || plumbing, "%s (created in %s) has no owner: add it to its module's Tables", table, filepath.Base(f))
		}
	}
}

// A module writes only its own tables: changes to another module's rows
// go through that module, so that its events fire. This reads the SQL of
// every non-test Go file of every module, and of crm itself.
func TestModulesWriteOnlyTheirOwnTables(t *testing.T) {
	write := regexp.MustCompile(`(?i)\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(crm_\w+)`)
	check := func(dir string, own []string) {
		files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files, dir)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, m := range write.FindAllStringSubmatch(string(b), -1) {
				require.True(t, slices.Contains(own, m[1]), "%s writes %s, which is not its own: go through the owner's service", f, m[1])
			}
		}
	}
	for _, m := range modules.All() {
		check(m.Name, m.Tables)
	}
	check("crm", nil)
	check("internal/store", []string{"crm_events", "crm_idempotency_keys"})
}

// The contract's view of the contacts module's merge and delete events
// matches what contacts emits.
func TestContactHookEventsMatchContacts(t *testing.T) {
	require.Equal(t, contacts.EventContactMerged, module.EventContactMerged)
	require.Equal(t, contacts.EventContactDeleted, module.EventContactDeleted)
	winner, loser := core.NewID(), core.NewID()
	var m module.ContactMerge
	require.NoError(t, json.Unmarshal(store.JSON(contacts.Merged{WinnerID: winner, LoserIDs: []core.ID{loser}}), &m))
	require.Equal(t, module.ContactMerge{WinnerID: winner, LoserIDs: []core.ID{loser}}, m)
	b, err := json.Marshal(contacts.ContactDeleted{ID: loser, MergedInto: &winner})
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"`+loser.String()+`","merged_into":"`+winner.String()+`"}`, string(b))
}

func TestDefaultTenantIsTheStoresDefault(t *testing.T) {
	require.Equal(t, store.DefaultTenant, DefaultTenant)
}

// Each entity's filter schema is declared by its module and carries the
// tenant's custom fields; an entity nobody declares is refused.
func TestModulesDeclareFilterSchemas(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newTestCRM(t, db)
		_, err := c.Fields.Define(ctx, fields.Definition{Entity: "deal", Key: "region", Label: "Region", Type: fields.Text})
		require.NoError(t, err)
		for _, entity := range []string{"contact", "company", "deal", "ticket"} {
			s, err := c.sc.Schema(ctx, entity)
			require.NoError(t, err, entity)
			_, custom := s.Field("attributes.region")
			require.Equal(t, entity == "deal", custom, entity)
		}
		_, err = c.sc.Schema(ctx, "article")
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}

// A module's periodic work runs at its default interval unless
// Config.Periodic names it; RescoreEvery is Periodic["rescore"], and the
// map wins when both are set. The host's map is not changed.
func TestPeriodicIntervals(t *testing.T) {
	t.Parallel()
	rescore := module.Periodic{Name: "rescore", Every: 24 * time.Hour}
	other := module.Periodic{Name: "sweep", Every: time.Minute}
	every := func(c Config) (time.Duration, time.Duration) {
		c, err := c.withDefaults()
		require.NoError(t, err)
		return c.every(rescore), c.every(other)
	}
	r, o := every(Config{})
	require.Equal(t, []time.Duration{24 * time.Hour, time.Minute}, []time.Duration{r, o})
	r, _ = every(Config{RescoreEvery: time.Hour})
	require.Equal(t, time.Hour, r)
	r, _ = every(Config{RescoreEvery: -1})
	require.Negative(t, r, "negative: never")
	host := map[string]time.Duration{"rescore": 2 * time.Hour, "sweep": -1}
	r, o = every(Config{RescoreEvery: time.Hour, Periodic: host})
	require.Equal(t, 2*time.Hour, r)
	require.Negative(t, o)
	host2 := map[string]time.Duration{"sweep": time.Second}
	r, o = every(Config{RescoreEvery: time.Hour, Periodic: host2})
	require.Equal(t, []time.Duration{time.Hour, time.Second}, []time.Duration{r, o})
	require.Equal(t, map[string]time.Duration{"sweep": time.Second}, host2, "the host's map is not changed")
}

// A module's migrations change only its own tables: every statement of
// every file in its migrations/ folder creates, alters, indexes, fills or
// drops one of the module's Tables (or a rebuild's temporary copy of one).
// A module without tables has no migrations.
func TestMigrationsChangeOnlyTheirModulesTables(t *testing.T) {
	target := regexp.MustCompile(`(?is)^(?:CREATE\s+(?:UNIQUE\s+)?INDEX\s+\w+\s+ON|CREATE\s+TRIGGER\s+\w+\s+\w+\s+\w+\s+ON|` +
		`CREATE\s+(?:VIRTUAL\s+)?TABLE|ALTER\s+TABLE|DROP\s+TABLE|INSERT\s+INTO|UPDATE|DELETE\s+FROM|ANALYZE)\s+(\w+)`)
	dropNamed := regexp.MustCompile(`(?i)^DROP\s+(?:TRIGGER|INDEX)\s+(?:IF\s+EXISTS\s+)?(\w+)`)
	for _, m := range modules.All() {
		if len(m.Tables) == 0 {
			// A module that owns no table (analytics, which only reads)
			// has nothing to migrate.
			require.Nil(t, m.Migrations, "%s owns no table but declares migrations", m.Name)
			continue
		}
		require.NotNil(t, m.Migrations, "%s declares no migrations", m.Name)
		entries, err := fs.ReadDir(m.Migrations, ".")
		require.NoError(t, err)
		require.NotEmpty(t, entries, m.Name)
		for _, e := range entries {
			b, err := fs.ReadFile(m.Migrations, e.Name())
			require.NoError(t, err)
			for _, stmt := range strings.SplitAfter(string(b), ";\n") {
				var code []string
				for _, line := range strings.Split(stmt, "\n") {
					if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
						code = append(code, l)
					}
				}
				if len(code) == 0 {
					continue
				}
				sql := strings.Join(code, " ")
				if trigger := dropNamed.FindStringSubmatch(sql); trigger != nil {
					// A trigger or an index is named after its table.
					require.True(t, slices.ContainsFunc(m.Tables, func(t string) bool { return strings.HasPrefix(trigger[1], t+"_") }),
						"%s/migrations/%s drops trigger or index %s, which is not on one of the module's tables", m.Name, e.Name(), trigger[1])
					continue
				}
				match := target.FindStringSubmatch(sql)
				require.NotNil(t, match, "%s/migrations/%s: a statement that changes no table: %.60s", m.Name, e.Name(), sql)
				table := strings.TrimSuffix(match[1], "_new")
				require.True(t, slices.Contains(m.Tables, table), "%s/migrations/%s changes %s, which is not the module's", m.Name, e.Name(), table)
			}
		}
	}
}
