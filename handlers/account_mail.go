package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
)

// The account's mailed links: password reset (GET/POST /auth/forgot, then
// the link to GET/POST /auth/reset), address verification and change of
// address (the link to GET/POST /auth/verify; the resend button; POST
// /account/email). A link's GET only shows a form: the POST acts, so that
// neither a mail scanner fetching links nor a page an admin visits uses
// one (GET changes nothing).

// Limits of the mailed links: each mail costs a send and lands in
// someone's mailbox.
var (
	// forgotPerNetwork: reset requests one client network may make an hour (429 beyond).
	forgotPerNetwork = ratelimit.Policy{Name: "forgot-ip", Quota: 10, Window: time.Hour}
	// forgotPerAddress: reset mails one address gets an hour; beyond, the
	// request is answered as usual and no mail goes out (the answer does
	// not tell whether the address has an account, so neither may its limit).
	forgotPerAddress = ratelimit.Policy{Name: "forgot-address", Quota: 3, Window: time.Hour}
	// linksPerAccount: verification and change-of-address mails an account may ask for an hour.
	linksPerAccount = ratelimit.Policy{Name: "links-account", Quota: 5, Window: time.Hour}
)

// allowUser counts one request of the signed-in account id under p (its
// per-account limits); false (Retry-After set) past it.
func (a *App) allowUser(c echo.Context, id uint64, p ratelimit.Policy) bool {
	return a.allow(c, a.limits.accounts, "id:"+strconv.FormatUint(id, 10), p, true)
}

// allow counts one request under p for key in lim; false (Retry-After set) past it.
func (a *App) allow(c echo.Context, lim ratelimit.Limiter[string], key string, p ratelimit.Policy, setRetry bool) bool {
	if !a.limits.on {
		return true
	}
	r := lim.Allow(p.Name+":"+key, p.Quota, p.Window)
	if !r.Allowed {
		a.metrics.rateLimited(p.Name)
		if setRetry {
			retryAfter(c, r)
		}
	}
	return r.Allowed
}

type forgotForm struct{ Email string }

func (a *App) forgotPage(c echo.Context) error {
	p := a.page(c)
	p.Form = &forgotForm{}
	return a.render(c, http.StatusOK, "forgot", p)
}

// forgot mails a reset link to the address if an account has it, and
// answers the same either way: the page says a link is on its way if an
// account uses the address.
func (a *App) forgot(c echo.Context) error {
	f := &forgotForm{Email: normalizeEmail(c.FormValue("email"))}
	if k := validateEmail(f.Email); k != "" {
		p := a.page(c)
		p.Form, p.Errors = f, map[string]string{"email": k}
		return a.render(c, http.StatusUnprocessableEntity, "forgot", p)
	}
	if !a.allow(c, a.limits.ips, clientKey(c), forgotPerNetwork, true) {
		return echo.NewHTTPError(http.StatusTooManyRequests, "err.429")
	}
	ctx := c.Request().Context()
	u, err := a.users.GetByEmail(ctx, f.Email)
	switch {
	case errors.Is(err, models.ErrNoRecord):
		// The same answer, and no mail.
	case err != nil:
		return err
	case a.allow(c, a.limits.accounts, accountKey(u, f.Email), forgotPerAddress, false):
		// The link is made and mailed in the background: the request does
		// the same work (one lookup) whether or not the address has an account.
		lang := a.lang(c) // the mail is in the language of the request
		a.mail.flight.Go(func() {
			token, err := a.users.NewToken(context.Background(), u.ID, models.PurposeReset, u.Email, models.ResetTTL)
			if err != nil {
				a.log.Error("making a reset link", "user_id", u.ID, "err", err)
				return
			}
			a.mailReset(u, lang, token)
		})
	}
	webSession(c).flash("flash.forgot.sent")
	return a.redirect(c, "/")
}

// linkPage is the page of a mailed link: its form, or why it does not work.
type linkPage struct {
	Token string
	// Bad: the link does not work (unknown, used, expired).
	Bad bool
	// For the verification page: the address and, for a change, the old
	// one; the account's nick; whether the visitor is signed out (LoginURL
	// then logs in and comes back) or signed in as another account.
	Email, OldEmail, Nick string
	SignedOut, Other      bool
	LoginURL              string
}

type resetForm struct{ NewPassword string }

func (a *App) resetPage(c echo.Context) error {
	token := c.QueryParam("token")
	_, _, err := a.users.CheckToken(c.Request().Context(), models.PurposeReset, token)
	return a.renderReset(c, token, err, nil)
}

