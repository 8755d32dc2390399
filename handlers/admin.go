package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/nodebird/nodebird-api/models"
)

// Admin console: every domain of every user, the actions an admin may
// take on one (each audited), and the audit log. adminOnly (session.go)
// guards every route; CSRF is checked by withSession before it.

// adminMaxPage bounds how deep a list goes: the page's OFFSET skips up to
// 100,000 index entries (about 15 ms at 1M domains on MariaDB), whatever
// the size of the table. Reversing the order or narrowing the filters
// shows what lies beyond. (A variable so that tests can reach the end;
// the message admin.err.filter.page says the number.)
var adminMaxPage = 2000

const (
	adminPageSize = 50
	// adminCountTo bounds the count of matching domains: beyond it the
	// console says "more than 10,000", so counting reads at most 10,001
	// index entries (see models.AdminModel.CountDomains).
	adminCountTo = 10000
)

// actorOf is the signed-in admin, as the audit log records them.
func actorOf(c echo.Context) models.Actor {
	u := webSession(c).user
	return models.Actor{ID: u.ID, Email: u.Email}
}

// adminFilter is the list's query string, as typed and validated.
type adminFilter struct {
	Owner  string
	Host   string
	Plan   string
	Status string
	Sort   string
	Dir    string
	Page   int
}

// parseAdminFilter reads the query; a value it cannot use is a 400 that
// says which, never a silent guess or a 500.
func parseAdminFilter(q url.Values) (*adminFilter, error) {
	f := &adminFilter{
		Owner:  strings.ToLower(strings.TrimSpace(q.Get("owner"))),
		Host:   strings.ToLower(strings.TrimSpace(q.Get("host"))),
		Plan:   strings.ToLower(strings.TrimSpace(q.Get("plan"))),
		Status: strings.ToLower(strings.TrimSpace(q.Get("status"))),
		Sort:   strings.ToLower(strings.TrimSpace(q.Get("sort"))),
		Dir:    strings.ToLower(strings.TrimSpace(q.Get("dir"))),
		Page:   1,
	}
	bad := func(key string) error { return echo.NewHTTPError(http.StatusBadRequest, key) }
	switch {
	case len(f.Owner) > 254 || !utf8.ValidString(f.Owner):
		return nil, bad("admin.err.filter.owner")
	case len(f.Host) > 4*MaxHostLen || !utf8.ValidString(f.Host):
		return nil, bad("admin.err.filter.host")
	case f.Plan != "" && f.Plan != models.PlanFree && f.Plan != models.PlanPremium:
		return nil, bad("admin.err.filter.plan")
	case f.Status != "" && f.Status != models.StatusActive && f.Status != models.StatusRevoked && f.Status != models.StatusDeleted:
		return nil, bad("admin.err.filter.status")
	case f.Sort != "" && f.Sort != models.SortCreated && f.Sort != models.SortLastUsed:
		return nil, bad("admin.err.filter.sort")
	case f.Dir != "" && f.Dir != "asc" && f.Dir != "desc":
		return nil, bad("admin.err.filter.dir")
	}
	if f.Sort == "" {
		f.Sort = models.SortCreated
	}
	if f.Dir == "" {
		f.Dir = "desc"
	}
	page, err := parsePage(q.Get("page"))
	if err != nil {
		return nil, err
	}
	f.Page = page
	return f, nil
}

func parsePage(s string) (int, error) {
	if s = strings.TrimSpace(s); s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > adminMaxPage {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "admin.err.filter.page")
	}
	return n, nil
}

