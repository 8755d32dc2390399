package handlers

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// requestID is the request's id: a well-formed X-Request-ID from the
// client, or a new one.
func requestID(req *http.Request) string {
	if id := req.Header.Get(echo.HeaderXRequestID); wellFormedRequestID(id) {
		return id
	}
	return newRequestID()
}

// Generated request ids are 24 hex digits: a random prefix and a counter
// from a random start, both drawn at start-up. They correlate log lines and
// are not secrets, so they need to be unique, not unpredictable, and making
// one costs no random read.
var (
	requestIDPrefix [4]byte
	requestIDCount  atomic.Uint64
)

func init() {
	var seed [8]byte
	_, _ = rand.Read(requestIDPrefix[:])
	_, _ = rand.Read(seed[:])
	requestIDCount.Store(binary.BigEndian.Uint64(seed[:]))
}

func newRequestID() string {
	var b [12]byte
	copy(b[:4], requestIDPrefix[:])
	binary.BigEndian.PutUint64(b[4:], requestIDCount.Add(1))
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
		c.Response().Header()[headerRequestID] = []string{id}
		if err := next(c); err != nil {
			c.Error(err)
		}
		end := time.Now()
		d := end.Sub(start)
		req, status, route := c.Request(), c.Response().Status, routeOf(c)
		a.metrics.observe(req.Method, route, status, d)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		// The record goes straight to the handler: Logger.LogAttrs would
		// also capture the caller's program counter, which no request line
		// shows, at a microsecond per request.
		if h := a.Log.Handler(); h.Enabled(req.Context(), level) {
			r := slog.NewRecord(end, level, "request", 0)
			r.AddAttrs(
				slog.String("method", methodLabel(req.Method)),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Duration("duration", d),
				slog.String("ip", c.RealIP()),
				slog.String("request_id", id),
			)
			_ = h.Handle(req.Context(), r)
		}
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
				a.Log.Error("panic", "panic", fmt.Sprint(r), "route", c.Path())
				err = echo.NewHTTPError(http.StatusInternalServerError)
			}
		}()
		return next(c)
	}
}

func (a *App) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h, headers := c.Response().Header(), pageHeaders
		if isAPI(c) {
			headers = apiHeaders
		}
		for _, f := range headers {
			f.set(h)
		}
		if a.Config.Production() {
			hsts.set(h)
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
