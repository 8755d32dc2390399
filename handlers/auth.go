package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
)

// home is the login form for visitors and the dashboard once signed in.
func (a *App) home(c echo.Context) error {
	if webSession(c).user != nil {
		return a.showDashboard(c)
	}
	p := a.page(c)
	p.Form = &loginForm{}
	return a.render(c, http.StatusOK, "login", p)
}

// loginPage is the login form at its own address: where the pages for
// signed-in users send visitors (loginURL), with the page to come back to.
func (a *App) loginPage(c echo.Context) error {
	next := localPath(c.QueryParam("next"), "")
	if webSession(c).user != nil {
		return a.redirect(c, localPath(next, "/"))
	}
	p := a.page(c)
	p.Form = &loginForm{Next: next}
	return a.render(c, http.StatusOK, "login", p)
}

// loginURL is where a visitor who is not signed in is sent: the login
// form, which comes back to this page after (GET and HEAD only: a form
// posted while signed out cannot be replayed).
func loginURL(c echo.Context) string {
	req := c.Request()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return "/"
	}
	if next := localPath(req.URL.RequestURI(), ""); next != "" && next != "/" {
		return "/auth/login?" + url.Values{"next": {next}}.Encode()
	}
	return "/"
}

func (a *App) joinPage(c echo.Context) error {
	if webSession(c).user != nil {
		return a.redirect(c, "/")
	}
	p := a.page(c)
	p.Form = &joinForm{}
	return a.render(c, http.StatusOK, "join", p)
}

// join creates the account and mails it a verification link; the visitor
// is not signed in: the answer (303 to the login page, saying a link is
// on its way) is the same when the address has an account already, which
// it must not tell. Nothing is created then; the owner gets a notice
// (joinNoticePerAddress) saying someone tried to sign up with the address.
func (a *App) join(c echo.Context) error {
	f := &joinForm{Email: c.FormValue("email"), Nick: c.FormValue("nick"), Password: c.FormValue("password")}
	errs := f.validate()
	// An address in ADMIN_EMAILS signs up like any other (the answer does
	// not tell who the admins are); it becomes admin once verified (isAdmin).
	if len(errs) == 0 {
		// Each sign-up costs a password hash: limited per IP before it runs.
		if !a.joinAllowed(c) {
			return echo.NewHTTPError(http.StatusTooManyRequests, "err.429")
		}
		ctx := c.Request().Context()
		u, err := a.users.InsertLang(ctx, f.Email, f.Nick, f.Password, a.lang(c))
		switch {
		case errors.Is(err, models.ErrDuplicateEmail):
			if err := a.joinTaken(c, f.Email); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := a.sendVerification(c, u); err != nil {
				return err
			}
		}
		webSession(c).flash("flash.join.sent")
		return a.redirect(c, "/")
	}
	f.Password = "" // never echoed back
	p := a.page(c)
	p.Form, p.Errors = f, errs
	return a.render(c, http.StatusUnprocessableEntity, "join", p)
}

// joinNoticePerAddress: notices of a sign-up with its address an account
// gets an hour; beyond, the answer is the same and no mail goes out.
var joinNoticePerAddress = ratelimit.Policy{Name: "join-address", Quota: 3, Window: time.Hour}

// joinTaken tells the owner of email, in the account's language, that
// someone tried to sign up with it (limited per address).
func (a *App) joinTaken(c echo.Context, email string) error {
	u, err := a.users.GetByEmail(c.Request().Context(), email)
	switch {
	case errors.Is(err, models.ErrNoRecord): // gone since the insert: nothing to tell
		return nil
	case err != nil:
		return err
	}
	if a.allow(c, a.limits.accounts, accountKey(u, u.Email), joinNoticePerAddress, false) {
		a.mailJoinTaken(u)
	}
	return nil
}

func (a *App) login(c echo.Context) error {
	f := &loginForm{Email: c.FormValue("email"), Password: c.FormValue("password"), Next: localPath(c.FormValue("next"), "")}
	errs := f.validate()
	if len(errs) == 0 {
		// The account first (one read by the unique email index), so that
		// every limit is known and counted at once; throttled before
		// bcrypt runs, so that it is no DoS lever.
		u, err := a.users.GetByEmail(c.Request().Context(), f.Email)
		if err != nil && !errors.Is(err, models.ErrNoRecord) { // the database is down: not a failed login
			return err
		}
		n, why := a.loginAttempt(c, accountKey(u, f.Email))
		if why != loginAllowed {
			return a.loginRefused(c, f, why)
		}
		if err := a.users.CheckPassword(u, f.Password); err != nil { // the attempt stays counted
			errs["login"] = "form.login.failed"
		} else if u.Suspended() {
			// Said only to whoever knows the password: an admin suspended
			// the account (admin_team.go); it signs in after a restore.
			a.loginSucceeded(n)
			f.Password = ""
			p := a.page(c)
			p.Form, p.Errors = f, map[string]string{"login": "form.login.suspended"}
			return a.render(c, http.StatusForbidden, "login", p)
		} else {
			a.loginSucceeded(n)
			ws := webSession(c)
			ws.signIn(u, a.isAdmin(u))
			return a.redirect(c, localPath(f.Next, "/")) // the page that asked for the login
		}
	}
	f.Password = ""
	p := a.page(c)
	p.Form, p.Errors = f, errs
	return a.render(c, http.StatusUnprocessableEntity, "login", p)
}

// loginRefused is the login form answering 429 (Retry-After is set).
func (a *App) loginRefused(c echo.Context, f *loginForm, why loginRefusal) error {
	msg := "form.login.throttled"
	if why == loginSlowed {
		msg = "form.login.slowed"
	}
	p := a.page(c)
	f.Password = ""
	p.Form, p.Errors = f, map[string]string{"login": msg}
	return a.render(c, http.StatusTooManyRequests, "login", p)
}

func (a *App) logout(c echo.Context) error {
	ws := webSession(c)
	if ws.user != nil {
		if err := a.users.EndSessions(c.Request().Context(), ws.user.ID); err != nil {
			return err
		}
	}
	ws.signOut()
	ws.flash("flash.logout")
	return a.redirect(c, "/")
}
