package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

type status struct {
	Status string `json:"status"`
}

// healthz: the process is alive. No dependency is checked.
func (a *App) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, status{"ok"})
}

// readyz: the instance can serve (the domain view is loaded and the
// database answers a ping in time) and is not shutting down.
func (a *App) readyz(c echo.Context) error {
	if a.shuttingDown.Load() {
		return c.JSON(http.StatusServiceUnavailable, status{"shutting down"})
	}
	if !a.cache.Loaded() {
		return c.JSON(http.StatusServiceUnavailable, status{"loading"})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	if err := models.Ping(ctx, a.db); err != nil {
		return c.JSON(http.StatusServiceUnavailable, status{"database unavailable"})
	}
	return c.JSON(http.StatusOK, status{"ok"})
}
