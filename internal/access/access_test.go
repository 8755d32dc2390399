package access_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/internal/usage"
	"github.com/nodebird/nodebird-api/models"
)

var (
	ctx   = context.Background()
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	key   = []byte("access-test-key-0123456789abcdef0123456789")
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// limits are the production defaults: free 10, premium 1,000, verify
// 6,000 a minute, 30 bad secrets, shares of 1/5.
func limits(now func() time.Time) access.Limits {
	return access.Limits{
		On:           true,
		TokenFree:    ratelimit.Policy{Name: "token-free", Quota: 10, Window: time.Minute},
		TokenPremium: ratelimit.Policy{Name: "token-premium", Quota: 1000, Window: time.Minute},
		Verify:       ratelimit.Policy{Name: "verify", Quota: 6000, Window: time.Minute},
		Shares:       5,
		BadSecret:    ratelimit.Policy{Name: "bad-secret", Quota: 30, Window: time.Minute},
		MaxKeys:      10000,
		Now:          now,
	}
}

// world is a Service over a real domain cache on a fresh database, with
// settable clocks for tokens and limits.
type world struct {
	db       *gorm.DB
	users    *models.UserModel
	domains  *models.DomainModel
	usage    *models.UsageModel
	cache    *domaincache.Cache
	counter  *usage.Counter
	tokenClk *clock
	limitClk *clock
	svc      *access.Service
	owner    *models.User
}

func newWorld(t *testing.T, driver string, tweak ...func(*access.Limits)) *world {
	t.Helper()
	db := testdb.Fresh(t, driver)
	w := &world{
		db: db, users: models.NewUserModel(db, 2*time.Second, 4), domains: models.NewDomainModel(db, 2*time.Second),
		usage: models.NewUsageModel(db, 2*time.Second), tokenClk: &clock{time.Now()}, limitClk: &clock{time.Now()},
	}
	w.cache = domaincache.New(w.domains, 100, quiet)
	w.counter = usage.New(w.usage, quiet)
	l := limits(w.limitClk.now)
	for _, f := range tweak {
		f(&l)
	}
	w.svc = access.New(w.cache, token.New(key, "nodebird", time.Minute, w.tokenClk.now), w.counter, l)
	var err error
	if w.owner, err = w.users.Insert(ctx, "owner@example.com", "주인", "password123"); err != nil {
		t.Fatal(err)
	}
	return w
}

// domain registers host on plan and returns its id and secret.
func (w *world) domain(t *testing.T, host, plan string) (uint64, string) {
	t.Helper()
	d, s, err := w.domains.Insert(ctx, w.owner.ID, host, plan)
	if err != nil {
		t.Fatal(err)
	}
	w.refresh(t)
	return d.ID, s
}

// refresh is what the app does after a change: the cache learns it at once.
func (w *world) refresh(t *testing.T) {
	t.Helper()
	if err := w.cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// network is a client network as the HTTP layer makes it.
func network(ip string) netip.Prefix {
	a := netip.MustParseAddr(ip)
	bits := 32
	if a.Is6() {
		bits = 64
	}
	return netip.PrefixFrom(a, bits).Masked()
}

func server(ip string) access.Client { return access.Client{Network: network(ip)} }

func browser(origin, ip string) access.Client {
	return access.Client{Browser: true, OriginHost: origin, Network: network(ip)}
}

// wantReason fails unless err is an *access.Error of reason r.
func wantReason(t *testing.T, what string, err error, r access.Reason) *access.Error {
	t.Helper()
	var ae *access.Error
	if !errors.As(err, &ae) || ae.Reason != r || access.ReasonOf(err) != r {
		t.Fatalf("%s: %v, want %v", what, err, r)
	}
	return ae
}

// wantLimits checks the limits a request was counted against: name,
// quota, remaining, allowed, in order.
type lim struct {
	name      string
	quota     int
	remaining int
	allowed   bool
}

func wantLimits(t *testing.T, what string, got []access.Limit, want ...lim) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d limits %+v, want %d", what, len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Policy.Name != w.name || g.Policy.Quota != w.quota || g.Limit != w.quota || g.Remaining != w.remaining ||
			g.Allowed != w.allowed || g.Policy.Window != time.Minute || g.Reset <= 0 || g.Reset > time.Minute {
			t.Fatalf("%s: limit %d is %+v, want %+v", what, i, g, w)
		}
	}
}