// renderReset shows the reset form for token, or, when err is
// ErrBadToken, why the link does not work (400).
func (a *App) renderReset(c echo.Context, token string, err error, errs map[string]string) error {
	d := &linkPage{Token: token}
	status := http.StatusOK
	switch {
	case errors.Is(err, models.ErrBadToken):
		d.Bad, d.Token, status = true, "", http.StatusBadRequest
	case err != nil:
		return err
	case len(errs) > 0:
		status = http.StatusUnprocessableEntity
	}
	p := a.page(c)
	p.Form, p.Errors, p.Data = &resetForm{}, errs, d
	if errs == nil {
		p.Errors = map[string]string{}
	}
	return a.render(c, status, "reset", p)
}

// reset sets the new password: every session of the account ends, its
// login limits start afresh (they are keyed by the password: accountKey),
// this browser is signed in, and the owner gets a notice. When the reset
// first verified the address, the secrets of the account's domains were
// retired (models.ResetPassword): the domain view forgets them at once and
// the dashboard tells the owner to rotate for new ones.
func (a *App) reset(c echo.Context) error {
	token, pw := c.FormValue("token"), c.FormValue("new_password")
	if k := passwordProblem(pw); k != "" {
		_, _, err := a.users.CheckToken(c.Request().Context(), models.PurposeReset, token)
		return a.renderReset(c, token, err, map[string]string{"new_password": k})
	}
	u, retired, err := a.users.ResetPassword(c.Request().Context(), token, pw)
	if err != nil {
		return a.renderReset(c, token, err, nil)
	}
	if len(retired) > 0 {
		a.domainChanged(retired...)
	}
	ws := webSession(c)
	ws.signIn(u, a.isAdmin(u))
	ws.flash("flash.reset.done")
	if len(retired) > 0 {
		ws.flash("flash.reset.secrets")
	}
	a.mailPasswordChanged(u)
	return a.redirect(c, "/")
}

// A verification or change-of-address link acts only for a session of
// its own account: whoever follows it must be signed in as the account
// (so that an admin clicking Confirm on a link an attacker had mailed to
// the admin's address verifies nothing for the attacker). Signed out,
// the visitor logs in and comes back to the link; signed in as another
// account, the link is refused and nothing changes.

// linkState is which of those holds for a usable link of account u.
func linkState(c echo.Context, u *models.User) (signedOut, other bool) {
	ws := webSession(c)
	return ws.user == nil, ws.user != nil && ws.user.ID != u.ID
}

// checkVerifyLink reads a verification or change-of-address link without
// using it: the account, the address it was sent to, and its purpose.
func (a *App) checkVerifyLink(ctx context.Context, token string) (*models.User, string, string, error) {
	u, email, err := a.users.CheckToken(ctx, models.PurposeVerify, token)
	if errors.Is(err, models.ErrBadToken) {
		u, email, err = a.users.CheckToken(ctx, models.PurposeEmail, token)
		return u, email, models.PurposeEmail, err
	}
	return u, email, models.PurposeVerify, err
}

// verifyLoginURL is the login form, coming back to the link's page.
func verifyLoginURL(token string) string {
	return "/auth/login?" + url.Values{"next": {"/auth/verify?" + url.Values{"token": {token}}.Encode()}}.Encode()
}

// verifyPage shows the confirmation of a verification or change-of-address
// link, naming the account it is for; signed out, a link to log in first;
// signed in as another account, why it cannot be used here (403).
func (a *App) verifyPage(c echo.Context) error {
	return a.renderVerify(c, c.QueryParam("token"))
}

// renderVerify is the verification page of token.
func (a *App) renderVerify(c echo.Context, token string) error {
	u, email, purpose, err := a.checkVerifyLink(c.Request().Context(), token)
	d := &linkPage{Token: token}
	status := http.StatusOK
	switch {
	case errors.Is(err, models.ErrBadToken):
		d.Bad, d.Token, status = true, "", http.StatusBadRequest
	case err != nil:
		return err
	default:
		d.Email, d.Nick = email, u.Nick
		if purpose == models.PurposeEmail {
			d.OldEmail = u.Email
		}
		if d.SignedOut, d.Other = linkState(c, u); d.SignedOut {
			d.LoginURL = verifyLoginURL(token)
		} else if d.Other {
			status = http.StatusForbidden
		}
	}
	p := a.page(c)
	p.Data = d
	return a.render(c, status, "verify", p)
}

