package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// One domain's page (GET /domain/:id, its owner's only): its details, its
// label, the end of a rotation's overlap, and its usage over the last
// seven days as a chart drawn on the server.

// overlapChoices are the values of the rotate form's overlap field, in
// the order the form offers them; defaultOverlap is the one chosen when
// the form sends none.
var overlapChoices = []string{"0s", "1h", "24h", "168h"}

const defaultOverlap = "24h"

// parseOverlap reads the rotate form's overlap: one of overlapChoices, or
// nothing for defaultOverlap; false for anything else.
func parseOverlap(s string) (time.Duration, bool) {
	if s == "" {
		s = defaultOverlap
	}
	for i, c := range overlapChoices {
		if s == c {
			return models.Overlaps[i], true
		}
	}
	return 0, false
}

// ownerNext is where a form of a domain's page or the dashboard returns:
// the domain's page when the form says so, else the dashboard page it
// names.
func ownerNext(c echo.Context, id uint64) string {
	page := domainURL(id)
	if c.FormValue("next") == page {
		return page
	}
	return dashViewFrom(c.FormValue("next")).url()
}

func domainURL(id uint64) string { return "/domain/" + strconv.FormatUint(id, 10) }

// endOverlap stops a domain's previous secret now (POST /domain/:id/overlap/end).
func (a *App) endOverlap(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ws := webSession(c)
	err = a.domains.EndOverlap(c.Request().Context(), id, ws.user.ID)
	if errors.Is(err, models.ErrNoRecord) { // not the user's, or no overlap (ended already)
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	a.domainChanged(id)
	ws.flash("flash.overlap.ended")
	return a.redirect(c, ownerNext(c, id))
}

// setLabel changes a domain's label (POST /domain/:id/label, field label).
func (a *App) setLabel(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	label, key := cleanLabel(c.FormValue("label"))
	if key != "" {
		p := a.page(c)
		p.Errors["label"] = key
		p.Form = &domainForm{Label: c.FormValue("label")}
		return a.domainPage(c, http.StatusUnprocessableEntity, p, id)
	}
	ws := webSession(c)
	err = a.domains.SetLabel(c.Request().Context(), id, ws.user.ID, label)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	ws.flash("flash.label.saved")
	return a.redirect(c, domainURL(id))
}

// showDomain answers GET /domain/:id.
func (a *App) showDomain(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return a.domainPage(c, http.StatusOK, a.page(c), id)
}

type domainPageData struct {
	Domain *models.Domain
	// PrevUntil is when the previous secret stops working, nil when none works.
	PrevUntil *time.Time
	Chart     *usageChart
	Here      string
}

func (a *App) domainPage(c echo.Context, status int, p *Page, id uint64) error {
	ctx := c.Request().Context()
	d, err := a.domains.GetForUser(ctx, id, p.User.ID)
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
	data := &domainPageData{Domain: d, Chart: chart, Here: domainURL(id)}
	if d.InOverlap(time.Now()) {
		data.PrevUntil = d.PrevSecretUntil
	}
	if p.Form == nil {
		p.Form = &domainForm{Label: d.Label}
	}
	p.Data = data
	return a.render(c, status, "domain", p)
}

// usageChart is the domain's usage over the chartHours hours that end
// with this one (the owner's domain page and the console's show it).
func (a *App) usageChart(ctx context.Context, id uint64) (*usageChart, error) {
	end := time.Now().UTC().Truncate(time.Hour).Add(time.Hour) // the end of this hour
	rows, err := a.usageStats.Hourly(ctx, id, end.Add(-chartHours*time.Hour))
	if err != nil {
		return nil, err
	}
	return newUsageChart(rows, end), nil
}

// The usage chart: chartHours bars, one an hour, each the tokens issued
// (below) and refused (stacked above) in that hour.
const (
	chartHours  = 7 * 24
	chartBarW   = 4   // user units per hour
	chartHeight = 120 // user units of the tallest bar
)

type usageChart struct {
	Width, Height   int
	Bars            []usageBar
	Max             int64 // the tallest bar's count (the scale)
	Issued, Refused int64 // totals over the week
	Days            []usageDay
	From, To        time.Time
}

// usageBar is one hour: rectangles in the SVG's user units (y grows down).
type usageBar struct {
	X                  int
	IssuedY, IssuedH   int
	RefusedY, RefusedH int
	Hour               time.Time
	Issued, Refused    int64
	DayStart           bool // the first hour of a UTC day: a grid line
}

// usageDay is one UTC day's totals, for the table beside the chart.
type usageDay struct {
	Day             time.Time
	Issued, Refused int64
}

// newUsageChart lays out the hourly rows (oldest first) of the chartHours
// hours that end at end.
func newUsageChart(rows []models.DomainUsage, end time.Time) *usageChart {
	from := end.Add(-chartHours * time.Hour)
	ch := &usageChart{Width: chartHours * chartBarW, Height: chartHeight, From: from, To: end}
	byHour := make(map[int64]models.DomainUsage, len(rows))
	for _, r := range rows {
		byHour[r.Hour.UTC().Unix()] = r
	}
	ch.Bars = make([]usageBar, chartHours)
	for i := range ch.Bars {
		h := from.Add(time.Duration(i) * time.Hour)
		r := byHour[h.Unix()]
		ch.Bars[i] = usageBar{X: i * chartBarW, Hour: h, Issued: r.Issued, Refused: r.Refused, DayStart: h.Hour() == 0}
		ch.Max = max(ch.Max, r.Issued+r.Refused)
		ch.Issued += r.Issued
		ch.Refused += r.Refused
		if len(ch.Days) == 0 || !ch.Days[len(ch.Days)-1].Day.Equal(h.Truncate(24*time.Hour)) {
			ch.Days = append(ch.Days, usageDay{Day: h.Truncate(24 * time.Hour)})
		}
		day := &ch.Days[len(ch.Days)-1]
		day.Issued += r.Issued
		day.Refused += r.Refused
	}
	if ch.Max == 0 {
		return ch
	}
	scale := func(n int64) int { // at least a unit for any count, so that one token shows
		if n == 0 {
			return 0
		}
		return max(1, int(n*chartHeight/ch.Max))
	}
	for i := range ch.Bars {
		b := &ch.Bars[i]
		b.IssuedH = scale(b.Issued)
		b.RefusedH = min(scale(b.Refused), chartHeight-b.IssuedH)
		b.IssuedY = chartHeight - b.IssuedH
		b.RefusedY = b.IssuedY - b.RefusedH
	}
	return ch
}
