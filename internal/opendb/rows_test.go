package opendb_test

import (
	"context"
	"database/sql"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	bundialect "github.com/uptrace/bun/dialect"

	"github.com/crmkit/crmkit/internal/dbtest"
)

// The rows of a writing query (INSERT … RETURNING outside a transaction,
// which on SQLite holds the write gate until its rows are read) describe
// their columns as fully as the rows of a reading query, with and without
// arguments.
func TestWritingQueryColumnTypes(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		_, err := db.DB.ExecContext(ctx, "CREATE TABLE crm_rows_probe (n BIGINT NOT NULL, s TEXT NOT NULL)")
		require.NoError(t, err)
		arg := "?"
		if db.Dialect().Name() == bundialect.PG {
			arg = "$1"
		}
		for _, q := range []struct {
			name, insert string
			args         []any
		}{
			{"without arguments", "INSERT INTO crm_rows_probe (n, s) VALUES (1, 'a') RETURNING n, s", nil},
			{"with arguments", "INSERT INTO crm_rows_probe (n, s) VALUES (" + arg + ", 'b') RETURNING n, s", []any{int64(2)}},
		} {
			t.Run(q.name, func(t *testing.T) {
				written := columnTypes(t, db.DB, q.insert, q.args...)
				read := columnTypes(t, db.DB, "SELECT n, s FROM crm_rows_probe WHERE n = "+arg, int64(1))
				require.Equal(t, read, written)
				require.Equal(t, reflect.TypeFor[int64](), written[0].scan)
				require.Equal(t, reflect.TypeFor[string](), written[1].scan)
			})
		}
	})
}

// columnType is what sql.ColumnType reports of a column.
type columnType struct {
	dbType                string
	length                int64
	hasLength             bool
	nullable, hasNullable bool
	precision, scale      int64
	hasPrecision          bool
	scan                  reflect.Type
}

// columnTypes runs query and returns its columns' types, read while its
// rows are open, then reads the rows to the end.
func columnTypes(t *testing.T, db *sql.DB, query string, args ...any) []columnType {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	require.NoError(t, err)
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	require.NoError(t, err)
	var got []columnType
	for _, ct := range cts {
		c := columnType{dbType: ct.DatabaseTypeName(), scan: ct.ScanType()}
		c.length, c.hasLength = ct.Length()
		c.nullable, c.hasNullable = ct.Nullable()
		c.precision, c.scale, c.hasPrecision = ct.DecimalSize()
		got = append(got, c)
	}
	for rows.Next() {
	}
	require.NoError(t, rows.Err())
	return got
}
