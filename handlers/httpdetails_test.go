package handlers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nodebird/nodebird-api/internal/testdb"
)

// The portal takes its CSRF token from the request body only: a token in
// the URL would leak through logs, history and Referer, and a form that
// put it there must not work.
func TestCSRFTokenOnlyFromBody(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.user(t, "csrf@example.com")
	tok := c.csrf()
	const form = "application/x-www-form-urlencoded"
	esc := url.QueryEscape(tok)
	mpType, mpBody := multipartBody(map[string]string{"host": "multipart.example.com", "type": "free", "_csrf": tok})
	mpType2, mpBody2 := multipartBody(map[string]string{"host": "multipart2.example.com", "type": "free"})

	cases := []struct {
		name, query string
		ctype, body string
		host        string // registered by the request when it works
		want        int
	}{
		{"token in the urlencoded body", "", form, "host=body.example.com&type=free&_csrf=" + esc, "body.example.com", 303},
		{"token in the multipart body", "", mpType, mpBody, "multipart.example.com", 303},
		{"token in the body, a wrong one in the URL", "?_csrf=forged", form, "host=body2.example.com&type=free&_csrf=" + esc, "body2.example.com", 303},
		{"token in the URL only, urlencoded body", "?_csrf=" + esc, form, "host=query.example.com&type=free", "query.example.com", 403},
		{"token in the URL only, multipart body", "?_csrf=" + esc, mpType2, mpBody2, "multipart2.example.com", 403},
		{"token in the URL, a wrong one in the body", "?_csrf=" + esc, form, "host=query2.example.com&type=free&_csrf=forged", "query2.example.com", 403},
		{"everything in the URL, no body", "?_csrf=" + esc + "&host=query3.example.com&type=free", "", "", "query3.example.com", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.ctype != "" {
				h["Content-Type"] = tc.ctype
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := c.do("POST", "/domain"+tc.query, body, h)
			if r.Status != tc.want {
				t.Fatalf("POST /domain%s: %d, want %d\n%.300s", tc.query, r.Status, tc.want, r.Body)
			}
			registered := strings.Contains(c.get("/").Body, tc.host)
			if registered != (tc.want == http.StatusSeeOther) {
				t.Fatalf("%s registered: %v, want %v", tc.host, registered, tc.want == http.StatusSeeOther)
			}
		})
	}

	// Logging out with the token in the URL only does not log out.
	if r := c.do("POST", "/auth/logout?_csrf="+url.QueryEscape(tok), nil, nil); r.Status != http.StatusForbidden {
		t.Fatalf("logout with the token in the URL: %d, want 403", r.Status)
	}
	if !strings.Contains(c.get("/").Body, "Log out") {
		t.Fatal("a logout with the token in the URL logged out")
	}
}

// bodySpy records how the server received each request body, so that a
// test of chunked bodies knows they arrived chunked.
type bodySpy struct {
	mu   sync.Mutex
	seen map[string]string // method and path -> "chunked" or the Content-Length
}

func (b *bodySpy) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		how := strconv.FormatInt(r.ContentLength, 10)
		if r.ContentLength == -1 && len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked" {
			how = "chunked"
		}
		b.mu.Lock()
		b.seen[r.Method+" "+r.URL.Path] = how
		b.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (b *bodySpy) last(method, path string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[method+" "+path]
}

