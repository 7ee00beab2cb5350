package crm

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
)

// Every crm_ table that refers to a contact is covered by a registered
// source of personal data: a module that adds one without registering it
// for the subject access export (and erasure) fails here.
func TestEveryContactTableHasAnExporter(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c, err := New(db, Config{})
		require.NoError(t, err)
		require.NoError(t, c.Migrate(ctx))
		covered := map[string]bool{}
		for _, src := range c.shared.rt.PersonalDataSources() {
			for _, table := range src.Tables {
				covered[table] = true
			}
		}
		query := `SELECT DISTINCT m.name FROM sqlite_master m, pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name LIKE 'crm_%' AND p.name IN ('contact_id', 'loser_id', 'winner_id')`
		if db.Dialect().Name().String() == "pg" {
			query = `SELECT DISTINCT table_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name LIKE 'crm_%' AND column_name IN ('contact_id', 'loser_id', 'winner_id')`
		}
		rows, err := db.DB.QueryContext(ctx, query)
		require.NoError(t, err)
		defer rows.Close()
		tables := []string{"crm_contacts"}
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			tables = append(tables, name)
		}
		require.NoError(t, rows.Err())
		require.Greater(t, len(tables), 6)
		for _, table := range tables {
			require.True(t, covered[table], "%s refers to contacts but no personal-data source covers it", table)
		}
		require.True(t, slices.Contains(tables, "crm_consents"))
	})
}
