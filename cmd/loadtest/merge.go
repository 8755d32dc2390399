package main

import (
	"slices"
	"time"
)

// quantile is a run's latency at one percentile, given in hundredths of a
// percent (9990 is p99.9): at least that share of the run's requests took
// Latency or less (wrk's definition of a percentile).
type quantile struct {
	At      int
	Latency time.Duration
}

// Round is one measurement of each target, taken one right after the
// other, so that the three see the machine in the same state. Mine and
// Tagged (GET /v1/posts/my, GET /v1/posts/hashtag/tag7) are measured only
// with -posts.
type Round struct {
	Ceiling, Issue, Verify Result
	Mine, Tagged           Result
}

// merge adds up the runs of one target over the rounds: the counts and CPU
// times are summed, and the percentiles are those of all the runs'
// requests together (see percentileOf).
func merge(rs []Result) Result {
	var m Result
	for _, r := range rs {
		m.Requests += r.Requests
		m.Duration += r.Duration
		m.Errors += r.Errors
		m.Repeated += r.Repeated
		m.Max = max(m.Max, r.Max)
		m.ServerCPU += r.ServerCPU
		m.LoadCPU += r.LoadCPU
		m.OtherCPU += r.OtherCPU
		m.MachineCPU += r.MachineCPU
	}
	m.P50, m.P99 = percentileOf(rs, 5000), percentileOf(rs, 9900)
	return m
}

// percentileOf is the latency at percentile at (in hundredths of a
// percent) of the requests of all of rs together: the least latency in any
// run's quantiles at or below which that share of all requests is known to
// lie. Each run's share below a latency is read off its quantile grid (a
// lower bound), so the result may be above the exact one by one step of
// the grid, never below; for a single run it is wrk's own percentile.
func percentileOf(rs []Result, at int) time.Duration {
	var total int64
	var latencies []time.Duration
	for _, r := range rs {
		total += r.Requests
		latencies = append(latencies, r.Max)
		for _, q := range r.Quantiles {
			latencies = append(latencies, q.Latency)
		}
	}
	slices.Sort(latencies)
	for _, d := range slices.Compact(latencies) {
		var known int64 // requests at or below d, in hundredths of a percent
		for _, r := range rs {
			known += r.Requests * int64(r.shareAtOrBelow(d))
		}
		if known >= int64(at)*total {
			return d
		}
	}
	return 0 // no requests
}

// shareAtOrBelow is the highest percentile of r (in hundredths of a
// percent) whose latency is d or less: the share of r's requests known to
// have taken at most d. Every request took at most r.Max.
func (r Result) shareAtOrBelow(d time.Duration) int {
	if d >= r.Max {
		return 10000
	}
	share := 0
	for _, q := range r.Quantiles { // ascending in At, and so in Latency
		if q.Latency > d {
			break
		}
		share = q.At
	}
	return share
}
