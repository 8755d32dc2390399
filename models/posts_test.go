package models_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodebird/nodebird-api/internal/testdb"
	"github.com/nodebird/nodebird-api/models"
)

func TestParseHashtags(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"none", "hello world", nil},
		{"korean and latin", "오늘은 #노드 와 #go 공부", []string{"노드", "go"}},
		{"seed rule: up to a space or #", "#a#b #c,d #e\u3000f", []string{"a", "b", "c,d", "e"}},
		{"a lone # is nothing", "# ## #\t#", nil},
		{"case folded, duplicates once", "#Go #GO #go #gO", []string{"go"}},
		{"full case folding, not ToLower", "#Straße #STRASSE #ΣΊΣΥΦΟΣ", []string{"strasse", "σίσυφοσ"}},
		{"korean in NFD is the NFC tag", "#\u1102\u1169\u1103\u1173 #노드", []string{"노드"}},
		{"15 characters kept", "#" + strings.Repeat("가", 15), []string{strings.Repeat("가", 15)}},
		{"16 characters ignored, not cut", "#" + strings.Repeat("가", 16) + " #ok", []string{"ok"}},
		{"length counted once folded", "#" + strings.Repeat("ß", 8), nil}, // "ss" x 8 = 16
		{"accents are kept", "#café #cafe", []string{"café", "cafe"}},
		{"first ten distinct", "#1 #2 #3 #1 #4 #5 #6 #7 #8 #9 #10 #11", []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.ParseHashtags(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("ParseHashtags(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "a b", "a#b", strings.Repeat("x", 16), "\xff"} {
		if tag, ok := models.FoldHashtag(bad); ok {
			t.Errorf("FoldHashtag(%q) = %q, true; want false", bad, tag)
		}
	}
}

// newPosts is a migrated database (its default collation a UCA one on
// MySQL, as production databases often are) with two users.
func newPosts(t *testing.T, driver string) (*models.PostModel, uint64, uint64) {
	t.Helper()
	db := testdb.FreshCollated(t, driver, "utf8mb4_unicode_ci")
	users := models.NewUserModel(db, 2*time.Second, 4)
	a, err := users.Insert(ctx, "a@example.com", "a", "password123")
	if err != nil {
		t.Fatal(err)
	}
	b, err := users.Insert(ctx, "b@example.com", "b", "password123")
	if err != nil {
		t.Fatal(err)
	}
	return models.NewPostModel(db, 2*time.Second), a.ID, b.ID
}

func TestPostsAndHashtags(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		posts, alice, bob := newPosts(t, driver)
		p1, err := posts.Insert(ctx, alice, "#Go 와 #노드 #go")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p1.Hashtags, []string{"go", "노드"}) {
			t.Errorf("hashtags %q", p1.Hashtags)
		}
		// 'GO' is the tag 'go'; 'café', 'cafe' and 'ｇｏ' are tags of their
		// own, whatever the database's collation would say.
		p2, err := posts.Insert(ctx, bob, "#GO #café #cafe #ｇｏ #노드들")
		if err != nil {
			t.Fatal(err)
		}
		for tag, want := range map[string][]uint64{
			"go": {p2.ID, p1.ID}, "노드": {p1.ID}, "café": {p2.ID}, "cafe": {p2.ID}, "ｇｏ": {p2.ID}, "노드들": {p2.ID},
		} {
			id, err := posts.HashtagID(ctx, tag)
			if err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
			page, err := posts.ForHashtag(ctx, id, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := postIDs(page.Posts); !slices.Equal(got, want) {
				t.Errorf("#%s: posts %v, want %v", tag, got, want)
			}
		}
		for _, unknown := range []string{"Go", "GO", "노", "cafè", "nothing"} {
			if _, err := posts.HashtagID(ctx, unknown); !errors.Is(err, models.ErrNoRecord) {
				t.Errorf("HashtagID(%q): %v, want ErrNoRecord", unknown, err)
			}
		}

		// Alice's list is hers only; Bob cannot delete her post.
		page, err := posts.ForUser(ctx, alice, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := postIDs(page.Posts); !slices.Equal(got, []uint64{p1.ID}) || page.More {
			t.Errorf("alice's posts %v (more %v)", got, page.More)
		}
		if got := page.Posts[0]; got.Content != "#Go 와 #노드 #go" || got.UserID != alice || !slices.Equal(got.Hashtags, []string{"go", "노드"}) {
			t.Errorf("alice's post %+v", got)
		}
		if err := posts.Delete(ctx, p1.ID, bob); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("bob deleting alice's post: %v", err)
		}
		if err := posts.Delete(ctx, p1.ID, alice); err != nil {
			t.Fatal(err)
		}
		if err := posts.Delete(ctx, p1.ID, alice); !errors.Is(err, models.ErrNoRecord) {
			t.Fatalf("deleting twice: %v", err)
		}
		id, _ := posts.HashtagID(ctx, "노드")
		if page, err := posts.ForHashtag(ctx, id, 0, 10); err != nil || len(page.Posts) != 0 {
			t.Errorf("#노드 after the delete: %+v %v", page, err)
		}
	})
}