// verify uses a verification link, or a change-of-address one (the old
// address then gets a notice, and every other session of the account
// ends: this one is issued again), for the signed-in account it belongs
// to. The account becomes admin here if its address is in ADMIN_EMAILS
// (isAdmin reads the verification).
func (a *App) verify(c echo.Context) error {
	token := c.FormValue("token")
	ctx := c.Request().Context()
	ws := webSession(c)
	owner, _, purpose, err := a.checkVerifyLink(ctx, token)
	if err == nil {
		switch signedOut, other := linkState(c, owner); {
		case signedOut:
			return a.redirect(c, verifyLoginURL(token))
		case other:
			return a.renderVerify(c, token) // GET's answer: the refusal, nothing changed
		}
	}
	var u *models.User
	flash := "flash.verify.done"
	if err == nil && purpose == models.PurposeVerify {
		u, err = a.users.VerifyEmail(ctx, owner.ID, token)
	} else if err == nil {
		var old string
		u, old, err = a.users.ChangeEmail(ctx, owner.ID, token)
		if err == nil {
			flash = "flash.email.changed"
			a.mailEmailChanged(u, old)
		}
	}
	switch {
	case errors.Is(err, models.ErrBadToken):
		p := a.page(c)
		p.Data = &linkPage{Bad: true}
		return a.render(c, http.StatusBadRequest, "verify", p)
	case errors.Is(err, models.ErrDuplicateEmail):
		return echo.NewHTTPError(http.StatusConflict, "err.email.taken")
	case err != nil:
		return err
	}
	ws.signIn(u, a.isAdmin(u)) // the page shows the account as it now is, with its session version
	ws.flash(flash)
	return a.redirect(c, "/")
}

// resendVerification mails a new verification link to the signed-in
// account's address, if it is not verified yet.
func (a *App) resendVerification(c echo.Context) error {
	u := webSession(c).user
	if !u.Verified() {
		if !a.allowUser(c, u.ID, linksPerAccount) {
			return echo.NewHTTPError(http.StatusTooManyRequests, "err.429")
		}
		if err := a.sendVerification(c, u); err != nil {
			return err
		}
		webSession(c).flash("flash.verify.sent")
	}
	return a.redirect(c, "/")
}

// sendVerification mails u a new link to verify its address.
func (a *App) sendVerification(c echo.Context, u *models.User) error {
	token, err := a.users.NewToken(c.Request().Context(), u.ID, models.PurposeVerify, u.Email, models.VerifyTTL)
	if err != nil {
		return err
	}
	a.mailVerify(u, token)
	return nil
}

// emailForm is the change of address: the new address and the current password.
type emailForm struct {
	Email           string
	CurrentPassword string
}

// accountEmailBack is where the change-of-address form lives.
const accountEmailBack = "/account/email"

func (a *App) accountEmailPage(c echo.Context) error {
	p := a.page(c)
	p.Form = &emailForm{}
	return a.render(c, http.StatusOK, "account_email", p)
}

// changeEmail checks the current password (a wrong one counts as a failed
// login) and mails a link to the new address; the change takes effect
// when it is followed. Whether another account has the address is told
// only there, to whoever reads that mailbox.
func (a *App) changeEmail(c echo.Context) error {
	u := webSession(c).user
	f := &emailForm{Email: normalizeEmail(c.FormValue("email")), CurrentPassword: c.FormValue("current_password")}
	errs := map[string]string{}
	if k := validateEmail(f.Email); k != "" {
		errs["email"] = k
	} else if f.Email == u.Email {
		errs["email"] = "form.email.same"
	}
	status := http.StatusUnprocessableEntity
	switch {
	case len(errs) > 0:
		if f.CurrentPassword == "" {
			errs["current_password"] = "form.password.required"
		}
	default:
		// The password as the account page's other forms check it (a
		// wrong one is a failed login); the address typed stays in the
		// form whatever is refused.
		if k, st := a.checkCurrentPassword(c, f.CurrentPassword); k != "" {
			errs["current_password"], status = k, st
			break
		}
		if !a.allowUser(c, u.ID, linksPerAccount) {
			errs["email"], status = "err.429", http.StatusTooManyRequests
			break
		}
		token, err := a.users.NewToken(c.Request().Context(), u.ID, models.PurposeEmail, f.Email, models.VerifyTTL)
		if err != nil {
			return err
		}
		a.mailEmailChange(u, f.Email, token)
		webSession(c).flash("flash.email.sent")
		return a.redirect(c, accountEmailBack)
	}
	f.CurrentPassword = ""
	p := a.page(c)
	p.Form, p.Errors = f, errs
	return a.render(c, status, "account_email", p)
}
