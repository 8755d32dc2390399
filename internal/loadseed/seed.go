// Package loadseed fills a database with many accounts and domains, fast
// (multi-row INSERTs, several transactions at once on MySQL): the load
// test's databases and the opt-in scale tests' (models/admin_scale_1m_test.go).
package loadseed

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/models"
)

// DomainsPerUser is how the seeded domains are spread over accounts.
const DomainsPerUser = 10

// fakeBcrypt is shaped like a bcrypt hash; nobody logs in during the test.
var fakeBcrypt = []byte("$2a$12$" + strings.Repeat("x", 53))

// Database is a throwaway database on the server named by a DSN.
type Database struct {
	server *mysql.Config // the server, no database selected
	name   string
}

// CreateDatabase makes a uniquely named database on the server.
func CreateDatabase(ctx context.Context, serverDSN string) (*Database, error) {
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return nil, fmt.Errorf("-dsn: %w", err)
	}
	cfg.DBName = ""
	var b [6]byte
	_, _ = rand.Read(b[:])
	d := &Database{server: cfg, name: "nodebird_load_" + hex.EncodeToString(b[:])}
	err = d.exec(ctx, "CREATE DATABASE "+d.name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
	if err != nil {
		return nil, fmt.Errorf("MySQL at %s is not usable: %w", cfg.Addr, err)
	}
	return d, nil
}

// OpenDatabase is the database name on the server (one a CreateDatabase
// made and a run kept), or a new one (CreateDatabase) when name is "".
func OpenDatabase(ctx context.Context, serverDSN, name string) (*Database, error) {
	if name == "" {
		return CreateDatabase(ctx, serverDSN)
	}
	cfg, err := mysql.ParseDSN(serverDSN)
	if err != nil {
		return nil, err
	}
	cfg.DBName = ""
	d := &Database{server: cfg, name: name}
	return d, d.exec(ctx, "USE "+name)
}

// Name is the database's name.
func (d *Database) Name() string { return d.name }

// DSN names the database, for the app and the seeder.
func (d *Database) DSN() string {
	cfg := d.server.Clone()
	cfg.DBName = d.name
	return cfg.FormatDSN()
}

// Drop removes the database.
func (d *Database) Drop(ctx context.Context) error {
	return d.exec(ctx, "DROP DATABASE IF EXISTS "+d.name)
}

