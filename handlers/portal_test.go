package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/nodebird/nodebird-api/internal/config"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/models"
)

func TestSignupLoginLogout(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		c := s.client(t)

		r := c.get("/join")
		mustContain(t, "join page", r.Body, `name="email"`, `name="nick"`, `name="password"`, `name="_csrf"`)

		r = c.signup("  Alice@Example.COM ", "alice", "correct horse battery")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("signup: %d %s", r.Status, r.Header.Get("Location"))
		}
		// Sign-up signs nobody in: the login form says a link is on its way.
		joined := c.get("/")
		mustContain(t, "page after signup", joined.Body, "we sent a link to verify your address", `action="/auth/login"`)
		if r := c.login("alice@example.com", "correct horse battery"); r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.Status)
		}
		r = c.get("/")
		mustContain(t, "dashboard after login", r.Body, "alice", `action="/domain"`)

		u, err := s.app.users.GetByEmail(context.Background(), "alice@example.com")
		if err != nil {
			t.Fatalf("email not normalised on storage: %v", err)
		}
		if cost, _ := bcrypt.Cost(u.PasswordHash); cost != s.app.config.BcryptCost || strings.Contains(string(u.PasswordHash), "correct horse") {
			t.Fatalf("password not bcrypt-hashed with the configured cost (%d)", cost)
		}

		// The same email, in another case, cannot sign up twice; the
		// answer is a sign-up's, word for word (TestSignUpWithATakenAddress).
		d := s.client(t)
		r = d.signup("ALICE@example.com", "other", "another password")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("duplicate email: %d %q", r.Status, r.Header.Get("Location"))
		}
		var n int64
		s.app.db.Model(&models.User{}).Count(&n)
		if n != 1 || signedIn(d) {
			t.Fatalf("duplicate email: %d users, signed in %v", n, signedIn(d))
		}

		// Log out, then replay the old session cookie.
		base, _ := url.Parse(s.URL)
		old := c.http.Jar.Cookies(base)
		r = c.post("/auth/logout", nil)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("logout: %d", r.Status)
		}
		if r := c.get("/"); strings.Contains(r.Body, `action="/domain"`) {
			t.Fatal("still signed in after logout")
		}
		replay := s.client(t)
		replay.http.Jar.SetCookies(base, old)
		if r := replay.get("/"); strings.Contains(r.Body, `action="/domain"`) || !strings.Contains(r.Body, `action="/auth/login"`) {
			t.Fatal("replayed cookie from before logout still signs in")
		}

		// Log in again (email in any case), and the wrong password or an
		// unknown email get the very same answer.
		r = c.login("ALICE@example.com", "correct horse battery")
		if r.Status != http.StatusSeeOther {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		mustContain(t, "dashboard after login", c.get("/").Body, `action="/domain"`)

		bad1 := s.client(t).login("alice@example.com", "wrong password!")
		bad2 := s.client(t).login("nobody@example.com", "wrong password!")
		if bad1.Status != http.StatusUnprocessableEntity || bad2.Status != bad1.Status {
			t.Fatalf("bad logins: %d and %d", bad1.Status, bad2.Status)
		}
		msg := "The email or password is not right."
		mustContain(t, "wrong password", bad1.Body, msg)
		mustContain(t, "unknown email", bad2.Body, msg)
		mustNotContain(t, "bad login", bad1.Body, "wrong password!")
	})
}

func TestSessionCookieAttributesAndRenewal(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.client(t)
	r := c.get("/")
	before := r.Header.Get("Set-Cookie")
	for _, want := range []string{"nodebird_session=", "HttpOnly", "SameSite=Lax", "Max-Age=3600"} {
		if !strings.Contains(before, want) {
			t.Errorf("session cookie %q lacks %s", before, want)
		}
	}
	if strings.Contains(before, "Secure") {
		t.Error("Secure set on plain HTTP in development")
	}
	csrfBefore := c.csrf()
	s.user(t, "bob@example.com")
	c.login("bob@example.com", "correct horse battery")
	if c.csrf() == csrfBefore {
		t.Error("CSRF token not renewed at sign-in (session fixation)")
	}

	prod := newTestServer(t, "sqlite", func(c *config.Config) { c.Env = "production" })
	if ck := prod.client(t).get("/").Header.Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
		t.Errorf("production cookie %q is not Secure", ck)
	}
}

