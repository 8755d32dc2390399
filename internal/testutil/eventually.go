// Package testutil holds what the tests of several packages share.
package testutil

import "time"

// Eventually checks cond every 20 ms until it holds, and reports whether it
// did within limit. cond runs at least once, and once more at the deadline.
func Eventually(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
