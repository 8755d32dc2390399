package ratelimit

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestFixedWindow(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New[string](1000, c.now)
	for i := 1; i <= 10; i++ {
		r := l.Allow("d:1", 10, time.Minute)
		if !r.Allowed || r.Remaining != 10-i || r.Limit != 10 || r.Reset != time.Minute {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	c.advance(20 * time.Second)
	r := l.Allow("d:1", 10, time.Minute)
	if r.Allowed || r.Remaining != 0 || r.Reset != 40*time.Second || r.ResetSeconds() != 40 {
		t.Fatalf("11th request: %+v", r)
	}
	if other := l.Allow("d:2", 10, time.Minute); !other.Allowed || other.Remaining != 9 {
		t.Fatalf("another key was affected: %+v", other)
	}
	if p := l.Peek("d:1", 10, time.Minute); p.Allowed || p.Remaining != 0 {
		t.Fatalf("peek over the limit: %+v", p)
	}
	c.advance(40 * time.Second) // the window ends: a fresh one starts
	if r := l.Allow("d:1", 10, time.Minute); !r.Allowed || r.Remaining != 9 {
		t.Fatalf("after the window: %+v", r)
	}
	l.Reset("d:1")
	if p := l.Peek("d:1", 10, time.Minute); !p.Allowed || p.Remaining != 10 {
		t.Fatalf("after reset: %+v", p)
	}
	if r := l.Allow("zero", 0, time.Minute); r.Allowed {
		t.Fatal("a zero limit allowed a request")
	}
}

func TestPeekDoesNotCount(t *testing.T) {
	l := New[string](100, nil)
	for i := 0; i < 50; i++ {
		l.Peek("k", 1, time.Minute)
	}
	if r := l.Allow("k", 1, time.Minute); !r.Allowed {
		t.Fatal("peeks were counted")
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d", l.Len())
	}
}

func TestBoundedKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New[string](100_000, c.now)
	for i := 0; i < 300_000; i++ {
		l.Allow(fmt.Sprintf("ip:%d", i), 5, time.Minute)
	}
	if n := l.Len(); n > 100_000 {
		t.Fatalf("holds %d keys, bound is 100000", n)
	}
	// Ended windows are the first to go.
	c.advance(2 * time.Minute)
	l.Allow("fresh", 5, time.Minute)
	if n := l.Len(); n > 100_000 {
		t.Fatalf("holds %d keys after expiry", n)
	}
}

// A bounded limiter that many keys go through holds about what it holds
// with its bound of keys once: a Go map only deleted from and inserted
// into grows past its keys (three times the bytes here), so eviction
// copies the shards from time to time (1.2 to 1.3 times).
func TestKeysGoingThroughKeepTheTableSmall(t *testing.T) {
	const bound = 50_000
	heldBy := func(keys int) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := New[uint64](bound, nil)
		for i := range uint64(keys) {
			l.Allow(i, 5, time.Minute)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(l)
		return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
	}
	once, through := heldBy(bound), heldBy(10*bound)
	t.Logf("%d keys: %d B held; %d keys through the same bound: %d B", bound, once, 10*bound, through)
	if through > 2*once {
		t.Fatalf("%d keys through a bound of %d hold %d B, %.1f times what %d keys hold", 10*bound, bound, through, float64(through)/float64(once), bound)
	}
}

// The copies eviction makes keep the counts of the windows they keep.
func TestEvictionKeepsTheCountsItKeeps(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New[uint64](shards*100, c.now)
	for l.Allow(0, 3, time.Hour).Allowed { // key 0 spends its quota of the hour
	}
	// Rounds of about half a shard of keys with a one-second window each,
	// ended by the next round: every eviction finds ended windows and drops
	// those only, and the shards are copied many times over.
	for round := range uint64(100) {
		for i := range uint64(shards * 50) {
			l.Allow(1+round*shards*50+i, 1, time.Second)
		}
		c.advance(2 * time.Second)
	}
	if r := l.Allow(0, 3, time.Hour); r.Allowed || r.Remaining != 0 {
		t.Fatalf("key 0 after the copies: %+v, want its spent quota kept", r)
	}
}

func TestConcurrentCountsExactly(t *testing.T) {
	l := New[string](1000, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if l.Allow("shared", 1000, time.Hour).Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 1000 {
		t.Fatalf("allowed %d of 4000 against a limit of 1000", allowed)
	}
}

// BenchmarkMemory100kKeys reports the heap held by a limiter with 100,000
// distinct keys (bytes/key), the figure issue 5 asks for.
func BenchmarkMemory100kKeys(b *testing.B) {
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ip:203.0.%d.%d", i/256, i%256)
	}
	var held float64
	for n := 0; n < b.N; n++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		l := New[string](100_000, nil)
		for _, k := range keys {
			l.Allow(k, 10, time.Minute)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(l)
	}
	b.ReportMetric(held/1e6, "MB-held")
	b.ReportMetric(held/100_000, "B/key")
}

func BenchmarkAllow(b *testing.B) {
	l := New[string](100_000, nil)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("d:%d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i%len(keys)], 1<<30, time.Minute)
			i++
		}
	})
}

func TestRelease(t *testing.T) {
	l := New[string](100, nil)
	l.Allow("k", 2, time.Minute)
	l.Allow("k", 2, time.Minute)
	if l.Allow("k", 2, time.Minute).Allowed {
		t.Fatal("third request allowed")
	}
	l.Release("k")
	if !l.Allow("k", 2, time.Minute).Allowed {
		t.Fatal("a released request was not given back")
	}
	l.Release("missing") // no window: nothing happens
	if l.Len() != 1 {
		t.Fatalf("Len = %d", l.Len())
	}
}
