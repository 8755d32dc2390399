package usage

import (
	"sync/atomic"
	"testing"
)

func TestLastUseNeverMovesBack(t *testing.T) {
	var at atomic.Int64
	storeLater(&at, 200)
	storeLater(&at, 100) // a delayed goroutine's older clock reading
	if at.Load() != 200 {
		t.Fatalf("last use %d, want 200", at.Load())
	}
	storeLater(&at, 300)
	if at.Load() != 300 {
		t.Fatalf("last use %d, want 300", at.Load())
	}
}
