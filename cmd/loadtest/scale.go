package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nodebird/nodebird-api/internal/loadseed"
	"github.com/nodebird/nodebird-api/models"
)

// The -scale run (issue 19, point 8): on one seeded database, one instance
// counting its limits in memory and two instances counting them in one
// redis-server, started by the run; each endpoint is loaded on the one
// instance (wrk at -concurrency) and on the two at once (two wrk, half the
// connections each), in turns, -rounds times. It prints both throughputs,
// their ratio (target: at least 0.6) and the Redis round trips per request
// of the two (from their nodebird_redis_round_trips_total and
// nodebird_http_requests_total, less the round trips they make at rest,
// measured for a minute before; target: at most 1), with the machine's
// load average.

// scaleTargets are the ratio and round trips the -scale run aims for.
const (
	scaleMinRatio      = 0.6
	scaleMaxRoundTrips = 1.0
)

// scaleResult is one endpoint's figures in a -scale run.
type scaleResult struct {
	Name string
	// One and Two are the requests per second of the single instance with
	// local limits and of the two instances on Redis together, per round.
	One, Two []float64
	// Requests and RoundTrips are the requests the two instances answered
	// during the measured runs and the Redis round trips they made
	// meanwhile.
	Requests, RoundTrips int64
	// Background is the round trips the two would have made meanwhile
	// without requests (measured at rest).
	Background float64
	Errors     int64
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Ratio is the two instances' throughput as a share of the one's.
func (r scaleResult) Ratio() float64 {
	if mean(r.One) == 0 {
		return 0
	}
	return mean(r.Two) / mean(r.One)
}

// PerRequest is the Redis round trips per request of the two instances,
// those they make at rest taken off.
func (r scaleResult) PerRequest() float64 {
	if r.Requests == 0 {
		return 0
	}
	return max(0, float64(r.RoundTrips)-r.Background) / float64(r.Requests)
}

// runScale is the -scale run.
func runScale(ctx context.Context, o options, dir, bin string) error {
	redisAddr, stopRedis, err := startRedis(ctx, dir)
	if err != nil {
		return err
	}
	defer stopRedis()
	step(fmt.Sprintf("seeding %d domains on a fresh database", o.domains))
	db, err := loadseed.CreateDatabase(ctx, o.dsn)
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if !o.keep {
			_ = db.Drop(dctx)
		}
	}()
	secretsFile := filepath.Join(dir, "secrets.txt")
	if err := loadseed.SeedWithPosts(ctx, models.Options{Driver: "mysql", DSN: db.DSN()}, o.domains, 0, secretsFile); err != nil {
		return err
	}
	secrets, err := loadseed.ReadSecrets(secretsFile)
	if err != nil {
		return err
	}
	metricsToken := randomHex(32)
	shared := map[string]string{
		"DB_DRIVER": "mysql", "DB_DSN": db.DSN(), "METRICS_TOKEN": metricsToken,
		// One set of keys, so that any instance checks any instance's tokens.
		"JWT_SECRET": randomHex(32), "SESSION_SECRET": randomHex(32),
		// The tokens, issued before the rounds, outlive them: four loads a
		// round (two endpoints, two setups), with room to spare.
		"TOKEN_TTL": max(time.Minute, 2*time.Duration(o.rounds*4)*(o.warmup+o.duration)).String(),
	}
	// REDIS_TIMEOUT: past the default 50 ms, which a busy shared machine
	// exceeds now and then, so that the figures are those of limits counted
	// in Redis (each fallback to local counting is reported).
	withRedis := map[string]string{"REDIS_URL": "redis://" + redisAddr + "/0", "REDIS_TIMEOUT": "1s"}
	for k, v := range shared {
		withRedis[k] = v
	}
	step("starting one instance with local limits and two on Redis")
	one, err := startApp(ctx, "app-local", o, dir, bin, shared)
	if err != nil {
		return startError{err}
	}
	defer one.Stop()
	var two [2]*child
	for i := range two {
		if two[i], err = startApp(ctx, "app-redis-"+strconv.Itoa(i), o, dir, bin, withRedis); err != nil {
			return startError{err}
		}
		defer two[i].Stop()
	}
	for _, c := range []*child{one, two[0], two[1]} {
		if err := smokeTest(ctx, c.URL, secrets[rand.IntN(len(secrets))]); err != nil {
			return fmt.Errorf("%s does not answer as expected before the load: %w", c.name, err)
		}
	}
	wrkOne, err := newWrkRunner(mkdir(dir, "wrk-one"), o.threads, o.concurrency)
	if err != nil {
		return err
	}
	var wrkTwo [2]*wrkRunner
	for i := range wrkTwo {
		if wrkTwo[i], err = newWrkRunner(mkdir(dir, "wrk-two-"+strconv.Itoa(i)), max(1, o.threads/2), max(1, o.concurrency/2)); err != nil {
			return err
		}
	}
	tokensFile := filepath.Join(dir, "tokens.txt") // issued after the minute at rest
	targets := []Target{
		{Name: "POST /v1/token", Method: "POST", Path: "/v1/token", Kind: "secret", Secrets: secrets},
		{Name: "GET /v1/test", Method: "GET", Path: "/v1/test", Kind: "token", File: tokensFile},
	}
	// The round trips the two make with no request to answer (the usage
	// counts' moves to the database, every USAGE_FLUSH), measured over an
	// idle minute: they are taken off the figures per request.
	step("measuring the two instances' Redis round trips at rest, for a minute")
	idleTrips0, _, err := serverCounts(ctx, two, metricsToken)
	if err != nil {
		return err
	}
	idleStart := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
	}
	idleTrips1, _, err := serverCounts(ctx, two, metricsToken)
	if err != nil {
		return err
	}
	background := float64(idleTrips1-idleTrips0) / time.Since(idleStart).Seconds()
	if err := issueTokens(ctx, one.URL, secrets, o.tokens, tokensFile); err != nil {
		return err
	}
	results := make([]scaleResult, len(targets))
	loadBefore := loadAverage()
	for round := range o.rounds {
		for i, t := range targets {
			results[i].Name = t.Name
			step(fmt.Sprintf("round %d of %d: %s on one instance (local limits)", round+1, o.rounds, t.Name))
			r, err := load(ctx, o, wrkOne, one, t)
			if err != nil {
				return err
			}
			results[i].One = append(results[i].One, r.RPS())
			results[i].Errors += r.Errors
			step(fmt.Sprintf("round %d of %d: %s on two instances (limits on Redis)", round+1, o.rounds, t.Name))
			rps, reqs, trips, errs, err := loadPair(ctx, o, wrkTwo, two, t, metricsToken)
			if err != nil {
				return err
			}
			results[i].Two = append(results[i].Two, rps)
			results[i].Background += background * o.duration.Seconds()
			results[i].Requests += reqs
			results[i].RoundTrips += trips
			results[i].Errors += errs
		}
	}
	for _, c := range []*child{one, two[0], two[1]} {
		if !c.Alive() {
			return fmt.Errorf("%s exited during the run:\n%s", c.name, c.LogTail())
		}
	}
	fmt.Printf("\nNodeBird API scale-out load test (%s): %d CPUs, load average %.1f before and %.1f after (1 min; other processes share the machine)\n",
		runtime.Version(), runtime.NumCPU(), loadBefore, loadAverage())
	fmt.Printf("%d rounds, each %s measured after %s of warm-up; one instance with local limits (wrk -c %d) against two on one redis-server (two wrk, -c %d each), in turns\n",
		o.rounds, o.duration, o.warmup, o.concurrency, max(1, o.concurrency/2))
	fmt.Printf("%d active domains on MariaDB/MySQL, APP_ENV=production RATE_LIMITS=%s\n\n", o.domains, o.limits)
	printScale(os.Stdout, results)
	for _, c := range two {
		if n := countInLog(c.logPath, "redis does not answer: rate limits"); n > 0 {
			fmt.Printf("NOTE  %s counted its limits locally %d times during the run (Redis did not answer within REDIS_TIMEOUT): those requests made no round trip\n", c.name, n)
		}
	}
	var errs int64
	for _, r := range results {
		errs += r.Errors
	}
	if errs > 0 {
		return fmt.Errorf("the run had %d errors", errs)
	}
	return nil
}

