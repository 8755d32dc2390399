//go:build unix

package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testredis"
	"github.com/nodebird/nodebird-api/internal/token"
)

// The hot paths of the API, one by one and through the whole handler,
// with the production settings the load test uses (cmd/loadtest). Besides
// ns/op they report cpu-ns/op, the process's CPU time per operation (GC
// included), which a busy machine inflates far less than wall time.
// Profile them with, for example:
//
//	go test ./handlers -run '^$' -bench Hot -benchmem -cpuprofile cpu.out
//	go tool pprof -top -focus BenchmarkHot handlers.test cpu.out

// benchDomains is how many domains the benchmarks' database holds.
const benchDomains = 1000

// hotApp is the whole app on a fresh SQLite database with benchDomains
// active domains, configured as in production: rate limits on (quotas
// above what a benchmark sends, so every request is counted and none
// refused), JSON request logs. NODEBIRD_BENCH_LIMITS=off turns the limits
// off, for comparison; NODEBIRD_BENCH_LIMITS=redis counts them in a
// redis-server of the benchmark's own (as with REDIS_URL).
type hotApp struct {
	app     *App
	handler http.Handler
	secrets []string
}

func newHotApp(b *testing.B) *hotApp {
	b.Helper()
	cfg := testConfig()
	cfg.Env, cfg.RateLimits, cfg.Metrics = "production", os.Getenv("NODEBIRD_BENCH_LIMITS") != "off", true
	cfg.FreeTokenRPM, cfg.PremiumTokenRPM, cfg.VerifyRPM = 1<<30, 1<<30, 1<<30
	cfg.DomainCacheMax = 100000
	if os.Getenv("NODEBIRD_BENCH_LIMITS") == "redis" {
		cfg.RedisURL, cfg.RedisTimeout = "redis://"+testredis.Start(b)+"/0", time.Second
	}
	// Production logs: one JSON line per request, here thrown away.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	app, err := New(cfg, log, testdb.Fresh(b, "sqlite"), os.DirFS(".."))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	h := &hotApp{app: app, handler: app.handler}
	for u := range benchDomains / 10 {
		user, err := app.users.Insert(ctx, fmt.Sprintf("bench%d@example.com", u), fmt.Sprintf("bench%d", u), "password123")
		if err != nil {
			b.Fatal(err)
		}
		for d := range 10 {
			_, s, err := app.domains.Insert(ctx, user.ID, fmt.Sprintf("site%d-%d.example.com", u, d), "premium")
			if err != nil {
				b.Fatal(err)
			}
			h.secrets = append(h.secrets, s)
		}
	}
	if err := app.cache.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	return h
}

// issue gets a token for secret i through the app's token manager.
func (h *hotApp) issue(b *testing.B, i int) string {
	b.Helper()
	d, err := h.app.cache.Lookup(context.Background(), secret.Sum(h.secrets[i]))
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := h.app.tokenManager(nil).Issue(token.Subject{UserID: d.UserID, Nick: d.Nick, DomainID: d.ID, SecretVersion: d.SecretVersion, Host: d.Host})
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// BenchmarkHotSecretCheck is what POST /v1/token does with the secret:
// shape and checksum, hash, in-memory lookup.
func BenchmarkHotSecretCheck(b *testing.B) {
	h := newHotApp(b)
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		s := h.secrets[i%len(h.secrets)]
		i++
		if !secret.WellFormed(s) {
			b.Fatal("a generated secret is not well formed")
		}
		if d, err := h.app.cache.Lookup(ctx, secret.Sum(s)); err != nil || !d.Active {
			b.Fatalf("lookup: %v", err)
		}
	}
}

