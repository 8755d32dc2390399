package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testredis"
)

// Limits counted in Redis (REDIS_URL) answer as the in-memory ones do:
// the same statuses and RateLimit, RateLimit-Policy and Retry-After
// fields. Each scenario runs on an instance with limits in memory and on
// one counting in a redis-server of the test's own.

// onRedis points the limits at the Redis at addr, with a timeout generous
// for a busy machine.
func onRedis(addr string) func(*config.Config) {
	return func(c *config.Config) {
		c.RedisURL, c.RedisTimeout, c.RedisProbe = "redis://"+addr+"/0", time.Second, 100*time.Millisecond
	}
}

// rateOf splits a RateLimit field, "name";r=7;t=42, into its parts.
func rateOf(t *testing.T, field string) (name string, r, secs int) {
	t.Helper()
	parts := strings.Split(field, ";")
	if len(parts) != 3 || !strings.HasPrefix(parts[1], "r=") || !strings.HasPrefix(parts[2], "t=") {
		t.Fatalf("RateLimit %q", field)
	}
	r, _ = strconv.Atoi(parts[1][2:])
	secs, _ = strconv.Atoi(parts[2][2:])
	return parts[0], r, secs
}

// wantLimit checks an answer's status and rate limit fields; the seconds
// (t, Retry-After) may be one less than want, the clock being real.
func wantLimit(t *testing.T, what string, r response, status int, policy, name string, remaining, secs int, refused bool) {
	t.Helper()
	if r.Status != status || r.Header.Get("RateLimit-Policy") != policy {
		t.Fatalf("%s: %d, RateLimit-Policy %q; want %d, %q", what, r.Status, r.Header.Get("RateLimit-Policy"), status, policy)
	}
	gotName, gotR, gotT := rateOf(t, r.Header.Get("RateLimit"))
	if gotName != strconv.Quote(name) || gotR != remaining || gotT > secs || gotT < secs-1 {
		t.Fatalf("%s: RateLimit %q, want %q;r=%d;t=%d", what, r.Header.Get("RateLimit"), name, remaining, secs)
	}
	retry := r.Header.Get("Retry-After")
	if !refused {
		if retry != "" {
			t.Fatalf("%s: Retry-After %q on an allowed request", what, retry)
		}
		return
	}
	if n, err := strconv.Atoi(retry); err != nil || n != gotT {
		t.Fatalf("%s: Retry-After %q, RateLimit's t=%d", what, retry, gotT)
	}
}