func (d *Database) exec(ctx context.Context, stmt string) error {
	db, err := sql.Open("mysql", d.server.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// The seeded rows go in with multi-row INSERTs through database/sql, many
// rows to a statement and many statements to a transaction: a million
// domains in a minute or so, where a statement (or a GORM model) per row
// would take an hour.
const (
	// rowsPerInsert is the rows of one INSERT: 1,000 rows of the domains'
	// 12 columns are 12,000 placeholders (SQLite allows 32,766, MySQL
	// 65,535) and about 250 KB of values (max_allowed_packet is 16 MB).
	rowsPerInsert = 100
	// insertsPerTx is the INSERTs committed together.
	insertsPerTx = 50
)

// seedTable is one table to fill: its columns, and the values of row i
// (of count) appended to args.
type seedTable struct {
	name    string
	columns []string
	values  func(args []any, i, count int) []any
}

// insertSQL is the INSERT of rows rows into table, with placeholders.
func insertSQL(table string, columns []string, rows int) string {
	tuple := "(" + strings.Repeat("?, ", len(columns)-1) + "?)"
	var b strings.Builder
	b.Grow(len(table) + 30 + 10*len(columns) + rows*(len(tuple)+2))
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// userTable is the seeded accounts: user i has id i+1.
func userTable(now time.Time) seedTable {
	return seedTable{
		name:    "users",
		columns: []string{"id", "email", "nick", "password_hash", "is_admin", "session_version", "created_at", "updated_at"},
		values: func(args []any, i, count int) []any {
			at := pastTime(now, i, count)
			n := strconv.Itoa(i)
			return append(args, i+1, "load"+n+"@load.test", "load"+n, fakeBcrypt, false, 1, at, at)
		},
	}
}

// domainTable is the seeded domains: domain i has id i+1, belongs to user
// i/DomainsPerUser (id i/DomainsPerUser+1), is free or premium in turn,
// and gets a fresh secret, put in secrets.
func domainTable(now time.Time, secrets secretLines) seedTable {
	return seedTable{
		name: "domains",
		columns: []string{"id", "user_id", "host", "host_key", "type", "status",
			"secret_hash", "secret_last4", "secret_version", "tokens_issued", "created_at", "updated_at"},
		values: func(args []any, i, count int) []any {
			s := secret.New()
			secrets.set(i, s)
			host := "site" + strconv.Itoa(i) + ".load.test"
			plan := models.PlanFree
			if i%2 == 1 {
				plan = models.PlanPremium
			}
			at := pastTime(now, i, count)
			return append(args, i+1, i/DomainsPerUser+1, host, host, plan, models.StatusActive,
				secret.Hash(s), secret.Last4(s), 1, 0, at, at)
		},
	}
}

// loadHashtags is how many hashtags the seeded posts spread over: post i
// carries "#tag<i % loadHashtags>", so each tag has posts/loadHashtags.
const loadHashtags = 100

// postTables are the seeded posts (posts over the users in turn, newest
// the highest id, as in the app) and their hashtags.
func postTables(now time.Time, users int) []struct {
	t     seedTable
	count func(posts int) int
} {
	return []struct {
		t     seedTable
		count func(posts int) int
	}{
		{seedTable{name: "hashtags", columns: []string{"id", "title", "created_at"},
			values: func(args []any, i, count int) []any {
				return append(args, i+1, "tag"+strconv.Itoa(i), now.Add(-400*24*time.Hour))
			}}, func(int) int { return loadHashtags }},
		{seedTable{name: "posts", columns: []string{"id", "user_id", "content", "created_at", "updated_at"},
			values: func(args []any, i, count int) []any {
				at := pastTime(now, i, count)
				return append(args, i+1, i%users+1, "load post "+strconv.Itoa(i)+" #tag"+strconv.Itoa(i%loadHashtags), at, at)
			}}, func(posts int) int { return posts }},
		{seedTable{name: "post_hashtags", columns: []string{"post_id", "hashtag_id"},
			values: func(args []any, i, count int) []any { return append(args, i+1, i%loadHashtags+1) }},
			func(posts int) int { return posts }},
	}
}

// Seed migrates the database and registers n active domains over
// n/DomainsPerUser accounts (rounded up), and writes the n clear-text
// secrets to secretsPath (unless it is empty), domain i's on line i.
// Timestamps are spread over the past year, as in a real database, so
// that the app's periodic cache refresh finds no recent change.
func Seed(ctx context.Context, o models.Options, n int, secretsPath string) error {
	return SeedWithPosts(ctx, o, n, 0, secretsPath)
}

// SeedWithPosts is Seed, and posts posts over the accounts (postTables).
func SeedWithPosts(ctx context.Context, o models.Options, n, posts int, secretsPath string) error {
	o.StartupTimeout, o.MaxOpenConns, o.MaxIdleConns, o.ConnMaxLifetime = 10*time.Second, 4, 4, time.Minute
	db, err := models.Open(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if err := models.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	isMySQL := o.Driver == "mysql"
	workers := 1 // SQLite has one writer
	if isMySQL {
		workers = 4
	}
	now := time.Now().UTC()
	users := (n + DomainsPerUser - 1) / DomainsPerUser
	if err := insertRows(ctx, sqlDB, isMySQL, workers, userTable(now), users); err != nil {
		return fmt.Errorf("seeding users: %w", err)
	}
	if posts > 0 {
		for _, pt := range postTables(now, users) {
			if err := insertRows(ctx, sqlDB, isMySQL, workers, pt.t, pt.count(posts)); err != nil {
				return fmt.Errorf("seeding %s: %w", pt.t.name, err)
			}
		}
	}
	secrets := newSecretLines(n)
	if err := insertRows(ctx, sqlDB, isMySQL, workers, domainTable(now, secrets), n); err != nil {
		return fmt.Errorf("seeding domains: %w", err)
	}
	if secretsPath == "" {
		return nil
	}
	return secrets.write(secretsPath)
}

// insertRows fills t with count rows, workers transactions at a time,
// each of insertsPerTx INSERTs of rowsPerInsert rows (the last ones
// shorter). On MySQL each connection skips the unique and foreign key
// checks: the rows are generated unique and in order.
func insertRows(ctx context.Context, db *sql.DB, isMySQL bool, workers int, t seedTable, count int) error {
	const perTx = insertsPerTx * rowsPerInsert
	g, ctx := errgroup.WithContext(ctx)
	starts := make(chan int)
	g.Go(func() error {
		defer close(starts)
		for first := 0; first < count; first += perTx {
			select {
			case starts <- first:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			if isMySQL {
				if _, err := conn.ExecContext(ctx, "SET SESSION unique_checks = 0, foreign_key_checks = 0"); err != nil {
					return err
				}
			}
			args := make([]any, 0, rowsPerInsert*len(t.columns))
			for first := range starts {
				err := insertTx(ctx, conn, t, first, min(first+perTx, count), count, args)
				for try := 1; retryable(err) && try < maxTries; try++ {
					err = insertTx(ctx, conn, t, first, min(first+perTx, count), count, args)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// maxTries bounds the attempts at one transaction.
const maxTries = 5

// retryable reports whether err is MySQL giving up a transaction on a
// deadlock or a lock wait timeout, which it rolled back, to be run again.
// The workers fill disjoint ranges of ids, but their rows interleave in
// the unique indexes (emails, secret hashes), where the gap locks of
// concurrent INSERTs can deadlock.
func retryable(err error) bool {
	var e *mysql.MySQLError
	return errors.As(err, &e) && (e.Number == 1213 || e.Number == 1205)
}

// insertTx inserts rows [first, end) of count in one transaction. Run
// again, it generates the rows afresh (new secrets, each put on its line).
func insertTx(ctx context.Context, conn *sql.Conn, t seedTable, first, end, count int, args []any) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	var full *sql.Stmt  // the INSERT of rowsPerInsert rows, prepared once
	for i := first; i < end; i += rowsPerInsert {
		rows := min(rowsPerInsert, end-i)
		args = args[:0]
		for j := i; j < i+rows; j++ {
			args = t.values(args, j, count)
		}
		if rows < rowsPerInsert {
			_, err = tx.ExecContext(ctx, insertSQL(t.name, t.columns, rows), args...)
		} else {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertSQL(t.name, t.columns, rowsPerInsert)); err != nil {
					return err
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// pastTime spreads item i of n over the year before the hour before now.
func pastTime(now time.Time, i, n int) time.Time {
	const span = 365 * 24 * time.Hour
	return now.Add(-time.Hour - span + time.Duration(i)*(span/time.Duration(n))).Truncate(time.Millisecond)
}

// secretLines holds secrets as lines of one length (every secret is
// secret.Len long), so that each line can be set from any goroutine.
type secretLines []byte

const secretLine = secret.Len + 1 // with its newline

func newSecretLines(n int) secretLines { return make(secretLines, n*secretLine) }

// set puts s on line i. Lines set concurrently must differ.
func (b secretLines) set(i int, s string) {
	copy(b[i*secretLine:], s)
	b[(i+1)*secretLine-1] = '\n'
}

// write saves the lines to path, readable by its owner only.
func (b secretLines) write(path string) error { return os.WriteFile(path, b, 0o600) }

// ReadSecrets reads a file written by secretLines.write: every line a
// well-formed secret.
func ReadSecrets(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%secretLine != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte lines", path, len(b), secretLine)
	}
	secrets := make([]string, len(b)/secretLine)
	for i := range secrets {
		line := b[i*secretLine : (i+1)*secretLine]
		s := string(line[:secret.Len])
		if line[secret.Len] != '\n' || !secret.WellFormed(s) {
			return nil, fmt.Errorf("%s: line %d is not a client secret", path, i+1)
		}
		secrets[i] = s
	}
	return secrets, nil
}
