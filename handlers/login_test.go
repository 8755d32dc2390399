package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testdb"
)

// behindProxy trusts X-Forwarded-For from the test client (127.0.0.1), so
// that a test can log in from any client network.
func behindProxy(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }

// loginFrom logs in as a client whose address is ip (behindProxy).
func (c *client) loginFrom(ip, email, password string) response {
	c.t.Helper()
	v := url.Values{"email": {email}, "password": {password}, "_csrf": {c.csrf()}}
	return c.do("POST", "/auth/login", strings.NewReader(v.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": ip})
}

// newCollatedServer is newTestServer on a database whose default collation
// is collation (on MySQL; SQLite compares bytes).
func newCollatedServer(t *testing.T, driver, collation string, tweak ...func(*config.Config)) *testServer {
	t.Helper()
	cfg := testConfig()
	for _, f := range tweak {
		f(cfg)
	}
	return startApp(t, testdb.FreshCollated(t, driver, collation), cfg, false)
}

// Under utf8mb4_unicode_ci (docker-compose's collation; MySQL 8's default
// is a UCA collation too) ASCII control characters weigh nothing, so
// "vic\x01tim@example.com" = "victim@example.com" in the database. Such a
// spelling must not reach the account, and must not get a limiter key of
// its own: what counts is the account, whatever the spelling.
func TestLoginEmailSpellingsAreOneAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newCollatedServer(t, driver, "utf8mb4_unicode_ci", limited, behindProxy)
		s.user(t, "victim@example.com")
		const attacker, right = "198.51.100.7", "correct horse battery"

		// Spellings the database may take for the account never log in,
		// not even with the right password.
		for _, email := range []string{
			"vic\x01tim@example.com", "victim\x00@example.com", "\x1fvictim@example.com",
			"victim@exa\x7fmple.com", "vi\u00adctim@example.com", "víctim@example.com",
		} {
			if r := s.client(t).loginFrom(attacker, email, right); r.Status == http.StatusSeeOther {
				t.Fatalf("%q logged in to victim@example.com", email)
			}
		}
		// Spellings that are the same address after normalising count
		// against the account: 5 failures through them use the network's
		// whole allowance for it.
		c := s.client(t)
		for i, email := range []string{"VICTIM@example.com", " victim@example.com", "Victim@Example.COM ", "victim@EXAMPLE.com", "victim@example.com"} {
			if r := c.loginFrom(attacker, email, "wrong password"); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("failure %d (%q): %d", i+1, email, r.Status)
			}
		}
		// After them, no spelling gets another try from that network.
		for _, email := range []string{"victim@example.com", "vic\x01tim@example.com", "VICTIM@EXAMPLE.COM"} {
			r := c.loginFrom(attacker, email, right)
			if r.Status == http.StatusSeeOther {
				t.Fatalf("%q logged in after the network's failures", email)
			}
			// A password check there would be a try counted elsewhere.
			mustNotContain(t, strconv.Quote(email), r.Body, "The email or password is not right")
		}
	})
}

// retryAfterIn is r's Retry-After in seconds, failing unless it is within 1..most.
func retryAfterIn(t *testing.T, r response, most time.Duration) time.Duration {
	t.Helper()
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || time.Duration(ra)*time.Second > most {
		t.Fatalf("Retry-After %q, want 1 to %v seconds", r.Header.Get("Retry-After"), most.Seconds())
	}
	return time.Duration(ra) * time.Second
}

