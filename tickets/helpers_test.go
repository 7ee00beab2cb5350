package tickets_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/core"
)

// fieldsOf lists the fields of a validation error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	require.ErrorIs(t, err, core.ErrInvalid)
	var ve *core.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}
