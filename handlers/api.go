package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/token"
)

// The token API. Third-party sites exchange their domain's client secret
// for a short-lived JWT (POST /v1/token) and check a token (GET /v1/test).
// The rules are the access service's (internal/access); this file reads
// requests, writes answers and maps refusals to statuses (accessStatus).
// Every answer, errors included, is JSON {"code", "message"}: handlers
// return errors and apiErrorHandler renders them.

// accessStatus is the one table from the access service's refusals to
// HTTP statuses, messages (i18n keys) and error ids (the "error" of the
// JSON body: stable snake_case, for programs; errorID has the others).
var accessStatus = map[access.Reason]struct {
	status int
	key    string
	id     string
}{
	access.UnknownSecret:   {http.StatusUnauthorized, "api.secret.unknown", "unknown_secret"},
	access.MalformedSecret: {http.StatusUnauthorized, "api.secret.malformed", "malformed_secret"},
	access.WrongOrigin:     {http.StatusForbidden, "api.origin", "origin_not_allowed"},
	access.RateLimited:     {http.StatusTooManyRequests, "api.ratelimit", "rate_limited"},
	access.MissingToken:    {http.StatusUnauthorized, "api.token.missing", "missing_token"},
	access.InvalidToken:    {http.StatusUnauthorized, "api.token.invalid", "invalid_token"},
	access.Expired:         {419, "api.token.expired", "token_expired"}, // the seed's status
	access.Unavailable:     {http.StatusServiceUnavailable, "err.503", "unavailable"},
	access.DomainRevoked:   {http.StatusUnauthorized, "api.domain.revoked", "domain_revoked"},
}

// keyErrorIDs are the error ids of the API's other refusals that say more
// than their status (by message key); statusErrorIDs those of the rest.
var keyErrorIDs = map[string]string{
	"api.secret.missing": "missing_secret",
	"api.body.malformed": "malformed_body",
	"api.origin":         "origin_not_allowed", // a preflight from an origin no domain registered
	"api.hashtag.none":   "hashtag_not_found",
	"api.posts.limit":    "invalid_limit",
	"api.posts.cursor":   "invalid_cursor",
}

var statusErrorIDs = map[int]string{
	http.StatusBadRequest:                  "bad_request",
	http.StatusUnauthorized:                "unauthorized",
	http.StatusForbidden:                   "forbidden",
	http.StatusNotFound:                    "not_found",
	http.StatusMethodNotAllowed:            "method_not_allowed",
	http.StatusGone:                        "gone",
	http.StatusRequestEntityTooLarge:       "body_too_large",
	http.StatusUnsupportedMediaType:        "unsupported_media_type",
	419:                                    "token_expired",
	http.StatusTooManyRequests:             "rate_limited",
	http.StatusRequestHeaderFieldsTooLarge: "headers_too_large",
	http.StatusInternalServerError:         "internal_error",
	http.StatusServiceUnavailable:          "unavailable",
}

// errorID is the "error" of the body an API error answers with: the access
// rules' reason, else its message's, else its status's. A status outside
// the tables (none is known today) gets "http_<status>": never an empty id.
func errorID(err error, status int, key string) string {
	var ae *access.Error
	if errors.As(err, &ae) && status == accessStatus[ae.Reason].status {
		return accessStatus[ae.Reason].id
	}
	if id, ok := keyErrorIDs[key]; ok {
		return id
	}
	if id, ok := statusErrorIDs[status]; ok {
		return id
	}
	return "http_" + strconv.Itoa(status)
}

// apiError is a refusal of a bad request, rendered as JSON {code, message}.
func apiError(status int, key string) error { return echo.NewHTTPError(status, key) }

// tokenResponse is the body of a successful POST /v1/token.
type tokenResponse struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	Token     string `json:"token"`
	ExpiresIn int    `json:"expiresIn"` // seconds
}

// claimsResponse is the body of a successful GET /v1/test: the token's
// claims (as the seed answered) with code and message, in plain fields (the
// API's contract, not the JWT library's types).
type claimsResponse struct {
	Code          int      `json:"code"`
	Message       string   `json:"message"`
	UserID        uint64   `json:"id"`
	Nick          string   `json:"nick"`
	DomainID      uint64   `json:"did"`
	SecretVersion int      `json:"sv"`
	Issuer        string   `json:"iss,omitempty"`
	Subject       string   `json:"sub,omitempty"`
	Audience      []string `json:"aud,omitempty"`
	ExpiresAt     int64    `json:"exp,omitempty"`
	NotBefore     int64    `json:"nbf,omitempty"`
	IssuedAt      int64    `json:"iat,omitempty"`
	ID            string   `json:"jti,omitempty"`
}

func newClaimsResponse(message string, c *token.Claims) claimsResponse {
	unix := func(d *jwt.NumericDate) int64 {
		if d == nil {
			return 0
		}
		return d.Unix()
	}
	return claimsResponse{
		Code: http.StatusOK, Message: message,
		UserID: c.UserID, Nick: c.Nick, DomainID: c.DomainID, SecretVersion: c.SecretVersion,
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ID: c.ID,
		ExpiresAt: unix(c.ExpiresAt), NotBefore: unix(c.NotBefore), IssuedAt: unix(c.IssuedAt),
	}
}

