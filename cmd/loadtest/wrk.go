package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nodebird/nodebird-api/internal/secret"
)

//go:embed loadtest.lua
var wrkScript []byte

// wrkInstall is printed when wrk is missing.
const wrkInstall = "wrk (the HTTP load generator) is not installed: run `sudo apt-get install -y wrk` (Debian/Ubuntu) and try again"

// Result is what one wrk run measured.
type Result struct {
	Requests int64
	Duration time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	// Errors counts failed connects, reads, writes, timeouts and HTTP
	// statuses of 400 and above.
	Errors int64
	// Quantiles is the latency distribution, ascending (loadtest.lua).
	Quantiles []quantile
	// Repeated counts the requests of a "secret" run sent beyond its
	// sample, whose secrets had been sent earlier in the run.
	Repeated int64

	// CPU time during the measured run: the server's, the load
	// generator's, every other process's, and the machine's capacity
	// (CPUs x wall time).
	ServerCPU, LoadCPU, OtherCPU, MachineCPU time.Duration
}

// perRequest is d spread over the run's requests.
func (r Result) perRequest(d time.Duration) time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return d / time.Duration(r.Requests)
}

// OthersShare is the share of the machine that other processes took
// during the run: noise in the throughput figures.
func (r Result) OthersShare() float64 {
	if r.MachineCPU <= 0 {
		return 0
	}
	return float64(r.OtherCPU) / float64(r.MachineCPU)
}

// RPS is the throughput in requests per second.
func (r Result) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Duration.Seconds()
}

// Target is one thing to load: a request shape and the values it takes.
type Target struct {
	Name   string
	URL    string // base URL of the server, e.g. http://127.0.0.1:8002
	Method string
	Path   string
	Kind   string // "secret", "token" or "none"
	// Secrets ("secret") are drawn from uniformly, afresh for each run:
	// each request carries one, sent as the JSON body {"clientSecret": ...}.
	Secrets []string
	// File ("token") holds the tokens, one a line, which every wrk
	// thread cycles over; unused for the others.
	File string
}

// wrkRunner drives wrk with a fixed number of threads and connections.
type wrkRunner struct {
	bin         string
	dir         string
	script      string
	threads     int
	connections int
}

// newWrkRunner finds wrk and writes the Lua script into dir.
func newWrkRunner(dir string, threads, connections int) (*wrkRunner, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return nil, errors.New(wrkInstall)
	}
	script := filepath.Join(dir, "loadtest.lua")
	if err := os.WriteFile(script, wrkScript, 0o600); err != nil {
		return nil, err
	}
	return &wrkRunner{bin: bin, dir: dir, script: script, threads: threads, connections: connections}, nil
}

// Run loads t for d and returns what wrk measured. For a "secret" target
// it sends sample secrets drawn uniformly (with replacement) from
// t.Secrets, each once, spread over the threads; a run that sends more
// requests starts over, which Result.Repeated tells.
func (w *wrkRunner) Run(ctx context.Context, t Target, d time.Duration, sample int) (Result, error) {
	kind, file, size := t.Kind, t.File, 0
	switch t.Kind {
	case "none":
		file = "-"
	case "secret":
		u, err := url.Parse(t.URL)
		if err != nil {
			return Result{}, err
		}
		kind, file = "requests", filepath.Join(w.dir, "requests.http")
		if size, err = writeSecretRequests(file, u.Host, t.Path, drawSecrets(t.Secrets, sample)); err != nil {
			return Result{}, err
		}
	}
	args := []string{
		"-t", strconv.Itoa(w.threads), "-c", strconv.Itoa(w.connections),
		"-d", strconv.Itoa(int(d.Seconds())) + "s", "--timeout", "5s",
		"-s", w.script, t.URL + t.Path, "--", t.Method, t.Path, kind, file, strconv.Itoa(w.threads), strconv.Itoa(size),
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("wrk on %s: %v: %s", t.Name, err, strings.TrimSpace(errOut.String()))
	}
	r, err := parseWrk(out.String())
	if err != nil {
		return Result{}, fmt.Errorf("wrk on %s: %w\n%s", t.Name, err, out.String())
	}
	r.LoadCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if t.Kind == "secret" && r.Requests > int64(sample) {
		r.Repeated = r.Requests - int64(sample)
	}
	return r, nil
}