func TestCSRFRefusal(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.user(t, "dave@example.com")
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, path, body string
	}{
		{"register without token", "/domain", "host=example.com&type=free"},
		{"register with a wrong token", "/domain", "host=example.com&type=free&_csrf=forged"},
		{"logout without token", "/auth/logout", ""},
		{"signup without token", "/auth/join", "email=x@example.com&nick=x&password=password123"},
		{"login without token", "/auth/login", "email=dave@example.com&password=correct+horse+battery"},
	}
	for _, tc := range cases {
		r := c.do("POST", tc.path, strings.NewReader(tc.body), map[string]string{"Content-Type": form})
		if r.Status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, r.Status)
		}
	}
	// A token from another session does not work either.
	other := s.client(t).csrf()
	r := c.do("POST", "/domain", strings.NewReader("host=example.com&type=free&_csrf="+other), map[string]string{"Content-Type": form})
	if r.Status != http.StatusForbidden {
		t.Errorf("another session's token: %d", r.Status)
	}
	// Nothing changed.
	if ids := c.domainIDs(); len(ids) != 0 {
		t.Fatalf("a refused POST registered %d domains", len(ids))
	}
	if r := c.get("/"); !strings.Contains(r.Body, "Log out") {
		t.Fatal("a refused logout logged out")
	}
	if _, err := s.app.users.GetByEmail(context.Background(), "x@example.com"); err == nil {
		t.Fatal("a refused signup created a user")
	}
}

func TestSignupValidation(t *testing.T) {
	s := newTestServer(t, "sqlite")
	long := strings.Repeat("a", 300)
	cases := []struct {
		name, email, nick, password, wantMsg string
	}{
		{"empty everything", "", "", "", "Enter your email address."},
		{"bad email", "not-an-email", "nick", "password123", "Enter a valid email address"},
		{"email with name", "Bob <bob@example.com>", "nick", "password123", "Enter a valid email address"},
		{"overlong email", long + "@example.com", "nick", "password123", "Enter a valid email address"},
		{"empty nick", "e1@example.com", "  ", "password123", "Enter a nickname."},
		{"long nick", "e2@example.com", "sixteen-chars-xx", "password123", "at most 15 characters"},
		{"short password", "e3@example.com", "nick", "shrtpw1", "at least 8 bytes"},
		{"long password", "e4@example.com", "nick", strings.Repeat("p", 73), "at most 72 bytes"},
		{"script nick", "e5@example.com", "<script>x", "password123", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := s.client(t)
			r := c.signup(tc.email, tc.nick, tc.password)
			if tc.wantMsg == "" { // valid input; output must be escaped
				if r.Status != http.StatusSeeOther {
					t.Fatalf("%d", r.Status)
				}
				c.login(tc.email, tc.password)
				body := c.get("/").Body
				mustContain(t, "escaped nick", body, "&lt;script&gt;x")
				mustNotContain(t, "raw nick", body, "<script>x")
				return
			}
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", r.Status)
			}
			mustContain(t, tc.name, r.Body, tc.wantMsg, `aria-invalid="true"`)
			mustNotContain(t, tc.name, r.Body, tc.password)
		})
	}
	// Korean nick of 15 characters is fine (characters, not bytes).
	if r := s.client(t).signup("ko@example.com", "가나다라마바사아자차카타파하가", "password123"); r.Status != http.StatusSeeOther {
		t.Fatalf("15-character Korean nick: %d", r.Status)
	}
}

