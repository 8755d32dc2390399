package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/config"
)

// apiPost is a post as the API answers it.
type apiPost struct {
	ID        uint64   `json:"id"`
	Content   string   `json:"content"`
	Img       *string  `json:"img"`
	CreatedAt string   `json:"createdAt"`
	UpdatedAt string   `json:"updatedAt"`
	UserID    uint64   `json:"UserId"`
	Hashtags  []string `json:"hashtags"`
}

type apiPosts struct {
	Code    int       `json:"code"`
	Payload []apiPost `json:"payload"`
	Next    *string   `json:"next"`
}

// postsFixture: alice and bob each have a domain and a token, and posts.
type postsFixture struct {
	s                  *testServer
	alice, bob         *client
	aliceTok, bobTok   string
	aliceSec           string
	aliceIDs, bobIDs   []uint64 // newest first
	aliceHost, bobHost string
}

func newPostsFixture(t *testing.T, driver string, tweak ...func(*config.Config)) *postsFixture {
	t.Helper()
	f := &postsFixture{s: newTestServer(t, driver, tweak...), aliceHost: "alice.example.com", bobHost: "bob.example.com"}
	f.alice, f.bob = f.s.user(t, "alice@example.com"), f.s.user(t, "bob@example.com")
	f.aliceSec = f.alice.register(f.aliceHost, "free")
	f.aliceTok = f.s.issueToken(t, f.aliceSec)
	f.bobTok = f.s.issueToken(t, f.bob.register(f.bobHost, "free"))
	return f
}

// getPosts calls the API with tok and decodes a 200.
func (f *postsFixture) getPosts(t *testing.T, path, tok string) (apiPosts, response) {
	t.Helper()
	r := f.s.call(t, apiReq{method: "GET", path: path, header: map[string]string{"Authorization": "Bearer " + tok}})
	var b apiPosts
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, r.Status, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil || b.Code != 200 {
		t.Fatalf("GET %s: %v\n%s", path, err, r.Body)
	}
	return b, r
}

func idsOf(ps []apiPost) []uint64 {
	ids := make([]uint64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// lastID is the id of the newest post of c (the first on /posts).
func lastID(t *testing.T, c *client) uint64 {
	t.Helper()
	ids := postIDs(c.get("/posts").Body)
	if len(ids) == 0 {
		t.Fatal("no post")
	}
	var id uint64
	fmt.Sscan(ids[0], &id)
	return id
}

var jsDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestPostsAPI(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		f := newPostsFixture(t, driver)
		f.alice.publish("알리스의 글 #노드 #Go")
		aliceFirst := lastID(t, f.alice)
		f.bob.publish("bob's #go post #GoLang")
		bobFirst := lastID(t, f.bob)
		f.alice.publish("no tags")
		aliceSecond := lastID(t, f.alice)

		// /my: the token's user's posts only, newest first, in the seed's shape.
		b, r := f.getPosts(t, "/v1/posts/my", f.aliceTok)
		if got := idsOf(b.Payload); !slices.Equal(got, []uint64{aliceSecond, aliceFirst}) || b.Next != nil {
			t.Fatalf("alice's /my: %v next %v", got, b.Next)
		}
		if r.Header.Get("Link") != "" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Link %q, Cache-Control %q", r.Header.Get("Link"), r.Header.Get("Cache-Control"))
		}
		var raw struct {
			Payload []map[string]json.RawMessage `json:"payload"`
		}
		json.Unmarshal([]byte(r.Body), &raw)
		var keys []string
		for k := range raw.Payload[0] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"UserId", "content", "createdAt", "hashtags", "id", "img", "updatedAt"}; !slices.Equal(keys, want) {
			t.Errorf("post fields %v, want %v", keys, want)
		}
		p := b.Payload[1]
		if p.Content != "알리스의 글 #노드 #Go" || p.Img != nil || string(raw.Payload[1]["img"]) != "null" ||
			!slices.Equal(p.Hashtags, []string{"go", "노드"}) || !jsDate.MatchString(p.CreatedAt) || !jsDate.MatchString(p.UpdatedAt) {
			t.Errorf("alice's first post: %+v", p)
		}
		if string(raw.Payload[0]["hashtags"]) != "[]" {
			t.Errorf("a post without hashtags: %s, want []", raw.Payload[0]["hashtags"])
		}
		b, _ = f.getPosts(t, "/v1/posts/my", f.bobTok)
		if got := idsOf(b.Payload); !slices.Equal(got, []uint64{bobFirst}) {
			t.Errorf("bob's /my: %v", got)
		}
		for _, p := range b.Payload {
			if p.UserID == 0 || slices.Contains([]uint64{aliceFirst, aliceSecond}, p.ID) {
				t.Errorf("bob sees alice's post %+v", p)
			}
		}

		// By hashtag: everyone's posts, the title URL-decoded and folded.
		for _, title := range []string{"go", "GO", "Go", "%23go", "%47o"} {
			b, _ := f.getPosts(t, "/v1/posts/hashtag/"+title, f.bobTok)
			if got := idsOf(b.Payload); !slices.Equal(got, []uint64{bobFirst, aliceFirst}) {
				t.Errorf("#%s: %v", title, got)
			}
		}
		b, _ = f.getPosts(t, "/v1/posts/hashtag/"+url.PathEscape("노드"), f.bobTok)
		if got := idsOf(b.Payload); !slices.Equal(got, []uint64{aliceFirst}) {
			t.Errorf("#노드: %v", got)
		}

		// Unknown hashtags: 404 in the seed's words.
		for _, title := range []string{"nothing", url.PathEscape("노"), url.PathEscape("노드들"), "golan", strings.Repeat("x", 16), "%23", "a%20b", "%ff"} {
			for _, lang := range []string{"en", "ko"} {
				h := map[string]string{"Authorization": f.aliceTok}
				if lang == "ko" {
					h["Accept-Language"] = koreanFirst
				}
				r := f.s.call(t, apiReq{method: "GET", path: "/v1/posts/hashtag/" + title, header: h})
				if b := checkAPIAnswer(t, r, 404, "api.hashtag.none", lang); b.Error != "hashtag_not_found" {
					t.Errorf("%s: error %q", title, b.Error)
				}
			}
		}
		r = f.s.call(t, apiReq{method: "GET", path: "/v1/posts/hashtag/nothing", header: map[string]string{"Authorization": f.aliceTok, "Accept-Language": koreanFirst}})
		mustContain(t, "Korean 404", r.Body, "검색 결과가 없습니다")

		// HEAD: the same status and headers, no body.
		r = f.s.call(t, apiReq{method: "HEAD", path: "/v1/posts/my", header: map[string]string{"Authorization": f.aliceTok}})
		if r.Status != 200 || r.Body != "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("HEAD /my: %d %q", r.Status, r.Body)
		}
		if r := f.s.call(t, apiReq{method: "HEAD", path: "/v1/posts/hashtag/nothing", header: map[string]string{"Authorization": f.aliceTok}}); r.Status != 404 || r.Body != "" {
			t.Errorf("HEAD of an unknown hashtag: %d %q", r.Status, r.Body)
		}
	})
}

