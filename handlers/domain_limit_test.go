package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/i18n"
	"github.com/nodebird/nodebird-api/models"
)

func maxDomains(n int) func(*config.Config) {
	return func(c *config.Config) { c.MaxDomainsPerUser = n }
}

// liveDomains counts the user's domains that are not deleted, from the database.
func liveDomains(t *testing.T, s *testServer, uid uint64) int64 {
	t.Helper()
	var n int64
	if err := s.app.db.Model(&models.Domain{}).Where("user_id = ? AND status <> ?", uid, models.StatusDeleted).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// At MAX_DOMAINS_PER_USER, registering is refused on the form (422), in
// the page's language; deleted domains do not count, other accounts are
// not affected, and the dashboard says how many are left once near.
func TestDomainLimit(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver, maxDomains(5))
		c := s.user(t, "capped@example.com")
		uid := userID(t, s, "capped@example.com")
		for i := range 3 {
			c.register(fmt.Sprintf("site%d.example.com", i), "free")
		}
		mustNotContain(t, "3 of 5", c.get("/").Body, `data-testid="domain-limit"`)
		c.register("site3.example.com", "free")
		mustContain(t, "4 of 5", c.get("/").Body, `data-testid="domain-limit"`, i18n.T("en", "dash.limit", "4", "5"))
		c.register("site4.example.com", "free")

		r := c.post("/domain", url.Values{"host": {"site5.example.com"}, "type": {"free"}})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("registering past the limit: %d, want 422", r.Status)
		}
		mustContain(t, "refused", r.Body, i18n.T("en", "form.host.limit"), `aria-invalid="true"`, `value="site5.example.com"`,
			i18n.T("en", "dash.limit", "5", "5"), `data-testid="domain-count">5<`)
		mustNotContain(t, "refused", r.Body, `data-testid="client-secret"`)
		v := url.Values{"host": {"site5.example.com"}, "type": {"free"}, "_csrf": {c.csrf()}}
		r = c.do("POST", "/domain", strings.NewReader(v.Encode()), map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "ko"})
		if r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("registering past the limit in Korean: %d", r.Status)
		}
		mustContain(t, "refused in Korean", r.Body, i18n.T("ko", "form.host.limit"))
		if n := liveDomains(t, s, uid); n != 5 {
			t.Errorf("%d domains stored, want 5", n)
		}

		// A deleted domain frees its place.
		d := domainByHost(t, s, "site0.example.com")
		if r := c.post("/domain/"+strconv.FormatUint(d.ID, 10)+"/delete", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d", r.Status)
		}
		c.register("site5.example.com", "free")
		if r := c.post("/domain", url.Values{"host": {"site6.example.com"}, "type": {"free"}}); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("past the limit again: %d", r.Status)
		}
		// Others have their own five.
		other := s.user(t, "free@example.com")
		for i := range 5 {
			other.register(fmt.Sprintf("o%d.example.com", i), "free")
		}
	})
}

// Registrations racing at the limit: exactly one takes the last place.
func TestDomainLimitUnderConcurrency(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, logs := newOpsServer(t, driver, nil, roomyTimeout, maxDomains(10))
		c := s.user(t, "race@example.com")
		c.http.Timeout = time.Minute
		uid := userID(t, s, "race@example.com")
		bulkDomains(t, s, uid, "have", 9, time.Now().Add(-time.Hour))
		csrf := c.csrf()
		for round := range 3 {
			const n = 12
			rs := together(n, func(i int) response {
				return formRequest(c, "/domain", csrf, url.Values{"host": {fmt.Sprintf("r%d-%d.example.com", round, i)}, "type": {"free"}})
			})
			created := 0
			for i, r := range rs {
				switch r.Status {
				case http.StatusSeeOther:
					created++
				case http.StatusUnprocessableEntity:
					mustContain(t, "refused", r.Body, i18n.T("en", "form.host.limit"))
				default:
					t.Errorf("round %d, registration %d: %d %s", round, i, r.Status, failure(t, logs, r))
				}
			}
			if created != 1 {
				t.Errorf("round %d: %d registrations at the limit succeeded, want 1", round, created)
			}
			if n := liveDomains(t, s, uid); n != 10 {
				t.Fatalf("round %d: %d domains stored, want 10", round, n)
			}
			// Free one place for the next round.
			var d models.Domain
			if err := s.app.db.Where("user_id = ? AND status <> ?", uid, models.StatusDeleted).Order("id DESC").Take(&d).Error; err != nil {
				t.Fatal(err)
			}
			if err := s.app.domains.Delete(context.Background(), d.ID, uid); err != nil {
				t.Fatal(err)
			}
		}
	})
}
