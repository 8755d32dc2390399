package models_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// seedOwner stores n domains for u in bulk, the i-th created i minutes
// after start, and returns them in creation order.
func seedOwner(t *testing.T, db *gorm.DB, u *models.User, prefix string, n int, start time.Time) []*models.Domain {
	t.Helper()
	ds := make([]*models.Domain, n)
	for i := range ds {
		host := fmt.Sprintf("%s%d.example.com", prefix, i)
		s := secret.New()
		at := start.Add(time.Duration(i) * time.Minute).UTC()
		ds[i] = &models.Domain{
			UserID: u.ID, Host: host, HostKey: &host, Plan: models.PlanFree, Status: models.StatusActive,
			SecretHash: secret.Hash(s), SecretLast4: secret.Last4(s), SecretVersion: 1, CreatedAt: at, UpdatedAt: at,
		}
	}
	if err := db.Omit("User").CreateInBatches(ds, 500).Error; err != nil {
		t.Fatal(err)
	}
	return ds
}

// captured is a statement GORM ran, with its arguments.
type captured struct {
	sql  string
	vars []any
}

// capture records the SELECTs db runs while fn runs.
func capture(t *testing.T, db *gorm.DB, fn func()) []captured {
	t.Helper()
	var (
		mu  sync.Mutex
		on  bool
		got []captured
	)
	hook := func(tx *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		if on && tx.Statement.SQL.Len() > 0 {
			got = append(got, captured{tx.Statement.SQL.String(), append([]any(nil), tx.Statement.Vars...)})
		}
	}
	name := "capture:" + t.Name()
	if err := db.Callback().Query().After("gorm:query").Register(name, hook); err != nil {
		t.Fatal(err)
	}
	if err := db.Callback().Row().After("gorm:row").Register(name, hook); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = db.Callback().Query().Remove(name)
		_ = db.Callback().Row().Remove(name)
	}()
	mu.Lock()
	on = true
	mu.Unlock()
	fn()
	mu.Lock()
	defer mu.Unlock()
	on = false
	return got
}

// plan is the database's plan for a captured statement, one line per
// table (MySQL: table, type, key, Extra; SQLite: EXPLAIN QUERY PLAN).
func plan(t *testing.T, db *gorm.DB, driver string, c captured) []string {
	t.Helper()
	var out []string
	if driver == "sqlite" {
		var rows []struct {
			ID, Parent, Notused int
			Detail              string
		}
		if err := db.Raw("EXPLAIN QUERY PLAN "+c.sql, c.vars...).Scan(&rows).Error; err != nil {
			t.Fatalf("EXPLAIN %s: %v", c.sql, err)
		}
		for _, r := range rows {
			out = append(out, r.Detail)
		}
		return out
	}
	var rows []map[string]any
	if err := db.Raw("EXPLAIN "+c.sql, c.vars...).Scan(&rows).Error; err != nil {
		t.Fatalf("EXPLAIN %s: %v", c.sql, err)
	}
	for _, r := range rows {
		s := func(k string) string {
			switch v := r[k].(type) {
			case nil:
				return "NULL"
			case []byte:
				return string(v)
			default:
				return fmt.Sprint(v)
			}
		}
		out = append(out, fmt.Sprintf("table=%s type=%s key=%s rows=%s extra=%s", s("table"), s("type"), s("key"), s("rows"), s("Extra")))
	}
	return out
}

// An account with 2,000 domains (and others with as many): every query of
// a dashboard page, the search and the count reads an index range of the
// account, never the table, and a page in date order needs no sort.
func TestOwnerPagesUseIndexes(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 5*time.Second, 4)
		domains := models.NewDomainModel(db, 5*time.Second)
		var owners []*models.User
		for i := range 3 {
			u, err := users.Insert(ctx, fmt.Sprintf("owner%d@example.com", i), "owner", "password123")
			if err != nil {
				t.Fatal(err)
			}
			owners = append(owners, u)
		}
		t0 := time.Now().Add(-1000 * time.Hour)
		ds := seedOwner(t, db, owners[1], "shop", 2000, t0)
		seedOwner(t, db, owners[0], "shop", 2000, t0)
		seedOwner(t, db, owners[2], "shop", 2000, t0)
		for _, d := range ds[:100] {
			if err := domains.Delete(ctx, d.ID, owners[1].ID); err != nil {
				t.Fatal(err)
			}
		}
		if driver == "mysql" {
			if err := db.Exec("ANALYZE TABLE domains, users").Error; err != nil {
				t.Fatal(err)
			}
		} else if err := db.Exec("ANALYZE").Error; err != nil {
			t.Fatal(err)
		}
		uid := owners[1].ID
		mid := ds[1000].ID
		for _, tc := range []struct {
			name   string
			q      models.DomainPageQuery
			sorted bool // the page comes in index order: no sort step
		}{
			{"first page", models.DomainPageQuery{Limit: 50}, true},
			{"older page", models.DomainPageQuery{After: mid, Limit: 50}, true},
			{"newer page", models.DomainPageQuery{Before: mid, Limit: 50}, true},
			{"search", models.DomainPageQuery{Prefix: "shop12", Limit: 50}, false},
			{"search, older page", models.DomainPageQuery{Prefix: "shop1", After: mid, Limit: 50}, false},
		} {
			var page *models.DomainPage
			stmts := capture(t, db, func() {
				var err error
				if page, err = domains.PageForUser(ctx, uid, tc.q); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
			})
			if len(page.Domains) == 0 || len(page.Domains) > 50 {
				t.Errorf("%s: %d domains", tc.name, len(page.Domains))
			}
			for _, st := range stmts {
				checkPlan(t, driver, tc.name, st.sql, plan(t, db, driver, st), tc.sorted)
			}
		}
		stmts := capture(t, db, func() {
			if n, err := domains.CountForUser(ctx, uid); err != nil || n != 1900 {
				t.Errorf("count: %d %v, want 1900", n, err)
			}
		})
		for _, st := range stmts {
			p := plan(t, db, driver, st)
			checkPlan(t, driver, "count", st.sql, p, true)
			if j := strings.Join(p, " "); !strings.Contains(j, "COVERING INDEX") && !strings.Contains(j, "Using index") {
				t.Errorf("count reads rows, not only the index: %s", j)
			}
		}
	})
}

// checkPlan fails when a statement's plan reads domains without an index
// on the owner, or sorts when sorted says it need not.
func checkPlan(t *testing.T, driver, name, sql string, p []string, sorted bool) {
	t.Helper()
	t.Logf("%s: %s\n\t%s", name, sql, strings.Join(p, "\n\t"))
	for _, line := range p {
		if driver == "sqlite" {
			if strings.HasPrefix(line, "SCAN") {
				t.Errorf("%s: scans a table: %s (%s)", name, line, sql)
			}
			if sorted && strings.Contains(line, "TEMP B-TREE") {
				t.Errorf("%s: sorts: %s (%s)", name, line, sql)
			}
			continue
		}
		if strings.Contains(line, "type=ALL") || strings.Contains(line, "type=index ") || strings.Contains(line, "key=NULL") {
			t.Errorf("%s: reads the whole table or index: %s (%s)", name, line, sql)
		}
		if sorted && strings.Contains(line, "filesort") {
			t.Errorf("%s: sorts: %s (%s)", name, line, sql)
		}
	}
}
