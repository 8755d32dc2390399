package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/testutil"
	"github.com/nodebird/nodebird-api/models"
)

// gatedDomains is the domain model whose paged load waits for gate to
// close: a load that takes as long as the test wants.
type gatedDomains struct {
	*models.DomainModel
	gate chan struct{}
}

func (g gatedDomains) CredentialsAfter(ctx context.Context, afterID uint64, limit int) ([]models.Credential, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.DomainModel.CredentialsAfter(ctx, afterID, limit)
}

// TestServingWhileTheViewLoads: Run listens at once and loads the domain
// view in the background. Until it is loaded /readyz answers 503; the API
// meanwhile answers from the database, refusing the secrets and tokens of
// domains revoked, deleted or rotated before the start.
func TestServingWhileTheViewLoads(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		first := newTestServer(t, driver)
		owner := first.user(t, "loading@example.com")
		names := []string{"active", "revoked", "deleted", "rotated", "late"}
		secrets, tokens, ids := map[string]string{}, map[string]string{}, map[string]uint64{}
		var userID uint64
		for _, name := range names {
			secrets[name] = owner.register(name+".example.com", "free")
			tokens[name] = first.issueToken(t, secrets[name])
			claims, err := first.app.tokenManager(nil).Verify(tokens[name])
			if err != nil {
				t.Fatal(err)
			}
			ids[name], userID = claims.DomainID, claims.UserID
		}
		// Changes made before the second instance starts.
		db := first.app.db
		if err := db.Model(&models.Domain{}).Where("id = ?", ids["revoked"]).Update("status", models.StatusRevoked).Error; err != nil {
			t.Fatal(err)
		}
		if err := first.app.domains.Delete(ctx, ids["deleted"], userID); err != nil {
			t.Fatal(err)
		}
		_, rotated, err := first.app.domains.Rotate(ctx, ids["rotated"], userID)
		if err != nil {
			t.Fatal(err)
		}

		// The second instance: its load waits for the gate.
		gate := make(chan struct{})
		cfg := testConfig()
		cfg.UsageFlush, cfg.ShutdownGrace = time.Second, 5*time.Second
		app, logs := buildApp(t, db, cfg, false, func(a *App) {
			a.cache = domaincache.New(gatedDomains{a.domains, gate}, cfg.DomainCacheMax, a.log)
			a.access = access.New(a.cache, a.tokenManager(nil), a.tokenCounts, apiLimits(a.config, a.limitStore, nil))
		})
		runCtx, stop := context.WithCancel(ctx)
		addr, done := make(chan string, 1), make(chan error, 1)
		go func() { done <- app.Run(runCtx, func(listening string) { addr <- listening }) }()
		var listening string
		select {
		case listening = <-addr:
		case err := <-done:
			t.Fatalf("Run: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not listen while the view was loading")
		}
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
		s := &testServer{Server: &httptest.Server{URL: "http://" + listening}, app: app, log: logs}
		c := s.client(t)

		api := func(phase string) {
			t.Helper()
			for _, tc := range []struct {
				name string
				req  apiReq
				want int
			}{
				{"token for an active domain's secret", jsonSecret(secrets["active"]), 200},
				{"token for a revoked domain's secret", jsonSecret(secrets["revoked"]), 401},
				{"token for a deleted domain's secret", jsonSecret(secrets["deleted"]), 401},
				{"token for a rotated-away secret", jsonSecret(secrets["rotated"]), 401},
				{"token for the new secret", jsonSecret(rotated), 200},
				{"an active domain's token", verifyReq(tokens["active"]), 200},
				{"a revoked domain's token", verifyReq(tokens["revoked"]), 401},
				{"a deleted domain's token", verifyReq(tokens["deleted"]), 401},
				{"a token of the rotated-away secret", verifyReq(tokens["rotated"]), 401},
			} {
				if r := s.call(t, tc.req); r.Status != tc.want {
					t.Errorf("%s: %s: %d, want %d\n%s", phase, tc.name, r.Status, tc.want, r.Body)
				}
			}
		}

		// Loading.
		for _, path := range []string{"/readyz", "/readyz"} {
			if r := c.get(path); r.Status != http.StatusServiceUnavailable || strings.TrimSpace(r.Body) != `{"status":"loading"}` {
				t.Fatalf("%s while loading: %d %s, want 503 loading", path, r.Status, r.Body)
			}
		}
		if r := c.get("/healthz"); r.Status != http.StatusOK {
			t.Errorf("/healthz while loading: %d", r.Status)
		}
		api("loading")
		// A rotation made on this instance meanwhile takes effect at once,
		// without waiting for the load.
		_, late, err := app.domains.Rotate(ctx, ids["late"], userID)
		if err != nil {
			t.Fatal(err)
		}
		changed := make(chan struct{})
		go func() { app.domainChanged(ids["late"]); close(changed) }()
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatal("a domain change waited for the load")
		}
		lateChecks := func(phase string) {
			t.Helper()
			for _, tc := range []struct {
				name string
				req  apiReq
				want int
			}{
				{"token for the secret rotated away while loading", jsonSecret(secrets["late"]), 401},
				{"a token of that secret", verifyReq(tokens["late"]), 401},
				{"token for its new secret", jsonSecret(late), 200},
			} {
				if r := s.call(t, tc.req); r.Status != tc.want {
					t.Errorf("%s: %s: %d, want %d\n%s", phase, tc.name, r.Status, tc.want, r.Body)
				}
			}
		}
		lateChecks("loading")
		if app.cache.Loaded() {
			t.Fatal("the view loaded through the gate")
		}

		// Loaded.
		close(gate)
		if !testutil.Eventually(10*time.Second, func() bool { return c.get("/readyz").Status == http.StatusOK }) {
			t.Fatalf("/readyz after the load: %d\n%s", c.get("/readyz").Status, logs)
		}
		if !strings.Contains(logs.String(), "domain view loaded") {
			t.Errorf("the load is not logged:\n%s", logs)
		}
		api("loaded")
		lateChecks("loaded")
	})
}
