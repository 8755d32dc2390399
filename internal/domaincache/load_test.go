package domaincache_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// ---------------------------------------------------------------------------
// The paged load
// ---------------------------------------------------------------------------

// diffViews lists what differs between two views (nil: nothing).
func diffViews(got, want domaincache.View) []string {
	var d []string
	diff := func(what string, g, w any) {
		gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
		for _, k := range wv.MapKeys() {
			if x := gv.MapIndex(k); !x.IsValid() || !reflect.DeepEqual(x.Interface(), wv.MapIndex(k).Interface()) {
				d = append(d, fmt.Sprintf("%s[%v]: got %+v, want %+v", what, k, x, wv.MapIndex(k)))
			}
		}
		for _, k := range gv.MapKeys() {
			if !wv.MapIndex(k).IsValid() {
				d = append(d, fmt.Sprintf("%s[%v]: got %+v, want none", what, k, gv.MapIndex(k)))
			}
		}
	}
	diff("domain", got.Live, want.Live)
	diff("updated", got.Updated, want.Updated)
	diff("deleted", got.Gone, want.Gone)
	diff("secret of domain", got.Secrets, want.Secrets)
	diff("host", got.Hosts, want.Hosts)
	return d
}

// mixedSource is a source with domains in every state: ids with gaps,
// shared owners and hosts, both plans, rotated, revoked, deleted and
// restored ones, and a malformed stored hash.
func mixedSource() (*fakeSource, map[uint64]string) {
	src := newSource()
	secrets := map[uint64]string{}
	for id := uint64(3); id <= 150; id += 3 {
		secrets[id] = src.add(id)
		src.change(id, func(cr *models.Credential) {
			cr.UserID = 100 + id%7 // seven owners
			cr.Nick = fmt.Sprint("owner", id%7)
			if id%5 == 0 {
				cr.Plan = models.PlanPremium
			}
			if id%11 == 0 {
				cr.Host = "shared.example.com"
			}
		})
	}
	for id := uint64(6); id <= 150; id += 12 {
		secrets[id] = src.rotate(id)
	}
	for id := uint64(9); id <= 150; id += 15 {
		src.setStatus(id, models.StatusRevoked)
	}
	for id := uint64(12); id <= 150; id += 21 {
		src.setStatus(id, models.StatusDeleted)
	}
	src.setStatus(33, models.StatusActive) // deleted above, restored
	src.change(99, func(cr *models.Credential) { cr.SecretHash = "not-hex" })
	return src, secrets
}

func TestPagedLoadEqualsOneLoad(t *testing.T) {
	src, secrets := mixedSource()
	whole := domaincache.New(src, 1000, quiet)
	refresh(t, whole)
	if len(src.pages) != 1 {
		t.Fatalf("the default page size read %d pages of 50 rows, want 1", len(src.pages))
	}
	want := domaincache.Dump(whole)
	if len(want.Live) == 0 || len(want.Gone) == 0 || len(want.Secrets) == 0 {
		t.Fatalf("the reference view is missing something: %+v", want)
	}

	for _, size := range []int{1, 2, 7, 49, 50, 51} {
		t.Run(fmt.Sprint("pages of ", size), func(t *testing.T) {
			src.pages = nil
			c := domaincache.New(src, 1000, quiet)
			domaincache.SetPageSize(c, size)
			if err := c.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if !c.Loaded() {
				t.Fatal("not Loaded after Load")
			}
			// 50 rows: ceil(50/size) pages, plus an empty one when size divides 50.
			if got, want := len(src.pages), 50/size+1; got != want {
				t.Errorf("%d pages read, want %d", got, want)
			}
			if !slices.IsSorted(src.pages) || src.pages[0] != 0 {
				t.Errorf("pages after ids %v: want a walk by id from the start", src.pages)
			}
			if d := diffViews(domaincache.Dump(c), want); d != nil {
				t.Errorf("paged view differs from the one loaded at once: %v", d)
			}
			// And it answers alike, from memory.
			before := src.lookupCalls()
			for id, sec := range secrets {
				a, errA := c.Lookup(ctx, secret.Sum(sec))
				b, errB := whole.Lookup(ctx, secret.Sum(sec))
				if a != b || !errors.Is(errA, errB) && !errors.Is(errB, errA) {
					t.Errorf("domain %d: paged view %+v %v, whole view %+v %v", id, a, errA, b, errB)
				}
			}
			if calls := src.lookupCalls() - before; calls != 2*len(secrets)-2*len(want.Secrets) {
				t.Errorf("%d database lookups; only the secrets not in memory (%d each) should ask",
					calls, len(secrets)-len(want.Secrets))
			}
		})
	}
}

