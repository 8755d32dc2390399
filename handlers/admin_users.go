package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// An account's domain limit in the admin console: shown on the user's
// page (/admin/users/ID) with a form that sets it, audited like every
// admin change.

// userLimit is what the user's page says about the account's domains.
type userLimit struct {
	Count   int64  // domains the account has (deleted ones left out)
	Limit   int64  // how many it may have
	Own     string // the limit set for this account, "" for the default
	Default int64  // MAX_DOMAINS_PER_USER
}

func (a *App) userLimit(ctx context.Context, u *models.User) (*userLimit, error) {
	n, err := a.domains.CountForUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	l := &userLimit{Count: n, Limit: int64(u.DomainLimit(a.domains.MaxPerUser)), Default: int64(a.domains.MaxPerUser)}
	if u.MaxDomains != nil {
		l.Own = strconv.Itoa(*u.MaxDomains)
	}
	return l, nil
}

// adminSetDomainLimit sets the user's limit from the user page's form
// (POST /admin/users/ID), field max_domains: a whole number from 1 to
// models.MaxDomainLimit, or empty for the default. It comes back to the
// user's page.
func (a *App) adminSetDomainLimit(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	if _, ok := form["max_domains"]; !ok { // an empty field is the default; no field is no answer
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "admin.err.limit.invalid")
	}
	var limit *int
	if s := strings.TrimSpace(form.Get("max_domains")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > models.MaxDomainLimit {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, "admin.err.limit.invalid")
		}
		limit = &n
	}
	changed, err := a.admin.SetDomainLimit(c.Request().Context(), actorOf(c), id, limit)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	if changed {
		webSession(c).flash("admin.flash.limit")
	} else {
		webSession(c).flash("admin.flash.limit.same")
	}
	return a.redirect(c, adminUserURL(id))
}