// callerOf is who sent the request, as the access rules see it; the
// client's network (the key of its shares and bad-secret count) only when
// withNetwork: the rate limits are on.
func callerOf(c echo.Context, withNetwork bool) access.Client {
	origin := c.Request().Header.Get(echo.HeaderOrigin)
	cl := access.Client{Browser: origin != "", OriginHost: originHost(origin)}
	if withNetwork {
		cl.Network = clientNetwork(c)
	}
	return cl
}

// issueToken (POST /v1/token) exchanges an active domain's client secret
// for a JWT.
func (a *App) issueToken(c echo.Context) error {
	noStore(c)
	s, err := readClientSecret(c.Request())
	if err != nil {
		return err
	}
	t, err := a.access.Issue(c.Request().Context(), s, callerOf(c, a.config.RateLimits))
	if err != nil {
		var ae *access.Error
		if errors.As(err, &ae) {
			setRateHeaders(c, ae.Limits)
			a.countRefusal(ae)
		}
		return err
	}
	setRateHeaders(c, t.Limits)
	allowOrigin(c)
	a.metrics.tokenIssued(t.Plan)
	return c.JSON(http.StatusOK, tokenResponse{
		Code: http.StatusOK, Message: i18n.T(a.lang(c), "api.token.issued"), Token: t.Token,
		ExpiresIn: int(t.Claims.ExpiresAt.Unix() - t.Claims.IssuedAt.Unix()),
	})
}

// ctxChecked is where withToken leaves the token it accepted.
const ctxChecked = "api.token"

// withToken opens a route to a token, the seed's verifyToken: 419 when the
// token's only fault is that it expired, 401 for anything else; the
// token's domain must stand, a browser must be on its host, and each call
// counts against the domain's verification quota and the client's share
// of it. The route's handler finds the token with checkedToken.
func (a *App) withToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		noStore(c)
		raw := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		t, err := a.access.Check(c.Request().Context(), raw, callerOf(c, a.config.RateLimits))
		if err != nil {
			var ae *access.Error
			if !errors.As(err, &ae) {
				return err
			}
			setRateHeaders(c, ae.Limits)
			a.countRefusal(ae)
			switch ae.Reason {
			case access.Expired:
				// A genuine token from its own origin: the page may read the
				// 419, so that it knows to renew.
				allowOrigin(c)
				a.metrics.tokenVerified(verifyExpired)
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token", error_description="The token expired"`)
			case access.MissingToken, access.InvalidToken, access.DomainRevoked:
				a.metrics.tokenVerified(verifyInvalid)
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
			}
			return err
		}
		setRateHeaders(c, t.Limits)
		allowOrigin(c)
		a.metrics.tokenVerified(verifyOK)
		c.Set(ctxChecked, t)
		return next(c)
	}
}

// checkedToken is the token withToken accepted for this request.
func checkedToken(c echo.Context) *access.Checked {
	t, _ := c.Get(ctxChecked).(*access.Checked)
	return t
}

// testToken (GET /v1/test, behind withToken) answers with the token's
// claims, as the seed did.
func (a *App) testToken(c echo.Context) error {
	return c.JSON(http.StatusOK, newClaimsResponse(i18n.T(a.lang(c), "api.token.valid"), checkedToken(c).Claims))
}

// countRefusal counts a refusal by a rate limit in the metrics, under the
// refusing policy's name (a domain's quota, a client's share of it, or
// bad-secret).
func (a *App) countRefusal(e *access.Error) {
	if l := access.Refusing(e.Limits); e.Reason == access.RateLimited && l != nil {
		a.metrics.rateLimited(l.Policy.Name)
	}
}

// maxFormMemory bounds the memory a multipart body may take; BODY_LIMIT
// bounds the whole body anyway.
const maxFormMemory = 64 << 10

// readClientSecret reads clientSecret from a JSON, urlencoded or multipart
// body (never from the URL, where secrets end up in logs).
func readClientSecret(req *http.Request) (string, error) {
	ct := req.Header.Get(echo.HeaderContentType)
	mt, _, _ := mime.ParseMediaType(ct)
	var s string
	switch {
	case mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"):
		var v struct {
			ClientSecret *string `json:"clientSecret"`
		}
		if err := decodeJSON(req.Body, &v); err != nil {
			return "", err
		}
		if v.ClientSecret != nil {
			s = *v.ClientSecret
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
		return "", apiError(http.StatusUnsupportedMediaType, "api.body.type")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apiError(http.StatusBadRequest, "api.secret.missing")
	}
	return s, nil
}

// decodeJSON reads one JSON value from body into v: 400 for malformed JSON
// or anything after the value, 413 past BODY_LIMIT.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return apiError(http.StatusBadRequest, "api.body.malformed")
		}
		return bodyError(err)
	}
	return nil
}

// bodyError is 413 when reading the body hit BODY_LIMIT, else 400.
func bodyError(err error) error {
	if bodyTooLarge(err) {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	return apiError(http.StatusBadRequest, "api.body.malformed")
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
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
}