// TestPostsAPIPages: 45 posts in pages of 10 (and of the default 20),
// followed through the body's next and the Link header: every post once,
// newest first, and a cursor opens no other list.
func TestPostsAPIPages(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		f := newPostsFixture(t, driver)
		for i := range 45 {
			f.alice.publish(fmt.Sprintf("post %d #page", i))
			if i%15 == 0 {
				f.bob.publish("bob #page")
			}
		}
		linkRe := regexp.MustCompile(`^<(/v1/[^>]+)>; rel="next"$`)
		read := func(first string, perPage int) []uint64 {
			var all []uint64
			path := first
			for pages := 0; path != ""; pages++ {
				if pages > 50 {
					t.Fatalf("%s: too many pages", first)
				}
				b, r := f.getPosts(t, path, f.aliceTok)
				if len(b.Payload) > perPage {
					t.Fatalf("%s: %d posts on a page of %d", path, len(b.Payload), perPage)
				}
				all = append(all, idsOf(b.Payload)...)
				path = ""
				if b.Next != nil {
					m := linkRe.FindStringSubmatch(r.Header.Get("Link"))
					if m == nil || !strings.Contains(m[1], "cursor="+*b.Next) {
						t.Fatalf("Link %q does not carry next %q", r.Header.Get("Link"), *b.Next)
					}
					path = m[1]
				} else if r.Header.Get("Link") != "" {
					t.Errorf("last page with a Link: %q", r.Header.Get("Link"))
				}
			}
			return all
		}
		mine := read("/v1/posts/my?limit=10", 10)
		if len(mine) != 45 {
			t.Fatalf("/my over pages: %d posts, want 45", len(mine))
		}
		for i := 1; i < len(mine); i++ {
			if mine[i] >= mine[i-1] {
				t.Fatalf("not newest first, or a post twice: %v", mine)
			}
		}
		if got := read("/v1/posts/my", 20); !slices.Equal(got, mine) {
			t.Errorf("pages of 20: %v, want %v", got, mine)
		}
		tagged := read("/v1/posts/hashtag/page?limit=7", 7)
		if len(tagged) != 48 {
			t.Errorf("#page over pages: %d posts, want 48", len(tagged))
		}

		// Limits and cursors the API cannot use: 400, never a 500 or
		// another list's page.
		b, _ := f.getPosts(t, "/v1/posts/my?limit=2", f.aliceTok)
		cur := *b.Next
		bobs, _ := f.getPosts(t, "/v1/posts/hashtag/page?limit=2", f.bobTok)
		tagCur := *bobs.Next
		flipped := []byte(cur)
		flipped[3] ^= 1
		for _, tc := range []struct{ name, path, tok, key, id string }{
			{"limit 0", "/v1/posts/my?limit=0", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"limit 101", "/v1/posts/my?limit=101", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"limit -1", "/v1/posts/my?limit=-1", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"limit +5", "/v1/posts/my?limit=%2B5", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"limit abc", "/v1/posts/my?limit=abc", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"empty limit", "/v1/posts/my?limit=", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"huge limit", "/v1/posts/my?limit=99999999999999999999", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"two limits", "/v1/posts/my?limit=5&limit=6", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"bad limit on a hashtag", "/v1/posts/hashtag/page?limit=0", f.aliceTok, "api.posts.limit", "invalid_limit"},
			{"cursor not base64", "/v1/posts/my?cursor=***", f.aliceTok, "api.posts.cursor", "invalid_cursor"},
			{"empty cursor", "/v1/posts/my?cursor=", f.aliceTok, "api.posts.cursor", "invalid_cursor"},
			{"cursor changed", "/v1/posts/my?cursor=" + string(flipped), f.aliceTok, "api.posts.cursor", "invalid_cursor"},
			{"cursor cut", "/v1/posts/my?cursor=" + cur[:len(cur)-2], f.aliceTok, "api.posts.cursor", "invalid_cursor"},
			{"alice's cursor with bob's token", "/v1/posts/my?cursor=" + cur, f.bobTok, "api.posts.cursor", "invalid_cursor"},
			{"a /my cursor on a hashtag", "/v1/posts/hashtag/page?cursor=" + cur, f.aliceTok, "api.posts.cursor", "invalid_cursor"},
			{"a hashtag's cursor on /my", "/v1/posts/my?cursor=" + tagCur, f.bobTok, "api.posts.cursor", "invalid_cursor"},
			{"a hashtag's cursor on another", "/v1/posts/hashtag/go?cursor=" + tagCur, f.bobTok, "api.hashtag.none", "hashtag_not_found"},
		} {
			r := f.s.call(t, apiReq{method: "GET", path: tc.path, header: map[string]string{"Authorization": tc.tok}})
			status := 400
			if tc.id == "hashtag_not_found" {
				status = 404
			}
			if b := checkAPIAnswer(t, r, status, tc.key, "en"); b.Error != tc.id {
				t.Errorf("%s: error %q, want %q", tc.name, b.Error, tc.id)
			}
		}
		f.bob.publish("#go")
		r := f.s.call(t, apiReq{method: "GET", path: "/v1/posts/hashtag/go?cursor=" + tagCur, header: map[string]string{"Authorization": f.bobTok}})
		if b := checkAPIAnswer(t, r, 400, "api.posts.cursor", "en"); b.Error != "invalid_cursor" {
			t.Errorf("a hashtag's cursor on another: %q", b.Error)
		}
		// The cursor still works for its own list.
		if b, _ := f.getPosts(t, "/v1/posts/my?limit=2&cursor="+cur, f.aliceTok); !slices.Equal(idsOf(b.Payload), mine[2:4]) {
			t.Errorf("second page: %v, want %v", idsOf(b.Payload), mine[2:4])
		}
	})
}

