package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nodebird/nodebird-api/internal/loadseed"
	"github.com/nodebird/nodebird-api/models"
)

// defaultGrowth is the sizes of -growth without -domains.
const defaultGrowth = "10000,100000,1000000"

// The targets of a growth run (issue 14), at every size.
const (
	minGrowthShare    = 0.8                   // each endpoint's throughput, as a share of the smallest size's
	maxGrowthPeakRSS  = 400 << 20             // bytes
	maxGrowthStartup  = 10 * time.Second      // start-up to ready on MariaDB
	maxRefresh        = 50 * time.Millisecond // the periodic changed-rows query
	maxFlushShare     = 0.25                  // a usage flush, as a share of USAGE_FLUSH
	flushDomains      = 100000                // domains in the timed usage flush (at most the size)
	changedShare      = 100                   // 1 domain in changedShare changed in the last minute
	warmQueries       = 3                     // unmeasured runs of the refresh query first
	timedQueries      = 5                     // measured runs of the refresh query; the median counts
	cacheOverlap      = 10 * time.Second      // internal/domaincache's overlap: each refresh re-reads that much
	dbTimingTimeout   = 2 * time.Minute       // bounds each timed statement
	growthFlushTarget = maxFlushShare * float64(usageFlush)
)

// parseSizes reads -domains: one size, or several separated by commas,
// returned ascending without repeats.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a number of domains (at least 1)", strings.TrimSpace(f))
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes), nil
}

// GrowthRow is what a growth run measured at one size.
type GrowthRow struct {
	Measurements
	// StartupSQLite is zero when the size is above -sqlite-max.
	StartupSQLite time.Duration
	Refresh       dbTiming // the periodic refresh query, 1 domain in changedShare changed a minute
	Flush         dbTiming // a usage flush of flushDomains domains (at most the size)
	// Failed says why the app did not start on MariaDB (nothing else was
	// measured) or on SQLite.
	Failed, SQLiteFailed string
}

// dbTiming is one of the app's queries timed from outside: how long it
// took and over how many rows or domains; TimedOut if it was cut off at
// its time limit (Took is then the limit).
type dbTiming struct {
	Took     time.Duration
	Rows     int
	TimedOut bool
}

// String is the timing for the table: "12.3ms (200)", or "timed out
// after 15.000s (100000)".
func (d dbTiming) String() string {
	took := millis(d.Took)
	if d.Took >= time.Second {
		took = seconds(d.Took)
	}
	if d.TimedOut {
		took = "timed out after " + took
	}
	return fmt.Sprintf("%s (%d)", took, d.Rows)
}

// runGrowth loads the app at each size in turn, each on a fresh database,
// and prints the growth table and the targets.
func runGrowth(ctx context.Context, o options, dir, bin string, wrk *wrkRunner) error {
	server, err := describeServer(ctx, o.dsn)
	if err != nil {
		return err
	}
	var rows []GrowthRow
	for _, n := range o.sizes {
		sub := filepath.Join(dir, strconv.Itoa(n))
		if err := os.Mkdir(sub, 0o700); err != nil {
			return err
		}
		row := GrowthRow{Measurements: Measurements{Domains: n}}
		err := loadMySQL(ctx, o, sub, bin, wrk, &row.Measurements, func(dsn string) error {
			return timeDatabase(ctx, dsn, n, &row)
		})
		var failed startError
		switch {
		case errors.As(err, &failed):
			row.Failed = failure(failed)
			step(fmt.Sprintf("the app did not start with %d domains: %s", n, row.Failed))
		case err != nil:
			if len(rows) > 0 {
				fmt.Printf("\nthe growth run stopped at %d domains; the sizes before:\n\n", n)
				printGrowth(os.Stdout, rows)
			}
			return err
		}
		if row.Failed == "" && n <= o.sqliteMax {
			step(fmt.Sprintf("timing start-up to ready on SQLite with %d domains", n))
			row.StartupSQLite, err = sqliteStartup(ctx, o, n, sub, bin)
			switch {
			case errors.As(err, &failed):
				row.SQLiteFailed = failure(failed)
			case err != nil:
				rows = append(rows, row)
				fmt.Printf("\nthe growth run stopped timing SQLite at %d domains; the sizes so far:\n\n", n)
				printGrowth(os.Stdout, rows)
				return err
			}
		}
		rows = append(rows, row)
	}

	fmt.Printf("\nNodeBird API growth run (%s): %d CPUs, wrk %d threads x %d connections\n",
		runtime.Version(), runtime.NumCPU(), o.threads, o.concurrency)
	fmt.Printf("at each size, a fresh database (%d domains an account) on %s and %d rounds of ceiling,\n"+
		"POST /v1/token, GET /v1/test in turn, each %s measured after %s of warm-up; APP_ENV=production RATE_LIMITS=%s\n\n",
		loadseed.DomainsPerUser, server, o.rounds, o.duration, o.warmup, o.limits)
	printGrowth(os.Stdout, rows)
	errs := 0
	for _, r := range rows {
		errs += int(r.Issue.Errors + r.Verify.Errors + r.Ceiling.Errors)
		if r.Failed != "" || r.SQLiteFailed != "" {
			errs++
		}
	}
	if errs > 0 {
		return fmt.Errorf("the run had %d errors or apps that did not start", errs)
	}
	return nil
}

