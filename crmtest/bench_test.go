package crmtest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

// BenchmarkNew measures crmtest.New, a migrated CRM for one test, against
// doing the same by hand (raw: copy a migrated SQLite file and open a CRM
// on it; on PostgreSQL: create a schema, open a CRM on it and migrate) and,
// on SQLite, against migrating a fresh file for each test (migrate).
// Closing and removing the database is not timed.
//
//	go test -run XXX -bench New -benchtime 50x -count 5 ./crmtest
func BenchmarkNew(b *testing.B) {
	ctx := context.Background()
	each := func(b *testing.B, fn func(s *standIn)) {
		for b.Loop() {
			s := &standIn{fail: func(msg string) { b.Fatal(msg) }}
			fn(s)
			b.StopTimer()
			s.end()
			b.StartTimer()
		}
	}
	b.Run("sqlite/crmkit", func(b *testing.B) {
		crmtest.New(b, crmtest.WithSQLite()) // the template is made (or found) once per process
		each(b, func(s *standIn) { crmtest.New(s, crmtest.WithSQLite()) })
	})
	b.Run("sqlite/raw", func(b *testing.B) {
		migrated := filepath.Join(b.TempDir(), "template.db")
		c, err := crm.Open(ctx, crm.Config{DSN: "file:" + migrated})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := c.DB().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		c.Close()
		each(b, func(s *standIn) {
			path := filepath.Join(s.TempDir(), "crm.db")
			copyFile(b, migrated, path)
			c, err := crm.Open(ctx, crm.Config{DSN: "file:" + path})
			if err != nil {
				b.Fatal(err)
			}
			s.Cleanup(func() { c.Close() })
		})
	})
	b.Run("sqlite/migrate", func(b *testing.B) {
		each(b, func(s *standIn) {
			c, err := crm.Open(ctx, crm.Config{DSN: "file:" + filepath.Join(s.TempDir(), "crm.db")})
			if err != nil {
				b.Fatal(err)
			}
			s.Cleanup(func() { c.Close() })
			if err := c.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("postgres/crmkit", func(b *testing.B) {
		requirePostgres(b)
		each(b, func(s *standIn) { crmtest.New(s) })
	})
	b.Run("postgres/raw", func(b *testing.B) {
		requirePostgres(b)
		dsn := os.Getenv(crmtest.EnvPostgres)
		admin, err := crm.OpenDB(ctx, crm.Config{DSN: dsn, MaxOpenConns: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer admin.Close()
		each(b, func(s *standIn) {
			r := make([]byte, 6)
			_, _ = rand.Read(r)
			schema := "crmbench_" + hex.EncodeToString(r)
			if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
				b.Fatal(err)
			}
			s.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE") })
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			c, err := crm.Open(ctx, crm.Config{DSN: dsn + sep + "search_path=" + schema, MaxOpenConns: 4})
			if err != nil {
				b.Fatal(err)
			}
			s.Cleanup(func() { c.Close() })
			if err := c.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
}

func copyFile(b *testing.B, from, to string) {
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}
