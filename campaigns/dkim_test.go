package campaigns_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/campaigns"
	"github.com/crmkit/crmkit/internal/mailtest"
)

// A message the SMTP mailer signs verifies against the published key,
// its RFC 8058 headers covered; an altered one does not.
func TestDKIMSignature(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	record := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)
	srv := mailtest.Start(t)
	m := &campaigns.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 5 * time.Second,
		DKIM: &campaigns.DKIM{Domain: "shop.example", Selector: "crm", Key: key}}
	t.Cleanup(func() { _ = m.Close() })
	err = m.Send(context.Background(), &campaigns.Message{FromName: "Shop", FromAddress: "news@shop.example", To: "ada@example.com",
		Subject: "News", HTML: "<p>Hello Ada</p>", Text: "Hello Ada", MessageID: "1@shop.example",
		Headers: map[string]string{"List-Unsubscribe": "<https://shop.example/u/t>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}})
	require.NoError(t, err)
	got := srv.To("ada@example.com")
	require.Len(t, got, 1)
	lookup := func(domain string) ([]string, error) {
		require.Equal(t, "crm._domainkey.shop.example", domain)
		return []string{record}, nil
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(got[0].Data), &dkim.VerifyOptions{LookupTXT: lookup})
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.NoError(t, vs[0].Err)
	require.Equal(t, "shop.example", vs[0].Domain)
	for _, h := range []string{"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} {
		require.Contains(t, strings.ToLower(strings.Join(vs[0].HeaderKeys, ",")), h)
	}
	// Altered after signing: refused.
	altered := bytes.Replace(got[0].Data, []byte("Subject: News"), []byte("Subject: Newz"), 1)
	vs, err = dkim.VerifyWithOptions(bytes.NewReader(altered), &dkim.VerifyOptions{LookupTXT: lookup})
	require.NoError(t, err)
	require.Error(t, vs[0].Err)
}
