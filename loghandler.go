package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nodebird/nodebird-api/internal/jsonenc"
)

// flatJSONHandler writes the records that make up nearly all production
// logging (the request line: a message and flat attributes, strings with
// nothing to escape, integers, durations, booleans) exactly as slog's
// JSONHandler writes them, at less than half its cost and without its
// lock. Any other record, and every handler derived with WithAttrs or
// WithGroup, is left to the JSON handler given as fallback.
// TestFlatJSONHandlerWritesWhatSlogWrites and FuzzFlatJSONHandler hold
// the two to the same bytes.
type flatJSONHandler struct {
	w        io.Writer // safe for concurrent use (lineBuffer)
	level    slog.Leveler
	fallback slog.Handler // JSON handlers with the same writer and level
}

func newFlatJSONHandler(w io.Writer, level slog.Leveler, fallback slog.Handler) *flatJSONHandler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &flatJSONHandler{w: w, level: level, fallback: fallback}
}

var flatBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *flatJSONHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *flatJSONHandler) Handle(ctx context.Context, r slog.Record) error {
	buf := flatBuffers.Get().(*[]byte)
	defer flatBuffers.Put(buf)
	b, ok := appendFlatRecord((*buf)[:0], r)
	*buf = b[:0]
	if !ok {
		return h.fallback.Handle(ctx, r)
	}
	_, err := h.w.Write(b)
	return err
}

func (h *flatJSONHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.fallback.WithAttrs(attrs)
}

func (h *flatJSONHandler) WithGroup(name string) slog.Handler {
	return h.fallback.WithGroup(name)
}

// appendFlatRecord appends r as slog's JSONHandler writes it; ok is false
// when r is not flat.
func appendFlatRecord(b []byte, r slog.Record) (_ []byte, ok bool) {
	b = append(b, '{')
	if !r.Time.IsZero() {
		if y := r.Time.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `"time":"`...)
		b = r.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":"`...)
	b = append(b, r.Level.String()...)
	b = append(b, `","msg":`...)
	if b, ok = appendPlainString(b, r.Message); !ok {
		return b, false
	}
	r.Attrs(func(a slog.Attr) bool {
		b = append(b, ',')
		if b, ok = appendPlainString(b, a.Key); !ok {
			return false
		}
		b = append(b, ':')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			b, ok = appendPlainString(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = strconv.AppendInt(b, int64(v.Duration()), 10)
		default: // floats, times, groups, values to resolve, empty attributes
			ok = false
		}
		return ok
	})
	if !ok {
		return b, false
	}
	return append(b, '}', '\n'), true
}

// appendPlainString appends s quoted when it is jsonenc.Plain (slog
// writes such a string as is).
func appendPlainString(b []byte, s string) ([]byte, bool) {
	if !jsonenc.Plain(s) {
		return b, false
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}
