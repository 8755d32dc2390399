// Package config reads the application's settings once, from the
// environment and an optional .env file, into a typed struct.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// bodyLimitRe is what Echo's body limit accepts: a number and a unit.
var bodyLimitRe = regexp.MustCompile(`(?i)^[0-9]+[KMGTP]?B?$`)

// MinSecretLen is the shortest JWT_SECRET or SESSION_SECRET accepted in production.
const MinSecretLen = 32

// The values of PREMIUM.
const (
	PremiumOpen     = "open"     // anyone may pick the premium plan
	PremiumApproval = "approval" // premium is a request an admin answers
)

// Config holds every setting of the application.
type Config struct {
	Env string // "development" (default) or "production"
	// Port is the TCP port served on all interfaces; 0 picks a free one.
	Port int

	DBDriver string // "sqlite" or "mysql"
	DBDSN    string
	// DBStartupTimeout bounds how long start-up retries an unreachable database.
	DBStartupTimeout time.Duration
	// DBQueryTimeout bounds every query a request makes.
	DBQueryTimeout time.Duration
	DBMaxOpenConns int
	DBMaxIdleConns int
	DBConnMaxLife  time.Duration
	// DBIOTimeout bounds each read or write on a MySQL connection.
	DBIOTimeout time.Duration
	DataDir     string

	JWTSecret     []byte
	SessionSecret []byte
	// JWTSecretPrevious and SessionSecretPrevious (optional) are also
	// accepted, never used to sign: a key on its way in or out (README,
	// "Rotating keys").
	JWTSecretPrevious     []byte
	SessionSecretPrevious []byte
	TokenTTL              time.Duration
	JWTIssuer             string
	SessionTTL            time.Duration

	AdminEmails []string
	// MaxDomainsPerUser is how many domains an account may have, unless an
	// admin set another limit for it.
	MaxDomainsPerUser int
	// Premium is who may pick the premium plan: PremiumOpen (anyone) or
	// PremiumApproval (a request an admin approves or declines).
	Premium string

	// TrustedProxies lists the CIDRs whose X-Forwarded-For is believed.
	TrustedProxies  []string
	RateLimits      bool
	FreeTokenRPM    int
	PremiumTokenRPM int
	VerifyRPM       int
	// ClientShares: one client network may take at most 1/ClientShares of
	// each of the three quotas above (at least 1); 1 turns the shares off.
	ClientShares int
	// BadSecretRPM: unknown or malformed secrets one client IP may send a minute.
	BadSecretRPM int
	// LoginFailsAccount / LoginFailsIP: failed logins allowed per LoginWindow,
	// per account from one client network / per client network.
	LoginFailsAccount int
	LoginFailsIP      int
	LoginWindow       time.Duration
	// LoginAccountCeiling: failed logins per LoginWindow to one account from
	// all networks, past which it takes one attempt per LoginSlowInterval.
	LoginAccountCeiling int
	LoginSlowInterval   time.Duration
	// JoinPerHourIP: sign-ups one client IP may make an hour.
	JoinPerHourIP int
	// RateLimitKeys bounds the keys each limiter keeps in memory.
	RateLimitKeys int
	// RedisURL, when set (redis://[:password@]host:port/db, or rediss://
	// for TLS), is the Redis every limit is counted in, shared by all
	// instances. RedisTimeout bounds each call to it: past it, or on any
	// fault, the limits count in memory until a probe, every RedisProbe,
	// finds Redis answering again.
	RedisURL     string
	RedisTimeout time.Duration
	RedisProbe   time.Duration
	BodyLimit    string

	Metrics     bool
	MetricsAddr string // empty: served by the app itself at /metrics
	// MetricsToken, when set, is the bearer token /metrics asks for; in
	// production the app's port serves /metrics only with one.
	MetricsToken []byte

	// ShutdownDrain is how long readiness fails, while everything is
	// still served, before the listener closes (time for a load balancer
	// to stop sending traffic); 0 closes it at once.
	ShutdownDrain time.Duration
	// ReadHeaderTimeout, ReadTimeout and WriteTimeout bound how long a client
	// may take to send its headers, its whole request, and to read the answer.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	// ShutdownGrace bounds how long in-flight requests may take to finish.
	ShutdownGrace time.Duration
	CacheRefresh  time.Duration
	// UsageFlush is how often token counts are written to the database.
	UsageFlush     time.Duration
	DomainCacheMax int
	// BcryptCost is the password hashing cost (>= 12 outside tests).
	BcryptCost int

	// SMTPURL is where mails go (smtp:// or smtps://); empty in development:
	// .eml files under DataDir/mail (mail.go).
	SMTPURL  string
	MailFrom string
	// BaseURL is the site's public address, without a trailing slash: the
	// links in mails start with it.
	BaseURL string
}

