package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestHealthcheck: the container's probe exits 0 when /readyz answers 200
// and 1 when it answers anything else or nothing; without a URL it asks
// 127.0.0.1 on PORT.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	env := func(k string) (string, bool) {
		if k == "PORT" {
			return u.Port(), true
		}
		return "", false
	}
	if got := healthcheck(nil, env, io.Discard); got != 0 {
		t.Errorf("ready, on PORT: exit %d, want 0", got)
	}
	status = http.StatusServiceUnavailable
	var out strings.Builder
	if got := healthcheck([]string{srv.URL + "/readyz"}, env, &out); got != 1 || !strings.Contains(out.String(), "503") {
		t.Errorf("not ready: exit %d (%q), want 1 with the status", got, out.String())
	}
	srv.Close()
	if got := healthcheck(nil, env, io.Discard); got != 1 {
		t.Errorf("nothing listening: exit %d, want 1", got)
	}
}
