package automation_test

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
)

// JobWorker works every kind the engine registers with River: a worker
// added to the client but not to JobWorker would leave package crmtest
// unable to run its jobs.
func TestJobWorkerKnowsEveryRegisteredKind(t *testing.T) {
	t.Parallel()
	c, err := crm.New(dbtest.SQLite(t), crm.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	w := c.JobWorker()
	// River does not list a Workers bundle's kinds; its map is read here.
	m := reflect.ValueOf(w.Config().Workers).Elem().FieldByName("workersMap")
	require.True(t, m.IsValid(), "river.Workers has no workersMap: River changed; read its kinds another way")
	var registered []string
	for _, k := range m.MapKeys() {
		registered = append(registered, k.String())
	}
	slices.Sort(registered)
	require.Equal(t, registered, w.Kinds())
	require.Equal(t, slices.Sorted(maps.Keys(w.Config().Queues)), slices.Sorted(slices.Values(w.Queues())))
}
