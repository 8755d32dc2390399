package handlers

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
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
		BadSecret:    ratelimit.Policy{Name: "bad-secret", Quota: cfg.BadSecretRPM, Window: time.Minute},
		MaxKeys:      cfg.RateLimitKeys,
		Now:          now,
	}
}

// setRateHeaders writes the IETF httpapi RateLimit-Policy and RateLimit
// fields (draft-ietf-httpapi-ratelimit-headers) of l and, when it refused,
// Retry-After. Nothing when l is nil (limits off).
func setRateHeaders(c echo.Context, l *access.Limit) {
	if l == nil {
		return
	}
	h := c.Response().Header()
	h.Set("RateLimit-Policy", policyField(l.Policy))
	b := make([]byte, 0, 48)
	b = strconv.AppendQuote(b, l.Policy.Name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(l.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(l.ResetSeconds()), 10)
	h.Set("RateLimit", string(b))
	if !l.Allowed {
		retryAfter(c, l.Result)
	}
}

// policyField is p as a RateLimit-Policy field value: "name";q=10;w=60.
func policyField(p ratelimit.Policy) string {
	return strconv.Quote(p.Name) + ";q=" + strconv.Itoa(p.Quota) + ";w=" + strconv.Itoa(int(p.Window.Seconds()))
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

// loginCount is what one login attempt counted, to be given back when it
// turns out not to be a failure.
type loginCount struct {
	ip, account string // limiter keys counted; "" for none
}

// loginFromNetwork counts a login attempt from this client network BEFORE
// the account is looked up; false (with Retry-After set) when the network
// has had its share.
func (a *App) loginFromNetwork(c echo.Context) (*loginCount, bool) {
	l := a.limits
	if !l.on {
		return &loginCount{}, true
	}
	key := "login:" + clientKey(c)
	r := l.ips.Allow(key, l.loginIP.Quota, l.loginIP.Window)
	if !r.Allowed {
		a.metrics.rateLimited("login")
		retryAfter(c, r)
		return nil, false
	}
	return &loginCount{ip: key}, true
}

// loginForAccount counts the attempt against the account BEFORE the
// password hash is computed (so that concurrent guesses cannot slip past
// the count); false (with Retry-After set, and the network's count given
// back) when the account refuses it. account is the account's limiter key
// (accountKey), never the address as typed.
func (a *App) loginForAccount(c echo.Context, n *loginCount, account string) bool {
	l := a.limits
	if !l.on {
		return true
	}
	key := "acct:" + account
	r := l.accounts.Allow(key, l.loginAccount.Quota, l.loginAccount.Window)
	if r.Allowed {
		n.account = key
		return true
	}
	// Refused: what was counted is given back, so waiting clears it.
	a.loginNotCounted(n)
	a.metrics.rateLimited("login")
	retryAfter(c, r)
	return false
}

// accountKey is the limiter key of the account u, or of the address email
// when no account has it (so that an unknown address is limited like a
// known one, and the limits do not tell which addresses have accounts).
func accountKey(u *models.User, email string) string {
	if u != nil {
		return "id:" + strconv.FormatUint(u.ID, 10)
	}
	return "email:" + email
}

// loginSucceeded clears the account's failures and gives back the network's count.
func (a *App) loginSucceeded(n *loginCount) {
	if n.account != "" {
		a.limits.accounts.Reset(n.account)
	}
	if n.ip != "" {
		a.limits.ips.Release(n.ip)
	}
}

// loginNotCounted gives back an attempt that was not a failure (the
// database could not answer).
func (a *App) loginNotCounted(n *loginCount) {
	if n.account != "" {
		a.limits.accounts.Release(n.account)
	}
	if n.ip != "" {
		a.limits.ips.Release(n.ip)
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
