package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/loadseed"
	"github.com/nodebird/nodebird-api/internal/testdb"
)

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "10000", want: []int{10000}},
		{in: "1000000,10000,100000", want: []int{10000, 100000, 1000000}},
		{in: "10_000, 100_000,10000", want: []int{10000, 100000}},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "10000,", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "10k", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSizes(tt.in)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got, _ := parseSizes(defaultGrowth); !reflect.DeepEqual(got, []int{10000, 100000, 1000000}) {
		t.Errorf("the default growth sizes are %v", got)
	}
}

func TestGrowthShare(t *testing.T) {
	base := Result{Requests: 50000, Duration: 10 * time.Second} // 5,000/s
	tests := []struct {
		r    Result
		want float64
	}{
		{Result{Requests: 40000, Duration: 10 * time.Second}, 0.8},
		{Result{Requests: 60000, Duration: 10 * time.Second}, 1.2},
		{Result{}, 0},
	}
	for _, tt := range tests {
		if got := growthShare(tt.r, base); got != tt.want {
			t.Errorf("growthShare(%v req/s) = %v, want %v", tt.r.RPS(), got, tt.want)
		}
	}
	if got := growthShare(base, Result{}); got != 0 {
		t.Errorf("growthShare against a base without requests = %v, want 0", got)
	}
}

// growthRow is a size's measurements: token and test req/s, RSS in MB,
// start-up on MariaDB, refresh and flush.
func growthRow(domains int, token, test float64, rssMB int64, startup, refresh, flush time.Duration) GrowthRow {
	rps := func(r float64) Result { return Result{Requests: int64(r * 10), Duration: 10 * time.Second} }
	return GrowthRow{
		Measurements: Measurements{
			Domains: domains, Ceiling: rps(20000), Issue: rps(token), Verify: rps(test),
			PeakRSS: rssMB << 20, Seeding: 3 * time.Second, StartupMySQL: startup,
		},
		StartupSQLite: startup / 2,
		Refresh:       dbTiming{Took: refresh, Rows: domains / 500},
		Flush:         dbTiming{Took: flush, Rows: min(domains, flushDomains)},
	}
}

func TestGrowthChecks(t *testing.T) {
	first := growthRow(10000, 5000, 6000, 60, time.Second, time.Millisecond, time.Second)
	atBounds := growthRow(1000000, 4000, 4800, 399, 9999*time.Millisecond, 49*time.Millisecond, 3749*time.Millisecond)
	missed := growthRow(1000000, 3999, 4799, 400, 10*time.Second, 50*time.Millisecond, 3750*time.Millisecond)
	missed.Issue.Errors = 1
	missed.AppLog = logProblems{Lines: 2}
	failed := GrowthRow{Measurements: Measurements{Domains: 1000000}, Failed: "app-mysql exited before it was ready",
		Refresh: dbTiming{Took: 40 * time.Millisecond, Rows: 2000}, Flush: dbTiming{Took: 5 * time.Second, Rows: 100000}}
	tests := []struct {
		name     string
		rows     []GrowthRow
		failures []string
	}{
		{name: "every target met at its bound", rows: []GrowthRow{first, atBounds}},
		{name: "every target missed", rows: []GrowthRow{first, missed}, failures: []string{
			"POST /v1/token throughput at 1000000 >= 0.8 of 10000's", "GET /v1/test throughput at 1000000",
			"peak RSS at 1000000", "start-up to ready on MariaDB at 1000000", "refresh query at 1000000",
			"usage flush at 1000000", "errors at 1000000", "logged no warning or error at 1000000",
		}},
		{name: "an app that did not start, its database timed", rows: []GrowthRow{first, failed}, failures: []string{
			"the app starts on MariaDB at 1000000", "usage flush at 1000000",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var failedChecks []string
			for _, c := range growthChecks(tt.rows) {
				if !c.Pass {
					failedChecks = append(failedChecks, c.Name)
				}
			}
			if len(failedChecks) != len(tt.failures) {
				t.Fatalf("failed checks %q, want %d failures: %q", failedChecks, len(tt.failures), tt.failures)
			}
			for i, want := range tt.failures {
				if !strings.Contains(failedChecks[i], want) {
					t.Errorf("failure %d is %q, want one about %q", i, failedChecks[i], want)
				}
			}
		})
	}
	// The smallest size is the base: it is not compared with itself.
	for _, c := range growthChecks([]GrowthRow{first}) {
		if strings.Contains(c.Name, "throughput") {
			t.Errorf("a one-size run checks %q", c.Name)
		}
	}
}

