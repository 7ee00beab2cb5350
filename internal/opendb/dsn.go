package opendb

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/crmkit/crmkit/core"
)

// Database kinds a DSN names.
const (
	KindPostgres = "postgres"
	KindSQLite   = "sqlite"
)

// keywordDSN is PostgreSQL's keyword/value form ("host=db dbname=crm
// sslmode=disable"), which pgx accepts: it starts with one of libpq's
// connection keywords and "=".
var keywordDSN = regexp.MustCompile(`^\s*(host|hostaddr|port|dbname|user|password|passfile|sslmode|sslcert|sslkey|sslrootcert|sslpassword|connect_timeout|application_name|options|service|target_session_attrs|search_path|krbsrvname)\s*=`)

// Classify says which database dsn names:
//
//   - PostgreSQL: a postgres:// or postgresql:// URL, or the keyword/value
//     form ("host=… dbname=… sslmode=disable") that starts with a libpq
//     keyword;
//   - SQLite: ":memory:", a "file:" URI, or a file path (optionally with a
//     "?query" of driver parameters).
//
// Anything else is refused with ErrInvalid rather than taken for an SQLite
// file name: another URL scheme ("mysql://…"), or text with "=" and spaces
// that is not a file: URI (keyword/value pairs of another kind; a path with
// both is written as a file: URI). An empty dsn is SQLite (Open's default).
func Classify(dsn string) (string, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"), keywordDSN.MatchString(dsn):
		return KindPostgres, nil
	case dsn == "", dsn == ":memory:", strings.HasPrefix(dsn, "file:"):
		return KindSQLite, nil
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return "", core.Invalid("dsn", "scheme %q is not supported: use postgres://… for PostgreSQL, a file name, file: URI or :memory: for SQLite", scheme)
	case strings.Contains(dsn, "=") && strings.ContainsAny(dsn, " \t\n"):
		return "", core.Invalid("dsn", "looks like keyword=value pairs but not PostgreSQL's (host=, dbname=, …); an SQLite file name with = and spaces must be a file: URI")
	}
	if strings.TrimSpace(dsn) == "" {
		return "", core.Invalid("dsn", "is blank")
	}
	return KindSQLite, nil
}

// IsPostgres reports whether dsn names a PostgreSQL database (see Classify).
func IsPostgres(dsn string) bool {
	k, err := Classify(dsn)
	return err == nil && k == KindPostgres
}

func dsnError(err error) error { return fmt.Errorf("crm: open: %w", err) }
