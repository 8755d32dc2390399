package models_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// hostPaths are the ways the admin list can read a host filter's page,
// each forced by the bounds: the matches sorted (few matches), a walk of
// the sort order that finds the page or falls back to sorting them all,
// no walk, and a walk long enough to hold every domain.
var hostPaths = []struct {
	name            string
	maxIDs, walkLen int
}{
	{"matches sorted", 1000, 5000},
	{"walk, then sorted", 1, 5},
	{"no walk", 1, 0},
	{"walk of everything", 1, 1000}, // after a short walk (10 pages) that can miss
}

// withHostPath runs fn with the bounds of each of hostPaths.
func withHostPath(t *testing.T, fn func(path string)) {
	t.Helper()
	oldIDs, oldWalk := *models.MaxHostIDs, *models.HostWalk
	defer func() { *models.MaxHostIDs, *models.HostWalk = oldIDs, oldWalk }()
	for _, p := range hostPaths {
		*models.MaxHostIDs, *models.HostWalk = p.maxIDs, p.walkLen
		fn(p.name)
	}
}

// hostFixture registers 80 domains whose hosts say where they lie:
// h-far-* are the oldest (the far end of newest first), h-near-* and
// h-mid-* alternate after them; created_at and last_token_at have ties
// (broken by id) and some domains were never used; statuses, plans and
// owners (ann, bob) are mixed. It returns ann's id.
func hostFixture(t *testing.T, db *gorm.DB) uint64 {
	t.Helper()
	users := models.NewUserModel(db, 2*time.Second, 4)
	domains := models.NewDomainModel(db, 2*time.Second)
	var owners []uint64
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		u, err := users.Insert(ctx, email, strings.TrimSuffix(email, "@example.com"), "password123")
		if err != nil {
			t.Fatal(err)
		}
		owners = append(owners, u.ID)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 80 {
		host := fmt.Sprintf("h-far-%02d.example", i)
		switch {
		case i >= 12 && i%2 == 0:
			host = fmt.Sprintf("h-near-%02d.example", i)
		case i >= 12:
			host = fmt.Sprintf("h-mid-%02d.example", i)
		}
		d, _, err := domains.Insert(ctx, owners[min(i%3, 1)], host, models.PlanFree)
		if err != nil {
			t.Fatal(err)
		}
		cols := map[string]any{"created_at": t0.Add(time.Duration(i/2) * time.Hour)}
		if i%4 != 0 {
			cols["last_token_at"] = t0.Add(time.Duration(i*7%40) * time.Minute)
		}
		if i%2 == 1 {
			cols["type"] = models.PlanPremium
		}
		switch {
		case i%5 == 1:
			cols["status"] = models.StatusRevoked
		case i%7 == 2:
			cols["status"], cols["host_key"] = models.StatusDeleted, nil
		}
		if err := db.Model(&models.Domain{}).Where("id = ?", d.ID).UpdateColumns(cols).Error; err != nil {
			t.Fatal(err)
		}
	}
	return owners[0]
}

// plainIDs is what f selects, in its order, by one plain query: what the
// admin list must show whichever way it reads.
func plainIDs(t *testing.T, db *gorm.DB, f models.DomainFilter, annID uint64) []uint64 {
	t.Helper()
	q := db.Model(&models.Domain{}).Where("host LIKE ?", f.Host+"%")
	if f.Owner != "" {
		q = q.Where("user_id = ?", annID) // the fixture's filters ask for ann
	}
	if f.Plan != "" {
		q = q.Where("type = ?", f.Plan)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	col, dir := "created_at", "DESC"
	if f.Sort == models.SortLastUsed {
		col = "last_token_at"
	}
	if f.Asc {
		dir = "ASC"
	}
	var ids []uint64
	if err := q.Order(col+" "+dir+", id "+dir).Pluck("id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	return ids
}

// A host filter lists, pages, counts and exports the same domains in the
// same order as one plain query, whichever way its page is read: its
// matches sorted, a walk of the sort order that finds the page (near the
// head of the order) or does not (far from it) and sorts the matches, or
// no walk; with a plan, a status or an owner beside it, by creation or
// last use, either way.
func TestAdminHostFilterEveryPathListsTheSame(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		annID := hostFixture(t, db)
		admin := models.NewAdminModel(db, 2*time.Second)
		var filters []models.DomainFilter
		for _, host := range []string{"h-far", "h-near", "h-", "h-mid-1"} {
			filters = append(filters, models.DomainFilter{Host: host},
				models.DomainFilter{Host: host, Status: models.StatusRevoked},
				models.DomainFilter{Host: host, Plan: models.PlanPremium, Status: models.StatusActive})
		}
		filters = append(filters, models.DomainFilter{Host: "h-far", Owner: "ann"}, models.DomainFilter{Host: "h-", Owner: "ann"})
		withHostPath(t, func(path string) {
			for _, base := range filters {
				for _, sort := range []string{models.SortCreated, models.SortLastUsed} {
					for _, asc := range []bool{false, true} {
						f := base
						f.Sort, f.Asc = sort, asc
						want := plainIDs(t, db, f, annID)
						for _, page := range []struct{ limit, offset int }{{4, 0}, {4, 4}, {4, 8}, {100, 0}} {
							rows, more, err := admin.ListDomains(ctx, f, page.limit, page.offset)
							if err != nil {
								t.Fatalf("%s: %+v: %v", path, f, err)
							}
							got := []uint64{}
							for _, r := range rows {
								got = append(got, r.ID)
							}
							end := min(page.offset+page.limit, len(want))
							wantPage := []uint64{}
							if page.offset < end {
								wantPage = want[page.offset:end]
							}
							if !slices.Equal(got, wantPage) || more != (len(want) > end) {
								t.Errorf("%s: %+v, %d after %d: %v (more %v), want %v (more %v)",
									path, f, page.limit, page.offset, got, more, wantPage, len(want) > end)
							}
						}
						if sort != models.SortCreated {
							continue
						}
						var exported []uint64
						err := admin.ExportDomains(ctx, f, 3, func(ds []models.AdminDomain) error {
							for _, d := range ds {
								exported = append(exported, d.ID)
							}
							return nil
						})
						if err != nil || !slices.Equal(exported, want) {
							t.Errorf("%s: export %+v: %v (%v), want %v", path, f, exported, err, want)
						}
					}
				}
				n, err := admin.CountDomains(ctx, base, 100)
				if want := len(plainIDs(t, db, base, annID)); err != nil || n != want && n != models.NotCounted {
					t.Errorf("%s: count %+v: %d (%v), want %d", path, base, n, err, want)
				}
			}
		})
	})
}

