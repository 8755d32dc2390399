// Package testapp starts the real NodeBird application for the tests of
// the packages that call it over HTTP (the client package, cmd/nodecat):
// handlers.New and Run, as main.go starts them, on a free port of
// 127.0.0.1 and a fresh database, with helpers to seed what a test needs.
package testapp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/handlers"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
	"github.com/nodebird/nodebird-api/models"
)

// App is a running application.
type App struct {
	URL string // http://127.0.0.1:port
	DB  *gorm.DB
}

// Config is the test configuration (fixed secrets, low bcrypt cost, limits
// off, the domain view refreshed every 100ms); tweak changes it.
func Config() *config.Config {
	return &config.Config{
		Env: "test", DBQueryTimeout: 5 * time.Second,
		JWTSecret:     []byte("testapp-jwt-secret-0123456789abcdef012345"),
		SessionSecret: []byte("testapp-session-secret-0123456789abcdef01"),
		TokenTTL:      time.Minute, JWTIssuer: "nodebird", SessionTTL: time.Hour,
		BodyLimit: "64K", CacheRefresh: 100 * time.Millisecond, DomainCacheMax: 1000, BcryptCost: 4,
		UsageFlush: 200 * time.Millisecond, ShutdownGrace: 5 * time.Second,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		FreeTokenRPM: 10, PremiumTokenRPM: 1000, VerifyRPM: 6000, BadSecretRPM: 30, ClientShares: 1,
		LoginFailsAccount: 5, LoginFailsIP: 20, LoginWindow: 15 * time.Minute, RateLimitKeys: 100000, JoinPerHourIP: 20,
		LoginAccountCeiling: 50, LoginSlowInterval: 30 * time.Second,
	}
}

// Start runs the application on a fresh database of driver ("sqlite" or
// "mysql", as testdb.Targets gives them) until the test ends.
func Start(t testing.TB, driver string, tweak ...func(*config.Config)) *App {
	t.Helper()
	cfg := Config()
	cfg.DataDir = t.TempDir()
	for _, f := range tweak {
		f(cfg)
	}
	db := testdb.Fresh(t, driver)
	url, err := Serve(t, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db)
	if err != nil {
		t.Fatal(err)
	}
	return &App{URL: url, DB: db}
}

// Serve runs the application of cfg on db, logging to log, on a free port
// of 127.0.0.1 until the test ends (handlers.New and Run, as main.go
// starts it), and returns its URL once /readyz answers 200, as a load
// balancer would wait: the domain view is loaded (before that, no origin
// is known to the CORS checks).
func Serve(t testing.TB, cfg *config.Config, log *slog.Logger, db *gorm.DB) (string, error) {
	t.Helper()
	a, err := handlers.New(cfg, log, db, os.DirFS(repoRoot()))
	if err != nil {
		return "", err
	}
	ctx, stop := context.WithCancel(context.Background())
	addr, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- a.Run(ctx, func(listening string) { addr <- listening }) }()
	var url string
	select {
	case listening := <-addr:
		_, port, _ := net.SplitHostPort(listening)
		url = "http://127.0.0.1:" + port
	case err := <-done:
		stop()
		return "", fmt.Errorf("the application did not start: %w", err)
	}
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the application stopped with: %v", err)
		}
	})
	const ready = 30 * time.Second
	if !testutil.Eventually(ready, func() bool {
		res, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}) {
		return "", fmt.Errorf("the application was not ready within %s", ready)
	}
	return url, nil
}

// repoRoot is the repository's root (templates/ and static/), wherever
// the test runs from.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Domain registers a user (email, nick) and a domain of host on plan, and
// returns the user's id, the domain's id and its client secret.
func (a *App) Domain(t testing.TB, email, nick, host, plan string) (userID, domainID uint64, secret string) {
	t.Helper()
	ctx := context.Background()
	u, err := models.NewUserModel(a.DB, 5*time.Second, 4).Insert(ctx, email, nick, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	d, sec, err := models.NewDomainModel(a.DB, 5*time.Second).Insert(ctx, u.ID, host, plan)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID, d.ID, sec
}

// Post writes a post as the user, as the portal does.
func (a *App) Post(t testing.TB, userID uint64, content string) *models.Post {
	t.Helper()
	p, err := models.NewPostModel(a.DB, 5*time.Second).Insert(context.Background(), userID, content)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Revoke revokes a domain as an administrator does; the application's
// domain view learns it at its next refresh (CacheRefresh).
func (a *App) Revoke(t testing.TB, domainID uint64) {
	t.Helper()
	admin := models.Actor{ID: 1, Email: "root@example.com"}
	if err := models.NewAdminModel(a.DB, 5*time.Second).Revoke(context.Background(), admin, domainID, "testing"); err != nil {
		t.Fatal(err)
	}
}
