package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// logProblems are the warnings and errors an app logged: how many lines
// and each distinct message (with its error) once.
type logProblems struct {
	Lines    int
	Messages []string
}

// scanAppLog reads the app's JSON log (APP_ENV=production) for lines at
// level WARN or ERROR (which includes requests answered with a 5xx).
func scanAppLog(r io.Reader) (logProblems, error) {
	var p logProblems
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue // not a log line (a panic trace, say): it shows in the crash report
		}
		if l["level"] != "WARN" && l["level"] != "ERROR" {
			continue
		}
		p.Lines++
		if m := problem(l); !seen[m] {
			seen[m] = true
			p.Messages = append(p.Messages, m)
		}
	}
	slices.Sort(p.Messages)
	return p, sc.Err()
}

// volatile are the attributes that differ from one line of the same
// problem to the next.
var volatile = map[string]bool{"time": true, "level": true, "msg": true, "request_id": true, "duration": true, "ip": true}

// problem is a log line as "LEVEL msg: key=value ..." without its volatile
// attributes, so that repeats of one problem read the same.
func problem(l map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %v:", l["level"], l["msg"])
	for _, k := range slices.Sorted(maps.Keys(l)) {
		if !volatile[k] {
			fmt.Fprintf(&b, " %s=%v", k, l[k])
		}
	}
	return b.String()
}

// problems scans the log of c.
func (c *child) problems() (logProblems, error) {
	f, err := os.Open(c.logPath)
	if err != nil {
		return logProblems{}, err
	}
	defer f.Close()
	p, err := scanAppLog(f)
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", c.logPath, err)
	}
	return p, nil
}
