// Command loadtest measures the NodeBird API under load on this machine.
//
//	go run ./cmd/loadtest [-domains 10000] [-concurrency 64] [-rounds 5]
//	                      [-duration 5s] [-warmup 2s]
//	                      [-dsn 'root@tcp(127.0.0.1:3306)/'] [-keep] [-posts 1000000]
//	go run ./cmd/loadtest -growth [-domains 10000,100000,1000000] [-sqlite-max 100000]
//	go run ./cmd/loadtest -scale [-domains 10000] [-rounds 5] ...
//
// It builds the app, starts it on a fresh MariaDB/MySQL database seeded with
// -domains active domains (rate limits on, production settings), and drives
// with wrk, at the same concurrency and duration: a bare net/http server
// answering a small JSON body (the ceiling of this machine), POST /v1/token
// with secrets drawn uniformly from every domain's, and GET /v1/test cycling
// over tokens issued before to domains drawn uniformly. The three take
// turns, -rounds times, so that a machine shared with others, whose speed
// drifts over a run, weighs on all three alike. It prints requests per second, p50, p99 (of all the rounds'
// requests together) and errors of each, each endpoint's throughput as a
// share of the ceiling's, the same per round, the app's peak RSS, and the
// app's start-up time to ready on SQLite with the same domains; then PASS
// or FAIL per target.
//
// With -growth (or several sizes in -domains) it does the same at each size
// in turn, each on a fresh database, and prints a growth table: start-up,
// peak RSS, each endpoint's throughput as a share of the smallest size's,
// and the time of the app's periodic database work, timed from here with
// the app's own queries (growth.go); then PASS or FAIL per target.
//
// With -posts N it also seeds N posts over the accounts, each with one of
// 100 hashtags, and loads GET /v1/posts/my and GET /v1/posts/hashtag/tag7
// with the same tokens (the first page of 20, rate limits on).
//
// With -scale it compares, on one database, one instance counting its
// limits in memory with two counting them in one redis-server that the
// run starts (scale.go): token and verify req/s of each, their ratio, and
// the Redis round trips per request of the two.
//
// It exits non-zero when the run itself failed (errors, a crash, an app
// that did not start); missed performance targets are printed, not fatal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/nodebird/nodebird-api/internal/loadseed"
	"github.com/nodebird/nodebird-api/models"
)

// options are the command-line settings.
type options struct {
	domains     int   // the size of a single run
	sizes       []int // the sizes of a growth run, ascending
	growth      bool
	sqliteMax   int // the largest size whose start-up is timed on SQLite too (growth runs)
	concurrency int
	threads     int
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	tokens      int
	dsn         string
	keep        bool
	limits      string // "on" or "off"
	posts       int    // posts to seed; with some, the posts endpoints are loaded too
	scale       bool   // one instance with local limits against two on Redis (scale.go)
}

