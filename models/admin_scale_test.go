package models_test

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// withSmallIDLists runs fn with the filters' id lists as they are, then
// with bounds so small that every filter here goes past them (the
// filters become conditions on the page's query: an owner's a subquery),
// then past the owner subquery's bound too (checked row by row).
func withSmallIDLists(t *testing.T, fn func(how string)) {
	t.Helper()
	fn("with id lists")
	oldOwners, oldSub, oldHosts := *models.MaxOwnerIDs, *models.MaxOwnerSubquery, *models.MaxHostIDs
	defer func() {
		*models.MaxOwnerIDs, *models.MaxOwnerSubquery, *models.MaxHostIDs = oldOwners, oldSub, oldHosts
	}()
	*models.MaxOwnerIDs, *models.MaxHostIDs = 1, 1
	fn("past the id lists")
	*models.MaxOwnerSubquery = 1
	fn("past the owner subquery")
}

// The owner and host filters match the start of the email, nick or host
// (so that MySQL reads the matches from an index range), not text in the
// middle; the nick in any case.
func TestAdminFiltersMatchTheStart(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		for _, o := range []struct{ email, nick, host string }{
			{"kim.minsu@corp.example", "KimMinsu", "shop.kim.example"},
			{"lee@kim.example", "leekim", "kimchi.example"},
			{"park@example.org", "park", "blog-shop.example"},
		} {
			u, err := users.Insert(ctx, o.email, o.nick, "password123")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := domains.Insert(ctx, u.ID, o.host, models.PlanFree); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			name string
			f    models.DomainFilter
			want []string // hosts, newest first
		}{
			{"owner: start of the email", models.DomainFilter{Owner: "kim."}, []string{"shop.kim.example"}},
			{"owner: the whole email", models.DomainFilter{Owner: "lee@kim.example"}, []string{"kimchi.example"}},
			{"owner: start of the nick, any case", models.DomainFilter{Owner: "kimm"}, []string{"shop.kim.example"}},
			{"owner: email or nick", models.DomainFilter{Owner: "lee"}, []string{"kimchi.example"}},
			{"owner: text in the middle of an email", models.DomainFilter{Owner: "kim.example"}, nil},
			{"owner: text in the middle of a nick", models.DomainFilter{Owner: "minsu"}, nil},
			{"host: start of the host", models.DomainFilter{Host: "kim"}, []string{"kimchi.example"}},
			{"host: the whole host", models.DomainFilter{Host: "blog-shop.example"}, []string{"blog-shop.example"}},
			{"host: start of one host, middle of another", models.DomainFilter{Host: "shop"}, []string{"shop.kim.example"}},
			{"host: text at the end", models.DomainFilter{Host: ".example"}, nil},
		}
		withSmallIDLists(t, func(how string) {
			for _, tc := range cases {
				rows, more, err := admin.ListDomains(ctx, tc.f, 50, 0)
				if err != nil || more {
					t.Fatalf("%s %s: %v (more %v)", tc.name, how, err, more)
				}
				var got []string
				for _, r := range rows {
					got = append(got, r.Host)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s %s: %v, want %v", tc.name, how, got, tc.want)
				}
			}
		})
	})
}

