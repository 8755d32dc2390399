package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// GET /auth/login and GET /auth/join show their forms (the address bar
// after a failed attempt), and the login comes back to the page that sent
// the visitor to it: local paths only, as the language switch checks.
func TestLoginAndJoinPagesAndReturnPath(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, _ := adminServer(t, driver)
		v := s.client(t)
		if r := v.login(rootEmail, "wrong password!"); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong password: %d", r.Status)
		}
		r := v.get("/auth/login")
		if r.Status != http.StatusOK {
			t.Fatalf("GET /auth/login after a failed login: %d", r.Status)
		}
		mustContain(t, "GET /auth/login", r.Body, `action="/auth/login"`, `name="password"`)
		if next, ok := loginFormNext(r.Body); ok {
			t.Errorf("GET /auth/login: the form comes back to %q", next)
		}
		if r := v.signup("bad", "", ""); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("bad sign-up: %d", r.Status)
		}
		r = v.get("/auth/join")
		if r.Status != http.StatusOK {
			t.Fatalf("GET /auth/join: %d", r.Status)
		}
		mustContain(t, "GET /auth/join", r.Body, `action="/auth/join"`, `name="nick"`)

		// A page for signed-in users sends the visitor to log in, and the
		// login comes back to it, query included.
		page := "/admin/domains?status=active"
		r = v.get(page)
		want := "/auth/login?next=" + url.QueryEscape(page)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Fatalf("signed out %s: %d to %q, want %q", page, r.Status, r.Header.Get("Location"), want)
		}
		r = v.get(want)
		if next, _ := loginFormNext(r.Body); next != page {
			t.Errorf("login form: comes back to %q, want %q", next, page)
		}
		r = v.post("/auth/login", url.Values{"email": {rootEmail}, "password": {"correct horse battery"}, "next": {page}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != page {
			t.Fatalf("login with next: %d to %q, want %q", r.Status, r.Header.Get("Location"), page)
		}
		if r := v.get(page); r.Status != http.StatusOK {
			t.Fatalf("%s after login: %d", page, r.Status)
		}
		// Signed in, the login page goes straight there.
		if r := v.get("/auth/login?next=%2Fdocs"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/docs" {
			t.Errorf("signed in, /auth/login?next=/docs: %d to %q", r.Status, r.Header.Get("Location"))
		}

		// Anything that is not a path on this site goes to the dashboard.
		for _, next := range []string{"//evil.example", "https://evil.example", "https://evil.example/admin",
			"/\\evil.example", "/\t/evil.example", "javascript:alert(1)", "evil.example", "http:/evil.example"} {
			c := s.client(t)
			r := c.get("/auth/login?next=" + url.QueryEscape(next))
			if r.Status != http.StatusOK {
				t.Fatalf("login form with next %q: %d", next, r.Status)
			}
			mustNotContain(t, "login form with next "+next, r.Body, "evil.example")
			if got, ok := loginFormNext(r.Body); ok {
				t.Errorf("login form with next %q: comes back to %q", next, got)
			}
			r = c.post("/auth/login", url.Values{"email": {rootEmail}, "password": {"correct horse battery"}, "next": {next}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
				t.Errorf("login with next %q: %d to %q, want 303 to /", next, r.Status, r.Header.Get("Location"))
			}
			if r := c.get("/auth/login?next=" + url.QueryEscape(next)); r.Header.Get("Location") != "/" {
				t.Errorf("signed in, /auth/login?next=%q: to %q, want /", next, r.Header.Get("Location"))
			}
		}
		// A failed login keeps the page to come back to.
		r = s.client(t).post("/auth/login", url.Values{"email": {rootEmail}, "password": {"wrong password!"}, "next": {"/docs"}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("failed login with next: %d", r.Status)
		}
		if next, _ := loginFormNext(r.Body); next != "/docs" {
			t.Errorf("failed login: the form comes back to %q, want /docs", next)
		}
	})
}

var loginNextRe = regexp.MustCompile(`action="/auth/login\?next=([^"]*)"`)

// loginFormNext is the page the login form on body comes back to (in the
// form's URL, so that the address bar keeps it after a failed attempt).
func loginFormNext(body string) (string, bool) {
	m := loginNextRe.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	next, err := url.QueryUnescape(m[1])
	return next, err == nil
}
