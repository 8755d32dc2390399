package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// `nodebird admin grant|revoke EMAIL` sets the stored admin role.
func TestAdminCommand(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.Fresh(t, driver)
			cfg := &config.Config{DBQueryTimeout: 2 * time.Second, BcryptCost: 4}
			users := models.NewUserModel(db, cfg.DBQueryTimeout, cfg.BcryptCost)
			if _, err := users.Insert(ctx, "mia@example.com", "mia", "correct horse battery"); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name      string
				args      []string
				wantErr   string // "" for success
				wantOut   string
				wantAdmin bool // mia's stored role afterwards
			}{
				{"grant, email in any case", []string{"admin", "grant", " MIA@Example.com "}, "", "mia@example.com: admin role granted", true},
				{"grant again changes nothing", []string{"admin", "grant", "mia@example.com"}, "", "admin role granted", true},
				{"unknown email", []string{"admin", "revoke", "nobody@example.com"}, `no account with the email "nobody@example.com"`, "", true},
				{"revoke", []string{"admin", "revoke", "mia@example.com"}, "", "mia@example.com: admin role revoked", false},
				{"revoke again changes nothing", []string{"admin", "revoke", "mia@example.com"}, "", "admin role revoked", false},
				{"no email", []string{"admin", "grant"}, "usage: nodebird admin grant EMAIL", "", false},
				{"unknown verb", []string{"admin", "promote", "mia@example.com"}, "usage:", "", false},
				{"unknown command", []string{"migrate"}, "usage:", "", false},
			}
			for _, tc := range cases {
				var out bytes.Buffer
				err := command(ctx, tc.args, cfg, db, &out)
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("%s: %v", tc.name, err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.wantErr)
				}
				if !strings.Contains(out.String(), tc.wantOut) || (tc.wantOut == "" && out.Len() > 0) {
					t.Errorf("%s: printed %q, want %q", tc.name, out.String(), tc.wantOut)
				}
				u, err := users.GetByEmail(ctx, "mia@example.com")
				if err != nil {
					t.Fatal(err)
				}
				if u.IsAdmin != tc.wantAdmin {
					t.Errorf("%s: is_admin %v, want %v", tc.name, u.IsAdmin, tc.wantAdmin)
				}
			}
		})
	}
}

// The whole path of `go run . admin ...`: settings, database, migration,
// command; an unknown email is an error, so main exits 1.
func TestRunAdminCommand(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "nodebird.db")
	env := map[string]string{"DB_DRIVER": "sqlite", "DB_DSN": dsn, "DATA_DIR": dir, "BCRYPT_COST": "4"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	logs, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	ctx := context.Background()

	err = run(ctx, []string{"admin", "grant", "nia@example.com"}, lookup, logs, nil)
	if err == nil || !strings.Contains(err.Error(), `no account with the email "nia@example.com"`) {
		t.Fatalf("grant to an unknown email: %v", err)
	}

	db, err := models.Open(ctx, models.Options{Driver: "sqlite", DSN: dsn, StartupTimeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	users := models.NewUserModel(db, 2*time.Second, 4)
	if _, err := users.Insert(ctx, "nia@example.com", "nia", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		verb string
		want bool
	}{{"grant", true}, {"revoke", false}} {
		if err := run(ctx, []string{"admin", tc.verb, "nia@example.com"}, lookup, logs, nil); err != nil {
			t.Fatalf("%s: %v", tc.verb, err)
		}
		u, err := users.GetByEmail(ctx, "nia@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.IsAdmin != tc.want {
			t.Fatalf("after %s: is_admin %v", tc.verb, u.IsAdmin)
		}
	}
	if s, err := db.DB(); err == nil {
		s.Close()
	}
}
