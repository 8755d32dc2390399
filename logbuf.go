package main

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Production logs are JSON lines collected in memory and written out in
// batches, every flush interval or sooner once lineBufferSoft bytes wait,
// instead of one write system call per request line (5 % of a /v1
// request's CPU on the measured machine).
//
// Nothing on the way takes a lock that all requests share. Under load, a
// shared mutex held only for a copy still made requests queue: a holder
// preempted by the OS left the others parked, and the mutex then handed
// itself from one parked goroutine to the next (the lock convoy of
// sync.Mutex's starvation mode), 1.5 s of waiting per 6 s of load in the
// mutex profile (on slog's JSON handler, which locks around each write).
// So lines go onto a lock-free stack, and request lines reach it through
// flatJSONHandler (loghandler.go), which takes no lock.

const (
	lineBufferSoft = 256 << 10
	lineBufferHard = 4 << 20
)

// lineBuffer takes lines from any number of goroutines without blocking
// them and writes them out in the order they were taken.
type lineBuffer struct {
	head    atomic.Pointer[lineNode] // the lines not yet written, newest first
	waiting atomic.Int64             // their bytes
	kick    chan struct{}            // wakes flushEvery early
	stopped atomic.Bool              // flushEvery has ended: writers write out themselves

	out   io.Writer
	wmu   sync.Mutex // held from taking lines to writing them: they leave in order
	batch []byte
}

type lineNode struct {
	next *lineNode
	line []byte
}

var lineNodes = sync.Pool{New: func() any { return new(lineNode) }}

func newLineBuffer(out io.Writer) *lineBuffer {
	return &lineBuffer{out: out, kick: make(chan struct{}, 1)}
}

// Write takes a copy of p. Only when lineBufferHard bytes wait, because
// the output cannot keep up, or once flushEvery has ended (lines of
// requests still running at exit) does it write them out itself.
func (b *lineBuffer) Write(p []byte) (int, error) {
	n := lineNodes.Get().(*lineNode)
	n.line = append(n.line[:0], p...)
	for {
		n.next = b.head.Load()
		if b.head.CompareAndSwap(n.next, n) {
			break
		}
	}
	switch waiting := b.waiting.Add(int64(len(p))); {
	case waiting >= lineBufferHard || b.stopped.Load():
		return len(p), b.Flush()
	case waiting >= lineBufferSoft:
		select {
		case b.kick <- struct{}{}:
		default: // already woken
		}
	}
	return len(p), nil
}

// Flush writes out the lines waiting, oldest first, in one write.
func (b *lineBuffer) Flush() error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	var oldest *lineNode
	for n := b.head.Swap(nil); n != nil; { // reverse: newest first -> oldest first
		next := n.next
		n.next, oldest = oldest, n
		n = next
	}
	b.batch = b.batch[:0]
	for n := oldest; n != nil; {
		b.batch = append(b.batch, n.line...)
		next := n.next
		n.next = nil
		lineNodes.Put(n)
		n = next
	}
	if len(b.batch) == 0 {
		return nil
	}
	b.waiting.Add(-int64(len(b.batch)))
	_, err := b.out.Write(b.batch)
	if cap(b.batch) > 2*lineBufferHard { // after a burst, do not keep it all
		b.batch = nil
	}
	return err
}

// flushEvery flushes every interval, and when lineBufferSoft bytes wait,
// until stop is closed, then once more.
func (b *lineBuffer) flushEvery(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-b.kick:
		case <-stop:
			b.stopped.Store(true)
			_ = b.Flush()
			return
		}
		_ = b.Flush()
	}
}