func TestDomainRegistration(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		c := s.user(t, "erin@example.com")

		sec := c.register("Example.COM.", "free")
		if !secret.WellFormed(sec) {
			t.Fatalf("shown secret %q is not well formed", sec)
		}
		ds, err := s.app.domains.ListForUser(context.Background(), 1)
		if err != nil || len(ds) != 1 {
			t.Fatalf("stored domains: %v %v", ds, err)
		}
		d := ds[0]
		if d.Host != "example.com" || d.Plan != "free" || d.SecretHash != secret.Hash(sec) || d.SecretLast4 != sec[len(sec)-4:] {
			t.Fatalf("stored %+v", d)
		}
		// The secret is shown once: the dashboard has only its last 4 characters.
		body := c.get("/").Body
		mustContain(t, "dashboard", body, "example.com", "…"+sec[len(sec)-4:], "Free")
		mustNotContain(t, "dashboard", body, sec, d.SecretHash)

		c.register("localhost:4000", "premium")
		mustContain(t, "dashboard", c.get("/").Body, "localhost:4000", "Premium")

		// Same host again (normalised the same way) is refused.
		r := c.post("/domain", url.Values{"host": {"EXAMPLE.com"}, "type": {"premium"}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("duplicate host: %d", r.Status)
		}
		mustContain(t, "duplicate host", r.Body, "already registered this host")
		// Another user may register the same host.
		s.user(t, "frank@example.com").register("example.com", "free")
	})
}

func TestDomainValidation(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.user(t, "gina@example.com")
	cases := []struct{ name, host, plan, want string }{
		{"empty host", "", "free", "Enter the host"},
		{"scheme", "ftp://example.com", "free", "a web address that starts with http:// or https://"}, // an http(s) address is reduced to its host (TestPastedAddressIsReducedToItsHost)
		{"path", "example.com/path", "free", "without a path"},
		{"space", "exa mple.com", "free", "cannot contain spaces"},
		{"script", "<script>alert(1)</script>", "free", "without a path"},
		{"angle brackets", "<b>x", "free", "not a valid host"},
		{"overlong", strings.Repeat("a", 60) + "." + strings.Repeat("b", 30) + ".com", "free", "at most 80"},
		{"bad port", "localhost:99999", "free", "port"},
		{"unknown plan", "plan.example.com", "gold", "Choose the free or the premium plan."},
		{"empty plan", "plan.example.com", "", "Choose the free or the premium plan."},
	}
	for _, tc := range cases {
		r := c.post("/domain", url.Values{"host": {tc.host}, "type": {tc.plan}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", tc.name, r.Status)
			continue
		}
		mustContain(t, tc.name, r.Body, tc.want)
		mustNotContain(t, tc.name, r.Body, "<script>alert(1)")
	}
	if ids := c.domainIDs(); len(ids) != 0 {
		t.Fatalf("invalid input stored %d domains", len(ids))
	}

	// Extra fields are ignored: no mass assignment.
	r := c.post("/domain", url.Values{"host": {"extra.example.com"}, "type": {"free"},
		"user_id": {"2"}, "status": {"revoked"}, "secret_hash": {"x"}, "role": {"admin"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("extra fields: %d", r.Status)
	}
	ds, _ := s.app.domains.ListForUser(context.Background(), 1)
	if len(ds) != 1 || ds[0].Status != models.StatusActive || ds[0].SecretHash == "x" {
		t.Fatalf("extra fields reached the model: %+v", ds)
	}
	r = s.client(t).post("/auth/join", url.Values{"email": {"h@example.com"}, "nick": {"h"}, "password": {"password123"}, "is_admin": {"true"}, "role": {"admin"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("signup with extra fields: %d", r.Status)
	}
	if u, _ := s.app.users.GetByEmail(context.Background(), "h@example.com"); u == nil || u.IsAdmin {
		t.Fatal("is_admin was mass-assigned")
	}

	// A body far over the limit is refused with 413.
	big := strings.Repeat("a", 200<<10)
	r = c.post("/domain", url.Values{"host": {big}, "type": {"free"}})
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge body: %d", r.Status)
	}
}

func TestRotateAndDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		c := s.user(t, "ivan@example.com")
		first := c.register("rotate.example.com", "free")
		id := c.domainIDs()[0]

		r := c.post("/domain/"+id+"/rotate", noOverlap())
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("rotate: %d to %q", r.Status, r.Header.Get("Location"))
		}
		m := secretRe.FindStringSubmatch(c.get("/").Body)
		if m == nil || m[1] == first || !secret.WellFormed(m[1]) {
			t.Fatalf("rotation did not show a new secret")
		}
		second := m[1]
		if tokenStatus(t, s, first) != http.StatusUnauthorized {
			t.Fatal("the old secret still works after rotation")
		}
		if tokenStatus(t, s, second) != http.StatusOK {
			t.Fatal("the new secret does not work")
		}
		mustContain(t, "dashboard after rotation", c.get("/").Body, "…"+second[len(second)-4:])

		r = c.post("/domain/"+id+"/delete", nil)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d", r.Status)
		}
		if ids := c.domainIDs(); len(ids) != 0 {
			t.Fatalf("deleted domain still listed")
		}
		if tokenStatus(t, s, second) != http.StatusUnauthorized {
			t.Fatal("a deleted domain's secret still works")
		}
		// Its host can be registered again.
		c.register("rotate.example.com", "free")
	})
}

