package tickets

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Bounds of a classifier model.
const (
	// maxDocTokens is the number of tokens of a document (subject and
	// first message) the classifier reads; the rest is ignored.
	maxDocTokens = 1000
	// MaxVocabulary is the most words a model keeps: the most frequent,
	// among those in at least minDocFreq training documents.
	MaxVocabulary = 50_000
	// minDocFreq: a word in fewer training documents is left out of the
	// model (a name, a typo, an order reference).
	minDocFreq = 2
	// maxCalibration bounds the held-out documents whose scores are kept
	// to calibrate the confidences, so that memory does not grow with the
	// number of tickets.
	maxCalibration = 5000
	// laplace is the additive (Laplace) smoothing of the word counts.
	laplace = 1.0
)

// counts are the training counts of one target: per class the documents
// and, per word, the occurrences in the documents of each class and the
// number of documents it occurs in (over all classes).
type counts struct {
	classes map[string]int // label → index in docs and the words' counts
	labels  []string
	docs    []int64
	words   map[string]*wordCount
}

type wordCount struct {
	n    []int64 // occurrences per class
	docs int64   // documents holding it
}

func newCounts() *counts {
	return &counts{classes: map[string]int{}, words: map[string]*wordCount{}}
}

// class returns the index of label, adding it.
func (c *counts) class(label string) int {
	if i, ok := c.classes[label]; ok {
		return i
	}
	i := len(c.labels)
	c.classes[label] = i
	c.labels = append(c.labels, label)
	c.docs = append(c.docs, 0)
	return i
}

// add counts one document of label with tokens (at most maxDocTokens).
// seen is scratch space, cleared on return.
func (c *counts) add(label string, tokens []string, seen map[string]bool) {
	k := c.class(label)
	c.docs[k]++
	for _, tok := range tokens[:min(len(tokens), maxDocTokens)] {
		w := c.words[tok]
		if w == nil {
			w = &wordCount{}
			c.words[tok] = w
		}
		if len(w.n) <= k {
			w.n = append(w.n, make([]int64, k+1-len(w.n))...)
		}
		w.n[k]++
		if !seen[tok] {
			seen[tok] = true
			w.docs++
		}
	}
	clear(seen)
}

// total returns the number of documents counted.
func (c *counts) total() int64 {
	var n int64
	for _, d := range c.docs {
		n += d
	}
	return n
}

// Model is a trained multinomial naive Bayes classifier: what it stores
// (as JSON) and what predicting needs.
type nbModel struct {
	// Classes are the labels, sorted; Docs the training documents of
	// each.
	Classes []string `json:"classes"`
	Docs    []int64  `json:"docs"`
	// Words are the vocabulary's counts per class (in Classes' order).
	Words map[string][]int64 `json:"words"`
	// Temperature divides the log-posterior before it is normalised into
	// a confidence (see doc.go, "Classifier"); 1 when not calibrated.
	Temperature float64 `json:"temperature"`

	logPrior []float64
	logProb  map[string][]float64
}

// build makes the model of the classes of all with the vocabulary vocab
// and the counts of from (all, or the training share of a holdout
// split): a word of vocab that from never saw is left out, as an unseen
// word is when predicting.
func build(all, from *counts, vocab []string) *nbModel {
	m := &nbModel{Classes: slices.Sorted(slices.Values(all.labels)), Words: make(map[string][]int64, len(vocab)), Temperature: 1}
	m.Docs = make([]int64, len(m.Classes))
	for i, l := range m.Classes {
		if k, ok := from.classes[l]; ok {
			m.Docs[i] = from.docs[k]
		}
	}
	for _, w := range vocab {
		wc := from.words[w]
		if wc == nil {
			continue
		}
		row := make([]int64, len(m.Classes))
		var any int64
		for i, l := range m.Classes {
			if k, ok := from.classes[l]; ok && k < len(wc.n) {
				row[i] = wc.n[k]
				any += wc.n[k]
			}
		}
		if any > 0 {
			m.Words[w] = row
		}
	}
	m.prepare()
	return m
}

// vocabulary returns the words of c in at least minDocFreq documents, at
// most MaxVocabulary of them (the most frequent; ties by word).
func vocabulary(c *counts) []string {
	type wf struct {
		w string
		n int64
	}
	var keep []wf
	for w, wc := range c.words {
		if wc.docs < minDocFreq {
			continue
		}
		var n int64
		for _, x := range wc.n {
			n += x
		}
		keep = append(keep, wf{w, n})
	}
	slices.SortFunc(keep, func(a, b wf) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return cmp.Compare(a.w, b.w)
	})
	keep = keep[:min(len(keep), MaxVocabulary)]
	out := make([]string, len(keep))
	for i, k := range keep {
		out[i] = k.w
	}
	return out
}

