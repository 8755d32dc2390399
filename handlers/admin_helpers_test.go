package handlers

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/models"
)

// rootEmail is the admin that adminServer names in ADMIN_EMAILS.
const rootEmail = "root@example.com"

// adminServer starts the app, signs rootEmail up, names it in
// ADMIN_EMAILS and marks its address verified (a listed address is admin
// once verified), and returns a client signed in as that admin.
func adminServer(t *testing.T, driver string) (*testServer, *client) {
	t.Helper()
	s := newTestServer(t, driver)
	c := s.user(t, rootEmail)
	s.app.config.AdminEmails = []string{rootEmail}
	markVerified(t, s.app.db, rootEmail)
	return s, c
}

// markVerified marks the account's address verified, as following the
// link mailed at sign-up does (account_mail_test.go tests that way).
func markVerified(t testing.TB, db *gorm.DB, email string) {
	t.Helper()
	res := db.Model(&models.User{}).Where("email = ?", email).Update("email_verified_at", time.Now().UTC())
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("verifying %s: %v (%d rows)", email, res.Error, res.RowsAffected)
	}
}

// adminRow is what a row of the admin list says about its domain (ID to
// LastToken), and what the domain's console page adds (Issued, LastFail:
// adminDetails fills them).
type adminRow struct {
	ID                          uint64
	Host, Owner, Plan, Status   string
	Issued, LastToken, LastFail string
}

var (
	// A row of the list: the domain's data, the host in full (its title:
	// a phone cuts it with an ellipsis) and as shown, the last use.
	adminRowRe = regexp.MustCompile(`(?s)data-testid="admin-domain-row" data-id="(\d+)" data-host="([^"]*)" data-owner="([^"]*)" data-plan="([^"]*)" data-status="([^"]*)">` +
		`\s*<td[^>]*><span class="host" title="([^"]*)" data-testid="host">([^<]*)</span>.*?<td[^>]*data-testid="last-token">(.*?)</td>\s*<td[^>]*><a [^>]*href="/admin/domains/(\d+)" data-testid="manage">`)
	// The console's page of one domain.
	adminDomainRe = regexp.MustCompile(`(?s)data-testid="admin-domain" data-id="(\d+)" data-host="([^"]*)" data-owner="([^"]*)" data-plan="([^"]*)" data-status="([^"]*)">` +
		`\s*<h1 class="host" data-testid="domain-heading">([^<]*)</h1>.*?data-testid="owner-email">([^<]*)</span>` +
		`.*?data-testid="tokens-issued">([\d,]+)</dd>.*?data-testid="last-token">(.*?)</dd>.*?data-testid="last-failed">(.*?)</dd>`)
	auditRowRe = regexp.MustCompile(`(?s)data-testid="audit-row" data-action="([^"]*)" data-domain="(\d+)" data-user="(\d+)" data-actor="([^"]*)">.*?data-testid="audit-change">(.*?)</td>`)
	tagRe      = regexp.MustCompile(`<[^>]+>`)
)

// adminRows parses the rows of an admin list page, in order: each shows
// its host and links to its own page.
func adminRows(t *testing.T, body string) []adminRow {
	t.Helper()
	var out []adminRow
	for _, m := range adminRowRe.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseUint(m[1], 10, 64)
		if m[9] != m[1] {
			t.Errorf("row of domain %s links to /admin/domains/%s", m[1], m[9])
		}
		host := html.UnescapeString(m[2])
		if shown := html.UnescapeString(m[7]); shown != host {
			t.Errorf("row of %s shows the host %q", host, shown)
		}
		if title := html.UnescapeString(m[6]); title != host {
			t.Errorf("row of %s has the title %q", host, title)
		}
		out = append(out, adminRow{
			ID: id, Host: host, Owner: html.UnescapeString(m[3]), Plan: m[4], Status: m[5], LastToken: text(m[8]),
		})
	}
	if n := strings.Count(body, `data-testid="admin-domain-row"`); n != len(out) {
		t.Fatalf("%d rows in the list, %d in the expected layout", n, len(out))
	}
	return out
}

