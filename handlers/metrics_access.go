package handlers

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Who may read /metrics: on the app's port in development anyone, in
// production only a client with METRICS_TOKEN; on METRICS_ADDR whoever
// reaches that address; and wherever it is served, only with METRICS_TOKEN
// when that is set.

// metricsHandler serves /metrics: on METRICS_ADDR when that is set
// (serve.go), otherwise on the app's port (routes.go, when
// metricsOnAppPort). With METRICS_TOKEN it asks for that bearer token
// wherever it is served.
func (a *App) metricsHandler() http.Handler {
	if len(a.config.MetricsToken) == 0 {
		return a.metrics.http
	}
	want := sha256.Sum256(a.config.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Compared as SHA-256 digests in constant time: neither the
		// token's bytes nor its length show in the time taken.
		got := sha256.Sum256([]byte(metricsBearer(r.Header.Get("Authorization"))))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "401 unauthorized: /metrics needs Authorization: Bearer <METRICS_TOKEN>", http.StatusUnauthorized)
			return
		}
		a.metrics.http.ServeHTTP(w, r)
	})
}

// metricsOnAppPort reports whether the app's own port serves /metrics:
// when metrics are on and METRICS_ADDR is not set, and in production
// only with METRICS_TOKEN, so that a public port never shows them to all.
func (a *App) metricsOnAppPort() bool {
	c := a.config
	return c.Metrics && c.MetricsAddr == "" && (!c.Production() || len(c.MetricsToken) > 0)
}

// metricsBearer is the token of an "Authorization: Bearer <token>" header
// (the scheme in any case, RFC 7235), or "" for any other: unlike the
// API's bearerToken, no raw token.
func metricsBearer(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
