package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/faultproxy"
	"github.com/nodebird/nodebird-api/internal/testredis"
	"github.com/nodebird/nodebird-api/internal/testutil"
)

// fanoutWithin bounds how long a test waits for a change made on one
// instance to apply on another whose poll is an hour away: what arrives
// came by message. The delays are logged; the 100 ms target of issue 19.3
// is measured (`-v`, and the scaleout tests), not asserted here, since a
// timed assertion fails on a busy machine rather than on broken code.
const fanoutWithin = 5 * time.Second

// listen starts s's change subscriber (as Run does) and waits until it is
// subscribed.
func listen(t *testing.T, s *testServer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.app.changes.Run(ctx, s.app.changedElsewhere, s.app.resync) }()
	t.Cleanup(func() { cancel(); <-done })
	if !testutil.Eventually(5*time.Second, s.app.changes.Subscribed) {
		t.Fatal("the subscriber subscribes")
	}
}

// applied waits, polling every millisecond, until cond holds, and returns
// how long that took; it fails the test past limit.
func applied(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not applied within %s", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// noPoll makes an instance's poll so rare that only the change messages
// can bring another instance's changes within a test.
func noPoll(c *config.Config) { c.CacheRefresh = time.Hour }

// TestChangesReachEveryInstance: with REDIS_URL, a revocation, restore,
// plan change, rotation (with an overlap, and its end), deletion, an
// account's suspension and its end, an owner's new nick and an account's
// deletion made on one instance are
// applied by another without its poll (an hour here; the delays, logged,
// are milliseconds): the message names the domain, and the instance
// reads the domain again from the database.
func TestChangesReachEveryInstance(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		addr := testredis.Start(t)
		one := newTestServer(t, driver, func(c *config.Config) { withRedis(c, addr) })
		root := one.user(t, rootEmail)
		one.app.config.AdminEmails = []string{rootEmail}
		markVerified(t, one.app.db, rootEmail)
		two := startApp(t, one.app.db, withRedis(testConfig(), addr), false)
		listen(t, two)

		owner := one.user(t, "fan@example.com")
		sec := owner.register("fan.example.com", "free")
		id := domainIDOf(t, one, "fan.example.com")
		tok := two.issueToken(t, sec)
		var delays []time.Duration
		step := func(what string, act func(), cond func() bool) {
			t.Helper()
			act()
			d := applied(t, what+" on the other instance", fanoutWithin, cond)
			delays = append(delays, d)
		}
		post := func(c *client, path string, v url.Values) {
			t.Helper()
			if r := c.post(path, v); r.Status != http.StatusSeeOther && r.Status != http.StatusOK {
				t.Fatalf("POST %s: %d", path, r.Status)
			}
		}
		admin := fmt.Sprintf("/admin/domains/%d/", id)
		step("revocation", func() { post(root, admin+"revoke", revokeReason()) }, func() bool {
			return two.tokenStatusOn(t, sec) == http.StatusUnauthorized && two.verifyStatus(t, tok) == http.StatusUnauthorized
		})
		step("restore", func() { post(root, admin+"restore", nil) }, func() bool {
			return two.tokenStatusOn(t, sec) == http.StatusOK
		})
		step("plan change", func() { post(root, admin+"plan", url.Values{"type": {"premium"}}) }, func() bool {
			r := two.call(t, jsonSecret(sec))
			return r.Status == http.StatusOK && strings.Contains(r.Header.Get("RateLimit-Policy"), `"token-premium"`)
		})
		var cur string
		step("rotation with an overlap", func() { cur = owner.rotate(id, "1h") }, func() bool {
			return two.tokenStatusOn(t, cur) == http.StatusOK && two.tokenStatusOn(t, sec) == http.StatusOK
		})
		step("end of the overlap", func() { post(owner, fmt.Sprintf("/domain/%d/overlap/end", id), nil) }, func() bool {
			return two.tokenStatusOn(t, sec) == http.StatusUnauthorized
		})
		tok = two.issueToken(t, cur)
		step("deletion", func() { post(owner, fmt.Sprintf("/domain/%d/delete", id), nil) }, func() bool {
			return two.tokenStatusOn(t, cur) == http.StatusUnauthorized && two.verifyStatus(t, tok) == http.StatusUnauthorized
		})
		// An admin suspends an account, then lifts the suspension.
		held := one.user(t, "held@example.com")
		hsec := held.register("held.example.com", "free")
		var uid uint64
		if err := one.app.db.Table("users").Select("id").Where("email = ?", "held@example.com").Scan(&uid).Error; err != nil || uid == 0 {
			t.Fatalf("user id: %v", err)
		}
		step("suspension", func() { post(root, fmt.Sprintf("/admin/users/%d/suspend", uid), nil) }, func() bool {
			return two.tokenStatusOn(t, hsec) == http.StatusUnauthorized
		})
		step("end of the suspension", func() { post(root, fmt.Sprintf("/admin/users/%d/unsuspend", uid), nil) }, func() bool {
			return two.tokenStatusOn(t, hsec) == http.StatusOK
		})
		// Changes to an account: a new nick (no domain named: the other
		// instance reads what changed) and the account's deletion.
		other := one.user(t, "leaving@example.com")
		osec := other.register("leaving.example.com", "free")
		otok := two.issueToken(t, osec)
		step("new nick", func() { post(other, "/account/nick", url.Values{"nick": {"renamed"}}) }, func() bool {
			tok := two.issueToken(t, osec)
			return jwtPayload(t, tok)["nick"] == "renamed"
		})
		step("account deletion", func() {
			post(other, "/account/delete", url.Values{"current_password": {"correct horse battery"}})
		}, func() bool {
			return two.tokenStatusOn(t, osec) == http.StatusUnauthorized && two.verifyStatus(t, otok) == http.StatusUnauthorized
		})
		if n := two.app.changes.Received(); n < uint64(len(delays)) {
			t.Errorf("the other instance received %d change messages, want at least %d", n, len(delays))
		}
		t.Logf("%s: the change applied on the other instance after %v", driver, delays)
	})
}

