package main

import (
	"strings"
	"testing"
	"time"
)

// grid is a run whose requests take from's latency up to percentile split
// (in hundredths) and to's above it, with quantiles every whole percentile
// and every hundredth from 90 on, as loadtest.lua prints them.
func grid(requests int64, split int, from, to time.Duration) Result {
	r := Result{Requests: requests, Max: to}
	add := func(at int) {
		d := from
		if at > split {
			d = to
		}
		r.Quantiles = append(r.Quantiles, quantile{at, d})
	}
	for p := 1; p < 90; p++ {
		add(p * 100)
	}
	for at := 9000; at < 10000; at++ {
		add(at)
	}
	r.P50, r.P99 = r.latencyAt(5000), r.latencyAt(9900)
	return r
}

func (r Result) latencyAt(at int) time.Duration {
	for _, q := range r.Quantiles {
		if q.At == at {
			return q.Latency
		}
	}
	panic("no such quantile")
}

func TestPercentileOfOneRunIsWrks(t *testing.T) {
	for _, r := range []Result{grid(1000, 9800, time.Millisecond, 5*time.Millisecond), grid(7, 4000, 2*time.Millisecond, 3*time.Millisecond)} {
		if p50, p99 := percentileOf([]Result{r}, 5000), percentileOf([]Result{r}, 9900); p50 != r.P50 || p99 != r.P99 {
			t.Errorf("p50, p99 = %s, %s; wrk said %s, %s", p50, p99, r.P50, r.P99)
		}
	}
}

func TestPercentileOfRoundsTogether(t *testing.T) {
	fast := grid(99000, 9999, time.Millisecond, time.Millisecond) // every request 1 ms
	slow := grid(1000, 0, 20*time.Millisecond, 20*time.Millisecond)
	tests := []struct {
		name string
		rs   []Result
		at   int
		want time.Duration
	}{
		// 99 % of all requests took 1 ms: p99 is 1 ms, anything above it 20 ms.
		{"p99 of 99,000 fast and 1,000 slow", []Result{fast, slow}, 9900, time.Millisecond},
		{"p99.5 of the same", []Result{fast, slow}, 9950, 20 * time.Millisecond},
		{"order does not matter", []Result{slow, fast}, 9900, time.Millisecond},
		// With as many slow as fast, the median is the fast ones' latency
		// and p99 is the slow ones'.
		{"p50 of equal halves", []Result{grid(1000, 9999, time.Millisecond, time.Millisecond), slow}, 5000, time.Millisecond},
		{"p99 of equal halves", []Result{grid(1000, 9999, time.Millisecond, time.Millisecond), slow}, 9900, 20 * time.Millisecond},
		// One slow round among five lifts p99 above the fast rounds' p99:
		// nothing averages it away.
		{"one bad round in five", []Result{
			grid(1000, 9900, time.Millisecond, 2*time.Millisecond), grid(1000, 9900, time.Millisecond, 2*time.Millisecond),
			grid(1000, 9900, time.Millisecond, 2*time.Millisecond), grid(1000, 9900, time.Millisecond, 2*time.Millisecond),
			grid(1000, 9000, 10*time.Millisecond, 40*time.Millisecond),
		}, 9900, 40 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentileOf(tt.rs, tt.at); got != tt.want {
			t.Errorf("%s: percentile %d = %s, want %s", tt.name, tt.at, got, tt.want)
		}
	}
}

func TestMergeSumsTheRounds(t *testing.T) {
	a := grid(1000, 9900, time.Millisecond, 3*time.Millisecond)
	a.Duration, a.Errors, a.ServerCPU, a.LoadCPU, a.OtherCPU, a.MachineCPU = 5*time.Second, 1, time.Second, 2*time.Second, 3*time.Second, 10*time.Second
	b := grid(3000, 9900, 2*time.Millisecond, 4*time.Millisecond)
	b.Duration, b.Errors, b.ServerCPU, b.LoadCPU, b.OtherCPU, b.MachineCPU = 5*time.Second, 2, time.Second, time.Second, time.Second, 10*time.Second
	m := merge([]Result{a, b})
	want := Result{Requests: 4000, Duration: 10 * time.Second, Errors: 3, Max: 4 * time.Millisecond,
		P50: 2 * time.Millisecond, P99: 2 * time.Millisecond, // 99 % of each took at most 2 ms
		ServerCPU: 2 * time.Second, LoadCPU: 3 * time.Second, OtherCPU: 4 * time.Second, MachineCPU: 20 * time.Second}
	if m.Requests != want.Requests || m.Duration != want.Duration || m.Errors != want.Errors || m.Max != want.Max ||
		m.P50 != want.P50 || m.P99 != want.P99 || m.ServerCPU != want.ServerCPU || m.LoadCPU != want.LoadCPU ||
		m.OtherCPU != want.OtherCPU || m.MachineCPU != want.MachineCPU {
		t.Errorf("merge = %+v\nwant %+v", m, want)
	}
	if m.RPS() != 400 {
		t.Errorf("RPS = %v, want 400", m.RPS())
	}
}

func TestParseQuantiles(t *testing.T) {
	for _, bad := range []string{"5000", "x:1", "5000:y", "0:1", "10000:1", "5000:-1", "5000:3 4000:4", "5000:3 5000:3", "5000:3 6000:2"} {
		if _, err := parseQuantiles(bad); err == nil || !strings.Contains(err.Error(), "quantile") {
			t.Errorf("parseQuantiles(%q) = %v, want an error", bad, err)
		}
	}
	qs, err := parseQuantiles("1:5 5000:5 9999:70")
	if err != nil || len(qs) != 3 || qs[2] != (quantile{9999, 70 * time.Microsecond}) {
		t.Errorf("parseQuantiles = %v, %v", qs, err)
	}
}
