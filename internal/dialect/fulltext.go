package dialect

import (
	"fmt"
	"strings"
	"unicode"
)

// FullText names a table of search documents and its full-text index as
// queries see them. On PostgreSQL the index is a tsvector column of the
// table (Vector, built with the text search configuration Config, under a
// GIN index); on SQLite it is an FTS5 table (Index) with the table as its
// external content, whose rowid is the table's integer column RowID.
type FullText struct {
	// Table is the table of documents and Alias its alias in the query.
	Table, Alias string
	// Vector is the tsvector column and Config the text search
	// configuration of the query (PostgreSQL): the one the vector was
	// built with, e.g. "simple".
	Vector, Config string
	// Index is the FTS5 table and RowID the column of Table its rowid
	// refers to (SQLite).
	Index, RowID string
	// Weights are the bm25 weights of the FTS5 table's columns, in order
	// (SQLite; nil weighs each 1). PostgreSQL weighs by the labels the
	// vector was built with (setweight).
	Weights []float64
}

// FullTextFrom is the FROM clause of a full-text query over ft: the table,
// under its alias, joined with its index and the query, so that only the
// documents matching the query are rows. It binds one parameter, the
// query (FullTextQuery), before any parameter of the WHERE clause that
// follows it.
func (d *Dialect) FullTextFrom(ft FullText) string {
	if d.Kind == Postgres {
		return fmt.Sprintf("(SELECT to_tsquery(%s, ?) AS q) fts_q JOIN %s %s ON %s.%s @@ fts_q.q",
			quoteLiteral(ft.Config), ft.Table, ft.Alias, ft.Alias, ft.Vector)
	}
	// The MATCH is in the join's ON: an inner join's ON terms are WHERE
	// terms to SQLite's planner, which hands it to FTS5.
	return fmt.Sprintf("%s JOIN %s %s ON %s.%s = %s.rowid AND %s MATCH ?",
		ft.Index, ft.Table, ft.Alias, ft.Alias, ft.RowID, ft.Index, ft.Index)
}

// FullTextRank is the SQL for the relevance of a row of FullTextFrom,
// higher for a better match; it compares the rows of one query. PostgreSQL:
// ts_rank; SQLite: bm25, negated.
func (d *Dialect) FullTextRank(ft FullText) string {
	if d.Kind == Postgres {
		return fmt.Sprintf("ts_rank(%s.%s, fts_q.q)", ft.Alias, ft.Vector)
	}
	args := ft.Index
	for _, w := range ft.Weights {
		args += fmt.Sprintf(", %g", w)
	}
	return fmt.Sprintf("(-bm25(%s))", args)
}

// FullTextQuery is the query parameter of FullTextFrom for words: a
// document matches when it has all of them (or: one of them); with
// prefix, each word also matches the longer words it begins. Only
// letters, digits and marks of a word are kept, so no word can carry the
// syntax of either database's query language; words left empty are
// dropped. No words is a query that matches nothing.
func (d *Dialect) FullTextQuery(words []string, or, prefix bool) string {
	var terms []string
	for _, w := range words {
		w = strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
				return r
			}
			return -1
		}, w)
		if w == "" {
			continue
		}
		if d.Kind == Postgres {
			// A quoted lexeme: the configuration's parser does not split
			// it again.
			t := "'" + w + "'"
			if prefix {
				t += ":*"
			}
			terms = append(terms, t)
		} else {
			t := `"` + w + `"`
			if prefix {
				t += "*"
			}
			terms = append(terms, t)
		}
	}
	if len(terms) == 0 {
		// Nothing to match: a term no document holds.
		if d.Kind == Postgres {
			return "'0'&!'0'"
		}
		return `"0" NOT "0"`
	}
	op := " AND "
	if d.Kind == Postgres {
		op = " & "
		if or {
			op = " | "
		}
	} else if or {
		op = " OR "
	}
	return strings.Join(terms, op)
}
