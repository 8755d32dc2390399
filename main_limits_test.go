package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A slow client cannot hold a connection open: the server closes it once
// the header or request read timeout passes.
func TestSlowClientsAreCutOff(t *testing.T) {
	env := baseEnv(t.TempDir())
	env["HTTP_READ_HEADER_TIMEOUT"] = "300ms"
	env["HTTP_READ_TIMEOUT"] = "600ms"
	in := start(t, env)

	cases := []struct {
		name  string
		first string // sent at once; then the client goes quiet
	}{
		{"headers never finish", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		{"body never finishes", "POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"clientSecret\":"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", in.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.first); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			// Whatever the server answers (nothing, 408 or 400), it must end the
			// connection: reading reaches EOF or a reset, not our own deadline.
			_, err = io.ReadAll(bufio.NewReader(conn))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %s", time.Since(start))
			}
			t.Logf("closed by the server after %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestOversizedHeadersRefused(t *testing.T) {
	in := start(t, baseEnv(t.TempDir()))
	conn, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"
	go io.WriteString(conn, big)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(line, "431") {
		t.Fatalf("64 KiB of headers: %q %v, want 431", line, err)
	}
}