// adminDetail reads the console's page of domain id.
func adminDetail(t *testing.T, c *client, id uint64) adminRow {
	t.Helper()
	r := c.get("/admin/domains/" + strconv.FormatUint(id, 10))
	if r.Status != http.StatusOK {
		t.Fatalf("domain page %d: %d", id, r.Status)
	}
	m := adminDomainRe.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("domain page %d is not in the expected layout:\n%s", id, r.Body)
	}
	got, _ := strconv.ParseUint(m[1], 10, 64)
	d := adminRow{
		ID: got, Host: html.UnescapeString(m[2]), Owner: html.UnescapeString(m[3]), Plan: m[4], Status: m[5],
		Issued: m[8], LastToken: text(m[9]), LastFail: text(m[10]),
	}
	if d.ID != id || html.UnescapeString(m[6]) != d.Host || html.UnescapeString(m[7]) != d.Owner {
		t.Fatalf("domain page %d shows %+v (heading %q, owner %q)", id, d, m[6], m[7])
	}
	return d
}

// adminDetails is adminRows with each row's page read too: the page
// agrees with the row, and adds the use.
func adminDetails(t *testing.T, c *client, body string) []adminRow {
	t.Helper()
	rows := adminRows(t, body)
	for i, r := range rows {
		d := adminDetail(t, c, r.ID)
		if r.Issued, r.LastFail = d.Issued, d.LastFail; r != d {
			t.Errorf("the list says %+v, the domain's page %+v", r, d)
		}
		rows[i] = d
	}
	return rows
}

func text(s string) string { return html.UnescapeString(tagRe.ReplaceAllString(s, "")) }

func hostsOf(rows []adminRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Host
	}
	return out
}

// auditEntry is what a row of the audit page says.
type auditEntry struct {
	Action        string
	Domain, User  uint64
	Actor         string
	Before, After string
}

var codeRe = regexp.MustCompile(`<code>([^<]*)</code> → <code>([^<]*)</code>`)

func auditEntries(t *testing.T, body string) []auditEntry {
	t.Helper()
	var out []auditEntry
	for _, m := range auditRowRe.FindAllStringSubmatch(body, -1) {
		d, _ := strconv.ParseUint(m[2], 10, 64)
		u, _ := strconv.ParseUint(m[3], 10, 64)
		e := auditEntry{Action: m[1], Domain: d, User: u, Actor: html.UnescapeString(m[4])}
		if c := codeRe.FindStringSubmatch(m[5]); c != nil {
			e.Before, e.After = c[1], c[2]
		}
		out = append(out, e)
	}
	return out
}

// auditCount is the number of entries in the audit table.
func auditCount(t *testing.T, s *testServer) int64 {
	t.Helper()
	var n int64
	if err := s.app.db.Model(&models.AuditEntry{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// domainByHost reads a domain's row straight from the database.
func domainByHost(t *testing.T, s *testServer, host string) models.Domain {
	t.Helper()
	var d models.Domain
	if err := s.app.db.Where("host = ?", host).Order("id DESC").Take(&d).Error; err != nil {
		t.Fatalf("domain %s: %v", host, err)
	}
	return d
}

// seedDomains inserts n domains for userID through the model, each created
// a minute after the previous one (from start), and returns their hosts in
// creation order.
func seedDomains(t *testing.T, s *testServer, userID uint64, prefix string, n int, start time.Time) []string {
	t.Helper()
	ctx := context.Background()
	hosts := make([]string, n)
	for i := range n {
		hosts[i] = prefix + strconv.Itoa(i) + ".example.com"
		d, _, err := s.app.domains.Insert(ctx, userID, hosts[i], models.PlanFree)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.app.db.Model(&models.Domain{}).Where("id = ?", d.ID).
			UpdateColumn("created_at", start.Add(time.Duration(i)*time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
	}
	return hosts
}

// status GETs or POSTs path and returns the status code.
func (c *client) status(method, path string) int {
	c.t.Helper()
	if method == http.MethodGet {
		return c.get(path).Status
	}
	return c.post(path, nil).Status
}
