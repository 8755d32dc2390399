package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/faultproxy"
	"github.com/nodebird/nodebird-api/internal/testredis"
	"github.com/nodebird/nodebird-api/internal/testutil"
)

// testWindow is the scenarios' window: short, on a real clock (Redis counts
// on its own), long enough for a scenario's requests to fit in it on a
// busy machine.
const testWindow = 600 * time.Millisecond

// implementation makes three limiters (three tables) of one implementation.
type implementation struct {
	name string
	new  func(t *testing.T) (a, b, c Limiter[string])
}

func identity(s string) string { return s }

// implementations are the Limiters every scenario runs against.
func implementations() []implementation {
	return []implementation{
		{"memory", func(t *testing.T) (Limiter[string], Limiter[string], Limiter[string]) {
			return New[string](1000, nil), New[string](1000, nil), New[string](1000, nil)
		}},
		{"redis", func(t *testing.T) (Limiter[string], Limiter[string], Limiter[string]) {
			s := testStore(t, testredis.Start(t), nil)
			return Table(s, "a", identity, 1000, nil), Table(s, "b", identity, 1000, nil), Table(s, "c", identity, 1000, nil)
		}},
	}
}

// testStore is a Store on the Redis at addr, under a prefix of this test's
// own; logs go to log (nil: discarded).
func testStore(t *testing.T, addr string, log *slog.Logger) *Store {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := OpenRedis("redis://"+addr+"/0", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(c, "test:"+t.Name()+":", time.Second, log)
	t.Cleanup(func() { s.Close() })
	if err := s.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// inWindow reports whether r's reset is within a window.
func inWindow(r Result) bool { return r.Reset > 0 && r.Reset <= testWindow }

// scenarios are the rules every Limiter applies.
var scenarios = []struct {
	name string
	run  func(t *testing.T, l, other, third Limiter[string])
}{
	{"fixed testWindow", func(t *testing.T, l, _, _ Limiter[string]) {
		for i := 1; i <= 5; i++ {
			if r := l.Allow("d:1", 5, testWindow); !r.Allowed || r.Remaining != 5-i || r.Limit != 5 || !inWindow(r) {
				t.Fatalf("request %d: %+v", i, r)
			}
		}
		if r := l.Allow("d:1", 5, testWindow); r.Allowed || r.Remaining != 0 || !inWindow(r) || r.ResetSeconds() != 1 {
			t.Fatalf("6th request: %+v", r)
		}
		if r := l.Allow("d:2", 5, testWindow); !r.Allowed || r.Remaining != 4 {
			t.Fatalf("another key was affected: %+v", r)
		}
		if p := l.Peek("d:1", 5, testWindow); p.Allowed || p.Remaining != 0 {
			t.Fatalf("peek over the limit: %+v", p)
		}
		time.Sleep(testWindow + 50*time.Millisecond) // the window ends: a fresh one starts
		if r := l.Allow("d:1", 5, testWindow); !r.Allowed || r.Remaining != 4 {
			t.Fatalf("after the window: %+v", r)
		}
		l.Reset("d:1")
		if p := l.Peek("d:1", 5, testWindow); !p.Allowed || p.Remaining != 5 || p.Reset != testWindow {
			t.Fatalf("after reset: %+v", p)
		}
		if r := l.Allow("zero", 0, testWindow); r.Allowed {
			t.Fatal("a zero limit allowed a request")
		}
	}},
	{"peek does not count", func(t *testing.T, l, _, _ Limiter[string]) {
		for range 20 {
			l.Peek("k", 1, testWindow)
		}
		if r := l.Allow("k", 1, testWindow); !r.Allowed {
			t.Fatal("peeks were counted")
		}
		if p := l.Peek("k", 1, testWindow); p.Allowed || !inWindow(p) {
			t.Fatalf("peek after the only request: %+v", p)
		}
		time.Sleep(testWindow / 3)
		if p := l.Peek("k", 1, testWindow); p.Reset > testWindow-testWindow/3 || !inWindow(p) {
			t.Fatalf("a peek does not tell the running window's end: %+v", p)
		}
	}},
	{"a refused request starts its counted keys' windows", func(t *testing.T, domains, clients, _ Limiter[string]) {
		if rd, rc := AllowBoth(domains, "fresh", 5, clients, "fresh|c", 0, testWindow); !rd.Allowed || rc.Allowed {
			t.Fatalf("a request the share refuses: domain %+v, client %+v", rd, rc)
		}
		time.Sleep(testWindow / 3)
		if r := domains.Allow("fresh", 5, testWindow); !r.Allowed || r.Remaining != 4 || r.Reset > testWindow-testWindow/3 || !inWindow(r) {
			t.Fatalf("the domain's window did not start with the refused request: %+v", r)
		}
	}},
	{"release", func(t *testing.T, l, _, _ Limiter[string]) {
		l.Allow("k", 2, testWindow)
		l.Allow("k", 2, testWindow)
		if l.Allow("k", 2, testWindow).Allowed {
			t.Fatal("third request allowed")
		}
		l.Release("k")
		if !l.Allow("k", 2, testWindow).Allowed {
			t.Fatal("a released request was not given back")
		}
		l.Release("missing") // no testWindow: nothing happens
		if p := l.Peek("missing", 1, testWindow); !p.Allowed || p.Remaining != 1 {
			t.Fatalf("release of a missing key counted: %+v", p)
		}
	}},
	{"a window counted down to zero keeps its end", func(t *testing.T, l, _, _ Limiter[string]) {
		l.Allow("k", 1, testWindow)
		l.Release("k")
		time.Sleep(testWindow / 3)
		if r := l.Allow("k", 1, testWindow); !r.Allowed || r.Remaining != 0 || r.Reset > testWindow-testWindow/3 || !inWindow(r) {
			t.Fatalf("a request in the window at zero: %+v (the window began %v ago)", r, testWindow/3)
		}
	}},
	{"quota and share at once", func(t *testing.T, domains, clients, _ Limiter[string]) {
		both := func(client string) (Result, Result) {
			return AllowBoth(domains, "d", 5, clients, "d|"+client, 2, testWindow)
		}
		for i := 1; i <= 2; i++ {
			rd, rc := both("a")
			if !rd.Allowed || !rc.Allowed || rd.Remaining != 5-i || rc.Remaining != 2-i || rd.Limit != 5 || rc.Limit != 2 || !inWindow(rd) {
				t.Fatalf("request %d: domain %+v, client %+v", i, rd, rc)
			}
		}
		// The client's share is spent: refused, the domain's count untouched.
		for range 3 {
			if rd, rc := both("a"); rc.Allowed || rc.Remaining != 0 || !rd.Allowed || rd.Remaining != 3 {
				t.Fatalf("over the client's share: domain %+v, client %+v", rd, rc)
			}
		}
		both("b")
		both("b")
		if rd, rc := both("c"); !rd.Allowed || !rc.Allowed || rd.Remaining != 0 || rc.Remaining != 1 {
			t.Fatalf("the domain's last request: domain %+v, client %+v", rd, rc)
		}
		// The domain refuses, spending nothing of the client's share.
		for range 3 {
			if rd, rc := both("c"); rd.Allowed || rd.Remaining != 0 || !rc.Allowed || rc.Remaining != 1 || !inWindow(rd) {
				t.Fatalf("over the domain's quota: domain %+v, client %+v", rd, rc)
			}
		}
		if r := domains.Peek("d", 5, testWindow); r.Allowed || r.Remaining != 0 {
			t.Fatalf("Peek after AllowBoth: %+v", r)
		}
		time.Sleep(testWindow + 50*time.Millisecond)
		if rd, rc := both("a"); !rd.Allowed || !rc.Allowed || rd.Remaining != 4 || rc.Remaining != 1 {
			t.Fatalf("next testWindow: domain %+v, client %+v", rd, rc)
		}
	}},
	{"concurrent requests counted exactly", func(t *testing.T, domains, clients, _ Limiter[string]) {
		const quota, share, nClients, perClient = 60, 4, 20, 10
		var passed atomic.Int64
		perClientPassed := make([]atomic.Int64, nClients)
		var wg sync.WaitGroup
		for g := range nClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perClient {
					rd, rc := AllowBoth(domains, "d", quota, clients, fmt.Sprint("d|", g), share, time.Hour)
					if rd.Allowed && rc.Allowed {
						passed.Add(1)
						perClientPassed[g].Add(1)
					}
					domains.Allow("single", quota, time.Hour)
				}
			}()
		}
		wg.Wait()
		if passed.Load() != quota {
			t.Fatalf("%d requests passed, the quota is %d", passed.Load(), quota)
		}
		for g := range perClientPassed {
			if n := perClientPassed[g].Load(); n > share {
				t.Fatalf("client %d passed %d times, its share is %d", g, n, share)
			}
		}
		if r := domains.Peek("single", quota, time.Hour); r.Allowed || r.Remaining != 0 {
			t.Fatalf("%d Allow calls against %d: %+v", nClients*perClient, quota, r)
		}
	}},
}

