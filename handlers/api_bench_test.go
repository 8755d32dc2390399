package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// Benchmarks of the token API through the Echo handler (no network), on
// SQLite with 100 domains in the view, production-style JSON request logs
// thrown away. Run them with
//
//	go test -run='^$' -bench=. -benchmem ./handlers/ ./internal/...

// apiBench is an App with benchDomainCount domains and a token for the first.
type apiBench struct {
	app     *App
	h       http.Handler
	secrets []string
	token   string
}

const benchDomainCount = 100

func newAPIBench(b *testing.B) *apiBench {
	b.Helper()
	ctx := context.Background()
	cfg := testConfig()
	cfg.TokenTTL = time.Hour // no token expires during a run
	app, _ := buildApp(b, testdb.Fresh(b, "sqlite"), cfg, false, func(a *App) {
		a.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	})
	u, err := app.Users.Insert(ctx, "bench@example.com", "bench", "password123")
	if err != nil {
		b.Fatal(err)
	}
	ab := &apiBench{app: app, h: app.Handler()}
	for i := range benchDomainCount {
		_, sec, err := app.Domains.Insert(ctx, u.ID, fmt.Sprintf("site%d.example.com", i), models.PlanFree)
		if err != nil {
			b.Fatal(err)
		}
		ab.secrets = append(ab.secrets, sec)
	}
	if err := app.Cache.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	rec := ab.serve(b, ab.tokenRequest(0), http.StatusOK)
	ab.token = jsonField(rec.Body.String(), "token")
	return ab
}

func (ab *apiBench) tokenRequest(i int) *http.Request {
	req := httptest.NewRequest("POST", "/v1/token", strings.NewReader(`{"clientSecret":"`+ab.secrets[i]+`"}`))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func (ab *apiBench) serve(b *testing.B, req *http.Request, want int) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	ab.h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("status %d, want %d: %s", rec.Code, want, rec.Body)
	}
	return rec
}

// jsonField cuts a string field out of a flat JSON object.
func jsonField(body, name string) string {
	_, after, ok := strings.Cut(body, `"`+name+`":"`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, `"`)
	return v
}

// BenchmarkIssueToken: POST /v1/token with a JSON body, the secret in memory.
func BenchmarkIssueToken(b *testing.B) {
	ab := newAPIBench(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		ab.serve(b, ab.tokenRequest(i%benchDomainCount), http.StatusOK)
		i++
	}
}

// BenchmarkVerifyToken: GET /v1/test with "Authorization: Bearer <token>".
func BenchmarkVerifyToken(b *testing.B) {
	ab := newAPIBench(b)
	auth := "Bearer " + ab.token
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/test", nil)
		req.Header.Set("Authorization", auth)
		ab.serve(b, req, http.StatusOK)
	}
}

// BenchmarkRejectForgedToken: GET /v1/test with a token whose signature is wrong.
func BenchmarkRejectForgedToken(b *testing.B) {
	ab := newAPIBench(b)
	auth := "Bearer " + ab.token[:len(ab.token)-4] + "AAAA"
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/v1/test", nil)
		req.Header.Set("Authorization", auth)
		ab.serve(b, req, http.StatusUnauthorized)
	}
}

// BenchmarkSecretCheck: what /v1/token does to find a secret's domain
// when the secret is in memory.
func BenchmarkSecretCheck(b *testing.B) {
	ab := newAPIBench(b)
	ctx := context.Background()
	sec := ab.secrets[benchDomainCount/2]
	b.ReportAllocs()
	for b.Loop() {
		if !secret.WellFormed(sec) {
			b.Fatal("not well-formed")
		}
		if _, err := ab.app.Cache.Lookup(ctx, secret.Hash(sec)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestOverhead is the cost of the benchmarks' harness alone
// (request, recorder, router, middleware, a 404 answer), to subtract.
func BenchmarkRequestOverhead(b *testing.B) {
	ab := newAPIBench(b)
	b.ReportAllocs()
	for b.Loop() {
		ab.serve(b, httptest.NewRequest("GET", "/v1/none", nil), http.StatusNotFound)
	}
}
