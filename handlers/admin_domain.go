package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// The console's page of one domain (GET /admin/domains/:id, issue 18
// point 1): its details, its usage (the owner's chart, usageChart), the
// admin's actions on it (revoke, restore, plan: each form returns here)
// and its history, the audit entries about it. The list links each row
// here ("Manage"), so that the list stays a compact row per domain.

// adminHistorySize is how many of the domain's audit entries its page
// shows, newest first; the audit log filtered by the domain has them all.
const adminHistorySize = 20

type adminDomainData struct {
	Domain *models.AdminDomain
	Chart  *usageChart
	// History is the newest audit entries about the domain; HistoryURL
	// is the audit log filtered by the domain, which has them all.
	History    []models.AuditRow
	HistoryURL string
	// Here is the page's URL, where its forms return.
	Here  string
	Plans []string
}

func adminDomainURL(id uint64) string { return "/admin/domains/" + strconv.FormatUint(id, 10) }

// adminUserURL is user id's page in the console.
func adminUserURL(id uint64) string { return "/admin/users/" + strconv.FormatUint(id, 10) }

// adminDomain answers GET /admin/domains/:id. Like every GET, it writes
// nothing.
func (a *App) adminDomain(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, err := a.admin.Domain(ctx, id)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	chart, err := a.usageChart(ctx, id)
	if err != nil {
		return err
	}
	history, _, err := a.audit.List(ctx, models.AuditFilter{DomainID: id}, adminHistorySize, 0)
	if err != nil {
		return err
	}
	p := a.page(c)
	p.Data = &adminDomainData{
		Domain: d, Chart: chart, History: history,
		HistoryURL: "/admin/audit?domain=" + strconv.FormatUint(id, 10),
		Here:       adminDomainURL(id), Plans: []string{models.PlanFree, models.PlanPremium},
	}
	return a.render(c, http.StatusOK, "admin_domain", p)
}
