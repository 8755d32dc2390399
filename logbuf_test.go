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

// gatedWriter holds every Write until the test opens the gate.
type gatedWriter struct {
	entered chan struct{}
	gate    chan struct{}
	syncBuilder
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.syncBuilder.Write(p)
}

// TestLineBufferWritersDoNotWaitForTheOutput: while the output is stuck
// in a write, lines are still taken at once, and they all come out, in
// order, when it moves again.
func TestLineBufferWritersDoNotWaitForTheOutput(t *testing.T) {
	out := &gatedWriter{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	b := newLineBuffer(out)
	b.Write([]byte("one\n"))
	flushed := make(chan error)
	go func() { flushed <- b.Flush() }()
	<-out.entered // the output now holds "one\n" and does not return

	wrote := make(chan struct{})
	go func() {
		for i := range 1000 {
			b.Write([]byte(strings.Repeat("x", i%50) + "\n"))
		}
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("Write waited for the output")
	}
	close(out.gate)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	go func() {
		for range out.entered { // let later writes through
		}
	}()
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	close(out.entered)
	var want strings.Builder
	want.WriteString("one\n")
	for i := range 1000 {
		want.WriteString(strings.Repeat("x", i%50) + "\n")
	}
	if out.String() != want.String() {
		t.Fatalf("output differs from the lines written (%d bytes, want %d)", len(out.String()), want.Len())
	}
}

// TestLineBufferWritesOutWhenFull: lines past lineBufferHard are written
// by the writer itself when nothing flushes them, and concurrent writers'
// lines all arrive whole.
func TestLineBufferWritesOutWhenFull(t *testing.T) {
	out := &syncBuilder{}
	b := newLineBuffer(out) // no flushEvery: only Write can write out
	line := strings.Repeat("y", 1023) + "\n"
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range lineBufferHard / len(line) / 4 {
				b.Write([]byte(line))
			}
		}()
	}
	wg.Wait()
	written := len(out.String())
	if written < lineBufferHard {
		t.Fatalf("%d bytes written out with %d waiting, want at least %d", written, 2*lineBufferHard, lineBufferHard)
	}
	b.Flush()
	if got := out.String(); len(got) != 2*lineBufferHard/len(line)*len(line) || strings.Count(got, line) != len(got)/len(line) {
		t.Fatalf("lines lost or torn: %d bytes", len(got))
	}
}

// TestLineBufferWritesLateLinesAfterStop: a line written after the last
// flush (a request still running at exit) is written out at once.
func TestLineBufferWritesLateLinesAfterStop(t *testing.T) {
	out := &syncBuilder{}
	b := newLineBuffer(out)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { b.flushEvery(time.Hour, stop); close(done) }()
	b.Write([]byte("before\n"))
	close(stop)
	<-done
	b.Write([]byte("late\n"))
	if out.String() != "before\nlate\n" {
		t.Fatalf("output %q", out.String())
	}
}
