package usage

import (
	"context"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

func TestLastUseNeverMovesBack(t *testing.T) {
	st := &lastStore{}
	c := New(st, nil)
	at := int64(200)
	c.now = func() time.Time { return time.Unix(0, at) }
	last := func() int64 {
		t.Helper()
		if err := c.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		return st.last
	}
	c.Issued(1)
	at = 100 // a delayed goroutine's older clock reading
	c.Issued(1)
	if got := last(); got != 200 {
		t.Fatalf("last use %d, want 200", got)
	}
	at = 300
	c.Issued(1)
	if got := last(); got != 300 {
		t.Fatalf("last use %d, want 300", got)
	}
}

// lastStore keeps the last use of domain 1 it was given.
type lastStore struct{ last int64 }

func (s *lastStore) Add(_ context.Context, _ time.Time, deltas map[uint64]models.UsageDelta) error {
	s.last = deltas[1].LastIssued.UnixNano()
	return nil
}
