package handlers

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
)

// requestLines returns the JSON request lines logged so far.
func (l *logBuffer) requestLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// waitRequestID waits for the request line with request id rid.
func (l *logBuffer) waitRequestID(t *testing.T, rid string) map[string]any {
	t.Helper()
	var found map[string]any
	if !testutil.Eventually(5*time.Second, func() bool {
		for _, line := range l.requestLines(t) {
			if line["request_id"] == rid {
				found = line
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no request line with request_id %q:\n%s", rid, l.String())
	}
	return found
}

// newOpsServer starts the whole application on db (a fresh one of driver
// when db is nil), logging JSON into the returned buffer.
func newOpsServer(t *testing.T, driver string, db *gorm.DB, tweak ...func(*config.Config)) (*testServer, *logBuffer) {
	t.Helper()
	cfg := testConfig()
	cfg.Metrics = true
	for _, f := range tweak {
		f(cfg)
	}
	if db == nil {
		db = testdb.Fresh(t, driver)
	}
	s := startApp(t, db, cfg, true)
	return s, s.log
}

// metricValue finds one sample in a Prometheus text exposition: name with
// exactly the given labels. ok is false when there is no such sample.
func metricValue(exposition, name string, labels map[string]string) (v float64, ok bool) {
	for _, line := range strings.Split(exposition, "\n") {
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(name):]
		var lbl string
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			lbl, rest = rest[1:end], rest[end+1:]
		}
		if !strings.HasPrefix(rest, " ") || !sameLabels(lbl, labels) {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		return f, err == nil
	}
	return 0, false
}

var labelRe = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

func sameLabels(s string, want map[string]string) bool {
	got := map[string]string{}
	for _, m := range labelRe.FindAllStringSubmatch(s, -1) {
		got[m[1]] = m[2]
	}
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
