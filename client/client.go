// Package client is a Go client for the NodeBird API (/v1), for the sites
// that call it: it exchanges the site's client secret for a token, keeps
// the token until shortly before it expires, renews it once when the API
// answers 419 (expired) and retries the call, retries 503 (the database
// did not answer) a few times with a bounded backoff, and returns every
// refusal as an *APIError carrying the API's error id.
//
//	c := client.New("https://api.nodebird.example", os.Getenv("CLIENT_SECRET"))
//	page, err := c.MyPosts(ctx, client.ListOptions{Limit: 20})
//	var apiErr *client.APIError
//	if errors.As(err, &apiErr) && apiErr.Code == "domain_revoked" { ... }
//
// A Client is safe for concurrent use: calls share the cached token, and
// only one renewal runs at a time.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client calls one NodeBird API server with one domain's client secret.
type Client struct {
	base   string // without a trailing slash
	secret string
	http   *http.Client
	lang   string // Accept-Language, if set

	retries  int           // extra attempts after a 503
	maxWait  time.Duration // cap of one wait between them
	baseWait time.Duration // first backoff without Retry-After
	now      func() time.Time

	mu  sync.Mutex // guards tok and exp
	tok string
	exp time.Time // when tok stops being used (shortly before it expires)
	// renewing is held by the one renewal under way (a channel, so that
	// waiting for it honours the context).
	renewing chan struct{}
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the requests with hc (default: a client with a
// 10-second timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithLanguage asks for messages in lang ("ko" for Korean; English
// otherwise). Error ids do not change with the language.
func WithLanguage(lang string) Option { return func(c *Client) { c.lang = lang } }

// WithRetries sets how many times a call answered 503 is tried again (at
// most; default 3) and the longest wait before one try (default 5s). The
// wait is the answer's Retry-After, else an exponential backoff from 200ms;
// either is capped at maxWait. 0 retries turns the retries off.
func WithRetries(n int, maxWait time.Duration) Option {
	return func(c *Client) { c.retries, c.maxWait = max(n, 0), maxWait }
}

// WithClock makes the client judge its token's age on now's time (tests, or
// a clock of its own; default time.Now). A clock behind the server's is
// what makes a cached token expire early: the client renews it on the 419.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New returns a client of the API at baseURL (http://host:port, no /v1)
// using clientSecret, the secret the portal showed for the site's domain.
func New(baseURL, clientSecret string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"), secret: clientSecret,
		http:    &http.Client{Timeout: 10 * time.Second},
		retries: 3, maxWait: 5 * time.Second, baseWait: 200 * time.Millisecond,
		now: time.Now, renewing: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// APIError is a refusal by the API: its status, its error id (Code, e.g.
// "token_expired", "rate_limited", "hashtag_not_found", "domain_revoked")
// and its message; RetryAfter is the wait the API asked for (429, 503).
type APIError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("nodebird: %d %s: %s", e.Status, e.Code, e.Message)
}

// Post is a post as the API answers it.
type Post struct {
	ID        uint64    `json:"id"`
	Content   string    `json:"content"`
	Img       *string   `json:"img"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	UserID    uint64    `json:"UserId"`
	Hashtags  []string  `json:"hashtags"`
}

// Page is one page of posts, newest first. Next is the cursor of the page
// after it ("" on the last page): pass it in ListOptions.Cursor.
type Page struct {
	Posts []Post
	Next  string
}

// ListOptions choose a page: Limit posts (1 to 100; 0: the API's 20),
// from Cursor (a Page's Next; "": the first page).
type ListOptions struct {
	Limit  int
	Cursor string
}

// MyPosts is a page of the posts of the domain's owner.
func (c *Client) MyPosts(ctx context.Context, opts ListOptions) (*Page, error) {
	return c.posts(ctx, "/v1/posts/my", opts)
}

// PostsByHashtag is a page of every user's posts with the hashtag tag
// (with or without '#'; the API folds its case). An unknown hashtag is an
// *APIError with Status 404 and Code "hashtag_not_found".
func (c *Client) PostsByHashtag(ctx context.Context, tag string, opts ListOptions) (*Page, error) {
	return c.posts(ctx, "/v1/posts/hashtag/"+url.PathEscape(tag), opts)
}

func (c *Client) posts(ctx context.Context, path string, opts ListOptions) (*Page, error) {
	q := url.Values{}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var body struct {
		Payload []Post  `json:"payload"`
		Next    *string `json:"next"`
	}
	if err := c.get(ctx, path, &body); err != nil {
		return nil, err
	}
	p := &Page{Posts: body.Payload}
	if body.Next != nil {
		p.Next = *body.Next
	}
	return p, nil
}

// get calls GET path with the token, renewing it once on 419.
func (c *Client) get(ctx context.Context, path string, out any) error {
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	for renewed := false; ; renewed = true {
		err = c.call(ctx, http.MethodGet, path, nil, "", tok, out)
		var ae *APIError
		if renewed || !errors.As(err, &ae) || ae.Status != 419 {
			return err
		}
		if tok, err = c.renew(ctx, tok); err != nil {
			return err
		}
	}
}

// Token is a token for the API: the cached one while it lasts, else a new
// one from POST /v1/token.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok, fresh := c.tok, c.tok != "" && c.now().Before(c.exp)
	c.mu.Unlock()
	if fresh {
		return tok, nil
	}
	return c.renew(ctx, "")
}

// renew gets a new token, unless another call already replaced stale (the
// token that failed, "" when none did) with one still fresh. One renewal
// runs at a time; the others wait for it and take its token.
func (c *Client) renew(ctx context.Context, stale string) (string, error) {
	select {
	case c.renewing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.renewing }()
	c.mu.Lock()
	tok, fresh := c.tok, c.tok != "" && c.tok != stale && c.now().Before(c.exp)
	c.mu.Unlock()
	if fresh {
		return tok, nil
	}
	var body struct {
		Token     string `json:"token"`
		ExpiresIn int64  `json:"expiresIn"`
	}
	form, _ := json.Marshal(map[string]string{"clientSecret": c.secret})
	if err := c.call(ctx, http.MethodPost, "/v1/token", form, "application/json", "", &body); err != nil {
		return "", err
	}
	if body.Token == "" {
		return "", errors.New("nodebird: POST /v1/token answered no token")
	}
	life := time.Duration(body.ExpiresIn) * time.Second
	if life <= 0 {
		life = lifeOf(body.Token)
	}
	c.mu.Lock()
	c.tok, c.exp = body.Token, c.now().Add(life-renewMargin(life))
	c.mu.Unlock()
	return body.Token, nil
}

// renewMargin is how long before its expiry a token of that life is
// renewed: a quarter of its life, at most 10 seconds, so that a call does
// not set out with a token about to expire on the way.
func renewMargin(life time.Duration) time.Duration { return min(life/4, 10*time.Second) }

// lifeOf is what is left of a token's life by its exp claim (read, not
// verified: the server verifies), for a server that sends no expiresIn; 0
// when it has none (the token is then used once).
func lifeOf(tok string) time.Duration {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return 0
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(raw, &claims) != nil || claims.Exp == 0 {
		return 0
	}
	return max(time.Until(time.Unix(claims.Exp, 0)), 0)
}

// call sends one request (tok in Authorization when set), tries it again
// after a 503 as the options allow, and decodes a 200 into out; any other
// answer is an *APIError.
func (c *Client) call(ctx context.Context, method, path string, body []byte, ctype, tok string, out any) error {
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, body, ctype, tok, out)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || attempt >= c.retries {
			return err
		}
		wait := c.baseWait << attempt
		if ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
		t := time.NewTimer(min(wait, c.maxWait))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, ctype, tok string, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("nodebird: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("nodebird: %s %s: reading the answer: %w", method, path, err)
	}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("nodebird: %s %s: the answer is not the API's JSON: %w", method, path, err)
		}
		return nil
	}
	e := &APIError{Status: res.StatusCode}
	var b struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(raw, &b) == nil {
		e.Code, e.Message = b.Error, b.Message
	}
	if e.Message == "" { // not the API's JSON (a proxy's page): the status says what it can
		e.Message = http.StatusText(res.StatusCode)
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
