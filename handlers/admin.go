package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (a *App) adminDomains(c echo.Context) error {
	return echo.NewHTTPError(http.StatusNotImplemented)
}
