package handlers

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

// The console says how many domains match, on every page, exactly up to
// adminCountTo and as "more than" beyond.
func TestAdminListSaysHowManyMatch(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		s.user(t, "many@example.com")
		s.user(t, "one@example.com")
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		seedDomains(t, s, userID(t, s, "many@example.com"), "many-", 60, t0)
		seedDomains(t, s, userID(t, s, "one@example.com"), "one-", 1, t0.Add(time.Hour))
		totalRe := regexp.MustCompile(`(?s)data-testid="admin-total">(.*?)</p>`)
		total := func(path string, header map[string]string) string {
			r := admin.do("GET", path, nil, header)
			if r.Status != http.StatusOK {
				t.Fatalf("%s: %d", path, r.Status)
			}
			m := totalRe.FindStringSubmatch(r.Body)
			if m == nil {
				return ""
			}
			return strings.TrimSpace(m[1])
		}
		cases := []struct{ path, want string }{
			{"/admin/domains", "61 domains"},         // counted: more than a page
			{"/admin/domains?page=2", "61 domains"},  // counted: not the first page
			{"/admin/domains?page=99", "61 domains"}, // past the end: still the total
			{"/admin/domains?owner=many", "60 domains"},
			{"/admin/domains?host=one-", "1 domain"},     // the rows shown are the total
			{"/admin/domains?host=many-1", "11 domains"}, // many-1, many-10 .. many-19
			{"/admin/domains?host=nothing", ""},
		}
		for _, tc := range cases {
			if got := total(tc.path, nil); got != tc.want {
				t.Errorf("%s: total %q, want %q", tc.path, got, tc.want)
			}
		}
		if got := total("/admin/domains", map[string]string{"Accept-Language": "ko"}); got != "도메인 61개" {
			t.Errorf("Korean total %q", got)
		}
	})
}

// An owner filter matching more accounts than the console lists by id,
// with another filter set, is not counted (it would read a row per
// match): the console says "many", and lists the page as ever.
func TestAdminListSaysManyForAWideOwnerNarrowed(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		users := make([]models.User, 1001) // more than the owner filter's id list holds
		for i := range users {
			users[i] = models.User{Email: fmt.Sprintf("wide%d@example.com", i), Nick: fmt.Sprintf("wide%d", i),
				PasswordHash: []byte(strings.Repeat("x", 60)), SessionVersion: 1}
		}
		if err := s.app.db.CreateInBatches(users, 200).Error; err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 6 {
			seedDomains(t, s, users[i].ID, fmt.Sprintf("wide-%d-", i), 10, t0.Add(time.Duration(i)*time.Hour))
		}
		r := admin.get("/admin/domains?owner=wide&status=active")
		mustContain(t, "a wide owner filter with a status", r.Body, "Many domains (not counted for these filters)", `rel="next"`)
		if rows := adminRows(t, r.Body); len(rows) != adminPageSize {
			t.Errorf("a wide owner filter with a status lists %d rows, want %d", len(rows), adminPageSize)
		}
		mustContain(t, "in Korean", admin.do("GET", "/admin/domains?owner=wide&status=active", nil,
			map[string]string{"Accept-Language": "ko"}).Body, "도메인 다수 (이 필터 조합은 세지 않음)")
		mustContain(t, "a wide owner filter alone", admin.get("/admin/domains?owner=wide").Body, "60 domains")
	})
}

func TestTotalStopsCounting(t *testing.T) {
	cases := []struct {
		n, to int
		want  Total
	}{
		{0, 10000, Total{Count: "0"}},
		{1, 10000, Total{Count: "1", One: true}},
		{1234, 10000, Total{Count: "1,234"}},
		{10000, 10000, Total{Count: "10,000"}},
		{10001, 10000, Total{Count: "10,000", More: true}},
		{models.NotCounted, 10000, Total{Many: true}},
	}
	for _, tc := range cases {
		if got := newTotal(tc.n, tc.to); got != tc.want {
			t.Errorf("newTotal(%d, %d) = %+v, want %+v", tc.n, tc.to, got, tc.want)
		}
	}
}

// Lists stop at adminMaxPage, so that no page skips more than adminMaxPage
// pages of index entries: the last page says so instead of linking on, and
// a page past it is refused.
func TestAdminListsStopAtTheLastPage(t *testing.T) {
	link := func(page int) string { return "/p" + strings.Repeat("+", page%3) }
	if p := newPager(adminMaxPage-1, true, link); p.NextURL == "" || p.Last {
		t.Errorf("the page before the last: %+v, want a link on", p)
	}
	if p := newPager(adminMaxPage, true, link); p.NextURL != "" || !p.Last || p.PrevURL == "" {
		t.Errorf("the last page with more after it: %+v, want no link on, and Last", p)
	}
	if p := newPager(adminMaxPage, false, link); p.NextURL != "" || p.Last {
		t.Errorf("the last page with nothing after it: %+v", p)
	}

	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		s.user(t, "few@example.com")
		seedDomains(t, s, userID(t, s, "few@example.com"), "few-", 2, time.Now())
		for _, path := range []string{"/admin/domains?page=2001", "/admin/audit?page=2001"} {
			r := admin.get(path)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", path, r.Status)
			}
			mustContain(t, path, r.Body, "The page must be a whole number from 1 to 2000.")
		}
		if r := admin.get("/admin/domains?page=2000"); r.Status != http.StatusOK {
			t.Errorf("page 2000: %d", r.Status)
		}

		// With the last page at 2, a list of three pages stops at the second.
		seedDomains(t, s, userID(t, s, "few@example.com"), "more-", 2*adminPageSize, time.Now())
		old := adminMaxPage
		adminMaxPage = 2
		defer func() { adminMaxPage = old }()
		r := admin.get("/admin/domains?page=2")
		mustContain(t, "the last page", r.Body, `data-testid="pages-end"`,
			"Lists stop at page 2: reverse the order, or narrow the filters, to see the rest.", `rel="prev"`)
		mustNotContain(t, "the last page", r.Body, `rel="next"`)
		mustContain(t, "the last page in Korean", admin.do("GET", "/admin/domains?page=2", nil,
			map[string]string{"Accept-Language": "ko"}).Body, "목록은 2쪽까지입니다.")
		if r := admin.get("/admin/domains?page=3"); r.Status != http.StatusBadRequest {
			t.Errorf("page 3 past the last: %d", r.Status)
		}
		mustNotContain(t, "a page before the last", admin.get("/admin/domains").Body, `data-testid="pages-end"`)
	})
}
