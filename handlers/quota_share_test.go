package handlers

import (
	"html"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/i18n"
)

// Clients' shares of a domain's quotas: a secret in a page and a token in a
// browser are public, so one client network (an IPv4 address or an IPv6
// /64) may take at most max(1, quota/RATE_CLIENT_SHARES) of them a minute.
// Clients are told apart by X-Forwarded-For from a trusted proxy (the test
// client connects from 127.0.0.1).

// oneClientMayTakeAll turns the shares off (RATE_CLIENT_SHARES=1), for tests
// of a domain's quotas from one client.
func oneClientMayTakeAll(c *config.Config) { c.ClientShares = 1 }

// from is the headers of a request from client address ip.
func from(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

// wantRate checks an answer's status and rate limit fields (Retry-After ""
// for none).
func wantRate(t *testing.T, what string, r response, status int, policy, rate, retryAfter string) {
	t.Helper()
	if r.Status != status || r.Header.Get("RateLimit-Policy") != policy || r.Header.Get("RateLimit") != rate ||
		r.Header.Get("Retry-After") != retryAfter {
		t.Fatalf("%s: %d\nRateLimit-Policy %q\nRateLimit %q\nRetry-After %q\nwant %d\nRateLimit-Policy %q\nRateLimit %q\nRetry-After %q",
			what, r.Status, r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"), r.Header.Get("Retry-After"),
			status, policy, rate, retryAfter)
	}
	if status == http.StatusTooManyRequests {
		wantJSONError(t, what, r, status)
	}
}

const freePolicies = `"token-free";q=10;w=60, "token-free-client";q=2;w=60`

func TestOneClientCannotTakeADomainsTokens(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, behindProxy)
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	sec := s.user(t, "share@example.com").register("share.example.com", "free")

	// The free plan's 10 a minute, 10/5 = 2 for one client. RateLimit
	// reports the limit with fewer requests left: the client's share.
	wantRate(t, "A's 1st", askToken(t, s, sec, from("198.51.100.1")), 200, freePolicies, `"token-free-client";r=1;t=60`, "")
	wantRate(t, "A's 2nd", askToken(t, s, sec, from("198.51.100.1")), 200, freePolicies, `"token-free-client";r=0;t=60`, "")
	clk.advance(15 * time.Second)
	// A has had its share: refused, told to wait for its own window.
	for i := range 3 {
		wantRate(t, "A over its share "+strconv.Itoa(i), askToken(t, s, sec, from("198.51.100.1")),
			429, freePolicies, `"token-free-client";r=0;t=45`, "45")
	}
	// Other clients of the same domain are not affected.
	wantRate(t, "B", askToken(t, s, sec, from("198.51.100.2")), 200, freePolicies, `"token-free-client";r=1;t=60`, "")
	wantRate(t, "C", askToken(t, s, sec, from("203.0.113.50")), 200, freePolicies, `"token-free-client";r=1;t=60`, "")
	wantRate(t, "C's 2nd", askToken(t, s, sec, from("203.0.113.50")), 200, freePolicies, `"token-free-client";r=0;t=60`, "")
	// Once A's window ends, A may ask again.
	clk.advance(45 * time.Second)
	if r := askToken(t, s, sec, from("198.51.100.1")); r.Status != http.StatusOK {
		t.Fatalf("A after its window: %d", r.Status)
	}
}

// Without a trusted proxy the connection's address is the client: a forged
// X-Forwarded-For does not open a new share.
func TestForgedForwardedForOpensNoShare(t *testing.T) {
	s := newTestServer(t, "sqlite", limited)
	sec := s.user(t, "forged@example.com").register("forged.example.com", "free")
	askToken(t, s, sec, nil)
	askToken(t, s, sec, nil)
	for _, ip := range []string{"198.51.100.1", "2001:db8::1"} {
		if r := askToken(t, s, sec, from(ip)); r.Status != http.StatusTooManyRequests {
			t.Fatalf("X-Forwarded-For %s from an untrusted peer: %d", ip, r.Status)
		}
	}
}