func TestCrossUserAccess(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		owner := s.user(t, "judy@example.com")
		sec := owner.register("mine.example.com", "free")
		id := owner.domainIDs()[0]

		other := s.user(t, "mallory@example.com")
		mustNotContain(t, "other's dashboard", other.get("/").Body, "mine.example.com")
		for _, action := range []string{"rotate", "delete"} {
			if r := other.post("/domain/"+id+"/"+action, nil); r.Status != http.StatusNotFound {
				t.Errorf("%s another user's domain: %d, want 404", action, r.Status)
			}
		}
		for _, path := range []string{"/domain/999999/rotate", "/domain/abc/delete", "/domain/0/rotate"} {
			if r := other.post(path, nil); r.Status != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, r.Status)
			}
		}
		if tokenStatus(t, s, sec) != http.StatusOK {
			t.Fatal("the owner's secret stopped working after someone else's attempts")
		}
		// Signed-out visitors are sent to log in.
		r := s.client(t).post("/domain", url.Values{"host": {"x.example.com"}, "type": {"free"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("signed-out register: %d %s", r.Status, r.Header.Get("Location"))
		}
	})
}

func TestErrorPages(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.client(t)
	r := c.get("/no/such/page")
	if r.Status != http.StatusNotFound || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("404 page: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	mustContain(t, "404 page", r.Body, "This page does not exist.", `href="/"`, "/static/css/app.css")
	r = c.do("GET", "/no/such/page", nil, map[string]string{"Accept-Language": "ko-KR,ko;q=0.9"})
	mustContain(t, "Korean 404 page", r.Body, "존재하지 않는 페이지입니다.")
	// A signed-in user stays signed in on a 404 page (with a working logout form).
	u := s.user(t, "lost@example.com")
	r = u.get("/no/such/page")
	if r.Status != http.StatusNotFound {
		t.Fatalf("404 for a signed-in user: %d", r.Status)
	}
	mustContain(t, "signed-in 404 page", r.Body, `data-testid="nav-user"`, `action="/auth/logout"`)
	if m := csrfRe.FindStringSubmatch(r.Body); m == nil || m[1] != u.csrf() {
		t.Fatal("404 page's logout form lacks the session's CSRF token")
	}
	if r := c.get("/static/css/app.css"); r.Status != http.StatusOK || !strings.Contains(r.Body, "--accent") {
		t.Fatalf("static CSS: %d", r.Status)
	}
}

// tokenStatus asks /v1/token for a token with secret and returns the status.
func tokenStatus(t *testing.T, s *testServer, sec string) int {
	t.Helper()
	return s.client(t).do("POST", "/v1/token", strings.NewReader(`{"clientSecret":"`+sec+`"}`),
		map[string]string{"Content-Type": "application/json"}).Status
}

// A panic or an unexpected error in a page becomes the 500 error page:
// no stack, no internal message, the request still logged.
func TestServerErrorPage(t *testing.T) {
	s := newTestServer(t, "sqlite")
	e := s.app.web
	e.GET("/boom", func(echo.Context) error { panic("secret internal detail") })
	e.GET("/fail", func(echo.Context) error { return errors.New("driver: secret internal detail") })
	srv := httptest.NewServer(e)
	defer srv.Close()
	for _, path := range []string{"/boom", "/fail"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusInternalServerError || !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		mustContain(t, path, string(body), "Server error.", `href="/"`)
		mustNotContain(t, path, string(body), "secret internal detail", "goroutine")
	}
}
