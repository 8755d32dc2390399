package domaincache_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

// clock is a settable clock for a Cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestOverlapOnTheDatabase: a rotation with an overlap keeps the previous
// secret (and its version's tokens) working on the instance that made it
// and, through the refresh or a lookup by hash, on another one; until the
// overlap ends (by the clock or "end now"), or a revocation or deletion
// ends it with the current secret.
func TestOverlapOnTheDatabase(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Fresh(t, driver)
			users := models.NewUserModel(db, 2*time.Second, 4)
			domains := models.NewDomainModel(db, 2*time.Second)
			admin := models.NewAdminModel(db, 2*time.Second)
			clk := &clock{t: time.Now()}
			one := domaincache.New(domains, 100, quiet) // the instance that rotates
			two := domaincache.New(domains, 100, quiet) // another one, on the same database
			for _, c := range []*domaincache.Cache{one, two} {
				c.SetClock(clk.now)
				refresh(t, c)
			}
			u, err := users.Insert(ctx, "overlap@example.com", "overlap", "password123")
			if err != nil {
				t.Fatal(err)
			}
			d, old, err := domains.Insert(ctx, u.ID, "overlap.example.com", models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			refresh(t, one)
			refresh(t, two)

			r, cur, err := domains.RotateWithOverlap(ctx, d.ID, u.ID, time.Hour)
			if err != nil || r.SecretVersion != 2 || r.PrevSecretHash == nil || *r.PrevSecretHash != secret.Hash(old) ||
				r.PrevSecretUntil == nil || !r.InOverlap(time.Now()) {
				t.Fatalf("rotate with an overlap: %+v %v", r, err)
			}
			until := *r.PrevSecretUntil
			one.Forget(d.ID) // what the instance that made the change does (App.domainChanged)
			refresh(t, one)
			refresh(t, two)

			both := func(name string, c *domaincache.Cache) {
				t.Helper()
				if e, err := c.Lookup(ctx, secret.Sum(cur)); err != nil || e.SecretVersion != 2 || !e.Until.IsZero() {
					t.Errorf("%s: the new secret: %+v %v", name, e, err)
				}
				e, err := c.Lookup(ctx, secret.Sum(old))
				if err != nil || e.ID != d.ID || e.SecretVersion != 1 || !e.Active || !e.Until.Equal(until.Truncate(time.Microsecond)) {
					t.Errorf("%s: the previous secret during the overlap: %+v %v (until %v)", name, e, err, until)
				}
				for sv, want := range map[int]domaincache.Validity{1: domaincache.Valid, 2: domaincache.Valid, 3: domaincache.Retired} {
					if got := c.Check(d.ID, sv); got != want {
						t.Errorf("%s: Check(version %d) during the overlap = %v, want %v", name, sv, got, want)
					}
				}
			}
			only := func(name string, c *domaincache.Cache) {
				t.Helper()
				if _, err := c.Lookup(ctx, secret.Sum(cur)); err != nil {
					t.Errorf("%s: the new secret: %v", name, err)
				}
				if e, err := c.Lookup(ctx, secret.Sum(old)); !errors.Is(err, models.ErrNoRecord) {
					t.Errorf("%s: the previous secret after the overlap: %+v %v, want ErrNoRecord", name, e, err)
				}
				if got := c.Check(d.ID, 1); got != domaincache.Retired {
					t.Errorf("%s: Check(version 1) after the overlap = %v", name, got)
				}
			}
			both("the rotating instance", one)
			both("another instance, after its refresh", two)
			// A third instance that starts now learns the previous secret
			// from its load, and one that never saw the domain from a lookup by hash.
			three := domaincache.New(domains, 100, quiet)
			three.SetClock(clk.now)
			refresh(t, three)
			both("an instance loaded since", three)
			fresh := domaincache.New(domains, 100, quiet)
			fresh.SetClock(clk.now)
			if e, err := fresh.Lookup(ctx, secret.Sum(old)); err != nil || e.SecretVersion != 1 || e.Until.IsZero() {
				t.Errorf("a lookup by the previous secret in the database: %+v %v", e, err)
			}
			if v := domaincache.Dump(one).Previous[d.ID]; v.Version != 1 || v.Sum != secret.Sum(old) {
				t.Errorf("the side map: %+v", v)
			}

			// The overlap's end, by the clock: the previous secret and its
			// version's tokens are refused without a database change.
			clk.set(until.Add(time.Second))
			only("the rotating instance past the overlap", one)
			only("another instance past the overlap", two)
			refresh(t, one) // the refresh forgets ended overlaps
			if n := one.Overlaps(); n != 0 {
				t.Errorf("%d overlaps held after the end", n)
			}
			clk.set(time.Now())

			// "End now", made on one instance, reaches the other by its refresh.
			_, old2, err := domains.RotateWithOverlap(ctx, d.ID, u.ID, 168*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			old, cur = cur, old2
			one.Forget(d.ID)
			refresh(t, one)
			refresh(t, two)
			if e, err := two.Lookup(ctx, secret.Sum(old)); err != nil || e.SecretVersion != 2 {
				t.Fatalf("second rotation: the previous secret on the other instance: %+v %v", e, err)
			}
			if err := domains.EndOverlap(ctx, d.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			if err := domains.EndOverlap(ctx, d.ID, u.ID); !errors.Is(err, models.ErrNoRecord) {
				t.Errorf("ending an ended overlap: %v, want ErrNoRecord", err)
			}
			one.Forget(d.ID)
			refresh(t, one)
			refresh(t, two)
			only("the instance that ended it", one)
			only("the other instance after its refresh", two)

			// 0s: no previous secret at all.
			_, cur2, err := domains.RotateWithOverlap(ctx, d.ID, u.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			old, cur = cur, cur2
			refresh(t, two)
			only("after a rotation without overlap", two)

			// A revocation ends both secrets at once, and a restore brings
			// back only the current one.
			_, cur3, err := domains.RotateWithOverlap(ctx, d.ID, u.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			old, cur = cur, cur3
			refresh(t, two)
			both2 := func() bool { _, err := two.Lookup(ctx, secret.Sum(old)); return err == nil }
			if !both2() {
				t.Fatal("the previous secret before the revocation")
			}
			if err := admin.Revoke(ctx, models.Actor{ID: 1, Email: "root@example.com"}, d.ID, "phishing"); err != nil {
				t.Fatal(err)
			}
			refresh(t, two)
			if e, err := two.Lookup(ctx, secret.Sum(cur)); err != nil || e.Active || !e.Revoked {
				t.Errorf("revoked: the current secret %+v %v, want found revoked", e, err)
			}
			if _, err := two.Lookup(ctx, secret.Sum(old)); !errors.Is(err, models.ErrNoRecord) {
				t.Errorf("revoked: the previous secret: %v, want ErrNoRecord", err)
			}
			for sv := 1; sv <= 6; sv++ {
				if got := two.Check(d.ID, sv); got != domaincache.Revoked {
					t.Errorf("revoked: Check(version %d) = %v, want Revoked", sv, got)
				}
			}
			var stored models.Domain
			db.First(&stored, d.ID)
			if stored.PrevSecretHash != nil || stored.PrevSecretUntil != nil || stored.RevokeReason != "phishing" {
				t.Errorf("revoked row: previous %v until %v reason %q", stored.PrevSecretHash, stored.PrevSecretUntil, stored.RevokeReason)
			}
			// A revoked domain cannot be rotated: nothing changes.
			if _, _, err := domains.RotateWithOverlap(ctx, d.ID, u.ID, time.Hour); !errors.Is(err, models.ErrDomainRevoked) {
				t.Errorf("rotating a revoked domain: %v, want ErrDomainRevoked", err)
			}
			var after models.Domain
			db.First(&after, d.ID)
			if after.SecretHash != stored.SecretHash || after.SecretVersion != stored.SecretVersion || after.PrevSecretHash != nil {
				t.Errorf("a refused rotation changed the row: %+v, was %+v", after, stored)
			}
			if _, err := admin.Restore(ctx, models.Actor{ID: 1, Email: "root@example.com"}, d.ID); err != nil {
				t.Fatal(err)
			}
			db.First(&after, d.ID)
			if after.RevokeReason != "" {
				t.Errorf("restored: reason %q kept", after.RevokeReason)
			}

			// Deletion ends both too.
			_, cur4, err := domains.RotateWithOverlap(ctx, d.ID, u.ID, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			old, cur = cur, cur4
			refresh(t, two)
			if !both2() {
				t.Fatal("the previous secret before the deletion")
			}
			if err := domains.Delete(ctx, d.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			refresh(t, two)
			for _, s := range []string{old, cur} {
				if _, err := two.Lookup(ctx, secret.Sum(s)); !errors.Is(err, models.ErrNoRecord) {
					t.Errorf("deleted: a secret still found: %v", err)
				}
			}
			if n := two.Overlaps(); n != 0 {
				t.Errorf("deleted: %d overlaps held", n)
			}
		})
	}
}
