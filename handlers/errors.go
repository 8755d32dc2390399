package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

// Errors become responses in two places, one per face: apiErrorHandler
// writes JSON {code, message} for the API, webErrorHandler an HTML page for
// the portal. Both take the status and message from statusOf.

// apiErrorBody is the JSON body of every /v1 answer that is not a success:
// the seed's code and message, and a stable snake_case id for programs
// (errorID).
type apiErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

// newAPIErrorBody is the body err answers with, in lang, given its
// status and message key (statusOf).
func newAPIErrorBody(lang string, err error, status int, key string) apiErrorBody {
	return apiErrorBody{Code: status, Message: i18n.T(lang, key), Error: errorID(err, status, key)}
}

// statusOf is the status and message key (i18n) an error answers with.
func statusOf(err error) (status int, key string) {
	status = http.StatusInternalServerError
	var he *echo.HTTPError
	var ae *access.Error
	switch {
	case errors.As(err, &ae):
		s := accessStatus[ae.Reason]
		status, key = s.status, s.key
	case errors.As(err, &he):
		status = he.Code
		if m, ok := he.Message.(string); ok && i18n.Has(m) {
			key = m
		}
		if he.Internal != nil && errors.Is(he.Internal, models.ErrUnavailable) {
			status, key = http.StatusServiceUnavailable, ""
		}
	case errors.Is(err, models.ErrUnavailable):
		status = http.StatusServiceUnavailable
	}
	if key == "" {
		key = "err." + strconv.Itoa(status)
		if !i18n.Has(key) {
			key = "err.generic"
		}
	}
	return status, key
}

// answering logs a failure of the server's own and returns the status and
// message key err answers with.
func (a *App) answering(err error, c echo.Context) (int, string) {
	status, key := statusOf(err)
	if status >= 500 {
		a.log.Error("request failed", "status", status, "method", c.Request().Method,
			"route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
		if status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", "5")
		}
	}
	return status, key
}

// apiErrorHandler renders the API's errors as JSON {code, message, error}.
func (a *App) apiErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, key := a.answering(err, c)
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, newAPIErrorBody(a.lang(c), err, status, key))
	}
	if err != nil {
		a.log.Error("writing error response", "err", err)
	}
}

// webErrorHandler renders the portal's errors as an HTML page.
func (a *App) webErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, key := a.answering(err, c)
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		// An unmatched URL ran no middleware: load the session so that the
		// page shows who is signed in and its forms carry a CSRF token.
		_, _ = a.loadSession(c)
	}
	p := a.page(c)
	p.Data = struct {
		Status  int
		Message string
	}{status, i18n.T(p.Lang, key)}
	if err = a.render(c, status, "error", p); err != nil { // the error page itself failed: plain text, never a stack
		err = c.String(status, http.StatusText(status))
	}
	if err != nil {
		a.log.Error("writing error response", "err", err)
	}
}
