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
}

// Open connects to the database, retrying with backoff for up to
// StartupTimeout while it is unreachable.
func Open(ctx context.Context, o Options, log *slog.Logger) (*gorm.DB, error) {
	var dial gorm.Dialector
	switch o.Driver {
	case "sqlite":
		if dir := filepath.Dir(o.DSN); dir != "." && !strings.HasPrefix(o.DSN, "file:") && o.DSN != ":memory:" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("creating %s for the database: %w", dir, err)
			}
		}
		dsn := o.DSN
		if !strings.Contains(dsn, "?") {
			dsn += "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
		}
		dial = sqlite.Open(dsn)
	case "mysql":
		cfg, err := mysqldrv.ParseDSN(o.DSN)
		if err != nil {
			return nil, fmt.Errorf("DB_DSN: %w", err)
		}
		cfg.ParseTime = true
		if cfg.Timeout == 0 {
			cfg.Timeout = 2 * time.Second // dial timeout
		}
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Loc = time.UTC
		dial = mysql.New(mysql.Config{DSNConfig: cfg})
	default:
		return nil, fmt.Errorf("unknown database driver %q", o.Driver)
	}
	db, err := gorm.Open(dial, &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	})
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if o.Driver == "sqlite" {
		// One writer at a time is SQLite's model; one connection avoids SQLITE_BUSY.
		sqlDB.SetMaxOpenConns(1)
	} else {
		sqlDB.SetMaxOpenConns(o.MaxOpenConns)
		sqlDB.SetMaxIdleConns(o.MaxIdleConns)
		sqlDB.SetConnMaxLifetime(o.ConnMaxLifetime)
		sqlDB.SetConnMaxIdleTime(time.Minute)
	}

	deadline := time.Now().Add(o.StartupTimeout)
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = sqlDB.PingContext(pctx)
		cancel()
		if err == nil {
			return db, nil
		}
		if time.Now().Add(backoff).After(deadline) || ctx.Err() != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("database unreachable after %d attempts over %s: %w", attempt, o.StartupTimeout, err)
		}
		log.Warn("database not reachable yet, retrying", "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Migrate creates or updates the tables.
func Migrate(ctx context.Context, db *gorm.DB) error {
	return db.WithContext(ctx).AutoMigrate(&User{}, &Domain{}, &DomainUsage{}, &AuditEntry{})
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
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysqldrv.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &netErr) || errors.As(err, &opErr) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "i/o timeout")
}
