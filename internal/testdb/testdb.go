// Package testdb gives tests a fresh database: an SQLite file always, and a
// MariaDB/MySQL database when NODEBIRD_TEST_MYSQL_DSN names a server.
//
// NODEBIRD_TEST_MYSQL_DSN is a go-sql-driver DSN such as
// "root@tcp(127.0.0.1:3306)/"; each test gets its own database on that
// server, created and dropped around it. Under CI=true a missing or
// unreachable server fails the test instead of skipping it.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/models"
)

// EnvDSN names the variable holding the MySQL server DSN for tests.
const EnvDSN = "NODEBIRD_TEST_MYSQL_DSN"

// Targets returns the SQLite target and, when configured, the MySQL one.
func Targets(t testing.TB) []string {
	out := []string{"sqlite"}
	if MySQLServer(t) != "" {
		out = append(out, "mysql")
	}
	return out
}

// MySQLServer returns the configured server DSN, or "" (skip) when none is
// set; under CI=true it fails the test instead.
func MySQLServer(t testing.TB) string {
	dsn := os.Getenv(EnvDSN)
	if dsn == "" && os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: CI must run the MySQL tests (see .ci/run)", EnvDSN)
	}
	if dsn == "" {
		t.Logf("MySQL tests skipped: set %s (for example root@tcp(127.0.0.1:3306)/) to run them", EnvDSN)
	}
	return dsn
}

// Collation is the default collation of the MySQL databases tests get:
// docker-compose's, a UCA collation whose comparisons ignore some
// characters (ASCII controls among them) and case.
const Collation = "utf8mb4_unicode_ci"

// Fresh opens an empty, migrated database of the given driver for this test.
func Fresh(t testing.TB, driver string) *gorm.DB {
	t.Helper()
	return FreshCollated(t, driver, Collation)
}

// FreshCollated is Fresh with collation as the MySQL database's default
// (ignored on SQLite).
func FreshCollated(t testing.TB, driver, collation string) *gorm.DB {
	t.Helper()
	o := OpenCollated(t, driver, collation)
	db, err := models.Open(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("opening %s: %v", driver, err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	if err := models.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrating %s: %v", driver, err)
	}
	return db
}

// Open creates an empty database and returns the options to open it.
func Open(t testing.TB, driver string) models.Options {
	t.Helper()
	return OpenCollated(t, driver, Collation)
}

// OpenCollated is Open with collation as the MySQL database's default
// (ignored on SQLite).
func OpenCollated(t testing.TB, driver, collation string) models.Options {
	t.Helper()
	o := models.Options{Driver: driver, MaxOpenConns: 20, MaxIdleConns: 20, ConnMaxLifetime: time.Minute, StartupTimeout: 5 * time.Second}
	switch driver {
	case "sqlite":
		o.DSN = filepath.Join(t.TempDir(), "test.db")
	case "mysql":
		server := MySQLServer(t) // fails under CI=true when unset
		if server == "" {
			t.Skipf("needs MySQL: set %s to run it", EnvDSN)
		}
		o.DSN = CreateDatabaseCollated(t, server, collation)
	default:
		t.Fatalf("unknown driver %q", driver)
	}
	return o
}

// CreateDatabase makes a uniquely named database on the server and drops it
// when the test ends; it returns the DSN that names it.
func CreateDatabase(t testing.TB, server string) string {
	t.Helper()
	return CreateDatabaseCollated(t, server, Collation)
}

// CreateDatabaseCollated is CreateDatabase with collation as the
// database's default (its character set is the collation's).
func CreateDatabaseCollated(t testing.TB, server, collation string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "nodebird_test_" + hex.EncodeToString(b[:])
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" COLLATE "+collation); err != nil {
		t.Fatalf("MySQL at %s is not usable (%v); start it or unset %s", cfg.Addr, err, EnvDSN)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name)
	})
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}
