package contacts

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeTags agrees with encoding/json on every shape a tags column holds.
func TestDecodeTags(t *testing.T) {
	for _, tags := range [][]string{
		{}, {"vip"}, {"vip", "newsletter"}, {"a, b", "c"}, {`quote"d`}, {`back\slash`}, {"ünï", "日本"}, {"", " x "}, {"[x]", "{y}"},
	} {
		b, err := json.Marshal(tags)
		require.NoError(t, err)
		for _, form := range []string{string(b), spaced(string(b))} {
			var got []string
			require.NoError(t, decodeTags([]byte(form), &got), form)
			if len(tags) == 0 {
				require.Empty(t, got, form)
				continue
			}
			require.Equal(t, tags, got, form)
		}
	}
	var bad []string
	require.Error(t, decodeTags([]byte(`["a",`), &bad))
}

// spaced is how PostgreSQL's jsonb prints an array: ", " between elements.
func spaced(s string) string {
	var v []string
	_ = json.Unmarshal([]byte(s), &v)
	if len(v) == 0 {
		return "[]"
	}
	out := "["
	for i, x := range v {
		if i > 0 {
			out += ", "
		}
		b, _ := json.Marshal(x)
		out += string(b)
	}
	return out + "]"
}