// Resolve looks a filter's owner and host up once: the list, its count
// and every page of an export given the resolved filter do not look them
// up again; a filter changed after it was resolved is looked up afresh.
func TestAdminResolveLooksUpOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		hostFixture(t, db)
		st := &statements{}
		admin := models.NewAdminModel(db.Session(&gorm.Session{Logger: st}), 2*time.Second)
		lookups := func() (owners, hosts int) {
			for _, sql := range st.take() {
				switch {
				case strings.Contains(sql, "FROM `users` WHERE email LIKE"), strings.Contains(sql, `FROM "users" WHERE email LIKE`):
					owners++
				case strings.Contains(sql, "AS hosts"):
					hosts++
				}
			}
			return owners, hosts
		}
		f, err := admin.Resolve(ctx, models.DomainFilter{Owner: "ann", Host: "h-"})
		if err != nil {
			t.Fatal(err)
		}
		if o, h := lookups(); o != 1 || h != 1 {
			t.Fatalf("Resolve looked the owner up %d times and the host %d, want once each", o, h)
		}
		rows, _, err := admin.ListDomains(ctx, f, 4, 0)
		if err != nil || len(rows) != 4 {
			t.Fatalf("list: %d rows, %v", len(rows), err)
		}
		if n, err := admin.CountDomains(ctx, f, 100); err != nil || n != 27 {
			t.Fatalf("count: %d, %v; want ann's 27", n, err)
		}
		pages := 0
		if err := admin.ExportDomains(ctx, f, 3, func([]models.AdminDomain) error { pages++; return nil }); err != nil || pages != 9 {
			t.Fatalf("export: %d pages, %v; want 9", pages, err)
		}
		if o, h := lookups(); o != 0 || h != 0 {
			t.Errorf("list, count and export of a resolved filter looked the owner up %d times and the host %d, want none", o, h)
		}

		f.Owner = "bob" // changed after: looked up again, and bob's listed
		rows, _, err = admin.ListDomains(ctx, f, 100, 0)
		if err != nil || len(rows) != 53 {
			t.Fatalf("list of a changed filter: %d rows, %v; want bob's 53", len(rows), err)
		}
		for _, r := range rows {
			if r.OwnerNick != "bob" {
				t.Fatalf("list of a changed filter: %s's domain %s", r.OwnerNick, r.Host)
			}
		}
		if o, h := lookups(); o != 1 || h != 1 {
			t.Errorf("a changed filter: owner looked up %d times and host %d, want once each", o, h)
		}
		// A host filter alone is counted by its lookup: no second count.
		var hosts int64
		if err := db.Model(&models.Domain{}).Where("host LIKE ?", "h-%").Count(&hosts).Error; err != nil {
			t.Fatal(err)
		}
		hf, err := admin.Resolve(ctx, models.DomainFilter{Host: "h-"})
		if err != nil {
			t.Fatal(err)
		}
		for _, atMost := range []int{100, 5} {
			if n, err := admin.CountDomains(ctx, hf, atMost); err != nil || n != int(min(hosts, int64(atMost)+1)) {
				t.Errorf("count of the host filter alone, at most %d: %d, %v; want %d", atMost, n, err, min(hosts, int64(atMost)+1))
			}
		}
		for _, sql := range st.take() {
			if strings.Contains(sql, "AS matches") {
				t.Errorf("the host filter alone was counted again: %s", sql)
			}
		}
		// Unresolved, an export looks up once for all its pages.
		f = models.DomainFilter{Owner: "ann", Host: "h-"}
		if err := admin.ExportDomains(ctx, f, 3, func([]models.AdminDomain) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if o, h := lookups(); o != 1 || h != 1 {
			t.Errorf("an export of 9 pages: owner looked up %d times and host %d, want once each", o, h)
		}
	})
}