func init() {
	scenarios = append(scenarios, struct {
		name string
		run  func(t *testing.T, l, other, third Limiter[string])
	}{"counted only while a gate has room", func(t *testing.T, guesses, domains, clients Limiter[string]) {
		g := Gate[string]{L: guesses, Key: "net", Limit: 2, Per: time.Minute}
		if rg, r := AllowGated(g, domains, "d1", 5, time.Minute); !rg.Allowed || rg.Remaining != 2 || !r.Allowed || r.Remaining != 4 {
			t.Fatalf("gate open: gate %+v, domain %+v", rg, r)
		}
		if rg, rd, rc := AllowBothGated(g, domains, "d2", 5, clients, "d2|net", 2, time.Minute); !rg.Allowed || !rd.Allowed || rd.Remaining != 4 || !rc.Allowed || rc.Remaining != 1 {
			t.Fatalf("gate open: gate %+v, domain %+v, client %+v", rg, rd, rc)
		}
		guesses.Allow("net", 2, time.Minute)
		guesses.Allow("net", 2, time.Minute) // the gate is spent
		for range 3 {
			if rg, r := AllowGated(g, domains, "d1", 5, time.Minute); rg.Allowed || rg.Remaining != 0 || rg.Reset <= 0 || r.Allowed {
				t.Fatalf("gate shut: gate %+v, domain %+v", rg, r)
			}
			if rg, rd, rc := AllowBothGated(g, domains, "d2", 5, clients, "d2|net", 2, time.Minute); rg.Allowed || rd.Allowed || rc.Allowed {
				t.Fatalf("gate shut: gate %+v, domain %+v, client %+v", rg, rd, rc)
			}
		}
		// Nothing was counted while the gate was shut, nor in the gate.
		if r := domains.Peek("d1", 5, time.Minute); r.Remaining != 4 {
			t.Fatalf("d1 after the gate shut: %+v", r)
		}
		if r := clients.Peek("d2|net", 2, time.Minute); r.Remaining != 1 {
			t.Fatalf("d2's client after the gate shut: %+v", r)
		}
		if r := guesses.Peek("net", 2, time.Minute); r.Remaining != 0 {
			t.Fatalf("the gate: %+v", r)
		}
	}})
}

