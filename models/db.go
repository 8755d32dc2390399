// Package models holds the GORM models and every query the application
// makes. Handlers see only these types and the sentinel errors below.
package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/glebarez/sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

var (
	// ErrNoRecord: nothing matched (or it belongs to someone else).
	ErrNoRecord = errors.New("models: no matching record")
	// ErrDuplicateEmail: the email is already registered.
	ErrDuplicateEmail = errors.New("models: duplicate email")
	// ErrDuplicateHost: the user already registered this host.
	ErrDuplicateHost = errors.New("models: duplicate host")
	// ErrInvalidCredentials: unknown email or wrong password (never said which).
	ErrInvalidCredentials = errors.New("models: invalid credentials")
	// ErrUnavailable: the database did not answer in time or the connection failed.
	ErrUnavailable = errors.New("models: database unavailable")
)

// Options configure the connection pool and start-up.
type Options struct {
	Driver          string
	DSN             string
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	StartupTimeout  time.Duration
	// IOTimeout bounds every read and write on a MySQL connection (the
	// DSN's readTimeout and writeTimeout win when given); 0 means 30s. Each
	// query is bounded more tightly by its context; this catches the rest.
	IOTimeout time.Duration
}

// Open connects to the database, retrying with backoff for up to
// StartupTimeout while it is unreachable.
func Open(ctx context.Context, o Options, log *slog.Logger) (*gorm.DB, error) {
	var (
		sqlDB *sql.DB
		dial  func(*sql.DB) gorm.Dialector
		where string
	)
	switch o.Driver {
	case "sqlite":
		if dir := filepath.Dir(o.DSN); dir != "." && !strings.HasPrefix(o.DSN, "file:") && o.DSN != ":memory:" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("creating %s for the database: %w", dir, err)
			}
		}
		dsn := o.DSN
		if !strings.Contains(dsn, "?") {
			// busy_timeout: a writer waits for another process (such as
			// `nodebird admin`) instead of failing; _txlock=immediate: a
			// transaction takes the write lock when it begins, so two
			// never deadlock upgrading a read lock.
			dsn += "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		}
		drv, err := sqliteDriver()
		if err != nil {
			return nil, err
		}
		if o.DSN == ":memory:" || strings.Contains(o.DSN, "mode=memory") {
			// An in-memory database exists once per connection: keep one.
			sqlDB = sql.OpenDB(dsnConnector{dsn: dsn, drv: drv})
			sqlDB.SetMaxOpenConns(1)
			dial = func(c *sql.DB) gorm.Dialector { return &sqlite.Dialector{Conn: c} }
		} else {
			// Writes go to one connection, where they queue in Go: first
			// come, first served, each within its own time limit. (With
			// several writing connections they would wait in SQLite's busy
			// handler instead: unfairly, past their time limit, and failing
			// with SQLITE_BUSY under load.) Reads go to a pool of several:
			// in WAL mode they never wait for a writer. Closing the writing
			// pool (what db.DB() returns) closes the reading one too.
			readers := sql.OpenDB(dsnConnector{dsn: dsn, drv: drv})
			n := max(o.MaxOpenConns, 2)
			readers.SetMaxOpenConns(n)
			readers.SetMaxIdleConns(n)
			sqlDB = sql.OpenDB(dsnConnector{dsn: dsn, drv: drv, also: readers})
			sqlDB.SetMaxOpenConns(1)
			pool := &sqlitePool{w: sqlDB, r: readers}
			dial = func(*sql.DB) gorm.Dialector { return &sqlite.Dialector{Conn: pool} }
		}
		where = "the SQLite database " + o.DSN
	case "mysql":
		cfg, err := mysqldrv.ParseDSN(o.DSN)
		if err != nil {
			return nil, fmt.Errorf("DB_DSN: %w", err)
		}
		cfg.ParseTime = true
		if cfg.Timeout == 0 {
			cfg.Timeout = 2 * time.Second // dial timeout
		}
		ioTimeout := o.IOTimeout
		if ioTimeout <= 0 {
			ioTimeout = 30 * time.Second
		}
		if cfg.ReadTimeout == 0 {
			cfg.ReadTimeout = ioTimeout
		}
		if cfg.WriteTimeout == 0 {
			cfg.WriteTimeout = ioTimeout
		}
		cfg.Loc = time.UTC
		cfg.Logger = driverLogger{log}
		connector, err := mysqldrv.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("DB_DSN: %w", err)
		}
		sqlDB = sql.OpenDB(connector)
		sqlDB.SetMaxOpenConns(o.MaxOpenConns)
		sqlDB.SetMaxIdleConns(o.MaxIdleConns)
		sqlDB.SetConnMaxLifetime(o.ConnMaxLifetime)
		sqlDB.SetConnMaxIdleTime(min(time.Minute, max(o.ConnMaxLifetime, time.Second)))
		dial = func(c *sql.DB) gorm.Dialector {
			return utf8mb4Dialector(mysql.New(mysql.Config{Conn: c, DSNConfig: cfg}))
		}
		where = "MySQL at " + cfg.Addr // never the DSN: it may hold a password
	default:
		return nil, fmt.Errorf("unknown database driver %q", o.Driver)
	}

	// The database must answer before GORM asks it anything (its version).
	deadline := time.Now().Add(o.StartupTimeout)
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, min(2*time.Second, max(time.Until(deadline), 100*time.Millisecond)))
		err := sqlDB.PingContext(pctx)
		cancel()
		if err == nil {
			break
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			sqlDB.Close()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("connecting to %s: interrupted after %d attempts: %w", where, attempt, ctx.Err())
			}
			return nil, fmt.Errorf("%s is unreachable: gave up after %d attempts over %s (DB_STARTUP_TIMEOUT): %w",
				where, attempt, o.StartupTimeout, err)
		}
		wait := min(backoff, time.Until(deadline)) // the last attempt is at the deadline
		log.Warn("database not reachable yet, retrying", "db", where, "attempt", attempt, "in", wait.Round(time.Millisecond), "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	if o.Driver == "mysql" {
		keepUnderIdleTimeout(ctx, sqlDB, o.ConnMaxLifetime, log)
	}

	db, err := gorm.Open(dial(sqlDB), &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	})
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("opening %s: %w", where, err)
	}
	return db, nil
}

