package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/jsonenc"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/models"
)

// The token API. Third-party sites exchange their domain's client secret
// for a short-lived JWT (POST /v1/token) and check a token (GET /v1/test).
// Every answer, errors included, is JSON {"code", "message"}: handlers
// return the errors below and errorHandler renders them.

// apiRoutes registers the /v1 endpoints.
//
// Keep it free of a catch-all route and of g.Use: Echo v4's Group.Use
// registers a catch-all that turns 405 into 404. Unknown /v1 URLs (404) and
// wrong methods (405, with Allow) come from the router, rendered as JSON by
// errorHandler; middleware goes on each route.
func (a *App) apiRoutes(g *echo.Group) {
	g.POST("/token", a.issueToken, a.apiCORS)
	g.GET("/test", a.testToken, a.apiCORS)
	// CORS preflights, for pages on a registered domain (cors.go).
	g.OPTIONS("/token", a.preflight("POST"), a.apiCORS)
	g.OPTIONS("/test", a.preflight("GET"), a.apiCORS)
}

// The API's answers to bad requests. They are shared values: compare them
// with errors.Is, and never call SetInternal on them (use WithInternal).
var (
	errSecretMissing = echo.NewHTTPError(http.StatusBadRequest, "api.secret.missing")
	errBodyMalformed = echo.NewHTTPError(http.StatusBadRequest, "api.body.malformed")
	errBodyType      = echo.NewHTTPError(http.StatusUnsupportedMediaType, "api.body.type")
	// errSecretUnknown: malformed, unknown, rotated away, deleted or revoked.
	errSecretUnknown = echo.NewHTTPError(http.StatusUnauthorized, "api.secret.unknown")
	errTokenMissing  = echo.NewHTTPError(http.StatusUnauthorized, "api.token.missing")
	errTokenInvalid  = echo.NewHTTPError(http.StatusUnauthorized, "api.token.invalid")
	// errTokenExpired is the seed's 419, for a token whose only fault is its age.
	errTokenExpired = echo.NewHTTPError(419, "api.token.expired")
)

// tokenResponse is the body of a successful POST /v1/token.
type tokenResponse struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	Token     string `json:"token"`
	ExpiresIn int    `json:"expiresIn"` // seconds
}

// claimsResponse is the body of a successful GET /v1/test: the token's
// claims (as the seed answered) with code and message.
type claimsResponse struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	token.Wire
}

// appendJSON appends r as encoding/json writes it.
func (r *tokenResponse) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	dst = jsonenc.Int(dst, int64(r.Code))
	dst = append(dst, `,"message":`...)
	dst = jsonenc.String(dst, r.Message)
	dst = append(dst, `,"token":`...)
	dst = jsonenc.String(dst, r.Token)
	dst = append(dst, `,"expiresIn":`...)
	dst = jsonenc.Int(dst, int64(r.ExpiresIn))
	return append(dst, '}')
}

// appendJSON appends r as encoding/json writes it.
func (r *claimsResponse) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	dst = jsonenc.Int(dst, int64(r.Code))
	dst = append(dst, `,"message":`...)
	dst = jsonenc.String(dst, r.Message)
	dst = append(dst, ',')
	return append(r.Wire.AppendFields(dst), '}')
}

// jsonAppender is a response body that writes its own JSON.
type jsonAppender interface{ appendJSON([]byte) []byte }

// jsonBuffers holds the buffers writeJSON builds bodies in.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeJSON answers with v's JSON, the same bytes as c.JSON (newline
// included) without reflection; c.JSON still serves ?pretty.
func writeJSON(c echo.Context, code int, v jsonAppender) error {
	if c.Request().URL.RawQuery != "" {
		if _, pretty := c.QueryParams()["pretty"]; pretty {
			return c.JSON(code, v)
		}
	}
	buf := jsonBuffers.Get().(*[]byte)
	b := append(v.appendJSON((*buf)[:0]), '\n')
	headerJSON.set(c.Response().Header())
	c.Response().WriteHeader(code)
	_, err := c.Response().Write(b)
	*buf = b[:0]
	jsonBuffers.Put(buf)
	return err
}

