package handlers

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
)

// policy is one rate limit: quota requests per window, named in the
// RateLimit-Policy header.
type policy struct {
	name   string
	quota  int
	window time.Duration
}

// limiters hold the counts of every rate limit of the app.
type limiters struct {
	on bool
	// Separate tables, so that flooding one kind of key (many IPs) cannot
	// evict another (a locked account, a busy domain).
	domains  *ratelimit.Limiter // tokens and verifications per domain
	ips      *ratelimit.Limiter // bad secrets, logins and sign-ups per client IP (IPv6 per /64)
	accounts *ratelimit.Limiter // logins per account

	tokenFree, tokenPremium, verify, badSecret policy
	loginAccount, loginIP, joinIP              policy
}

// limitSettings are the quotas; now may be nil (tests pass a clock).
type limitSettings struct {
	on                                           bool
	maxKeys                                      int
	freeRPM, premiumRPM, verifyRPM, badSecretRPM int
	loginAccount, loginIP, joinIP                int
	loginWindow                                  time.Duration
	now                                          func() time.Time
}

func newLimiters(s limitSettings) *limiters {
	return &limiters{
		on:           s.on,
		domains:      ratelimit.New(s.maxKeys, s.now),
		ips:          ratelimit.New(s.maxKeys, s.now),
		accounts:     ratelimit.New(s.maxKeys, s.now),
		tokenFree:    policy{"token-free", s.freeRPM, time.Minute},
		tokenPremium: policy{"token-premium", s.premiumRPM, time.Minute},
		verify:       policy{"verify", s.verifyRPM, time.Minute},
		badSecret:    policy{"bad-secret", s.badSecretRPM, time.Minute},
		loginAccount: policy{"login-account", s.loginAccount, s.loginWindow},
		loginIP:      policy{"login-ip", s.loginIP, s.loginWindow},
		joinIP:       policy{"join-ip", s.joinIP, time.Hour},
	}
}

func (l *limiters) tokenPolicy(plan string) policy {
	if plan == models.PlanPremium {
		return l.tokenPremium
	}
	return l.tokenFree
}

// errRateLimited is the 429 every limit answers with.
var errRateLimited = echo.NewHTTPError(http.StatusTooManyRequests, "api.ratelimit")

// setRateHeaders writes the IETF httpapi RateLimit-Policy and RateLimit
// fields (draft-ietf-httpapi-ratelimit-headers) and, when refused, Retry-After.
func setRateHeaders(c echo.Context, p policy, r ratelimit.Result) {
	h := c.Response().Header()
	h.Set("RateLimit-Policy", fmt.Sprintf(`"%s";q=%d;w=%d`, p.name, p.quota, int(p.window.Seconds())))
	h.Set("RateLimit", fmt.Sprintf(`"%s";r=%d;t=%d`, p.name, r.Remaining, r.ResetSeconds()))
	if !r.Allowed {
		retryAfter(c, r)
	}
}

// retryAfter tells a refused client how long to wait: the longest of the
// refusals among rs.
func retryAfter(c echo.Context, rs ...ratelimit.Result) {
	secs := 0
	for _, r := range rs {
		if !r.Allowed {
			secs = max(secs, r.ResetSeconds())
		}
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
}

// allow counts one request against p for key; false means refused (the
// headers say so and for how long).
func (a *App) allow(c echo.Context, p policy, key string) bool {
	if !a.limits.on {
		return true
	}
	r := a.limits.domains.Allow(key, p.quota, p.window)
	setRateHeaders(c, p, r)
	if !r.Allowed {
		a.metricRateLimited(p.name)
	}
	return r.Allowed
}

// guessing reports whether this client IP has sent too many unknown or
// malformed secrets; it is checked before any lookup so guessing stays slow.
func (a *App) guessing(c echo.Context) bool {
	if !a.limits.on {
		return false
	}
	p := a.limits.badSecret
	r := a.limits.ips.Peek("bad:"+clientKey(c), p.quota, p.window)
	if !r.Allowed {
		setRateHeaders(c, p, r)
		a.metricRateLimited(p.name)
	}
	return !r.Allowed
}

// badSecret counts an unknown or malformed secret against the client IP.
func (a *App) badSecret(c echo.Context) {
	if !a.limits.on {
		return
	}
	p := a.limits.badSecret
	setRateHeaders(c, p, a.limits.ips.Allow("bad:"+clientKey(c), p.quota, p.window))
}

// loginAttempt counts a login attempt for email from this IP against
// both limits BEFORE the password hash is computed (so that concurrent
// guesses cannot slip past the count); false (with Retry-After set) when
// either is exhausted. The caller then gives the attempt back with
// loginSucceeded or loginNotCounted, or keeps it as a failure.
func (a *App) loginAttempt(c echo.Context, email string) bool {
	if !a.limits.on {
		return true
	}
	l := a.limits
	acct := l.accounts.Allow("acct:"+email, l.loginAccount.quota, l.loginAccount.window)
	ip := l.ips.Allow("login:"+clientKey(c), l.loginIP.quota, l.loginIP.window)
	if acct.Allowed && ip.Allowed {
		return true
	}
	// Refused: what was counted is given back, so waiting clears it.
	if acct.Allowed {
		l.accounts.Release("acct:" + email)
	}
	if ip.Allowed {
		l.ips.Release("login:" + clientKey(c))
	}
	a.metricRateLimited("login")
	retryAfter(c, acct, ip)
	return false
}

// loginSucceeded clears the account's failures and gives back the IP's count.
func (a *App) loginSucceeded(c echo.Context, email string) {
	if a.limits.on {
		a.limits.accounts.Reset("acct:" + email)
		a.limits.ips.Release("login:" + clientKey(c))
	}
}

// loginNotCounted gives back an attempt that was not a failure (the
// database could not answer).
func (a *App) loginNotCounted(c echo.Context, email string) {
	if a.limits.on {
		a.limits.accounts.Release("acct:" + email)
		a.limits.ips.Release("login:" + clientKey(c))
	}
}

// joinAllowed counts a sign-up from this IP (each costs a password hash);
// false (with Retry-After set) when the IP has had its share.
func (a *App) joinAllowed(c echo.Context) bool {
	if !a.limits.on {
		return true
	}
	r := a.limits.ips.Allow("join:"+clientKey(c), a.limits.joinIP.quota, a.limits.joinIP.window)
	if !r.Allowed {
		a.metricRateLimited("join")
		retryAfter(c, r)
	}
	return r.Allowed
}

// clientKey is the client IP as a limit key: IPv4 as is, IPv6 by its /64
// (one subscriber's whole allocation), so rotating addresses gains nothing.
func clientKey(c echo.Context) string {
	ip := net.ParseIP(c.RealIP())
	if ip == nil {
		return c.RealIP()
	}
	if ip.To4() != nil {
		return ip.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// metricRateLimited counts a refusal by policy name for /metrics.
func (a *App) metricRateLimited(name string) { a.metrics.rateLimited(name) }

func limitSettingsOf(cfg *config.Config) limitSettings {
	return limitSettings{
		on: cfg.RateLimits, maxKeys: cfg.RateLimitKeys,
		freeRPM: cfg.FreeTokenRPM, premiumRPM: cfg.PremiumTokenRPM, verifyRPM: cfg.VerifyRPM,
		badSecretRPM: cfg.BadSecretRPM,
		loginAccount: cfg.LoginFailsAccount, loginIP: cfg.LoginFailsIP, loginWindow: cfg.LoginWindow,
		joinIP: cfg.JoinPerHourIP,
	}
}
