package handlers

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
)

// portalLimits are the portal's limits: logins and sign-ups. The API's
// quotas are the access service's (internal/access).
type portalLimits struct {
	on bool
	// Separate tables, so that flooding one kind of key (many IPs) cannot
	// evict another (a locked account).
	ips      *ratelimit.Limiter[string] // logins and sign-ups per client network
	accounts *ratelimit.Limiter[string] // logins per account

	loginAccount, loginIP, joinIP ratelimit.Policy
}

func newPortalLimits(cfg *config.Config, now func() time.Time) *portalLimits {
	return &portalLimits{
		on:           cfg.RateLimits,
		ips:          ratelimit.New[string](cfg.RateLimitKeys, now),
		accounts:     ratelimit.New[string](cfg.RateLimitKeys, now),
		loginAccount: ratelimit.Policy{Name: "login-account", Quota: cfg.LoginFailsAccount, Window: cfg.LoginWindow},
		loginIP:      ratelimit.Policy{Name: "login-ip", Quota: cfg.LoginFailsIP, Window: cfg.LoginWindow},
		joinIP:       ratelimit.Policy{Name: "join-ip", Quota: cfg.JoinPerHourIP, Window: time.Hour},
	}
}

// apiLimits are the API's quotas, from the settings.
func apiLimits(cfg *config.Config, now func() time.Time) access.Limits {
	return access.Limits{
		On:           cfg.RateLimits,
		TokenFree:    ratelimit.Policy{Name: "token-free", Quota: cfg.FreeTokenRPM, Window: time.Minute},
		TokenPremium: ratelimit.Policy{Name: "token-premium", Quota: cfg.PremiumTokenRPM, Window: time.Minute},
		Verify:       ratelimit.Policy{Name: "verify", Quota: cfg.VerifyRPM, Window: time.Minute},
		Shares:       cfg.ClientShares,
		BadSecret:    ratelimit.Policy{Name: "bad-secret", Quota: cfg.BadSecretRPM, Window: time.Minute},
		MaxKeys:      cfg.RateLimitKeys,
		Now:          now,
	}
}

// setRateHeaders writes the IETF httpapi RateLimit-Policy and RateLimit
// fields (draft-ietf-httpapi-ratelimit-headers) of the limits ls a request
// was counted against and, when one refused, Retry-After. Nothing when ls
// is empty (limits off).
//
// RateLimit-Policy lists every policy (a domain's quota, then the client's
// share of it); RateLimit reports the one that binds (shownLimit), so
// that its r is what the client may really still send; Retry-After is the
// longest wait among the refusing ones, and RateLimit's t then names the
// same moment.
func setRateHeaders(c echo.Context, ls []access.Limit) {
	if len(ls) == 0 {
		return
	}
	h := c.Response().Header()
	h.Set("RateLimit-Policy", policyList(ls))
	h.Set("RateLimit", rateField(shownLimit(ls)))
	if r := access.Refusing(ls); r != nil {
		retryAfter(c, r.Result)
	}
}

// shownLimit is the limit the RateLimit field reports: the refusing one
// (the longest wait) when the request was refused, else the one with the
// fewest requests left (the later reset on a tie).
func shownLimit(ls []access.Limit) *access.Limit {
	if r := access.Refusing(ls); r != nil {
		return r
	}
	l := &ls[0]
	for i := 1; i < len(ls); i++ {
		if o := &ls[i]; o.Remaining < l.Remaining || (o.Remaining == l.Remaining && o.Reset > l.Reset) {
			l = o
		}
	}
	return l
}

// policyList is the RateLimit-Policy field value of ls:
// "token-free";q=10;w=60, "token-free-client";q=2;w=60.
func policyList(ls []access.Limit) string {
	if len(ls) == 1 {
		return policyField(ls[0].Policy)
	}
	b := make([]byte, 0, 48*len(ls))
	for i := range ls {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendPolicy(b, ls[i].Policy)
	}
	return string(b)
}

// policyField is p as a RateLimit-Policy field item: "name";q=10;w=60.
func policyField(p ratelimit.Policy) string {
	return string(appendPolicy(make([]byte, 0, 48), p))
}

func appendPolicy(b []byte, p ratelimit.Policy) []byte {
	b = strconv.AppendQuote(b, p.Name)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, int64(p.Quota), 10)
	b = append(b, ";w="...)
	return strconv.AppendInt(b, int64(p.Window.Seconds()), 10)
}

// rateField is l as a RateLimit field value: "name";r=7;t=42.
func rateField(l *access.Limit) string {
	b := make([]byte, 0, 48)
	b = strconv.AppendQuote(b, l.Policy.Name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(l.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(l.ResetSeconds()), 10)
	return string(b)
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

// rateLimited is the 429 every limit answers with.
func rateLimited() error {
	return echo.NewHTTPError(http.StatusTooManyRequests, "api.ratelimit")
}

// loginAttempt counts a login attempt for email from this IP against
// both limits BEFORE the password hash is computed (so that concurrent
// guesses cannot slip past the count); false (with Retry-After set) when
// either is exhausted. The caller then gives the attempt back with
// loginSucceeded or loginNotCounted, or keeps it as a failure.
func (a *App) loginAttempt(c echo.Context, email string) bool {
	l := a.limits
	if !l.on {
		return true
	}
	acctKey, ipKey := "acct:"+email, "login:"+clientKey(c)
	acct := l.accounts.Allow(acctKey, l.loginAccount.Quota, l.loginAccount.Window)
	ip := l.ips.Allow(ipKey, l.loginIP.Quota, l.loginIP.Window)
	if acct.Allowed && ip.Allowed {
		return true
	}
	// Refused: what was counted is given back, so waiting clears it.
	if acct.Allowed {
		l.accounts.Release(acctKey)
	}
	if ip.Allowed {
		l.ips.Release(ipKey)
	}
	a.metrics.rateLimited("login")
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
	l := a.limits
	if !l.on {
		return true
	}
	r := l.ips.Allow("join:"+clientKey(c), l.joinIP.Quota, l.joinIP.Window)
	if !r.Allowed {
		a.metrics.rateLimited("join")
		retryAfter(c, r)
	}
	return r.Allowed
}

// clientNetwork is the client's network as the API's limit key, the same
// networks as clientKey's without building a string: an IPv4 address
// (/32), or an IPv6 /64; the zero Prefix when the address is not an IP.
func clientNetwork(c echo.Context) netip.Prefix {
	ip, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
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
