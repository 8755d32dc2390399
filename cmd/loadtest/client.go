package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

var httpClient = &http.Client{Timeout: 10 * time.Second}

// issue exchanges a client secret for a token with POST /v1/token.
func issue(ctx context.Context, base, secret string) (string, error) {
	body, _ := json.Marshal(map[string]string{"clientSecret": secret})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/token", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	var out struct {
		Token string `json:"token"`
	}
	if err := call(req, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", errors.New("POST /v1/token answered without a token")
	}
	return out.Token, nil
}

// call sends req and decodes a 200 JSON answer into out.
func call(req *http.Request, out any) error {
	res, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, res.StatusCode, trimmed(b))
	}
	return json.Unmarshal(b, out)
}

// smokeTest checks, before any load, that a seeded secret gets a token and
// that the token is accepted with the claims of that secret's domain, so
// that the load test measures real answers, not fast errors.
func smokeTest(ctx context.Context, base, secret string) error {
	tok, err := issue(ctx, base, secret)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/test", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	var claims struct {
		ID       uint64 `json:"id"`
		DomainID uint64 `json:"did"`
	}
	if err := call(req, &claims); err != nil {
		return err
	}
	if claims.ID == 0 || claims.DomainID == 0 {
		return errors.New("GET /v1/test answered without the id and did claims")
	}
	return nil
}

// issueTokens gets a token for each of n secrets drawn uniformly, without
// replacement (all of them, in turn, if there are fewer), and writes them to
// path, one a line.
func issueTokens(ctx context.Context, base string, secrets []string, n int, path string) error {
	step(fmt.Sprintf("issuing %d tokens for GET /v1/test", n))
	order := rand.Perm(len(secrets))
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				tokens[i], errs[i] = issue(ctx, base, secrets[order[i%len(order)]])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("issuing the tokens: %w", err)
		}
	}
	return writeLines(path, tokens)
}

// trimmed is a short form of a response body for error messages.
func trimmed(b []byte) string { return strings.TrimSpace(string(b[:min(len(b), 200)])) }

// writeLines writes one value a line to path, readable by its owner only.
func writeLines(path string, lines []string) error {
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}
