// Package handlers is everything HTTP: the App and its dependencies, the
// one route table (routes.go), middleware, rendering and one file per
// feature. New builds every part of the application; Run serves it.
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
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/fanout"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/internal/usage"
	"github.com/nodebird/nodebird-api/models"
)

// App holds the application's dependencies; handlers are its methods.
type App struct {
	config     *config.Config
	log        *slog.Logger
	db         *gorm.DB
	users      *models.UserModel
	domains    *models.DomainModel
	usageStats *models.UsageModel // tokens issued and refused per domain and hour
	audit      *models.AuditModel
	admin      *models.AdminModel
	posts      *models.PostModel
	// cursorKey signs the API's page cursors (posts_api.go).
	cursorKey []byte

	// cache is the in-memory view of the domains the API answers from.
	cache *domaincache.Cache
	// tokenCounts batches the tokens issued and refused per domain into usageStats.
	tokenCounts *usage.Counter
	// access applies the token rules (issuing and checking).
	access *access.Service
	// limits are the portal's (the API's are the access service's).
	limits *portalLimits
	// limitStore is the Redis every limit is counted in (REDIS_URL), or
	// nil: the limits count in memory.
	limitStore *ratelimit.Store
	// changes tells every instance at once that a domain changed (on
	// REDIS_URL's Pub/Sub), or is nil: other instances see a change at
	// their next refresh.
	changes *fanout.Fanout
	// metrics are served at /metrics (or on METRICS_ADDR).
	metrics *metrics
	// mail sends the mails to account owners (mail.go).
	mail *mailer

	sessions *sessions.CookieStore
	// sessionKey names SESSION_SECRET in the cookies it makes (keyMadeWith).
	sessionKey string
	templates  map[string]*pageTemplate
	static     fs.FS
	openAPI    []byte // static/openapi.json, served at /openapi.json (openapi.go)

	// web serves the portal, api serves /v1 (routes.go); handler mounts
	// both: the whole application as one http.Handler.
	web, api *echo.Echo
	handler  http.Handler

	// shuttingDown turns /readyz to 503 as soon as shutdown starts.
	shuttingDown atomic.Bool
}

// New builds the application on db: models, domain view, usage counter,
// limits, token rules, sessions, templates and routes. files holds
// templates/ and static/. Run serves it.
func New(cfg *config.Config, log *slog.Logger, db *gorm.DB, files fs.FS) (*App, error) {
	a := &App{
		config:     cfg,
		log:        log,
		db:         db,
		users:      models.NewUserModel(db, cfg.DBQueryTimeout, cfg.BcryptCost),
		domains:    models.NewDomainModel(db, cfg.DBQueryTimeout),
		usageStats: models.NewUsageModel(db, cfg.DBQueryTimeout),
		audit:      models.NewAuditModel(db, cfg.DBQueryTimeout),
		admin:      models.NewAdminModel(db, cfg.DBQueryTimeout),
		posts:      models.NewPostModel(db, cfg.DBQueryTimeout),
		cursorKey:  derive(cfg.JWTSecret, "posts-cursor"),
	}
	a.domains.MaxPerUser = cfg.MaxDomainsPerUser // 0 (tests only: Load asks at least 1): no limit
	a.domains.PremiumApproval = cfg.Premium == config.PremiumApproval
	a.cache = domaincache.New(a.domains, cfg.DomainCacheMax, log)
	a.tokenCounts = usage.New(a.usageStats, log)
	if cfg.RedisURL != "" {
		client, err := ratelimit.OpenRedis(cfg.RedisURL, cfg.RedisTimeout)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		a.limitStore = ratelimit.NewStore(client, redisPrefix, cfg.RedisTimeout, log)
		// Redis not answering at start is not fatal: the limits count
		// locally until the probe finds it.
		_ = a.limitStore.Probe(context.Background())
		a.changes = fanout.New(client, changesChannel, cfg.RedisTimeout, cfg.RedisProbe, log)
		// Token counts go to Redis as they happen (an instance's crash
		// loses none); the instance holding the lease moves them to the
		// database, each flush within USAGE_FLUSH.
		a.tokenCounts.Share(usage.NewShared(client, a.limitStore, a.usageStats, cfg.RedisTimeout, cfg.UsageFlush+5*time.Second, log))
	}
	a.access = access.New(a.cache, token.New(cfg.JWTSecret, cfg.JWTIssuer, cfg.TokenTTL, nil).Accepting(cfg.JWTSecretPrevious),
		a.tokenCounts, apiLimits(cfg, a.limitStore, nil))
	a.limits = newPortalLimits(cfg, a.limitStore, nil)
	a.metrics = newMetrics(db, log, a.limitStore, a.changes)
	var err error
	if a.templates, err = parseTemplates(files); err != nil {
		return nil, err
	}
	if a.static, err = fs.Sub(files, "static"); err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	if a.openAPI, err = fs.ReadFile(a.static, "openapi.json"); err != nil {
		return nil, fmt.Errorf("the OpenAPI document: %w", err)
	}
	if a.mail, err = newMailer(a, files); err != nil {
		return nil, err
	}
	// Cookies are made with SESSION_SECRET's keys; those of
	// SESSION_SECRET_PREVIOUS are accepted too (securecookie tries each
	// pair), and such a cookie is made again with the current keys.
	keys := [][]byte{derive(cfg.SessionSecret, "session-hash"), derive(cfg.SessionSecret, "session-block")[:32]}
	if len(cfg.SessionSecretPrevious) > 0 {
		keys = append(keys, derive(cfg.SessionSecretPrevious, "session-hash"), derive(cfg.SessionSecretPrevious, "session-block")[:32])
	}
	a.sessions = sessions.NewCookieStore(keys...)
	a.sessionKey = sessionKeyID(cfg.SessionSecret)
	a.sessions.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(cfg.SessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   cfg.Production(),
		SameSite: http.SameSiteLaxMode,
	}
	a.routes()
	return a, nil
}