// limitScenarios hold for the limits wherever they are counted.
var limitScenarios = []struct {
	name  string
	tweak func(*config.Config)
	run   func(t *testing.T, s *testServer)
}{
	{"a domain's quota and one client's share", nil, func(t *testing.T, s *testServer) {
		sec := s.user(t, "share@example.com").register("share.example.com", "free")
		wantLimit(t, "A's 1st", askToken(t, s, sec, from("198.51.100.1")), 200, freePolicies, "token-free-client", 1, 60, false)
		wantLimit(t, "A's 2nd", askToken(t, s, sec, from("198.51.100.1")), 200, freePolicies, "token-free-client", 0, 60, false)
		wantLimit(t, "A over its share", askToken(t, s, sec, from("198.51.100.1")), 429, freePolicies, "token-free-client", 0, 60, true)
		for i := range 8 { // four more clients take the domain's other 8
			askToken(t, s, sec, from(fmt.Sprintf("198.51.100.%d", 10+i/2)))
		}
		wantLimit(t, "a new client, the domain spent", askToken(t, s, sec, from("203.0.113.9")), 429, freePolicies, "token-free", 0, 60, true)
		// Verifications: the same rule on their own quota.
		tok := s.issueTokenAs(t, "verify.example.com")
		for i := 1; i <= 3; i++ {
			r := s.call(t, apiReq{method: "GET", path: "/v1/test", header: map[string]string{"Authorization": tok, "X-Forwarded-For": "198.51.100.1"}})
			refused := i > 2
			status := map[bool]int{false: 200, true: 429}[refused]
			wantLimit(t, "verification "+strconv.Itoa(i), r, status, `"verify";q=10;w=60, "verify-client";q=2;w=60`, "verify-client", max(0, 2-i), 60, refused)
		}
	}},
	{"bad secrets per client", func(c *config.Config) { c.BadSecretRPM = 3 }, func(t *testing.T, s *testServer) {
		bad := strings.Repeat("0", 64)
		for i := 1; i <= 3; i++ {
			wantLimit(t, "bad secret "+strconv.Itoa(i), askToken(t, s, bad, from("198.51.100.1")), 401, `"bad-secret";q=3;w=60`, "bad-secret", 3-i, 60, false)
		}
		wantLimit(t, "over the limit", askToken(t, s, bad, from("198.51.100.1")), 429, `"bad-secret";q=3;w=60`, "bad-secret", 0, 60, true)
		if r := askToken(t, s, bad, from("198.51.100.2")); r.Status != 401 {
			t.Fatalf("another client: %d", r.Status)
		}
	}},
	{"sign-ups per client", func(c *config.Config) { c.JoinPerHourIP = 2 }, func(t *testing.T, s *testServer) {
		for i := range 2 {
			if r := s.client(t).signupFrom("198.51.100.1", fmt.Sprintf("j%d@example.com", i)); r.Status != http.StatusSeeOther {
				t.Fatalf("sign-up %d: %d", i, r.Status)
			}
		}
		r := s.client(t).signupFrom("198.51.100.1", "j9@example.com")
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "3600" && r.Header.Get("Retry-After") != "3599" {
			t.Fatalf("3rd sign-up: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		if r := s.client(t).signupFrom("198.51.100.2", "k@example.com"); r.Status != http.StatusSeeOther {
			t.Fatalf("another client: %d", r.Status)
		}
	}},
	{"login failures per account and network", func(c *config.Config) { c.LoginFailsAccount = 3 }, func(t *testing.T, s *testServer) {
		s.user(t, "victim@example.com")
		c := s.client(t)
		for i := range 3 {
			if r := c.loginFrom("198.51.100.7", "victim@example.com", "wrong"+strconv.Itoa(i)); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("failure %d: %d", i, r.Status)
			}
		}
		r := c.loginFrom("198.51.100.7", "victim@example.com", "correct horse battery")
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "900" && r.Header.Get("Retry-After") != "899" {
			t.Fatalf("4th attempt: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		// The owner, from another network, signs in; a success gives back
		// its count, so the network's other attempts are not spent.
		if r := s.client(t).loginFrom("203.0.113.1", "victim@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("the owner from another network: %d", r.Status)
		}
	}},
	{"login failures per network, and an account's slow lane", func(c *config.Config) {
		c.LoginFailsIP, c.LoginAccountCeiling, c.LoginSlowInterval = 3, 2, time.Second
	}, func(t *testing.T, s *testServer) {
		s.user(t, "slowed@example.com")
		c := s.client(t)
		// A network's failures, whatever the accounts (addresses without
		// one included), and then its next attempt is refused.
		for i := range 3 {
			if r := c.loginFrom("198.51.100.8", fmt.Sprintf("nobody%d@example.com", i), "wrong"); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("network failure %d: %d", i, r.Status)
			}
		}
		r := c.loginFrom("198.51.100.8", "slowed@example.com", "correct horse battery")
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "900" && r.Header.Get("Retry-After") != "899" {
			t.Fatalf("the network's 4th attempt: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
		}
		// The account's ceiling from all networks, then one attempt in the
		// slow lane, and the next (the owner's) is told when to come back.
		for i := range 3 {
			if r := c.loginFrom(fmt.Sprintf("198.51.100.%d", 20+i), "slowed@example.com", "wrong"); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("account failure %d: %d", i, r.Status)
			}
		}
		r = s.client(t).loginFrom("203.0.113.2", "slowed@example.com", "correct horse battery")
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("the owner in the slow lane: %d", r.Status)
		}
		mustContain(t, "slowed login", r.Body, "one attempt every few seconds")
		time.Sleep(retryAfterIn(t, r, time.Second) + 100*time.Millisecond)
		if r := s.client(t).loginFrom("203.0.113.2", "slowed@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("the owner after Retry-After: %d", r.Status)
		}
	}},
}

