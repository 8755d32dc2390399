package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/i18n"
)

// Post/Redirect/Get: registering and rotating answer 303; the page the
// redirect leads to shows the new secret once; reloading it neither
// rotates nor shows the secret again, and says so.
func TestSecretShownOnceAfterRedirect(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		c := s.user(t, "once@example.com")
		gone := `data-testid="secret-gone"`

		post := c.post("/domain", url.Values{"host": {"once.example.com"}, "type": {"free"}})
		if post.Status != http.StatusSeeOther || post.Header.Get("Location") != "/" {
			t.Fatalf("register: %d to %q, want 303 to /", post.Status, post.Header.Get("Location"))
		}
		first := c.get("/")
		m := secretRe.FindStringSubmatch(first.Body)
		if m == nil {
			t.Fatal("the page the registration redirects to shows no secret")
		}
		sec := m[1]
		if n := strings.Count(first.Body, `data-testid="client-secret"`); n != 1 {
			t.Errorf("%d secrets shown", n)
		}
		mustContain(t, "first view", first.Body, i18n.T("en", "flash.domain.created"))
		mustNotContain(t, "first view", first.Body, gone)
		// The session cookie carrying it is encrypted.
		mustNotContain(t, "the registration's cookie", strings.Join(post.Header.Values("Set-Cookie"), "\n"), sec)
		before := domainByHost(t, s, "once.example.com")

		reload := c.get("/")
		mustNotContain(t, "reload", reload.Body, sec, `data-testid="client-secret"`, `data-testid="secret-panel"`)
		mustContain(t, "reload", reload.Body, gone, i18n.T("en", "secret.gone", "once.example.com"))
		if again := c.get("/").Body; strings.Contains(again, gone) || strings.Contains(again, sec) {
			t.Error("the second reload still speaks of the secret")
		}
		if st := tokenStatus(t, s, sec); st != http.StatusOK {
			t.Fatalf("the secret shown: /v1/token %d", st)
		}

		// Rotation: the same, back on the page the form was on.
		id := c.domainIDs()[0]
		r := c.post("/domain/"+id+"/rotate", url.Values{"next": {"/?q=once"}, "overlap": {"0s"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/?q=once" {
			t.Fatalf("rotate: %d to %q, want 303 to /?q=once", r.Status, r.Header.Get("Location"))
		}
		// HEAD of the page does not use the secret up.
		if h := c.do(http.MethodHead, "/?q=once", nil, nil); h.Status != http.StatusOK {
			t.Fatalf("HEAD: %d", h.Status)
		}
		shown := c.get("/?q=once")
		m = secretRe.FindStringSubmatch(shown.Body)
		if m == nil || m[1] == sec {
			t.Fatal("the page the rotation redirects to shows no new secret")
		}
		rotated := m[1]
		mustContain(t, "rotated view", shown.Body, i18n.T("en", "secret.rotated", "once.example.com"), i18n.T("en", "flash.domain.rotated"))
		after := domainByHost(t, s, "once.example.com")
		if after.SecretVersion != before.SecretVersion+1 {
			t.Fatalf("secret version %d after one rotation from %d", after.SecretVersion, before.SecretVersion)
		}
		for range 2 {
			body := c.get("/?q=once").Body
			mustNotContain(t, "reload after rotating", body, rotated, `data-testid="client-secret"`)
		}
		if d := domainByHost(t, s, "once.example.com"); d.SecretVersion != after.SecretVersion || d.SecretHash != after.SecretHash {
			t.Fatal("reloading rotated again")
		}
		if st := tokenStatus(t, s, rotated); st != http.StatusOK {
			t.Fatalf("the rotated secret shown: /v1/token %d", st)
		}
		if st := tokenStatus(t, s, sec); st != http.StatusUnauthorized {
			t.Fatalf("the old secret: /v1/token %d, want 401", st)
		}
	})
}
