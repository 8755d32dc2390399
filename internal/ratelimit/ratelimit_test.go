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
