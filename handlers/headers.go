package handlers

import (
	"net/http"
	"net/textproto"

	"github.com/labstack/echo/v4"
)

// fixedHeader is a response header with a fixed value, assigned straight
// into the header map: Header.Set would canonicalise the name and allocate
// the value slice again on every request, which /v1 notices. The value
// slice is shared by every response: its len == cap, so an Add elsewhere
// copies it, and nothing may modify it in place.
type fixedHeader struct {
	name  string
	value []string
}

func newFixedHeader(name, value string) fixedHeader {
	return fixedHeader{textproto.CanonicalMIMEHeaderKey(name), []string{value}}
}

func (f fixedHeader) set(h http.Header) { h[f.name] = f.value }

var (
	headerNoStore    = newFixedHeader(echo.HeaderCacheControl, "no-store")
	headerJSON       = newFixedHeader(echo.HeaderContentType, echo.MIMEApplicationJSON)
	headerVaryOrigin = newFixedHeader(echo.HeaderVary, echo.HeaderOrigin)
	// pageHeaders go on every portal response, apiHeaders on every /v1 one:
	// OWASP's set for REST APIs, under which a JSON answer opened as a
	// document may load nothing and be framed nowhere (and, with the
	// response's own headers, fits a header map of 8 without growing it).
	// hsts goes on both in production.
	pageHeaders = []fixedHeader{
		newFixedHeader("X-Content-Type-Options", "nosniff"),
		newFixedHeader("X-Frame-Options", "DENY"),
		newFixedHeader("Referrer-Policy", "same-origin"),
		newFixedHeader("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
	}
	apiHeaders = []fixedHeader{
		newFixedHeader("X-Content-Type-Options", "nosniff"),
		newFixedHeader("X-Frame-Options", "DENY"),
		newFixedHeader("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
	}
	hsts = newFixedHeader("Strict-Transport-Security", "max-age=31536000")
)

// headerRequestID is X-Request-ID as the header map keys it.
var headerRequestID = textproto.CanonicalMIMEHeaderKey(echo.HeaderXRequestID)
