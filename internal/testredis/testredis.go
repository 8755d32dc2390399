// Package testredis gives tests a Redis of their own: a redis-server
// started on a free loopback port, without persistence, stopped when the
// test ends. Without the redis-server binary the test is skipped (Debian
// package redis-server); under CI=true it fails instead, as .ci/run
// installs it.
package testredis

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Start runs a redis-server for this test and returns its address
// (127.0.0.1:port).
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed: CI must run the Redis tests (see .ci/run)")
		}
		t.Skip("Redis tests skipped: install redis-server (Debian package redis-server) to run them")
	}
	for attempt := 0; ; attempt++ {
		addr, err := start(t, bin)
		if err == nil {
			return addr
		}
		if attempt == 4 {
			t.Fatalf("starting redis-server: %v", err)
		}
	}
}

// start runs redis-server on a port that was free a moment ago.
func start(t testing.TB, bin string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		select {
		case err := <-exited: // the port was taken meanwhile, say
			return "", err
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return "", err
		}
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return addr, nil
}

// CommandCalls is how many times Redis at addr ran each command (from INFO
// commandstats: "evalsha", "ping", ...), to count round trips from the
// server's side. Commands run by scripts count too, and this call's own
// connection adds a HELLO and an INFO.
func CommandCalls(t testing.TB, addr string) map[string]int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSuffix(line, "\r")
		// cmdstat_evalsha:calls=12,usec=...
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		out[name], _ = strconv.Atoi(n)
	}
	return out
}
