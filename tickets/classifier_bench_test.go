package tickets_test

// The classifier against hand-written same-work baselines, over
// benchClassified solved tickets (the synthetic topics of
// classifier_test.go, German and English, each with its first customer
// message):
//
//	CRM_TEST_POSTGRES_DSN=… go test -run XXX -bench 'Classifier(Train|Suggest)' -count 5 ./tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/tickets"
)

const benchClassified = 10_000

// classifiedData fills a fresh database with benchClassified solved
// tickets and their customer messages, in SQL.
func classifiedData(b *testing.B, db *bun.DB) *crm.CRM {
	ctx := context.Background()
	c, err := crm.New(db, crm.Config{})
	require.NoError(b, err)
	require.NoError(b, c.Migrate(ctx))
	b.Cleanup(func() { _ = c.Close() })
	who, err := c.Contacts.Create(ctx, contacts.NewContact{Email: "bench@example.com"})
	require.NoError(b, err)
	d, err := dialect.For(db)
	require.NoError(b, err)
	tx, err := db.DB.BeginTx(ctx, nil)
	require.NoError(b, err)
	insert := func(table string, cols []string, rows [][]any) {
		row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		var args []any
		for _, r := range rows {
			args = append(args, r...)
		}
		q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", len(rows)), ", ")
		_, err := tx.ExecContext(ctx, d.Rebind(q), args...)
		require.NoError(b, err)
	}
	tcols := []string{"tenant_id", "id", "number", "subject", "contact_id", "channel", "status", "priority", "category", "tags", "team",
		"attributes", "sla_due", "created_at", "updated_at", "version"}
	mcols := []string{"tenant_id", "id", "ticket_id", "public", "author_kind", "body", "attachments", "created_at"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var trows, mrows [][]any
	for i, s := range synth(11, benchClassified) {
		id := core.NewID()
		at := d.Time(start.Add(time.Duration(i) * time.Minute))
		trows = append(trows, []any{"default", id, int64(i + 1), s.subject, who.ID, "email", "solved", "normal", topics[s.topic].category, "[]",
			topics[s.topic].team, "{}", d.Time(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)), at, at, 1})
		mrows = append(mrows, []any{"default", core.NewID(), id, true, "customer", s.body, "[]", at})
		if len(trows) == 400 {
			insert("crm_tickets", tcols, trows)
			insert("crm_ticket_messages", mcols, mrows)
			trows, mrows = trows[:0], mrows[:0]
		}
	}
	if len(trows) > 0 {
		insert("crm_tickets", tcols, trows)
		insert("crm_ticket_messages", mcols, mrows)
	}
	require.NoError(b, tx.Commit())
	_, err = db.DB.ExecContext(ctx, "ANALYZE")
	require.NoError(b, err)
	return c
}

// benchDB opens the named database for a benchmark.
func benchDB(b *testing.B, name string) *bun.DB {
	if name == "sqlite" {
		return dbtest.SQLite(b)
	}
	return dbtest.Postgres(b)
}

// rawWords is the baseline's tokenizer: lower case, split on what is not
// a letter or digit.
func rawWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// rawModel is the baseline's naive Bayes of one target: per word, the
// Laplace-smoothed log-probability in each class.
type rawModel struct {
	Classes []string           `json:"classes"`
	Docs    []int64            `json:"docs"`
	Words   map[string][]int64 `json:"words"`
	prior   []float64
	logp    map[string][]float64
}

func (m *rawModel) prepare() {
	k := len(m.Classes)
	var docs int64
	tokens := make([]float64, k)
	for _, d := range m.Docs {
		docs += d
	}
	m.prior = make([]float64, k)
	for i, d := range m.Docs {
		m.prior[i] = math.Log((float64(d) + 1) / (float64(docs) + float64(k)))
	}
	for _, row := range m.Words {
		for i, n := range row {
			tokens[i] += float64(n)
		}
	}
	m.logp = map[string][]float64{}
	for w, row := range m.Words {
		lp := make([]float64, k)
		for i, n := range row {
			lp[i] = math.Log(float64(n)+1) - math.Log(tokens[i]+float64(len(m.Words)))
		}
		m.logp[w] = lp
	}
}

