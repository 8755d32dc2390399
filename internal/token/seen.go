package token

import (
	"sync"
	"time"
)

// Clients send the same token many times over its short life (the seed's
// pages call /v1/test with one token until it expires), so Verify keeps the
// claims of tokens it has fully verified, keyed by the token's exact text:
// another text, even one bit away, is another key and is verified in full.
// A hit skips the signature check and the JSON decoding, not the time
// checks, which run at every call.

// seenMax bounds the memo (about 600 bytes an entry).
const seenMax = 8192

type seenTokens struct {
	mu sync.RWMutex
	m  map[string]*Claims
}

func (s *seenTokens) get(tok string) *Claims {
	s.mu.RLock()
	c := s.m[tok]
	s.mu.RUnlock()
	return c
}

func (s *seenTokens) put(tok string, c *Claims) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*Claims{}
	}
	if len(s.m) >= seenMax { // drop an arbitrary eighth: map order is random
		n := 0
		for k := range s.m {
			delete(s.m, k)
			if n++; n >= seenMax/8 {
				break
			}
		}
	}
	s.m[tok] = c
}

func (s *seenTokens) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// timely applies the parser's time checks (the same boundaries as
// golang-jwt with Leeway) to claims that were valid when first verified.
func timely(c *Claims, now time.Time) bool {
	return now.Before(c.ExpiresAt.Add(Leeway)) && !now.Before(c.IssuedAt.Add(-Leeway)) &&
		(c.NotBefore == nil || !now.Before(c.NotBefore.Add(-Leeway)))
}
