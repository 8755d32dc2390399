package domaincache_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/domaincache"
	"github.com/nodebird/nodebird-api/internal/secret"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
	"github.com/nodebird/nodebird-api/models"
)

var ctx = context.Background()

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// ---------------------------------------------------------------------------
// A small in-memory Source standing in for models.DomainModel.
// ---------------------------------------------------------------------------

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeSource struct {
	mu       sync.Mutex
	rows     map[uint64]models.Credential
	clock    time.Time
	lookups  int         // CredentialByHash calls
	sinces   []time.Time // the argument of every CredentialsChangedSince call
	fail     error       // every call fails with it when set
	staleFor map[string]models.Credential
	pages    []uint64 // the afterID of every CredentialsAfter call
	// beforePage, when set, runs before each page of the load is read (with
	// the page's afterID), as changes made by other instances would.
	beforePage func(afterID uint64)
	failPage   int // the page (1-based) that fails with fail; 0: fail applies to all
	// duringLookup, when set, runs inside CredentialByHash once, after
	// the read (a change made here while the read was on its way).
	duringLookup func()
	// slow delays every CredentialsChangedSince call (a busy database); the
	// call gives up with its context's error, as a driver does.
	slow time.Duration
}

func newSource() *fakeSource {
	return &fakeSource{rows: map[uint64]models.Credential{}, clock: t0, staleFor: map[string]models.Credential{}}
}

// tick is the source's clock: each change is a second after the last.
func (s *fakeSource) tick() time.Time {
	s.clock = s.clock.Add(time.Second)
	return s.clock
}

// add registers an active domain and returns its secret.
func (s *fakeSource) add(id uint64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := secret.New()
	s.rows[id] = models.Credential{
		ID: id, UserID: 100 + id, Nick: fmt.Sprint("nick", id), Host: fmt.Sprintf("d%d.example.com", id),
		Plan: models.PlanFree, Status: models.StatusActive, SecretHash: secret.Hash(sec), SecretVersion: 1,
		UpdatedAt: s.tick(),
	}
	return sec
}

// change edits a domain's row and stamps it, as the models do.
func (s *fakeSource) change(id uint64, f func(*models.Credential)) models.Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.rows[id]
	cr := before
	f(&cr)
	cr.UpdatedAt = s.tick()
	s.rows[id] = cr
	return before
}

func (s *fakeSource) rotate(id uint64) string {
	sec := secret.New()
	s.change(id, func(cr *models.Credential) { cr.SecretHash = secret.Hash(sec); cr.SecretVersion++ })
	return sec
}

func (s *fakeSource) setStatus(id uint64, status string) {
	s.change(id, func(cr *models.Credential) { cr.Status = status })
}

// backdate sets a row's updated_at to at, as a transaction that took its
// timestamp early and committed late would.
func (s *fakeSource) backdate(id uint64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cr := s.rows[id]
	cr.UpdatedAt = at
	s.rows[id] = cr
}

func (s *fakeSource) CredentialByHash(_ context.Context, hash string) (*models.Credential, error) {
	if s.duringLookup != nil {
		f := s.duringLookup
		s.duringLookup = nil
		defer f()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.fail != nil {
		return nil, s.fail
	}
	if cr, ok := s.staleFor[hash]; ok {
		return &cr, nil
	}
	for _, cr := range s.rows {
		if cr.SecretHash == hash && cr.Status != models.StatusDeleted {
			return &cr, nil
		}
	}
	return nil, models.ErrNoRecord
}

// CredentialsChangedSince reads the rows when called (as a query's
// snapshot), then takes s.slow to answer.
func (s *fakeSource) CredentialsChangedSince(ctx context.Context, t time.Time) ([]models.Credential, error) {
	out, err := s.changedSince(t)
	s.mu.Lock()
	slow := s.slow
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(slow):
	}
	// Past its deadline the answer is lost, however late the wake-up (the
	// context's own timer may not have fired yet on a busy machine).
	if dl, ok := ctx.Deadline(); ctx.Err() != nil || ok && time.Now().After(dl) {
		return nil, context.DeadlineExceeded
	}
	return out, err
}

