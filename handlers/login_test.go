package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

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
