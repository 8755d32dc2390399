package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// getHead: every GET route answers HEAD too (RFC 9110, 9.3.2), as load
// balancers and uptime checkers expect; net/http sends no body for HEAD.
var getHead = []string{http.MethodGet, http.MethodHead}

// routes is the one route table: every URL the application serves.
//
// The portal and the API are two Echo instances, each with its own
// middleware chain and error handler (HTML pages for the portal, JSON
// {code, message} for the API), mounted by path prefix on one handler:
// neither looks at the URL to learn which it is. They stay in one package
// because they share the App's dependencies and this table.
func (a *App) routes() {
	web := a.newEcho(a.webErrorHandler)
	web.Use(a.logRequests, a.recoverPanics, a.webHeaders, middleware.BodyLimit(a.config.BodyLimit))

	// Portal middleware chains, named by what they guard.
	page := []echo.MiddlewareFunc{a.withSession}
	signedIn := []echo.MiddlewareFunc{a.withSession, a.signedIn}
	admin := []echo.MiddlewareFunc{a.withSession, a.adminOnly}

	// Operations.
	web.Match(getHead, "/healthz", a.healthz)
	web.Match(getHead, "/readyz", a.readyz)
	if a.metricsOnAppPort() { // in production only with METRICS_TOKEN (metrics.go)
		web.Match(getHead, "/metrics", echo.WrapHandler(a.metricsHandler()))
	}
	web.Match(getHead, "/static/*", echo.StaticDirectoryHandler(a.static, false))

	// Portal.
	web.Match(getHead, "/", a.home, page...)
	web.Match(getHead, "/join", a.joinPage, page...)
	web.Match(getHead, "/auth/join", a.joinPage, page...) // where a sign-up with errors leaves the address bar
	web.POST("/auth/join", a.join, page...)
	web.Match(getHead, "/auth/login", a.loginPage, page...) // ?next=: where to go after (loginURL)
	web.POST("/auth/login", a.login, page...)
	web.POST("/auth/logout", a.logout, page...)
	web.POST("/lang", a.setLang, page...)
	// Mailed links: password reset, address verification, change of address (account_mail.go).
	web.Match(getHead, "/auth/forgot", a.forgotPage, page...)
	web.POST("/auth/forgot", a.forgot, page...)
	web.Match(getHead, "/auth/reset", a.resetPage, page...)
	web.POST("/auth/reset", a.reset, page...)
	web.Match(getHead, "/auth/verify", a.verifyPage, page...)
	web.POST("/auth/verify", a.verify, page...)
	web.POST("/auth/verify/resend", a.resendVerification, signedIn...)
	web.Match(getHead, "/account/email", a.accountEmailPage, signedIn...)
	web.POST("/account/email", a.changeEmail, signedIn...)
	web.Match(getHead, "/docs", a.docs, page...)
	web.Match(getHead, "/openapi.json", a.openAPIDocument) // the API's OpenAPI 3.1 description (openapi.go)
	web.POST("/domain", a.createDomain, signedIn...)
	web.Match(getHead, "/domain/:id", a.showDomain, signedIn...)
	web.POST("/domain/:id/label", a.setLabel, signedIn...)
	web.POST("/domain/:id/rotate", a.rotateDomain, signedIn...)
	web.POST("/domain/:id/overlap/end", a.endOverlap, signedIn...)
	web.POST("/domain/:id/delete", a.deleteDomain, signedIn...)
	web.Match(getHead, "/posts", a.postsPage, signedIn...)
	web.POST("/post", a.createPost, signedIn...)
	web.POST("/post/:id/delete", a.deletePost, signedIn...)
	web.Match(getHead, "/account", a.accountPage, signedIn...) // account.go: one section per form
	web.POST("/account/password", a.changePassword, signedIn...)
	web.POST("/account/nick", a.changeNick, signedIn...)
	web.POST("/account/delete", a.deleteAccount, signedIn...)

	// Admin console.
	g := web.Group("/admin", admin...)
	g.Match(getHead, "", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/admin/domains") })
	g.Match(getHead, "/domains", a.adminDomains)
	g.Match(getHead, "/domains/:id", a.adminDomain) // one domain: details, usage, actions, history
	g.POST("/domains/:id/revoke", a.adminRevoke)
	g.POST("/domains/:id/restore", a.adminRestore)
	g.POST("/domains/:id/plan", a.adminSetPlan)
	g.Match(getHead, "/users/:id", a.adminUser)
	g.POST("/users/:id", a.adminSetDomainLimit) // the user page's form: max_domains
	g.POST("/users/:id/suspend", a.adminSuspend)
	g.POST("/users/:id/unsuspend", a.adminUnsuspend)
	g.POST("/users/:id/role", a.adminSetRole) // field role: admin or user
	g.Match(getHead, "/audit", a.adminAudit)
	g.Match(getHead, "/domains.csv", a.adminDomainsCSV) // the list's filters, streamed
	g.Match(getHead, "/audit.csv", a.adminAuditCSV)     // the log's filters, streamed
	g.Match(getHead, "/premium", a.adminPremium)        // the queue of premium requests (PREMIUM=approval)
	g.POST("/domains/:id/premium/approve", a.adminApprovePremium)
	g.POST("/domains/:id/premium/decline", a.adminDeclinePremium)

	// API: no sessions, no CSRF; JSON errors; CORS for registered origins.
	// No Group.Use and no catch-all route here: Echo v4's Group.Use
	// registers a catch-all that turns 405 into 404. Unknown /v1 URLs (404)
	// and wrong methods (405, with Allow) come from the router.
	api := a.newEcho(a.apiErrorHandler)
	api.Use(a.logRequests, a.recoverPanics, a.apiHeaders, middleware.BodyLimit(a.config.BodyLimit))
	// Routes behind withToken take the token as /v1/test does (same 401 and
	// 419, domain checks, limits and CORS). To retire v1 one day, add
	// retire(...) (retire.go) to v1mw.
	v1 := api.Group("/v1")
	v1mw := []echo.MiddlewareFunc{a.apiCORS}
	token := append(v1mw[:len(v1mw):len(v1mw)], a.withToken)
	v1.POST("/token", a.issueToken, v1mw...)
	v1.Match(getHead, "/test", a.testToken, token...)
	v1.Match(getHead, "/posts/my", a.myPosts, token...)
	v1.Match(getHead, "/posts/hashtag/:title", a.hashtagPosts, token...)
	v1.OPTIONS("/token", a.preflight("POST"), v1mw...) // CORS preflights (cors.go)
	v1.OPTIONS("/test", a.preflight("GET"), v1mw...)
	v1.OPTIONS("/posts/my", a.preflight("GET"), v1mw...)
	v1.OPTIONS("/posts/hashtag/:title", a.preflight("GET"), v1mw...)

	mux := http.NewServeMux()
	mux.Handle("/v1/", api)
	mux.Handle("/v1", api)
	mux.Handle("/", web)
	a.web, a.api, a.handler = web, api, mux
}