// chunkedPost sends body to path without a Content-Length (chunked).
func (c *client) chunkedPost(path, ctype, body string) response {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.srv.URL+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		c.t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", ctype)
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

// padForm returns v urlencoded with a pad field that makes it exactly n bytes.
func padForm(t *testing.T, v url.Values, n int) string {
	t.Helper()
	s := v.Encode() + "&pad="
	if len(s) > n {
		t.Fatalf("form of %d bytes cannot be padded to %d", len(s), n)
	}
	return s + strings.Repeat("x", n-len(s))
}

// padMultipart returns v as a multipart body with a pad field that makes
// it exactly n bytes (the random boundary is always of the same length).
func padMultipart(t *testing.T, v map[string]string, n int) (ctype, body string) {
	t.Helper()
	v["pad"] = ""
	_, empty := multipartBody(v)
	if len(empty) > n {
		t.Fatalf("multipart body of %d bytes cannot be padded to %d", len(empty), n)
	}
	v["pad"] = strings.Repeat("x", n-len(empty))
	ctype, body = multipartBody(v)
	if len(body) != n {
		t.Fatalf("padded multipart body: %d bytes, want %d", len(body), n)
	}
	return ctype, body
}

// A portal body over BODY_LIMIT is 413 however it is sent: with a
// Content-Length (refused before reading) or chunked (refused when the
// read passes the limit, inside the form parsing). A body of exactly the
// limit still works.
func TestPortalBodyLimitChunked(t *testing.T) {
	// In bytes: Echo reads "64K" as 64,000 (SI), not 65,536.
	const limit = 50000
	cfg := testConfig()
	cfg.BodyLimit = strconv.Itoa(limit)
	spy := &bodySpy{seen: map[string]string{}}
	app, logs := buildApp(t, testdb.Fresh(t, "sqlite"), cfg, false)
	if err := app.cache.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(spy.wrap(app.handler))
	t.Cleanup(srv.Close)
	s := &testServer{Server: srv, app: app, log: logs}
	s.user(t, "limit@example.com")

	const form = "application/x-www-form-urlencoded"
	login := func(c *client) url.Values {
		return url.Values{"email": {"limit@example.com"}, "password": {"correct horse battery"}, "_csrf": {c.csrf()}}
	}
	domain := func(c *client, host string) url.Values {
		return url.Values{"host": {host}, "type": {"free"}, "_csrf": {c.csrf()}}
	}
	signedIn := func() *client {
		c := s.client(t)
		if r := c.login("limit@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.Status)
		}
		return c
	}
	asMap := func(v url.Values) map[string]string {
		m := map[string]string{}
		for k := range v {
			m[k] = v.Get(k)
		}
		return m
	}

	cases := []struct {
		name   string
		path   string
		client func() *client
		body   func(c *client, n int) (ctype, body string)
		ok     int // the status of a body of exactly the limit
	}{
		{"login, urlencoded", "/auth/login", func() *client { return s.client(t) },
			func(c *client, n int) (string, string) { return form, padForm(t, login(c), n) }, http.StatusSeeOther},
		{"login, multipart", "/auth/login", func() *client { return s.client(t) },
			func(c *client, n int) (string, string) { return padMultipart(t, asMap(login(c)), n) }, http.StatusSeeOther},
		{"register, urlencoded", "/domain", signedIn,
			func(c *client, n int) (string, string) {
				return form, padForm(t, domain(c, "u"+strconv.Itoa(n)+".example.com"), n)
			}, http.StatusSeeOther},
		{"register, multipart", "/domain", signedIn,
			func(c *client, n int) (string, string) {
				return padMultipart(t, asMap(domain(c, "m"+strconv.Itoa(n)+".example.com")), n)
			}, http.StatusSeeOther},
		// The limit holds for the whole body: bytes after multipart's closing
		// boundary count, and so does a body the portal does not parse.
		{"login, multipart with an epilogue", "/auth/login", func() *client { return s.client(t) },
			func(c *client, n int) (string, string) {
				ctype, body := multipartBody(asMap(login(c)))
				return ctype, body + strings.Repeat("x", n-len(body))
			}, http.StatusSeeOther},
		{"login, text/plain", "/auth/login", func() *client { return s.client(t) },
			func(c *client, n int) (string, string) { return "text/plain", strings.Repeat("x", n) },
			http.StatusForbidden}, // no token in a body of that type
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{limit, limit + 1, 3 * limit, 20 * limit} {
				c := tc.client()
				ctype, body := tc.body(c, n)
				r := c.chunkedPost(tc.path, ctype, body)
				if how := spy.last("POST", tc.path); how != "chunked" {
					t.Fatalf("the body of %d bytes arrived as %q, not chunked", n, how)
				}
				want := tc.ok
				if n > limit {
					want = http.StatusRequestEntityTooLarge
				}
				if r.Status != want {
					t.Fatalf("chunked body of %d bytes: %d, want %d\n%.300s", n, r.Status, want, r.Body)
				}
				if n > limit && (!strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
					!strings.Contains(r.Body, "The request body is too large.")) {
					t.Fatalf("chunked body of %d bytes: not the 413 page\n%.300s", n, r.Body)
				}
			}
			// With a Content-Length, too.
			c := tc.client()
			ctype, body := tc.body(c, limit+1)
			if r := c.do("POST", tc.path, strings.NewReader(body), map[string]string{"Content-Type": ctype}); r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("body of %d bytes with a Content-Length: %d, want 413", limit+1, r.Status)
			}
		})
	}
	mustNotContain(t, "logs", logs.String(), "status=500", "request failed")
}

