// Package handlers is everything HTTP: the App and its dependencies, the
// one route table (routes.go), middleware, rendering and one file per feature.
package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/internal/usage"
	"github.com/nodebird/nodebird-api/models"
)

// App holds the application's dependencies; handlers are its methods.
type App struct {
	Config  *config.Config
	Log     *slog.Logger
	DB      *gorm.DB
	Users   *models.UserModel
	Domains *models.DomainModel
	Usage   *models.UsageModel
	Audit   *models.AuditModel
	Admin   *models.AdminModel
	Tokens  *token.Manager
	// Cache is the in-memory view of the domains the API answers from.
	Cache *domaincache.Cache
	// Counter batches token counts per domain.
	Counter *usage.Counter

	limits *limiters
	// metrics are served at /metrics (or on METRICS_ADDR).
	metrics *metrics

	sessions  *sessions.CookieStore
	templates map[string]*pageTemplate
	static    fs.FS
	// shuttingDown turns /readyz to 503 as soon as shutdown starts.
	shuttingDown atomic.Bool
}

// New builds the App from its dependencies. files holds templates/ and static/.
func New(cfg *config.Config, log *slog.Logger, db *gorm.DB, files fs.FS) (*App, error) {
	a := &App{
		Config:  cfg,
		Log:     log,
		DB:      db,
		Users:   models.NewUserModel(db, cfg.DBQueryTimeout, cfg.BcryptCost),
		Domains: models.NewDomainModel(db, cfg.DBQueryTimeout),
		Usage:   models.NewUsageModel(db, cfg.DBQueryTimeout),
		Audit:   models.NewAuditModel(db, cfg.DBQueryTimeout),
		Admin:   models.NewAdminModel(db, cfg.DBQueryTimeout),
		Tokens:  token.New(cfg.JWTSecret, cfg.JWTIssuer, cfg.TokenTTL, nil),
	}
	a.Cache = domaincache.New(a.Domains, cfg.DomainCacheMax, log)
	a.Counter = usage.New(a.Usage, log)
	a.metrics = newMetrics(db, log)
	a.limits = newLimiters(limitSettingsOf(cfg))
	var err error
	if a.templates, err = parseTemplates(files); err != nil {
		return nil, err
	}
	if a.static, err = fs.Sub(files, "static"); err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	a.sessions = sessions.NewCookieStore(derive(cfg.SessionSecret, "session-hash"), derive(cfg.SessionSecret, "session-block")[:32])
	a.sessions.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(cfg.SessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   cfg.Production(),
		SameSite: http.SameSiteLaxMode,
	}
	return a, nil
}

// derive makes an independent key for one purpose from a configured secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Handler returns the HTTP handler with every route and middleware.
func (a *App) Handler() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.errorHandler
	e.IPExtractor = a.ipExtractor()
	a.routes(e)
	return e
}

// StartShutdown makes readiness fail; in-flight requests go on.
func (a *App) StartShutdown() { a.shuttingDown.Store(true) }

// domainChanged makes a change to a domain take effect in the API at once
// on this instance; other instances see it at their next cache refresh.
func (a *App) domainChanged(id uint64) {
	a.Cache.Forget(id)
	ctx, cancel := context.WithTimeout(context.Background(), a.Config.DBQueryTimeout)
	defer cancel()
	if err := a.Cache.Refresh(ctx); err != nil {
		a.Log.Warn("refreshing the domain cache after a change", "domain_id", id, "err", err)
	}
}
