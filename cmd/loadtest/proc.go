package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// repoRoot is the directory of the go.mod enclosing the working directory.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the load test from inside the nodebird-api repository")
	}
	return filepath.Dir(mod), nil
}

// buildApp compiles the application into dir and returns the binary's path.
func buildApp(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "nodebird")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the app: %v\n%s", err, out)
	}
	return bin, nil
}

// freePort asks the kernel for a TCP port nobody listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// randomHex returns n random bytes in hex, for the app's secrets.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// child is a server process started by the load test.
type child struct {
	name    string
	cmd     *exec.Cmd
	URL     string
	logPath string
	exited  chan struct{}
	// Started is when the process was started; Ready when it first answered.
	Started, Ready time.Time
}

// startChild runs bin with args and exactly the settings in env (plus PATH
// and HOME), in dir, logging to dir/<name>.log, and waits up to limit until
// GET readyPath answers 200.
func startChild(ctx context.Context, name, bin string, args []string, env map[string]string, dir string, port int, readyPath string, limit time.Duration) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir // no stray .env is read
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	// The Go runtime's own settings reach the children, so that a run can
	// compare, say, GOGC=400 with the default (and GODEBUG=gctrace=1 puts
	// the collector's trace, live heap included, in the app's log).
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &child{name: name, cmd: cmd, URL: "http://127.0.0.1:" + strconv.Itoa(port), logPath: logPath, exited: make(chan struct{})}
	c.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	if err := c.waitReady(ctx, readyPath, limit); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitReady polls path every few milliseconds until it answers 200.
func (c *child) waitReady(ctx context.Context, path string, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if res, err := client.Get(c.URL + path); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				c.Ready = time.Now()
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited before it was ready:\n%s", c.name, c.LogTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s:\n%s", c.name, limit, c.LogTail())
}

// Pid is the process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (c *child) Alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// PeakRSS is the process's resident set high-water mark (VmHWM).
func (c *child) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid()))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

// parseVmHWM reads VmHWM, in bytes, from the text of /proc/<pid>/status.
func parseVmHWM(status string) (int64, error) {
	for l := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected VmHWM line %q", strings.TrimSpace(l))
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

// Stop asks the process to shut down (SIGTERM) and kills it after 20 s.
func (c *child) Stop() {
	if !c.Alive() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// LogTail is the end of the process's log, for error messages.
func (c *child) LogTail() string {
	b, _ := os.ReadFile(c.logPath)
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}

// ceilingBody is what the ceiling server answers: a small JSON body, like
// the API's smallest responses.
var ceilingBody = []byte(`{"code":200,"message":"ok"}` + "\n")

// serveCeiling is the -serve-ceiling mode: a bare net/http server, the
// fastest a Go HTTP handler can answer on this machine.
func serveCeiling(addr string) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ceilingBody)
	})
	return http.ListenAndServe(addr, h)
}
