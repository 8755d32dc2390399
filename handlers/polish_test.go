package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
)

// A pasted web address is registered as its host, and the page says so:
// a flash after the registration, a note under the field when the form is
// shown again.
func TestPastedAddressIsReducedToItsHost(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		u := s.user(t, "paste@example.com")
		r := u.post("/domain", url.Values{"host": {" https://Shop.Example.com/path/page?q=1#top "}, "type": {"free"}})
		page := u.thenGet(r)
		mustContain(t, "after registering a pasted address", page.Body,
			`data-host="shop.example.com"`, "You pasted a web address: its host is registered")
		mustNotContain(t, "after registering a pasted address", page.Body, "/path/page")

		// The same address again: 422 (taken), the field holds the host and
		// a note names what was pasted.
		r = u.do("POST", "/domain", strings.NewReader(url.Values{"_csrf": {u.csrf()}, "host": {"https://shop.example.com/other"}, "type": {"free"}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "ko"})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("registering it again: %d", r.Status)
		}
		mustContain(t, "the form shown again", r.Body, `value="shop.example.com"`,
			`data-testid="host-reduced">붙여 넣은 주소 https://shop.example.com/other에서 가져왔습니다`,
			`aria-describedby="host-hint host-note host-error"`, "이미 등록한 호스트입니다")

		// Not a web address: refused as before, nothing reduced.
		r = u.post("/domain", url.Values{"host": {"ftp://files.example.com/"}, "type": {"free"}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("ftp address: %d", r.Status)
		}
		mustContain(t, "an ftp address", r.Body, "a web address that starts with http:// or https://")
		mustNotContain(t, "an ftp address", r.Body, `data-testid="host-reduced"`)
	})
}

var headerRe = regexp.MustCompile(`(?s)<header class="site-header">.*</header>`)

// The figures pages state come from the server's settings: change
// TOKEN_TTL and the limits, and the pages change.
func TestFiguresComeFromSettings(t *testing.T) {
	for _, tc := range []struct {
		name         string
		tweak        func(*config.Config)
		en, ko, none []string
		dash         []string
	}{
		{"defaults", func(*config.Config) {},
			[]string{"Signed tokens (JWT, HS256) that live 1 minute.", `"expiresIn":60}`},
			[]string{"1분 동안 유효한 서명된 토큰"}, nil,
			[]string{"10 tokens a minute: to try the API", "1,000 tokens a minute, for a busy site"}},
		{"changed", func(c *config.Config) { c.TokenTTL = 5 * time.Minute; c.FreeTokenRPM = 7; c.PremiumTokenRPM = 12345 },
			[]string{"Signed tokens (JWT, HS256) that live 5 minutes.", `"expiresIn":300}`},
			[]string{"5분 동안 유효한 서명된 토큰"}, []string{"1 minute", "one minute", "1분", `"expiresIn":60}`},
			[]string{"7 tokens a minute: to try the API", "12,345 tokens a minute, for a busy site"}},
		{"seconds, no limits", func(c *config.Config) { c.TokenTTL = 90 * time.Second; c.RateLimits = false },
			[]string{"live 90 seconds.", `"expiresIn":90}`}, []string{"90초 동안 유효한"}, []string{"1 minute", "1분"},
			[]string{`data-testid="plan-free-hint">No rate limit on this server`, `data-testid="plan-premium-hint">No rate limit on this server`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, "sqlite", func(c *config.Config) { c.RateLimits = true; tc.tweak(c) })
			v := s.client(t)
			en := v.do("GET", "/", nil, map[string]string{"Accept-Language": "en"}).Body
			ko := v.do("GET", "/", nil, map[string]string{"Accept-Language": "ko"}).Body
			mustContain(t, "home (en)", en, tc.en...)
			mustContain(t, "home (ko)", ko, tc.ko...)
			mustNotContain(t, "home (en)", en, tc.none...)
			mustNotContain(t, "home (ko)", ko, tc.none...)
			dash := s.user(t, "figures@example.com").get("/").Body
			mustContain(t, "dashboard", dash, tc.dash...)
		})
	}
}

// A form shown again after an error has the header the form had: the
// same navigation, the same buttons, the language switch coming back to it.
func TestReshownFormKeepsItsHeader(t *testing.T) {
	s := newTestServer(t, "sqlite")
	v := s.client(t)
	csrf := v.csrf()
	form := func(path string, vals url.Values) string {
		vals.Set("_csrf", csrf)
		r := v.do("POST", path, strings.NewReader(vals.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("POST %s: %d", path, r.Status)
		}
		return headerRe.FindString(r.Body)
	}
	for _, tc := range []struct {
		get, post string
		vals      url.Values
	}{
		{"/auth/join", "/auth/join", url.Values{"email": {"nope"}}},
		{"/auth/login", "/auth/login", url.Values{"email": {"nope"}}},
		{"/auth/forgot", "/auth/forgot", url.Values{"email": {"nope"}}},
	} {
		want := headerRe.FindString(v.get(tc.get).Body)
		if want == "" {
			t.Fatalf("GET %s: no header", tc.get)
		}
		if got := form(tc.post, tc.vals); got != want {
			t.Errorf("POST %s shown again: header\n%s\nwant the form's\n%s", tc.post, got, want)
		}
	}
	// Signed in: the account's and the posts' forms keep their page current.
	u := s.user(t, "header@example.com")
	for _, tc := range []struct {
		get, post string
		vals      url.Values
	}{
		{"/account", "/account/nick", url.Values{"nick": {""}}},
		{"/posts", "/post", url.Values{"content": {""}}},
		{"/", "/domain", url.Values{"host": {"bad host"}, "type": {"free"}}},
	} {
		want := headerRe.FindString(u.get(tc.get).Body)
		r := u.post(tc.post, tc.vals)
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("POST %s: %d", tc.post, r.Status)
		}
		if got := headerRe.FindString(r.Body); got != want {
			t.Errorf("POST %s shown again: header\n%s\nwant the form's\n%s", tc.post, got, want)
		}
	}
}

// Password rules are stated in bytes, with what that means for Korean.
func TestPasswordHintSaysBytes(t *testing.T) {
	s := newTestServer(t, "sqlite")
	v := s.client(t)
	mustContain(t, "join (en)", v.do("GET", "/join", nil, map[string]string{"Accept-Language": "en"}).Body, "8 to 72 bytes", "about 24 Korean ones")
	mustContain(t, "join (ko)", v.do("GET", "/join", nil, map[string]string{"Accept-Language": "ko"}).Body, "8바이트에서 72바이트", "한글로는 24자 정도")
	// 24 Hangul syllables are 72 bytes: accepted; 25 are refused, with the rule.
	if r := v.signup("hangul@example.com", "한글", strings.Repeat("가", 24)); r.Status != http.StatusSeeOther {
		t.Fatalf("24 Hangul syllables: %d", r.Status)
	}
	r := s.client(t).signup("hangul2@example.com", "한글", strings.Repeat("가", 25))
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("25 Hangul syllables: %d", r.Status)
	}
	mustContain(t, "25 Hangul syllables", r.Body, "at most 72 bytes (72 Latin letters or digits, or about 24 Korean characters)")
}
