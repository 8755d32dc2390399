package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

var hostSeeds = []string{
	"example.com", " Example.COM. ", "localhost:4000", "sub.example.co.kr:8080", "1.2.3.4", "1.2.3.4:80",
	"http://example.com", "example.com/path", "example.com?q", "exa mple.com", "a..b", "-a.com", "a-.com",
	"1.2.3", "256.1.1.1", "[::1]:80", "::1", "example.com:0", "example.com:65536", "example.com:+80",
	"example.com:080", "한국.kr", "xn--3e0b707e.kr", "ｅｘａｍｐｌｅ.com", "\u212aelvin.com", "ß.de", "\x00",
	"a.com\n", "a\u200b.com", strings.Repeat("a", 63) + ".com", strings.Repeat("a", 64) + ".com",
	strings.Repeat("a.", 40) + "com", "", ".", ":", "a:b:80", "user@example.com", "%2e.com",
	"https://shop.example.com/path", "HTTPS://Shop.Example.COM:443/a?b#c", "http://localhost:4000/", "ftp://example.com",
	"https://user:pw@example.com/", "https://", "http:///path", "https://exa mple.com/", "https://한국.kr/경로",
	"https://example.com%2F/", "https://[::1]:80/", "http://1.2.3.4:8080?x", "https:example.com", " https://a.com ",
}

// FuzzNormalizeHost: no panic; an accepted host is canonical (normalising
// it again changes nothing) and is a bare lower-case host with an
// optional port, at most MaxHostLen long; a refusal names a message.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range hostSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, key := NormalizeHost(in)
		if key != "" {
			if out != "" || !i18n.Has(key) {
				t.Fatalf("NormalizeHost(%q) = %q, %q: a refusal has no host and a known message key", in, out, key)
			}
			return
		}
		if out == "" || len(out) > MaxHostLen {
			t.Fatalf("NormalizeHost(%q) = %q: empty or longer than %d", in, out, MaxHostLen)
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':') {
				t.Fatalf("NormalizeHost(%q) = %q: byte %q is not in a canonical host", in, out, c)
			}
		}
		if strings.Count(out, ":") > 1 || strings.HasSuffix(out, ".") || strings.HasSuffix(out, ":") {
			t.Fatalf("NormalizeHost(%q) = %q: not host[:port]", in, out)
		}
		again, key := NormalizeHost(out)
		if key != "" || again != out {
			t.Fatalf("NormalizeHost(%q) = %q, but NormalizeHost(%q) = %q, %q: not idempotent", in, out, out, again, key)
		}
		if strings.Contains(in, "://") {
			if scheme := strings.ToLower(strings.TrimSpace(in)); !strings.HasPrefix(scheme, "http://") && !strings.HasPrefix(scheme, "https://") {
				t.Fatalf("NormalizeHost(%q) = %q: only a web address is reduced to its host", in, out)
			}
			return
		}
		// A pasted web address of an accepted host is reduced to that
		// host, whatever its scheme, path, query or fragment.
		h := strings.TrimSpace(in)
		for _, u := range []string{"https://" + h, "http://" + h + "/", "HTTPS://" + h + "/a/b?c=d#e"} {
			if got, key := NormalizeHost(u); got != out || key != "" {
				t.Fatalf("NormalizeHost(%q) = %q, %q; want %q, as NormalizeHost(%q)", u, got, key, out, h)
			}
		}
	})
}

// formFuzzer drives the whole application in memory (no network) for a
// fuzz target: one SQLite database, one session.
type formFuzzer struct {
	app    *App
	h      http.Handler
	cookie string // the session cookie, name=value
	csrf   string
}

func newFormFuzzer(f *testing.F) *formFuzzer {
	cfg := testConfig()
	cfg.DataDir = f.TempDir() // sign-ups mail a link: files there
	app, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), testdb.Fresh(f, "sqlite"), os.DirFS(".."))
	if err != nil {
		f.Fatal(err)
	}
	if err := app.cache.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}
	z := &formFuzzer{app: app, h: app.handler}
	z.refresh(f)
	return z
}

// refresh takes the session cookie from the last answer, and the CSRF
// token from the page at /.
func (z *formFuzzer) refresh(f *testing.F) {
	rec := z.do("GET", "/", nil)
	if m := csrfRe.FindStringSubmatch(rec.Body.String()); m != nil {
		z.csrf = m[1]
	} else {
		f.Fatal("no CSRF token on /")
	}
}