func TestPrintGrowth(t *testing.T) {
	first := growthRow(10000, 5000, 6000, 60, 1200*time.Millisecond, 1500*time.Microsecond, 400*time.Millisecond)
	second := growthRow(100000, 4000, 6600, 300, 4*time.Second, 12*time.Millisecond, 2*time.Second)
	second.StartupSQLite = 0 // above -sqlite-max
	second.Issue.Repeated = 12
	second.AppLog = logProblems{Lines: 1, Messages: []string{"WARN flushing usage counts: err=timeout"}}
	failed := GrowthRow{Measurements: Measurements{Domains: 1000000, Seeding: 150 * time.Second}, Failed: "app-mysql exited before it was ready",
		Refresh: dbTiming{Took: 40 * time.Millisecond, Rows: 2000}, Flush: dbTiming{Took: 5 * time.Second, Rows: 100000}}
	var b bytes.Buffer
	printGrowth(&b, []GrowthRow{first, second, failed})
	want := `  domains   seeding  start-up MariaDB  start-up SQLite  peak RSS  POST /v1/token req/s  of 10000  GET /v1/test req/s  of 10000  refresh (rows)  flush (domains)
    10000    3.000s            1.200s           0.600s   60.0 MB                  5000      1.00                6000      1.00      1.5ms (20)  400.0ms (10000)
   100000    3.000s            4.000s          not run  300.0 MB                  4000      0.80                6600      1.10    12.0ms (200)  2.000s (100000)
  1000000  150.000s     did not start                -         -                     -         -                   -         -   40.0ms (2000)  5.000s (100000)

the machine during each size's run (a ceiling that moves between sizes moves the shares above too):
  domains  ceiling req/s  token of ceiling  test of ceiling  other processes  repeated secrets
    10000          20000              0.25             0.30               0%                 0
   100000          20000              0.20             0.33               0%                12

targets:
  PASS  app peak RSS at 10000 < 400 MB                                60.0 MB
  PASS  start-up to ready on MariaDB at 10000 < 10s                   1.200s
  PASS  refresh query at 10000 < 50ms (rows read)                     1.5ms (20)
  PASS  usage flush at 10000 < 0.25 of USAGE_FLUSH (15s) (domains)    400.0ms (10000)
  PASS  errors at 10000 = 0                                           0
  PASS  the app logged no warning or error at 10000                   0 lines
  PASS  POST /v1/token throughput at 100000 >= 0.8 of 10000's         0.80
  PASS  GET /v1/test throughput at 100000 >= 0.8 of 10000's           1.10
  PASS  app peak RSS at 100000 < 400 MB                               300.0 MB
  PASS  start-up to ready on MariaDB at 100000 < 10s                  4.000s
  PASS  refresh query at 100000 < 50ms (rows read)                    12.0ms (200)
  PASS  usage flush at 100000 < 0.25 of USAGE_FLUSH (15s) (domains)   2.000s (100000)
  PASS  errors at 100000 = 0                                          0
  FAIL  the app logged no warning or error at 100000                  1 lines
  FAIL  the app starts on MariaDB at 1000000                          did not start
  PASS  refresh query at 1000000 < 50ms (rows read)                   40.0ms (2000)
  FAIL  usage flush at 1000000 < 0.25 of USAGE_FLUSH (15s) (domains)  5.000s (100000)
        100000 domains, app log: WARN flushing usage counts: err=timeout
        1000000 domains, MariaDB: app-mysql exited before it was ready
`
	if got := b.String(); got != want {
		t.Errorf("printGrowth wrote\n%s\nwant\n%s", got, want)
	}
}

func TestMarkChangedArgs(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		n, marked int
		apart     int64 // microseconds
	}{
		{1000000, 10000, 6000}, // 10,000 changes a minute, 6 ms apart
		{100000, 1000, 60000},
		{99, 0, 60000000},
	}
	for _, tt := range tests {
		marked, args := markChangedArgs(now, tt.n)
		want := []any{now, changedShare, tt.apart, changedShare}
		if marked != tt.marked || !reflect.DeepEqual(args, want) {
			t.Errorf("markChangedArgs(%d) = %d, %v; want %d, %v", tt.n, marked, args, tt.marked, want)
		}
		if strings.Count(markChangedSQL, "?") != len(args) {
			t.Errorf("markChangedSQL has %d placeholders for %d arguments", strings.Count(markChangedSQL, "?"), len(args))
		}
	}
}