func (s *fakeSource) changedSince(t time.Time) ([]models.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sinces = append(s.sinces, t)
	if s.fail != nil {
		return nil, s.fail
	}
	if !t.IsZero() && t.Year() < 1 { // as the MySQL driver refuses to send it
		return nil, fmt.Errorf("year is not in the range [1, 9999]: %d", t.Year())
	}
	var out []models.Credential
	for _, cr := range s.rows {
		if t.IsZero() || !cr.UpdatedAt.Before(t) {
			out = append(out, cr)
		}
	}
	slices.SortFunc(out, func(a, b models.Credential) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return int(a.ID) - int(b.ID)
	})
	return out, nil
}

func (s *fakeSource) CredentialByID(_ context.Context, id uint64) (*models.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookups++
	if s.fail != nil {
		return nil, s.fail
	}
	if cr, ok := s.rows[id]; ok {
		return &cr, nil
	}
	return nil, models.ErrNoRecord
}

func (s *fakeSource) CredentialsAfter(_ context.Context, afterID uint64, limit int) ([]models.Credential, error) {
	if s.beforePage != nil {
		s.beforePage(afterID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = append(s.pages, afterID)
	if s.fail != nil && (s.failPage == 0 || s.failPage == len(s.pages)) {
		return nil, s.fail
	}
	var out []models.Credential
	for _, cr := range s.rows {
		if cr.ID > afterID {
			out = append(out, cr)
		}
	}
	slices.SortFunc(out, func(a, b models.Credential) int { return cmp.Compare(a.ID, b.ID) })
	return out[:min(limit, len(out))], nil
}

func (s *fakeSource) LastChange(context.Context) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil && s.failPage == 0 {
		return time.Time{}, s.fail
	}
	var last time.Time
	for _, cr := range s.rows {
		if cr.UpdatedAt.After(last) {
			last = cr.UpdatedAt
		}
	}
	return last, nil
}

func (s *fakeSource) lookupCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

func refresh(t *testing.T, c *domaincache.Cache) {
	t.Helper()
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

// lookup is Cache.Lookup by secret, reporting whether the source was asked.
func lookup(t *testing.T, c *domaincache.Cache, src *fakeSource, sec string) (e domaincache.Entry, err error, askedDB bool) {
	t.Helper()
	before := src.lookupCalls()
	e, err = c.Lookup(ctx, secret.Sum(sec))
	return e, err, src.lookupCalls() > before
}

// ---------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------

func TestLookup(t *testing.T) {
	src := newSource()
	good := src.add(1)
	revoked := src.add(2)
	src.setStatus(2, models.StatusRevoked)
	deleted := src.add(3)
	src.setStatus(3, models.StatusDeleted)
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	late := src.add(4) // created after the refresh (on another instance, say)

	tests := []struct {
		name       string
		secret     string
		wantID     uint64
		wantActive bool
		wantErr    error
		wantDB     bool
	}{
		{"active domain: a hit, from memory", good, 1, true, nil, false},
		{"revoked domain: a hit, marked inactive", revoked, 2, false, nil, false},
		{"deleted domain: not in memory, not in the database", deleted, 0, false, models.ErrNoRecord, true},
		{"unknown secret: a miss, the database says no", secret.New(), 0, false, models.ErrNoRecord, true},
		{"domain created since the refresh: found in the database", late, 4, true, nil, true},
		{"the same domain again: now from memory", late, 4, true, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err, askedDB := lookup(t, c, src, tc.secret)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if askedDB != tc.wantDB {
				t.Errorf("asked the database: %v, want %v", askedDB, tc.wantDB)
			}
			if tc.wantErr != nil {
				if e != (domaincache.Entry{}) {
					t.Errorf("entry %+v with an error", e)
				}
				return
			}
			if e.ID != tc.wantID || e.Active != tc.wantActive || e.UserID != 100+tc.wantID ||
				e.Nick != fmt.Sprint("nick", tc.wantID) || e.SecretVersion != 1 || e.Host != fmt.Sprintf("d%d.example.com", tc.wantID) {
				t.Errorf("entry = %+v, want domain %d active=%v", e, tc.wantID, tc.wantActive)
			}
		})
	}
	if got := c.Check(4, 1); got != domaincache.Valid {
		t.Errorf("a domain found by Lookup is %v to Check, want Valid", got)
	}
}

// A row whose stored hash is not hex SHA-256 (written by hand, say) is in
// the view for Check, and no secret finds it, not even by a zero sum.
func TestMalformedStoredHash(t *testing.T) {
	src := newSource()
	src.add(1)
	src.change(1, func(cr *models.Credential) { cr.SecretHash = "not-hex" })
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	if got := c.Check(1, 1); got != domaincache.Valid {
		t.Errorf("Check = %v, want Valid", got)
	}
	if e, err := c.Lookup(ctx, [32]byte{}); !errors.Is(err, models.ErrNoRecord) {
		t.Errorf("Lookup(zero sum) = %+v, %v; want ErrNoRecord", e, err)
	}
	if c.Secrets() != 0 {
		t.Errorf("%d secrets held, want 0", c.Secrets())
	}
}

func TestLookupPassesDatabaseErrorsOn(t *testing.T) {
	src := newSource()
	good := src.add(1)
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	down := fmt.Errorf("%w: connection refused", models.ErrUnavailable)
	src.fail = down

	if e, err, _ := lookup(t, c, src, good); err != nil || e.ID != 1 {
		t.Fatalf("a cached secret while the database is down: %v, %v; want it served from memory", e, err)
	}
	if _, err, asked := lookup(t, c, src, secret.New()); !errors.Is(err, models.ErrUnavailable) || !asked {
		t.Fatalf("a miss while the database is down: %v (asked %v), want ErrUnavailable, never ErrNoRecord", err, asked)
	}
	if err := c.Refresh(ctx); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("Refresh while down: %v", err)
	}
	if got := c.Check(1, 1); got != domaincache.Valid {
		t.Fatalf("a failed refresh lost the view: Check = %v", got)
	}
}

