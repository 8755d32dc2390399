package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    Result
		wantErr string
	}{
		{
			name: "the LOADTEST line after wrk's own summary",
			out: "Running 15s test @ http://127.0.0.1:8002/v1/test\n  2 threads and 64 connections\n" +
				"LOADTEST requests=300000 duration_us=15000000 p50_us=1500 p99_us=6000 max_us=40000 connect=0 read=1 write=2 status=3 timeout=4\n",
			want: Result{Requests: 300000, Duration: 15 * time.Second, P50: 1500 * time.Microsecond,
				P99: 6 * time.Millisecond, Max: 40 * time.Millisecond, Errors: 10},
		},
		{name: "no LOADTEST line", out: "Requests/sec: 100\n", wantErr: "no LOADTEST line"},
		{name: "a field missing", out: "LOADTEST requests=1 duration_us=1\n", wantErr: "p50_us missing"},
		{name: "a value not a number", out: "LOADTEST requests=many\n", wantErr: `malformed field "requests=many"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseWrk = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestResultRPS(t *testing.T) {
	if got := (Result{Requests: 30000, Duration: 15 * time.Second}).RPS(); got != 2000 {
		t.Errorf("RPS = %v, want 2000", got)
	}
	if got := (Result{Requests: 5}).RPS(); got != 0 {
		t.Errorf("RPS of a run without a duration = %v, want 0", got)
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{name: "kB value", status: "Name:\tnodebird\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\n", want: 50 << 20},
		{name: "missing", status: "Name:\tnodebird\n", wantErr: true},
		{name: "unexpected unit", status: "VmHWM:\t 5 MB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmHWM(tt.status)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseVmHWM = %d, %v; want %d (error: %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestChecks(t *testing.T) {
	ceiling := Result{Requests: 100000, Duration: 10 * time.Second, P99: 4 * time.Millisecond}
	passing := Measurements{
		Ceiling: ceiling,
		Issue:   Result{Requests: 50000, Duration: 10 * time.Second, P99: 6 * time.Millisecond},
		Verify:  Result{Requests: 70000, Duration: 10 * time.Second, P99: 6 * time.Millisecond},
		PeakRSS: 99 << 20, Startup: 999 * time.Millisecond, Domains: 10000,
	}
	failing := Measurements{
		Ceiling: ceiling,
		Issue:   Result{Requests: 49000, Duration: 10 * time.Second, P99: 6100 * time.Microsecond, Errors: 1},
		Verify:  Result{Requests: 69000, Duration: 10 * time.Second, P99: 6100 * time.Microsecond},
		PeakRSS: 100 << 20, Startup: time.Second, Domains: 10000,
	}
	tests := []struct {
		name     string
		m        Measurements
		failures []string
	}{
		{name: "every target met exactly at its bound", m: passing},
		{name: "every target missed", m: failing, failures: []string{
			"POST /v1/token throughput", "POST /v1/token p99", "POST /v1/token errors",
			"GET /v1/test throughput", "GET /v1/test p99", "peak RSS", "start-up",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var failed []string
			for _, c := range tt.m.Checks() {
				if !c.Pass {
					failed = append(failed, c.Name)
				}
			}
			if len(failed) != len(tt.failures) {
				t.Fatalf("failed checks %q, want %d failures: %q", failed, len(tt.failures), tt.failures)
			}
			for i, want := range tt.failures {
				if !strings.Contains(failed[i], want) {
					t.Errorf("failure %d is %q, want one about %q", i, failed[i], want)
				}
			}
		})
	}
}

func TestTokenTTLOutlivesTheRun(t *testing.T) {
	tests := []struct {
		warmup, duration, want time.Duration
	}{
		{3 * time.Second, 15 * time.Second, time.Minute},
		{10 * time.Second, 60 * time.Second, 140 * time.Second},
	}
	for _, tt := range tests {
		o := options{warmup: tt.warmup, duration: tt.duration}
		if got := o.tokenTTL(); got != tt.want {
			t.Errorf("tokenTTL(%s + %s) = %s, want %s", tt.warmup, tt.duration, got, tt.want)
		}
	}
}
