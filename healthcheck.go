package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheck asks the instance on this machine whether it is ready (GET
// /readyz on PORT, or the URL given) and returns the exit status: 0 when
// it answers 200 within 3 s, 1 otherwise. It is the container's health
// check: the image has no shell, curl or wget (docker-compose.scale.yml).
func healthcheck(args []string, env func(string) (string, bool), out io.Writer) int {
	url := "http://127.0.0.1:8002/readyz"
	if port, ok := env("PORT"); ok && port != "" {
		url = "http://127.0.0.1:" + port + "/readyz"
	}
	if len(args) > 0 {
		url = args[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintln(out, "healthcheck:", err)
		return 1
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(out, "healthcheck:", err)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(out, "healthcheck: %s answered %d %s\n", url, res.StatusCode, body)
		return 1
	}
	return 0
}
