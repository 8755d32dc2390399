package main

import (
	"reflect"
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
				"LOADTEST requests=300000 duration_us=15000000 p50_us=1500 p99_us=6000 max_us=40000 connect=0 read=1 write=2 status=3 timeout=4\n" +
				"LOADTEST_QUANTILES 100:200 5000:1500 9900:6000 9999:30000\n",
			want: Result{Requests: 300000, Duration: 15 * time.Second, P50: 1500 * time.Microsecond,
				P99: 6 * time.Millisecond, Max: 40 * time.Millisecond, Errors: 10,
				Quantiles: []quantile{{100, 200 * time.Microsecond}, {5000, 1500 * time.Microsecond}, {9900, 6 * time.Millisecond}, {9999, 30 * time.Millisecond}}},
		},
		{name: "no LOADTEST line", out: "Requests/sec: 100\n", wantErr: "no LOADTEST line"},
		{name: "no quantiles", out: "LOADTEST requests=1\n", wantErr: "no LOADTEST_QUANTILES line"},
		{name: "a field missing", out: "LOADTEST requests=1 duration_us=1\nLOADTEST_QUANTILES 1:1\n", wantErr: "p50_us missing"},
		{name: "a value not a number", out: "LOADTEST requests=many\nLOADTEST_QUANTILES 1:1\n", wantErr: `malformed field "requests=many"`},
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
			if err != nil || !reflect.DeepEqual(got, tt.want) {
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
		Verify:  Result{Requests: 50000, Duration: 10 * time.Second, P99: 6 * time.Millisecond},
		PeakRSS: 99 << 20, Startup: 999 * time.Millisecond, Domains: 10000,
	}
	failing := Measurements{
		Ceiling: ceiling,
		Issue:   Result{Requests: 49000, Duration: 10 * time.Second, P99: 6100 * time.Microsecond, Errors: 1},
		Verify:  Result{Requests: 49000, Duration: 10 * time.Second, P99: 6100 * time.Microsecond},
		PeakRSS: 100 << 20, Startup: time.Second, Domains: 10000,
		AppLog: logProblems{Lines: 1, Messages: []string{"WARN flushing usage counts: timeout"}},
	}
	tests := []struct {
		name     string
		m        Measurements
		failures []string
	}{
		{name: "every target met exactly at its bound", m: passing},
		{name: "every target missed", m: failing, failures: []string{
			"POST /v1/token throughput", "POST /v1/token p99", "POST /v1/token errors",
			"GET /v1/test throughput", "GET /v1/test p99", "peak RSS", "start-up", "logged no warning",
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
		rounds                 int
		warmup, duration, want time.Duration
	}{
		{1, 3 * time.Second, 5 * time.Second, time.Minute},
		{5, 2 * time.Second, 5 * time.Second, 210 * time.Second}, // the defaults: 105 s of turns
		{1, 10 * time.Second, 60 * time.Second, 420 * time.Second},
	}
	for _, tt := range tests {
		o := options{rounds: tt.rounds, warmup: tt.warmup, duration: tt.duration}
		if got := o.tokenTTL(); got != tt.want {
			t.Errorf("tokenTTL(%d x 3 x (%s + %s)) = %s, want %s", tt.rounds, tt.warmup, tt.duration, got, tt.want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	busy, total, err := parseProcStat("cpu  100 1 50 800 9 2 3 4 0 0\ncpu0 50 0 25 400 4 1 1 2 0 0\n")
	if err != nil || busy != 160*clockTick || total != 969*clockTick {
		t.Fatalf("parseProcStat = %s, %s, %v; want %s, %s", busy, total, err, 160*clockTick, 969*clockTick)
	}
	if _, _, err := parseProcStat("intr 1 2 3\n"); err == nil {
		t.Fatal("parseProcStat accepted a text without a cpu line")
	}
}

func TestParsePidStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "5918 (my (odd) prog) R 5914 5914 20407 0 -1 4194304 99 0 0 0 250 70 0 0 20 0 1 0 158763\n"
	got, err := parsePidStat(stat)
	if err != nil || got != 320*clockTick {
		t.Fatalf("parsePidStat = %s, %v; want %s", got, err, 320*clockTick)
	}
	if _, err := parsePidStat("5918 (cat) R 1 2\n"); err == nil {
		t.Fatal("parsePidStat accepted a short line")
	}
}

func TestCPUShare(t *testing.T) {
	m := Measurements{
		// 20µs of server and 10µs of wrk CPU per request.
		Ceiling: Result{Requests: 1000, ServerCPU: 20 * time.Millisecond, LoadCPU: 10 * time.Millisecond},
	}
	tests := []struct {
		name string
		r    Result
		want float64
	}{
		{"twice the ceiling's CPU per request", Result{Requests: 500, ServerCPU: 25 * time.Millisecond, LoadCPU: 5 * time.Millisecond}, 0.5},
		{"as cheap as the ceiling", Result{Requests: 2000, ServerCPU: 40 * time.Millisecond, LoadCPU: 20 * time.Millisecond}, 1},
		{"no requests", Result{}, 0},
	}
	for _, tt := range tests {
		if got := m.cpuShare(tt.r); got != tt.want {
			t.Errorf("%s: cpuShare = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOthersShare(t *testing.T) {
	r := Result{OtherCPU: time.Second, MachineCPU: 20 * time.Second}
	if got := r.OthersShare(); got != 0.05 {
		t.Errorf("OthersShare = %v, want 0.05", got)
	}
	if got := (Result{OtherCPU: time.Second}).OthersShare(); got != 0 {
		t.Errorf("OthersShare without machine time = %v, want 0", got)
	}
}

func TestScanAppLog(t *testing.T) {
	log := `{"time":"t","level":"INFO","msg":"serving","addr":"[::]:8002"}
{"time":"t","level":"INFO","msg":"request","method":"GET","route":"/v1/test","status":200}
{"time":"t","level":"WARN","msg":"flushing usage counts","err":"context deadline exceeded"}
{"time":"t","level":"ERROR","msg":"request","method":"POST","route":"/v1/token","status":503}
{"time":"t","level":"WARN","msg":"flushing usage counts","err":"context deadline exceeded"}
{"time":"t","level":"WARN","msg":"mysql driver","detail":"busy buffer"}
panic: not JSON
`
	got, err := scanAppLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ERROR request: method=POST route=/v1/token status=503",
		"WARN flushing usage counts: err=context deadline exceeded",
		"WARN mysql driver: detail=busy buffer",
	}
	if got.Lines != 4 || strings.Join(got.Messages, "|") != strings.Join(want, "|") {
		t.Fatalf("scanAppLog = %d lines %q; want 4 lines %q", got.Lines, got.Messages, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	good := options{domains: 10, tokens: 10, concurrency: 64, threads: 2, rounds: 5, duration: 5 * time.Second, warmup: 2 * time.Second, limits: "on"}
	tests := []struct {
		name   string
		change func(*options)
		ok     bool
	}{
		{"the defaults", func(*options) {}, true},
		{"no domains", func(o *options) { o.domains = 0 }, false},
		{"no rounds", func(o *options) { o.rounds = 0 }, false},
		{"more threads than connections", func(o *options) { o.threads = 65 }, false},
		{"a duration under a second", func(o *options) { o.duration = 500 * time.Millisecond }, false},
		{"a duration in fractions of a second", func(o *options) { o.duration = 1500 * time.Millisecond }, false},
		{"a warm-up in fractions of a second", func(o *options) { o.warmup = 2500 * time.Millisecond }, false},
		{"limits off, for comparison", func(o *options) { o.limits = "off" }, true},
		{"limits neither on nor off", func(o *options) { o.limits = "yes" }, false},
	}
	for _, tt := range tests {
		o := good
		tt.change(&o)
		if err := o.validate(); (err == nil) != tt.ok {
			t.Errorf("%s: validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
