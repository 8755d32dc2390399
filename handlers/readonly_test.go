package handlers

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// dbSnapshot is every row of every table, as text, table by table, each
// table's rows sorted: two snapshots are equal when nothing was inserted,
// updated or deleted in between.
func dbSnapshot(t *testing.T, db *gorm.DB) map[string][]string {
	t.Helper()
	tables, err := db.Migrator().GetTables()
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 4 {
		t.Fatalf("only tables %v: is the listing right?", tables)
	}
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := db.Table(table).Rows()
		if err != nil {
			t.Fatalf("reading %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if s, ok := v.([]byte); ok {
					v = string(s)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			lines = append(lines, b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(lines)
		out[table] = lines
	}
	return out
}

// GET changes nothing (issue 15, point 6): an admin's browser follows links
// from any site (SameSite=Lax cookies ride top-level navigations), so no
// GET or HEAD of any portal or admin URL may write to the database. Every
// route of the portal's Echo is requested with GET and HEAD (POST-only
// ones too: they must refuse GET without acting), as an admin, as a plain
// user and signed out, its parameters filled with real ids; every row of
// every table is compared before and after.
// userPageRe matches the URLs of the admin's user page (not its POST-only
// actions, such as /admin/users/ID/suspend).
var userPageRe = regexp.MustCompile(`^/admin/users/\d+(\?|$)`)

func TestGetChangesNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s, admin := adminServer(t, driver)
		owner := s.user(t, "rae@example.com")
		sec := owner.register("rae.example.com", "free")
		admin.register("root.example.com", "premium")
		s.issueToken(t, sec)
		if err := s.app.tokenCounts.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		rae := domainIDOf(t, s, "rae.example.com")
		rootDomain := domainIDOf(t, s, "root.example.com")
		if r := admin.post(fmt.Sprintf("/admin/domains/%d/revoke", rae), revokeReason()); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.Status) // so that the audit log has a row
		}
		raeID := strconv.FormatUint(userID(t, s, "rae@example.com"), 10)

		// fill puts a real value in each parameter of a route's path; a
		// parameter it does not know fails the test, to be taught here.
		fill := func(path string) string {
			parts := strings.Split(path, "/")
			for i, p := range parts {
				switch {
				case p == "*" && strings.HasPrefix(path, "/static/"):
					parts[i] = "css/app.css"
				case p == "*": // a group's catch-all (Echo adds one per group with middleware)
					parts[i] = "no/such/page"
				case p == ":id" && strings.HasPrefix(path, "/admin/users/"):
					parts[i] = raeID
				case p == ":id": // a domain: the admin's own, for the portal's pages of one's domains
					parts[i] = strconv.FormatUint(rootDomain, 10)
				case strings.HasPrefix(p, ":") || strings.Contains(p, "*"):
					t.Fatalf("route %s: the test does not know what to put for %s", path, p)
				}
			}
			return strings.Join(parts, "/")
		}
		var urls []string
		gets := 0
		for _, r := range s.app.web.Routes() {
			if r.Method == http.MethodGet {
				gets++
			}
			if u := fill(r.Path); !slices.Contains(urls, u) {
				urls = append(urls, u)
			}
		}
		if gets < 8 {
			t.Fatalf("only %d GET routes: is Routes() what the test thinks?", gets)
		}
		// And the admin pages' queries.
		urls = append(urls, "/admin/domains?owner=rae&status=revoked&sort=last_used&dir=asc",
			"/admin/users/"+raeID+"?status=revoked", fmt.Sprintf("/admin/audit?domain=%d", rae), "/admin/audit?user="+raeID)

		clients := map[string]*client{"admin": admin, "owner": owner, "visitor": s.client(t)}
		before := dbSnapshot(t, s.app.db)
		for _, who := range []string{"admin", "owner", "visitor"} {
			c := clients[who]
			for _, u := range urls {
				for _, method := range []string{http.MethodGet, http.MethodHead} {
					r := c.do(method, u, nil, nil)
					if r.Status >= 500 {
						t.Errorf("%s %s as %s: %d", method, u, who, r.Status)
					}
					if who == "admin" && method == http.MethodGet && userPageRe.MatchString(u) && r.Status != http.StatusOK {
						t.Errorf("GET %s as admin: %d, want the page", u, r.Status)
					}
				}
			}
		}
		after := dbSnapshot(t, s.app.db)
		for table, rows := range before {
			if !slices.Equal(rows, after[table]) {
				t.Errorf("GET requests changed table %s:\nbefore %q\nafter  %q", table, rows, after[table])
			}
		}
		if len(after) != len(before) {
			t.Errorf("tables before %d, after %d", len(before), len(after))
		}
	})
}