// TestLimiters runs every scenario against every implementation.
func TestLimiters(t *testing.T) {
	for _, impl := range implementations() {
		t.Run(impl.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					a, b, c := impl.new(t)
					sc.run(t, a, b, c)
				})
			}
		})
	}
}

// A key without an expiry (left by hand, or by an older version) is no
// window: a peek sees room, and a request counted there starts a window of
// its own. A Tally counts in its hash's i:ID or r:ID and keeps the latest
// time in li:ID or lr:ID.
func TestRedisKeyWithoutExpiryAndTally(t *testing.T) {
	addr := testredis.Start(t)
	s := testStore(t, addr, nil)
	l := Table(s, "a", identity, 10, nil)
	c := s.Client()
	ctx := context.Background()
	for _, k := range []string{"stale", "peeked"} {
		if err := c.Set(ctx, s.prefix+"a:"+k, 7, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if r := l.Peek("peeked", 3, time.Minute); !r.Allowed || r.Remaining != 3 || r.Reset != time.Minute {
		t.Fatalf("peek of a key without expiry: %+v", r)
	}
	l.Peek("absent", 3, time.Minute)
	// A peek writes nothing.
	if v, ttl := c.Get(ctx, s.prefix+"a:peeked").Val(), c.PTTL(ctx, s.prefix+"a:peeked").Val(); v != "7" || ttl != -1 {
		t.Fatalf("the peeked key became %q with expiry %v", v, ttl)
	}
	if n := c.Exists(ctx, s.prefix+"a:absent").Val(); n != 0 {
		t.Fatal("a peek of an absent key made it")
	}
	if r := l.Allow("stale", 3, time.Minute); !r.Allowed || r.Remaining != 2 || r.Reset != time.Minute {
		t.Fatalf("a request on a key without expiry: %+v", r)
	}
	if ttl := c.PTTL(ctx, s.prefix+"a:stale").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("the key's expiry after the request: %v", ttl)
	}
	gate := Gate[string]{L: l, Key: "gate", Limit: 5, Per: time.Minute}
	// Two requests with room, the later time first; then one refused.
	for i, now := range []int64{2000, 1000, 1500} {
		tl := &Tally{Key: s.prefix + "usage", ID: "42", Now: now}
		_, r := AllowGated(gate, l, "stale", 3, time.Minute, tl)
		if r.Allowed != (i < 2) || !tl.Done {
			t.Fatalf("request %d: %+v, tallied %v", i+1, r, tl.Done)
		}
	}
	// A gate without room: nothing counted, nothing tallied.
	for range 5 {
		l.Allow("gate", 5, time.Minute)
	}
	tl := &Tally{Key: s.prefix + "usage", ID: "42", Now: 3000}
	if rg, r := AllowGated(gate, l, "stale", 3, time.Minute, tl); rg.Allowed || r.Allowed || tl.Done {
		t.Fatalf("a request the gate refused passed or was tallied: gate %+v, %+v, tallied %v", rg, r, tl.Done)
	}
	got := c.HGetAll(ctx, s.prefix+"usage").Val()
	want := map[string]string{"i:42": "2", "li:42": "2000", "r:42": "1", "lr:42": "1500"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tally hash %v, want %v", got, want)
	}
}

// Two instances (two Stores) on one Redis count together.
func TestRedisShared(t *testing.T) {
	addr := testredis.Start(t)
	one, two := testStore(t, addr, nil), testStore(t, addr, nil)
	two.prefix = one.prefix
	l1, l2 := Table(one, "q", identity, 10, nil), Table(two, "q", identity, 10, nil)
	for i := range 6 {
		l := l1
		if i%2 == 1 {
			l = l2
		}
		if r := l.Allow("k", 6, time.Minute); !r.Allowed || r.Remaining != 5-i {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	if l1.Allow("k", 6, time.Minute).Allowed || l2.Allow("k", 6, time.Minute).Allowed {
		t.Fatal("the two instances allowed more than the limit together")
	}
}

// Each check is one round trip: an Allow, a Peek, a quota with its share
// (AllowBoth), both behind a gate, steps with a slower lane (AllowSteps)
// and the counts given back (GiveBack) each send one EVALSHA and nothing
// else.
func TestRedisOneRoundTrip(t *testing.T) {
	addr := testredis.Start(t)
	s := testStore(t, addr, nil)
	a, b, c := Table(s, "a", identity, 10, nil), Table(s, "b", identity, 10, nil), Table(s, "c", identity, 10, nil)
	a.Peek("warm-up", 1, time.Minute) // dials the connection (HELLO)
	before, trips := testredis.CommandCalls(t, addr), s.RoundTrips()
	const n = 50
	for i := range n {
		AllowBoth(a, "d", 1000, b, fmt.Sprint("d|", i%7), 100, time.Minute)
		a.Allow("x", 1000, time.Minute)
		a.Peek("y", 1000, time.Minute)
		AllowBothGated(Gate[string]{L: c, Key: "net", Limit: 5, Per: time.Minute}, a, "d", 1000, b, "d|net", 1000, time.Minute)
		AllowSteps(Step[string]{L: c, Key: "net", Limit: 1000, Per: time.Minute}, Step[string]{L: b, Key: "acct|net", Limit: 5, Per: time.Minute},
			Step[string]{L: a, Key: "acct", Limit: 10, Per: time.Minute, Spill: true}, Step[string]{L: a, Key: "slow:acct", Limit: 1, Per: time.Minute})
		GiveBack(Undo[string]{L: c, Key: "net"}, Undo[string]{L: b, Key: "acct|net", Forget: true}, Undo[string]{L: a, Key: "slow:acct"})
	}
	after := testredis.CommandCalls(t, addr)
	if got := after["evalsha"] - before["evalsha"]; got != 6*n {
		t.Fatalf("%d EVALSHA for %d checks", got, 6*n)
	}
	// Run by the script, or by CommandCalls's own connection.
	inScript := map[string]bool{"get": true, "pttl": true, "set": true, "incr": true, "decr": true, "del": true, "info": true, "hello": true}
	for cmd, calls := range after {
		if cmd != "evalsha" && !inScript[cmd] && calls != before[cmd] {
			t.Fatalf("%s was called %d times besides the scripts", cmd, calls-before[cmd])
		}
	}
	if got := s.RoundTrips() - trips; got != 6*n {
		t.Fatalf("the Store counted %d round trips for %d checks", got, 6*n)
	}
}

// Checks made while a batch is stuck in a Redis that stopped answering
// wait for that batch at most, not for batches of their own after it: the
// first failure switches the Store to local counting, and the batches
// queued behind it fail at once, whether a batch holds one check (sent as
// a single command) or several. (Before, each queued batch dialled and
// waited again: 2.6-2.9 times the timeout with bytes held, 7-13 times with
// dials dropped.) The application's own client is not held back by the
// limits' state.
func TestRedisQueuedChecksWaitOneTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	addr := testredis.Start(t)
	for _, queued := range []int{1, 3} {
		t.Run(fmt.Sprint(queued, " queued"), func(t *testing.T) {
			proxy, err := faultproxy.New(addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { proxy.Close() })
			c, err := OpenRedis("redis://"+proxy.Addr()+"/0", timeout)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			s := NewStore(c, "test:"+t.Name()+":", timeout, slog.New(slog.NewTextHandler(logs, nil)))
			t.Cleanup(func() { s.Close() })
			l := Table(s, "a", identity, 10, nil)
			if r := l.Allow("k", 100, time.Minute); !r.Allowed || s.Local() {
				t.Fatalf("before the fault: %+v, local %v", r, s.Local())
			}
			proxy.Delay()
			var wg sync.WaitGroup
			waited := make([]time.Duration, 1+queued)
			for i := range waited {
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(time.Duration(i) * timeout / 10) // while the first is stuck
					start := time.Now()
					if r := l.Allow("k", 100, time.Minute); !r.Allowed {
						t.Errorf("check %d refused: %+v", i, r)
					}
					waited[i] = time.Since(start)
				}()
			}
			wg.Wait()
			for i, d := range waited {
				if d > timeout*3/2 {
					t.Errorf("check %d waited %v with a timeout of %v (all: %v)", i, d, timeout, waited)
				}
			}
			if !s.Local() || logs.count("redis does not answer") != 1 {
				t.Fatalf("local %v, logged:\n%s", s.Local(), logs.String())
			}
			if err := proxy.Restore(); err != nil {
				t.Fatal(err)
			}
			if err := s.Client().Ping(context.Background()).Err(); err != nil || !s.Local() {
				t.Fatalf("the application's client while the limits count locally: %v, local %v", err, s.Local())
			}
			if err := s.Probe(context.Background()); err != nil || s.Local() {
				t.Fatalf("the probe after the fault: %v, local %v", err, s.Local())
			}
			// One check counted in Redis before the fault; the stuck one may
			// have reached it too when the held bytes went on.
			if r := l.Allow("k", 100, time.Minute); !r.Allowed || r.Remaining != 98 && r.Remaining != 97 {
				t.Fatalf("back on Redis: %+v", r)
			}
		})
	}
}

// A check whose dial gets no answer (a black hole) waits the timeout once,
// from the dial to the reply: go-redis would otherwise dial again from its
// main pool after its pipeline pool's dial failed, for another timeout.
func TestRedisCheckWithDialsDroppedWaitsOneTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	c, err := OpenRedis("redis://"+testredis.Start(t)+"/0", timeout)
	if err != nil {
		t.Fatal(err)
	}
	// The limits' client copies these options (NewStore).
	c.Options().Dialer = func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done() // no answer until the dialer gives up, as net.Dialer does
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	s := NewStore(c, "test:"+t.Name()+":", timeout, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { s.Close() })
	start := time.Now()
	r := Table(s, "a", identity, 10, nil).Allow("k", 100, time.Minute)
	if d := time.Since(start); d > timeout*3/2 || !r.Allowed || !s.Local() {
		t.Fatalf("the check waited %v with a timeout of %v: %+v, local %v", d, timeout, r, s.Local())
	}
}

