package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// What a team of admins needs besides the domain list (issue 18 point 2):
// suspending a user, granting and revoking the admin role, and the queue
// of premium requests (PREMIUM=approval, issue 16 point 9). Each change is
// audited (models/admin_users.go, models/admin.go); the owner of a domain
// hears of the answer to a premium request by mail. CSV exports are in
// admin_export.go.

// adminSuspend suspends the user of the URL: their sessions end, their
// domains get no tokens (this instance's domain view at once, the others'
// at their next refresh), and login tells them the account is suspended.
func (a *App) adminSuspend(c echo.Context) error { return a.adminSuspension(c, true) }

// adminUnsuspend undoes a suspension: the user may sign in again and
// their domains' secrets get tokens again.
func (a *App) adminUnsuspend(c echo.Context) error { return a.adminSuspension(c, false) }

func (a *App) adminSuspension(c echo.Context, suspend bool) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	changed, domainIDs, err := a.admin.SetSuspended(c.Request().Context(), actorOf(c), id, suspend, a.config.AdminEmails)
	switch {
	case errors.Is(err, models.ErrNoRecord):
		return echo.NewHTTPError(http.StatusNotFound)
	case errors.Is(err, models.ErrSelf):
		return echo.NewHTTPError(http.StatusConflict, "admin.err.suspend.self")
	case errors.Is(err, models.ErrLastAdmin):
		return echo.NewHTTPError(http.StatusConflict, "admin.err.last_admin")
	case err != nil:
		return err
	}
	a.domainChanged(domainIDs...)
	flash := map[[2]bool]string{
		{true, true}: "admin.flash.suspended", {true, false}: "admin.flash.suspended.same",
		{false, true}: "admin.flash.unsuspended", {false, false}: "admin.flash.unsuspended.same",
	}[[2]bool{suspend, changed}]
	webSession(c).flash(flash)
	return a.redirect(c, adminUserURL(id))
}

// adminSetRole grants (field role=admin) or revokes (role=user) the
// stored admin role. An admin by ADMIN_EMAILS keeps the role (the
// configuration gives it), and the last admin who can sign in keeps it.
// An admin who revoked their own role goes to the dashboard, the console
// being closed to them from now on.
func (a *App) adminSetRole(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	role := c.FormValue("role")
	if role != models.RoleAdmin && role != models.RoleUser {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "admin.err.role.invalid")
	}
	actor := actorOf(c)
	changed, err := a.admin.SetRole(c.Request().Context(), actor, id, role == models.RoleAdmin, a.config.AdminEmails)
	switch {
	case errors.Is(err, models.ErrNoRecord):
		return echo.NewHTTPError(http.StatusNotFound)
	case errors.Is(err, models.ErrConfigAdmin):
		return echo.NewHTTPError(http.StatusConflict, "admin.err.role.config")
	case errors.Is(err, models.ErrLastAdmin):
		return echo.NewHTTPError(http.StatusConflict, "admin.err.last_admin")
	case err != nil:
		return err
	}
	ws := webSession(c)
	switch {
	case !changed:
		ws.flash("admin.flash.role.same")
	case role == models.RoleAdmin:
		ws.flash("admin.flash.role.granted")
	default:
		ws.flash("admin.flash.role.revoked")
		if id == actor.ID {
			return a.redirect(c, "/")
		}
	}
	return a.redirect(c, adminUserURL(id))
}

// adminUserTeam is what the user's page says and offers about the
// account's suspension and role.
type adminUserTeam struct {
	Suspended bool
	// Self: the page is the signed-in admin's own.
	Self bool
	// ConfigAdmin: an admin by ADMIN_EMAILS (the console cannot revoke it);
	// StoredAdmin: the role granted by command or in the console.
	ConfigAdmin, StoredAdmin bool
}

func (a *App) userTeam(c echo.Context, u *models.User) *adminUserTeam {
	return &adminUserTeam{
		Suspended:   u.Suspended(),
		Self:        u.ID == webSession(c).user.ID,
		ConfigAdmin: slices.Contains(a.config.AdminEmails, u.Email),
		StoredAdmin: u.IsAdmin,
	}
}

// The premium queue.

type adminPremiumData struct {
	Rows  []models.AdminDomain
	Total Total
	// Approval: PREMIUM=approval (the queue may hold requests made before
	// the setting was turned to open).
	Approval bool
	Here     string
	Pager
}

// adminPremium lists the pending premium requests, oldest first.
func (a *App) adminPremium(c echo.Context) error {
	page, err := parsePage(c.QueryParam("page"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rows, more, err := a.admin.PremiumRequests(ctx, adminPageSize, (page-1)*adminPageSize)
	if err != nil {
		return err
	}
	n := len(rows)
	if more || page > 1 {
		if n, err = a.admin.CountPremiumRequests(ctx, adminCountTo); err != nil {
			return err
		}
	}
	link := func(page int) string {
		if page > 1 {
			return "/admin/premium?page=" + strconv.Itoa(page)
		}
		return "/admin/premium"
	}
	d := &adminPremiumData{
		Rows: rows, Total: newTotal(n, adminCountTo), Approval: a.domains.PremiumApproval,
		Here: link(page), Pager: newPager(page, more, link),
	}
	p := a.page(c)
	p.Data = d
	return a.render(c, http.StatusOK, "admin_premium", p)
}

// adminApprovePremium moves the requesting domain to premium.
func (a *App) adminApprovePremium(c echo.Context) error { return a.answerPremium(c, true) }

// adminDeclinePremium leaves the requesting domain on free; the decision
// sticks to its owner's host (models.AdminModel.AnswerPremium).
func (a *App) adminDeclinePremium(c echo.Context) error { return a.answerPremium(c, false) }

func (a *App) answerPremium(c echo.Context, approve bool) error {
	flash, kind, subject, body := "admin.flash.premium.declined", "premium_declined", "mail.premium.declined.subject", "mail.premium.declined.body"
	if approve {
		flash, kind, subject, body = "admin.flash.premium.approved", "premium_approved", "mail.premium.approved.subject", "mail.premium.approved.body"
	}
	return a.adminChange(c, func(ctx context.Context, actor models.Actor, id uint64) (string, error) {
		if err := a.admin.AnswerPremium(ctx, actor, id, approve); err != nil {
			return "", err
		}
		a.mailDomainOwner(ctx, id, func(host string) mailContent {
			return mailContent{Kind: kind, Subject: say(subject, host), Lines: []msg{say(body, host)}}
		})
		return flash, nil
	})
}