func TestIssue(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			w := newWorld(t, driver)
			id, sec := w.domain(t, "issue.example.com", models.PlanFree)

			// A server (no Origin) and the domain's own origin are served.
			got, err := w.svc.Issue(ctx, sec, server("198.51.100.1"))
			if err != nil {
				t.Fatal(err)
			}
			c := got.Claims
			if got.Token == "" || got.Plan != models.PlanFree || c.UserID != w.owner.ID || c.Nick != "주인" ||
				c.DomainID != id || c.SecretVersion != 1 || access.Host(c) != "issue.example.com" {
				t.Fatalf("issued %+v, claims %+v", got, c)
			}
			wantLimits(t, "first token", got.Limits, lim{"token-free", 10, 9, true}, lim{"token-free-client", 2, 1, true})
			if _, err := w.svc.Check(ctx, got.Token, server("198.51.100.1")); err != nil {
				t.Fatalf("the issued token: %v", err)
			}
			if _, err := w.svc.Issue(ctx, sec, browser("issue.example.com", "198.51.100.2")); err != nil {
				t.Fatalf("from the domain's origin: %v", err)
			}

			// WrongOrigin: a browser on another origin, counted as a refusal.
			for _, origin := range []string{"evil.example", "issue.example.com:8080", ""} {
				err := wantReason(t, "origin "+origin, func() error {
					_, err := w.svc.Issue(ctx, sec, browser(origin, "198.51.100.3"))
					return err
				}(), access.WrongOrigin)
				if err.Limits != nil {
					t.Fatalf("a wrong origin was counted against a limit: %+v", err.Limits)
				}
			}

			// MalformedSecret (the first two), then UnknownSecret: well
			// formed but unknown, rotated away, of a deleted domain; and
			// DomainRevoked for a revoked domain's secret (its holder is
			// told); each counted against the client's bad-secret limit.
			rotatedID, rotatedAway := w.domain(t, "rotated.example.com", models.PlanPremium)
			revokedID, revoked := w.domain(t, "revoked.example.com", models.PlanPremium)
			deletedID, deleted := w.domain(t, "deleted.example.com", models.PlanPremium)
			w.retire(t, rotatedID, revokedID, deletedID)
			for i, bad := range []string{"nbk_short", sec + "x", secret.New(), rotatedAway, revoked, deleted} {
				_, err := w.svc.Issue(ctx, bad, server("203.0.113.9"))
				want := access.UnknownSecret
				switch {
				case i < 2:
					want = access.MalformedSecret
				case bad == revoked:
					want = access.DomainRevoked
				}
				ae := wantReason(t, "bad secret", err, want)
				wantLimits(t, "bad secret", ae.Limits, lim{"bad-secret", 30, 30 - (i + 1), true})
			}

			// RateLimited, at the client's share: 2 of the free plan's 10.
			_, err = w.svc.Issue(ctx, sec, server("198.51.100.1"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.Issue(ctx, sec, server("198.51.100.1"))
			ae := wantReason(t, "over the share", err, access.RateLimited)
			wantLimits(t, "over the share", ae.Limits, lim{"token-free", 10, 7, true}, lim{"token-free-client", 2, 0, false})
			if r := access.Refusing(ae.Limits); r == nil || r.Policy.Name != "token-free-client" {
				t.Fatalf("Refusing = %+v", r)
			}

			// RateLimited, at the domain's quota: 3 used, 7 more clients
			// take the rest, then any client is refused.
			for i := range 7 {
				if _, err := w.svc.Issue(ctx, sec, server("192.0.2."+strconv.Itoa(i+1))); err != nil {
					t.Fatalf("client %d: %v", i, err)
				}
			}
			_, err = w.svc.Issue(ctx, sec, server("192.0.2.100"))
			ae = wantReason(t, "over the domain's quota", err, access.RateLimited)
			wantLimits(t, "over the domain's quota", ae.Limits, lim{"token-free", 10, 0, false}, lim{"token-free-client", 2, 2, true})
			if r := access.Refusing(ae.Limits); r == nil || r.Policy.Name != "token-free" {
				t.Fatalf("Refusing = %+v", r)
			}

			// The domain's usage: 10 issued; refused: 3 wrong origins, 2 over
			// a limit, and the revoked domain's one.
			if err := w.counter.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			u, err := w.usage.Recent(ctx, []uint64{id, revokedID}, time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if u[id].Issued != 10 || u[id].Refused != 5 || u[revokedID].Refused != 1 {
				t.Fatalf("usage: %+v", u)
			}

			// RateLimited, bad secrets: the 31st from one network is refused
			// before any lookup, the good secret too, until the window ends.
			for range 24 {
				w.svc.Issue(ctx, "nbk_guess", server("203.0.113.9"))
			}
			for _, s := range []string{"nbk_guess", sec} {
				_, err := w.svc.Issue(ctx, s, server("203.0.113.9"))
				ae := wantReason(t, "guessing", err, access.RateLimited)
				wantLimits(t, "guessing", ae.Limits, lim{"bad-secret", 30, 0, false})
			}
			w.limitClk.advance(time.Minute)
			if _, err := w.svc.Issue(ctx, sec, server("203.0.113.9")); err != nil {
				t.Fatalf("after the window: %v", err)
			}

			// Unavailable: the database cannot answer for a secret not in
			// memory (never a misleading UnknownSecret).
			if s, err := w.db.DB(); err == nil {
				s.Close()
			}
			_, err = w.svc.Issue(ctx, secret.New(), server("198.51.100.1"))
			if ae := wantReason(t, "database closed", err, access.Unavailable); ae.Err == nil || errors.Unwrap(err) == nil {
				t.Fatalf("Unavailable without its cause: %v", err)
			}
		})
	}
}

