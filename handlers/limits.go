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
// A login attempt counts, once its account is looked up and before the
// password hash is computed, against (loginAttempt, in this order):
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

// loginCount is what one login attempt counted (limiter keys), to be
// given back when it turns out not to be a failure.
type loginCount struct {
	// ip in ips, pair in pairs, account in accounts: the account-wide
	// count, or its slow lane.
	ip, pair, account string
}

// loginRefusal says why loginAttempt refused an attempt.
type loginRefusal int

const (
	loginAllowed loginRefusal = iota
	// loginThrottled: this network's failures, for the account or for all.
	loginThrottled
	// loginSlowed: the account's ceiling, from all networks.
	loginSlowed
)

// loginAttempt counts a login attempt BEFORE the password hash is computed
// (so that concurrent guesses cannot slip past the count), against its
// client network, the account from that network, and the account from
// all (or its slow lane), in that order and at once: one round trip to
// Redis. When one refuses, nothing is counted and Retry-After is set.
// account is the account's limiter key (accountKey), never the address as
// typed, so the account is looked up first.
func (a *App) loginAttempt(c echo.Context, account string) (*loginCount, loginRefusal) {
	l := a.limits
	if !l.on {
		return &loginCount{}, loginAllowed
	}
	network := clientKey(c)
	n := &loginCount{ip: "login:" + network, pair: "acct:" + account + "|" + network}
	all, slow := "acct:"+account, "slow:"+account
	rs, refused := ratelimit.AllowSteps(
		ratelimit.Step[string]{L: l.ips, Key: n.ip, Limit: l.loginIP.Quota, Per: l.loginIP.Window},
		ratelimit.Step[string]{L: l.pairs, Key: n.pair, Limit: l.loginAccount.Quota, Per: l.loginAccount.Window},
		ratelimit.Step[string]{L: l.accounts, Key: all, Limit: l.loginCeiling.Quota, Per: l.loginCeiling.Window, Spill: true},
		ratelimit.Step[string]{L: l.accounts, Key: slow, Limit: l.loginSlow.Quota, Per: l.loginSlow.Window},
	)
	switch refused {
	case -1:
		n.account = all
		if !rs[2].Allowed {
			n.account = slow
		}
		return n, loginAllowed
	case 3: // the slow lane
		a.metrics.rateLimited("login_slow")
		retryAfter(c, rs[refused])
		return nil, loginSlowed
	default:
		a.metrics.rateLimited("login")
		retryAfter(c, rs[refused])
		return nil, loginThrottled
	}
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

// loginSucceeded gives back the attempt's counts, and clears the
// account's failures from its network, at once (one round trip to Redis).
// The account-wide count keeps its failures, so that the owner's login
// does not refill an attacker's.
func (a *App) loginSucceeded(n *loginCount) {
	if n.ip == "" { // limits off
		return
	}
	l := a.limits
	ratelimit.GiveBack(
		ratelimit.Undo[string]{L: l.ips, Key: n.ip},
		ratelimit.Undo[string]{L: l.pairs, Key: n.pair, Forget: true},
		ratelimit.Undo[string]{L: l.accounts, Key: n.account},
	)
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
