package testdb

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/models"
)

// FreshCharset opens an empty, migrated MySQL database whose default
// character set is charset (such as "latin1", the default of MySQL 5.7 and
// of many MariaDB installations), to show what the migration creates
// there. It skips the test when no MySQL server is configured (fails
// under CI=true).
func FreshCharset(t testing.TB, charset string) *gorm.DB {
	t.Helper()
	server := MySQLServer(t)
	if server == "" {
		t.Skip("needs MySQL")
	}
	dsn := CreateDatabase(t, server)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.DBName
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "ALTER DATABASE `"+name+"` CHARACTER SET "+charset); err != nil {
		t.Fatalf("setting the character set of %s to %s: %v", name, charset, err)
	}
	var got string
	if err := admin.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&got); err != nil || got != charset {
		t.Fatalf("database %s: character set %q (%v), want %q", name, got, err, charset)
	}
	o := models.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: 20, MaxIdleConns: 20, ConnMaxLifetime: time.Minute, StartupTimeout: 5 * time.Second}
	db, err := models.Open(context.Background(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("opening %s: %v", name, err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	if err := models.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrating %s: %v", name, err)
	}
	return db
}
