package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// instanceOn starts a whole application instance on db (a replica sharing
// the database), with its domain view loaded.
func instanceOn(t *testing.T, db *gorm.DB, hooks ...func(*App)) *testServer {
	t.Helper()
	return startApp(t, db, testConfig(), false, hooks...)
}

// newAPIServer is newTestServer with hooks applied to the App before it serves.
func newAPIServer(t *testing.T, driver string, hooks ...func(*App)) *testServer {
	t.Helper()
	return instanceOn(t, testdb.Fresh(t, driver), hooks...)
}

// logsOf closes the server and returns everything it logged.
func logsOf(s *testServer) string {
	s.Close()
	return s.log.String()
}

// apiClock is a settable clock for the App's token manager.
type apiClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *apiClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *apiClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// withClock makes the App issue and verify tokens on clk's time.
func tokenClock(clk *apiClock) func(*App) {
	return func(a *App) {
		a.setClocks(clk.now, nil)
	}
}

const koreanFirst = "ko-KR,ko;q=0.9"

// errorIDRe is the form of every /v1 error id.
var errorIDRe = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// apiReq is one request to the API.
type apiReq struct {
	method, path string
	ctype        string // Content-Type, if any
	body         string
	chunked      bool // send the body without a Content-Length
	header       map[string]string
}

func (s *testServer) call(t *testing.T, r apiReq) response {
	t.Helper()
	h := map[string]string{}
	for k, v := range r.header {
		h[k] = v
	}
	if r.ctype != "" {
		h["Content-Type"] = r.ctype
	}
	var body io.Reader
	if r.body != "" || r.chunked {
		body = strings.NewReader(r.body)
		if r.chunked {
			body = io.MultiReader(body) // hides the length
		}
	}
	return s.client(t).do(r.method, r.path, body, h)
}

func jsonSecret(sec string) apiReq {
	b, _ := json.Marshal(map[string]string{"clientSecret": sec})
	return apiReq{method: "POST", path: "/v1/token", ctype: "application/json", body: string(b)}
}

func verifyReq(authorization string) apiReq {
	r := apiReq{method: "GET", path: "/v1/test"}
	if authorization != "" {
		r.header = map[string]string{"Authorization": authorization}
	}
	return r
}

// multipartBody is a multipart/form-data body with the given fields.
func multipartBody(fields map[string]string) (ctype, body string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	return w.FormDataContentType(), b.String()
}

// apiBody is the JSON every /v1 answer carries.
type apiBody struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	Error     string `json:"error"`
	Token     string `json:"token"`
	ExpiresIn *int64 `json:"expiresIn"`
}

// checkAPIAnswer checks the shape every /v1 answer shares: the status,
// Content-Type application/json, a JSON body {code, message} with code equal
// to the status and message the catalogue's key in lang, and no cookie; an
// error has an "error" id too (snake_case), a success none.
func checkAPIAnswer(t *testing.T, r response, status int, key, lang string) apiBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\n%s", r.Status, status, r.Body)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.Header.Get("Content-Type"))
	}
	var b apiBody
	dec := json.NewDecoder(strings.NewReader(r.Body))
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	if b.Code != status {
		t.Errorf("code %d in the body, want %d", b.Code, status)
	}
	if want := i18n.T(lang, key); b.Message != want {
		t.Errorf("message %q, want %q (%s in %s)", b.Message, want, key, lang)
	}
	if status >= 400 && !errorIDRe.MatchString(b.Error) {
		t.Errorf("error id %q: want a snake_case id\n%s", b.Error, r.Body)
	}
	if status < 400 && b.Error != "" {
		t.Errorf("a success with an error id %q", b.Error)
	}
	if c := r.Header.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("/v1 set cookies: %q", c)
	}
	return b
}

// issueToken gets a token for sec from s, failing the test otherwise.
func (s *testServer) issueToken(t *testing.T, sec string) string {
	t.Helper()
	r := s.call(t, jsonSecret(sec))
	b := checkAPIAnswer(t, r, http.StatusOK, "api.token.issued", "en")
	if b.Token == "" {
		t.Fatalf("no token in %s", r.Body)
	}
	return b.Token
}

// verifyStatus is the status GET /v1/test gives tok on s.
func (s *testServer) verifyStatus(t *testing.T, tok string) int {
	t.Helper()
	return s.call(t, verifyReq("Bearer "+tok)).Status
}

// tokenStatusOn is the status POST /v1/token gives sec on s.
func (s *testServer) tokenStatusOn(t *testing.T, sec string) int {
	t.Helper()
	return s.call(t, jsonSecret(sec)).Status
}

// domainIDOf is the id of the (not deleted) domain registered for host.
func domainIDOf(t *testing.T, s *testServer, host string) uint64 {
	t.Helper()
	var d models.Domain
	if err := s.app.db.Where("host = ? AND status <> ?", host, models.StatusDeleted).Take(&d).Error; err != nil {
		t.Fatalf("domain %s: %v", host, err)
	}
	return d.ID
}

// revokeHere revokes a domain as the admin console of this instance does:
// the row changes, then the instance's view.
func revokeHere(t *testing.T, s *testServer, id uint64) {
	t.Helper()
	if err := s.app.db.Model(&models.Domain{}).Where("id = ?", id).Update("status", models.StatusRevoked).Error; err != nil {
		t.Fatal(err)
	}
	s.app.domainChanged(id)
}

// payload decodes a JWT's payload (numbers kept exact).
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	return decodeSegment(t, parts[1])
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("segment is not base64url: %v", err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("segment is not a JSON object: %v", err)
	}
	return m
}
