package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// Retiring an API version, as the seed's `deprecated` middleware did: while
// a version is deprecated its answers say so, and when its time is up it
// answers 410 Gone. No version is retired today: v1 is current
// (routes.go). To retire one, add retire(...) to each of its routes'
// middleware (after apiCORS, so that pages may read the 410).

// retirement is when a version was (or will be) deprecated and when it
// stops answering.
type retirement struct {
	Deprecated time.Time // when it was, or will be, deprecated
	Sunset     time.Time // from then on, 410 Gone
	// Doc, if set, is a page that says what to use instead (Link
	// rel="deprecation", RFC 9745 section 3).
	Doc string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// retire marks every answer of the routes it guards with the Deprecation
// header (RFC 9745: a structured-field date, "@" and Unix seconds) and the
// Sunset header (RFC 8594: an HTTP-date); from the sunset on, it answers
// 410 {"code":410,"message":...,"error":"gone"} with the same headers
// instead of serving the route.
func retire(r retirement) echo.MiddlewareFunc {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	deprecation := "@" + strconv.FormatInt(r.Deprecated.Unix(), 10)
	sunset := r.Sunset.UTC().Format(http.TimeFormat)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Deprecation", deprecation)
			h.Set("Sunset", sunset)
			if r.Doc != "" {
				h.Add("Link", "<"+r.Doc+`>; rel="deprecation"`)
			}
			if !now().Before(r.Sunset) {
				return apiError(http.StatusGone, "api.gone")
			}
			return next(c)
		}
	}
}
