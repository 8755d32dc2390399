package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/faultproxy"
	"github.com/nodebird/nodebird-api/internal/testredis"
	"github.com/nodebird/nodebird-api/internal/testutil"
)

// TestRedisFaults puts the fault proxy between the app and a redis-server,
// cuts it, restores it, black-holes it and restores it again, and checks
// through the app's HTTP endpoints that requests keep being served within
// the instance's own limits, that /readyz (still 200) and the metric say
// where the limits count, and that each switch is logged once.
func TestRedisFaults(t *testing.T) {
	addr := testredis.Start(t)
	proxy, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	const timeout = 200 * time.Millisecond // REDIS_TIMEOUT, generous for a busy machine
	s, logs := newOpsServer(t, "sqlite", nil, limited, oneClientMayTakeAll, onRedis(proxy.Addr()), func(c *config.Config) {
		c.FreeTokenRPM, c.RedisTimeout, c.RedisProbe = 5, timeout, 50*time.Millisecond
	})
	ctx := t.Context()
	go s.app.limitStore.Run(ctx, s.app.config.RedisProbe) // Run's background loop, as serve.go starts it
	owner := s.user(t, "faults@example.com")
	secs := []string{owner.register("cut.example.com", "free"), owner.register("hole.example.com", "free")}
	c := s.client(t)

	where := func() string {
		t.Helper()
		r := c.get("/readyz")
		if r.Status != http.StatusOK {
			t.Fatalf("/readyz: %d %s", r.Status, r.Body)
		}
		switch strings.TrimSpace(r.Body) {
		case `{"status":"ok","limits":"redis"}`:
			return "redis"
		case `{"status":"ok","limits":"local"}`:
			return "local"
		}
		t.Fatalf("/readyz: %s", r.Body)
		return ""
	}
	gauge := func() float64 {
		t.Helper()
		v, ok := metricValue(c.get("/metrics").Body, "nodebird_rate_limits_local", nil)
		if !ok {
			t.Fatal("no nodebird_rate_limits_local in /metrics")
		}
		return v
	}
	// token asks for a token and checks the answer (RateLimit's r is one of
	// remaining) and how long it took.
	token := func(what, sec string, status int, remaining ...int) {
		t.Helper()
		start := time.Now()
		r := askToken(t, s, sec, nil)
		if d := time.Since(start); d > timeout+time.Second {
			t.Fatalf("%s took %s", what, d)
		}
		for _, n := range remaining {
			if r.Status == status && strings.HasPrefix(r.Header.Get("RateLimit"), `"token-free";r=`+strconv.Itoa(n)+";") {
				return
			}
		}
		t.Fatalf("%s: %d, RateLimit %q; want %d, r in %v", what, r.Status, r.Header.Get("RateLimit"), status, remaining)
	}

	if where() != "redis" || gauge() != 0 {
		t.Fatal("not counting in Redis at start")
	}
	for i, sec := range secs { // two of each domain's five, counted in Redis
		token("in Redis "+strconv.Itoa(i), sec, 200, 4)
		token("in Redis "+strconv.Itoa(i), sec, 200, 3)
	}

	for n, fault := range []struct {
		name  string
		cause func()
	}{{"cut", proxy.Cut}, {"black hole", proxy.Delay}} {
		sec := secs[n]
		fault.cause()
		// The instance counts alone, from zero: its own five, then 429.
		for i := 1; i <= 5; i++ {
			token(fault.name+" "+strconv.Itoa(i), sec, 200, 5-i)
		}
		token(fault.name+", the local limit", sec, 429, 0)
		if where() != "local" || gauge() != 1 {
			t.Fatalf("%s: /readyz or the metric do not say the limits are local", fault.name)
		}
		if err := proxy.Restore(); err != nil {
			t.Fatal(err)
		}
		if !testutil.Eventually(5*time.Second, func() bool { return where() == "redis" }) {
			t.Fatalf("%s: not back to Redis", fault.name)
		}
		if gauge() != 0 {
			t.Fatalf("%s: the metric still says local", fault.name)
		}
		// Back in Redis, where the domain had spent two. The request that
		// timed out in the black hole was held, not lost: it may reach
		// Redis when the link comes back (as over a real network), and
		// count there too.
		if fault.name == "cut" {
			token(fault.name+", back in Redis", sec, 200, 2)
		} else {
			token(fault.name+", back in Redis", sec, 200, 2, 1)
		}
		if got := strings.Count(logs.String(), "redis does not answer"); got != n+1 {
			t.Fatalf("after %s: %d lines saying Redis does not answer, want %d\n%s", fault.name, got, n+1, logs.String())
		}
		if got := strings.Count(logs.String(), "redis answers again"); got != n+1 {
			t.Fatalf("after %s: %d lines saying Redis answers again, want %d", fault.name, got, n+1)
		}
	}
}