// Rows inserted, changed and deleted by other instances while the load is
// under way are in the view once it ends, including a change to a row
// already read whose stamp is older than rows read after it.
func TestChangesDuringTheLoadAreKept(t *testing.T) {
	src, secrets := mixedSource()
	var added, rotated string
	src.beforePage = func(afterID uint64) {
		if afterID != 30 { // once, between the first page (ids 3 to 30) and the second
			return
		}
		added = src.add(1)                      // an id below the cursor
		rotated = src.rotate(3)                 // read already
		src.setStatus(15, models.StatusRevoked) // read already
		src.setStatus(18, models.StatusDeleted) // read already
		src.setStatus(63, models.StatusDeleted) // not read yet
		src.clock = src.clock.Add(time.Minute)  // much later, a row the load reads next
		src.rotate(45)
	}
	c := domaincache.New(src, 1000, quiet)
	domaincache.SetPageSize(c, 10)
	refresh(t, c)
	if added == "" {
		t.Fatal("the hook did not run")
	}

	checks := []struct {
		name string
		id   uint64
		sv   int
		want domaincache.Validity
	}{
		{"inserted below the cursor", 1, 1, domaincache.Valid},
		{"rotated after its page: old version", 3, 1, domaincache.Retired},
		{"rotated after its page: new version", 3, 2, domaincache.Valid},
		{"revoked after its page", 15, 1, domaincache.Revoked},
		{"deleted after its page", 18, 2, domaincache.Retired},
		{"deleted before its page", 63, 1, domaincache.Retired},
		{"rotated a minute later, before its page", 45, 2, domaincache.Valid},
	}
	for _, ck := range checks {
		if got := c.Check(ck.id, ck.sv); got != ck.want {
			t.Errorf("%s: Check(%d, %d) = %v, want %v", ck.name, ck.id, ck.sv, got, ck.want)
		}
	}
	for _, tc := range []struct {
		name, secret string
		wantErr      error
		wantActive   bool
	}{
		{"inserted below the cursor", added, nil, true},
		{"rotated after its page: new secret", rotated, nil, true},
		{"rotated after its page: old secret", secrets[3], models.ErrNoRecord, false},
		{"revoked after its page", secrets[15], nil, false},
		{"deleted after its page", secrets[18], models.ErrNoRecord, false},
	} {
		e, err := c.Lookup(ctx, secret.Sum(tc.secret))
		if !errors.Is(err, tc.wantErr) || err == nil && e.Active != tc.wantActive {
			t.Errorf("%s: %+v %v, want error %v, active %v", tc.name, e, err, tc.wantErr, tc.wantActive)
		}
	}
	// The view is the one a load after the changes makes.
	src.beforePage = nil
	fresh := domaincache.New(src, 1000, quiet)
	refresh(t, fresh)
	if d := diffViews(domaincache.Dump(c), domaincache.Dump(fresh)); d != nil {
		t.Errorf("after changes during the load, the view differs from a fresh load: %v", d)
	}
}

// A page that fails fails the load; the next attempt resumes after the
// last page read, and the view is complete.
func TestFailedLoadResumes(t *testing.T) {
	src, _ := mixedSource()
	c := domaincache.New(src, 1000, quiet)
	domaincache.SetPageSize(c, 10)
	src.fail, src.failPage = fmt.Errorf("%w: connection reset", models.ErrUnavailable), 3
	if err := c.Refresh(ctx); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("load with a failing page: %v", err)
	}
	if c.Loaded() {
		t.Fatal("Loaded after a failed load")
	}
	if got := c.Len(); got != 18 {
		t.Errorf("%d domains after two good pages, want 18 (ids 3 to 60 but 12 and 54, deleted: kept for the next attempt)", got)
	}
	src.fail = nil
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{0, 30, 60, 60, 90, 120, 150}; !slices.Equal(src.pages, want) {
		t.Errorf("pages after ids %v, want %v (the failed page read again, nothing before it)", src.pages, want)
	}
	src.pages = nil
	whole := domaincache.New(src, 1000, quiet)
	refresh(t, whole)
	if d := diffViews(domaincache.Dump(c), domaincache.Dump(whole)); d != nil {
		t.Errorf("the resumed view differs from one loaded at once: %v", d)
	}
	// Load does nothing once the view is loaded.
	src.pages = nil
	if err := c.Load(ctx); err != nil || len(src.pages) != 0 {
		t.Errorf("Load on a loaded view: %v, %d pages read", err, len(src.pages))
	}
}

