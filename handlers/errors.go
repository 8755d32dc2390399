package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

// apiError is the JSON body of every /v1 answer that is not a success.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// errorHandler is the one place errors become responses: JSON {code,
// message} under /v1, an HTML error page elsewhere.
func (a *App) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, key := http.StatusInternalServerError, ""
	var he *echo.HTTPError
	switch {
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
	if status >= 500 {
		a.Log.Error("request failed", "status", status, "method", c.Request().Method,
			"route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
		if status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", "5")
		}
	}
	lang := a.lang(c)
	if isAPI(c) {
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, apiError{Code: status, Message: i18n.T(lang, key)})
		}
	} else {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			// An unmatched URL ran no middleware: load the session so that the
			// page shows who is signed in and its forms carry a CSRF token.
			_, _ = a.loadSession(c)
		}
		p := a.page(c)
		p.Data = struct {
			Status  int
			Message string
		}{status, i18n.T(lang, key)}
		err = a.render(c, status, "error", p)
		if err != nil { // the error page itself failed: plain text, never a stack
			err = c.String(status, http.StatusText(status))
		}
	}
	if err != nil {
		a.Log.Error("writing error response", "err", err)
	}
}

func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/v1" || strings.HasPrefix(p, "/v1/")
}
