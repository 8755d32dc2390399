package handlers

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/secret"
)

// TestErrorIDTables: every access refusal and every status has a
// snake_case id; an error of a status outside the tables still gets one.
func TestErrorIDTables(t *testing.T) {
	seen := map[string]access.Reason{}
	for r, s := range accessStatus {
		if !errorIDRe.MatchString(s.id) {
			t.Errorf("%v: id %q", r, s.id)
		}
		if other, dup := seen[s.id]; dup {
			t.Errorf("%v and %v share the id %q", r, other, s.id)
		}
		seen[s.id] = r
		err := &access.Error{Reason: r}
		status, key := statusOf(err)
		if got := errorID(err, status, key); got != s.id {
			t.Errorf("%v: errorID %q, want %q", r, got, s.id)
		}
	}
	for key, id := range keyErrorIDs {
		if !errorIDRe.MatchString(id) {
			t.Errorf("%s: id %q", key, id)
		}
	}
	for status := 400; status < 600; status++ {
		err := echo.NewHTTPError(status)
		s, key := statusOf(err)
		if id := errorID(err, s, key); !errorIDRe.MatchString(id) {
			t.Errorf("%d: id %q", status, id)
		}
	}
}

// TestAPIErrorIDs: each error path of the API, with the id it answers.
// (The posts routes' ids are checked in posts_api_test.go, and every test
// that goes through checkAPIAnswer checks an error has an id.)
func TestAPIErrorIDs(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver, func(c *config.Config) { c.RateLimits, c.BadSecretRPM = true, 2 })
		sec := s.user(t, "ids@example.com").register("ids.example.com", "free")
		tok := s.issueToken(t, sec)
		auth := map[string]string{"Authorization": tok}
		for _, tc := range []struct {
			name string
			req  apiReq
			id   string
		}{
			{"malformed secret", jsonSecret("nbk_short"), "malformed_secret"},
			{"unknown secret", jsonSecret(secret.New()), "unknown_secret"},
			{"bad secrets past the limit", jsonSecret(secret.New()), "rate_limited"},
			{"no secret", apiReq{method: "POST", path: "/v1/token", ctype: "application/json", body: `{}`}, "missing_secret"},
			{"malformed JSON", apiReq{method: "POST", path: "/v1/token", ctype: "application/json", body: `{`}, "malformed_body"},
			{"text body", apiReq{method: "POST", path: "/v1/token", ctype: "text/plain", body: sec}, "unsupported_media_type"},
			{"body too large", apiReq{method: "POST", path: "/v1/token", ctype: "application/json", body: strings.Repeat(" ", 70<<10)}, "body_too_large"},
			{"no token", verifyReq(""), "missing_token"},
			{"bad token", verifyReq("x.y.z"), "invalid_token"},
			{"wrong origin", apiReq{method: "GET", path: "/v1/test", header: map[string]string{"Authorization": tok, "Origin": "https://evil.example"}}, "origin_not_allowed"},
			{"unknown URL", apiReq{method: "GET", path: "/v1/nope"}, "not_found"},
			{"wrong method", apiReq{method: "DELETE", path: "/v1/posts/my", header: auth}, "method_not_allowed"},
			{"unknown hashtag", apiReq{method: "GET", path: "/v1/posts/hashtag/nope", header: auth}, "hashtag_not_found"},
			{"bad limit", apiReq{method: "GET", path: "/v1/posts/my?limit=x", header: auth}, "invalid_limit"},
			{"bad cursor", apiReq{method: "GET", path: "/v1/posts/my?cursor=x", header: auth}, "invalid_cursor"},
		} {
			r := s.call(t, tc.req)
			var b apiBody
			if err := json.Unmarshal([]byte(r.Body), &b); err != nil || b.Error != tc.id || b.Code != r.Status {
				t.Errorf("%s: %d %s, want error %q", tc.name, r.Status, r.Body, tc.id)
			}
		}

		// The database gone: the posts routes answer 503 unavailable.
		sqlDB, _ := s.app.db.DB()
		sqlDB.Close()
		r := s.call(t, apiReq{method: "GET", path: "/v1/posts/my", header: auth})
		if b := checkAPIAnswer(t, r, 503, "err.503", "en"); b.Error != "unavailable" {
			t.Errorf("database down: %q", b.Error)
		}
	})
}

