package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// requestID is the request's id: a well-formed X-Request-ID from the
// client, or a new one: 24 random hex digits.
func requestID(req *http.Request) string {
	if id := req.Header.Get(echo.HeaderXRequestID); wellFormedRequestID(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func wellFormedRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// logRequests gives each request an id, echoed in X-Request-ID, writes one
// structured line per request and records it in the metrics. It logs the
// route pattern, not the URL (whose query string may carry a token), and
// never headers, bodies or cookies.
func (a *App) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := requestID(c.Request())
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		if err := next(c); err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		req, status, route := c.Request(), c.Response().Status, routeOf(c)
		a.metrics.observe(req.Method, route, status, d)
		level := slog.LevelInfo
		if status >= 500 && route != "/readyz" { // "not ready" is a state, not a failure
			level = slog.LevelError
		}
		a.log.LogAttrs(req.Context(), level, "request",
			slog.String("method", methodLabel(req.Method)),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", d),
			slog.String("ip", c.RealIP()),
			slog.String("request_id", id),
		)
		return nil
	}
}

// routeOf is the matched route pattern, or a fixed word for URLs that match
// no route (so that neither logs nor metrics grow with random paths).
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

func (a *App) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				a.log.Error("panic", "panic", fmt.Sprint(r), "route", c.Path())
				err = echo.NewHTTPError(http.StatusInternalServerError)
			}
		}()
		return next(c)
	}
}

// Security headers. The portal's: its pages load only their own scripts,
// styles and images, and are framed nowhere. The API's: OWASP's set for
// REST APIs, under which a JSON answer opened as a document may load
// nothing and be framed nowhere. HSTS on both in production.
const (
	webCSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
	apiCSP = "default-src 'none'; frame-ancestors 'none'"
)

func (a *App) webHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		h.Set(echo.HeaderXFrameOptions, "DENY")
		h.Set(echo.HeaderReferrerPolicy, "same-origin")
		h.Set(echo.HeaderContentSecurityPolicy, webCSP)
		a.hsts(h)
		return next(c)
	}
}

func (a *App) apiHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		h.Set(echo.HeaderXFrameOptions, "DENY")
		h.Set(echo.HeaderContentSecurityPolicy, apiCSP)
		a.hsts(h)
		return next(c)
	}
}

func (a *App) hsts(h http.Header) {
	if a.config.Production() {
		h.Set(echo.HeaderStrictTransportSecurity, "max-age=31536000")
	}
}

// ipExtractor reads the client IP from the connection, or from
// X-Forwarded-For only when the connection comes from a trusted proxy.
func (a *App) ipExtractor() echo.IPExtractor {
	if len(a.config.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range a.config.TrustedProxies {
		if _, n, err := net.ParseCIDR(p); err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		} else if ip := net.ParseIP(p); ip != nil {
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