// retire rotates, revokes (as the admin console does, minus the audit
// entry) and deletes three domains, and lets the cache learn it.
func (w *world) retire(t *testing.T, rotate, revoke, del uint64) {
	t.Helper()
	if _, _, err := w.domains.Rotate(ctx, rotate, w.owner.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Model(&models.Domain{}).Where("id = ?", revoke).Update("status", models.StatusRevoked).Error; err != nil {
		t.Fatal(err)
	}
	if err := w.domains.Delete(ctx, del, w.owner.ID); err != nil {
		t.Fatal(err)
	}
	w.refresh(t)
}

func TestCheck(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			w := newWorld(t, driver, func(l *access.Limits) { l.Verify.Quota = 10 })
			id, sec := w.domain(t, "check.example.com", models.PlanPremium)
			issue := func(s string) string {
				t.Helper()
				got, err := w.svc.Issue(ctx, s, server("192.0.2.1"))
				if err != nil {
					t.Fatal(err)
				}
				return got.Token
			}
			tok := issue(sec)

			got, err := w.svc.Check(ctx, tok, browser("check.example.com", "198.51.100.1"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Claims.DomainID != id || got.Claims.UserID != w.owner.ID {
				t.Fatalf("claims %+v", got.Claims)
			}
			wantLimits(t, "first check", got.Limits, lim{"verify", 10, 9, true}, lim{"verify-client", 2, 1, true})

			// MissingToken and InvalidToken, not counted.
			ae := wantReason(t, "no token", checkErr(w, "", server("198.51.100.9")), access.MissingToken)
			if ae.Limits != nil {
				t.Fatal("a missing token was counted")
			}
			forged, _, _ := token.New([]byte("another-key-0123456789abcdef0123456789ab"), "nodebird", time.Minute, nil).Issue(
				token.Subject{UserID: w.owner.ID, DomainID: id, SecretVersion: 1, Host: "check.example.com"})
			otherIssuer, _, _ := token.New(key, "someone-else", time.Minute, nil).Issue(
				token.Subject{UserID: w.owner.ID, DomainID: id, SecretVersion: 1, Host: "check.example.com"})
			for name, bad := range map[string]string{"garbage": "not.a.token", "forged": forged, "other issuer": otherIssuer,
				"tampered": tok[:len(tok)-2] + "AA"} {
				wantReason(t, name, checkErr(w, bad, server("198.51.100.9")), access.InvalidToken)
			}

			// WrongOrigin: the token's own host decides.
			wantReason(t, "another origin", checkErr(w, tok, browser("evil.example", "198.51.100.9")), access.WrongOrigin)

			// Expired: only when age is the token's only fault.
			w.tokenClk.advance(2 * time.Minute)
			wantReason(t, "expired", checkErr(w, tok, server("198.51.100.9")), access.Expired)
			wantReason(t, "expired, another origin", checkErr(w, tok, browser("evil.example", "198.51.100.9")), access.WrongOrigin)
			tok = issue(sec)

			// RateLimited, at the client's share (2 of 10), then at the
			// domain's quota.
			wantNoErr(t, checkErr(w, tok, server("198.51.100.1")))
			ae = wantReason(t, "over the share", checkErr(w, tok, server("198.51.100.1")), access.RateLimited)
			wantLimits(t, "over the share", ae.Limits, lim{"verify", 10, 8, true}, lim{"verify-client", 2, 0, false})
			for _, ip := range []string{"198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"} {
				wantNoErr(t, checkErr(w, tok, server(ip)))
				wantNoErr(t, checkErr(w, tok, server(ip)))
			}
			ae = wantReason(t, "over the domain's quota", checkErr(w, tok, server("198.51.100.6")), access.RateLimited)
			wantLimits(t, "over the domain's quota", ae.Limits, lim{"verify", 10, 0, false}, lim{"verify-client", 2, 2, true})
			w.limitClk.advance(time.Minute)
			wantNoErr(t, checkErr(w, tok, server("198.51.100.1")))

			// InvalidToken once the domain is rotated or deleted, expired or
			// not; DomainRevoked once it is revoked (a genuine token: its
			// holder is told why).
			rotatedID, rotated := w.domain(t, "rotated.example.com", models.PlanPremium)
			revokedID, revoked := w.domain(t, "revoked.example.com", models.PlanPremium)
			deletedID, deleted := w.domain(t, "deleted.example.com", models.PlanPremium)
			toks := map[string]string{"rotated": issue(rotated), "revoked": issue(revoked), "deleted": issue(deleted)}
			w.retire(t, rotatedID, revokedID, deletedID)
			reasonOf := func(name string) access.Reason {
				if name == "revoked" {
					return access.DomainRevoked
				}
				return access.InvalidToken
			}
			for name, tk := range toks {
				wantReason(t, name, checkErr(w, tk, server("198.51.100.9")), reasonOf(name))
			}
			w.tokenClk.advance(2 * time.Minute)
			for name, tk := range toks {
				wantReason(t, name+", expired", checkErr(w, tk, server("198.51.100.9")), reasonOf(name))
			}
			// A forged token naming the revoked domain learns nothing.
			tampered := toks["revoked"][:len(toks["revoked"])-4] + "AAAA"
			wantReason(t, "forged, of the revoked domain", checkErr(w, tampered, server("198.51.100.9")), access.InvalidToken)
		})
	}
}

