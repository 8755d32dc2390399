package usage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/usage"
	"github.com/nodebird/nodebird-api/models"
)

var ctx = context.Background()

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// store records what the Counter writes; it fails while fail is set.
type store struct {
	mu      sync.Mutex
	fail    error
	batches []map[uint64]models.UsageDelta
	hours   []time.Time
}

func (s *store) Add(_ context.Context, hour time.Time, deltas map[uint64]models.UsageDelta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.batches = append(s.batches, maps.Clone(deltas))
	s.hours = append(s.hours, hour)
	return nil
}

func (s *store) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

func flush(t *testing.T, c *usage.Counter) {
	t.Helper()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// within reports whether at lies in [from, to].
func within(at, from, to time.Time) bool { return !at.Before(from) && !at.After(to) }

func TestCounterWritesCountsInBatches(t *testing.T) {
	st := &store{}
	c := usage.New(st, quiet)

	flush(t, c)
	if st.calls() != 0 {
		t.Fatal("an empty flush wrote to the store")
	}

	start := time.Now()
	for range 3 {
		c.Issued(1)
	}
	c.Refused(1)
	c.Refused(1)
	c.Issued(2)
	c.Refused(3)
	end := time.Now()
	flush(t, c)
	if st.calls() != 1 {
		t.Fatalf("%d writes for one flush, want 1 batch", st.calls())
	}
	got := st.batches[0]
	want := map[uint64][2]int64{1: {3, 2}, 2: {1, 0}, 3: {0, 1}}
	if len(got) != len(want) {
		t.Fatalf("batch = %+v, want domains 1, 2 and 3", got)
	}
	for id, w := range want {
		d := got[id]
		if d.Issued != w[0] || d.Refused != w[1] {
			t.Errorf("domain %d: issued %d refused %d, want %d and %d", id, d.Issued, d.Refused, w[0], w[1])
		}
		if (w[0] > 0) != within(d.LastIssued, start, end) || (w[1] > 0) != within(d.LastRefused, start, end) {
			t.Errorf("domain %d: last issued %v, last refused %v; want the time of the last count, or zero", id, d.LastIssued, d.LastRefused)
		}
	}
	if !within(st.hours[0], start, time.Now()) {
		t.Errorf("batch stamped %v, want the flush time", st.hours[0])
	}

	// Counted once: the next flush writes only what came since.
	flush(t, c)
	if st.calls() != 1 {
		t.Fatal("a flush with nothing new wrote again")
	}
	c.Issued(2)
	flush(t, c)
	if st.calls() != 2 || len(st.batches[1]) != 1 || st.batches[1][2].Issued != 1 {
		t.Fatalf("second batch = %+v, want domain 2 issued once", st.batches[1:])
	}
}

func TestCounterPutsCountsBackWhenTheStoreFails(t *testing.T) {
	st := &store{fail: errors.New("database unavailable")}
	c := usage.New(st, quiet)

	c.Issued(1)
	c.Issued(1)
	c.Refused(2)
	if err := c.Flush(ctx); err == nil {
		t.Fatal("Flush hid the store's failure")
	}
	firstRefusal := time.Now()
	c.Issued(1) // counted during the outage
	c.Refused(2)
	lastRefusal := time.Now()
	if err := c.Flush(ctx); err == nil {
		t.Fatal("second Flush hid the store's failure")
	}

	st.fail = nil
	flush(t, c)
	if st.calls() != 1 {
		t.Fatalf("%d batches after recovery, want 1", st.calls())
	}
	b := st.batches[0]
	if b[1].Issued != 3 || b[1].Refused != 0 || b[2].Issued != 0 || b[2].Refused != 2 {
		t.Fatalf("after the outage: %+v; want domain 1 issued 3, domain 2 refused 2 (nothing lost, nothing doubled)", b)
	}
	if !within(b[2].LastRefused, firstRefusal, lastRefusal) {
		t.Errorf("last refusal %v, want the latest one (between %v and %v)", b[2].LastRefused, firstRefusal, lastRefusal)
	}
	flush(t, c)
	if st.calls() != 1 {
		t.Fatal("counts written twice")
	}
}

func TestCounterLosesNothingUnderConcurrency(t *testing.T) {
	st := &store{}
	c := usage.New(st, quiet)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every worker counts the same 500 domains in turn: new
				// ones keep appearing while flushes publish them.
				if (w+i)%4 == 0 {
					c.Refused(uint64(i))
				} else {
					c.Issued(uint64(i))
				}
			}
		}()
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for {
			select {
			case <-stop:
				return
			default:
				_ = c.Flush(ctx)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-flushed
	flush(t, c)
	var issued, refused int64
	perDomain := map[uint64]int64{}
	for _, b := range st.batches {
		for id, d := range b {
			issued += d.Issued
			refused += d.Refused
			perDomain[id] += d.Issued + d.Refused
		}
	}
	if issued+refused != workers*each || refused != workers*each/4 {
		t.Fatalf("issued %d + refused %d, want %d in all, %d refused", issued, refused, workers*each, workers*each/4)
	}
	for id := range uint64(each) {
		if perDomain[id] != workers {
			t.Fatalf("domain %d counted %d times, want %d", id, perDomain[id], workers)
		}
	}
}

func TestRunFlushesAtShutdown(t *testing.T) {
	st := &store{}
	c := usage.New(st, quiet)
	c.Issued(7)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx, time.Hour); close(done) }()
	cancel()
	<-done
	if st.calls() != 1 || st.batches[0][7].Issued != 1 {
		t.Fatalf("batches at shutdown: %+v, want the pending count written", st.batches)
	}
}

