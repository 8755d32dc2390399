package handlers

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// Domain-bound browser access: a request that carries an Origin is served,
// with CORS headers for that origin only, when the origin's host is the one
// registered for the secret (or the token's domain). Calls without Origin
// (servers) are not affected.

// exposedHeaders are the response headers a page may read.
const exposedHeaders = "RateLimit, RateLimit-Policy, Retry-After, WWW-Authenticate"

// originHost is the host[:port] of an Origin value, normalised like a
// registered host (default ports dropped); "" when it is not an http(s) origin.
func originHost(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	h, key := NormalizeHost(u.Host) // lower-cases and drops default ports
	if key != "" {
		return ""
	}
	return h
}

// allowOrigin adds the CORS headers for the request's origin, if it has
// one: the access rules have checked it is the domain's own.
func allowOrigin(c echo.Context) {
	origin := c.Request().Header.Get(echo.HeaderOrigin)
	if origin == "" {
		return
	}
	h := c.Response().Header()
	h.Set(echo.HeaderAccessControlAllowOrigin, origin)
	h.Set(echo.HeaderAccessControlExposeHeaders, exposedHeaders)
}

// preflight answers a CORS preflight for an origin whose host some active
// domain registered; the request itself is then checked against its own
// secret or token. Other origins get 403 and no CORS headers.
func (a *App) preflight(methods string) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get(echo.HeaderOrigin)
		host := originHost(origin)
		if host == "" || !a.cache.HasHost(host) {
			return echo.NewHTTPError(http.StatusForbidden, "api.origin")
		}
		h := c.Response().Header()
		h.Set(echo.HeaderAccessControlAllowOrigin, origin)
		h.Set(echo.HeaderAccessControlAllowMethods, methods)
		h.Set(echo.HeaderAccessControlAllowHeaders, "Authorization, Content-Type")
		h.Set(echo.HeaderAccessControlMaxAge, "600")
		return c.NoContent(http.StatusNoContent)
	}
}

// apiCORS marks every /v1 response as depending on Origin (so caches never
// hand one origin's answer to another) and lets a page on a registered host
// read the API's refusals (400, 401, 413, 415, 429, 503...), so that it can
// tell a rotated secret from a network failure. A 403 for a wrong origin
// never carries CORS headers.
func (a *App) apiCORS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Add(echo.HeaderVary, echo.HeaderOrigin)
		err := next(c)
		origin := c.Request().Header.Get(echo.HeaderOrigin)
		if err == nil || origin == "" || h.Get(echo.HeaderAccessControlAllowOrigin) != "" {
			return err
		}
		if status, _ := statusOf(err); status == http.StatusForbidden {
			return err
		}
		if host := originHost(origin); host != "" && a.cache.HasHost(host) {
			h.Set(echo.HeaderAccessControlAllowOrigin, origin)
			h.Set(echo.HeaderAccessControlExposeHeaders, exposedHeaders)
		}
		return err
	}
}
