package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/nodebird/nodebird-api/internal/config"
)

// TestLogLineSurvivesSIGKILL: a line that was logged is written, also
// when the process dies right after (no buffer to flush). The test runs
// itself as a child that logs with the production logger and kills itself.
func TestLogLineSurvivesSIGKILL(t *testing.T) {
	if os.Getenv("NODEBIRD_LOG_CHILD") == "1" {
		newLogger(&config.Config{Env: "production"}, os.Stderr).Info("last words", "n", 42)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never reached
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLogLineSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "NODEBIRD_LOG_CHILD=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed by SIGKILL: %v\n%s", err, stderr.String())
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(stderr.Bytes()), &line); err != nil {
		t.Fatalf("the child's stderr is not one JSON line: %v\n%q", err, stderr.String())
	}
	if line["msg"] != "last words" || line["n"] != float64(42) || line["level"] != "INFO" {
		t.Errorf("logged %v", line)
	}
}

// TestLoggerFormat: JSON lines in production, slog's text elsewhere.
func TestLoggerFormat(t *testing.T) {
	for env, want := range map[string]string{"production": `{"time":`, "development": `time=`} {
		var b bytes.Buffer
		newLogger(&config.Config{Env: env}, &b).Info("hello")
		if !bytes.HasPrefix(b.Bytes(), []byte(want)) {
			t.Errorf("%s: %q, want it to start with %q", env, b.String(), want)
		}
	}
}
