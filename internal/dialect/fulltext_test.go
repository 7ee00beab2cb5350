package dialect_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/crmkit/crmkit/internal/dbtest"
	"github.com/crmkit/crmkit/internal/dialect"
)

// The full-text helper runs the same query on both databases: all words
// or any, prefixes, ranking (a title weighs more), and words that carry
// either query language's syntax match as plain words or not at all,
// never as an error.
func TestFullText(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		d, err := dialect.For(db)
		require.NoError(t, err)
		var schema []string
		if d.Kind == dialect.Postgres {
			schema = []string{`CREATE TABLE docs (doc INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL,
				tsv tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, title), 'A') ||
					setweight(to_tsvector('simple'::regconfig, body), 'B')) STORED)`}
		} else {
			schema = []string{
				`CREATE TABLE docs (doc INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)`,
				`CREATE VIRTUAL TABLE docs_fts USING fts5(title, body, content = 'docs', content_rowid = 'doc')`,
				`CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN INSERT INTO docs_fts (rowid, title, body) VALUES (new.doc, new.title, new.body); END`,
			}
		}
		for _, s := range schema {
			_, err := db.DB.ExecContext(ctx, s)
			require.NoError(t, err)
		}
		for _, r := range []struct {
			doc         int
			title, body string
		}{
			{1, "refund", "how to ask for a refund of an order"},
			{2, "delivery", "where is my parcel refund"},
			{3, "password", "reset your password and login"},
			{4, "or not", "near and or"},
		} {
			_, err := db.DB.ExecContext(ctx, d.Rebind(`INSERT INTO docs (doc, title, body) VALUES (?, ?, ?)`), r.doc, r.title, r.body)
			require.NoError(t, err)
		}
		ft := dialect.FullText{Table: "docs", Alias: "x", Vector: "tsv", Config: "simple", Index: "docs_fts", RowID: "doc", Weights: []float64{4, 1}}
		find := func(words []string, or, prefix bool) []int {
			t.Helper()
			rows, err := db.DB.QueryContext(ctx, d.Rebind(`SELECT x.doc, `+d.FullTextRank(ft)+` AS score FROM `+d.FullTextFrom(ft)+
				` WHERE x.doc > ? ORDER BY score DESC, x.doc`), d.FullTextQuery(words, or, prefix), 0)
			require.NoError(t, err, "%v", words)
			defer rows.Close()
			out := []int{}
			for rows.Next() {
				var doc int
				var score float64
				require.NoError(t, rows.Scan(&doc, &score))
				require.Positive(t, score)
				out = append(out, doc)
			}
			require.NoError(t, rows.Err())
			return out
		}
		require.Equal(t, []int{1, 2}, find([]string{"refund"}, false, false), "the title ranks first")
		require.Equal(t, []int{2}, find([]string{"refund", "parcel"}, false, false))
		require.ElementsMatch(t, []int{1, 2, 3}, find([]string{"parcel", "refund", "login"}, true, false), "any word")
		require.Equal(t, []int{}, find([]string{"refun"}, false, false))
		require.Equal(t, []int{1, 2}, find([]string{"refun"}, false, true))
		require.Equal(t, []int{3}, find([]string{"pass", "log"}, false, true))
		require.Equal(t, []int{}, find(nil, false, false), "no words match nothing")
		require.Equal(t, []int{}, find([]string{"", "'", `"`}, true, true), "words of no letters are dropped")
		// Syntax of either language is only text.
		for _, w := range []string{`or"`, "not:*", "near(", "a&b|!c", `re'fund`, "refund)", "*", "AND", "NOT", "OR"} {
			find([]string{w}, false, true)
			find([]string{w, "refund"}, true, false)
		}
		require.Equal(t, []int{1, 2}, find([]string{`re'fund`}, false, false), "the quote is dropped, the word stays")
		require.Equal(t, []int{4}, find([]string{"OR", "NOT"}, false, false), "operators are words")
	})
}
