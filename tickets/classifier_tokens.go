package tickets

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits of the tokenizer.
const (
	// maxTokenLen drops longer runs of letters and digits (in bytes, after
	// folding): encoded data, not words.
	maxTokenLen = 40
	// minStem is the shortest stem the suffix stemmer leaves.
	minStem = 4
)

// Tokenize splits text (English or German, or a mix) into the words the
// ticket classifier and the knowledge base's search see, in order:
//
//   - Unicode letters and digits make words; everything else separates
//     them ("E-Mail" is "e" and "mail"; one-letter words are dropped).
//   - Whitespace-separated runs that are URLs (with "://" or starting
//     "www.") or e-mail addresses are dropped whole, as are words of digits
//     only (order numbers, amounts, dates).
//   - Words are lower-cased (Unicode), German umlauts and ß are folded
//     (ä → ae, ö → oe, ü → ue, ß → ss), so "Rückgabe" and "Rueckgabe" are
//     one word, and other diacritics are removed (é → e).
//   - Stop words of English and German are dropped (articles, pronouns,
//     auxiliary verbs, prepositions, greetings such as "hallo", "thanks").
//   - A light suffix stemmer removes one plural or inflection ending
//     (English -ies, -ing, -ed, -es, -s; German -ungen, -heiten, -keiten,
//     -en, -er, -em, -e) when a stem of at least four letters is left, and
//     undoubles a final double consonant after -ing and -ed: "invoices",
//     "invoiced" and "invoice" are "invoic"; "Rechnungen" is "rechnung";
//     "shipping" and "ships" are "ship". German compounds are not split.
//
// The same text always gives the same words, on every database: the
// search documents of the knowledge base are these words, so a query and
// an article meet in the same form.
func Tokenize(text string) []string {
	return appendTokens(make([]string, 0, len(text)/8+1), text)
}

// appendTokens appends the tokens of text to out.
func appendTokens(out []string, text string) []string {
	if !norm.NFC.IsNormalString(text) {
		text = norm.NFC.String(text)
	}
	var buf [maxTokenLen * 2]byte
	b := buf[:0]
	for field := range strings.FieldsSeq(text) {
		if isURLOrEmail(field) {
			continue
		}
		start := -1
		for i, r := range field {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
				if start < 0 {
					start = i
				}
				continue
			}
			if start >= 0 {
				out, b = appendWord(out, b, field[start:i])
				start = -1
			}
		}
		if start >= 0 {
			out, b = appendWord(out, b, field[start:])
		}
	}
	return out
}

// isURLOrEmail reports whether a whitespace-separated run is a URL or an
// e-mail address.
func isURLOrEmail(field string) bool {
	if strings.Contains(field, "://") {
		return true
	}
	if len(field) > 4 && strings.EqualFold(field[:4], "www.") {
		return true
	}
	if at := strings.IndexByte(field, '@'); at > 0 && strings.Contains(field[at+1:], ".") {
		return true
	}
	return false
}

// appendWord folds word and appends it to out unless it is dropped; b is
// scratch space, returned for the next word.
func appendWord(out []string, b []byte, word string) ([]string, []byte) {
	// Fast path: lower-case ASCII is its own folding (no copy).
	plain, digits := true, true
	for i := 0; i < len(word) && plain; i++ {
		c := word[i]
		plain = 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		digits = digits && '0' <= c && c <= '9'
	}
	if plain {
		return appendFolded(out, word, digits), b
	}
	if len(word) > 4*maxTokenLen {
		return out, b // too long whatever it folds to
	}
	b = b[:0]
	digits = true
	for _, r := range word {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			if r < '0' || r > '9' {
				digits = false
			}
			b = append(b, byte(r))
			continue
		}
		digits = false
		r = unicode.ToLower(r)
		switch r {
		case 'ä':
			b = append(b, "ae"...)
		case 'ö':
			b = append(b, "oe"...)
		case 'ü':
			b = append(b, "ue"...)
		case 'ß':
			b = append(b, "ss"...)
		default:
			if unicode.IsMark(r) {
				continue
			}
			// Other diacritics go: the base letter of the canonical
			// decomposition stays.
			var enc [utf8.UTFMax]byte
			dec := norm.NFD.Properties(enc[:utf8.EncodeRune(enc[:], r)]).Decomposition()
			if dec == nil {
				b = utf8.AppendRune(b, r)
				continue
			}
			for len(dec) > 0 {
				d, n := utf8.DecodeRune(dec)
				dec = dec[n:]
				if !unicode.IsMark(d) {
					b = utf8.AppendRune(b, d)
				}
			}
		}
	}
	if len(b) < 2 || len(b) > maxTokenLen {
		return out, b
	}
	return appendFolded(out, string(b), digits), b
}