func checkErr(w *world, tok string, cl access.Client) error {
	_, err := w.svc.Check(ctx, tok, cl)
	return err
}

func wantNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// IPv6 clients of one /64 are one client; the zero network (address
// unknown) is one client too.
func TestSharesByNetwork(t *testing.T) {
	w := newWorld(t, "sqlite")
	_, sec := w.domain(t, "six.example.com", models.PlanFree)
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:aaaa::7"} {
		if _, err := w.svc.Issue(ctx, sec, server(ip)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := w.svc.Issue(ctx, sec, server("2001:db8:1:2:ffff::1"))
	wantReason(t, "third address of the /64", err, access.RateLimited)
	if _, err := w.svc.Issue(ctx, sec, server("2001:db8:1:3::1")); err != nil {
		t.Fatalf("another /64: %v", err)
	}
	unknown := access.Client{}
	w.svc.Issue(ctx, sec, unknown)
	w.svc.Issue(ctx, sec, unknown)
	_, err = w.svc.Issue(ctx, sec, unknown)
	wantReason(t, "unknown addresses", err, access.RateLimited)
}

// The share rule: max(1, quota/Shares), none when it would be the whole
// quota or Shares is 1 or less.
func TestShare(t *testing.T) {
	for _, tc := range []struct {
		quota, shares, want int // want 0: no share
	}{
		{10, 5, 2}, {1000, 5, 200}, {6000, 5, 1200}, {11, 5, 2}, {3, 5, 1}, {10, 10, 1}, {10, 100, 1},
		{10, 2, 5}, {2, 2, 1}, {1, 5, 0}, {10, 1, 0}, {10, 0, 0}, {10, -3, 0},
	} {
		svc := access.New(nil, nil, nil, access.Limits{Shares: tc.shares})
		p, ok := svc.Share(ratelimit.Policy{Name: "verify", Quota: tc.quota, Window: time.Minute})
		switch {
		case tc.want == 0 && ok:
			t.Errorf("quota %d, shares %d: share %+v, want none", tc.quota, tc.shares, p)
		case tc.want != 0 && (!ok || p.Quota != tc.want || p.Name != "verify-client" || p.Window != time.Minute):
			t.Errorf("quota %d, shares %d: share %+v %v, want %d", tc.quota, tc.shares, p, ok, tc.want)
		}
	}

	// No share: one client may take the whole quota, counted once.
	w := newWorld(t, "sqlite", func(l *access.Limits) { l.Shares = 1 })
	_, sec := w.domain(t, "whole.example.com", models.PlanFree)
	for i := range 10 {
		got, err := w.svc.Issue(ctx, sec, server("198.51.100.1"))
		if err != nil {
			t.Fatalf("token %d: %v", i+1, err)
		}
		wantLimits(t, "no share", got.Limits, lim{"token-free", 10, 9 - i, true})
	}
	_, err := w.svc.Issue(ctx, sec, server("198.51.100.1"))
	wantReason(t, "11th", err, access.RateLimited)
}

// With limits off nothing is counted or refused.
func TestLimitsOff(t *testing.T) {
	w := newWorld(t, "sqlite", func(l *access.Limits) { l.On = false })
	_, sec := w.domain(t, "off.example.com", models.PlanFree)
	for range 40 {
		got, err := w.svc.Issue(ctx, sec, access.Client{})
		if err != nil || got.Limits != nil {
			t.Fatalf("limits off: %+v %v", got, err)
		}
		c, err := w.svc.Check(ctx, got.Token, access.Client{})
		if err != nil || c.Limits != nil {
			t.Fatalf("limits off: %+v %v", c, err)
		}
		_, err = w.svc.Issue(ctx, "nbk_guess", access.Client{})
		if ae := wantReason(t, "bad secret, limits off", err, access.MalformedSecret); ae.Limits != nil {
			t.Fatal("a bad secret was counted with limits off")
		}
	}
}

func TestReasons(t *testing.T) {
	for r, want := range map[access.Reason]string{
		access.UnknownSecret: "unknown secret", access.WrongOrigin: "wrong origin", access.RateLimited: "rate limited",
		access.MissingToken: "missing token", access.InvalidToken: "invalid token", access.Expired: "token expired",
		access.MalformedSecret: "malformed secret", access.Unavailable: "unavailable", 0: "Reason(0)", 99: "Reason(99)",
	} {
		if r.String() != want {
			t.Errorf("%d: %q, want %q", int(r), r.String(), want)
		}
	}
	cause := errors.New("connection refused")
	err := error(&access.Error{Reason: access.Unavailable, Err: cause})
	if err.Error() != "access: unavailable: connection refused" || !errors.Is(err, cause) || access.ReasonOf(err) != access.Unavailable {
		t.Fatalf("%v", err)
	}
	if (&access.Error{Reason: access.Expired}).Error() != "access: token expired" || access.ReasonOf(cause) != 0 {
		t.Fatal("Error or ReasonOf")
	}
}

func TestRefusing(t *testing.T) {
	l := func(name string, allowed bool, reset time.Duration) access.Limit {
		return access.Limit{Policy: ratelimit.Policy{Name: name}, Result: ratelimit.Result{Allowed: allowed, Reset: reset}}
	}
	for _, tc := range []struct {
		ls   []access.Limit
		want string
	}{
		{nil, ""},
		{[]access.Limit{l("d", true, 10), l("c", true, 50)}, ""},
		{[]access.Limit{l("d", false, 10), l("c", true, 50)}, "d"},
		{[]access.Limit{l("d", true, 10), l("c", false, 50)}, "c"},
		{[]access.Limit{l("d", false, 10), l("c", false, 50)}, "c"}, // the longer wait
		{[]access.Limit{l("d", false, 50), l("c", false, 10)}, "d"},
		{[]access.Limit{l("d", false, 30), l("c", false, 30)}, "d"}, // a tie: the domain's
	} {
		got := ""
		if r := access.Refusing(tc.ls); r != nil {
			got = r.Policy.Name
		}
		if got != tc.want {
			t.Errorf("Refusing(%+v) = %q, want %q", tc.ls, got, tc.want)
		}
	}
}