func main() {
	var o options
	var ceiling, sizes string
	flag.StringVar(&sizes, "domains", "10000", "active domains to seed; several, comma-separated, for a growth run")
	flag.BoolVar(&o.growth, "growth", false, "run at each size of -domains (default "+defaultGrowth+") and print a growth table")
	flag.IntVar(&o.sqliteMax, "sqlite-max", 100000, "growth runs: time the start-up on SQLite up to this many domains")
	flag.IntVar(&o.concurrency, "concurrency", 64, "open connections, kept busy")
	flag.IntVar(&o.threads, "threads", runtime.NumCPU(), "wrk threads")
	flag.IntVar(&o.rounds, "rounds", 5, "times each target is measured, in turns")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per target and round (whole seconds)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement (whole seconds)")
	flag.IntVar(&o.tokens, "tokens", 1000, "tokens GET /v1/test cycles over")
	flag.StringVar(&o.dsn, "dsn", "root@tcp(127.0.0.1:3306)/", "MySQL/MariaDB server (a database is created on it and dropped)")
	flag.BoolVar(&o.keep, "keep", false, "keep the database, logs and files of the run")
	flag.StringVar(&o.limits, "limits", "on", "rate limits: on (the production configuration, quotas above what the run sends) or off (for comparison)")
	flag.IntVar(&o.posts, "posts", 0, "posts to seed over the accounts (each with one of 100 hashtags); with some, GET /v1/posts/my and GET /v1/posts/hashtag/tag7 are loaded too")
	flag.BoolVar(&o.scale, "scale", false, "compare one instance with local limits and two with limits on a redis-server the run starts (token and verify req/s, Redis round trips per request)")
	flag.StringVar(&ceiling, "serve-ceiling", "", "internal: serve the ceiling handler on this address")
	flag.Parse()
	domainsSet := false
	flag.Visit(func(f *flag.Flag) { domainsSet = domainsSet || f.Name == "domains" })
	if o.growth && !domainsSet {
		sizes = defaultGrowth
	}
	var err error
	if o.sizes, err = parseSizes(sizes); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: -domains:", err)
		os.Exit(2)
	}
	o.growth = o.growth || len(o.sizes) > 1
	o.domains = o.sizes[0]

	if ceiling != "" {
		if err := serveCeiling(ceiling); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: ceiling:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// validate rejects settings the run cannot honour.
func (o options) validate() error {
	switch {
	case o.domains < 1 || o.tokens < 1 || o.rounds < 1:
		return errors.New("-domains, -tokens and -rounds must be at least 1")
	case o.concurrency < 1 || o.threads < 1 || o.threads > o.concurrency:
		return errors.New("-concurrency and -threads must be at least 1, with no more threads than connections")
	case o.duration < time.Second || o.warmup < time.Second || o.duration%time.Second != 0 || o.warmup%time.Second != 0:
		return errors.New("-duration and -warmup must be whole seconds, at least 1s (wrk counts seconds)")
	case o.limits != "on" && o.limits != "off":
		return errors.New("-limits must be on or off")
	}
	return nil
}

// tokenTTL is long enough for the tokens of the GET /v1/test runs,
// issued before the first round, to outlive the last: the default minute
// unless the rounds take longer.
func (o options) tokenTTL() time.Duration {
	targets := 3
	if o.posts > 0 {
		targets = 5
	}
	return max(time.Minute, 2*time.Duration(o.rounds*targets)*(o.warmup+o.duration))
}

// run is the whole load test.
func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "nodebird-load-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("files of the run kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	wrk, err := newWrkRunner(dir, o.threads, o.concurrency)
	if err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	step("building the app")
	bin, err := buildApp(ctx, root, dir)
	if err != nil {
		return err
	}

	if o.growth {
		return runGrowth(ctx, o, dir, bin, wrk)
	}
	if o.scale {
		return runScale(ctx, o, dir, bin)
	}
	m := Measurements{Domains: o.domains, Posts: o.posts}
	if err := loadMySQL(ctx, o, dir, bin, wrk, &m, nil); err != nil {
		return err
	}
	step("timing start-up to ready on SQLite")
	if m.Startup, err = sqliteStartup(ctx, o, o.domains, dir, bin); err != nil {
		return err
	}

	fmt.Printf("\nNodeBird API load test (%s): %d CPUs, wrk %d threads x %d connections\n",
		runtime.Version(), runtime.NumCPU(), o.threads, o.concurrency)
	fmt.Printf("%d rounds of ceiling, POST /v1/token, GET /v1/test in turn, each %s measured after %s of warm-up\n",
		o.rounds, o.duration, o.warmup)
	fmt.Printf("app on MariaDB/MySQL, %d active domains over %d accounts, APP_ENV=production RATE_LIMITS=%s\n\n",
		o.domains, (o.domains+loadseed.DomainsPerUser-1)/loadseed.DomainsPerUser, o.limits)
	m.Print(os.Stdout)
	if errs := m.Issue.Errors + m.Verify.Errors + m.Ceiling.Errors + m.Mine.Errors + m.Tagged.Errors; errs > 0 {
		return fmt.Errorf("the run had %d errors", errs)
	}
	return nil
}

