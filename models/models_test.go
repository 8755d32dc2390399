package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

var ctx = context.Background()

func eachDB(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range testdb.Targets(t) {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

func TestUsers(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)

		u, err := users.Insert(ctx, "amy@example.com", "에이미", "password123")
		if err != nil || u.ID == 0 || u.SessionVersion != 1 {
			t.Fatalf("insert: %+v %v", u, err)
		}
		if _, err := users.Insert(ctx, "amy@example.com", "again", "password123"); !errors.Is(err, models.ErrDuplicateEmail) {
			t.Fatalf("duplicate email: %v", err)
		}
		got, err := users.Authenticate(ctx, "amy@example.com", "password123")
		if err != nil || got.ID != u.ID || got.Nick != "에이미" {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		for _, tc := range []struct{ email, pw string }{{"amy@example.com", "wrong"}, {"nobody@example.com", "password123"}} {
			if _, err := users.Authenticate(ctx, tc.email, tc.pw); !errors.Is(err, models.ErrInvalidCredentials) {
				t.Errorf("authenticate %s: %v", tc.email, err)
			}
		}
		if err := users.EndSessions(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := users.Get(ctx, u.ID); got.SessionVersion != 2 {
			t.Fatalf("session version %d after EndSessions", got.SessionVersion)
		}
		if _, err := users.Get(ctx, 999); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("missing user: %v", err)
		}
		for _, admin := range []bool{true, true, false} { // setting the same value twice is fine
			if err := users.SetAdmin(ctx, "amy@example.com", admin); err != nil {
				t.Fatal(err)
			}
			if got, _ := users.Get(ctx, u.ID); got.IsAdmin != admin {
				t.Fatalf("IsAdmin = %v, want %v", got.IsAdmin, admin)
			}
		}
		if err := users.SetAdmin(ctx, "nobody@example.com", true); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("SetAdmin unknown email: %v", err)
		}
	})
}

func TestDomains(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		alice, _ := users.Insert(ctx, "alice@example.com", "alice", "password123")
		bob, _ := users.Insert(ctx, "bob@example.com", "bob", "password123")

		d, sec, err := domains.Insert(ctx, alice.ID, "example.com", models.PlanFree)
		if err != nil {
			t.Fatal(err)
		}
		if d.SecretHash != secret.Hash(sec) || d.SecretLast4 != secret.Last4(sec) || d.Status != models.StatusActive || d.SecretVersion != 1 {
			t.Fatalf("stored %+v", d)
		}
		if _, _, err := domains.Insert(ctx, alice.ID, "example.com", models.PlanPremium); !errors.Is(err, models.ErrDuplicateHost) {
			t.Fatalf("duplicate host: %v", err)
		}
		if _, _, err := domains.Insert(ctx, bob.ID, "example.com", models.PlanPremium); err != nil {
			t.Fatalf("same host, other user: %v", err)
		}

		// Ownership is in every query.
		if _, err := domains.GetForUser(ctx, d.ID, bob.ID); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("bob read alice's domain: %v", err)
		}
		if _, _, err := domains.Rotate(ctx, d.ID, bob.ID); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("bob rotated alice's domain: %v", err)
		}
		if err := domains.Delete(ctx, d.ID, bob.ID); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("bob deleted alice's domain: %v", err)
		}

		cr, err := domains.CredentialByHash(ctx, secret.Hash(sec))
		if err != nil || cr.ID != d.ID || cr.Nick != "alice" || cr.Host != "example.com" || cr.Plan != models.PlanFree || cr.SecretVersion != 1 {
			t.Fatalf("credential: %+v %v", cr, err)
		}

		r, sec2, err := domains.Rotate(ctx, d.ID, alice.ID)
		if err != nil || sec2 == sec || r.SecretVersion != 2 || r.SecretHash != secret.Hash(sec2) {
			t.Fatalf("rotate: %+v %v", r, err)
		}
		if _, err := domains.CredentialByHash(ctx, secret.Hash(sec)); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("old secret still found: %v", err)
		}

		since := time.Now().Add(-time.Hour)
		changed, err := domains.CredentialsChangedSince(ctx, since)
		if err != nil || len(changed) != 2 {
			t.Fatalf("changed since: %d %v", len(changed), err)
		}

		if err := domains.Delete(ctx, d.ID, alice.ID); err != nil {
			t.Fatal(err)
		}
		if err := domains.Delete(ctx, d.ID, alice.ID); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := domains.CredentialByHash(ctx, secret.Hash(sec2)); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("deleted domain's secret still found: %v", err)
		}
		list, _ := domains.ListForUser(ctx, alice.ID)
		if len(list) != 0 {
			t.Fatalf("deleted domain listed: %+v", list)
		}
		// The host is free again once deleted.
		if _, _, err := domains.Insert(ctx, alice.ID, "example.com", models.PlanFree); err != nil {
			t.Fatalf("re-register after delete: %v", err)
		}
	})
}

