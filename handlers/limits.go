package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
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
//
// A login attempt counts, before the password hash is computed, against:
//   - its client network (clientKey), whatever the account: LoginFailsIP
//     per LoginWindow;
//   - the account from that network: LoginFailsAccount per LoginWindow,
//     so that failures on one network never refuse the owner on another;
//   - the account from every network: LoginAccountCeiling per LoginWindow;
//     past it the account is slowed, not blocked: one attempt per
//     LoginSlowInterval from any network, the others answered 429 with
//     Retry-After (at most LoginSlowInterval) until the window ends.
//
// A success gives back its counts and clears the account's failures from
// its network; it does not clear the account-wide count (an attack in
// progress stays slowed).
type portalLimits struct {
	on bool
	// Separate tables, so that flooding one kind of key (many IPs) cannot
	// evict another (an account's count).
	ips      ratelimit.Limiter[string] // logins and sign-ups per client network
	pairs    ratelimit.Limiter[string] // logins per account and client network
	accounts ratelimit.Limiter[string] // logins per account, and its slow lane

	loginAccount, loginIP, loginCeiling, loginSlow, joinIP ratelimit.Policy
}

// newPortalLimits counts in store (nil: in memory).
func newPortalLimits(cfg *config.Config, store *ratelimit.Store, now func() time.Time) *portalLimits {
	table := func(name string) ratelimit.Limiter[string] {
		return ratelimit.Table(store, name, func(k string) string { return k }, cfg.RateLimitKeys, now)
	}
	return &portalLimits{
		on:           cfg.RateLimits,
		ips:          table("ip"),
		pairs:        table("login-pair"),
		accounts:     table("login-account"),
		loginAccount: ratelimit.Policy{Name: "login-account", Quota: cfg.LoginFailsAccount, Window: cfg.LoginWindow},
		loginIP:      ratelimit.Policy{Name: "login-ip", Quota: cfg.LoginFailsIP, Window: cfg.LoginWindow},
		loginCeiling: ratelimit.Policy{Name: "login-ceiling", Quota: cfg.LoginAccountCeiling, Window: cfg.LoginWindow},
		loginSlow:    ratelimit.Policy{Name: "login-slow", Quota: 1, Window: cfg.LoginSlowInterval},
		joinIP:       ratelimit.Policy{Name: "join-ip", Quota: cfg.JoinPerHourIP, Window: time.Hour},
	}
}

// apiLimits are the API's quotas, from the settings, counted in store
// (nil: in memory).
func apiLimits(cfg *config.Config, store *ratelimit.Store, now func() time.Time) access.Limits {
	return access.Limits{
		On:           cfg.RateLimits,
		TokenFree:    ratelimit.Policy{Name: "token-free", Quota: cfg.FreeTokenRPM, Window: time.Minute},
		TokenPremium: ratelimit.Policy{Name: "token-premium", Quota: cfg.PremiumTokenRPM, Window: time.Minute},
		Verify:       ratelimit.Policy{Name: "verify", Quota: cfg.VerifyRPM, Window: time.Minute},
		Shares:       cfg.ClientShares,
		BadSecret:    ratelimit.Policy{Name: "bad-secret", Quota: cfg.BadSecretRPM, Window: time.Minute},
		MaxKeys:      cfg.RateLimitKeys,
		Store:        store,
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

// loginCount is what one login attempt counted, to be given back when it
// turns out not to be a failure.
type loginCount struct {
	// Limiter keys counted, "" for none: in ips, pairs, and accounts
	// (the account-wide count, or its slow lane).
	ip, pair, account, slow string
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

// loginRefusal says why loginForAccount refused an attempt.
type loginRefusal int

const (
	loginAllowed loginRefusal = iota
	// loginThrottled: this network's failures for the account.
	loginThrottled
	// loginSlowed: the account's ceiling, from all networks.
	loginSlowed
)

// loginForAccount counts the attempt against the account, from this
// network and from all, BEFORE the password hash is computed (so that
// concurrent guesses cannot slip past the count). When it refuses, it sets
// Retry-After and gives back what the attempt counted. account is the
// account's limiter key (accountKey), never the address as typed.
func (a *App) loginForAccount(c echo.Context, n *loginCount, account string) loginRefusal {
	l := a.limits
	if !l.on {
		return loginAllowed
	}
	pair := "acct:" + account + "|" + clientKey(c)
	r := l.pairs.Allow(pair, l.loginAccount.Quota, l.loginAccount.Window)
	if !r.Allowed {
		a.loginNotCounted(n)
		a.metrics.rateLimited("login")
		retryAfter(c, r)
		return loginThrottled
	}
	n.pair = pair
	all := "acct:" + account
	if r := l.accounts.Allow(all, l.loginCeiling.Quota, l.loginCeiling.Window); r.Allowed {
		n.account = all
		return loginAllowed
	}
	slow := "slow:" + account
	r = l.accounts.Allow(slow, l.loginSlow.Quota, l.loginSlow.Window)
	if !r.Allowed {
		a.loginNotCounted(n)
		a.metrics.rateLimited("login_slow")
		retryAfter(c, r)
		return loginSlowed
	}
	n.slow = slow
	return loginAllowed
}

// accountKey is the limiter key of the account u, or of the address email
// when no account has it (so that an unknown address is limited like a
// known one, and the limits do not tell which addresses have accounts).
// An account's key names its password too (a digest of its hash), so a
// new password (a reset) starts its counts afresh: whoever can reset the
// password always gets in, however many failures others caused.
func accountKey(u *models.User, email string) string {
	if u != nil {
		h := sha256.Sum256(u.PasswordHash)
		return "id:" + strconv.FormatUint(u.ID, 10) + ":" + hex.EncodeToString(h[:6])
	}
	return "email:" + email
}

// loginSucceeded clears the account's failures from this network and
// gives back the attempt's other counts. The account-wide count keeps its
// failures, so that the owner's login does not refill an attacker's.
func (a *App) loginSucceeded(n *loginCount) {
	if n.pair != "" {
		a.limits.pairs.Reset(n.pair)
	}
	n.pair = ""
	a.loginNotCounted(n)
}

// loginNotCounted gives back what the attempt counted (it was refused, or
// the database could not answer).
func (a *App) loginNotCounted(n *loginCount) {
	l := a.limits
	for _, k := range []struct {
		key string
		in  ratelimit.Limiter[string]
	}{{n.ip, l.ips}, {n.pair, l.pairs}, {n.account, l.accounts}, {n.slow, l.accounts}} {
		if k.key != "" {
			k.in.Release(k.key)
		}
	}
	*n = loginCount{}
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