// redisPrefix starts the name of every key the limits keep in Redis.
const redisPrefix = "nodebird:limit:"

// changesChannel is the Redis channel that says which domain changed.
const changesChannel = "nodebird:domain-changed"

// Close waits for the mails being sent (each within its send timeout), then
// releases what New opened besides the database (the Redis client).
func (a *App) Close() error {
	a.waitMails()
	if a.limitStore != nil {
		return a.limitStore.Close()
	}
	return nil
}

// derive makes an independent key for one purpose from a configured secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// newEcho is an Echo instance with the app's settings, rendering errors with onError.
func (a *App) newEcho(onError echo.HTTPErrorHandler) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = onError
	e.IPExtractor = a.ipExtractor()
	return e
}

// domainChanged makes a change to domains take effect in the API at once
// on this instance (ids are forgotten at once, then the view is
// refreshed: with no ids, a change that needs no forgetting, such as the
// owner's nick), and on the others as soon as they hear of it (with
// REDIS_URL, within milliseconds; otherwise, or when the message is lost,
// at their next cache refresh).
func (a *App) domainChanged(ids ...uint64) {
	for _, id := range ids {
		a.cache.Forget(id)
	}
	if a.cache.Loaded() { // else the load under way reads the change at its end
		ctx, cancel := context.WithTimeout(context.Background(), a.config.DBQueryTimeout)
		if err := a.cache.Refresh(ctx); err != nil {
			a.log.Warn("refreshing the domain cache after a change", "domain_ids", ids, "err", err)
		}
		cancel()
	}
	if a.changes != nil {
		if err := a.changes.Publish(context.Background(), ids...); err != nil {
			a.log.Warn("telling the other instances that domains changed: they read them at their next refresh", "domain_ids", ids, "err", err)
		}
	}
}

// changedElsewhere applies a change another instance announced: the
// domain is read again from the database (the message only names it).
func (a *App) changedElsewhere(ctx context.Context, id uint64) {
	ctx, cancel := context.WithTimeout(ctx, a.config.DBQueryTimeout)
	defer cancel()
	if err := a.cache.Reload(ctx, id); err != nil {
		a.log.Warn("reading a domain another instance changed: the next refresh will", "domain_id", id, "err", err)
	}
}

// resync refreshes the domain view once the change messages flow (again),
// so that changes announced while they did not are read now, not at the
// next poll, and when another instance announces changes without naming
// the domains (a nick) or too many to read one by one.
func (a *App) resync(ctx context.Context) {
	if !a.cache.Loaded() { // the load reads everything
		return
	}
	ctx, cancel := context.WithTimeout(ctx, a.config.DBQueryTimeout)
	defer cancel()
	if err := a.cache.Refresh(ctx); err != nil {
		a.log.Warn("refreshing the domain cache after changes elsewhere", "err", err)
	}
}