func TestUsageUpsert(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		domains := models.NewDomainModel(db, 2*time.Second)
		usage := models.NewUsageModel(db, 2*time.Second)
		u, _ := users.Insert(ctx, "use@example.com", "use", "password123")
		d, _, _ := domains.Insert(ctx, u.ID, "use.example.com", models.PlanFree)

		now := time.Now().UTC().Truncate(time.Second)
		for i := 0; i < 2; i++ {
			err := usage.Add(ctx, now, map[uint64]models.UsageDelta{d.ID: {Issued: 3, Refused: 1, LastIssued: now, LastRefused: now}})
			if err != nil {
				t.Fatalf("add %d: %v", i, err)
			}
		}
		got, err := usage.Recent(ctx, []uint64{d.ID}, now.Add(-24*time.Hour))
		if err != nil || got[d.ID].Issued != 6 || got[d.ID].Refused != 2 {
			t.Fatalf("recent: %+v %v", got, err)
		}
		stored, _ := domains.GetForUser(ctx, d.ID, u.ID)
		if stored.TokensIssued != 6 || stored.LastTokenAt == nil || stored.LastFailedAt == nil {
			t.Fatalf("domain counters: %+v", stored)
		}
		if !stored.UpdatedAt.Equal(d.UpdatedAt) && stored.UpdatedAt.After(d.UpdatedAt.Add(time.Second)) {
			t.Fatalf("usage changed updated_at (%v -> %v): the domain cache would churn", d.UpdatedAt, stored.UpdatedAt)
		}
	})
}

func TestConcurrentRotationsReturnWhatTheyStored(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 10*time.Second, 4)
		domains := models.NewDomainModel(db, 10*time.Second)
		u, _ := users.Insert(ctx, "spin@example.com", "spin", "password123")
		d, _, _ := domains.Insert(ctx, u.ID, "spin.example.com", models.PlanFree)
		type result struct {
			d   *models.Domain
			sec string
			err error
		}
		out := make(chan result, 10)
		for i := 0; i < 10; i++ {
			go func() {
				r, sec, err := domains.Rotate(ctx, d.ID, u.ID)
				out <- result{r, sec, err}
			}()
		}
		versions := map[int]bool{}
		for i := 0; i < 10; i++ {
			r := <-out
			if r.err != nil {
				t.Fatalf("rotate: %v", r.err)
			}
			if r.d.SecretHash != secret.Hash(r.sec) || r.d.SecretLast4 != secret.Last4(r.sec) {
				t.Fatal("a rotation returned a secret other than the one it stored")
			}
			versions[r.d.SecretVersion] = true
		}
		if len(versions) != 10 {
			t.Fatalf("10 rotations produced %d distinct versions", len(versions))
		}
	})
}

