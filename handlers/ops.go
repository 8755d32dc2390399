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
	// Limits says where the rate limits count, with REDIS_URL set: "redis",
	// or "local" while Redis does not answer (the instance still serves).
	Limits string `json:"limits,omitempty"`
}

// limitsWhere is status.Limits: "" without REDIS_URL.
func (a *App) limitsWhere() string {
	switch {
	case a.limitStore == nil:
		return ""
	case a.limitStore.Local():
		return "local"
	}
	return "redis"
}

// healthz: the process is alive. No dependency is checked.
func (a *App) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, status{Status: "ok", Limits: a.limitsWhere()})
}

// readyz: the instance can serve (the domain view is loaded and the
// database answers a ping in time) and is not shutting down.
func (a *App) readyz(c echo.Context) error {
	if a.shuttingDown.Load() {
		return c.JSON(http.StatusServiceUnavailable, status{Status: "shutting down"})
	}
	if !a.cache.Loaded() {
		return c.JSON(http.StatusServiceUnavailable, status{Status: "loading"})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	if err := models.Ping(ctx, a.db); err != nil {
		return c.JSON(http.StatusServiceUnavailable, status{Status: "database unavailable"})
	}
	return c.JSON(http.StatusOK, status{Status: "ok", Limits: a.limitsWhere()})
}
