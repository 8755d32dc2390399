// Command nodecat is the demo client site of the NodeBird API, the Go
// version of the textbook's sister site: it shows its owner's NodeBird
// posts and searches posts by hashtag, through the API's Go client (which
// gets, caches and renews the token).
//
//	NODEBIRD_URL=http://localhost:8002 CLIENT_SECRET=nbk_... go run ./cmd/nodecat
//
// PORT (default 4000) is the port it listens on. Register its host in the
// portal (localhost:4000) to get the secret.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nodebird/nodebird-api/client"
	"github.com/nodebird/nodebird-api/internal/i18n"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	base, secret, port := os.Getenv("NODEBIRD_URL"), os.Getenv("CLIENT_SECRET"), os.Getenv("PORT")
	if base == "" || secret == "" {
		fmt.Fprintln(os.Stderr, "nodecat: set NODEBIRD_URL (the API, e.g. http://localhost:8002) and CLIENT_SECRET (your domain's secret)")
		os.Exit(2)
	}
	if port == "" {
		port = "4000"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: ":" + port, Handler: newSite(client.New(base, secret), log), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	log.Info("nodecat serving", "addr", ln.Addr().String(), "nodebird", base)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// site is nodecat's HTTP handler.
type site struct {
	api *client.Client
	log *slog.Logger
	mux *http.ServeMux
}

func newSite(api *client.Client, log *slog.Logger) http.Handler {
	s := &site{api: api, log: log, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.myPosts)
	s.mux.HandleFunc("GET /search", s.search)
	return s
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// view is what the page shows.
type view struct {
	Lang     string
	Heading  string
	Posts    []client.Post
	Next     string // the link to the next page, if any
	Tag      string // the hashtag searched for
	Searched bool
	Error    string // the failure, in words; the page then says only that
	Code     string // the API's error id, for the site's owner
}

// myPosts (GET /): the owner's posts, a page at a time (?cursor=).
func (s *site) myPosts(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "nodecat.mine")
	page, err := s.api.MyPosts(r.Context(), client.ListOptions{Limit: 20, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		s.fail(w, v, err)
		return
	}
	v.Posts = page.Posts
	if page.Next != "" {
		v.Next = "/?cursor=" + page.Next
	}
	s.render(w, http.StatusOK, v)
}

// search (GET /search?hashtag=): everyone's posts with the hashtag.
func (s *site) search(w http.ResponseWriter, r *http.Request) {
	v := s.view(r, "nodecat.search")
	v.Tag = strings.TrimSpace(r.URL.Query().Get("hashtag"))
	if v.Tag == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v.Searched = true
	v.Heading = v.T("nodecat.results", v.Tag)
	page, err := s.api.PostsByHashtag(r.Context(), v.Tag, client.ListOptions{Limit: 50})
	var ae *client.APIError
	switch {
	case errors.As(err, &ae) && ae.Code == "hashtag_not_found": // no results: a page like any other
	case err != nil:
		s.fail(w, v, err)
		return
	default:
		v.Posts = page.Posts
	}
	s.render(w, http.StatusOK, v)
}

func (s *site) view(r *http.Request, heading string) *view {
	v := &view{Lang: i18n.Match(r.Header.Get("Accept-Language"))}
	v.Heading = v.T(heading)
	return v
}

// T is the catalogue's text for key in the page's language.
func (v *view) T(key string, args ...any) string { return i18n.T(v.Lang, key, args...) }

// fail shows what went wrong: NodeBird refused the site's secret or token
// (its owner must act), NodeBird is busy, or it is not answering at all.
func (s *site) fail(w http.ResponseWriter, v *view, err error) {
	v.Posts = nil
	var ae *client.APIError
	switch {
	case errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden):
		v.Error, v.Code = v.T("nodecat.err.refused"), ae.Code
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		v.Error, v.Code = v.T("nodecat.err.busy", int(ae.RetryAfter.Seconds())), ae.Code
	case errors.As(err, &ae):
		v.Error, v.Code = v.T("nodecat.err.api", ae.Status), ae.Code
	default:
		v.Error = v.T("nodecat.err.down")
	}
	s.log.Warn("NodeBird call failed", "err", err) // the client's errors hold no secret or token
	s.render(w, http.StatusBadGateway, v)
}

func (s *site) render(w http.ResponseWriter, status int, v *view) {
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		s.log.Error("rendering", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T "nodecat.title"}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
article{border-bottom:1px solid #ddd;padding:.75rem 0}
.tags{color:#555}
.error{border:2px solid #b00020;padding:1rem;border-radius:.5rem}
label{display:block;margin:.5rem 0 .25rem}
</style>
</head>
<body>
<header>
<h1><a href="/">{{.T "nodecat.title"}}</a></h1>
<form action="/search" method="get" role="search">
<label for="hashtag">{{.T "nodecat.hashtag"}}</label>
<input id="hashtag" name="hashtag" value="{{.Tag}}" required maxlength="30">
<button type="submit">{{.T "nodecat.go"}}</button>
</form>
</header>
<main>
<h2 data-testid="heading">{{.Heading}}</h2>
{{if .Error}}
<div class="error" role="alert" data-testid="error">
<p>{{.Error}}</p>
{{if .Code}}<p>{{.T "nodecat.code"}} <code data-testid="error-code">{{.Code}}</code></p>{{end}}
</div>
{{else}}
{{range .Posts}}
<article data-testid="post" data-id="{{.ID}}">
<p>{{.Content}}</p>
<p class="tags">{{range .Hashtags}}#{{.}} {{end}}<time datetime="{{.CreatedAt.UTC.Format "2006-01-02T15:04:05Z"}}">{{.CreatedAt.UTC.Format "2006-01-02 15:04"}}</time></p>
</article>
{{else}}
<p data-testid="empty">{{if .Searched}}{{.T "nodecat.none"}}{{else}}{{.T "nodecat.nothing"}}{{end}}</p>
{{end}}
{{if .Next}}<p><a href="{{.Next}}" rel="next">{{.T "nodecat.more"}}</a></p>{{end}}
{{end}}
</main>
</body>
</html>
`))
