package contacts_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/filter"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// oneConnection runs fn on SQLite and PostgreSQL pools of one connection,
// with a context that ends after a few seconds: code that reads the pool
// inside its transaction waits for that connection and fails with the
// context instead of hanging (see internal/txcheck).
func oneConnection(t *testing.T, fn func(ctx context.Context, t *testing.T, b *bundle)) {
	migrated.RunWith(t, dbtest.OneConnection, func(t *testing.T, db *bun.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fn(ctx, t, setup(t, db))
	})
}

// SetModel checks the model's conditions against the custom fields read
// in its own transaction (they were read on the pool, a second
// connection).
func TestSetModelOnOneConnection(t *testing.T) {
	t.Parallel()
	oneConnection(t, func(ctx context.Context, t *testing.T, b *bundle) {
		m, err := contacts.Module.Scoring(b.sc).SetModel(ctx, 0, contacts.ScoringModel{HalfLifeDays: 30, Rules: []contacts.ScoringRule{
			{Name: "Germany", Points: 10, When: ptrExpr(filter.Eq("attributes.country", "DE"))},
		}})
		require.NoError(t, err)
		require.Equal(t, int64(1), m.Version)
	})
}
