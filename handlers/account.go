package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/ratelimit"
)

// The account page (GET /account): one section per form (a partial each,
// templates/partials/account_*.html), each posting to its own URL and
// coming back to the page (303), or answering 422 with the page and the
// errors shown in the section that was posted. Two forms ask for the
// current password: their errors are keyed by section (password_current,
// delete_current), so that each shows only its own.

// accountForm is what the account page's fields show: never a password.
type accountForm struct {
	Nick  string
	Email string // the change-of-address section's (account_mail.go): empty here
}

func (a *App) accountPage(c echo.Context) error {
	return a.renderAccount(c, http.StatusOK, a.page(c))
}

// renderAccount renders the account page with p's errors.
func (a *App) renderAccount(c echo.Context, status int, p *Page) error {
	if p.Form == nil {
		p.Form = &accountForm{Nick: p.User.Nick}
	}
	return a.render(c, status, "account", p)
}

// accountRefused answers a form of the account page with errs.
func (a *App) accountRefused(c echo.Context, status int, errs map[string]string) error {
	p := a.page(c)
	p.Errors = errs
	return a.renderAccount(c, status, p)
}

// checkCurrentPassword checks the current password a form of the account
// page asks for, as the login does and counted against the same limits:
// a wrong one is a failed login of the account (so that a stolen session
// cannot guess the password faster than the login form could). It returns
// the problem's message key and status, or "" when the password is right.
func (a *App) checkCurrentPassword(c echo.Context, password string) (string, int) {
	switch {
	case password == "":
		return "form.password.required", http.StatusUnprocessableEntity
	case len(password) > 72:
		return "form.password.wrong", http.StatusUnprocessableEntity
	}
	u := webSession(c).user
	n, why := a.loginAttempt(c, accountKey(u, u.Email))
	switch why {
	case loginThrottled:
		return "form.login.throttled", http.StatusTooManyRequests
	case loginSlowed:
		return "form.login.slowed", http.StatusTooManyRequests
	}
	if a.users.CheckPassword(u, password) != nil { // the attempt stays counted
		return "form.password.wrong", http.StatusUnprocessableEntity
	}
	a.loginSucceeded(n)
	return "", 0
}

// changePassword (POST /account/password: current_password,
// new_password, with sign-up's rules) sets a new password and ends every
// other session of the account: the session version goes up, and this
// session is issued again with the new one. The owner gets a notice.
func (a *App) changePassword(c echo.Context) error {
	if k := passwordProblem(c.FormValue("new_password")); k != "" { // checked first: no guess counted for it
		return a.accountRefused(c, http.StatusUnprocessableEntity, map[string]string{"new_password": k})
	}
	if k, status := a.checkCurrentPassword(c, c.FormValue("current_password")); k != "" {
		return a.accountRefused(c, status, map[string]string{"password_current": k})
	}
	ws := webSession(c)
	u, err := a.users.ChangePassword(c.Request().Context(), ws.user.ID, c.FormValue("new_password"))
	if err != nil {
		return err
	}
	ws.signIn(u, a.isAdmin(u))
	ws.flash("account.flash.password")
	a.mailPasswordChanged(u)
	return a.redirect(c, "/account")
}

// nicksPerAccount: nickname changes an account may make an hour (429
// beyond): each marks every domain of the account changed, which every
// instance's domain view reads again.
var nicksPerAccount = ratelimit.Policy{Name: "nick-account", Quota: 10, Window: time.Hour}

// changeNick (POST /account/nick: nick, with sign-up's rules) sets the
// nickname; tokens issued from then on carry it. 429 past nicksPerAccount.
func (a *App) changeNick(c echo.Context) error {
	status := http.StatusUnprocessableEntity
	nick, k := nickField.clean(c.FormValue("nick"))
	if !a.allowUser(c, webSession(c).user.ID, nicksPerAccount) { // counted whether or not the form passes
		k, status = "err.429", http.StatusTooManyRequests
	}
	if k != "" { // the nick typed stays in the form
		p := a.page(c)
		p.Form, p.Errors = &accountForm{Nick: c.FormValue("nick")}, map[string]string{"nick": k}
		return a.renderAccount(c, status, p)
	}
	ws := webSession(c)
	if err := a.users.SetNick(c.Request().Context(), ws.user.ID, nick); err != nil {
		return err
	}
	a.domainChanged() // the view's nick, for the tokens this instance issues
	ws.flash("account.flash.nick")
	return a.redirect(c, "/account")
}

// deleteAccount (POST /account/delete: current_password) deletes the
// account: its domains stop working at once, the admin audit records it,
// and every session ends.
func (a *App) deleteAccount(c echo.Context) error {
	if k, status := a.checkCurrentPassword(c, c.FormValue("current_password")); k != "" {
		return a.accountRefused(c, status, map[string]string{"delete_current": k})
	}
	ws := webSession(c)
	ids, err := a.users.DeleteAccount(c.Request().Context(), ws.user.ID)
	if err != nil {
		return err
	}
	a.domainChanged(ids...)
	ws.signOut()
	ws.flash("account.flash.deleted")
	return a.redirect(c, "/")
}
