package handlers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/faultproxy"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
	"github.com/nodebird/nodebird-api/models"
)

// hangBound is how long a request may take while the database is down.
// The target is about two seconds (the 1.5s query timeout plus rendering);
// the bound is generous because the machine is shared.
const hangBound = 5 * time.Second

// driverWords must never reach a client.
var driverWords = []string{"mysql", "MySQL", "dial tcp", "connection refused", "invalid connection",
	"i/o timeout", "deadline exceeded", "context canceled", "broken pipe", "EOF", "Error 1", "sql:", "gorm"}

// TestDatabaseFaults puts a TCP proxy between the app and MariaDB, cuts it
// (connections closed, new ones refused) and delays it (every byte held),
// and checks what each kind of request answers meanwhile and afterwards.
func TestDatabaseFaults(t *testing.T) {
	server := testdb.MySQLServer(t)
	if server == "" {
		t.Skip("the database fault tests need MySQL: set " + testdb.EnvDSN)
	}
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dsn := testdb.CreateDatabase(t, server)

	// A direct connection, for what the app must not know in advance.
	direct, err := models.Open(ctx, models.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: 2, StartupTimeout: 5 * time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d, _ := direct.DB(); d.Close() })
	if err := models.Migrate(ctx, direct); err != nil {
		t.Fatal(err)
	}

	// The app's connection goes through the proxy.
	mc, _ := mysql.ParseDSN(dsn)
	proxy, err := faultproxy.New(mc.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	mc.Addr = proxy.Addr()
	db, err := models.Open(ctx, models.Options{Driver: "mysql", DSN: mc.FormatDSN(), MaxOpenConns: 10, MaxIdleConns: 10,
		ConnMaxLifetime: time.Minute, StartupTimeout: 5 * time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d, _ := db.DB(); d.Close() })
	s, logs := newOpsServer(t, "mysql", db, func(c *config.Config) {
		c.DBQueryTimeout = 1500 * time.Millisecond // the default
		c.RateLimits = true                        // so that a failed login would count
		c.ClientShares = 1                         // one client asks the free domain for many tokens
	})

	const password = "correct horse battery"
	owner := s.user(t, "owner@example.com")
	cached := owner.register("cached.example.com", "free")
	r, tok := opsToken(t, s, cached)
	if r.Status != http.StatusOK {
		t.Fatalf("token: %d", r.Status)
	}
	s.user(t, "bob@example.com")
	u, err := s.app.users.GetByEmail(ctx, "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// uncachedSecret registers a domain elsewhere (straight in the
	// database): this instance does not have its secret in memory.
	uncachedSecret := func(host string) string {
		t.Helper()
		_, sec, err := models.NewDomainModel(direct, 5*time.Second).Insert(ctx, u.ID, host, "free")
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	ownerCSRF := owner.csrf()

	form := func(c *client, path, csrf string, v url.Values) func() response {
		return func() response {
			v.Set("_csrf", csrf)
			return c.do("POST", path, strings.NewReader(v.Encode()),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		}
	}
	type probe struct {
		name   string
		do     func() response
		status int
		api    bool // a JSON answer, else an HTML page
	}
	// probes are what a signed-out visitor and the signed-in owner try
	// while the database is down; login is bob's, with the right password.
	probes := func(visitor *client, login func() response, uncached, newEmail string) []probe {
		csrf := visitor.csrf()
		return []probe{
			{"/healthz", func() response { return visitor.get("/healthz") }, 200, true},
			{"/v1/test with a valid token", func() response {
				return visitor.do("GET", "/v1/test", nil, map[string]string{"Authorization": tok})
			}, 200, true},
			{"/v1/token, secret in memory", func() response { r, _ := opsToken(t, s, cached); return r }, 200, true},
			{"/v1/token, secret not in memory", func() response { r, _ := opsToken(t, s, uncached); return r }, 503, true},
			{"/readyz", func() response { return visitor.get("/readyz") }, 503, true},
			{"login", login, 503, false},
			{"sign up", form(visitor, "/auth/join", csrf,
				url.Values{"email": {newEmail}, "nick": {"new"}, "password": {password}}), 503, false},
			{"dashboard", func() response { return owner.get("/") }, 503, false},
			{"register a domain", form(owner, "/domain", ownerCSRF,
				url.Values{"host": {"new.example.com"}, "type": {"free"}}), 503, false},
		}
	}
	bobLogin := func() (*client, func() response) {
		c := s.client(t)
		return c, form(c, "/auth/login", c.csrf(), url.Values{"email": {"bob@example.com"}, "password": {password}})
	}

	check := func(t *testing.T, p probe) {
		t.Helper()
		start := time.Now()
		r := p.do()
		took := time.Since(start)
		t.Logf("%-32s %d in %v", p.name, r.Status, took.Round(time.Millisecond))
		if r.Status != p.status {
			t.Errorf("%s: status %d, want %d\n%.300s", p.name, r.Status, p.status, r.Body)
		}
		if took > hangBound {
			t.Errorf("%s: took %v (more than %v)", p.name, took, hangBound)
		}
		ct := r.Header.Get("Content-Type")
		if p.api != strings.HasPrefix(ct, "application/json") || !p.api && !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", p.name, ct)
		}
		if r.Status == 503 && p.api && p.name != "/readyz" {
			var body apiErrorBody
			if json.Unmarshal([]byte(r.Body), &body) != nil || body.Code != 503 || body.Message == "" {
				t.Errorf("%s: body %s, want {code: 503, message}", p.name, r.Body)
			}
		}
		if r.Status == 503 && r.Header.Get("Retry-After") == "" && p.name != "/readyz" {
			t.Errorf("%s: 503 without Retry-After", p.name)
		}
		mustNotContain(t, p.name, r.Body, append(driverWords, proxy.Addr())...)
	}

	// recovered waits (a few seconds at most, no restart) for the database
	// to serve again, then checks that everything works at the first try.
	recovered := func(t *testing.T, visitor *client, uncached, round string) {
		t.Helper()
		tries := 0
		if !testutil.Eventually(10*time.Second, func() bool { tries++; return visitor.get("/readyz").Status == http.StatusOK }) {
			t.Fatalf("the app did not recover in 10s after the database came back")
		}
		t.Logf("ready again after %d /readyz tries", tries)
		if r := owner.get("/"); r.Status != http.StatusOK || !strings.Contains(r.Body, "cached.example.com") {
			t.Errorf("dashboard after recovery: %d", r.Status)
		}
		if r, tok := opsToken(t, s, uncached); r.Status != http.StatusOK || tok == "" {
			t.Errorf("/v1/token (secret not in memory) after recovery: %d %s", r.Status, r.Body)
		}
		host := round + ".back.example.com"
		if r := form(owner, "/domain", ownerCSRF, url.Values{"host": {host}, "type": {"free"}})(); r.Status != http.StatusSeeOther {
			t.Errorf("register a domain after recovery: %d", r.Status)
		}
	}

	for _, mode := range []struct {
		name  string
		cause func()
		// logins are extra login attempts during the outage (each takes
		// the query timeout when delayed, so only where they are cheap).
		logins int
	}{
		{"cut", proxy.Cut, 5},
		{"delay", proxy.Delay, 0},
	} {
		t.Run(mode.name, func(t *testing.T) {
			visitor, login := bobLogin()
			newEmail := "carol-" + mode.name + "@example.com"
			uncached := uncachedSecret(mode.name + ".uncached.example.com")
			ps := probes(visitor, login, uncached, newEmail)
			mode.cause()
			for _, p := range ps {
				check(t, p)
			}
			// Outage answers are no failed logins: with the probe's, more of
			// them than the per-account limit (5), then the right password
			// still works.
			for range mode.logins {
				check(t, probe{"login again", login, 503, false})
			}
			if err := proxy.Restore(); err != nil {
				t.Fatal(err)
			}
			recovered(t, visitor, uncached, mode.name)
			if r := login(); r.Status != http.StatusSeeOther {
				t.Errorf("login with the right password after the outage: %d (outage answers counted as failures?)", r.Status)
			}
			if u, err := s.app.users.GetByEmail(ctx, newEmail); err == nil {
				t.Errorf("the sign-up answered 503 created user %d", u.ID)
			}
		})
	}

	// The log says what failed, for the operator; the responses did not.
	if !strings.Contains(logs.String(), `"status":503`) {
		t.Error("no 503 request line in the log")
	}
}
