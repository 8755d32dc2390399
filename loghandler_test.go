package main

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"testing"
	"time"
)

// bothWrite returns what slog's JSONHandler and flatJSONHandler (with the
// JSON handler as its fallback) write for r, and whether r was flat.
func bothWrite(t testing.TB, r slog.Record) (slogOut, flatOut string, flat bool) {
	t.Helper()
	var want, got bytes.Buffer
	if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	h := newFlatJSONHandler(&got, nil, slog.NewJSONHandler(&got, nil))
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	_, flat = appendFlatRecord(nil, r)
	return want.String(), got.String(), flat
}

func TestFlatJSONHandlerWritesWhatSlogWrites(t *testing.T) {
	at := time.Date(2026, 11, 27, 16, 11, 33, 123456789, time.FixedZone("KST", 9*3600))
	request := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	request.AddAttrs(slog.String("method", "GET"), slog.String("route", "/v1/test"), slog.Int("status", 200),
		slog.Duration("duration", 1234567), slog.String("ip", "::1"), slog.String("request_id", "a-b_c.9"))
	for _, tc := range []struct {
		name string
		r    slog.Record
		flat bool
	}{
		{"request line", request, true},
		{"error level, more attributes", func() slog.Record {
			r := slog.NewRecord(at.UTC(), slog.LevelError+2, "x<&>y", 0)
			r.AddAttrs(slog.Bool("ok", false), slog.Uint64("n", math.MaxUint64), slog.Int64("neg", math.MinInt64), slog.String("", "empty key"))
			return r
		}(), true},
		{"no time", slog.NewRecord(time.Time{}, slog.LevelWarn, "m", 0), true},
		{"escaped message", slog.NewRecord(at, slog.LevelInfo, "two\nlines \"q\"", 0), false},
		{"non-ASCII value", func() slog.Record {
			r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.String("nick", "제로초"))
			return r
		}(), false},
		{"float", func() slog.Record {
			r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Float64("f", 1.5))
			return r
		}(), false},
		{"group and time values", func() slog.Record {
			r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Group("g", slog.Int("a", 1)), slog.Time("t", at))
			return r
		}(), false},
		{"empty attribute", func() slog.Record {
			r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
			r.AddAttrs(slog.Attr{}, slog.Int("a", 1))
			return r
		}(), false},
		{"year out of range", slog.NewRecord(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "m", 0), false},
	} {
		want, got, flat := bothWrite(t, tc.r)
		if got != want {
			t.Errorf("%s: wrote\n%s\nslog's JSON handler writes\n%s", tc.name, got, want)
		}
		if flat != tc.flat {
			t.Errorf("%s: written flat %v, want %v", tc.name, flat, tc.flat)
		}
	}
}

func TestFlatJSONHandlerLevelAndDerivedHandlers(t *testing.T) {
	var out bytes.Buffer
	h := newFlatJSONHandler(&out, slog.LevelWarn, slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("level not honoured")
	}
	slog.New(h).With("app", "nodebird").WithGroup("g").Warn("m", "k", 1)
	if got := out.String(); !bytes.Contains([]byte(got), []byte(`"msg":"m","app":"nodebird","g":{"k":1}}`)) {
		t.Errorf("derived handler wrote %s", got)
	}
}

func FuzzFlatJSONHandler(f *testing.F) {
	f.Add("request", "route", "/v1/test", int64(200), int64(1234567), true, int64(0))
	f.Add("m\x00", "", "\xff", int64(-1), int64(math.MaxInt64), false, int64(-1))
	f.Fuzz(func(t *testing.T, msg, key, val string, n, d int64, ok bool, level int64) {
		r := slog.NewRecord(time.Unix(0, n).UTC(), slog.Level(level%12), msg, 0)
		r.AddAttrs(slog.String(key, val), slog.Int64("n", n), slog.Duration("d", time.Duration(d)), slog.Bool("ok", ok))
		if want, got, _ := bothWrite(t, r); got != want {
			t.Fatalf("wrote\n%s\nslog's JSON handler writes\n%s", got, want)
		}
	})
}