// describeServer names the MySQL server and its buffer pool, on whose size
// the time of the queries that read rows all over a large table depends.
func describeServer(ctx context.Context, dsn string) (string, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var version string
	var pool int64
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@innodb_buffer_pool_size").Scan(&version, &pool); err != nil {
		return "", fmt.Errorf("MySQL at -dsn: %w", err)
	}
	return fmt.Sprintf("%s (InnoDB buffer pool %s)", version, mb(pool)), nil
}

// failure is an app's failure to start in one line: the first line of
// the error and the last line of the app's log that follows it (the
// app's own word on why), shortened.
func failure(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	first, last := strings.TrimSuffix(strings.TrimSpace(lines[0]), ":"), strings.TrimSpace(lines[len(lines)-1])
	if len(lines) == 1 || last == "" {
		return first
	}
	const keep = 300
	if len(last) > keep {
		last = last[:keep] + "..."
	}
	return first + ": " + last
}

// timeDatabase times, on the database the app ran on (the app stopped),
// the two queries of the app's periodic work whose cost grows with the
// domains: the refresh of the domain view and the usage flush.
func timeDatabase(ctx context.Context, dsn string, n int, row *GrowthRow) error {
	step(fmt.Sprintf("timing the refresh query and a usage flush with %d domains", n))
	db, err := models.Open(ctx, models.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: 4, MaxIdleConns: 4,
		ConnMaxLifetime: time.Minute, StartupTimeout: 10 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	// To the millisecond, as updated_at is stored and as the app's own
	// bound is (the newest updated_at it read, less the overlap): given a
	// time with nanoseconds, the driver sends all nine digits, which
	// MariaDB cannot turn into an index range, and it scans every row.
	now := time.Now().UTC().Truncate(time.Millisecond)
	changed, args := markChangedArgs(now, n)
	if err := db.WithContext(ctx).Exec(markChangedSQL, args...).Error; err != nil {
		return fmt.Errorf("marking domains changed: %w", err)
	}
	// The app reads, every CACHE_REFRESH, the rows changed since the
	// newest change it saw, less the overlap: each changed row is read by
	// several refreshes in a row, its pages in the buffer pool. Marking
	// the rows changed swept the whole table through the pool, so the
	// query is run a few times before it is timed.
	domains := models.NewDomainModel(db, dbTimingTimeout)
	since := now.Add(-cacheRefresh - cacheOverlap)
	var took []time.Duration
	for i := range warmQueries + timedQueries {
		start := time.Now()
		cs, err := domains.CredentialsChangedSince(ctx, since)
		if err != nil {
			return fmt.Errorf("the refresh query: %w", err)
		}
		if i >= warmQueries {
			took = append(took, time.Since(start))
		}
		row.Refresh.Rows = len(cs)
	}
	row.Refresh.Took = median(took)
	if row.Refresh.Rows == 0 && changed > 0 {
		return fmt.Errorf("the refresh query found none of the %d domains marked changed", changed)
	}

	// Two flushes in a row: the first inserts the hour's rows, the second
	// adds to them. The slower counts; one cut off at the flush interval,
	// as usage.Counter bounds a flush, is a result (the second is not run).
	usage := models.NewUsageModel(db, dbTimingTimeout)
	deltas := usageDeltas(n, min(n, flushDomains), now)
	row.Flush.Rows = len(deltas)
	for range 2 {
		fctx, cancel := context.WithTimeout(ctx, usageFlush)
		start := time.Now()
		err := usage.Add(fctx, now, deltas)
		timedOut := errors.Is(fctx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case err != nil && timedOut && ctx.Err() == nil:
			row.Flush.Took, row.Flush.TimedOut = usageFlush, true
			return nil
		case err != nil:
			return fmt.Errorf("a usage flush of %d domains: %w", len(deltas), err)
		}
		row.Flush.Took = max(row.Flush.Took, time.Since(start))
	}
	return nil
}

// markChangedSQL moves the updated_at of one domain in changedShare (those
// whose id is a multiple of it) into the minute before ?, evenly: the
// changes of a minute in which that share of the domains changed.
// MariaDB/MySQL only, as is the growth run.
const markChangedSQL = "UPDATE domains SET updated_at = ? - INTERVAL (id DIV ?) * ? MICROSECOND WHERE id % ? = 0"

// markChangedArgs are the arguments of markChangedSQL for n domains, and
// how many domains it marks.
func markChangedArgs(now time.Time, n int) (int, []any) {
	marked := n / changedShare
	apart := time.Minute.Microseconds() / int64(max(marked, 1)) // between two marked domains
	return marked, []any{now, changedShare, apart, changedShare}
}

// usageDeltas is what an instance counts between two flushes when k of
// the n domains (drawn uniformly) asked for tokens: a few each, some refused.
func usageDeltas(n, k int, now time.Time) map[uint64]models.UsageDelta {
	deltas := make(map[uint64]models.UsageDelta, k)
	for _, i := range rand.Perm(n)[:k] {
		d := models.UsageDelta{Issued: 1 + int64(i%5), LastIssued: now}
		if i%10 == 0 {
			d.Refused, d.LastRefused = 1, now
		}
		deltas[uint64(i+1)] = d
	}
	return deltas
}

// median of ds (which it sorts); zero for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// growthShare is r's throughput as a share of base's.
func growthShare(r, base Result) float64 {
	if base.RPS() == 0 {
		return 0
	}
	return r.RPS() / base.RPS()
}

// growthChecks compares each size with the targets; throughput is
// compared with the first (smallest) size's.
func growthChecks(rows []GrowthRow) []Check {
	if len(rows) == 0 {
		return nil
	}
	base := rows[0]
	var cs []Check
	for i, r := range rows {
		at := fmt.Sprintf(" at %d", r.Domains)
		dbWork := []Check{
			{fmt.Sprintf("refresh query%s < %s (rows read)", at, maxRefresh), r.Refresh.String(), r.Refresh.Took < maxRefresh},
			{fmt.Sprintf("usage flush%s < %.2f of USAGE_FLUSH (%s) (domains)", at, maxFlushShare, usageFlush),
				r.Flush.String(), !r.Flush.TimedOut && float64(r.Flush.Took) < growthFlushTarget},
		}
		if r.Failed != "" { // the database was timed all the same
			cs = append(cs, Check{"the app starts on MariaDB" + at, "did not start", false})
			cs = append(cs, dbWork...)
			continue
		}
		if i > 0 {
			for _, e := range []struct {
				name       string
				got, first Result
			}{{"POST /v1/token", r.Issue, base.Issue}, {"GET /v1/test", r.Verify, base.Verify}} {
				s := growthShare(e.got, e.first)
				cs = append(cs, Check{fmt.Sprintf("%s throughput%s >= %.1f of %d's", e.name, at, minGrowthShare, base.Domains),
					fmt.Sprintf("%.2f", s), s >= minGrowthShare})
			}
		}
		cs = append(cs,
			Check{fmt.Sprintf("app peak RSS%s < %.0f MB", at, maxGrowthPeakRSS/mib), mb(r.PeakRSS), r.PeakRSS < maxGrowthPeakRSS},
			Check{fmt.Sprintf("start-up to ready on MariaDB%s < %s", at, maxGrowthStartup), seconds(r.StartupMySQL), r.StartupMySQL < maxGrowthStartup},
		)
		cs = append(cs, dbWork...)
		cs = append(cs,
			Check{"errors" + at + " = 0", fmt.Sprint(r.Issue.Errors + r.Verify.Errors + r.Ceiling.Errors),
				r.Issue.Errors+r.Verify.Errors+r.Ceiling.Errors == 0},
			Check{"the app logged no warning or error" + at, fmt.Sprintf("%d lines", r.AppLog.Lines), r.AppLog.Lines == 0},
		)
	}
	return cs
}

// printGrowth writes the growth table, the noise of each size's run and
// the targets.
func printGrowth(w io.Writer, rows []GrowthRow) {
	if len(rows) == 0 {
		return
	}
	base := rows[0].Domains
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "domains\tseeding\tstart-up MariaDB\tstart-up SQLite\tpeak RSS\tPOST /v1/token req/s\tof %d\tGET /v1/test req/s\tof %d\trefresh (rows)\tflush (domains)\t\n", base, base)
	for _, r := range rows {
		if r.Failed != "" {
			fmt.Fprintf(tw, "%d\t%s\tdid not start\t-\t-\t-\t-\t-\t-\t%s\t%s\t\n", r.Domains, seconds(r.Seeding), r.Refresh, r.Flush)
			continue
		}
		sqlite := "not run"
		switch {
		case r.SQLiteFailed != "":
			sqlite = "did not start"
		case r.StartupSQLite > 0:
			sqlite = seconds(r.StartupSQLite)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.0f\t%.2f\t%.0f\t%.2f\t%s\t%s\t\n",
			r.Domains, seconds(r.Seeding), seconds(r.StartupMySQL), sqlite, mb(r.PeakRSS),
			r.Issue.RPS(), growthShare(r.Issue, rows[0].Issue), r.Verify.RPS(), growthShare(r.Verify, rows[0].Verify),
			r.Refresh, r.Flush)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nthe machine during each size's run (a ceiling that moves between sizes moves the shares above too):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "domains\tceiling req/s\ttoken of ceiling\ttest of ceiling\tother processes\trepeated secrets\t")
	for _, r := range rows {
		if r.Failed != "" {
			continue
		}
		others := max(r.Ceiling.OthersShare(), r.Issue.OthersShare(), r.Verify.OthersShare())
		fmt.Fprintf(tw, "%d\t%.0f\t%.2f\t%.2f\t%.0f%%\t%d\t\n", r.Domains, r.Ceiling.RPS(),
			share(r.Issue, r.Ceiling), share(r.Verify, r.Ceiling), 100*others, r.Issue.Repeated)
	}
	tw.Flush()

	fmt.Fprintln(w, "\ntargets:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range growthChecks(rows) {
		verdict := "PASS"
		if !c.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", verdict, c.Name, c.Got)
	}
	tw.Flush()
	for _, r := range rows {
		if r.Failed != "" {
			fmt.Fprintf(w, "        %d domains, MariaDB: %s\n", r.Domains, r.Failed)
		}
		if r.SQLiteFailed != "" {
			fmt.Fprintf(w, "        %d domains, SQLite: %s\n", r.Domains, r.SQLiteFailed)
		}
		for _, msg := range r.AppLog.Messages {
			fmt.Fprintf(w, "        %d domains, app log: %s\n", r.Domains, msg)
		}
	}
}

// seconds formats a duration in seconds, to the millisecond.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// millis formats a duration in milliseconds.
func millis(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// mb formats bytes in MB.
func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/mib) }