// keepUnderIdleTimeout shortens the pool's connection lifetime when the
// server closes idle connections sooner (wait_timeout), so that the pool
// never hands out a connection the server has already dropped.
func keepUnderIdleTimeout(ctx context.Context, sqlDB *sql.DB, lifetime time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var secs int64
	if err := sqlDB.QueryRowContext(ctx, "SELECT @@SESSION.wait_timeout").Scan(&secs); err != nil || secs <= 0 {
		return
	}
	idle := time.Duration(secs) * time.Second
	if lifetime <= 0 || lifetime >= idle {
		safe := max(idle/2, time.Second)
		log.Warn("DB_CONN_MAX_LIFETIME is not under the server's wait_timeout: using half of it",
			"wait_timeout", idle, "conn_max_lifetime", safe)
		sqlDB.SetConnMaxLifetime(safe)
		sqlDB.SetConnMaxIdleTime(min(time.Minute, safe))
	}
}

// sqliteDriver is the registered pure-Go SQLite driver.
func sqliteDriver() (driver.Driver, error) {
	db, err := sql.Open(sqlite.DriverName, "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Driver(), nil
}

// dsnConnector opens connections to one DSN; closing the pool built on it
// closes also (the reading pool of a SQLite database).
type dsnConnector struct {
	dsn  string
	drv  driver.Driver
	also io.Closer
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// Close is called by sql.DB.Close.
func (c dsnConnector) Close() error {
	if c.also != nil {
		return c.also.Close()
	}
	return nil
}

// sqlitePool is GORM's connection pool for a SQLite file: transactions,
// statements and anything but a plain SELECT go to the one writing
// connection w; SELECTs outside a transaction go to the readers r.
type sqlitePool struct{ w, r *sql.DB }

func (p *sqlitePool) pick(query string) *sql.DB {
	q := strings.TrimLeft(query, " \t\r\n")
	if len(q) > 6 && strings.EqualFold(q[:6], "SELECT") {
		return p.r
	}
	return p.w
}

func (p *sqlitePool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.pick(query).PrepareContext(ctx, query)
}

func (p *sqlitePool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.w.ExecContext(ctx, query, args...)
}

func (p *sqlitePool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.pick(query).QueryContext(ctx, query, args...)
}

func (p *sqlitePool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.pick(query).QueryRowContext(ctx, query, args...)
}

// BeginTx starts a transaction on the writing connection.
func (p *sqlitePool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	return p.w.BeginTx(ctx, opts)
}

// GetDBConn is what gorm.DB.DB() returns: the writing pool (its Close
// closes the readers too).
func (p *sqlitePool) GetDBConn() (*sql.DB, error) { return p.w, nil }

// driverLogger sends go-sql-driver/mysql's own messages (such as a
// connection found closed) to the application's structured log.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) { l.log.Warn("mysql driver", "detail", fmt.Sprint(v...)) }

// Migrate creates or updates the tables.
func Migrate(ctx context.Context, db *gorm.DB) error {
	models := []any{&User{}, &Domain{}, &DomainUsage{}, &AuditEntry{}, &AccountToken{}, &Post{}, &Hashtag{}, &PostHashtag{}}
	for start := time.Now(); ; {
		err := db.WithContext(ctx).AutoMigrate(models...)
		if err == nil {
			break
		}
		if !indexCreatedElsewhere(err) || time.Since(start) > time.Minute {
			return err
		}
		// Another instance is creating the same index (both started at
		// once, and it did so between AutoMigrate's look and its CREATE
		// INDEX); on a big table that takes seconds. Look again shortly.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := dropRetiredIndexes(db.WithContext(ctx)); err != nil {
		return err
	}
	return collateExactly(ctx, db)
}

// indexCreatedElsewhere reports whether err is a CREATE INDEX refused
// because the index exists: MySQL's error 1061, SQLite's "already exists".
func indexCreatedElsewhere(err error) bool {
	var myErr *mysqldrv.MySQLError
	return errors.As(err, &myErr) && myErr.Number == 1061 ||
		strings.Contains(err.Error(), "index") && strings.Contains(err.Error(), "already exists")
}

// Ping reports whether the database answers within ctx.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return translate(sqlDB.PingContext(ctx))
}

// conn is what every model holds: the handle and the per-query time limit.
type conn struct {
	db      *gorm.DB
	timeout time.Duration
}

func (c conn) with(ctx context.Context) (*gorm.DB, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	return c.db.WithContext(ctx), cancel
}

// translate maps driver errors to this package's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNoRecord
	case unavailable(err):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

func unavailable(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	var myErr *mysqldrv.MySQLError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysqldrv.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		// A transaction rolled back because its context ended; GORM then
		// reports "context deadline exceeded; sql: transaction has already
		// been committed or rolled back", the first error as text only.
		errors.Is(err, sql.ErrTxDone) || strings.Contains(err.Error(), context.DeadlineExceeded.Error()) ||
		// The pool was closed (shutting down): database/sql's error is unexported.
		strings.Contains(err.Error(), "sql: database is closed") ||
		strings.Contains(err.Error(), context.Canceled.Error()) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &netErr) || errors.As(err, &opErr) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "i/o timeout") ||
		// MySQL gave up on a lock: a deadlock or a lock wait timeout.
		errors.As(err, &myErr) && (myErr.Number == 1213 || myErr.Number == 1205) ||
		// SQLite: another process held the lock for longer than busy_timeout.
		strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "SQLITE_BUSY") ||
		// SQLite: a statement interrupted because its context ended.
		sqliteCode(err) == sqliteInterrupt
}

// sqliteInterrupt is SQLITE_INTERRUPT, the primary result code of a
// statement stopped by sqlite3_interrupt (the driver's answer to a context
// that ended while the statement ran).
const sqliteInterrupt = 9

// sqliteCode is the primary result code of a SQLite driver error, or -1.
func sqliteCode(err error) int {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return coded.Code() & 0xff
	}
	return -1
}