// TestEveryAPIErrorHasAnID walks the API's routes with every method, with
// no token, a bad one and a foreign origin, and unknown URLs: every answer
// that is not a success carries an error id (HEAD carries no body).
func TestEveryAPIErrorHasAnID(t *testing.T) {
	s := newTestServer(t, "sqlite")
	paths := []string{"/v1", "/v1/", "/v1/nope", "/v1/posts", "/v1/posts/hashtag/", "/v1/posts/my/x"}
	for _, r := range s.app.api.Routes() {
		paths = append(paths, strings.ReplaceAll(r.Path, ":title", "x"))
	}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	headers := []map[string]string{
		{},
		{"Authorization": "Bearer bad", "Origin": "https://evil.example", "Content-Type": "application/json"},
		{"Content-Type": "text/plain"},
	}
	n := 0
	for _, path := range paths {
		for _, m := range methods {
			for _, h := range headers {
				r := s.call(t, apiReq{method: m, path: path, header: h, body: "{"})
				if r.Status < 400 {
					continue
				}
				n++
				var b apiBody
				if err := json.Unmarshal([]byte(r.Body), &b); err != nil || !errorIDRe.MatchString(b.Error) || b.Code != r.Status {
					t.Errorf("%s %s %v: %d %s: no error id", m, path, h, r.Status, r.Body)
				}
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d errors walked", n)
	}
}

// TestRetire: the version-retirement middleware on a test group, on a fake
// clock: Deprecation and Sunset before the sunset, 410 gone from it on;
// v1 itself is not retired.
func TestRetire(t *testing.T) {
	s := newTestServer(t, "sqlite")
	clk := &apiClock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	deprecated := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	sunset := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	old := s.app.api.Group("/v1/retired") // a version of its own in all but name: the mux sends /v1/ to the API
	old.GET("/thing", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]int{"code": 200}) },
		s.app.apiCORS, retire(retirement{Deprecated: deprecated, Sunset: sunset, Doc: "/docs#versions", Now: clk.now}))
	// The made-up version is in no OpenAPI document: this test's calls go
	// to a server that does not check them against v1's (its 410 is
	// checked below, as an answer of a URL v1 does not serve).
	plain := httptest.NewServer(s.app.handler)
	t.Cleanup(plain.Close)
	s = &testServer{Server: plain, app: s.app, log: s.log}

	check := func(at time.Time, status int) response {
		t.Helper()
		clk.set(at)
		r := s.call(t, apiReq{method: "GET", path: "/v1/retired/thing"})
		if r.Status != status {
			t.Fatalf("at %s: %d, want %d", at, r.Status, status)
		}
		if got := r.Header.Get("Deprecation"); got != "@1775001600" { // RFC 9745: @<Unix seconds> of 2026-04-01
			t.Errorf("Deprecation %q", got)
		}
		if got := r.Header.Get("Sunset"); got != "Thu, 01 Oct 2026 12:00:00 GMT" { // RFC 8594: an HTTP-date
			t.Errorf("Sunset %q", got)
		}
		if at, err := http.ParseTime(r.Header.Get("Sunset")); err != nil || !at.Equal(sunset) {
			t.Errorf("Sunset does not parse as an HTTP-date: %v", err)
		}
		if got := r.Header.Get("Link"); got != `</docs#versions>; rel="deprecation"` {
			t.Errorf("Link %q", got)
		}
		return r
	}
	check(clk.t, 200)                     // announced before it is deprecated
	check(deprecated.Add(time.Hour), 200) // deprecated, still served
	check(sunset.Add(-time.Second), 200)  // the last second
	r := check(sunset, http.StatusGone)   // gone from the sunset on
	if b := checkAPIAnswer(t, r, 410, "api.gone", "en"); b.Error != "gone" {
		t.Errorf("410: error %q", b.Error)
	}
	if err := mustOpenAPI(t).validate(httptest.NewRequest("GET", "/v1/retired/thing", nil), r.Status, r.Header, []byte(r.Body)); err != nil {
		t.Errorf("410 is not as the OpenAPI document describes it: %v", err)
	}
	check(sunset.AddDate(1, 0, 0), http.StatusGone)

	// v1 is current: no route of it says otherwise.
	for _, path := range []string{"/v1/test", "/v1/posts/my", "/v1/token"} {
		if r := s.call(t, apiReq{method: "GET", path: path}); r.Header.Get("Deprecation") != "" || r.Header.Get("Sunset") != "" || r.Status == 410 {
			t.Errorf("%s: %d Deprecation %q Sunset %q", path, r.Status, r.Header.Get("Deprecation"), r.Header.Get("Sunset"))
		}
	}
}

