package crmhttp_test

import (
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmhttp"
)

// Options.PublicRate: a flood from one address is slowed down at the
// rate given, and not at all with math.Inf(1).
func TestPublicRate(t *testing.T) {
	t.Parallel()
	migrated.Run(t, func(t *testing.T, db *bun.DB) {
		c, err := crm.New(db, crm.Config{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		flood := func(rate float64) (limited int) {
			h, err := crmhttp.New(c, crmhttp.Options{Auth: auth, PublicRate: rate})
			require.NoError(t, err)
			srv := httptest.NewServer(h)
			defer srv.Close()
			for range 60 {
				res, err := srv.Client().Get(srv.URL + "/public/t/c/forged")
				require.NoError(t, err)
				res.Body.Close()
				switch res.StatusCode {
				case http.StatusTooManyRequests:
					limited++
				default:
					require.Equal(t, http.StatusNotFound, res.StatusCode)
				}
			}
			return limited
		}
		require.Greater(t, flood(1), 30, "a burst of 20, then about one a second")
		require.Zero(t, flood(math.Inf(1)))
	})
}
