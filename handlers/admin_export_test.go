package handlers

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

// readCSV parses a CSV download.
func readCSV(t *testing.T, r response) [][]string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("CSV: %d\n%s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.Body)
	}
	return rows
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "a=b": "a=b", "": "", "shop.example.com": "shop.example.com",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// The domain export holds every domain the filters select, in
// registration order, across many keyset pages (a page size of 7 here),
// each row complete; a nick that looks like a formula is neutralised.
func TestDomainsCSV(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		old := exportPageSize
		exportPageSize = 7
		t.Cleanup(func() { exportPageSize = old })
		s, admin := adminServer(t, driver)
		evil := s.client(t)
		if r := evil.signup("eve@example.com", "=cmd|calc", teamPassword); r.Status != http.StatusSeeOther {
			t.Fatalf("signup: %d", r.Status)
		}
		start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		hosts := seedDomains(t, s, userID(t, s, "eve@example.com"), "e", 30, start) // 30 rows: 5 pages of 7
		seedDomains(t, s, userID(t, s, rootEmail), "r", 3, start.Add(time.Hour))
		// Two domains created at the same instant: the key goes on to the id.
		if err := s.app.db.Model(&models.Domain{}).Where("host IN ?", []string{hosts[10], hosts[11]}).
			UpdateColumn("created_at", start.Add(10*time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.app.admin.Revoke(t.Context(), models.Actor{ID: 1, Email: rootEmail},
			domainIDOf(t, s, hosts[3]), "abuse"); err != nil {
			t.Fatal(err)
		}

		rows := readCSV(t, admin.get("/admin/domains.csv?owner=eve&dir=asc"))
		header := []string{"id", "host", "owner_nick", "owner_email", "plan", "status", "premium_requested",
			"tokens_issued", "last_token_at", "last_failed_at", "created_at"}
		if fmt.Sprint(rows[0]) != fmt.Sprint(header) {
			t.Fatalf("header %v", rows[0])
		}
		rows = rows[1:]
		if len(rows) != len(hosts) {
			t.Fatalf("%d rows, want %d", len(rows), len(hosts))
		}
		seen := map[string]bool{}
		for i, r := range rows {
			if r[1] != hosts[i] {
				t.Errorf("row %d: host %s, want %s (registration order)", i, r[1], hosts[i])
			}
			if seen[r[0]] {
				t.Errorf("row %d: id %s twice", i, r[0])
			}
			seen[r[0]] = true
			if r[2] != "'=cmd|calc" || r[3] != "eve@example.com" || r[4] != "free" {
				t.Errorf("row %d: %v", i, r)
			}
			if r[10] == "" {
				t.Errorf("row %d: no created_at", i)
			}
		}
		if rows[3][5] != "revoked" || rows[4][5] != "active" {
			t.Errorf("statuses: %v, %v", rows[3], rows[4])
		}
		// Newest first by default, the same rows; a status filter narrows.
		desc := readCSV(t, admin.get("/admin/domains.csv?owner=eve"))[1:]
		for i := range desc {
			if desc[i][1] != hosts[len(hosts)-1-i] {
				t.Fatalf("newest first, row %d: %s", i, desc[i][1])
			}
		}
		revoked := readCSV(t, admin.get("/admin/domains.csv?status=revoked"))[1:]
		if len(revoked) != 1 || revoked[0][1] != hosts[3] {
			t.Errorf("status=revoked: %v", revoked)
		}
		if all := readCSV(t, admin.get("/admin/domains.csv")); len(all) != 1+33 {
			t.Errorf("no filter: %d rows, want 33 and the header", len(all)-1)
		}
		user := readCSV(t, admin.get("/admin/domains.csv?user="+strconv.FormatUint(userID(t, s, rootEmail), 10)))
		if len(user) != 1+3 {
			t.Errorf("user=root: %d rows", len(user)-1)
		}
		if empty := readCSV(t, admin.get("/admin/domains.csv?host=nothing")); len(empty) != 1 {
			t.Errorf("no match: %v", empty)
		}
		if r := admin.get("/admin/domains.csv?plan=gold"); r.Status != http.StatusBadRequest {
			t.Errorf("a bad filter: %d, want 400", r.Status)
		}
		// The list page links the CSV of its filters.
		mustContain(t, "list", admin.get("/admin/domains?owner=eve&status=active").Body,
			`href="/admin/domains.csv?owner=eve&amp;status=active"`)
	})
}

// The audit export: the filtered entries, newest first, across pages,
// with a revocation reason that looks like a formula neutralised.
func TestAuditCSV(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		old := exportPageSize
		exportPageSize = 4
		t.Cleanup(func() { exportPageSize = old })
		s, admin := adminServer(t, driver)
		hosts := seedDomains(t, s, userID(t, s, rootEmail), "a", 11, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		actor := models.Actor{ID: userID(t, s, rootEmail), Email: rootEmail}
		for _, h := range hosts {
			if err := s.app.admin.Revoke(t.Context(), actor, domainIDOf(t, s, h), "@SUM(1+1)*cmd"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.app.admin.SetPlan(t.Context(), actor, domainIDOf(t, s, hosts[0]), models.PlanPremium); err != nil {
			t.Fatal(err)
		}
		rows := readCSV(t, admin.get("/admin/audit.csv?action=domain.revoke"))
		if got := strings.Join(rows[0], ","); got != "id,time,actor_email,action,domain_id,host,user_id,user_email,before,after,note" {
			t.Fatalf("header %s", got)
		}
		rows = rows[1:]
		if len(rows) != len(hosts) {
			t.Fatalf("%d rows, want %d", len(rows), len(hosts))
		}
		for i, r := range rows {
			if want := hosts[len(hosts)-1-i]; r[5] != want {
				t.Errorf("row %d: host %s, want %s (newest first)", i, r[5], want)
			}
			if r[3] != models.ActionRevoke || r[8] != "active" || r[9] != "revoked" || r[10] != "'@SUM(1+1)*cmd" || r[2] != rootEmail {
				t.Errorf("row %d: %v", i, r)
			}
			if i > 0 {
				prev, _ := strconv.Atoi(rows[i-1][0])
				id, _ := strconv.Atoi(r[0])
				if id >= prev {
					t.Errorf("row %d: id %d after %d", i, id, prev)
				}
			}
		}
		if all := readCSV(t, admin.get("/admin/audit.csv")); len(all) != 1+12 {
			t.Errorf("everything: %d rows, want 12", len(all)-1)
		}
		if r := admin.get("/admin/audit.csv?action=nope"); r.Status != http.StatusBadRequest {
			t.Errorf("a bad filter: %d", r.Status)
		}
		if r := admin.do(http.MethodHead, "/admin/audit.csv", nil, nil); r.Status != http.StatusOK || r.Body != "" {
			t.Errorf("HEAD: %d %q", r.Status, r.Body)
		}
	})
}