// TestFlushToDatabase runs the Counter against models.UsageModel.
func TestFlushToDatabase(t *testing.T) {
	for _, driver := range testdb.Targets(t) {
		t.Run(driver, func(t *testing.T) {
			db := testdb.Fresh(t, driver)
			users := models.NewUserModel(db, 2*time.Second, 4)
			domains := models.NewDomainModel(db, 2*time.Second)
			usageModel := models.NewUsageModel(db, 2*time.Second)
			u, err := users.Insert(ctx, "count@example.com", "count", "password123")
			if err != nil {
				t.Fatal(err)
			}
			d1, _, err := domains.Insert(ctx, u.ID, "one.example.com", models.PlanFree)
			if err != nil {
				t.Fatal(err)
			}
			d2, _, _ := domains.Insert(ctx, u.ID, "two.example.com", models.PlanFree)
			before, _ := domains.CredentialsChangedSince(ctx, time.Time{})

			c := usage.New(usageModel, quiet)
			start := time.Now().Add(-time.Second) // the database keeps milliseconds
			for range 4 {
				c.Issued(d1.ID)
			}
			c.Refused(d1.ID)
			c.Refused(d2.ID)
			flush(t, c)
			c.Issued(d1.ID) // a second flush in the same hour adds up
			flush(t, c)

			got, err := usageModel.Recent(ctx, []uint64{d1.ID, d2.ID}, time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if got[d1.ID].Issued != 5 || got[d1.ID].Refused != 1 || got[d2.ID].Issued != 0 || got[d2.ID].Refused != 1 {
				t.Fatalf("hourly counts = %+v", got)
			}
			s1, _ := domains.GetForUser(ctx, d1.ID, u.ID)
			s2, _ := domains.GetForUser(ctx, d2.ID, u.ID)
			if s1.TokensIssued != 5 || s1.LastTokenAt == nil || !within(*s1.LastTokenAt, start, time.Now()) ||
				s1.LastFailedAt == nil || s2.TokensIssued != 0 || s2.LastTokenAt != nil || s2.LastFailedAt == nil {
				t.Fatalf("domain totals: one %+v, two %+v", s1, s2)
			}
			// Usage is not a change of the domain: the domain cache's
			// incremental refresh must not re-read every busy domain.
			after, _ := domains.CredentialsChangedSince(ctx, time.Time{})
			for i := range after {
				if !after[i].UpdatedAt.Equal(before[i].UpdatedAt) {
					t.Errorf("domain %d: updated_at moved from %v to %v by counting usage", after[i].ID, before[i].UpdatedAt, after[i].UpdatedAt)
				}
			}
		})
	}
}

// partStore writes the counts of every domain but those in unwritten, and
// says so with a *models.UnwrittenError, as models.UsageModel.Add does
// when it stops part way.
type partStore struct {
	store
	unwritten []uint64
}

func (s *partStore) Add(ctx context.Context, hour time.Time, deltas map[uint64]models.UsageDelta) error {
	if s.unwritten == nil {
		return s.store.Add(ctx, hour, deltas)
	}
	written := maps.Clone(deltas)
	for _, id := range s.unwritten {
		delete(written, id)
	}
	if err := s.store.Add(ctx, hour, written); err != nil {
		return err
	}
	return &models.UnwrittenError{Unwritten: s.unwritten, Err: models.ErrUnavailable}
}

// A flush that wrote some domains' counts before failing puts back the
// others' only: the next flush writes those, and nothing twice.
func TestCounterPutsBackOnlyWhatWasNotWritten(t *testing.T) {
	st := &partStore{unwritten: []uint64{2, 3}}
	c := usage.New(st, quiet)
	c.Issued(1)
	c.Issued(1)
	c.Issued(2)
	c.Refused(3)
	c.Issued(4)
	if err := c.Flush(ctx); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("Flush: %v, want the store's failure", err)
	}
	st.unwritten = nil
	flush(t, c)
	if st.calls() != 2 {
		t.Fatalf("%d batches, want 2", st.calls())
	}
	first, second := st.batches[0], st.batches[1]
	if len(first) != 2 || first[1].Issued != 2 || first[4].Issued != 1 {
		t.Fatalf("first flush wrote %+v, want domains 1 and 4", first)
	}
	if len(second) != 2 || second[2].Issued != 1 || second[3].Refused != 1 {
		t.Fatalf("second flush wrote %+v, want domains 2 and 3 only (1 and 4 were written)", second)
	}
}

