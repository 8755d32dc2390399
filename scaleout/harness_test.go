package scaleout

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testredis"
	"github.com/nodebird/nodebird-api/internal/testutil"
)

// The app's binary, built once for the package's tests.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// need skips the test with a message, or fails it under CI=true.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI must run the multi-instance tests: "+format, args...)
	}
	t.Skipf("multi-instance test skipped: "+format, args...)
}

// appBinary builds the app from this module (once) and returns its path.
func appBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "nodebird-scaleout-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "nodebird")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// secretHex is a random 256-bit secret, as openssl rand -hex 32 makes.
func secretHex() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logBuffer collects a process's output; safe for concurrent use.
type logBuffer = testutil.LogBuffer

// cluster is n instances of the app, each a process of its own, on one
// MariaDB database and one redis-server.
type cluster struct {
	t     *testing.T
	bin   string
	dsn   string
	env   map[string]string // every instance's settings
	insts []*instance
}

// instance is one app process; its port stays the same across restarts.
type instance struct {
	name string
	port int
	url  string
	env  map[string]string // settings of this instance's current run, on top of the cluster's
	cmd  *exec.Cmd
	logs *logBuffer // every run's output
	done chan struct{}
}

// newCluster starts n instances, one after the other (the first creates the
// tables), with the cluster's settings plus settings.
func newCluster(t *testing.T, n int, settings map[string]string) *cluster {
	t.Helper()
	if os.Getenv(testdb.EnvDSN) == "" {
		need(t, "set %s (for example root@tcp(127.0.0.1:3306)/)", testdb.EnvDSN)
	}
	redisAddr := testredis.Start(t) // skips, or fails under CI, without redis-server
	c := &cluster{t: t, bin: appBinary(t), dsn: testdb.CreateDatabase(t, testdb.MySQLServer(t))}
	c.env = map[string]string{
		"APP_ENV": "development", "DB_DRIVER": "mysql", "DB_DSN": c.dsn,
		"REDIS_URL": "redis://" + redisAddr + "/0", "REDIS_TIMEOUT": "500ms", // a busy machine
		"JWT_SECRET": secretHex(), "SESSION_SECRET": secretHex(),
		// Only the change messages can bring a change to another instance
		// within a test.
		"CACHE_REFRESH": "1h",
		"BCRYPT_COST":   "4", "ADMIN_EMAILS": adminEmail,
		"SHUTDOWN_GRACE": "10s",
	}
	for k, v := range settings {
		c.env[k] = v
	}
	for i := range n {
		in := &instance{name: fmt.Sprintf("instance %d", i), port: freePort(t), logs: &logBuffer{}}
		in.url = "http://127.0.0.1:" + strconv.Itoa(in.port)
		c.insts = append(c.insts, in)
		c.start(i, nil)
	}
	t.Cleanup(func() {
		for i := range c.insts {
			c.stop(i)
		}
		if t.Failed() {
			for _, in := range c.insts {
				t.Logf("%s's log:\n%s", in.name, in.logs.String())
			}
		}
	})
	return c
}

const adminEmail = "root@example.com"

