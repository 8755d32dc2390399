package handlers

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/faultproxy"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testredis"
	"github.com/nodebird/nodebird-api/models"
)

// usageOf is what the database holds of domain id's token counts.
func usageOf(t *testing.T, s *testServer, id uint64) models.UsageDelta {
	t.Helper()
	got, err := s.app.usageStats.Recent(context.Background(), []uint64{id}, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return got[id]
}

// sharedCounts is a configuration counting in the Redis at addr with a
// free quota of 5 tokens a minute that one client may take whole.
func sharedCounts(addr string) func(*config.Config) {
	return func(c *config.Config) {
		onRedis(addr)(c)
		c.RateLimits, c.FreeTokenRPM, c.ClientShares = true, 5, 1
	}
}

// TestUsageCountsSurviveACrash: with REDIS_URL the token counts go to
// Redis as they happen, within the limits' one round trip per request; an
// instance closed without its last flush (a crash) loses none of them:
// another instance moves them to the database.
func TestUsageCountsSurviveACrash(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		addr := testredis.Start(t)
		cfg := testConfig()
		sharedCounts(addr)(cfg)
		crashed := startApp(t, testdb.Fresh(t, driver), cfg, false)
		sec := crashed.user(t, "crash@example.com").register("crash.example.com", "free")
		id := domainIDOf(t, crashed, "crash.example.com")
		store := crashed.app.limitStore
		for i := range 7 { // 5 issued, 2 refused by the quota
			before := store.RoundTrips()
			r := askToken(t, crashed, sec, nil)
			want := http.StatusOK
			if i >= 5 {
				want = http.StatusTooManyRequests
			}
			if r.Status != want {
				t.Fatalf("token %d: %d, want %d", i+1, r.Status, want)
			}
			if n := store.RoundTrips() - before; n != 1 {
				t.Fatalf("token %d: %d round trips to Redis, want 1 (the limits' script counts the usage too)", i+1, n)
			}
		}
		// A refusal outside the limits (a browser on another origin) is
		// counted apart: one round trip of its own.
		if r := askToken(t, crashed, sec, map[string]string{"Origin": "https://elsewhere.example"}); r.Status != http.StatusForbidden {
			t.Fatalf("another origin: %d", r.Status)
		}
		crashed.Close()
		crashed.app.Close() // no flush: the process is gone
		if got := usageOf(t, crashed, id); got.Issued != 0 || got.Refused != 0 {
			t.Fatalf("counts in the database before any flush: %+v", got)
		}

		cfg2 := testConfig()
		sharedCounts(addr)(cfg2)
		survivor := startApp(t, crashed.app.db, cfg2, false)
		if err := survivor.app.tokenCounts.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, survivor, id); got.Issued != 5 || got.Refused != 3 {
			t.Fatalf("after another instance's flush: %d issued, %d refused; want 5 and 3", got.Issued, got.Refused)
		}
		var d models.Domain
		if err := survivor.app.db.Take(&d, id).Error; err != nil {
			t.Fatal(err)
		}
		if d.TokensIssued != 5 || d.LastTokenAt == nil || time.Since(*d.LastTokenAt) > time.Minute {
			t.Fatalf("the domain's total and last token: %d, %v", d.TokensIssued, d.LastTokenAt)
		}
		// Moved once: a second flush adds nothing.
		if err := survivor.app.tokenCounts.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := usageOf(t, survivor, id); got.Issued != 5 || got.Refused != 3 {
			t.Fatalf("after a second flush: %+v", got)
		}
	})
}

// TestUsageLeaseOneAtATime: instances flushing at once move each count
// once (the lease lets one at a time), and none moves anything while
// another holds the lease.
func TestUsageLeaseOneAtATime(t *testing.T) {
	ss, addr := redisInstances(t, 3, func(c *config.Config) { c.FreeTokenRPM, c.ClientShares = 100000, 1 })
	sec := ss[0].user(t, "lease@example.com").register("lease.example.com", "free")
	refresh(t, nil, ss)
	id := domainIDOf(t, ss[0], "lease.example.com")
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	issued := 0
	for round := range 5 {
		for i := range 20 {
			if r := askToken(t, ss[i%3], sec, from("198.51.100.1")); r.Status != http.StatusOK {
				t.Fatalf("token: %d", r.Status)
			}
			issued++
		}
		if round == 0 { // another instance holds the lease: nobody moves anything
			if err := rc.Set(context.Background(), "nodebird:usage:lease", "elsewhere", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if err := s.app.tokenCounts.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := usageOf(t, ss[0], id); got.Issued != 0 {
				t.Fatalf("moved while another instance held the lease: %+v", got)
			}
			rc.Del(context.Background(), "nodebird:usage:lease")
		}
		var wg sync.WaitGroup
		for _, s := range ss {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.app.tokenCounts.Flush(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := usageOf(t, ss[0], id); got.Issued != int64(issued) {
			t.Fatalf("round %d: %d issued in the database, want %d", round, got.Issued, issued)
		}
	}
}

// TestUsageCountsWhileRedisIsDown: while Redis does not answer, the
// instance counts in memory and writes those counts itself, as without
// Redis.
func TestUsageCountsWhileRedisIsDown(t *testing.T) {
	addr := testredis.Start(t)
	proxy, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	s := newTestServer(t, "sqlite", sharedCounts(proxy.Addr()), func(c *config.Config) { c.RedisTimeout = 200 * time.Millisecond })
	sec := s.user(t, "down@example.com").register("down.example.com", "free")
	id := domainIDOf(t, s, "down.example.com")
	proxy.Cut()
	for range 3 {
		if r := askToken(t, s, sec, nil); r.Status != http.StatusOK {
			t.Fatalf("token while Redis is down: %d", r.Status)
		}
	}
	if !s.app.limitStore.Local() {
		t.Fatal("the limits do not count locally")
	}
	if err := s.app.tokenCounts.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := usageOf(t, s, id); got.Issued != 3 {
		t.Fatalf("counted while Redis was down: %d issued in the database, want 3", got.Issued)
	}
}
