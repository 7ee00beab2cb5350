package core_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
)

type inner struct {
	StageID core.ID `json:"stage_id"`
}

type payload struct {
	Name       string            `json:"name"`
	Deal       *inner            `json:"deal,omitempty"`
	Amount     core.Money        `json:"amount"`
	Attributes map[string]any    `json:"attributes"`
	At         time.Time         `json:"at"`
	Raw        json.RawMessage   `json:"raw"`
	Skipped    string            `json:"-"`
	hidden     string            //nolint:unused
	Tags       []string          `json:"tags"`
	Props      map[string]string `json:"props,omitempty"`
}

func TestEventTypeFields(t *testing.T) {
	et := core.EventType{Type: "thing.done", Subject: "thing", Payload: payload{}}
	require.Equal(t, []string{"amount", "amount.amount", "amount.currency", "at", "attributes", "attributes.*", "deal", "deal.stage_id", "name",
		"props", "props.*", "raw", "raw.*", "tags"}, et.Fields())
	require.Nil(t, core.EventType{Type: "x.y"}.Fields())

	types := []core.EventType{et}
	for _, ok := range []string{"name", "deal.stage_id", "attributes.plan", "amount"} {
		require.True(t, core.HasField(types, ok), ok)
	}
	for _, bad := range []string{"nme", "deal.stage", "skipped", "hidden", "Skipped"} {
		require.False(t, core.HasField(types, bad), bad)
	}
}

func TestEventCatalogue(t *testing.T) {
	c := core.NewEventCatalogue(
		core.EventType{Type: "contact.created", Subject: "contact"},
		core.EventType{Type: "contact.updated", Subject: "contact"},
		core.EventType{Type: "deal.won", Subject: "deal"},
	)
	require.Len(t, c.Matching("contact.*"), 2)
	require.Len(t, c.Matching("*"), 3)
	require.Len(t, c.Matching("deal.won"), 1)
	require.True(t, c.Known("deal.*"))
	require.False(t, c.Known("contacts.created"))
	require.False(t, c.Known("deal"))

	v := &core.ValidationError{}
	c.CheckPatterns(v, "types", []string{"contact.created", "activty.tracked", "deals.*"})
	require.Equal(t, []string{"types[1]", "types[2]"}, []string{v.Fields[0].Field, v.Fields[1].Field})

	require.Panics(t, func() {
		core.NewEventCatalogue(core.EventType{Type: "a.b"}, core.EventType{Type: "a.b"})
	})
}
