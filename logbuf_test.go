package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLineBufferFlushesOnTimeAndAtStop(t *testing.T) {
	out := &syncBuilder{}
	b := newLineBuffer(out)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { b.flushEvery(10*time.Millisecond, stop); close(done) }()

	b.Write([]byte("first\n"))
	if !waitFor(5*time.Second, func() bool { return out.String() == "first\n" }) {
		t.Fatalf("not flushed by the ticker: %q", out.String())
	}
	b.Write([]byte("last\n"))
	close(stop)
	<-done
	if out.String() != "first\nlast\n" {
		t.Fatalf("not flushed at stop: %q", out.String())
	}
}
