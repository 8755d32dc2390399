package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A domain's quota and one client's share of it, as the API counts them.
type domainKey struct{ id uint64 }
type clientKey struct {
	domain domainKey
	client string
}

func TestAllowBoth(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	domains, clients := New[domainKey](1000, c.now), New[clientKey](1000, c.now)
	d := domainKey{1}
	both := func(client string) (Result, Result) {
		return AllowBoth(domains, d, 5, clients, clientKey{d, client}, 2, time.Minute)
	}
	// Both have room: counted in both.
	for i := 1; i <= 2; i++ {
		rd, rc := both("a")
		if !rd.Allowed || !rc.Allowed || rd.Remaining != 5-i || rc.Remaining != 2-i || rd.Limit != 5 || rc.Limit != 2 || rd.Reset != time.Minute {
			t.Fatalf("request %d: domain %+v, client %+v", i, rd, rc)
		}
	}
	// The client's limit is spent: refused, and the domain's count is untouched.
	c.advance(10 * time.Second)
	for range 3 {
		rd, rc := both("a")
		if rc.Allowed || rc.Remaining != 0 || rc.Reset != 50*time.Second || !rd.Allowed || rd.Remaining != 3 {
			t.Fatalf("over the client's limit: domain %+v, client %+v", rd, rc)
		}
	}
	// Other clients take the rest of the domain's quota...
	both("b")
	both("b")
	if rd, rc := both("c"); !rd.Allowed || !rc.Allowed || rd.Remaining != 0 || rc.Remaining != 1 {
		t.Fatalf("the domain's last request: domain %+v, client %+v", rd, rc)
	}
	// ...and then the domain refuses, spending nothing of the client's share.
	for range 3 {
		rd, rc := both("c")
		if rd.Allowed || rd.Remaining != 0 || !rc.Allowed || rc.Remaining != 1 {
			t.Fatalf("over the domain's limit: domain %+v, client %+v", rd, rc)
		}
	}
	// A new window: everything starts over.
	c.advance(time.Minute)
	if rd, rc := both("a"); !rd.Allowed || !rc.Allowed || rd.Remaining != 4 || rc.Remaining != 1 {
		t.Fatalf("next window: domain %+v, client %+v", rd, rc)
	}
	// AllowBoth counts what Allow counts: the same windows.
	if r := domains.Peek(d, 5, time.Minute); r.Remaining != 4 {
		t.Fatalf("Peek after AllowBoth: %+v", r)
	}
}

func TestAllowBothNeedsTwoLimiters(t *testing.T) {
	l := New[string](10, nil)
	defer func() {
		if recover() == nil {
			t.Fatal("AllowBoth on one limiter did not panic")
		}
	}()
	AllowBoth(l, "a", 1, l, "b", 1, time.Minute)
}

// Many clients at once: the domain's quota and each client's share are
// counted exactly, and calls naming the two limiters in either order do not
// deadlock.
func TestAllowBothConcurrentCountsExactly(t *testing.T) {
	domains, clients := New[domainKey](1000, nil), New[clientKey](1000, nil)
	const quota, share, nClients, perClient = 300, 20, 40, 50
	var passed atomic.Int64
	perClientPassed := make([]atomic.Int64, nClients)
	var wg sync.WaitGroup
	for g := range nClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ck := clientKey{domainKey{7}, fmt.Sprint("client", g)}
			for i := range perClient {
				var ok bool
				if i%2 == 0 {
					rd, rc := AllowBoth(domains, domainKey{7}, quota, clients, ck, share, time.Hour)
					ok = rd.Allowed && rc.Allowed
				} else {
					rc, rd := AllowBoth(clients, ck, share, domains, domainKey{7}, quota, time.Hour)
					ok = rd.Allowed && rc.Allowed
				}
				if ok {
					passed.Add(1)
					perClientPassed[g].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if passed.Load() != quota {
		t.Fatalf("%d requests passed, the domain's quota is %d", passed.Load(), quota)
	}
	for g := range perClientPassed {
		if n := perClientPassed[g].Load(); n > share {
			t.Fatalf("client %d passed %d times, its share is %d", g, n, share)
		}
	}
}

func BenchmarkAllowBoth(b *testing.B) {
	domains, clients := New[domainKey](100_000, nil), New[clientKey](100_000, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := uint64(0)
		for pb.Next() {
			d := domainKey{i % 1024}
			AllowBoth(domains, d, 1<<30, clients, clientKey{d, "198.51.100.7"}, 1<<30, time.Minute)
			i++
		}
	})
}
