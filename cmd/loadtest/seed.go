package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm/clause"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/models"
)

// domainsPerUser is how the seeded domains are spread over accounts.
const domainsPerUser = 10

// fakeBcrypt is shaped like a bcrypt hash; nobody logs in during the test.
var fakeBcrypt = []byte("$2a$12$" + strings.Repeat("x", 53))

// mysqlDatabase is a throwaway database on the server named by a DSN.
type mysqlDatabase struct {
	server *mysql.Config // the server, no database selected
	name   string
}

// createDatabase makes a uniquely named database on the server.
func createDatabase(ctx context.Context, serverDSN string) (*mysqlDatabase, error) {
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return nil, fmt.Errorf("-dsn: %w", err)
	}
	cfg.DBName = ""
	var b [6]byte
	_, _ = rand.Read(b[:])
	d := &mysqlDatabase{server: cfg, name: "nodebird_load_" + hex.EncodeToString(b[:])}
	err = d.exec(ctx, "CREATE DATABASE "+d.name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	if err != nil {
		return nil, fmt.Errorf("MySQL at %s is not usable: %w", cfg.Addr, err)
	}
	return d, nil
}

// DSN names the database, for the app and the seeder.
func (d *mysqlDatabase) DSN() string {
	cfg := d.server.Clone()
	cfg.DBName = d.name
	return cfg.FormatDSN()
}

// Drop removes the database.
func (d *mysqlDatabase) Drop(ctx context.Context) error {
	return d.exec(ctx, "DROP DATABASE IF EXISTS "+d.name)
}

func (d *mysqlDatabase) exec(ctx context.Context, stmt string) error {
	db, err := sql.Open("mysql", d.server.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// seed migrates the database and registers n active domains over
// n/domainsPerUser accounts. It returns the n clear-text secrets, in
// domain order. Timestamps are spread over the past year, as in a real
// database, so that the app's periodic cache refresh finds no recent change.
func seed(ctx context.Context, o models.Options, n int) ([]string, error) {
	o.StartupTimeout, o.MaxOpenConns, o.MaxIdleConns, o.ConnMaxLifetime = 10*time.Second, 4, 4, time.Minute
	db, err := models.Open(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	if err := models.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("migrating: %w", err)
	}
	users := seedUsers((n + domainsPerUser - 1) / domainsPerUser)
	if err := db.WithContext(ctx).CreateInBatches(users, 500).Error; err != nil {
		return nil, fmt.Errorf("seeding users: %w", err)
	}
	domains, secrets := seedDomains(users, n)
	if err := db.WithContext(ctx).Omit(clause.Associations).CreateInBatches(domains, 500).Error; err != nil {
		return nil, fmt.Errorf("seeding domains: %w", err)
	}
	return secrets, nil
}

// seedUsers returns count accounts, not yet stored.
func seedUsers(count int) []*models.User {
	users := make([]*models.User, count)
	for i := range users {
		at := pastTime(i, count)
		users[i] = &models.User{
			Email: fmt.Sprintf("load%d@load.test", i), Nick: fmt.Sprintf("load%d", i),
			PasswordHash: fakeBcrypt, SessionVersion: 1, CreatedAt: at, UpdatedAt: at,
		}
	}
	return users
}

// seedDomains returns n domains spread over the (stored) users, with their secrets.
func seedDomains(users []*models.User, n int) ([]*models.Domain, []string) {
	domains := make([]*models.Domain, n)
	secrets := make([]string, n)
	for i := range domains {
		s := secret.New()
		host := fmt.Sprintf("site%d.load.test", i)
		plan := models.PlanFree
		if i%2 == 1 {
			plan = models.PlanPremium
		}
		at := pastTime(i, n)
		domains[i] = &models.Domain{
			UserID: users[i/domainsPerUser].ID, Host: host, HostKey: &host, Plan: plan, Status: models.StatusActive,
			SecretHash: secret.Hash(s), SecretLast4: secret.Last4(s), SecretVersion: 1,
			CreatedAt: at, UpdatedAt: at,
		}
		secrets[i] = s
	}
	return domains, secrets
}

// pastTime spreads item i of n over the year before the last hour.
func pastTime(i, n int) time.Time {
	const span = 365 * 24 * time.Hour
	return time.Now().UTC().Add(-time.Hour - span + time.Duration(i)*(span/time.Duration(n))).Truncate(time.Millisecond)
}

// writeLines writes one value a line to path, readable by its owner only.
func writeLines(path string, lines []string) error {
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}
