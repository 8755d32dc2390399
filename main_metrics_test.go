package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var jsonMetricsAddrRe = regexp.MustCompile(`"msg":"serving metrics","addr":"([^"]+)"`)

// TestProductionMetricsAreNotPublic: a production start with the defaults
// does not show /metrics on the app's port, and says so; with
// METRICS_ADDR and METRICS_TOKEN the metrics listener asks for the token.
func TestProductionMetricsAreNotPublic(t *testing.T) {
	const token = "9d3f6a0c2e5b8d1f4a7c0e3b6d9f2a5c8e1b4d7f0a3c6e9b2d5f8a1c4e7b0d3f"
	prod := func() map[string]string {
		env := baseEnv(t.TempDir())
		env["APP_ENV"], env["BCRYPT_COST"] = "production", "12"
		env["JWT_SECRET"] = "49089fc4dfd3ae3b3ce23cf739a89f3aa8c8beb02bac30fda9b4422f2cf1d865"
		env["SESSION_SECRET"] = "e0b6a1c7f3d94e28b5a0c6d1f7e3b9a4c8d2e6f0a5b1c7d3e9f4a0b6c2d8e1f7"
		productionMail(env)
		return env
	}
	get := func(url, auth string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}

	in := start(t, prod())
	if s := get("http://"+in.addr+"/metrics", ""); s != 404 {
		t.Errorf("production, defaults: /metrics on the app's port: %d, want 404", s)
	}
	if !strings.Contains(in.log(t), "metrics not served") {
		t.Errorf("the start does not say where the metrics went:\n%s", in.log(t))
	}

	env := prod()
	env["METRICS_ADDR"], env["METRICS_TOKEN"] = "127.0.0.1:0", token
	in = start(t, env)
	m := jsonMetricsAddrRe.FindStringSubmatch(in.log(t))
	if m == nil {
		t.Fatalf("metrics address not logged:\n%s", in.log(t))
	}
	for _, tc := range []struct {
		url, auth string
		want      int
	}{
		{"http://" + in.addr + "/metrics", "Bearer " + token, 404},
		{"http://" + m[1] + "/metrics", "", 401},
		{"http://" + m[1] + "/metrics", "Bearer " + token, 200},
	} {
		if s := get(tc.url, tc.auth); s != tc.want {
			t.Errorf("GET %s (%q): %d, want %d", tc.url, tc.auth, s, tc.want)
		}
	}
}
