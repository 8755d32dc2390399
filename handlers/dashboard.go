package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/idna"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/nodebird/nodebird-api/models"
)

// The owner's dashboard: one page of the account's domains (at most
// dashPageSize, newest first), a search by the start of the host, and the
// register form. Its cost follows the page, not the account: a count and a
// page read from indexes, and usage for the page's domains only.

const dashPageSize = 50

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
	Label       string
	// RevokeReason is the admin's, for a revoked domain.
	RevokeReason string
	// PremiumRequested: a premium request waits for an admin (PREMIUM=approval).
	PremiumRequested bool
	// PrevUntil is when the previous secret of a rotation stops getting
	// tokens; nil when it does not any more.
	PrevUntil *time.Time
}

// shownSecret is a secret shown once, on the page that the creation or
// rotation redirects to (it waits in the session: sessionState.reveal).
type shownSecret struct {
	Host    string
	Secret  string
	Rotated bool
}

type dashboardData struct {
	Domains   []domainRow
	NewSecret *shownSecret
	// SecretGone is the secret shown on the previous view of the
	// dashboard (without its value): a reload says it is not shown again.
	SecretGone *shownSecret
	APIBase    string
	// Count is how many domains the account has; Limit how many it may
	// have (0: no limit), shown once Count reaches NearLimit.
	Count     int64
	Limit     int64
	NearLimit bool
	// Search is shown once the account has more than a page of domains.
	Search bool
	Q      string
	// Here is this page's URL: where a rotation or deletion from it comes
	// back to. The others link the pages around it ("" for none).
	Here                         string
	FirstURL, NewerURL, OlderURL string
	// Overlaps are the rotate form's choices, DefaultOverlap its default.
	Overlaps       []string
	DefaultOverlap string
}

// dashView is what the dashboard's URL asks for: a search (q) and the
// page, after (older than) or before (newer than) a domain of the account.
type dashView struct {
	Q             string // as typed, trimmed
	After, Before uint64
}

// parseDashView reads the dashboard's query string; a value it cannot use
// is a 400 that says so.
func parseDashView(q url.Values) (dashView, error) {
	bad := echo.NewHTTPError(http.StatusBadRequest, "dash.err.query")
	v := dashView{Q: strings.TrimSpace(q.Get("q"))}
	if len(v.Q) > 4*MaxHostLen || !utf8.ValidString(v.Q) {
		return v, bad
	}
	for name, dst := range map[string]*uint64{"after": &v.After, "before": &v.Before} {
		if s := q.Get(name); s != "" {
			id, ok := parseID(s)
			if !ok {
				return v, bad
			}
			*dst = id
		}
	}
	if v.After != 0 && v.Before != 0 {
		return v, bad
	}
	return v, nil
}

// dashViewFrom is the view a form's "next" field names (the page it was
// posted from), or the first page when it names none.
func dashViewFrom(next string) dashView {
	if next == "/" || !strings.HasPrefix(next, "/?") || localPath(next, "") == "" {
		return dashView{}
	}
	q, err := url.ParseQuery(next[2:])
	if err != nil {
		return dashView{}
	}
	v, err := parseDashView(q)
	if err != nil {
		return dashView{}
	}
	return v
}

// url is the view's address: "/" for the first page of everything.
func (v dashView) url() string {
	q := url.Values{}
	if v.Q != "" {
		q.Set("q", v.Q)
	}
	if v.After != 0 {
		q.Set("after", strconv.FormatUint(v.After, 10))
	}
	if v.Before != 0 {
		q.Set("before", strconv.FormatUint(v.Before, 10))
	}
	if len(q) == 0 {
		return "/"
	}
	return "/?" + q.Encode()
}

// prefix is the search as hosts are stored (NormalizeHost): lower case,
// names in Unicode as punycode.
func (v dashView) prefix() string {
	s := strings.ToLower(v.Q)
	if !isASCII(s) {
		if a, err := idna.Lookup.ToASCII(s); err == nil {
			s = a
		}
	}
	return s
}

