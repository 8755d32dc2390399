package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nodebird/nodebird-api/internal/i18n"
)

var postIDRe = regexp.MustCompile(`data-testid="post-row" data-id="(\d+)"`)

// postIDs lists the ids of the posts on a /posts page.
func postIDs(body string) []string {
	var ids []string
	for _, m := range postIDRe.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// publish posts content as c, expecting the 303 back to /posts.
func (c *client) publish(content string) {
	c.t.Helper()
	r := c.post("/post", url.Values{"content": {content}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/posts" {
		c.t.Fatalf("posting %q: %d %q\n%s", content, r.Status, r.Header.Get("Location"), r.Body)
	}
}

func TestPostsInThePortal(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		if r := s.client(t).get("/posts"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/login?next=%2Fposts" {
			t.Fatalf("signed out: %d %q", r.Status, r.Header.Get("Location"))
		}
		alice := s.user(t, "alice@example.com")
		bob := s.user(t, "bob@example.com")
		if r := alice.get("/"); !strings.Contains(r.Body, `href="/posts" data-testid="posts-link"`) {
			t.Error("no link to /posts in the navigation")
		}

		// Post/Redirect/Get: 303, then the page shows the post, its
		// hashtags (folded, once) and the flash; text is escaped.
		alice.publish("  첫 글 #Go #노드 #GO\r\n<script>alert(1)</script>  ")
		r := alice.get("/posts")
		if r.Status != http.StatusOK {
			t.Fatalf("/posts: %d", r.Status)
		}
		mustContain(t, "posts", r.Body, "첫 글 #Go #노드 #GO\n&lt;script&gt;alert(1)&lt;/script&gt;",
			`data-testid="hashtag">#go<`, `data-testid="hashtag">#노드<`, i18n.T("en", "flash.post.created"),
			`aria-current="page">`+i18n.T("en", "nav.posts"))
		mustNotContain(t, "posts", r.Body, "<script>alert", `#GO<`)
		ids := postIDs(r.Body)
		if len(ids) != 1 {
			t.Fatalf("posts on the page: %v", ids)
		}
		if got := postIDs(bob.get("/posts").Body); len(got) != 0 {
			t.Errorf("bob sees %v", got)
		}

		// Refused texts: 422 with the form again and the field's message, in
		// the user's language; nothing stored.
		long := strings.Repeat("가", 141)
		for _, tc := range []struct{ content, key string }{
			{"", "form.content.required"},
			{" \r\n \u3000 ", "form.content.required"},
			{long, "form.content.length"},
			{"bad\u202Etext", "form.content.invisible"},
			{"nul\x00", "form.content.invalid"},
		} {
			r := alice.post("/post", url.Values{"content": {tc.content}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%+q: %d, want 422", tc.content, r.Status)
			}
			msg, _, _ := strings.Cut(i18n.T("en", tc.key), "(") // html/template writes + as &#43;
			mustContain(t, fmt.Sprintf("%+q", tc.content), r.Body, msg, `aria-invalid="true"`)
		}
		alice.publish(strings.Repeat("😀", 140)) // 140 code points: allowed
		if got := postIDs(alice.get("/posts").Body); len(got) != 2 {
			t.Errorf("after the refusals: %v", got)
		}

		// No CSRF token: 403, nothing stored.
		r = alice.do("POST", "/post", strings.NewReader("content=sneaky"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.Status != http.StatusForbidden {
			t.Errorf("without _csrf: %d", r.Status)
		}

		// Deleting: someone else's post is 404 (and stays); one's own, 303.
		if r := bob.post("/post/"+ids[0]+"/delete", nil); r.Status != http.StatusNotFound {
			t.Errorf("bob deleting alice's post: %d, want 404", r.Status)
		}
		for _, bad := range []string{"0", "x", "99999999999999999999"} {
			if r := alice.post("/post/"+bad+"/delete", nil); r.Status != http.StatusNotFound {
				t.Errorf("delete %s: %d, want 404", bad, r.Status)
			}
		}
		if r := alice.post("/post/"+ids[0]+"/delete", nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/posts" {
			t.Errorf("deleting: %d %q", r.Status, r.Header.Get("Location"))
		}
		r = alice.get("/posts")
		if slices.Contains(postIDs(r.Body), ids[0]) || !strings.Contains(r.Body, i18n.T("en", "flash.post.deleted")) {
			t.Error("the deleted post is still shown, or no flash")
		}
		if r := alice.get("/posts?before=abc"); r.Status != http.StatusBadRequest {
			t.Errorf("?before=abc: %d, want 400", r.Status)
		}
	})
}

// Pages of 20, newest first: every post once.
func TestPostsPages(t *testing.T) {
	forEachDB(t, func(t *testing.T, driver string) {
		s := newTestServer(t, driver)
		c := s.user(t, "pages@example.com")
		for i := range 45 {
			c.publish(fmt.Sprintf("post %d", i))
		}
		var all []string
		next := "/posts"
		for pages := 1; next != ""; pages++ {
			if pages > 3 {
				t.Fatal("more than 3 pages for 45 posts")
			}
			r := c.get(next)
			ids := postIDs(r.Body)
			if want := []int{20, 20, 5}[pages-1]; len(ids) != want {
				t.Fatalf("page %d: %d posts, want %d", pages, len(ids), want)
			}
			all = append(all, ids...)
			m := regexp.MustCompile(`href="(/posts\?before=\d+)" rel="next"`).FindStringSubmatch(r.Body)
			next = ""
			if m != nil {
				next = m[1]
			}
		}
		if !strings.Contains(c.get("/posts").Body, "post 44") {
			t.Error("the newest post is not on the first page")
		}
		seen := map[string]bool{}
		for i, id := range all {
			if seen[id] || i > 0 && len(id) == len(all[i-1]) && id > all[i-1] {
				t.Fatalf("pages not newest first, or a post twice: %v", all)
			}
			seen[id] = true
		}
	})
}