// newClaimsResponse is the 200 answer of GET /v1/test for c.
func newClaimsResponse(message string, c *token.Claims) claimsResponse {
	return claimsResponse{Code: http.StatusOK, Message: message, Wire: c.Wire()}
}

// issueToken (POST /v1/token) exchanges an active domain's client secret
// for a JWT, for a browser only from the domain's own origin, within the
// plan's rate limit.
func (a *App) issueToken(c echo.Context) error {
	noStore(c)
	if a.guessing(c) { // too many bad secrets from this IP: no lookup at all
		return errRateLimited
	}
	s, err := readClientSecret(c.Request())
	if err != nil {
		return err
	}
	d, err := a.activeDomain(c.Request().Context(), s)
	if errors.Is(err, errSecretUnknown) {
		a.badSecret(c)
	}
	if err != nil {
		return err
	}
	if err := a.allowOrigin(c, d.Host); err != nil {
		a.Counter.Refused(d.ID)
		return err
	}
	if !a.allow(c, a.limits.tokenPolicy(d.Plan), "tok:"+strconv.FormatUint(d.ID, 10)) {
		a.Counter.Refused(d.ID)
		return errRateLimited
	}
	tok, claims, err := a.Tokens.Issue(token.Subject{
		UserID: d.UserID, Nick: d.Nick, DomainID: d.ID, SecretVersion: d.SecretVersion, Host: d.Host,
	})
	if err != nil {
		return err
	}
	a.Counter.Issued(d.ID)
	a.metrics.tokenIssued(d.Plan)
	return writeJSON(c, http.StatusOK, &tokenResponse{
		Code: http.StatusOK, Message: i18n.T(a.lang(c), "api.token.issued"), Token: tok,
		ExpiresIn: int(claims.ExpiresAt.Unix() - claims.IssuedAt.Unix()),
	})
}

// activeDomain finds the active domain whose client secret is s, from
// memory or else the database. errSecretUnknown when there is none; 503
// when the database cannot tell (never a misleading 401).
func (a *App) activeDomain(ctx context.Context, s string) (*domaincache.Entry, error) {
	if !secret.WellFormed(s) { // a typo or a guess: no lookup
		return nil, errSecretUnknown
	}
	d, err := a.Cache.Lookup(ctx, secret.Sum(s))
	switch {
	case errors.Is(err, models.ErrNoRecord):
		return nil, errSecretUnknown
	case err != nil:
		// Unreachable, timed out, closed: whatever the failure, the
		// client should try again, and the cause goes to the log.
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable).WithInternal(err)
	case !d.Active:
		a.Counter.Refused(d.ID)
		return nil, errSecretUnknown
	}
	return d, nil
}

// maxFormMemory bounds the memory a multipart body may take; BODY_LIMIT
// bounds the whole body anyway.
const maxFormMemory = 64 << 10

// readClientSecret reads clientSecret from a JSON, urlencoded or multipart
// body (never from the URL, where secrets end up in logs).
func readClientSecret(req *http.Request) (string, error) {
	ct := req.Header.Get(echo.HeaderContentType)
	mt := ct
	if ct != echo.MIMEApplicationJSON { // the usual header needs no parsing (which allocates)
		mt, _, _ = mime.ParseMediaType(ct)
	}
	var s string
	switch {
	case mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"):
		buf := bodyBuffers.Get().(*bytes.Buffer)
		defer putBodyBuffer(buf)
		buf.Reset()
		if _, err := buf.ReadFrom(req.Body); err != nil {
			return "", bodyError(err)
		}
		var err error
		if s, err = secretFromJSON(buf.Bytes()); err != nil {
			return "", err
		}
	case mt == echo.MIMEApplicationForm:
		if err := req.ParseForm(); err != nil {
			return "", bodyError(err)
		}
		s = req.PostForm.Get("clientSecret")
	case mt == echo.MIMEMultipartForm:
		err := req.ParseMultipartForm(maxFormMemory)
		if req.MultipartForm != nil {
			defer req.MultipartForm.RemoveAll()
		}
		if err != nil {
			return "", bodyError(err)
		}
		s = req.PostForm.Get("clientSecret")
	case ct == "" && req.ContentLength == 0:
	default:
		return "", errBodyType
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errSecretMissing
	}
	return s, nil
}