// Before the view is loaded, Verify asks the database about the domains it
// has not seen; after, never.
func TestVerifyWhileLoading(t *testing.T) {
	src := newSource()
	for id := uint64(1); id <= 4; id++ {
		src.add(id)
	}
	src.rotate(2)
	src.setStatus(3, models.StatusRevoked)
	src.setStatus(4, models.StatusDeleted)
	c := domaincache.New(src, 100, quiet) // not loaded

	for _, tc := range []struct {
		name string
		id   uint64
		sv   int
		want domaincache.Validity
	}{
		{"active", 1, 1, domaincache.Valid},
		{"rotated: old version", 2, 1, domaincache.Retired},
		{"rotated: new version", 2, 2, domaincache.Valid},
		{"revoked", 3, 1, domaincache.Revoked},
		{"deleted", 4, 1, domaincache.Retired},
		{"not in the database", 99, 1, domaincache.Retired},
	} {
		before := src.lookupCalls()
		got, err := c.Verify(ctx, tc.id, tc.sv)
		if err != nil || got != tc.want {
			t.Errorf("loading, %s: Verify(%d, %d) = %v, %v; want %v", tc.name, tc.id, tc.sv, got, err, tc.want)
		}
		if src.lookupCalls() == before && tc.name != "rotated: new version" {
			t.Errorf("loading, %s: the database was not asked", tc.name)
		}
	}
	// What was learned stays: domain 1 is now answered from memory.
	before := src.lookupCalls()
	if got, _ := c.Verify(ctx, 1, 1); got != domaincache.Valid || src.lookupCalls() != before {
		t.Errorf("a domain Verify learned: %v, asked the database again: %v", got, src.lookupCalls() != before)
	}
	src.fail = fmt.Errorf("%w: connection refused", models.ErrUnavailable)
	if _, err := c.Verify(ctx, 50, 1); !errors.Is(err, models.ErrUnavailable) {
		t.Errorf("loading, database down: %v, want ErrUnavailable", err)
	}
	src.fail = nil

	refresh(t, c)
	src.add(5) // created elsewhere after the load
	before = src.lookupCalls()
	if got, err := c.Verify(ctx, 5, 1); got != domaincache.Unknown || err != nil || src.lookupCalls() != before {
		t.Errorf("loaded, an unseen domain: %v %v, asked the database: %v; want Unknown from memory",
			got, err, src.lookupCalls() != before)
	}
}

// A rotation made elsewhere and learned by a lookup of the new secret
// (before any refresh) retires the old secret at once.
func TestRotationLearnedByLookupRetiresTheOldSecret(t *testing.T) {
	src := newSource()
	old := src.add(1)
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	fresh := src.rotate(1)
	if e, err, asked := lookup(t, c, src, fresh); err != nil || e.SecretVersion != 2 || !asked {
		t.Fatalf("new secret: %+v %v (asked %v)", e, err, asked)
	}
	if e, err, _ := lookup(t, c, src, old); !errors.Is(err, models.ErrNoRecord) {
		t.Fatalf("old secret after the new one was looked up: %+v %v, want ErrNoRecord", e, err)
	}
	refresh(t, c)
	if e, err, _ := lookup(t, c, src, old); !errors.Is(err, models.ErrNoRecord) {
		t.Fatalf("old secret after a refresh: %+v %v, want ErrNoRecord", e, err)
	}
	if c.Secrets() != 1 {
		t.Errorf("%d secrets indexed, want 1", c.Secrets())
	}
}

// hookedDomains is the domain model with a hook before each page of the load.
type hookedDomains struct {
	*models.DomainModel
	beforePage func(afterID uint64)
}