// signupFrom signs up as a client whose address is ip (behindProxy).
func (c *client) signupFrom(ip, email string) response {
	c.t.Helper()
	return c.do("POST", "/auth/join", strings.NewReader("email="+email+"&nick=n"+strconv.Itoa(len(email))+
		"&password=correct+horse+battery&_csrf="+c.csrf()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": ip})
}

// issueTokenAs registers host (free plan) for a fresh owner and returns a token for it.
func (s *testServer) issueTokenAs(t *testing.T, host string) string {
	t.Helper()
	return s.issueToken(t, s.user(t, "verifier@example.com").register(host, "free"))
}

func TestLimitsInMemoryAndRedis(t *testing.T) {
	for _, where := range []string{"memory", "redis"} {
		t.Run(where, func(t *testing.T) {
			for _, sc := range limitScenarios {
				t.Run(sc.name, func(t *testing.T) {
					tweaks := []func(*config.Config){limited, behindProxy, func(c *config.Config) { c.VerifyRPM = 10 }}
					if sc.tweak != nil {
						tweaks = append(tweaks, sc.tweak)
					}
					if where == "redis" {
						tweaks = append(tweaks, onRedis(testredis.Start(t)))
					}
					s := newTestServer(t, "sqlite", tweaks...)
					if (s.app.limitStore != nil) != (where == "redis") {
						t.Fatal("the limits are not counted where the scenario asks")
					}
					sc.run(t, s)
				})
			}
		})
	}
}

// redisInstances starts n instances on one database counting their limits
// in one Redis, and returns them and Redis's address.
func redisInstances(t *testing.T, n int, tweak ...func(*config.Config)) ([]*testServer, string) {
	t.Helper()
	addr := testredis.Start(t)
	db := testdb.Fresh(t, "sqlite")
	cfg := testConfig()
	for _, f := range append([]func(*config.Config){limited, behindProxy, onRedis(addr)}, tweak...) {
		f(cfg)
	}
	out := make([]*testServer, n)
	for i := range out {
		out[i] = startApp(t, db, cfg, false)
	}
	return out, addr
}

// refresh makes every instance see the domains registered on one of them.
func refresh(t *testing.T, db *gorm.DB, ss []*testServer) {
	t.Helper()
	for _, s := range ss {
		if err := s.app.cache.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// Two instances on one Redis: a domain's quota is one count, whichever
// instance a request reaches, and each request is one round trip to Redis.
func TestRedisLimitsAreShared(t *testing.T) {
	ss, addr := redisInstances(t, 2, oneClientMayTakeAll)
	sec := ss[0].user(t, "shared@example.com").register("shared.example.com", "free")
	refresh(t, nil, ss)
	before := testredis.CommandCalls(t, addr)
	for i := 1; i <= 10; i++ {
		r := askToken(t, ss[i%2], sec, from("198.51.100.1"))
		wantLimit(t, "token "+strconv.Itoa(i), r, 200, `"token-free";q=10;w=60`, "token-free", 10-i, 60, false)
	}
	if got := testredis.CommandCalls(t, addr)["evalsha"] - before["evalsha"]; got != 10 {
		t.Fatalf("%d script calls for 10 token requests", got)
	}
	for i := range 2 {
		wantLimit(t, "the 11th on instance "+strconv.Itoa(i), askToken(t, ss[i], sec, from("198.51.100.1")), 429,
			`"token-free";q=10;w=60`, "token-free", 0, 60, true)
	}
}

// Each request the API counts is one round trip to Redis: a token (a
// domain's quota and the client's share at once), a verification, a bad
// secret; a sign-up too. A login counts its network and its account at
// once (the account is looked up first); a success gives back its counts
// in one more.
func TestRedisRoundTripsPerRequest(t *testing.T) {
	ss, addr := redisInstances(t, 1)
	s := ss[0]
	sec := s.user(t, "trips@example.com").register("trips.example.com", "free")
	tok := s.issueToken(t, sec)
	s.user(t, "login@example.com")
	store := s.app.limitStore
	for _, tc := range []struct {
		name string
		do   func() response
		want uint64
	}{
		{"token", func() response { return askToken(t, s, sec, from("198.51.100.1")) }, 1},
		{"verification", func() response { return s.call(t, verifyReq(tok)) }, 1},
		{"bad secret", func() response { return askToken(t, s, strings.Repeat("0", 64), nil) }, 1},
		{"sign-up", func() response { return s.client(t).signupFrom("198.51.100.3", "new@example.com") }, 1},
		{"failed login", func() response { return s.client(t).loginFrom("198.51.100.4", "login@example.com", "wrong") }, 1},
		{"failed login, no such account", func() response {
			return s.client(t).loginFrom("198.51.100.6", "nobody@example.com", "wrong")
		}, 1},
		{"login", func() response {
			return s.client(t).loginFrom("198.51.100.5", "login@example.com", "correct horse battery")
		}, 2},
	} {
		before := store.RoundTrips()
		r := tc.do()
		if r.Status >= 500 {
			t.Fatalf("%s: %d", tc.name, r.Status)
		}
		if got := store.RoundTrips() - before; got != tc.want {
			t.Errorf("%s: %d round trips to Redis, want %d", tc.name, got, tc.want)
		}
	}
	_ = addr
}
