package crmhttp_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/crm"
)

// Two types of one name in different packages get a schema each: the
// first registered keeps the name (access.Period, a user's time off), the
// other gets its package's name in front (analytics.Period, a report's
// days), and each body refers to its own.
func TestSchemasOfTypesWithOneName(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		_, c := setup(t, db, crm.Config{})
		schemas := c.doc.Components.Schemas
		props := func(name string) []string {
			t.Helper()
			s, ok := schemas[name]
			require.True(t, ok, "no schema %s", name)
			var names []string
			for p := range s.Value.Properties {
				names = append(names, p)
			}
			return names
		}
		require.ElementsMatch(t, []string{"from", "until"}, props("Period"))
		require.ElementsMatch(t, []string{"from", "to"}, props("AnalyticsPeriod"))
		require.Equal(t, "#/components/schemas/Period", schemas["UserBody"].Value.Properties["out_of_office"].Ref)
		for _, report := range []string{"ServiceReport", "ForecastAccuracy"} {
			require.Equal(t, "#/components/schemas/AnalyticsPeriod", schemas[report].Value.Properties["period"].Ref, report)
		}
	})
}