// Production reports whether the strict production checks are on.
func (c *Config) Production() bool { return c.Env == "production" }

// Load reads the configuration from lookup (normally os.LookupEnv, after
// an optional .env file was applied). Secrets missing in development are
// generated once and kept under DataDir; in production they are required.
func Load(lookup func(string) (string, bool), log *slog.Logger) (*Config, error) {
	get := func(k, def string) string {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	var errs []error
	bad := map[string]bool{} // settings already refused
	dur := func(k, def string) time.Duration {
		d, err := time.ParseDuration(get(k, def))
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 30s or 1m", k, get(k, def)))
			bad[k] = true
		}
		return d
	}
	num := func(k string, def int) int {
		s := get(k, strconv.Itoa(def))
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a non-negative whole number", k, s))
		}
		return n
	}
	flag := func(k string, def bool) bool {
		s := strings.ToLower(get(k, strconv.FormatBool(def)))
		switch s {
		case "1", "true", "on", "yes":
			return true
		case "0", "false", "off", "no":
			return false
		}
		errs = append(errs, fmt.Errorf("%s: %q is not on/off", k, s))
		return def
	}

	c := &Config{
		Env:               strings.ToLower(get("APP_ENV", "development")),
		Port:              num("PORT", 8002),
		DBDriver:          strings.ToLower(get("DB_DRIVER", "sqlite")),
		DBDSN:             get("DB_DSN", ""),
		DBStartupTimeout:  dur("DB_STARTUP_TIMEOUT", "30s"),
		DBQueryTimeout:    dur("DB_QUERY_TIMEOUT", "1500ms"),
		DBMaxOpenConns:    num("DB_MAX_OPEN_CONNS", 25),
		DBMaxIdleConns:    num("DB_MAX_IDLE_CONNS", 25),
		DBConnMaxLife:     dur("DB_CONN_MAX_LIFETIME", "3m"),
		DBIOTimeout:       dur("DB_IO_TIMEOUT", "30s"),
		DataDir:           get("DATA_DIR", "data"),
		TokenTTL:          dur("TOKEN_TTL", "1m"),
		JWTIssuer:         get("JWT_ISSUER", "nodebird"),
		SessionTTL:        dur("SESSION_TTL", "12h"),
		RateLimits:        flag("RATE_LIMITS", true),
		FreeTokenRPM:      num("RATE_FREE_TOKEN_PER_MIN", 10),
		PremiumTokenRPM:   num("RATE_PREMIUM_TOKEN_PER_MIN", 1000),
		VerifyRPM:         num("RATE_VERIFY_PER_MIN", 6000),
		ClientShares:      num("RATE_CLIENT_SHARES", 5),
		BadSecretRPM:      num("RATE_BAD_SECRET_PER_MIN", 30),
		LoginFailsAccount: num("LOGIN_MAX_FAILS_ACCOUNT", 5),
		LoginFailsIP:      num("LOGIN_MAX_FAILS_IP", 20),
		LoginWindow:       dur("LOGIN_WINDOW", "15m"),
		JoinPerHourIP:     num("JOIN_MAX_PER_HOUR_IP", 20),
		RateLimitKeys:     num("RATE_LIMIT_KEYS", 100000),
		RedisURL:          get("REDIS_URL", ""),
		RedisTimeout:      dur("REDIS_TIMEOUT", "50ms"),
		RedisProbe:        dur("REDIS_PROBE", "1s"),
		BodyLimit:         get("BODY_LIMIT", "64K"),
		Metrics:           flag("METRICS", true),
		MetricsAddr:       get("METRICS_ADDR", ""),
		ShutdownDrain:     dur("SHUTDOWN_DRAIN", "0s"),
		ShutdownGrace:     dur("SHUTDOWN_GRACE", "15s"),
		ReadHeaderTimeout: dur("HTTP_READ_HEADER_TIMEOUT", "5s"),
		ReadTimeout:       dur("HTTP_READ_TIMEOUT", "15s"),
		WriteTimeout:      dur("HTTP_WRITE_TIMEOUT", "30s"),
		CacheRefresh:      dur("CACHE_REFRESH", "2s"),
		UsageFlush:        dur("USAGE_FLUSH", "15s"),
		DomainCacheMax:    num("DOMAIN_CACHE_MAX", 1000000),
		BcryptCost:        num("BCRYPT_COST", 12),
	}
	c.LoginAccountCeiling = num("LOGIN_ACCOUNT_CEILING", 50)
	c.LoginSlowInterval = dur("LOGIN_SLOW_INTERVAL", "30s")
	c.MaxDomainsPerUser = num("MAX_DOMAINS_PER_USER", 100)
	c.Premium = strings.ToLower(strings.TrimSpace(get("PREMIUM", PremiumOpen)))
	if c.Premium != PremiumOpen && c.Premium != PremiumApproval {
		errs = append(errs, fmt.Errorf("PREMIUM: %q is neither open nor approval", c.Premium))
	}
	if n, err := strconv.Atoi(get("MAX_DOMAINS_PER_USER", "100")); err == nil && n == 0 {
		errs = append(errs, errors.New("MAX_DOMAINS_PER_USER: must be at least 1"))
	}
	for _, e := range strings.Split(get("ADMIN_EMAILS", ""), ",") {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			c.AdminEmails = append(c.AdminEmails, e)
		}
	}
	for _, p := range strings.Split(get("TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
				errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is neither an IP address nor a CIDR range such as 10.0.0.0/8", p))
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}

	switch c.Env {
	case "development", "production", "test":
	default:
		errs = append(errs, fmt.Errorf("APP_ENV: %q is not development, production or test", c.Env))
	}
	if !bodyLimitRe.MatchString(c.BodyLimit) {
		errs = append(errs, fmt.Errorf("BODY_LIMIT: %q is not a size such as 64K, 512K or 1M", c.BodyLimit))
	}
	for _, q := range []struct {
		name string
		v    int
	}{
		{"RATE_FREE_TOKEN_PER_MIN", c.FreeTokenRPM}, {"RATE_PREMIUM_TOKEN_PER_MIN", c.PremiumTokenRPM},
		{"RATE_VERIFY_PER_MIN", c.VerifyRPM}, {"RATE_BAD_SECRET_PER_MIN", c.BadSecretRPM},
		{"RATE_CLIENT_SHARES", c.ClientShares},
		{"LOGIN_MAX_FAILS_ACCOUNT", c.LoginFailsAccount}, {"LOGIN_MAX_FAILS_IP", c.LoginFailsIP},
		{"JOIN_MAX_PER_HOUR_IP", c.JoinPerHourIP}, {"RATE_LIMIT_KEYS", c.RateLimitKeys},
		{"LOGIN_ACCOUNT_CEILING", c.LoginAccountCeiling},
	} {
		if q.v < 1 && !bad[q.name] { // 0 would refuse everyone; RATE_LIMITS=off turns limits off
			errs = append(errs, fmt.Errorf("%s: must be at least 1 (RATE_LIMITS=off turns the limits off)", q.name))
		}
	}
	if c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT: %d is not a TCP port (1 to 65535, or 0 for any free port)", c.Port))
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("METRICS_ADDR: %q is not host:port (such as 127.0.0.1:9102 or :9102)", c.MetricsAddr))
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			// The value is not repeated: it may hold a password.
			errs = append(errs, errors.New("REDIS_URL: not a URL such as redis://:password@host:6379/0 (or rediss:// for TLS)"))
		}
	}
	if c.DBMaxOpenConns < 1 {
		errs = append(errs, errors.New("DB_MAX_OPEN_CONNS: must be at least 1"))
	}
	if c.DBMaxIdleConns > c.DBMaxOpenConns {
		errs = append(errs, fmt.Errorf("DB_MAX_IDLE_CONNS: %d is more than DB_MAX_OPEN_CONNS (%d)", c.DBMaxIdleConns, c.DBMaxOpenConns))
	}
	for _, d := range []struct {
		name     string
		v, least time.Duration
	}{
		{"DB_QUERY_TIMEOUT", c.DBQueryTimeout, 10 * time.Millisecond},
		{"DB_CONN_MAX_LIFETIME", c.DBConnMaxLife, time.Second},
		{"DB_IO_TIMEOUT", c.DBIOTimeout, time.Second},
		{"HTTP_READ_HEADER_TIMEOUT", c.ReadHeaderTimeout, 100 * time.Millisecond},
		{"LOGIN_WINDOW", c.LoginWindow, time.Second},
		{"LOGIN_SLOW_INTERVAL", c.LoginSlowInterval, time.Second},
		{"HTTP_READ_TIMEOUT", c.ReadTimeout, 100 * time.Millisecond},
		{"HTTP_WRITE_TIMEOUT", c.WriteTimeout, 100 * time.Millisecond},
		{"USAGE_FLUSH", c.UsageFlush, time.Second},
		{"REDIS_TIMEOUT", c.RedisTimeout, time.Millisecond},
		{"REDIS_PROBE", c.RedisProbe, 10 * time.Millisecond},
	} {
		if d.v < d.least && !bad[d.name] {
			errs = append(errs, fmt.Errorf("%s: must be at least %s", d.name, d.least))
		}
	}
	switch c.DBDriver {
	case "sqlite":
		if c.DBDSN == "" {
			c.DBDSN = filepath.Join(c.DataDir, "nodebird.db")
		}
	case "mysql":
		if c.DBDSN == "" {
			errs = append(errs, errors.New("DB_DSN: required when DB_DRIVER=mysql (user:pass@tcp(host:3306)/nodebird)"))
		}
	default:
		errs = append(errs, fmt.Errorf("DB_DRIVER: %q is neither sqlite nor mysql", c.DBDriver))
	}
	if c.TokenTTL < time.Second && !bad["TOKEN_TTL"] {
		errs = append(errs, errors.New("TOKEN_TTL: must be at least 1s"))
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 || (c.Production() && c.BcryptCost < 12) {
		errs = append(errs, fmt.Errorf("BCRYPT_COST: %d is out of range (12 to 31)", c.BcryptCost))
	}
	if c.CacheRefresh < 100*time.Millisecond && !bad["CACHE_REFRESH"] {
		errs = append(errs, errors.New("CACHE_REFRESH: must be at least 100ms"))
	}

	c.MetricsToken = []byte(get("METRICS_TOKEN", ""))
	c.JWTSecret = []byte(get("JWT_SECRET", ""))
	c.SessionSecret = []byte(get("SESSION_SECRET", ""))
	c.JWTSecretPrevious = []byte(get("JWT_SECRET_PREVIOUS", ""))
	c.SessionSecretPrevious = []byte(get("SESSION_SECRET_PREVIOUS", ""))
	if c.Production() {
		for _, s := range []struct {
			name string
			v    []byte
		}{{"JWT_SECRET", c.JWTSecret}, {"SESSION_SECRET", c.SessionSecret}} {
			if len(s.v) < MinSecretLen {
				errs = append(errs, fmt.Errorf("%s: required in production, at least %d bytes (openssl rand -hex 32)", s.name, MinSecretLen))
			}
		}
		if len(c.JWTSecret) > 0 && string(c.JWTSecret) == string(c.SessionSecret) {
			errs = append(errs, errors.New("JWT_SECRET and SESSION_SECRET must differ"))
		}
	}
	errs = append(errs, c.checkSecretStrength(log)...) // strength.go
	errs = append(errs, c.loadMail(get)...)            // mail.go
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !c.Production() {
		var err error
		if len(c.JWTSecret) == 0 {
			if c.JWTSecret, err = devSecret(c.DataDir, "jwt_secret", log); err != nil {
				return nil, err
			}
		}
		if len(c.SessionSecret) == 0 {
			if c.SessionSecret, err = devSecret(c.DataDir, "session_secret", log); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// devSecret returns the secret kept in dir/name, generating it on first use.
func devSecret(dir, name string, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= MinSecretLen {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(buf)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s for the development secrets: %w", dir, err)
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keeping the development secret: %w", err)
	}
	log.Warn("secret not set: generated a development one (set it in production)", "setting", strings.ToUpper(name), "kept_in", path)
	return []byte(s), nil
}
