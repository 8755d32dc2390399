package handlers

import (
	"time"

	"github.com/nodebird/nodebird-api/internal/access"
	"github.com/nodebird/nodebird-api/internal/token"
)

// Test-only access to the App's parts.

// tokenManager signs and verifies as the App does, on now's time (nil: time.Now).
func (a *App) tokenManager(now func() time.Time) *token.Manager {
	return token.New(a.config.JWTSecret, a.config.JWTIssuer, a.config.TokenTTL, now).Accepting(a.config.JWTSecretPrevious)
}

// setClocks makes the App issue and verify tokens on tokenNow's time and
// count its limits on limitNow's (nil: time.Now), with fresh counts.
func (a *App) setClocks(tokenNow, limitNow func() time.Time) {
	a.access = access.New(a.cache, a.tokenManager(tokenNow), a.tokenCounts, apiLimits(a.config, a.limitStore, limitNow))
	a.limits = newPortalLimits(a.config, a.limitStore, limitNow)
}
