package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

type pageTemplate = template.Template

// Page is the data every template gets; page-specific data sits in Data.
type Page struct {
	Lang    string
	User    *models.User
	IsAdmin bool
	CSRF    string
	Flash   []string
	Path    string
	Form    any
	Errors  map[string]string
	Data    any
	// Figures are this server's settings as pages state them.
	Figures Figures
}

// Figures are the figures pages show (token lifetime, plan quotas), taken
// from the server's settings so that no page states a default that this
// server does not use.
type Figures struct {
	TokenTTL        string // in words, in the page's language
	TokenTTLSeconds int
	Limits          bool   // rate limits are on
	FreeRPM         string // tokens a minute per domain, by plan
	PremiumRPM      string
}

func (a *App) figures(lang string) Figures {
	ttl := a.access.TokenTTL()
	l := a.access.Limits()
	return Figures{
		TokenTTL: durationWords(lang, ttl), TokenTTLSeconds: int(ttl.Seconds()),
		Limits: l.On, FreeRPM: thousands(l.TokenFree.Quota), PremiumRPM: thousands(l.TokenPremium.Quota),
	}
}

// T translates a catalogue key into the page's language.
func (p *Page) T(key string, args ...any) string { return i18n.T(p.Lang, key, args...) }

// THost translates key with one argument, a host, which it wraps in
// <span class="host"> so that the stylesheet keeps the host whole where it
// fits on a line (a sentence would otherwise break it at a hyphen).
// Everything is escaped: the catalogue's text and the host.
func (p *Page) THost(key, host string) template.HTML {
	const mark = "\x01host\x01"
	text := template.HTMLEscapeString(p.T(key, mark))
	return template.HTML(strings.Replace(text, mark, `<span class="host">`+template.HTMLEscapeString(host)+`</span>`, 1))
}

// FieldError is the translated message for a form field, or "".
func (p *Page) FieldError(field string) string {
	if k, ok := p.Errors[field]; ok {
		return p.T(k)
	}
	return ""
}

var funcs = template.FuncMap{
	"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"day":      func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"add":      func(a, b int) int { return a + b },
}

// parseTemplates parses each page with the base layout and the partials,
// once, from files (which holds templates/).
func parseTemplates(files fs.FS) (map[string]*template.Template, error) {
	pages, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("no templates under templates/pages")
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout/base.html", "templates/partials/*.html", p)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", p, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page with data, rendered into a buffer first so that a
// template error becomes a clean 500 rather than half a page.
func (a *App) render(c echo.Context, status int, page string, p *Page) error {
	t, ok := a.templates[page]
	if !ok {
		return fmt.Errorf("no template %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", p); err != nil {
		return fmt.Errorf("rendering %s: %w", page, err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// page builds the common page data for this request: language, user,
// admin flag, CSRF token and pending flash messages.
func (a *App) page(c echo.Context) *Page {
	// Path is where the language switch comes back to, and what the
	// navigation marks as the current page: the page itself for a GET; for
	// a form posted and shown again, the page of that form (formPage), so
	// that its header is the one the form had.
	path := c.Request().URL.EscapedPath()
	if c.Request().Method != http.MethodGet {
		path = formPage(path)
	}
	lang := a.lang(c)
	p := &Page{Lang: lang, Path: path, Errors: map[string]string{}, Figures: a.figures(lang)}
	if s := webSession(c); s != nil {
		p.User = s.user
		p.IsAdmin = s.admin
		p.CSRF = s.csrf()
		if c.Request().Method != http.MethodHead { // its body is not shown: keep them for the GET
			p.Flash = s.flashes()
		}
	}
	return p
}

// formPage is the page whose form posts to path (the start page when the
// path has no page of its own): "/auth/join" and the other forms with a GET
// at their own address, "/account" for its sections' forms, "/posts" for
// a post, "/domain/ID" for its label.
func formPage(path string) string {
	switch {
	case path == "/auth/join", path == "/auth/login", path == "/auth/forgot", path == "/account/email":
		return path
	case path == "/post":
		return "/posts"
	case strings.HasPrefix(path, "/account/"):
		return "/account"
	case strings.HasPrefix(path, "/domain/") && strings.HasSuffix(path, "/label"):
		if id, ok := parseID(strings.TrimSuffix(strings.TrimPrefix(path, "/domain/"), "/label")); ok {
			return "/domain/" + strconv.FormatUint(id, 10)
		}
	}
	return "/"
}

func (a *App) redirect(c echo.Context, to string) error {
	return c.Redirect(http.StatusSeeOther, to)
}
