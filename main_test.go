package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/nodebird/nodebird-api/internal/faultproxy"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
	"github.com/nodebird/nodebird-api/models"
)

// instance is run() serving in the background.
type instance struct {
	addr   string
	errc   chan error
	cancel context.CancelFunc
	logs   string // path of the log file
}

// baseEnv is a development setup on SQLite in dir, on a free port.
func baseEnv(dir string) map[string]string {
	return map[string]string{
		"DB_DRIVER": "sqlite", "DB_DSN": filepath.Join(dir, "nodebird.db"), "DATA_DIR": dir,
		"PORT": "0", "BCRYPT_COST": "4",
	}
}

// productionMail adds the mail settings production requires (no mail is
// sent to it in these tests).
func productionMail(env map[string]string) {
	env["SMTP_URL"], env["BASE_URL"] = "smtp://127.0.0.1:1", "https://api.example.com"
}

// start runs the application with env and waits until it listens.
func start(t testing.TB, env map[string]string) *instance {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{errc: make(chan error, 1), cancel: cancel, logs: logf.Name()}
	ready := make(chan string, 1)
	go func() {
		in.errc <- run(ctx, nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logf, ready)
	}()
	select {
	case in.addr = <-ready:
	case err := <-in.errc:
		cancel()
		t.Fatalf("run ended before serving: %v\n%s", err, in.log(t))
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("not serving after 60s\n%s", in.log(t))
	}
	// It listens at once, and is ready once the domain view is loaded.
	if !testutil.Eventually(30*time.Second, func() bool { return readyz(in.addr) == http.StatusOK }) {
		cancel()
		t.Fatalf("not ready after 30s\n%s", in.log(t))
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-in.errc:
		case <-time.After(30 * time.Second):
		}
	})
	return in
}

// readyz is the status of GET /readyz at addr (0 if it did not answer).
func readyz(addr string) int {
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func (in *instance) log(t testing.TB) string {
	b, _ := os.ReadFile(in.logs)
	return string(b)
}

// stop cancels run's context (what a signal does) and returns run's result.
func (in *instance) stop(t testing.TB) error {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.errc:
		in.errc <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return 30s after the shutdown began")
		return nil
	}
}

