package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// domainRow is one line of the dashboard: never the secret or its hash.
type domainRow struct {
	ID          uint64
	Host        string
	Plan        string
	Status      string
	SecretLast4 string
	CreatedAt   time.Time
	Issued24h   int64
	Refused24h  int64
	LastUsed    *time.Time
}

// shownSecret is a secret shown once, right after creation or rotation.
type shownSecret struct {
	Host    string
	Secret  string
	Rotated bool
}

type dashboardData struct {
	Domains   []domainRow
	NewSecret *shownSecret
	APIBase   string
}

func (a *App) dashboard(c echo.Context, status int, p *Page, shown *shownSecret) error {
	ctx := c.Request().Context()
	u := p.User
	ds, err := a.domains.ListForUser(ctx, u.ID)
	if err != nil {
		return err
	}
	ids := make([]uint64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	recent, err := a.usageStats.Recent(ctx, ids, time.Now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	rows := make([]domainRow, len(ds))
	for i, d := range ds {
		last := d.LastTokenAt
		if d.LastFailedAt != nil && (last == nil || d.LastFailedAt.After(*last)) {
			last = d.LastFailedAt
		}
		rows[i] = domainRow{
			ID: d.ID, Host: d.Host, Plan: d.Plan, Status: d.Status, SecretLast4: d.SecretLast4,
			CreatedAt: d.CreatedAt, Issued24h: recent[d.ID].Issued, Refused24h: recent[d.ID].Refused, LastUsed: last,
		}
	}
	if p.Form == nil {
		p.Form = &domainForm{Plan: models.PlanFree}
	}
	p.Data = &dashboardData{Domains: rows, NewSecret: shown, APIBase: c.Scheme() + "://" + c.Request().Host}
	return a.render(c, status, "dashboard", p)
}

func (a *App) createDomain(c echo.Context) error {
	f := &domainForm{Host: c.FormValue("host"), Plan: c.FormValue("type")}
	p := a.page(c)
	errs := f.validate()
	if len(errs) == 0 {
		d, secret, err := a.domains.Insert(c.Request().Context(), p.User.ID, f.Host, f.Plan)
		switch {
		case errors.Is(err, models.ErrDuplicateHost):
			errs["host"] = "form.host.taken"
		case errors.Is(err, models.ErrHostRevoked): // an admin's decision: 422 like any refused form
			errs["host"] = "form.host.revoked"
		case err != nil:
			return err
		default:
			a.domainChanged(d.ID) // browsers on the new host may call the API at once
			p.Flash = append(p.Flash, "flash.domain.created")
			if d.Plan != f.Plan { // the plan an admin set for this host wins
				p.Flash = append(p.Flash, "flash.domain.plan.admin."+d.Plan)
			}
			return a.dashboard(c, http.StatusCreated, p, &shownSecret{Host: d.Host, Secret: secret})
		}
	}
	p.Form, p.Errors = f, errs
	return a.dashboard(c, http.StatusUnprocessableEntity, p, nil)
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
	p := a.page(c)
	d, secret, err := a.domains.Rotate(c.Request().Context(), id, p.User.ID)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	a.domainChanged(d.ID)
	p.Flash = append(p.Flash, "flash.domain.rotated")
	return a.dashboard(c, http.StatusOK, p, &shownSecret{Host: d.Host, Secret: secret, Rotated: true})
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
	return a.redirect(c, "/")
}