// drawSecrets returns n secrets drawn uniformly, with replacement, from
// secrets: what n requests from clients of every domain alike would carry.
func drawSecrets(secrets []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = secrets[rand.IntN(len(secrets))]
	}
	return out
}

// secretRequest is the raw HTTP request of POST path on host carrying
// secret s as JSON, as wrk sends it.
func secretRequest(host, path, s string) string {
	body := `{"clientSecret":"` + s + `"}`
	return "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// writeSecretRequests writes the request of each secret to path, back to
// back, and returns their length: the same for all, as every secret has
// the same length (loadtest.lua finds each request by its offset).
func writeSecretRequests(path, host, urlPath string, secrets []string) (int, error) {
	if len(secrets) == 0 {
		return 0, errors.New("no secrets to send")
	}
	size := len(secretRequest(host, urlPath, secrets[0]))
	b := make([]byte, 0, size*len(secrets))
	for _, s := range secrets {
		r := secretRequest(host, urlPath, s)
		if len(r) != size {
			return 0, fmt.Errorf("the secret %q is not %d characters long", s, secret.Len)
		}
		b = append(b, r...)
	}
	return size, os.WriteFile(path, b, 0o600)
}

// parseWrk reads the LOADTEST and LOADTEST_QUANTILES lines that
// loadtest.lua's done prints.
func parseWrk(out string) (Result, error) {
	var line, quantiles string
	for l := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(l, "LOADTEST "); ok {
			line = strings.TrimSpace(rest)
		}
		if rest, ok := strings.CutPrefix(l, "LOADTEST_QUANTILES "); ok {
			quantiles = strings.TrimSpace(rest)
		}
	}
	if line == "" {
		return Result{}, errors.New("no LOADTEST line in the output")
	}
	if quantiles == "" {
		return Result{}, errors.New("no LOADTEST_QUANTILES line in the output")
	}
	fields := map[string]int64{}
	for f := range strings.FieldsSeq(line) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return Result{}, fmt.Errorf("malformed field %q", f)
		}
		fields[k] = n
	}
	for _, k := range []string{"requests", "duration_us", "p50_us", "p99_us", "max_us", "connect", "read", "write", "status", "timeout"} {
		if _, ok := fields[k]; !ok {
			return Result{}, fmt.Errorf("field %s missing", k)
		}
	}
	us := func(k string) time.Duration { return time.Duration(fields[k]) * time.Microsecond }
	qs, err := parseQuantiles(quantiles)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Requests:  fields["requests"],
		Duration:  us("duration_us"),
		P50:       us("p50_us"),
		P99:       us("p99_us"),
		Max:       us("max_us"),
		Errors:    fields["connect"] + fields["read"] + fields["write"] + fields["status"] + fields["timeout"],
		Quantiles: qs,
	}, nil
}

// parseQuantiles reads "AT:MICROSECONDS ..." pairs, ascending in AT (in
// hundredths of a percent, 1 to 9999) and never descending in latency.
func parseQuantiles(s string) ([]quantile, error) {
	var qs []quantile
	for f := range strings.FieldsSeq(s) {
		a, v, ok := strings.Cut(f, ":")
		at, err1 := strconv.Atoi(a)
		us, err2 := strconv.ParseInt(v, 10, 64)
		if !ok || err1 != nil || err2 != nil || at < 1 || at > 9999 || us < 0 {
			return nil, fmt.Errorf("malformed quantile %q", f)
		}
		q := quantile{At: at, Latency: time.Duration(us) * time.Microsecond}
		if n := len(qs); n > 0 && (q.At <= qs[n-1].At || q.Latency < qs[n-1].Latency) {
			return nil, fmt.Errorf("quantile %q out of order", f)
		}
		qs = append(qs, q)
	}
	return qs, nil
}
