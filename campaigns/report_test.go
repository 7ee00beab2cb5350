package campaigns_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/campaigns"
)

// sample reads a report sample of testdata with its placeholders filled.
func sample(t testing.TB, name, address, recipient, messageID string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return strings.NewReplacer("ADDRESS", address, "RECIPIENT", recipient, "MESSAGEID", messageID).Replace(string(b))
}

// The report samples (written from RFC 3464's and RFC 5965's examples and
// the shape of Postfix's reports) parse to what they say, with LF and
// with CRLF line ends.
func TestParseReport(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		read := func(name string) (*campaigns.Report, error) {
			s := sample(t, name, "ada@example.net", "0190f0e2-0000-7000-8000-000000000001", "0190f0e2-0000-7000-8000-000000000001@shop.example")
			if crlf {
				s = strings.ReplaceAll(s, "\n", "\r\n")
			}
			return campaigns.ParseReport(strings.NewReader(s))
		}
		hard, err := read("dsn_hard.eml")
		require.NoError(t, err)
		require.Equal(t, campaigns.BounceHard, hard.Kind)
		require.Equal(t, "5.1.1", hard.Status)
		require.Equal(t, "ada@example.net", hard.Recipient)
		require.Equal(t, "0190f0e2-0000-7000-8000-000000000001@shop.example", hard.MessageID)
		require.Contains(t, hard.Diagnostic, "User unknown")

		soft, err := read("dsn_delayed.eml")
		require.NoError(t, err)
		require.Equal(t, campaigns.BounceSoft, soft.Kind)
		require.Equal(t, "4.2.2", soft.Status)
		require.Equal(t, "0190f0e2-0000-7000-8000-000000000001@shop.example", soft.MessageID)

		arf, err := read("arf_abuse.eml")
		require.NoError(t, err)
		require.Equal(t, campaigns.Complaint, arf.Kind)
		require.Equal(t, "abuse", arf.Diagnostic)
		require.Equal(t, "ada@example.net", arf.Recipient)

		_, err = read("autoreply.eml")
		require.ErrorIs(t, err, campaigns.ErrNoReport)
		_, err = read("broken_report.eml")
		require.Error(t, err)
		require.False(t, errors.Is(err, campaigns.ErrNoReport))
	}
}

func FuzzParseReport(f *testing.F) {
	for _, name := range []string{"dsn_hard.eml", "dsn_delayed.eml", "arf_abuse.eml", "autoreply.eml", "broken_report.eml"} {
		f.Add(sample(f, name, "ada@example.net", "0190f0e2-0000-7000-8000-000000000001", "x@y"))
	}
	f.Fuzz(func(t *testing.T, mail string) {
		r, err := campaigns.ParseReport(strings.NewReader(mail))
		if err == nil {
			switch r.Kind {
			case campaigns.BounceHard, campaigns.BounceSoft, campaigns.Complaint:
			default:
				t.Fatalf("a report of kind %q", r.Kind)
			}
		}
	})
}