func (h hookedDomains) CredentialsAfter(ctx context.Context, afterID uint64, limit int) ([]models.Credential, error) {
	h.beforePage(afterID)
	return h.DomainModel.CredentialsAfter(ctx, afterID, limit)
}

// On the real databases: a view loaded in pages of 4 equals one loaded at
// once, and changes made between two pages are in it when the load ends.
func TestPagedLoadWithDatabase(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Fresh(t, driver)
			users := models.NewUserModel(db, 2*time.Second, 4)
			domains := models.NewDomainModel(db, 2*time.Second)
			type domain struct {
				id, user uint64
				secret   string
			}
			var ds []domain
			for u := 0; u < 3; u++ {
				user, err := users.Insert(ctx, fmt.Sprintf("paged%d@example.com", u), fmt.Sprint("페이지", u), "password123")
				if err != nil {
					t.Fatal(err)
				}
				for d := 0; d < 5; d++ {
					plan := models.PlanFree
					if d == 4 {
						plan = models.PlanPremium
					}
					dom, sec, err := domains.Insert(ctx, user.ID, fmt.Sprintf("d%d.u%d.example.com", d, u), plan)
					if err != nil {
						t.Fatal(err)
					}
					ds = append(ds, domain{dom.ID, user.ID, sec})
				}
			}
			if _, _, err := domains.Rotate(ctx, ds[1].id, ds[1].user); err != nil {
				t.Fatal(err)
			}
			if err := revoke(db, ds[6].id); err != nil {
				t.Fatal(err)
			}
			if err := domains.Delete(ctx, ds[12].id, ds[12].user); err != nil {
				t.Fatal(err)
			}

			whole := domaincache.New(domains, 100, quiet)
			refresh(t, whole)
			paged := domaincache.New(domains, 100, quiet)
			domaincache.SetPageSize(paged, 4)
			refresh(t, paged)
			if d := diffViews(domaincache.Dump(paged), domaincache.Dump(whole)); d != nil {
				t.Errorf("paged view differs from the one loaded at once: %v", d)
			}
			if whole.Len() != 14 {
				t.Errorf("Len = %d, want 14 (one deleted)", whole.Len())
			}

			// Changes between the first page (ids up to the fourth) and the second.
			var rotated, added string
			hooked := hookedDomains{domains, func(afterID uint64) {
				if afterID != ds[3].id {
					return
				}
				var err error
				if _, rotated, err = domains.Rotate(ctx, ds[0].id, ds[0].user); err != nil {
					t.Error(err)
				}
				if err := revoke(db, ds[2].id); err != nil {
					t.Error(err)
				}
				if err := domains.Delete(ctx, ds[3].id, ds[3].user); err != nil {
					t.Error(err)
				}
				if err := domains.Delete(ctx, ds[9].id, ds[9].user); err != nil { // not read yet
					t.Error(err)
				}
				if _, added, err = domains.Insert(ctx, ds[0].user, "added.example.com", models.PlanFree); err != nil {
					t.Error(err)
				}
			}}
			during := domaincache.New(hooked, 100, quiet)
			domaincache.SetPageSize(during, 4)
			refresh(t, during)
			if rotated == "" || added == "" {
				t.Fatal("the hook did not run")
			}
			for _, ck := range []struct {
				name string
				id   uint64
				sv   int
				want domaincache.Validity
			}{
				{"rotated after its page: old version", ds[0].id, 1, domaincache.Retired},
				{"rotated after its page: new version", ds[0].id, 2, domaincache.Valid},
				{"revoked after its page", ds[2].id, 1, domaincache.Revoked},
				{"deleted after its page", ds[3].id, 1, domaincache.Retired},
				{"deleted before its page", ds[9].id, 1, domaincache.Retired},
			} {
				if got := during.Check(ck.id, ck.sv); got != ck.want {
					t.Errorf("%s: Check = %v, want %v", ck.name, got, ck.want)
				}
			}
			for _, sec := range []string{rotated, added} {
				if _, err := during.Lookup(ctx, secret.Sum(sec)); err != nil {
					t.Errorf("a secret made during the load: %v", err)
				}
			}
			fresh := domaincache.New(domains, 100, quiet)
			refresh(t, fresh)
			if d := diffViews(domaincache.Dump(during), domaincache.Dump(fresh)); d != nil {
				t.Errorf("after changes during the load, the view differs from a fresh load: %v", d)
			}
		})
	}
}
