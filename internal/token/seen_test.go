package token

import (
	"fmt"
	"testing"
	"time"
)

func TestVerifiedTokensAreRememberedButTimesStillChecked(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New([]byte("0123456789abcdef0123456789abcdef"), "nodebird", time.Minute, func() time.Time { return now })
	tok, _, err := m.Issue(Subject{UserID: 1, Nick: "a", DomainID: 2, SecretVersion: 1, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := m.Verify(tok)
	if err != nil || m.seen.len() != 1 {
		t.Fatalf("first verify: %v, memo %d", err, m.seen.len())
	}
	again, err := m.Verify(tok)
	if err != nil || again != first {
		t.Fatalf("second verify did not come from the memo: %v", err)
	}
	// One character away is another token, verified in full (and refused).
	flipped := tok[:len(tok)-2] + map[bool]string{true: "A", false: "B"}[tok[len(tok)-2] != 'A'] + tok[len(tok)-1:]
	if _, err := m.Verify(flipped); err != ErrInvalid {
		t.Fatalf("a token one character away: %v", err)
	}
	// Time passes: a remembered token expires like any other.
	now = now.Add(time.Minute + Leeway)
	if c, err := m.Verify(tok); err != ErrExpired || c == nil {
		t.Fatalf("remembered token after expiry: %v", err)
	}
}

func TestSeenTokensAreBounded(t *testing.T) {
	var s seenTokens
	c := &Claims{}
	for i := 0; i < 3*seenMax; i++ {
		s.put(fmt.Sprint("tok", i), c)
	}
	if n := s.len(); n > seenMax {
		t.Fatalf("memo holds %d tokens, bound %d", n, seenMax)
	}
}