// loadMySQL seeds a fresh database with m.Domains domains, starts the app
// and the ceiling, and loads the three targets, filling in m. Then, once
// the app has stopped (or failed to start), afterwards (if not nil) may use
// the database. An app that does not start is a startError.
func loadMySQL(ctx context.Context, o options, dir, bin string, wrk *wrkRunner, m *Measurements, afterwards func(dsn string) error) error {
	step(fmt.Sprintf("seeding %d domains on a fresh database", m.Domains))
	db, err := loadseed.CreateDatabase(ctx, o.dsn)
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("database %s kept\n", db.Name())
	} else {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := db.Drop(dctx); err != nil {
				fmt.Fprintf(os.Stderr, "loadtest: dropping %s: %v\n", db.Name(), err)
			}
		}()
	}
	secretsFile := filepath.Join(dir, "secrets.txt")
	start := time.Now()
	if err := loadseed.SeedWithPosts(ctx, models.Options{Driver: "mysql", DSN: db.DSN()}, m.Domains, m.Posts, secretsFile); err != nil {
		return err
	}
	m.Seeding = time.Since(start)
	secrets, err := loadseed.ReadSecrets(secretsFile)
	if err != nil {
		return err
	}

	step("starting the app and the ceiling server")
	app, err := startApp(ctx, "app-mysql", o, dir, bin, map[string]string{"DB_DRIVER": "mysql", "DB_DSN": db.DSN()})
	if err != nil {
		if afterwards != nil {
			if err := afterwards(db.DSN()); err != nil {
				return err
			}
		}
		return startError{err}
	}
	defer app.Stop()
	m.StartupMySQL = app.Ready.Sub(app.Started)
	ceiling, err := startCeiling(ctx, dir)
	if err != nil {
		return err
	}
	defer ceiling.Stop()
	if err := smokeTest(ctx, app.URL, secrets[rand.IntN(len(secrets))]); err != nil {
		return fmt.Errorf("the app does not answer as expected before the load: %w", err)
	}

	tokensFile := filepath.Join(dir, "tokens.txt")
	if err := issueTokens(ctx, app.URL, secrets, o.tokens, tokensFile); err != nil {
		return err
	}
	targets := []struct {
		server *child
		target Target
		into   func(*Round) *Result
	}{
		{ceiling, Target{Name: "the ceiling", Method: "GET", Path: "/", Kind: "none"}, func(r *Round) *Result { return &r.Ceiling }},
		{app, Target{Name: "POST /v1/token", Method: "POST", Path: "/v1/token", Kind: "secret", Secrets: secrets}, func(r *Round) *Result { return &r.Issue }},
		{app, Target{Name: "GET /v1/test", Method: "GET", Path: "/v1/test", Kind: "token", File: tokensFile}, func(r *Round) *Result { return &r.Verify }},
	}
	if m.Posts > 0 { // the same tokens open the posts: each the first page of its user's, or of one tag's
		targets = append(targets, []struct {
			server *child
			target Target
			into   func(*Round) *Result
		}{
			{app, Target{Name: "GET /v1/posts/my", Method: "GET", Path: "/v1/posts/my", Kind: "token", File: tokensFile}, func(r *Round) *Result { return &r.Mine }},
			{app, Target{Name: "GET /v1/posts/hashtag/tag7", Method: "GET", Path: "/v1/posts/hashtag/tag7", Kind: "token", File: tokensFile}, func(r *Round) *Result { return &r.Tagged }},
		}...)
	}
	for i := range o.rounds {
		var r Round
		for _, t := range targets {
			step(fmt.Sprintf("round %d of %d: loading %s, %s warm-up, then %s measured", i+1, o.rounds, t.target.Name, o.warmup, o.duration))
			if *t.into(&r), err = load(ctx, o, wrk, t.server, t.target); err != nil {
				return err
			}
		}
		m.Rounds = append(m.Rounds, r)
	}
	m.mergeRounds()
	if !app.Alive() {
		return fmt.Errorf("the app exited during the run:\n%s", app.LogTail())
	}
	if m.PeakRSS, err = app.PeakRSS(); err != nil {
		return fmt.Errorf("reading the app's peak RSS: %w", err)
	}
	app.Stop() // its shutdown is part of the run: a final flush may fail
	if m.AppLog, err = app.problems(); err != nil || afterwards == nil {
		return err
	}
	return afterwards(db.DSN())
}

// startError is an app that did not start (or become ready).
type startError struct{ err error }

func (e startError) Error() string { return e.err.Error() }
func (e startError) Unwrap() error { return e.err }