// A host filter's matches are sorted as asked, paged, and filtered by plan
// and status, whether its ids are read first (and sorted apart from the
// table) or it stays a condition.
func TestAdminHostFilterSortsAndPages(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		u, err := models.NewUserModel(db, 2*time.Second, 4).Insert(ctx, "many@example.com", "many", "password123")
		if err != nil {
			t.Fatal(err)
		}
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var hosts []string // site-0 .. site-5, oldest first; then other-0 .. other-2, newer
		for i := range 9 {
			host := fmt.Sprintf("site-%d.example", i)
			if i >= 6 {
				host = fmt.Sprintf("other-%d.example", i-6)
			}
			d, _, err := domains.Insert(ctx, u.ID, host, models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			cols := map[string]any{"created_at": t0.Add(time.Duration(i) * time.Hour)}
			// Last used in the reverse order of creation; site-4 never.
			if i != 4 {
				cols["last_token_at"] = t0.Add(time.Duration(100-i) * time.Hour)
			}
			if i == 1 || i == 2 {
				cols["type"] = models.PlanPremium
			}
			if err := db.Model(&models.Domain{}).Where("id = ?", d.ID).UpdateColumns(cols).Error; err != nil {
				t.Fatal(err)
			}
			hosts = append(hosts, host)
		}
		site := func(is ...int) []string {
			out := []string{}
			for _, i := range is {
				out = append(out, hosts[i])
			}
			return out
		}
		cases := []struct {
			name         string
			f            models.DomainFilter
			limit, offer int
			want         []string
			more         bool
		}{
			{"newest first", models.DomainFilter{Host: "site"}, 4, 0, site(5, 4, 3, 2), true},
			{"newest first, page 2", models.DomainFilter{Host: "site"}, 4, 4, site(1, 0), false},
			{"oldest first", models.DomainFilter{Host: "site", Asc: true}, 4, 0, site(0, 1, 2, 3), true},
			{"last used first", models.DomainFilter{Host: "site", Sort: models.SortLastUsed}, 10, 0, site(0, 1, 2, 3, 5, 4), false},
			{"least recently used first", models.DomainFilter{Host: "site", Sort: models.SortLastUsed, Asc: true}, 2, 0, site(4, 5), true},
			{"with a plan", models.DomainFilter{Host: "site", Plan: models.PlanPremium}, 10, 0, site(2, 1), false},
			{"one host", models.DomainFilter{Host: "site-3"}, 10, 0, site(3), false},
		}
		withSmallIDLists(t, func(how string) {
			for _, tc := range cases {
				rows, more, err := admin.ListDomains(ctx, tc.f, tc.limit, tc.offer)
				if err != nil {
					t.Fatalf("%s %s: %v", tc.name, how, err)
				}
				got := []string{}
				for _, r := range rows {
					got = append(got, r.Host)
				}
				if !slices.Equal(got, tc.want) || more != tc.more {
					t.Errorf("%s %s: %v (more %v), want %v (more %v)", tc.name, how, got, more, tc.want, tc.more)
				}
			}
		})
	})
}

// CountDomains counts what ListDomains lists, and stops one past atMost.
func TestAdminCountDomains(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		var ids []uint64
		for i, email := range []string{"ann@example.com", "bob@example.com"} {
			u, err := users.Insert(ctx, email, fmt.Sprintf("n%d", i), "password123")
			if err != nil {
				t.Fatal(err)
			}
			for j := range 3 {
				d, _, err := domains.Insert(ctx, u.ID, fmt.Sprintf("%s-%d.example", email[:3], j), models.PlanFree)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, d.ID)
			}
		}
		if err := db.Model(&models.Domain{}).Where("id IN ?", ids[:2]).Update("status", models.StatusRevoked).Error; err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			f      models.DomainFilter
			atMost int
			want   int
		}{
			{models.DomainFilter{}, 100, 6},
			{models.DomainFilter{}, 6, 6},
			{models.DomainFilter{}, 5, 6}, // more than 5
			{models.DomainFilter{}, 2, 3}, // more than 2
			{models.DomainFilter{Owner: "ann"}, 100, 3},
			{models.DomainFilter{Host: "bob-"}, 100, 3},
			{models.DomainFilter{Host: "bob-"}, 1, 2},
			{models.DomainFilter{Owner: "ann", Status: models.StatusRevoked}, 100, 2},
			{models.DomainFilter{Status: models.StatusActive, Plan: models.PlanFree}, 100, 4},
			{models.DomainFilter{Plan: models.PlanPremium}, 100, 0},
			{models.DomainFilter{Owner: "nobody"}, 100, 0},
			{models.DomainFilter{Host: "ann-1", Owner: "bob"}, 100, 0},
		}
		withSmallIDLists(t, func(how string) {
			for _, tc := range cases {
				n, err := admin.CountDomains(ctx, tc.f, tc.atMost)
				if err != nil || n != tc.want {
					t.Errorf("%s: count %+v up to %d: %d (%v), want %d", how, tc.f, tc.atMost, n, err, tc.want)
				}
				if tc.atMost < 100 {
					continue
				}
				rows, _, err := admin.ListDomains(ctx, tc.f, 100, 0)
				if err != nil || len(rows) != n {
					t.Errorf("%s: %+v lists %d rows (%v) but counts %d", how, tc.f, len(rows), err, n)
				}
			}
		})
	})
}