// query is the filter as a query string, with page and sort replaced
// where given; defaults are left out so URLs stay short.
func (f *adminFilter) query(page int, sort, dir string) string {
	v := url.Values{}
	for k, s := range map[string]string{"owner": f.Owner, "host": f.Host, "plan": f.Plan, "status": f.Status} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if sort != models.SortCreated {
		v.Set("sort", sort)
	}
	if dir != "desc" {
		v.Set("dir", dir)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// sortLink is a sortable column's header: where a click leads and how
// the column is sorted now (for aria-sort).
type sortLink struct {
	URL  string
	Aria string // "ascending", "descending" or "none"
}

func (f *adminFilter) sortLink(base, col string) sortLink {
	if f.Sort != col {
		return sortLink{URL: base + f.query(1, col, "desc"), Aria: "none"}
	}
	if f.Dir == "desc" {
		return sortLink{URL: base + f.query(1, col, "asc"), Aria: "descending"}
	}
	return sortLink{URL: base + f.query(1, col, "desc"), Aria: "ascending"}
}

// adminUserInfo heads the list when it shows one user's domains.
type adminUserInfo struct {
	ID        uint64
	Nick      string
	Email     string
	CreatedAt time.Time
	// Role is the catalogue key of the user's role.
	Role string
	// Limit is the account's domains and its limit (admin_users.go).
	Limit *userLimit
	// Team is its suspension and role, with their forms (admin_team.go).
	Team *adminUserTeam
}

type adminDomainsData struct {
	Rows   []models.AdminDomain
	Total  Total
	Filter *adminFilter
	// Base is the list's path: /admin/domains, or /admin/users/ID.
	Base string
	Pager
	ClearURL string
	// SortLastUsed is the "Last use" column's header link (sorting by
	// creation is the default, and a choice of the filters).
	SortLastUsed sortLink
	User         *adminUserInfo
	// CSVURL downloads the domains these filters select.
	CSVURL         string
	Plans          []string
	Statuses       []string
	FilterSelected bool
	// FilterCount is how many filters (and sort choices) differ from the
	// defaults, shown on the phone's filter button.
	FilterCount int
}

// adminDomains lists every domain of every user.
func (a *App) adminDomains(c echo.Context) error {
	return a.adminList(c, "/admin/domains", nil)
}

// adminUser lists one user's domains, under their account details. Like
// every GET, it writes nothing: a look is not an audit event, and a page
// any site can make an admin's browser load must not write (issue 15).
func (a *App) adminUser(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	u, err := a.users.Get(c.Request().Context(), id)
	if errors.Is(err, models.ErrNoRecord) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err != nil {
		return err
	}
	role := "admin.user.role.user"
	switch {
	case a.adminByEmail(u):
		role = "admin.user.role.env"
	case u.IsAdmin:
		role = "admin.user.role.stored"
	case slices.Contains(a.config.AdminEmails, u.Email):
		role = "admin.user.role.unverified"
	}
	info := &adminUserInfo{ID: u.ID, Nick: u.Nick, Email: u.Email, CreatedAt: u.CreatedAt, Role: role, Team: a.userTeam(c, u)}
	if info.Limit, err = a.userLimit(c.Request().Context(), u); err != nil {
		return err
	}
	return a.adminList(c, adminUserURL(u.ID), info)
}

func (a *App) adminList(c echo.Context, base string, user *adminUserInfo) error {
	f, err := parseAdminFilter(c.QueryParams())
	if err != nil {
		return err
	}
	mf := models.DomainFilter{
		Owner: f.Owner, Host: f.Host, Plan: f.Plan, Status: f.Status, Sort: f.Sort, Asc: f.Dir == "asc",
	}
	if user != nil {
		mf.OwnerID, mf.Owner, f.Owner = user.ID, "", ""
	}
	ctx := c.Request().Context()
	if mf, err = a.admin.Resolve(ctx, mf); err != nil { // once for the page and its count
		return err
	}
	rows, more, err := a.admin.ListDomains(ctx, mf, adminPageSize, (f.Page-1)*adminPageSize)
	if err != nil {
		return err
	}
	n := len(rows) // the whole list, when it fits on the first page
	if more || f.Page > 1 {
		if n, err = a.admin.CountDomains(ctx, mf, adminCountTo); err != nil {
			return err
		}
	}
	d := &adminDomainsData{
		Rows: rows, Total: newTotal(n, adminCountTo), Filter: f, Base: base, User: user, ClearURL: base,
		SortLastUsed: f.sortLink(base, models.SortLastUsed),
		Plans:        []string{models.PlanFree, models.PlanPremium},
		Statuses:     []string{models.StatusActive, models.StatusRevoked, models.StatusDeleted},
	}
	for _, set := range []bool{f.Owner != "", f.Host != "", f.Plan != "", f.Status != "", f.Sort != models.SortCreated, f.Dir != "desc"} {
		if set {
			d.FilterCount++
		}
	}
	d.FilterSelected = d.FilterCount > 0
	d.Pager = newPager(f.Page, more, func(page int) string { return base + f.query(page, f.Sort, f.Dir) })
	d.CSVURL = "/admin/domains.csv" + f.query(1, models.SortCreated, f.Dir)
	if user != nil {
		d.CSVURL = "/admin/domains.csv?user=" + strconv.FormatUint(user.ID, 10)
		if q := f.query(1, models.SortCreated, f.Dir); q != "" {
			d.CSVURL += "&" + q[1:]
		}
	}
	p := a.page(c)
	p.Data = d
	return a.render(c, http.StatusOK, "admin_domains", p)
}

// adminNext is where an action sends the admin back: the console page
// the form came from, never another site.
func adminNext(c echo.Context) string {
	next := localPath(c.FormValue("next"), "/admin/domains")
	if !strings.HasPrefix(next, "/admin/") {
		return "/admin/domains"
	}
	return next
}

// refusal is a change refused and why, as a models.StateError says.
type refusal struct {
	action string
	reason models.StateReason
}

// refusals is the message for every refusal an AdminModel method can
// give (TestEveryRefusalHasAMessage walks them all).
var refusals = map[refusal]string{
	{models.ActionRevoke, models.AlreadyRevoked}: "admin.err.revoke.revoked",
	{models.ActionRevoke, models.Deleted}:        "admin.err.revoke.deleted",
	{models.ActionRestore, models.AlreadyActive}: "admin.err.restore.active",
	{models.ActionRestore, models.Deleted}:       "admin.err.restore.deleted",
	{models.ActionPlan, models.Deleted}:          "admin.err.plan.deleted",
	{models.ActionPlan, models.SamePlan}:         "admin.err.plan.same",

	{models.ActionPremiumApprove, models.Deleted}:      "admin.err.premium.deleted",
	{models.ActionPremiumApprove, models.NotRequested}: "admin.err.premium.none",
	{models.ActionPremiumDecline, models.Deleted}:      "admin.err.premium.deleted",
	{models.ActionPremiumDecline, models.NotRequested}: "admin.err.premium.none",
}

// adminChange runs one audited change on the domain in the URL, makes the
// API see it at once and returns, with the flash message change names, to
// the page the form came from.
func (a *App) adminChange(c echo.Context,
	change func(ctx context.Context, actor models.Actor, id uint64) (flash string, err error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	flash, err := change(c.Request().Context(), actorOf(c), id)
	var se *models.StateError
	switch {
	case errors.Is(err, models.ErrNoRecord):
		return echo.NewHTTPError(http.StatusNotFound)
	case errors.As(err, &se):
		key, ok := refusals[refusal{se.Action, se.Reason}]
		if !ok { // a refusal with no message is a bug: a 500 that logs it
			return err
		}
		return echo.NewHTTPError(http.StatusConflict, key)
	case err != nil:
		return err
	}
	a.domainChanged(id)
	webSession(c).flash(flash)
	return a.redirect(c, adminNext(c))
}

// adminRevoke revokes a domain for the reason the form gives (field
// reason, required): its owner sees it on the dashboard, the audit log
// keeps it, and the mail to the owner gives it.
func (a *App) adminRevoke(c echo.Context) error {
	if _, err := pathID(c); err != nil {
		return err
	}
	reason, key := reasonField.clean(c.FormValue("reason"))
	if key != "" {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, key)
	}
	return a.adminChange(c, func(ctx context.Context, actor models.Actor, id uint64) (string, error) {
		if err := a.admin.Revoke(ctx, actor, id, reason); err != nil {
			return "", err
		}
		a.mailDomainOwner(ctx, id, func(host string) mailContent {
			return mailContent{Kind: "domain_revoked", Subject: say("mail.revoked.subject", host),
				Lines: []msg{say("mail.revoked.body", host), say("mail.revoked.reason", reason), say("mail.revoked.next")}}
		})
		return "admin.flash.revoked", nil
	})
}

// adminRestore restores a revoked domain, or lifts the revocation that
// holds on a deleted one (its owner may register the host again).
func (a *App) adminRestore(c echo.Context) error {
	return a.adminChange(c, func(ctx context.Context, actor models.Actor, id uint64) (string, error) {
		lifted, err := a.admin.Restore(ctx, actor, id)
		if err != nil {
			return "", err
		}
		kind, subject, body, flash := "domain_restored", "mail.restored.subject", "mail.restored.body", "admin.flash.restored"
		if lifted {
			kind, subject, body, flash = "domain_lifted", "mail.lifted.subject", "mail.lifted.body", "admin.flash.lifted"
		}
		a.mailDomainOwner(ctx, id, func(host string) mailContent {
			return mailContent{Kind: kind, Subject: say(subject, host), Lines: []msg{say(body, host)}}
		})
		return flash, nil
	})
}

func (a *App) adminSetPlan(c echo.Context) error {
	plan := strings.ToLower(strings.TrimSpace(c.FormValue("type")))
	if plan != models.PlanFree && plan != models.PlanPremium {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "admin.err.plan.invalid")
	}
	return a.adminChange(c, func(ctx context.Context, actor models.Actor, id uint64) (string, error) {
		if err := a.admin.SetPlan(ctx, actor, id, plan); err != nil {
			return "", err
		}
		a.mailDomainOwner(ctx, id, func(host string) mailContent {
			return mailContent{Kind: "domain_plan", Subject: say("mail.plan.subject", host),
				Lines: []msg{say("mail.plan.body", host, msg{Key: "plan." + plan})}}
		})
		return "admin.flash.plan", nil
	})
}

type adminAuditData struct {
	Rows     []models.AuditRow
	DomainID uint64
	UserID   uint64
	Filter   *auditFilter
	Actions  []string
	// CSVURL downloads the filtered entries; ClearURL drops the filters.
	CSVURL, ClearURL string
	Pager
}

// Pager is the previous/next navigation of a paginated admin list
// (partials/pagination.html); a link is empty when there is no such page.
// Last says the list goes on past adminMaxPage, where no link leads.
type Pager struct {
	Page             int
	PrevURL, NextURL string
	Last             bool
}

// newPager links the pages around page; more says whether one follows.
func newPager(page int, more bool, link func(page int) string) Pager {
	p := Pager{Page: page}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	switch {
	case more && page >= adminMaxPage:
		p.Last = true
	case more:
		p.NextURL = link(page + 1)
	}
	return p
}

// Total is how many domains a list holds, as the console says it: Count,
// or more than Count when More (the count stopped there), or "many" when
// Many (a filter the database cannot count cheaply: see
// models.AdminModel.CountDomains).
type Total struct {
	Count string // with thousands separators: "1,234"
	One   bool
	More  bool
	Many  bool
}

// newTotal is the total for n domains counted up to countTo (n is countTo+1
// when more were found, models.NotCounted when they were not counted).
func newTotal(n, countTo int) Total {
	if n == models.NotCounted {
		return Total{Many: true}
	}
	if n > countTo {
		return Total{Count: thousands(countTo), More: true}
	}
	return Total{Count: thousands(n), One: n == 1}
}

// adminAudit shows the audit log, newest first, filtered by the query
// (auditFilter): bookmarkable, like the domain list's.
func (a *App) adminAudit(c echo.Context) error {
	q := c.QueryParams()
	page, err := parsePage(q.Get("page"))
	if err != nil {
		return err
	}
	f, err := parseAuditFilter(q)
	if err != nil {
		return err
	}
	rows, more, err := a.audit.List(c.Request().Context(), f.model, adminPageSize, (page-1)*adminPageSize)
	if err != nil {
		return err
	}
	link := func(page int) string { return "/admin/audit" + f.query(page) }
	d := &adminAuditData{
		Rows: rows, DomainID: f.model.DomainID, UserID: f.model.UserID, Filter: f, Actions: models.Actions,
		CSVURL: "/admin/audit.csv" + f.query(1), ClearURL: "/admin/audit", Pager: newPager(page, more, link),
	}
	p := a.page(c)
	p.Data = d
	return a.render(c, http.StatusOK, "admin_audit", p)
}

// auditFilter is the audit log's query string, as typed and validated:
// domain and user (ids), actor (an admin's email, exactly), action (one
// of models.Actions), from and to (dates, YYYY-MM-DD, in UTC, both
// included).
type auditFilter struct {
	From, To, Actor, Action string
	model                   models.AuditFilter
}

// auditDate is the form of the from and to dates (an <input type="date">'s).
const auditDate = "2006-01-02"

// parseAuditFilter reads the query; a value it cannot use is a 400 that
// says which.
func parseAuditFilter(q url.Values) (*auditFilter, error) {
	f := &auditFilter{
		From:   strings.TrimSpace(q.Get("from")),
		To:     strings.TrimSpace(q.Get("to")),
		Actor:  strings.ToLower(strings.TrimSpace(q.Get("actor"))),
		Action: strings.TrimSpace(q.Get("action")),
	}
	for name, dst := range map[string]*uint64{"domain": &f.model.DomainID, "user": &f.model.UserID} {
		if s := strings.TrimSpace(q.Get(name)); s != "" {
			n, ok := parseID(s)
			if !ok {
				return nil, echo.NewHTTPError(http.StatusBadRequest, "admin.err.filter.id")
			}
			*dst = n
		}
	}
	bad := func(key string) error { return echo.NewHTTPError(http.StatusBadRequest, key) }
	if len(f.Actor) > 254 || !utf8.ValidString(f.Actor) {
		return nil, bad("admin.err.filter.actor")
	}
	if f.Action != "" && !slices.Contains(models.Actions, f.Action) {
		return nil, bad("admin.err.filter.action")
	}
	f.model.Actor, f.model.Action = f.Actor, f.Action
	if f.From != "" {
		t, err := time.Parse(auditDate, f.From)
		if err != nil {
			return nil, bad("admin.err.filter.date")
		}
		f.model.From = t
	}
	if f.To != "" {
		t, err := time.Parse(auditDate, f.To)
		if err != nil {
			return nil, bad("admin.err.filter.date")
		}
		f.model.To = t.AddDate(0, 0, 1) // the whole day
	}
	if f.From != "" && f.To != "" && !f.model.From.Before(f.model.To) {
		return nil, bad("admin.err.filter.dates")
	}
	return f, nil
}

// query is the filter as a query string, with page; empty values are
// left out so URLs stay short.
func (f *auditFilter) query(page int) string {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "actor": f.Actor, "action": f.Action} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.model.DomainID != 0 {
		v.Set("domain", strconv.FormatUint(f.model.DomainID, 10))
	}
	if f.model.UserID != 0 {
		v.Set("user", strconv.FormatUint(f.model.UserID, 10))
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