// A flush covering more domains than one statement takes (chunks of 500
// on SQLite, 2,000 on MySQL) counts every one of them, twice over to
// exercise the upsert, and gives each domain its own last times, to the
// millisecond (a time
// stays as it was when the flush has no count of that kind for the domain).
func TestUsageAddInChunks(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		u, _ := users.Insert(ctx, "bulk@example.com", "bulk", "password123")
		n := 2*models.ChunkSize(db) + 100 // two whole chunks and part of a third
		ds := make([]models.Domain, n)
		for i := range ds {
			host := fmt.Sprintf("h%d.example.com", i)
			ds[i] = models.Domain{UserID: u.ID, Host: host, HostKey: &host, Plan: models.PlanFree, Status: models.StatusActive,
				SecretHash: secret.Hash(secret.New()), SecretLast4: "abcd", SecretVersion: 1}
		}
		if err := db.Omit("User").CreateInBatches(ds, 200).Error; err != nil {
			t.Fatal(err)
		}
		usage := models.NewUsageModel(db, 2*time.Second)
		now := time.Now().UTC().Truncate(time.Millisecond) // as stored: DATETIME(3) on MySQL
		deltas := map[uint64]models.UsageDelta{}
		ids := make([]uint64, n)
		issuedAt := func(i int) time.Time { return now.Add(-time.Duration(i) * time.Second) }
		refusedAt := func(i int) time.Time { return now.Add(-time.Duration(2*i) * time.Minute) }
		for i, d := range ds {
			ids[i] = d.ID
			deltas[d.ID] = models.UsageDelta{Issued: int64(i % 7), LastIssued: issuedAt(i), Refused: int64(i % 2), LastRefused: refusedAt(i)}
		}
		for round := 0; round < 2; round++ {
			if err := usage.Add(ctx, now, deltas); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		got, err := usage.Recent(ctx, ids, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if got[id].Issued != 2*int64(i%7) || got[id].Refused != 2*int64(i%2) {
				t.Fatalf("domain %d: %+v", i, got[id])
			}
		}
		var after []models.Domain
		if err := db.Order("id").Find(&after).Error; err != nil || len(after) != n {
			t.Fatalf("%d domains, %v", len(after), err)
		}
		sameTime := func(got *time.Time, want time.Time, set bool) bool {
			if !set {
				return got == nil
			}
			return got != nil && got.Equal(want)
		}
		for i, d := range after {
			if d.ID != ids[i] || d.TokensIssued != 2*int64(i%7) ||
				!sameTime(d.LastTokenAt, issuedAt(i), i%7 > 0) || !sameTime(d.LastFailedAt, refusedAt(i), i%2 > 0) {
				t.Fatalf("domain %d: tokens %d, last token %v, last failure %v; want %d, %v (%v), %v (%v)", i,
					d.TokensIssued, d.LastTokenAt, d.LastFailedAt, 2*(i%7), issuedAt(i), i%7 > 0, refusedAt(i), i%2 > 0)
			}
		}
	})
}

// A flush that fails part way keeps the chunks it wrote, each written
// whole (its hourly rows and its totals together), and names the domains
// whose counts it did not write, so that the counter puts back those
// only: nothing is lost and nothing counted twice.
func TestUsageAddThatFailsSaysWhatItDidNotWrite(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		old, oldMySQL, oldWriters := *models.UsageChunk, *models.UsageChunkMySQL, *models.UsageWritersMySQL
		*models.UsageChunk, *models.UsageChunkMySQL, *models.UsageWritersMySQL = 3, 3, 1 // one chunk at a time
		defer func() {
			*models.UsageChunk, *models.UsageChunkMySQL, *models.UsageWritersMySQL = old, oldMySQL, oldWriters
		}()
		u, err := models.NewUserModel(db, 2*time.Second, 4).Insert(ctx, "part@example.com", "part", "password123")
		if err != nil {
			t.Fatal(err)
		}
		domains := models.NewDomainModel(db, 2*time.Second)
		deltas := map[uint64]models.UsageDelta{}
		var ids []uint64 // in id order
		now := time.Now().UTC().Truncate(time.Second)
		for i := range 8 {
			d, _, err := domains.Insert(ctx, u.ID, fmt.Sprintf("part-%d.example", i), models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.ID)
			deltas[d.ID] = models.UsageDelta{Issued: int64(i + 1), LastIssued: now}
		}
		// The second chunk's second statement (its totals) fails.
		statements := 0
		fail := func(tx *gorm.DB) {
			if statements++; statements == 4 {
				tx.AddError(errors.New("injected failure"))
			}
		}
		if err := db.Callback().Raw().Before("gorm:raw").Register("test:fail", fail); err != nil {
			t.Fatal(err)
		}
		if err := db.Callback().Create().Before("gorm:create").Register("test:fail", fail); err != nil {
			t.Fatal(err)
		}
		err = models.NewUsageModel(db, 2*time.Second).Add(ctx, now, deltas)
		var ue *models.UnwrittenError
		if !errors.As(err, &ue) || !slices.Equal(ue.Unwritten, ids[3:]) {
			t.Fatalf("Add: %v; want an UnwrittenError naming %v", err, ids[3:])
		}
		db.Callback().Raw().Remove("test:fail")
		db.Callback().Create().Remove("test:fail")
		got, err := models.NewUsageModel(db, 2*time.Second).Recent(ctx, ids, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			var d models.Domain
			if err := db.Take(&d, id).Error; err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if i < 3 {
				want = int64(i + 1)
			}
			if got[id].Issued != want || d.TokensIssued != want {
				t.Errorf("domain %d: hourly %d, total %d; want %d", i, got[id].Issued, d.TokensIssued, want)
			}
		}
	})
}