// printScale prints the -scale table and PASS or FAIL per target.
func printScale(w io.Writer, results []scaleResult) {
	fmt.Fprintf(w, "%-16s %14s %14s %7s %16s %22s\n", "", "1 local req/s", "2 redis req/s", "ratio", "round trips/req", "(answered, trips, rest)")
	for _, r := range results {
		fmt.Fprintf(w, "%-16s %14.0f %14.0f %7.2f %16.4f %22s\n", r.Name, mean(r.One), mean(r.Two), r.Ratio(), r.PerRequest(),
			fmt.Sprintf("(%d, %d, %.0f)", r.Requests, r.RoundTrips, r.Background))
	}
	fmt.Fprintln(w)
	for _, r := range results {
		verdict := func(ok bool) string {
			if ok {
				return "PASS"
			}
			return "FAIL"
		}
		fmt.Fprintf(w, "%s  %s: two instances on Redis at %.2f of one with local limits (target >= %.1f)\n",
			verdict(r.Ratio() >= scaleMinRatio), r.Name, r.Ratio(), scaleMinRatio)
		// To three decimals: the round trips at rest are an estimate, off
		// by a few in a run of 100,000 requests.
		fmt.Fprintf(w, "%s  %s: %.4f Redis round trips per request (target <= %.0f, to three decimals)\n",
			verdict(math.Round(r.PerRequest()*1000)/1000 <= scaleMaxRoundTrips), r.Name, r.PerRequest(), scaleMaxRoundTrips)
	}
}