// load runs wrk on t served by server: a warm-up, then the measured run,
// during which it also accounts the CPU time of the server and the machine.
// Secrets are sent from a fresh sample each run, twice as many as the
// warm-up's pace would send in the measured run, so that none is sent
// twice in it (each thread sends its own part of the sample).
func load(ctx context.Context, o options, wrk *wrkRunner, server *child, t Target) (Result, error) {
	t.URL = server.URL
	warm, err := wrk.Run(ctx, t, o.warmup, sampleSize(o.warmup, 0))
	if err != nil {
		return Result{}, err
	}
	before, err := sampleCPU(server.Pid())
	if err != nil {
		return Result{}, err
	}
	r, err := wrk.Run(ctx, t, o.duration, sampleSize(o.duration, warm.RPS()))
	if err != nil {
		return Result{}, err
	}
	after, err := sampleCPU(server.Pid())
	if err != nil {
		return Result{}, err
	}
	r.ServerCPU = after.proc - before.proc
	r.MachineCPU = after.total - before.total
	r.OtherCPU = max(0, after.busy-before.busy-r.ServerCPU-r.LoadCPU)
	return r, nil
}

// minSample is the least number of secrets a run draws.
const minSample = 10000

// sampleSize is the secrets to draw for a run of d at rps requests a second:
// twice what it should send.
func sampleSize(d time.Duration, rps float64) int {
	return max(minSample, int(2*rps*d.Seconds()))
}

// The app's periodic work, set here so that the growth run times its
// queries with the same intervals.
const (
	cacheRefresh = 2 * time.Second  // CACHE_REFRESH, the app's default
	usageFlush   = 15 * time.Second // USAGE_FLUSH, the app's default
)

// startApp starts the app binary (logging to dir/name.log) with production
// settings, fresh random secrets and the given database settings. With
// limits on (the default), every request is counted against its domain's
// quota as in production, and the quotas are set above what the run sends
// (a domain gets a few hundred requests a minute), so that none is refused.
func startApp(ctx context.Context, name string, o options, dir, bin string, db map[string]string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"APP_ENV": "production", "RATE_LIMITS": o.limits, "PORT": strconv.Itoa(port),
		"RATE_FREE_TOKEN_PER_MIN": "1000000", "RATE_PREMIUM_TOKEN_PER_MIN": "1000000", "RATE_VERIFY_PER_MIN": "1000000",
		"JWT_SECRET": randomHex(32), "SESSION_SECRET": randomHex(32),
		"TOKEN_TTL": o.tokenTTL().String(), "DATA_DIR": filepath.Join(dir, "data"),
		"CACHE_REFRESH": cacheRefresh.String(), "USAGE_FLUSH": usageFlush.String(),
		// Production requires them; the load test sends no mail.
		"SMTP_URL": "smtp://127.0.0.1:1", "BASE_URL": "https://loadtest.invalid",
	}
	for k, v := range db {
		env[k] = v
	}
	return startChild(ctx, name, bin, nil, env, dir, port, "/readyz", appReadyLimit)
}

// appReadyLimit is how long the app may take to start: long enough to
// time a slow start-up at the largest sizes rather than give up on it.
const appReadyLimit = 2 * time.Minute

// startCeiling starts this program in -serve-ceiling mode.
func startCeiling(ctx context.Context, dir string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startChild(ctx, "ceiling", self, []string{"-serve-ceiling", "127.0.0.1:" + strconv.Itoa(port)}, nil, dir, port, "/", 30*time.Second)
}

// sqliteStartup seeds an SQLite database with n domains, starts the app
// on it and returns the time from exec to /readyz answering 200. An app
// that does not start is a startError.
func sqliteStartup(ctx context.Context, o options, n int, dir, bin string) (time.Duration, error) {
	data := filepath.Join(dir, "sqlite")
	if err := loadseed.Seed(ctx, models.Options{Driver: "sqlite", DSN: filepath.Join(data, "nodebird.db")}, n, ""); err != nil {
		return 0, fmt.Errorf("seeding SQLite: %w", err)
	}
	app, err := startApp(ctx, "app-sqlite", o, dir, bin, map[string]string{"DB_DRIVER": "sqlite", "DATA_DIR": data})
	if err != nil {
		return 0, startError{err}
	}
	app.Stop()
	return app.Ready.Sub(app.Started), nil
}

// step tells what the run is doing.
func step(s string) { fmt.Fprintf(os.Stderr, "== %s\n", s) }