// withRedis is cfg counting in (and publishing on) the Redis at addr, with
// no poll within a test, and quotas the tests' polling cannot spend.
func withRedis(cfg *config.Config, addr string) *config.Config {
	onRedis(addr)(cfg)
	noPoll(cfg)
	cfg.RateLimits, cfg.FreeTokenRPM, cfg.PremiumTokenRPM, cfg.VerifyRPM, cfg.ClientShares = true, 100000, 200000, 100000, 1
	return cfg
}

// TestChangesSurviveRedisFaults: the fault proxy between an instance and
// Redis is cut, then restored, then black-holed and restored. While the
// link is down the instance says so (metric, one log line) and a change
// made on another instance reaches it by its poll; once restored it
// subscribes again by itself (one log line) and the next change arrives
// by message within 100 ms.
func TestChangesSurviveRedisFaults(t *testing.T) {
	addr := testredis.Start(t)
	proxy, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	one := newTestServer(t, "sqlite", func(c *config.Config) { withRedis(c, addr) })
	cfg := withRedis(testConfig(), proxy.Addr())
	cfg.RedisTimeout, cfg.CacheRefresh, cfg.Metrics = 200*time.Millisecond, 300*time.Millisecond, true
	two := startApp(t, one.app.db, cfg, false)
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() { defer close(polled); two.app.cache.Run(ctx, cfg.CacheRefresh) }() // the poll, as Run starts it
	t.Cleanup(func() { cancel(); <-polled })
	listen(t, two)
	c := two.client(t)
	subscribed := func() float64 {
		t.Helper()
		v, ok := metricValue(c.get("/metrics").Body, "nodebird_domain_changes_subscribed", nil)
		if !ok {
			t.Fatal("no nodebird_domain_changes_subscribed in /metrics")
		}
		return v
	}
	if subscribed() != 1 {
		t.Fatal("the metric does not say subscribed")
	}

	owner := one.user(t, "faulty@example.com")
	secs := map[string]string{}
	for _, h := range []string{"cut", "after-cut", "hole", "after-hole"} {
		secs[h] = owner.register(h+".example.com", "free")
		if st := two.tokenStatusOn(t, secs[h]); st != http.StatusOK {
			t.Fatalf("%s before: %d", h, st)
		}
	}
	revoke := func(h string) {
		t.Helper()
		revokeHere(t, one, domainIDOf(t, one, h+".example.com"))
	}
	refused := func(h string) func() bool {
		return func() bool { return two.tokenStatusOn(t, secs[h]) == http.StatusUnauthorized }
	}

	for _, fault := range []struct {
		name string
		cut  func()
	}{{"cut", proxy.Cut}, {"hole", proxy.Delay}} {
		fault.cut()
		if !testutil.Eventually(5*time.Second, func() bool { return !two.app.changes.Subscribed() }) {
			t.Fatal(fault.name + ": the subscriber notices")
		}
		if subscribed() != 0 {
			t.Fatalf("%s: the metric still says subscribed", fault.name)
		}
		before := two.app.changes.Received()
		revoke(fault.name)
		d := applied(t, fault.name+": the change made meanwhile, by the poll", 5*time.Second, refused(fault.name))
		if two.app.changes.Received() != before {
			t.Fatalf("%s: a message went through the broken link", fault.name)
		}
		t.Logf("%s: a change made while Redis was out of reach applied after %v, by the poll", fault.name, d)
		if err := proxy.Restore(); err != nil {
			t.Fatal(err)
		}
		if !testutil.Eventually(5*time.Second, two.app.changes.Subscribed) {
			t.Fatal(fault.name + ": the subscriber subscribes again")
		}
		revoke("after-" + fault.name)
		d = applied(t, fault.name+": restored, a change by message", fanoutWithin, refused("after-"+fault.name))
		if two.app.changes.Received() == before {
			t.Fatalf("%s: restored, no message received", fault.name)
		}
		t.Logf("%s: restored, a change applied after %v", fault.name, d)
	}
	logs := two.log.String()
	for _, line := range []string{"redis does not answer: domain changes", "redis answers again: domain changes"} {
		if n := strings.Count(logs, line); n != 2 { // once per fault
			t.Errorf("%q logged %d times, want 2 (once per fault)\n%s", line, n, logs)
		}
	}
}
