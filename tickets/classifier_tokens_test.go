package tickets_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/tickets"
)

// Tokenize lower-cases, folds umlauts (both spellings meet), strips other
// diacritics, drops URLs, e-mail addresses, numbers and the stop words of
// both languages, and removes one inflection ending.
func TestTokenize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"german sentence", "Meine Rückerstattung für die Bestellung!", []string{"rueckerstattung", "bestellung"}},
		{"umlaut spelled out", "RUECKERSTATTUNG fuer Bestellung", []string{"rueckerstattung", "bestellung"}},
		{"sharp s", "Straße STRASSE strasse GROẞ", []string{"strass", "strass", "strass", "gross"}},
		{"umlauts and stems", "Ärger über Öl", []string{"aerg", "oel"}},
		{"other diacritics", "Café résumé naïve", []string{"cafe", "resum", "naiv"}},
		{"decomposed umlaut", "Ru\u0308ckgabe", []string{"rueckgab"}},
		{"urls, mail, numbers", "see https://example.com/x?y=1 or www.foo.de, mail ada@example.com order 12345 2fa 3.5",
			[]string{"see", "mail", "order", "2fa"}},
		{"english endings", "invoices invoiced invoice shipping shipped ships companies",
			[]string{"invoic", "invoic", "invoic", "ship", "ship", "ship", "company"}},
		{"german endings", "Rechnungen Rechnung Pakete Paket Kunden Kunde Möglichkeiten",
			[]string{"rechnung", "rechnung", "paket", "paket", "kund", "kund", "moeglichkeit"}},
		{"no plural ending", "access status analysis", []string{"access", "status", "analysis"}},
		{"short words keep their ending", "user order need", []string{"user", "order", "need"}},
		{"stop words only", "the and of der die das und hallo thanks", []string{}},
		{"punctuation splits", "E-Mail/Login: (Passwort)", []string{"mail", "login", "passwort"}},
		{"encoded data", "token " + strings.Repeat("ab", 30), []string{"token"}},
		{"other scripts", "Привет мир", []string{"привет", "мир"}},
		{"empty", "  \n\t ", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tickets.Tokenize(tc.text))
		})
	}
	// Both spellings of a word are one token.
	require.Equal(t, tickets.Tokenize("Rückgabe Größe Übersicht"), tickets.Tokenize("rueckgabe GROESSE uebersicht"))
}

// FuzzTokenize: any input gives tokens of letters and digits only,
// never empty, never longer than the limit, and the same again.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"Rückerstattung für die Bestellung", "https://x.y/z a@b.c 123", "ẞ\u0308\u0301", "\xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := tickets.Tokenize(s)
		for _, tok := range toks {
			require.NotEmpty(t, tok)
			require.LessOrEqual(t, len(tok), 40)
			require.False(t, strings.ContainsAny(tok, " \t\n.,;:!?\"'()[]{}<>*&|@/\\"), "%q", tok)
		}
		require.Equal(t, toks, tickets.Tokenize(s))
	})
}
