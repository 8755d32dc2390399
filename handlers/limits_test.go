package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
)

// fakeClock is a settable time source for the limiters.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time          { return f.t }
func (f *fakeClock) advance(d time.Duration) { f.t = f.t.Add(d) }

// limited turns the rate limits on (testConfig leaves them off so that
// other tests can call the API freely).
func limited(c *config.Config) { c.RateLimits = true }

// withClock replaces the server's limiters by ones reading clk.
func withClock(s *testServer, clk *fakeClock) {
	set := limitSettingsOf(s.app.Config)
	set.now = clk.now
	s.app.limits = newLimiters(set)
}

func TestLoginThrottlingPerAccount(t *testing.T) {
	s := newTestServer(t, "sqlite", limited)
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	s.user(t, "victim@example.com")
	s.user(t, "bystander@example.com")

	attacker := s.client(t)
	for i := 0; i < 5; i++ {
		if r := attacker.login("victim@example.com", "wrong password"); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("failure %d: %d", i+1, r.Status)
		}
	}
	// The sixth try is refused before the password is even checked: the
	// right password does not get in either, from any client.
	for _, c := range []*client{attacker, s.client(t)} {
		r := c.login("victim@example.com", "correct horse battery")
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("after 5 failures: %d", r.Status)
		}
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 15*60 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		mustContain(t, "throttled login", r.Body, "Too many failed attempts")
	}
	// Another account is unaffected.
	if r := s.client(t).login("bystander@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("another account: %d", r.Status)
	}
	// After the window the account can log in again.
	clk.advance(15*time.Minute + time.Second)
	if r := s.client(t).login("victim@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("after the window: %d", r.Status)
	}
}

func TestLoginSuccessResetsAccountCount(t *testing.T) {
	s := newTestServer(t, "sqlite", limited)
	s.user(t, "forgetful@example.com")
	c := s.client(t)
	for round := 0; round < 3; round++ {
		for i := 0; i < 4; i++ {
			c.login("forgetful@example.com", "not it")
		}
		if r := c.login("forgetful@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("round %d: login after 4 failures: %d", round, r.Status)
		}
		c.post("/auth/logout", nil)
	}
}

func TestLoginThrottlingPerIP(t *testing.T) {
	s := newTestServer(t, "sqlite", limited)
	s.user(t, "real@example.com")
	c := s.client(t)
	// 20 failures spread over many accounts (none reaches the per-account limit).
	for i := 0; i < 20; i++ {
		r := c.do("POST", "/auth/login", strings.NewReader("email=user"+strconv.Itoa(i)+"%40example.com&password=guess1234&_csrf="+c.csrf()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100." + strconv.Itoa(i)})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("failure %d: %d", i+1, r.Status)
		}
	}
	// The IP is now slowed down, whatever X-Forwarded-For claims.
	r := c.do("POST", "/auth/login", strings.NewReader("email=real%40example.com&password=correct+horse+battery&_csrf="+c.csrf()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "203.0.113.9"})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("21st attempt from the same IP: %d", r.Status)
	}
}

func TestLoginLimitFollowsTrustedProxy(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	s.user(t, "proxied@example.com")
	c := s.client(t)
	login := func(xff, password string) int {
		return c.do("POST", "/auth/login", strings.NewReader("email=someone%40example.com&password="+password+"&_csrf="+c.csrf()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": xff}).Status
	}
	// Behind a trusted proxy, clients are told apart by X-Forwarded-For...
	for i := 0; i < 4; i++ {
		login("192.0.2.1", "guess"+strconv.Itoa(i)+"xxxx")
	}
	// ...but the per-account limit holds whatever the IP.
	login("192.0.2.2", "guessxxxx5")
	if st := login("192.0.2.3", "guessxxxx6"); st != http.StatusTooManyRequests {
		t.Fatalf("account limit dodged by changing IP: %d", st)
	}
}

func TestLoginLimitsOff(t *testing.T) {
	s := newTestServer(t, "sqlite", func(c *config.Config) { c.RateLimits = false })
	s.user(t, "free@example.com")
	c := s.client(t)
	for i := 0; i < 8; i++ {
		c.login("free@example.com", "nope nope")
	}
	if r := c.login("free@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
		t.Fatalf("RATE_LIMITS=off still throttles: %d", r.Status)
	}
}
