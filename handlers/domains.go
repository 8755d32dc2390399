package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// createDomain registers a host; on success it answers 303 to the first
// page of the dashboard (the new domain heads it), which shows the new
// secret once (Post/Redirect/Get: a reload neither registers again nor
// shows the secret again).
func (a *App) createDomain(c echo.Context) error {
	f := &domainForm{Host: c.FormValue("host"), Plan: c.FormValue("type"), Label: c.FormValue("label")}
	ws := webSession(c)
	errs := f.validate()
	if len(errs) == 0 {
		d, secret, err := a.domains.InsertLabeled(c.Request().Context(), ws.user.ID, f.Host, f.Plan, f.Label)
		switch {
		case errors.Is(err, models.ErrDuplicateHost):
			errs["host"] = "form.host.taken"
		case errors.Is(err, models.ErrHostRevoked): // an admin's decision: 422 like any refused form
			errs["host"] = "form.host.revoked"
		case errors.Is(err, models.ErrDomainLimit):
			errs["host"] = "form.host.limit"
		case err != nil:
			return err
		default:
			a.domainChanged(d.ID) // browsers on the new host may call the API at once
			ws.flash("flash.domain.created")
			if f.Pasted != "" {
				ws.flash("flash.domain.host.reduced")
			}
			switch {
			case d.PremiumRequested: // PREMIUM=approval: an admin answers the request
				ws.flash("flash.domain.premium.requested")
			case d.Plan != f.Plan: // the plan an admin set for this host wins
				ws.flash("flash.domain.plan.admin." + d.Plan)
			}
			ws.reveal(shownSecret{Host: d.Host, Secret: secret})
			return a.redirect(c, "/")
		}
	}
	p := a.page(c)
	p.Form, p.Errors = f, errs
	return a.dashboard(c, http.StatusUnprocessableEntity, p, dashView{})
}

// pathID is the :id of the URL; 404, before any query, when it is not an
// id a row can have.
func pathID(c echo.Context) (uint64, error) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		return 0, echo.NewHTTPError(http.StatusNotFound)
	}
	return id, nil
}

// parseID reads an id from 1 to models.MaxID in decimal digits (no sign);
// false for anything else, numbers above MaxID included: they fit a uint64
// but no row has them (SQLite's integers are signed 64-bit).
func parseID(s string) (uint64, bool) {
	id, err := strconv.ParseUint(s, 10, 64)
	return id, err == nil && id != 0 && id <= models.MaxID
}

func (a *App) rotateDomain(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	overlap, ok := parseOverlap(c.FormValue("overlap"))
	if !ok {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "form.overlap.invalid")
	}
	ws := webSession(c)
	d, secret, err := a.domains.RotateWithOverlap(c.Request().Context(), id, ws.user.ID, overlap)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if errors.Is(err, models.ErrDomainRevoked) { // nothing changed: the owner is told what to do
		return echo.NewHTTPError(http.StatusConflict, "domain.err.revoked")
	}
	if err != nil {
		return err
	}
	a.domainChanged(d.ID)
	ws.flash("flash.domain.rotated")
	// Back to the page the form was on, which shows the new secret once.
	ws.reveal(shownSecret{Host: d.Host, Secret: secret, Rotated: true})
	return a.redirect(c, dashViewFrom(c.FormValue("next")).url())
}

func (a *App) deleteDomain(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ws := webSession(c)
	err = a.domains.Delete(c.Request().Context(), id, ws.user.ID)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	a.domainChanged(id)
	ws.flash("flash.domain.deleted")
	return a.redirect(c, dashViewFrom(c.FormValue("next")).url()) // back to the page the form was on
}