func TestUsageDeltas(t *testing.T) {
	now := time.Now()
	d := usageDeltas(1000, 300, now)
	if len(d) != 300 {
		t.Fatalf("%d domains' deltas, want 300", len(d))
	}
	for id, u := range d {
		if id < 1 || id > 1000 || u.Issued < 1 || !u.LastIssued.Equal(now) || (u.Refused > 0) != u.LastRefused.Equal(now) {
			t.Errorf("domain %d: %+v", id, u)
		}
	}
	if all := usageDeltas(50, 50, now); len(all) != 50 {
		t.Errorf("every one of 50 domains: %d deltas", len(all))
	}
}

func TestDBTimingString(t *testing.T) {
	tests := []struct {
		d    dbTiming
		want string
	}{
		{dbTiming{Took: 12300 * time.Microsecond, Rows: 200}, "12.3ms (200)"},
		{dbTiming{Took: 2500 * time.Millisecond, Rows: 100000}, "2.500s (100000)"},
		{dbTiming{Took: 15 * time.Second, Rows: 100000, TimedOut: true}, "timed out after 15.000s (100000)"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%+v = %q, want %q", tt.d, got, tt.want)
		}
	}
	// A flush cut off at its time limit misses the target whatever the limit.
	r := growthRow(10000, 5000, 6000, 60, time.Second, time.Millisecond, time.Second)
	r.Flush.TimedOut = true
	for _, c := range growthChecks([]GrowthRow{r}) {
		if strings.Contains(c.Name, "usage flush") && c.Pass {
			t.Errorf("%s passed with a flush that timed out", c.Name)
		}
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("app-mysql not ready after 2m0s"), "app-mysql not ready after 2m0s"},
		{errors.New("app-mysql exited before it was ready:\n{\"level\":\"INFO\",\"msg\":\"starting\"}\nnodebird: loading the domains: context deadline exceeded\n"),
			"app-mysql exited before it was ready: nodebird: loading the domains: context deadline exceeded"},
		{errors.New("app-mysql exited before it was ready:\n" + strings.Repeat("x", 400)),
			"app-mysql exited before it was ready: " + strings.Repeat("x", 300) + "..."},
	}
	for _, tt := range tests {
		if got := failure(tt.err); got != tt.want {
			t.Errorf("failure(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	if got := median([]time.Duration{5, 1, 4, 2, 3}); got != 3 {
		t.Errorf("median = %d, want 3", got)
	}
	if got := median(nil); got != 0 {
		t.Errorf("median of none = %d, want 0", got)
	}
}

// TestTimeDatabase runs the growth run's timings on a seeded MariaDB
// database: the refresh query finds the domains marked changed within its
// window, and the flush covers every domain of a small table.
func TestTimeDatabase(t *testing.T) {
	if testdb.MySQLServer(t) == "" {
		t.Skip("MariaDB/MySQL only, as the growth run")
	}
	const n = 3000
	o := testdb.Open(t, "mysql")
	ctx := context.Background()
	if err := loadseed.Seed(ctx, o, n, filepath.Join(t.TempDir(), "secrets.txt")); err != nil {
		t.Fatal(err)
	}
	var row GrowthRow
	if err := timeDatabase(ctx, o.DSN, n, &row); err != nil {
		t.Fatal(err)
	}
	// 30 domains changed over the last minute, 2 s apart; the window is
	// CACHE_REFRESH plus the overlap, 12 s: 6 of them, give or take the edge.
	if want := int((cacheRefresh + cacheOverlap) / (time.Minute / (n / changedShare))); row.Refresh.Rows < want-1 || row.Refresh.Rows > want+1 {
		t.Errorf("the refresh query read %d rows, want about %d", row.Refresh.Rows, want)
	}
	if row.Refresh.Took <= 0 || row.Flush.Took <= 0 || row.Flush.Rows != n {
		t.Errorf("timings %+v, %+v; want both measured, the flush over %d domains", row.Refresh, row.Flush, n)
	}
}