// BenchmarkHotTokenSign is the signing of one token.
func BenchmarkHotTokenSign(b *testing.B) {
	h := newHotApp(b)
	d, err := h.app.cache.Lookup(context.Background(), secret.Sum(h.secrets[0]))
	if err != nil {
		b.Fatal(err)
	}
	sub := token.Subject{UserID: d.UserID, Nick: d.Nick, DomainID: d.ID, SecretVersion: d.SecretVersion, Host: d.Host}
	m := h.app.tokenManager(nil)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, _, err := m.Issue(sub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotTokenVerify is what GET /v1/test does with a token: verify
// it, then check its domain and secret version in memory.
func BenchmarkHotTokenVerify(b *testing.B) {
	h := newHotApp(b)
	tok := h.issue(b, 0)
	m := h.app.tokenManager(nil)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		c, err := m.Verify(tok)
		if err != nil {
			b.Fatal(err)
		}
		if h.app.cache.Check(c.DomainID, c.SecretVersion) != domaincache.Valid {
			b.Fatal("a fresh token's domain is not valid")
		}
	}
}

// BenchmarkHotIssueHTTP is POST /v1/token through every middleware.
func BenchmarkHotIssueHTTP(b *testing.B) {
	h := newHotApp(b)
	bodies := make([]string, len(h.secrets))
	for i, s := range h.secrets {
		bodies[i] = `{"clientSecret":"` + s + `"}`
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/token", strings.NewReader(bodies[i%len(bodies)]))
		i++
		req.Header.Set("Content-Type", "application/json")
		h.serve(b, req, http.StatusOK)
	}
}

// BenchmarkHotVerifyHTTP is GET /v1/test through every middleware.
func BenchmarkHotVerifyHTTP(b *testing.B) {
	h := newHotApp(b)
	auth := make([]string, 100)
	for i := range auth {
		auth[i] = "Bearer " + h.issue(b, i)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/v1/test", nil)
		req.Header.Set("Authorization", auth[i%len(auth)])
		i++
		h.serve(b, req, http.StatusOK)
	}
}

// BenchmarkHotRejectForgedHTTP is GET /v1/test with a token whose
// signature is wrong, through every middleware.
func BenchmarkHotRejectForgedHTTP(b *testing.B) {
	h := newHotApp(b)
	tok := h.issue(b, 0)
	auth := "Bearer " + tok[:len(tok)-4] + "AAAA"
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/v1/test", nil)
		req.Header.Set("Authorization", auth)
		h.serve(b, req, http.StatusUnauthorized)
	}
}

// BenchmarkHotRequestOverhead is the cost of the benchmarks' harness alone
// (request, recorder, router, middleware, a 404 answer), to subtract.
func BenchmarkHotRequestOverhead(b *testing.B) {
	h := newHotApp(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.serve(b, httptest.NewRequest(http.MethodGet, "/v1/none", nil), http.StatusNotFound)
	}
}

// serve runs req through the app and fails unless it answered want.
func (h *hotApp) serve(b *testing.B, req *http.Request, want int) {
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, rec.Code, want, rec.Body)
	}
}

// reportCPU starts counting the process's CPU time; the function it returns
// reports it per operation. Call it just before the loop: defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

// cpuTime is the CPU time the process has used, all threads together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHotParallelIssueHTTP is BenchmarkHotIssueHTTP with many
// requests at once, as under load: with NODEBIRD_BENCH_LIMITS=redis the
// limit scripts of requests waiting together go to Redis together.
func BenchmarkHotParallelIssueHTTP(b *testing.B) {
	h := newHotApp(b)
	bodies := make([]string, len(h.secrets))
	for i, s := range h.secrets {
		bodies[i] = `{"clientSecret":"` + s + `"}`
	}
	h.parallel(b, func(i int) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/v1/token", strings.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Content-Type", "application/json")
		return req
	})
}

// BenchmarkHotParallelVerifyHTTP is BenchmarkHotVerifyHTTP with many
// requests at once.
func BenchmarkHotParallelVerifyHTTP(b *testing.B) {
	h := newHotApp(b)
	auth := make([]string, 100)
	for i := range auth {
		auth[i] = "Bearer " + h.issue(b, i)
	}
	h.parallel(b, func(i int) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/v1/test", nil)
		req.Header.Set("Authorization", auth[i%len(auth)])
		return req
	})
}

// parallel serves the requests newRequest makes from 32 goroutines per
// CPU, each expected to answer 200.
func (h *hotApp) parallel(b *testing.B, newRequest func(i int) *http.Request) {
	b.ReportAllocs()
	b.SetParallelism(32)
	var n atomic.Int64
	defer reportCPU(b)()
	b.ResetTimer() // the app's set-up is not measured
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := newRequest(int(n.Add(1)))
			rec := httptest.NewRecorder()
			h.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("%s %s: status %d, want 200: %s", req.Method, req.URL.Path, rec.Code, rec.Body)
				return
			}
		}
	})
}