// Pages of 7 over 30 posts: every post once, newest first, no gaps.
func TestPostPages(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		posts, alice, bob := newPosts(t, driver)
		var want []uint64
		for i := range 30 {
			p, err := posts.Insert(ctx, alice, "post "+strconv.Itoa(i)+" #tag")
			if err != nil {
				t.Fatal(err)
			}
			want = append([]uint64{p.ID}, want...)
			if _, err := posts.Insert(ctx, bob, "bob's #other"); err != nil {
				t.Fatal(err)
			}
		}
		tag, err := posts.HashtagID(ctx, "tag")
		if err != nil {
			t.Fatal(err)
		}
		for name, read := range map[string]func(before uint64) (*models.PostPage, error){
			"mine":    func(before uint64) (*models.PostPage, error) { return posts.ForUser(ctx, alice, before, 7) },
			"hashtag": func(before uint64) (*models.PostPage, error) { return posts.ForHashtag(ctx, tag, before, 7) },
		} {
			var got []uint64
			before := uint64(0)
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("%s: more pages than posts", name)
				}
				page, err := read(before)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, postIDs(page.Posts)...)
				if !page.More {
					break
				}
				before = page.Posts[len(page.Posts)-1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", name, got, want)
			}
		}
	})
}

func postIDs(ps []models.Post) []uint64 {
	ids := make([]uint64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// Review 4: a hashtag no post uses goes with the last post that used it
// (its deletion, or its account's), in the same transaction; one still
// used stays.
func TestUnusedHashtagsAreDeleted(t *testing.T) {
	eachDB(t, func(t *testing.T, driver string) {
		db := testdb.Fresh(t, driver)
		users := models.NewUserModel(db, 2*time.Second, 4)
		posts := models.NewPostModel(db, 2*time.Second)
		a, _ := users.Insert(ctx, "tags-a@example.com", "a", "password123")
		b, _ := users.Insert(ctx, "tags-b@example.com", "b", "password123")
		titles := func() []string {
			var ts []string
			db.Model(&models.Hashtag{}).Order("title").Pluck("title", &ts)
			return ts
		}
		p1, _ := posts.Insert(ctx, a.ID, "#shared #onlyone")
		if _, err := posts.Insert(ctx, b.ID, "#shared #bobs"); err != nil {
			t.Fatal(err)
		}
		if _, err := posts.Insert(ctx, a.ID, "#alices #shared"); err != nil {
			t.Fatal(err)
		}
		if err := posts.Delete(ctx, p1.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if got := titles(); !slices.Equal(got, []string{"alices", "bobs", "shared"}) {
			t.Fatalf("after the post's deletion: %q", got)
		}
		if _, err := users.DeleteAccount(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if got := titles(); !slices.Equal(got, []string{"bobs", "shared"}) {
			t.Fatalf("after the account's deletion: %q", got)
		}
		// A tag deleted is made anew by the next post that uses it.
		if _, err := posts.Insert(ctx, b.ID, "#alices again"); err != nil {
			t.Fatal(err)
		}
		if id, err := posts.HashtagID(ctx, "alices"); err != nil || id == 0 {
			t.Fatalf("the tag made again: %d %v", id, err)
		}
	})
}