// A Redis that forgot the scripts (restarted, or SCRIPT FLUSH) answers
// NOSCRIPT: an answer, not a fault. The check runs the script by EVAL and
// the limits stay in Redis.
func TestRedisForgottenScriptsAreNoFault(t *testing.T) {
	s := testStore(t, testredis.Start(t), nil)
	l := Table(s, "a", identity, 10, nil)
	l.Allow("k", 10, time.Minute)
	if err := s.Client().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if r := l.Allow("k", 10, time.Minute); !r.Allowed || r.Remaining != 8 || s.Local() {
		t.Fatalf("after SCRIPT FLUSH: %+v, local %v", r, s.Local())
	}
	// Again with checks at once, so that batches of several meet NOSCRIPT.
	if err := s.Client().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); l.Allow("many", 100, time.Minute) }()
	}
	wg.Wait()
	if r := l.Peek("many", 100, time.Minute); r.Remaining != 50 || s.Local() {
		t.Fatalf("50 checks at once after SCRIPT FLUSH: %+v, local %v", r, s.Local())
	}
}

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct{ testutil.LogBuffer }

func (s *syncBuffer) count(sub string) int { return strings.Count(s.String(), sub) }

// Redis cut or black-holed: every check answers at once from the local
// limits (within the timeout), the switch is logged once, and the probe
// goes back to Redis when it answers.
func TestRedisFallback(t *testing.T) {
	addr := testredis.Start(t)
	proxy, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	logs := &syncBuffer{}
	s := testStore(t, proxy.Addr(), slog.New(slog.NewTextHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx, 50*time.Millisecond)
	a, b := Table(s, "a", identity, 10, nil), Table(s, "b", identity, 10, nil)
	a.Allow("k", 3, time.Minute) // one counted in Redis

	for _, fault := range []struct {
		name  string
		cause func()
	}{{"cut", proxy.Cut}, {"black hole", proxy.Delay}} {
		t.Run(fault.name, func(t *testing.T) {
			fault.cause()
			for i := range 20 {
				start := time.Now()
				ra, rb := AllowBoth(a, "k2", 1000, b, "k2", 1000, time.Minute)
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("request %d took %s", i, d)
				}
				if !ra.Allowed || !rb.Allowed {
					t.Fatalf("request %d refused while counting locally: %+v %+v", i, ra, rb)
				}
				start = time.Now()
				_, refused := AllowSteps(Step[string]{L: a, Key: "k3", Limit: 1000, Per: time.Minute}, Step[string]{L: b, Key: "k3", Limit: 1000, Per: time.Minute})
				GiveBack(Undo[string]{L: a, Key: "k3"}, Undo[string]{L: b, Key: "k3", Forget: true})
				if d := time.Since(start); d > 2*time.Second || refused != -1 {
					t.Fatalf("steps %d took %s, refused %d", i, d, refused)
				}
			}
			if !s.Local() {
				t.Fatal("not counting locally")
			}
			// Locally, the limits hold: 3 more requests fill a local testWindow.
			for range 3 {
				a.Allow("local", 3, time.Minute)
			}
			if a.Allow("local", 3, time.Minute).Allowed {
				t.Fatal("the local limit did not hold")
			}
			if err := proxy.Restore(); err != nil {
				t.Fatal(err)
			}
			if !testutil.Eventually(5*time.Second, func() bool { return !s.Local() }) {
				t.Fatal("the probe did not go back to Redis")
			}
			// Back in Redis: the count made before the fault is still there.
			if r := a.Allow("k", 3, time.Minute); !r.Allowed || r.Remaining != 3-2 {
				t.Fatalf("back in Redis: %+v", r)
			}
			a.Release("k")
		})
	}
	if n := logs.count("redis does not answer"); n != 2 {
		t.Fatalf("%d log lines for 2 faults:\n%s", n, logs.String())
	}
	if n := logs.count("redis answers again"); n != 2 {
		t.Fatalf("%d log lines for 2 recoveries:\n%s", n, logs.String())
	}
}

