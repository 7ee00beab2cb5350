package tickets

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// testCounts counts docs synthetic documents of k classes: each class
// has words of its own ("c0w1"), and all share common words.
func testCounts(k, docs int, seed uint64) *counts {
	r := rand.New(rand.NewPCG(seed, seed))
	c := newCounts()
	seen := map[string]bool{}
	for i := range docs {
		label := string(rune('a' + i%k))
		var toks []string
		for range 12 {
			if r.IntN(3) == 0 {
				toks = append(toks, "common"+string(rune('a'+r.IntN(20))))
			} else {
				toks = append(toks, "c"+label+"w"+string(rune('a'+r.IntN(15))))
			}
		}
		c.add(label, toks, seen)
	}
	return c
}

// Probabilities are finite and sum to one however far apart the scores
// are; a model predicts its classes' words and knows nothing of others.
func TestNaiveBayes(t *testing.T) {
	for _, scores := range [][]float64{{0, 0}, {-1e6, 0, -3}, {-5000, -5000.5}, {1e300, -1e300}} {
		for _, temp := range []float64{1, 3.7, 1000} {
			p := posterior(scores, temp, nil)
			var sum float64
			for _, x := range p {
				require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "%v %v", scores, temp)
				sum += x
			}
			require.InDelta(t, 1, sum, 1e-9)
			require.Equal(t, best(scores), best(p), "the temperature keeps the order")
		}
	}
	c := testCounts(3, 300, 1)
	m := build(c, c, vocabulary(c))
	require.Equal(t, []string{"a", "b", "c"}, m.Classes)
	label, conf, ok := m.predict([]string{"cbwa", "cbwc", "commona", "unknown"})
	require.True(t, ok)
	require.Equal(t, "b", label)
	require.Greater(t, conf, 0.9)
	_, _, ok = m.predict([]string{"unknown", "words"})
	require.False(t, ok)
	_, conf, ok = m.predict([]string{"commona"})
	require.True(t, ok)
	require.Less(t, conf, 0.6, "a word of every class says little")

	// The stored form round-trips; a malformed one is refused.
	blob, err := m.marshal()
	require.NoError(t, err)
	back, err := unmarshalModel(blob)
	require.NoError(t, err)
	l2, c2, _ := back.predict([]string{"cbwa", "cbwc", "commona", "unknown"})
	require.Equal(t, label, l2)
	require.InDelta(t, 0.9, c2, 0.1)
	for _, bad := range []string{`{}`, `{"classes":["a"],"docs":[1],"temperature":1}`, `{"classes":["a","b"],"docs":[1,1],"temperature":0}`,
		`{"classes":["a","b"],"docs":[1,1],"temperature":1,"words":{"x":[1]}}`, `not json`} {
		_, err := unmarshalModel([]byte(bad))
		require.Error(t, err, bad)
	}
}

// The vocabulary keeps words of at least two documents, the most frequent
// first, at most MaxVocabulary.
func TestVocabulary(t *testing.T) {
	c := newCounts()
	seen := map[string]bool{}
	c.add("a", []string{"once", "twice", "twice", "often"}, seen)
	c.add("b", []string{"twice", "often"}, seen)
	c.add("b", []string{"often"}, seen)
	require.Equal(t, []string{"often", "twice"}, vocabulary(c))
	require.EqualValues(t, 3, c.total())
}

// The fitted temperature makes confident wrong answers cost less: on
// labels that the words do not predict it rises far above 1, on labels
// they do it stays 1.
func TestCalibration(t *testing.T) {
	train := testCounts(4, 400, 2)
	m := build(train, train, vocabulary(train))
	var good, noise calibration
	r := rand.New(rand.NewPCG(4, 4))
	for i := range 200 {
		label := i % 4
		var toks []string
		for range 12 {
			toks = append(toks, "c"+string(rune('a'+label))+"w"+string(rune('a'+r.IntN(15))))
		}
		s, known := m.scores(toks, nil)
		require.Positive(t, known)
		good.add(s, label)
		noise.add(s, r.IntN(4))
	}
	tg, lg := good.fit()
	tn, ln := noise.fit()
	require.Equal(t, 1.0, tg)
	require.Greater(t, tn, 5.0)
	require.Less(t, lg, ln)
	require.InDelta(t, math.Log(4), ln, 0.1, "noise labels: the loss of knowing nothing")
	var few calibration
	few.add([]float64{0, 1}, 0)
	tf, lf := few.fit()
	require.Equal(t, 1.0, tf)
	require.True(t, math.IsNaN(lf))
}

// BenchmarkSuggestInMemory predicts one ticket's category with a model in
// memory: crmkit's tokenizer and model against a hand-written naive Bayes
// that only lower-cases and splits on what is not a letter (no folding,
// stop words or stemming) and looks its words up in the same
// log-probabilities.
//
//	go test -run XXX -bench SuggestInMemory -count 5 ./tickets
func BenchmarkSuggestInMemory(b *testing.B) {
	c := testCounts(4, 10_000, 5)
	m := build(c, c, vocabulary(c))
	subject := "Cbwa cbwc Rückerstattung"
	body := strings.Repeat("commona cbwd cbwe Paket für die Lieferung https://example.com/x 12345 ", 8)
	b.Run("crmkit", func(b *testing.B) {
		for b.Loop() {
			if _, _, ok := m.predict(appendTokens(Tokenize(subject), body)); !ok {
				b.Fatal("no prediction")
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		prior := m.logPrior
		for b.Loop() {
			scores := append([]float64(nil), prior...)
			for _, text := range []string{subject, body} {
				for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
					if lp, ok := m.logProb[w]; ok {
						for i, p := range lp {
							scores[i] += p
						}
					}
				}
			}
			hi, k := math.Inf(-1), 0
			for i, s := range scores {
				if s > hi {
					hi, k = s, i
				}
			}
			var sum float64
			for _, s := range scores {
				sum += math.Exp(s - hi)
			}
			if 1/sum <= 0 || k < 0 {
				b.Fatal("no prediction")
			}
		}
	})
}