// prepare computes the log-probabilities from the counts: the class
// priors from the documents, and each word's probability in a class with
// Laplace smoothing over the vocabulary.
func (m *nbModel) prepare() {
	k := len(m.Classes)
	var docs int64
	for _, d := range m.Docs {
		docs += d
	}
	m.logPrior = make([]float64, k)
	for i, d := range m.Docs {
		// Smoothed too: a class with no training documents (only in the
		// other share of a split) keeps a finite prior.
		m.logPrior[i] = math.Log((float64(d) + laplace) / (float64(docs) + laplace*float64(k)))
	}
	tokens := make([]float64, k)
	for _, row := range m.Words {
		for i, n := range row {
			tokens[i] += float64(n)
		}
	}
	v := float64(len(m.Words))
	denom := make([]float64, k)
	for i := range denom {
		denom[i] = math.Log(tokens[i] + laplace*v)
	}
	m.logProb = make(map[string][]float64, len(m.Words))
	for w, row := range m.Words {
		lp := make([]float64, k)
		for i, n := range row {
			lp[i] = math.Log(float64(n)+laplace) - denom[i]
		}
		m.logProb[w] = lp
	}
}

// scores returns the log-posterior (up to a constant) of each class for
// tokens, and how many of the tokens the model knows. Unknown words are
// left out: they say nothing about the class.
func (m *nbModel) scores(tokens []string, out []float64) ([]float64, int) {
	out = append(out[:0], m.logPrior...)
	known := 0
	for _, tok := range tokens[:min(len(tokens), maxDocTokens)] {
		lp, ok := m.logProb[tok]
		if !ok {
			continue
		}
		known++
		for i, p := range lp {
			out[i] += p
		}
	}
	return out, known
}

// best returns the index of the highest score (the first of equals).
func best(scores []float64) int {
	b := 0
	for i, s := range scores {
		if s > scores[b] {
			b = i
		}
	}
	return b
}

// posterior turns scores into probabilities at temperature t: softmax of
// scores/t, computed from the largest so that nothing overflows.
func posterior(scores []float64, t float64, out []float64) []float64 {
	out = append(out[:0], scores...)
	hi := math.Inf(-1)
	for _, s := range out {
		hi = max(hi, s)
	}
	var sum float64
	for i, s := range out {
		out[i] = math.Exp((s - hi) / t)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// predict returns the most probable class for tokens and its confidence,
// or ok false when the model knows none of the tokens.
func (m *nbModel) predict(tokens []string) (label string, confidence float64, ok bool) {
	var buf [8]float64
	s, known := m.scores(tokens, buf[:0])
	if known == 0 {
		return "", 0, false
	}
	b := best(s)
	p := posterior(s, m.Temperature, s)
	return m.Classes[b], p[b], true
}

// calibration keeps the scores of held-out documents (at most
// maxCalibration) to fit the temperature.
type calibration struct {
	scores [][]float64
	truth  []int
}

func (c *calibration) add(scores []float64, truth int) {
	if len(c.truth) < maxCalibration {
		c.scores = append(c.scores, slices.Clone(scores))
		c.truth = append(c.truth, truth)
	}
}

// nll is the mean negative log-likelihood of the true classes at inverse
// temperature beta.
func (c *calibration) nll(beta float64) float64 {
	var sum float64
	for i, s := range c.scores {
		hi := math.Inf(-1)
		for _, x := range s {
			hi = max(hi, beta*x)
		}
		var z float64
		for _, x := range s {
			z += math.Exp(beta*x - hi)
		}
		sum += hi + math.Log(z) - beta*s[c.truth[i]]
	}
	return sum / float64(len(c.scores))
}

// fit returns the temperature (≥ 1) that minimises the held-out negative
// log-likelihood, and that log-loss; 1 and NaN when there are too few
// documents (fewer than 20) or classes to fit. The log-likelihood is
// convex in the inverse temperature, so a golden-section search over
// [0.001, 1] finds its minimum; a temperature below 1 would make the
// already overconfident posterior sharper still, so 1 bounds it.
func (c *calibration) fit() (float64, float64) {
	if len(c.truth) < 20 {
		return 1, math.NaN()
	}
	lo, hi := 0.001, 1.0
	g := (math.Sqrt(5) - 1) / 2
	a, b := hi-g*(hi-lo), lo+g*(hi-lo)
	fa, fb := c.nll(a), c.nll(b)
	for range 60 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - g*(hi-lo)
			fa = c.nll(a)
		} else {
			lo, a, fa = a, b, fb
			b = lo + g*(hi-lo)
			fb = c.nll(b)
		}
	}
	beta := (lo + hi) / 2
	if f1 := c.nll(1); f1 <= c.nll(beta) {
		beta = 1
	}
	return 1 / beta, c.nll(beta)
}

// marshal encodes m for storage.
func (m *nbModel) marshal() ([]byte, error) { return json.Marshal(m) }

// unmarshalModel decodes a stored model and prepares it.
func unmarshalModel(b []byte) (*nbModel, error) {
	m := &nbModel{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	k := len(m.Classes)
	if k < 2 || len(m.Docs) != k || m.Temperature <= 0 || math.IsNaN(m.Temperature) || math.IsInf(m.Temperature, 0) {
		return nil, errors.New("malformed classifier model")
	}
	for _, row := range m.Words {
		if len(row) != k {
			return nil, fmt.Errorf("malformed classifier model: a word has %d counts for %d classes", len(row), k)
		}
	}
	m.prepare()
	return m, nil
}