// The domain's quota still holds, whatever the number of clients.
func TestDomainQuotaHoldsAcrossClients(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, behindProxy)
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	sec := s.user(t, "many@example.com").register("many.example.com", "free")
	client := func(i int) map[string]string { return from("198.51.100." + strconv.Itoa(i+1)) }

	issued := 0
	for range 6 { // client 0: 2 issued, 4 refused at its share
		if askToken(t, s, sec, client(0)).Status == http.StatusOK {
			issued++
		}
	}
	clk.advance(10 * time.Second)
	for i := 1; i <= 4; i++ {
		for range 2 {
			if r := askToken(t, s, sec, client(i)); r.Status == http.StatusOK {
				issued++
			} else {
				t.Fatalf("client %d: %d", i, r.Status)
			}
		}
	}
	if issued != 10 {
		t.Fatalf("%d tokens issued, the free plan's quota is 10", issued)
	}
	// Now the domain is spent, for every client: a client with its whole
	// share left is refused by the domain's quota, told so, and told to wait
	// for the domain's window.
	for i := 5; i < 25; i++ {
		wantRate(t, "client "+strconv.Itoa(i), askToken(t, s, sec, client(i)), 429, freePolicies, `"token-free";r=0;t=50`, "50")
	}
	// Those refusals spent nothing of the clients' shares either (client
	// 5's share window opened with its refused request, 10 s from its end).
	clk.advance(50 * time.Second)
	wantRate(t, "client 5 in the next window", askToken(t, s, sec, client(5)), 200, freePolicies, `"token-free-client";r=1;t=10`, "")
	wantRate(t, "client 5 again", askToken(t, s, sec, client(5)), 200, freePolicies, `"token-free-client";r=0;t=10`, "")
	if r := askToken(t, s, sec, client(5)); r.Status != http.StatusTooManyRequests {
		t.Fatalf("client 5 over its share: %d", r.Status)
	}
}

// A token handed to a browser is public too: one client cannot take all of
// a domain's verifications.
func TestOneClientCannotTakeADomainsVerifications(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, behindProxy, func(c *config.Config) { c.VerifyRPM = 10 })
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	sec := s.user(t, "checks@example.com").register("checks.example.com", "premium")
	tok := tokenOf(t, askToken(t, s, sec, from("192.0.2.1")))
	verify := func(ip string) response {
		h := from(ip)
		h["Authorization"] = "Bearer " + tok
		return s.client(t).do("GET", "/v1/test", nil, h)
	}
	const policies = `"verify";q=10;w=60, "verify-client";q=2;w=60`

	wantRate(t, "A's 1st", verify("198.51.100.1"), 200, policies, `"verify-client";r=1;t=60`, "")
	wantRate(t, "A's 2nd", verify("198.51.100.1"), 200, policies, `"verify-client";r=0;t=60`, "")
	clk.advance(20 * time.Second)
	wantRate(t, "A over its share", verify("198.51.100.1"), 429, policies, `"verify-client";r=0;t=40`, "40")
	// The same token from another client still opens the API.
	wantRate(t, "B", verify("198.51.100.2"), 200, policies, `"verify-client";r=1;t=60`, "")
	wantRate(t, "B's 2nd", verify("198.51.100.2"), 200, policies, `"verify-client";r=0;t=60`, "")
	// Three more clients take the rest of the domain's 10 (2 + 2 + 6).
	for _, ip := range []string{"198.51.100.3", "198.51.100.4", "198.51.100.5"} {
		for range 2 {
			if r := verify(ip); r.Status != http.StatusOK {
				t.Fatalf("%s: %d", ip, r.Status)
			}
		}
	}
	// B is now over both: its share resets in 60 s, the domain's quota in
	// 40 s. Retry-After is the longer wait, and RateLimit names the limit
	// it is for.
	wantRate(t, "B over its share and the domain's quota", verify("198.51.100.2"), 429, policies, `"verify-client";r=0;t=60`, "60")
	// A client with its share left waits for the domain's quota only.
	wantRate(t, "a new client", verify("198.51.100.6"), 429, policies, `"verify";r=0;t=40`, "40")
}

// IPv6 clients are counted per /64 (one subscriber's allocation), and an
// IPv4 address written as an IPv4-mapped IPv6 address is the same client.
func TestIPv6ClientsOfOneSlash64ShareOneShare(t *testing.T) {
	s := newTestServer(t, "sqlite", limited, behindProxy)
	owner := s.user(t, "six@example.com")
	sec := owner.register("six.example.com", "free")
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"} {
		if r := askToken(t, s, sec, from(ip)); r.Status != http.StatusOK {
			t.Fatalf("%s: %d", ip, r.Status)
		}
	}
	wantRate(t, "a third address of the same /64", askToken(t, s, sec, from("2001:db8:1:2::abcd")), 429,
		freePolicies, `"token-free-client";r=0;t=60`, "60")
	if r := askToken(t, s, sec, from("2001:db8:1:3::1")); r.Status != http.StatusOK {
		t.Fatalf("another /64: %d", r.Status)
	}

	other := owner.register("four.example.com", "free")
	askToken(t, s, other, from("198.51.100.9"))
	askToken(t, s, other, from("198.51.100.9"))
	if r := askToken(t, s, other, from("::ffff:198.51.100.9")); r.Status != http.StatusTooManyRequests {
		t.Fatalf("an IPv4 address written as IPv6 got a share of its own: %d", r.Status)
	}
}