// Checks made at once go to Redis together (go-redis's autopipelining):
// fewer round trips than checks, each still counted exactly once, and
// each caller gets its own answer.
func TestRedisConcurrentChecksShareRoundTrips(t *testing.T) {
	addr := testredis.Start(t)
	s := testStore(t, addr, nil)
	a := Table(s, "a", identity, 10, nil)
	a.Peek("warm-up", 1, time.Minute)
	before, trips := testredis.CommandCalls(t, addr), s.RoundTrips()
	const n, limit = 400, 300
	var wg sync.WaitGroup
	var allowed atomic.Int64
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := a.Allow("shared", limit, time.Minute)
			if r.Allowed {
				allowed.Add(1)
			}
			// Every caller also has a key of its own: its answer is its own.
			if own := a.Allow(fmt.Sprint("own-", i), 1, time.Minute); !own.Allowed || own.Remaining != 0 {
				t.Errorf("caller %d's own key: %+v", i, own)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := allowed.Load(); got != limit {
		t.Fatalf("%d of %d checks allowed against a limit of %d", got, n, limit)
	}
	if got := testredis.CommandCalls(t, addr)["evalsha"] - before["evalsha"]; got != 2*n {
		t.Fatalf("%d EVALSHA for %d checks", got, 2*n)
	}
	got := s.RoundTrips() - trips
	t.Logf("%d checks at once took %d round trips", 2*n, got)
	if got >= 2*n {
		t.Fatalf("%d round trips for %d checks made at once: none shared", got, 2*n)
	}
}