// Migrate brings a database made by an earlier version to the indexes the
// console's queries need: it adds (host, created_at), (host, status, type,
// created_at) and the nick's index, and drops the (host) index the wider
// ones serve; migrating again changes nothing, and two
// instances migrating at once both succeed (one drops or creates an
// index the other is dropping or creating).
func TestMigrateAddsTheConsoleIndexes(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		for _, together := range []int{1, 2} {
			o := testdb.Open(t, driver)
			dbs := make([]*gorm.DB, together) // one per instance
			for i := range dbs {
				db, err := models.Open(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if s, err := db.DB(); err == nil {
						s.Close()
					}
				})
				dbs[i] = db
			}
			db := dbs[0]
			if err := models.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			m := db.Migrator()
			// As the earlier versions left it.
			for _, drop := range []struct {
				model any
				name  string
			}{
				{&models.Domain{}, "idx_domains_host_status_type_created"}, {&models.Domain{}, "idx_domains_host_created"},
				{&models.User{}, "idx_users_nick"},
			} {
				if err := m.DropIndex(drop.model, drop.name); err != nil {
					t.Fatalf("dropping %s: %v", drop.name, err)
				}
			}
			if err := db.Exec("CREATE INDEX idx_domains_host ON domains (host)").Error; err != nil {
				t.Fatal(err)
			}
			for range 2 {
				var wg sync.WaitGroup
				errs := make([]error, together)
				for i := range together {
					wg.Go(func() { errs[i] = models.Migrate(ctx, dbs[i]) })
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatalf("%d migrating at once: %v", together, err)
					}
				}
				if !m.HasIndex(&models.Domain{}, "idx_domains_host_status_type_created") ||
					!m.HasIndex(&models.Domain{}, "idx_domains_host_created") || !m.HasIndex(&models.User{}, "idx_users_nick") {
					t.Fatal("Migrate did not add the console's indexes")
				}
				if m.HasIndex(&models.Domain{}, "idx_domains_host") {
					t.Fatal("Migrate kept the (host) index that (host, created_at) serves")
				}
			}
			idx, err := m.GetIndexes(&models.Domain{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{
				"idx_domains_host_status_type_created": {"host", "status", "type", "created_at"},
				"idx_domains_host_created":             {"host", "created_at"},
			}
			for _, i := range idx {
				if cols, ok := want[i.Name()]; ok && !slices.Equal(i.Columns(), cols) {
					t.Fatalf("%s on %v, want %v", i.Name(), i.Columns(), cols)
				}
			}
		}
	})
}

// An owner filter matching more accounts than its id list holds, or a host
// filter more domains, is not counted when another filter is set beside
// it (NotCounted: counting would read a row per match); alone, or within
// its bound, it is counted, and the list lists the same domains either way.
func TestAdminCountLeavesOutWideFiltersNarrowed(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		admin := models.NewAdminModel(db, 2*time.Second)
		for i, email := range []string{"ann@example.com", "amy@example.com"} {
			u, err := users.Insert(ctx, email, fmt.Sprintf("a%d", i), "password123")
			if err != nil {
				t.Fatal(err)
			}
			for j := range 3 {
				if _, _, err := domains.Insert(ctx, u.ID, fmt.Sprintf("%s-%d.example", email[:3], j), models.PlanFree); err != nil {
					t.Fatal(err)
				}
			}
		}
		oldOwners, oldHosts := *models.MaxOwnerIDs, *models.MaxHostIDs
		*models.MaxOwnerIDs, *models.MaxHostIDs = 1, 2 // "a" matches 2 accounts and 6 hosts
		defer func() { *models.MaxOwnerIDs, *models.MaxHostIDs = oldOwners, oldHosts }()
		cases := []struct {
			f    models.DomainFilter
			want int
		}{
			{models.DomainFilter{Owner: "a"}, 6},
			{models.DomainFilter{Owner: "a", Status: models.StatusActive}, models.NotCounted},
			{models.DomainFilter{Owner: "a", Plan: models.PlanFree}, models.NotCounted},
			{models.DomainFilter{Owner: "a", Host: "ann-0"}, models.NotCounted},
			{models.DomainFilter{Owner: "ann", Status: models.StatusActive}, 3}, // one account: within the bound
			{models.DomainFilter{Host: "a"}, 6},
			{models.DomainFilter{Host: "a", Plan: models.PlanFree}, models.NotCounted},
			{models.DomainFilter{Host: "ann-", Plan: models.PlanFree}, models.NotCounted}, // 3 hosts: past 2
			{models.DomainFilter{Host: "ann-1", Plan: models.PlanFree}, 1},
		}
		for _, tc := range cases {
			n, err := admin.CountDomains(ctx, tc.f, 100)
			if err != nil || n != tc.want {
				t.Errorf("count %+v: %d (%v), want %d", tc.f, n, err, tc.want)
			}
			rows, _, err := admin.ListDomains(ctx, tc.f, 100, 0)
			if err != nil || tc.want != models.NotCounted && len(rows) != tc.want || tc.want == models.NotCounted && len(rows) == 0 {
				t.Errorf("list %+v: %d rows (%v), count %d", tc.f, len(rows), err, tc.want)
			}
		}
	})
}