// outOfRangeIDs are path ids that name no row: 0 and 9223372036854775807
// fit an id column (no row has them), the larger numbers fit none (SQLite's
// integers are signed 64-bit), and the rest are not ids at all.
var outOfRangeIDs = []string{
	"0", "-1", "+1", "9223372036854775807", "9223372036854775808", "18446744073709551615",
	"99999999999999999999999", "1e3", " 1",
}

// Every :id route answers 404 for an id that names no row, whatever the
// number, on every database: never 500, never a query that the driver
// refuses.
func TestPathIDOutOfRange(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "owner@example.com")
		owner.register("ids.example.com", "free")
		id := owner.domainIDs()[0]
		d := domainByHost(t, s, "ids.example.com")
		uid := strconv.FormatUint(d.UserID, 10)

		routes := []struct {
			c      *client
			method string
			path   string // with ID for the id
			real   string // an id that exists: proves the route is the one meant
			form   url.Values
			ok     int // the status with the real id
		}{
			{owner, "POST", "/domain/ID/rotate", id, nil, http.StatusSeeOther},
			{admin, "POST", "/admin/domains/ID/revoke", id, revokeReason(), http.StatusSeeOther},
			{admin, "POST", "/admin/domains/ID/restore", id, nil, http.StatusSeeOther},
			{admin, "POST", "/admin/domains/ID/plan", id, url.Values{"type": {"premium"}}, http.StatusSeeOther},
			{admin, "GET", "/admin/users/ID", uid, nil, http.StatusOK},
			{owner, "POST", "/domain/ID/delete", id, nil, http.StatusSeeOther},
		}
		call := func(c *client, method, path string, form url.Values) response {
			if method == http.MethodGet {
				return c.get(path)
			}
			v := url.Values{}
			for k, vs := range form {
				v[k] = vs
			}
			return c.post(path, v)
		}
		before := auditCount(t, s)
		for _, rt := range routes {
			for _, bad := range outOfRangeIDs {
				path := strings.Replace(rt.path, "ID", url.PathEscape(bad), 1)
				if r := call(rt.c, rt.method, path, rt.form); r.Status != http.StatusNotFound {
					t.Errorf("%s %s: %d, want 404", rt.method, path, r.Status)
				}
			}
		}
		if n := auditCount(t, s); n != before {
			t.Errorf("the refused ids wrote %d audit entries", n-before)
		}
		// The real ids work on each route (in an order where each applies).
		for _, rt := range routes {
			path := strings.Replace(rt.path, "ID", rt.real, 1)
			if r := call(rt.c, rt.method, path, rt.form); r.Status != rt.ok {
				t.Errorf("%s %s: %d, want %d", rt.method, path, r.Status, rt.ok)
			}
		}
		mustNotContain(t, "logs", s.log.String(), "status=500", "request failed")
	})
}

// The audit log's ?domain= and ?user= filters refuse ids that cannot exist
// as they refuse 0, rather than asking the database.
func TestAuditFilterIDOutOfRange(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		for _, name := range []string{"domain", "user"} {
			for _, bad := range []string{"0", "-1", "9223372036854775808", "18446744073709551615", "99999999999999999999999"} {
				path := "/admin/audit?" + name + "=" + url.QueryEscape(bad)
				if r := admin.get(path); r.Status != http.StatusBadRequest {
					t.Errorf("GET %s: %d, want 400", path, r.Status)
				}
			}
			path := "/admin/audit?" + name + "=9223372036854775807"
			if r := admin.get(path); r.Status != http.StatusOK {
				t.Errorf("GET %s: %d, want 200", path, r.Status)
			}
		}
		mustNotContain(t, "logs", s.log.String(), "status=500", "request failed")
	})
}

// parseID is the guard every :id route and the audit filters pass first:
// an id no row can have never reaches a model.
func TestParseID(t *testing.T) {
	for s, want := range map[string]bool{
		"1": true, "42": true, "9223372036854775807": true,
		"0": false, "-1": false, "+1": false, " 1": false, "1 ": false, "1e3": false, "0x1": false, "": false,
		"9223372036854775808": false, "18446744073709551615": false, "18446744073709551616": false,
		"99999999999999999999999": false,
	} {
		if id, ok := parseID(s); ok != want || ok && strconv.FormatUint(id, 10) != s {
			t.Errorf("parseID(%q) = %d, %v; want ok %v", s, id, ok, want)
		}
	}
}
