package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// docs is the page for API users.
func (a *App) docs(c echo.Context) error {
	return echo.NewHTTPError(http.StatusNotImplemented)
}
