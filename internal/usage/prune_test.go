package usage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testutil"
	"github.com/nodebird/nodebird-api/internal/usage"
	"github.com/nodebird/nodebird-api/models"
)

// pruningStore is a store that records its prunes.
type pruningStore struct {
	store
	pmu    sync.Mutex
	prunes []time.Time
}

func (s *pruningStore) Prune(_ context.Context, before time.Time) (int64, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.prunes = append(s.prunes, before)
	return 0, nil
}

func (s *pruningStore) pruned() []time.Time {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return append([]time.Time(nil), s.prunes...)
}

// TestRunPrunesOnceAnHour: the flush loop prunes the counts older than
// models.UsageKept at its first flush of an hour, not at every flush.
func TestRunPrunesOnceAnHour(t *testing.T) {
	st := &pruningStore{}
	c := usage.New(st, quiet)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() { c.Run(runCtx, 5*time.Millisecond); close(done) }()
	if !testutil.Eventually(5*time.Second, func() bool { return len(st.pruned()) > 0 }) {
		t.Fatal("no prune")
	}
	time.Sleep(50 * time.Millisecond) // ten more flushes
	cancel()
	<-done
	p := st.pruned()
	if len(p) != 1 && !(len(p) == 2 && time.Now().Truncate(time.Hour).After(start)) { // two only across an hour
		t.Fatalf("%d prunes within an hour, want 1", len(p))
	}
	if want := start.Add(-models.UsageKept); p[0].Before(want.Add(-time.Second)) || p[0].After(want.Add(time.Minute)) {
		t.Errorf("pruned before %v, want about %v", p[0], want)
	}
}