// seedDomain creates a user and a domain in the SQLite database at dsn and
// returns the domain's client secret.
func seedDomain(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	db, err := models.Open(ctx, models.Options{Driver: "sqlite", DSN: dsn, StartupTimeout: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s, _ := db.DB(); s.Close() }()
	if err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	u, err := models.NewUserModel(db, 5*time.Second, 4).Insert(ctx, "shut@example.com", "shut", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, err := models.NewDomainModel(db, 5*time.Second).Insert(ctx, u.ID, "shut.example.com", "premium")
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// TestGracefulShutdown: on SIGTERM readiness fails at once, a request in
// flight completes with its answer, new connections are refused, and run
// returns nil.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	env := baseEnv(dir)
	sec := seedDomain(t, env["DB_DSN"])
	env["SHUTDOWN_DRAIN"] = "2s" // readiness fails for 2s before the listener closes
	env["SHUTDOWN_GRACE"] = "20s"
	in := start(t, env)
	base := "http://" + in.addr

	// A keep-alive connection, open before the shutdown.
	keepAlive := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	reused := false
	get := func(path string) (int, string, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		res, err := keepAlive.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), nil
	}
	if status, _, err := get("/readyz"); err != nil || status != http.StatusOK {
		t.Fatalf("readyz before the shutdown: %d %v", status, err)
	}

	// A request in flight: its headers are in, and the handler has started
	// reading the body (the server said 100 Continue), which is held back.
	body := `{"clientSecret":"` + sec + `"}`
	slow, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(slow, "POST /v1/token HTTP/1.1\r\nHost: nodebird\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	br := bufio.NewReader(slow)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("in-flight request: %q %v", line, err)
	}
	br.ReadString('\n') // the blank line after 100 Continue

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// Readiness fails at once, on the connection that was already open.
	var status int
	var text string
	if !testutil.Eventually(5*time.Second, func() bool { status, text, err = get("/readyz"); return status != http.StatusOK }) {
		t.Fatalf("readyz still %d after SIGTERM", status)
	}
	if status != http.StatusServiceUnavailable || !strings.Contains(text, "shutting down") || !reused {
		t.Errorf("readyz during the shutdown: %d %q %v (reused connection: %v)", status, text, err, reused)
	}
	if s, _, _ := get("/healthz"); s != http.StatusOK {
		t.Errorf("healthz during the drain: %d", s)
	}

	// After the drain, the listener is closed: new connections are refused
	// while the request in flight still holds the server open.
	refused := testutil.Eventually(10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", in.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if !refused {
		t.Fatal("new connections still accepted 10s after SIGTERM")
	}
	select {
	case err := <-in.errc:
		t.Fatalf("run returned with a request in flight: %v", err)
	default:
	}

	// The request in flight finishes with a proper answer.
	if _, err := io.WriteString(slow, body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	var tok struct {
		Token string `json:"token"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &tok) != nil || tok.Token == "" {
		t.Fatalf("in-flight request: %d %s", res.StatusCode, b)
	}

	select {
	case err := <-in.errc:
		in.errc <- err
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after the last request finished")
	}
	logs := in.log(t)
	for _, want := range []string{"shutting down", `msg=stopped`, `route=/v1/token status=200`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{sec, tok.Token} {
		if strings.Contains(logs, secret) {
			t.Error("a secret or token is in the log")
		}
	}
}

// TestShutdownGraceRunsOut: a request still unfinished when the grace
// period ends is cut, and run still ends cleanly.
func TestShutdownGraceRunsOut(t *testing.T) {
	env := baseEnv(t.TempDir())
	env["SHUTDOWN_GRACE"] = "300ms"
	in := start(t, env)
	stuck, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	stuck.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(stuck, "POST /v1/token HTTP/1.1\r\nHost: nodebird\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(stuck)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("stuck request: %q %v", line, err)
	}
	br.ReadString('\n')
	if err := in.stop(t); err != nil { // the body never comes
		t.Fatalf("run: %v", err)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("the stuck connection is still open after run returned")
	}
	if logs := in.log(t); !strings.Contains(logs, "shutdown grace period over") || !strings.Contains(logs, "msg=stopped") {
		t.Errorf("log:\n%s", logs)
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var attemptsRe = regexp.MustCompile(`after (\d+) attempts`)

func TestStartupGivesUpOnUnreachableDatabase(t *testing.T) {
	addr := closedAddr(t)
	env := baseEnv(t.TempDir())
	env["DB_DRIVER"], env["DB_DSN"], env["DB_STARTUP_TIMEOUT"] = "mysql", "nodebird:pw-not-shown@tcp("+addr+")/nodebird", "1500ms"
	logf, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	began := time.Now()
	err = run(context.Background(), nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logf, nil)
	if err == nil {
		t.Fatal("run served without a database")
	}
	if took := time.Since(began); took < 1500*time.Millisecond {
		t.Errorf("gave up after %v, before DB_STARTUP_TIMEOUT (1.5s)", took)
	}
	msg := err.Error()
	for _, want := range []string{"MySQL at " + addr + " is unreachable", "DB_STARTUP_TIMEOUT", "1.5s", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if m := attemptsRe.FindStringSubmatch(msg); m == nil || m[1] == "1" {
		t.Errorf("error %q: want several attempts", msg)
	}
	logs, _ := os.ReadFile(logf.Name())
	if !strings.Contains(string(logs), "database not reachable yet, retrying") {
		t.Errorf("no retry logged:\n%s", logs)
	}
	if strings.Contains(msg+string(logs), "pw-not-shown") {
		t.Error("the DSN's password was printed")
	}
}

// TestStartupWaitsForDatabase: a database that appears during the
// start-up window is used, without a restart.
func TestStartupWaitsForDatabase(t *testing.T) {
	server := testdb.MySQLServer(t)
	if server == "" {
		t.Skip("needs MySQL: set " + testdb.EnvDSN)
	}
	mc, _ := mysql.ParseDSN(testdb.CreateDatabase(t, server))
	proxy, err := faultproxy.New(mc.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	proxy.Cut()
	mc.Addr = proxy.Addr()
	env := baseEnv(t.TempDir())
	env["DB_DRIVER"], env["DB_DSN"], env["DB_STARTUP_TIMEOUT"] = "mysql", mc.FormatDSN(), "60s"

	logf, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, errc := make(chan string, 1), make(chan error, 1)
	go func() {
		errc <- run(ctx, nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logf, ready)
	}()
	retried := testutil.Eventually(20*time.Second, func() bool {
		b, _ := os.ReadFile(logf.Name())
		return strings.Count(string(b), "database not reachable yet") >= 2
	})
	if !retried {
		t.Fatal("no retries logged while the database was away")
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	select {
	case addr := <-ready:
		if !testutil.Eventually(30*time.Second, func() bool { return readyz(addr) == http.StatusOK }) {
			t.Fatalf("readyz: %d", readyz(addr))
		}
	case err := <-errc:
		t.Fatalf("run gave up although the database came back: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("not serving 60s after the database came back")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestLogFormat: readable text in development, JSON in production, one
// line per request with its fields either way.
func TestLogFormat(t *testing.T) {
	for _, tc := range []struct {
		env  string
		json bool
	}{
		{"development", false},
		{"production", true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			env := baseEnv(t.TempDir())
			env["APP_ENV"] = tc.env
			env["BCRYPT_COST"] = "12"
			env["JWT_SECRET"] = "49089fc4dfd3ae3b3ce23cf739a89f3aa8c8beb02bac30fda9b4422f2cf1d865"
			env["SESSION_SECRET"] = "715cc239fd422d36749b8eff4ac55f65a4633ec9bb10b43d2b81c05f8e2a5df8"
			if tc.json {
				productionMail(env)
			}
			in := start(t, env)
			req, _ := http.NewRequest("GET", "http://"+in.addr+"/healthz", nil)
			req.Header.Set("X-Request-ID", "format-check-1")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if err := in.stop(t); err != nil {
				t.Fatal(err)
			}
			logs := strings.TrimSpace(in.log(t))
			var line string
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "format-check-1") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no request line:\n%s", logs)
			}
			if tc.json {
				for _, l := range strings.Split(logs, "\n") {
					if !json.Valid([]byte(l)) {
						t.Errorf("not a JSON line: %s", l)
					}
				}
				var m map[string]any
				json.Unmarshal([]byte(line), &m)
				for k, v := range map[string]any{"msg": "request", "method": "GET", "route": "/healthz", "status": 200.0, "request_id": "format-check-1"} {
					if m[k] != v {
						t.Errorf("%s = %v, want %v in %s", k, m[k], v, line)
					}
				}
				if _, ok := m["duration"]; !ok {
					t.Errorf("no duration in %s", line)
				}
				return
			}
			if json.Valid([]byte(line)) {
				t.Errorf("development log is JSON: %s", line)
			}
			for _, want := range []string{"msg=request", "method=GET", "route=/healthz", "status=200", "duration=", "request_id=format-check-1"} {
				if !strings.Contains(line, want) {
					t.Errorf("line lacks %q: %s", want, line)
				}
			}
		})
	}
}

var metricsAddrRe = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// TestMetricsOnTheirOwnAddress: METRICS_ADDR moves /metrics off the app's
// address, and the metrics listener stops with the rest.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	env := baseEnv(t.TempDir())
	env["METRICS_ADDR"] = "127.0.0.1:0"
	in := start(t, env)
	m := metricsAddrRe.FindStringSubmatch(in.log(t))
	if m == nil {
		t.Fatalf("metrics address not logged:\n%s", in.log(t))
	}
	for _, tc := range []struct {
		url    string
		status int
	}{
		{"http://" + in.addr + "/healthz", 200},
		{"http://" + in.addr + "/metrics", 404},
		{"http://" + m[1] + "/metrics", 200},
		{"http://" + m[1] + "/healthz", 404},
	} {
		res, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.url, res.StatusCode, tc.status)
		}
		if tc.status == 200 && strings.HasSuffix(tc.url, "/metrics") &&
			!strings.Contains(string(b), `nodebird_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
			t.Errorf("the metrics do not count the app's requests:\n%.500s", b)
		}
	}
	if err := in.stop(t); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
		c.Close()
		t.Error("the metrics listener is still open after the shutdown")
	}
}

// BenchmarkStartup measures run() from the call to the first moment it
// accepts requests, on SQLite with an existing database.
func BenchmarkStartup(b *testing.B) {
	env := baseEnv(b.TempDir())
	logf, err := os.CreateTemp(b.TempDir(), "log")
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		ready, errc := make(chan string, 1), make(chan error, 1)
		go func() { errc <- run(ctx, nil, lookup, logf, ready) }()
		select {
		case <-ready:
		case err := <-errc:
			b.Fatalf("run: %v", err)
		}
		b.StopTimer()
		cancel()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
