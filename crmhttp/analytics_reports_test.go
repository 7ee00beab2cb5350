package crmhttp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
)

// walkServiceReports walks the service levels and forecast accuracy
// reports: answers that fit the document, bad days, zones and ids
// refused, an unknown team or pipeline not found.
func walkServiceReports(t *testing.T, c *client) {
	t.Helper()
	today := core.DateOf(time.Now().UTC())
	q := "?from=" + today.AddDays(-7).String() + "&to=" + today.AddDays(1).String()
	res, b := c.do(http.MethodGet, "/analytics/service"+q+"&location=Europe/Berlin&by=team&interval=week", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"location":"Europe/Berlin"`)
	require.Contains(t, string(b), `"first_response_sla"`)
	require.Equal(t, 1, strings.Count(string(b), `"period":{"from":"`+today.AddDays(-7).String()+`","to":"`))
	res, b = c.do(http.MethodGet, "/analytics/service?from=today&to=2026-01-01&location=Mars/Olympus&team_id=x", nil, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, string(b))
	for _, field := range []string{"from", "location", "team_id"} {
		require.Contains(t, string(b), field)
	}
	res, _ = c.do(http.MethodGet, "/analytics/service"+q+"&team_id="+core.NewID().String(), nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	res, b = c.do(http.MethodGet, "/analytics/forecast-accuracy?from=2026-01-01&to=2027-01-01&interval=quarter", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"interval":"quarter"`)
	require.Contains(t, string(b), `"period":{"from":"2026-01-01","to":"2027-01-01"}`)
	res, _ = c.do(http.MethodGet, "/analytics/forecast-accuracy?from=2026-01-01&to=2025-01-01", nil, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/analytics/forecast-accuracy?from=2026-01-01&to=2027-01-01&pipeline_id="+core.NewID().String(), nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}