// predict returns the best class of words and its probability.
func (m *rawModel) predict(words []string) (int, float64) {
	scores := append([]float64(nil), m.prior...)
	for _, w := range words {
		if lp, ok := m.logp[w]; ok {
			for i, p := range lp {
				scores[i] += p
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
	return k, 1 / sum
}

// rawTrain is Train written by hand: two passes over the same rows with
// a prepared statement, counts per class (category and team), the held-out
// share labelled by the model of the rest, and both models stored as JSON.
func rawTrain(ctx context.Context, db *sql.DB, d *dialect.Dialect, st *sql.Stmt) error {
	type target struct {
		train, all *rawModel
		index      map[string]int
		right, n   int
	}
	newModel := func() *rawModel { return &rawModel{Words: map[string][]int64{}} }
	targets := []*target{{train: newModel(), all: newModel(), index: map[string]int{}}, {train: newModel(), all: newModel(), index: map[string]int{}}}
	hold := func(id []byte) bool {
		h := fnv.New64a()
		h.Write(id)
		return h.Sum64()%100 < 20
	}
	count := func(m *rawModel, index map[string]int, label string, words []string) {
		k, ok := index[label]
		if !ok {
			k = len(index)
			index[label] = k
		}
		for len(m.Docs) <= k {
			m.Docs = append(m.Docs, 0)
			m.Classes = append(m.Classes, "")
		}
		m.Classes[k] = label
		m.Docs[k]++
		for _, w := range words {
			row := m.Words[w]
			for len(row) <= k {
				row = append(row, 0)
			}
			row[k]++
			m.Words[w] = row
		}
	}
	pass := func(fn func(id core.ID, labels [2]string, words []string)) error {
		rows, err := st.QueryContext(ctx, "default")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id core.ID
			var subject, body string
			var labels [2]string
			if err := rows.Scan(&id, &subject, &labels[0], &labels[1], &body); err != nil {
				return err
			}
			fn(id, labels, append(rawWords(subject), rawWords(body)...))
		}
		return rows.Err()
	}
	if err := pass(func(id core.ID, labels [2]string, words []string) {
		for i, tg := range targets {
			if !hold(id[:]) {
				count(tg.train, tg.index, labels[i], words)
			}
			count(tg.all, tg.index, labels[i], words)
		}
	}); err != nil {
		return err
	}
	for _, tg := range targets {
		for _, m := range []*rawModel{tg.train, tg.all} {
			for w, row := range m.Words {
				for len(row) < len(tg.index) {
					row = append(row, 0)
				}
				m.Words[w] = row
			}
			for len(m.Docs) < len(tg.index) {
				m.Docs = append(m.Docs, 0)
			}
			m.prepare()
		}
	}
	if err := pass(func(id core.ID, labels [2]string, words []string) {
		if !hold(id[:]) {
			return
		}
		for i, tg := range targets {
			k, _ := tg.train.predict(words)
			tg.n++
			if tg.index[labels[i]] == k {
				tg.right++
			}
		}
	}); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i, tg := range targets {
		blob, err := json.Marshal(tg.all)
		if err != nil {
			return err
		}
		metrics := fmt.Sprintf(`{"accuracy": %g}`, float64(tg.right)/float64(tg.n))
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO crm_ticket_classifiers (tenant_id, target, version, trained_at, metrics, model)
			VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (tenant_id, target) DO UPDATE SET version = crm_ticket_classifiers.version + 1,
			trained_at = excluded.trained_at, metrics = excluded.metrics, model = excluded.model`),
			"raw", fmt.Sprint(i), d.Time(time.Now()), metrics, string(blob)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// BenchmarkClassifierTrain trains both targets over benchClassified
// tickets: crmkit's Train (tokenizer with folding, stop words and stemming,
// vocabulary pruning, calibration, events) against rawTrain.
func BenchmarkClassifierTrain(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			db := benchDB(b, name)
			c := classifiedData(b, db)
			ctx := context.Background()
			b.Run("crmkit", func(b *testing.B) {
				for b.Loop() {
					r, err := c.Classifier.Train(ctx, tickets.TrainOptions{})
					if err != nil || len(r.Models) != 2 || *r.Models[0].Metrics.Accuracy < 0.9 {
						b.Fatal(err)
					}
				}
			})
			b.Run("raw", func(b *testing.B) {
				d, _ := dialect.For(db)
				st, err := db.DB.PrepareContext(ctx, d.Rebind(`SELECT t.id, t.subject, t.category, t.team, COALESCE((SELECT m.body
					FROM crm_ticket_messages m WHERE m.tenant_id = t.tenant_id AND m.ticket_id = t.id AND m.author_kind = 'customer'
					ORDER BY m.created_at, m.id LIMIT 1), '') FROM crm_tickets t WHERE t.tenant_id = ? AND t.status IN ('solved', 'closed')
					AND t.merged_into_id IS NULL AND (t.category <> '' OR t.team <> '') ORDER BY t.id`))
				require.NoError(b, err)
				defer st.Close()
				for b.Loop() {
					if err := rawTrain(ctx, db.DB, d, st); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkClassifierSuggest suggests a category and a team for one
// ticket's text with the models trained over benchClassified tickets:
// crmkit's Suggest (the models' versions looked up, the decoded models
// cached) against the same lookup by a prepared statement and rawModel's
// prediction of both targets.
func BenchmarkClassifierSuggest(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			db := benchDB(b, name)
			c := classifiedData(b, db)
			ctx := context.Background()
			_, err := c.Classifier.Train(ctx, tickets.TrainOptions{})
			require.NoError(b, err)
			s := synth(12, 1)[0]
			b.Run("crmkit", func(b *testing.B) {
				for b.Loop() {
					sug, err := c.Classifier.Suggest(ctx, s.subject, s.body)
					if err != nil || sug.Category == nil || sug.Team == nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("raw", func(b *testing.B) {
				d, _ := dialect.For(db)
				models := map[string]*rawModel{}
				rows, err := db.DB.QueryContext(ctx, d.Rebind(`SELECT target, model FROM crm_ticket_classifiers WHERE tenant_id = ?`), "default")
				require.NoError(b, err)
				for rows.Next() {
					var target, blob string
					require.NoError(b, rows.Scan(&target, &blob))
					m := &rawModel{}
					require.NoError(b, json.Unmarshal([]byte(blob), m))
					m.prepare()
					models[target] = m
				}
				require.NoError(b, rows.Err())
				require.Len(b, models, 2)
				st, err := db.DB.PrepareContext(ctx, d.Rebind(`SELECT target, version FROM crm_ticket_classifiers WHERE tenant_id = ?`))
				require.NoError(b, err)
				defer st.Close()
				for b.Loop() {
					rows, err := st.QueryContext(ctx, "default")
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for rows.Next() {
						var target string
						var version int64
						if err := rows.Scan(&target, &version); err != nil {
							b.Fatal(err)
						}
						n++
					}
					if err := rows.Close(); err != nil || n != 2 {
						b.Fatal(err)
					}
					words := append(rawWords(s.subject), rawWords(s.body)...)
					for _, m := range models {
						if _, p := m.predict(words); p <= 0 {
							b.Fatal("no prediction")
						}
					}
				}
			})
		})
	}
}
