package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/client"
	"github.com/nodebird/nodebird-api/internal/config"
	"github.com/nodebird/nodebird-api/internal/testapp"
	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/internal/testutil"
)

// The client against the real application (handlers.New and Run on a free
// port), on SQLite and on MariaDB when NODEBIRD_TEST_MYSQL_DSN is set.

func forEachDB(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range testdb.Targets(t) {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// counter counts the requests the client sends, by method and path.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

const tokenCalls = "POST /v1/token"

func newClient(app *testapp.App, secret string, opts ...client.Option) (*client.Client, *counter) {
	cnt := &counter{}
	opts = append([]client.Option{client.WithHTTPClient(&http.Client{Transport: cnt, Timeout: 10 * time.Second})}, opts...)
	return client.New(app.URL, secret, opts...), cnt
}

func apiError(t *testing.T, err error, status int, code string) *client.APIError {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code || ae.Message == "" {
		t.Fatalf("error %v, want an *APIError %d %s with a message", err, status, code)
	}
	return ae
}

// TestClientPostsAndPages: MyPosts and PostsByHashtag through every page,
// with one token for all the calls (concurrent ones included).
func TestClientPostsAndPages(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		app := testapp.Start(t, driver)
		alice, _, sec := app.Domain(t, "alice@example.com", "alice", "alice.example.com", "free")
		bob, _, _ := app.Domain(t, "bob@example.com", "bob", "bob.example.com", "free")
		var want []uint64
		for i := range 25 {
			want = append(want, app.Post(t, alice, fmt.Sprintf("post %d #노드", i)).ID)
		}
		app.Post(t, bob, "bob's #노드 #Go")
		c, cnt := newClient(app, sec)
		ctx := context.Background()

		// Every page of MyPosts, newest first, each post once.
		var got []uint64
		var pages int
		for opts := (client.ListOptions{Limit: 10}); ; {
			p, err := c.MyPosts(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, post := range p.Posts {
				if post.UserID != alice || post.Img != nil || post.CreatedAt.IsZero() || len(post.Hashtags) != 1 || post.Hashtags[0] != "노드" {
					t.Errorf("post %+v", post)
				}
				got = append(got, post.ID)
			}
			if p.Next == "" {
				break
			}
			opts.Cursor = p.Next
		}
		if pages != 3 || len(got) != 25 {
			t.Fatalf("%d pages, %d posts; want 3 and 25", pages, len(got))
		}
		for i, id := range got {
			if id != want[len(want)-1-i] {
				t.Fatalf("posts %v, want newest first %v", got, want)
			}
		}

		// A hashtag: everyone's posts, the tag folded by the API.
		p, err := c.PostsByHashtag(ctx, "#GO", client.ListOptions{})
		if err != nil || len(p.Posts) != 1 || p.Posts[0].UserID != bob || p.Next != "" {
			t.Fatalf("#GO: %+v %v", p, err)
		}
		if p, err = c.PostsByHashtag(ctx, "노드", client.ListOptions{Limit: 100}); err != nil || len(p.Posts) != 26 {
			t.Fatalf("노드: %v, %v", p, err)
		}
		_, err = c.PostsByHashtag(ctx, "nothing", client.ListOptions{})
		apiError(t, err, 404, "hashtag_not_found")
		_, err = c.MyPosts(ctx, client.ListOptions{Limit: 101})
		apiError(t, err, 400, "invalid_limit")

		// Concurrent calls share the token.
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := c.MyPosts(ctx, client.ListOptions{Limit: 1}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := cnt.get(tokenCalls); n != 1 {
			t.Errorf("%d token requests for all these calls, want 1 (cached)", n)
		}

		// Korean messages when asked; the ids do not change.
		ko, _ := newClient(app, sec, client.WithLanguage("ko"))
		_, err = ko.PostsByHashtag(ctx, "nothing", client.ListOptions{})
		if ae := apiError(t, err, 404, "hashtag_not_found"); ae.Message != "검색 결과가 없습니다" {
			t.Errorf("Korean message %q", ae.Message)
		}
	})
}

// TestClientTokenCacheAndRenewal: the token is kept until shortly before
// it expires, then renewed; a token the server finds expired (419: here
// the client's clock is behind) is renewed once, one renewal for all the
// calls that met it, and the call retried.
func TestClientTokenCacheAndRenewal(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		app := testapp.Start(t, driver, func(c *config.Config) { c.TokenTTL = time.Second })
		_, _, sec := app.Domain(t, "carol@example.com", "carol", "carol.example.com", "free")
		ctx := context.Background()

		// Kept, then renewed before it expires (a quarter of a 1s life).
		c, cnt := newClient(app, sec)
		first, err := c.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := c.Token(ctx); again != first || cnt.get(tokenCalls) != 1 {
			t.Fatalf("a fresh token was not reused: %d requests", cnt.get(tokenCalls))
		}
		time.Sleep(800 * time.Millisecond)
		if next, err := c.Token(ctx); err != nil || next == first || cnt.get(tokenCalls) != 2 {
			t.Fatalf("a token near its expiry was not renewed: %v, %d requests", err, cnt.get(tokenCalls))
		}

		// 419: the client's clock stands still, the server's does not.
		frozen := time.Now()
		c, cnt = newClient(app, sec, client.WithClock(func() time.Time { return frozen }))
		if _, err := c.MyPosts(ctx, client.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		tok, _ := c.Token(ctx)
		time.Sleep(3500 * time.Millisecond) // past exp and the server's 2s of leeway
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if _, err := c.MyPosts(ctx, client.ListOptions{}); err != nil {
					t.Errorf("after the token expired: %v", err)
				}
			})
		}
		wg.Wait()
		if n := cnt.get(tokenCalls); n != 2 {
			t.Errorf("%d token requests, want 2 (the first, then one renewal on 419)", n)
		}
		// 1, then at least one answered 419 and retried; a call that set out
		// after the renewal went with the new token at once.
		if n := cnt.get("GET /v1/posts/my"); n < 1+4+1 || n > 1+4+4 {
			t.Errorf("%d calls of /v1/posts/my, want 6 to 9 (each retried at most once)", n)
		}
		if renewed, _ := c.Token(ctx); renewed == tok {
			t.Error("the expired token is still cached")
		}
	})
}