// showDashboard answers GET / for a signed-in user: the page its query names.
func (a *App) showDashboard(c echo.Context) error {
	v, err := parseDashView(c.QueryParams())
	if err != nil {
		return err
	}
	return a.dashboard(c, http.StatusOK, a.page(c), v)
}

// dashboard renders the page v names. A page past the last domain (its
// domains were deleted since) shows the page before it, and a page of
// newer domains that reaches the newest shows the first page, so that
// coming back to a page after a change never shows an empty or short one.
// A GET shows the secret a creation or rotation left to show, once.
func (a *App) dashboard(c echo.Context, status int, p *Page, v dashView) error {
	ctx := c.Request().Context()
	u := p.User
	count, err := a.domains.CountForUser(ctx, u.ID)
	if err != nil {
		return err
	}
	var page *models.DomainPage
	for {
		page, err = a.domains.PageForUser(ctx, u.ID, models.DomainPageQuery{
			Prefix: v.prefix(), After: v.After, Before: v.Before, Limit: dashPageSize,
		})
		if errors.Is(err, models.ErrNoRecord) { // the cursor is not a domain of this account
			if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
				return echo.NewHTTPError(http.StatusNotFound)
			}
			v.After, v.Before = 0, 0 // a form's next: its change is made, show the first page
			continue
		}
		if err != nil {
			return err
		}
		if v.After != 0 && len(page.Domains) == 0 && page.Newer {
			v.After, v.Before = 0, v.After
			continue
		}
		if v.Before != 0 && !page.Newer {
			v.Before = 0
			continue
		}
		break
	}
	ds := page.Domains
	ids := make([]uint64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	recent, err := a.usageStats.Recent(ctx, ids, time.Now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	rows := make([]domainRow, len(ds))
	now := time.Now()
	for i, d := range ds {
		last := d.LastTokenAt
		if d.LastFailedAt != nil && (last == nil || d.LastFailedAt.After(*last)) {
			last = d.LastFailedAt
		}
		rows[i] = domainRow{
			ID: d.ID, Host: d.Host, Plan: d.Plan, Status: d.Status, SecretLast4: d.SecretLast4,
			CreatedAt: d.CreatedAt, Issued24h: recent[d.ID].Issued, Refused24h: recent[d.ID].Refused, LastUsed: last,
			Label: d.Label, RevokeReason: d.RevokeReason, PremiumRequested: d.PremiumRequested,
		}
		if d.PrevSecretUntil != nil && now.Before(*d.PrevSecretUntil) && d.Status == models.StatusActive {
			rows[i].PrevUntil = d.PrevSecretUntil
		}
	}
	if p.Form == nil {
		p.Form = &domainForm{Plan: models.PlanFree}
	}
	limit := int64(u.DomainLimit(a.domains.MaxPerUser))
	var shown, gone *shownSecret
	if c.Request().Method == http.MethodGet { // not HEAD: it would use the secret up unseen
		shown, gone = webSession(c).takeReveal()
	}
	d := &dashboardData{
		Domains: rows, NewSecret: shown, SecretGone: gone, APIBase: c.Scheme() + "://" + c.Request().Host,
		Count: count, Limit: limit, NearLimit: limit > 0 && count*5 >= limit*4,
		Search: count > dashPageSize || v.Q != "", Q: v.Q, Here: v.url(),
		Overlaps: overlapChoices, DefaultOverlap: defaultOverlap,
	}
	if v.After != 0 || v.Before != 0 {
		d.FirstURL = dashView{Q: v.Q}.url()
	}
	if page.Newer && len(ds) > 0 {
		d.NewerURL = dashView{Q: v.Q, Before: ds[0].ID}.url()
	}
	if page.Older && len(ds) > 0 {
		d.OlderURL = dashView{Q: v.Q, After: ds[len(ds)-1].ID}.url()
	}
	p.Data = d
	return a.render(c, status, "dashboard", p)
}

// Num writes n with the digits grouped as the page's language does
// ("1,234").
func (p *Page) Num(n int64) string {
	tag := language.English
	if p.Lang == "ko" {
		tag = language.Korean
	}
	return message.NewPrinter(tag).Sprintf("%d", n)
}