// With several chunks written at once (MySQL), a chunk that fails stops
// the flush from starting others, the chunks written stay written whole,
// and the error names exactly the domains of the chunks not written, in
// id order: those that failed and those never started.
func TestUsageAddWithWritersAtOnceSaysWhatItDidNotWrite(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		old, oldMySQL := *models.UsageChunk, *models.UsageChunkMySQL
		*models.UsageChunk, *models.UsageChunkMySQL = 3, 3
		defer func() { *models.UsageChunk, *models.UsageChunkMySQL = old, oldMySQL }()
		u, err := models.NewUserModel(db, 2*time.Second, 4).Insert(ctx, "many@example.com", "many", "password123")
		if err != nil {
			t.Fatal(err)
		}
		domains := models.NewDomainModel(db, 2*time.Second)
		deltas := map[uint64]models.UsageDelta{}
		var ids []uint64 // in id order
		now := time.Now().UTC().Truncate(time.Millisecond)
		for i := range 20 { // 7 chunks
			d, _, err := domains.Insert(ctx, u.ID, fmt.Sprintf("many-%d.example", i), models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.ID)
			deltas[d.ID] = models.UsageDelta{Issued: int64(i + 1), LastIssued: now}
		}
		// The totals of the fourth chunk (ids[9:12]) fail; on MySQL the
		// first four chunks start together.
		bad := ids[10]
		err = db.Callback().Raw().Before("gorm:raw").Register("test:fail", func(tx *gorm.DB) {
			if strings.HasPrefix(tx.Statement.SQL.String(), "UPDATE domains") && mentions(tx.Statement.Vars, bad) {
				tx.AddError(errors.New("injected failure"))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		err = models.NewUsageModel(db, 2*time.Second).Add(ctx, now, deltas)
		db.Callback().Raw().Remove("test:fail")
		var ue *models.UnwrittenError
		if !errors.As(err, &ue) || !slices.IsSorted(ue.Unwritten) {
			t.Fatalf("Add: %v; want an UnwrittenError naming domains in id order", err)
		}
		for _, id := range ids[9:12] {
			if !slices.Contains(ue.Unwritten, id) {
				t.Errorf("the failed chunk's domain %d is not named unwritten (%v)", id, ue.Unwritten)
			}
		}
		got, err := models.NewUsageModel(db, 2*time.Second).Recent(ctx, ids, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			var d models.Domain
			if err := db.Take(&d, id).Error; err != nil {
				t.Fatal(err)
			}
			unwritten := slices.Contains(ue.Unwritten, id)
			want := int64(i + 1)
			if unwritten {
				want = 0
			}
			if got[id].Issued != want || d.TokensIssued != want {
				t.Errorf("domain %d (unwritten %v): hourly %d, total %d; want %d", i, unwritten, got[id].Issued, d.TokensIssued, want)
			}
			if i < 9 && unwritten {
				t.Errorf("domain %d, of a chunk before the failed one, is named unwritten", i)
			}
			if i%3 != 0 && i < 18 && unwritten != slices.Contains(ue.Unwritten, ids[i-i%3]) {
				t.Errorf("domain %d's chunk is named unwritten in part: %v", i, ue.Unwritten)
			}
		}
	})
}

// mentions reports whether a statement's arguments carry the domain id:
// as a number (SQLite's UNION of counts) or in the JSON of counts (MySQL).
func mentions(vars []any, id uint64) bool {
	for _, v := range vars {
		switch v := v.(type) {
		case uint64:
			if v == id {
				return true
			}
		case string:
			if strings.Contains(v, fmt.Sprintf(`{"id":%d,`, id)) {
				return true
			}
		}
	}
	return false
}