// appendFolded appends the folded word w, stemmed, unless it is dropped.
func appendFolded(out []string, w string, digits bool) []string {
	if digits || len(w) < 2 || len(w) > maxTokenLen || stopWords[w] {
		return out
	}
	return append(out, stem(w))
}

// suffixes are the endings the stemmer removes, longest first: the first
// that fits (leaving minStem bytes) is replaced by its replacement.
var suffixes = []struct {
	suffix, repl string
	undouble     bool
}{
	{"heiten", "heit", false}, {"keiten", "keit", false}, {"ungen", "ung", false},
	{"ies", "y", false}, {"ing", "", true},
	{"ed", "", true}, {"en", "", false}, {"er", "", false}, {"es", "", false}, {"em", "", false},
	{"e", "", false}, {"s", "", false},
}

// stem removes one ending of w (see Tokenize).
func stem(w string) string {
	if strings.IndexByte("nsgdrme", w[len(w)-1]) < 0 {
		return w // no ending of suffixes
	}
	for _, s := range suffixes {
		if !strings.HasSuffix(w, s.suffix) {
			continue
		}
		base := w[:len(w)-len(s.suffix)]
		if len(base)+len(s.repl) < minStem {
			return w
		}
		if s.suffix == "s" && (strings.HasSuffix(base, "s") || strings.HasSuffix(base, "u") || strings.HasSuffix(base, "i")) {
			// "access", "status", "analysis": no plural ending.
			return w
		}
		if s.undouble && len(base) > minStem {
			if c := base[len(base)-1]; c == base[len(base)-2] && strings.IndexByte("bdgmnprt", c) >= 0 {
				base = base[:len(base)-1]
			}
		}
		return base + s.repl
	}
	return w
}

// stopWords are the English and German words Tokenize drops, in folded
// form.
var stopWords = func() map[string]bool {
	const english = `a about above after again against all also am an and any are as at be because been before being below
		between both but by can cannot could dear did do does doing down during each else few for from further get got had has
		have having he hello her here hers herself hi him himself his how however if in into is it its itself just let me more
		most my myself no nor not now of off on once only or other our ours ourselves out over own please regards same she
		should so some such than thank thanks that the their theirs them themselves then there these they this those through
		to too under until up very was we were what when where which while who whom why will with would yes yet you your
		yours yourself yourselves`
	const german = `aber alle allem allen aller alles als also am an ans auch auf aus bei beim bin bis bist bitte da damit
		danke dann das dass dein deine deinem deinen deiner dem den denn der des dich die dies diese diesem diesen dieser dieses dir
		doch dort du durch ein eine einem einen einer eines er es etwas euch euer eure fuer gegen gewesen gruesse gruss guten
		hab habe haben hallo hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer im in ist ja jede
		jedem jeden jeder jedes jetzt kann kein keine keinem keinen keiner koennen koennte liebe lieber man manche mein meine
		meinem meinen meiner mfg mich mir mit muss nach nein nicht nichts noch nun nur ob oder ohne sehr geehrte geehrter
		sein seine seinem seinen seiner sich sie sind so soll sollte sondern tag ueber um und uns unser unsere unter viele
		vielen dank freundlichen vom von vor war waren warum was weil welche welchem welchen welcher wenn wer werde werden
		wie wieder wir wird wo wurde wurden zu zum zur zwischen`
	m := map[string]bool{}
	for _, w := range strings.Fields(english + " " + german) {
		m[w] = true
	}
	return m
}()
