package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	s.app.setClocks(nil, clk.now)
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
	// right password does not get in either, from any client on that
	// network (both clients here are 127.0.0.1; other networks:
	// TestAttackerCannotLockOutTheOwner).
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
	// Behind a trusted proxy, clients are told apart by X-Forwarded-For:
	// the account's failures are counted per client network...
	for i := 0; i < 5; i++ {
		login("192.0.2.1", "guess"+strconv.Itoa(i)+"xxxx")
	}
	if st := login("192.0.2.1", "guessxxxx6"); st != http.StatusTooManyRequests {
		t.Fatalf("6th failure from the forwarded address: %d", st)
	}
	// ...so another forwarded address is another network (the account-wide
	// ceiling, TestAccountCeilingSlowsButLetsTheOwnerIn, bounds the sum).
	if st := login("192.0.2.2", "guessxxxx7"); st != http.StatusUnprocessableEntity {
		t.Fatalf("another forwarded address: %d", st)
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

// Concurrent guesses cannot slip past the count: attempts are counted
// before the password hash runs, so only 5 of 40 simultaneous wrong
// passwords are even checked.
func TestLoginThrottlingHoldsUnderConcurrency(t *testing.T) {
	s := newTestServer(t, "sqlite", limited)
	s.user(t, "burst@example.com")
	c := s.client(t)
	token := c.csrf()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do("POST", "/auth/login", strings.NewReader("email=burst%40example.com&password=wrong-guess&_csrf="+token),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts[http.StatusUnprocessableEntity] != 5 || counts[http.StatusTooManyRequests] != 35 {
		t.Fatalf("40 concurrent wrong logins: %v, want 5 checked (422) and 35 refused (429)", counts)
	}
}

func TestIPv6ClientsAreLimitedPerSlash64(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	good := s.user(t, "v6@example.com").register("v6.example.com", "premium")
	bad := good[:len(good)-1] + map[bool]string{true: "b", false: "a"}[good[len(good)-1] == 'a']
	for i := 0; i < 30; i++ {
		askToken(t, s, bad, map[string]string{"X-Forwarded-For": fmt.Sprintf("2001:db8:1:2::%x", i+1)})
	}
	// Another address of the same /64 is the same client...
	if r := askToken(t, s, good, map[string]string{"X-Forwarded-For": "2001:db8:1:2:ffff::1"}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d", r.Status)
	}
	// ...another /64 is not.
	if r := askToken(t, s, good, map[string]string{"X-Forwarded-For": "2001:db8:1:3::1"}); r.Status != http.StatusOK {
		t.Fatalf("other /64: %d", r.Status)
	}
}

func TestSignupsAreLimitedPerIP(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, func(c *config.Config) { c.JoinPerHourIP = 3 })
	for i := 0; i < 3; i++ {
		s.user(t, fmt.Sprintf("j%d@example.com", i))
	}
	r := s.client(t).signup("j9@example.com", "j9", "correct horse battery")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th sign-up from one IP in an hour: %d", r.Status)
	}
	if _, err := s.app.users.GetByEmail(context.Background(), "j9@example.com"); err == nil {
		t.Fatal("a refused sign-up created the account")
	}
}
