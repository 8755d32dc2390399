package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes is the one route table: every URL the application serves.
func (a *App) routes(e *echo.Echo) {
	e.Use(a.logRequests, a.recoverPanics, a.securityHeaders,
		middleware.BodyLimit(a.Config.BodyLimit))

	// Middleware chains, named by what they guard.
	web := []echo.MiddlewareFunc{a.withSession}
	signedIn := []echo.MiddlewareFunc{a.withSession, a.signedIn}
	admin := []echo.MiddlewareFunc{a.withSession, a.adminOnly}

	// Operations.
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	if a.Config.Metrics && a.Config.MetricsAddr == "" {
		e.GET("/metrics", a.serveMetrics)
	}
	e.StaticFS("/static", a.static)

	// Portal.
	e.GET("/", a.home, web...)
	e.GET("/join", a.joinPage, web...)
	e.POST("/auth/join", a.join, web...)
	e.POST("/auth/login", a.login, web...)
	e.POST("/auth/logout", a.logout, web...)
	e.POST("/lang", a.setLang, web...)
	e.GET("/docs", a.docs, web...)
	e.POST("/domain", a.createDomain, signedIn...)
	e.POST("/domain/:id/rotate", a.rotateDomain, signedIn...)
	e.POST("/domain/:id/delete", a.deleteDomain, signedIn...)

	// Admin console.
	g := e.Group("/admin", admin...)
	g.GET("", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/admin/domains") })
	g.GET("/domains", a.adminDomains)
	g.POST("/domains/:id/revoke", a.adminRevoke)
	g.POST("/domains/:id/restore", a.adminRestore)
	g.POST("/domains/:id/plan", a.adminSetPlan)
	g.GET("/users/:id", a.adminUser)
	g.GET("/audit", a.adminAudit)

	// API: no sessions, no CSRF; JSON errors.
	a.apiRoutes(e.Group("/v1"))
}
