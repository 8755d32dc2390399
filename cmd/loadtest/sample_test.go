package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/secret"
)

func TestWriteSecretRequests(t *testing.T) {
	secrets := []string{secret.New(), secret.New(), secret.New()}
	path := filepath.Join(t.TempDir(), "requests.http")
	size, err := writeSecretRequests(path, "127.0.0.1:8002", "/v1/token", secrets)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size*len(secrets) {
		t.Fatalf("%d bytes for %d requests of %d", len(b), len(secrets), size)
	}
	// Each request, found at its offset as loadtest.lua finds it, is a
	// well-formed POST /v1/token carrying its secret, and nothing more.
	for i, s := range secrets {
		rd := bufio.NewReader(bytes.NewReader(b[i*size : (i+1)*size]))
		req, err := http.ReadRequest(rd)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var body struct {
			ClientSecret string `json:"clientSecret"`
		}
		raw, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(raw, &body); err != nil || req.Method != "POST" || req.URL.Path != "/v1/token" ||
			req.Host != "127.0.0.1:8002" || req.Header.Get("Content-Type") != "application/json" || body.ClientSecret != s {
			t.Errorf("request %d: %s %s on %s (%s) body %q (%v); want POST /v1/token carrying %s",
				i, req.Method, req.URL.Path, req.Host, req.Header.Get("Content-Type"), raw, err, s)
		}
		if rest, _ := io.ReadAll(rd); len(rest) != 0 {
			t.Errorf("request %d is followed by %q", i, rest)
		}
	}
	if _, err := writeSecretRequests(path, "h", "/v1/token", []string{secret.New(), "nbk_short"}); err == nil {
		t.Error("writeSecretRequests accepted a secret of another length")
	}
	if _, err := writeSecretRequests(path, "h", "/v1/token", nil); err == nil {
		t.Error("writeSecretRequests accepted no secrets")
	}
}

func TestDrawSecretsIsUniform(t *testing.T) {
	secrets := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	const n = 200000
	counts := map[string]int{}
	for _, s := range drawSecrets(secrets, n) {
		counts[s]++
	}
	if len(counts) != len(secrets) {
		t.Fatalf("drew %d distinct secrets of %d: %v", len(counts), len(secrets), counts)
	}
	for s, c := range counts { // 20,000 expected each; 5 % is over 10 standard deviations
		if c < n/len(secrets)*95/100 || c > n/len(secrets)*105/100 {
			t.Errorf("%s drawn %d times of %d, want about %d", s, c, n, n/len(secrets))
		}
	}
}

func TestSampleSize(t *testing.T) {
	tests := []struct {
		d    time.Duration
		rps  float64
		want int
	}{
		{2 * time.Second, 0, minSample},   // a warm-up: nothing known yet
		{5 * time.Second, 500, minSample}, // a slow target
		{5 * time.Second, 6000, 60000},    // twice what the run should send
		{10 * time.Second, 25000.5, 500010},
	}
	for _, tt := range tests {
		if got := sampleSize(tt.d, tt.rps); got != tt.want {
			t.Errorf("sampleSize(%s, %v) = %d, want %d", tt.d, tt.rps, got, tt.want)
		}
	}
}

func TestMergeAddsRepeated(t *testing.T) {
	if got := merge([]Result{{Repeated: 3}, {}, {Repeated: 4}}).Repeated; got != 7 {
		t.Errorf("merged Repeated = %d, want 7", got)
	}
}

// TestIssueTokensForDomainsDrawnUniformly: the tokens of GET /v1/test
// belong to distinct domains drawn from all of them, not the first ones.
func TestIssueTokensForDomainsDrawnUniformly(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ClientSecret string `json:"clientSecret"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		asked[body.ClientSecret]++
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"token": "token-of-" + body.ClientSecret})
	}))
	defer srv.Close()
	secrets := make([]string, 1000)
	for i := range secrets {
		secrets[i] = secret.New()
	}
	tests := []struct {
		name     string
		n        int
		distinct int
	}{
		{"fewer tokens than domains", 100, 100},
		{"more tokens than domains: each domain in turn", 2500, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clear(asked)
			path := filepath.Join(t.TempDir(), "tokens.txt")
			if err := issueTokens(context.Background(), srv.URL, secrets, tt.n, path); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			if lines := strings.Count(string(b), "\n"); lines != tt.n || len(asked) != tt.distinct {
				t.Fatalf("%d tokens for %d distinct secrets, want %d for %d", lines, len(asked), tt.n, tt.distinct)
			}
			for s, times := range asked {
				if most := (tt.n + len(secrets) - 1) / len(secrets); times > most {
					t.Errorf("secret %s asked %d times, want at most %d", s, times, most)
				}
			}
			firsts := 0
			for _, s := range secrets[:tt.distinct] {
				if asked[s] > 0 {
					firsts++
				}
			}
			if tt.distinct < len(secrets) && firsts == tt.distinct {
				t.Errorf("the tokens are for the first %d domains, not drawn from all", tt.distinct)
			}
			if !slices.ContainsFunc(strings.Split(string(b), "\n"), func(l string) bool { return strings.HasPrefix(l, "token-of-nbk_") }) {
				t.Errorf("the tokens file holds no token: %.100q", b)
			}
		})
	}
}