// loadPair loads t on both instances at once (a warm-up, then the measured
// run) and returns the requests per second of the two together (as wrk
// saw them), the requests the two answered meanwhile, the Redis round
// trips they made meanwhile (background work included: the usage counts'
// moves, probes), and the errors.
func loadPair(ctx context.Context, o options, wrks [2]*wrkRunner, two [2]*child, t Target, metricsToken string) (rps float64, reqs, trips, errs int64, err error) {
	run := func(d time.Duration, sample func(int) int) ([2]Result, error) {
		var out [2]Result
		done := make(chan error, 2)
		for i := range two {
			go func() {
				tt := t
				tt.URL = two[i].URL
				var err error
				out[i], err = wrks[i].Run(ctx, tt, d, sample(i))
				done <- err
			}()
		}
		return out, errors.Join(<-done, <-done)
	}
	warm, err := run(o.warmup, func(int) int { return sampleSize(o.warmup, 0) })
	if err != nil {
		return 0, 0, 0, 0, err
	}
	tripsBefore, answeredBefore, err := serverCounts(ctx, two, metricsToken)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	res, err := run(o.duration, func(i int) int { return sampleSize(o.duration, warm[i].RPS()) })
	if err != nil {
		return 0, 0, 0, 0, err
	}
	tripsAfter, answeredAfter, err := serverCounts(ctx, two, metricsToken)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for _, r := range res {
		rps += r.RPS()
		errs += r.Errors
	}
	return rps, answeredAfter - answeredBefore, tripsAfter - tripsBefore, errs, nil
}

// serverCounts are the sums over the instances of their Redis round trips
// (nodebird_redis_round_trips_total) and of the requests they answered
// (nodebird_http_requests_total, /metrics left out): the requests the
// servers answered, rather than those wrk saw completed, which leave out
// the ones in flight when it stopped.
func serverCounts(ctx context.Context, cs [2]*child, metricsToken string) (trips, answered int64, err error) {
	for _, c := range cs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/metrics", nil)
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+metricsToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		v, ok := metricIn(strings.NewReader(string(b)), "nodebird_redis_round_trips_total")
		if !ok {
			return 0, 0, fmt.Errorf("%s: no nodebird_redis_round_trips_total in /metrics", c.name)
		}
		trips += int64(v)
		answered += int64(requestsIn(string(b)))
	}
	return trips, answered, nil
}

// requestsIn is the sum of nodebird_http_requests_total over its labels,
// the requests for /metrics left out.
func requestsIn(exposition string) float64 {
	sum := 0.0
	for line := range strings.Lines(exposition) {
		rest, ok := strings.CutPrefix(line, "nodebird_http_requests_total{")
		if !ok || strings.Contains(rest, `route="/metrics"`) {
			continue
		}
		if i := strings.LastIndexByte(rest, ' '); i >= 0 {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest[i+1:]), 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// startRedis runs a redis-server without persistence on a free port.
func startRedis(ctx context.Context, dir string) (addr string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server is not installed: run `sudo apt-get install -y redis-server` and try again")
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", mkdir(dir, "redis"), "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr, stop, nil
		}
		select {
		case <-exited:
			return "", nil, errors.New("redis-server exited at start")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("redis-server did not listen within 10 s")
		}
	}
}

// mkdir makes dir/name and returns it.
func mkdir(dir, name string) string {
	p := filepath.Join(dir, name)
	_ = os.MkdirAll(p, 0o700)
	return p
}

// loadAverage is the machine's 1-minute load average (0 if unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// countInLog is how many lines of the file at path contain s.
func countInLog(path, s string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}

// metricIn is the value of the unlabelled metric name in a Prometheus text
// exposition.
func metricIn(r io.Reader, name string) (float64, bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}
