package handlers

import (
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	xhtml "golang.org/x/net/html"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/secret"
)

// The portal's pages, as HTML: forms, labels, languages, the page for API
// users. (The browser tests in e2e/ check the same pages in Chromium.)

// uiPages signs up a user with a registered domain and returns the main
// pages as a visitor and as that user sees them, by name.
func uiPages(t *testing.T, s *testServer, lang string) map[string]response {
	t.Helper()
	h := map[string]string{"Accept-Language": lang}
	visitor := s.client(t)
	pages := map[string]response{
		"login":     visitor.do("GET", "/", nil, h),
		"join":      visitor.do("GET", "/join", nil, h),
		"docs":      visitor.do("GET", "/docs", nil, h),
		"404":       visitor.do("GET", "/no/such/page", nil, h),
		"login 422": visitor.do("POST", "/auth/login", strings.NewReader(url.Values{"_csrf": {visitor.csrf()}, "email": {"x@example.com"}, "password": {"wrong password"}}.Encode()), map[string]string{"Accept-Language": lang, "Content-Type": "application/x-www-form-urlencoded"}),
		"join 422":  visitor.do("POST", "/auth/join", strings.NewReader(url.Values{"_csrf": {visitor.csrf()}, "email": {"nope"}}.Encode()), map[string]string{"Accept-Language": lang, "Content-Type": "application/x-www-form-urlencoded"}),
	}
	joined := s.client(t)
	joined.do("POST", "/auth/join", strings.NewReader(url.Values{"_csrf": {joined.csrf()}, "email": {"ui-join-" + lang + "@example.com"},
		"nick": {"joined"}, "password": {"correct horse battery"}}.Encode()), map[string]string{"Accept-Language": lang, "Content-Type": "application/x-www-form-urlencoded"})
	pages["joined"] = joined.do("GET", "/", nil, h)
	u := s.user(t, "ui-"+lang+"@example.com")
	pages["dashboard empty"] = u.do("GET", "/", nil, h)
	form := func(v url.Values) *strings.Reader {
		v.Set("_csrf", u.csrf())
		return strings.NewReader(v.Encode())
	}
	ct := map[string]string{"Accept-Language": lang, "Content-Type": "application/x-www-form-urlencoded"}
	r := u.do("POST", "/domain", form(url.Values{"host": {"ui.example.com"}, "type": {"premium"}}), ct)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d", r.Status)
	}
	pages["dashboard new secret"] = u.do("GET", r.Header.Get("Location"), nil, h)
	pages["dashboard 422"] = u.do("POST", "/domain", form(url.Values{"host": {"ftp://bad"}, "type": {"free"}}), ct)
	pages["dashboard"] = u.do("GET", "/", nil, h)
	pages["docs signed in"] = u.do("GET", "/docs", nil, h)
	pages["account"] = u.do("GET", "/account", nil, h)
	pages["account 422"] = u.do("POST", "/account/password", form(url.Values{"current_password": {"x"}, "new_password": {"short"}}), ct)
	return pages
}

func parseHTML(t *testing.T, what, body string) *xhtml.Node {
	t.Helper()
	doc, err := xhtml.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return doc
}

