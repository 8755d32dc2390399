package handlers

import (
	"fmt"
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
	on    bool
	api   *ratelimit.Limiter // per domain (tokens, verifications) and per IP (bad secrets)
	login *ratelimit.Limiter // failed logins per account and per IP

	tokenFree, tokenPremium, verify, badSecret policy
	loginAccount, loginIP                      policy
}

// limitSettings are the quotas; now may be nil (tests pass a clock).
type limitSettings struct {
	on                                           bool
	maxKeys                                      int
	freeRPM, premiumRPM, verifyRPM, badSecretRPM int
	loginAccount, loginIP                        int
	loginWindow                                  time.Duration
	now                                          func() time.Time
}

func newLimiters(s limitSettings) *limiters {
	return &limiters{
		on:           s.on,
		api:          ratelimit.New(s.maxKeys, s.now),
		login:        ratelimit.New(s.maxKeys, s.now),
		tokenFree:    policy{"token-free", s.freeRPM, time.Minute},
		tokenPremium: policy{"token-premium", s.premiumRPM, time.Minute},
		verify:       policy{"verify", s.verifyRPM, time.Minute},
		badSecret:    policy{"bad-secret", s.badSecretRPM, time.Minute},
		loginAccount: policy{"login-account", s.loginAccount, s.loginWindow},
		loginIP:      policy{"login-ip", s.loginIP, s.loginWindow},
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
		h.Set("Retry-After", strconv.Itoa(r.ResetSeconds()))
	}
}

// allow counts one request against p for key; false means refused (the
// headers say so and for how long).
func (a *App) allow(c echo.Context, p policy, key string) bool {
	if !a.limits.on {
		return true
	}
	r := a.limits.api.Allow(key, p.quota, p.window)
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
	r := a.limits.api.Peek("bad:"+c.RealIP(), p.quota, p.window)
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
	setRateHeaders(c, p, a.limits.api.Allow("bad:"+c.RealIP(), p.quota, p.window))
}

// loginBlocked reports how long a login for email from this IP must wait
// (0: go ahead). It is checked before the password hash is computed.
func (a *App) loginBlocked(c echo.Context, email string) time.Duration {
	if !a.limits.on {
		return 0
	}
	var wait time.Duration
	for _, k := range []struct {
		p   policy
		key string
	}{{a.limits.loginAccount, "acct:" + email}, {a.limits.loginIP, "ip:" + c.RealIP()}} {
		if r := a.limits.login.Peek(k.key, k.p.quota, k.p.window); !r.Allowed {
			wait = max(wait, r.Reset)
		}
	}
	if wait > 0 {
		a.metricRateLimited("login")
	}
	return wait
}

// loginFailed counts a wrong password against the account and the IP.
func (a *App) loginFailed(c echo.Context, email string) {
	if !a.limits.on {
		return
	}
	a.limits.login.Allow("acct:"+email, a.limits.loginAccount.quota, a.limits.loginAccount.window)
	a.limits.login.Allow("ip:"+c.RealIP(), a.limits.loginIP.quota, a.limits.loginIP.window)
}

// loginSucceeded clears the account's failures (the IP's stay).
func (a *App) loginSucceeded(email string) {
	if a.limits.on {
		a.limits.login.Reset("acct:" + email)
	}
}

// metricRateLimited counts a refusal by policy name for /metrics.
func (a *App) metricRateLimited(name string) { a.metrics.rateLimited(name) }

func limitSettingsOf(cfg *config.Config) limitSettings {
	return limitSettings{
		on: cfg.RateLimits, maxKeys: cfg.RateLimitKeys,
		freeRPM: cfg.FreeTokenRPM, premiumRPM: cfg.PremiumTokenRPM, verifyRPM: cfg.VerifyRPM,
		badSecretRPM: cfg.BadSecretRPM,
		loginAccount: cfg.LoginFailsAccount, loginIP: cfg.LoginFailsIP, loginWindow: cfg.LoginWindow,
	}
}
