package main

import (
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/client"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/testapp"
	"github.com/nodebird/nodebird-api/internal/testdb"
)

func get(t *testing.T, srv *httptest.Server, path, lang string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func nodecat(t *testing.T, base, secret string) *httptest.Server {
	srv := httptest.NewServer(newSite(client.New(base, secret), slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return srv
}

// TestNodecat: the owner's posts (escaped), the hashtag search (Korean
// included, none found), in English and Korean, through the real API on
// SQLite and MariaDB.
func TestNodecat(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			app := testapp.Start(t, driver)
			uid, _, sec := app.Domain(t, "cat@example.com", "cat", "localhost:4000", "free")
			other, _, _ := app.Domain(t, "dog@example.com", "dog", "dog.example.com", "free")
			app.Post(t, uid, `<script>alert(1)</script> #노드`)
			app.Post(t, other, "someone else's #노드 post")
			cat := nodecat(t, app.URL, sec)

			status, body := get(t, cat, "/", "")
			if status != 200 || strings.Contains(body, "<script>alert") || !strings.Contains(body, html.EscapeString("<script>alert(1)</script>")) {
				t.Fatalf("GET /: %d\n%s", status, body)
			}
			if strings.Contains(body, "someone else") || !strings.Contains(body, html.EscapeString(i18n.T("en", "nodecat.mine"))) {
				t.Errorf("GET /: not the owner's posts only\n%s", body)
			}
			status, body = get(t, cat, "/search?hashtag="+url.QueryEscape("노드"), "ko")
			if status != 200 || strings.Count(body, `data-testid="post"`) != 2 || !strings.Contains(body, html.EscapeString(i18n.T("ko", "nodecat.results", "노드"))) {
				t.Errorf("search 노드: %d\n%s", status, body)
			}
			status, body = get(t, cat, "/search?hashtag=nothing", "")
			if status != 200 || !strings.Contains(body, html.EscapeString(i18n.T("en", "nodecat.none"))) {
				t.Errorf("search nothing: %d\n%s", status, body)
			}
			status, body = get(t, cat, `/search?hashtag=%22%3E%3Cb%3E`, "")
			if strings.Contains(body, `"><b>`) {
				t.Errorf("the searched tag is not escaped: %d\n%s", status, body)
			}

			// A refused secret: a clear page, with the API's error id.
			status, body = get(t, nodecat(t, app.URL, "nbk_short"), "/", "")
			if status != http.StatusBadGateway || !strings.Contains(body, html.EscapeString(i18n.T("en", "nodecat.err.refused"))) || !strings.Contains(body, "malformed_secret") {
				t.Errorf("refused secret: %d\n%s", status, body)
			}
		})
	}
}

// TestNodecatWhenNodeBirdIsDown: a page that says NodeBird is not
// answering, in the visitor's language.
func TestNodecatWhenNodeBirdIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	status, body := get(t, nodecat(t, down, "nbk_x"), "/", "ko")
	if status != http.StatusBadGateway || !strings.Contains(body, html.EscapeString(i18n.T("ko", "nodecat.err.down"))) || !strings.Contains(body, `role="alert"`) {
		t.Errorf("NodeBird down: %d\n%s", status, body)
	}
}