// start runs instance i with the cluster's settings plus extra, and waits
// until /readyz answers 200.
func (c *cluster) start(i int, extra map[string]string) {
	c.t.Helper()
	in := c.insts[i]
	in.env = extra
	cmd := exec.Command(c.bin)
	cmd.Dir = c.t.TempDir() // no .env; DATA_DIR below
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "DATA_DIR=" + cmd.Dir, "PORT=" + strconv.Itoa(in.port)}
	for _, m := range []map[string]string{c.env, extra} {
		for k, v := range m {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stdout, cmd.Stderr = in.logs, in.logs
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	in.cmd, in.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(in.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(in.url + "/readyz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-in.done:
			c.t.Fatalf("%s exited at start:\n%s", in.name, in.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready within a minute:\n%s", in.name, in.logs.String())
		}
	}
}

// stop ends instance i with SIGTERM (as an orchestrator does) and waits for
// it to exit.
func (c *cluster) stop(i int) {
	in := c.insts[i]
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.cmd.Process.Kill()
		<-in.done
	}
	in.cmd = nil
}

// restart stops instance i and starts it again with extra settings.
func (c *cluster) restart(i int, extra map[string]string) {
	c.t.Helper()
	c.stop(i)
	c.start(i, extra)
}

// markVerified marks the account's address verified, as following the link
// mailed at sign-up does (an address in ADMIN_EMAILS is admin once verified).
func (c *cluster) markVerified(email string) {
	c.t.Helper()
	db, err := sql.Open("mysql", c.dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE users SET email_verified_at = NOW() WHERE email = ?", email); err != nil {
		c.t.Fatal(err)
	}
}

// client is a browser stand-in with one cookie jar for every instance (they
// are all 127.0.0.1: a cookie is not bound to a port), sending each request
// to the next instance in turn, or to the one it is pinned to.
type client struct {
	t    *testing.T
	urls []string
	http *http.Client
	mu   sync.Mutex
	next int
}

// newClient goes round-robin over urls; from, when not empty, is the local
// address it connects from (127.0.0.2: another client machine).
func newClient(t *testing.T, from string, urls ...string) *client {
	jar, _ := cookiejar.New(nil)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		tr.DialContext = d.DialContext
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, urls: urls, http: &http.Client{
		Jar: jar, Timeout: 20 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// on is a client sharing c's cookies that sends everything to url.
func (c *client) on(url string) *client {
	return &client{t: c.t, urls: []string{url}, http: c.http}
}

type response struct {
	Status int
	Header http.Header
	Body   string
	URL    string // the instance (or proxy) that answered
	Err    error
}

// try sends a request to the next instance; a transport error is returned
// in Err, not fatal.
func (c *client) try(method, path, body string, header map[string]string) response {
	c.mu.Lock()
	base := c.urls[c.next%len(c.urls)]
	c.next++
	c.mu.Unlock()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return response{Err: err}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return response{URL: base, Err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: string(b), URL: base, Err: err}
}

// do is try, failing the test on a transport error.
func (c *client) do(method, path, body string, header map[string]string) response {
	c.t.Helper()
	r := c.try(method, path, body, header)
	if r.Err != nil {
		c.t.Fatalf("%s %s on %s: %v", method, path, r.URL, r.Err)
	}
	return r
}

func (c *client) get(path string) response { return c.do("GET", path, "", nil) }

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// post submits a form with the CSRF token of the page at / (read from the
// instance the rotation gives, which may not be the one that gets the form:
// any instance accepts another's session).
func (c *client) post(path string, v url.Values) response {
	c.t.Helper()
	m := csrfRe.FindStringSubmatch(c.get("/").Body)
	if m == nil {
		c.t.Fatal("no CSRF token on /")
	}
	if v == nil {
		v = url.Values{}
	}
	v.Set("_csrf", m[1])
	return c.do("POST", path, v.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// signup makes an account and leaves the client signed in as it.
func (c *client) signup(email string) {
	c.t.Helper()
	r := c.post("/auth/join", url.Values{"email": {email}, "nick": {strings.Split(email, "@")[0]}, "password": {"correct horse battery"}})
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("sign-up %s on %s: %d\n%s", email, r.URL, r.Status, r.Body)
	}
	// Sign-up signs nobody in (its answer is the same for a taken address).
	r = c.post("/auth/login", url.Values{"email": {email}, "password": {"correct horse battery"}})
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("login %s on %s: %d\n%s", email, r.URL, r.Status, r.Body)
	}
}

var (
	secretRe = regexp.MustCompile(`data-testid="client-secret">([^<]+)<`)
	rowIDRe  = regexp.MustCompile(`action="/domain/(\d+)/rotate"`)
)

// register registers host on plan and returns its id and client secret,
// shown once on the page the form redirects to (read from the next
// instance: the secret waits in the session cookie).
func (c *client) register(host, plan string) (uint64, string) {
	c.t.Helper()
	r := c.post("/domain", url.Values{"host": {host}, "type": {plan}})
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("register %s on %s: %d\n%s", host, r.URL, r.Status, r.Body)
	}
	page := c.get(r.Header.Get("Location"))
	m := secretRe.FindStringSubmatch(page.Body)
	id := rowIDRe.FindStringSubmatch(page.Body)
	if m == nil || id == nil {
		c.t.Fatalf("register %s: no secret or domain id on the page %s showed\n%s", host, page.URL, page.Body)
	}
	n, _ := strconv.ParseUint(id[1], 10, 64)
	return n, m[1]
}

// signedIn reports whether / shows the dashboard (a log-out form) rather
// than the log-in form.
func signedIn(r response) bool {
	return r.Status == http.StatusOK && strings.Contains(r.Body, `action="/auth/logout"`)
}

// token asks for a token with sec; the token is "" unless the answer is 200.
func (c *client) token(sec string, header map[string]string) (response, string) {
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	r := c.try("POST", "/v1/token", `{"clientSecret":"`+sec+`"}`, h)
	tok := ""
	if m := tokenRe.FindStringSubmatch(r.Body); r.Status == http.StatusOK && m != nil {
		tok = m[1]
	}
	return r, tok
}

var tokenRe = regexp.MustCompile(`"token":"([^"]+)"`)

// verify checks tok with GET /v1/test.
func (c *client) verify(tok string) response {
	return c.try("GET", "/v1/test", "", map[string]string{"Authorization": "Bearer " + tok})
}

// urls are the instances' addresses.
func (c *cluster) urls() []string {
	var out []string
	for _, in := range c.insts {
		out = append(out, in.url)
	}
	return out
}

// kill ends instance i at once (SIGKILL): no shutdown, no last flush.
func (c *cluster) kill(i int) {
	in := c.insts[i]
	in.cmd.Process.Kill()
	<-in.done
	in.cmd = nil
}

// tokensIssued is the database's total of tokens issued for domain id.
func (c *cluster) tokensIssued(id uint64) int64 {
	c.t.Helper()
	db, err := sql.Open("mysql", c.dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT tokens_issued FROM domains WHERE id = ?", id).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}