// Failures count per account and client network: an attacker failing on
// one network is refused there, and the owner on another gets in.
func TestAttackerCannotLockOutTheOwner(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, behindProxy)
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	s.user(t, "owner@example.com")
	const attackerNet, right = "198.51.100.7", "correct horse battery"

	attacker := s.client(t)
	for i := 0; i < 5; i++ {
		if r := attacker.loginFrom(attackerNet, "owner@example.com", "guess"+strconv.Itoa(i)+"xxx"); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("failure %d: %d", i+1, r.Status)
		}
	}
	// The attacker's network is refused for this account, however often it
	// tries and with whatever password, until its window ends...
	for i := 0; i < 30; i++ {
		r := attacker.loginFrom(attackerNet, "owner@example.com", right)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("attempt %d after 5 failures from the network: %d", i+6, r.Status)
		}
		retryAfterIn(t, r, 15*time.Minute)
		mustContain(t, "refused attempt", r.Body, "Too many failed attempts")
	}
	// ...and so is another address of its IPv6 /64 (one subscriber).
	for i := 0; i < 5; i++ {
		attacker.loginFrom("2001:db8:5:6::1", "owner@example.com", "nope nope")
	}
	if r := attacker.loginFrom("2001:db8:5:6::ffff", "owner@example.com", right); r.Status != http.StatusTooManyRequests {
		t.Fatalf("another address of the /64: %d", r.Status)
	}
	// The owner, on networks of their own, gets in, a typo or not.
	for _, ownerNet := range []string{"203.0.113.20", "2001:db8:5:7::1"} {
		owner := s.client(t)
		if r := owner.loginFrom(ownerNet, "owner@example.com", "a typo typo"); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("the owner's typo from %s: %d", ownerNet, r.Status)
		}
		if r := owner.loginFrom(ownerNet, "owner@example.com", right); r.Status != http.StatusSeeOther {
			t.Fatalf("the owner from %s: %d", ownerNet, r.Status)
		}
	}
	// The attacker's network is let in again when its window ends.
	clk.advance(15*time.Minute + time.Second)
	if r := attacker.loginFrom(attackerNet, "owner@example.com", right); r.Status != http.StatusSeeOther {
		t.Fatalf("after the window: %d", r.Status)
	}
}

// Past LOGIN_ACCOUNT_CEILING failures from all networks in a window, the
// account takes one attempt per LOGIN_SLOW_INTERVAL from any network: it
// slows a botnet without blocking the owner, who is told when to come back.
func TestAccountCeilingSlowsButLetsTheOwnerIn(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, behindProxy, func(c *config.Config) {
		c.LoginAccountCeiling, c.LoginSlowInterval = 20, 30*time.Second
	})
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	s.user(t, "target@example.com")
	s.user(t, "bystander@example.com")
	const right = "correct horse battery"
	bot := s.client(t)
	botNet := func(i int) string { return fmt.Sprintf("192.0.2.%d", i) }

	// Four networks, five failures each: the ceiling of 20.
	for n := 1; n <= 4; n++ {
		for i := 0; i < 5; i++ {
			if r := bot.loginFrom(botNet(n), "target@example.com", "guessing"); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("network %d failure %d: %d", n, i+1, r.Status)
			}
		}
	}
	// Past it, one attempt per 30 s from any network.
	if r := bot.loginFrom(botNet(5), "target@example.com", "guessing"); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("the first attempt past the ceiling: %d", r.Status)
	}
	r := bot.loginFrom(botNet(6), "target@example.com", "guessing")
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("a second attempt in the interval: %d", r.Status)
	}
	retryAfterIn(t, r, 30*time.Second)

	// The owner is slowed too, and told how long to wait: at most the interval.
	owner := s.client(t)
	r = owner.loginFrom("203.0.113.20", "target@example.com", right)
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("the owner past the ceiling: %d", r.Status)
	}
	mustContain(t, "slowed login", r.Body, "one attempt every few seconds")
	clk.advance(retryAfterIn(t, r, 30*time.Second))
	if r := owner.loginFrom("203.0.113.20", "target@example.com", right); r.Status != http.StatusSeeOther {
		t.Fatalf("the owner after Retry-After: %d", r.Status)
	}
	// Another account is not slowed.
	if r := s.client(t).loginFrom(botNet(7), "bystander@example.com", right); r.Status != http.StatusSeeOther {
		t.Fatalf("another account: %d", r.Status)
	}
	// The owner's success does not give the botnet a fresh allowance: the
	// slot it freed is taken, and the next attempt waits.
	bot.loginFrom(botNet(8), "target@example.com", "guessing")
	if r := bot.loginFrom(botNet(9), "target@example.com", "guessing"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("past the ceiling after the owner's login: %d", r.Status)
	}
	// The slowed attempts are counted apart from the throttled ones.
	rec := httptest.NewRecorder()
	s.app.metrics.http.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if got, _ := metricValue(rec.Body.String(), "nodebird_rate_limited_total", map[string]string{"scope": "login_slow"}); got != 3 {
		t.Errorf("nodebird_rate_limited_total{scope=login_slow} = %v, want 3", got)
	}
	// When the window ends, the account is not slowed any more.
	clk.advance(15*time.Minute + time.Second)
	for n := 10; n <= 12; n++ {
		if r := bot.loginFrom(botNet(n), "target@example.com", "guessing"); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("after the window, network %d: %d", n, r.Status)
		}
	}
}