func attr(n *xhtml.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func walk(n *xhtml.Node, fn func(*xhtml.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func TestPortalPagesFormsAndLabels(t *testing.T) {
	s := newTestServer(t, "sqlite")
	for _, lang := range i18n.Languages {
		for name, r := range uiPages(t, s, lang) {
			what := lang + " " + name
			if !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d %s", what, r.Status, r.Header.Get("Content-Type"))
				continue
			}
			doc := parseHTML(t, what, r.Body)
			labels := map[string]bool{}
			ids := map[string]int{}
			walk(doc, func(n *xhtml.Node) {
				if n.Type != xhtml.ElementNode {
					return
				}
				if id, ok := attr(n, "id"); ok {
					ids[id]++
				}
				if n.Data == "label" {
					if f, ok := attr(n, "for"); ok {
						labels[f] = true
					}
				}
			})
			for id, n := range ids {
				if n > 1 {
					t.Errorf("%s: id %q used %d times", what, id, n)
				}
			}
			forms := 0
			walk(doc, func(n *xhtml.Node) {
				if n.Type != xhtml.ElementNode {
					return
				}
				switch n.Data {
				case "form":
					forms++
					method, _ := attr(n, "method")
					if method != "post" {
						return
					}
					csrf := ""
					walk(n, func(in *xhtml.Node) {
						if name, _ := attr(in, "name"); in.Data == "input" && name == "_csrf" {
							csrf, _ = attr(in, "value")
						}
					})
					if csrf == "" {
						action, _ := attr(n, "action")
						t.Errorf("%s: the form to %s has no _csrf value", what, action)
					}
				case "input", "select", "textarea":
					typ, _ := attr(n, "type")
					if typ == "hidden" || typ == "submit" {
						return
					}
					id, _ := attr(n, "id")
					wrapped := false
					for p := n.Parent; p != nil; p = p.Parent {
						if p.Type == xhtml.ElementNode && p.Data == "label" {
							wrapped = true
						}
					}
					if !labels[id] && !wrapped {
						name, _ := attr(n, "name")
						t.Errorf("%s: field %q (id %q) has no label", what, name, id)
					}
					if inv, _ := attr(n, "aria-invalid"); inv == "true" {
						desc, _ := attr(n, "aria-describedby")
						if !strings.Contains(desc, "-error") {
							t.Errorf("%s: invalid field %q is not described by its error (%q)", what, id, desc)
						}
						for _, ref := range strings.Fields(desc) {
							if ids[ref] == 0 {
								t.Errorf("%s: field %q is described by a missing element %q", what, id, ref)
							}
						}
					}
				}
			})
			if forms == 0 && name != "404" {
				t.Errorf("%s: no form at all (the language switch is one)", what)
			}
		}
	}
}

func TestPortalPagesSpeakTheChosenLanguage(t *testing.T) {
	s := newTestServer(t, "sqlite")
	keys := i18n.Keys("en")
	for _, lang := range i18n.Languages {
		pages := uiPages(t, s, lang)
		for name, r := range pages {
			what := lang + " " + name
			mustContain(t, what, r.Body, `<html lang="`+lang+`">`)
			text := visibleText(parseHTML(t, what, r.Body))
			for _, k := range keys {
				if strings.Contains(text, k) {
					t.Errorf("%s: shows the catalogue key %q instead of its text", what, k)
				}
			}
		}
		// A few landmarks of each page, in this language.
		T := func(k string, a ...any) string { return html.EscapeString(i18n.T(lang, k, a...)) }
		for name, want := range map[string][]string{
			"login":                {T("login.heading"), T("login.title")},
			"login 422":            {T("form.login.failed")},
			"join":                 {T("join.title"), T("field.nick.hint")},
			"join 422":             {T("form.email.invalid"), T("form.nick.required")},
			"joined":               {T("login.heading"), T("flash.join.sent")},
			"dashboard empty":      {T("dash.empty.title"), T("dash.empty.cta")},
			"dashboard new secret": {T("secret.created", "ui.example.com"), T("secret.once.title"), T("flash.domain.created")},
			"dashboard 422":        {T("form.host.scheme")},
			"account":              {T("account.heading"), T("account.password.heading"), T("account.delete.heading"), T("nav.account")},
			"account 422":          {T("form.password.short")},
			"dashboard":            {T("plan.premium"), T("status.active"), T("action.rotate"), T("confirm.delete", "ui.example.com")},
			"docs":                 {T("docs.heading"), T("docs.status.419.when"), T("docs.cors.title")},
			"404":                  {T("err.404")},
		} {
			mustContain(t, lang+" "+name, pages[name].Body, want...)
		}
	}
}

// visibleText is the text of a page outside script and style.
func visibleText(doc *xhtml.Node) string {
	var b strings.Builder
	walk(doc, func(n *xhtml.Node) {
		if n.Type == xhtml.TextNode && (n.Parent == nil || (n.Parent.Data != "script" && n.Parent.Data != "style")) {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		if n.Type == xhtml.ElementNode {
			for _, a := range n.Attr {
				switch a.Key {
				case "aria-label", "title", "alt", "placeholder", "data-copied", "data-failed":
					b.WriteString(a.Val)
					b.WriteByte(' ')
				}
			}
		}
	})
	return b.String()
}

// Every word a person reads comes from the catalogue: templates hold no
// text of their own outside code samples and the product's name.
func TestTemplatesHoldNoText(t *testing.T) {
	root := os.DirFS("..")
	files := []string{"templates/layout/base.html"}
	partials, _ := fs.Glob(root, "templates/partials/*.html")
	files = append(files, partials...)
	for _, p := range []string{"login", "join", "dashboard", "error", "docs"} {
		files = append(files, "templates/pages/"+p+".html")
	}
	actions := regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	strip := []*regexp.Regexp{
		regexp.MustCompile(`(?s)<pre\b.*?</pre>`),
		regexp.MustCompile(`(?s)<code\b.*?</code>`),
		regexp.MustCompile(`(?s)<svg\b.*?</svg>`),
		regexp.MustCompile(`(?s)<script\b.*?</script>`),
		regexp.MustCompile(`(?s)<title>.*?</title>`), // the page's title block, then the product's name
	}
	textRe := regexp.MustCompile(`>([^<]*)<`)
	attrRe := regexp.MustCompile(`\s(placeholder|title|alt|aria-label|data-copied|data-failed)="([^"]*)"`)
	allowed := strings.NewReplacer("NodeBird", "", "API", "")
	for _, f := range files {
		b, err := fs.ReadFile(root, f)
		if err != nil {
			t.Fatal(err)
		}
		src := actions.ReplaceAllString(string(b), "")
		for _, m := range attrRe.FindAllStringSubmatch(src, -1) {
			if hasLetter(m[2]) {
				t.Errorf("%s: %s=%q is not from the catalogue", f, m[1], m[2])
			}
		}
		for _, re := range strip {
			src = re.ReplaceAllString(src, "<>")
		}
		for _, m := range textRe.FindAllStringSubmatch(src, -1) {
			if txt := allowed.Replace(html.UnescapeString(m[1])); hasLetter(txt) {
				t.Errorf("%s: text %q is not from the catalogue", f, strings.TrimSpace(m[1]))
			}
		}
	}
}

func hasLetter(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) >= 0 }

// codeSample is the text of the code sample with this id on a page.
func codeSample(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<code id="` + id + `">(.*?)</code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no code sample %q", id)
	}
	return html.UnescapeString(m[1])
}

// jsonOf is the JSON body at the end of a code sample (after any headers).
func jsonOf(t *testing.T, sample string) map[string]any {
	t.Helper()
	i := strings.Index(sample, "{")
	var v map[string]any
	if i < 0 || json.Unmarshal([]byte(sample[i:]), &v) != nil {
		t.Fatalf("no JSON in the sample:\n%s", sample)
	}
	return v
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The page for API users tells what the API really does: its samples have
// the fields and messages of real answers, and its numbers are this
// server's settings.
func TestDocsPageMatchesTheAPI(t *testing.T) {
	s := newTestServer(t, "sqlite", func(c *config.Config) { c.RateLimits = true })
	c := s.client(t)
	r := c.get("/docs")
	if r.Status != http.StatusOK {
		t.Fatalf("/docs: %d", r.Status)
	}
	base := s.URL
	mustContain(t, "docs", r.Body,
		`data-testid="api-base">`+base+`<`, base+`/v1/token`, base+`/v1/test`,
		"clientSecret", "application/json", "application/x-www-form-urlencoded",
		"Authorization", "Bearer", "WWW-Authenticate", "Retry-After", "RateLimit-Policy",
		`&#34;token-free&#34;;q=10;w=60`, "1 minute", "expiresIn: 60 seconds",
		"10 a minute", "1,000 a minute", "6,000 a minute", "Access-Control-Allow-Origin", "TypeError", "Accept-Language")
	for _, code := range []string{"200", "400", "401", "403", "404", "405", "413", "415", "419", "429", "503"} {
		mustContain(t, "status table", r.Body, `data-status="`+code+`"`)
	}
	for _, claim := range []string{"id", "nick", "did", "sv", "iss", "sub", "aud", "jti", "iat", "exp"} {
		mustContain(t, "claims table", r.Body, "<td><code>"+claim+"</code></td>")
	}

	// Real answers, to compare the samples with.
	u := s.user(t, "docs@example.com")
	sec := u.register("docs.example.com", "free")
	api := func(method, path, body string, h map[string]string) (int, map[string]any) {
		res := s.client(t).do(method, path, strings.NewReader(body), h)
		var v map[string]any
		if err := json.Unmarshal([]byte(res.Body), &v); err != nil {
			t.Fatalf("%s %s: %d %q", method, path, res.Status, res.Body)
		}
		return res.Status, v
	}
	jsonCT := map[string]string{"Content-Type": "application/json"}
	_, issued := api("POST", "/v1/token", `{"clientSecret":"`+sec+`"}`, jsonCT)
	_, claims := api("GET", "/v1/test", "", map[string]string{"Authorization": "Bearer " + issued["token"].(string)})
	_, missing := api("POST", "/v1/token", `{}`, jsonCT)
	_, unknown := api("POST", "/v1/token", `{"clientSecret":"`+secret.New()+`"}`, jsonCT) // well formed, unknown
	_, invalid := api("GET", "/v1/test", "", map[string]string{"Authorization": "Bearer not.a.token"})

	cases := []struct {
		sample string
		real   map[string]any
		same   bool // the whole body, not only its fields
	}{
		{"doc-token-ok", issued, false},
		{"doc-test-ok", claims, false},
		{"doc-error-400", missing, true},
		{"doc-token-401", unknown, true},
		{"doc-test-401", invalid, true},
	}
	for _, tc := range cases {
		doc := jsonOf(t, codeSample(t, r.Body, tc.sample))
		if got, want := keysOf(doc), keysOf(tc.real); !slices.Equal(got, want) {
			t.Errorf("%s: fields %v, the API answers %v", tc.sample, got, want)
		}
		if tc.same {
			if d, _ := json.Marshal(doc); string(d) != mustJSON(tc.real) {
				t.Errorf("%s: %s, the API answers %s", tc.sample, d, mustJSON(tc.real))
			}
		}
	}
	if doc := jsonOf(t, codeSample(t, r.Body, "doc-token-ok")); doc["expiresIn"] != issued["expiresIn"] {
		t.Errorf("expiresIn: docs %v, API %v", doc["expiresIn"], issued["expiresIn"])
	}
	if !strings.Contains(codeSample(t, r.Body, "doc-test-401"), `WWW-Authenticate: Bearer error="invalid_token"`) {
		t.Error("the 401 sample lacks WWW-Authenticate")
	}
	expired := jsonOf(t, codeSample(t, r.Body, "doc-test-419"))
	if expired["code"] != 419.0 || expired["message"] != i18n.T("en", "api.token.expired") {
		t.Errorf("419 sample: %v", expired)
	}
	if ko := jsonOf(t, codeSample(t, r.Body, "doc-lang")); ko["message"] != i18n.T("ko", "api.token.expired") {
		t.Errorf("the Korean sample: %v", ko)
	}

	// The examples use the address the page was asked for.
	res := c.do("GET", "/docs", nil, map[string]string{"X-Forwarded-Host": "evil.example"})
	mustNotContain(t, "docs", res.Body, "evil.example")
	req, _ := http.NewRequest("GET", s.URL+"/docs", nil)
	req.Host = "api.example.test"
	hres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer hres.Body.Close()
	other, _ := io.ReadAll(hres.Body)
	mustContain(t, "docs for another host", string(other), "http://api.example.test/v1/token")

	// In Korean, with the server's own lifetime and limits.
	s2 := newTestServer(t, "sqlite", func(c *config.Config) {
		c.TokenTTL, c.RateLimits, c.FreeTokenRPM = 90*time.Second, false, 25
	})
	r = s2.client(t).do("GET", "/docs", nil, map[string]string{"Accept-Language": "ko"})
	mustContain(t, "Korean docs", r.Body, i18n.T("ko", "docs.heading"), "90초", "expiresIn: 90초",
		i18n.T("ko", "docs.limits.off"), i18n.T("ko", "docs.limits.perminute", "25"))
	if doc := jsonOf(t, codeSample(t, r.Body, "doc-token-ok")); doc["expiresIn"] != 90.0 || doc["message"] != i18n.T("ko", "api.token.issued") {
		t.Errorf("Korean token sample: %v", doc)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The new secret is shown once, with what to do with it.
func TestSecretPanel(t *testing.T) {
	s := newTestServer(t, "sqlite")
	c := s.user(t, "panel@example.com")
	empty := c.get("/").Body
	mustContain(t, "empty dashboard", empty, `data-testid="empty-domains"`, `href="#host"`, i18n.T("en", "dash.empty.cta"))
	mustNotContain(t, "empty dashboard", empty, `data-testid="domains"`, `data-testid="secret-panel"`)

	r := c.post("/domain", url.Values{"host": {"panel.example.com"}, "type": {"free"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("register: %d to %q", r.Status, r.Header.Get("Location"))
	}
	r = c.get("/") // the page the registration redirects to
	sec := secretRe.FindStringSubmatch(r.Body)[1]
	mustContain(t, "secret panel", r.Body,
		`data-testid="secret-panel"`, i18n.T("en", "secret.once.title"), i18n.T("en", "secret.once"),
		`data-copy="#new-secret"`, `id="new-secret" data-testid="client-secret">`+sec+`<`,
		`curl -X POST `+s.URL+`/v1/token`, `fetch('`+s.URL+`/v1/token'`, `clientSecret: '`+sec+`'`,
		`href="/docs#renew"`, `data-testid="domain-row" data-host="panel.example.com"`)
	if n := strings.Count(r.Body, `data-testid="client-secret"`); n != 1 {
		t.Errorf("%d elements marked client-secret", n)
	}
	if ids := rowIDRe.FindAllStringSubmatch(r.Body, -1); len(ids) != 1 {
		t.Errorf("%d rotate forms for one domain", len(ids))
	}
	// Rotation shows the new one, marked as new.
	id := c.domainIDs()[0]
	r = c.thenGet(c.post("/domain/"+id+"/rotate", nil))
	mustContain(t, "rotated", r.Body, i18n.T("en", "secret.rotated", "panel.example.com"), i18n.T("en", "flash.domain.rotated"))
	mustNotContain(t, "rotated", r.Body, sec)
	// Then never again.
	body := c.get("/").Body
	mustNotContain(t, "dashboard", body, `data-testid="secret-panel"`, `data-testid="client-secret"`)
	mustContain(t, "dashboard", body, `data-testid="domain-count">1<`, i18n.T("en", "usage.none"),
		i18n.T("en", "confirm.rotate", "panel.example.com"), `action="/domain/`+id+`/delete"`)
}