func (z *formFuzzer) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		form.Set("_csrf", z.csrf)
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if z.cookie != "" {
		req.Header.Set("Cookie", z.cookie)
	}
	rec := httptest.NewRecorder()
	z.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie && z.cookie == "" {
			z.cookie = c.Name + "=" + c.Value
		}
	}
	return rec
}

func (z *formFuzzer) count(t *testing.T, model any) int64 {
	var n int64
	if err := z.app.db.Model(model).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// FuzzSignupForm: whatever the form holds, the answer is no 5xx; a 4xx
// stores nothing, and only a success (303) stores exactly one user, whose
// nick and email hold nothing that free text may not (text.go).
func FuzzSignupForm(f *testing.F) {
	for _, s := range [][3]string{
		{"ann@example.com", "ann", "correct horse battery"},
		{" ANN@Example.com ", "ann", "correct horse battery"},
		{"not an email", "x", "short"},
		{"a@b", "", strings.Repeat("p", 73)},
		{"<script>@example.com", "\x00nick", "password\x00password"},
		{"üser@exämple.com", "한국어닉네임", "비밀번호비밀번호"},
		{"a@example.com\r\nBcc: b@example.com", strings.Repeat("n", 16), "correct horse battery"},
		{strings.Repeat("a", 250) + "@example.com", "n", "correct horse battery"},
		{"\"quoted\"@example.com", "n\tn", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"},
		{"rlo@example.com", "admin\u202Enimda", "correct horse battery"},
		{"zw@example.com", "ad\u200Bmin", "correct horse battery"},
		{"filler@example.com", "\u3164", "correct horse battery"},
		{"braille@example.com", " \u2800 ", "correct horse battery"},
		{"emoji@example.com", "ann❤️‍🔥", "correct horse battery"},
		{"space@example.com", "ann\u3000\u00a0lee", "correct horse battery"},
		{"\"tab\tin\"@example.com", "tab", "correct horse battery"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	z := newFormFuzzer(f)
	f.Fuzz(func(t *testing.T, email, nick, password string) {
		before := z.count(t, &models.User{})
		var taken int64 // an address with an account gets the same 303, and no row
		z.app.db.Model(&models.User{}).Where("email = ?", normalizeEmail(email)).Count(&taken)
		rec := z.do("POST", "/auth/join", url.Values{"email": {email}, "nick": {nick}, "password": {password}})
		after := z.count(t, &models.User{})
		switch {
		case rec.Code >= 500:
			t.Fatalf("sign-up (%q, %q, %q): %d\n%s", email, nick, password, rec.Code, rec.Body)
		case rec.Code >= 400 && after != before:
			t.Fatalf("sign-up (%q, %q, %q) answered %d but stored a user", email, nick, password, rec.Code)
		case rec.Code == http.StatusSeeOther && taken > 0:
			if after != before {
				t.Fatalf("sign-up (%q, %q, %q) with a taken address stored %d users", email, nick, password, after-before)
			}
		case rec.Code == http.StatusSeeOther && after != before+1:
			t.Fatalf("sign-up (%q, %q, %q) succeeded but stored %d users", email, nick, password, after-before)
		case rec.Code != http.StatusSeeOther && rec.Code < 400:
			t.Fatalf("sign-up (%q, %q, %q): unexpected %d", email, nick, password, rec.Code)
		case rec.Code == http.StatusSeeOther:
			// What others will see is what cleanText lets through, unchanged.
			var u models.User
			if err := z.app.db.Order("id DESC").Take(&u).Error; err != nil {
				t.Fatal(err)
			}
			if want, p := cleanText(nick, nickField.max); p != "" || u.Nick != want {
				t.Fatalf("sign-up (%q, %q, %q) stored the nick %+q; cleanText says %+q, %q", email, nick, password, u.Nick, want, p)
			}
			if _, p := cleanText(u.Email, len(u.Email)); p != "" {
				t.Fatalf("sign-up (%q, %q, %q) stored the email %+q (%s)", email, nick, password, u.Email, p)
			}
		}
	})
}

// FuzzDomainForm: a signed-in user registers whatever the form holds: no
// 5xx; a 4xx stores nothing; a 303 stores the normalised host.
func FuzzDomainForm(f *testing.F) {
	for _, h := range hostSeeds {
		f.Add(h, "free")
	}
	for _, p := range []string{"premium", " PREMIUM ", "gold", "", "free\x00"} {
		f.Add("plan.example.com", p)
	}
	z := newFormFuzzer(f)
	rec := z.do("POST", "/auth/join", url.Values{"email": {"fuzz@example.com"}, "nick": {"fuzz"}, "password": {"correct horse battery"}})
	if rec.Code != http.StatusSeeOther {
		f.Fatalf("sign-up: %d", rec.Code)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			z.cookie = c.Name + "=" + c.Value
		}
	}
	z.refresh(f)
	rec = z.do("POST", "/auth/login", url.Values{"email": {"fuzz@example.com"}, "password": {"correct horse battery"}})
	if rec.Code != http.StatusSeeOther {
		f.Fatalf("login: %d", rec.Code)
	}
	for _, c := range rec.Result().Cookies() { // now signed in
		if c.Name == sessionCookie {
			z.cookie = c.Name + "=" + c.Value
		}
	}
	z.refresh(f)
	if !strings.Contains(z.do("GET", "/", nil).Body.String(), `action="/domain"`) {
		f.Fatal("not signed in")
	}
	f.Fuzz(func(t *testing.T, host, plan string) {
		before := z.count(t, &models.Domain{})
		rec := z.do("POST", "/domain", url.Values{"host": {host}, "type": {plan}})
		after := z.count(t, &models.Domain{})
		switch {
		case rec.Code >= 500:
			t.Fatalf("register (%q, %q): %d\n%s", host, plan, rec.Code, rec.Body)
		case rec.Code >= 400 && after != before:
			t.Fatalf("register (%q, %q) answered %d but stored a domain", host, plan, rec.Code)
		case rec.Code == http.StatusSeeOther:
			want, key := NormalizeHost(host)
			var d models.Domain
			if err := z.app.db.Order("id DESC").Take(&d).Error; err != nil {
				t.Fatal(err)
			}
			if after != before+1 || key != "" || d.Host != want {
				t.Fatalf("register (%q, %q): stored %d, host %q; want 1, %q (%q)", host, plan, after-before, d.Host, want, key)
			}
		case rec.Code < 400:
			t.Fatalf("register (%q, %q): unexpected %d", host, plan, rec.Code)
		}
	})
}

func TestNormalizeHostCases(t *testing.T) {
	for _, tc := range []struct{ in, want, key string }{
		{" Example.COM. ", "example.com", ""},
		{"localhost:4000", "localhost:4000", ""},
		{"한국.kr", "xn--3e0b707e.kr", ""},
		{"xn--3e0b707e.kr", "xn--3e0b707e.kr", ""},
		{"ｅｘａｍｐｌｅ.com", "example.com", ""},
		{"1.2.3.4:80", "1.2.3.4", ""}, // default ports are dropped, as in an Origin
		{"shop.example.com:443", "shop.example.com", ""},
		{"1.2.3.4:8080", "1.2.3.4:8080", ""},
		{"xn--a.com", "", "form.host.invalid"},       // not decodable punycode
		{"a.xn--zz-zz.com", "", "form.host.invalid"}, // idem, in a later label
		{"xn--.com", "", "form.host.invalid"},
		{"\u2138a", "", "form.host.invalid"},      // maps to Hebrew dalet + a: its punycode does not validate
		{"http://example.com", "example.com", ""}, // a pasted web address: its host
		{"https://shop.example.com/path?q=1#top", "shop.example.com", ""},
		{"HTTPS://Shop.Example.COM:443/", "shop.example.com", ""},
		{"http://localhost:4000/app", "localhost:4000", ""},
		{"https://한국.kr/경로", "xn--3e0b707e.kr", ""},
		{"ftp://example.com", "", "form.host.scheme"},
		{"https://", "", "form.host.scheme"},
		{"https://user:pw@example.com/", "", "form.host.invalid"},
		{"https://exa mple.com/", "", "form.host.space"},
		{"example.com/x", "", "form.host.path"},
		{"exa mple.com", "", "form.host.space"},
		{"example.com:0", "", "form.host.port"},
		{"1.2.3", "", "form.host.invalid"},
		{strings.Repeat("a", 63) + "." + strings.Repeat("b", 20) + ".com", "", "form.host.long"},
	} {
		got, key := NormalizeHost(tc.in)
		if got != tc.want || key != tc.key {
			t.Errorf("NormalizeHost(%q) = %q, %q; want %q, %q", tc.in, got, key, tc.want, tc.key)
		}
	}
}