// TestDocsListEveryErrorID: /docs lists every id the tables can answer
// with, in both languages, with its status.
func TestDocsListEveryErrorID(t *testing.T) {
	want := map[string]int{}
	for _, s := range accessStatus {
		want[s.id] = s.status
	}
	for status, id := range statusErrorIDs {
		want[id] = status
	}
	for key, id := range keyErrorIDs {
		status := map[string]int{"api.origin": 403, "api.hashtag.none": 404}[key]
		if status == 0 {
			status = 400
		}
		want[id] = status
	}
	listed := map[string]int{}
	for _, e := range errorIDList {
		listed[e.ID] = e.Status
	}
	if !maps.Equal(listed, want) {
		t.Errorf("errorIDList %v\nthe tables %v", listed, want)
	}
	s := newTestServer(t, "sqlite")
	for _, lang := range []string{"en", "ko"} {
		r := s.client(t).do("GET", "/docs", nil, map[string]string{"Accept-Language": lang})
		for id := range want {
			mustContain(t, "/docs in "+lang, r.Body, `data-error-id="`+id+`"`)
			if !i18n.Has("docs.error." + id) {
				t.Errorf("no message docs.error.%s", id)
			}
		}
		mustContain(t, "/docs in "+lang, r.Body, i18n.T(lang, "docs.error.hashtag_not_found"))
	}
}

// TestDomainRevokedErrorID: a revoked domain's secret and its genuine
// tokens (on every route behind the token) answer 401 domain_revoked with
// the message that says so; a tampered token of it stays invalid_token.
func TestDomainRevokedErrorID(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		// A revoked domain: its secret and its genuine tokens are told
		// domain_revoked; a tampered token of it is invalid_token.
		revSec := s.user(t, "revoked@example.com").register("revoked.example.com", "free")
		revTok := s.issueToken(t, revSec)
		revokeHere(t, s, domainIDOf(t, s, "revoked.example.com"))
		for _, tc := range []struct {
			name string
			req  apiReq
			id   string
		}{
			{"revoked domain's secret", jsonSecret(revSec), "domain_revoked"},
			{"revoked domain's token", verifyReq(revTok), "domain_revoked"},
			{"revoked domain's token on /v1/posts/my", apiReq{method: "GET", path: "/v1/posts/my", header: map[string]string{"Authorization": revTok}}, "domain_revoked"},
			{"tampered token of the revoked domain", verifyReq(revTok[:len(revTok)-2] + "xx"), "invalid_token"},
		} {
			r := s.call(t, tc.req)
			if b := checkAPIAnswer(t, r, 401, map[bool]string{true: "api.domain.revoked", false: "api.token.invalid"}[tc.id == "domain_revoked"], "en"); b.Error != tc.id {
				t.Errorf("%s: %q, want %q", tc.name, b.Error, tc.id)
			}
		}

	})
}
