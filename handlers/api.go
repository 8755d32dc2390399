package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/token"
	"github.com/nodebird/nodebird-api/models"
)

func (a *App) apiRoutes(g *echo.Group) {
	g.POST("/token", a.issueToken)
	g.GET("/test", a.testToken)
	// Unknown /v1 URLs and wrong methods answer in JSON too.
	g.Any("/*", func(c echo.Context) error { return echo.ErrNotFound })
}

// tokenResponse is the body of a successful POST /v1/token.
type tokenResponse struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	Token     string `json:"token"`
	ExpiresIn int    `json:"expiresIn"`
}

func apiErr(status int, key string) error { return echo.NewHTTPError(status, key) }

// issueToken exchanges a domain's client secret for a JWT.
func (a *App) issueToken(c echo.Context) error {
	s, err := clientSecret(c)
	if err != nil {
		return err
	}
	if !secret.WellFormed(s) { // a typo or a guess: no database lookup
		return apiErr(http.StatusUnauthorized, "api.secret.unknown")
	}
	d, err := a.Cache.Lookup(c.Request().Context(), secret.Hash(s))
	switch {
	case errors.Is(err, models.ErrNoRecord):
		return apiErr(http.StatusUnauthorized, "api.secret.unknown")
	case err != nil:
		return err
	}
	if !d.Active {
		a.Counter.Refused(d.ID)
		return apiErr(http.StatusUnauthorized, "api.secret.unknown")
	}
	tok, _, err := a.Tokens.Issue(token.Subject{
		UserID: d.UserID, Nick: d.Nick, DomainID: d.ID, SecretVersion: d.SecretVersion, Host: d.Host,
	})
	if err != nil {
		return err
	}
	a.Counter.Issued(d.ID)
	a.metrics.tokenIssued(d.Plan)
	return c.JSON(http.StatusOK, tokenResponse{
		Code: http.StatusOK, Message: i18n.T(a.lang(c), "api.token.issued"),
		Token: tok, ExpiresIn: int(a.Tokens.TTL().Seconds()),
	})
}

// clientSecret reads clientSecret from a JSON or form body.
func clientSecret(c echo.Context) (string, error) {
	req := c.Request()
	ct := req.Header.Get(echo.HeaderContentType)
	mt, _, _ := mime.ParseMediaType(ct)
	var s string
	switch {
	case mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"):
		var body struct {
			ClientSecret *string `json:"clientSecret"`
		}
		dec := json.NewDecoder(req.Body)
		if err := dec.Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return "", echo.ErrStatusRequestEntityTooLarge
			}
			return "", apiErr(http.StatusBadRequest, "api.body.malformed")
		}
		if _, err := dec.Token(); err != io.EOF {
			return "", apiErr(http.StatusBadRequest, "api.body.malformed")
		}
		if body.ClientSecret != nil {
			s = *body.ClientSecret
		}
	case mt == echo.MIMEApplicationForm || mt == echo.MIMEMultipartForm:
		if err := req.ParseMultipartForm(1 << 16); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return "", echo.ErrStatusRequestEntityTooLarge
			}
			return "", apiErr(http.StatusBadRequest, "api.body.malformed")
		}
		s = req.FormValue("clientSecret")
	case ct == "" && req.ContentLength == 0:
	default:
		return "", echo.ErrUnsupportedMediaType
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apiErr(http.StatusBadRequest, "api.secret.missing")
	}
	return s, nil
}

// testToken answers with a token's claims, as the seed did.
func (a *App) testToken(c echo.Context) error {
	raw := bearer(c.Request().Header.Get(echo.HeaderAuthorization))
	claims, err := a.Tokens.Verify(raw)
	if errors.Is(err, token.ErrExpired) {
		a.metrics.tokenVerified(verifyExpired)
		return apiErr(419, "api.token.expired")
	}
	if err == nil && a.Cache.Check(claims.DomainID, claims.SecretVersion) == domaincache.Retired {
		err = token.ErrInvalid
	}
	if err != nil {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
		a.metrics.tokenVerified(verifyInvalid)
		return apiErr(http.StatusUnauthorized, "api.token.invalid")
	}
	a.metrics.tokenVerified(verifyOK)
	return c.JSON(http.StatusOK, claims)
}

// bearer takes the token from an Authorization header sent raw (as the
// seed's clients do) or as "Bearer <token>" in any case.
func bearer(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}