// blockingStore's first Add waits for its context to end (a flush under
// way when the process is told to stop); later ones write.
type blockingStore struct {
	store
	entered chan struct{}
	once    sync.Once
}

func (s *blockingStore) Add(ctx context.Context, hour time.Time, deltas map[uint64]models.UsageDelta) error {
	first := false
	s.once.Do(func() { first = true; close(s.entered) })
	if first {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.store.Add(ctx, hour, deltas)
}

// A flush cut short by the shutdown is not a fault worth a warning: its
// counts are put back and the shutdown's flush writes them.
func TestFlushCutShortByShutdownIsNotAWarning(t *testing.T) {
	st := &blockingStore{entered: make(chan struct{})}
	var logs bytes.Buffer
	c := usage.New(st, slog.New(slog.NewTextHandler(&logs, nil)))
	c.Issued(7)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx, 5*time.Millisecond); close(done) }()
	<-st.entered
	cancel()
	<-done
	if st.calls() != 1 || st.batches[0][7].Issued != 1 {
		t.Fatalf("batches: %+v, want the count written by the shutdown's flush", st.batches)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the shutdown logged a warning:\n%s", logs.String())
	}
}

// discard is a store that keeps nothing.
type discard struct{}

func (discard) Add(context.Context, time.Time, map[uint64]models.UsageDelta) error { return nil }

// A flush forgets the domains it wrote: the counter holds what was counted
// since, not an entry for every domain used since the process started.
func TestCounterForgetsDomainsAfterAFlush(t *testing.T) {
	const domains = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := usage.New(discard{}, quiet)
	for id := range uint64(domains) {
		c.Issued(id + 1)
		c.Refused(id + 1)
	}
	flush(t, c)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("after a flush of %d domains the counter holds %d B", domains, held)
	if held > 1<<20 { // an entry a domain would be several MB
		t.Fatalf("after a flush of %d domains the counter holds %d B", domains, held)
	}
}

// flakyStore fails every other write, writing half of the batch first (as
// models.UsageModel.Add stopped part way), and records what it wrote.
type flakyStore struct {
	store
	n int
}

func (s *flakyStore) Add(ctx context.Context, hour time.Time, deltas map[uint64]models.UsageDelta) error {
	s.mu.Lock()
	s.n++
	fail := s.n%2 == 0
	s.mu.Unlock()
	if !fail {
		return s.store.Add(ctx, hour, deltas)
	}
	written := map[uint64]models.UsageDelta{}
	var unwritten []uint64
	for id, d := range deltas {
		if id%2 == 0 {
			written[id] = d
		} else {
			unwritten = append(unwritten, id)
		}
	}
	if err := s.store.Add(ctx, hour, written); err != nil {
		return err
	}
	return &models.UnwrittenError{Unwritten: unwritten, Err: models.ErrUnavailable}
}

// Counting while flushes fail part way loses nothing and counts nothing
// twice: what a flush did not write goes back beside what was counted
// meanwhile.
func TestCounterLosesNothingWhileFlushesFail(t *testing.T) {
	st := &flakyStore{}
	c := usage.New(st, quiet)
	const workers, domains = 8, 100
	var wg sync.WaitGroup
	var counted [workers][domains]int64
	stop := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c.Issued(uint64(i%domains) + 1)
				counted[w][i%domains]++
			}
		})
	}
	for { // counting goes on through three failed writes at least
		_ = c.Flush(ctx)
		st.mu.Lock()
		n := st.n
		st.mu.Unlock()
		if n >= 6 {
			break
		}
	}
	close(stop)
	wg.Wait()
	for st.n%2 == 1 { // the next write would fail
		_ = c.Flush(ctx)
	}
	flush(t, c)
	written := map[uint64]int64{}
	for _, b := range st.batches {
		for id, d := range b {
			written[id] += d.Issued
		}
	}
	for d := range domains {
		var want int64
		for w := range workers {
			want += counted[w][d]
		}
		if got := written[uint64(d)+1]; got != want {
			t.Fatalf("domain %d: %d written, %d counted", d+1, got, want)
		}
	}
	t.Logf("%d writes, half of them failing part way", st.n)
}