// ---------------------------------------------------------------------------
// Check
// ---------------------------------------------------------------------------

func TestCheck(t *testing.T) {
	src := newSource()
	for id := uint64(1); id <= 5; id++ {
		src.add(id)
	}
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	src.rotate(2)
	src.setStatus(3, models.StatusRevoked)
	src.setStatus(4, models.StatusDeleted)
	refresh(t, c)
	c.Forget(5) // this instance just changed domain 5

	tests := []struct {
		name string
		id   uint64
		sv   int
		want domaincache.Validity
	}{
		{"active domain, current secret version", 1, 1, domaincache.Valid},
		{"active domain, a version it never had", 1, 2, domaincache.Retired},
		{"rotated domain, the old version", 2, 1, domaincache.Retired},
		{"rotated domain, the new version", 2, 2, domaincache.Valid},
		{"revoked domain", 3, 1, domaincache.Revoked},
		{"deleted domain", 4, 1, domaincache.Retired},
		{"domain forgotten after a local change", 5, 1, domaincache.Retired},
		{"domain this instance has not seen yet", 99, 1, domaincache.Unknown},
	}
	for _, tc := range tests {
		if got := c.Check(tc.id, tc.sv); got != tc.want {
			t.Errorf("%s: Check(%d, %d) = %v, want %v", tc.name, tc.id, tc.sv, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------------------
// Refresh
// ---------------------------------------------------------------------------

func TestRefreshIsIncrementalWithOverlap(t *testing.T) {
	src := newSource()
	a := src.add(1)
	b := src.add(2)
	c := domaincache.New(src, 100, quiet)

	refresh(t, c)
	newest := src.rows[2].UpdatedAt
	// The first refresh loads everything in pages by id (one here), then
	// asks for the changes since the newest one before the load began.
	if !slices.Equal(src.pages, []uint64{0}) {
		t.Fatalf("first refresh read the pages after ids %v, want one page from the start", src.pages)
	}
	if len(src.sinces) != 1 || !src.sinces[0].Equal(newest.Add(-10*time.Second)) {
		t.Fatalf("first refresh asked since %v, want the newest change before the load minus the overlap (%v)",
			src.sinces, newest.Add(-10*time.Second))
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d after loading 2 domains", c.Len())
	}

	refresh(t, c)
	if got, want := src.sinces[1], newest.Add(-10*time.Second); !got.Equal(want) {
		t.Fatalf("second refresh asked since %v, want the newest change seen minus the overlap (%v)", got, want)
	}

	// Rotation: the old secret leaves memory, the new one is found.
	newA := src.rotate(1)
	refresh(t, c)
	if _, err, _ := lookup(t, c, src, a); !errors.Is(err, models.ErrNoRecord) {
		t.Errorf("rotated-away secret: %v, want ErrNoRecord", err)
	}
	if e, err, asked := lookup(t, c, src, newA); err != nil || e.SecretVersion != 2 || asked {
		t.Errorf("new secret after refresh: %+v %v (asked the database: %v), want version 2 from memory", e, err, asked)
	}

	// A change committed late, stamped before the newest change seen but
	// within the overlap, is still picked up.
	src.rotate(2)
	src.backdate(2, src.clock.Add(-5*time.Second))
	src.add(3) // a later change the cache sees first
	refresh(t, c)
	if got := c.Check(2, 1); got != domaincache.Retired {
		t.Errorf("late-committed rotation missed: Check(2, old version) = %v", got)
	}
	if _, err, _ := lookup(t, c, src, b); !errors.Is(err, models.ErrNoRecord) {
		t.Errorf("late-committed rotation: old secret %v, want ErrNoRecord", err)
	}

	// Deletion: the domain leaves the view, its tokens stay refused.
	src.setStatus(1, models.StatusDeleted)
	refresh(t, c)
	if c.Len() != 2 {
		t.Errorf("Len = %d after a deletion, want 2", c.Len())
	}
	if _, err, _ := lookup(t, c, src, newA); !errors.Is(err, models.ErrNoRecord) {
		t.Errorf("deleted domain's secret: %v", err)
	}
	if got := c.Check(1, 2); got != domaincache.Retired {
		t.Errorf("deleted domain's token: %v, want Retired (not Unknown)", got)
	}
	refresh(t, c) // and again, once the deletion is out of the overlap window
	src.add(4)
	src.clock = src.clock.Add(time.Minute)
	src.add(5)
	refresh(t, c)
	if got := c.Check(1, 2); got != domaincache.Retired {
		t.Errorf("deleted domain's token after later refreshes: %v, want Retired", got)
	}

	// Revocation and restoration.
	src.setStatus(3, models.StatusRevoked)
	refresh(t, c)
	if got := c.Check(3, 1); got != domaincache.Revoked {
		t.Errorf("revoked: %v, want Revoked", got)
	}
	src.setStatus(3, models.StatusActive)
	refresh(t, c)
	if got := c.Check(3, 1); got != domaincache.Valid {
		t.Errorf("restored: %v", got)
	}
}

// A refresh slower than the refresh interval still completes: a busy
// database delays changes, it does not stop them from reaching the view
// (with the interval as the refresh's time limit, every refresh failed).
func TestRunRefreshesWhenTheDatabaseIsSlowerThanTheInterval(t *testing.T) {
	src := newSource()
	c := domaincache.New(src, 100, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { c.Run(ctx, 10*time.Millisecond); close(done) }()
	if !testutil.Eventually(5*time.Second, c.Loaded) {
		t.Fatal("the view did not load")
	}
	src.mu.Lock()
	src.slow = 100 * time.Millisecond // ten intervals
	src.mu.Unlock()
	src.add(1)
	if !testutil.Eventually(5*time.Second, func() bool { return c.HasHost("d1.example.com") }) {
		t.Error("a domain added while each refresh takes longer than the interval never reached the view")
	}
	cancel()
	<-done
}

// An instance started before any domain existed keeps refreshing.
func TestRefreshAfterAnEmptyStart(t *testing.T) {
	src := newSource()
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	refresh(t, c)
	src.add(1)
	refresh(t, c)
	if got := c.Check(1, 1); got != domaincache.Valid {
		t.Fatalf("a domain created after an empty start: %v", got)
	}
}

func TestFirstRefreshLoadsDeletedDomainsAsRetired(t *testing.T) {
	src := newSource()
	src.add(1)
	src.setStatus(1, models.StatusDeleted)
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	if c.Len() != 0 || c.Check(1, 1) != domaincache.Retired {
		t.Fatalf("Len %d, Check %v: a deleted domain must not count, and its tokens must be refused", c.Len(), c.Check(1, 1))
	}
}

// A lookup that read the database just before a change must not bring the
// old state back once a refresh (or Forget) learned of the change.
func TestLookupRacingAChangeDoesNotResurrectIt(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, src *fakeSource, c *domaincache.Cache, id uint64)
		// the lookup with the stale row answers:
		wantErr    error
		wantActive bool
	}{
		{"rotation seen by a refresh", func(t *testing.T, src *fakeSource, c *domaincache.Cache, id uint64) {
			src.rotate(id)
			refresh(t, c)
		}, models.ErrNoRecord, false},
		{"deletion seen by a refresh", func(t *testing.T, src *fakeSource, c *domaincache.Cache, id uint64) {
			src.setStatus(id, models.StatusDeleted)
			refresh(t, c)
		}, models.ErrNoRecord, false},
		{"revocation seen by a refresh", func(t *testing.T, src *fakeSource, c *domaincache.Cache, id uint64) {
			src.setStatus(id, models.StatusRevoked)
			refresh(t, c)
		}, nil, false},
		{"change made here: Forget while the read was on its way", func(t *testing.T, src *fakeSource, c *domaincache.Cache, id uint64) {
			src.duringLookup = func() { c.Forget(id) }
		}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource()
			sec := src.add(1)
			src.add(2)
			c := domaincache.New(src, 1, quiet) // room for one secret
			refresh(t, c)
			src.mu.Lock()
			stale := src.rows[1]
			src.mu.Unlock()
			tc.change(t, src, c, 1)
			// Make room (domain 3's secret takes the one place), then look
			// domain 1's secret up with the database answering with the row
			// as it was before the change.
			hook := src.duringLookup // for the lookup of domain 1's secret, not domain 3's
			src.duringLookup = nil
			lookup(t, c, src, src.add(3))
			src.staleFor[secret.Hash(sec)] = stale
			src.duringLookup = hook
			e, err, asked := lookup(t, c, src, sec)
			if !asked {
				t.Fatal("the lookup did not go to the database")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && e.Active != tc.wantActive {
				t.Fatalf("entry active = %v, want %v", e.Active, tc.wantActive)
			}
			want := domaincache.Retired
			if tc.name == "revocation seen by a refresh" {
				want = domaincache.Revoked
			}
			if got := c.Check(1, 1); got != want {
				t.Fatalf("Check(old version) = %v after the racing lookup, want %v", got, want)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Memory bound
// ---------------------------------------------------------------------------

func TestEvictionKeepsTheSecretCacheBounded(t *testing.T) {
	const domains, max = 50, 8
	src := newSource()
	secrets := make([]string, domains+1)
	for id := 1; id <= domains; id++ {
		secrets[id] = src.add(uint64(id))
	}
	c := domaincache.New(src, max, quiet)
	refresh(t, c)
	if c.Secrets() != max || c.Len() != domains {
		t.Fatalf("after loading %d domains: %d secrets, %d domains; want %d secrets (the bound) and every domain",
			domains, c.Secrets(), c.Len(), max)
	}
	for round := 0; round < 3; round++ {
		for id := 1; id <= domains; id++ {
			e, err := c.Lookup(ctx, secret.Sum(secrets[id]))
			if err != nil || e.ID != uint64(id) {
				t.Fatalf("lookup of domain %d: %+v %v", id, e, err)
			}
			if c.Secrets() > max {
				t.Fatalf("%d secrets in memory, bound %d", c.Secrets(), max)
			}
		}
	}
	if src.lookupCalls() == 0 {
		t.Fatal("no lookup went to the database: nothing was evicted")
	}
	for id := 1; id <= domains; id++ {
		if got := c.Check(uint64(id), 1); got != domaincache.Valid {
			t.Fatalf("evicting secrets lost domain %d for Check: %v", id, got)
		}
	}
	// A bound below one is taken as one.
	one := domaincache.New(src, 0, quiet)
	refresh(t, one)
	if one.Secrets() != 1 {
		t.Fatalf("max 0: %d secrets", one.Secrets())
	}
}

// TestChurnWithIdsFarApart: domains with ids far apart and in a run (the
// indexes grow past their first size as the load goes), hosts shared and
// not, deleted then registered again under the same id with a new secret:
// after each step the view answers from memory as the database says, and
// equals a view loaded at once from the same rows.
func TestChurnWithIdsFarApart(t *testing.T) {
	src := newSource()
	ids := []uint64{1, 2, 1 << 32, 1<<32 + 1, 1 << 40, 1<<62 + 3, 1<<63 - 1}
	for id := uint64(100); id < 400; id++ {
		ids = append(ids, id)
	}
	secrets := map[uint64]string{}
	for _, id := range ids {
		secrets[id] = src.add(id)
	}
	for _, id := range []uint64{2, 1 << 40, 150} {
		src.change(id, func(cr *models.Credential) { cr.Host = "shared.example.com" })
	}
	c := domaincache.New(src, 1000, quiet)
	domaincache.SetPageSize(c, 7)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	deleted := map[uint64]bool{}
	check := func(step string) {
		t.Helper()
		before := src.lookupCalls()
		for _, id := range ids {
			e, err := c.Lookup(ctx, secret.Sum(secrets[id]))
			switch {
			case deleted[id]:
				if !errors.Is(err, models.ErrNoRecord) || c.Check(id, 1) != domaincache.Retired {
					t.Errorf("%s: deleted domain %d: %+v %v, Check %v", step, id, e, err, c.Check(id, 1))
				}
			case err != nil || e.ID != id || !e.Active:
				t.Errorf("%s: domain %d: %+v %v", step, id, e, err)
			case c.Check(id, e.SecretVersion) != domaincache.Valid || c.Check(id, e.SecretVersion+1) != domaincache.Retired:
				t.Errorf("%s: domain %d: Check of version %d: %v", step, id, e.SecretVersion, c.Check(id, e.SecretVersion))
			case !c.HasHost(e.Host):
				t.Errorf("%s: domain %d: HasHost(%q) false", step, id, e.Host)
			}
		}
		// Only the deleted domains' secrets were asked of the database.
		if asked := src.lookupCalls() - before; asked != len(deleted) {
			t.Errorf("%s: %d lookups went to the database, want %d (the deleted domains')", step, asked, len(deleted))
		}
		if c.Check(3, 1) != domaincache.Unknown || c.Check(1<<62, 1) != domaincache.Unknown {
			t.Errorf("%s: a domain never seen is not Unknown", step)
		}
		whole := domaincache.New(src, 1000, quiet)
		refresh(t, whole)
		if d := diffViews(domaincache.Dump(c), domaincache.Dump(whole)); d != nil {
			t.Errorf("%s: the view differs from one loaded at once: %v", step, d)
		}
	}
	check("loaded")

	for i, id := range ids {
		if i%2 == 0 || id == 2 {
			src.setStatus(id, models.StatusDeleted)
			deleted[id] = true
		}
	}
	refresh(t, c)
	check("half deleted")
	if !c.HasHost("shared.example.com") || c.HasHost(fmt.Sprintf("d%d.example.com", uint64(1<<32))) {
		t.Error("HasHost after the deletions: the shared host must stay, a deleted domain's go")
	}

	for id := range deleted { // registered again with a new secret
		src.setStatus(id, models.StatusActive)
		secrets[id] = src.rotate(id)
		delete(deleted, id)
	}
	refresh(t, c)
	check("registered again")
	if c.Len() != len(ids) || c.Secrets() != len(ids) {
		t.Errorf("%d domains, %d secrets; want %d of each", c.Len(), c.Secrets(), len(ids))
	}
}

// ---------------------------------------------------------------------------
// Concurrency (meaningful under -race)
// ---------------------------------------------------------------------------

func TestConcurrentUse(t *testing.T) {
	src := newSource()
	secrets := map[uint64]string{}
	for id := uint64(1); id <= 20; id++ {
		secrets[id] = src.add(id)
	}
	c := domaincache.New(src, 10, quiet)
	refresh(t, c)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				id := uint64(i%20 + 1)
				if _, err := c.Lookup(ctx, secret.Sum(secrets[id])); err != nil && !errors.Is(err, models.ErrNoRecord) {
					t.Error(err)
					return
				}
				c.Check(id, 1)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		id := uint64(i%5 + 1)
		src.rotate(id)
		c.Forget(id)
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for id := uint64(1); id <= 5; id++ {
		if got := c.Check(id, 1); got != domaincache.Retired {
			t.Errorf("domain %d rotated 4 times: Check(version 1) = %v", id, got)
		}
		if got := c.Check(id, 5); got != domaincache.Valid {
			t.Errorf("domain %d rotated 4 times: Check(version 5) = %v", id, got)
		}
	}
}

// ---------------------------------------------------------------------------
// On the real database
// ---------------------------------------------------------------------------

func TestWithDatabase(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Fresh(t, driver)
			users := models.NewUserModel(db, 2*time.Second, 4)
			domains := models.NewDomainModel(db, 2*time.Second)
			c := domaincache.New(domains, 100, quiet)
			refresh(t, c) // an empty table, then refreshes as usual
			refresh(t, c)
			u, err := users.Insert(ctx, "cache@example.com", "캐시", "password123")
			if err != nil {
				t.Fatal(err)
			}
			d1, s1, err := domains.Insert(ctx, u.ID, "one.example.com", models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			d2, s2, _ := domains.Insert(ctx, u.ID, "two.example.com", models.PlanPremium)
			d3, s3, _ := domains.Insert(ctx, u.ID, "three.example.com", models.PlanFree)

			refresh(t, c)
			e, err := c.Lookup(ctx, secret.Sum(s2))
			if err != nil || e.ID != d2.ID || e.UserID != u.ID || e.Nick != "캐시" || e.Host != "two.example.com" ||
				e.Plan != models.PlanPremium || !e.Active || e.SecretVersion != 1 {
				t.Fatalf("lookup: %+v %v", e, err)
			}

			// Changes made elsewhere arrive with the next (incremental) refresh.
			_, s1b, err := domains.Rotate(ctx, d1.ID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := domains.Delete(ctx, d2.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			if err := revoke(db, d3.ID); err != nil {
				t.Fatal(err)
			}
			if c.Check(d1.ID, 1) != domaincache.Valid || c.Check(d2.ID, 1) != domaincache.Valid {
				t.Fatal("the view changed before a refresh")
			}
			refresh(t, c)
			checks := []struct {
				name string
				id   uint64
				sv   int
				want domaincache.Validity
			}{
				{"rotated, old version", d1.ID, 1, domaincache.Retired},
				{"rotated, new version", d1.ID, 2, domaincache.Valid},
				{"deleted", d2.ID, 1, domaincache.Retired},
				{"revoked", d3.ID, 1, domaincache.Revoked},
			}
			for _, ck := range checks {
				if got := c.Check(ck.id, ck.sv); got != ck.want {
					t.Errorf("%s: Check = %v, want %v", ck.name, got, ck.want)
				}
			}
			for _, tc := range []struct {
				name, secret string
				wantErr      error
				wantActive   bool
			}{
				{"rotated-away secret", s1, models.ErrNoRecord, false},
				{"new secret", s1b, nil, true},
				{"deleted domain's secret", s2, models.ErrNoRecord, false},
				{"revoked domain's secret", s3, nil, false},
			} {
				e, err := c.Lookup(ctx, secret.Sum(tc.secret))
				if !errors.Is(err, tc.wantErr) || (err == nil && (e.Active != tc.wantActive || e.Revoked != (tc.secret == s3))) {
					t.Errorf("%s: %+v %v", tc.name, e, err)
				}
			}
			if c.Len() != 2 {
				t.Errorf("Len = %d, want 2 (one deleted)", c.Len())
			}
			// A fresh instance loads the same view from scratch.
			fresh := domaincache.New(domains, 100, quiet)
			refresh(t, fresh)
			for _, ck := range checks {
				if got := fresh.Check(ck.id, ck.sv); got != ck.want {
					t.Errorf("fresh instance, %s: Check = %v, want %v", ck.name, got, ck.want)
				}
			}
		})
	}
}

// revoke is what the admin console does to a domain, minus the audit entry.
func revoke(db *gorm.DB, id uint64) error {
	return db.Model(&models.Domain{}).Where("id = ?", id).Update("status", models.StatusRevoked).Error
}

// TestRevokedIsToldApart: the view keeps a revoked domain apart from a
// deleted, rotated or forgotten one (Entry.Revoked, Check's Revoked), in
// the record's spare byte; a restore makes it Valid again, and a Forget
// retires it until the refresh that follows, whatever it was.
func TestRevokedIsToldApart(t *testing.T) {
	src := newSource()
	sec := src.add(1)
	src.add(2)
	c := domaincache.New(src, 100, quiet)
	refresh(t, c)
	src.setStatus(1, models.StatusRevoked)
	src.setStatus(2, models.StatusDeleted)
	refresh(t, c)
	if e, err := c.Lookup(ctx, secret.Sum(sec)); err != nil || e.Active || !e.Revoked {
		t.Fatalf("revoked: %+v %v, want found, revoked, not active", e, err)
	}
	if got := c.Check(1, 1); got != domaincache.Revoked {
		t.Errorf("revoked: Check = %v, want Revoked", got)
	}
	if got := c.Check(2, 1); got != domaincache.Retired {
		t.Errorf("deleted: Check = %v, want Retired", got)
	}
	c.Forget(1) // a change made here: nothing is told until the refresh
	if got := c.Check(1, 1); got != domaincache.Retired {
		t.Errorf("forgotten: Check = %v, want Retired", got)
	}
	src.setStatus(1, models.StatusActive) // restored
	refresh(t, c)
	if e, err := c.Lookup(ctx, secret.Sum(sec)); err != nil || !e.Active || e.Revoked || c.Check(1, 1) != domaincache.Valid {
		t.Errorf("restored: %+v %v %v, want active and Valid", e, err, c.Check(1, 1))
	}
}

// A change made here that a refresh read before this instance's Forget
// (App.domainChanged forgets after the change is committed, and the
// periodic refresh may read the row in between): the read that follows
// the Forget holds the same row, and must bring the domain back. Before,
// the Forget stood until the row changed again: a new domain's host stayed
// unknown to CORS, and a rotated secret was refused, on this instance.
func TestForgetAfterTheViewReadTheChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(src *fakeSource) string // the change; the secret that works after it
	}{
		{"new domain", func(src *fakeSource) string { return src.add(2) }},
		{"rotation", func(src *fakeSource) string { return src.rotate(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource()
			src.add(1)
			c := domaincache.New(src, 100, quiet)
			refresh(t, c)
			sec := tc.change(src)
			refresh(t, c) // the periodic refresh reads the change first
			cr, err := src.CredentialByHash(ctx, secret.Hash(sec))
			if err != nil {
				t.Fatal(err)
			}
			c.Forget(cr.ID) // then the instance that made it forgets the domain
			refresh(t, c)   // and refreshes
			if got := c.Check(cr.ID, cr.SecretVersion); got != domaincache.Valid {
				t.Errorf("Check = %v after the refresh that followed the Forget, want Valid", got)
			}
			if !c.HasHost(cr.Host) {
				t.Errorf("host %s unknown after the refresh that followed the Forget", cr.Host)
			}
			if e, err, _ := lookup(t, c, src, sec); err != nil || !e.Active {
				t.Errorf("the secret after the change: %+v, %v; want active", e, err)
			}
		})
	}
}
