package contacts

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// decodeTags agrees with encoding/json on every shape a tags column holds.
func TestDecodeTags(t *testing.T) {
	t.Parallel()
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

func TestSimilarFirstNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Jonathan", "Johnathan", true}, {"Bob", "Bobby", true}, {"A.", "Ada", true}, {"ada", "ADA", true},
		{"Anna", "Hanna", false}, {"Jon", "Jan", false}, {"Mary", "Mark", true}, {"Mary", "Maria", false},
		{"", "Ada", false}, {"Zoë", "Zoe", false}, {"Zoë", "Zoëy", true},
	} {
		require.Equal(t, tc.want, similarFirstNames(tc.a, tc.b), "%s ~ %s", tc.a, tc.b)
		require.Equal(t, tc.want, similarFirstNames(tc.b, tc.a), "%s ~ %s", tc.b, tc.a)
	}
}