// TestClientRateLimited: a 429 is an *APIError with the wait the API asked
// for; the client does not retry it.
func TestClientRateLimited(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		app := testapp.Start(t, driver, func(c *config.Config) { c.RateLimits, c.VerifyRPM = true, 3 })
		_, _, sec := app.Domain(t, "dave@example.com", "dave", "dave.example.com", "free")
		c, cnt := newClient(app, sec)
		ctx := context.Background()
		for range 3 {
			if _, err := c.MyPosts(ctx, client.ListOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := c.MyPosts(ctx, client.ListOptions{})
		ae := apiError(t, err, 429, "rate_limited")
		if ae.RetryAfter <= 0 || ae.RetryAfter > time.Minute {
			t.Errorf("RetryAfter %v, want within the minute's window", ae.RetryAfter)
		}
		if n := cnt.get("GET /v1/posts/my"); n != 4 {
			t.Errorf("%d calls, want 4 (a 429 is not retried)", n)
		}
	})
}

// TestClientRevokedDomain: once an administrator revokes the domain, its
// cached token and a new token request are both refused domain_revoked.
func TestClientRevokedDomain(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		app := testapp.Start(t, driver)
		_, did, sec := app.Domain(t, "erin@example.com", "erin", "erin.example.com", "free")
		c, _ := newClient(app, sec)
		ctx := context.Background()
		if _, err := c.MyPosts(ctx, client.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		app.Revoke(t, did)
		var err error
		if !testutil.Eventually(5*time.Second, func() bool {
			_, err = c.MyPosts(ctx, client.ListOptions{})
			return err != nil
		}) {
			t.Fatal("the revoked domain's token still works")
		}
		apiError(t, err, 401, "domain_revoked")
		fresh, _ := newClient(app, sec)
		_, err = fresh.Token(ctx)
		apiError(t, err, 401, "domain_revoked")

		unknown, _ := newClient(app, "nbk_short")
		_, err = unknown.MyPosts(ctx, client.ListOptions{})
		apiError(t, err, 401, "malformed_secret")
	})
}

// TestClientUnavailableAndContext: a 503 is retried a bounded number of
// times (its Retry-After capped), then returned; a context cancelled
// before or during the waits ends the call with the context's error.
func TestClientUnavailableAndContext(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		app := testapp.Start(t, driver)
		_, _, sec := app.Domain(t, "frank@example.com", "frank", "frank.example.com", "free")
		c, cnt := newClient(app, sec, client.WithRetries(2, 50*time.Millisecond))
		ctx := context.Background()
		if _, err := c.MyPosts(ctx, client.ListOptions{}); err != nil {
			t.Fatal(err)
		}

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.MyPosts(cancelled, client.ListOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("a cancelled context: %v", err)
		}
		if _, err := client.New(app.URL, sec).Token(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("a cancelled context, token: %v", err)
		}

		// The database goes away: the posts route answers 503 (Retry-After
		// 5, capped at 50ms here), tried three times in all.
		sqlDB, _ := app.DB.DB()
		sqlDB.Close()
		before := cnt.get("GET /v1/posts/my")
		start := time.Now()
		_, err := c.MyPosts(ctx, client.ListOptions{})
		ae := apiError(t, err, 503, "unavailable")
		if ae.RetryAfter != 5*time.Second {
			t.Errorf("RetryAfter %v, want the API's 5s", ae.RetryAfter)
		}
		if n := cnt.get("GET /v1/posts/my") - before; n != 3 {
			t.Errorf("%d attempts, want 3 (one and two retries)", n)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v: the waits were not capped", d)
		}

		// With the default cap (5s), a deadline ends the wait at once.
		patient, _ := newClient(app, sec)
		deadline, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start = time.Now()
		if _, err := patient.MyPosts(deadline, client.ListOptions{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a deadline during the backoff: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the deadline was not honoured: %v", d)
		}
	})
}
