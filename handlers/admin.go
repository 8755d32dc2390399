package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Admin console: not built yet (issue 4).

func (a *App) adminDomains(c echo.Context) error { return echo.NewHTTPError(http.StatusNotImplemented) }
func (a *App) adminRevoke(c echo.Context) error  { return echo.NewHTTPError(http.StatusNotImplemented) }
func (a *App) adminRestore(c echo.Context) error { return echo.NewHTTPError(http.StatusNotImplemented) }
func (a *App) adminSetPlan(c echo.Context) error { return echo.NewHTTPError(http.StatusNotImplemented) }
func (a *App) adminUser(c echo.Context) error    { return echo.NewHTTPError(http.StatusNotImplemented) }
func (a *App) adminAudit(c echo.Context) error   { return echo.NewHTTPError(http.StatusNotImplemented) }