// bodyBuffers holds the buffers JSON bodies are read into.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBodyBuffer pools buf again unless a large body grew it.
func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 16<<10 {
		bodyBuffers.Put(buf)
	}
}

// secretFromJSON reads clientSecret from a JSON body: one object, nothing
// after it; "" when the member is missing or null.
func secretFromJSON(body []byte) (string, error) {
	if s, ok := plainSecretBody(body); ok {
		return s, nil
	}
	var v struct {
		ClientSecret *string `json:"clientSecret"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return "", errBodyMalformed
	}
	if v.ClientSecret == nil {
		return "", nil
	}
	return *v.ClientSecret, nil
}

// plainSecretBody reads the body every client sends, {"clientSecret":"…"}
// with printable ASCII and no escapes in the value, without encoding/json
// (which reads any such body the same: FuzzSecretFromJSON); ok is false
// for every other body.
func plainSecretBody(body []byte) (s string, ok bool) {
	const prefix, suffix = `{"clientSecret":"`, `"}`
	if len(body) < len(prefix)+len(suffix) || string(body[:len(prefix)]) != prefix ||
		string(body[len(body)-len(suffix):]) != suffix {
		return "", false
	}
	if s = string(body[len(prefix) : len(body)-len(suffix)]); !jsonenc.Plain(s) {
		return "", false
	}
	return s, true
}

// bodyError is 413 when reading the body hit BODY_LIMIT, else 400.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, &tooBig) {
		return echo.ErrStatusRequestEntityTooLarge
	}
	return errBodyMalformed
}

// testToken (GET /v1/test) answers with a token's claims, as the seed did:
// 419 when the token's only fault is that it expired, 401 for anything else.
func (a *App) testToken(c echo.Context) error {
	noStore(c)
	raw := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
	claims, err := a.verifyToken(raw)
	if err == nil || errors.Is(err, token.ErrExpired) {
		// A genuine token: a browser may read the answer (419 included, so
		// that it knows to renew) only from the token's own domain.
		if oerr := a.allowOrigin(c, tokenHost(claims)); oerr != nil {
			return oerr
		}
	}
	switch {
	case err == nil:
		if !a.allow(c, a.limits.verify, "ver:"+strconv.FormatUint(claims.DomainID, 10)) {
			return errRateLimited
		}
		a.metrics.tokenVerified(verifyOK)
		r := newClaimsResponse(i18n.T(a.lang(c), "api.token.valid"), claims)
		return writeJSON(c, http.StatusOK, &r)
	case errors.Is(err, token.ErrExpired):
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token", error_description="The token expired"`)
		a.metrics.tokenVerified(verifyExpired)
		return errTokenExpired
	}
	a.metrics.tokenVerified(verifyInvalid)
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
	if raw == "" {
		return errTokenMissing
	}
	return errTokenInvalid
}

// verifyToken checks a token's algorithm, signature, issuer and times, then
// that its domain was not rotated, revoked or deleted since it was issued
// (in memory: no query). A token whose domain this instance has not seen
// yet (created on another one since the last refresh) is accepted: its
// signature proves the domain existed. token.ErrExpired only when expiry
// is the token's sole fault.
func (a *App) verifyToken(raw string) (*token.Claims, error) {
	claims, err := a.Tokens.Verify(raw)
	if claims != nil && a.Cache.Check(claims.DomainID, claims.SecretVersion) == domaincache.Retired {
		return nil, token.ErrInvalid
	}
	return claims, err
}

// tokenHost is the registered host a token was issued for (its audience).
func tokenHost(c *token.Claims) string {
	if len(c.Audience) == 0 {
		return ""
	}
	return c.Audience[0]
}

// bearerToken takes the token from an Authorization header sent raw (as
// the seed's clients do) or as "Bearer <token>", the scheme in any case.
func bearerToken(h string) string {
	h = strings.TrimSpace(h)
	if len(h) >= 6 && strings.EqualFold(h[:6], "bearer") && (len(h) == 6 || h[6] == ' ') {
		return strings.TrimSpace(h[6:])
	}
	return h
}

// noStore keeps tokens and claims out of every cache (RFC 6749, 5.1).
func noStore(c echo.Context) {
	headerNoStore.set(c.Response().Header())
}