// TestPostsAPITokens: the posts routes take the token exactly as /v1/test
// does: 401 without or with a bad one, 419 expired, the domain's state,
// the verification quota (429), and CORS bound to the token's host.
func TestPostsAPITokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		f := newPostsFixture(t, driver, func(c *config.Config) {
			c.RateLimits, c.VerifyRPM, c.ClientShares = true, 4, 1
		})
		f.alice.publish("#go")
		for _, path := range []string{"/v1/posts/my", "/v1/posts/hashtag/go"} {
			for _, tc := range []struct {
				name, auth, key, id string
				status              int
			}{
				{"no token", "", "api.token.missing", "missing_token", 401},
				{"not a token", "Bearer nope", "api.token.invalid", "invalid_token", 401},
				{"a token signed with another key", "Bearer " + f.aliceTok[:len(f.aliceTok)-4] + "AAAA", "api.token.invalid", "invalid_token", 401},
			} {
				r := f.s.call(t, apiReq{method: "GET", path: path, header: map[string]string{"Authorization": tc.auth}})
				if b := checkAPIAnswer(t, r, tc.status, tc.key, "en"); b.Error != tc.id {
					t.Errorf("%s %s: error %q, want %q", path, tc.name, b.Error, tc.id)
				}
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
					t.Errorf("%s %s: WWW-Authenticate %q", path, tc.name, r.Header.Get("WWW-Authenticate"))
				}
			}
		}

		// CORS: alice's page may read; another origin is refused without
		// CORS headers; a preflight from her host is answered.
		from := func(origin, path string) response {
			return f.s.call(t, apiReq{method: "GET", path: path, header: map[string]string{"Authorization": f.aliceTok, "Origin": origin}})
		}
		if r := from("https://"+f.aliceHost, "/v1/posts/my"); r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://"+f.aliceHost {
			t.Errorf("from alice's origin: %d ACAO %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
		}
		for _, origin := range []string{"https://" + f.bobHost, "https://evil.example"} {
			r := from(origin, "/v1/posts/hashtag/go")
			if b := checkAPIAnswer(t, r, 403, "api.origin", "en"); b.Error != "origin_not_allowed" || r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("from %s: %q ACAO %q", origin, b.Error, r.Header.Get("Access-Control-Allow-Origin"))
			}
		}
		r := f.s.call(t, apiReq{method: "OPTIONS", path: "/v1/posts/hashtag/go", header: map[string]string{
			"Origin": "https://" + f.aliceHost, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}})
		if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://"+f.aliceHost || r.Header.Get("Access-Control-Allow-Methods") != "GET" {
			t.Errorf("preflight: %d %v", r.Status, r.Header)
		}
		r = f.s.call(t, apiReq{method: "OPTIONS", path: "/v1/posts/my", header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}})
		if b := checkAPIAnswer(t, r, 403, "api.origin", "en"); b.Error != "origin_not_allowed" {
			t.Errorf("preflight from evil: %q", b.Error)
		}

		// The verification quota (4 a minute here) counts every route
		// behind the token: the first call above, then three, then 429.
		for i := range 3 {
			if _, r := f.getPosts(t, "/v1/posts/hashtag/go", f.aliceTok); r.Header.Get("RateLimit") == "" {
				t.Errorf("call %d: no RateLimit header", i)
			}
		}
		r = f.s.call(t, apiReq{method: "GET", path: "/v1/posts/my", header: map[string]string{"Authorization": f.aliceTok}})
		if b := checkAPIAnswer(t, r, 429, "api.ratelimit", "en"); b.Error != "rate_limited" || r.Header.Get("Retry-After") == "" {
			t.Errorf("over the quota: %q, Retry-After %q", b.Error, r.Header.Get("Retry-After"))
		}
		// Bob's domain has its own quota.
		if b, _ := f.getPosts(t, "/v1/posts/my", f.bobTok); len(b.Payload) != 0 {
			t.Errorf("bob's posts: %v", idsOf(b.Payload))
		}

		// A revoked domain's token opens nothing, and its holder is told why.
		revokeHere(t, f.s, domainIDOf(t, f.s, f.bobHost))
		r = f.s.call(t, apiReq{method: "GET", path: "/v1/posts/my", header: map[string]string{"Authorization": f.bobTok}})
		if b := checkAPIAnswer(t, r, 401, "api.domain.revoked", "en"); b.Error != "domain_revoked" {
			t.Errorf("revoked: %q", b.Error)
		}
	})
}

// TestPostsAPIExpiredToken: 419 token_expired, readable by the domain's page.
func TestPostsAPIExpiredToken(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		start := time.Now().Truncate(time.Second)
		clk := &apiClock{t: start}
		s := newAPIServer(t, driver, tokenClock(clk))
		sec := s.user(t, "clock@example.com").register("clock.example.com", "free")
		tok := s.issueToken(t, sec)
		clk.set(start.Add(time.Hour))
		for _, path := range []string{"/v1/posts/my", "/v1/posts/hashtag/go"} {
			r := s.call(t, apiReq{method: "GET", path: path, header: map[string]string{"Authorization": tok, "Origin": "https://clock.example.com", "Accept-Language": koreanFirst}})
			if b := checkAPIAnswer(t, r, 419, "api.token.expired", "ko"); b.Error != "token_expired" {
				t.Errorf("%s: %q", path, b.Error)
			}
			if r.Header.Get("Access-Control-Allow-Origin") != "https://clock.example.com" {
				t.Errorf("%s: the page cannot read its 419", path)
			}
		}
	})
}
