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

// requestID accepts a well-formed X-Request-ID from the client, makes one
// otherwise, and echoes it in the response.
func (a *App) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !wellFormedRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
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

// logRequests writes one structured line per request. It logs the route
// pattern, not the URL, and never headers, bodies or cookies.
func (a *App) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		a.Log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("method", c.Request().Method),
			slog.String("route", routeOf(c)),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("ip", c.RealIP()),
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		)
		return nil
	}
}

// routeOf is the matched route pattern, or a fixed word for unmatched URLs
// (so that neither logs nor metrics grow with random paths).
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" && p != "/*" && p != c.Request().URL.Path || p == c.Request().URL.Path && c.Response().Status != http.StatusNotFound {
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
				a.Log.Error("panic", "panic", fmt.Sprint(r), "route", c.Path())
				err = echo.NewHTTPError(http.StatusInternalServerError)
			}
		}()
		return next(c)
	}
}

func (a *App) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
		if a.Config.Production() {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// ipExtractor reads the client IP from the connection, or from
// X-Forwarded-For only when the connection comes from a trusted proxy.
func (a *App) ipExtractor() echo.IPExtractor {
	if len(a.Config.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range a.Config.TrustedProxies {
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