// A refusal at a client's share is counted under the share's name.
func TestClientShareRefusalMetric(t *testing.T) {
	s, _ := newOpsServer(t, "sqlite", nil, func(c *config.Config) { c.RateLimits = true })
	sec := s.user(t, "sharemetric@example.com").register("sharemetric.example.com", "free")
	for i, want := range []int{200, 200, 429, 429} {
		if r, _ := opsToken(t, s, sec); r.Status != want {
			t.Fatalf("token %d: %d, want %d", i+1, r.Status, want)
		}
	}
	m := s.client(t).get("/metrics").Body
	if got, ok := metricValue(m, "nodebird_rate_limited_total", map[string]string{"scope": "token-free-client"}); !ok || got != 2 {
		t.Errorf(`nodebird_rate_limited_total{scope="token-free-client"} = %v (found %v), want 2`, got, ok)
	}
	if got, ok := metricValue(m, "nodebird_rate_limited_total", map[string]string{"scope": "token-free"}); ok {
		t.Errorf(`nodebird_rate_limited_total{scope="token-free"} = %v, want none: the domain's quota refused nothing`, got)
	}
}

// /docs states the shares and the fields, in both languages, and its 429
// example carries the fields a client over its share really gets.
func TestDocsStateTheShares(t *testing.T) {
	s := newTestServer(t, "sqlite", limited)
	clk := &fakeClock{t: time.Now()}
	withClock(s, clk)
	sec := s.user(t, "docshare@example.com").register("docshare.example.com", "free")
	askToken(t, s, sec, nil)
	askToken(t, s, sec, nil)
	clk.advance(18 * time.Second)
	real := askToken(t, s, sec, nil) // over its share, 42 s before its window ends
	if real.Status != http.StatusTooManyRequests {
		t.Fatalf("over the share: %d", real.Status)
	}

	for _, lang := range []string{"en", "ko"} {
		r := s.client(t).do("GET", "/docs", nil, map[string]string{"Accept-Language": lang})
		mustContain(t, "docs "+lang, r.Body, `data-testid="limits-share"`,
			html.EscapeString(i18n.T(lang, "docs.share.lead", 5)), i18n.T(lang, "docs.col.share"),
			html.EscapeString(i18n.T(lang, "docs.share.policy")), html.EscapeString(i18n.T(lang, "docs.share.rate")),
			html.EscapeString(i18n.T(lang, "docs.share.retry")), html.EscapeString(i18n.T(lang, "docs.status.429.when")),
			// free 10 → 2, premium 1,000 → 200, verify 6,000 → 1,200
			"<td>"+i18n.T(lang, "docs.limits.perminute", "2")+"</td>", "<td>"+i18n.T(lang, "docs.limits.perminute", "200")+"</td>",
			"<td>"+i18n.T(lang, "docs.limits.perminute", "1,200")+"</td>")
		sample := codeSample(t, r.Body, "doc-429")
		for _, field := range []string{"RateLimit-Policy", "RateLimit"} {
			if want := field + ": " + real.Header.Get(field) + "\n"; !strings.Contains(sample, want) {
				t.Errorf("%s: the 429 example lacks %q:\n%s", lang, want, sample)
			}
		}
		if want := "Retry-After: " + real.Header.Get("Retry-After") + "\n"; !strings.Contains(sample, want) {
			t.Errorf("%s: the 429 example lacks %q:\n%s", lang, want, sample)
		}
	}

	// Without shares the page says nothing of them.
	s2 := newTestServer(t, "sqlite", limited, oneClientMayTakeAll)
	r := s2.client(t).get("/docs")
	mustNotContain(t, "docs without shares", r.Body, `data-testid="limits-share"`, i18n.T("en", "docs.col.share"), "-client")
	mustContain(t, "docs without shares", r.Body, html.EscapeString(i18n.T("en", "docs.limits.policy")),
		"RateLimit-Policy: "+html.EscapeString(`"token-free";q=10;w=60`)+"\n", "RateLimit: "+html.EscapeString(`"token-free";r=0;t=42`)+"\n")
}
