package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// The admin console's list at production size: 10,000 domains across
// 1,000 users in MariaDB, pages rendered through the whole handler for a
// signed-in admin. Run it with
//
//	NODEBIRD_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/' \
//	  go test ./handlers -run '^$' -bench AdminDomains -benchtime 200x
//
// It logs the EXPLAIN of every query a page makes, so that a lost index
// shows. Without the DSN it is skipped: benchmarks do not run in CI.

const (
	adminBenchUsers   = 1000
	adminBenchDomains = 10000
)

var adminBenchWords = []string{"shop", "blog", "news", "docs", "app", "api", "store", "wiki"}

func BenchmarkAdminDomains(b *testing.B) {
	if os.Getenv(testdb.EnvDSN) == "" {
		b.Skipf("set %s to run the admin benchmark on MariaDB", testdb.EnvDSN)
	}
	cfg := testConfig()
	cfg.AdminEmails = []string{rootEmail}
	cfg.RateLimits = false
	db := testdb.Fresh(b, "mysql")
	app, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db, os.DirFS(".."))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seedAdminBench(b, db)
	b.Logf("seeded %d users and %d domains in %s", adminBenchUsers, adminBenchDomains, time.Since(start).Round(time.Millisecond))

	h := app.handler
	cookie := adminBenchLogin(b, app, h)
	var captured []string
	var capVars [][]any
	var capMu sync.Mutex
	capture := false
	hook := func(tx *gorm.DB) {
		capMu.Lock()
		defer capMu.Unlock()
		if capture && tx.Statement.SQL.Len() > 0 {
			captured = append(captured, tx.Statement.SQL.String())
			capVars = append(capVars, append([]any(nil), tx.Statement.Vars...))
		}
	}
	if err := db.Callback().Query().After("gorm:query").Register("adminbench:capture", hook); err != nil {
		b.Fatal(err)
	}
	if err := db.Callback().Row().After("gorm:row").Register("adminbench:capture", hook); err != nil {
		b.Fatal(err)
	}

	get := func(query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/admin/domains"+query, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rowRe := regexp.MustCompile(`data-testid="admin-domain-row"`)
	cases := []struct{ name, query string }{
		{"first_page", ""},
		{"premium_active", "?plan=premium&status=active"},
		{"owner", "?owner=user0042"},
		{"host_common", "?host=blog"},
		{"host_rare", "?host=-4242."},
		{"last_used", "?sort=last_used"},
		{"revoked_by_last_used", "?status=revoked&sort=last_used"},
		{"page_100", "?page=100"},
	}
	for _, tc := range cases {
		// One request with its queries captured and explained.
		capMu.Lock()
		capture, captured, capVars = true, nil, nil
		capMu.Unlock()
		rec := get(tc.query)
		capMu.Lock()
		capture = false
		qs, vs := captured, capVars
		capMu.Unlock()
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d\n%s", tc.name, rec.Code, rec.Body.String())
		}
		rows := len(rowRe.FindAllString(rec.Body.String(), -1))
		if rows == 0 {
			b.Fatalf("%s: no rows", tc.name)
		}
		for i, q := range qs {
			if !strings.Contains(q, "domains") && !strings.Contains(q, "users") {
				continue
			}
			b.Logf("%s (%d rows shown): %s", tc.name, rows, adminBenchExplain(b, db, q, vs[i]))
		}

		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if rec := get(tc.query); rec.Code != http.StatusOK {
					b.Fatalf("%d", rec.Code)
				}
			}
		})
	}
}

// seedAdminBench bulk-inserts the users and their domains: real secret
// hashes, plans and statuses mixed, creation times over a year, most
// domains used at some point.
func seedAdminBench(b *testing.B, db *gorm.DB) {
	b.Helper()
	rng := rand.New(rand.NewPCG(4, 2))
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), 4)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	users := make([]models.User, adminBenchUsers)
	for i := range users {
		users[i] = models.User{
			Email: fmt.Sprintf("user%04d@example.com", i), Nick: fmt.Sprintf("user%04d", i),
			PasswordHash: hash, SessionVersion: 1, CreatedAt: now.Add(-400 * 24 * time.Hour),
		}
	}
	if err := db.CreateInBatches(&users, 500).Error; err != nil {
		b.Fatal(err)
	}
	domains := make([]models.Domain, adminBenchDomains)
	for i := range domains {
		s := secret.New()
		host := fmt.Sprintf("%s-%d.example%d.com", adminBenchWords[i%len(adminBenchWords)], i, i%7)
		key := host
		d := models.Domain{
			UserID: users[i%adminBenchUsers].ID, Host: host, HostKey: &key,
			Plan: models.PlanFree, Status: models.StatusActive,
			SecretHash: secret.Hash(s), SecretLast4: secret.Last4(s), SecretVersion: 1,
			CreatedAt: now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))),
		}
		d.UpdatedAt = d.CreatedAt
		if rng.IntN(5) == 0 {
			d.Plan = models.PlanPremium
		}
		switch r := rng.IntN(20); {
		case r < 2:
			d.Status = models.StatusRevoked
		case r < 3:
			d.Status, d.HostKey = models.StatusDeleted, nil
		}
		if rng.IntN(10) < 7 {
			d.TokensIssued = rng.Int64N(100000)
			t := d.CreatedAt.Add(time.Duration(rng.Int64N(int64(now.Sub(d.CreatedAt)))))
			d.LastTokenAt = &t
		}
		if rng.IntN(10) == 0 {
			t := now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
			d.LastFailedAt = &t
		}
		domains[i] = d
	}
	if err := db.Omit("User").CreateInBatches(&domains, 1000).Error; err != nil {
		b.Fatal(err)
	}
	if err := db.Exec("ANALYZE TABLE domains, users").Error; err != nil {
		b.Fatal(err)
	}
}

// adminBenchLogin signs the admin in through the handler and returns the
// session cookie.
func adminBenchLogin(b *testing.B, app *App, h http.Handler) string {
	b.Helper()
	if _, err := app.users.Insert(context.Background(), rootEmail, "root", "correct horse battery"); err != nil {
		b.Fatal(err)
	}
	markVerified(b, app.db, rootEmail)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	m := csrfRe.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.Fatal("no CSRF token on /")
	}
	form := url.Values{"email": {rootEmail}, "password": {"correct horse battery"}, "_csrf": {m[1]}}
	req := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		b.Fatalf("login: %d", rec.Code)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatal("no session cookie after login")
	return ""
}

// adminBenchExplain returns MySQL's plan for a query, one table a line.
func adminBenchExplain(b *testing.B, db *gorm.DB, query string, vars []any) string {
	b.Helper()
	rows, err := db.Raw("EXPLAIN "+query, vars...).Rows()
	if err != nil {
		b.Fatalf("EXPLAIN %s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out strings.Builder
	out.WriteString(query)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			b.Fatal(err)
		}
		out.WriteString("\n    ")
		for i, c := range cols {
			switch c {
			case "table", "type", "key", "rows", "Extra":
				v := vals[i]
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&out, "%s=%v ", c, v)
			}
		}
	}
	return out.String()
}
